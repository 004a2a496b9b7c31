"""Every value a user gives, checked at one boundary: paths, sources and option values.

The same functions serve the command line (as click ParamTypes, below), the dashboard's fields
(emotui.tui.fields) and the dataset readers (emotui.data.datasets, emotui.data.images), so one class of bad input
has one guard: an empty string is never taken as "." ; a file expected must be a regular file (a FIFO, socket,
device or folder is refused and never opened: opening a FIFO waits for a writer for ever); a folder expected must
be a folder; NaN, infinities, and negative or zero values where they mean nothing are refused. Each refusal is
an InputError of one line, naming what was wrong; the front end adds which option or field it came from.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from collections.abc import Callable
from typing import Any, BinaryIO

import click

URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class InputError(ValueError):
    """A value a user gave that cannot be used; its message is one line."""


class NotRegularFile(OSError):
    """A path that is there but is not a regular file (FIFO, socket, device, folder): never opened for reading.
    An OSError, so that readers that already report unreadable files report these too."""

    def __init__(self, path: str | os.PathLike, kind: str) -> None:
        super().__init__(f"not a regular file ({kind})")
        self.strerror, self.filename, self.kind = f"not a regular file ({kind})", str(path), kind


# ---------------------------------------------------------------- what a path is

def kind_of(mode: int) -> str:
    """'file', 'folder', 'FIFO', 'socket', 'character device', 'block device' or 'special file'."""
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def not_regular_reason(path: str | os.PathLike) -> str | None:
    """None for a regular file (or one that is not there: its reader reports it missing); otherwise why it is
    left alone, e.g. 'not a regular file (FIFO)'. stat() follows symlinks and never blocks."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return None if stat.S_ISREG(mode) else f"not a regular file ({kind_of(mode)})"


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading only if it is a regular file, checked on the opened descriptor (no race with a
    swap between a check and the open). O_NONBLOCK makes opening a FIFO return at once instead of waiting."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# ---------------------------------------------------------------- paths a user gives

def expand(text: str | os.PathLike) -> Path:
    """`~` and `~user` expanded; a `~name` that is no user stays as typed (pathlib would raise RuntimeError, and
    ValueError for a NUL byte in the name: the path's checks then say what is wrong with it)."""
    try:
        return Path(text).expanduser()
    except (RuntimeError, ValueError):
        return Path(text)


