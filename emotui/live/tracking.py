"""Track ids that stay with a face from frame to frame: greedy matching on box overlap, then on centre distance.

Faces in a monitor barely move between analysed frames, and there are few of them, so a greedy assignment
over IoU (with a centroid fallback for fast moves at long intervals) is enough; no motion model is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.face import Box, iou


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between centres in units of the larger box's diagonal (scale-free)."""
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    diag = max(((a[2] - a[0]) ** 2 + (a[3] - a[1]) ** 2) ** 0.5, ((b[2] - b[0]) ** 2 + (b[3] - b[1]) ** 2) ** 0.5)
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / diag if diag > 0 else float("inf")


@dataclass(slots=True)
class _Track:
    id: int
    box: Box
    missed: int = 0


class Tracker:
    """Assigns ids (1, 2, ...) to the boxes of successive frames.

    A track survives `max_missed` analysed frames without its face before its id is retired; ids are never reused.
    """

    def __init__(self, *, min_iou: float = 0.2, max_centre_distance: float = 0.6, max_missed: int = 5) -> None:
        self.min_iou = min_iou
        self.max_centre_distance = max_centre_distance
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1
        self.retired: list[int] = []  # ids dropped by the last update

    def update(self, boxes: list[Box]) -> list[int]:
        """Ids for `boxes`, in their order."""
        pairs = []
        for ti, track in enumerate(self._tracks):
            for bi, box in enumerate(boxes):
                overlap = iou(track.box, box)
                if overlap >= self.min_iou:
                    pairs.append((0, -overlap, ti, bi))
                else:
                    dist = _centre_distance(track.box, box)
                    if dist <= self.max_centre_distance:
                        pairs.append((1, dist, ti, bi))
        pairs.sort()
        ids: list[int | None] = [None] * len(boxes)
        used_tracks: set[int] = set()
        for _, _, ti, bi in pairs:
            if ti in used_tracks or ids[bi] is not None:
                continue
            used_tracks.add(ti)
            track = self._tracks[ti]
            track.box, track.missed = boxes[bi], 0
            ids[bi] = track.id
        self.retired = []
        kept = []
        for ti, track in enumerate(self._tracks):
            if ti not in used_tracks:
                track.missed += 1
                if track.missed > self.max_missed:
                    self.retired.append(track.id)
                    continue
            kept.append(track)
        self._tracks = kept
        for bi, box in enumerate(boxes):
            if ids[bi] is None:
                self._tracks.append(_Track(self._next_id, box))
                ids[bi] = self._next_id
                self._next_id += 1
        return ids  # type: ignore[return-value]
