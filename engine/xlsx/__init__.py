"""Workbooks: shared helpers (cells, save, values, errors) and one package per kind of workbook.

`collab/` is the sheet as an Excel workbook: live formulas and Solver's settings out, factors and ratings
back in. Export writes "Sheet", laid out like the lesson's workbook, "Engine" with the engine's side as
values, and "Optimizer" with its running averages; import reads such a workbook back and refuses anything
else with one line naming the file (and the cell). `graddesc/` is the gradient-descent workbook.

The collab names below are loaded on first use, so that importing another kind (graddesc, which needs no
torch) does not import the sheet engine.
"""
from __future__ import annotations

import importlib

from collabsheet.engine.xlsx.errors import XlsxError

_LAYOUT = ("ENGINE", "FIELDS_TOP", "FILLS", "FORMAT", "LABELS", "MARKER", "MAX_COLUMNS", "PREDICTIONS_LABEL", "SHEET",
           "SOLVER_OPTIONS", "TABLE_ROWS", "Layout")
_HOMES = {**dict.fromkeys(_LAYOUT, "collabsheet.engine.xlsx.collab.layout"), "ImportedSheet": "collabsheet.engine.xlsx.collab.read",
          "import_xlsx": "collabsheet.engine.xlsx.collab.read", "export_xlsx": "collabsheet.engine.xlsx.collab.write"}

__all__ = [*_HOMES, "XlsxError"]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'collabsheet.engine.xlsx' has no attribute {name!r}")
