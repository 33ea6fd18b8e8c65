"""File → Open ratings: the file's first lines, the column mapping (editable), and what the engine reads.

Every change (path, titles, separator, a column) reads the file again with the engine's loader, after a
short pause while typing; a problem is said in the dialog's words and Open waits until it is fixed.
"""
from __future__ import annotations

import ast
import html
import os
import re
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from collabsheet.engine.data.ratings import Ratings, RatingsError, detect_columns, load_ratings
from collabsheet.gui.sheet.frames import LoadRequest

RAW_LINES = 12
PREVIEW_ROWS = 12
AUTO_PREVIEW_BYTES = 5_000_000  # files up to this size are read whole on every change (MovieLens 100k, latest-small)
SAMPLE_BYTES = 2_000_000  # larger ones are previewed from their first lines; Preview reads them whole
DEBOUNCE_MS = 300  # typing waits this long after the last key before the file is read again
AUTO = "auto"
ROLES = ("user", "item", "rating")
EXAMPLE = {"user": "userId", "item": "movieId", "rating": "rating"}  # a name the loader recognises
SEPARATORS = ((AUTO, None), ("comma ,", ","), ("tab", "\t"), ("semicolon ;", ";"), ("spaces", r"\s+"), ("::", "::"))
FILTER = "Ratings (*.csv *.tsv *.txt *.dat *.data);;All files (*)"
ERROR_STYLE = "color:#b00"


def first_lines(path: str, n: int = RAW_LINES) -> str:
    """The first n lines of a text file, as it is (undecodable bytes shown as �)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as error:
        return f"(cannot read: {error.strerror or error})"
    return "\n".join(head.decode("utf-8", "replace").splitlines()[:n])


def header_fields(text: str, sep: str | None = None) -> list[str]:
    """The first line's fields, split on sep (by default its most frequent separator)."""
    line = next((x for x in text.splitlines() if x.strip()), "")
    if sep is None:
        sep = max((",", "\t", ";", "|"), key=line.count)
        sep = sep if line.count(sep) else r"\s+"
    parts = line.split() if sep == r"\s+" else line.split(sep)
    return [p for p in (p.strip().strip('"') for p in parts) if p]


# --- the loader's messages in the dialog's words ------------------------------------------------
def _listed(columns: list[str]) -> str:
    return f" (columns: {', '.join(columns)})" if columns else ""


def _columns_in(text: str) -> list[str] | None:
    """The column names a loader message lists, if it lists them."""
    found = re.search(r"the columns are (.+?);", text)
    if not found:
        return None
    try:
        names = ast.literal_eval(f"[{found.group(1)}]")
    except (ValueError, SyntaxError):
        return None
    return [str(n) for n in names]


def _role_in(text: str, picks: dict[str, str]) -> str | None:
    """Which column a loader message is about: named in it, or the pick it says is not there."""
    if found := re.search(r"\b(user|item|rating)_col\b|has no (user|item|rating) column", text):
        return found.group(1) or found.group(2)
    if found := re.search(r"has no column named '(.+?)'", text):
        return next((r for r, pick in picks.items() if pick.strip().lower() == found.group(1).strip().lower()), None)
    return None


def _same_columns(text: str, columns: list[str]) -> str | None:
    """'user and item are both …' for a mapping that gives two roles one column."""
    found = re.search(r"the (user|item|rating)s and the (user|item|rating)s would both be read from column (\d+)", text)
    if found is None:
        return None
    roles = sorted(found.group(1, 2), key=ROLES.index)
    at = int(found.group(3))
    name = columns[at] if at < len(columns) else f"column {at}"
    return f"Pick three different columns: {roles[0]} and {roles[1]} are both '{name}'"


def _without_folder(text: str, paths: tuple[str, ...]) -> str:
    for path in paths:
        if path and text.startswith(f"{path}: "):
            return f"{Path(path).name}: {text[len(path) + 2:]}"
    return text


