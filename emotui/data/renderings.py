"""A dataset's faces rendered as other cameras would give them: K copies of each image at a random face resolution
(48-256 px on the long side), grey or colour, blurred, JPEG-compressed, brighter or darker. Extracted like any
dataset, the copies teach a classifier that FER+'s 48 px grey, a webcam's 720p colour and a studio's sharp face
are one expression (issue 29: independence from the image domain).

Each copy's parameters come from (seed, the image's path inside the dataset, the copy's number), never from the
order of work: a second run, resumed or with more copies, draws the same ones. The copies sit flat in the output
folder beside `manifest.csv` (path, label, subject and split as the original's, the source image and the
parameters), so `emotui extract OUT` reads exactly the manifest's rows (class folders would be walked whole);
`renderings.json` says which dataset and seed the folder holds, so a folder is never half one seed, half another.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write_text, write_error
from ..errors import DatasetError, EmotuiError, ImageReadError
from ..events import EventHandler, Finished, ItemFailed, Progress, ignore
from ..inputs import named
from .images import decode_image

STAGE = "render"
SETTINGS = "renderings.json"
MANIFEST = "manifest.csv"
MIN_SIDE, MAX_SIDE = 48, 256  # FER+'s faces to a webcam's close face
MAX_UPSCALED = 1024  # a copy shown back at its source's size is never drawn larger than this
_PARAM_COLUMNS = ("render_face_px", "render_width", "render_height", "render_grey", "render_blur", "render_jpeg",
                  "render_brightness", "render_contrast")


@dataclass(frozen=True)
class RenderParams:
    face_px: int  # the long side the face is brought to (a 48 px source is blown up, a 350 px one brought down)
    back_up: bool  # brought down, then shown at its source's size again (a far face in a webcam frame)
    grey: bool
    blur: float  # gaussian sigma in pixels at face_px (0: none)
    jpeg: int  # quality 30-95
    brightness: float  # grey levels added
    contrast: float  # gain about mid-grey


def draw_params(seed: int, key: str, copy: int) -> RenderParams:
    """The parameters of copy `copy` of the image at `key` (its path inside the dataset)."""
    digest = int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "big")
    rng = np.random.default_rng([seed, digest, copy])
    return RenderParams(face_px=int(rng.integers(MIN_SIDE, MAX_SIDE + 1)), back_up=bool(rng.random() < 0.5),
                        grey=bool(rng.random() < 0.5),
                        blur=0.0 if rng.random() < 0.3 else round(float(rng.uniform(0.3, 1.6)), 2),
                        jpeg=int(rng.integers(30, 96)), brightness=round(float(rng.uniform(-40, 40)), 1),
                        contrast=round(float(rng.uniform(0.7, 1.3)), 2))


def render(rgb: np.ndarray, p: RenderParams) -> np.ndarray:
    """The copy's pixels (RGB, or one channel when grey), before JPEG encoding."""
    import cv2

    h, w = rgb.shape[:2]
    scale = p.face_px / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if p.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), p.blur)
    if p.back_up and scale < 1:
        up = min(1.0, MAX_UPSCALED / max(h, w))
        out = cv2.resize(out, (round(w * up), round(h * up)), interpolation=cv2.INTER_LINEAR)
    out = np.clip((out.astype(np.float32) - 128.0) * p.contrast + 128.0 + p.brightness, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) if p.grey else out


def default_renderings_dir(dataset: str | Path, seed: int) -> Path:
    """<data dir>/cache/renders/<dataset>-s<seed>, the data dir being $EMOTUI_DATA or the user's (never a
    checkout's data/: derived images of research-only datasets stay out of source trees)."""
    from platformdirs import user_data_dir

    root = Path(os.environ["EMOTUI_DATA"]).expanduser() if os.environ.get("EMOTUI_DATA") else \
        Path(user_data_dir("emotui", appauthor=False))
    name = Path(dataset).stem if Path(dataset).suffix.lower() == ".csv" else Path(dataset).name
    return root / "cache" / "renders" / f"{name or 'dataset'}-s{seed}"


@dataclass
class RenderSummary:
    out: str
    manifest: str
    images: int  # source images
    copies: int
    written: int = 0  # copies rendered now
    resumed: int = 0  # copies already there
    failed: int = 0  # source images that could not be read (their copies are left out)
    seconds: float = 0.0
    cancelled: bool = False
    by_class: dict[str, int] = field(default_factory=dict)  # copies in the manifest, per label
    failures: list[dict] = field(default_factory=list)  # {path, error}, the first few

    def as_dict(self) -> dict:
        return asdict(self)


def _prepare_out(out: Path, dataset_root: Path, seed: int) -> None:
    """The folder made and claimed for this dataset and seed; a folder of other files or another seed is refused."""
    inside = os.path.realpath(out), os.path.realpath(dataset_root)
    if os.path.commonpath(inside) == inside[1]:
        raise DatasetError(f"the renderings folder {named(out)} is inside the dataset {named(dataset_root)}: "
                           "the dataset would then hold its own copies; choose a folder outside it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        mine = {"dataset": inside[1], "seed": seed}
        settings = out / SETTINGS
        if settings.is_file():
            theirs = json.loads(settings.read_text())
            if {k: theirs.get(k) for k in mine} != mine:
                raise DatasetError(f"{named(out)} holds renderings of {named(theirs.get('dataset'))} with seed "
                                   f"{theirs.get('seed')}: choose another folder (or the same seed)")
            return
        if any(out.iterdir()):
            raise DatasetError(f"{named(out)} is not empty and holds no renderings: choose a new or empty folder")
        atomic_write_text(settings, json.dumps(mine, indent=1) + "\n")
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError):
            raise write_error(exc.filename or out, exc) from None
        raise DatasetError(f"cannot read {named(out / SETTINGS)}: {exc}") from None


