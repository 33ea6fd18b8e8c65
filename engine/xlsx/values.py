"""A sheet's cached values, addressed like the spreadsheet, with errors that name the cell."""
from __future__ import annotations

import numpy as np

from collabsheet.engine.data.ratings import MAX_RATING
from collabsheet.engine.xlsx.errors import XlsxError, a1

MAX_NUMBER = MAX_RATING  # beyond this a number read back overflows float64 in the sheet's sums, as a rating would


class Values:
    """One sheet's cached cell values, addressed like the spreadsheet, with errors that name the cell."""

    def __init__(self, book: str, name: str, rows: list[list]) -> None:
        self.book, self.name, self.rows = book, name, rows

    def get(self, row: int, col: int):
        line = self.rows[row - 1] if row <= len(self.rows) else ()
        return line[col - 1] if col <= len(line) else None

    def fail(self, row: int, col: int, what: str) -> XlsxError:
        return XlsxError(f"{self.book}: {self.name}!{a1(row, col)} {what}")

    def number(self, row: int, col: int, blank_ok: bool = False) -> float:
        value = self.get(row, col)
        if blank_ok and (value is None or value == ""):
            return np.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(float(value)):
            raise self.fail(row, col, f"should be a number, found {show(value)}")
        if abs(value) > MAX_NUMBER:
            raise self.fail(row, col, f"holds {value:g}, too large to compute with; numbers here must lie between "
                                      f"{-MAX_NUMBER:g} and {MAX_NUMBER:g}")
        return float(value)

    def text(self, row: int, col: int) -> str:
        value = self.get(row, col)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a spreadsheet turned an id typed as text back into a number
        return "" if value is None else str(value)

    def expect(self, row: int, col: int, label: str) -> None:
        if self.get(row, col) != label:
            raise self.fail(row, col, f"should read {label!r}, found {show(self.get(row, col))}; "
                                      "were rows or columns inserted or deleted?")


def show(value) -> str:
    """A cell's value for a message: short, and with any control characters escaped."""
    if value is None or value == "":
        return "a blank cell"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
