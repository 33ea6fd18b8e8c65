"""The Sheet runner's Excel commands: export, import (collabsheet's workbooks and the lesson's), availability.

A mixin of SheetRunner, Qt-free, run in the worker thread like every runner command.
"""
from __future__ import annotations


def xlsx_module():
    """collabsheet.engine.xlsx, imported on first use in the worker (openpyxl is slow to import); None if unavailable."""
    try:
        import collabsheet.engine.xlsx as module
    except ImportError:
        return None
    return module


class XlsxCommands:
    """Excel export and import for the runner that owns the sheet."""

    def check_xlsx(self) -> None:
        """Whether Excel export and import work here, as an xlsx_checked event (openpyxl is imported here)."""
        self.emit("xlsx_checked", xlsx_module() is not None)

    def export_xlsx(self, path: str) -> None:
        module = xlsx_module()
        if module is None or self.sheet is None:
            raise ValueError("Excel export is not available in this build yet.")
        module.export_xlsx(self.sheet.snapshot(), path)
        self.emit("notice", f"Saved {path}")

    def import_xlsx(self, path: str, sheet: str | None = None) -> None:
        """A workbook collabsheet exported, or one laid out as the lesson's: with several collab sheets and
        none named, a choose_sheet event asks the user which."""
        if xlsx_module() is None:
            raise ValueError("Excel import is not available in this build yet.")
        from collabsheet.engine.xlsx.lesson import list_collab_sheets
        from collabsheet.engine.xlsx.open import import_workbook, is_collabsheet_workbook

        if sheet is None and not is_collabsheet_workbook(path):
            sheets = list_collab_sheets(path)
            if len(sheets) > 1:
                self.emit("choose_sheet", path, sheets)
                return
        self.pause()
        book = import_workbook(path, sheet)
        self.adopt(book.to_sheet(device=self.device))
        loss = "" if book.workbook_loss is None else f" · workbook loss {book.workbook_loss:.6f}, " \
            f"engine {self.sheet.rmse():.6f}"
        self.emit("notice", f"Imported {path}" + (f", sheet {sheet}" if sheet else "") + loss)
