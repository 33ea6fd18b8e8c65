"""An explained cell as plain data, and how its numbers are written: what the explain panel renders (no torch)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Explanation:
    """One cell explained: a title, its formula with numbers, the terms, and notes."""

    title: str
    formula: str
    terms: tuple[tuple[str, float], ...]
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        """The whole explanation as plain text, one item a line."""
        width = max((len(label) for label, _ in self.terms), default=0)
        lines = [self.title, "", self.formula, ""]
        lines += [f"{label:<{width}}  {fmt(value)}" for label, value in self.terms]
        return "\n".join(lines + ([""] + list(self.notes) if self.notes else []))


def fmt(value: float) -> str:
    """A number as the panel shows it: 4 significant decimals, scientific when tiny or huge."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"
