"""The Training tab's experiments table: every recorded run (the tab's and the command line's), to compare.

Sort by any column, filter by text, select runs to overlay their validation curves, delete them (after asking),
export the rows shown as CSV. The database is read and changed in RunsReader's thread; its outcomes arrive here
as a queued signal, so the GUI thread never waits on the database. The plot imports pyqtgraph, so it is built the
first time the table shows.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMessageBox, QSizePolicy, QTableView, QWidget)

from collabsheet.gui.runtime.series import Points
from collabsheet.gui.train.runs_model import QRunsFilter, QRunsModel
from collabsheet.gui.train.runs_reader import Curves, Deleted, Exported, Listing, RunsReader
from collabsheet.gui.widgets.boxes import action_button, column, set_body, splitter, titled
from collabsheet.gui.words import plural

CSV_FILTER = "CSV (*.csv);;All files (*)"
MAX_EPOCH_TICKS = 12  # labelled epochs on the plot's axis at most
ACTIONS = {  # name → (text, shortcut, tooltip)
    "refresh": ("Refresh", "F5", "read the runs again (a run the command line recorded shows too)"),
    "delete": ("Delete…", QKeySequence.Delete, "delete the selected runs and their curves, after asking"),
    "export": ("Export CSV…", None, "write the runs shown (filtered, in this order) as a CSV file"),
}


class QExperiments(QWidget):
    """The table of recorded runs over a plot of the selected runs' validation RMSE per epoch."""

    notice = Signal(str)  # something done, for the window's status bar
    _arrived = Signal(object, object)  # a RunsReader outcome and its error, from the reader's thread

    def __init__(self, db_path: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.model = QRunsModel(self)
        self.proxy = QRunsFilter(self.model, self)
        self.database = ""
        self.listings = 0  # listings shown (tests wait on it)
        self.plotted: tuple[int, ...] = ()  # the runs whose curves the plot shows
        self.plot = None  # QCurvePlot, built on first show
        self.actions = self._make_actions()
        self._build()
        self._arrived.connect(self._take, Qt.QueuedConnection)
        self.reader = RunsReader(self._arrived.emit, db_path)
        self.destroyed.connect(self.reader.close)  # nothing may reach a deleted widget from the reader's thread

    # --- construction ------------------------------------------------------------------------
    def _make_actions(self) -> dict[str, QAction]:
        actions = {}
        for name, (text, keys, tip) in ACTIONS.items():
            action = QAction(text, self)
            if keys is not None:
                action.setShortcut(QKeySequence(keys))
                tip += f" ({QKeySequence(keys).toString(QKeySequence.NativeText)})"
            action.setToolTip(tip)
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            actions[name] = action
        actions["refresh"].triggered.connect(self.refresh)
        actions["delete"].triggered.connect(self.delete_selected)
        actions["export"].triggered.connect(self.export_dialog)
        return actions

    def _build(self) -> None:
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter: recipe, model, dataset, split, settings…")
        self.filter.setToolTip("show only the runs with every word typed in their recipe, model, dataset, split, "
                               "settings, status or device")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 2, 4, 2)
        row.setSpacing(4)
        row.addWidget(self.filter, 1)
        for name in ACTIONS:
            row.addWidget(action_button(self.actions[name]))
        self.count = QLabel()
        self.count.setContentsMargins(6, 0, 6, 2)
        self.count.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # a long path is clipped, not widening

        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.DescendingOrder)  # newest first
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.addAction(self.actions["delete"])  # Delete works in the table, never while typing a filter
        self.addAction(self.actions["refresh"])
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

        self.curve_box = titled("Validation RMSE per epoch (select runs to overlay them)", QLabel())
        self.split = splitter(Qt.Vertical, column(bar, self.count, self.view, grow=2), self.curve_box,
                              sizes=(260, 240))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.split)
        self._enable()

    def _build_plot(self) -> None:
        if self.plot is not None:
            return
        from collabsheet.gui.widgets.curve_plot import QCurvePlot

        self.plot = QCurvePlot("validation RMSE", "epoch")
        set_body(self.curve_box, self.plot)

    def showEvent(self, event) -> None:
        """Each time the table shows, the runs are read again: the command line may have added some meanwhile."""
        super().showEvent(event)
        self._build_plot()
        self.refresh()

    # --- commands ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the runs again; the selection stays on the runs still there."""
        self.reader.listing()

    def selected_ids(self) -> list[int]:
        """The selected runs' ids, in the table's order."""
        rows = sorted(index.row() for index in self.view.selectionModel().selectedRows())
        return [self.proxy.run(row).id for row in rows]

    def shown_ids(self) -> list[int]:
        """The ids of the runs the filter keeps, in the table's order."""
        return [self.proxy.run(row).id for row in range(self.proxy.rowCount())]

    def select(self, ids: list[int]) -> None:
        """Select these runs (those shown)."""
        wanted = set(ids)
        selection = self.view.selectionModel()
        selection.clearSelection()
        for row in range(self.proxy.rowCount()):
            if self.proxy.run(row).id in wanted:
                selection.select(self.proxy.index(row, 0), QItemSelectionModel.Select | QItemSelectionModel.Rows)

    def delete_selected(self) -> None:
        """Delete the selected runs once the user agrees."""
        ids = self.selected_ids()
        if not ids:
            return
        named = ", ".join(map(str, ids[:10])) + (" …" if len(ids) > 10 else "")
        answer = QMessageBox.question(self, "Delete runs",
                                      f"Delete {plural(len(ids), 'run')} ({named}) and their curves from "
                                      f"the runs database? This cannot be undone.",
                                      QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer == QMessageBox.Yes:
            self.reader.delete(ids)

    def export_dialog(self) -> None:
        """Ask where, then write the runs shown as CSV."""
        ids = self.shown_ids()
        if not ids:
            self._say("no runs to export" + (" (the filter hides them all)" if self.model.runs else ""))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export runs as CSV", "runs.csv", CSV_FILTER)
        if path:
            self.export(ids, path)

    def export(self, ids: list[int], path: str | Path) -> None:
        """Write the runs `ids`, in that order, as CSV to `path`."""
        self.reader.export(ids, path)

    def close_reader(self) -> None:
        """No more database work: the tab is closing."""
        self.reader.close()

    # --- outcomes ----------------------------------------------------------------------------
    def _take(self, outcome: object, error: BaseException | None) -> None:
        """An outcome of the reader's thread, now on the GUI thread."""
        if error is not None:
            self._say(str(error).splitlines()[0] if str(error) else type(error).__name__, error=True)
            return
        if isinstance(outcome, Listing):
            self._show_listing(outcome)
        elif isinstance(outcome, Curves):
            self._show_curves(outcome)
        elif isinstance(outcome, Deleted):
            self.notice.emit(f"deleted {plural(outcome.count, 'run')}")
            self.refresh()
        elif isinstance(outcome, Exported):
            self._say(f"exported {plural(outcome.count, 'run')} to {outcome.path}")
            self.notice.emit(f"Exported {plural(outcome.count, 'run')} to {outcome.path}")

    def _show_listing(self, listing: Listing) -> None:
        kept = self.selected_ids()
        self.database = listing.database
        self.view.selectionModel().blockSignals(True)  # one curves request for the restored selection, not one a row
        try:
            self.model.set_runs(listing.runs)
            self.select(kept)
        finally:
            self.view.selectionModel().blockSignals(False)
        self.view.viewport().update()
        if self.listings == 0:
            self.view.resizeColumnsToContents()
        self.listings += 1
        self._count()
        self._selection_changed()

    def _show_curves(self, curves: Curves) -> None:
        if set(curves.ids) != set(self.selected_ids()) or self.plot is None:
            return  # the selection moved on while they were read
        by_id = {r.id: r for r in self.model.runs}
        self.plot.clear()
        for i in curves.ids:
            r = by_id.get(i)
            rmse = np.asarray(curves.rmse[i], float)
            if r is None or not rmse.size:
                continue
            final = "—" if r.valid_rmse is None else f"{r.valid_rmse:.4f}"
            self.plot.add([Points(i, f"run {i} · {r.recipe} · {final}", 1, rmse)])
            item = self.plot.traces[i].item
            item.setSymbol("o")  # a dot on each epoch: the figures are per epoch, the lines only join them
            item.setSymbolSize(5)
            item.setSymbolBrush(item.opts["pen"].color())
            item.setSymbolPen(None)
        self.plot.refresh()
        longest = max((len(v) for v in curves.rmse.values()), default=1)
        step = max(1, math.ceil(longest / MAX_EPOCH_TICKS))
        self.plot.plot.getAxis("bottom").setTickSpacing(step, step)  # whole epochs, never 1.5
        self.plotted = curves.ids

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        self._enable()
        if ids:
            self.reader.curves(ids)
        elif self.plot is not None and self.plotted:
            self.plot.clear()
            self.plotted = ()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_text(text)
        self._count()
        self._selection_changed()  # a hidden run leaves the selection, and the plot

    def _count(self) -> None:
        total, shown = len(self.model.runs), self.proxy.rowCount()
        where = f" in {self.database}" if self.database else ""
        text = (f"{plural(total, 'run')}{where}" if shown == total else f"{shown} of {plural(total, 'run')} shown")
        self._say(text if total else f"no runs recorded yet{where}: each training run is kept here")

    def _say(self, text: str, error: bool = False) -> None:
        self.count.setText(text)
        self.count.setToolTip(text)
        self.count.setStyleSheet("color: #b00020;" if error else "")

    def _enable(self) -> None:
        self.actions["delete"].setEnabled(bool(self.view.selectionModel().selectedRows()))
