"""The Sheet tab's side of optimizer races: the dialog that starts one, and the race's tab beside the sheet.

A part the tab owns; it sees the tab as a RaceHost: the engine's race commands, the side panel's tabs, the
tab's wires (the race panel is built, and wired, with the first race) and the status bar.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from collabsheet.gui.race.dialog import QRaceDialog

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTabWidget, QWidget

    from collabsheet.engine.config import OptimizerSettings
    from collabsheet.gui.race.frames import RaceFrame
    from collabsheet.gui.race.panel import QRacePanel
    from collabsheet.gui.sheet.handle import QSheetHandle
    from collabsheet.gui.widgets.wires import Wires


class RaceHost(Protocol):
    """What the race's part uses of the tab."""

    engine: QSheetHandle  # its start_race, take_racer and stop_race commands
    side_tabs: QTabWidget
    wires: Wires

    def say(self, text: str, ms: int) -> None:
        """A passing message in the status bar."""


class RacePart:
    """Races started from the sheet's factors (in the worker) and shown in their own tab beside the sheet."""

    def __init__(self, host: RaceHost, window: QWidget) -> None:
        self.host = host
        self.window = window  # the dialog's parent
        self.panel: QRacePanel | None = None  # built with the first race
        self.frame: RaceFrame | None = None  # the race as last shown

    def dialog(self) -> None:
        """Sheet → Race optimizers: pick the racers and their steps."""
        dialog = QRaceDialog(self.window)
        dialog.accepted.connect(lambda: self.start(dialog.racers(), dialog.max_steps()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def start(self, racers: list[OptimizerSettings], max_steps: int) -> None:
        """Race these optimizers from the sheet's factors (in the worker); the race tab shows it."""
        self.host.engine.start_race(list(racers), int(max_steps))

    def show(self, frame: RaceFrame) -> None:
        """The race's latest state; a new race brings its tab to the front."""
        host = self.host
        if self.panel is None:
            from collabsheet.gui.race.panel import QRacePanel  # pyqtgraph: imported with the first race

            self.panel = QRacePanel()
            host.side_tabs.insertTab(1, self.panel, "Race")
            host.wires.connect(self.panel.take_requested, host.engine.take_racer)
            host.wires.connect(self.panel.stop_requested, host.engine.stop_race)
        if self.frame is None or frame.number != self.frame.number:
            host.side_tabs.setCurrentWidget(self.panel)
        self.frame = frame
        self.panel.show_race(frame)

    def ended(self, number: int) -> None:
        """The worker's word that race `number` is over."""
        self.host.say("The race is over: take any racer into the sheet from its card", 8000)
