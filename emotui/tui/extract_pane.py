"""Extraction pane: the dataset, its layout and classes, live progress and tallies, the images skipped."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, ProgressBar, Select

from ..events import Finished, ItemFailed, Progress
from ..labels import CLASSES
from ..progress_render import shown
from .charts import BatchedTable, FixedText
from .fields import PathInput
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


def reason_alone(reason: str, path: str) -> str:
    """The core's reasons name the image ("empty file: /abs/path"), which the image column already shows."""
    if not path or path not in reason:
        return reason
    return " ".join(reason.replace(path, "").split()).replace(" :", ":").strip(": ") or reason


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
            yield PathInput(str(self.dataset or ""), placeholder="a dataset folder (Enter to read it)",
                        id="dataset", compact=True)
            yield Label(" Engine ")
            # ray: Ray actors, on the cluster of $RAY_ADDRESS or a local instance (emotui.data.extraction_ray).
            yield Select([("local", "local"), ("ray", "ray")], value="local", allow_blank=False, id="engine",
                         compact=True)
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
        # Auto widths: the reason comes before the image so that it is read in full on any width, and the image is
        # named by its path under the dataset (what a user finds it by), not the absolute path.
        for name in ("status", "why", "image"):
            table.add_column(name, key=name)
        self._show_tallies({})
        self._show_counts(None)
        if self.dataset:
            self.read_dataset(self.dataset)

    # ------------------------------------------------------------ dataset
    def read_dataset(self, path: Path, *, earlier: bool = True) -> None:
        """A dataset typed in or given: the last one's tallies, progress and skipped images go, and (`earlier`)
        what an earlier extraction of this one left in its features file is shown instead."""
        self.dataset = path
        self.query_one("#layout", FixedText).update(f"layout: reading {shown(path)} ...")
        self._reset()
        self._discover(path)
        if earlier:
            self.set_headline("idle")  # until the features file, if any, tells otherwise
            self._read_earlier(path)

    def _reset(self, rate: str = "press e to extract") -> None:
        self.query_one("#failures", BatchedTable).clear()
        self.query_one("#extract-progress", ProgressBar).update(total=1, progress=0)
        self.query_one("#extract-rate", FixedText).update(rate)
        self.last_rate = ""
        self._show_tallies({})

    @work(thread=True, exclusive=True, exit_on_error=False, group="earlier")
    def _read_earlier(self, path: Path) -> None:
        features = self.jobs.features_for(path)
        state = self.jobs.features_state(features) if features else None
        self.post_call(self._show_earlier, path, features, state)

    def _show_earlier(self, path: Path, features: Path | None, state) -> None:  # noqa: ANN001
        if path != self.dataset or self.running or state is None:
            return
        total = state.expected or state.done
        self.query_one("#extract-progress", ProgressBar).update(total=max(1, total), progress=state.done)
        skipped = state.done - state.by_status.get("ok", 0)
        what = "done" if state.complete else "stopped: press e to resume"
        self.query_one("#extract-rate", FixedText).update(
            f"{state.done}/{total} images, {state.faces} faces, {skipped} skipped (extracted earlier)  {what}")
        self._show_tallies(state.by_status)
        table = self.query_one("#failures", BatchedTable)
        for image, status, reason in state.skipped:
            table.queue_row(Text(status), Text(reason_alone(reason, image)), Text(self.image_name(image)))
        table.flush()
        self.set_headline("done" if state.complete else f"{state.done}/{total}")
        self.features = features
        self.post_message(FeaturesReady(features))

    @work(thread=True, exclusive=True, exit_on_error=False, group="discover")
    def _discover(self, path: Path) -> None:
        try:
            info = self.jobs.discover(path)
        except Exception as exc:  # noqa: BLE001 - shown, not raised: a wrong path is the user's to fix
            self.post_call(self._show_layout_error, describe_error(exc))
            return
        self.post_call(self._show_info, info)

    def _show_layout_error(self, message: str) -> None:
        self.query_one("#layout", FixedText).update(f"[b red]layout: {shown(message)}[/]")
        self._show_counts(None)

    def _show_info(self, info: DatasetInfo) -> None:
        subjects = f", {info.n_subjects} subjects" if info.n_subjects else ""
        self.query_one("#layout", FixedText).update(f"layout: [b]{shown(info.layout)}[/] - {info.n_images} images{subjects}")
        self._show_counts(info.counts)

    def _show_counts(self, counts: dict[str, int] | None) -> None:
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for name in CLASSES:
            table.add_column(name[:8], justify="right")
        table.add_row(*(str((counts or {}).get(name, "-")) for name in CLASSES))
        self.query_one("#class-counts", FixedText).update(table)

    @on(Input.Submitted, "#dataset")
    def _dataset_submitted(self, event: Input.Submitted) -> None:
        if self.running:
            self.notify("the extraction is running: press e to stop it before reading another dataset",
                        severity="warning")
        elif event.value.strip():
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
            self.read_dataset(path, earlier=False)
        self._reset("starting ...")
        self.set_headline("starting")
        self._extract(path, self.begin(), str(self.query_one("#engine", Select).value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="extract")
    def _extract(self, path: Path, done, engine: str = "local") -> Path:  # noqa: ANN001
        return self.call_job(done, self.jobs.extract, path, **({"engine": engine} if engine != "local" else {}))

    def _show_tallies(self, counts: dict[str, int]) -> None:
        rare = [("skipped", "skipped")] if counts.get("skipped") else []  # not regular files: rare, shown when met
        self.query_one("#tallies", FixedText).update(
            "   ".join(f"{label} [b]{counts.get(key, 0)}[/]" for key, label in (*TALLIES, *rare)))

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
            # Text, not markup: file names and error messages come from outside ("[Errno 2]", "a[/b].jpg").
            self.query_one("#failures", BatchedTable).queue_row(
                Text(event.status), Text(reason_alone(event.error or event.status, event.path)),
                Text(self.image_name(event.path)))
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

    def image_name(self, path: str) -> str:
        """The image's path under the dataset folder. The core reports absolute paths and the dataset may have
        been given relative (`--data ../shared/...`) or through a symlink, so both sides are made absolute, then
        resolved; an image outside the folder (a manifest may point anywhere) keeps its full path."""
        if not self.dataset:
            return path
        image = Path(path)
        for root, item in ((self.dataset.absolute(), image.absolute()), (self.dataset.resolve(), image.resolve())):
            try:
                return item.relative_to(root).as_posix()
            except ValueError:
                continue
        return path

    @on(JobEnded)
    def _ended(self, message: JobEnded) -> None:
        self.query_one("#failures", BatchedTable).flush()
        if message.error is not None:
            self.set_headline("failed")
            self.query_one("#extract-rate", FixedText).update(f"[red]{shown(describe_error(message.error))}[/]")
            return
        self.set_headline("stopped" if self.stopping else "done")
        if message.result is not None:
            self.features = Path(message.result)
            self.post_message(FeaturesReady(self.features))
