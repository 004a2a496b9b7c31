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
        tmp.unlink(missing_ok=True)
        kept = f"; the previous {path.name} is unchanged" if existed else ""
        raise WriteError(f"cannot write {path}: {_reason(exc)}{kept}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _reason(exc: OSError) -> str:
    """'No space left on device', also from pyarrow, whose OSErrors bury the errno in a longer text."""
    found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
    return os.strerror(int(found.group(1))) if found else exc.strerror or str(exc)
