"""The Sheet tab's side of the divergence coach: its verdict in the bar above the sheet, the cell it blames boxed,
and its fixes sent to the engine.

A part the tab owns; it sees the tab as a CoachHost: the table's view and the engine's rewind command.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from collabsheet.gui.sheet.coach_bar import QCoachBar
from collabsheet.gui.sheet.layout import Cell

if TYPE_CHECKING:
    from collabsheet.engine.config import OptimizerSettings
    from collabsheet.engine.sheet.coach import Diagnosis
    from collabsheet.gui.sheet.handle import QSheetHandle
    from collabsheet.gui.sheet.view import QSheetView


class CoachHost(Protocol):
    """What the coach's part uses of the tab."""

    view: QSheetView
    engine: QSheetHandle  # only its `rewind` command


class CoachPart:
    """The coach's bar (the tab lays it out above the sheet) and the verdict it shows."""

    def __init__(self, host: CoachHost) -> None:
        self.host = host
        self.bar = QCoachBar()
        self.diagnosis: Diagnosis | None = None

    def show(self, d: Diagnosis | None) -> None:
        """The coach's verdict above the sheet, and the cell it blames boxed."""
        self.diagnosis = d
        self.bar.show_diagnosis(d)
        view = self.host.view
        coached = Cell(d.cell[0], tuple(d.cell[1])) if d is not None and d.cell and self.bar.isVisible() else None
        if coached != view.coached:
            view.set_marks(coached=coached)

    def apply_fix(self, step: int, settings: OptimizerSettings) -> None:
        """One of the coach's fixes: back to `step`, on with `settings` (a new branch when it is in the past)."""
        self.bar.dismiss()
        self.host.engine.rewind(step, settings)
