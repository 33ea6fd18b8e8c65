"""Shared test set-up: Qt draws offscreen, so the GUI tests run without a display."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _own_settings(tmp_path_factory):
    """The app's settings (recent files) in a folder of the test's own, never the user's nor another test's (a file
    of the same name opened by an earlier test changed how a later one's recent-files menu names its file)."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(autouse=True)
def _own_runs(tmp_path, monkeypatch):
    """Training runs recorded in the test's own database, never the user's (engine.train.runs)."""
    monkeypatch.setenv("COLLABSHEET_DATA", str(tmp_path / "collabsheet-data"))


@pytest.fixture(scope="session")
def movielens():
    """The default MovieLens ratings through the real loading path (make test prepares the cache)."""
    from collabsheet.engine.data.movielens import default_ratings

    return default_ratings()


@pytest.fixture(scope="session")
def grid15(movielens):
    """The lesson's default 15 × 15 crosstab of the real data."""
    from collabsheet.engine.data.crosstab import top_crosstab

    return top_crosstab(movielens, 15)


def _shown(qtbot, size: tuple[int, int] | None = None, plot: bool = True):
    """The real main window (at `size`, or its own), once its first sheet (and, with `plot`, the loss curve) shows."""
    from collabsheet.gui.main_window import QMainSheetWindow

    w = QMainSheetWindow()
    qtbot.addWidget(w)
    if size:
        w.resize(*size)
    w.show()
    qtbot.waitUntil(lambda: w.sheet.snapshot is not None and (w.sheet.losses.plot is not None or not plot),
                    timeout=30_000)
    return w


@pytest.fixture
def started_window(qtbot):
    """The real main window at its own size, once its first sheet is on screen."""
    w = _shown(qtbot, plot=False)
    yield w
    w.close()


@pytest.fixture
def laptop_window(qtbot):
    """The real main window at 1280 × 800, once its first sheet and the loss curve are on screen."""
    w = _shown(qtbot, (1280, 800))
    yield w
    w.close()


@pytest.fixture
def shown_window(qtbot):
    """The real main window, 1500 × 900, once its first sheet and the loss curve are on screen."""
    w = _shown(qtbot, (1500, 900))
    yield w
    w.close()


@pytest.fixture
def small_window(qtbot):
    """The real main window at 800 × 600, once its first sheet is on screen."""
    w = _shown(qtbot, (800, 600), plot=False)
    yield w
    w.close()
