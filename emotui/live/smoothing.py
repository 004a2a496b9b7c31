"""Smoothing of each track's probabilities over time (exponential moving average)."""

from __future__ import annotations

import numpy as np

from ..errors import UsageError


class EmaSmoother:
    """smoothed = alpha * previous + (1 - alpha) * new, per track. alpha = 0 disables smoothing.

    The result stays a probability distribution: a convex mix of distributions sums to 1.
    """

    def __init__(self, alpha: float = 0.5) -> None:
        if not 0.0 <= alpha < 1.0:
            raise UsageError(f"smoothing must be in [0, 1), got {alpha}")
        self.alpha = float(alpha)
        self._state: dict[int, np.ndarray] = {}

    def update(self, track: int, probabilities: np.ndarray) -> np.ndarray:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        previous = self._state.get(track)
        if previous is None or self.alpha == 0.0:
            smoothed = probabilities.copy()
        else:
            smoothed = self.alpha * previous + (1.0 - self.alpha) * probabilities
        self._state[track] = smoothed
        return smoothed

    def forget(self, track: int) -> None:
        self._state.pop(track, None)
