"""The side panel of the new user's row: what to do next, and their recommendations once folded in."""
from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from collabsheet.gui.sheet.frames import NewUserRow
from collabsheet.gui.widgets.boxes import action_button
from collabsheet.gui.widgets.flow import QFlowLine



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
        unknowns = 0 if row.factors is None else len(row.factors) + (row.bias is not None)
        if unknowns and rated <= unknowns:  # as many numbers to fit as ratings: any ratings fit exactly
            lines.append(f"<p style='color:#b00'><b>Too few ratings to learn from:</b> fold-in fits {unknowns} "
                         f"numbers (your factors{' and bias' if row.bias is not None else ''}) to your {rated} "
                         f"ratings, so it can match them exactly whatever they are; rate more than {unknowns} "
                         "movies before trusting these recommendations.</p>")
        if row.top:
            items, clipped = [], False
            for title, p in row.top:
                shown = min(max(p, lo), hi)
                clipped |= shown != p
                extra = "" if shown == p else f" <span style='color:#b00'>(model {p:.2f}, outside the ratings)</span>"
                items.append(f"<li>{html.escape(title)} <b>{shown:.2f}</b>{extra}</li>")
            lines.append(f"<p>Recommended for you, from {row.movies:,} movies:</p><ol>{''.join(items)}</ol>")
            if clipped:
                lines.append(f"<p style='color:#b00'>Some predictions fall outside the ratings' range ({lo:g} to "
                             f"{hi:g}): they are shown clipped to it, the model's own number beside. A model that "
                             "predicts past the scale has fitted too few ratings or too large factors.</p>")
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
        # a narrow side panel puts the buttons on two lines rather than cutting their names ("Use a tr…ed model")
        self.buttons = QFlowLine([action_button(actions["fold_in"]), action_button(actions["use_model"]),
                                  self.sheet_movies], gap=6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.buttons)
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