def dialog_message(error: Exception, picks: dict[str, str], columns: list[str], paths: tuple[str, ...] = ()) -> str:
    """The loader's error said as this dialog would: which column box to change and why, no Python.

    picks: what each column box shows (a name, a position, or auto); columns: the file's column names as
    the dialog knows them (the message's own list wins); paths: files whose folder the message may drop.
    """
    text = str(error)
    columns = _columns_in(text) or columns
    if same := _same_columns(text, columns):
        return same
    role = getattr(error, "role", None) or _role_in(text, picks)
    if role in ROLES:
        pick = picks.get(role, "").strip()
        if pick in ("", AUTO):
            return (f"Pick the {role} column: the file has no column with a usual {role} name "
                    f"such as '{EXAMPLE[role]}'{_listed(columns)}")
        if pick.isdigit():
            count = re.search(r"the file has (\d+) columns", text)
            n = int(count.group(1)) if count else len(columns)
            return f"Pick the {role} column: the file has {n} columns, so there is no column {pick} (0–{n - 1})"
        return f"Pick the {role} column: the file has no column '{pick}'{_listed(columns)}"
    text = re.sub(r";?\s*pass \w+_col\b.*$", "", text)  # a call's advice, not a dialog's
    return re.sub(r"\b(user|item|rating)_col\b", r"\1 column", _without_folder(text, paths))


