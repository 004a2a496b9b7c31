"""`emotui train FEATURES... --out DIR`: train (or cross-validate) the expression classifier."""

from __future__ import annotations

import json

import click

from ..inputs import GIVEN_FILE, OUT_FOLDER, Count, Number
from ..learn.recipes import DEFAULT_MODEL_SIZE, MODEL_SIZES


@click.command(name="train")
@click.argument("features", nargs=-1, required=True, type=GIVEN_FILE)
@click.option("--out", "out", required=True, type=OUT_FOLDER,
              help="Model directory to write.")
@click.option("--epochs", default=60, show_default=True, type=Count(1), help="Most epochs (early stopping may end sooner).")
@click.option("--folds", default=None, type=Count(2), help="Subject-grouped K-fold cross-validation.")
@click.option("--seed", default=0, show_default=True, type=Count(0, 2**32 - 1))
@click.option("--model-size", default=DEFAULT_MODEL_SIZE, show_default=True, type=click.Choice(MODEL_SIZES),
              help="transformer: attention over face, blendshape, appearance and region tokens; mlp: a whole-face "
                   "MLP; tiny, small: region transformers.")
@click.option("--batch-size", default=None, type=Count(8),
              help="Faces per step [default: the size's recipe, 256 for mlp, 64 otherwise].")
@click.option("--lr", default=1e-3, show_default=True, type=Number(0, low_open=True))
@click.option("--test-on", "test_on", multiple=True, type=GIVEN_FILE,
              help="Features file to test on only (repeatable): judge the model on a dataset it never trained on.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as one JSON object.")
def train(features, out, epochs, folds, seed, model_size, batch_size, lr, test_on, resume, as_json) -> None:  # noqa: ANN001
    """Train the expression classifier on one or more features files (subject-disjoint splits).

    Rows a dataset keeps for judging (a manifest `split` of valid or test, as FER+'s) are never trained on;
    they are tested. With --test-on C the model is judged on C only, a dataset it never saw.
    """
    from rich.console import Console

    from ..learn.training import run_training
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

    if test_on and folds:
        raise click.UsageError("--test-on and --folds are two protocols: choose one")
    extra = {"test_on": list(test_on), "test_fraction": 0.0} if test_on else {}
    result = run_training(list(features), out, epochs=epochs, folds=folds, seed=seed, model_size=model_size,
                          batch_size=batch_size, lr=lr, resume=resume, on_event=on_event,
                          on_warning=lambda text: err.print(f"[yellow]{text}[/]"), **extra)
    if result.cancelled and "classes" not in result.metrics and not result.folds:
        # Stopped before any epoch ended: there are no metrics to show and no model in --out.
        err.print(f"interrupted before the first epoch ended: no model was saved in {out}")
        raise SystemExit(130)
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
            measured = result.metrics.get("measured_on")
            if measured:
                from ..learn.model_catalog import measured_text

                console.print(f"measured on {measured_text(**measured)}")
            console.print(metrics_table(result.metrics))
        console.print(f"model: {out}")
    if result.cancelled:
        err.print(f"interrupted: the best model so far is in {out} (continue with --resume)")
        raise SystemExit(130)
