"""The race panel (a tab beside the explain panel): the racers' loss curves on one plot, and a card per racer.

Each card has the racer's prediction block as a small heat map (shaded as the sheet's purple block), its RMSE
(and held-out RMSE), how far it got and why it stopped, and a button to take it into the sheet.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QStyle, QVBoxLayout, QWidget)

from collabsheet.gui.race.frames import RaceFrame
from collabsheet.gui.race.heatmap import QHeatMap
from collabsheet.gui.widgets.curve_plot import COLORS, LogAxis, downsample_when_long

STATUS = {"running": "running", "converged": "converged", "diverged": "diverged", "limit": "step limit"}
COLUMNS = 3  # cards side by side


class QRacerCard(QFrame):
    """One racer: name, heat map, numbers, and Take."""

    def __init__(self, index: int, color: tuple, parent=None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.title = QLabel()
        self.title.setStyleSheet(f"color: rgb{tuple(color)}; font-weight: bold")
        self.heatmap = QHeatMap()
        self.heatmap.setMinimumHeight(70)
        self.numbers = QLabel()
        self.numbers.setStyleSheet("font-size: 10px")
        self.numbers.setMinimumWidth(1)
        self.take = QPushButton("Take")
        self.take.setToolTip("the sheet goes on from this racer's factors and optimizer state, at its own step")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 3, 4, 3)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.heatmap, 1)
        layout.addWidget(self.numbers)
        layout.addWidget(self.take)
        self.index = index

    def show_racer(self, view, frame: RaceFrame) -> None:
        self.title.setText(view.label)
        shown = frame.mask | frame.held
        self.heatmap.set_block(view.predictions, shown, frame.held if frame.held.any() else None, *frame.rating_range)
        held = "" if math.isnan(view.holdout_rmse) else f"\nheld out {view.holdout_rmse:.4f}"
        self.numbers.setText(f"RMSE {view.rmse:.4f}{held}\n{view.steps:,} · {STATUS.get(view.status, view.status)}")
        self.numbers.setToolTip(f"{view.label}: RMSE {view.rmse:.6f} over the rated cells{held.replace(chr(10), ', ')} "
                                f"after {view.steps:,} steps ({STATUS.get(view.status, view.status)})")
        self.take.setEnabled(not frame.running)


class QRacePanel(QWidget):
    """Shows the latest RaceFrame; Stop, Take and Close go out as signals."""

    take_requested = Signal(int)
    stop_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.frame: RaceFrame | None = None
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(1)
        self.stop = QPushButton("Stop")
        self.stop.clicked.connect(self.stop_requested)
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        header.addWidget(self.stop)
        self.plot = pg.PlotWidget(background="w", axisItems={"left": LogAxis("left")})  # uncrowded decade labels
        self.plot.setLogMode(y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("left", "RMSE")
        self.plot.setLabel("bottom", "racer's step")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.setMinimumHeight(80)
        self.legend = QLabel()  # the racers' names in their curves' colours, above the plot: none covers a curve
        self.legend.setWordWrap(True)
        self.legend.setMinimumWidth(1)
        self.curves: list[pg.PlotDataItem] = []
        self.cards: list[QRacerCard] = []
        self.columns = 0  # cards a row, as the panel's width allows
        box = QWidget()
        self._cards = QGridLayout(box)
        self._cards.setContentsMargins(0, 0, 0, 0)
        self._cards.setSpacing(3)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(box)
        scroll.setMinimumHeight(170)  # a row of cards whole, Take buttons included; the plot takes the rest
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(header)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        layout.addWidget(scroll)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)

    def show_race(self, frame: RaceFrame) -> None:
        """Draw a race's latest state (a new race replaces the old one's curves and cards)."""
        if self.frame is None or frame.number != self.frame.number:
            self._rebuild([view.label for view in frame.racers])
        self.frame = frame
        for view, curve, card in zip(frame.racers, self.curves, self.cards):
            losses = np.append(view.losses, view.rmse)
            downsample_when_long(curve, len(losses))  # a racer refused at its third step keeps its three points
            shown = np.where(np.isfinite(losses) & (losses > 0), losses, np.nan)
            # a line needs two points: a racer refused at its first step is drawn as the one point it has
            curve.setSymbol("o" if np.count_nonzero(np.isfinite(shown)) < 2 else None)
            curve.setData(np.arange(len(losses)), shown)
            card.show_racer(view, frame)
        if frame.running:
            self.status.setText(f"From the sheet's step {frame.start_step:,}: racing, step {frame.steps:,} of at most "
                                f"{frame.max_steps:,}")
        else:
            best = min(frame.racers, key=lambda v: v.rmse if math.isfinite(v.rmse) else math.inf)
            self.status.setText(f"From the sheet's step {frame.start_step:,}: done. Lowest RMSE: {best.label} "
                                f"({best.rmse:.4f}). Take any racer into the sheet.")
        self.stop.setEnabled(frame.running)

    def _rebuild(self, names: list[str]) -> None:
        for curve in self.curves:
            self.plot.removeItem(curve)
        for card in self.cards:
            self._cards.removeWidget(card)
            card.deleteLater()
        self.curves, self.cards = [], []
        for i, name in enumerate(names):
            color = COLORS[i % len(COLORS)]
            curve = self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=name)
            curve.setClipToView(True)
            self.curves.append(curve)
            card = QRacerCard(i, color)
            card.title.setText(name)
            card.take.clicked.connect(lambda _=False, i=i: self.take_requested.emit(i))
            self.cards.append(card)
        self.legend.setText(" &nbsp; ".join(f"<span style='color: rgb{tuple(COLORS[i % len(COLORS)])}'>━ "
                                            f"{html.escape(name)}</span>" for i, name in enumerate(names)))
        self.columns = 0
        self._place_cards()
        self.plot.enableAutoRange()

    def _place_cards(self) -> None:
        """As many cards side by side (up to COLUMNS) as the panel's width shows whole; the rest on further rows."""
        widest = max((card.minimumSizeHint().width() for card in self.cards), default=1)
        margins = self.layout().contentsMargins()
        room = self.width() - margins.left() - margins.right() - self.style().pixelMetric(QStyle.PM_ScrollBarExtent)
        columns = max(1, min(COLUMNS, (room + self._cards.spacing()) // (widest + self._cards.spacing())))
        if columns == self.columns:
            return
        self.columns = columns
        for card in self.cards:
            self._cards.removeWidget(card)
        for i, card in enumerate(self.cards):
            self._cards.addWidget(card, i // columns, i % columns)

    def resizeEvent(self, event) -> None:
        """A narrow panel shows fewer cards a row, each whole, rather than clipping the last."""
        super().resizeEvent(event)
        self._place_cards()

    def labels(self) -> list[str]:
        """The racers' names as the plot's legend shows them."""
        return [curve.name() for curve in self.curves]