# --- the dialog ---------------------------------------------------------------------------------
class QOpenDialog(QDialog):
    """Choose a ratings file and how to read it; the engine's loader does the reading."""

    def __init__(self, parent=None, path: str = "", columns: dict | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open ratings")
        self.resize(720, 620)
        self.ratings: Ratings | None = None
        self._loaded_with: tuple | None = None
        self.error: str | None = None  # what the preview last said was wrong, in the dialog's words
        self.header: list[str] = []  # the file's column names (or positions, without a header row)
        self.path = QLineEdit(path)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.titles = QLineEdit()
        self.titles.setPlaceholderText("optional: movies.csv or u.item beside the ratings are found on their own")
        self.sep = QComboBox()
        for label, _ in SEPARATORS:
            self.sep.addItem(label)
        self.columns = {role: QComboBox() for role in ROLES}
        for box in self.columns.values():
            box.setEditable(True)
            box.setInsertPolicy(QComboBox.NoInsert)  # a typo must not join the list of columns
            box.setToolTip("a column name, a 0-based position, or auto to let the engine detect it")
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.raw.setMaximumHeight(170)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(list(ROLES))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.RichText)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        preview = QPushButton("Preview")
        preview.setToolTip("read the whole file now (a large file is previewed from its first lines)")
        preview.clicked.connect(self.preview)
        for button in (browse, preview):
            button.setAutoDefault(False)  # Enter means Open, never Browse or Preview
        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        self.open_button = self.buttons.button(QDialogButtonBox.Open)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self._path_dirty = False
        self._has_header = True  # whether the file starts with column names (else columns go by position)

        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        self.form = QFormLayout()
        self.form.addRow("Ratings file", file_row)
        self.form.addRow("Titles file", self.titles)
        self.form.addRow("Separator", self.sep)
        for role, box in self.columns.items():
            self.form.addRow(f"{role.capitalize()} column", box)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
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

        self.path.textChanged.connect(lambda: self.schedule(path=True))
        self.titles.textChanged.connect(lambda: self.schedule())
        self.sep.currentIndexChanged.connect(self._sep_changed)
        for box in self.columns.values():
            box.currentTextChanged.connect(lambda: self.schedule())
            box.activated.connect(lambda: self.refresh())  # picked from the list: no need to wait
        self._path_dirty = True
        self.refresh()
        if columns:
            self.set_mapping(columns)

    # --- when to read the file -----------------------------------------------------------------
    def schedule(self, path: bool = False) -> None:
        """Read the file again once typing pauses; a new path also re-detects the columns."""
        self._path_dirty |= path
        self._timer.start()

    def refresh(self) -> None:
        """Read the file now with what the form shows (re-detecting the columns if the path changed)."""
        self._timer.stop()
        if self._path_dirty:
            self._path_dirty = False
            self._path_changed()
        path = self.path.text().strip()
        if path and os.path.isfile(path) and os.path.getsize(path) > AUTO_PREVIEW_BYTES:
            self._preview_sample(path)
        else:
            self.preview()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open ratings", os.path.dirname(self.path.text()), FILTER)
        if path:
            self.path.setText(path)
            self.refresh()

    def _sep_changed(self) -> None:
        """Offer the columns the chosen separator gives; the picks stay as they are."""
        sep = SEPARATORS[self.sep.currentIndex()][1]
        if sep is not None and self._has_header:
            self._fill_columns(header_fields(self.raw.toPlainText(), sep), keep=True)
        self.schedule()

    def _path_changed(self) -> None:
        path = self.path.text().strip()
        raw = first_lines(path) if path else ""
        self.raw.setPlainText(raw)
        found = self._detect(path)
        self._has_header = found.get("header") is not None or not found
        if found.get("header"):
            header = [str(h) for h in found["header"]]
        elif found:  # no header row: columns go by position
            header = [str(i) for i in range(len(header_fields(raw, found.get("sep"))))]
        else:
            header = header_fields(raw)
        self._fill_columns(header, {r: found.get(f"{r}_col") for r in ROLES})  # a new file: new picks
        seps, sep = [sep for _, sep in SEPARATORS], found.get("sep")
        self.sep.blockSignals(True)
        self.sep.setCurrentIndex(seps.index(sep) if sep is not None and sep in seps else 0)
        self.sep.blockSignals(False)

    def _fill_columns(self, header: list[str], detected: dict | None = None, keep: bool = False) -> None:
        """List the columns to pick from; show what the engine detected, or keep the picks (else auto)."""
        detected = detected or {}
        self.header = header
        for role, box in self.columns.items():
            before = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItems([AUTO] + header)
            at = detected.get(role)
            if isinstance(at, int):  # the engine's own detection, shown so the user can correct it
                box.setCurrentText(header[at] if at < len(header) else str(at))
            elif keep:
                box.setCurrentText(before)
            box.blockSignals(False)

    def _detect(self, path: str) -> dict:
        """What load_ratings would pick (separator, header, columns), or {} when it cannot tell."""
        if not path:
            return {}
        try:
            return detect_columns(path)
        except (RatingsError, OSError, ValueError):  # the preview says what is wrong
            return {}

    def set_mapping(self, columns: dict) -> None:
        """Show a mapping the file was opened with before (load_ratings' arguments), to be picked again."""
        self.refresh()  # the path's own columns first: the mapping's picks are then chosen among them
        seps = [sep for _, sep in SEPARATORS]
        if columns.get("sep") in seps:
            self.sep.setCurrentIndex(seps.index(columns["sep"]))
        for role, box in self.columns.items():
            if columns.get(f"{role}_col") is not None:
                box.setCurrentText(str(columns[f"{role}_col"]))
        if columns.get("titles_path"):
            self.titles.setText(str(columns["titles_path"]))
        self.refresh()

    # --- reading -------------------------------------------------------------------------------
    def mapping(self) -> dict:
        """The load_ratings arguments the form shows; None lets the engine detect."""
        out: dict = {"sep": SEPARATORS[self.sep.currentIndex()][1]}
        for role, box in self.columns.items():
            text = box.currentText().strip()
            out[f"{role}_col"] = None if text in ("", AUTO) else int(text) if text.isdigit() else text
        out["titles_path"] = self.titles.text().strip() or None
        return out

    def _load(self, path: str, mapping: dict) -> Ratings:
        return load_ratings(path, **{k: v for k, v in mapping.items() if v is not None})

    def preview(self) -> Ratings | None:
        """Read the whole file with the engine's loader and show the head of what it read, or what is wrong."""
        self._timer.stop()
        path, mapping = self.path.text().strip(), self.mapping()
        self.ratings, self._loaded_with = None, None
        if not path:
            self.table.setRowCount(0)
            self.status.setText("Choose a ratings file.")
            self._set_error("Choose a ratings file.")
            return None
        try:
            ratings = self._load(path, mapping)
        except RatingsError as error:
            self._show_error(error)
            return None
        self._show(ratings)
        self.ratings, self._loaded_with = ratings, (path, tuple(sorted(mapping.items(), key=str)))
        return ratings

    def _preview_sample(self, path: str) -> None:
        """Read a large file's first lines only, so a change of column answers at once."""
        self.ratings, self._loaded_with = None, None
        with open(path, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
        head = head[: head.rfind(b"\n") + 1] or head
        with tempfile.TemporaryDirectory(prefix="collabsheet-") as folder:
            sample = Path(folder) / Path(path).name
            sample.write_bytes(head)
            try:
                ratings = self._load(str(sample), self.mapping())
            except RatingsError as error:
                error.args = (str(error).replace(str(sample), path),)  # name the user's file, not the sample
                self._show_error(error)
                return
        lines, size = head.count(b"\n"), os.path.getsize(path) / 1e6
        self._show(ratings, f"First {lines:,} lines of a {size:,.0f} MB file (Preview or Open reads it all): ")

    def _show(self, ratings: Ratings, prefix: str = "") -> None:
        head = ratings.frame.head(PREVIEW_ROWS)
        self.table.setRowCount(len(head))
        for r, row in enumerate(head.itertuples(index=False)):
            for c, value in enumerate(row):
                item = QTableWidgetItem(str(value))
                item.setFlags(Qt.ItemIsEnabled)
                self.table.setItem(r, c, item)
        notes = html.escape("; ".join(ratings.notes), quote=False)
        self.status.setText(html.escape(prefix, quote=False)
                            + f"{len(ratings):,} ratings · {ratings.n_users:,} users · {ratings.n_items:,} items"
                            + (f" · {len(ratings.titles):,} titles" if ratings.titles else "")
                            + (f"<br><span style='color:#555'>{notes}</span>" if notes else ""))
        self._set_error(None)

    def _show_error(self, error: RatingsError) -> None:
        """The loader's problem in the dialog's words, with the column it is about marked."""
        self.table.setRowCount(0)
        picks = {r: box.currentText() for r, box in self.columns.items()}
        text = dialog_message(error, picks, self.header, (self.path.text().strip(), self.titles.text().strip()))
        self.status.setText(f"<span style='{ERROR_STYLE}'>{html.escape(text, quote=False)}</span>")
        self._set_error(text, getattr(error, "role", None) or _role_in(str(error), picks))

    def _set_error(self, text: str | None, role: str | None = None) -> None:
        """Open waits while the preview shows a problem; the column box it is about is marked."""
        self.error = text
        self.open_button.setEnabled(text is None)
        for r, box in self.columns.items():
            label = self.form.labelForField(box)
            label.setStyleSheet(f"{ERROR_STYLE}; font-weight:bold" if r == role else "")

    def keyPressEvent(self, event) -> None:
        """Enter opens (as accept decides), even while Open waits for a pause in typing to be enabled."""
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & ~Qt.KeypadModifier:
            self.accept()
            return
        super().keyPressEvent(event)

    def accept(self) -> None:
        """Open, unless what the form now shows cannot be read (Enter included)."""
        if self._timer.isActive() or self._path_dirty:
            self.refresh()
        if self.error is None:
            super().accept()

    def request(self) -> LoadRequest:
        """What to open; reuses the preview's Ratings when the form has not changed since."""
        path, mapping = self.path.text().strip(), self.mapping()
        current = (path, tuple(sorted(mapping.items(), key=str)))
        ratings = self.ratings if self._loaded_with == current else None
        return LoadRequest(path=str(Path(path)) if path else None, columns=mapping, ratings=ratings)

