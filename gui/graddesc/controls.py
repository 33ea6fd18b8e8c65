"""The Gradient descent tab's controls: run buttons, the optimizer and its settings, the data, Compare.

The optimizer's boxes show only the settings its rule reads (engine.graddesc.USES; ε only in the library
variant). Choosing another optimizer loads the lesson's sheet's lr and β's for it, as the workbook has them.
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QValidator
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QMenu, QSpinBox,
                               QToolButton, QWidget)

from collabsheet.engine.graddesc import LABELS, RULES, USES, VARIANTS, Settings
from collabsheet.gui.widgets.boxes import action_button

ACTIONS = {"step_row": "Step row", "run_epoch": "Run epoch", "play": "Play", "reset": "Reset",
           "compare": "Compare", "open_workbook": "Open workbook…", "export": "Export…", "open_csv": "Open CSV…"}
# Keys the Sheet tab's actions (window-wide, through the menus) leave free; active only within this tab.
SHORTCUTS = {"step_row": "N", "run_epoch": "E", "play": "P", "reset": "Ctrl+Shift+R", "compare": "C",
             "open_workbook": "Ctrl+Shift+O", "export": "Ctrl+Shift+E"}
TIPS = {"step_row": "compute the next row: its prediction, derivatives and new b, a",
        "run_epoch": "finish the epoch (all the rows once), as the workbook's run macro does one epoch",
        "play": "step row after row at the speed chosen", "reset": "the reset macro: a = b = the start, averages reset",
        "compare": "draw other optimizers' paths from the same start over the same contour",
        "open_workbook": "open a sheet of the lesson's graddesc.xlsm (or an export); its macros are never run",
        "export": "save a workbook with one sheet of the lesson's formulas per optimizer",
        "open_csv": "x, y rows from a CSV file with columns named x and y"}
RATES = (("1 row/s", 1.0), ("3 rows/s", 3.0), ("10 rows/s", 10.0), ("30 rows/s", 30.0), ("300 rows/s", 300.0),
         ("max", None))
DEFAULT_RATE = 2  # 10 rows a second: an epoch of the lesson's 29 rows in three seconds
RUN = ("step_row", "run_epoch", "open_workbook", "export", "open_csv")  # what waits while Play or Run epoch runs
MAX_DATA_ROWS = 100_000  # rows of the lesson's recipe from this tab


def make_actions(parent: QWidget) -> dict[str, QAction]:
    """The tab's actions, their shortcuts active only while focus is within `parent` (the tab)."""
    actions = {}
    for name, text in ACTIONS.items():
        action = QAction(text, parent)
        action.setToolTip(TIPS[name])
        if name in SHORTCUTS:
            action.setShortcut(QKeySequence(SHORTCUTS[name]))
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            action.setToolTip(f"{TIPS[name]} ({action.shortcut().toString()})")
        parent.addAction(action)  # the tab is where its shortcut context is judged
        actions[name] = action
    actions["play"].setCheckable(True)
    return actions


def _ladder(value: float, up: bool) -> float:
    """The next value of the 1-2-5 ladder (… 0.1, 0.2, 0.5, 1, 2 …) above or below `value`."""
    exponent = math.floor(math.log10(value))
    steps = [m * 10.0 ** e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 5)]
    if up:
        return next(s for s in steps if s > value * (1 + 1e-9))
    return next(s for s in reversed(steps) if s < value * (1 - 1e-9))


class QNumberBox(QDoubleSpinBox):
    """A number box that shows numbers as %g (0.0001, 1e-08, 10000) and steps along 1-2-5 when `log`."""

    def __init__(self, lo: float, hi: float, tip: str, log: bool = False, step: float = 0.1, parent=None) -> None:
        super().__init__(parent)
        self.log = log
        self.setDecimals(15)
        self.setRange(lo, hi)
        self.setSingleStep(step)
        self.setToolTip(tip)
        self.setKeyboardTracking(False)
        self.setMinimumWidth(74)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip().replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            return QValidator.Intermediate, text, pos  # "1e-" on the way to "1e-5"
        ok = math.isfinite(value) and self.minimum() <= value <= self.maximum()
        return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        if not self.log or self.value() <= 0:
            super().stepBy(steps)
            return
        value = self.value()
        for _ in range(abs(steps)):
            value = _ladder(value, steps > 0)
        self.setValue(min(max(value, self.minimum()), self.maximum()))


class QStayOpenMenu(QMenu):
    """A menu of checkboxes that stays open while they are ticked."""

    def mouseReleaseEvent(self, event) -> None:
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)



