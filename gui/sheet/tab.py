"""The Sheet tab: controls on top, the sheet in the middle, explain panel and loss curve on the right.

Around the sheet: the coach's bar above it (shown when a run diverges, oscillates or stalls) and the timeline
under it (scrub through the recorded run, pick a branch). Beside the explain panel, in tabs: a race's curves
and heat maps, once a race runs, and the new user's recommendations, once their row is added under the users.

Start-up is ordered for the first frame: nothing the GUI thread imports before it pulls in torch, pyqtgraph
or openpyxl. The runner reads the ratings, publishes them as a preview (shown with the engine's cells
pending and every control disabled), then imports torch and builds the sheet; the loss plot and the Excel
commands come after the first real sheet. The GUI thread never imports torch: explanations and the device
label arrive with the frames.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QUndoStack
from PySide6.QtWidgets import QLabel, QMessageBox, QStackedWidget, QTabWidget, QWidget

from collabsheet.engine.config import DEFAULT_TOP, RunState
from collabsheet.gui.sheet.coach_bar import QCoachBar, QCoachSlot
from collabsheet.gui.sheet.cell_text import loss_text
from collabsheet.gui.sheet.actions import ACTIONS, LOCAL_KEYS, SHORTCUTS, TIPS, make_actions
from collabsheet.gui.sheet.controls import QControls
from collabsheet.gui.sheet.edits import SheetEdits
from collabsheet.gui.sheet.beyond_lesson import SheetBeyondLesson
from collabsheet.gui.sheet.files import SheetFiles
from collabsheet.gui.sheet.explain_panel import QExplainPanel
from collabsheet.gui.sheet.frames import Frame, LoadRequest, NewUserRow, TimelineInfo
from collabsheet.gui.sheet.handle import QSheetHandle
from collabsheet.gui.sheet.layout import LOSS, RATING, Cell
from collabsheet.gui.sheet.model import QSheetModel
from collabsheet.gui.sheet.newuser_panel import QNewUserPanel
from collabsheet.gui.sheet.runner import SOLVE_AXIS
from collabsheet.gui.sheet.overlay import precedent_ranges
from collabsheet.gui.sheet.timeline_bar import QTimelineBar
from collabsheet.gui.sheet.transitions import SheetTransitions
from collabsheet.gui.sheet.view import QSheetView
from collabsheet.gui.widgets.boxes import column, fill, set_body, splitter, titled
from collabsheet.gui.widgets.legend import QLegend
from collabsheet.gui.widgets.loading_page import QLoadingPage
from collabsheet.gui.widgets.wires import Wires
from collabsheet.gui.words import plural

if TYPE_CHECKING:
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.coach import Diagnosis
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.race.frames import RaceFrame
    from collabsheet.gui.race.panel import QRacePanel
    from collabsheet.gui.sheet.onehot_dialog import QOneHotDialog

IDLE, LOADING, SOLVING = RunState.IDLE, RunState.LOADING, RunState.SOLVING
RATE_WINDOW_S = 0.5  # steps/s is measured over at least this long
TEXT_EVERY_S = 1 / 15  # panel and status bar redraw at most this often while running; the sheet at up to 60 Hz
PLOT_EVERY_S = 0.1  # and the loss curve at most this often: pyqtgraph's axes and legend are costly to repaint
# The loss plot (importing pyqtgraph blocks the GUI thread for ~0.3 s) waits this long after the first sheet, so
# the labels' repaints and the worker's queued "idle" (which enables the buttons) are on screen first.
AFTER_FIRST_FRAME_MS = 100
FACTOR_ALARM = 10  # a solve whose factors pass this many times the largest rating is told about weight decay
SIDE_MIN_WIDTH = 280  # the explain panel and the loss curve stay readable in a small window
STATUS = ("device", "dataset", "step", "rmse", "rate")  # the status bar's fields this tab fills


class QSheetTab(Wires, SheetEdits, SheetFiles, SheetBeyondLesson, QWidget):
    """The live sheet over one SheetRunner's handle."""

    message = Signal(str, str)  # title, text: for the window's message box
    notice = Signal(str)  # a success, for the status bar
    status_message = Signal(str, int)  # a passing status-bar message and its milliseconds
    title_changed = Signal(str)

    def __init__(self, engine: QSheetHandle, status: dict[str, QLabel], top: int = DEFAULT_TOP, parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.status_labels = status
        self.snapshot: Snapshot | None = None
        self.ratings: Ratings | None = None
        self.frames = 0  # snapshots rendered
        self.previews = 0  # previews rendered: the first sheet's ratings while the engine starts
        self.state = IDLE
        self._rate_mark = (time.perf_counter(), 0)
        self.steps_per_s = 0.0
        self.xlsx_available = False
        self.question: QMessageBox | None = None  # a question waiting for the user's answer
        self._noticed_at: tuple | None = None  # (branch, step) the engine's last notice spoke of, while it shows

        self.actions = make_actions(self, ACTIONS, SHORTCUTS)
        self._keys: dict[str, list] = {}  # shortcuts set aside while another tab is shown
        self.undo = QUndoStack(self)  # cell edits, undone and redone through the engine
        self.originals: dict[Cell, float | None] = {}  # each edited cell's value before its first edit
        for name, action, keys in (("undo", self.undo.createUndoAction(self, "&Undo"), QKeySequence.Undo),
                                   ("redo", self.undo.createRedoAction(self, "&Redo"), "Ctrl+Y")):
            action.setShortcuts([QKeySequence(keys)] + ([QKeySequence("Ctrl+Shift+Z")] if name == "redo" else []))
            self.actions[name] = action
        self.actions["play"].setCheckable(True)
        self.actions["stop"].setEnabled(False)
        for name, tip in TIPS.items():
            self.actions[name].setToolTip(tip)
        for name in ("holdout", "add_me"):
            self.actions[name].setCheckable(True)
        for name in ("import", "export"):  # enabled after the first sheet shows: importing openpyxl takes a while
            self.actions[name].setEnabled(False)
        self.controls = QControls(self.actions)
        self.controls.top.setValue(top)
        self.model = QSheetModel(self)
        self.view = QSheetView(self.model)
        self.legend = QLegend()
        self.legend.context.setMinimumWidth(1)  # long dataset names are clipped, never widen the window
        self.legend.setMinimumWidth(1)  # and in a narrow window the legend's right end is, too
        self.loading = QLoadingPage(self.actions["open"])
        self.explain = QExplainPanel()
        self.coach_bar = QCoachBar()
        self.timeline_bar = QTimelineBar()
        self.timeline: TimelineInfo | None = None  # where the sheet is in its history
        self.diagnosis: Diagnosis | None = None
        self.me_panel = QNewUserPanel(self.actions)
        self.me: NewUserRow | None = None  # the new user's row, when there is one
        self.race_panel: QRacePanel | None = None  # built with the first race
        self.race: RaceFrame | None = None
        self.onehot: QOneHotDialog | None = None  # built when first asked for
        self.loss_plot = None  # built just after the first sheet shows: importing pyqtgraph takes ~0.5 s
        self._pending_losses: list = []
        self._texts_at = self._plotted_at = 0.0
        self._select_me = False  # the new user's row was asked for: put the cursor in it when it shows
        self.precedents: tuple = ()  # the selected cell's precedents as the engine named them (blocks, not places)
        self.transitions = SheetTransitions({
            "loss_plot": lambda frame, _: self._clear_losses(), "controls": lambda frame, _: self.controls.show_sheet(frame.snapshot),
            "top": lambda frame, _: frame.top is not None and self.controls.set_top(frame.top, lift=True),
            "edits": lambda frame, previous: self._forget_edits(frame.snapshot, previous),
            "coach": lambda frame, _: frame.diagnosed or self._show_diagnosis(None),
            "message": lambda frame, previous: previous is not None and self.status_message.emit("", 0),
            "explain": lambda frame, _: frame.explained or self.explain.cell is None or self.select(self.explain.cell),
        })
        self.last_transitions: list[str] = []  # what the last transition cleared (for the record and tests)
        self._build_layout()
        self._wires = []
        self._wire()
        self.show_state(LOADING)  # until the worker says otherwise; the run buttons wait for the engine's first sheet

    # --- construction ------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.stack = QStackedWidget()
        self.stack.addWidget(self.loading)
        self.stack.addWidget(column(self.legend, QCoachSlot(self.coach_bar), self.view, self.timeline_bar, grow=2))
        placeholder = QLabel("the loss curve appears with the sheet")
        placeholder.setAlignment(Qt.AlignCenter)
        self._loss_box = titled("Loss", placeholder)
        self.side_tabs = QTabWidget()  # the explain panel, and the race and the new user once there are
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.addTab(self.explain, "Explain this cell")
        self.side = splitter(Qt.Vertical, self.side_tabs, self._loss_box, sizes=(480, 300))
        self.side.setMinimumWidth(SIDE_MIN_WIDTH)
        self.split = splitter(Qt.Horizontal, self.stack, self.side, stretch=(1, 0), sizes=(1200, 330))
        fill(self, self.controls, self.split)

    def _wire(self) -> None:
        a, e, c = self.actions, self.engine, self.controls
        for signal, slot in (
            (e.frame, self.render), (e.message, self.show_message), (e.notice, self._notice),
            (e.state_changed, self.show_state),
            (e.loaded, self._loaded), (e.progress, self.loading.show_progress), (e.diverged, self._diverged),
            (e.solved, self._solved), (e.xlsx_checked, self._xlsx_checked), (e.choose_sheet, self.choose_sheet),
            (a["open"].triggered, lambda: self.open_dialog()), (a["import"].triggered, self.import_dialog),
            (a["export"].triggered, self.export_dialog),
            (a["step"].triggered, lambda: e.step(1)), (a["step_n"].triggered, lambda: e.step(c.steps_n.value())),
            (a["play"].toggled, e.play), (a["solve"].triggered, e.solve), (a["stop"].triggered, e.stop),
            (a["reset"].triggered, lambda: e.reset(c.seed.value())),
            (a["zoom_in"].triggered, lambda: self.view.zoom_by(1)), (a["zoom_out"].triggered, lambda: self.view.zoom_by(-1)),
            (a["zoom_fit"].triggered, self.view.fit),
            (c.optimizer_changed, e.set_optimizer), (c.sheet_changed, self.configure), (c.rate_changed, e.set_rate),
            (c.errors_toggled, self.set_show_errors), (c.said, lambda text: self.status_message.emit(text, 8000)), (c.blanks_toggled, self.set_show_blanks),
            (self.model.edit_requested, self.edit), (self.model.invalid_edit, lambda text: self.show_message("Edit", text)),
            (self.view.cell_selected, self.select),
            (self.timeline_bar.seek_requested, e.seek), (self.timeline_bar.branch_chosen, e.resume),
            (self.coach_bar.fix_chosen, self.apply_fix), (a["race"].triggered, self.race_dialog),
            (a["holdout"].toggled, e.set_holdout), (a["add_me"].toggled, self.add_me),
            (a["fold_in"].triggered, e.fold_in), (a["use_model"].triggered, self.model_dialog),
            (self.me_panel.sheet_movies_requested, lambda: e.use_model("")), (e.raced, self._raced),
            (e.model_used, self._model_used), (a["onehot"].triggered, self.show_onehot),
        ):
            self._connect(signal, slot)

    def set_keys_active(self, on: bool) -> None:
        """The sheet's own keys (run, edit, zoom) work only while this tab is shown; menus keep the actions."""
        for name in LOCAL_KEYS:
            action = self.actions[name]
            if not on and name not in self._keys:
                self._keys[name] = action.shortcuts()
            if on and name in self._keys:
                action.setShortcuts(self._keys.pop(name))
            elif not on:
                action.setShortcuts([])

    def start(self, path: str | None = None) -> None:
        """Open the first ratings: a file, or MovieLens."""
        self.engine.load(LoadRequest(path=path))

    # --- engine → tab ------------------------------------------------------------------------
    def render(self, frame: Frame) -> None:
        """Repaint from the newest frame: what its transitions make stale first, then curves, solve progress, the
        sheet and the panel."""
        first = not self.controls.ready
        if frame.snapshot is not None and frame.transitions:  # gui.sheet.transitions decides what each one clears
            self.last_transitions = self.transitions.apply(frame, self.snapshot)
        self._show_losses(frame)
        if frame.solving is not None and self.state == SOLVING:  # a last report may arrive after the solve ended
            self.controls.show_solving(*frame.solving)
            self.status_labels["rmse"].setText(f"solving: RMSE {loss_text(frame.solving[1])}")
        if frame.device:
            self.status_labels["device"].setText(frame.device)
        if frame.explained:
            self._show_explanation(frame.explanation)
        if frame.race is not None:
            self._show_race(frame.race)
        snap = frame.snapshot
        if snap is None:
            if frame.preview is not None and self.snapshot is None:
                self._show_preview(frame.preview)
            return
        self.snapshot = snap
        self.controls.follow(snap)
        if frame.me_sent:
            self._show_me(frame.me, snap)
        self.model.set_extras(frame.blank_predictions, frame.recommendations)
        self.model.set_snapshot(frame.display if frame.display is not None else snap)
        self._place_marks()
        if frame.timeline is not None:
            self.timeline = frame.timeline
            if self.state == IDLE or time.perf_counter() - self._texts_at >= TEXT_EVERY_S:
                self.timeline_bar.show_timeline(frame.timeline)
        if frame.diagnosed:
            self._show_diagnosis(frame.diagnosis)
        if self._noticed_at is not None and self._noticed_at != self._where():
            self._noticed_at = None  # "Back at step 58,697 …" no longer holds once the sheet moved on
            self.status_message.emit("", 0)
        if self._select_me and self.model.me_row is not None:
            self._select_me = False
            self.view.select_cell(Cell(RATING, (self.model.me_row, 0)))
            self.view.setFocus()
            self.side_tabs.setCurrentWidget(self.me_panel)  # what to do next, rather than the cell's formula
        if self.onehot is not None and self.onehot.isVisible():
            self.onehot.follow(snap)
        self.frames += 1
        self._repaint_sheet()
        self._show_status(snap)  # every frame: the status bar, the loss cell and the panel show one step's numbers
        if self.state == IDLE or time.perf_counter() - self._texts_at >= TEXT_EVERY_S:
            self._refresh_texts()
        if self.stack.currentIndex() == 0:
            self.stack.setCurrentIndex(1)
            self.view.setFocus()
        if first:  # the engine is running: its controls, the panel, then what the first sheet need not wait for
            self.controls.show_state(self.state)
            if self.explain.cell is None:
                self.select(Cell(LOSS))
            QTimer.singleShot(AFTER_FIRST_FRAME_MS, self._after_first_frame)

    def _where(self) -> tuple:
        """(branch, step) of the sheet shown."""
        return (self.timeline.branch if self.timeline is not None else None,
                self.snapshot.step if self.snapshot is not None else None)

    def _notice(self, text: str) -> None:
        """The engine's notice (it follows its frame): shown while the sheet stays where it spoke of."""
        self._noticed_at = self._where()
        self.notice.emit(text)

    def _show_explanation(self, explanation) -> None:
        """The panel's text; the precedents it names are boxed once the table has the frame's layout."""
        self.explain.render(explanation)
        self.precedents = tuple(explanation.precedents) if explanation is not None else ()
        self._place_marks()

    def _place_marks(self) -> None:
        """Box the precedents on the table's layout now: a box placed on the layout before (a column more with
        biases, another dataset's rows) would land on the wrong cells."""
        precedents = self.precedents if self.explain.cell is not None else ()
        ranges = precedent_ranges(self.model.layout, precedents)
        if ranges != self.view.precedents:
            self.view.set_marks(precedents=ranges)

    def select(self, cell: Cell | None) -> None:
        """Explain `cell`: the engine sends its explanation with the next frames."""
        self.explain.show_cell(cell)
        if self.onehot is not None and cell is not None and cell.kind == RATING:
            self.onehot.select_cell(*cell.index)
        if cell is not None and self.frames:
            self.side_tabs.setCurrentWidget(self.explain)
        self.engine.select(None if cell is None else cell.kind, () if cell is None else tuple(cell.index))

    def show_onehot(self) -> None:
        """The one-hot × embedding view beside the sheet, on the selected rating when there is one."""
        if self.onehot is None:
            from collabsheet.gui.sheet.onehot_dialog import QOneHotDialog  # numpy only; built on first use
            self.onehot = QOneHotDialog(self)
        if self.snapshot is not None:
            self.onehot.follow(self.snapshot, force=True)
        cell = self.explain.cell
        if cell is not None and cell.kind == RATING:
            self.onehot.select_cell(*cell.index)
        self.onehot.show()
        self.onehot.raise_()

    def _show_preview(self, preview) -> None:
        """The first sheet while the engine starts, computed without torch (engine.sheet.first_frame): every number the
        engine's first frame will have, nothing to edit or run yet."""
        self.model.set_snapshot(preview, editable=False)
        self.previews += 1
        if self.stack.currentIndex() == 0:
            self.stack.setCurrentIndex(1)
            self.view.setFocus()
        n, m = preview.ratings.shape
        self.status_labels["dataset"].setText(f"{preview.dataset} · sheet {n}×{m}, {int(preview.mask.sum())} rated")
        self.status_labels["rmse"].setText(f"RMSE {preview.rmse:.4f} · starting the engine…"
                                           if hasattr(preview, "rmse") else "starting the engine…")
        self.legend.context.setText(f"{preview.dataset} · top {n} users × {m} movies · starting the engine…")
        self.stack.repaint()  # now: the worker imports torch once this frame is rendered, and then the GUI waits for the GIL

    def _repaint_sheet(self) -> None:
        """Paint now, while the engine waits (see FrameClock); only right of the ratings if they held."""
        viewport = self.view.viewport()
        x = 0 if self.model.ratings_changed else self.view.columnViewportPosition(self.model.layout.factor_col)
        if x < viewport.width():
            x = max(x, 0)
            viewport.repaint(x, 0, viewport.width() - x, viewport.height())

    def _refresh_texts(self) -> None:
        """The loss curve: pyqtgraph's axes are costly, so not redrawn at 60 Hz."""
        self._texts_at = time.perf_counter()
        if self.loss_plot is not None and (self.state == IDLE or self._texts_at - self._plotted_at >= PLOT_EVERY_S):
            self._plotted_at = self._texts_at
            self.loss_plot.refresh()

    def _clear_losses(self) -> None:
        """A new run: the old run's curves, start dot and axis ranges go."""
        if self.loss_plot is None:
            self._pending_losses.clear()
        else:
            self.loss_plot.clear()

    def _show_losses(self, frame: Frame) -> None:
        """The frame's new points (a new run's plot was cleared by its transition, before them)."""
        if self.loss_plot is None:
            self._pending_losses += frame.losses
            return
        if frame.losses:
            self.loss_plot.add(frame.losses)
        if frame.timeline is not None:
            self.loss_plot.show_timeline(frame.timeline)

    def _after_first_frame(self) -> None:
        """What the first sheet need not wait for: the loss plot and the Excel commands."""
        from collabsheet.gui.sheet.timeline_plot import QTimelinePlot

        if not self._wires:
            return
        self.engine.check_xlsx()  # the worker imports engine.xlsx (openpyxl) and answers with xlsx_checked
        if self.loss_plot is None:
            self.loss_plot = QTimelinePlot(axes={SOLVE_AXIS: "solver iteration"})
            self._connect(self.loss_plot.curve_clicked, lambda branch, step: self.engine.seek(step, branch))
            set_body(self._loss_box, self.loss_plot)
            self.loss_plot.add(self._pending_losses)
            if self.timeline is not None:
                self.loss_plot.show_timeline(self.timeline)
            self.loss_plot.refresh()
            self._pending_losses = []

    def _xlsx_checked(self, available: bool) -> None:
        self.xlsx_available = available
        self._enable_xlsx()

    def _enable_xlsx(self) -> None:
        busy = self.state in (SOLVING, LOADING)
        for name in ("import", "export"):
            action = self.actions[name]
            action.setEnabled(self.xlsx_available and not busy)
            action.setToolTip(action.text().replace("&", "") if self.xlsx_available
                              else "Excel files need openpyxl, which could not be loaded")

    def _show_status(self, snap: Snapshot) -> None:
        now = time.perf_counter()
        then, steps = self._rate_mark
        if now - then >= RATE_WINDOW_S or snap.step < steps:
            self.steps_per_s = max(snap.step - steps, 0) / (now - then)
            self._rate_mark = (now, snap.step)
        labels = self.status_labels
        n, m = snap.ratings.shape
        size = f" ({len(self.ratings):,} ratings)" if self.ratings is not None else ""
        labels["dataset"].setText(f"{snap.dataset}{size} · sheet {n}×{m}, {snap.count} rated")
        behind = self.timeline is not None and self.timeline.step == snap.step and not self.timeline.at_head
        labels["step"].setText(f"step {snap.step:,}" + (f" of {self.timeline.end:,}" if behind else ""))
        labels["rmse"].setText(f"RMSE {loss_text(snap.rmse)}" + (" · diverged" if snap.diverged else ""))
        labels["rate"].setText(f"{self.steps_per_s:,.0f} steps/s" if self.state != IDLE else "")
        self.legend.context.setText(f"{snap.dataset} · top {n} users × {m} movies · k={snap.k} · "
                                    f"{snap.settings.label} lr {snap.settings.lr:g}")

    def show_state(self, state: str) -> None:
        self.state = state
        self.controls.show_state(state)
        self._enable_me()
        self._enable_xlsx()
        if state == IDLE and self.timeline is not None:
            self.timeline_bar.show_timeline(self.timeline)
        self._rate_mark = (time.perf_counter(), self.snapshot.step if self.snapshot else 0)
        if state == IDLE:
            self._refresh_texts()
            self.status_labels["rate"].setText("")

    def _loaded(self, ratings: Ratings) -> None:
        self.ratings = ratings
        if self.snapshot is not None:  # the event comes after the sheet's frame: say the data's size now
            self._show_status(self.snapshot)
        self.title_changed.emit(f"collabsheet — {ratings.name}")
        self.controls.set_top_limit(max(ratings.n_users, ratings.n_items))
        for note in ratings.notes:
            self.status_message.emit(note, 8000)

    def _diverged(self) -> None:
        self.status_message.emit("Diverged: the learning rate is too high. Lower it, Reset, or take the coach's fix "
                                 "above the sheet.", 8000)

    def _solved(self, result) -> None:
        why = f". {result.why[0].upper()}{result.why[1:]}" if result.why else ""
        self.status_message.emit(f"Solve {result.ending}: RMSE {result.rmse_before:.4f} → {result.rmse:.4f} in "
                                 f"{result.iterations} iterations ({result.seconds:.2f} s){why}{self._valley_hint()}",
                                 15000)

    def _valley_hint(self) -> str:
        """A learner left with factors of −113 beside 1–5 ratings is told why, and what gives the loss a minimum."""
        snap = self.snapshot
        if snap is None or snap.settings.weight_decay > 0:
            return ""
        factors = [a for a in (snap.params.get("user_factors"), snap.params.get("item_factors")) if a is not None]
        largest = max((float(abs(a).max()) for a in factors if a.size), default=0.0)
        rated = snap.ratings[snap.mask]
        scale = float(abs(rated).max()) if rated.size else 1.0
        if largest <= FACTOR_ALARM * scale:
            return ""
        return (f". Factors reached {largest:.3g}, far past the ratings' scale ({scale:g}): the loss slopes on along "
                "a valley here; weight decay (wd > 0) gives it a minimum with small factors")

    def show_message(self, title: str, text: str) -> None:
        """A problem: with no sheet yet the loading page says it too; the window shows and records it."""
        if self.snapshot is None and title.startswith("Could not open"):  # no sheet yet (a preview at most)
            self.stack.setCurrentIndex(0)
            self.loading.show_failure(text)
            for label in (self.status_labels["dataset"], self.status_labels["rmse"], self.legend.context):
                label.setText("")
        self.message.emit(title, text)

    def configure(self, config, top: int) -> None:
        """k, biases or squashing change on the running sheet; a new top-N starts over, so it asks first."""
        snap = self.snapshot
        if snap is None or top == snap.ratings.shape[0] or snap.step == 0:
            self.status_message.emit("", 0)
            self.engine.configure(config, top)
            return
        # The whole run is dropped, every branch of it, not only the steps up to where the sheet was sought back to.
        recorded = max([snap.step] + [b.end for b in self.timeline.branches] if self.timeline is not None else [snap.step])
        box = QMessageBox(QMessageBox.Question, "Change top-N",
                          f"A sheet of the top {top} users and movies has other rows and columns: it starts over "
                          f"from new random factors, and this run ({plural(recorded, 'step')}, every branch) is "
                          "dropped. Go on?",
                          QMessageBox.Yes | QMessageBox.Cancel, self)
        box.setDefaultButton(QMessageBox.Cancel)
        self.question = box

        def answered(button: int) -> None:
            self.question = None
            if button == QMessageBox.Yes:
                self.status_message.emit("", 0)
                self.engine.configure(config, top)
            else:
                self.controls.set_top(snap.ratings.shape[0])

        box.finished.connect(answered)
        box.open()

    def set_show_blanks(self, on: bool) -> None:
        self.model.set_show_blanks(on)
        self.engine.set_show_blanks(on)

    def set_show_errors(self, on: bool) -> None:
        self.model.set_show_errors(on)
        self.legend.set_errors(on)

    def close_tab(self) -> None:
        """Disconnect everything this tab connected."""
        self.disconnect_all()
        self.view.close()
