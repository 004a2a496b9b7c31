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

from ..data.mirror import DEFAULT_MIRROR_VIEW, MIRROR_VIEWS
from ..data.schema import STATUSES
from ..inputs import FILE, GIVEN_PATH, OUT_FILE, TEXT, Count
from ..progress_render import shown
from .render import output_console


@click.command("extract")
@click.argument("dataset", type=GIVEN_PATH)
@click.option("--out", type=OUT_FILE,
              help="Parquet file to write (default: the dataset's file under the data directory).")
@click.option("--workers", type=Count(1),  # the core bounds it by the cores, in its words
              help="Processes to run (default: all cores); with --engine ray, Ray actors (default: the cluster's CPUs).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Who detects: processes on this machine, or Ray actors (needs `pip install 'emotui[ray]'`).")
@click.option("--address", type=TEXT, metavar="ADDR",
              help="With --engine ray: the Ray cluster (HOST:PORT of its head node, or auto); default: a local "
                   "instance on this machine's cores.")
@click.option("--max-faces", type=Count(1, 100), default=1, show_default=True,
              help="Faces kept per image, largest first (one row each).")
@click.option("--landmarker", type=FILE,
              help="face_landmarker.task to use (default: $EMOTUI_LANDMARKER, models/, or download).")
@click.option("--mirror-view", type=click.Choice(MIRROR_VIEWS), default=DEFAULT_MIRROR_VIEW, show_default=True,
              is_flag=False, flag_value="detect",
              help="Each face's mirror view, which training and prediction use: derive it from the one detection, "
                   "or detect it by meshing the mirrored image too (a second reading: twice MediaPipe's time, "
                   "measured in the model card), or off. A bare --mirror-view is detect.")
@click.option("--no-mirror-view", is_flag=True, help="The same as --mirror-view off.")
@click.option("--retry-missed", is_flag=True,
              help="Detect again the images recorded with no face or an error (a newer emotui finds more faces).")
@click.option("--drop-conflicts", is_flag=True,
              help="Leave out (and count) the images a manifest lists with two different labels, instead of "
                   "refusing the manifest.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--chunk-size", type=Count(1, 1_000_000), hidden=True)
def extract(dataset: Path, out: Path | None, workers: int | None, engine: str, address: str | None, max_faces: int,
            landmarker: Path | None, mirror_view: str, no_mirror_view: bool, retry_missed: bool,
            drop_conflicts: bool, as_json: bool, chunk_size: int | None) -> None:
    """Extract MediaPipe face landmarks, blendshapes and head pose from every image of DATASET.

    DATASET is a folder (Kaggle images/<set>/<Emotion>.jpg layout, or class folders, optionally under train/ and
    test/) or a CSV manifest with path,label[,subject] columns. A second run only does what is new or changed;
    Ctrl-C saves what is finished (run again to resume).
    """
    if engine == "local":
        from ..data.pool import warm_up

        warm_up(workers)  # first: the workers' imports then run beside ours and the dataset's reading
    from ..data.datasets import describe_unknown, discover
    from ..data.extraction import features_path_for, run_extraction
    from ..data.landmarker import resolve_landmarker
    from ..progress_render import EventRenderer, download_progress

    err = Console(stderr=True)
    if no_mirror_view:
        if click.get_current_context().get_parameter_source("mirror_view") is click.core.ParameterSource.COMMANDLINE \
                and mirror_view != "off":
            raise click.UsageError(f"--no-mirror-view and --mirror-view {mirror_view} contradict each other")
        mirror_view = "off"
    if address and engine != "ray":
        raise click.UsageError("--address needs --engine ray")
    if engine == "ray":
        from ..data.extraction_ray import check_address, import_ray

        import_ray()  # a missing extra or a wrong address is said before the dataset is read
        if address:
            check_address(address)
    frame = discover(dataset, drop_conflicts=drop_conflicts)
    _warn_left_out(frame.attrs, err, describe_unknown)
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
        click.echo(json.dumps(_with_discovery(summary.as_dict(), frame.attrs), indent=2))
    else:
        _print_summary(summary, output_console(), frame.attrs)
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


