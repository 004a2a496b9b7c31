"""Rich output the commands share: a console for their tables, and the metrics tables of `train` and `evaluate`."""

from __future__ import annotations

import io
import sys

from rich.console import Console, Group
from rich.table import Table

from ..progress_render import shown

# Off a terminal (a pipe, a file, a CI log) there is no screen to fit: rich would assume 80 columns, cut words
# with an ellipsis ("contem…") and pad every line to the width.
UNBOUNDED_WIDTH = 10_000


class _TrimmedLines(io.TextIOBase):
    """Writes each line without the spaces rich pads it with."""

    def __init__(self, out: io.TextIOBase) -> None:
        self.out, self.pending = out, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.out.write(line.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.out.write(self.pending)
            self.pending = ""
        self.out.flush()


def output_console(stderr: bool = False) -> Console:
    """A terminal's own width on a terminal; elsewhere, lines as long as their content, never cut or padded."""
    if Console(stderr=stderr).is_terminal:
        return Console(stderr=stderr)
    return Console(file=_TrimmedLines(sys.stderr if stderr else sys.stdout), width=UNBOUNDED_WIDTH)


def metrics_table(metrics: dict) -> Group:
    """Class and dataset names come from the model and the data (a features file `a[b].parquet`): shown()."""
    classes = metrics["classes"]
    per_class = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "F1", "support"):
        per_class.add_column(col, justify="left" if col == "class" else "right")
    for name in classes:
        row = metrics["per_class"][name]
        per_class.add_row(shown(name), f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    confusion = Table(title="confusion matrix (rows = true class)", title_justify="left")
    confusion.add_column("true \\ predicted")
    for name in classes:
        confusion.add_column(shown(name[:8]), justify="right")
    for name, row in zip(classes, metrics["confusion_matrix"]):
        confusion.add_row(shown(name), *(str(v) for v in row))
    summary = Table.grid(padding=(0, 2))
    summary.add_row("accuracy", f"{metrics['accuracy']:.3f}")
    summary.add_row("macro-F1", f"{metrics['macro_f1']:.3f}")
    if "accuracy_all" in metrics:
        summary.add_row("accuracy, no-face images as errors", f"{metrics['accuracy_all']:.3f}")
        summary.add_row("images / without a face", f"{metrics['n_images']} / {metrics['n_no_face']}")
    if "n_with_reference" in metrics:
        summary.add_row("faces judged against their person's reference", f"{metrics['n_with_reference']}")
    if "ece" in metrics:
        summary.add_row("expected calibration error", f"{metrics['ece']:.3f}")
    parts = [summary]
    if metrics.get("by_source"):
        by_source = Table(title="by dataset", title_justify="left")
        for col in ("dataset", "faces", "accuracy", "macro-F1", "images", "accuracy, missed faces wrong"):
            by_source.add_column(col, justify="left" if col == "dataset" else "right")
        for name, m in metrics["by_source"].items():
            by_source.add_row(shown(name), str(m["n"]), f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}",
                              str(m.get("n_images", "")),
                              f"{m['accuracy_all']:.3f}" if "accuracy_all" in m else "")
        parts.append(by_source)
    return Group(*parts, per_class, confusion)
