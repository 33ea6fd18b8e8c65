"""The Training tab: the lesson's models trained on all the ratings, with live curves and what the model learned.

Left: the ratings, the recipe and its settings, Train / Resume / Stop and progress, and one user's recommendations.
Right: the loss curves (training EWMA per batch, validation per epoch) over the lesson's epoch lines and
the predictions-against-ratings histogram; the movie map over the movies with the largest and smallest
biases. Training runs in the worker (TrainRunner); everything here arrives in frames as numpy and text.
A second page, Experiments (gui/train/experiments.py), lists every recorded run to sort, filter and compare.

The plots import pyqtgraph, which the window must not wait for at start-up: they are built the first time
the tab is shown or something arrives for it.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QScrollArea, QTabWidget, QWidget

from collabsheet.engine.config import RunState
from collabsheet.engine.train.recipes import Recipe
from collabsheet.gui.train.checkpoint_file import CheckpointSummary, look
from collabsheet.gui.train.controls import QTrainControls
from collabsheet.gui.train.experiments import QExperiments
from collabsheet.gui.train.frames import Frame, Results
from collabsheet.gui.train.handle import QTrainHandle
from collabsheet.gui.train.tables import QBiasTable, QEpochTable, QRecommendations
from collabsheet.gui.widgets.boxes import column, set_body, splitter, titled
from collabsheet.gui.widgets.wires import Wires
from collabsheet.gui.words import plural
from collabsheet.gui.widgets.status_cover import StatusCover

PLOT_EVERY_S = 0.1  # the curves redraw at most this often while training: pyqtgraph's axes are costly
CONTROLS_WIDTH = 290
ACTIONS = {"train": "&Train", "resume": "&Resume", "stop": "Stop", "ratings": "Ratings…", "save": "&Save model…",
           "load": "&Load model…"}
SHORTCUTS = {"train": "Ctrl+T", "resume": "Ctrl+Shift+T", "stop": "Ctrl+.", "save": "Ctrl+S",
             "load": "Ctrl+L"}  # none the Sheet tab uses
TIPS = {"train": "train the settings above on the ratings (a new run replaces the checkpoint of a stopped one)",
        "resume": "go on from the last finished epoch of a stopped run (none now)",
        "stop": "stop training after the current batch (the last finished epoch is kept to resume)",
        "ratings": "choose the ratings to train on (a CSV or MovieLens file)",
        "save": "save the trained model, its id maps and settings", "load": "load a model saved here or by the CLI"}
MODEL_FILTER = "collabsheet model (*.pt);;All files (*)"


def make_actions(parent: QWidget) -> dict[str, QAction]:
    """The tab's actions; their shortcuts work while the focus is in the tab only."""
    actions = {}
    for name, text in ACTIONS.items():
        action = QAction(text, parent)
        keys = SHORTCUTS.get(name)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        action.setToolTip(tip_with_keys(action, TIPS[name]))
        parent.addAction(action)
        actions[name] = action
    return actions


def tip_with_keys(action: QAction, tip: str) -> str:
    """A tooltip that names the action's shortcut, as make_actions writes them."""
    keys = action.shortcut()
    return f"{tip} ({keys.toString(QKeySequence.NativeText)})" if not keys.isEmpty() else tip