def named(path: object) -> str:
    """A path as an error line shows it: as typed, unless it holds a newline or another control character,
    which would break the one line (then quoted, escapes visible)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise InputError("must not be empty (give a path)")  # Path("") is ".", the current folder: never what was meant
    return text.strip()


def _stat(path: Path, noun: str) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise InputError(f"no such {noun}: {named(path)}") from None
    except (OSError, ValueError) as exc:  # a component that is a file, a name too long, a NUL byte
        raise InputError(f"cannot use {named(path)}: {getattr(exc, 'strerror', None) or exc}") from None


def existing_file(value: Any, noun: str = "file") -> Path:
    """A regular file that can be read."""
    path = expand(_text(value))
    mode = _stat(path, noun).st_mode
    if not stat.S_ISREG(mode):
        raise InputError(f"{named(path)} is a {kind_of(mode)}, not a {noun}")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {named(path)}: permission denied")
    return path


def existing_folder(value: Any, noun: str = "folder") -> Path:
    """A folder that can be listed."""
    path = expand(_text(value))
    mode = _stat(path, noun).st_mode
    if not stat.S_ISDIR(mode):
        raise InputError(f"{named(path)} is a {kind_of(mode)}, not a {noun}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError(f"cannot read folder {named(path)}: permission denied")
    return path


def existing_path(value: Any) -> Path:
    """A readable regular file or folder (a dataset, a features file)."""
    path = expand(_text(value))
    mode = _stat(path, "file or folder").st_mode
    return existing_folder(path) if stat.S_ISDIR(mode) else existing_file(path)


def given_path(value: Any, *, folder_ok: bool = True) -> Path:
    """A path whose absence the reader reports in its own words (a dataset, a features file, an image), but
    which, when it is there, must be a readable regular file (or folder, if `folder_ok`): never a FIFO."""
    path = expand(_text(value))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot use {named(path)}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(mode) and folder_ok:
        return existing_folder(path)
    if stat.S_ISREG(mode):
        return existing_file(path)
    raise InputError(f"{named(path)} is a {kind_of(mode)}, not a file{' or folder' if folder_ok else ''}")


def output_file(value: Any, *, parent_must_exist: bool = False) -> Path:
    """A file to write: if it is there, a regular file; its folder, if there, a folder. With `parent_must_exist`
    a missing folder is refused, never created (a typo must not grow a tree)."""
    path = expand(_text(value))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot use {named(path)}: {getattr(exc, 'strerror', None) or exc}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(f"{named(path)} is a {kind_of(mode)}, not a file")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{named(parent)} is a {kind_of(parent.stat().st_mode)}, not a folder")
    if parent_must_exist and not parent.exists():
        raise InputError(f"folder {named(parent)} does not exist (make it first)")
    return path


def output_folder(value: Any) -> Path:
    """A folder to write into (made if missing): if something is there, a folder."""
    path = expand(_text(value))
    if path.exists() and not path.is_dir():
        raise InputError(f"{named(path)} is a {kind_of(path.stat().st_mode)}, not a folder")
    return path


def source(value: Any) -> str:
    """What to watch: a camera index, a /dev/video device, a stream URL, or a readable file or folder."""
    if value is None or not str(value).strip():
        raise InputError("must not be empty (give a camera index, a device, a video, a folder of images or a URL)")
    text = str(value).strip()
    if text.isdigit() or URL_RE.match(text):
        return text
    if text.startswith("/dev/video"):
        try:
            mode = os.stat(text).st_mode
        except OSError:
            return text  # the camera opener says which devices there are
        if not stat.S_ISCHR(mode):
            raise InputError(f"{named(text)} is a {kind_of(mode)}, not a camera device")
        return text
    path = expand(text)
    mode = _stat(path, "file, folder, camera or stream").st_mode
    if stat.S_ISDIR(mode):
        existing_folder(path)
    else:
        existing_file(path)
    return text


def nonempty_text(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise InputError("must not be empty")
    return text


# ---------------------------------------------------------------- numbers

def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def _in_range(value: float, low, high, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return not (high is not None and (value > high or (high_open and value == high)))


def parse_float(value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
                high_open: bool = False) -> float:
    """A finite number within the bounds; NaN and infinities are never a setting."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise InputError("must be a number, not empty")
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"must be a number, not {text!r}") from None
    if not math.isfinite(number):
        raise InputError(f"must be a finite number, not {text!r}")
    if not _in_range(number, low, high, low_open, high_open):
        raise InputError(f"must be {_bounds(low, high, low_open, high_open)}, not {text}")
    return number


def parse_int(value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """A whole number within the bounds."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise InputError("must be a whole number, not empty")
    try:
        number = int(text)
    except ValueError:
        raise InputError(f"must be a whole number, not {text!r}") from None
    if not _in_range(number, low, high, False, False):
        raise InputError(f"must be {_bounds(low, high, False, False)}, not {text}")
    return number


# ---------------------------------------------------------------- the command line's types

class Checked(click.ParamType):
    """A click type that runs one of the checks above; its refusal is click's usage error naming the option."""

    def __init__(self, check: Callable[[Any], Any], name: str, metavar: str | None = None) -> None:
        self.check, self.name, self._metavar = check, name, metavar

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return self._metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.check(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


def Number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Checked:
    return Checked(lambda v: parse_float(v, low=low, high=high, low_open=low_open, high_open=high_open), "number",
                   "FLOAT")


def Count(low: int | None = 1, high: int | None = None) -> Checked:
    return Checked(lambda v: parse_int(v, low=low, high=high), "integer", "INTEGER")


SECONDS = Number(0)  # an interval, a timeout: 0 is meaningful (every frame, give up at once)
POSITIVE_SECONDS = Number(0, low_open=True)
FILE = Checked(existing_file, "file", "FILE")
FOLDER = Checked(existing_folder, "folder", "DIR")
MODEL_DIR = Checked(lambda v: existing_folder(v, "model directory"), "folder", "DIR")
FILE_OR_FOLDER = Checked(existing_path, "path", "PATH")
GIVEN_FILE = Checked(lambda v: given_path(v, folder_ok=False), "file", "FILE")
GIVEN_PATH = Checked(given_path, "path", "PATH")
OUT_FILE = Checked(output_file, "file", "FILE")
OUT_FILE_IN_EXISTING_FOLDER = Checked(lambda v: output_file(v, parent_must_exist=True), "file", "FILE")
OUT_FOLDER = Checked(output_folder, "folder", "DIR")
SOURCE = Checked(source, "source", "SRC")
TEXT = Checked(nonempty_text, "text", "TEXT")
