"""Writing cells: numbers at full precision, text that never becomes a formula, formulas only when asked for."""
from __future__ import annotations

import numpy as np
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill

MAX_TEXT = 32_767  # characters a cell can hold in Excel; a longer text makes Excel "repair" the workbook


class Cells:
    """Puts values into a worksheet with one of a few shared looks (styling 100k cells one by one is slow).

    Text from outside (file names, ids, titles, column names) goes through put, which always writes it as
    text, whatever it starts with; the only way to write a formula is formula(), with text the code built.
    """

    def __init__(self, ws, styles: dict) -> None:
        self.ws, self.styles = ws, styles

    def put(self, row: int, col: int, value, style: str | None = None, text: bool = False) -> None:
        """Place a number, text (any str, and any value when text=True; never a formula) or a blank."""
        cell = self.ws.cell(row, col)
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if text or isinstance(value, str):
            clean = ILLEGAL_CHARACTERS_RE.sub("", str(value))  # control characters XML cannot hold
            cell._value = clean if len(clean) <= MAX_TEXT else clean[:MAX_TEXT - 1] + "…"
            cell.data_type = "s"  # a title like "=HYPERLINK(…)" stays text: openpyxl would make it a formula
        elif isinstance(value, float):
            if np.isfinite(value):
                # openpyxl writes floats as '%.16g', which can lose the last bit; Excel writes 17 digits, so do we.
                cell._value, cell.data_type = repr(value), "n"
        elif value is not None:
            cell.value = value  # a number or a bool
        self._style(cell, style)

    def formula(self, row: int, col: int, formula: str, style: str | None = None) -> None:
        """Place a formula the code wrote ('=…'); never pass text that came from outside."""
        if not formula.startswith("="):
            raise ValueError(f"a formula starts with '=', got {formula[:20]!r}")
        cell = self.ws.cell(row, col)
        cell._value, cell.data_type = formula, "f"
        self._style(cell, style)

    def _style(self, cell, style: str | None) -> None:
        if style:
            cell._style = self.styles[style]  # shared, never changed after: cells only read it when saved


def look(ws, fill: str | None = None, bold: bool = False, fmt: str | None = None, wrap: bool = False,
         colour: str | None = None, align: str | None = None):
    """A named cell look registered with ws's workbook, as the shared style array cells point at."""
    cell = Cell(ws)  # a scratch cell, never placed: setting its look registers the look with the workbook
    if fill:
        cell.fill = PatternFill("solid", fgColor=fill)
    cell.font = Font(bold=bold, color=colour)
    if fmt:
        cell.number_format = fmt
    cell.alignment = Alignment(horizontal=align, vertical="top", wrap_text=wrap)
    return cell._style
