"""The sheet's colours: one hue per block, shaded by magnitude, as brushes cached per level."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QBrush, QColor

from gui import sheet_layout as L

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

    def brush(self, kind: str, level: int) -> QBrush:
        return self.cells[kind][level]


def levels(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Shade levels 0…LEVELS−1 for values scaled linearly from lo to hi (NaN → 0)."""
    span = hi - lo if hi > lo else 1.0
    scaled = np.nan_to_num((values - lo) / span, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(np.rint(scaled * (LEVELS - 1)), 0, LEVELS - 1).astype(np.int8)


def magnitude_levels(values: np.ndarray) -> np.ndarray:
    """Shade levels by |value| relative to the block's largest |value|."""
    a = np.abs(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0))
    top = float(a.max()) if a.size else 0.0
    return levels(a, 0.0, top if top > 0 else 1.0)
