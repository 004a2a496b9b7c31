"""Messages the panes receive from their job threads and send to the app."""

from __future__ import annotations

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
