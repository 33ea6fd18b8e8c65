"""A live plot of named curves (any runner's Points): one trace per series, updated with setData."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from collabsheet.gui.runtime.series import DASHED, MARKERS, Points

MAX_POINTS = 20_000  # per trace; beyond this every other point is dropped, so setData stays cheap in a long Play
COLORS = ((214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75),
          (227, 119, 194), (23, 190, 207))  # one per series, in turn, so two runs of one optimizer differ too
PLAIN_COLOR = (30, 30, 30)  # dashed and marker-only series
# pyqtgraph's auto downsampling picks its factor from the whole view's width: a short series (a few steps at lr 100
# at the end of a 9,000-step run) would be cut to len // factor = 0 points and drawn as nothing. Series this short
# are drawn point for point.
DOWNSAMPLE_FROM = 2_000
INSET_HEIGHT = 110  # pixels of a plot for another x axis (a solve's iterations)
EMPTY_RANGE = (0.0, 1.0)  # x, and y (on a log axis: 1 to 10), of a plot with no curve
CROWDED = 3  # a log axis labels only the 1-2-3-5 ticks of a level with more ticks than this (0.6 … 0.9 would overlap)


def downsample_when_long(item: pg.PlotDataItem, n: int) -> None:
    """pyqtgraph thins a curve of n points to the screen's pixels only once it is long (DOWNSAMPLE_FROM)."""
    long = n >= DOWNSAMPLE_FROM
    if item.opts["autoDownsample"] != long:
        item.setDownsampling(auto=long, method="peak")


class LogAxis(pg.AxisItem):
    """A log-scale axis that labels 1, 2, 3 and 5 of each decade when its in-between ticks would crowd together."""

    def logTickStrings(self, values, scale, spacing):
        labels = super().logTickStrings(values, scale, spacing)
        if len(values) <= CROWDED:
            return labels
        mantissas = np.rint(10 ** (np.asarray(values, dtype=float) % 1.0)).astype(int)
        return [label if m in (1, 2, 3, 5, 10) else "" for label, m in zip(labels, mantissas)]


class _Trace:
    """A growing (x, y) buffer behind one PlotDataItem."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        self.item = item
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0
        self.dotted = False  # drawn with a dot on each point: a line through one point draws nothing

    def extend(self, x0: int, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.x):
            size = max(need, 2 * len(self.x))
            self.x = np.resize(self.x, size)
            self.y = np.resize(self.y, size)
        self.x[self.n:need] = np.arange(x0, x0 + len(values))
        self.y[self.n:need] = values
        self.n = need
        if self.n > MAX_POINTS:
            keep = np.r_[0:self.n - 1:2, self.n - 1]
            self.n = len(keep)
            self.x[:self.n], self.y[:self.n] = self.x[keep], self.y[keep]

    def show(self) -> None:
        downsample_when_long(self.item, self.n)
        y = self.y[:self.n]
        shown = np.isfinite(y) & (y > 0)
        self.item.setData(self.x[:self.n], np.where(shown, y, np.nan))
        # A series with one point to draw (a segment whose first step diverged, lr 100) would be named in the legend
        # and be nowhere on the plot: it gets a dot until it has a line.
        lone = int(shown.sum()) == 1 and self.item.opts.get("pen") is not None
        if lone != self.dotted:
            self.dotted = lone
            pen = self.item.opts["pen"]
            self.item.setSymbol("o" if lone else None)
            if lone:
                self.item.setSymbolSize(7)
                self.item.setSymbolBrush(pg.mkPen(pen).color())
                self.item.setSymbolPen(None)


class QCurvePlot(QWidget):
    """Curves of named series against a shared x axis, optionally on a log scale, with a legend."""

    def __init__(self, y_label: str, x_label: str, log_y: bool = False, axes: dict[str, str] | None = None,
                 parent=None) -> None:
        """axes: other x axes by name → label; a series on one of them is drawn in its own small plot below."""
        super().__init__(parent)
        self._y_label, self._log_y = y_label, log_y
        self.plot = self._new_plot(x_label)
        self.plot.setMinimumHeight(150)
        self.plot.getViewBox().setLimits(xMin=0)  # steps start at 0; a lone first point should not centre on it
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor=(40, 40, 40))
        self.insets = {name: self._new_plot(label, height=INSET_HEIGHT) for name, label in (axes or {}).items()}
        for inset in self.insets.values():
            inset.addLegend(offset=(-10, 5), labelTextColor=(40, 40, 40))
            inset.hide()
        self.traces: dict[int, _Trace] = {}
        self._dirty: set[int] = set()
        self._colors = 0  # segments coloured so far
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        for inset in self.insets.values():
            layout.addWidget(inset)

    def _new_plot(self, x_label: str, height: int | None = None) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w", axisItems={"left": LogAxis("left")} if self._log_y else None)
        plot.setLogMode(y=self._log_y)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("left", self._y_label)
        plot.setLabel("bottom", x_label)
        plot.getAxis("left").enableAutoSIPrefix(False)  # a diverged run must not turn the axis into "(x1e+21)"
        if height:
            plot.setFixedHeight(height)
        return plot

    def clear(self) -> None:
        """Drop every trace."""
        for trace in self.traces.values():
            trace.item.getViewBox().removeItem(trace.item)
        for plot in (self.plot, *self.insets.values()):
            plot.getPlotItem().legend.clear()
            # An empty plot keeps whatever range it last had (a diverged run's 1e-20 … 1e92 after Reset): it gets a
            # plain one, and the next run's points choose their own.
            plot.setRange(xRange=EMPTY_RANGE, yRange=EMPTY_RANGE, padding=0)
            plot.enableAutoRange()
        for inset in self.insets.values():
            inset.hide()
        self.traces.clear()
        self._dirty.clear()
        self._colors = 0

    def add(self, chunks: list[Points]) -> None:
        """Append points (a new series gets its own trace); they show at the next refresh."""
        for chunk in chunks:
            trace = self.traces.get(chunk.series)
            if trace is None:
                plot = self.insets.get(chunk.axis, self.plot)
                plot.show()
                trace = self.traces[chunk.series] = self._trace(plot, chunk)
            trace.extend(chunk.x0, chunk.values)
            self._dirty.add(chunk.series)

    def _trace(self, plot: pg.PlotWidget, chunk: Points) -> _Trace:
        """A new series' trace, in the look its style asks for (a subclass may colour series its own way)."""
        return self._new_trace(plot, chunk.label, chunk.style)

    def refresh(self) -> None:
        """setData on the traces that grew (pyqtgraph repaints them)."""
        if not self._dirty:
            return
        for segment in self._dirty:
            if segment in self.traces:
                self.traces[segment].show()
        self._dirty.clear()

    def _new_trace(self, plot: pg.PlotWidget, label: str, style: str) -> _Trace:
        plain = style in (DASHED, MARKERS)
        color = PLAIN_COLOR if plain else COLORS[self._colors % len(COLORS)]
        self._colors += not plain
        pen = {"width": 2}
        if style == DASHED:
            pen["style"] = pg.QtCore.Qt.PenStyle.DashLine
        if style == MARKERS:
            item = plot.plot([], [], pen=None, name=label or None, symbol="o", symbolSize=7,
                             symbolBrush=color, symbolPen=None)
        else:
            item = plot.plot([], [], pen=pg.mkPen(color, **pen), name=label or None)
        item.setClipToView(True)
        return _Trace(item)

    def labels(self) -> list[str]:
        """The legend's labels, oldest first."""
        return [t.item.name() for t in self.traces.values() if t.item.name() and t.item.getViewBox() is
                self.plot.getViewBox()]
