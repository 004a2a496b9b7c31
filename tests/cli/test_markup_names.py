"""Names that look like rich markup (`[`, `[/]`, `[bold]`, `[link=http://x]`) go through every command's output as
they read: no MarkupError, no style swallowing them (issue 30: a video `a[/]b.mp4` made `emotui sessions` fail).

Real runs, in this process (one model and landmarker load for all): a watch of a video in a folder `a[`, the
sessions and export of its log, predict on a copied face image, an extraction of a small dataset whose folder,
images and output carry such names, and its evaluation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from emotui.cli import cli
from emotui.commands.render import metrics_table
from emotui.labels import CLASSES

from ..conftest import DATASETS, MEDIA

HOSTILE = "][bold]b [link=x]c[ [$x]"  # after the folder `a[`, the path reads a[/][bold]b ... (no / in a name)


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def assert_clean(result, *names: str) -> None:  # noqa: ANN001
    """Exit status 0, no exception (a MarkupError is one), and every name in the output, literally."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output + result.stderr
    printed = result.stdout + result.stderr
    for name in names:
        assert name in printed, (name, printed)


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Path:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("names") / "a["
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def watched(place) -> tuple[str, str, object]:  # noqa: ANN001
    video = place / f"{HOSTILE}.mp4"
    shutil.copy(MEDIA / "single_face.mp4", video)
    db = place / "[link=http:" / "x]" / "log.db"
    db.parent.mkdir(parents=True)
    # as a user would type it: the `//` of the URL-like folder is the OS's single separator
    typed = str(db).replace("[link=http:/x]", "[link=http://x]")
    result = run("watch", "--source", str(video), "--headless", "--frames", "2", "--fast", "--db", typed)
    return str(video), str(db), result


def test_watch_names_the_source_and_the_log_as_given(watched):
    video, db, result = watched
    assert_clean(result, f"source open: file {video}", f"log {db}")


def test_sessions_lists_the_source_as_given(watched):
    video, db, _ = watched
    assert_clean(run("sessions", "--db", db), video, f"sessions in {db}")


def test_export_names_its_file_as_given(watched, place):
    _, db, _ = watched
    out = place / "][bold]out.csv"
    result = run("export", "--db", db, "--all", "--format", "csv", "--out", str(out))
    assert_clean(result, f"to {out}")
    assert out.read_text().count("\n") >= 2


def test_predict_names_every_image_as_given(place):
    face = place / f"{HOSTILE}.png"
    shutil.copy(next((DATASETS / "ckplus48" / "happy").glob("*.png")), face)
    broken = place / "][bold]broken.png"
    broken.write_bytes(b"not an image")
    result = run("predict", str(face), str(broken))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1  # the unreadable one; the other is still predicted
    assert f"{face} face 0:" in result.stdout
    assert str(broken) in result.stderr


@pytest.fixture(scope="module")
def extracted(place) -> tuple[Path, Path, object]:  # noqa: ANN001
    dataset = place / HOSTILE
    for label in ("happy", "sad"):
        (dataset / label).mkdir(parents=True)
        for i, image in enumerate(sorted((DATASETS / "ckplus48" / label).glob("*.png"))[:2]):
            shutil.copy(image, dataset / label / f"[bold]{i}.png")
    (dataset / "happy" / "[link=x]empty.png").write_bytes(b"")  # unreadable: its line in the progress
    (dataset / "[bold]odd").mkdir()  # a label no class maps to: the warning names it
    shutil.copy(dataset / "sad" / "[bold]0.png", dataset / "[bold]odd" / "x.png")
    out = place / "][link=x]f.parquet"
    result = run("extract", str(dataset), "--out", str(out), "--workers", "1")
    return dataset, out, result


def test_extract_progress_names_the_unreadable_image(extracted):
    dataset, _, result = extracted
    assert str(dataset / "happy" / "[link=x]empty.png") in result.stderr, result.stderr


def test_extract_summary_and_warnings_name_the_files_as_given(extracted):
    _, out, result = extracted
    assert_clean(result, "[bold]odd", str(out))


def test_evaluate_names_the_data_as_given(extracted):
    _, out, _ = extracted
    assert out.is_file()
    assert_clean(run("evaluate", str(out)), f"on {out}")


def test_the_metrics_tables_show_class_and_dataset_names_as_given():
    """train and evaluate print these: a model's own class names and the datasets' names come from outside."""
    classes = [*CLASSES[:-1], "[bold]x[/]"]
    per_class = {c: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 1} for c in classes}
    metrics = {"classes": classes, "per_class": per_class, "accuracy": 0.5, "macro_f1": 0.5,
               "confusion_matrix": [[1] * len(classes)] * len(classes),
               "by_source": {"a[/]b [link=http://x]": {"n": 3, "accuracy": 0.5, "macro_f1": 0.5}}}
    console = Console(record=True, width=400, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(metrics_table(metrics))
    text = console.export_text()
    assert "[bold]x[/]" in text and "a[/]b [link=http://x]" in text
