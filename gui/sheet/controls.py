"""The control strip: run buttons, the optimizer and its settings, a race, the sheet's shape, held-out cells, a new user.

The optimizer and model settings are the engine's (engine.optim imports torch, which the worker thread
imports while the window starts): until the first sheet arrives they show "…" and nothing can be changed.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QSizePolicy, QSpinBox, QWidget)

from collabsheet.engine.config import (DEFAULT_TOP, LABELS, MAX_K, MAX_TOP, MIN_K, MIN_TOP, OPTIMIZERS, USES, OptimizerSettings,
                           SheetConfig)
from collabsheet.gui.widgets.boxes import action_button

PENDING = "…"  # what a setting shows until the engine has started
RUN = ("step", "step_n", "play", "solve", "stop", "reset", "race", "holdout", "add_me", "fold_in",
       "use_model")  # the actions that need the engine
RATES = (("max", None), ("1000/s", 1000.0), ("100/s", 100.0), ("30/s", 30.0), ("10/s", 10.0))


class QBoundedSpin(QDoubleSpinBox):
    """A QDoubleSpinBox that says when a typed number falls outside its range (Qt drops the keystroke silently)."""

    refused = Signal(str)  # the text typed, outside the range

    def validate(self, text: str, pos: int):
        result = super().validate(text, pos)
        try:
            number = float(text.strip().replace(",", "."))
        except ValueError:
            return result
        if not self.minimum() <= number <= self.maximum() and result[0] == QValidator.Invalid:
            self.refused.emit(text.strip())
        return result


def _spin(lo: float, hi: float, decimals: int, step: float, tip: str) -> QBoundedSpin:
    box = QBoundedSpin()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


def _pending(box: QSpinBox | QDoubleSpinBox) -> None:
    """Show "…" (a spin box shows its special text at its minimum) until the engine's value is set."""
    box.setSpecialValueText(PENDING)
    box.setValue(box.minimum())



