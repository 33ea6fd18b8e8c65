"""The window: controls on top, the sheet in the middle, explain panel and loss curve on the right.

Start-up is ordered for the first frame: nothing the GUI thread imports before it pulls in torch, pyqtgraph
or openpyxl. The worker thread reads the ratings, publishes them as a preview (shown with the engine's cells
pending and every control disabled), then imports torch and builds the sheet; the loss plot and the Excel
commands come after the first real sheet.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QPushButton, QStackedWidget, QVBoxLayout, QWidget)

from gui.sheet.controls import QControls
from gui.runtime.channel import QEngine
from gui.sheet.explain_panel import QExplainPanel
from gui.widgets.legend import QLegend
from gui.sheet.open_dialog import QOpenDialog
from gui.sheet.runner import Frame, LoadRequest, Preview
from gui.sheet.layout import LOSS, Cell
from gui.sheet.model import QSheetModel
from gui.sheet.view import QSheetView
from gui.runtime.worker import IDLE, LOADING, SOLVING

if TYPE_CHECKING:
    from engine.data.ratings import Ratings
    from engine.sheet.snapshot import Snapshot

RATE_WINDOW_S = 0.5  # steps/s is measured over at least this long
TEXT_EVERY_S = 1 / 15  # panel and status bar redraw at most this often while running; the sheet at up to 60 Hz
PLOT_EVERY_S = 0.1  # and the loss curve at most this often: pyqtgraph's axes and legend are costly to repaint
# The loss plot (importing pyqtgraph blocks the GUI thread for ~0.3 s) waits this long after the first sheet, so
# the labels' repaints and the worker's queued "idle" (which enables the buttons) are on screen first.
AFTER_FIRST_FRAME_MS = 100
SHORTCUTS = {"open": "Ctrl+O", "export": "Ctrl+E", "step": "S", "play": "Space", "solve": ("Ctrl+Return", "Ctrl+Enter"),
             "stop": "Esc", "reset": "Ctrl+R", "quit": "Ctrl+Q"}


class QLoadingPage(QWidget):
    """Shown until the first sheet arrives: what data preparation is doing, or why it failed."""

    def __init__(self, open_action: QAction, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel("Preparing the ratings…")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignCenter)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(480)
        self.open = QPushButton("Open ratings…")
        self.open.clicked.connect(open_action.trigger)
        self.open.hide()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)  # the full width (its text centred): a wrapped label squeezed to its hint clips
        for widget in (self.bar, self.open):
            layout.addWidget(widget, 0, Qt.AlignHCenter)
        layout.addStretch(2)

    def show_progress(self, message: str, fraction: float | None) -> None:
        self.label.setText(message)
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 100)
            self.bar.setValue(round(100 * fraction))

    def show_failure(self, message: str) -> None:
        self.label.setText(message)
        self.bar.hide()
        self.open.show()


class QMainSheetWindow(QMainWindow):
    """collabsheet's main window over one QEngine."""

    def __init__(self, path: str | None = None, top: int = 15, device: str | None = None,
                 engine: QEngine | None = None) -> None:
        super().__init__()
        self.setWindowTitle("collabsheet")
        self.engine = engine or QEngine(device=device, top=top)
        self.snapshot: Snapshot | None = None
        self.ratings: Ratings | None = None
        self.messages: list[tuple[str, str]] = []  # every problem shown, for tests and for the record
        self.notices: list[str] = []  # and every success reported in the status bar
        self.frames = 0  # snapshots rendered
        self.previews = 0  # previews rendered: the first sheet's ratings while the engine starts
        self.state = IDLE
        self._rate_mark = (time.perf_counter(), 0)
        self.steps_per_s = 0.0
        self._box: QMessageBox | None = None
        self.xlsx_available = False

        self.actions = self._make_actions()
        self.controls = QControls(self.actions)
        self.controls.top.setValue(top)
        self.model = QSheetModel(self)
        self.view = QSheetView(self.model)
        self.legend = QLegend()
        self.loading = QLoadingPage(self.actions["open"])
        self.explain = QExplainPanel()
        self.loss_plot = None  # built just after the first sheet shows: importing pyqtgraph takes ~0.5 s
        self._pending_losses: list = []
        self._texts_at = self._plotted_at = 0.0
        self._build_layout()
        self._build_menus()
        self._build_status()
        self._wires = []
        self._wire()
        self._fit_to_screen()
        self.show_state(LOADING)  # until the worker says otherwise; the run buttons wait for the engine's first sheet
        self.engine.load(LoadRequest(path=path))

    # --- construction ------------------------------------------------------------------------
    def _make_actions(self) -> dict[str, QAction]:
        texts = {"open": "&Open ratings…", "import": "&Import from Excel…", "export": "&Export to Excel…",
                 "quit": "&Quit", "step": "Step", "step_n": "Step ×N", "play": "Play", "solve": "Solve",
                 "stop": "Stop", "reset": "Reset"}
        actions = {}
        for name, text in texts.items():
            action = QAction(text, self)
            keys = SHORTCUTS.get(name)
            if keys:
                action.setShortcuts([QKeySequence(k) for k in ((keys,) if isinstance(keys, str) else keys)])
                action.setToolTip(f"{text.replace('&', '').rstrip('…')} ({QKeySequence(action.shortcut()).toString()})")
            actions[name] = action
        actions["play"].setCheckable(True)
        actions["stop"].setEnabled(False)
        for name in ("import", "export"):  # enabled after the first sheet shows: importing openpyxl takes a while
            actions[name].setEnabled(False)
        return actions

    def _enable_xlsx(self) -> None:
        busy = self.state in ("solving", "loading")
        for name in ("import", "export"):
            action = self.actions[name]
            action.setEnabled(self.xlsx_available and not busy)
            action.setToolTip(action.text().replace("&", "") if self.xlsx_available else "Excel files need openpyxl, which could not be loaded")

    def _build_layout(self) -> None:
        self.stack = QStackedWidget()
        self.stack.addWidget(self.loading)
        self.stack.addWidget(_column(self.legend, self.view))
        self.setCentralWidget(_column(self.controls, self.stack))
        plot_placeholder = QLabel("the loss curve appears with the sheet")
        plot_placeholder.setAlignment(Qt.AlignCenter)
        for title, widget, name in (("Explain this cell", self.explain, "explain"), ("Loss", plot_placeholder, "loss")):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable
                             | QDockWidget.DockWidgetFloatable)
            self.addDockWidget(Qt.RightDockWidgetArea, dock)
            setattr(self, f"{name}_dock", dock)
        self.resizeDocks([self.explain_dock, self.loss_dock], [310, 310], Qt.Horizontal)
        self.resizeDocks([self.explain_dock, self.loss_dock], [480, 300], Qt.Vertical)

    def _fit_to_screen(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width, height = (1560, 940) if screen is None else (min(1600, screen.width()), min(1000, screen.height()))
        self.resize(width, height)

    def _build_menus(self) -> None:
        a = self.actions
        file = self.menuBar().addMenu("&File")
        for name in ("open", None, "import", "export", None, "quit"):
            file.addSeparator() if name is None else file.addAction(a[name])
        run = self.menuBar().addMenu("&Run")
        for name in ("step", "step_n", "play", "solve", "stop", None, "reset"):
            run.addSeparator() if name is None else run.addAction(a[name])
        view = self.menuBar().addMenu("&View")
        view.addAction(self.explain_dock.toggleViewAction())
        view.addAction(self.loss_dock.toggleViewAction())

    def _build_status(self) -> None:
        self.status_labels = {name: QLabel("") for name in ("device", "dataset", "step", "rmse", "rate")}
        for label in self.status_labels.values():
            label.setStyleSheet("padding: 0 8px; border-left: 1px solid #bbb")
            self.statusBar().addPermanentWidget(label)

    def _connect(self, signal, slot) -> None:
        signal.connect(slot)
        self._wires.append((signal, slot))

    def _wire(self) -> None:
        a, e, c = self.actions, self.engine, self.controls
        for signal, slot in (
            (e.frame, self.render), (e.message, self.show_message), (e.notice, self.show_notice),
            (e.state_changed, self.show_state),
            (e.loaded, self._loaded), (e.progress, self.loading.show_progress), (e.diverged, self._diverged),
            (e.solved, self._solved), (e.xlsx_checked, self._xlsx_checked),
            (a["open"].triggered, self.open_dialog), (a["import"].triggered, self.import_dialog),
            (a["export"].triggered, self.export_dialog), (a["quit"].triggered, self.close),
            (a["step"].triggered, lambda: e.step(1)), (a["step_n"].triggered, lambda: e.step(c.steps_n.value())),
            (a["play"].toggled, e.play), (a["solve"].triggered, e.solve), (a["stop"].triggered, e.stop),
            (a["reset"].triggered, lambda: e.reset(c.seed.value())),
            (c.optimizer_changed, e.set_optimizer), (c.sheet_changed, e.configure), (c.rate_changed, e.set_rate),
            (c.errors_toggled, self.set_show_errors),
            (self.model.edit_requested, e.edit), (self.model.invalid_edit, lambda text: self.show_message("Edit", text)),
            (self.view.cell_selected, lambda cell: self.explain.show_cell(cell, self.snapshot)),
        ):
            self._connect(signal, slot)

    # --- engine → window ---------------------------------------------------------------------
    def render(self, frame: Frame) -> None:
        """Repaint from the newest frame: curves, solve progress, then the sheet and the panel."""
        self._show_losses(frame)
        if frame.solving is not None and self.state == SOLVING:  # a last report may arrive after the solve ended
            self.controls.show_solving(*frame.solving)
            self.status_labels["rmse"].setText(f"solving: RMSE {frame.solving[1]:.4f}")
        snap = frame.snapshot
        if snap is None:
            if frame.preview is not None and self.snapshot is None:
                self._show_preview(frame.preview)
            return
        self.snapshot = snap
        first = not self.controls.ready
        if frame.clear_curves:  # a new sheet (opened, rebuilt, reset or imported): the controls follow it
            self.controls.show_sheet(snap)
        self.model.set_snapshot(snap)
        self.frames += 1
        self._repaint_sheet()
        if self.state == IDLE or time.perf_counter() - self._texts_at >= TEXT_EVERY_S:
            self._refresh_texts()
        if self.stack.currentIndex() == 0:
            self.stack.setCurrentIndex(1)
            self.view.setFocus()
        if first:  # the engine is running: its controls, the panel, then what the first sheet need not wait for
            self.controls.show_state(self.state)
            if self.explain.cell is None:
                self.explain.show_cell(Cell(LOSS), snap)
            QTimer.singleShot(AFTER_FIRST_FRAME_MS, self._after_first_frame)

    def _show_preview(self, preview: Preview) -> None:
        """The first sheet's ratings while the engine starts: its own cells pending, nothing to edit or run."""
        self.model.set_snapshot(preview)
        self.previews += 1
        if self.stack.currentIndex() == 0:
            self.stack.setCurrentIndex(1)
            self.view.setFocus()
        n, m = preview.ratings.shape
        self.status_labels["dataset"].setText(f"{preview.dataset} · sheet {n}×{m}, {int(preview.mask.sum())} rated")
        self.status_labels["rmse"].setText("starting the engine…")
        self.legend.context.setText(f"{preview.dataset} · top {n} users × {m} movies · starting the engine…")
        self.stack.repaint()  # now: the worker imports torch once this frame is rendered, and then the GUI waits for the GIL

    def _repaint_sheet(self) -> None:
        """Paint now, while the engine waits (see SheetRunner.gui_idle); only right of the ratings if they held."""
        viewport = self.view.viewport()
        x = 0 if self.model.ratings_changed else self.view.columnViewportPosition(self.model.layout.factor_col)
        if x < viewport.width():
            x = max(x, 0)
            viewport.repaint(x, 0, viewport.width() - x, viewport.height())

    def _refresh_texts(self) -> None:
        """The explain panel, the status bar and the loss curve: readable at 15 Hz, so not redrawn at 60."""
        self._texts_at = time.perf_counter()
        if self.snapshot is not None:
            self.explain.render(self.snapshot)
            self._show_status(self.snapshot)
        if self.loss_plot is not None and (self.state == IDLE or self._texts_at - self._plotted_at >= PLOT_EVERY_S):
            self._plotted_at = self._texts_at
            self.loss_plot.refresh()

    def _show_losses(self, frame: Frame) -> None:
        if self.loss_plot is None:
            if frame.clear_curves:
                self._pending_losses.clear()
            self._pending_losses += frame.losses
            return
        if frame.clear_curves:
            self.loss_plot.clear()
        if frame.losses:
            self.loss_plot.add(frame.losses)

    def _after_first_frame(self) -> None:
        """What the first sheet need not wait for: the loss plot and the Excel commands."""
        from gui.widgets.curve_plot import QLossPlot

        if self._wires:
            self.engine.check_xlsx()  # the worker imports engine.xlsx (openpyxl) and answers with xlsx_checked
        if self.loss_plot is None and self._wires:
            self.loss_plot = QLossPlot()
            self.loss_dock.setWidget(self.loss_plot)
            self.loss_plot.add(self._pending_losses)
            self.loss_plot.refresh()
            self._pending_losses = []

    def _xlsx_checked(self, available: bool) -> None:
        self.xlsx_available = available
        self._enable_xlsx()

    def _show_status(self, snap: Snapshot) -> None:
        from engine.device import device_label  # imports torch, which the engine has imported by now

        now = time.perf_counter()
        then, steps = self._rate_mark
        if now - then >= RATE_WINDOW_S or snap.step < steps:
            self.steps_per_s = max(snap.step - steps, 0) / (now - then)
            self._rate_mark = (now, snap.step)
        labels = self.status_labels
        labels["device"].setText(device_label(snap.device))
        n, m = snap.ratings.shape
        size = f"{len(self.ratings):,} ratings" if self.ratings is not None else ""
        labels["dataset"].setText(f"{snap.dataset} ({size}) · sheet {n}×{m}, {snap.count} rated")
        labels["step"].setText(f"step {snap.step:,}")
        labels["rmse"].setText(f"RMSE {snap.rmse:.4f}" + (" · diverged" if snap.diverged else ""))
        labels["rate"].setText(f"{self.steps_per_s:,.0f} steps/s" if self.state != IDLE else "")
        self.legend.context.setText(f"{snap.dataset} · top {n} users × {m} movies · k={snap.k} · "
                                    f"{snap.settings.label} lr {snap.settings.lr:g}")

    def show_state(self, state: str) -> None:
        self.state = state
        self.controls.show_state(state)
        self._enable_xlsx()
        self._rate_mark = (time.perf_counter(), self.snapshot.step if self.snapshot else 0)
        if state == IDLE:
            self._refresh_texts()
            self.status_labels["rate"].setText("")

    def _loaded(self, ratings: Ratings) -> None:
        self.ratings = ratings
        self.setWindowTitle(f"collabsheet — {ratings.name}")
        self.controls.set_top_limit(max(ratings.n_users, ratings.n_items))
        for note in ratings.notes:
            self.statusBar().showMessage(note, 8000)

    def _diverged(self) -> None:
        self.statusBar().showMessage("Diverged: the learning rate is too high. Lower it or Reset.", 8000)

    def _solved(self, result) -> None:
        how = "converged" if result.converged else "stopped" if result.stopped else "hit the iteration cap"
        self.statusBar().showMessage(f"Solve {how}: RMSE {result.rmse_before:.4f} → {result.rmse:.4f} "
                                     f"in {result.iterations} iterations ({result.seconds:.2f} s)", 10000)

    def show_message(self, title: str, text: str) -> None:
        """Tell the user something in a non-modal box (never blocks the engine or a test); recorded in .messages."""
        self.messages.append((title, text))
        if self.snapshot is None and title.startswith("Could not open"):  # no sheet yet (a preview at most)
            self.stack.setCurrentIndex(0)
            self.loading.show_failure(text)
            for label in (self.status_labels["dataset"], self.status_labels["rmse"], self.legend.context):
                label.setText("")
        if self._box is None:
            self._box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
            self._box.setWindowModality(Qt.NonModal)
        self._box.setWindowTitle(title)
        self._box.setText(text)
        self._box.show()

    def show_notice(self, text: str) -> None:
        """Report a success in the status bar (recorded in .notices)."""
        self.notices.append(text)
        self.statusBar().showMessage(text, 8000)

    def set_show_errors(self, on: bool) -> None:
        self.model.set_show_errors(on)
        self.legend.set_errors(on)

    # --- files -------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        dialog = QOpenDialog(self)
        dialog.accepted.connect(lambda: self.open_request(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_request(self, request: LoadRequest) -> None:
        """Open a ratings file in the worker; a bad file leaves the current sheet untouched."""
        if request.path or request.ratings is not None:
            self.engine.load(request)

    def open_ratings(self, path: str, **columns) -> None:
        """Open a ratings file with the given load_ratings column arguments."""
        self.open_request(LoadRequest(path=path, columns=columns))

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to Excel", "collabsheet.xlsx", "Excel workbook (*.xlsx)")
        if path:
            self.engine.export_xlsx(path if path.endswith(".xlsx") else path + ".xlsx")

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import from Excel", "", "Excel workbook (*.xlsx)")
        if path:
            self.engine.import_xlsx(path)

    # --- shutdown ----------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        for signal, slot in self._wires:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self._wires.clear()
        if self._box is not None:
            self._box.close()
        self.engine.shutdown()
        self.view.close()
        super().closeEvent(event)


def _column(top: QWidget, body: QWidget) -> QWidget:
    """A widget holding `top` above `body`, edge to edge; body takes the spare height."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(top)
    layout.addWidget(body, 1)
    return box
