"""The loss plot of a recorded run: its branches as a tree of curves, the one followed in bold, a cursor at the step shown.

Each series comes from the runner's BranchCurves: a branch's curve starts at its fork, in its own colour (one per
label: a branch, and each of its settings), named once in the legend; its held-out companion (series HOLDOUT + n)
is dashed in the same colour. Clicking a curve goes to that step of its branch.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from collabsheet.gui.runtime.series import LINE, Points
from collabsheet.gui.sheet.frames import HOLDOUT, TimelineInfo
from collabsheet.gui.widgets.curve_plot import COLORS, PLAIN_COLOR, QCurvePlot, _Trace

BOLD, THIN = 3.0, 1.5  # pen widths of the followed branch's curves and the others'
CURSOR_PEN = pg.mkPen((90, 90, 90), width=1, style=Qt.DashLine)


class QTimelinePlot(QCurvePlot):
    """A QCurvePlot that knows which branch each series belongs to."""

    curve_clicked = Signal(int, int)  # branch, step

    def __init__(self, axes: dict[str, str] | None = None, parent=None) -> None:
        super().__init__("RMSE", "step", log_y=True, axes=axes, parent=parent)
        self.color_of: dict[int, tuple] = {}  # series → its colour
        self.label_colors: dict[str, tuple] = {}  # a label's colour: a series that goes on after a jump keeps it
        self.widths: dict[int, float] = {}  # series → its pen's width now
        self.info: TimelineInfo | None = None
        self.legend.setLabelTextSize("8pt")
        self.legend.setBrush((255, 255, 255, 190))
        self.cursor = pg.InfiniteLine(angle=90, pen=CURSOR_PEN)
        self.cursor.setZValue(-10)
        self.plot.addItem(self.cursor)
        self._named_holdout = False

    def clear(self) -> None:
        super().clear()
        self.color_of.clear()
        self.label_colors.clear()
        self.widths.clear()
        self._named_holdout = False

    def _trace(self, plot: pg.PlotWidget, chunk: Points) -> _Trace:
        """A new series in its branch's look (a held-out companion in its series' colour, dashed)."""
        is_holdout = chunk.series >= HOLDOUT
        if not is_holdout and (chunk.style != LINE or chunk.axis):  # markers, and a solve's iterations in their inset
            self.color_of[chunk.series] = PLAIN_COLOR
            return self._new_trace(plot, chunk.label, chunk.style)
        if is_holdout:  # dashed, in its series' colour, named once
            color, name = self.color_of.get(chunk.series - HOLDOUT, PLAIN_COLOR), None if self._named_holdout else chunk.label
            self._named_holdout = True
        else:
            name = None if chunk.label in self.label_colors else chunk.label or None
            color = self.label_colors.setdefault(chunk.label, COLORS[len(self.label_colors) % len(COLORS)])
        item = plot.plot([], [], pen=pg.mkPen(color, width=THIN, style=Qt.DashLine if is_holdout else Qt.SolidLine),
                         name=name)
        item.setClipToView(True)
        self.color_of[chunk.series], self.widths[chunk.series] = color, 0.0
        if not is_holdout:
            item.setCurveClickable(True, width=8)
            item.sigClicked.connect(lambda _item, event, s=chunk.series: self._clicked(s, event))
        trace = self.traces[chunk.series] = _Trace(item)
        self._restyle(chunk.series)
        return trace

    def _clicked(self, series: int, event) -> None:
        branch = self.info.series.get(series) if self.info is not None else None
        if branch is not None:
            self.curve_clicked.emit(branch, int(round(event.pos().x())))

    def show_timeline(self, info: TimelineInfo) -> None:
        """Bold the followed branch's curves, and put the cursor at the step shown when it is behind the head
        (at the head the curve's end marks it: a cursor moving with Play would repaint the plot every frame)."""
        old, self.info = self.info, info
        self.cursor.setVisible(not info.at_head)
        if not info.at_head:
            self.cursor.setPos(info.step)
        if old is None or old.branch != info.branch or old.series != info.series:
            for series in list(self.widths):
                self._restyle(series)

    def _restyle(self, series: int) -> None:
        if self.info is None or series not in self.traces:
            return
        main = series - HOLDOUT if series >= HOLDOUT else series
        followed = self.info.series.get(main) == self.info.branch
        width = (BOLD if followed else THIN) * (0.75 if series >= HOLDOUT else 1.0)
        if width != self.widths.get(series):
            self.widths[series] = width
            style = Qt.DashLine if series >= HOLDOUT else Qt.SolidLine
            self.traces[series].item.setPen(pg.mkPen(self.color_of[series], width=width, style=style))
