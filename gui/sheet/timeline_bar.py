"""The timeline under the sheet: a slider over the run's recorded steps, and a picker of its branches."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from collabsheet.gui.sheet.frames import BranchInfo, TimelineInfo

SEEK_EVERY_MS = 30  # a dragged slider asks the engine for a step at most this often


def branch_text(b: BranchInfo, number: dict[int, int] | None = None) -> str:
    """The picker's line for a branch; `number` maps ids to the numbers shown (a run's branches count from 1)."""
    number = number or {}
    where = "the run" if b.parent is None else f"from branch {number.get(b.parent, b.parent)} at step {b.fork:,}"
    return f"branch {number.get(b.id, b.id)}: {b.label} · {where} · to step {b.end:,}"


class QTimelineBar(QWidget):
    """Scrub through the history of the branch being followed; pick a branch to go on with."""

    seek_requested = Signal(int)  # a step on the current branch's path
    branch_chosen = Signal(int)  # a branch to resume, at its head

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.info: TimelineInfo | None = None
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("the run's history: drag back to see the sheet as it was at any step. Step or Play "
                               "there follows the recorded run; another optimizer, lr or any edit there starts a "
                               "branch, and the old run stays")
        self.position = QLabel("step 0")
        self.position.setFixedWidth(self.position.fontMetrics().horizontalAdvance("step 000,000 of 000,000") + 8)
        self.branches = QComboBox()
        self.branches.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.branches.setMinimumContentsLength(18)
        self.branches.setToolTip("the branches of this run: pick one to go on from where it stopped (clicking its "
                                 "curve in the loss plot goes to that step of it)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(QLabel("history"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.branches)
        self._pending: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEEK_EVERY_MS)
        self._timer.timeout.connect(self._send)
        self._items: tuple = ()
        self.slider.valueChanged.connect(self._moved)
        self.branches.activated.connect(self._picked)

    def _moved(self, step: int) -> None:
        self._pending = step
        if not self._timer.isActive():
            self._timer.start()

    def _send(self) -> None:
        if self._pending is not None:
            step, self._pending = self._pending, None
            self.seek_requested.emit(step)

    def _picked(self, row: int) -> None:
        branch = self.branches.itemData(row)
        if branch is not None and (self.info is None or branch != self.info.branch):
            self.branch_chosen.emit(branch)

    def show_timeline(self, info: TimelineInfo) -> None:
        """Where the sheet is now (the slider stays where the user holds it)."""
        self.info = info
        self.slider.blockSignals(True)
        self.slider.setRange(info.start, info.end)
        if not self.slider.isSliderDown() and not self._timer.isActive():
            self.slider.setValue(info.step)
        self.slider.blockSignals(False)
        text = f"step {info.step:,}" + ("" if info.at_head else f" of {info.end:,}")
        if text != self.position.text():
            self.position.setText(text)
        number = {b.id: b.number for b in info.branches}  # the runner's numbering, as the loss plot's legend has it
        items = tuple((b.id, branch_text(b, number)) for b in info.branches)
        self.branches.blockSignals(True)
        if tuple(i for i, _ in items) != tuple(i for i, _ in self._items):
            self.branches.clear()
            for branch, text in items:
                self.branches.addItem(text, branch)
        else:
            for row, ((_, text), (_, old)) in enumerate(zip(items, self._items)):
                if text != old:
                    self.branches.setItemText(row, text)
        self._items = items
        row = max(self.branches.findData(info.branch), 0)
        if row != self.branches.currentIndex():
            self.branches.setCurrentIndex(row)
        self.branches.setEnabled(len(items) > 1)
        self.branches.blockSignals(False)
