"""Charts and tables the panes draw: plotext line charts (through textual-plotext), probability bars, the
confusion matrix and per-class metrics."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from rich.measure import Measurement
from rich.progress_bar import ProgressBar as RichBar
from rich.table import Table
from rich.text import Text
from textual import work
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from ..labels import CLASSES
from .messages import RunsDeferred


# One colour per class, shared by the probability bars and the history chart, so the bars are the chart's legend.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {
    "anger": (230, 70, 60), "contempt": (200, 120, 230), "disgust": (120, 190, 60), "fear": (80, 200, 210),
    "happy": (250, 200, 50), "neutral": (190, 190, 190), "sad": (80, 130, 240), "surprise": (250, 140, 40),
}


def short_class(name: str) -> str:
    """The class name where columns are narrow: ang con dis fea hap neu sad sur (the first three letters tell
    the 8 apart)."""
    return name[:3]


def compact_number(value: float) -> str:
    """A small number that keeps its exponent in a narrow column: 8e-4, 7.5e-4, 0.01, 0.5."""
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


X_TICKS = 6  # at most: readable from a 30-column chart (80x24) up


def integer_ticks(low: float, high: float, most: int) -> list[int]:
    """At most `most` whole-number ticks from `low` to `high` on a 1-2-5 step: epochs and frames are counts."""
    low, high = math.floor(low), math.ceil(high)
    span = max(1, high - low)
    step = next(s * 10 ** k for k in range(12) for s in (1, 2, 5) if span / (s * 10 ** k) < max(1, most))
    first = math.ceil(low / step) * step
    return list(range(first, high + 1, step)) or [low]


# Below this height a line chart drops its title and x label (80x24's train pane); the frame and the x ticks take
# CHART_FRAME_ROWS of the rest.
SHORT_CHART_ROWS = 9
CHART_FRAME_ROWS = 3


def fraction_ticks(low: float, high: float, rows: int) -> list[float]:
    """Evenly spaced y ticks for a fixed range, as many as the plot's rows hold (plotext's own left 2 labels on a
    3-row 0-1 chart): 5 from 5 rows, 3 from 3, both ends from fewer."""
    count = 5 if rows >= 5 else 3 if rows >= 3 else 2
    return [low + (high - low) * i / (count - 1) for i in range(count)]


class CachedPlot(RunsDeferred, PlotextPlot):
    """A plotext plot built off the UI thread, once per data change and size, down to the lines Textual paints.

    Building a chart of 8 series takes tens of milliseconds of pure Python, and turning the picture (a Text of
    thousands of coloured braille cells) into the lines Textual paints takes as long again. Done in `render` (as
    PlotextPlot does), both would run on the UI thread on every repaint (a pane switch, a new picture) and hold up
    every key pressed meanwhile. Here a thread worker does both on a fresh Plot and `render_line` hands out the
    finished lines; the UI thread repaints the widget once per picture built.
    """

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.version = 0
        self.builds = 0  # pictures built (tests: updates are coalesced)
        self._setup: Callable[[Plot], None] = lambda plt: None
        self._built: tuple[tuple, list[Strip]] | None = None
        self._building: tuple | None = None  # one build at a time: data coming faster is built once, the latest
        self._failed: tuple | None = None

    @property
    def settled(self) -> bool:
        """The picture shown is the latest (tests and snapshots wait for this)."""
        return self._building is None and (self._built is None or self._built[0] == self._key())

    def set_plot(self, setup: Callable[[Plot], None]) -> None:
        """`setup` draws on a fresh Plot (in a worker thread): it must only read data it owns. The widget is
        repainted when the picture is ready, not now: the old picture is still what it would show."""
        self._setup = setup
        self.version += 1
        self._build_if_due()

    def _key(self) -> tuple:
        return (self.size.width, self.size.height, self.version, self._get_plotext_theme_name(self.app.theme))

    def _build_if_due(self) -> None:
        key = self._key()
        if self._building is None and (self._built is None or self._built[0] != key) and key != self._failed \
                and self.size.area:
            self._building = key
            self._build(key, self._setup)

    def render_line(self, y: int) -> Strip:
        self._build_if_due()  # a new size or theme
        width = self.size.width
        if self._built is None or y >= len(self._built[1]):
            return Strip.blank(width, self.visual_style.rich_style)
        strip = self._built[1][y]  # the last picture, at its size until the next one is built
        return strip.crop_extend(0, width, self.visual_style.rich_style) if strip.cell_length != width else strip

    @work(thread=True, exclusive=True, exit_on_error=False, group="plot")
    def _build(self, key: tuple, setup: Callable[[Plot], None]) -> None:
        width, height, _, theme = key
        plot = Plot()
        plot.plotsize(width, height)
        plot._set_size(width, height)  # textual-plotext does both; resizing misbehaves otherwise
        setup(plot)
        plot.theme(theme)
        try:
            text = Text.from_ansi(plot.build())
            # What Widget.render_line would make of `render()`'s Text, made here (workers run in the app's context).
            strips = Visual.to_strips(self, visualize(self, text, markup=False), width, height, self.visual_style,
                                      pad=True)
        except BaseException:
            self.post_call(self._show_built, key, None)  # the next data is built again; this one is not retried
            raise
        self.post_call(self._show_built, key, strips)

    def _show_built(self, key: tuple, strips: list[Strip] | None) -> None:
        self._building = None
        if strips is None:
            self._failed = key
        else:
            self._built = (key, strips)
            self.builds += 1
            self.refresh()
        self._build_if_due()  # data that came while this was built


class LineChart(CachedPlot):
    """Named series over numeric x values (plotext 5 wants numbers, not dates or strings)."""

    def __init__(self, title: str, *, ylim: tuple[float, float] | None = None, xlabel: str = "",
                 fitted: bool = False, **kwargs) -> None:  # noqa: ANN003
        """`fitted`: even y ticks over `ylim`, and no title or x label where the chart is short (SHORT_CHART_ROWS)."""
        super().__init__(**kwargs)
        self.fitted = fitted
        self.chart_title = title
        self.ylim = ylim
        self.xlabel = xlabel
        self.draw({}, {})

    def draw(self, xs: Mapping[str, Sequence[float]], ys: Mapping[str, Sequence[float]],
             legend: bool = True, colors: Mapping[str, tuple[int, int, int]] | None = None) -> None:
        series = [(name, list(xs[name]), list(y)) for name, y in ys.items() if len(xs[name])]
        title, xlabel, ylim, colors = self.chart_title, self.xlabel, self.ylim, dict(colors or {})
        fitted = self.fitted

        def setup(plt: Plot) -> None:
            _, height = plt.plot_size()
            short = fitted and height < SHORT_CHART_ROWS
            if not short:  # a short chart keeps its rows for the data: its legend and axes say what it is
                plt.title(title)
                if xlabel:
                    plt.xlabel(xlabel)
            if ylim:
                plt.ylim(*ylim)
            if ylim and fitted:
                ticks = fraction_ticks(*ylim, height - CHART_FRAME_ROWS - (0 if short else 2))
                plt.yticks(ticks, [f"{t:.2f}" for t in ticks])
            for name, x, y in series:
                plt.plot(x, y, label=name if legend else None, marker="braille", color=colors.get(name))
            xs_all = [v for _, x, _ in series for v in x]
            if xs_all:  # the x values are epochs or frame numbers: whole ticks (plotext's are 1.0 5.8 10.5)
                ticks = integer_ticks(min(xs_all), max(xs_all), X_TICKS)
                plt.xticks(ticks, [str(t) for t in ticks])

        self.set_plot(setup)


class MeasuredTable(DataTable):
    """A DataTable whose auto-width columns grow as cells go in, not later.

    DataTable measures new cells only when it is next idle, but it caches each rendered cell under a key without
    the column width: a repaint before that idle moment (a busy machine, a slow screen) cached the new cells cut
    to the old width, and they stayed cut ("can" for "cannot decode image") however wide the column became."""

    def _widen(self, column: object, cell: object) -> None:
        if getattr(column, "auto_width", False):
            column.content_width = max(column.content_width, cell_width(self.app.console, cell))

    def add_row(self, *cells: object, **kwargs):  # noqa: ANN003, ANN201
        for column, cell in zip(self.ordered_columns, cells):
            self._widen(column, cell)
        return super().add_row(*cells, **kwargs)

    def update_cell(self, row_key, column_key, value, *, update_width: bool = False) -> None:  # noqa: ANN001
        self._widen(self.columns.get(column_key), value)
        super().update_cell(row_key, column_key, value, update_width=update_width)


def cell_width(console, cell: object) -> int:  # noqa: ANN001
    """The width DataTable gives a cell: strings are read as markup, other values as text or renderables."""
    if isinstance(cell, str):
        cell = Text.from_markup(cell)
    elif not isinstance(cell, (Text, Table)) and not hasattr(cell, "__rich_console__"):
        cell = Text(f"{cell:.2f}" if isinstance(cell, float) else str(cell))
    return Measurement.get(console, console.options, cell).maximum


class BatchedTable(MeasuredTable):
    """A table that takes new rows at most every `every` seconds: new rows change its size, and Textual lays out
    the whole screen again for that (tens of milliseconds), so a row per event would slow every key down."""

    def __init__(self, *, every: float = 0.5, keep: int | None = None, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.every = every
        self.keep = keep
        self.pending: list[tuple] = []
        self.added = 0

    def on_mount(self) -> None:
        self.set_interval(self.every, self.flush)

    def queue_row(self, *cells: object) -> None:
        self.pending.append(cells)

    def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        for cells in rows[-self.keep:] if self.keep else rows:
            self.add_row(*cells, key=str(self.added))
            self.added += 1
        self.added += len(rows) - len(rows[-self.keep:]) if self.keep else 0
        while self.keep and self.row_count > self.keep:
            self.remove_row(next(iter(self.rows)))
        self.move_cursor(row=self.row_count - 1, animate=False)

    def watch_virtual_size(self) -> None:
        self._follow()

    def on_resize(self) -> None:
        self._follow()

    def _follow(self) -> None:
        """Keep the newest row in view while the cursor is on it. move_cursor scrolls once, against the sizes of
        that moment: rows added behind a modal screen, or a table that grows or shrinks later, left it short of the
        last row for good."""
        if self.row_count and self.cursor_row == self.row_count - 1:
            self.scroll_end(animate=False)

    def clear(self, columns: bool = False) -> BatchedTable:
        self.pending.clear()
        return super().clear(columns)


class FixedText(Static):
    """Text in a box whose size the CSS fixes. Static.update lays out the whole screen again by default, tens of
    milliseconds each; these update often (rates, tallies, the current label), so they only repaint.

    A string is read as rich markup, not Textual's: rich's is the one emotui.progress_render.shown() escapes
    (Textual's also reads `[$x]` and `[ bold ]` as tags), so a file name passed through shown() reads as it is."""

    def __init__(self, content="", **kwargs) -> None:  # noqa: ANN001, ANN003
        super().__init__(_rich(content), **kwargs)

    def update(self, content="", *, layout: bool = False) -> None:  # noqa: ANN001
        super().update(_rich(content), layout=layout)


def _rich(content):  # noqa: ANN001, ANN202
    return Text.from_markup(content) if isinstance(content, str) else content


class ProbabilityBars(FixedText):
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
            color = "rgb({},{},{})".format(*CLASS_COLORS[name])
            table.add_row(Text(name, style=f"{style} {color}".strip()),
                          RichBar(total=1.0, completed=p, width=width, complete_style=color, finished_style=color),
                          Text(f"{p:4.0%}" if probabilities else "  - ", style=style))
        self.update(table)


def confusion_table(matrix: Sequence[Sequence[int]], classes: Sequence[str], titled: bool = True) -> Table:
    """`titled=False` (a short screen): no title row; the corner says that rows are the true classes."""
    # Class names shortened both ways, one space between columns: 8 counts and the per-class table fit 80 columns.
    table = Table(title="Confusion (rows: true)" if titled else None, box=None, padding=(0, 0, 0, 1),
                  title_justify="left")
    table.add_column("" if titled else "true")
    for name in classes:
        table.add_column(Text(short_class(name)), justify="right", min_width=3)  # a model's own class names
    for i, (name, row) in enumerate(zip(classes, matrix)):
        table.add_row(Text(short_class(name)), *(Text(str(v), style="bold" if i == j else "dim" if not v else "")
                                  for j, v in enumerate(row)))
    return table


def per_class_table(per_class: Mapping[str, Mapping[str, float]], classes: Sequence[str],
                    titled: bool = True) -> Table:
    table = Table(title="Per class" if titled else None, box=None, padding=(0, 0, 0, 1), title_justify="left")
    for col, justify in (("class", "left"), ("prec", "right"), ("recall", "right"), ("f1", "right"),
                         ("n", "right")):
        table.add_column(col, justify=justify)
    for name in classes:
        m = per_class.get(name, {})
        table.add_row(Text(name), *(f"{float(m.get(k, 0)):.2f}" for k in ("precision", "recall", "f1")),
                      str(int(m.get("support", 0))))
    return table
