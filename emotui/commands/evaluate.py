"""`emotui evaluate [--model DIR] DATA`: metrics of a model on a features file, a dataset directory or a CSV
manifest."""

from __future__ import annotations

import json

import click

from ..inputs import GIVEN_PATH, MODEL_DIR
from . import prior_option


@click.command(name="evaluate")
@click.argument("data", type=GIVEN_PATH)
@click.option("--model", "model_dir", type=MODEL_DIR, default=None, help="Model directory (default: the shipped model).")
@prior_option
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
def evaluate(data, model_dir, prior, as_json) -> None:  # noqa: ANN001
    """Accuracy, macro-F1, per-class figures and the confusion matrix on labelled DATA.

    DATA is a features file, a dataset folder or a CSV manifest with path,label[,subject] columns (as `emotui
    extract` takes); a folder or manifest is extracted first (only what is new), with progress on stderr.
    """
    from ..learn.evaluation import evaluate as run_evaluation
    from ..progress_render import EventRenderer

    with EventRenderer() as render:
        metrics = run_evaluation(data, model_dir, on_event=render, prior=prior)
    if metrics.get("trained_on"):
        from ..learn.evaluation import trained_on_warning

        click.echo(f"emotui: warning: {trained_on_warning(metrics['trained_on'])}", err=True)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    from .render import metrics_table, output_console

    console = output_console()
    from ..progress_render import shown

    console.print(f"model {shown(metrics['model'])} on {shown(data)}" + (f", {prior} prior" if prior != "data" else ""))
    console.print(metrics_table(metrics))
