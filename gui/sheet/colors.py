"""The sheet's colours: one hue per block, shaded by magnitude, as brushes cached per level."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QBrush, QColor

from gui.sheet import layout as L

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
LEGEND = (
    ("ratings", L.RATING), ("movie factors", L.ITEM_FACTORS), ("user factors", L.USER_FACTORS),
    ("predictions", L.PREDICTION), ("biases", L.USER_BIAS), ("loss (RMSE)", L.LOSS),
)
EMPTY = 0.05  # a blank rating or prediction keeps a trace of its block's hue, so the block's extent shows
BLANK = QColor(255, 255, 255)
DARK_TEXT, LIGHT_TEXT = QColor(20, 20, 20), QColor(255, 255, 255)
LIGHT_TEXT_FROM = 8  # levels from here on are dark enough to need white text


def tint(base: QColor, amount: float) -> QColor:
    """base mixed into white: 0 is white, 1 the full colour."""
    a = min(max(amount, 0.0), 1.0)
    return QColor(round(255 + (base.red() - 255) * a), round(255 + (base.green() - 255) * a),
                  round(255 + (base.blue() - 255) * a))


def _brushes(base: QColor) -> list[QBrush]:
    return [QBrush(tint(base, LIGHTEST + (DARKEST - LIGHTEST) * i / (LEVELS - 1))) for i in range(LEVELS)]


class Palette:
    """Brushes for every (block, level), built once."""

    def __init__(self) -> None:
        self.cells = {kind: _brushes(color) for kind, color in BASE.items()}
        self.loss = QBrush(BASE[L.LOSS])
        self.blank = QBrush(BLANK)
        self.empty = {kind: QBrush(tint(color, EMPTY)) for kind, color in BASE.items()}  # blank cells in a block
        self.text = [QBrush(DARK_TEXT if i < LIGHT_TEXT_FROM else LIGHT_TEXT) for i in range(LEVELS)]
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
