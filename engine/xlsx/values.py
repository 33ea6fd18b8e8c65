"""Reading workbooks: a file checked as an .xlsx package, and a sheet's cached values with errors naming the cell."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from engine.xlsx.errors import XlsxError, a1


class Values:
    """One sheet's cached cell values, addressed like the spreadsheet, with errors that name the cell."""

    def __init__(self, book: str, name: str, rows: list[tuple]) -> None:
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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise self.fail(row, col, f"should be a number, found {show(value)}")
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
    return "a blank cell" if value is None or value == "" else repr(value)


def check_package(path: Path, *, macros: bool = False, pivot_tables: bool = False) -> None:
    """Refuse what is not a plain .xlsx package: missing, damaged, and (unless allowed) macros or pivot tables."""
    book = path.name
    if not path.exists():
        raise XlsxError(f"{book}: no such file")
    if path.is_dir():
        raise XlsxError(f"{book}: is a folder, not a workbook")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise XlsxError(f"{book}: cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise XlsxError(f"{book}: is empty (0 bytes)")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise XlsxError(f"{book}: an old-style .xls or a password-protected workbook; save it as .xlsx")
    if not head.startswith(b"PK"):
        raise XlsxError(f"{book}: not an Excel workbook (.xlsx)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n.lower() for n in zf.namelist()]
            bad = zf.testzip()
    except Exception as exc:  # zipfile raises several kinds for truncated or garbled archives
        raise XlsxError(f"{book}: damaged or not an Excel workbook ({reason(exc)})") from exc
    if bad:
        raise XlsxError(f"{book}: damaged (bad data in {bad})")
    if "xl/workbook.xml" not in names:
        raise XlsxError(f"{book}: not an Excel workbook (.xlsx)")
    if not macros and any("vbaproject" in n for n in names):
        raise XlsxError(f"{book}: contains macros; collabsheet imports only the .xlsx workbooks it exports")
    if not pivot_tables and any("pivottable" in n or "pivotcache" in n for n in names):
        raise XlsxError(f"{book}: contains pivot tables; collabsheet imports only the workbooks it exports")


def reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]
