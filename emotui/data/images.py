"""Decoding an image file within a pixel budget: the one reader behind extract, predict and the watched folders.

A file's header can claim any size: a 400 KB PNG that says 60000x60000 would make OpenCV allocate gigabytes (or
raise a screenful of cv2.error). The size is read from the header first; a JPEG too big is decoded at 1/2, 1/4 or
1/8 scale by libjpeg itself, anything else too big is refused with a one-line ImageTooLargeError.

Every open goes through emotui.inputs.open_regular: a FIFO, socket or device named like an image is refused as
unreadable ("not a regular file (FIFO)"), never read (reading a FIFO waits for a writer for ever).
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from ..inputs import NotRegularFile, open_regular

# Pixels decoded at most (about 300 MB as RGB, with OpenCV's own BGR copy 600 MB): 10000x10000 still decodes.
MAX_DECODE_PIXELS = 100_000_000
_JPEG_REDUCED = (1, 2, 4, 8)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (SOF0-SOF15 except DHT, JPG and DAC), which hold the image size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageTooLargeError(ImageReadError):
    """An image whose header claims more pixels than the decode budget allows."""


def image_size(path: str | Path) -> tuple[str, int, int] | None:
    """(format, width, height) as stored, from the header alone; None when it cannot be told from the header."""
    try:
        with open_regular(path) as fh:
            head = fh.read(32)
            if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR":
                width, height = struct.unpack(">II", head[16:24])
                return "png", width, height
            if head.startswith(b"\xff\xd8"):
                fh.seek(2)
                size = _jpeg_sof_size(fh)
                return ("jpeg", *size) if size else None
            fh.seek(0)
            return _pillow_size(fh)  # the same descriptor: the file checked is the file read
    except OSError:
        return None  # the decode reports why the file cannot be read


def _jpeg_sof_size(fh) -> tuple[int, int] | None:  # noqa: ANN001
    """Walk the marker segments up to the first start-of-frame (bounded: a corrupt file ends the walk)."""
    for _ in range(10_000):
        byte = fh.read(1)
        while byte == b"\xff":  # fill bytes before a marker
            byte = fh.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            continue
        length = fh.read(2)
        if len(length) < 2:
            return None
        (seg,) = struct.unpack(">H", length)
        if marker in _JPEG_SOF:
            body = fh.read(5)
            if len(body) < 5:
                return None
            height, width = struct.unpack(">HH", body[1:5])
            return width, height
        if seg < 2:
            return None
        fh.seek(seg - 2, 1)
        nxt = fh.read(1)
        if nxt != b"\xff":
            return None
        fh.seek(-1, 1)
    return None


def _pillow_size(path) -> tuple[str, int, int] | None:  # noqa: ANN001 (a path or an open binary file)
    try:
        from PIL import Image  # comes with mediapipe (through matplotlib); only used to read headers
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: the budget below decides
            with Image.open(path) as image:
                return (image.format or "").lower(), *image.size
    except Image.DecompressionBombError:
        # Pillow refuses to open more than twice its own limit (~358 megapixels), far above our budget.
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        return "other", limit + 1, 1
    except Exception:  # noqa: BLE001 - an unreadable header is reported by the real decode
        return None


def decode_image(path: str | Path, *, min_side: int | None = None) -> tuple[np.ndarray, int, int]:
    """8-bit RGB pixels plus the image's true (upright, EXIF applied) width and height.

    A JPEG is decoded at the smallest of 1/1..1/8 scale whose long side stays >= min_side (when given), and at a
    scale that fits MAX_DECODE_PIXELS in any case. Raises ImageReadError (ImageTooLargeError) in one line.
    """
    import cv2

    path = Path(path)
    header = image_size(path)
    factor = 1
    if header:
        kind, width, height = header
        pixels = width * height
        if kind == "jpeg":
            while factor < 8 and min_side and max(width, height) / (factor * 2) >= min_side:
                factor *= 2
            while factor < 8 and pixels / (factor * factor) > MAX_DECODE_PIXELS:
                factor *= 2
            pixels //= factor * factor
        if pixels > MAX_DECODE_PIXELS:
            raise ImageTooLargeError(
                f"image too large: {path} claims {width}x{height} pixels "
                f"(at most {MAX_DECODE_PIXELS // 1_000_000} megapixels are decoded)"
            )
    try:
        with open_regular(path) as fh:  # a file object, not a name: also handles non-ASCII paths
            data = np.frombuffer(fh.read(), dtype=np.uint8)
    except NotRegularFile as exc:
        raise ImageReadError(f"{exc.strerror}: {path}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.size == 0:
        raise ImageReadError(f"empty file: {path}")
    # IMREAD_COLOR converts grey and alpha to 3 channels, scales 16-bit down and applies EXIF orientation.
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}[factor]
    try:
        bgr = cv2.imdecode(data, flag)
    except cv2.error as exc:  # its own size limit, or a decoder failure: a screenful of C++ context
        raise ImageReadError(f"not a readable image: {path} ({_last_line(exc)})") from None
    except MemoryError:
        raise ImageTooLargeError(f"image too large to decode: {path}") from None
    if bgr is None:
        raise ImageReadError(f"not a readable image: {path}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if factor == 1:
        return rgb, rgb.shape[1], rgb.shape[0]
    width, height = header[1], header[2]
    if _turned(rgb.shape[1], rgb.shape[0], width, height):  # EXIF orientation turned it a quarter
        width, height = height, width
    return rgb, width, height


def _turned(dw: int, dh: int, width: int, height: int) -> bool:
    """Whether decoded (dw, dh) is the stored (width, height) turned a quarter, judged by aspect ratio."""
    aspect = dw / max(dh, 1)
    return abs(aspect - height / max(width, 1)) < abs(aspect - width / max(height, 1))


def _last_line(exc: BaseException) -> str:
    text = [line for line in str(exc).strip().splitlines() if line.strip()]
    line = text[-1].strip() if text else type(exc).__name__
    return line.split(" error: ", 1)[-1]  # drop OpenCV's version and source file
