"""Writing cells: numbers at full precision, text that never becomes a formula, shared looks."""
from __future__ import annotations

import numpy as np
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill


class Cells:
    """Puts values into a worksheet with one of a few shared looks (styling 100k cells one by one is slow)."""

    def __init__(self, ws, styles: dict) -> None:
        self.ws, self.styles = ws, styles

    def put(self, row: int, col: int, value, style: str | None = None, text: bool = False) -> None:
        """Place a number, a formula ('=…'), text (always text when text=True) or a blank."""
        cell = self.ws.cell(row, col)
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if text:
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", str(value))
            cell.data_type = "s"  # a title like "=cmd|..." stays text, never a formula
        elif isinstance(value, float):
            if np.isfinite(value):
                # openpyxl writes floats as '%.16g', which can lose the last bit; Excel writes 17 digits, so do we.
                cell._value, cell.data_type = repr(value), "n"
        elif value is not None:
            cell.value = value
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
