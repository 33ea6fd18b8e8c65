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
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QStackedWidget, QTabWidget, QWidget

from collabsheet.engine.config import DEFAULT_TOP, RunState
from collabsheet.gui.sheet.actions import ACTIONS, LOCAL_KEYS, SHORTCUTS, TIPS, make_actions, set_keys_active
from collabsheet.gui.sheet.coach_bar import QCoachSlot
from collabsheet.gui.sheet.coach_part import CoachPart
from collabsheet.gui.sheet.controls import QControls
from collabsheet.gui.sheet.edits_part import CellEdits
from collabsheet.gui.sheet.explain_panel import QExplainPanel
from collabsheet.gui.sheet.files_part import SheetFiles
from collabsheet.gui.sheet.frames import Frame, LoadRequest, TimelineInfo
from collabsheet.gui.sheet.handle import QSheetHandle
from collabsheet.gui.sheet.layout import LOSS, RATING, Cell
from collabsheet.gui.sheet.loss_part import LossPart
from collabsheet.gui.sheet.model import QSheetModel
from collabsheet.gui.sheet.newuser_part import NewUserPart
from collabsheet.gui.sheet.race_part import RacePart
from collabsheet.gui.sheet.status_part import STATUS, SheetStatus, solve_message
from collabsheet.gui.sheet.overlay import precedent_ranges
from collabsheet.gui.sheet.timeline_bar import QTimelineBar
from collabsheet.gui.sheet.transitions import SheetTransitions
from collabsheet.gui.sheet.view import QSheetView
from collabsheet.gui.widgets.boxes import column, fill, splitter
from collabsheet.gui.widgets.legend import QLegend
from collabsheet.gui.widgets.loading_page import QLoadingPage
from collabsheet.gui.widgets.wires import Wires
from collabsheet.gui.words import plural

if TYPE_CHECKING:
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.onehot_dialog import QOneHotDialog

IDLE, LOADING, SOLVING = RunState.IDLE, RunState.LOADING, RunState.SOLVING
TEXT_EVERY_S = 1 / 15  # the timeline bar and the loss curve redraw at most this often while running; the sheet at 60 Hz
# The loss plot (importing pyqtgraph blocks the GUI thread for ~0.3 s) waits this long after the first sheet, so
# the labels' repaints and the worker's queued "idle" (which enables the buttons) are on screen first.
AFTER_FIRST_FRAME_MS = 100
SIDE_MIN_WIDTH = 280  # the explain panel and the loss curve stay readable in a small window
__all__ = ["STATUS", "QSheetTab"]  # STATUS: the status bar's fields, for the window to make