class QTrainTab(QWidget):
    """Training over one TrainRunner's handle."""

    message = Signal(str, str)  # title, text: for the window's message box
    notice = Signal(str)  # a success, for the status bar

    def __init__(self, engine: QTrainHandle, status: dict | None = None, parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.status_labels = status or {}  # the window's status bar fields: this tab's data while it is shown
        self.status_cover = StatusCover(self.status_labels)
        self._status: dict[str, str] = {}  # what this tab says there
        self._error_title: str | None = None  # the command whose failure the status line shows in red
        self.state = RunState.IDLE
        self.results: Results | None = None
        self.frames = 0  # frames rendered
        self.has_model = False
        self.asked_ratings = False  # the default ratings were asked for (the first time the tab shows)
        self.resumable: CheckpointSummary | None = None  # what the tab's checkpoint continues (None: none, unread)
        self.has_checkpoint = False  # the file is there, readable or not: Resume says what is wrong with it
        self._said_loading = False  # the status line shows a loading message, which the ratings' arrival ends
        self.actions = make_actions(self)
        self.controls = QTrainControls(self.actions)
        self.recommendations = QRecommendations()
        self.epoch_table = QEpochTable()
        self.largest, self.smallest = QBiasTable(), QBiasTable()
        self.experiments = QExperiments()
        self.loss_plot = self.joint = self.movie_map = None  # pyqtgraph: built on first show (see _build_plots)
        self._epoch_lines: list = []
        self._plotted_at = 0.0
        self._build_layout()
        self.wires = Wires()  # disconnected by close_tab
        self._wire()
        self.show_state(RunState.IDLE)
        # A run an earlier session stopped: read without torch, so the tab says it before the worker has loaded
        self.show_checkpoint(*look(engine.runner.checkpoint), startup=True)

    # --- construction ------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.left = QScrollArea()  # a short window scrolls the form rather than squeezing its fields together
        self.left.setWidget(column(self.controls, titled("Recommendations", self.recommendations)))
        self.left.setWidgetResizable(True)
        self.left.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.left.setFrameShape(QFrame.NoFrame)
        self.left.setFixedWidth(CONTROLS_WIDTH + self.left.verticalScrollBar().sizeHint().width())

        self.curve_box = titled("Loss (MSE)", QLabel())
        self.joint_box = titled("Predictions against ratings (validation set)", QLabel())
        self.map_box = titled("Movie map: the movie factors' two main directions", QLabel())
        biases = QWidget()
        pair = QHBoxLayout(biases)
        pair.setContentsMargins(0, 0, 0, 0)
        pair.setSpacing(4)
        pair.addWidget(titled("Largest biases", self.largest))
        pair.addWidget(titled("Smallest biases", self.smallest))

        self.training_split = splitter(Qt.Vertical, self.curve_box, titled("Epochs", self.epoch_table), self.joint_box,
                                       sizes=(300, 110, 300))
        self.model_split = splitter(Qt.Vertical, self.map_box, biases, sizes=(460, 250))
        self.split = splitter(Qt.Horizontal, self.training_split, self.model_split, sizes=(500, 500))
        self.pages = QTabWidget()  # this run's views, or every recorded run to compare
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.split, "This run")
        self.pages.addTab(self.experiments, "Experiments")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.left)
        layout.addWidget(self.pages, 1)

    def _build_plots(self) -> None:
        """The curves, the histogram and the map (importing pyqtgraph blocks the GUI thread ~0.3 s the first time)."""
        if self.loss_plot is not None:
            return
        from collabsheet.gui.train.joint_plot import QJointPlot
        from collabsheet.gui.train.movie_map import QMovieMap
        from collabsheet.gui.widgets.curve_plot import QCurvePlot

        self.loss_plot = QCurvePlot("MSE", "batch", log_y=True)
        self.joint = QJointPlot()
        self.movie_map = QMovieMap()
        for box, widget in ((self.curve_box, self.loss_plot), (self.joint_box, self.joint),
                            (self.map_box, self.movie_map)):
            set_body(box, widget)
        if self.results is not None:
            self._show_results(self.results)

    def _wire(self) -> None:
        a, e = self.actions, self.engine
        for signal, slot in (
            (e.frame, self.render), (e.message, self.show_message), (e.notice, self.notice),
            (e.state_changed, self.show_state), (e.loading, self._loading), (e.started, self._started),
            (e.stopped, self._stopped), (e.trained, self._trained), (e.recorded, self._recorded),
            (e.checkpoint, self.show_checkpoint), (self.experiments.notice, self.notice),
            (a["train"].triggered, lambda: self.train()), (a["resume"].triggered, self.resume),
            (a["stop"].triggered, e.stop),
            (a["ratings"].triggered, self.ratings_dialog), (a["save"].triggered, self.save_dialog),
            (a["load"].triggered, self.load_dialog),
            (self.recommendations.requested, e.recommend),
        ):
            self.wires.connect(signal, slot)

    def showEvent(self, event) -> None:
        """The first time the tab shows: its plots, and the default ratings read in the worker."""
        super().showEvent(event)
        self._build_plots()
        # The status bar speaks of this tab's ratings while it shows, not of the Sheet's (it is given back on hide)
        self.status_cover.take()
        self._show_status()
        if not self.asked_ratings:
            self.asked_ratings = True
            self.engine.load_ratings(None)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.status_cover.give_back()  # the status bar as the other tab left it

    def _show_status(self) -> None:
        """This tab's fields in the window's status bar, while it is shown (the others blank: they are the Sheet's)."""
        if not self.status_cover.held:
            return
        for name, label in self.status_labels.items():
            if name != "device":
                label.setText(self._status.get(name, ""))

    # --- commands ----------------------------------------------------------------------------
    def train(self, settings: Recipe | str | None = None, seed: int | None = None) -> bool:
        """Train the settings in the form (or those given); a bad setting is said in one line and nothing runs."""
        if self.state != RunState.IDLE:
            return False
        try:
            recipe = self.controls.settings() if settings is None else settings
        except ValueError as error:
            self.controls.say(str(error), error=True)
            return False
        self.asked_ratings = True
        self.engine.train(recipe, self.controls.seed.value() if seed is None else seed)
        self.show_state(RunState.TRAINING)  # at once, so a second click cannot queue a second run
        return True

    def resume(self) -> bool:
        """Go on from the tab's checkpoint, with the settings it was trained with (whatever the form says now)."""
        if self.state != RunState.IDLE or not self.has_checkpoint:
            return False
        self.asked_ratings = True
        self.engine.resume()
        self.show_state(RunState.TRAINING)
        return True

    def ratings_dialog(self) -> None:
        from collabsheet.gui.sheet.open_dialog import QOpenDialog

        dialog = QOpenDialog(self)
        dialog.accepted.connect(lambda: self.engine.load_ratings(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", "model.pt", MODEL_FILTER)
        if path:
            self.engine.save(path)

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", "", MODEL_FILTER)
        if path:
            self.engine.load(path)

    # --- engine → tab ------------------------------------------------------------------------
    def render(self, frame: Frame) -> None:
        """Draw what the newest frame brings: a new run clears, then curves, epochs, progress and results."""
        self._build_plots()
        self.frames += 1
        if frame.clear_run:
            self._error_title = None  # a new run: a red line about the old model is stale
            self._clear()
        if frame.ratings is not None:
            r = frame.ratings
            self._status = {"dataset": f"{r.name} ({r.ratings:,} ratings) · {r.users:,} users × {r.movies:,} movies"}
            self._show_status()
            self.controls.ratings.setText(f"{r.name} · {r.ratings:,} ratings ({r.low:g}–{r.high:g}) · "
                                          f"{r.users:,} users × {r.movies:,} movies")
            self.controls.ratings.setToolTip(self.controls.ratings.text())
        if frame.losses:
            self.loss_plot.add(frame.losses)
        for row in frame.epochs:
            self._epoch_line(row.iteration)
        if frame.epochs:
            self.epoch_table.add(frame.epochs)
        if frame.progress is not None:
            self.controls.show_progress(frame.progress)
        if frame.recipe is not None:
            self.controls.fill(frame.recipe)
        if frame.results is not None:
            self._show_results(frame.results)
        if frame.recommended is not None:
            self.recommendations.show_recommended(frame.recommended)
            if self._error_title == "Recommendations":  # "user 99999 is not in the model" no longer holds
                self._error_title = None
                self.controls.say("")
        now = time.perf_counter()
        if self.state == RunState.IDLE or frame.epochs or now - self._plotted_at >= PLOT_EVERY_S:
            self._plotted_at = now
            self.loss_plot.refresh()

    def _clear(self) -> None:
        self.loss_plot.clear()
        for line in self._epoch_lines:
            self.loss_plot.plot.removeItem(line)
        self._epoch_lines = []
        self.epoch_table.clear_rows()
        self.controls.show_progress(None)
        self.results = None
        self.has_model = False
        self.joint.show_joint(None)
        self.movie_map.show_map(None)
        for table in (self.largest, self.smallest):
            table.show_rows(())
        self.recommendations.set_users(())
        self.recommendations.show_recommended(None)
        self._enable()

    def _epoch_line(self, x: int) -> None:
        import pyqtgraph as pg

        line = pg.InfiniteLine(pos=x, angle=90, pen=pg.mkPen((150, 150, 150), width=1, style=Qt.DotLine))
        self.loss_plot.plot.addItem(line)
        self._epoch_lines.append(line)

    def _show_results(self, results: Results) -> None:
        self.results = results
        self.has_model = True
        if self.joint is None:
            return
        self.joint.show_joint(results.joint, "a model file holds no\nvalidation ratings")
        self.movie_map.show_map(results.movie_map)
        self.largest.show_rows(results.largest, results.no_biases)
        self.smallest.show_rows(results.smallest, results.no_biases)
        self.recommendations.set_users(results.users)
        self.controls.say(f"{results.headline} · {results.device}" if results.device else results.headline)
        self._enable()

    def show_state(self, state) -> None:
        self.state = RunState(str(state))
        self.controls.set_busy(self.state != RunState.IDLE)
        self._enable()
        if self.state == RunState.IDLE and self._said_loading:  # the ratings are in: the loading line is stale
            self._said_loading = False
            if self.resumable is not None and self._error_title is None:
                self.controls.say(self._resumable_line())
        if self.state == RunState.IDLE and self.loss_plot is not None:
            self.loss_plot.refresh()

    def _enable(self) -> None:
        idle = self.state == RunState.IDLE
        a = self.actions
        a["train"].setEnabled(idle)
        a["resume"].setEnabled(idle and self.has_checkpoint)
        a["stop"].setEnabled(self.state == RunState.TRAINING)
        a["ratings"].setEnabled(idle)
        a["load"].setEnabled(idle)
        a["save"].setEnabled(idle and self.has_model)
        self.recommendations.setEnabled(idle and self.has_model)

    def _loading(self, text: str, fraction) -> None:
        self.controls.say(text)
        self._said_loading = True

    def show_checkpoint(self, summary: CheckpointSummary | None, problem: str = "", startup: bool = False) -> None:
        """What the tab's checkpoint holds now (at start-up, and after each run): Resume, its tooltip, a line."""
        self.resumable, self.has_checkpoint = summary, summary is not None or bool(problem)
        if summary is not None:
            tip = f"go on from the last finished epoch of {summary.describe()}, with its settings and seed " \
                  f"{summary.seed}"
        elif problem:
            tip = f"the checkpoint of a stopped run cannot be read: {problem}"
        else:
            tip = TIPS["resume"]
        self.actions["resume"].setToolTip(tip_with_keys(self.actions["resume"], tip))
        self._enable()
        if summary is None or self._error_title is not None:
            return
        said = self.controls.status.text()
        self.controls.say(self._resumable_line() if startup or not said else f"{said}\n{self._resumable_line()}")

    def _resumable_line(self) -> str:
        return f"an interrupted run of {self.resumable.describe()} can be resumed"

    def _started(self, name: str, summary: str) -> None:
        self.controls.say(f"training {name}…")
        if self.controls.progress.maximum() <= 1:  # events follow their frame, which may have brought a first batch
            self.controls.show_progress(None, "starting…")

    def _stopped(self, iterations: int, epochs: int) -> None:
        self.controls.pace.setText("")  # no time is left to tell
        self.controls.say(f"stopped after {plural(iterations, 'batch', 'batches')} "
                          f"({plural(epochs, 'whole epoch')})")

    def _trained(self, headline: str) -> None:
        self.controls.pace.setText("")
        self.notice.emit(headline)

    def _recorded(self, run: int) -> None:
        """A run was kept: the experiments table lists it (read now if it shows, else when it next shows)."""
        if self.experiments.isVisible():
            self.experiments.refresh()

    def show_message(self, title: str, text: str) -> None:
        """A problem from the worker: said in the tab's status line, and to the window."""
        self.controls.say(f"{title}: {text}", error=True)
        self._error_title = title
        self.message.emit(title, text)

    def close_tab(self) -> None:
        """Disconnect everything this tab connected, and stop reading the runs database."""
        self.wires.disconnect_all()
        self.experiments.close_reader()
