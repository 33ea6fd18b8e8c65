"""File → Open ratings: the dialog shows the file, the engine's detected columns, and what it reads."""
from __future__ import annotations

import pytest

from engine.data.ratings import RatingsError, load_ratings
from gui.sheet.open_dialog import AUTO, QOpenDialog, header_fields


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "scores.tsv"
    rows = [f"{u}\t{i}\t{(u + i) % 5 + 1}" for u in range(6) for i in range(7) if (u * i) % 3]
    path.write_text("uid\tmovie\tstars\n" + "\n".join(rows) + "\n")
    return path


def test_dialog_preselects_the_detected_columns_and_previews(qtbot, csv_file):
    dialog = QOpenDialog(None, str(csv_file))
    qtbot.addWidget(dialog)
    assert dialog.raw.toPlainText().splitlines()[0] == "uid\tmovie\tstars"
    assert [dialog.columns[r].currentText() for r in ("user", "item", "rating")] == ["uid", "movie", "stars"]
    assert dialog.sep.currentText() == "tab"
    expected = load_ratings(csv_file)
    assert dialog.table.rowCount() == min(12, len(expected))
    assert f"{len(expected):,} ratings" in dialog.status.text()
    request = dialog.request()
    assert request.path == str(csv_file) and request.ratings is dialog.ratings  # no second load
    dialog.columns["rating"].setCurrentText(AUTO)
    assert dialog.request().ratings is None  # the form changed since the preview


def test_dialog_reports_columns_it_cannot_detect(qtbot, tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text("rater,film,grade\n1,2,3\n2,2,4\n1,3,5\n")
    dialog = QOpenDialog(None, str(odd))
    qtbot.addWidget(dialog)
    assert "has no user column" in dialog.status.text()
    assert dialog.columns["user"].count() == 4  # auto + the three header names, to pick from
    for role, name in (("user", "rater"), ("item", "film"), ("rating", "grade")):
        dialog.columns[role].setCurrentText(name)
    assert dialog.preview() is not None and dialog.request().ratings is dialog.ratings


def test_dialog_shows_the_engines_message_for_a_bad_file(qtbot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,x\n")
    with pytest.raises(RatingsError) as expected:
        load_ratings(bad)
    dialog = QOpenDialog(None, str(bad))
    qtbot.addWidget(dialog)
    assert dialog.ratings is None and str(expected.value) in dialog.status.text()


def test_header_fields():
    assert header_fields("a;b;c\n1;2;3") == ["a", "b", "c"]
    assert header_fields('"u","i","r"') == ["u", "i", "r"]
