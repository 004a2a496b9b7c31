"""`emotui doctor`: what emotui finds on this machine. Every check is guarded: a missing piece is a row, not a crash."""

from __future__ import annotations

import glob
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import click
from ..inputs import GIVEN_FILE
from .render import output_console
from rich.markup import escape
from rich.table import Table

# (shown name, distributions that provide it); versions come from package metadata, so nothing heavy is imported.
PACKAGES = (
    ("mediapipe", ("mediapipe",)),
    ("opencv", ("opencv-contrib-python", "opencv-python", "opencv-contrib-python-headless", "opencv-python-headless")),
    ("torch", ("torch",)),
    ("numpy", ("numpy",)),
    ("pandas", ("pandas",)),
    ("pyarrow", ("pyarrow",)),
    ("textual", ("textual",)),
)
REQUIRED = {"mediapipe", "opencv", "numpy", "pandas", "pyarrow"}


@dataclass(frozen=True)
class Check:
    name: str
    value: str
    state: str = "ok"  # ok | warn | fail


def version_of(distributions: tuple[str, ...]) -> str | None:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def collect(landmarker: str | Path | None = None) -> list[Check]:
    from .. import __version__, config

    checks = [Check("python", f"{platform.python_version()} ({sys.executable})"), Check("emotui", __version__)]
    for shown, distributions in PACKAGES:
        found = version_of(distributions)
        if found is None:
            checks.append(Check(shown, "not installed", "fail" if shown in REQUIRED else "warn"))
        else:
            checks.append(Check(shown, found))
    checks.append(_landmarker_check(landmarker))
    checks.append(_camera_check())
    for name, path_fn in (("data dir", config.data_dir), ("models dir", config.models_dir),
                          ("default model", config.default_model_dir), ("log database", config.log_db_path)):
        checks.append(_path_check(name, path_fn))
    return checks


def _landmarker_check(explicit: str | Path | None) -> Check:
    from ..errors import EmotuiError
    from ..data.landmarker import LANDMARKER_SHA256, resolve_landmarker

    try:
        path = resolve_landmarker(explicit, download=False)  # verifies the sha256
    except EmotuiError as exc:
        return Check("landmarker", str(exc), "fail")
    except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
        return Check("landmarker", f"{type(exc).__name__}: {exc}", "fail")
    return Check("landmarker", f"{path} (sha256 {LANDMARKER_SHA256[:12]}... verified)")


def _camera_check() -> Check:
    try:
        found, how = find_cameras()
    except Exception as exc:  # noqa: BLE001
        return Check("cameras", f"cannot probe: {type(exc).__name__}: {exc}", "warn")
    if not found:
        return Check("cameras", f"none found ({how}); watch a video file or stream instead", "warn")
    return Check("cameras", ", ".join(found) + f" ({how})")


def find_cameras(indices: range = range(5)) -> tuple[list[str], str]:
    """Cameras that open. On Linux only the /dev/video* nodes that exist are tried, so the probe is quick."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # "can't open camera by index" is what we are asking
    nodes = sorted(glob.glob("/dev/video*"))
    if sys.platform.startswith("linux"):
        if not nodes:
            return [], "no /dev/video* devices"
        targets: list[int | str] = nodes
        how = "probed " + ", ".join(nodes)
    else:
        targets = list(indices)
        how = f"probed indices {indices.start}-{indices.stop - 1}"
    import cv2

    found = []
    for target in targets:
        started = time.perf_counter()
        capture = cv2.VideoCapture(target)
        try:
            if capture.isOpened():
                ok, _ = capture.read()
                found.append(f"{target}{'' if ok else ' (opens, no frame)'}")
        finally:
            capture.release()
        if time.perf_counter() - started > 5:  # a hanging backend: don't make the user wait for every index
            break
    return found, how


def _path_check(name: str, path_fn) -> Check:  # noqa: ANN001
    try:
        path = path_fn()
    except Exception as exc:  # noqa: BLE001
        return Check(name, f"{type(exc).__name__}: {exc}", "fail")
    if path.exists():
        return Check(name, str(path))
    parent = next((p for p in path.parents if p.exists()), None)
    writable = parent is not None and os.access(parent, os.W_OK)
    return Check(name, f"{path} (not created yet{'' if writable else '; its folder is not writable'})",
                 "ok" if writable else "warn")


@click.command("doctor")
@click.option("--landmarker", type=GIVEN_FILE, help="face_landmarker.task to check.")
def doctor(landmarker: Path | None) -> None:
    """Show versions, the landmarker model and its checksum, cameras, and where emotui keeps its files.

    Exits with status 1 when something emotui needs is missing.
    """
    checks = collect(landmarker)
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    table = Table(show_header=False, box=None, pad_edge=False)
    for check in checks:
        table.add_row(marks[check.state], check.name, escape(check.value))
    output_console().print(table)
    failed = [c.name for c in checks if c.state == "fail"]
    if failed:
        click.echo(f"emotui: error: not ready: {', '.join(failed)}", err=True)
        click.get_current_context().exit(1)
