"""The Training tab's small tables: the lesson's epoch lines, the movies' biases, one user's recommendations."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QCompleter, QHBoxLayout, QHeaderView, QLabel,
                               QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from collabsheet.gui.train.frames import BiasRow, EpochRow, Recommended

NUMBER = Qt.AlignRight | Qt.AlignVCenter
WAITING = "appears when\ntraining ends"  # what a plot of a trained model says before there is one


def _table(headers: tuple[str, ...], stretch: int = 0) -> QTableWidget:
    """A read-only table whose column `stretch` takes the spare width."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(20)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for column in range(len(headers)):
        header.setSectionResizeMode(column, QHeaderView.Stretch if column == stretch else QHeaderView.ResizeToContents)
    return table


def _fill(table: QTableWidget, rows: list[tuple], tips: list[str] | None = None) -> None:
    """Replace the rows: text in the first column (its full text as a tool tip), numbers right-aligned."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem(value if isinstance(value, str) else str(value))
            if c:
                item.setTextAlignment(NUMBER)
            elif tips is not None:
                item.setToolTip(tips[r])
            table.setItem(r, c, item)


class QEpochTable(QTableWidget):
    """One row per epoch, as the lesson prints them: epoch, training loss, validation MSE and RMSE, time."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setColumnCount(5)
        self.setHorizontalHeaderLabels(("epoch", "train loss", "valid MSE", "valid RMSE", "time (s)"))
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(20)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.rows: list[EpochRow] = []

    def clear_rows(self) -> None:
        self.rows = []
        self.setRowCount(0)

    def add(self, rows: list[EpochRow]) -> None:
        self.rows += rows
        _fill(self, [(str(e.epoch), f"{e.train_loss:.4f}", f"{e.valid_mse:.4f}", f"{e.valid_rmse:.4f}",
                      f"{e.seconds:.1f}") for e in self.rows])
        for r in range(self.rowCount()):
            self.item(r, 0).setTextAlignment(NUMBER)
        if self.rows:
            self.scrollToBottom()


class QBiasTable(QWidget):
    """Movies with their learned bias and training ratings; a note instead when the model has no biases."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table = _table(("movie", "bias"))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555; padding: 4px")
        self.note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)

    def show_rows(self, rows: tuple[BiasRow, ...], note: str = "") -> None:
        _fill(self.table, [(b.title, f"{b.bias:+.3f}") for b in rows],
              [f"{b.title}: {b.count:,} ratings" for b in rows])
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.table.setVisible(not note)

    def titles(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())]


class QRecommendations(QWidget):
    """A user picker (type or choose an id) and that user's top unrated movies with their predicted ratings."""

    requested = Signal(str, int)  # user id as text, how many

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.user = QComboBox()
        self.user.setEditable(True)
        self.user.setInsertPolicy(QComboBox.NoInsert)
        self.user.setMinimumContentsLength(6)
        self.user.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.user.setToolTip("a user id: pick one or type it and press Enter")
        self.user.completer().setCompletionMode(QCompleter.PopupCompletion)
        self.n = QSpinBox()
        self.n.setRange(1, 100)
        self.n.setValue(10)
        self.n.setToolTip("how many movies")
        self.about = QLabel()
        self.about.setStyleSheet("color:#555")
        self.about.setContentsMargins(6, 0, 6, 0)
        self.about.setWordWrap(True)
        self.about.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.table = _table(("movie", "predicted"))
        pick = QHBoxLayout()
        pick.setContentsMargins(6, 2, 6, 2)
        pick.addWidget(QLabel("user"))
        pick.addWidget(self.user, 1)
        pick.addWidget(QLabel("top"))
        pick.addWidget(self.n)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(pick)
        layout.addWidget(self.about)
        layout.addWidget(self.table, 1)
        self.user.activated.connect(self._ask)  # a pick from the list, or Enter on an id the list has …
        self.user.lineEdit().returnPressed.connect(self._typed)  # … or on one it lacks (the engine names it)
        self.n.valueChanged.connect(self._ask)
        self.setEnabled(False)

    def set_users(self, users) -> None:
        """The ids to pick from (a trained or loaded model's users)."""
        self.user.blockSignals(True)
        self.user.clear()
        self.user.addItems([str(u) for u in users])
        self.user.blockSignals(False)
        self.setEnabled(len(users) > 0)

    def _typed(self) -> None:
        if self.user.findText(self.user.currentText().strip()) < 0:
            self._ask()

    def _ask(self, *_) -> None:
        text = self.user.currentText().strip()
        if text:
            self.requested.emit(text, self.n.value())

    def show_recommended(self, rec: Recommended | None) -> None:
        if rec is None:
            self.about.setText("")
            self.table.setRowCount(0)
            return
        if self.user.currentText() != str(rec.user):
            self.user.blockSignals(True)
            self.user.setCurrentText(str(rec.user))
            self.user.blockSignals(False)
        self.about.setText(f"user {rec.user} rated {rec.rated:,} movies; the best of the rest:")
        _fill(self.table, [(t, f"{s:.2f}") for t, s in zip(rec.titles, rec.scores)], list(rec.titles))

    def titles(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())]
