"""The `?` overlay: every key, what the columns and markers of each pane mean, and where files go."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .. import config
from ..labels import CLASSES
from ..progress_render import shown
from .charts import short_class

KEYS = (
    ("e", "extract the dataset; again: stop (what is done is kept, the next run resumes)"),
    ("t", "train on the extracted features; again: stop (the best model so far is kept)"),
    ("w", "start or stop watching the source"),
    ("x", "export the monitor's session as CSV (JSONL, Parquet: command palette)"),
    ("p", "face preview: the 478 landmarks as points, no pixel of the image"),
    ("n", ("this is my neutral face: the face in view, alone, is its person's rest face from now on, what a "
           "model with references judges expressions against")),
    ("s", "the sessions: every logged session, the highlighted one's chart and label shares"),
    ("X", "in the sessions: export the highlighted session in the format and to the file below the list "
          "(Enter in that field or the Export button too; r reloads the list)"),
    ("m", "models: every model found, its test figures, data and date; Enter: the monitor uses it, d: the default"),
    ("1 2 3", "the extraction, training, monitor pane"),
    ("ctrl+p", "the command palette: every action by name (Escape closes it)"),
    ("?", "this help (Escape or ? closes it; arrows and PgUp/PgDn scroll)"),
    ("Tab", "the next field; Enter or Escape leaves a field (letters type while in one)"),
    ("q", "quit: running jobs are stopped and the camera released first"),
)


def _monitor_figures() -> tuple[str, str]:
    """The monitor's own thresholds, so the help cannot drift from them (the core may be absent in a build)."""
    try:
        from ..data.features import REFERENCE_MIN_FACES
        from ..live.monitor import UNCERTAIN_BELOW
    except ImportError:
        return "the threshold", "a few"
    return f"{UNCERTAIN_BELOW:.0%}", str(REFERENCE_MIN_FACES)


def _table(title: str, rows: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None, padding=(0, 1),
                  show_header=False, expand=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def help_content() -> Group:
    threshold, reference = _monitor_figures()
    data = config.data_dir()
    classes = " ".join(f"{short_class(name)}={name}" for name in CLASSES)
    return Group(
        _table("Keys", KEYS),
        Text(),
        _table("Extract pane", (
            ("ok", "images that gave features"),
            ("no face", "images where the landmarker found no face"),
            ("unreadable", "files that cannot be read or decoded (empty, corrupt, not an image)"),
            ("error", "images the landmarker failed on"),
            ("skipped", "entries named like images that are not files (a pipe, device, folder or broken link): "
                        "recorded with the reason, never opened; shown when there are any"),
            ("Skipped", "status, why (the reason), image (its path under the dataset folder)"),
        )),
        Text(),
        _table("Train pane", (
            ("ep", "the epoch (fold.epoch when cross-validating)"),
            ("*", "best epoch so far: validation macro-F1 higher than every earlier epoch; that model is saved"),
            ("loss acc", "training loss and accuracy"),
            ("v.acc v.F1", "accuracy and macro-F1 on the validation persons"),
            ("lr s", "learning rate (8e-4 = 0.0008) and seconds the epoch took"),
            ("classes", classes),
            ("Confusion", "rows: the true class, columns: the predicted one"),
        )),
        Text(),
        _table("Monitor pane", (
            ("big label", "the expression (probabilities smoothed over time per face) and its confidence"),
            ("uncertain", f"the confidence is under {threshold}"),
            ("calibrating", f"the face has been seen fewer than {reference} times, so it is judged alone; "
                            "from then on against its own running mean face"),
            ("face", "the track id: the same face keeps it from frame to frame"),
            ("box", "the face's width x height at x,y, in pixels of the frame"),
            ("status", ("the source (camera, video, file, folder or stream) and its state, frames analysed per "
                        "second (fps), last latency, session id (for emotui export); 'neutral: face 1': that face "
                        "is judged against the neutral face set with n")),
            ("Model", "the model in use (also in the header); a finished training asks before the monitor uses it"),
        )),
        Text(),
        _table("Models view (m)", (
            ("●", "the model the monitor uses"),
            ("acc F1", "accuracy and macro-F1 on the faces in 'faces' (its test part; val: no test part, validation)"),
            ("faces persons", "how many faces of how many persons those figures come from: few is a rough figure; "
                              "'no ids': the data names no persons (FER+)"),
            ("data", "what it was trained on; figures of two models compare only on the same test faces"),
        )),
        Text(),
        _table("Sessions pane", (
            ("started UTC", "when the session began (the log keeps UTC)"),
            ("length", "from start to end; a running session up to now"),
            ("frames faces", "frames analysed, and faces classified in them (a frame may hold several)"),
            ("status", "clean: ended normally; unclean: the process was killed or crashed; running: still logging"),
            ("chart", "the smoothed probabilities of each frame's largest face (averaged over spans when long)"),
            ("shares", "the share of every classified face given each label"),
        )),
        Text(),
        _table("Files", (
            # the folders are the user's (EMOTUI_DATA=~/a[b]): rows are rich markup
            ("data", f"{shown(data)} (EMOTUI_DATA)"),
            ("features", shown(data / "features")),
            ("exports", shown(data / "exports")),
            ("log", f"{shown(config.log_db_path())} (EMOTUI_DB): every prediction, for emotui export"),
            ("new models", shown(data / "models")),
            ("landmarker", f"{shown(config.models_dir())} (EMOTUI_MODELS)"),
        )),
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close help"), Binding("question_mark", "close", "Close help")]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 100%;
        max-width: 110;
        height: 100%;
        max-height: 46;
        border: round $primary;
        border-title-align: center;
        background: $surface;
    }
    HelpScreen VerticalScroll {
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "emotui help - Escape or ? closes"
            with VerticalScroll(id="help-scroll"):
                yield Static(help_content(), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss()
