"""Open any workbook the sheet can come from: collabsheet's own export, or a collab sheet laid out as the lesson's."""
from __future__ import annotations

from pathlib import Path

from collabsheet.engine.xlsx.collab.layout import ENGINE
from collabsheet.engine.xlsx.collab.read import ImportedSheet, import_xlsx
from collabsheet.engine.xlsx.lesson import import_lesson
from collabsheet.engine.xlsx.package import Package


def is_collabsheet_workbook(path: str | Path) -> bool:
    """Whether the workbook is one collabsheet exported (it has the Engine sheet)."""
    # The lesson's workbook may carry macros and pivot tables: allowed here, never run or read.
    with Package(Path(path), macros=True, pivot_tables=True) as package:
        return ENGINE in package.sheets


def import_workbook(path: str | Path, sheet: str | None = None) -> ImportedSheet:
    """collabsheet's export (sheet must be None), else the lesson's collab sheet named `sheet` or the first that fits."""
    if sheet is None and is_collabsheet_workbook(path):
        return import_xlsx(path)
    return import_lesson(path, sheet)
