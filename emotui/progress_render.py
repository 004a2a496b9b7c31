"""Rich rendering of job events on stderr, for every headless command (extract, train, ...).

The renderer is an event handler: pass it as `on_event` to any `run_*` job. It draws a live bar from `Progress`
events (rate and ETA as the job measured them), prints the first few `ItemFailed` events above the bar, and stops
on `Finished`. Results go to stdout; nothing here writes there.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
from rich.progress import Progress as RichProgress

from .events import Finished, ItemFailed, Progress

_STATUS_STYLE = {"ok": "green", "no_face": "yellow", "unreadable": "red", "error": "red", "skipped": "yellow"}


def shown(text: object) -> str:
    """`text` as it reads, inside rich markup: every string a user supplied (a file or folder name, a source, a
    label, a session or model name, an error quoting one) goes through here before rich or the dashboard draws
    it. `a[/]b.mp4` read as markup is a closing tag with nothing to close (a MarkupError), `[bold]` would style
    what follows. The dashboard reads its strings as rich markup too (tui.charts.FixedText, DataTable cells) and
    shows notifications unparsed, so this one function serves both front ends."""
    return escape(str(text))


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def format_counts(counts: dict[str, int]) -> str:
    return "  ".join(f"[{_STATUS_STYLE.get(k, 'cyan')}]{shown(k)}[/] {v}" for k, v in counts.items() if v)


class EventRenderer:
    """`with EventRenderer() as render: run_x(..., on_event=render)`."""

    def __init__(self, console: Console | None = None, *, unit: str = "images", max_failures: int = 10) -> None:
        self.console = console or Console(stderr=True)
        self.unit = unit
        self.max_failures = max_failures
        self.failures: Counter[str] = Counter()
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("{task.fields[counts]}"),
            console=self.console,
            transient=False,
            refresh_per_second=4,  # events move the bar; redrawing more often only costs the job CPU
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> EventRenderer:
        return self  # the bar starts with the first progress: a job that fails first leaves no blank lines

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._tasks:
            self._bar.stop()
        hidden = sum(self.failures.values()) - self.max_failures
        if hidden > 0:
            by_status = ", ".join(f"{n} {s}" for s, n in self.failures.most_common())
            self.console.print(f"[dim]... {hidden} more skipped {self.unit} not shown ({by_status} in all)[/]")
            self.failures.clear()

    def __call__(self, event: Any) -> None:
        if isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, ItemFailed):
            self.failures[event.status] += 1
            if sum(self.failures.values()) <= self.max_failures:
                style = _STATUS_STYLE.get(event.status, "red")
                text = event.error if event.path in event.error else f"{event.path}: {event.error}"
                self.console.print(f"[{style}]{shown(event.status)}[/] {shown(text)}", highlight=False,
                                   soft_wrap=True)
        elif isinstance(event, Finished):
            task = self._tasks.get(event.stage)
            if task is not None:
                self._bar.update(task, description=f"{event.stage} {'stopped' if event.cancelled else 'done'}")

    def _progress(self, event: Progress) -> None:
        fields = {
            "rate": f"{event.rate:.1f} {self.unit}/s" if event.rate else "",
            "eta": format_seconds(event.eta) if event.done < event.total else "0:00",
            "counts": format_counts(event.counts),
        }
        task = self._tasks.get(event.stage)
        if task is None and not event.total:
            return  # nothing to do (e.g. everything resumed): no empty bar
        if task is None:
            if not self._tasks:
                self._bar.start()
            self._tasks[event.stage] = self._bar.add_task(event.stage, total=event.total or None,
                                                         completed=event.done, **fields)
        else:
            self._bar.update(task, total=event.total or None, completed=event.done, **fields)


def download_progress(console: Console | None = None):  # noqa: ANN201
    """An on_progress(done, total) callback for `resolve_landmarker` that draws a byte bar, and its closer."""
    from rich.progress import DownloadColumn, TransferSpeedColumn

    bar = RichProgress(TextColumn("downloading face_landmarker.task"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), console=console or Console(stderr=True), transient=True)
    task = None

    def on_progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("download", total=total or None)
        bar.update(task, completed=done)

    def close() -> None:
        if task is not None:  # stopping a bar never started still prints a blank line
            bar.stop()

    return on_progress, close
