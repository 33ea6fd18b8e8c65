"""A sheet as the lesson's colour-coded table, in HTML: how a Sheet shows itself in a Jupyter notebook.

The workbook's layout: movie factors (green) above the ratings (blue), user factors (orange) left of them, the
predictions (purple) below, and the loss cell (red). Cells are shaded by magnitude as the window shades them
(engine.palette); every id and title is escaped, never markup.
"""
from __future__ import annotations

import html
import math

import numpy as np

from collabsheet.engine import palette
from collabsheet.engine.sheet.snapshot import Snapshot

LIGHTEST, DARKEST = 0.15, 0.75  # how much of the block's hue a cell carries at the smallest/largest magnitude
MAX_SIDE = 40  # users or movies beyond this are left out of the table (a notebook cell, not a spreadsheet)


def _shade(value: float, top: float, rgb: palette.RGB, negative: palette.RGB | None = None) -> str:
    """A cell's background: its block's hue, darker the larger |value| is against the block's largest."""
    if not math.isfinite(value):
        return palette.css(palette.tint(rgb, 0.05))
    hue = negative if negative is not None and value < 0 else rgb
    share = abs(value) / top if top > 0 else 0.0
    return palette.css(palette.tint(hue, LIGHTEST + (DARKEST - LIGHTEST) * min(share, 1.0)))


def _cell(value: float, top: float, rgb: palette.RGB, negative: palette.RGB | None = None, text: str | None = None,
          title: str = "") -> str:
    shown = text if text is not None else ("" if not math.isfinite(value) else f"{value:.2f}")
    hint = f' title="{html.escape(title)}"' if title else ""
    return f'<td style="background:{_shade(value, top, rgb, negative)}"{hint}>{html.escape(shown)}</td>'


def _largest(a: np.ndarray) -> float:
    finite = np.abs(a[np.isfinite(a)])
    return float(finite.max()) if finite.size else 0.0


def snapshot_html(snap: Snapshot, max_side: int = MAX_SIDE) -> str:
    """The snapshot as an HTML table: the workbook's blocks in their colours, and the loss."""
    n, m = min(snap.ratings.shape[0], max_side), min(snap.ratings.shape[1], max_side)
    U, M = snap.params["user_factors"][:n], snap.params["item_factors"][:, :m]
    ub = snap.params["user_bias"][:n] if snap.biases else None
    ib = snap.params["item_bias"][:m] if snap.biases else None
    ratings, pred, mask = snap.ratings[:n, :m], snap.predictions[:n, :m], snap.mask[:n, :m]
    left = snap.k + (1 if snap.biases else 0)  # the user factor (and bias) columns
    top_u, top_m = _largest(U), _largest(M)
    top_b = _largest(np.concatenate([ub, ib])) if snap.biases else 0.0
    top_r = _largest(ratings)
    blank = f'<td colspan="{left + 1}"></td>'
    rows = []
    for f in range(snap.k):  # movie factors above the grid
        cells = [_cell(M[f, j], top_m, palette.MOVIE_FACTORS, palette.NEGATIVE_MOVIE_FACTORS) for j in range(m)]
        rows.append(blank + "".join(cells))
    if snap.biases:
        rows.append(blank + "".join(_cell(ib[j], top_b, palette.BIASES, palette.NEGATIVE_BIASES) for j in range(m)))
    heads = "".join(f'<th title="{html.escape(str(t))}">{html.escape(str(i))}</th>'
                    for i, t in zip(snap.item_ids[:m], snap.titles[:m]))
    rows.append(f'<td colspan="{left}"></td><th>user</th>{heads}')
    for block, values in (("ratings", ratings), ("predictions", pred)):
        for i in range(n):
            side = [_cell(U[i, f], top_u, palette.USER_FACTORS, palette.NEGATIVE_USER_FACTORS) for f in range(snap.k)]
            if snap.biases:
                side.append(_cell(ub[i], top_b, palette.BIASES, palette.NEGATIVE_BIASES))
            if block == "ratings":
                cells = [_cell(values[i, j], top_r, palette.RATINGS) for j in range(m)]
            else:  # blank where there is no rating, as the lesson's sheet does
                cells = [_cell(values[i, j] if mask[i, j] else math.nan, top_r, palette.PREDICTIONS) for j in range(m)]
            who = html.escape(str(snap.user_ids[i]))
            rows.append("".join(side) + f"<th>{who}</th>" + "".join(cells))
        if block == "ratings":
            rows.append(f'<td colspan="{left + 1 + m}" style="height:6px"></td>')
    loss = (f'<td colspan="{left + 1}" style="background:{palette.css(palette.tint(palette.LOSS, 0.75))};'
            f'color:white;font-weight:bold">RMSE {snap.rmse:.4f}</td>')
    rows.append(loss + f'<td colspan="{m}" style="text-align:left">step {snap.step:,} · {html.escape(snap.settings.label)}'
                f' lr {snap.settings.lr:g} · k = {snap.k}{" · biases" if snap.biases else ""}'
                f'{" · sigmoid" if snap.squash else ""}</td>')
    more = ""
    if (n, m) != snap.ratings.shape:
        more = f"<p>showing {n} of {snap.ratings.shape[0]} users and {m} of {snap.ratings.shape[1]} movies</p>"
    style = "border-collapse:collapse;font:11px monospace;text-align:right"
    return (f'<table class="collabsheet" style="{style}">'
            + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>" + more)
