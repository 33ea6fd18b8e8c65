"""File → Open ratings: the dialog shows the file, the engine's detected columns, and what it reads.

It reads the file again on every change (typing waits for a pause), says a problem in its own words,
and keeps Open disabled, Enter included, while the preview shows one.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox

import collabsheet.gui.sheet.open_dialog as open_dialog
from collabsheet.engine.data.ratings import RatingsError, load_ratings
from collabsheet.gui.sheet.open_dialog import AUTO, QOpenDialog, header_fields

WAIT_MS = 3000  # the longest a test waits for the debounced refresh


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "scores.tsv"
    rows = [f"{u}\t{i}\t{(u + i) % 5 + 1}" for u in range(6) for i in range(7) if (u * i) % 3]
    path.write_text("uid\tmovie\tstars\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def odd(tmp_path):
    """Columns whose names the loader does not recognise."""
    path = tmp_path / "odd.csv"
    path.write_text("rater,film,grade\n1,2,3\n2,2,4\n1,3,5\n")
    return path


@pytest.fixture
def loads(monkeypatch):
    """Every path the dialog hands to the engine's loader, in order."""
    seen = []

    def counting(path, **kw):
        seen.append(str(path))
        return load_ratings(path, **kw)

    monkeypatch.setattr(open_dialog, "load_ratings", counting)
    return seen


def _dialog(qtbot, path) -> QOpenDialog:
    dialog = QOpenDialog(None, str(path))
    qtbot.addWidget(dialog)
    return dialog


def _open_button(dialog):
    return dialog.buttons.button(QDialogButtonBox.Open)


def _pick(dialog, role: str, name: str) -> None:
    """Choose a column from the box's list, as a user does with the mouse."""
    box = dialog.columns[role]
    box.setCurrentIndex(box.findText(name))
    box.activated.emit(box.currentIndex())


def test_dialog_preselects_the_detected_columns_and_previews(qtbot, csv_file):
    dialog = _dialog(qtbot, csv_file)
    assert dialog.raw.toPlainText().splitlines()[0] == "uid\tmovie\tstars"
    assert [dialog.columns[r].currentText() for r in ("user", "item", "rating")] == ["uid", "movie", "stars"]
    assert dialog.sep.currentText() == "tab"
    expected = load_ratings(csv_file)
    assert dialog.table.rowCount() == min(12, len(expected))
    assert f"{len(expected):,} ratings" in dialog.status.text() and _open_button(dialog).isEnabled()
    request = dialog.request()
    assert request.path == str(csv_file) and request.ratings is dialog.ratings  # no second load
    dialog.columns["rating"].setCurrentText(AUTO)
    assert dialog.request().ratings is None  # the form changed since the preview


def test_a_missing_column_is_said_in_the_dialogs_words(qtbot, odd):
    dialog = _dialog(qtbot, odd)
    text = dialog.status.text()
    assert "Pick the user column" in text and "(columns: rater, film, grade)" in text
    assert "user_col" not in text and "pass " not in text and str(odd.parent) not in text
    assert dialog.columns["user"].count() == 4  # auto + the three header names, to pick from
    dialog.columns["user"].setCurrentText("userId")
    qtbot.waitUntil(lambda: "no column 'userId'" in dialog.status.text(), timeout=WAIT_MS)
    assert dialog.status.text().endswith("Pick the user column: the file has no column 'userId' "
                                         "(columns: rater, film, grade)</span>")
    assert "font-weight:bold" in dialog.form.labelForField(dialog.columns["user"]).styleSheet()  # the box to fix
    for role, name in (("user", "rater"), ("item", "film"), ("rating", "grade")):
        _pick(dialog, role, name)
    assert dialog.ratings is not None and "3 ratings · 2 users · 2 items" in dialog.status.text()
    assert dialog.request().ratings is dialog.ratings
    assert dialog.form.labelForField(dialog.columns["user"]).styleSheet() == ""


def test_positions_and_clashing_columns_are_said_in_the_dialogs_words(qtbot, tmp_path):
    headerless = tmp_path / "u.data"
    headerless.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
    dialog = _dialog(qtbot, headerless)
    assert [dialog.columns[r].currentText() for r in ("user", "item", "rating")] == ["0", "1", "2"]
    assert [dialog.columns["rating"].itemText(i) for i in range(5)] == [AUTO, "0", "1", "2", "3"]
    dialog.columns["rating"].setCurrentText("7")
    qtbot.waitUntil(lambda: not _open_button(dialog).isEnabled(), timeout=WAIT_MS)
    assert "Pick the rating column: the file has 4 columns, so there is no column 7 (0–3)" in dialog.status.text()
    _pick(dialog, "rating", "1")
    assert "Pick three different columns: item and rating are both '1'" in dialog.status.text()
    _pick(dialog, "rating", "2")
    assert _open_button(dialog).isEnabled() and "3 ratings" in dialog.status.text()


def test_the_role_the_loader_names_is_used_before_its_text():
    from collabsheet.gui.sheet.open_dialog import dialog_message

    error = RatingsError("x.csv: some other wording of a missing column")
    error.role = "item"
    picks = {"user": "rater", "item": "flim", "rating": AUTO}
    assert dialog_message(error, picks, ["rater", "film", "grade"]) == \
        "Pick the item column: the file has no column 'flim' (columns: rater, film, grade)"
    error.role = "rating"
    assert dialog_message(error, picks, ["rater", "film", "grade"]) == (
        "Pick the rating column: the file has no column with a usual rating name such as 'rating' "
        "(columns: rater, film, grade)")
    plain = RatingsError("/data/x.csv: line 3 has no rating; fix or delete that line")
    assert dialog_message(plain, picks, [], ("/data/x.csv",)) == "x.csv: line 3 has no rating; fix or delete that line"


