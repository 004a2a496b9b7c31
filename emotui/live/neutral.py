"""The person's neutral (rest) face as their reference: read from an image (`--neutral IMAGE`) or taken from the
monitor's latest frame (the dashboard's neutral key), and pinned to one track in place of its running mean.

A pinned neutral stays with its track. When that track ends (the face left the view), the neutral waits and the
largest face without one takes it at the next frame: with one face watched, that is the person back in view.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmotuiError
from .log_schema import utc_iso

# Faces looked for in a neutral image: enough to say how many a group photo holds, as `predict` would count them.
COUNT_FACES = 10


class NeutralError(EmotuiError):
    """A neutral image that does not show exactly one face, or a neutral asked for with no single face in view."""


@dataclass(frozen=True)
class NeutralFace:
    points: np.ndarray  # (478, 3) in the feature spec (emotui.data.features.face_arrays)
    blend: np.ndarray  # (52 [+ appearance],)
    origin: str  # where it came from, for the session's record: the image's path, or "frame N"


def neutral_from_faces(faces: list, origin: str) -> NeutralFace:
    from ..data.features import face_arrays

    points, blend = face_arrays(faces[:1])
    return NeutralFace(points[0], blend[0], origin)


def read_neutral(path: str | Path, landmarker: str | Path | None = None) -> NeutralFace:
    """The one face in the image at `path`; a NeutralError naming the file and the count otherwise."""
    from ..data.detection import decode_for_detection
    from ..data.landmarker import Landmarker
    from ..errors import ImageReadError

    try:
        rgb, _, _ = decode_for_detection(path)
    except ImageReadError as exc:
        raise NeutralError(f"--neutral: {exc}") from None
    with Landmarker(landmarker, max_faces=COUNT_FACES) as detector:
        faces = detector.detect(rgb)
    if len(faces) != 1:
        found = "no face" if not faces else f"{len(faces)} faces"
        raise NeutralError(f"--neutral {path}: {found} found; the neutral image must show one face, the person's, "
                           "at rest")
    return neutral_from_faces(faces, str(path))


def reference_note(uses_reference: bool, model_id: str) -> str | None:
    """What to tell when a neutral is given to a model that reads no reference (it still predicts)."""
    if uses_reference:
        return None
    return f"the model {model_id} judges each face alone: --neutral changes nothing (the transformer sizes use it)"


class NeutralPins:
    """The pinned neutrals of one watch session. The classifier thread applies them (`apply`, `forget`); the
    dashboard sets one from the latest frame (`set_from_latest`, in its UI thread); the watch thread writes what
    was set to the session's record (`drain`). One lock keeps them apart."""

    def __init__(self, given: NeutralFace | None = None) -> None:
        self._lock = threading.Lock()
        self._waiting = given  # not on a track yet: the next frame's largest face without one takes it
        self._pinned: dict[int, NeutralFace] = {}
        self._latest: tuple[int, list[int], np.ndarray, np.ndarray] | None = None
        self._news: list[dict] = []  # set since the last drain
        self.given = given

    def apply(self, frame: int, ids: list[int], points: np.ndarray, blend: np.ndarray,
              refs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Put each pinned track's neutral into `refs` (the running references, changed in place); -> which faces
        were judged against a neutral."""
        ref_p, ref_b, has = refs
        neutral = np.zeros(len(ids), dtype=bool)
        with self._lock:
            self._latest = (frame, list(ids), points.copy(), blend.copy())
            if self._waiting is not None:
                free = [t for t in ids if t not in self._pinned]
                if free:  # ids come largest face first
                    self._pin(free[0], self._waiting, frame)
                    self._waiting = None
            for i, track in enumerate(ids):
                face = self._pinned.get(track)
                if face is not None and face.blend.shape == ref_b.shape[1:]:
                    ref_p[i], ref_b[i], has[i], neutral[i] = face.points, face.blend, True, True
        return neutral

    def forget(self, retired: list[int]) -> None:
        """Tracks that ended: their neutral waits for the next face (the newest set wins if several end)."""
        with self._lock:
            for track in retired:
                face = self._pinned.pop(track, None)
                if face is not None:
                    self._waiting = face

    def set_from_latest(self) -> str:
        """Pin the latest frame's lone face as its track's neutral; -> the confirmation. NeutralError (to show as
        it reads) with no face or several in view: which of them is the person is the user's to say."""
        with self._lock:
            if self._latest is None or not self._latest[1]:
                raise NeutralError("no face in view: the neutral face needs one")
            frame, ids, points, blend = self._latest
            if len(ids) > 1:
                raise NeutralError(f"{len(ids)} faces in view: the neutral face needs one alone")
            self._pin(ids[0], NeutralFace(points[0], blend[0], f"frame {frame}"), frame)
            self._waiting = None  # the user chose this face: a neutral waiting would go to the next one that comes
        return f"neutral face set for face {ids[0]}"

    def _pin(self, track: int, face: NeutralFace, frame: int) -> None:
        self._pinned[track] = face
        self._news.append({"track": track, "frame": frame, "from": face.origin, "time": utc_iso()})

    def status(self) -> str | None:
        """For the monitor's status line: whose neutral is pinned, or that one waits for a face."""
        with self._lock:
            if self._pinned:
                return "neutral: face " + ", ".join(str(t) for t in sorted(self._pinned))
            return "neutral: waiting for a face" if self._waiting is not None else None

    def drain(self) -> list[dict]:
        """The neutrals set since the last call (track, frame, from, time)."""
        with self._lock:
            news, self._news = self._news, []
        return news


def record_neutrals(log, session: str, pins: NeutralPins | None, history: list[dict]) -> None:  # noqa: ANN001
    """Keep every neutral set so far in the session's settings ("neutral"): the predictions table has no column
    for it, and the session's record is where `emotui sessions` and exports look for how a session was judged."""
    if pins is None:
        return
    news = pins.drain()
    if news:
        history.extend(news)
        log.update_settings(session, neutral=list(history))
