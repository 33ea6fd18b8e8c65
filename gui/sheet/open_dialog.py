"""File → Open ratings: the file's first lines, the column mapping (editable), and what the engine reads."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from engine.data.ratings import Ratings, RatingsError, detect_columns, load_ratings
from gui.sheet.frames import LoadRequest

RAW_LINES = 12
PREVIEW_ROWS = 12
AUTO_PREVIEW_BYTES = 20_000_000  # larger files are read only when Preview is pressed
AUTO = "auto"
SEPARATORS = ((AUTO, None), ("comma ,", ","), ("tab", "\t"), ("semicolon ;", ";"), ("spaces", r"\s+"), ("::", "::"))
FILTER = "Ratings (*.csv *.tsv *.txt *.dat *.data);;All files (*)"


def first_lines(path: str, n: int = RAW_LINES) -> str:
    """The first n lines of a text file, as it is (undecodable bytes shown as �)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as error:
        return f"(cannot read: {error.strerror or error})"
    return "\n".join(head.decode("utf-8", "replace").splitlines()[:n])


def header_fields(text: str) -> list[str]:
    """Column names to offer: the first line split on its most frequent separator."""
    line = next((x for x in text.splitlines() if x.strip()), "")
    sep = max((",", "\t", ";", "|"), key=line.count)
    parts = [p.strip().strip('"') for p in (line.split(sep) if line.count(sep) else line.split())]
    return [p for p in parts if p]


class QOpenDialog(QDialog):
    """Choose a ratings file and how to read it; the engine's loader does the reading."""

    def __init__(self, parent=None, path: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open ratings")
        self.resize(720, 620)
        self.ratings: Ratings | None = None
        self._loaded_with: tuple | None = None
        self.path = QLineEdit(path)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.titles = QLineEdit()
        self.titles.setPlaceholderText("optional: movies.csv or u.item beside the ratings are found on their own")
        self.sep = QComboBox()
        for label, _ in SEPARATORS:
            self.sep.addItem(label)
        self.columns = {role: QComboBox() for role in ("user", "item", "rating")}
        for box in self.columns.values():
            box.setEditable(True)
            box.setToolTip("a column name, a 0-based position, or auto to let the engine detect it")
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.raw.setMaximumHeight(170)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["user", "item", "rating"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        preview = QPushButton("Preview")
        preview.clicked.connect(self.preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Ratings file", file_row)
        form.addRow("Titles file", self.titles)
        form.addRow("Separator", self.sep)
        for role, box in self.columns.items():
            form.addRow(f"{role.capitalize()} column", box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("First lines of the file"))
        layout.addWidget(self.raw)
        row = QHBoxLayout()
        row.addWidget(QLabel("What the engine reads"))
        row.addStretch(1)
        row.addWidget(preview)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.path.editingFinished.connect(self._path_changed)
        if path:
            self._path_changed()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open ratings", os.path.dirname(self.path.text()), FILTER)
        if path:
            self.path.setText(path)
            self._path_changed()

    def _path_changed(self) -> None:
        path = self.path.text().strip()
        raw = first_lines(path) if path else ""
        self.raw.setPlainText(raw)
        found = self._detect(path)
        header = found.get("header") or header_fields(raw)
        for role, box in self.columns.items():
            box.clear()
            box.addItems([AUTO] + [str(h) for h in header])
            at = found.get(f"{role}_col")
            if isinstance(at, int):  # the engine's own detection, shown so the user can correct it
                box.setCurrentText(str(found["header"][at]) if found.get("header") else str(at))
        seps, sep = [sep for _, sep in SEPARATORS], found.get("sep")
        self.sep.setCurrentIndex(seps.index(sep) if sep is not None and sep in seps else 0)
        if path and os.path.isfile(path) and os.path.getsize(path) <= AUTO_PREVIEW_BYTES:
            self.preview()

    def _detect(self, path: str) -> dict:
        """What load_ratings would pick (separator, header, columns), or {} when it cannot tell."""
        if not path:
            return {}
        try:
            return detect_columns(path)
        except (RatingsError, OSError, ValueError) as error:
            self.status.setText(f"<span style='color:#b00'>{error}</span>")
            return {}

    def mapping(self) -> dict:
        """The load_ratings arguments the form shows; None lets the engine detect."""
        out: dict = {"sep": SEPARATORS[self.sep.currentIndex()][1]}
        for role, box in self.columns.items():
            text = box.currentText().strip()
            out[f"{role}_col"] = None if text in ("", AUTO) else int(text) if text.isdigit() else text
        out["titles_path"] = self.titles.text().strip() or None
        return out

    def preview(self) -> Ratings | None:
        """Read the file with the engine's loader and show the head of what it read, or its message."""
        path, mapping = self.path.text().strip(), self.mapping()
        self.ratings, self._loaded_with = None, None
        self.table.setRowCount(0)
        try:
            ratings = load_ratings(path, **{k: v for k, v in mapping.items() if v is not None})
        except RatingsError as error:
            self.status.setText(f"<span style='color:#b00'>{error}</span>")
            return None
        head = ratings.frame.head(PREVIEW_ROWS)
        self.table.setRowCount(len(head))
        for r, row in enumerate(head.itertuples(index=False)):
            for c, value in enumerate(row):
                item = QTableWidgetItem(str(value))
                item.setFlags(Qt.ItemIsEnabled)
                self.table.setItem(r, c, item)
        notes = "; ".join(ratings.notes)
        self.status.setText(f"{len(ratings):,} ratings · {ratings.n_users:,} users · {ratings.n_items:,} items"
                            + (f" · {len(ratings.titles):,} titles" if ratings.titles else "")
                            + (f"<br><span style='color:#555'>{notes}</span>" if notes else ""))
        self.ratings, self._loaded_with = ratings, (path, tuple(sorted(mapping.items(), key=str)))
        return ratings

    def request(self) -> LoadRequest:
        """What to open; reuses the preview's Ratings when the form has not changed since."""
        path, mapping = self.path.text().strip(), self.mapping()
        current = (path, tuple(sorted(mapping.items(), key=str)))
        ratings = self.ratings if self._loaded_with == current else None
        return LoadRequest(path=str(Path(path)) if path else None, columns=mapping, ratings=ratings)
