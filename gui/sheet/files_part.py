"""The Sheet tab's files: opening ratings (the dialog, recent files, MovieLens), Excel export and import.

A part the tab owns; it sees the tab as a FilesHost: the engine's file commands, the Excel actions it enables,
and whether the tab is busy. Its dialogs open over the window it is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import QFileDialog, QInputDialog

from collabsheet.gui.sheet.frames import LoadRequest

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QWidget

XLSX_ACTIONS = ("import", "export")


class FileCommands(Protocol):
    """The engine's commands that read and write files (in the worker)."""

    def load(self, request: LoadRequest) -> None: ...

    def export_xlsx(self, path: str) -> None: ...

    def import_xlsx(self, path: str, sheet: str | None = None) -> None: ...

    def check_xlsx(self) -> None: ...


class FilesHost(Protocol):
    """What the files' part uses of the tab."""

    engine: FileCommands
    actions: dict[str, QAction]  # import and export are the part's to enable

    def busy(self) -> bool:
        """Whether a solve or a load is running (Excel waits for it)."""


class SheetFiles:
    """Opening ratings and workbooks: every read happens in the worker; a bad file leaves the sheet as it was."""

    def __init__(self, host: FilesHost, window: QWidget) -> None:
        self.host = host
        self.engine = host.engine
        self.window = window  # the dialogs' parent
        self.asked: LoadRequest | None = None  # the last file asked for, with the columns it was to be read with
        self.xlsx_available = False  # whether the worker could import engine.xlsx (openpyxl)
        for name in XLSX_ACTIONS:  # enabled after the first sheet shows: importing openpyxl takes a while
            host.actions[name].setEnabled(False)

    def check_xlsx(self) -> None:
        """Ask the worker to import engine.xlsx (openpyxl); it answers with xlsx_checked."""
        self.engine.check_xlsx()

    def xlsx_checked(self, available: bool) -> None:
        """The worker's answer: Excel export and import work, or say why not."""
        self.xlsx_available = available
        self.enable_xlsx()

    def enable_xlsx(self) -> None:
        """Export and import while nothing solves or loads, once openpyxl is there."""
        busy = self.host.busy()
        for name in XLSX_ACTIONS:
            action = self.host.actions[name]
            action.setEnabled(self.xlsx_available and not busy)
            action.setToolTip(action.text().replace("&", "") if self.xlsx_available
                              else "Excel files need openpyxl, which could not be loaded")

    def open_default(self) -> None:
        """Back to MovieLens, the default data."""
        self.engine.load(LoadRequest())

    def open_dialog(self, path: str = "", columns: dict | None = None) -> None:
        """File → Open ratings; with a path (and the columns it was read with), to pick its columns again."""
        from collabsheet.gui.sheet.open_dialog import QOpenDialog  # reads files with pandas: imported when first opened

        dialog = QOpenDialog(self.window, path, columns)
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
        asked = self.asked
        if asked is None or asked.path is None or not Path(source).is_file() or not Path(asked.path).is_file():
            return {}
        return dict(asked.columns) if Path(asked.path).resolve() == Path(source).resolve() else {}

    def open_ratings(self, path: str, **columns) -> None:
        """Open a ratings file with the given load_ratings column arguments."""
        self.open_request(LoadRequest(path=path, columns=columns))

    def export_dialog(self) -> None:
        """File → Export to Excel: the sheet as the lesson's workbook."""
        path, _ = QFileDialog.getSaveFileName(self.window, "Export to Excel", "collabsheet.xlsx",
                                              "Excel workbook (*.xlsx)")
        if path:
            self.engine.export_xlsx(path if path.endswith(".xlsx") else path + ".xlsx")

    def import_dialog(self) -> None:
        """File → Import from Excel: a workbook's collab sheet, read in the worker."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Import from Excel", "",
                                              "Excel workbook (*.xlsx *.xlsm);;All files (*)")
        if path:
            self.engine.import_xlsx(path)

    def choose_sheet(self, path: str, sheets: list) -> None:
        """The lesson's workbook has several collab sheets (the dot product, the one with biases): pick one."""
        name, ok = QInputDialog.getItem(self.window, "Import from Excel", f"{Path(path).name} has these collab sheets:",
                                        sheets, 0, False)
        if ok and name:
            self.engine.import_xlsx(path, name)
