"""The Gradient descent tab: the lesson's graddesc workbook live, y = a·x + b learned row by row.

Controls on top; the epoch's rows as a coloured table on the left; on the right the loss over (a, b) as a
contour plot with the path of (a, b) drawn as the rows go by (and other optimizers' paths from the same
start), and the workbook's "rmse" per epoch. The plots (pyqtgraph) are built when the tab is first shown,
so the window's start is not slowed by them; until then the tab keeps what the frames brought.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QLabel, QWidget

from collabsheet.engine.config import RunState
from collabsheet.engine.graddesc import AVERAGES, HEADINGS, Settings
from collabsheet.gui.graddesc.controls import QGradDescControls, make_actions
from collabsheet.gui.graddesc.frames import Compared, Frame, Progress, Surface
from collabsheet.gui.graddesc.handle import QGradDescHandle
from collabsheet.gui.graddesc.table import QRowsLegend, QRowsModel, QRowsView
from collabsheet.gui.widgets.boxes import column, fill, set_body, splitter, titled
from collabsheet.gui.widgets.wires import Wires
from collabsheet.gui.widgets.status_cover import StatusCover

IDLE, PLAYING = RunState.IDLE, RunState.PLAYING
PATH_EVERY_S = 1 / 20  # the path is redrawn at most this often while running (pyqtgraph's repaints are costly)
CURVE_EVERY_S = 0.25  # and the rmse curve (its axes re-layout as it grows)
RATE_WINDOW_S = 0.5  # rows/s is measured over at least this long
STATUS = ("device", "dataset", "step", "rmse", "rate")  # the window's status fields this tab fills while shown
SIDE_MIN_WIDTH = 300
PLOTS_SHARE = 0.42  # of the width, for the contour and the rmse curve, when the tab is first shown


class PathBuffer:
    """The run's (a, b) points, growing by chunks."""

    def __init__(self) -> None:
        self._data = np.empty((1024, 2))
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def extend(self, points: np.ndarray) -> None:
        need = self.n + len(points)
        if need > len(self._data):
            self._data = np.resize(self._data, (max(need, 2 * len(self._data)), 2))
        self._data[self.n:need] = points
        self.n = need

    @property
    def points(self) -> np.ndarray:
        return self._data[: self.n]