class QGradDescControls(QWidget):
    """Three rows: run and files; the optimizer and its settings; the data."""

    settings_edited = Signal(object)  # engine.graddesc.Settings
    data_edited = Signal(int, int, float)  # rows, seed, noise of the lesson's recipe
    rate_changed = Signal(object)  # Play's rows per second, None = as fast as possible
    compare_changed = Signal(object, int)  # the rules to compare (RULES order), and their epochs

    def __init__(self, actions: dict[str, QAction], parent=None) -> None:
        super().__init__(parent)
        self.actions = actions
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setVerticalSpacing(2)

        run = QHBoxLayout()
        for name in ("step_row", "run_epoch", "play", "reset"):
            run.addWidget(action_button(actions[name]))
        self.rate = QComboBox()
        for label, _ in RATES:
            self.rate.addItem(label)
        self.rate.setCurrentIndex(DEFAULT_RATE)
        self.rate.setToolTip("how many rows a second Play steps")
        run.addWidget(QLabel("speed"))
        run.addWidget(self.rate)
        run.addSpacing(12)
        self.compare_menu = QStayOpenMenu(self)
        self.compare_actions = {}
        for rule in RULES:
            action = self.compare_menu.addAction(LABELS[rule])
            action.setCheckable(True)
            action.toggled.connect(self._compare_edited)
            self.compare_actions[rule] = action
        self.compare_menu.addSeparator()
        self.compare_menu.addAction("All", lambda: self.set_compared(RULES, emit=True))
        self.compare_menu.addAction("None", lambda: self.set_compared((), emit=True))
        self.compare_button = action_button(actions["compare"])
        self.compare_button.setMenu(self.compare_menu)
        self.compare_button.setPopupMode(QToolButton.InstantPopup)
        actions["compare"].triggered.connect(self.compare_button.showMenu)
        run.addWidget(self.compare_button)
        self.compare_epochs = QSpinBox()
        self.compare_epochs.setRange(1, 500)
        self.compare_epochs.setValue(5)
        self.compare_epochs.setSuffix(" epochs")
        self.compare_epochs.setKeyboardTracking(False)
        self.compare_epochs.setToolTip("how many epochs the compared optimizers run (the workbook's run macro: 5)")
        run.addWidget(self.compare_epochs)
        run.addSpacing(12)
        for name in ("open_workbook", "export"):
            run.addWidget(action_button(actions[name]))
        run.addStretch(1)
        grid.addLayout(run, 0, 0)

        opt = QHBoxLayout()
        self.optimizer = QComboBox()
        for rule in RULES:
            self.optimizer.addItem(LABELS[rule], rule)
        self.optimizer.setToolTip("the update rule of the rows' new b and new a (each sheet of the workbook)")
        self.variant = QComboBox()
        for variant in VARIANTS:
            self.variant.addItem(variant, variant)
        self.variant.setToolTip("lesson: the workbook's formulas; library: bias correction and ε as torch.optim")
        self.lr = QNumberBox(1e-9, 100.0, "learning rate (▲▼ step 1-2-5)", log=True)
        self.beta1 = QNumberBox(0.0, 0.9999, "β1: weight of the previous gradient average", step=0.01)
        self.beta2 = QNumberBox(0.0, 0.9999, "β2: weight of the previous squared-gradient average", step=0.01)
        self.eps = QNumberBox(1e-15, 1.0, "ε: added to the square root (library variant only)", log=True)
        self.wd = QNumberBox(0.0, 10.0, "weight decay: AdamW shrinks a and b by lr·wd; Adam + L2 adds "
                                        "(wd/2)(a² + b²) to the loss", step=0.01)
        self.start_a = QNumberBox(-1e6, 1e6, "the slope a every run starts from (the reset macro: 1)", step=1.0)
        self.start_b = QNumberBox(-1e6, 1e6, "the intercept b every run starts from (the reset macro: 1)", step=1.0)
        self.labels = {}
        opt.addWidget(QLabel("optimizer"))
        opt.addWidget(self.optimizer)
        opt.addWidget(self.variant)
        for key, text, box in (("lr", "lr", self.lr), ("beta1", "β1", self.beta1), ("beta2", "β2", self.beta2),
                               ("eps", "ε", self.eps), ("weight_decay", "wd", self.wd),
                               ("start_a", "start a", self.start_a), ("start_b", "b", self.start_b)):
            self.labels[key] = QLabel(text)
            opt.addWidget(self.labels[key])
            opt.addWidget(box)
        opt.addStretch(1)
        grid.addLayout(opt, 1, 0)

        data = QHBoxLayout()
        self.rows = QSpinBox()
        self.rows.setRange(1, MAX_DATA_ROWS)
        self.rows.setValue(29)
        self.rows.setToolTip("rows of the lesson's data: x = RANDBETWEEN(1, 100), y = 30 + 2·x (+ noise)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(42)
        self.seed.setToolTip("seed of the random x's (and of the noise)")
        self.noise = QNumberBox(0.0, 1e6, "standard deviation of the noise added to y", step=1.0)
        for box in (self.rows, self.seed):
            box.setKeyboardTracking(False)
        self.data_name = QLabel("")
        self.data_name.setStyleSheet("color:#555")
        self.data_name.setMinimumWidth(1)  # a long file name is clipped, never widens the window
        for widget in (QLabel("data: rows"), self.rows, QLabel("seed"), self.seed, QLabel("noise"), self.noise,
                       action_button(actions["open_csv"]), self.data_name):
            data.addWidget(widget)
        data.setStretch(data.count() - 1, 1)
        grid.addLayout(data, 2, 0)

        self._settings = Settings.lesson("sgd")
        self.show_settings(self._settings)
        self.optimizer.currentIndexChanged.connect(self._rule_edited)
        self.variant.currentIndexChanged.connect(self._edited)
        for box in (self.lr, self.beta1, self.beta2, self.eps, self.wd, self.start_a, self.start_b):
            box.valueChanged.connect(self._edited)
        for box in (self.rows, self.seed, self.noise):
            box.valueChanged.connect(self._data_edited)
        self.rate.currentIndexChanged.connect(lambda i: self.rate_changed.emit(RATES[i][1]))
        self.compare_epochs.valueChanged.connect(self._compare_edited)

    # --- controls → engine -------------------------------------------------------------------
    def settings(self) -> Settings:
        """The settings the boxes show (raises SettingsError, one line, if they do not make sense)."""
        return self._settings.but(rule=self.optimizer.currentData(), variant=self.variant.currentData(),
                                  lr=self.lr.value(), beta1=self.beta1.value(), beta2=self.beta2.value(),
                                  eps=self.eps.value(), weight_decay=self.wd.value(), start_a=self.start_a.value(),
                                  start_b=self.start_b.value())

    def _rule_edited(self, *_) -> None:
        """Another optimizer: the lesson's sheet's lr and β's for it, from the same start."""
        h = self._settings
        rule = self.optimizer.currentData()
        self.show_settings(Settings.lesson(rule, h.variant, eps=h.eps, start_a=h.start_a, start_b=h.start_b,
                                           nudge=h.nudge))
        self.settings_edited.emit(self._settings)

    def _edited(self, *_) -> None:
        settings = self.settings()
        self._show_uses(settings)
        self.settings_edited.emit(settings)

    def _data_edited(self, *_) -> None:
        self.data_edited.emit(self.rows.value(), self.seed.value(), self.noise.value())

    def _compare_edited(self, *_) -> None:
        self.compare_changed.emit(self.compared(), self.compare_epochs.value())

    def compared(self) -> list[str]:
        """The rules ticked in the Compare menu."""
        return [rule for rule, action in self.compare_actions.items() if action.isChecked()]

    def set_compared(self, rules, epochs: int | None = None, emit: bool = False) -> None:
        """Tick exactly these rules, show the epochs (and say so once, if `emit`)."""
        for rule, action in self.compare_actions.items():
            action.blockSignals(True)
            action.setChecked(rule in rules)
            action.blockSignals(False)
        if epochs is not None:
            self.compare_epochs.blockSignals(True)
            self.compare_epochs.setValue(epochs)
            self.compare_epochs.blockSignals(False)
        self.actions["compare"].setText(f"Compare ({len(self.compared())})" if self.compared() else "Compare")
        if emit:
            self._compare_edited()

    # --- engine → controls, with signals blocked so nothing echoes back ----------------------
    def show_settings(self, h: Settings) -> None:
        """Show the settings the engine runs with."""
        self._settings = h
        values = ((self.lr, h.lr), (self.beta1, h.beta1), (self.beta2, h.beta2), (self.eps, h.eps),
                  (self.wd, h.weight_decay), (self.start_a, h.start_a), (self.start_b, h.start_b))
        for widget, value in values:
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        for combo, value in ((self.optimizer, h.rule), (self.variant, h.variant)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self._show_uses(h)

    def _show_uses(self, h: Settings) -> None:
        """Only the boxes the rule reads; one β is called β, as the workbook calls it."""
        uses = {key: h.rule in rules for key, rules in USES.items()}
        uses["eps"] = uses["eps"] and h.variant == "library"
        for key, box in (("beta1", self.beta1), ("beta2", self.beta2), ("eps", self.eps), ("weight_decay", self.wd)):
            box.setVisible(uses[key])
            self.labels[key].setVisible(uses[key])
        both = uses["beta1"] and uses["beta2"]
        self.labels["beta1"].setText("β1" if both else "β")
        self.labels["beta2"].setText("β2" if both else "β")

    def show_data(self, name: str, rows: int) -> None:
        """Name the data in use; the recipe's boxes follow when it is the lesson's."""
        self.data_name.setText(name)
        self.data_name.setToolTip(f"{name}: {rows:,} rows")

    def show_state(self, state: str) -> None:
        """Step row, Run epoch and the files wait while Play or Run epoch runs; Play shows Pause."""
        running = state == "playing"
        for name in RUN:
            self.actions[name].setEnabled(not running)
        for box in (self.rows, self.seed, self.noise):
            box.setEnabled(not running)
        play = self.actions["play"]
        play.blockSignals(True)
        play.setChecked(running)
        play.setText("Pause" if running else "Play")
        play.blockSignals(False)
