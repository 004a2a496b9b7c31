"""`emotui extract`: a dataset's images -> the features Parquet file, with progress on stderr."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..data.schema import STATUSES
from .render import output_console


@click.command("extract")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Parquet file to write (default: the dataset's file under the data directory).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes to run (default: all cores); with --engine ray, Ray actors (default: the cluster's CPUs).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Who detects: processes on this machine, or Ray actors (needs `pip install 'emotui[ray]'`).")
@click.option("--address", metavar="ADDR",
              help="With --engine ray: the Ray cluster (HOST:PORT of its head node, or auto); default: a local "
                   "instance on this machine's cores.")
@click.option("--max-faces", type=click.IntRange(min=1), default=1, show_default=True,
              help="Faces kept per image, largest first (one row each).")
@click.option("--landmarker", type=click.Path(dir_okay=False, path_type=Path),
              help="face_landmarker.task to use (default: $EMOTUI_LANDMARKER, models/, or download).")
@click.option("--mirror-view/--no-mirror-view", default=True, show_default=True,
              help="Also mesh each face in the mirrored image (a second reading the classifier averages in: about "
                   "2 points of accuracy for twice MediaPipe's time).")
@click.option("--retry-missed", is_flag=True,
              help="Detect again the images recorded with no face or an error (a newer emotui finds more faces).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--chunk-size", type=click.IntRange(min=1), hidden=True)
def extract(dataset: Path, out: Path | None, workers: int | None, engine: str, address: str | None, max_faces: int,
            landmarker: Path | None, mirror_view: bool, retry_missed: bool, as_json: bool,
            chunk_size: int | None) -> None:
    """Extract MediaPipe face landmarks, blendshapes and head pose from every image of DATASET.

    DATASET is a folder (Kaggle images/<set>/<Emotion>.jpg layout, or class folders, optionally under train/ and
    test/) or a CSV manifest with path,label[,subject] columns. A second run only does what is new or changed;
    Ctrl-C saves what is finished (run again to resume).
    """
    from ..data.datasets import describe_unknown, discover
    from ..data.extraction import features_path_for, run_extraction
    from ..data.landmarker import resolve_landmarker
    from ..progress_render import EventRenderer, download_progress

    err = Console(stderr=True)
    if address and engine != "ray":
        raise click.UsageError("--address needs --engine ray")
    if engine == "ray":
        from ..data.extraction_ray import check_address, import_ray

        import_ray()  # a missing extra or a wrong address is said before the dataset is read
        if address:
            check_address(address)
    frame = discover(dataset)
    unknown = frame.attrs.get("unknown_labels") or {}
    if unknown:
        err.print(f"[yellow]left out {sum(unknown.values())} files with unknown labels:[/] {describe_unknown(unknown)}",
                  highlight=False, soft_wrap=True)
    unreadable = frame.attrs.get("unreadable_folders") or []
    if unreadable:
        more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
        err.print(f"[yellow]left out {len(unreadable)} folder(s) that cannot be listed:[/] "
                  f"{', '.join(unreadable[:3])}{more}", highlight=False, soft_wrap=True)
    on_download, end_download = download_progress(err)
    try:
        model = resolve_landmarker(landmarker, on_progress=on_download)
    finally:
        end_download()
    out = out or features_path_for(dataset)
    stop = threading.Event()
    with _stop_on_ctrl_c(stop, err), EventRenderer(err) as render:
        summary = run_extraction(frame, out, workers=workers, max_faces=max_faces, landmarker=model,
                                 on_event=render, stop=stop, chunk_size=chunk_size, engine=engine, address=address,
                                 mirror_view=mirror_view, retry_missed=retry_missed)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        _print_summary(summary, output_console())
    if summary.cancelled:
        err.print(f"stopped: {summary.remaining} images left; run the same command again to finish")
        click.get_current_context().exit(130)


@contextlib.contextmanager
def _stop_on_ctrl_c(stop: threading.Event, console: Console) -> Iterator[None]:
    """First Ctrl-C: finish the batches in flight and save. Second: abort (finished batches are still saved)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame) -> None:  # noqa: ANN001
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print("[yellow]stopping after the images in flight (Ctrl-C again to abort)...[/]")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _print_summary(summary, console: Console) -> None:  # noqa: ANN001
    statuses = [s for s in STATUSES if summary.by_status.get(s)] or ["ok"]
    table = Table(title=f"{summary.out}", title_justify="left", show_footer=True)
    table.add_column("class", footer="all")
    for status in statuses:
        table.add_column(status, justify="right", footer=str(summary.by_status.get(status, 0)))
    table.add_column("images", justify="right", footer=str(sum(summary.by_status.values())))
    for label, counts in summary.by_class.items():
        table.add_row(label, *(str(counts.get(s, 0)) for s in statuses), str(sum(counts.values())))
    console.print(table)
    who = "Ray actor(s)" if summary.engine == "ray" else "worker(s)"
    rate = f" at {summary.rate:.1f} images/s with {summary.workers} {who}" if summary.detected else ""
    console.print(
        f"{summary.total} images ({summary.layout} layout): {summary.detected} detected now{rate}, "
        f"{summary.resumed} already done; {summary.faces} face rows; {summary.seconds:.1f} s",
        highlight=False,
    )
