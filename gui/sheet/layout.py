"""Where each block of the lesson's sheet sits in one table: pure arithmetic on rows and columns.

    columns:  ratings (m) | gap | user factors (k) [| user bias] | predictions (m)
    rows:     movie factors (k) [/ movie bias] / users (n)

The ratings block sits under an empty corner, the loss cell fills the corner above the user
factors, movie factors sit above the predictions, user factors to their left: as in the workbook.
"""
from __future__ import annotations

from dataclasses import dataclass

RATING, PREDICTION, LOSS, BLANK = "rating", "prediction", "loss", "blank"
USER_FACTORS, ITEM_FACTORS, USER_BIAS, ITEM_BIAS = "user_factors", "item_factors", "user_bias", "item_bias"
PARAMS = (USER_FACTORS, ITEM_FACTORS, USER_BIAS, ITEM_BIAS)


@dataclass(frozen=True)
class Cell:
    """What one table cell shows: a block name and the index into that block."""

    kind: str
    index: tuple[int, ...] = ()


@dataclass(frozen=True)
class SheetLayout:
    """Row and column arithmetic for an n-users × m-movies sheet with k factors."""

    n: int
    m: int
    k: int
    biases: bool = False

    @property
    def top(self) -> int:
        """First user row: below the movie factors (and the movie bias row)."""
        return self.k + int(self.biases)

    @property
    def gap(self) -> int:
        """The empty column between the ratings and the factors."""
        return self.m

    @property
    def factor_col(self) -> int:
        """First user-factor column."""
        return self.m + 1

    @property
    def left(self) -> int:
        """First prediction column: right of the user factors (and the user bias column)."""
        return self.factor_col + self.k + int(self.biases)

    @property
    def rows(self) -> int:
        return self.top + self.n

    @property
    def columns(self) -> int:
        return self.left + self.m

    def loss_span(self) -> tuple[int, int, int, int]:
        """(row, column, rows, columns) of the loss cell: the corner above the user factors."""
        return 0, self.factor_col, self.top, self.left - self.factor_col

    def blocks(self) -> dict[str, tuple[int, int, int, int]]:
        """Each block's table rows and columns as (first row, end row, first column, end column)."""
        top, fc, left, k = self.top, self.factor_col, self.left, self.k
        out = {RATING: (top, self.rows, 0, self.m), USER_FACTORS: (top, self.rows, fc, fc + k),
               PREDICTION: (top, self.rows, left, self.columns), ITEM_FACTORS: (0, k, left, self.columns)}
        if self.biases:
            out[USER_BIAS] = (top, self.rows, fc + k, fc + k + 1)
            out[ITEM_BIAS] = (k, k + 1, left, self.columns)
        return out

    def cell(self, row: int, col: int) -> Cell:
        """The block and index shown at (row, col)."""
        top, left, fc = self.top, self.left, self.factor_col
        if row >= top:
            i = row - top
            if col < self.m:
                return Cell(RATING, (i, col))
            if col >= left:
                return Cell(PREDICTION, (i, col - left))
            if fc <= col < fc + self.k:
                return Cell(USER_FACTORS, (i, col - fc))
            if self.biases and col == fc + self.k:
                return Cell(USER_BIAS, (i,))
            return Cell(BLANK)
        if col >= left:
            if row < self.k:
                return Cell(ITEM_FACTORS, (row, col - left))
            return Cell(ITEM_BIAS, (col - left,))
        if fc <= col < left:
            return Cell(LOSS)
        return Cell(BLANK)

    def position(self, cell: Cell) -> tuple[int, int]:
        """(row, column) of a cell; the loss cell's top-left corner."""
        kind, index = cell.kind, cell.index
        if kind == RATING:
            return self.top + index[0], index[1]
        if kind == PREDICTION:
            return self.top + index[0], self.left + index[1]
        if kind == USER_FACTORS:
            return self.top + index[0], self.factor_col + index[1]
        if kind == USER_BIAS:
            return self.top + index[0], self.factor_col + self.k
        if kind == ITEM_FACTORS:
            return index[0], self.left + index[1]
        if kind == ITEM_BIAS:
            return self.k, self.left + index[0]
        if kind == LOSS:
            return 0, self.factor_col
        raise ValueError(f"no position for a {kind} cell")

    def column_item(self, col: int) -> int | None:
        """The movie index a column shows (ratings or predictions), else None."""
        if col < self.m:
            return col
        if col >= self.left:
            return col - self.left
        return None

    def row_user(self, row: int) -> int | None:
        """The user index a row shows, else None."""
        return row - self.top if row >= self.top else None
