"""Shared fixtures: the real data in ../shared, isolated data directories per test."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MEDIA = SHARED / "media"
DATASETS = SHARED / "datasets"
SHARED_TASK = SHARED / "models" / "face_landmarker.task"

# Tests read the landmarker from ../shared when the checkout has none (CI copies it into models/).
if not (REPO / "models" / "face_landmarker.task").exists() and SHARED_TASK.exists():
    os.environ.setdefault("EMOTUI_LANDMARKER", str(SHARED_TASK))


# A shell starts background jobs with SIGINT ignored, and children inherit that: the Ctrl-C tests would then send a
# signal their emotui never sees. A handled signal is reset to the default in each child, which Python then handles.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if not SHARED.is_dir():
        raise pytest.UsageError(f"the tests need ../shared beside the checkout ({SHARED} not found)")


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path_factory, monkeypatch):  # noqa: ANN001
    """Each test writes its features, log database and exports to its own directory, never to ./data."""
    home = tmp_path_factory.mktemp("emotui-data")
    monkeypatch.setenv("EMOTUI_DATA", str(home))
    monkeypatch.delenv("EMOTUI_DB", raising=False)
    return home


@pytest.fixture(scope="session")
def predictor():
    """The shipped default classifier, as `emotui watch` loads it without --model."""
    from emotui.learn.predictor import Predictor

    return Predictor.load()


# ---------------------------------------------------------------- training fixtures

def write_features(rows: list[dict], path: Path) -> Path:
    """Rows (path, label, subject, status, width, height and, for faces, landmarks/blendshapes/transform/bbox)
    -> a features Parquet file in emotui.data.schema.BASE_SCHEMA."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from emotui.data.schema import BASE_SCHEMA

    columns = {f.name: [row.get(f.name) for row in rows] for f in BASE_SCHEMA}
    pq.write_table(pa.Table.from_pydict(columns, schema=BASE_SCHEMA), path)
    return path


def shared_manifest(name: str) -> list[dict]:
    """The rows of ../shared/datasets/<name>/manifest.csv."""
    import csv

    with open(DATASETS / name / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def extract_subset(name: str, rows: list[dict], folder: Path, *, out_name: str | None = None,
                   columns: list[str] | None = None, **options) -> Path:  # noqa: ANN003
    """A CSV manifest of some of a shared dataset's rows (`columns`, default all, with `file` made an absolute
    `path`; a `file` that is absolute already stays), extracted by the product's own pipeline into
    <folder>/<out_name or name>.parquet (one worker unless `options` of run_extraction say otherwise: the suite
    runs beside nothing, and a pool start costs more than these 48x48 images)."""
    import csv

    columns = ["path", *[k for k in (columns or rows[0]) if k != "file"]]
    with open(folder / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({"path": DATASETS / name / r["file"], **{k: v for k, v in r.items() if k != "file"}}
                         for r in rows)
    from emotui.data.extraction import run_extraction

    out = folder / f"{out_name or name}.parquet"
    run_extraction(folder / f"{name}.csv", out, **{"workers": 1, **options})
    return out


@pytest.fixture(scope="session")
def ck_subset_features(tmp_path_factory) -> Path:  # noqa: ANN001
    """Features of 30 ckplus48 subjects (about 400 images), extracted for real once per session."""
    manifest = shared_manifest("ckplus48")
    subjects = sorted({row["subject"] for row in manifest})[:30]
    folder = tmp_path_factory.mktemp("features")
    return extract_subset("ckplus48", [r for r in manifest if r["subject"] in subjects], folder, out_name="ck-subset",
                          columns=["label", "subject"])


@pytest.fixture(scope="session")
def reference_model(ck_subset_features, tmp_path_factory) -> Path:  # noqa: ANN001
    """A tiny transformer, which uses person references (the shipped MLP judges each face alone), trained briefly."""
    from emotui.learn.training import run_training

    out = tmp_path_factory.mktemp("models") / "tiny"
    run_training([ck_subset_features], out, epochs=4, model_size="tiny", test_fraction=0.2, val_fraction=0.15, seed=1)
    return out


def watched_log(path: Path, predictor, *frames: int | None) -> list[str]:  # noqa: ANN001
    """A real prediction log at `path`: one session watching single_face.mp4 per entry of `frames` (how many frames,
    None for the whole video); returns the session ids."""
    from emotui.live.logstore import LogStore
    from emotui.live.monitor import run_monitor

    with LogStore(path) as store:
        return [run_monitor(MEDIA / "single_face.mp4", predictor=predictor, store=store, interval=0, fast=True,
                            frames=n).session for n in frames]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a test's folder without a log line per request."""

    def log_message(self, *args):  # noqa: ANN002
        pass


@contextlib.contextmanager
def serve_handler(handler):  # noqa: ANN001 - a request handler class (or a partial of one)
    """A loopback HTTP server with `handler` for as long as the block runs; yields its base URL and the server."""
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_folder(folder: Path, handler: type = QuietHandler):
    """A loopback HTTP server over `folder` for as long as the block runs; yields its base URL and the server."""
    import functools

    with serve_handler(functools.partial(handler, directory=str(folder))) as served:
        yield served


def extract_ferplus_subset(folder: Path, **options) -> Path:  # noqa: ANN003
    """Features of 96 ferplus images (FER+ votes, train and valid rows, no person ids), extracted for real into
    `folder` with run_extraction's `options` (the default mirror view unless they say otherwise)."""
    manifest = shared_manifest("ferplus")
    picked = [r for split in ("train", "valid") for c in ("happy", "neutral", "surprise", "anger")
              for r in [m for m in manifest if m["split"] == split and m["label"] == c][:12]]
    return extract_subset("ferplus", picked, folder, **options)


@pytest.fixture(scope="session")
def ferplus_subset_features(tmp_path_factory) -> Path:  # noqa: ANN001
    """extract_ferplus_subset with the defaults, once per session."""
    return extract_ferplus_subset(tmp_path_factory.mktemp("ferplus"))
