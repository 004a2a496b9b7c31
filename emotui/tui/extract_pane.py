"""Extraction pane: the dataset, its layout and classes, live progress and tallies, the images skipped."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, ProgressBar

from ..events import Finished, ItemFailed, Progress
from ..labels import CLASSES
from .charts import BatchedTable, FixedText
from .jobs import DatasetInfo, Jobs
from .job_pane import JobPane, describe_error
from .messages import FeaturesReady, JobEnded, JobEvent

TALLIES = (("ok", "ok"), ("no_face", "no face"), ("unreadable", "unreadable"), ("error", "error"))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class ExtractPane(JobPane):
    job_name = "extract"

    def __init__(self, jobs: Jobs, dataset: Path | None = None, **kwargs) -> None:  # noqa: ANN003
        super().__init__(jobs, **kwargs)
        self.dataset = dataset
        self.features: Path | None = None
        self.last_rate = ""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="fields"):
            yield Label("Dataset ")
            yield Input(str(self.dataset or ""), placeholder="a dataset folder (Enter to read it)",
                        id="dataset", compact=True)
        yield FixedText("layout: -", id="layout")
        yield FixedText(id="class-counts")
        with Horizontal(classes="progress-row"):
            yield ProgressBar(total=1, id="extract-progress", show_eta=False)
            yield FixedText("press e to extract", id="extract-rate")
        yield FixedText(id="tallies")
        yield Label("Skipped images", classes="section-title")
        yield BatchedTable(id="failures", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#failures", BatchedTable)
        table.add_column("status", width=10)
        table.add_column("image", width=36)
        table.add_column("why")
        self._show_tallies({})
        self._show_counts(None)
        if self.dataset:
            self.read_dataset(self.dataset)

    # ------------------------------------------------------------ dataset
    def read_dataset(self, path: Path) -> None:
        self.dataset = path
        self.query_one("#layout", FixedText).update(f"layout: reading {path} ...")
        self._discover(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="discover")
    def _discover(self, path: Path) -> None:
        try:
            info = self.jobs.discover(path)
        except Exception as exc:  # noqa: BLE001 - shown, not raised: a wrong path is the user's to fix
            self.post_call(self._show_layout_error, describe_error(exc))
            return
        self.post_call(self._show_info, info)

    def _show_layout_error(self, message: str) -> None:
        self.query_one("#layout", FixedText).update(f"[b red]layout: {message}[/]")
        self._show_counts(None)

    def _show_info(self, info: DatasetInfo) -> None:
        subjects = f", {info.n_subjects} subjects" if info.n_subjects else ""
        self.query_one("#layout", FixedText).update(f"layout: [b]{info.layout}[/] - {info.n_images} images{subjects}")
        self._show_counts(info.counts)

    def _show_counts(self, counts: dict[str, int] | None) -> None:
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for name in CLASSES:
            table.add_column(name[:8], justify="right")
        table.add_row(*(str((counts or {}).get(name, "-")) for name in CLASSES))
        self.query_one("#class-counts", FixedText).update(table)

    @on(Input.Submitted, "#dataset")
    def _dataset_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.read_dataset(Path(event.value.strip()).expanduser())

    # ------------------------------------------------------------ the job
    def toggle(self) -> None:
        if self.running:
            self.stop_job()
            return
        text = self.query_one("#dataset", Input).value.strip()
        if not text:
            self.notify("type a dataset folder first", severity="warning")
            return
        path = Path(text).expanduser()
        if path != self.dataset:
            self.read_dataset(path)
        self.query_one("#failures", BatchedTable).clear()
        self.query_one("#extract-progress", ProgressBar).update(total=1, progress=0)
        self.query_one("#extract-rate", FixedText).update("starting ...")
        self._show_tallies({})
        self.set_headline("starting")
        self._extract(path, self.begin())

    @work(thread=True, exclusive=True, exit_on_error=False, group="extract")
    def _extract(self, path: Path, done) -> Path:  # noqa: ANN001
        return self.call_job(done, self.jobs.extract, path)

    def _show_tallies(self, counts: dict[str, int]) -> None:
        self.query_one("#tallies", FixedText).update(
            "   ".join(f"{label} [b]{counts.get(key, 0)}[/]" for key, label in TALLIES))

    @on(JobEvent)
    def _event(self, message: JobEvent) -> None:
        event = message.event
        if isinstance(event, Progress):
            self.query_one("#extract-progress", ProgressBar).update(total=event.total, progress=event.done)
            self.last_rate = f"{event.done}/{event.total}  {event.rate:.1f} images/s"
            self.query_one("#extract-rate", FixedText).update(f"{self.last_rate}  ETA {format_eta(event.eta)}")
            self._show_tallies(event.counts)
            if not self.stopping:
                self.set_headline(f"{event.done}/{event.total}")
        elif isinstance(event, ItemFailed):
            self.query_one("#failures", BatchedTable).queue_row(event.status, self._short(event.path), event.error)
        elif isinstance(event, Finished):
            self.query_one("#failures", BatchedTable).flush()
            summary = event.summary
            # The whole features file (run_extraction's by_status), not just this run: a run that resumes a
            # finished dataset does no work, and "ok 0" would read as if nothing had been found.
            counts = summary.get("by_status") or summary.get("counts") or {}
            if counts:
                self._show_tallies(counts)
            rate = self.last_rate
            resumed, total = int(summary.get("resumed") or 0), summary.get("total")
            if resumed and total:
                done = total - int(summary.get("remaining") or 0)
                self.query_one("#extract-progress", ProgressBar).update(total=total, progress=done)
                rate = f"{done}/{total}  ({resumed} done before, {summary.get('detected', 0)} now)"
            self.query_one("#extract-rate", FixedText).update(
                f"{rate}  " + ("stopped: what was done is kept" if event.cancelled else "done"))

    def _short(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.dataset)) if self.dataset else path
        except ValueError:
            return path

    @on(JobEnded)
    def _ended(self, message: JobEnded) -> None:
        self.query_one("#failures", BatchedTable).flush()
        if message.error is not None:
            self.set_headline("failed")
            self.query_one("#extract-rate", FixedText).update(f"[red]{describe_error(message.error)}[/]")
            return
        self.set_headline("stopped" if self.stopping else "done")
        if message.result is not None:
            self.features = Path(message.result)
            self.post_message(FeaturesReady(self.features))
