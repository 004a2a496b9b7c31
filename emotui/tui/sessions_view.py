"""Sessions view: every session in the prediction log, the highlighted one's emotion history and label shares,
and its export in a chosen format to a chosen file. What it shows is read by the core (LogStore.sessions,
LogStore.overview) through the Jobs seam, in thread workers: a long log never holds up a key."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, TabbedContent

from ..labels import CLASSES
from .charts import CLASS_COLORS, FixedText, LineChart, MeasuredTable, ProbabilityBars
from .fields import PathInput
from .job_pane import describe_error
from .jobs import EXPORT_FORMATS, Jobs, export_path
from .messages import RunsDeferred
from .session_columns import KEYS, session_columns, session_title

REFRESH_SECONDS = 3.0  # while the view is shown and a session is still being logged: its figures grow


class SessionsView(RunsDeferred, Vertical):
    BINDINGS = [
        # The highlighted session; x still exports the monitor's. Not in the footer, which at 80 columns would
        # lose "? Help" for it: the Export button names the key.
        Binding("X", "export_selected", "Export highlighted", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, jobs: Jobs, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.jobs = jobs
        self.infos: list = []  # SessionInfo, newest first, as the table lists them
        self.selected: str | None = None
        self.overview = None  # SessionOverview of the selected session, once read
        self.default_out: str = ""  # the path field's value as this view last set it
        self.filled_width = 0

    def compose(self) -> ComposeResult:
        # The export line under the list: Tab from the list goes straight to the format, then the file, the button.
        yield MeasuredTable(id="sessions-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        with Horizontal(classes="fields", id="export-row"):
            yield Label("Export as ")
            yield Select([(f, f) for f in EXPORT_FORMATS], value=EXPORT_FORMATS[0], allow_blank=False,
                         id="export-format", compact=True)
            yield Label(" to ", id="export-to")
            yield PathInput("", id="export-path", placeholder="a file (Enter exports)", compact=True)
            yield Button("Export (X)", id="export-session", compact=True)
        yield FixedText("no sessions yet: press w to watch, then s again", id="session-title")
        with Horizontal(id="session-detail"):
            yield LineChart("emotion history (colours as the bars)", id="session-chart", ylim=(0.0, 1.0),
                            xlabel="frame")
            with Vertical(id="session-shares-box"):
                yield FixedText("label shares", id="session-shares-title")
                yield ProbabilityBars(id="session-shares")

    def on_mount(self) -> None:
        self.query_one("#session-shares", ProbabilityBars).show(None)
        self.set_interval(REFRESH_SECONDS, self._tick)

    # ------------------------------------------------------------ the list
    def on_show(self) -> None:
        """Shown (s, a click on its tab): the list read afresh, and the keys go to it, so that the arrows move
        through the sessions at once (the letters still act: the table types nothing)."""
        if self.app.is_web:  # the file downloads in the browser: its name is the user's, a server path is not
            self.query_one("#export-to", Label).update(" download as ")
            self.query_one("#export-path", PathInput).placeholder = "a file name (Enter exports)"
        self.action_reload()
        if not isinstance(self.app.focused, Input):
            self.query_one("#sessions-table").focus()

    def action_reload(self) -> None:
        self._load()

    def _tick(self) -> None:
        if self.region.area and any(info.ended_cleanly is None for info in self.infos):
            self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sessions")
    def _load(self) -> None:
        try:
            infos = self.jobs.sessions()
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign log is shown, the app goes on
            self.post_call(self._show_error, describe_error(exc))
            return
        self.post_call(self._show_sessions, list(reversed(infos)))

    def _show_error(self, message: str) -> None:
        self.query_one("#session-title", FixedText).update(Text(message, style="bold red"), layout=True)

    def _show_sessions(self, infos: list) -> None:
        self.infos = infos
        if self.selected not in {info.id for info in infos}:
            self.selected = infos[0].id if infos else None
        self._fill()
        if self.selected:
            self._read_overview(self.selected)
        else:
            self.query_one("#session-title", FixedText).update("no sessions yet: press w to watch, then s again",
                                                                  layout=True)

    def _fill(self) -> None:
        """The rows, their source and model shortened to the width there is (again when it changes)."""
        table = self.query_one("#sessions-table", MeasuredTable)
        width = self.size.width or self.app.size.width
        self.filled_width = width
        labels, widths, rows = session_columns(self.infos, width)
        table.clear(columns=True)
        for key, label, cells in zip(KEYS, labels, widths):
            table.add_column(label, key=key, width=cells)
        for row, info in zip(rows, self.infos):
            table.add_row(*row, key=info.id)
        if self.selected:
            table.move_cursor(row=table.get_row_index(self.selected), animate=False)

    def on_resize(self) -> None:
        if self.infos and self.size.width != self.filled_width:
            self._fill()
            self._show_title()

    def _show_title(self) -> None:
        if self.overview is not None:
            width = self.size.width or self.app.size.width
            self.query_one("#session-title", FixedText).update(session_title(self.overview.info, width), layout=True)

    @on(DataTable.RowHighlighted, "#sessions-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        session = event.row_key.value if event.row_key is not None else None
        if session and session != self.selected:
            self.selected = session
            self._read_overview(session)

    # ------------------------------------------------------------ the selected session
    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def _read_overview(self, session: str) -> None:
        try:
            overview = self.jobs.session_overview(session)
        except Exception as exc:  # noqa: BLE001
            self.post_call(self._show_error, describe_error(exc))
            return
        self.post_call(self._show_overview, overview)

    def _show_overview(self, overview) -> None:  # noqa: ANN001
        if overview is None or overview.info.id != self.selected:
            return
        self.overview = overview
        info = overview.info
        self._show_title()
        frames = overview.frames
        self.query_one("#session-chart", LineChart).draw(
            {name: frames for name in CLASSES}, overview.series, legend=False, colors=CLASS_COLORS)
        faces = sum(overview.label_counts.values())
        self.query_one("#session-shares-title", FixedText).update(
            f"label shares of {faces} faces" if faces else "label shares: no faces")
        self.query_one("#session-shares", ProbabilityBars).show(overview.shares or None)
        self._suggest_path(info.id)

    # ------------------------------------------------------------ export
    @property
    def fmt(self) -> str:
        value = self.query_one("#export-format", Select).value
        return value if isinstance(value, str) else EXPORT_FORMATS[0]

    def _suggest_path(self, session: str) -> None:
        """The default file of this session and format; a folder the user chose is kept."""
        field = self.query_one("#export-path", PathInput)
        default = export_path(session, self.fmt)
        typed = field.value.strip()
        if self.app.is_web:
            default = Path(default.name)
        elif typed and typed != self.default_out:
            chosen = Path(typed).expanduser()
            default = (chosen if chosen.is_dir() else chosen.parent) / default.name
        self.default_out = str(default)
        field.value = self.default_out
        field.show_end()

    @on(Select.Changed, "#export-format")
    def _format_changed(self) -> None:
        field = self.query_one("#export-path", PathInput)
        path = Path(field.value.strip()) if field.value.strip() else None
        if path is not None and path.suffix.lstrip(".") in EXPORT_FORMATS:
            field.value = str(path.with_suffix(f".{self.fmt}"))
            if str(path) == self.default_out:
                self.default_out = field.value
            field.show_end()
        elif self.selected:
            self._suggest_path(self.selected)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-session")
    def action_export_selected(self) -> None:
        if not self.selected:
            self.notify("no session to export yet: press w to watch first", severity="warning")
            return
        self.app.export_session(self.selected, self.fmt, self._target(self.fmt))  # type: ignore[attr-defined]

    def _target(self, fmt: str) -> Path:
        """Where the highlighted session goes as `fmt`: the field's file (its suffix made `fmt`'s), or the
        session's own file name in the field's folder, or in the exports folder."""
        typed = self.query_one("#export-path", PathInput).value.strip()
        default = export_path(self.selected, fmt)
        out = Path(typed).expanduser() if typed else default
        if fmt != self.fmt and out.suffix.lstrip(".") in EXPORT_FORMATS:  # the palette's format, not the line's
            out = out.with_suffix(f".{fmt}")
        if self.app.is_web:  # written beside the other exports, then sent to the browser under this name
            return default.with_name(out.name or default.name)
        return out / default.name if out.is_dir() else out

    def export_from_palette(self, fmt: str) -> None:
        """The command palette's "Export session as ...": the highlighted session while this view is shown (the
        format chosen here too, so the line shows what was written), else the monitor's current one."""
        tabs = self.app.query_one(TabbedContent)
        if tabs.active != self.parent.id or not self.selected:
            self.app.action_export(fmt)  # type: ignore[attr-defined]
            return
        self.app.export_session(self.selected, fmt, self._target(fmt))  # type: ignore[attr-defined]
        self.query_one("#export-format", Select).value = fmt
