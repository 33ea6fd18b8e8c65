"""The sheet's colours as plain RGB: one hue per block, as the lesson's workbook colours them.

One home for them: the window (gui/sheet/colors.py) and a sheet shown in a notebook (engine/sheet/html.py) both
read them here. Signed blocks (factors, biases) shade towards a neighbouring hue for negative values.
"""
from __future__ import annotations

RGB = tuple[int, int, int]

RATINGS: RGB = (52, 112, 214)  # blue
MOVIE_FACTORS: RGB = (46, 150, 70)  # green
USER_FACTORS: RGB = (238, 128, 20)  # orange
PREDICTIONS: RGB = (130, 60, 170)  # purple
BIASES: RGB = (0, 140, 150)  # teal: both biases share a colour
LOSS: RGB = (204, 40, 40)  # red

NEGATIVE_MOVIE_FACTORS: RGB = (120, 140, 20)  # olive, beside the green
NEGATIVE_USER_FACTORS: RGB = (200, 60, 90)  # rose, beside the orange
NEGATIVE_BIASES: RGB = (60, 90, 170)  # slate blue, beside the teal


def tint(rgb: RGB, amount: float) -> RGB:
    """rgb mixed into white: 0 is white, 1 the full colour."""
    a = min(max(amount, 0.0), 1.0)
    return tuple(round(255 + (c - 255) * a) for c in rgb)  # type: ignore[return-value]


def css(rgb: RGB) -> str:
    """The colour as CSS text, e.g. '#3470d6'."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)
