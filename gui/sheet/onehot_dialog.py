"""One-hot × embedding = lookup, live over the sheet's factors: the course's movielens_1hot and movielens_emb.

The selected rating's row of the long form; its user's and movie's one-hot rows; the factor rows their products
with the factor matrices give; and the rows looked up by index, equal. Both losses beside the sheet's. The numbers
come from engine.sheet.onehot in numpy, on the GUI thread (small: one rating's rows, and lookups for the losses).
"""
from __future__ import annotations

import html
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QSpinBox, QTextBrowser, QVBoxLayout, QWidget

from collabsheet.engine.sheet import onehot
from collabsheet.engine.sheet.snapshot import Snapshot

REFRESH_S = 0.25  # while the sheet plays, the text is rebuilt at most this often
MOST_ONE_HOT = 2_000_000  # one-hot cells the dialog multiplies for its loss; past that the product is only counted
MOST_SHOWN = 40  # one-hot entries shown in full; a longer row shows its 1 and the zeros around it


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.4f}" for v in values)


def _one_hot_text(row: np.ndarray) -> str:
    """A one-hot row as 0s with its 1 in bold; long rows shortened around the 1."""
    hot = int(np.argmax(row))
    lo, hi = (0, len(row)) if len(row) <= MOST_SHOWN else (max(0, hot - 5), min(len(row), hot + 6))
    cells = ["<b style='color:#c00000'>1</b>" if c == hot else "0" for c in range(lo, hi)]
    return ("… " if lo else "") + " ".join(cells) + (f" … ({len(row)} columns)" if hi < len(row) else "")


class QOneHotDialog(QDialog):
    """A rating's one-hot rows, their products with the factor matrices and the lookups, following the sheet."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("One-hot × embedding = lookup")
        self.snapshot: Snapshot | None = None
        self.long: onehot.LongForm | None = None
        self._mask: np.ndarray | None = None  # the rated cells the long form was built from
        self._shown_at = 0.0
        self._later = QTimer(self)  # the last snapshot of a burst is shown when its REFRESH_S is up
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._redraw)
        self.row = QSpinBox()
        self.row.setMinimum(1)
        self.row.setToolTip("the rating's row in the long form (one row per rating); selecting a rating on the sheet "
                            "picks it too")
        self.row.valueChanged.connect(lambda _: self._redraw())
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setMinimumSize(560, 420)
        top = QHBoxLayout()
        top.addWidget(QLabel("Rating (long-form row)"))
        top.addWidget(self.row)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.browser)
        self.setWindowFlag(Qt.Tool)  # beside the sheet, never in front of the other windows

    def follow(self, snap: Snapshot, force: bool = False) -> None:
        """Show the numbers of a new snapshot (while playing, at most every REFRESH_S)."""
        self.snapshot = snap
        if self._mask is None or self._mask.shape != snap.mask.shape or not np.array_equal(self._mask, snap.mask):
            self._mask, self.long = snap.mask.copy(), onehot.long_form(snap)  # only when the rated cells changed
            self.row.setMaximum(max(1, len(self.long)))
            force = True
        wait = REFRESH_S - (time.perf_counter() - self._shown_at)
        if force or wait <= 0:
            self._redraw()
        elif not self._later.isActive():
            self._later.start(int(wait * 1000) + 1)

    def select_cell(self, user: int, item: int) -> None:
        """Show the rating in the sheet's cell (user, item), when it holds one."""
        if self.long is None:
            return
        row = onehot.row_of(self.long, user, item)
        if row is not None:
            self.row.setValue(row + 1)  # redraws

    def equal(self) -> bool:
        """Whether the shown rating's products and lookups are the same numbers (they always should be)."""
        v = self.view()
        return v is not None and (np.array_equal(v.user_product, v.user_lookup)
                                  and np.array_equal(v.item_product, v.item_lookup))

    def view(self) -> onehot.RowView | None:
        """The shown rating seen both ways, or None before a sheet or without ratings."""
        if self.snapshot is None or self.long is None or not len(self.long):
            return None
        return onehot.row_view(self.snapshot, self.long, min(self.row.value(), len(self.long)) - 1)

    def _redraw(self) -> None:
        self._later.stop()
        self._shown_at = time.perf_counter()
        v = self.view()
        if v is None:
            self.browser.setPlainText("No ratings on the sheet.")
            return
        self.browser.setHtml(self._html(self.snapshot, self.long, v))

    def _html(self, snap: Snapshot, long: onehot.LongForm, v: onehot.RowView) -> str:
        r = v.index
        uid, mid = html.escape(str(long.user_ids[r])), html.escape(str(long.item_ids[r]))
        n, m, k = long.n_users, long.n_items, snap.k
        parts = [f"<p><b>userId</b> {uid} · <b>movieId</b> {mid} · <b>rating</b> {long.ratings[r]:g} · "
                 f"user idx = MATCH(userId, users) = {long.user_idx[r]} · movie idx = {long.item_idx[r]}</p>"]
        for who, hot, product, lookup, size in (
                ("user", v.user_one_hot, v.user_product, v.user_lookup, n),
                ("movie", v.item_one_hot, v.item_product, v.item_lookup, m)):
            same = "equal" if np.array_equal(product, lookup) else "<b>NOT equal</b>"
            parts.append(f"<h4 style='margin-bottom:0'>{who}</h4><table cellpadding='2'>"
                         f"<tr><td>one-hot row ({size})</td><td><code>{_one_hot_text(hot)}</code></td></tr>"
                         f"<tr><td>one-hot · matrix ({size}·{k} multiply-adds)</td>"
                         f"<td><code>{_numbers(product)}</code></td></tr>"
                         f"<tr><td>looked up by idx (none)</td><td><code>{_numbers(lookup)}</code></td></tr>"
                         f"<tr><td></td><td>{same}</td></tr></table>")
        parts.append(self._losses(snap, long))
        return "".join(parts)

    def _losses(self, snap: Snapshot, long: onehot.LongForm) -> str:
        """Both sheets' losses beside the sheet's, and what the lookup saves over every rating."""
        look = onehot.by_lookup(snap, long)
        hot_macs, look_macs = onehot.multiply_adds(len(long), long.n_users, long.n_items, snap.k)
        if len(long) * (long.n_users + long.n_items) <= MOST_ONE_HOT:
            hot = f"{onehot.by_one_hot(snap, long).loss:.12f}"
        else:  # the one-hot rows alone would take this many cells of memory
            hot = f"not multiplied here ({len(long) * (long.n_users + long.n_items):,} one-hot cells)"
        return (f"<h4 style='margin-bottom:0'>loss = SQRT(AVERAGE(error²)) over {len(long):,} ratings</h4>"
                f"<table cellpadding='2'><tr><td>movielens_1hot</td><td><code>{hot}</code></td></tr>"
                f"<tr><td>movielens_emb</td><td><code>{look.loss:.12f}</code></td></tr>"
                f"<tr><td>the sheet</td><td><code>{snap.rmse:.12f}</code></td></tr></table>"
                f"<p style='color:#555'>Activations for every rating: {hot_macs:,} multiply-adds as one-hot products, "
                f"{look_macs:,} by lookup (just the dot products). An embedding is the one-hot product done as a "
                "lookup.</p>")