def _name(key: str, copy: int) -> str:
    """A flat, readable file name: happy/S010_004.png copy 1 -> happy__S010_004.r1.jpg."""
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    return f"{stem.replace('/', '__')}.r{copy}.jpg"


def _key(path: str, root: Path) -> str:
    """The image's path inside the dataset; one outside it (a manifest may point there) by its name and a hash."""
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        digest = hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()
        return f"outside/{Path(path).stem}-{digest}{Path(path).suffix}"
    return Path(rel).as_posix()


def _write_copy(rgb: np.ndarray, p: RenderParams, dest: Path) -> tuple[int, int]:
    import cv2

    pixels = render(rgb, p)
    ok, data = cv2.imencode(".jpg", pixels if p.grey else cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, p.jpeg])
    if not ok:
        raise EmotuiError(f"cannot encode a copy of {dest.name} as JPEG")
    with atomic_path(dest) as tmp:  # a copy cut short by Ctrl-C or a full disk is never taken as done
        tmp.write_bytes(data.tobytes())
    return pixels.shape[1], pixels.shape[0]


def _row(rec: dict, file: str, key: str, copy: int, seed: int, p: RenderParams, size: tuple[int, int]) -> dict:
    row = {"path": file, "label": rec["label"], "subject": rec["subject"]}
    if "split" in rec and isinstance(rec["split"], str) and rec["split"]:
        row["split"] = rec["split"]
    row.update({k: v for k, v in rec.items() if k.startswith("v_")})  # FER+ votes: the face's expression is kept
    row.update(source=rec["path"], source_key=key, copy=copy, seed=seed)
    values = (p.face_px, size[0], size[1], int(p.grey), p.blur, p.jpeg, p.brightness, p.contrast)
    row.update(zip(_PARAM_COLUMNS, values))
    return row


def _existing_size(dest: Path) -> tuple[int, int] | None:
    """A copy already rendered (resumed): its size from its header, or None to render it again."""
    from .images import image_size

    header = image_size(dest) if dest.is_file() and dest.stat().st_size > 0 else None
    return (header[1], header[2]) if header else None


def run_renderings(dataset: str | Path, out: Path | None = None, *, copies: int = 1, seed: int = 0,
                   on_event: EventHandler = ignore, stop: threading.Event | None = None) -> RenderSummary:
    """Render `copies` copies of every image of `dataset` into `out` and write its manifest.csv."""
    from .datasets import discover

    if copies < 1:
        raise EmotuiError(f"copies must be >= 1, not {copies}")
    frame = discover(dataset)
    root = Path(frame.attrs["root"])
    root = root.parent if root.is_file() else root  # a CSV manifest's images are relative to its folder
    out = Path(out) if out is not None else default_renderings_dir(dataset, seed)
    _prepare_out(out, root, seed)
    summary = RenderSummary(out=str(out), manifest=str(out / MANIFEST), images=len(frame), copies=copies)
    start, rows, records = time.monotonic(), [], frame.to_dict("records")
    for i, rec in enumerate(records):
        if stop is not None and stop.is_set():
            summary.cancelled = True
            break
        rows += _render_image(rec, _key(rec["path"], root), out, copies, seed, summary, on_event)
        elapsed = time.monotonic() - start
        rate = summary.written / elapsed if elapsed > 0 else 0.0
        on_event(Progress(STAGE, i + 1, len(records), rate=rate,
                          eta=(len(records) - i - 1) * elapsed / (i + 1),
                          counts={"written": summary.written, "resumed": summary.resumed, "unreadable": summary.failed}))
    _write_manifest(out / MANIFEST, rows)
    summary.seconds = round(time.monotonic() - start, 2)
    for row in rows:
        summary.by_class[row["label"]] = summary.by_class.get(row["label"], 0) + 1
    on_event(Finished(STAGE, summary.as_dict(), cancelled=summary.cancelled))
    return summary


def _render_image(rec: dict, key: str, out: Path, copies: int, seed: int, summary: RenderSummary,
                  on_event: EventHandler) -> list[dict]:
    """The manifest rows of one source image's copies, rendering those not already there."""
    rgb, rows = None, []
    for copy in range(copies):
        p, dest = draw_params(seed, key, copy), out / _name(key, copy)
        size = _existing_size(dest)
        if size is not None:
            summary.resumed += 1
        else:
            if rgb is None:
                try:
                    rgb, _, _ = decode_image(rec["path"], min_side=MAX_SIDE)
                except ImageReadError as exc:
                    summary.failed += 1
                    if len(summary.failures) < 20:
                        summary.failures.append({"path": rec["path"], "error": str(exc)})
                    on_event(ItemFailed(STAGE, rec["path"], "unreadable", str(exc)))
                    return []
            size = _write_copy(rgb, p, dest)
            summary.written += 1
        rows.append(_row(rec, dest.name, key, copy, seed, p, size))
    return rows


def _write_manifest(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    columns = ["path", "label", "subject"]
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=columns)
    with atomic_path(path) as tmp:  # a WriteError naming manifest.csv when the disk refuses
        frame.to_csv(tmp, index=False)
