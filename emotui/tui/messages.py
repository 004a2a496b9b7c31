"""Messages the panes receive from their job threads and send to the app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.message import Message

from ..events import Progress


class JobEvent(Message, bubble=False):
    """One core event (emotui.events), posted unchanged from the job's thread."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # Progress carries running totals, so a newer one of the same stage makes a queued one redundant.
        return (
            isinstance(self.event, Progress)
            and isinstance(message, JobEvent)
            and isinstance(message.event, Progress)
            and message.event.stage == self.event.stage
        )


class JobEnded(Message, bubble=False):
    """Posted by the job's thread as it returns: the thread (and with it the camera or the files) is released."""

    def __init__(self, result: Any = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class PaneStatus(Message):
    """A pane's one-line state changed; the app shows all three in the header."""


class FeaturesReady(Message):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class ModelReady(Message):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class Deferred(Message, bubble=False):
    """A call for the UI thread, posted from a worker thread that does not wait for it. App.call_from_thread
    waits, and never returns if the app closes first: the thread, never ending, would keep the process alive."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self.fn = fn
        self.args = args


class RunsDeferred:
    """Mixin for the widgets (and the app) that post Deferred calls to themselves."""

    def post_call(self, fn: Callable[..., Any], *args: Any) -> None:
        self.post_message(Deferred(fn, *args))  # type: ignore[attr-defined]

    def on_deferred(self, message: Deferred) -> None:
        message.fn(*message.args)