class QGradDescTab(QWidget):
    """The gradient-descent workbook over one GradDescRunner's handle."""

    message = Signal(str, str)  # title, text: for the window's message box
    notice = Signal(str)  # a success, for the status bar
    status_message = Signal(str, int)  # a passing status-bar message and its milliseconds

    def __init__(self, engine: QGradDescHandle, status: dict[str, QLabel], parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.status_labels = status
        self.state = IDLE
        self.settings: Settings | None = None
        self.progress: Progress | None = None
        self.surface: Surface | None = None
        self.compared: tuple[Compared, ...] = ()
        self.path = PathBuffer()
        self.frames = 0  # frames rendered
        self.contour = None  # the plots: built when the tab is first shown
        self.rmse_plot = None
        self._pending_rmse: list = []
        self._dirty = {"path": False, "rmse": False}
        self._drawn_at = {"path": 0.0, "rmse": 0.0}
        self._rate_mark = (time.perf_counter(), 0)
        self.rows_per_s = 0.0
        self.status_cover = StatusCover(self.status_labels, STATUS)  # the window's status texts while this tab shows
        self.sheet_dialog: QInputDialog | None = None

        self.actions = make_actions(self)
        self.controls = QGradDescControls(self.actions)
        self.model = QRowsModel(self)
        self.table = QRowsView(self.model)
        self.legend = QRowsLegend()
        self.info = QLabel("")
        self.info.setContentsMargins(6, 2, 6, 0)
        self.info.setMinimumWidth(1)
        self.top_cells = QLabel("")
        self.top_cells.setContentsMargins(6, 0, 6, 2)
        self.top_cells.setStyleSheet("color:#555")
        self.top_cells.setMinimumWidth(1)
        self._build_layout()
        self.wires = Wires()  # disconnected by close_tab
        self._wire()
        self.engine.start()

    # --- construction ------------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = column(self.legend, self.info, self.top_cells, self.table)
        self._contour_box = titled("Loss over (a, b)", QLabel(""))
        self._rmse_box = titled('"rmse" per epoch: √(Σ err²) over its rows', QLabel(""))
        self.side = splitter(Qt.Vertical, self._contour_box, self._rmse_box, stretch=(3, 2))
        self.side.setMinimumWidth(SIDE_MIN_WIDTH)
        self.split = splitter(Qt.Horizontal, left, self.side, stretch=(3, 2))
        fill(self, self.controls, self.split)

    def _wire(self) -> None:
        a, e, c = self.actions, self.engine, self.controls
        for signal, slot in (
            (e.frame, self.render), (e.message, self.show_message), (e.notice, self.notice),
            (e.state_changed, self.show_state), (e.diverged, self._diverged), (e.choose_sheet, self.choose_sheet),
            (a["step_row"].triggered, e.step_row), (a["run_epoch"].triggered, e.run_epoch), (a["play"].toggled, e.play),
            (a["reset"].triggered, e.reset), (a["open_workbook"].triggered, self.open_workbook_dialog),
            (a["export"].triggered, self.export_dialog), (a["open_csv"].triggered, self.open_csv_dialog),
            (c.settings_edited, self.configure), (c.data_edited, e.set_data), (c.rate_changed, e.set_rate),
            (c.compare_changed, self.compare),
        ):
            self.wires.connect(signal, slot)

    def _build_plots(self) -> None:
        """The contour and the rmse curve (importing pyqtgraph takes a moment), fed with what came meanwhile."""
        from collabsheet.gui.graddesc.contour import QContourPlot
        from collabsheet.gui.widgets.curve_plot import QCurvePlot

        self.contour = QContourPlot()
        self.rmse_plot = QCurvePlot("rmse", "epoch", log_y=True)
        set_body(self._contour_box, self.contour)
        set_body(self._rmse_box, self.rmse_plot)
        if self.surface is not None:
            self.contour.set_surface(self.surface)
        self.contour.show_compared(self.compared)
        self._dirty = {"path": True, "rmse": True}
        self._draw(force=True)

    # --- engine → tab ------------------------------------------------------------------------
    def render(self, frame: Frame) -> None:
        """Take in the newest frame: settings, rows, path, curves, surface, comparisons, texts."""
        self.frames += 1
        if frame.settings is not None and frame.settings != self.settings:
            self.settings = frame.settings
            self.controls.show_settings(frame.settings)
            self.model.set_settings(frame.settings)
        if frame.clear:
            self.path.clear()
            self._pending_rmse.clear()
            if self.rmse_plot is not None:
                self.rmse_plot.clear()
            self._rate_mark = (time.perf_counter(), 0)
        for start, rows in frame.rows:
            self.model.add(start, rows)
        for points in frame.path:
            self.path.extend(points)
        self._dirty["path"] |= bool(frame.path) or frame.clear
        if frame.rmse:
            if self.rmse_plot is None:
                self._pending_rmse += frame.rmse
            else:
                self.rmse_plot.add(frame.rmse)
            self._dirty["rmse"] = True
        if frame.surface is not None:
            self.surface = frame.surface
            if self.contour is not None:
                self.contour.set_surface(frame.surface)
        if frame.compare is not None:
            self.compared = frame.compare
            if self.contour is not None:
                self.contour.show_compared(frame.compare)
        if frame.progress is not None:
            self.progress = frame.progress
            self._show_progress(frame.progress)
        self._draw(force=self.state == IDLE)
        if frame.rows and self.isVisible():
            self.table.viewport().repaint()  # now, while the engine waits (FrameClock), not later competing for the GIL

    def _draw(self, force: bool = False) -> None:
        """Redraw what changed, at most PATH_EVERY_S / CURVE_EVERY_S apart unless forced."""
        if self.contour is None:
            return
        now = time.perf_counter()
        if self._dirty["path"] and (force or now - self._drawn_at["path"] >= PATH_EVERY_S):
            label = "this run" if self.settings is None else f"this run: {self.settings.label} · lr {self.settings.lr:g}"
            self.contour.show_path(self.path.points, label)
            self._dirty["path"], self._drawn_at["path"] = False, now
        if self._dirty["rmse"] and (force or now - self._drawn_at["rmse"] >= CURVE_EVERY_S):
            if self._pending_rmse:
                self.rmse_plot.add(self._pending_rmse)
                self._pending_rmse = []
            self.rmse_plot.refresh()
            self._dirty["rmse"], self._drawn_at["rmse"] = False, now

    def _show_progress(self, p: Progress) -> None:
        shown = p.epoch + (p.row < p.rows)  # the epoch the table shows (1-based)
        text = (f"<b>Epoch {shown}</b>, row {p.row} of {p.rows} · now a = {p.a:.6g}, b = {p.b:.6g} · lr {p.lr:g}")
        if p.rmse is not None:
            text += f' · "rmse" of epoch {p.epoch}: {p.rmse:.6g}'
        if p.diverged:
            text += " · <span style='color:#c00'>diverged: lower the learning rate and Reset</span>"
        self.info.setText(text)
        b, a, m_b, m_a, v_b, v_a = p.top
        carried = {"m_b": m_b, "m_a": m_a, "v_b": v_b, "v_a": v_a}
        rule = self.settings.rule if self.settings is not None else "sgd"
        fields = [f"{kind}_{q}" for kind in AVERAGES[rule] for q in ("b", "a")]
        averages = ", ".join(f"{HEADINGS[f]} {carried[f]:.6g}" for f in fields)
        text = f"top cells, where epoch {shown} starts: b = {b:.6g}, a = {a:.6g}" + (
            f" · carried in: {averages}" if averages else "")
        self.top_cells.setText(text)
        self.top_cells.setToolTip(text)
        self.controls.show_data(p.data, p.rows)
        now = time.perf_counter()
        then, steps = self._rate_mark
        if now - then >= RATE_WINDOW_S or p.steps < steps:
            self.rows_per_s = max(p.steps - steps, 0) / (now - then)
            self._rate_mark = (now, p.steps)
        if self.isVisible():
            self._show_status()

    def _show_status(self) -> None:
        """The window's status bar, while this tab is the one shown."""
        p, labels = self.progress, self.status_labels
        if p is None:
            return
        labels["device"].setText("numpy · CPU")
        labels["dataset"].setText(p.data if str(p.rows) in p.data else f"{p.data} · {p.rows:,} rows")
        labels["step"].setText(f"epoch {p.epoch + (p.row < p.rows)} · row {p.row}/{p.rows}")
        labels["rmse"].setText(("rmse —" if p.rmse is None else f"rmse {p.rmse:.6g}")
                               + (" · diverged" if p.diverged else ""))
        labels["rate"].setText(f"{self.rows_per_s:,.0f} rows/s" if self.state == PLAYING else "")

    def show_state(self, state: str) -> None:
        self.state = state
        self.controls.show_state(state)
        if state == IDLE:
            self._draw(force=True)
            if self.isVisible():
                self._show_status()

    def _diverged(self) -> None:
        self.status_message.emit("Diverged: a number overflowed. Lower the learning rate, then Reset.", 8000)

    def show_message(self, title: str, text: str) -> None:
        self.message.emit(title, text)

    # --- tab → engine ------------------------------------------------------------------------
    def configure(self, settings: Settings) -> None:
        self.engine.configure(settings)

    def compare(self, rules, epochs: int) -> None:
        """Draw these rules' paths from the run's start over the same contour."""
        self.controls.set_compared(rules, epochs)
        self.engine.compare(list(rules), int(epochs))

    # --- files -------------------------------------------------------------------------------
    def open_workbook_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open the lesson's workbook", "",
                                              "Excel workbook (*.xlsm *.xlsx);;All files (*)")
        if path:
            self.open_workbook(path)

    def open_workbook(self, path: str, sheet: str | None = None) -> None:
        """Open a sheet of a graddesc workbook in the worker; with none named, ask which if there are several."""
        self.engine.open_workbook(path, sheet)

    def choose_sheet(self, path: str, names: list[str], default: str) -> None:
        """Several optimizer sheets: ask which (`default` selected), without blocking the window."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Open workbook")
        dialog.setLabelText(f"{Path(path).name} has a sheet per optimizer. Open which?")
        dialog.setComboBoxItems(names)
        dialog.setTextValue(default)
        dialog.textValueSelected.connect(lambda name: self.open_workbook(path, name))
        dialog.finished.connect(lambda _: setattr(self, "sheet_dialog", None))
        dialog.finished.connect(dialog.deleteLater)
        self.sheet_dialog = dialog
        dialog.open()

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to Excel", "graddesc.xlsx", "Excel workbook (*.xlsx)")
        if path:
            self.export(path)

    def export(self, path: str) -> None:
        """Write a workbook of the lesson's formulas, one sheet per optimizer, in the worker."""
        self.engine.export(path if path.lower().endswith(".xlsx") else path + ".xlsx")

    def open_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open x, y data", "", "CSV (*.csv *.txt);;All files (*)")
        if path:
            self.engine.open_csv(path)

    # --- being shown -------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.contour is None:
            self._build_plots()
            width = self.split.width()
            self.split.setSizes([round(width * (1 - PLOTS_SHARE)), round(width * PLOTS_SHARE)])
        self.status_cover.take()
        self._show_status()
        focus = QApplication.focusWidget()
        if focus is None or not self.isAncestorOf(focus):
            self.table.setFocus()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.status_cover.give_back()  # the status bar as the other tab left it

    def close_tab(self) -> None:
        """Disconnect everything this tab connected."""
        self.wires.disconnect_all()

