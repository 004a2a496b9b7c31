"""The `emotui` command: no subcommand opens the dashboard; each subcommand is a headless front end to the core.

Subcommands live in emotui/commands/ and are imported only when invoked, so `emotui --help` stays fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from . import __version__
from .commands import prior_option
from .errors import EmotuiError
from .inputs import FILE, FOLDER, MODEL_DIR, SOURCE, InputError, parse_float

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "extract": "emotui.commands.extract:extract",
    "watch": "emotui.commands.watch:watch",
    "sessions": "emotui.commands.sessions:sessions",
    "export": "emotui.commands.export:export",
    "serve": "emotui.commands.serve:serve",
    "doctor": "emotui.commands.doctor:doctor",
    "train": "emotui.commands.train:train",
    "evaluate": "emotui.commands.evaluate:evaluate",
    "predict": "emotui.commands.predict:predict",
    "degrade": "emotui.commands.degrade:degrade",
}
HELP: dict[str, str] = {
    "extract": "Extract face landmark features from a dataset into Parquet.",
    "watch": "Watch a camera, video, image folder or stream and log predictions.",
    "sessions": "List the monitoring sessions in the prediction log.",
    "export": "Export the prediction log as CSV, JSONL or Parquet.",
    "serve": "Serve the dashboard to a web browser (textual-serve), on localhost by default.",
    "doctor": "Check versions, the landmarker model, cameras and paths.",
    "train": "Train the expression classifier on features files (subject-disjoint; --folds K).",
    "evaluate": "Accuracy, macro-F1 and confusion matrix of a model on labelled data.",
    "predict": "Expression of every face in some images.",
    "degrade": "Render a dataset's faces at other resolutions, colour, blur and JPEG quality, to train on.",
}


class OneLineUsageError(click.UsageError):
    """A bad option value, said in one line as every emotui error is (click's own adds the usage and a hint)."""

    def show(self, file=None) -> None:  # noqa: ANN001
        click.echo(f"emotui: error: {self.format_message()}", err=True)


class LazyGroup(click.Group):
    def make_context(self, info_name, args, parent=None, **extra):  # noqa: ANN001, ANN201
        # The group's own options are parsed here, before invoke().
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.BadParameter as exc:  # MissingParameter too
            raise OneLineUsageError(exc.format_message()) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing must not import every subcommand module (and with them torch and mediapipe).
        if not COMMANDS:
            return
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP.get(name, "")) for name in sorted(COMMANDS)])

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except click.BadParameter as exc:  # a subcommand's option, parsed inside Group.invoke
            raise OneLineUsageError(exc.format_message(), ctx) from None
        except EmotuiError as exc:
            click.echo(f"emotui: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("emotui: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # the reader of our output went away (`| head`): nothing left to say
            ctx.exit(141)
        except OSError as exc:  # the file system refused (a file where a folder goes, permissions, a full disk)
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"emotui: error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(1)


def _seconds(value: object) -> float:
    # The same check as every --interval (emotui.inputs), worded "--interval must be >= 0, not -2".
    try:
        return parse_float(value, low=0)
    except InputError as exc:
        raise OneLineUsageError(f"--interval {exc}") from None


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emotui")
@click.option("--data", type=FOLDER, help="Dashboard: the dataset folder to extract (key e).")
@click.option("--source", type=SOURCE, help="Dashboard: what the monitor watches: camera index, video, image folder or URL.")
@click.option("--model", type=MODEL_DIR, help="Dashboard: the monitor's model directory.")
@click.option("--interval", type=str, default="5", show_default=True, callback=lambda ctx, param, value: _seconds(value),
              help="Dashboard: seconds between analysed frames (0 = every frame).")
@click.option("--landmarker", type=FILE, help="Dashboard: the face_landmarker.task to extract and watch with.")
@prior_option
@click.pass_context
def cli(ctx: click.Context, data: Path | None, source: str | None, model: Path | None, interval: float,
        landmarker: Path | None, prior: str) -> None:
    """Learn facial expressions from MediaPipe face landmarks and watch a camera live.

    Without a subcommand, opens the terminal dashboard.
    """
    if ctx.invoked_subcommand is None:
        from .tui.app import Settings, run_app  # Textual loads only when the dashboard opens

        run_app(Settings(data=data, source=source, model=model, interval=interval,
                         landmarker=landmarker.resolve() if landmarker else None, prior=prior))


def main() -> None:
    cli(prog_name="emotui")


if __name__ == "__main__":
    main()