def _some(paths: list[str], limit: int = 3) -> str:
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return shown(", ".join(paths[:limit]) + more)


def _warn_left_out(attrs: dict, err: Console, describe_unknown) -> None:  # noqa: ANN001
    """One line on stderr for each kind of dataset entry or manifest row left out, merged or taken from outside.
    Entries that are not regular files are not left out: the job records them (status skipped) and says each."""
    unknown = attrs.get("unknown_labels") or {}
    if unknown:
        err.print(f"[yellow]left out {sum(unknown.values())} files with unknown labels:[/] "
                  f"{shown(describe_unknown(unknown))}", highlight=False, soft_wrap=True)
    unreadable = attrs.get("unreadable_folders") or []
    if unreadable:
        err.print(f"[yellow]left out {len(unreadable)} folder(s) that cannot be listed:[/] {_some(unreadable)}",
                  highlight=False, soft_wrap=True)
    m = attrs.get("manifest") or {}
    if m.get("merged"):
        err.print(f"merged {m['merged']} duplicate manifest row(s) (same image, same label)", highlight=False)
    if m.get("left_out"):
        err.print(f"[yellow]left out {m['conflicts']} image(s) ({m['left_out']} rows) listed with two different "
                  "labels (--drop-conflicts)[/]", highlight=False)
    if m.get("refused"):
        err.print(f"[yellow]refused {m['refused']} manifest row(s) outside the manifest's folder that do not "
                  f"exist:[/] {_some(m['refused_paths'])}", highlight=False, soft_wrap=True)
    if m.get("outside"):
        err.print(f"{m['outside']} manifest row(s) outside the manifest's folder: {_some(m['outside_paths'])}",
                  highlight=False, soft_wrap=True)


def _with_discovery(summary: dict, attrs: dict) -> dict:
    """The --json summary plus what discovery found: the entries skipped as not regular files with their reasons
    (counted in by_status from their rows), and the manifest's row counts."""
    summary["skipped"] = attrs.get("skipped") or []
    summary["manifest"] = attrs.get("manifest") or {}
    return summary


def _print_summary(summary, console: Console, attrs: dict | None = None) -> None:  # noqa: ANN001
    data = _with_discovery(summary.as_dict(), attrs or {})
    by_status, by_class = data["by_status"], data["by_class"]
    statuses = [s for s in STATUSES if by_status.get(s)] or ["ok"]
    # The features file on its own line, not as the table's title: a title wraps at the table's width.
    console.print(shown(summary.out), highlight=False, soft_wrap=True)
    table = Table(show_footer=True)
    table.add_column("class", footer="all")
    for status in statuses:
        table.add_column(status, justify="right", footer=str(by_status.get(status, 0)))
    table.add_column("images", justify="right", footer=str(sum(by_status.values())))
    for label, counts in sorted(by_class.items()):
        table.add_row(shown(label), *(str(counts.get(s, 0)) for s in statuses), str(sum(counts.values())))
    console.print(table)
    m = data["manifest"]
    if m.get("rows"):
        console.print(f"manifest: {m['rows']} rows, {m['merged']} merged, {m['left_out']} left out "
                      f"({m['conflicts']} images with two labels), {m['refused']} refused (outside, missing), "
                      f"{m['outside']} outside its folder", highlight=False)
    for entry in data["skipped"][:10]:
        console.print(f"skipped {shown(entry['path'])}: {entry['reason']}", highlight=False, soft_wrap=True)
    who = "Ray actor(s)" if summary.engine == "ray" else "worker(s)"
    rate = f" at {summary.rate:.1f} images/s with {summary.workers} {who}" if summary.detected else ""
    console.print(
        f"{summary.total} images ({summary.layout} layout): {summary.detected} detected now{rate}, "
        f"{summary.resumed} already done; {summary.faces} face rows; {summary.seconds:.1f} s",
        highlight=False,
    )
