"""The `emotui` command: no subcommand opens the dashboard; each subcommand is a headless front end to the core.

Subcommands live in emotui/commands/ and are imported only when invoked, so `emotui --help` stays fast.
"""

from __future__ import annotations

import importlib
import click

from . import __version__
from .errors import EmotuiError

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "train": "emotui.commands.train:train",
    "evaluate": "emotui.commands.evaluate:evaluate",
    "predict": "emotui.commands.predict:predict",
}
HELP: dict[str, str] = {
    "train": "Train the expression classifier on features files (subject-disjoint; --folds K).",
    "evaluate": "Accuracy, macro-F1 and confusion matrix of a model on labelled data.",
    "predict": "Expression of every face in some images.",
}


class LazyGroup(click.Group):
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
        except EmotuiError as exc:
            click.echo(f"emotui: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("emotui: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emotui")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Learn facial expressions from MediaPipe face landmarks and watch a camera live.

    Without a subcommand, opens the terminal dashboard.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def main() -> None:
    cli(prog_name="emotui")


if __name__ == "__main__":
    main()
