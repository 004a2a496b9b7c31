"""Stand-in jobs held in a state for the panes' tests and snapshots: still running after their events, or failing
with a long one-line error (not a test module)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from emotui.errors import EmotuiError
from emotui.events import Finished, SourceState
from emotui.tui.jobs import Jobs

# As long as real ones are: the big label and the train pane's status line must wrap it, not cut it mid-word.
LONG_ERROR = ("cannot open camera 7: no such device; the cameras found are 0 and 2 (pass --camera-backend v4l2 "
              "if a camera is missing)")
HELD_MODEL = Path("/home/me/.local/share/emotui/models/tui-20260107-120000")
HOLD_SECONDS = 20  # a held job gives up by itself if a test forgets it; run_test's end stops it anyway


def _held(fn):
    """The job's events up to its end, then running until stopped: its pane in the running state."""
    def job(*args, on_event, stop, **kwargs):
        def events(event) -> None:
            if not isinstance(event, Finished) and not (isinstance(event, SourceState) and event.state == "ended"):
                on_event(event)

        result = fn(*args, on_event=events, stop=stop, **kwargs)
        stop.wait(HOLD_SECONDS)
        return result
    return job


def _failing(*args, on_event, stop, **kwargs):
    raise EmotuiError(LONG_ERROR)


def running(jobs: Jobs) -> Jobs:
    """The model folder named a fixed one (snapshots show it) while the stand-in writes a temporary one."""
    train = _held(jobs.train)

    def held_train(features, out, **kwargs):
        return train(features, Path(tempfile.mkdtemp(prefix="held-train-")), **kwargs)

    return dataclasses.replace(jobs, train=held_train, watch=_held(jobs.watch), new_model_dir=lambda: HELD_MODEL)


def failing(jobs: Jobs) -> Jobs:
    return dataclasses.replace(jobs, train=_failing, watch=_failing)
