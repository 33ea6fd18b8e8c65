"""File → Recent: the last eight ratings files, kept in QSettings, listed in a menu that opens them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

from collabsheet.gui import recent


@pytest.fixture
def store(tmp_path):
    """Settings in a file of this test's own, never the user's."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    paths = []
    for n in range(10):
        path = folder / f"ratings{n}.csv"
        path.write_text("user,item,rating\n1,1,5\n")
        paths.append(path)
    return paths


def test_the_last_eight_newest_first(store, files):
    for path in files:
        recent.remember(path, store=store)
    assert [p for p, _ in recent.recent(store)] == [str(p.resolve()) for p in reversed(files[-8:])]


def test_a_file_is_listed_once_by_its_resolved_path(store, files, tmp_path, monkeypatch):
    first, second = files[:2]
    recent.remember(first, store=store)
    recent.remember(second, store=store)
    link = tmp_path / "link.csv"
    link.symlink_to(first)
    monkeypatch.chdir(first.parent)
    for spelling in (link, Path(first.name), first.parent / ".." / "data" / first.name):
        recent.remember(spelling, store=store)
        assert [p for p, _ in recent.recent(store)] == [str(first.resolve()), str(second.resolve())]


def test_missing_files_are_dropped_when_listed(store, files):
    for path in files[:3]:
        recent.remember(path, store=store)
    files[1].unlink()
    assert [p for p, _ in recent.recent(store)] == [str(files[2].resolve()), str(files[0].resolve())]
    files[1].write_text("user,item,rating\n1,1,5\n")  # back again, but forgotten when it was missing
    assert len(recent.recent(store)) == 2


def test_only_files_are_remembered_with_their_columns(store, files, tmp_path):
    recent.remember(files[0], {"user_col": "rater", "item_col": None, "sep": ";"}, store=store)
    for not_a_file in (tmp_path, tmp_path / "gone.csv", "https://files.grouplens.org/x.zip"):
        recent.remember(not_a_file, store=store)
    assert recent.recent(store) == [(str(files[0].resolve()), {"user_col": "rater", "sep": ";"})]


def test_a_damaged_list_is_forgotten(store, files):
    store.setValue(recent.KEY, "{not json")
    assert recent.recent(store) == []
    recent.remember(files[0], store=store)
    assert len(recent.recent(store)) == 1


def test_the_menu_opens_each_file_with_its_columns(qtbot, store, files, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    twin = other / files[0].name  # the same name in another folder
    twin.write_text("user,item,rating\n1,1,5\n")
    recent.remember(files[0], store=store)
    recent.remember(files[1], {"rating_col": "stars"}, store=store)
    recent.remember(twin, store=store)
    menu = QMenu()
    opened = []
    recent.fill_menu(menu, lambda path, **columns: opened.append((path, columns)), store)
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions] == ["ratings0.csv (elsewhere)", "ratings1.csv", "ratings0.csv (data)",
                                           "Clear recent files"]
    assert [a.toolTip().split("\n")[0] for a in actions[:3]] == [str(p.resolve()) for p in (twin, files[1], files[0])]
    assert actions[1].toolTip().endswith("columns: rating 'stars'") and "\n" not in actions[0].toolTip()
    assert menu.toolTipsVisible()
    actions[1].trigger()
    assert opened == [(str(files[1].resolve()), {"rating_col": "stars"})]
    actions[3].trigger()
    recent.fill_menu(menu, opened.append, store)
    assert [(a.text(), a.isEnabled()) for a in menu.actions()] == [("No recent files", False)]


def test_the_menu_lists_what_exists_each_time_it_opens(qtbot, store, files):
    menu = QMenu()
    recent.keep_filled(menu, lambda path, **columns: None, store)
    assert [a.text() for a in menu.actions()] == ["No recent files"]
    recent.remember(files[0], store=store)
    menu.aboutToShow.emit()
    assert menu.actions()[0].text() == "ratings0.csv"
    files[0].unlink()
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions()] == ["No recent files"]


@pytest.fixture
def user_settings_in(tmp_path):
    """Point the user's INI settings at tmp_path for one test, then back."""
    probe = QSettings(QSettings.IniFormat, QSettings.UserScope, "probe", "probe").fileName()
    before = os.path.dirname(os.path.dirname(probe))
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path))
    yield tmp_path
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, before)


def test_the_list_lives_in_the_users_collabsheet_settings(user_settings_in, files):
    recent.remember(files[0])
    stored = user_settings_in / "collabsheet" / "collabsheet.ini"
    assert stored.is_file() and recent.settings().organizationName() == "collabsheet"
    assert [p for p, _ in recent.recent()] == [str(files[0].resolve())]


HAND_PICKED = {"user_col": "rater", "item_col": "film", "rating_col": "grade"}


@pytest.fixture
def odd(tmp_path):
    """Ratings whose columns the loader cannot name on its own."""
    path = tmp_path / "odd.csv"
    path.write_text("rater,film,grade\n" + "".join(f"{u},{i},{(u + i) % 5 + 1}\n" for u in range(4) for i in range(5)))
    return path


def test_a_hand_made_mapping_is_remembered_with_the_file(small_window, qtbot, odd):
    """Issue 20, item 4: a file opened with picked columns is listed with them, so Open recent reads it again."""
    from collabsheet.gui.sheet.frames import LoadRequest

    w = small_window
    w.sheet.files.open_request(LoadRequest(path=str(odd), columns=dict(HAND_PICKED, sep=None, titles_path=None)))
    qtbot.waitUntil(lambda: any(p == str(odd.resolve()) for p, _ in recent.recent()), timeout=30_000)
    assert dict(recent.recent())[str(odd.resolve())] == HAND_PICKED
    w.recent_menu.aboutToShow.emit()
    entry = next(a for a in w.recent_menu.actions() if a.text() == "odd.csv")
    assert "rater" in entry.toolTip() and "grade" in entry.toolTip()


def test_the_menu_offers_to_pick_the_columns_again(qtbot, store, files):
    recent.remember(files[0], HAND_PICKED, store=store)
    menu = QMenu()
    picked = []
    recent.fill_menu(menu, lambda path, **columns: None, store, pick_columns=lambda p, c: picked.append((p, c)))
    again = next(a.menu() for a in menu.actions() if a.menu() is not None)
    again.actions()[0].trigger()
    assert picked == [(str(files[0].resolve()), HAND_PICKED)]


def test_the_open_dialog_starts_from_a_remembered_mapping(qtbot, odd):
    from collabsheet.gui.sheet.open_dialog import QOpenDialog

    dialog = QOpenDialog(None, str(odd), dict(HAND_PICKED, sep=","))
    qtbot.addWidget(dialog)
    assert [dialog.columns[r].currentText() for r in ("user", "item", "rating")] == ["rater", "film", "grade"]
    assert dialog.sep.currentText() == "comma ," and dialog.error is None and dialog.ratings is not None
    assert dialog.request().columns["user_col"] == "rater"
