"""Small files that lie about themselves, written by hand for the hostile-input tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(path: Path, width: int, height: int, rows: int = 4) -> Path:
    """A valid-looking RGB PNG whose header claims width x height but whose data holds only a few rows."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * (1 + 3 * width) * rows)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def features_where(features: Path, out: Path, column: str, values: list[str]) -> Path:
    """A copy of a real features file holding only the rows whose `column` is one of `values`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(features)
    pq.write_table(table.filter(pc.is_in(table[column], value_set=pa.array(values))), out)
    return out
