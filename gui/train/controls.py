"""The Training tab's controls: the recipe, its settings (editable), Train / Resume / Stop with progress, the files.

The settings are an engine Recipe (engine.train.recipes imports no torch): picking a recipe fills the
fields, editing a field makes a custom recipe from it, and every change is checked by Recipe itself, so
a bad value is said in the engine's one line before anything is sent.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from collabsheet.engine.config import MAX_K
from collabsheet.engine.train.recipes import (ACTIVATIONS, GENRES, MAX_ENSEMBLE, MODEL_LABELS, MODELS, OPTIMIZERS,
                                              RECIPES, SCHEDULES, TIMES, Recipe)
from collabsheet.gui.train.frames import TrainProgress
from collabsheet.gui.widgets.boxes import action_button

CUSTOM = "custom"  # the recipe picker's entry once a field differs from every recipe
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULE_LABELS = {"constant": "constant", "sgdr": "SGDR (restarts)", "onecycle": "one-cycle"}
GENRE_LABELS = {"off": "off", "sum": "sum", "mean": "mean"}  # short: two fields share a row
TIME_LABELS = {"off": "off", "bias": "day bias", "conts": "conts (net)"}
ERROR_STYLE = "color:#b00"
NOTE_STYLE = "color:#555"


def _spin(lo: int, hi: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setToolTip(tip)
    box.setGroupSeparatorShown(True)
    return box


def _choice(options: tuple[str, ...], labels: dict[str, str], tip: str) -> QComboBox:
    box = QComboBox()
    for name in options:
        box.addItem(labels.get(name, name), name)
    box.setToolTip(tip)
    box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)  # long names never widen the column
    box.setMinimumContentsLength(8)
    return box


def _number(text: str, name: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"{name}: {text.strip()!r} is not a number") from None


def _sizes(text: str) -> tuple[int, ...]:
    """`100,50` → (100, 50); empty → () (the lesson's one layer of nh units)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"hidden layers: {text.strip()!r} is not a list of sizes like 100,50") from None


class QTrainControls(QWidget):
    """The settings form and the run buttons; `settings()` is the Recipe the fields describe (or a ValueError)."""

    changed = Signal()  # any setting changed

    def __init__(self, actions: dict[str, QAction], parent=None) -> None:
        super().__init__(parent)
        self.actions = actions
        self._filling = False  # fields being filled from a recipe: not an edit
        self.base: Recipe = RECIPES["lesson-learner"]  # the recipe the fields started from

        self.recipe = QComboBox()
        for name, r in RECIPES.items():
            self.recipe.addItem(name, name)
            self.recipe.setItemData(self.recipe.count() - 1, f"{r.about}\n{r.summary()}", Qt.ToolTipRole)
        self.model = _choice(MODELS, MODEL_LABELS, "the model: the lesson's modules, or SVD++ (tuned here)")
        self.factors = _spin(0, MAX_K, "latent factors per user and per movie")
        self.epochs = _spin(0, 10_000, "passes over the training ratings")
        self.lr = QLineEdit()
        self.lr.setToolTip("learning rate (the peak, for SGDR and one-cycle); e.g. 1e-2")
        self.wd = QLineEdit()
        self.wd.setToolTip("weight decay, as torch.optim's weight_decay (AdamW: decoupled), e.g. 2e-4; for the "
                           "row-wise recipes (fast, best, tries) the L2 of MSE + wd/N·Σ|w|² over N training "
                           "ratings, e.g. 20")
        self.optimizer = _choice(OPTIMIZERS, OPTIMIZER_LABELS, "the optimizer, as torch.optim runs it")
        self.schedule = _choice(SCHEDULES, SCHEDULE_LABELS, "how the learning rate changes over the run")
        self.bs = _spin(0, 100_000_000, "mini-batch size: ratings per update")
        self.seed = _spin(0, 2**31 - 1, "seed of the 20% validation split, the initial weights and the batch order")
        self.seed.setGroupSeparatorShown(False)
        self.seed.setValue(42)
        for box in (self.lr, self.wd):
            box.setMaximumWidth(90)
        # the lesson's things to try
        self.genres = _choice(GENRES, GENRE_LABELS, "a vector and bias per genre, summed or averaged over a movie's "
                                                    "genres and added to its own (needs genres in the data)")
        self.time = _choice(TIMES, TIME_LABELS, "each rating's time: a bias per (user, day) and each user's drift, "
                                                "or, for the net, continuous inputs (needs timestamps)")
        self.ensemble = _spin(1, MAX_ENSEMBLE, "models trained side by side from different starts, averaged")
        self.layers = QLineEdit()
        self.layers.setToolTip("net: hidden layer sizes, e.g. 100,50 (empty: one layer of 10 units, the lesson's)")
        self.layers.setPlaceholderText("10")
        self.activation = _choice(ACTIVATIONS, {}, "net: the activation after each hidden layer")
        self.p1, self.p2 = QLineEdit(), QLineEdit()
        self.p1.setToolTip("net: dropout on the embeddings (0 to <1)")
        self.p2.setToolTip("net: dropout after each hidden layer (0 to <1)")
        self.user_factors = _spin(0, MAX_K, "net: the users' embedding size (0: Factors)")
        self.movie_factors = _spin(0, MAX_K, "net: the movies' embedding size (0: Factors)")
        for box in (self.layers, self.p1, self.p2):
            box.setMaximumWidth(90)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(3)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for label, box in (("Recipe", self.recipe), ("Model", self.model), ("Factors", self.factors),
                           ("Epochs", self.epochs), ("Learning rate", self.lr), ("Weight decay", self.wd),
                           ("Optimizer", self.optimizer), ("Schedule", self.schedule), ("Batch size", self.bs),
                           ("Seed", self.seed)):
            form.addRow(label, box)
        tries = QFormLayout()  # one field a row, as the form above: two a row did not fit an 800-pixel window
        tries.setContentsMargins(0, 0, 0, 0)
        tries.setVerticalSpacing(3)
        tries.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for label, box in (("Genres", self.genres), ("Time", self.time), ("Ensemble", self.ensemble),
                           ("Layers", self.layers), ("Activation", self.activation), ("Dropout p1", self.p1),
                           ("Dropout p2", self.p2), ("User factors", self.user_factors),
                           ("Movie factors", self.movie_factors)):
            tries.addRow(label, box)
        self.tries_title = QLabel("Things to try")
        self.tries_title.setStyleSheet(NOTE_STYLE)
        self.summary = QLabel()  # the settings in one line, or what is wrong with them
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

        run = QHBoxLayout()
        run.setContentsMargins(0, 0, 0, 0)
        for name in ("train", "resume", "stop"):
            run.addWidget(action_button(actions[name]))
        run.addStretch(1)
        # a row of its own under the buttons: its text (epoch, batch, ratings/s, time left) needs the panel's width
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.pace = QLabel("")  # the whole run's ratings/s and time left, under the bar: in it they were clipped
        self.pace.setStyleSheet(NOTE_STYLE)
        self.pace.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        files = QHBoxLayout()
        files.setContentsMargins(0, 0, 0, 0)
        for name in ("ratings", "save", "load"):
            files.addWidget(action_button(actions[name]))
        files.addStretch(1)
        self.ratings = QLabel("MovieLens (read when you train)")
        self.ratings.setWordWrap(True)
        self.ratings.setStyleSheet(NOTE_STYLE)
        self.ratings.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.status = QLabel()  # how the last run went, or what went wrong
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.ratings)
        layout.addLayout(files)
        layout.addLayout(form)
        layout.addWidget(self.tries_title)
        layout.addLayout(tries)
        layout.addWidget(self.summary)
        layout.addLayout(run)
        layout.addWidget(self.progress)
        layout.addWidget(self.pace)
        layout.addWidget(self.status)

        self.fill(self.base)
        self.recipe.currentIndexChanged.connect(self._recipe_picked)
        for box in (self.model, self.optimizer, self.schedule, self.genres, self.time, self.activation):
            box.currentIndexChanged.connect(self._edited)
        for box in (self.factors, self.epochs, self.bs, self.ensemble, self.user_factors, self.movie_factors):
            box.valueChanged.connect(self._edited)
        for box in (self.lr, self.wd, self.layers, self.p1, self.p2):
            box.textChanged.connect(self._edited)

    # --- recipe ↔ fields ---------------------------------------------------------------------
    def fill(self, recipe: Recipe) -> None:
        """Show a recipe's settings (picked, or a loaded model's)."""
        self._filling = True
        try:
            self.base = recipe
            index = self.recipe.findData(recipe.name)
            if index < 0:
                index = self._custom_index()
            self.recipe.setCurrentIndex(index)
            self.model.setCurrentIndex(self.model.findData(recipe.model))
            self.factors.setValue(recipe.factors)
            self.epochs.setValue(recipe.epochs)
            self.lr.setText(f"{recipe.lr:g}")
            self.wd.setText(f"{recipe.wd:g}")
            self.optimizer.setCurrentIndex(self.optimizer.findData(recipe.optimizer))
            self.schedule.setCurrentIndex(self.schedule.findData(recipe.schedule))
            self.bs.setValue(recipe.bs)
            self.genres.setCurrentIndex(self.genres.findData(recipe.genres))
            self.time.setCurrentIndex(self.time.findData(recipe.time))
            self.ensemble.setValue(recipe.ensemble)
            self.layers.setText(",".join(map(str, recipe.layers)))
            self.activation.setCurrentIndex(self.activation.findData(recipe.activation))
            self.p1.setText(f"{recipe.p1:g}")
            self.p2.setText(f"{recipe.p2:g}")
            self.user_factors.setValue(recipe.user_factors)
            self.movie_factors.setValue(recipe.movie_factors)
        finally:
            self._filling = False
        self._edited()

    def _custom_index(self) -> int:
        index = self.recipe.findData(CUSTOM)
        if index < 0:
            self.recipe.addItem(CUSTOM, CUSTOM)
            index = self.recipe.count() - 1
            self.recipe.setItemData(index, "the settings as edited here", Qt.ToolTipRole)
        return index

    def _recipe_picked(self) -> None:
        name = self.recipe.currentData()
        if not self._filling and name in RECIPES:
            self.fill(RECIPES[name])

    def _edited(self) -> None:
        """Check the settings as they stand and say them (or what is wrong) under the form."""
        if self._filling:
            return
        try:
            recipe = self.settings()
        except ValueError as error:
            recipe = None
            self.summary.setText(str(error))
            self.summary.setStyleSheet(ERROR_STYLE)
        else:
            self.summary.setText(recipe.summary())
            self.summary.setStyleSheet(NOTE_STYLE)
        # The picker names the recipe the fields hold, or "custom" (picking a recipe again then refills them).
        shown = self.recipe.findData(recipe.name) if recipe is not None and recipe.name in RECIPES else \
            self._custom_index()
        if shown != self.recipe.currentIndex():
            self._filling = True
            self.recipe.setCurrentIndex(shown)
            self._filling = False
        self.recipe.setToolTip(self.recipe.itemData(self.recipe.currentIndex(), Qt.ToolTipRole) or "")
        self.changed.emit()

    def settings(self) -> Recipe:
        """The Recipe the fields describe: the base recipe with the fields' values; ValueError (one line) if bad."""
        fields = dict(model=self.model.currentData(), factors=self.factors.value(), epochs=self.epochs.value(),
                      lr=_number(self.lr.text(), "learning rate"), wd=_number(self.wd.text(), "weight decay"),
                      optimizer=self.optimizer.currentData(), schedule=self.schedule.currentData(), bs=self.bs.value(),
                      genres=self.genres.currentData(), time=self.time.currentData(), ensemble=self.ensemble.value(),
                      layers=_sizes(self.layers.text()), activation=self.activation.currentData(),
                      p1=_number(self.p1.text(), "dropout p1"), p2=_number(self.p2.text(), "dropout p2"),
                      user_factors=self.user_factors.value(), movie_factors=self.movie_factors.value())
        same = all(getattr(self.base, k) == v for k, v in fields.items())
        return self.base if same else self.base.with_(**fields)

    # --- run state ---------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        """While training or loading: the settings and files wait; Stop works."""
        for box in (self.recipe, self.model, self.factors, self.epochs, self.lr, self.wd, self.optimizer,
                    self.schedule, self.bs, self.seed, self.genres, self.time, self.ensemble, self.layers,
                    self.activation, self.p1, self.p2, self.user_factors, self.movie_factors):
            box.setEnabled(not busy)

    def show_progress(self, p: TrainProgress | None, note: str = "") -> None:
        """The progress bar over the whole run, epoch and batch in its text, the pace under it; None: empty, saying
        `note`."""
        if p is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat(note)
            self.pace.setText("")
            return
        total = p.epochs * p.batches
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(p.iteration)
        self.progress.setFormat(f"epoch {p.epoch}/{p.epochs} · batch {p.batch:,}/{p.batches:,}")
        self.pace.setText(p.pace)

    def say(self, text: str, error: bool = False) -> None:
        """The status line under the run buttons."""
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")
