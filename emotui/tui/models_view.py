"""The models view (key m): every classifier found, with what its figures were measured on, its data and date;
Enter gives one to the monitor, d gives it back the shipped default. And the question a finished training run
asks: its figures beside those of the model in use, and the user's answer; the monitor never changes model
without it."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from ..learn.model_catalog import ModelEntry, compare
from ..progress_render import shown
from .charts import MeasuredTable
from .fields import shorten_middle
from .messages import RunsDeferred

NAME_WIDTH = 22  # the model column: the dashboard's run names (tui-20261201-190000) whole, with the marker
IN_USE = "●"

_BOX_CSS = """
    {name} {{
        align: center middle;
    }}
    {name} > Vertical {{
        width: 100%;
        max-width: 120;
        height: 100%;
        max-height: 40;
        border: round $primary;
        border-title-align: center;
        background: $surface;
        padding: 0 1;
    }}
"""


def home_short(path: Path) -> str:
    """A path with the home folder as ~ (where the model is, for `--model` or `evaluate --model`)."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if home != "/" and (text == home or text.startswith(home + "/")) else text


def same_model(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return Path(a) == Path(b)


def _percent(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"


def details(entry: ModelEntry) -> Text:
    """Everything known about one model, for the line under the table."""
    text = Text()
    text.append(f"{entry.name}", style="bold")
    text.append(f"  {entry.figures()}\n")
    trained = f"trained on {entry.data_text()}"
    if entry.epochs is not None:
        trained += f"; {entry.epochs} epoch{'s' if entry.epochs != 1 else ''}"
    if not entry.complete:
        trained += ", stopped before the end (the best epoch so far)"
    text.append(trained + "\n")
    if entry.created:
        text.append(f"written {entry.date} UTC  ")
    if entry.model_id:
        text.append(f"id {entry.model_id}")
    text.append(f"\nfolder {home_short(entry.path)}" + ("  (shipped)" if entry.default else ""))
    if entry.problem:
        text.append(f"\ncannot be used: {entry.problem}", style="red")
    return text


class ModelsScreen(RunsDeferred, ModalScreen[None]):
    """`in_use`: the monitor's model (None: the default). Picking one calls `on_pick(entry)`."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("m", "close", "Close"),
        Binding("d", "default", "Back to the default"),
        Binding("r", "reload", "Reload"),
    ]
    DEFAULT_CSS = _BOX_CSS.format(name="ModelsScreen") + """
    ModelsScreen #models-in-use { height: 1; }
    ModelsScreen #models-table { height: 1fr; min-height: 4; scrollbar-size-vertical: 1; }
    ModelsScreen #model-details { height: auto; max-height: 7; margin-top: 1; }
    """

    def __init__(self, jobs, in_use: Path | None, on_pick, also: list[Path | None] = ()) -> None:  # noqa: ANN001
        super().__init__()
        self.jobs, self.in_use, self.on_pick, self.also = jobs, in_use, on_pick, list(also)
        self.entries: list[ModelEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Models: Enter uses one  d default  r reload  Esc closes"
            yield Static(id="models-in-use")
            # measured as cells go in (see MeasuredTable): names cut short on a busy machine stayed cut
            yield MeasuredTable(id="models-table", cursor_type="row", zebra_stripes=True)
            yield Static("reading the models...", id="model-details")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("model", "acc", "F1", "faces", "persons", "date", "data"):
            table.add_column(name, key=name)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self._list(self.jobs, [self.in_use, *self.also])

    @work(thread=True, exclusive=True, exit_on_error=False, group="models")
    def _list(self, jobs, also: list[Path | None]) -> None:  # noqa: ANN001
        try:
            entries = jobs.models(also)
        except Exception as exc:  # noqa: BLE001 - shown in the view, which stays usable
            self.post_call(self._failed, exc)
            return
        self.post_call(self._show, entries)

    def _failed(self, exc: Exception) -> None:
        from .job_pane import describe_error

        self.query_one("#model-details", Static).update(Text(f"cannot list the models: {describe_error(exc)}",
                                                             style="red"))

    def _show(self, entries: list[ModelEntry]) -> None:
        self.entries = entries
        table = self.query_one(DataTable)
        table.clear()
        current = 0
        for i, e in enumerate(entries):
            in_use = same_model(e.path, self.in_use) or (self.in_use is None and e.default)
            current = i if in_use else current
            marker = IN_USE if in_use else " "
            name = Text(f"{marker} {shorten_middle(e.name, NAME_WIDTH - 2)}", style="bold" if in_use else "")
            if e.problem:
                name.stylize("red")
            measured = e.measured
            faces = f"{measured.faces} {'test' if measured.part == 'test' else 'val'}" if measured and \
                measured.faces is not None else "-"
            persons = "-" if not measured or measured.persons is None else \
                "no ids" if measured.no_person_id and not measured.persons else str(measured.persons)
            # DataTable reads strings as rich markup; the data's names are the user's
            table.add_row(name, _percent(e.accuracy), _percent(e.macro_f1), faces, persons, shown(e.date[:10] or "-"),
                          shown(", ".join(n for n, _ in e.data) or "-"), key=str(i))
        self._show_in_use(entries[current] if entries else None)
        if entries:
            table.move_cursor(row=current, animate=False)
            self._details(current)

    def _show_in_use(self, entry: ModelEntry | None) -> None:
        self.query_one("#models-in-use", Static).update(
            Text.assemble("the monitor uses ", (entry.name if entry else "default", "bold")))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._details(event.cursor_row)

    def _details(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            self.query_one("#model-details", Static).update(details(self.entries[row]))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:  # Enter on a row
        if 0 <= event.cursor_row < len(self.entries):
            self._pick(self.entries[event.cursor_row])

    def action_default(self) -> None:
        default = next((e for e in self.entries if e.default), None)
        if default is not None:
            self._pick(default)

    def _pick(self, entry: ModelEntry) -> None:
        if entry.problem:
            self.notify(entry.problem, title=f"{entry.name} cannot be used", severity="error", timeout=10)
            return
        self.in_use = None if entry.default else entry.path
        self.on_pick(entry)
        self._show(self.entries)

    def action_close(self) -> None:
        self.dismiss()


def comparison_table(new: ModelEntry, current: ModelEntry) -> Table:
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("new", ratio=1, overflow="fold")
    table.add_column("in use", ratio=1, overflow="fold")
    rows = (
        ("model", lambda e: e.name),
        ("accuracy", lambda e: _percent(e.accuracy)),
        ("macro-F1", lambda e: _percent(e.macro_f1)),
        ("measured on", lambda e: e.measured.text() if e.measured else "-"),
        ("trained on", ModelEntry.data_text),
        ("epochs", lambda e: f"{e.epochs if e.epochs is not None else '-'}"
                             + ("" if e.complete else " (stopped early)")),
        ("written", lambda e: e.date or "-"),
    )
    for label, value in rows:
        table.add_row(label, shown(value(new)), shown(value(current)))  # names of models and data: the user's
    return table


class NewModelScreen(ModalScreen[bool]):
    """A finished run's model beside the one in use; dismisses with True to use the new one."""

    BINDINGS = [Binding("u", "use", "Use the new model"), Binding("k", "keep", "Keep the model in use"),
                Binding("escape", "keep", "Keep the model in use")]
    DEFAULT_CSS = _BOX_CSS.format(name="NewModelScreen") + """
    NewModelScreen > Vertical { height: auto; }
    NewModelScreen #verdict { margin: 1 0; }
    NewModelScreen Horizontal { height: auto; }
    NewModelScreen Button { margin-right: 2; }
    """

    def __init__(self, new: ModelEntry, current: ModelEntry) -> None:
        super().__init__()
        self.new, self.current = new, current
        self.comparison = compare(new, current)

    def compose(self) -> ComposeResult:
        c = self.comparison
        with Vertical() as box:
            box.border_title = "Training finished: which model should the monitor use?"
            yield Static(comparison_table(self.new, self.current), id="comparison")
            style = "green" if c.recommend_new else "yellow" if c.verdict != "unusable" else "red"
            yield Static(Text(c.text, style=style), id="verdict")
            with Horizontal():
                if self.new.usable:
                    yield Button(Text(f"u  use {shorten_middle(self.new.name, 22)}"), id="use",
                                 variant="success" if c.recommend_new else "default")
                yield Button(Text(f"k  keep {shorten_middle(self.current.name, 22)}"), id="keep",
                             variant="default" if c.recommend_new else "primary")

    def on_mount(self) -> None:
        self.query_one("#use" if self.comparison.recommend_new else "#keep", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "use")

    def action_use(self) -> None:
        if self.new.usable:
            self.dismiss(True)

    def action_keep(self) -> None:
        self.dismiss(False)