class QControls(QWidget):
    """Two rows of controls; the actions (Step, Play, …) belong to the window so menus share them."""

    optimizer_changed = Signal(object)  # OptimizerSettings
    sheet_changed = Signal(object, int)  # SheetConfig (seed from the seed box), top-N
    rate_changed = Signal(object)  # Play's steps per second, None = as fast as possible
    errors_toggled = Signal(bool)
    said = Signal(str)  # something the status bar should say (a typed number the box could not take)
    blanks_toggled = Signal(bool)

    def __init__(self, actions: dict[str, QAction], parent=None) -> None:
        super().__init__(parent)
        self.actions = actions
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)

        run = QHBoxLayout()
        for name in ("step", "step_n"):
            run.addWidget(action_button(actions[name]))
        self.steps_n = QSpinBox()
        self.steps_n.setRange(1, 1_000_000)
        self.steps_n.setValue(100)
        self.steps_n.setToolTip("N for Step ×N")
        run.addWidget(self.steps_n)
        for name in ("play", "solve", "stop", "reset"):
            button = action_button(actions[name])
            if name == "play":  # as wide as "Pause" too: Play→Pause must not move Solve, Stop and Reset
                self.play_button = button
                text, widths = actions[name].text(), []
                for label in ("Play", "Pause"):
                    actions[name].setText(label)
                    widths.append(button.sizeHint().width())
                actions[name].setText(text)
                button.setFixedWidth(max(widths))
            run.addWidget(button)
        self.seed = QSpinBox()  # the first sheet's seed, then what Reset draws
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("seed of the random factors that Reset draws")
        self.rate = QComboBox()
        for label, _ in RATES:
            self.rate.addItem(label)
        self.rate.setToolTip("how many steps a second Play runs")
        run.addWidget(QLabel("speed"))
        run.addWidget(self.rate)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(100)
        self.progress.setRange(0, 0)  # the solver's iteration count is not known in advance
        self.progress.setTextVisible(True)
        self.progress.hide()
        run.addWidget(self.progress)
        self.solving = QLabel("")
        self.solving.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # takes the spare width, asks for none
        run.addWidget(self.solving, 1)  # so the strip fits an 800-pixel window
        self.errors = QCheckBox("show errors")
        self.errors.setToolTip("show prediction − rating in the prediction block")
        run.addWidget(self.errors)
        self.blanks = QCheckBox("predict blanks")
        self.blanks.setToolTip("show the model's predictions in the blank cells too, greyed: the lesson's test data. "
                               "Hover a user id for that user's top unrated movies.")
        run.addWidget(self.blanks)
        grid.addLayout(run, 0, 0)

        opt = QHBoxLayout()
        self.optimizer = QComboBox()  # filled from engine.optim when the engine is ready
        self.optimizer.setSizeAdjustPolicy(QComboBox.AdjustToContents)  # so it widens then: it is shown with "…"
        self.optimizer.addItem(PENDING, None)
        self.lr = _spin(1e-5, 100.0, 5, 0.01, "learning rate")
        self.beta = _spin(0.0, 0.9999, 4, 0.01, "momentum β: weight of the previous velocity, v ← β·v + (1−β)·g. "
                          "A new gradient moves p by only lr·(1−β) at first (so lr 10 with β 0.9 steps like SGD's "
                          "lr 1); a gradient that stays the same builds up to the full lr·g.")
        self.beta1 = _spin(0.0, 0.9999, 4, 0.01, "β1: weight of the previous gradient average")
        self.beta2 = _spin(0.0, 0.9999, 4, 0.01, "β2: weight of the previous squared-gradient average")
        self.wd = _spin(0.0, 10.0, 4, 0.01, "weight decay")
        self._labels = {}
        opt.addWidget(QLabel("optimizer"))
        opt.addWidget(self.optimizer)
        for key, text, box in (("lr", "lr", self.lr), ("beta", "β", self.beta), ("beta1", "β1", self.beta1),
                               ("beta2", "β2", self.beta2), ("wd", "wd", self.wd)):
            self._labels[key] = QLabel(text)
            opt.addWidget(self._labels[key])
            opt.addWidget(box)
        opt.addStretch(1)
        if "race" in actions:
            opt.addWidget(action_button(actions["race"]))
        grid.addLayout(opt, 1, 0)

        shape = QHBoxLayout()  # a row of its own, so the strip fits a 1024-pixel window
        self.k = QSpinBox()
        self.k.setRange(MIN_K, MAX_K)
        self.k.setToolTip("latent factors per user and per movie")
        self.top = QSpinBox()
        self.top.setRange(MIN_TOP, MAX_TOP)
        self.top.setValue(DEFAULT_TOP)
        self.top.setToolTip("the most active users × the most rated movies")
        self.biases = QCheckBox("biases")
        self.biases.setToolTip("add a bias per user (a column left of the predictions) and per movie (a row under "
                               "the movie factors): prediction = u·m + user bias + movie bias")
        self.squash = QCheckBox("sigmoid into")
        self.squash.setToolTip("squash predictions into the rating range with a sigmoid: prediction = lo + (hi − lo)·σ(u·m …), lo and hi as the box beside "
                               "says: the data's (min, max) as the lesson's notebook (the default), or 0 to the top "
                               "rating + 10% (5.5 on MovieLens) as the later course")
        self.squash_range = QComboBox()
        for text, kind, tip in (("min–max", "data", "lo, hi = the lowest and highest rating, as the lesson's "
                                 "notebook: the top and bottom ratings are reached only as the raw prediction grows "
                                 "without bound, so Solve and fold-in may stop with large factors and no minimum"),
                                ("0–max+10%", "wide", "lo = 0, hi = the top rating + 10% (5.5 on "
                                 "MovieLens), as the later course: every rating is reached at finite factors")):
            self.squash_range.addItem(text, kind)
            self.squash_range.setItemData(self.squash_range.count() - 1, tip, Qt.ToolTipRole)
        self.squash_range.setToolTip("the sigmoid's range (lo, hi)")
        self.optimizer.setToolTip("the update rule: SGD p ← p − lr·g; momentum averages g (a new gradient moves p "
                                  "by lr·(1−β)); RMSProp divides by √(average g²); Adam does both; AdamW also "
                                  "shrinks p by lr·wd")
        for widget in (QLabel("factors k"), self.k, QLabel("top-N"), self.top, self.biases, self.squash,
                       self.squash_range, QLabel("seed"), self.seed):
            shape.addWidget(widget)
        for box in (self.k, self.top):
            box.setKeyboardTracking(False)
        self.holdout = QCheckBox("hold out 20%")
        self.holdout.setEnabled(False)
        if "holdout" in actions:  # the checkbox is the holdout action's face in the strip
            action = actions["holdout"]
            self.holdout.setToolTip(action.toolTip())
            self.holdout.toggled.connect(action.setChecked)
            action.toggled.connect(self.holdout.setChecked)
            action.changed.connect(lambda: self.holdout.setEnabled(action.isEnabled()))
            shape.addSpacing(12)
            shape.addWidget(self.holdout)
        shape.addStretch(1)
        if "add_me" in actions:
            shape.addWidget(action_button(actions["add_me"]))
        grid.addLayout(shape, 2, 0)

        self.optimizer.currentIndexChanged.connect(self._optimizer_edited)
        for box in (self.lr, self.beta, self.beta1, self.beta2, self.wd):
            box.valueChanged.connect(self._optimizer_edited)
        for name, box in (("lr", self.lr), ("β", self.beta), ("β1", self.beta1), ("β2", self.beta2),
                          ("wd", self.wd)):
            box.refused.connect(lambda text, name=name, box=box: self.said.emit(
                f"{name} {text} is outside what the box takes ({box.minimum():g} to {box.maximum():g}): "
                f"it stays at {box.value():g}"))
        for box in (self.k, self.top):
            box.valueChanged.connect(self._sheet_edited)
        for box in (self.biases, self.squash):
            box.toggled.connect(self._sheet_edited)
        self.squash.toggled.connect(lambda on: self.squash_range.setEnabled(on and self.ready))
        self.squash_range.currentIndexChanged.connect(self._sheet_edited)
        self.rate.currentIndexChanged.connect(lambda i: self.rate_changed.emit(RATES[i][1]))
        self.errors.toggled.connect(self.errors_toggled)
        self.blanks.toggled.connect(self.blanks_toggled)
        self.ready = False  # whether the engine's first sheet has filled in the settings
        self.shown: tuple = ()  # the settings, k, biases and squashing the boxes last showed from a snapshot
        self._numbers = (self.seed, self.lr, self.beta, self.beta1, self.beta2, self.wd, self.k)
        self._inputs = (self.steps_n, self.rate, self.errors, self.blanks, self.optimizer, self.top, self.biases, self.squash,
                        self.squash_range, *self._numbers)
        for box in self._numbers:
            _pending(box)
        for widget in self._inputs:
            widget.setEnabled(False)
        self._show_settings()

    def settings(self) -> OptimizerSettings:
        """The optimizer settings the boxes show."""
        return OptimizerSettings(self.optimizer.currentData(), lr=self.lr.value(), beta=self.beta.value(),
                                 beta1=self.beta1.value(), beta2=self.beta2.value(), weight_decay=self.wd.value())

    def sheet_config(self) -> SheetConfig:
        return SheetConfig(k=self.k.value(), biases=self.biases.isChecked(), squash=self.squash.isChecked(),
                           squash_range=self.squash_range.currentData(), seed=self.seed.value())

    def _get_ready(self) -> None:
        """The engine is running (so engine.optim is imported): list its optimizers and enable the settings."""
        self.optimizer.blockSignals(True)
        self.optimizer.clear()
        for name in OPTIMIZERS:
            self.optimizer.addItem(LABELS[name], name)
        self.optimizer.blockSignals(False)
        for box in self._numbers:
            box.setSpecialValueText("")
        for widget in self._inputs:
            widget.setEnabled(True)
        self.ready = True

    def _show_settings(self) -> None:
        name = self.optimizer.currentData()
        for key, box in (("beta", self.beta), ("beta1", self.beta1), ("beta2", self.beta2)):
            box.setVisible(name in USES[key])
            self._labels[key].setVisible(name in USES[key])

    def _optimizer_edited(self, *_) -> None:
        self._show_settings()
        if self.ready:
            self.optimizer_changed.emit(self.settings())

    def _sheet_edited(self, *_) -> None:
        if self.ready:
            self.sheet_changed.emit(self.sheet_config(), self.top.value())

    # --- engine → controls, with signals blocked so nothing echoes back ---------------------
    def set_top(self, top: int, lift: bool = False) -> None:
        """Show top-N (the user declined a change, or a new sheet was built for it) without sending it back.

        With `lift`, the box's limit is raised to hold it first: the limit of the data before (a 2-user file
        clamps the box to 5) must not clamp the next sheet's top-N; the new data's own limit follows when it loads."""
        self.top.blockSignals(True)
        if lift:
            self.top.setMaximum(max(self.top.maximum(), min(MAX_TOP, top)))
        self.top.setValue(top)
        self.top.blockSignals(False)

    def set_top_limit(self, limit: int) -> None:
        """The largest top-N the dataset allows."""
        self.top.blockSignals(True)
        self.top.setMaximum(max(MIN_TOP, min(MAX_TOP, limit)))
        self.top.blockSignals(False)

    def show_sheet(self, snap) -> None:
        """Show the model and optimizer a new sheet came with (the first, or an imported workbook, say)."""
        if not self.ready:
            self._get_ready()
        s = snap.settings
        values = ((self.optimizer, self.optimizer.findData(s.name)), (self.lr, s.lr), (self.beta, s.beta),
                  (self.beta1, s.beta1), (self.beta2, s.beta2), (self.wd, s.weight_decay), (self.k, snap.k),
                  (self.biases, snap.biases), (self.squash, snap.squash), (self.seed, snap.seed),
                  (self.squash_range, self.squash_range.findData(snap.squash_range)))
        for widget, value in values:
            widget.blockSignals(True)
            if isinstance(widget, QComboBox):
                widget.setCurrentIndex(value)
            elif isinstance(widget, QCheckBox):
                widget.setChecked(value)
            else:
                widget.setValue(value)
            widget.blockSignals(False)
        self._show_settings()
        self.squash_range.setEnabled(self.ready and snap.squash)
        self.shown = (s, snap.k, snap.biases, snap.squash, snap.squash_range)

    def follow(self, snap) -> None:
        """Show the settings of the step on screen when they differ from the last shown (a seek to another
        branch, a fix of the coach, a racer taken), and whether cells are held out; nothing echoes back."""
        if (snap.settings, snap.k, snap.biases, snap.squash, snap.squash_range) != self.shown:
            self.show_sheet(snap)
        holdout_on = bool(snap.holdout_count)
        action = self.actions.get("holdout")
        if action is not None and action.isChecked() != holdout_on:
            for widget in (action, self.holdout):
                widget.blockSignals(True)
                widget.setChecked(holdout_on)
                widget.blockSignals(False)

    def show_state(self, state: str) -> None:
        """Enable what makes sense while idle, playing, solving or loading (the run buttons once the engine runs)."""
        idle, playing, busy = state == "idle", state == "playing", state in ("solving", "loading")
        enabled = {"step": idle, "step_n": idle, "solve": idle or playing, "reset": not busy,
                   "play": not busy, "stop": playing or state == "solving", "open": not busy}
        enabled.update(dict.fromkeys(("race", "holdout", "add_me", "fold_in", "use_model"), not busy))
        if not self.ready:
            enabled.update(dict.fromkeys(RUN, False))
        for name, on in enabled.items():
            if name in self.actions:
                self.actions[name].setEnabled(on)
        play = self.actions["play"]
        play.blockSignals(True)
        play.setChecked(playing)
        play.setText("Pause" if playing else "Play")
        play.blockSignals(False)
        self.progress.setVisible(state == "solving")
        self.solving.setText("solving…" if state == "solving" else "")

    def show_solving(self, iterations: int, rmse: float) -> None:
        """Progress of a running solve."""
        self.solving.setText(f"iteration {iterations} · RMSE {rmse:.4f}")
