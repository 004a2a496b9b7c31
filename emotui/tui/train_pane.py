"""Training pane: the settings, a row per epoch, live loss and accuracy/F1 charts, and the final metrics."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.widgets import Input, Label, Select, Static

from ..events import EpochMetrics, Finished
from ..labels import CLASSES
from ..progress_render import shown
from ..learn.model_catalog import measured_text
from ..learn.recipes import DEFAULT_MODEL_SIZE
from .charts import BatchedTable, FixedText, LineChart, compact_number, confusion_table, per_class_table
from .jobs import Jobs
from .job_pane import JobPane, describe_error
from .messages import JobEnded, JobEvent, ModelReady

CHART_SECONDS = 0.5
SHORT_PANE_ROWS = 26  # the pane's height at 80x24 is 20
DEFAULTS = {"epochs": "20", "batch": "64", "lr": "0.001", "val": "0.1"}


class SettingError(ValueError):
    pass


class TrainPane(JobPane):
    job_name = "train"

    def __init__(self, jobs: Jobs, **kwargs) -> None:  # noqa: ANN003
        super().__init__(jobs, **kwargs)
        self.features: list[Path] = []
        self.history: list[EpochMetrics] = []
        self.out: Path | None = None
        self.summary: dict = {}
        self.charts_due = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="fields"):
            yield Label("Epochs ")
            yield Input(DEFAULTS["epochs"], id="epochs", type="integer", compact=True)
            yield Label(" Batch ")
            yield Input(DEFAULTS["batch"], id="batch", type="integer", compact=True)
            yield Label(" LR ")
            yield Input(DEFAULTS["lr"], id="lr", type="number", compact=True)
            yield Label(" Val ")
            yield Input(DEFAULTS["val"], id="val", type="number", compact=True)
            yield Label(" Size ")
            yield Select([(DEFAULT_MODEL_SIZE, DEFAULT_MODEL_SIZE)], value=DEFAULT_MODEL_SIZE, allow_blank=False,
                         id="size", compact=True)
        yield FixedText("features: none yet - press e to extract a dataset first", id="train-status")
        with Horizontal(id="train-live"):
            yield BatchedTable(id="epochs-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="train-charts"):
                yield LineChart("loss", id="loss-chart", xlabel="epoch", fitted=True)
                yield LineChart("accuracy / macro-F1", id="acc-chart", ylim=(0.0, 1.0), xlabel="epoch", fitted=True)
        with ScrollableContainer(id="train-results"):  # focusable: the arrow keys scroll it where it is short
            yield Static(id="confusion")
            yield Static(id="per-class")

    def on_resize(self) -> None:
        # 80x24 and other short screens: the results keep 5 rows of each table in view (app.tcss TrainPane.-short),
        # their titles left out
        short = self.size.height < SHORT_PANE_ROWS
        if short != self.has_class("-short"):
            self.set_class(short, "-short")
            self._show_tables()

    def on_mount(self) -> None:
        table = self.query_one("#epochs-table", BatchedTable)
        for name in ("ep", "loss", "acc", "v.acc", "v.F1", "lr", "s"):
            table.add_column(name)
        self._load_sizes()
        # Fast epochs (a small data set) would otherwise redraw both charts, tens of ms each, per event.
        self.set_interval(CHART_SECONDS, self._draw_if_due)

    @work(thread=True, exit_on_error=False, group="sizes")
    def _load_sizes(self) -> None:
        sizes = self.jobs.model_sizes()
        self.post_call(self._set_sizes, sizes)

    def _set_sizes(self, sizes: tuple[str, ...]) -> None:
        select = self.query_one("#size", Select)
        current = select.value
        select.set_options([(s, s) for s in sizes])
        select.value = current if current in sizes else sizes[0]

    def use_features(self, paths: list[Path]) -> None:
        self.features = [Path(p) for p in paths]
        if not self.running:
            self._show_status(f"features: {shown(', '.join(p.name for p in self.features))} - press t to train")

    def settings(self) -> dict:
        def read(widget_id: str, kind, low: float, high: float, what: str):  # noqa: ANN001, ANN202
            text = self.query_one(f"#{widget_id}", Input).value.strip()
            try:
                value = kind(text)
            except ValueError:
                raise SettingError(f"{what} must be a number, not {text!r}") from None
            if not low <= value <= high:
                raise SettingError(f"{what} must be between {low:g} and {high:g}")
            return value

        return {
            "epochs": read("epochs", int, 1, 10_000, "epochs"),
            "batch_size": read("batch", int, 1, 65_536, "batch size"),
            "lr": read("lr", float, 1e-7, 1.0, "learning rate"),
            "val_fraction": read("val", float, 0.01, 0.5, "validation split"),
            "model_size": str(self.query_one("#size", Select).value),
        }

    # ------------------------------------------------------------ the job
    def toggle(self) -> None:
        if self.running:
            self.stop_job()
            return
        if not self.features:
            self.notify("no features yet: press e to extract a dataset first", severity="warning")
            return
        try:
            settings = self.settings()
        except SettingError as exc:
            self.notify(str(exc), title="training not started", severity="error")
            return
        self.history.clear()
        self.summary = {}
        self.query_one("#epochs-table", BatchedTable).clear()
        self.query_one("#confusion", Static).update("")
        self.query_one("#per-class", Static).update("")
        self.remove_class("-results")
        self._draw()
        self.out = self.jobs.new_model_dir()
        self._show_status(f"training a {shown(settings['model_size'])} model into {shown(self.out)}")
        self.set_headline("starting")
        self._train(list(self.features), self.out, settings, self.begin())

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, features: list[Path], out: Path, settings: dict, done) -> Path:  # noqa: ANN001
        return self.call_job(done, self.jobs.train, features, out, on_warning=self._warn, **settings)

    def _warn(self, text: str) -> None:  # from the training thread: faces left out, classes with no faces
        # a minute: these come as training starts, and a user looking at the charts must still find them there
        self.app.call_from_thread(self.notify, text, title="training", severity="warning", timeout=60)

    def _draw_if_due(self) -> None:
        if self.charts_due:
            self.query_one("#epochs-table", BatchedTable).flush()
            self._draw()

    def _draw(self) -> None:
        self.charts_due = False
        x = [float(m.epoch) for m in self.history]
        self.query_one("#loss-chart", LineChart).draw(
            {"train": x, "val": x}, {"train": [m.train_loss for m in self.history],
                                     "val": [m.val_loss for m in self.history]})
        self.query_one("#acc-chart", LineChart).draw(
            {"train acc": x, "val acc": x, "val F1": x},
            {"train acc": [m.train_accuracy for m in self.history],
             "val acc": [m.val_accuracy for m in self.history],
             "val F1": [m.val_macro_f1 for m in self.history]})

    @on(JobEvent)
    def _event(self, message: JobEvent) -> None:
        event = message.event
        if isinstance(event, EpochMetrics):
            self.history.append(event)
            fold = f"{event.fold}." if event.fold is not None else ""
            self.query_one("#epochs-table", BatchedTable).queue_row(
                f"{fold}{event.epoch}{'*' if event.best else ''}", f"{event.train_loss:.3f}",
                f"{event.train_accuracy:.1%}", f"{event.val_accuracy:.1%}",
                f"{event.val_macro_f1:.1%}", compact_number(event.learning_rate), f"{event.seconds:.1f}")
            self.charts_due = True
            if not self.stopping:
                self.set_headline(f"epoch {event.epoch}/{event.epochs}")
        elif isinstance(event, Finished) and event.stage == "train":
            self.query_one("#epochs-table", BatchedTable).flush()
            self._draw()
            self._show_results(event.summary)

    def _show_status(self, text: str) -> None:
        # Two lines where one is short of room (80 columns: the model's name, the figures, what they were measured
        # on); rare enough to lay the screen out again for
        self.query_one("#train-status", FixedText).update(text, layout=True)

    def _show_tables(self) -> None:
        summary, titled = self.summary, not self.has_class("-short")
        self.set_class(bool(summary.get("confusion_matrix") or summary.get("per_class")), "-results")
        classes = summary.get("classes") or list(CLASSES)
        if summary.get("confusion_matrix") is not None:
            self.query_one("#confusion", Static).update(confusion_table(summary["confusion_matrix"], classes, titled))
        if summary.get("per_class"):
            self.query_one("#per-class", Static).update(per_class_table(summary["per_class"], classes, titled))

    def _show_results(self, summary: dict) -> None:
        self.summary = summary
        self._show_tables()
        acc, f1 = summary.get("accuracy"), summary.get("macro_f1")
        if acc is not None and f1 is not None:
            measured = summary.get("measured_on")
            on = f"  {shown(measured_text(**measured))}" if measured else ""
            note = f"  ({shown(summary['note'])})" if summary.get("note") else ""
            self._show_status(f"model {shown(self.out.name if self.out else '-')}  accuracy [b]{acc:.1%}[/]  "
                              f"macro-F1 [b]{f1:.1%}[/]{on}{note}")

    @on(JobEnded)
    def _ended(self, message: JobEnded) -> None:
        self.query_one("#epochs-table", BatchedTable).flush()
        self._draw_if_due()
        if message.error is not None:
            self.set_headline("failed")
            self._show_status(f"[red]{shown(describe_error(message.error))}[/]")
            return
        self.set_headline("stopped" if self.stopping else "done")
        model = Path(message.result) if message.result is not None else None
        if model is not None and (model / "config.json").is_file():
            self.post_message(ModelReady(model))
