"""collabsheet.gui.sheet.colors and the legend: factor and bias cells show their sign; ratings and predictions their size."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage, QPainter

from collabsheet.gui.sheet import colors
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet import painter as sheet_painter
from collabsheet.gui.widgets.legend import SIGN_ROWS, QLegend

SIGNED = (L.USER_FACTORS, L.ITEM_FACTORS, L.USER_BIAS, L.ITEM_BIAS)


def _brush(palette, kind: str, value: float, values: np.ndarray):
    """The brush a cell of `kind` holding `value` gets, in a block holding `values`."""
    offset, factor = colors.magnitude_scale(values)
    return palette.cells[kind][colors.signed_level(value, offset, factor)]


def _hue_distance(a: QColor, b: QColor) -> float:
    return abs((a.hsvHue() - b.hsvHue() + 180) % 360 - 180)


@pytest.mark.parametrize("kind", SIGNED)
def test_minus_and_plus_point_nine_get_different_brushes(qapp, kind):
    palette = colors.Palette()
    block = np.array([[-0.9, 0.9], [0.3, -0.1]])
    negative, positive = _brush(palette, kind, -0.9, block), _brush(palette, kind, 0.9, block)
    assert negative.color() != positive.color()
    assert _hue_distance(negative.color(), positive.color()) >= 30  # a different hue, not just a shade
    assert colors.light_text(colors.signed_level(-0.9, *colors.magnitude_scale(block))) == \
        colors.light_text(colors.signed_level(0.9, *colors.magnitude_scale(block)))  # text reads alike on both


@pytest.mark.parametrize("kind", SIGNED)
def test_same_sign_and_size_same_brush_and_larger_is_darker(qapp, kind):
    palette = colors.Palette()
    block = np.array([-0.9, -0.45, -0.1, 0.0, 0.1, 0.45, 0.9])
    assert _brush(palette, kind, -0.45, block).color() == _brush(palette, kind, -0.45, block * 1).color()
    assert _brush(palette, kind, 0.9, block) is _brush(palette, kind, 0.9, np.array([0.9, -0.2]))
    for side in (-1, 1):
        lightness = [_brush(palette, kind, side * x, block).color().lightness() for x in (0.1, 0.45, 0.9)]
        assert lightness[0] > lightness[1] > lightness[2], (side, lightness)
    assert _brush(palette, kind, 0.0, block) is palette.cells[kind][0]  # 0 is the palest positive shade


def test_block_levels_agree_with_cell_levels(qapp):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(7, 5)) * 3
    values[0, 0], values[0, 2] = np.nan, 0.0
    offset, factor = colors.magnitude_scale(values)
    block = colors.signed_levels(values, offset, factor)
    cells = np.array([[colors.signed_level(v, offset, factor) for v in row] for row in values])
    assert np.array_equal(block, cells)
    finite = np.isfinite(values)
    assert ((block >= colors.LEVELS) == (values < 0))[finite].all()
    assert block.max() < 2 * colors.LEVELS and block.min() >= 0


def test_ratings_and_predictions_keep_their_magnitude_scale(qapp):
    palette = colors.Palette()
    for kind in (L.RATING, L.PREDICTION, L.LOSS):
        assert len(palette.cells[kind]) == colors.LEVELS
    offset, factor = colors.scale(1.0, 5.0)
    assert colors.level(1.0, offset, factor) == 0 and colors.level(5.0, offset, factor) == colors.LEVELS - 1
    errors = np.array([-0.9, 0.9, 0.2])
    assert len(set(colors.levels(np.abs(errors), *colors.magnitude_scale(errors))[:2])) == 1
    for kind in SIGNED:  # the first LEVELS brushes are the block's own hue, as before: unsigned callers see no change
        assert len(palette.cells[kind]) == 2 * colors.LEVELS
        assert palette.cells[kind][colors.LEVELS - 1].color() == colors.shade(colors.BASE[kind], colors.LEVELS - 1)
        assert len(palette.argb[kind]) == 2 * colors.LEVELS


def test_text_colour_follows_the_shade_whatever_the_sign(qapp):
    palette = colors.Palette()
    for level in range(colors.LEVELS):
        assert palette.text[level].color() == palette.text[level + colors.LEVELS].color()
    assert palette.text[colors.LEVELS].color() == colors.DARK_TEXT  # pale negative: dark text
    assert palette.text[2 * colors.LEVELS - 1].color() == colors.LIGHT_TEXT  # dark negative: white text


class _OneBlock:
    """What paint_sheet's block painter asks of the table model: one row of two negative user factors."""

    def __init__(self, palette):
        self.level = np.array([[2 * colors.LEVELS - 1, colors.LEVELS]])
        self.argb = palette.argb[L.USER_FACTORS][self.level]

    def block(self, kind, rows, cols):
        return np.ascontiguousarray(self.argb), self.level, ["−8.88", "−0.01"]


def test_painter_writes_white_on_dark_negatives_and_dark_on_pale_ones(qapp):
    palette = colors.Palette()
    image = QImage(200, 40, QImage.Format.Format_ARGB32)
    image.fill(QColor(255, 255, 255))
    painter = QPainter(image)
    model = _OneBlock(palette)
    sheet_painter._paint_block(painter, model, L.USER_FACTORS, [(0, 0, 40)], [(0, 0, 100), (1, 100, 100)], (0, 0),
                               sheet_painter._texts(painter))
    painter.end()
    dark_cell = [image.pixelColor(x, y) for x in range(40, 100) for y in range(5, 35)]
    pale_cell = [image.pixelColor(x, y) for x in range(140, 200) for y in range(5, 35)]
    assert image.pixelColor(5, 20) == palette.cells[L.USER_FACTORS][2 * colors.LEVELS - 1].color()
    assert image.pixelColor(105, 20) == palette.cells[L.USER_FACTORS][colors.LEVELS].color()
    assert max(c.lightness() for c in dark_cell) > 240  # the number is white on the dark rose
    assert min(c.lightness() for c in pale_cell) < 80  # and dark on the pale one


def test_legend_has_a_colour_bar_from_negative_through_zero_to_positive(qtbot):
    legend = QLegend()
    qtbot.addWidget(legend)
    legend.show()
    bar = legend.sign_bar
    assert bar.isVisible() and bar.width() >= 2 * colors.LEVELS and "negative" in bar.toolTip()
    image = bar.grab().toImage()
    columns = 2 * colors.LEVELS
    stripe = (bar.height() - 2) / len(SIGN_ROWS)
    for row, (kind, _) in enumerate(SIGN_ROWS):
        y = 1 + int((row + 0.5) * stripe)
        step = (bar.width() - 2) / columns
        left = image.pixelColor(QPoint(1 + int(3.5 * step), y))  # clear of the "−" at the left end
        right = image.pixelColor(QPoint(1 + int((columns - 3.5) * step), y))  # and of the "+" at the right end
        assert left == bar.color_at(kind, 3) == colors.shade(colors.NEGATIVE[kind], colors.LEVELS - 4), kind
        assert right == bar.color_at(kind, columns - 4) == colors.shade(colors.BASE[kind], colors.LEVELS - 4), kind
        assert _hue_distance(left, right) >= 30
        middle = [bar.color_at(kind, c) for c in (colors.LEVELS - 1, colors.LEVELS)]
        assert all(c.lightness() > left.lightness() and c.lightness() > right.lightness() for c in middle)
