"""The side panel of the new user's row: what to do next, and their recommendations once folded in."""
from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from collabsheet.gui.sheet.frames import NewUserRow
from collabsheet.gui.widgets.boxes import action_button



def row_html(row: NewUserRow, lo: float, hi: float) -> str:
    """The panel's text; predicted ratings are clipped to the ratings' range [lo, hi], the model's number beside."""
    rated = int((row.ratings == row.ratings).sum())
    where = row.source or "the sheet's movies"
    lines = [f"<p>You rated <b>{rated}</b> of the sheet's {len(row.ratings)} movies. Fold-in uses <b>"
             f"{html.escape(where)}</b>.</p>"]
    if not rated:
        lines.append("<p>Type ratings into the blue cells of your row (<i>you</i>, under the sheet), then press "
                     "<b>Fold in</b>: it fits your factors to your ratings with every movie frozen.</p>")
    elif row.folded_at is None:
        lines.append("<p>Press <b>Fold in</b> to fit your factors to these ratings, every movie frozen.</p>")
    else:
        lines.append(f"<p>Folded in at step {row.folded_at:,}: your row fits your own ratings to RMSE "
                     f"{row.rmse:.4f}.</p>")
        if row.top:
            items = []
            for title, p in row.top:
                shown = min(max(p, lo), hi)
                extra = "" if shown == p else f" <span style='color:#777'>(model {p:.2f})</span>"
                items.append(f"<li>{html.escape(title)} <b>{shown:.2f}</b>{extra}</li>")
            lines.append(f"<p>Recommended for you, from {row.movies:,} movies:</p><ol>{''.join(items)}</ol>")
    if row.note:
        lines.append(f"<p style='color:#955'>{html.escape(row.note)}.</p>")
    return "".join(lines)


class QNewUserPanel(QWidget):
    """Fold in, pick a trained model (or go back to the sheet's movies), and read the recommendations."""

    sheet_movies_requested = Signal()

    def __init__(self, actions: dict[str, QAction], parent=None) -> None:
        super().__init__(parent)
        self.row: NewUserRow | None = None
        self._html = ""
        self.browser = QTextBrowser()
        self.browser.setFrameShape(QFrame.NoFrame)
        self.sheet_movies = QPushButton("Use the sheet's movies")
        self.sheet_movies.setToolTip("fold in against the sheet's movies again, not the trained model's")
        self.sheet_movies.clicked.connect(self.sheet_movies_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(action_button(actions["fold_in"]))
        buttons.addWidget(action_button(actions["use_model"]))
        buttons.addWidget(self.sheet_movies)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.browser, 1)

    def show_row(self, row: NewUserRow | None, rating_range: tuple[float, float]) -> None:
        self.row = row
        if row is None:
            return
        self.sheet_movies.setVisible(bool(row.source))
        text = row_html(row, *rating_range)
        if text != self._html:
            self._html = text
            self.browser.setHtml(text)

    def text(self) -> str:
        return self.browser.toPlainText()
