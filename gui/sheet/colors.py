"""The sheet's colours: one hue per block, shaded by magnitude, as brushes cached per level.

Factor and bias blocks are shaded on a diverging scale around 0: positive values towards the block's hue,
negative ones towards a neighbouring hue of the same family (orange and rose, green and olive, teal and
slate), both pale near 0. A signed level carries the sign in its number: levels 0…LEVELS−1 are the
magnitude levels of values ≥ 0 (and of every value in the other blocks), LEVELS…2·LEVELS−1 the same
magnitude levels of values < 0. Text colours are listed for all 2·LEVELS levels.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QBrush, QColor

from collabsheet.gui.sheet import layout as L

LEVELS = 12  # shades per block: enough to read magnitudes, few enough to cache every brush
LIGHTEST, DARKEST = 0.2, 0.8  # how much of the block's hue a cell carries at the smallest/largest magnitude

BASE = {
    L.RATING: QColor(52, 112, 214),  # blue
    L.ITEM_FACTORS: QColor(46, 150, 70),  # green
    L.USER_FACTORS: QColor(238, 128, 20),  # orange
    L.PREDICTION: QColor(130, 60, 170),  # purple
    L.USER_BIAS: QColor(0, 140, 150),  # teal: both biases share a colour
    L.ITEM_BIAS: QColor(0, 140, 150),
    L.LOSS: QColor(204, 40, 40),  # red
}
SIGNED = frozenset((L.USER_FACTORS, L.ITEM_FACTORS, L.USER_BIAS, L.ITEM_BIAS))  # shaded by sign and magnitude
NEGATIVE = {  # the hue each signed block's negative values shade towards
    L.ITEM_FACTORS: QColor(120, 140, 20),  # olive, beside the green
    L.USER_FACTORS: QColor(200, 60, 90),  # rose, beside the orange
    L.USER_BIAS: QColor(60, 90, 170),  # slate blue, beside the teal
    L.ITEM_BIAS: QColor(60, 90, 170),
}
LEGEND = (
    ("ratings", L.RATING), ("movie factors", L.ITEM_FACTORS), ("user factors", L.USER_FACTORS),
    ("predictions", L.PREDICTION), ("biases", L.USER_BIAS), ("loss (RMSE)", L.LOSS),
)
EMPTY = 0.05  # a blank rating or prediction keeps a trace of its block's hue, so the block's extent shows
BLANK = QColor(255, 255, 255)
GUESS_ARGB = QColor(228, 228, 232).rgba()  # a blank cell's prediction (the lesson's test data), greyed
DARK_TEXT, LIGHT_TEXT = QColor(20, 20, 20), QColor(255, 255, 255)
LIGHT_TEXT_FROM = 8  # levels from here on are dark enough to need white text


def tint(base: QColor, amount: float) -> QColor:
    """base mixed into white: 0 is white, 1 the full colour."""
    a = min(max(amount, 0.0), 1.0)
    return QColor(round(255 + (base.red() - 255) * a), round(255 + (base.green() - 255) * a),
                  round(255 + (base.blue() - 255) * a))


def shade(base: QColor, level: int) -> QColor:
    """The colour of magnitude level 0…LEVELS−1 in base's hue."""
    return tint(base, LIGHTEST + (DARKEST - LIGHTEST) * level / (LEVELS - 1))


def _brushes(kind: str) -> list[QBrush]:
    shades = [shade(BASE[kind], i) for i in range(LEVELS)]
    if kind in SIGNED:
        shades += [shade(NEGATIVE[kind], i) for i in range(LEVELS)]
    return [QBrush(color) for color in shades]


def light_text(level):
    """Whether a level (an int or an array of them, signed or not) is dark enough to need white text."""
    return level % LEVELS >= LIGHT_TEXT_FROM


class Palette:
    """Brushes for every (block, level), built once: LEVELS per block, 2·LEVELS for the signed blocks."""

    def __init__(self) -> None:
        self.cells = {kind: _brushes(kind) for kind in BASE}
        self.loss = QBrush(BASE[L.LOSS])
        self.blank = QBrush(BLANK)
        self.empty = {kind: QBrush(tint(color, EMPTY)) for kind, color in BASE.items()}  # blank cells in a block
        self.text = [QBrush(LIGHT_TEXT if light_text(i) else DARK_TEXT) for i in range(2 * LEVELS)]
        self.text_colors = [brush.color() for brush in self.text]
        # The same colours as 0xAARRGGBB numbers, for painting a whole block as one image.
        self.argb = {kind: np.array([b.color().rgba() for b in brushes], dtype=np.uint32)
                     for kind, brushes in self.cells.items()}
        self.empty_argb = {kind: np.uint32(brush.color().rgba()) for kind, brush in self.empty.items()}

    def brush(self, kind: str, level: int) -> QBrush:
        return self.cells[kind][level]


def scale(lo: float, hi: float) -> tuple[float, float]:
    """(offset, factor) that map values from lo to hi onto shade levels 0…LEVELS−1."""
    span = hi - lo if hi > lo and math.isfinite(hi - lo) else 1.0
    return lo, (LEVELS - 1) / span


def magnitude_scale(values: np.ndarray) -> tuple[float, float]:
    """Shade by |value| relative to the largest finite |value| of the block."""
    a = np.abs(values[np.isfinite(values)]) if values.size else values
    return scale(0.0, float(a.max()) if a.size else 1.0)


def levels(values: np.ndarray, offset: float, factor: float) -> np.ndarray:
    """level() for a whole array (NaN → 0)."""
    x = np.floor(np.nan_to_num((values - offset) * factor, nan=0.0, posinf=LEVELS, neginf=0.0) + 0.5)
    return np.clip(x, 0, LEVELS - 1).astype(np.intp)


def level(value: float, offset: float, factor: float) -> int:
    """The shade level of one value (per cell, as it is painted: no per-frame pass over a big sheet)."""
    x = int((value - offset) * factor + 0.5) if math.isfinite(value) else 0
    return 0 if x < 0 else LEVELS - 1 if x >= LEVELS else x


def signed_levels(values: np.ndarray, offset: float, factor: float) -> np.ndarray:
    """Signed levels of a factor or bias block, from its magnitude_scale: |value|'s level, + LEVELS when negative."""
    return levels(np.abs(values), offset, factor) + LEVELS * (values < 0)


def signed_level(value: float, offset: float, factor: float) -> int:
    """The signed level of one value (as signed_levels)."""
    return level(abs(value), offset, factor) + (LEVELS if value < 0 else 0)
