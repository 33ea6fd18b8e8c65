"""How a cell's number is written and read: a spreadsheet's General format, and numbers as users type them."""
from __future__ import annotations

import math
from typing import Callable


class Overflowed(ValueError):
    """A number too large for a float ("1e400"): float() reads it as inf."""


def parse_number(text: str) -> float:
    """A number as a user types it into a cell ("3.5", "3,5", " 4 "); raises ValueError otherwise."""
    value = float(text.strip().replace(",", "."))
    if math.isinf(value) and "inf" not in text.lower():  # written as digits, it overflowed
        raise Overflowed(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def number_text(value: float, decimals: int = 2, *, sign: bool = False, strip: bool = False,
                fits: Callable[[str], bool] | None = None) -> str:
    """A cell's number as a spreadsheet's General format shows it: as many of `decimals` as there is room for.

    With `fits` (whether a text fits the cell), the first that fits of: `decimals` down to no decimals, then
    scientific with one decimal and with none, then "###" (Excel's mark for a column too narrow). Without it, a
    fixed rule by magnitude: `decimals` below 10, one decimal to 1000, none to 100000, then scientific.
    `sign` writes a + on positive numbers; `strip` drops trailing zeros (ratings: 4, 3.5, 4.25).
    """
    plus = "+" if sign else ""
    if fits is None:
        size = abs(value)
        if size < 1e5:
            places = decimals if size < 10 else min(decimals, 1) if size < 1000 else 0
            return _fixed(value, places, plus, strip)
        return f"{value:{plus}.1e}"
    for places in range(decimals, -1, -1):
        text = _fixed(value, places, plus, strip)
        if fits(text):
            return text
    for places in (1, 0):
        text = f"{value:{plus}.{places}e}"
        if fits(text):
            return text
    return next((text for text in ("###", "##", "#") if fits(text)), "")


def _fixed(value: float, places: int, plus: str, strip: bool) -> str:
    text = f"{value:{plus}.{places}f}"
    return text.rstrip("0").rstrip(".") if strip and "." in text else text


def rating_text(value: float) -> str:
    """A rating as the workbook shows it: 4, 3.5, 4.25."""
    return number_text(value, strip=True)


def edit_text(value: float) -> str:
    """A number in full: the shortest text that reads back as exactly this float (4, 0.1, -1234.567)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def loss_text(value: float) -> str:
    """The loss cell's number: four decimals, or scientific notation once that would not fit (a diverged run)."""
    return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.3e}"
