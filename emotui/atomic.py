"""Writing a file whole or not at all: into a temporary file beside it, renamed over it once complete.

A full disk (or any other failure) part way leaves the previous file as it was and no temporary file behind, and
the error names the file the user asked for, not the temporary one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import WriteError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields the temporary path to write; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    existed = path.exists()
    # The pid keeps two processes writing the same file from sharing one temporary file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise write_error(path, exc, kept=existed) from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Removing the temporary file fails where writing it did (a read-only folder refuses even the unlink of a
    file that is not there): that second error would name the temporary file instead of the user's."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def write_error(path: str | os.PathLike, exc: OSError, *, kept: bool = False) -> WriteError:
    """The error for a file the user asked for, whatever internal file (a temporary copy, a lock, a part) the
    system refused: `raise write_error(out, exc) from None`."""
    path = Path(path)
    unchanged = f"; the previous {path.name} is unchanged" if kept else ""
    return WriteError(f"cannot write {path}: {_reason(exc)}{unchanged}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _reason(exc: OSError) -> str:
    """'No space left on device', also from pyarrow, whose OSErrors bury the errno in a longer text."""
    found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
    return os.strerror(int(found.group(1))) if found else exc.strerror or str(exc)
