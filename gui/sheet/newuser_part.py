"""The Sheet tab's side of the new user ("Add me"): their row's panel beside the sheet, the commands that add
the row, pick the movies it folds into and fold it in, and the cursor put in the row when it shows.

A part the tab owns; it sees the tab as a NewUserHost. The row itself is built in the worker
(gui.sheet.newuser_commands) and arrives with the frames.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import QFileDialog

from collabsheet.gui.sheet.layout import RATING, Cell
from collabsheet.gui.sheet.newuser_panel import QNewUserPanel

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QTabWidget, QWidget

    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.frames import NewUserRow
    from collabsheet.gui.sheet.handle import QSheetHandle
    from collabsheet.gui.sheet.model import QSheetModel
    from collabsheet.gui.sheet.view import QSheetView


class NewUserHost(Protocol):
    """What the new user's part uses of the tab."""

    engine: QSheetHandle  # its add_me and use_model commands
    actions: dict[str, QAction]  # add_me and fold_in are the part's to check and enable
    side_tabs: QTabWidget
    model: QSheetModel
    view: QSheetView

    def say(self, text: str, ms: int) -> None:
        """A passing message in the status bar."""

    def settled(self) -> bool:
        """Whether the sheet is shown and nothing solves or loads: fold-in waits until then."""


class NewUserPart:
    """The new user's row as the tab shows it, and its panel: their recommendations and what to do next."""

    def __init__(self, host: NewUserHost, window: QWidget) -> None:
        self.host = host
        self.window = window  # the file dialog's parent
        self.panel = QNewUserPanel(host.actions)
        self.row: NewUserRow | None = None  # the new user's row, when there is one
        self._select = False  # the row was asked for: put the cursor in it when it shows

    def add(self, on: bool) -> None:
        """Add (or take away) the row of the person using the app; typing goes to its first blue cell."""
        self._select = on
        self.host.engine.add_me(on)

    def model_dialog(self) -> None:
        """Sheet → Use a trained model: fold in with that model's movies."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Use a trained model", "",
                                              "Trained models (*.pt *.pth *.model);;All files (*)")
        if path:
            self.host.engine.use_model(path)

    def model_used(self, name: str) -> None:
        """The worker's word on which movies fold-in uses now."""
        self.host.say(f"Fold-in uses {name}: press Fold me in" if name else "Fold-in uses the sheet's movies again",
                      8000)

    def show_row(self, row: NewUserRow | None, snap: Snapshot) -> None:
        """The row a frame brought (None: there is none): the Add me action, the panel and the table follow it."""
        host = self.host
        self.row = row
        action = host.actions["add_me"]
        action.blockSignals(True)
        action.setChecked(row is not None)
        action.blockSignals(False)
        at = host.side_tabs.indexOf(self.panel)
        if row is None and at >= 0:
            host.side_tabs.removeTab(at)
        elif row is not None and at < 0:
            host.side_tabs.addTab(self.panel, "You")
            host.side_tabs.setCurrentWidget(self.panel)
        rated = snap.ratings[snap.mask]
        self.panel.show_row(row, (float(rated.min()), float(rated.max())) if rated.size else (0.0, 5.0))
        host.model.set_new_user(row.predictions if row is not None else None)
        self.enable()

    def select_when_shown(self) -> None:
        """Once the asked-for row is on the table: the cursor in its first rating, and the panel in front."""
        host = self.host
        if self._select and host.model.new_user_row is not None:
            self._select = False
            host.view.select_cell(Cell(RATING, (host.model.new_user_row, 0)))
            host.view.setFocus()
            host.side_tabs.setCurrentWidget(self.panel)  # what to do next, rather than the cell's formula

    def enable(self) -> None:
        """Fold in works on a row, on a settled sheet."""
        self.host.actions["fold_in"].setEnabled(self.row is not None and self.host.settled())
