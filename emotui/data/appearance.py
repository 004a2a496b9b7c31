"""Appearance: a histogram of oriented gradients (HOG) of the face's own pixels, aligned by its mesh.

Landmarks say where the face's points are; they miss what the skin does between them (furrows between the
brows, wrinkled nose, cheek bulge, teeth), and MediaPipe's mesh is least sure exactly on small, low-resolution
faces. A HOG of the eye-and-mouth-aligned grey crop reads those textures; in leave-one-dataset-out tests it adds
what the mesh misses (see models/default/NOTES.md).

The crop: an affine warp taking the two eye centres and the mouth centre to fixed points of a CROP_SIDE square,
histogram-equalised (light and camera gain drop out). The descriptor: OpenCV's HOG, 16 px blocks of 2 x 2 8 px
cells on an 8 px stride, 9 unsigned orientation bins, L2-Hys normalised: 5 x 5 blocks x 4 cells x 9 = 900 values.

Since version 2 the appearance also carries the crop's own pixels (scaled to 0-1, row by row) after the HOG: a
small convolutional network in the model reads them (emotui.learn.crop_encoder), where the HOG's fixed cells cannot
follow what a mouth or a brow does between them. Files of version 1 hold the HOG alone; models read what they need.
"""

from __future__ import annotations

import numpy as np

CROP_SIDE = 48
_CELL, _BLOCK, _STRIDE, _BINS = 8, 16, 8, 9
_BLOCKS = (CROP_SIDE - _BLOCK) // _STRIDE + 1  # per axis
_CELLS_PER_BLOCK = _BLOCK // _CELL  # per axis
N_HOG = _BLOCKS * _BLOCKS * _CELLS_PER_BLOCK * _CELLS_PER_BLOCK * _BINS  # 900
N_PIXELS = CROP_SIDE * CROP_SIDE
N_APPEARANCE = N_HOG + N_PIXELS  # what a face is given now; N_HOG alone in files of version 1
APPEARANCE_WIDTHS = (N_HOG, N_APPEARANCE)
APPEARANCE_VERSION = 2

# MediaPipe mesh indices: the corners of each eye and the inner lips' midpoints.
_LEFT_EYE, _RIGHT_EYE, _MOUTH = (33, 133), (362, 263), (13, 14)
# Where they go in the crop, as fractions of its side: symmetric about the vertical midline, so the crop of a
# mirrored image is the mirror of the crop (appearance_mirror_map relies on it).
_TARGETS = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.8]], dtype=np.float32) * CROP_SIDE

_hog = None


def _descriptor():  # noqa: ANN202 - cv2.HOGDescriptor; made once per process (cheap, not picklable)
    global _hog
    if _hog is None:
        import cv2

        _hog = cv2.HOGDescriptor((CROP_SIDE, CROP_SIDE), (_BLOCK, _BLOCK), (_STRIDE, _STRIDE), (_CELL, _CELL), _BINS)
    return _hog


def aligned_crop(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(h, w[, 3]) RGB or grey image + (478, 3) normalised landmarks -> (CROP_SIDE, CROP_SIDE) uint8 equalised crop."""
    import cv2

    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape[:2]
    xy = np.asarray(landmarks, dtype=np.float32)[:, :2] * np.array([w, h], dtype=np.float32)
    source = np.stack([xy[list(_LEFT_EYE)].mean(0), xy[list(_RIGHT_EYE)].mean(0), xy[list(_MOUTH)].mean(0)])
    warp = cv2.getAffineTransform(source.astype(np.float32), _TARGETS)
    crop = cv2.warpAffine(np.ascontiguousarray(grey), warp, (CROP_SIDE, CROP_SIDE), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)
    return cv2.equalizeHist(crop)


def crop_hog(crop: np.ndarray) -> np.ndarray:
    """An aligned crop -> its (N_HOG,) float32 HOG."""
    return _descriptor().compute(np.ascontiguousarray(crop)).reshape(-1).astype(np.float32)


def crop_appearance(crop: np.ndarray) -> np.ndarray:
    """An aligned crop -> its (N_APPEARANCE,) float32 appearance: the HOG, then the pixels scaled to 0-1."""
    return np.concatenate([crop_hog(crop), crop.reshape(-1).astype(np.float32) / 255.0])


def split_appearance(appearance: np.ndarray) -> tuple[np.ndarray, bytes | None]:
    """A face's appearance -> what a features file stores: the HOG, and the crop's bytes (None for version 1)."""
    appearance = np.asarray(appearance, dtype=np.float32)
    if len(appearance) == N_HOG:
        return appearance, None
    pixels = np.clip(np.rint(appearance[N_HOG:] * 255.0), 0, 255).astype(np.uint8)
    return appearance[:N_HOG], pixels.tobytes()


def joined_appearance(hog: np.ndarray, crops: np.ndarray | None) -> np.ndarray:
    """(n, N_HOG) HOG and (n, N_PIXELS) uint8 crops (or None) -> (n, width) appearance, as crop_appearance gives."""
    if crops is None:
        return hog
    return np.hstack([hog, crops.astype(np.float32) / 255.0]).astype(np.float32, copy=False)


def face_appearance(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A face's appearance descriptor, from the image it was meshed in and its normalised landmarks."""
    return crop_appearance(aligned_crop(image, landmarks))


def appearance_mirror_map(width: int = N_APPEARANCE) -> np.ndarray:
    """Index permutation taking the appearance of a crop to that of the mirrored crop. In the HOG, blocks and the
    cells within them swap left/right, and an unsigned orientation theta becomes 180 - theta (bin k -> bin 8 - k);
    the pixels swap left/right within each row.

    OpenCV lays the descriptor out block column by block column (x outer, y inner), then cells within a block
    the same way, then bins."""
    if width not in APPEARANCE_WIDTHS:
        raise ValueError(f"an appearance is {' or '.join(map(str, APPEARANCE_WIDTHS))} values, not {width}")
    b, c, n = _BLOCKS, _CELLS_PER_BLOCK, _BINS
    hog = np.arange(N_HOG).reshape(b, b, c, c, n)[::-1, :, ::-1, :, ::-1].reshape(-1)  # block x, y, cell x, y, bin
    if width == N_HOG:
        return hog.copy()
    pixels = N_HOG + np.arange(N_PIXELS).reshape(CROP_SIDE, CROP_SIDE)[:, ::-1].reshape(-1)
    return np.concatenate([hog, pixels])