class QSheetTab(QWidget):
    """The live sheet over one SheetRunner's handle. Its cell edits, files, coach, races, new user, loss curve and
    status bar are parts it owns as fields, each seeing the tab through a small Protocol of its own."""

    message = Signal(str, str)  # title, text: for the window's message box
    notice = Signal(str)  # a success, for the status bar
    status_message = Signal(str, int)  # a passing status-bar message and its milliseconds
    title_changed = Signal(str)

    def __init__(self, engine: QSheetHandle, status: dict[str, QLabel], top: int = DEFAULT_TOP, parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.snapshot: Snapshot | None = None
        self.ratings: Ratings | None = None
        self.frames = 0  # snapshots rendered
        self.previews = 0  # previews rendered: the first sheet's ratings while the engine starts
        self.state = IDLE
        self.question: QMessageBox | None = None  # a question waiting for the user's answer
        self._noticed_at: tuple | None = None  # (branch, step) the engine's last notice spoke of, while it shows
        self.wires = Wires()  # every connection this tab makes, undone by close_tab

        self.actions = make_actions(self, ACTIONS, SHORTCUTS)
        self._keys: dict[str, list] = {}  # shortcuts set aside while another tab is shown
        self.edits = CellEdits(self, self)
        self.actions.update(self.edits.undo_actions(self))
        self.actions["play"].setCheckable(True)
        self.actions["stop"].setEnabled(False)
        for name, tip in TIPS.items():
            self.actions[name].setToolTip(tip)
        for name in ("holdout", "add_me"):
            self.actions[name].setCheckable(True)
        self.files = SheetFiles(self, self)
        self.controls = QControls(self.actions)
        self.controls.top.setValue(top)
        self.model = QSheetModel(self)
        self.view = QSheetView(self.model)
        self.legend = QLegend()
        self.legend.context.setMinimumWidth(1)  # long dataset names are clipped, never widen the window
        self.legend.setMinimumWidth(1)  # and in a narrow window the legend's right end is, too
        self.status = SheetStatus(status, self.legend.context)
        self.loading = QLoadingPage(self.actions["open"])
        self.explain = QExplainPanel()
        self.timeline_bar = QTimelineBar()
        self.timeline: TimelineInfo | None = None  # where the sheet is in its history
        self.coach = CoachPart(self)
        self.race = RacePart(self, self)
        self.new_user = NewUserPart(self, self)
        self.losses = LossPart(self)
        self.onehot: QOneHotDialog | None = None  # built when first asked for
        self._texts_at = 0.0
        self.precedents: tuple = ()  # the selected cell's precedents as the engine named them (blocks, not places)
        self.transitions = SheetTransitions({
            "loss_plot": lambda frame, _: self.losses.clear(), "controls": lambda frame, _: self.controls.show_sheet(frame.snapshot),
            "top": lambda frame, _: frame.top is not None and self.controls.set_top(frame.top, lift=True),
            "edits": lambda frame, previous: self.edits.forget(frame.snapshot, previous),
            "coach": lambda frame, _: frame.diagnosed or self.coach.show(None),
            "message": lambda frame, previous: previous is not None and self.say("", 0),
            "explain": lambda frame, _: frame.explained or self.explain.cell is None or self.select(self.explain.cell),
        })
        self.last_transitions: list[str] = []  # what the last transition cleared (for the record and tests)
        self._build_layout()
        self._wire()
        self.show_state(LOADING)  # until the worker says otherwise; the run buttons wait for the engine's first sheet

    # --- construction ------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.stack = QStackedWidget()
        self.stack.addWidget(self.loading)
        self.stack.addWidget(column(self.legend, QCoachSlot(self.coach.bar), self.view, self.timeline_bar, grow=2))
        self.side_tabs = QTabWidget()  # the explain panel, and the race and the new user once there are
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.addTab(self.explain, "Explain this cell")
        self.side = splitter(Qt.Vertical, self.side_tabs, self.losses.box, sizes=(480, 300))
        self.side.setMinimumWidth(SIDE_MIN_WIDTH)
        self.split = splitter(Qt.Horizontal, self.stack, self.side, stretch=(1, 0), sizes=(1200, 330))
        fill(self, self.controls, self.split)

    def _wire(self) -> None:
        a, e, c, files, new_user = self.actions, self.engine, self.controls, self.files, self.new_user
        for signal, slot in (
            (e.frame, self.render), (e.message, self.show_message), (e.notice, self._notice),
            (e.state_changed, self.show_state),
            (e.loaded, self._loaded), (e.progress, self.loading.show_progress), (e.diverged, self._diverged),
            (e.solved, self._solved), (e.xlsx_checked, files.xlsx_checked), (e.choose_sheet, files.choose_sheet),
            (a["open"].triggered, lambda: files.open_dialog()), (a["import"].triggered, files.import_dialog),
            (a["export"].triggered, files.export_dialog),
            (a["step"].triggered, lambda: e.step(1)), (a["step_n"].triggered, lambda: e.step(c.steps_n.value())),
            (a["play"].toggled, e.play), (a["solve"].triggered, e.solve), (a["stop"].triggered, e.stop),
            (a["reset"].triggered, lambda: e.reset(c.seed.value())),
            (a["zoom_in"].triggered, lambda: self.view.zoom_by(1)), (a["zoom_out"].triggered, lambda: self.view.zoom_by(-1)),
            (a["zoom_fit"].triggered, self.view.fit),
            (c.optimizer_changed, e.set_optimizer), (c.sheet_changed, self.configure), (c.rate_changed, e.set_rate),
            (c.errors_toggled, self.set_show_errors), (c.said, lambda text: self.say(text, 8000)), (c.blanks_toggled, self.set_show_blanks),
            (self.model.edit_requested, self.edits.edit), (self.model.invalid_edit, lambda text: self.show_message("Edit", text)),
            (self.view.cell_selected, self.select),
            (self.timeline_bar.seek_requested, e.seek), (self.timeline_bar.branch_chosen, e.resume),
            (self.coach.bar.fix_chosen, self.coach.apply_fix), (a["race"].triggered, self.race.dialog),
            (a["holdout"].toggled, e.set_holdout), (a["add_me"].toggled, new_user.add),
            (a["fold_in"].triggered, e.fold_in), (a["use_model"].triggered, new_user.model_dialog),
            (new_user.panel.sheet_movies_requested, lambda: e.use_model("")), (e.raced, self.race.ended),
            (e.model_used, new_user.model_used), (a["onehot"].triggered, self.show_onehot),
        ):
            self.wires.connect(signal, slot)

    def set_keys_active(self, on: bool) -> None:
        """The sheet's own keys (run, edit, zoom) work only while this tab is shown; menus keep the actions."""
        set_keys_active(self.actions, LOCAL_KEYS, self._keys, on)

    def start(self, path: str | None = None) -> None:
        """Open the first ratings: a file, or MovieLens."""
        self.engine.load(LoadRequest(path=path))

    # The window's File menu and recent files open ratings through these (the tab's files part does the work).
    def open_default(self) -> None:
        """Back to MovieLens, the default data."""
        self.files.open_default()

    def open_dialog(self, path: str = "", columns: dict | None = None) -> None:
        """File → Open ratings, or a recent file's columns picked again."""
        self.files.open_dialog(path, columns)

    def open_ratings(self, path: str, **columns) -> None:
        """Open a ratings file with these load_ratings column arguments."""
        self.files.open_ratings(path, **columns)

    def columns_read(self, source: str) -> dict:
        """The columns `source` was read with, when it was the last file asked for; else {}."""
        return self.files.columns_read(source)

    # --- engine → tab ------------------------------------------------------------------------
    def render(self, frame: Frame) -> None:
        """Repaint from the newest frame: what its transitions make stale first, then curves, solve progress, the
        sheet and the panel."""
        first = not self.controls.ready
        if frame.snapshot is not None and frame.transitions:  # gui.sheet.transitions decides what each one clears
            self.last_transitions = self.transitions.apply(frame, self.snapshot)
        self.losses.add(frame)
        if frame.solving is not None and self.state == SOLVING:  # a last report may arrive after the solve ended
            self.controls.show_solving(*frame.solving)
            self.status.show_solving(frame.solving[1])
        if frame.device:
            self.status.show_device(frame.device)
        if frame.explained:
            self._show_explanation(frame.explanation)
        if frame.race is not None:
            self.race.show(frame.race)
        snap = frame.snapshot
        if snap is None:
            if frame.preview is not None and self.snapshot is None:
                self._show_preview(frame.preview)
            return
        self.snapshot = snap
        self.controls.follow(snap)
        if frame.new_user_sent:
            self.new_user.show_row(frame.new_user, snap)
        self.model.set_extras(frame.blank_predictions, frame.recommendations)
        self.model.set_snapshot(frame.display if frame.display is not None else snap)
        self._place_marks()
        if frame.timeline is not None:
            self.timeline = frame.timeline
            if self.state == IDLE or time.perf_counter() - self._texts_at >= TEXT_EVERY_S:
                self.timeline_bar.show_timeline(frame.timeline)
        if frame.diagnosed:
            self.coach.show(frame.diagnosis)
        if self._noticed_at is not None and self._noticed_at != self._where():
            self._noticed_at = None  # "Back at step 58,697 …" no longer holds once the sheet moved on
            self.say("", 0)
        self.new_user.select_when_shown()
        if self.onehot is not None and self.onehot.isVisible():
            self.onehot.follow(snap)
        self.frames += 1
        self.view.repaint_now()
        self.status.show(snap, self.ratings, self.timeline, running=self.state != IDLE)  # every frame
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
        self.status.show_preview(preview)
        self.stack.repaint()  # now: the worker imports torch once this frame is rendered, and then the GUI waits for the GIL

    def _refresh_texts(self) -> None:
        """The loss curve: pyqtgraph's axes are costly, so not redrawn at 60 Hz."""
        self._texts_at = time.perf_counter()
        self.losses.refresh(self._texts_at, idle=self.state == IDLE)

    def _after_first_frame(self) -> None:
        """What the first sheet need not wait for: the Excel commands and the loss plot."""
        if self.wires.closed:
            return
        self.files.check_xlsx()
        self.losses.build()

    def show_state(self, state: str) -> None:
        self.state = state
        self.controls.show_state(state)
        self.new_user.enable()
        self.files.enable_xlsx()
        if state == IDLE and self.timeline is not None:
            self.timeline_bar.show_timeline(self.timeline)
        self.status.restart_rate(self.snapshot.step if self.snapshot else 0, idle=state == IDLE)
        if state == IDLE:
            self._refresh_texts()

    def _loaded(self, ratings: Ratings) -> None:
        self.ratings = ratings
        if self.snapshot is not None:  # the event comes after the sheet's frame: say the data's size now
            self.status.show(self.snapshot, ratings, self.timeline, running=self.state != IDLE)
        self.title_changed.emit(f"collabsheet — {ratings.name}")
        self.controls.set_top_limit(max(ratings.n_users, ratings.n_items))
        for note in ratings.notes:
            self.say(note, 8000)

    def _diverged(self) -> None:
        self.say("Diverged: the learning rate is too high. Lower it, Reset, or take the coach's fix above the sheet.",
                 8000)

    def _solved(self, result) -> None:
        self.say(solve_message(result, self.snapshot), 15000)

    def show_message(self, title: str, text: str) -> None:
        """A problem: with no sheet yet the loading page says it too; the window shows and records it."""
        if self.snapshot is None and title.startswith("Could not open"):  # no sheet yet (a preview at most)
            self.stack.setCurrentIndex(0)
            self.loading.show_failure(text)
            self.status.clear()
        self.message.emit(title, text)

    def configure(self, config, top: int) -> None:
        """k, biases or squashing change on the running sheet; a new top-N starts over, so it asks first."""
        snap = self.snapshot
        if snap is None or top == snap.ratings.shape[0] or snap.step == 0:
            self.say("", 0)
            self.engine.configure(config, top)
            return
        # The whole run is dropped, every branch of it, not only the steps up to where the sheet was sought back to.
        recorded = max([snap.step] + [b.end for b in self.timeline.branches] if self.timeline is not None else [snap.step])

        def answered(yes: bool) -> None:
            if yes:
                self.say("", 0)
                self.engine.configure(config, top)
            else:
                self.controls.set_top(snap.ratings.shape[0])

        self.ask("Change top-N", f"A sheet of the top {top} users and movies has other rows and columns: it starts "
                 f"over from new random factors, and this run ({plural(recorded, 'step')}, every branch) is dropped. "
                 "Go on?", answered)

    def ask(self, title: str, text: str, answered: Callable[[bool], None]) -> None:
        """A Yes/Cancel question over the tab, Cancel by default; `answered(yes)` once the user closes it."""
        box = QMessageBox(QMessageBox.Question, title, text, QMessageBox.Yes | QMessageBox.Cancel, self)
        box.setDefaultButton(QMessageBox.Cancel)
        self.question = box

        def finished(button: int) -> None:
            self.question = None
            answered(button == QMessageBox.Yes)

        box.finished.connect(finished)
        box.open()

    def say(self, text: str, ms: int = 8000) -> None:
        """A passing message in the window's status bar ("" takes the last one away)."""
        self.status_message.emit(text, ms)

    def busy(self) -> bool:
        """Whether a solve or a load is running."""
        return self.state in (SOLVING, LOADING)

    def settled(self) -> bool:
        """Whether the sheet is shown and nothing solves or loads."""
        return self.controls.ready and not self.busy()

    def set_show_blanks(self, on: bool) -> None:
        self.model.set_show_blanks(on)
        self.engine.set_show_blanks(on)

    def set_show_errors(self, on: bool) -> None:
        self.model.set_show_errors(on)
        self.legend.set_errors(on)

    def close_tab(self) -> None:
        """Disconnect everything this tab connected."""
        self.wires.disconnect_all()
        self.view.close()
