"""The one error type of every workbook reader and writer, and A1 cell addresses for its messages."""
from __future__ import annotations

from openpyxl.utils import get_column_letter


class XlsxError(ValueError):
    """A workbook could not be imported or written; str(error) is one line naming the file and what is wrong."""


def a1(row: int, col: int, absolute: bool = False) -> str:
    d = "$" if absolute else ""
    return f"{d}{get_column_letter(col)}{d}{row}"
