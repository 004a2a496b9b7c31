"""Monitor pane: the source, the current expression large, the 8 probabilities, an emotion-history chart, the
recent predictions, one row per tracked face, and the landmark-only face preview."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from time import monotonic
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label

from ..errors import EmotuiError
from ..events import Finished, Prediction, SourceState
from ..labels import CLASSES
from ..progress_render import shown
from .charts import CLASS_COLORS, BatchedTable, FixedText, LineChart, ProbabilityBars
from .face_preview import FacePreview
from .fields import PathInput, shorten_middle
from .jobs import Jobs
from .job_pane import JobPane, describe_error
from .messages import JobEnded, JobEvent
from .monitor_text import BOX_FULL_FROM, label_lines, status_text
from .tracks_table import TracksTable

MODEL_NAME_WIDTH = 24  # app.tcss #model-name max-width
BIG_LABEL_ROWS = 3  # app.tcss #big-label height
HISTORY_FRAMES = 60  # the sliding window of the history chart, in analysed frames
RECENT_ROWS = 200
REDRAW_SECONDS = 0.25  # widgets follow the predictions at most this often, however fast they arrive
SLOW_SECONDS = TABLE_SECONDS = 1.0  # new table rows relayout the screen; the chart takes tens of ms to build


def _seconds(stamp: str) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return None


class MonitorPane(JobPane):
    job_name = "watch"

    def __init__(self, jobs: Jobs, source: str = "0", interval: float = 5.0, model: Path | None = None,
                 **kwargs) -> None:  # noqa: ANN003
        super().__init__(jobs, **kwargs)
        self.source = source
        self.interval = interval
        self.model = Path(model) if model else None
        self.session: str | None = None
        self.camera = "off"
        self.latency: float | None = None
        self.history: deque[tuple[int, dict[str, float]]] = deque(maxlen=HISTORY_FRAMES)
        self.frame_times: deque[float] = deque(maxlen=10)
        self.last_frame: int | None = None
        self.landmarks = None
        self.face_box = None  # the shown face's bbox in pixels: gives the preview the frame's proportions
        self.rows = 0
        self.dirty = False
        self.current: Prediction | None = None
        self.pending_tracks: dict[str, Prediction] = {}
        self.slow_drawn = 0.0
        self.restart = False  # watch again once the current watch has ended (the model changed)
        self.neutral = None  # the watch's pinned neutral faces (emotui.live.neutral.NeutralPins), set by the n key

    def compose(self) -> ComposeResult:
        with Horizontal(classes="fields"):
            yield Label("Source ")
            yield PathInput(self.source, id="source", placeholder="camera index, video, folder or URL", compact=True)
            yield Label(" Interval s ")
            yield Input(f"{self.interval:g}", id="interval", type="number", compact=True)
            yield Label(" Model ")
            yield FixedText(shown(self.model_name), id="model-name")
        yield FixedText(id="monitor-status")
        with Horizontal(id="monitor-live"):
            with Vertical(id="now"):
                yield FixedText("press w to watch", id="big-label")
                yield ProbabilityBars(id="probs")
            yield LineChart("emotion history (colours as the bars)", id="history-chart", ylim=(0.0, 1.0), xlabel="frame",
                            fitted=True)
            yield FacePreview(id="preview")
        with Horizontal(id="monitor-tables"):
            yield BatchedTable(id="recent", cursor_type="row", zebra_stripes=True, every=TABLE_SECONDS, keep=RECENT_ROWS)
            yield TracksTable(id="tracks")

    def on_mount(self) -> None:
        # Fixed widths, each its column's widest value: measured widths grew with whatever values happened to be
        # drawn, so the layout differed from run to run, and a new value could shift every column.
        recent = self.query_one("#recent", BatchedTable)
        for name, width in (("time", 8), ("frame", 5), ("face", 4), ("label", 8), ("conf", 4)):
            recent.add_column(name, key=name, width=width)
        self.query_one("#preview").display = False
        self.query_one("#probs", ProbabilityBars).show(None)
        self._show_status()
        self.set_interval(REDRAW_SECONDS, self._redraw)

    def on_resize(self) -> None:
        self._show_status()  # its wording depends on the width
        self.query_one("#tracks", TracksTable).show_full_boxes(self.size.width >= BOX_FULL_FROM)

    @property
    def model_name(self) -> str:
        return shorten_middle(self.model.name, MODEL_NAME_WIDTH) if self.model else "default"

    def use_model(self, model: Path | None) -> None:
        """The model for the monitor (None: the shipped default). While watching, the watch starts again with it:
        a session is watched by one model, as the log records."""
        self.model = Path(model) if model else None
        self.query_one("#model-name", FixedText).update(shown(self.model_name))
        if self.running and not self.stopping:
            self.restart = True
            self.stop_job()

    def toggle_preview(self) -> bool:
        preview = self.query_one("#preview", FacePreview)
        preview.display = not preview.display
        if preview.display:
            preview.show(self.landmarks, self.face_box)
        return bool(preview.display)

    # ------------------------------------------------------------ the job
    def toggle(self) -> None:
        if self.running:
            self.stop_job()
            return
        source = self.query_one("#source", Input).value.strip()
        text = self.query_one("#interval", Input).value.strip()
        try:
            interval = float(text)
        except ValueError:
            interval = -1.0
        if interval < 0:
            self.notify(f"interval must be a number of seconds >= 0, not {text!r}", severity="error")
            return
        if not source:
            self.notify("type a source first: a camera index, a video, a folder or a URL", severity="warning")
            return
        self.source, self.interval = source, interval
        self.session, self.camera, self.latency, self.last_frame, self.current = None, "opening", None, None, None
        self.history.clear()
        self.frame_times.clear()
        self.set_headline("opening")
        self.neutral = self.jobs.neutral_pins()  # a neutral is the person's of one watch: a new watch starts without
        self._show_status()
        self._watch(source, self.model, interval, self.begin(), self.neutral)

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch")
    def _watch(self, source: str, model: Path | None, interval: float, done, neutral) -> object:  # noqa: ANN001
        pins = {} if neutral is None else {"neutral": neutral}  # jobs without the real monitor take none
        return self.call_job(done, self.jobs.watch, source, model_dir=model, interval=interval, **pins)

    def set_neutral(self) -> None:
        """The n key: the latest frame's face is the person's neutral face, their reference from now on."""
        if not self.running:
            self.notify("press w to watch first: the neutral face is taken from the latest frame", severity="warning")
            return
        if self.neutral is None:
            self.notify("this watch takes no neutral face (a stand-in source)", severity="warning")
            return
        try:
            message = self.neutral.set_from_latest()
        except EmotuiError as exc:  # no face in view, or several: the user says which, by being alone in view
            self.notify(str(exc), title="neutral face not set", severity="warning")
            return
        self.notify(message, title="neutral face")
        self._show_status()

    @property
    def fps(self) -> float | None:
        if len(self.frame_times) < 2 or self.frame_times[-1] <= self.frame_times[0]:
            return None
        return (len(self.frame_times) - 1) / (self.frame_times[-1] - self.frame_times[0])

    def _show_status(self) -> None:
        fps = f"{self.fps:.1f}" if self.fps is not None else "-"
        latency = f"{self.latency:.0f} ms" if self.latency is not None else "-"
        neutral = self.neutral.status() if self.neutral is not None and self.camera != "off" else None
        status = self.query_one("#monitor-status", FixedText)
        status.update(status_text(self.source, self.camera, fps, latency, neutral, shown(self.session or "-"),
                                  status.size.width or 78))

    @on(JobEvent)
    def _event(self, message: JobEvent) -> None:
        event = message.event
        if isinstance(event, Prediction):
            self._prediction(event)
        elif isinstance(event, SourceState):
            self.camera = event.state
            if event.state not in ("open", "ended") and event.message:  # the end is told with its figures below
                self.notify(event.message, title=f"source {event.state}",
                            severity="warning" if event.state in ("retrying", "lost") else "information")
            self._show_status()
        elif isinstance(event, Finished):
            self.dirty = True
            self._redraw(force=True)
            s = event.summary
            if s.get("reason") != "stopped":
                self.notify(f"{s.get('reason', 'ended')}: {s.get('frames_analysed', s.get('frames', 0))} frames analysed; "
                            f"x exports session {s.get('session', self.session)}", title="watching ended",
                            timeout=10)

    def _prediction(self, p: Prediction) -> None:
        """Only records: widgets are updated by `_redraw`, a few times a second, however fast frames come."""
        self.session = p.session
        if p.frame != self.last_frame:
            self.last_frame = p.frame
            stamp = _seconds(p.time)
            if stamp is not None:
                self.frame_times.append(stamp)
            self.current = p  # the first (largest) face of a frame is the one shown large
            if p.label is not None:
                self.history.append((p.frame, dict(p.smoothed or p.probabilities)))
            self.landmarks, self.face_box = p.landmarks, p.bbox
        self.latency = float(p.latency_ms.get("total", sum(p.latency_ms.values()))) if p.latency_ms else None
        clock = p.time[11:19] if len(p.time) >= 19 else p.time
        self.query_one("#recent", BatchedTable).queue_row(
            clock, str(p.frame), "-" if p.track is None else str(p.track), shown(p.label or "no face"),
            f"{p.confidence:.0%}" if p.label else "")
        self.rows += 1
        if p.track is not None:
            self.pending_tracks[str(p.track)] = p
        self.dirty = True

    def _show_current(self, p: Prediction) -> None:
        if p.label is None:
            self.query_one("#big-label", FixedText).update("no face")
            self.query_one("#probs", ProbabilityBars).show(None)
        else:
            self.query_one("#big-label", FixedText).update(
                f"{shown(p.label.upper())}  {p.confidence:.0%}{'  (uncertain)' if p.uncertain else ''}"
                f"{'  calibrating' if p.calibrated is False else ''}")
            self.query_one("#probs", ProbabilityBars).show(p.smoothed or p.probabilities)
        if not self.stopping:
            self.set_headline(f"{p.label} {p.confidence:.0%}" if p.label else "no face")

    def _redraw(self, force: bool = False) -> None:
        """Cheap parts (label, bars, status) up to 4 times a second; tables and chart, which make Textual lay out
        the screen or take tens of ms to draw, once a second."""
        if not self.dirty:
            return
        self.dirty = False
        if self.current is not None:
            self._show_current(self.current)
        self._show_status()
        preview = self.query_one("#preview", FacePreview)
        if preview.display:
            preview.show(self.landmarks, self.face_box)  # built off the UI thread, and its size never changes
        now = monotonic()
        if not (force or now - self.slow_drawn >= SLOW_SECONDS):
            self.dirty = True  # the slow part is still due
            return
        self.slow_drawn = now
        self.query_one("#recent", BatchedTable).flush()
        tracks, self.pending_tracks = self.pending_tracks, {}
        for p in tracks.values():
            self.query_one("#tracks", TracksTable).show(p)
        x = [float(frame) for frame, _ in self.history]
        self.query_one("#history-chart", LineChart).draw(
            {name: x for name in CLASSES}, {name: [probs.get(name, 0.0) for _, probs in self.history]
                                            for name in CLASSES}, legend=False, colors=CLASS_COLORS)

    @on(JobEnded)
    def _ended(self, message: JobEnded) -> None:
        self.camera = "off"
        self.dirty = True
        self._redraw(force=True)
        if message.error is not None:
            self.set_headline("failed")
            label = self.query_one("#big-label", FixedText)
            label.update(shown(label_lines(describe_error(message.error), label.size.width or 32, BIG_LABEL_ROWS)))
        else:
            self.set_headline("stopped" if self.stopping else "ended")
        if self.restart:
            self.restart = False
            self.toggle()
