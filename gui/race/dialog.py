"""Choosing a race: which optimizers, each with its own learning rate, and a step limit."""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QGridLayout, QLabel, QSpinBox,
                               QVBoxLayout)

from collabsheet.engine.config import LABELS, OPTIMIZERS, OptimizerSettings
from collabsheet.gui.race.session import DEFAULTS, MAX_STEPS

OTHER_LR = {"rmsprop": 0.01, "adamw": 0.05}  # the learning rates offered for the optimizers not raced by default


class QRaceDialog(QDialog):
    """Pick the racers: a row per optimizer with a tick and a learning rate."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Race optimizers")
        defaults = {s.name: s.lr for s in DEFAULTS}
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>optimizer</b>"), 0, 0)
        grid.addWidget(QLabel("<b>lr</b>"), 0, 1)
        self.rows: dict[str, tuple[QCheckBox, QDoubleSpinBox]] = {}
        for row, name in enumerate(OPTIMIZERS, 1):
            tick = QCheckBox(LABELS[name])
            tick.setChecked(name in defaults)
            lr = QDoubleSpinBox()
            lr.setRange(1e-5, 100.0)
            lr.setDecimals(5)
            lr.setSingleStep(0.01)
            lr.setValue(defaults.get(name, OTHER_LR.get(name, 0.01)))
            grid.addWidget(tick, row, 0)
            grid.addWidget(lr, row, 1)
            self.rows[name] = (tick, lr)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(MAX_STEPS)
        self.steps.setToolTip("each racer stops when it converges, diverges, or at this many steps")
        grid.addWidget(QLabel("at most"), len(OPTIMIZERS) + 1, 0)
        grid.addWidget(self.steps, len(OPTIMIZERS) + 1, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Race")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.Ok)
        for tick, _ in self.rows.values():
            tick.toggled.connect(lambda _: self.ok.setEnabled(bool(self.racers())))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each racer starts from the sheet's factors as they are now, with a fresh optimizer,\n"
                                "and runs until it converges, diverges or reaches the step limit."))
        layout.addLayout(grid)
        layout.addWidget(buttons)

    def racers(self) -> list[OptimizerSettings]:
        """The ticked optimizers with their learning rates, in the order listed."""
        return [OptimizerSettings(name, lr=lr.value()) for name, (tick, lr) in self.rows.items() if tick.isChecked()]

    def max_steps(self) -> int:
        return self.steps.value()
