"""The gradient-descent workbook in Excel: one sheet of the lesson's formulas per optimizer, and reading back
a sheet laid out like the lesson's graddesc.xlsm (or our export), macros ignored."""
from collabsheet.engine.xlsx.graddesc.layout import DATA_SHEET, SHEETS, Layout, rule_of_sheet
from collabsheet.engine.xlsx.graddesc.read import WorkbookSheet, read_graddesc
from collabsheet.engine.xlsx.graddesc.write import export_graddesc, row_formulas

__all__ = ["DATA_SHEET", "SHEETS", "Layout", "WorkbookSheet", "export_graddesc", "read_graddesc", "row_formulas",
           "rule_of_sheet"]
