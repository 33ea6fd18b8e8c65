"""The Sheet tab's files: opening ratings (the dialog, recent files, MovieLens), Excel export and import.

A mixin of QSheetTab (it uses the tab's engine handle).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

from collabsheet.gui.sheet.frames import LoadRequest


class SheetFiles:
    """Opening ratings and workbooks: every read happens in the worker; a bad file leaves the sheet as it was."""

    def open_default(self) -> None:
        """Back to MovieLens, the default data."""
        self.engine.load(LoadRequest())

    def open_dialog(self, path: str = "", columns: dict | None = None) -> None:
        """File → Open ratings; with a path (and the columns it was read with), to pick its columns again."""
        from collabsheet.gui.sheet.open_dialog import QOpenDialog  # reads files with pandas: imported when first opened

        dialog = QOpenDialog(self, path, columns)
        dialog.accepted.connect(lambda: self.open_request(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_request(self, request: LoadRequest) -> None:
        """Open a ratings file in the worker; a bad file leaves the current sheet untouched."""
        if request.path or request.ratings is not None:
            self.asked = request
            self.engine.load(request)

    def columns_read(self, source: str) -> dict:
        """The columns the last file asked for was read with, if `source` (a loaded file) is that file; else {}."""
        asked: LoadRequest | None = getattr(self, "asked", None)
        if asked is None or asked.path is None or not Path(source).is_file() or not Path(asked.path).is_file():
            return {}
        return dict(asked.columns) if Path(asked.path).resolve() == Path(source).resolve() else {}

    def open_ratings(self, path: str, **columns) -> None:
        """Open a ratings file with the given load_ratings column arguments."""
        self.open_request(LoadRequest(path=path, columns=columns))

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to Excel", "collabsheet.xlsx", "Excel workbook (*.xlsx)")
        if path:
            self.engine.export_xlsx(path if path.endswith(".xlsx") else path + ".xlsx")

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import from Excel", "",
                                              "Excel workbook (*.xlsx *.xlsm);;All files (*)")
        if path:
            self.engine.import_xlsx(path)

    def choose_sheet(self, path: str, sheets: list) -> None:
        """The lesson's workbook has several collab sheets (the dot product, the one with biases): pick one."""
        name, ok = QInputDialog.getItem(self, "Import from Excel", f"{Path(path).name} has these collab sheets:",
                                        sheets, 0, False)
        if ok and name:
            self.engine.import_xlsx(path, name)
