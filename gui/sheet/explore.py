"""The Sheet tab beyond the lesson: the divergence coach's fixes, optimizer races, and a new user folded in.

A mixin of QSheetTab (it uses the tab's engine handle, views and panels).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from collabsheet.engine.config import OptimizerSettings, RunState
from collabsheet.gui.race.dialog import QRaceDialog
from collabsheet.gui.sheet.frames import NewUserRow
from collabsheet.gui.sheet.layout import Cell

if TYPE_CHECKING:
    from collabsheet.engine.sheet.coach import Diagnosis
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.race.frames import RaceFrame

SOLVING, LOADING = RunState.SOLVING, RunState.LOADING

class SheetExplore:
    """Coach, race and "Add me": commands to the worker, and what their frames show."""

    def _show_diagnosis(self, d: Diagnosis | None) -> None:
        """The coach's verdict above the sheet, and the cell it blames boxed."""
        self.diagnosis = d
        self.coach_bar.show_diagnosis(d)
        coached = Cell(d.cell[0], tuple(d.cell[1])) if d is not None and d.cell and self.coach_bar.isVisible() else None
        if coached != self.view.coached:
            self.view.set_marks(coached=coached)

    def apply_fix(self, step: int, settings: OptimizerSettings) -> None:
        """One of the coach's fixes: back to `step`, on with `settings` (a new branch when it is in the past)."""
        self.coach_bar.dismiss()
        self.engine.rewind(step, settings)

    def race_dialog(self) -> None:
        dialog = QRaceDialog(self)
        dialog.accepted.connect(lambda: self.start_race(dialog.racers(), dialog.max_steps()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def start_race(self, racers: list[OptimizerSettings], max_steps: int) -> None:
        """Race these optimizers from the sheet's factors (in the worker); the race tab shows it."""
        self.engine.start_race(list(racers), int(max_steps))

    def _show_race(self, frame: RaceFrame) -> None:
        if self.race_panel is None:
            from collabsheet.gui.race.panel import QRacePanel

            self.race_panel = QRacePanel()
            self.side_tabs.insertTab(1, self.race_panel, "Race")
            self._connect(self.race_panel.take_requested, self.engine.take_racer)
            self._connect(self.race_panel.stop_requested, self.engine.stop_race)
        if self.race is None or frame.number != self.race.number:  # a new race: show it
            self.side_tabs.setCurrentWidget(self.race_panel)
        self.race = frame
        self.race_panel.show_race(frame)

    def _raced(self, number: int) -> None:
        self.status_message.emit("The race is over: take any racer into the sheet from its card", 8000)

    def add_me(self, on: bool) -> None:
        """Add (or take away) the row of the person using the app; typing goes to its first blue cell."""
        self._select_me = on
        self.engine.add_me(on)

    def model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Use a trained model", "",
                                              "Trained models (*.pt *.pth *.model);;All files (*)")
        if path:
            self.engine.use_model(path)

    def _model_used(self, name: str) -> None:
        self.status_message.emit(f"Fold-in uses {name}: press Fold me in" if name else
                                 "Fold-in uses the sheet's movies again", 8000)

    def _show_me(self, row: NewUserRow | None, snap: Snapshot) -> None:
        self.me = row
        action = self.actions["add_me"]
        action.blockSignals(True)
        action.setChecked(row is not None)
        action.blockSignals(False)
        at = self.side_tabs.indexOf(self.me_panel)
        if row is None and at >= 0:
            self.side_tabs.removeTab(at)
        elif row is not None and at < 0:
            self.side_tabs.addTab(self.me_panel, "You")
            self.side_tabs.setCurrentWidget(self.me_panel)
        rated = snap.ratings[snap.mask]
        self.me_panel.show_row(row, (float(rated.min()), float(rated.max())) if rated.size else (0.0, 5.0))
        self.model.set_me(row.predictions if row is not None else None)
        self._enable_me()

    def _enable_me(self) -> None:
        busy = self.state in (SOLVING, LOADING) or not self.controls.ready
        self.actions["fold_in"].setEnabled(self.me is not None and not busy)
