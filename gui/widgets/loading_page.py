"""The page a tab shows until its first result arrives: what preparation is doing, or why it failed."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


class QLoadingPage(QWidget):
    """Shown until the first sheet arrives: what data preparation is doing, or why it failed."""

    def __init__(self, open_action: QAction, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel("Preparing the ratings…")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignCenter)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(480)
        self.open = QPushButton("Open ratings…")
        self.open.clicked.connect(open_action.trigger)
        self.open.hide()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)  # the full width (its text centred): a wrapped label squeezed to its hint clips
        for widget in (self.bar, self.open):
            layout.addWidget(widget, 0, Qt.AlignHCenter)
        layout.addStretch(2)

    def show_progress(self, message: str, fraction: float | None) -> None:
        self.label.setText(message)
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 100)
            self.bar.setValue(round(100 * fraction))

    def show_failure(self, message: str) -> None:
        self.label.setText(message)
        self.bar.hide()
        self.open.show()
