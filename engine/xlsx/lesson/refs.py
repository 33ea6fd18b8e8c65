"""References in formulas resolved to rectangles of cells: A1 or $A$1 addresses, sheet-qualified, or simple names."""
from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl.utils import column_index_from_string

from collabsheet.engine.xlsx.errors import a1

ADDRESS = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Z]{1,3})\$?([0-9]{1,7}))?")
MAX_ROW, MAX_COL = 1_048_576, 16_384  # a worksheet's size in Excel


class RefError(ValueError):
    """A reference that names no rectangle of cells in this workbook; the caller names the cell."""


@dataclass(frozen=True)
class Area:
    """A rectangle of cells on one sheet, 1-based and inclusive."""

    sheet: str
    top: int
    left: int
    bottom: int
    right: int

    @property
    def rows(self) -> int:
        return self.bottom - self.top + 1

    @property
    def cols(self) -> int:
        return self.right - self.left + 1

    @property
    def shape(self) -> str:
        return f"{self.rows}×{self.cols}"

    def cell(self, i: int, j: int) -> tuple[int, int]:
        """The (row, column) of the cell i rows down and j columns across from the top left."""
        return self.top + i, self.left + j

    def at(self, i: int, j: int) -> Area:
        row, col = self.cell(i, j)
        return Area(self.sheet, row, col, row, col)

    def cells(self) -> list[tuple[int, int]]:
        return [self.cell(i, j) for i in range(self.rows) for j in range(self.cols)]

    def __str__(self) -> str:
        corner = a1(self.top, self.left)
        span = corner if (self.rows, self.cols) == (1, 1) else f"{corner}:{a1(self.bottom, self.right)}"
        plain = re.fullmatch(r"[A-Za-z_][\w.]*", self.sheet) and not ADDRESS.fullmatch(self.sheet.upper())
        return f"{self.sheet if plain else quote(self.sheet)}!{span}"


class Names:
    """The workbook's sheet names and defined names, case-insensitive as in Excel."""

    def __init__(self, sheets: list[str], book_names: dict[str, str], sheet_names: dict[str, dict[str, str]]) -> None:
        self.sheets = {s.upper(): s for s in sheets}
        self.book_names = {k.upper(): v for k, v in book_names.items()}
        self.sheet_names = {s: {k.upper(): v for k, v in names.items()} for s, names in sheet_names.items()}

    def sheet(self, name: str) -> str | None:
        return self.sheets.get(name.upper())

    def defined(self, name: str, home: str) -> str | None:
        """What a defined name stands for, a name local to the formula's sheet first."""
        key = name.upper()
        return self.sheet_names.get(home, {}).get(key) or self.book_names.get(key)


def resolve(text: str, home: str, names: Names, depth: int = 0) -> Area:
    """The rectangle a reference names, read from a formula on sheet `home`."""
    sheet, address = split(text)
    if sheet is not None:
        if sheet.startswith("["):
            raise RefError(f"{text} refers to another workbook")
        found = names.sheet(sheet)
        if found is None:
            raise RefError(f"{text} names a sheet this workbook does not have")
        sheet = found
    match = ADDRESS.fullmatch(address.upper())
    if match:
        return _area(text, sheet or home, match)
    meaning = names.defined(address, sheet or home)
    if meaning is None or depth > 0:
        what = "is not a cell or a range" if meaning is None else "is a name for another name"
        raise RefError(f"{text} {what}")
    try:
        return resolve(meaning.removeprefix("="), sheet or home, names, depth + 1)
    except RefError:
        raise RefError(f"the name {address} stands for {meaning}, not one range of cells") from None


def quote(sheet: str) -> str:
    """A sheet name as a formula writes it when it has spaces or other awkward characters."""
    return "'" + sheet.replace("'", "''") + "'"


def split(text: str) -> tuple[str | None, str]:
    """(sheet or None, address) from 'Sheet'!A1, Sheet!A1 or A1."""
    if "!" not in text:
        return None, text
    sheet, address = text.rsplit("!", 1)
    if len(sheet) >= 2 and sheet[0] == sheet[-1] == "'":
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, address


def _area(text: str, sheet: str, match: re.Match) -> Area:
    c1, r1, c2, r2 = match.groups()
    c2, r2 = c2 or c1, r2 or r1
    cols, rows = [column_index_from_string(c) for c in (c1, c2)], [int(r1), int(r2)]
    if max(cols) > MAX_COL or min(rows) < 1 or max(rows) > MAX_ROW:
        raise RefError(f"{text} is outside a worksheet")
    return Area(sheet, min(rows), min(cols), max(rows), max(cols))
