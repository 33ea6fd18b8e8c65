"""The side panel that explains the selected cell: it renders the Explanation each frame brings (no model math)."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QFrame, QTextBrowser, QVBoxLayout, QWidget

from collabsheet.engine.sheet.explanation import Explanation, fmt
from collabsheet.gui.sheet.layout import Cell

HINT = "Click a cell to see what it is: a prediction's formula, a factor's gradient and update, the loss."


def to_html(e: Explanation) -> str:
    """An Explanation as a small HTML page: title, formula, a table of terms, notes."""
    rows = "".join(f"<tr><td>{html.escape(label)}</td><td align='right'>&nbsp;&nbsp;<code>{fmt(value)}</code></td></tr>"
                   for label, value in e.terms)
    notes = "".join(f"<p style='color:#555'>{html.escape(note)}</p>" for note in e.notes)
    return (f"<h3 style='margin:0'>{html.escape(e.title)}</h3>"
            f"<p><code>{'<br>'.join(html.escape(line) for line in e.formula.splitlines())}</code></p>"
            f"<table cellspacing='0' cellpadding='2'>{rows}</table>{notes}")


class QExplainPanel(QWidget):
    """Shows the engine's explanation of one cell, computed in the worker thread."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cell: Cell | None = None
        self.explanation: Explanation | None = None
        self.browser = QTextBrowser()  # wraps and scrolls long formulas; selectable for copying
        self.browser.setFrameShape(QFrame.NoFrame)
        self.browser.setOpenLinks(False)
        self.browser.setPlainText(HINT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self._html = ""

    def show_cell(self, cell: Cell | None) -> None:
        """The cell to explain; its explanation arrives with the next frame."""
        self.cell = cell

    def render(self, explanation: Explanation | None) -> None:
        """Show an explanation (None: the hint)."""
        self.explanation = explanation if self.cell is not None else None
        text = to_html(self.explanation) if self.explanation is not None else HINT
        if text != self._html:
            self._html = text
            self.browser.setHtml(text)

    def text(self) -> str:
        """The explanation as plain text (for tests and copying)."""
        return self.explanation.text() if self.explanation is not None else HINT
