"""The headless subcommands (one module each, loaded on demand by emotui.cli) and what they share."""

from __future__ import annotations

import click

from ..labels import PRIORS

# One option for every command that classifies faces (predict, evaluate, watch), so they agree on its meaning.
prior_option = click.option(
    "--prior", type=click.Choice(PRIORS), default="data", show_default=True,
    help="Class prior: the training data's mix (what a camera mostly sees: neutral, happy), or balanced (every "
         "class as likely; for posed or balanced sets, where it finds more anger, disgust, fear and sad).")
