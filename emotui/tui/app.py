"""The emotui dashboard: three panes (extract, train, monitor) driven by single keys.

Keys: the letters act at once wherever the focus is, except while a text field is being edited, where they
type; Enter or Escape leaves the field. The app opens with the focus on the pane tabs, not in a field.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, TabbedContent, TabPane, Tabs

from .app_exports import ExportsSessions
from .app_models import ChoosesModels
from .extract_pane import ExtractPane
from .header_text import header_text, room
from .help_screen import HelpScreen
from .heap import CHECK_SECONDS, HeapKeeper
from .job_pane import JobPane
from .jobs import Jobs, real_jobs
from .messages import FeaturesReady, PaneStatus, RunsDeferred
from .models_view import ModelsScreen
from .monitor_pane import MonitorPane
from .palette import app_commands
from .runner import EXIT_GRACE_SECONDS, finish_jobs, run_until_closed, wait_all  # noqa: F401 - their home was here
from .sessions_view import SessionsView
from .train_pane import TrainPane

QUIT_WAIT_SECONDS = 1.0
# How long a thread keeps the GIL before another that wants it gets it (Python's default: 5 ms). A repaint is 20-40
# ms of Python; at 5 ms slices it alternated with the monitor thread's Python and took twice as long while jobs ran
# (bench_tui.py busy p95 105-140 ms; 70-97 ms at 20-50 ms).
GIL_SLICE_SECONDS = 0.02
# Letter keys that a focused text field keeps for typing.
LETTER_ACTIONS = {"extract", "train", "watch", "export", "preview", "quit", "show_pane", "help", "models", "neutral",
                  "extract_unlisted", "train_unlisted"}
# The monitor pane's footer lists n (its neutral key) instead of e and t, which at 80 columns leave it no room; e and
# t still work there, through their unlisted twins.
LISTED_OFF_MONITOR = {"extract", "train"}


@dataclass(frozen=True)
class Settings:
    data: Path | None = None
    source: str | None = None
    model: Path | None = None
    interval: float = 5.0
    watch: bool = False  # open on the monitor pane, already watching (`emotui watch` without --headless)
    landmarker: Path | None = None  # face_landmarker.task for extraction and the monitor (default: where emotui looks)
    prior: str = "data"  # the monitor's class prior (emotui.learn.predictor.PRIORS)


class EmotuiApp(ExportsSessions, ChoosesModels, RunsDeferred, App):
    CSS_PATH = "app.tcss"
    TITLE = "emotui"
    AUTO_FOCUS = "Tabs"
    BINDINGS = [
        Binding("e", "extract", "Extract", priority=True),
        Binding("t", "train", "Train", priority=True),
        Binding("e", "extract_unlisted", "Extract", show=False, priority=True),
        Binding("t", "train_unlisted", "Train", show=False, priority=True),
        Binding("w", "watch", "Watch", priority=True),
        Binding("x", "export", "Export", priority=True),
        Binding("p", "preview", "Preview", priority=True),
        Binding("n", "neutral", "Neutral", priority=True),
        Binding("s", "show_pane('sessions')", "Sessions", priority=True),
        Binding("m", "models", "Models", priority=True),
        Binding("q", "quit", "Quit", priority=True),
        Binding("1", "show_pane('extract')", "Extract pane", show=False, priority=True),
        Binding("2", "show_pane('train')", "Train pane", show=False, priority=True),
        Binding("3", "show_pane('monitor')", "Monitor pane", show=False, priority=True),
        Binding("question_mark", "help", "Help", priority=True),
        Binding("escape", "leave_field", "Done editing", priority=True),
    ]

    def __init__(self, settings: Settings | None = None, jobs: Jobs | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.jobs = jobs or real_jobs(self.settings.landmarker, self.settings.prior)
        self.job_events: list = []  # threading.Events, one per job started; set when its thread returns
        self.heap = HeapKeeper()

    def compose(self) -> ComposeResult:
        s = self.settings
        yield Header(icon="•")  # the default ⭘ is an empty box in the browser's web font (Roboto Mono has •)
        with TabbedContent(initial="extract"):
            with TabPane("Extract", id="extract"):
                yield ExtractPane(self.jobs, s.data)
            with TabPane("Train", id="train"):
                yield TrainPane(self.jobs)
            with TabPane("Monitor", id="monitor"):
                yield MonitorPane(self.jobs, s.source or "0", s.interval, s.model)
            with TabPane("Sessions", id="sessions"):
                yield SessionsView(self.jobs)
        # Compact, and no "^p palette" (the • in the header opens it, ? names ctrl+p): every key of a pane in 80 columns.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.heap.start()
        self.set_interval(CHECK_SECONDS, self.heap.tick)
        self._gil_slice = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SLICE_SECONDS)
        self._show_state()
        features = self.jobs.features_for(self.settings.data) if self.settings.data else None
        if features:
            self.query_one(TrainPane).use_features([features])
        if self.settings.watch:
            self.action_show_pane("monitor")
            self.call_after_refresh(self.action_watch)

    def on_unmount(self) -> None:
        self.heap.stop()
        sys.setswitchinterval(self._gil_slice)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.heap.input_seen()  # a key or the mouse: no full garbage collection for a moment
        await super().on_event(event)

    # ------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        editing = isinstance(self.focused, Input)
        if self.screen.is_modal:
            # The help or the command palette is open: its own keys only (Escape closes it, its field types),
            # except ? that closes the help and q that still quits.
            return action == "quit" and not editing or action == "help" and isinstance(self.screen, HelpScreen) \
                or action == "models" and isinstance(self.screen, ModelsScreen)
        panes = self.screen.query(TabbedContent)  # none yet while the app starts
        on_monitor = bool(panes) and panes.first().active == "monitor"
        if action in LISTED_OFF_MONITOR and on_monitor or action == "neutral" and not on_monitor:
            return False
        if action in LETTER_ACTIONS:
            return not editing
        if action == "leave_field":
            return editing
        return True

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen())

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,  # noqa: ANN001
               markup: bool = True) -> None:
        """Every notification is shown as it reads, never as markup: they quote file names, sources and errors
        (`a[/]b.mp4` would be a MarkupError, `[bold]` a style), and none of ours is styled. Widgets' and
        screens' notify() come here too."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_leave_field(self) -> None:
        self.query_one(TabbedContent).query_one(Tabs).focus()

    @on(Input.Submitted)
    def _field_done(self) -> None:
        self.action_leave_field()

    def action_show_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def _pane(self, cls: type[JobPane], tab: str) -> JobPane:
        self.action_show_pane(tab)
        return self.query_one(cls)

    def action_extract(self) -> None:
        self._pane(ExtractPane, "extract").toggle()

    def action_train(self) -> None:
        self._pane(TrainPane, "train").toggle()

    def action_watch(self) -> None:
        self._pane(MonitorPane, "monitor").toggle()

    def action_preview(self) -> None:
        pane = self._pane(MonitorPane, "monitor")
        self.notify("face preview on" if pane.toggle_preview() else "face preview off", timeout=2)

    @on(TabbedContent.TabActivated)
    def _pane_shown(self) -> None:
        self.refresh_bindings()  # the footer's keys depend on the pane (check_action)

    def action_extract_unlisted(self) -> None:
        self.action_extract()

    def action_train_unlisted(self) -> None:
        self.action_train()

    def action_neutral(self) -> None:
        self._pane(MonitorPane, "monitor").set_neutral()

    async def action_quit(self) -> None:
        """Stop every job, give the threads a second to let go of the camera and files, then leave."""
        panes = list(self.query(JobPane))
        for pane in panes:
            if pane.running:
                pane.stop_job()
        self.workers.cancel_all()
        waiting = [pane.job_done for pane in panes if pane.job_done is not None and not pane.job_done.is_set()]
        if waiting:
            await asyncio.to_thread(wait_all, waiting, QUIT_WAIT_SECONDS)
        self.exit()

    # ------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from app_commands(self)

    # ------------------------------------------------------------ state between panes
    @on(FeaturesReady)
    def _features_ready(self, message: FeaturesReady) -> None:
        # a job's last message can arrive while the app is closing and its panes are gone
        for pane in self.query(TrainPane):
            pane.use_features([message.path])

    @on(PaneStatus)
    def _show_state(self) -> None:
        jobs = [(pane.job_name, pane.headline) for pane in self.query(JobPane)]
        model = self.query_one(MonitorPane).model_name
        self.sub_title = header_text(model, jobs, room(self.size.width, self.title))

    def on_resize(self) -> None:
        self._show_state()  # the header's wording depends on the width


def run_app(settings: Settings) -> None:
    """Run the dashboard; the process ends within EXIT_GRACE_SECONDS of the screen closing (emotui.tui.runner)."""
    app = EmotuiApp(settings)
    run_until_closed(app, app.job_events)
