"""The side panel that explains the selected cell, re-rendered from every new snapshot."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFrame, QTextBrowser, QVBoxLayout, QWidget

from gui.sheet.layout import Cell

if TYPE_CHECKING:  # engine.explain imports engine.optim, so torch: imported once there is a snapshot to explain
    from engine.sheet import explain
    from engine.sheet.snapshot import Snapshot

HINT = "Click a cell to see what it is: a prediction's formula, a factor's gradient and update, the loss."


def to_html(e: explain.Explanation) -> str:
    """An Explanation as a small HTML page: title, formula, a table of terms, notes."""
    from engine.sheet import explain

    rows = "".join(f"<tr><td>{html.escape(label)}</td><td align='right'>&nbsp;&nbsp;<code>{explain.fmt(value)}</code></td></tr>"
                   for label, value in e.terms)
    notes = "".join(f"<p style='color:#555'>{html.escape(note)}</p>" for note in e.notes)
    return (f"<h3 style='margin:0'>{html.escape(e.title)}</h3>"
            f"<p><code>{html.escape(e.formula)}</code></p>"
            f"<table cellspacing='0' cellpadding='2'>{rows}</table>{notes}")


class QExplainPanel(QWidget):
    """Shows engine.explain's text for one cell; the panel holds no model math."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cell: Cell | None = None
        self.explanation: explain.Explanation | None = None
        self.browser = QTextBrowser()  # wraps and scrolls long formulas; selectable for copying
        self.browser.setFrameShape(QFrame.NoFrame)
        self.browser.setOpenLinks(False)
        self.browser.setPlainText(HINT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self._html = ""

    def show_cell(self, cell: Cell | None, snap: Snapshot | None) -> None:
        """Explain `cell` (None clears the panel)."""
        self.cell = cell
        self.render(snap)

    def render(self, snap: Snapshot | None) -> None:
        """Re-explain the current cell with the numbers of `snap`."""
        e = None
        if self.cell is not None and snap is not None:
            from engine.sheet import explain

            try:
                e = explain.explain(snap, self.cell.kind, self.cell.index)
            except (ValueError, IndexError):  # the sheet changed shape under the selection
                e = None
        self.explanation = e
        text = to_html(e) if e is not None else HINT
        if text != self._html:
            self._html = text
            self.browser.setHtml(text)

    def text(self) -> str:
        """The explanation as plain text (for tests and copying)."""
        return self.explanation.text() if self.explanation is not None else HINT
