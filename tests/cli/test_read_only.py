"""Writing where the system refuses: the error names the file the user asked for, never emotui's internal files
(`.x.csv.6990.tmp`, `.f.parquet.lock`), and a mistyped folder is an error, not a new tree (issue 30).

The read-only folder is a tmpfs remounted read-only in a private mount namespace: chmod would not stop root."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from ..conftest import DATASETS, REPO, watched_log


def _can_mount_read_only() -> bool:
    try:
        return subprocess.run(["unshare", "-r", "-m", "sh", "-c",
                               "mount -t tmpfs tmpfs /mnt && mount -o remount,ro /mnt"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


read_only_mounts = pytest.mark.skipif(not _can_mount_read_only(), reason="needs unshare and read-only tmpfs mounts")


def in_read_only_folder(folder, script: str) -> subprocess.CompletedProcess:
    """Runs `script` (sh) with a read-only tmpfs at `folder`; `$EMOTUI` is this checkout's emotui command."""
    folder.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMOTUI": f"{shlex.quote(sys.executable)} -m emotui"}
    where = shlex.quote(str(folder))
    return subprocess.run(["unshare", "-r", "-m", "sh", "-c",
                           f"mount -t tmpfs tmpfs {where} && mount -o remount,ro {where} && {script}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def log(tmp_path_factory, predictor):  # noqa: ANN001
    path = tmp_path_factory.mktemp("log") / "emotui.db"
    watched_log(path, predictor, 2)
    return path


@read_only_mounts
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_export_into_a_read_only_folder_names_the_export(log, tmp_path, fmt):
    target = tmp_path / "ro" / f"x.{fmt}"
    result = in_read_only_folder(target.parent, f"$EMOTUI export --db {log} --all --format {fmt} --out {target}")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"emotui: error: cannot write {target}: Read-only file system"


@read_only_mounts
def test_an_extraction_into_a_read_only_folder_names_the_features_file(tmp_path):
    out = tmp_path / "ro" / "f.parquet"
    result = in_read_only_folder(out.parent, f"$EMOTUI extract {DATASETS / 'kaggle-layout-sample'} --out {out} "
                                             "--workers 1")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"emotui: error: cannot write {out}: Read-only file system"


@read_only_mounts
def test_a_read_only_parts_folder_names_the_features_file_and_leaves_no_part(tmp_path):
    out = tmp_path / "w" / "f.parquet"
    out.parent.mkdir()
    parts = out.with_name(f"{out.name}.parts")  # where each finished batch goes first (emotui.data.parts)
    result = in_read_only_folder(parts, f"$EMOTUI extract {DATASETS / 'kaggle-layout-sample'} --out {out} "
                                        f"--workers 1; code=$?; ls -A {parts}; exit $code")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"emotui: error: cannot write {out}: Read-only file system"
    assert result.stdout == ""  # no part, no temporary part


def test_a_file_where_the_parts_folder_goes_is_named_once(tmp_path):
    out = tmp_path / "f.parquet"
    in_the_way = tmp_path / "f.parquet.parts"
    in_the_way.write_text("mine\n")
    result = subprocess.run([sys.executable, "-m", "emotui", "extract", str(DATASETS / "kaggle-layout-sample"),
                             "--out", str(out), "--workers", "1"], capture_output=True, text=True, timeout=120,
                             check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"emotui: error: cannot write {out}: {in_the_way} is in the way (a file, where emotui keeps the parts of an "
        "extraction in a folder): move it")
    assert in_the_way.read_text() == "mine\n"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_into_a_missing_folder_is_refused_and_creates_nothing(log, tmp_path, fmt):
    target = tmp_path / "nonexistent" / "dir" / f"x.{fmt}"
    result = subprocess.run([sys.executable, "-m", "emotui", "export", "--db", str(log), "--all", "--format", fmt,
                             "--out", str(target)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"emotui: error: cannot write {target}: the folder {target.parent} does not exist"
    assert not (tmp_path / "nonexistent").exists()
