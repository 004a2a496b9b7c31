"""Readers of files from outside, searched by Hypothesis (issue 30, item 5): random bytes, and real files truncated
or with bytes overwritten, into the features-file reader, the checkpoint loader and the log database opener give
a one-line EmotuiError (or, where a reader documents it, None): never another exception, never a hang.

Bounded for CI: 40 examples a reader; EMOTUI_HYPOTHESIS_EXAMPLES=2000 searches longer. No example database is
kept (nothing written into the checkout); a failure prints the example that reproduces it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emotui.errors import EmotuiError

from .conftest import REPO, write_features

EXAMPLES = int(os.environ.get("EMOTUI_HYPOTHESIS_EXAMPLES", "40"))
SEARCH = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# A reader that hangs fails here, not at CI's own timeout.
pytestmark = pytest.mark.timeout(60 + EXAMPLES * 3)


class Damage:
    """What was done to a file, applied to its bytes by `on`; the repr a failing example prints is this, not the
    megabytes of a damaged model."""

    def __init__(self, kind: str, **how) -> None:  # noqa: ANN003
        self.kind, self.how = kind, how

    def __repr__(self) -> str:
        return f"Damage({self.kind!r}, {', '.join(f'{k}={v!r}' for k, v in self.how.items())})"

    def on(self, seed: bytes) -> bytes:
        if self.kind == "random":
            return self.how["data"]
        if self.kind == "cut":
            return seed[:self.how["at"]]
        if self.kind == "junk after":
            return seed + self.how["junk"]
        data = bytearray(seed)
        for at, value in self.how["edits"]:
            data[at % len(data)] = value
        return bytes(data)


def damaged(n: int) -> st.SearchStrategy[Damage]:
    """For a file of n bytes: anything at all; the file cut short; some of its bytes overwritten (anywhere, or in
    its last 256 bytes, where Parquet keeps its footer); junk after it."""
    byte = st.integers(0, 255)
    return st.one_of(
        st.builds(lambda data: Damage("random", data=data), st.binary(max_size=2048)),
        st.builds(lambda at: Damage("cut", at=at), st.integers(0, n - 1)),
        st.builds(lambda edits: Damage("overwritten", edits=edits),
                  st.lists(st.tuples(st.integers(0, n - 1), byte), min_size=1, max_size=24)),
        st.builds(lambda edits: Damage("overwritten", edits=edits),
                  st.lists(st.tuples(st.integers(max(0, n - 256), n - 1), byte), min_size=1, max_size=8)),
        st.builds(lambda junk: Damage("junk after", junk=junk), st.binary(min_size=1, max_size=256)),
    )


def one_line_error(call, *, none_ok: bool = False):  # noqa: ANN001, ANN201
    """Runs `call`; an EmotuiError must be one line. Any other exception fails the example."""
    try:
        result = call()
    except EmotuiError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)
        return None
    assert none_ok or result is not None
    return result


# ---------------------------------------------------------------- features files

def _features_seed(folder: Path) -> bytes:
    import pyarrow.parquet as pq

    from emotui.data.features_file import completeness_metadata

    face = {"path": "/d/happy/a.png", "label": "happy", "subject": "s1", "status": "ok", "width": 64, "height": 64,
            "landmarks": [0.5] * (478 * 3), "blendshapes": [0.1] * 52, "transform": [1.0] * 16,
            "bbox": [1.0, 2.0, 30.0, 40.0], "face": 0}
    missed = {"path": "/d/sad/b.png", "label": "sad", "subject": "s2", "status": "no_face", "width": 64,
              "height": 64, "error": "no face found", "face": 0}
    path = write_features([face, missed], folder / "seed.parquet")
    table = pq.read_table(path)
    marks = {**(table.schema.metadata or {}), **completeness_metadata("/d", 3, 2)}
    pq.write_table(table.replace_schema_metadata(marks), path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def features_seed(tmp_path_factory) -> bytes:  # noqa: ANN001
    return _features_seed(tmp_path_factory.mktemp("seed"))


def test_the_seeds_are_sound(features_seed, tmp_path):
    """Each search starts from a file its reader accepts: what the search finds comes from the damage."""
    from emotui.data.features import read_feature_table

    path = tmp_path / "f.parquet"
    path.write_bytes(features_seed)
    assert len(read_feature_table(path)) == 2
    model = _model_copy(tmp_path / "model")
    from emotui.learn.checkpoint import load_checkpoint

    assert load_checkpoint(model)[1]["format"] == "emotui.checkpoint"
    with _log_store(_log_seed(tmp_path / "log.db"), read_only=True) as store:
        assert [s.id for s in store.sessions()] == ["s1"]


def test_features_file_readers_refuse_damage_in_one_line(features_seed, tmp_path_factory, capsys):
    from emotui.data.features import read_feature_table
    from emotui.data.features_file import (
        check_features_file,
        completeness,
        features_state,
    )

    folder = tmp_path_factory.mktemp("features")

    @SEARCH
    @given(damage=damaged(len(features_seed)))
    def search(damage: Damage) -> None:
        path = folder / "f.parquet"
        path.write_bytes(damage.on(features_seed))
        # completeness and features_state document None for a file they cannot read
        one_line_error(lambda: completeness(path), none_ok=True)
        one_line_error(lambda: features_state(path), none_ok=True)
        one_line_error(lambda: check_features_file(path), none_ok=True)
        one_line_error(lambda: read_feature_table(path))

    search()
    capsys.readouterr()  # the incomplete-file warnings


# ---------------------------------------------------------------- checkpoints

def _model_copy(folder: Path) -> Path:
    shutil.copytree(REPO / "models" / "default", folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.md"))
    return folder


@pytest.fixture(scope="module")
def model_seed(tmp_path_factory) -> tuple[bytes, dict]:  # noqa: ANN001
    folder = _model_copy(tmp_path_factory.mktemp("model-seed"))
    return (folder / "model.safetensors").read_bytes(), json.loads((folder / "config.json").read_text())


json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 600) | st.floats(allow_nan=True)
                           | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=4), max_leaves=12)


def configs(config: dict) -> st.SearchStrategy[bytes]:
    """config.json as random bytes, cut short, or as JSON with some of its fields (or its architecture's) given
    other values; small numbers only: a dim of 10**9 is a big model to allocate, not a damaged file."""
    text = json.dumps(config).encode()
    arch = config["architecture"]

    def replaced(changes: dict, arch_changes: dict) -> bytes:
        return json.dumps({**config, **changes, "architecture": {**arch, **arch_changes}}).encode()

    return st.one_of(
        damaged(len(text)).map(lambda damage: damage.on(text)),
        st.builds(replaced, st.dictionaries(st.sampled_from(sorted(config)), json_values, max_size=3),
                  st.dictionaries(st.sampled_from(sorted(arch)), json_values, max_size=3)),
    )


def _known(config: dict, **changes) -> bytes:  # noqa: ANN003
    return json.dumps({**config, **changes}).encode()


def test_the_checkpoint_loader_refuses_damage_in_one_line(model_seed, tmp_path_factory):
    from emotui.learn.checkpoint import load_checkpoint

    weights_seed, config = model_seed
    unchecked = {k: v for k, v in config.items() if k != "weights_sha256"}  # damaged weights reach the parser
    folder = tmp_path_factory.mktemp("model")
    arch = config["architecture"]

    @SEARCH
    @example(config_bytes=_known(config, feature_spec=None), weights=None)
    @example(config_bytes=_known(config, format_version="2"), weights=None)
    @example(config_bytes=_known(unchecked, weights_sha256=5), weights=None)
    @example(config_bytes=_known(config, architecture={**arch, "wide": -3}), weights=None)
    @example(config_bytes=_known(config, architecture={**arch, "dim": 32}), weights=None)  # tensors that do not fit
    # sizes are compared before anything is allocated: built for real, this one would ask for 10 GB
    @example(config_bytes=_known(config, architecture={**arch, "wide": 10 ** 6}), weights=None)
    @given(config_bytes=st.one_of(st.just(json.dumps(unchecked).encode()), configs(unchecked), configs(config)),
           weights=st.one_of(st.none(), damaged(len(weights_seed))))
    def search(config_bytes: bytes, weights: Damage | None) -> None:
        (folder / "config.json").write_bytes(config_bytes)
        (folder / "model.safetensors").write_bytes(weights.on(weights_seed) if weights else weights_seed)
        one_line_error(lambda: load_checkpoint(folder))

    search()


# ---------------------------------------------------------------- the prediction log

def _log_seed(path: Path) -> Path:
    from emotui.live.log_schema import PREDICTION_COLUMNS
    from emotui.live.logstore import LogStore

    with LogStore(path):  # the schema, as a writer makes it
        pass
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO sessions (id, started, ended, source, settings, ended_cleanly, end_reason, host) "
                     "VALUES ('s1', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:09.000000Z', 'a[/]b.mp4', "
                     "'{\"interval\": 5}', 1, 'source ended', 'h')")
        values = {c: None for c in PREDICTION_COLUMNS} | {"session": "s1", "time": "2026-01-01T00:00:01.000000Z",
                                                         "frame": 0, "label": "happy", "confidence": 0.9}
        conn.execute(f"INSERT INTO predictions ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                     list(values.values()))
    conn.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it: the bytes are the whole log
    conn.close()
    return path


def _log_store(path: Path, **options):  # noqa: ANN003, ANN202
    from emotui.live.logstore import LogStore

    return LogStore(path, **options)


@pytest.fixture(scope="module")
def log_seed(tmp_path_factory) -> bytes:  # noqa: ANN001
    return _log_seed(tmp_path_factory.mktemp("log-seed") / "emotui.db").read_bytes()


def test_the_log_opener_refuses_damage_in_one_line(log_seed, tmp_path_factory):
    folder = tmp_path_factory.mktemp("log")

    @SEARCH
    @given(damage=damaged(len(log_seed)))
    def search(damage: Damage) -> None:
        path = folder / "emotui.db"
        path.write_bytes(damage.on(log_seed))

        def read() -> list:
            # what `emotui sessions` and `emotui export --all` do with the file
            with _log_store(path, read_only=True) as store:
                return [store.sessions(), list(store.rows(all_sessions=True))]

        one_line_error(read)

    search()
