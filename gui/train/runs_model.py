"""The recorded training runs as a Qt table model, and the proxy that sorts and filters it for the experiments table."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

from collabsheet.engine.train.runs import matches

if TYPE_CHECKING:
    from collabsheet.engine.train.runs import Run

SORT_ROLE = Qt.UserRole  # the value a column sorts by: numbers as numbers, a missing RMSE after every other


def _rmse(r: Run) -> str:
    return "—" if r.valid_rmse is None else f"{r.valid_rmse:.4f}"


# (header, tooltip, text shown, value sorted by); numbers align right
COLUMNS: tuple[tuple[str, str, Callable[[Run], str], Callable[[Run], object]], ...] = (
    ("id", "the run's number in the database", lambda r: str(r.id), lambda r: r.id),
    ("RMSE", "validation RMSE at the end of the run", _rmse,
     lambda r: math.inf if r.valid_rmse is None else r.valid_rmse),
    ("time", "training time", lambda r: f"{r.seconds:.1f} s", lambda r: r.seconds),
    ("epochs", "epochs finished", lambda r: str(r.epochs), lambda r: r.epochs),
    ("recipe", "the recipe trained (changed: its settings were edited)", lambda r: r.recipe, lambda r: r.recipe),
    ("model", "the model", lambda r: r.model, lambda r: r.model),
    ("split", "the validation rows: random:SEED, u1 … u5 or a file", lambda r: r.split, lambda r: r.split),
    ("dataset", "the ratings trained on", lambda r: r.dataset, lambda r: r.dataset),
    ("status", "finished, stopped or diverged", lambda r: r.status, lambda r: r.status),
    ("started", "when the run began (local time)", lambda r: r.started.replace("T", " "), lambda r: r.started),
    ("settings", "the recipe's settings", lambda r: r.summary, lambda r: r.summary),
    ("device", "where it trained", lambda r: r.device, lambda r: r.device),
)
NUMERIC = {"id", "RMSE", "time", "epochs"}


class QRunsModel(QAbstractTableModel):
    """One row per recorded run (engine.train.runs.Run), one column per entry of COLUMNS."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.runs: list[Run] = []
        self._texts: list[list[str]] = [[] for _ in COLUMNS]  # per column, per row
        self._keys: list[list[object]] = [[] for _ in COLUMNS]

    def set_runs(self, runs: Sequence[Run]) -> None:
        """Show these runs instead."""
        self.beginResetModel()
        self.runs = list(runs)
        # Worked out once: a sort asks for a value at every comparison, and a lambda a time made 1,000 runs slow
        self._texts = [[text(r) for r in self.runs] for _, _, text, _ in COLUMNS]
        self._keys = [[key(r) for r in self.runs] for _, _, _, key in COLUMNS]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == SORT_ROLE:
            return self._keys[column][row]
        if role == Qt.DisplayRole or role == Qt.ToolTipRole and COLUMNS[column][0] in ("settings", "dataset", "recipe"):
            return self._texts[column][row]
        if role == Qt.TextAlignmentRole:
            return int((Qt.AlignRight if COLUMNS[column][0] in NUMERIC else Qt.AlignLeft) | Qt.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole):
        if orientation != Qt.Horizontal:
            return None
        if role == Qt.DisplayRole:
            return COLUMNS[section][0]
        if role == Qt.ToolTipRole:
            return COLUMNS[section][1]
        return None


class QRunsFilter(QSortFilterProxyModel):
    """Sorts by each column's value and keeps the runs that match the filter text (engine.train.runs.matches)."""

    def __init__(self, source: QRunsModel, parent=None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortRole(SORT_ROLE)
        self.text = ""

    def set_text(self, text: str) -> None:
        """Keep only the runs with every word of `text` in their recipe, model, dataset, split, settings …"""
        if not hasattr(self, "beginFilterChange"):  # Qt < 6.9: one call re-filters (deprecated since)
            self.text = text.strip()
            self.invalidateRowsFilter()
            return
        self.beginFilterChange()
        self.text = text.strip()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        return not self.text or matches(self.sourceModel().runs[row], self.text)

    def run(self, row: int) -> Run:
        """The run shown on the proxy's `row`."""
        return self.sourceModel().runs[self.mapToSource(self.index(row, 0)).row()]
