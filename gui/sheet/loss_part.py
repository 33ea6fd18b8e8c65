"""The Sheet tab's loss curve: every branch's RMSE against its steps, beside the sheet.

A part the tab owns; it sees the tab as a LossHost. The plot is built just after the first sheet shows
(importing pyqtgraph blocks the GUI thread for ~0.5 s): until then a placeholder holds its place and the frames'
points wait for it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from collabsheet.gui.sheet.runner import SOLVE_AXIS
from collabsheet.gui.widgets.boxes import set_body, titled

if TYPE_CHECKING:
    from collabsheet.gui.sheet.frames import Frame, TimelineInfo
    from collabsheet.gui.sheet.handle import QSheetHandle
    from collabsheet.gui.sheet.timeline_plot import QTimelinePlot
    from collabsheet.gui.widgets.wires import Wires

PLOT_EVERY_S = 0.1  # the curve redraws at most this often while running: pyqtgraph's axes and legend are costly


class LossHost(Protocol):
    """What the loss curve's part uses of the tab."""

    engine: QSheetHandle  # only its `seek` command: a click on a curve goes to that branch and step
    wires: Wires
    timeline: TimelineInfo | None


class LossPart:
    """The titled box the tab lays out under its side panel, and the plot in it once built."""

    def __init__(self, host: LossHost) -> None:
        self.host = host
        placeholder = QLabel("the loss curve appears with the sheet")
        placeholder.setAlignment(Qt.AlignCenter)
        self.box = titled("Loss", placeholder)
        self.plot: QTimelinePlot | None = None
        self._pending: list = []  # points that came before the plot
        self._plotted_at = 0.0

    def build(self) -> None:
        """The plot, with the points that waited for it."""
        from collabsheet.gui.sheet.timeline_plot import QTimelinePlot

        if self.plot is not None:
            return
        host = self.host
        self.plot = QTimelinePlot(axes={SOLVE_AXIS: "solver iteration"})
        host.wires.connect(self.plot.curve_clicked, lambda branch, step: host.engine.seek(step, branch))
        set_body(self.box, self.plot)
        self.plot.add(self._pending)
        if host.timeline is not None:
            self.plot.show_timeline(host.timeline)
        self.plot.refresh()
        self._pending = []

    def clear(self) -> None:
        """A new run: the old run's curves, start dot and axis ranges go."""
        if self.plot is None:
            self._pending.clear()
        else:
            self.plot.clear()

    def add(self, frame: Frame) -> None:
        """The frame's new points (a new run's plot was cleared by its transition, before them)."""
        if self.plot is None:
            self._pending += frame.losses
            return
        if frame.losses:
            self.plot.add(frame.losses)
        if frame.timeline is not None:
            self.plot.show_timeline(frame.timeline)

    def refresh(self, now: float, idle: bool) -> None:
        """Redraw what was added, now when idle, else at most every PLOT_EVERY_S."""
        if self.plot is not None and (idle or now - self._plotted_at >= PLOT_EVERY_S):
            self._plotted_at = now
            self.plot.refresh()
