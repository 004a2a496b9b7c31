"""The dashboard's entries in the command palette (ctrl+p, or the • in the header), each naming its key."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand

from .jobs import EXPORT_FORMATS
from .sessions_view import SessionsView


def app_commands(app) -> Iterable[SystemCommand]:  # an EmotuiApp
    yield SystemCommand("Extract: start or stop (e)", "Extract landmarks from the dataset", app.action_extract)
    yield SystemCommand("Train: start or stop (t)", "Train a model on the extracted features", app.action_train)
    yield SystemCommand("Watch: start or stop (w)", "Watch the source live", app.action_watch)
    yield SystemCommand("Neutral face: the face in view is the person's at rest (n, monitor pane)",
                        "The lone face of the latest frame becomes its person's reference", app.action_neutral)
    for fmt in EXPORT_FORMATS:
        yield SystemCommand(f"Export session as {fmt.upper()}" + (" (x)" if fmt == "csv" else ""),
                            "The sessions view's highlighted session when it is shown, else the monitor's",
                            lambda fmt=fmt: app.query_one(SessionsView).export_from_palette(fmt))
    yield SystemCommand("Help: keys, columns, files (?)", "What every key, column and marker means", app.action_help)
    yield SystemCommand("Sessions: every logged session, its chart, its export (s)",
                        "List the prediction log's sessions; X exports the highlighted one",
                        lambda: app.action_show_pane("sessions"))
    yield SystemCommand("Models: list them, pick the monitor's (m)",
                        "Every model found, its test figures, data and date", app.action_models)
    yield SystemCommand("Face preview: show or hide (p)", "Landmark points only, no pixels", app.action_preview)
    for tab, key in (("extract", 1), ("train", 2), ("monitor", 3)):
        yield SystemCommand(f"Show the {tab} pane ({key})", f"Switch to the {tab} pane",
                            lambda tab=tab: app.action_show_pane(tab))
