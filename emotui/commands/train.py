"""`emotui train FEATURES... --out DIR`: train (or cross-validate) the expression classifier."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="train")
@click.argument("features", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Model directory to write.")
@click.option("--epochs", default=60, show_default=True, type=click.IntRange(1), help="Most epochs (early stopping may end sooner).")
@click.option("--folds", default=None, type=click.IntRange(2), help="Subject-grouped K-fold cross-validation.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--model-size", default="small", show_default=True, type=click.Choice(["tiny", "small"]))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(8))
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as one JSON object.")
def train(features, out, epochs, folds, seed, model_size, batch_size, lr, resume, as_json) -> None:  # noqa: ANN001
    """Train the transformer on one or more features files (subject-disjoint splits)."""
    from rich.console import Console

    from ..training import run_training
    from .render import metrics_table, output_console

    err = Console(stderr=True, highlight=False, soft_wrap=True)

    def on_event(event) -> None:  # noqa: ANN001
        if type(event).__name__ == "EpochMetrics":
            fold = f"fold {event.fold} " if event.fold else ""
            err.print(
                f"{fold}epoch {event.epoch:>3}/{event.epochs}  loss {event.train_loss:.3f}  "
                f"train acc {event.train_accuracy:.3f}  val acc {event.val_accuracy:.3f}  "
                f"val F1 {event.val_macro_f1:.3f}  lr {event.learning_rate:.2e}  {event.seconds:.1f}s"
                + ("  [green]best[/]" if event.best else "")
            )

    result = run_training(list(features), out, epochs=epochs, folds=folds, seed=seed, model_size=model_size,
                          batch_size=batch_size, lr=lr, resume=resume, on_event=on_event)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        console = output_console()
        if result.folds:
            for fold in result.folds:
                console.print(f"fold {fold['fold']}: accuracy {fold['accuracy']:.3f}  macro-F1 {fold['macro_f1']:.3f}")
            console.print(f"mean accuracy {result.mean['accuracy']:.3f} ± {result.std['accuracy']:.3f}   "
                          f"macro-F1 {result.mean['macro_f1']:.3f} ± {result.std['macro_f1']:.3f}")
            console.print("pooled over folds:")
        if result.metrics:
            console.print(metrics_table(result.metrics))
        console.print(f"model: {out}")
    if result.cancelled:
        err.print(f"interrupted: the best model so far is in {out} (continue with --resume)")
        raise SystemExit(130)
