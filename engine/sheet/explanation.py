"""An explained cell as plain data, and how its numbers are written: what the explain panel renders (no torch)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MINUS = "−"  # U+2212: a true minus sign, as wide as the plus
ALL = slice(None)  # in a precedent's index: every row (or column) of the block, as a spreadsheet range covers them
SMALL, LARGE = 1e-3, 1e5  # outside [SMALL, LARGE) a number is written in scientific notation
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

Precedent = tuple[str, tuple]  # (block kind, index as numpy takes it: ints, or ALL for a whole row or column)


@dataclass(frozen=True)
class Explanation:
    """One cell explained: a title, its formula with numbers, the terms, notes, and the cells to highlight with it.

    The formula may take several lines (joined by ";\\n", so it still reads when shown as one paragraph).
    `precedents` are the cells that feed this one, as a spreadsheet's "trace precedents" marks them: for a
    prediction its user's factor row and bias, its movie's factor column and bias, its rating; for the loss
    the whole ratings and predictions blocks (the ranges its formula names). An input cell has no
    precedents, so for a factor, a bias or a rating they are the cells it feeds instead.
    """

    title: str
    formula: str
    terms: tuple[tuple[str, float], ...]
    notes: tuple[str, ...] = ()
    precedents: tuple[Precedent, ...] = ()

    def text(self) -> str:
        """The whole explanation as plain text, one item a line."""
        width = max((len(label) for label, _ in self.terms), default=0)
        lines = [self.title, "", self.formula, ""]
        lines += [f"{label:<{width}}  {fmt(value)}" for label, value in self.terms]
        return "\n".join(lines + ([""] + list(self.notes) if self.notes else []))


def fmt(value: float, places: int = 4, trim: bool = False) -> str:
    """A number as explanations write it: `places` decimals, ×10ⁿ when tiny or huge, a true minus sign.

    `trim` drops trailing zeros, for settings the user typed (lr 0.05, β1 0.9).
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value)).replace("-", MINUS)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else MINUS + "∞"
    if value == 0 or SMALL <= abs(value) < LARGE:
        text = _trim(f"{abs(value):.{places}f}", trim)
        return MINUS + text if value < 0 and text.strip("0.") else text
    mantissa, exponent = f"{abs(value):.{places - 1}e}".split("e")
    sign = MINUS if value < 0 else ""
    return f"{sign}{_trim(mantissa, trim)}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def _trim(text: str, trim: bool) -> str:
    return text.rstrip("0").rstrip(".") if trim and "." in text else text


def operand(value: float, places: int = 4, trim: bool = False) -> str:
    """fmt() as a factor or a term after + or −: bracketed when negative or scientific, "0.234·(−0.402)"."""
    text = fmt(value, places, trim)
    return f"({text})" if text.startswith(MINUS) or "×" in text else text


def power(base: str, exponent: int) -> str:
    """base to a whole power, the exponent in superscript: power("0.9", 4) is 0.9⁴."""
    return base + str(int(exponent)).translate(_SUPERSCRIPT)


def marks(precedents: tuple[Precedent, ...], shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The precedents as one boolean mask per block they name (True where highlighted); blocks not in shapes are skipped."""
    out: dict[str, np.ndarray] = {}
    for kind, index in precedents:
        if kind in shapes:
            mask = out.setdefault(kind, np.zeros(shapes[kind], dtype=bool))
            mask[index] = True
    return out
