"""Events that long jobs emit. The CLI renders them with rich; the dashboard posts them, unchanged, as messages.

Every job is a plain function `run_x(..., on_event, stop)`: `on_event` receives these dataclasses and `stop`
is a threading.Event checked between items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """A batch job advanced. `counts` are live tallies, e.g. by status (ok, no_face, unreadable, error)."""

    stage: str
    done: int
    total: int
    rate: float = 0.0  # items per second
    eta: float | None = None  # seconds
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemFailed:
    """One item was skipped; the job goes on."""

    stage: str
    path: str
    status: str
    error: str


@dataclass(frozen=True, slots=True)
class Finished:
    stage: str
    summary: dict[str, Any]
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class EpochMetrics:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    learning_rate: float
    seconds: float
    fold: int | None = None
    best: bool = False


@dataclass(frozen=True, slots=True)
class Prediction:
    """One face (or a no-face record: label None, track None) in one analysed frame."""

    time: str  # UTC, ISO 8601
    session: str
    frame: int
    track: int | None
    label: str | None
    confidence: float
    probabilities: dict[str, float]
    smoothed: dict[str, float]
    bbox: tuple[float, float, float, float] | None
    latency_ms: dict[str, float]
    uncertain: bool = False
    landmarks: Any = None  # (478, 3) array for the landmark preview; never logged
    source_ms: float | None = None  # the frame's time in its source (a video's own clock; ms since open if live)
    calibrated: bool | None = None  # judged against its track's own mean face (from the track's 3rd face on)
    neutral: bool = False  # judged against the person's neutral face (--neutral, the dashboard's neutral key)


@dataclass(frozen=True, slots=True)
class SourceState:
    """The frame source opened, stalled, is being retried, or ended."""

    state: str  # open | retrying | lost | ended
    message: str = ""


Event = Progress | ItemFailed | Finished | EpochMetrics | Prediction | SourceState
EventHandler = Callable[[Any], None]


def ignore(_event: Any) -> None:
    """The default handler: jobs can run with nobody listening."""