def test_the_preview_follows_every_field(qtbot, tmp_path, csv_file, loads):
    dialog = _dialog(qtbot, csv_file)
    semi = tmp_path / "semi.csv"
    semi.write_text("who;what;score\n1;2;3\n2;2;4\n1;3;5\n")
    dialog.path.setText(str(semi))  # typing or pasting a path: the columns are detected again
    qtbot.waitUntil(lambda: dialog.columns["user"].itemText(1) == "who", timeout=WAIT_MS)
    assert "Pick the user column" in dialog.status.text() and "semi.csv" in dialog.raw.toPlainText() + str(loads)
    for role, name in (("user", "who"), ("item", "what"), ("rating", "score")):
        _pick(dialog, role, name)  # a pick from the list reads the file at once
    assert "3 ratings" in dialog.status.text()
    dialog.sep.setCurrentIndex([dialog.sep.itemText(i) for i in range(dialog.sep.count())].index("comma ,"))
    qtbot.waitUntil(lambda: not _open_button(dialog).isEnabled(), timeout=WAIT_MS)  # one column with commas
    dialog.sep.setCurrentIndex(3)  # semicolon again
    qtbot.waitUntil(_open_button(dialog).isEnabled, timeout=WAIT_MS)
    dialog.titles.setText(str(tmp_path / "no-such-titles.csv"))
    qtbot.waitUntil(lambda: "no-such-titles.csv" in dialog.status.text(), timeout=WAIT_MS)
    assert not _open_button(dialog).isEnabled()
    dialog.titles.setText("")
    qtbot.waitUntil(_open_button(dialog).isEnabled, timeout=WAIT_MS)


def test_typing_reads_the_file_once_after_a_pause(qtbot, odd, loads):
    dialog = _dialog(qtbot, odd)
    before = len(loads)
    dialog.columns["rating"].lineEdit().selectAll()
    qtbot.keyClicks(dialog.columns["rating"].lineEdit(), "grade")
    assert len(loads) == before  # not on every key
    qtbot.waitUntil(lambda: len(loads) == before + 1, timeout=WAIT_MS)
    qtbot.wait(2 * open_dialog.DEBOUNCE_MS)
    assert len(loads) == before + 1


def test_open_is_disabled_while_the_preview_shows_an_error(qtbot, odd):
    dialog = _dialog(qtbot, odd)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not _open_button(dialog).isEnabled()
    qtbot.mouseClick(_open_button(dialog), Qt.LeftButton)
    qtbot.keyClick(dialog.path, Qt.Key_Return)
    qtbot.keyClick(dialog.columns["user"].lineEdit(), Qt.Key_Return)
    assert dialog.isVisible() and dialog.result() != QDialog.Accepted
    for role, name in (("user", "rater"), ("item", "film"), ("rating", "grade")):
        _pick(dialog, role, name)
    assert _open_button(dialog).isEnabled()
    dialog.columns["rating"].lineEdit().setText("grde")  # a typo, then Enter at once: no waiting for the pause
    qtbot.keyClick(dialog.columns["rating"].lineEdit(), Qt.Key_Return)
    assert dialog.isVisible() and "no column 'grde'" in dialog.status.text()
    dialog.columns["rating"].lineEdit().setText("grade")
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT_MS):
        qtbot.keyClick(dialog.columns["rating"].lineEdit(), Qt.Key_Return)
    assert dialog.result() == QDialog.Accepted and dialog.request().ratings is dialog.ratings


def test_no_file_no_open(qtbot):
    dialog = _dialog(qtbot, "")
    assert not _open_button(dialog).isEnabled() and "Choose a ratings file" in dialog.status.text()


def test_a_large_file_is_previewed_from_its_first_lines(qtbot, monkeypatch, tmp_path, loads):
    monkeypatch.setattr(open_dialog, "AUTO_PREVIEW_BYTES", 1_000)
    monkeypatch.setattr(open_dialog, "SAMPLE_BYTES", 500)
    big = tmp_path / "big.csv"
    big.write_text("userId,movieId,rating\n" + "".join(f"{u},{i},{(u * i) % 5 + 1}\n"
                                                         for u in range(20) for i in range(20)))
    dialog = _dialog(qtbot, big)
    assert loads[-1] != str(big) and "lines of a" in dialog.status.text()
    assert _open_button(dialog).isEnabled() and dialog.request().ratings is None  # Open reads it all
    dialog.columns["user"].setCurrentText("user")
    qtbot.waitUntil(lambda: not _open_button(dialog).isEnabled(), timeout=WAIT_MS)
    assert "Pick the user column: the file has no column 'user'" in dialog.status.text()
    dialog.columns["user"].setCurrentText("userId")
    qtbot.waitUntil(_open_button(dialog).isEnabled, timeout=WAIT_MS)
    assert dialog.preview() is not None and loads[-1] == str(big) and "400 ratings" in dialog.status.text()
    assert dialog.request().ratings is dialog.ratings


def test_dialog_shows_the_engines_message_for_a_bad_file(qtbot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,x\n")
    with pytest.raises(RatingsError) as expected:
        load_ratings(bad)
    dialog = _dialog(qtbot, bad)
    assert dialog.ratings is None and not _open_button(dialog).isEnabled()
    assert str(expected.value).replace(str(bad), "bad.csv") in dialog.status.text()


def test_header_fields():
    assert header_fields("a;b;c\n1;2;3") == ["a", "b", "c"]
    assert header_fields('"u","i","r"') == ["u", "i", "r"]
    assert header_fields("a;b,c\n", ",") == ["a;b", "c"]
    assert header_fields("1 2  3\n") == ["1", "2", "3"]
