"""`emotui degrade`: a dataset's faces rendered as other cameras give them (emotui.data.renderings), for training.

Named degrade, not render: emotui/commands/render.py is the commands' shared rich output.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..inputs import GIVEN_PATH, OUT_FOLDER, Count
from ..progress_render import shown
from .render import output_console


@click.command("degrade")
@click.argument("dataset", type=GIVEN_PATH)
@click.option("--out", type=OUT_FOLDER,
              help="Folder for the copies and their manifest.csv (default: <data dir>/cache/renders/<dataset>-s<seed> "
                   "under $EMOTUI_DATA or the user data dir).")
@click.option("--copies", type=Count(1, 100), default=1, show_default=True, help="Copies of each image.")
@click.option("--seed", type=Count(0), default=0, show_default=True,
              help="Seed of the copies' parameters (the same seed draws the same copies).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def degrade(dataset: Path, out: Path | None, copies: int, seed: int, as_json: bool) -> None:
    """Render every image of DATASET as other cameras would give it: COPIES copies, each at a random face
    resolution (48-256 px), grey or colour, blurred, JPEG quality 30-95, brighter or darker.

    DATASET is any layout `emotui extract` reads. Each copy keeps its original's label, subject (person) and
    split; `emotui extract OUT --out F.parquet` then extracts them as a dataset, to train beside the originals.
    A second run renders only the copies not yet there; Ctrl-C keeps what is done.
    """
    from ..data.renderings import run_renderings
    from ..progress_render import EventRenderer
    from .extract import _stop_on_ctrl_c

    err = Console(stderr=True)
    stop = threading.Event()
    with _stop_on_ctrl_c(stop, err), EventRenderer(err) as render:
        summary = run_renderings(dataset, out, copies=copies, seed=seed, on_event=render, stop=stop)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        _print_summary(summary, output_console())
    if summary.cancelled:
        err.print("stopped: run the same command again to render the rest")
        click.get_current_context().exit(130)


def _print_summary(summary, console: Console) -> None:  # noqa: ANN001
    console.print(shown(summary.manifest), highlight=False, soft_wrap=True)
    table = Table(show_footer=True)
    table.add_column("class", footer="all")
    table.add_column("copies", justify="right", footer=str(sum(summary.by_class.values())))
    for label, n in sorted(summary.by_class.items()):
        table.add_row(shown(label), str(n))
    console.print(table)
    unreadable = f", {summary.failed} unreadable (left out)" if summary.failed else ""
    console.print(f"{summary.images} images x {summary.copies} copies: {summary.written} rendered now, "
                  f"{summary.resumed} already there{unreadable}; {summary.seconds:.1f} s", highlight=False)
    console.print(f"next: emotui extract {shown(summary.out)} --out FEATURES.parquet", highlight=False,
                  soft_wrap=True)
