"""The coach's bar above the sheet: whether the run diverges, oscillates or stalls, the evidence, and the fixes."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

if TYPE_CHECKING:
    from collabsheet.engine.sheet.coach import Diagnosis

STYLES = {"diverging": "#f8d7d5", "oscillating": "#fde9c8", "stalled": "#fdf6c3", "converged": "#dcefdc"}
TITLES = {"diverging": "Diverging", "oscillating": "Oscillating", "stalled": "Stalled", "converged": "Converged"}
QUIET_COLOR, QUIET_INDENT = "#888888", 10
QUIET = ("The coach watches the loss and speaks here when a run diverges, oscillates, stalls or converges, "
         "with fixes to try.")


class QFixButton(QPushButton):
    """A fix's button: its whole label when there is room, else the label cut short with "…" (and whole in its tooltip)."""

    def __init__(self, label: str, parent=None) -> None:
        super().__init__(label, parent)
        self.label = label
        whole = super().sizeHint().width()
        self._padding = whole - self.fontMetrics().horizontalAdvance(label)  # the button's frame around its text
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.setMinimumWidth(min(whole, 120))
        self.setMaximumWidth(whole)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        whole = self.width() >= self.maximumWidth()
        self.setText(self.label if whole else
                     self.fontMetrics().elidedText(self.label, Qt.ElideRight, self.width() - self._padding))


class QCoachBar(QFrame):
    """Hidden while the run looks healthy; a dismissed verdict stays hidden until the coach says something else."""

    fix_chosen = Signal(int, object)  # the step to go back to, the OptimizerSettings to go on with
    speaking = Signal(bool)  # shown (a verdict) or hidden

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.diagnosis: Diagnosis | None = None
        self._dismissed: tuple | None = None
        self.title = QLabel()
        self.evidence = QLabel()
        self.evidence.setWordWrap(True)
        self.evidence.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.evidence.setMinimumWidth(1)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("hide this until the coach sees something else")
        self.close_button.clicked.connect(self.dismiss)
        self.buttons: list[QFixButton] = []
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.evidence, 1)
        top.addWidget(self.close_button)
        self._layout = QHBoxLayout()  # the fixes, under the evidence
        self._layout.addStretch(0)  # only what the fixes leave: they take up to their whole labels first
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 3, 4, 3)
        column.setSpacing(2)
        column.addLayout(top)
        column.addLayout(self._layout)
        self.setMinimumWidth(1)  # a long verdict wraps and long fixes clip: the sheet's width never follows them
        # Its room is kept while it is hidden and its height never changes: a bar that came and went pushed the
        # sheet down under the mouse (a typed rating landed on the row below). The full evidence is its tooltip.
        probe = QFixButton("lr ÷ 10")
        self.setFixedHeight(2 * self.title.sizeHint().height() + probe.sizeHint().height() + 3 + 3 + 2 * 2)
        probe.deleteLater()
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.hide()

    def setVisible(self, visible: bool) -> None:  # show() and hide() come here too
        super().setVisible(visible)
        self.speaking.emit(visible)

    def _key(self, d: Diagnosis) -> tuple:
        return d.kind, d.step

    def show_diagnosis(self, d: Diagnosis | None) -> None:
        """Show the coach's verdict (None: hide)."""
        if d is not None and self.diagnosis is not None and self._key(d) == self._key(self.diagnosis) \
                and d.evidence == self.diagnosis.evidence:
            return
        self.diagnosis = d
        if d is None or self._key(d) == self._dismissed:
            self.hide()
            return
        self.setStyleSheet(f"QCoachBar {{ background: {STYLES.get(d.kind, '#eee')}; border-bottom: 1px solid #bbb }}")
        self.title.setText(f"<b>{TITLES.get(d.kind, d.kind)}:</b>")
        self.evidence.setText(d.evidence)
        self.evidence.setToolTip(d.evidence)
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for fix in d.fixes:
            button = QFixButton(fix.label)
            button.setToolTip(f"{fix.label}: go back to that step and go on with these settings (a new branch when "
                              "it is in the past; the old run stays)")
            button.clicked.connect(lambda _=False, f=fix: self.fix_chosen.emit(f.step, f.settings))
            self._layout.insertWidget(self._layout.count() - 1, button, 1)
            self.buttons.append(button)
        self.show()

    def dismiss(self) -> None:
        if self.diagnosis is not None:
            self._dismissed = self._key(self.diagnosis)
        self.hide()


class QCoachSlot(QWidget):
    """The coach bar's fixed room above the sheet: the bar when the coach speaks, a quiet line on what it watches
    otherwise (the room is kept so the sheet never moves under the mouse; left blank it looked like a gap). The
    line is painted under the bar at each paint, from the bar's state then: no second widget to keep in step."""

    def __init__(self, bar: QCoachBar, parent=None) -> None:
        super().__init__(parent)
        self.bar = bar
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(bar, 0, 0)
        self.setFixedHeight(bar.height())
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        bar.speaking.connect(lambda _shown: self.update())

    def quiet_text(self) -> str:
        """What the room says now: the quiet line while the coach says nothing, else nothing (the bar covers it)."""
        return QUIET if self.bar.isHidden() else ""

    def paintEvent(self, event) -> None:
        text = self.quiet_text()
        if not text:
            return
        painter = QPainter(self)
        font = painter.font()
        font.setItalic(True)
        painter.setFont(font)
        painter.setPen(QColor(QUIET_COLOR))
        painter.drawText(self.rect().adjusted(QUIET_INDENT, 0, -QUIET_INDENT, 0),
                         Qt.AlignLeft | Qt.AlignVCenter | Qt.TextWordWrap, text)
        painter.end()
