"""The sheet as an Excel workbook: live formulas and Solver's settings out, factors and ratings back in.

Export writes two sheets. "Sheet" is laid out like the lesson's workbook: ratings (user ids down, movie
ids and titles across), movie factors above the predictions, user factors to their left, each
prediction a formula and the loss cell under Solver's hidden names. "Engine" holds the engine's side
as values. Import reads such a workbook back, after Solver or the user changed it, and refuses
anything else with one line naming the file (and the cell, for a cell problem).
"""
from engine.xlsx.collab.layout import (
    ENGINE, FIELDS_TOP, FILLS, FORMAT, LABELS, MARKER, MAX_COLUMNS, PREDICTIONS_LABEL, SHEET, SOLVER_OPTIONS,
    TABLE_ROWS, Layout,
)
from engine.xlsx.errors import XlsxError
from engine.xlsx.collab.read import ImportedSheet, import_xlsx
from engine.xlsx.collab.write import export_xlsx

__all__ = [
    "ENGINE", "FIELDS_TOP", "FILLS", "FORMAT", "LABELS", "MARKER", "MAX_COLUMNS", "PREDICTIONS_LABEL", "SHEET",
    "SOLVER_OPTIONS", "TABLE_ROWS", "ImportedSheet", "Layout", "XlsxError", "export_xlsx", "import_xlsx",
]
