"""The README's command blocks run as written, in order, as a newcomer runs them: in a fresh folder, with the
datasets at ../shared. Kept CI-cheap by the rules in the tables below, which are all this test changes."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from ..conftest import DATASETS, MEDIA, REPO

# Never run: the first two blocks install and test (tests/cli/test_readme.py checks them); the dashboard and
# `emotui serve` open a screen or a server that waits for a person.
SKIPPED_BLOCKS = 2
SKIPPED_SUBCOMMANDS = (None, "serve")  # None: `emotui [--option VALUE...]`, the dashboard

# What each command runs as instead: (pattern, replacement), applied in order to every command.
REWRITES = [
    (r"^emotui extract ", "emotui extract --workers 1 "),  # no worker pool for a hundred 48x48 crops
    (r"^emotui train ", "emotui train --epochs 1 "),  # the recipe's epochs, not its figures, are not under test
    (r"--folds 5\b", "--folds 2"),
]

# ../shared as the commands see it: these datasets cut to a few persons (symlinks to the real images, and the
# manifest's rows for them); everything else of ../shared linked whole.
SUBSETS = {  # dataset: (persons kept, images kept per person)
    "ckplus48": (8, 6),
    "muxspace-fe": (12, 3),
    "ferplus": (40, 1),  # one image a person: 40 images, train and valid split rows both
}


def readme_commands() -> list[tuple[int, str]]:
    """(block number, command) of every ```bash block of the README, one command a line, comments kept."""
    blocks = re.findall(r"```bash\n(.+?)\n```", (REPO / "README.md").read_text(), flags=re.S)
    return [(i, line) for i, block in enumerate(blocks) for line in block.splitlines() if line.strip()]


def subcommand(command: str) -> str | None:
    from emotui.cli import COMMANDS as names
    words = shlex.split(command, comments=True)
    return next((w for w in words[1:] if w in names), None) if words and words[0] == "emotui" else "(not emotui)"


def rewritten(command: str) -> str:
    for pattern, replacement in REWRITES:
        command = re.sub(pattern, replacement, command)
    return command


def _subset_shared(shared: Path) -> None:
    (shared / "datasets").mkdir(parents=True)
    for entry in MEDIA.parent.iterdir():
        if entry.name != "datasets":
            (shared / entry.name).symlink_to(entry)
    for entry in DATASETS.iterdir():
        if entry.name not in SUBSETS:
            (shared / "datasets" / entry.name).symlink_to(entry)
    for name, (n_persons, per_person) in SUBSETS.items():
        with open(DATASETS / name / "manifest.csv", newline="") as fh:
            reader = csv.DictReader(fh)
            rows, fields = list(reader), reader.fieldnames
        if name == "ferplus":  # both of its splits: the held-out valid rows are what --test-on and training test
            rows = [r for r in rows if r["split"] == "train"][:n_persons // 2] + \
                   [r for r in rows if r["split"] == "valid"][:n_persons // 2]
        kept, count = [], {}
        persons = sorted({r["subject"] for r in rows})[:n_persons]
        for row in rows:
            if row["subject"] in persons and count.get(row["subject"], 0) < per_person:
                count[row["subject"]] = count.get(row["subject"], 0) + 1
                kept.append(row)
        root = shared / "datasets" / name
        for row in kept:
            (root / row["file"]).parent.mkdir(parents=True, exist_ok=True)
            (root / row["file"]).symlink_to(DATASETS / name / row["file"])
        with open(root / "manifest.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)


def test_the_readme_names_what_it_skips_and_rewrites():
    commands = readme_commands()
    assert [c for b, c in commands if b < SKIPPED_BLOCKS] and all(c.startswith("python3 -m venv") for b, c in commands
                                                                 if b < SKIPPED_BLOCKS)
    run = [c for b, c in commands if b >= SKIPPED_BLOCKS and subcommand(c) not in SKIPPED_SUBCOMMANDS]
    assert {subcommand(c) for c in run} >= {"extract", "train", "evaluate", "predict"}
    assert "(not emotui)" not in {subcommand(c) for c in run}, run
    assert rewritten("emotui train a.parquet --folds 5 --out x") == "emotui train --epochs 1 a.parquet --folds 2 --out x"


def test_every_readme_command_runs_in_order(tmp_path):
    shared, work = tmp_path / "shared", tmp_path / "checkout"
    _subset_shared(shared)
    work.mkdir()
    env = {**os.environ, "EMOTUI_DATA": str(work / "data"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
           f"{os.environ.get('PATH', '')}", "COLUMNS": "120"}
    env.pop("EMOTUI_DB", None)
    ran = []
    for block, command in readme_commands():
        if block < SKIPPED_BLOCKS or subcommand(command) in SKIPPED_SUBCOMMANDS:
            continue
        line = rewritten(command)
        res = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"README block {block}: {command}\nran as: {line}\n{res.stderr[-3000:]}"
        ran.append(subcommand(command))
    assert ran.count("extract") == 4 and ran.count("train") == 3
    assert (work / "data" / "features" / "ckplus48.parquet").is_file() and (work / "models" / "mine").is_dir()
