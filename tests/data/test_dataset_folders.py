"""Folders a dataset holds that are not plain folders: symlinks (followed, loops guarded) and unlistable ones
(left out and reported, never silently missing from the counts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.datasets import discover

from ..conftest import DATASETS, REPO

CK = DATASETS / "ckplus48"


def _class_folder(root: Path, label: str, n: int = 3) -> list[Path]:
    (root / label).mkdir(parents=True)
    return [Path(shutil.copy(src, root / label / src.name)) for src in sorted((CK / label).iterdir())[:n]]


def test_a_symlinked_class_folder_is_followed_and_a_loop_walked_once(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    _class_folder(elsewhere, "sad", 4)
    root = tmp_path / "ds"
    _class_folder(root, "happy")
    (root / "sad").symlink_to(elsewhere / "sad", target_is_directory=True)
    (root / "happy" / "again").symlink_to(root, target_is_directory=True)  # a loop back to the root
    frame = discover(root)
    assert frame["label"].value_counts().to_dict() == {"sad": 4, "happy": 3}
    assert all(p.startswith(str(root / "sad")) for p in frame.loc[frame["label"] == "sad", "path"])
    assert frame.attrs["unreadable_folders"] == []


def _discover_unprivileged(root: Path) -> subprocess.CompletedProcess:
    """Root reads every folder whatever its mode: the folder is listed by a process without the capabilities
    that let root pass permission checks (util-linux setpriv), or by an ordinary user as such."""
    code = ("import json, sys; from emotui.data.datasets import discover; f = discover(sys.argv[1]); "
            "print(json.dumps({'counts': f['label'].value_counts().to_dict(), "
            "'unreadable': f.attrs['unreadable_folders']}))")
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no way to make a folder unlistable")
        drop = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]
    return subprocess.run([*prefix, sys.executable, "-c", code, str(root)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path):
    root = tmp_path / "ds"
    _class_folder(root, "happy")
    _class_folder(root, "sad")
    os.chmod(root / "sad", 0o000)
    try:
        probe = _discover_unprivileged(root)
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout) == {"counts": {"happy": 3}, "unreadable": [str(root / "sad")]}
    finally:
        os.chmod(root / "sad", 0o755)


def test_extract_warns_about_unlistable_folders_and_records_them(tmp_path, monkeypatch):
    """The warning line and the --json summary, through the real CLI (the folder is made unlistable for root by
    a failing listing: the unprivileged test above covers the real permission)."""
    root = tmp_path / "ds"
    _class_folder(root, "happy", 2)
    _class_folder(root, "sad", 2)
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(root / "sad"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = CliRunner().invoke(cli, ["extract", str(root), "--out", str(tmp_path / "f.parquet"), "--workers", "1",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert f"left out 1 folder(s) that cannot be listed: {root / 'sad'}" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["unreadable_folders"] == [str(root / "sad")] and summary["total"] == 2


def test_a_kaggle_set_that_cannot_be_listed_is_reported(tmp_path):
    root = tmp_path / "kaggle"
    for set_id in ("0", "1"):
        (root / "images" / set_id).mkdir(parents=True)
        for src in sorted((DATASETS / "kaggle-layout-sample" / "images" / set_id).iterdir())[:2]:
            shutil.copy(src, root / "images" / set_id / src.name)
    os.chmod(root / "images" / "1", 0o000)
    try:
        probe = _discover_unprivileged(root)
        assert probe.returncode == 0, probe.stderr
        seen = json.loads(probe.stdout)
        assert sum(seen["counts"].values()) == 2 and seen["unreadable"] == [str(root / "images" / "1")]
    finally:
        os.chmod(root / "images" / "1", 0o755)


def test_images_without_a_person_id_are_not_counted_as_persons(tmp_path):
    from emotui.data.features import persons_in

    _class_folder(tmp_path / "ds", "happy")
    _class_folder(tmp_path / "ds", "sad", 2)
    frame = discover(tmp_path / "ds")  # no manifest: each image is its own subject
    subjects = ("ds/" + frame["subject"]).to_numpy(dtype=object)  # FeatureSet's "<file>/<subject>"
    assert persons_in(subjects, frame["path"].to_numpy(dtype=object)) == (0, 5)
    (tmp_path / "ds" / "manifest.csv").write_text(
        "file,label,subject\n" + "".join(f"{Path(p).parent.name}/{Path(p).name},{lab},S{i % 2}\n"
                                         for i, (p, lab) in enumerate(zip(frame["path"], frame["label"]))))
    named = discover(tmp_path / "ds")
    assert persons_in(("ds/" + named["subject"]).to_numpy(dtype=object), named["path"].to_numpy(dtype=object)) == (2, 0)
