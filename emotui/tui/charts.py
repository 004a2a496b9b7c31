"""Charts and tables the panes draw: plotext line charts (through textual-plotext), probability bars, the
confusion matrix and per-class metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.progress_bar import ProgressBar as RichBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ..labels import CLASSES


class LineChart(PlotextPlot):
    """Named series over numeric x values (plotext 5 wants numbers, not dates or strings)."""

    def __init__(self, title: str, *, ylim: tuple[float, float] | None = None, xlabel: str = "",
                 **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.chart_title = title
        self.ylim = ylim
        self.xlabel = xlabel
        self.draw({}, {})

    def draw(self, xs: Mapping[str, Sequence[float]], ys: Mapping[str, Sequence[float]],
             legend: bool = True) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.chart_title)
        if self.xlabel:
            plt.xlabel(self.xlabel)
        if self.ylim:
            plt.ylim(*self.ylim)
        for name, y in ys.items():
            x = list(xs[name])
            if x:
                plt.plot(x, list(y), label=name if legend else None, marker="braille")
        self.refresh()


class ProbabilityBars(Static):
    """One bar per class, in the model's class order."""

    def show(self, probabilities: Mapping[str, float] | None, width: int = 14) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(width=8)
        table.add_column(width=width)
        table.add_column(justify="right", width=4)
        best = max(probabilities, key=probabilities.get) if probabilities else None
        for name in CLASSES:
            p = float((probabilities or {}).get(name, 0.0))
            style = "bold" if name == best else ""
            table.add_row(Text(name, style=style), RichBar(total=1.0, completed=p, width=width),
                          Text(f"{p:4.0%}" if probabilities else "  - ", style=style))
        self.update(table)


def confusion_table(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> Table:
    table = Table(title="Confusion (rows: true)", box=None, padding=(0, 1), title_justify="left")
    table.add_column("")
    for name in classes:
        table.add_column(name[:3], justify="right")
    for i, (name, row) in enumerate(zip(classes, matrix)):
        table.add_row(name[:8], *(Text(str(v), style="bold" if i == j else "dim" if not v else "")
                                  for j, v in enumerate(row)))
    return table


def per_class_table(per_class: Mapping[str, Mapping[str, float]], classes: Sequence[str]) -> Table:
    table = Table(title="Per class", box=None, padding=(0, 1), title_justify="left")
    for col, justify in (("class", "left"), ("prec", "right"), ("recall", "right"), ("f1", "right"),
                         ("n", "right")):
        table.add_column(col, justify=justify)
    for name in classes:
        m = per_class.get(name, {})
        table.add_row(name, *(f"{float(m.get(k, 0)):.2f}" for k in ("precision", "recall", "f1")),
                      str(int(m.get("support", 0))))
    return table
