"""File → Recent: the last ratings files opened, kept in the user's settings, and a menu that opens them.

Each entry is a file's resolved path with the column mapping it was opened with (load_ratings' user_col,
item_col, rating_col, sep, titles_path; empty when the engine detected them), so a file that needed its
columns picked opens the same way again.
"""
from __future__ import annotations

import json
from collections import Counter
from os import PathLike
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

ORGANISATION = APPLICATION = "collabsheet"
KEY = "recent/ratings"
LIMIT = 8  # files listed
OpenFile = Callable[..., None]  # called as open_file(path, **columns)
PickColumns = Callable[[str, dict], None]  # called as pick_columns(path, columns): the open dialog, filled in
ROLES = (("user_col", "user"), ("item_col", "movie"), ("rating_col", "rating"), ("sep", "separator"),
         ("titles_path", "titles"))


def settings() -> QSettings:
    """The user's collabsheet settings: an INI file in the user's config folder on every system."""
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANISATION, APPLICATION)


def _read(store: QSettings) -> list[dict]:
    try:
        entries = json.loads(str(store.value(KEY, "[]")))
    except ValueError:  # a damaged entry forgets the list rather than stopping the app
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)] if isinstance(entries, list) else []


def _write(store: QSettings, entries: list[dict]) -> None:
    store.setValue(KEY, json.dumps(entries[:LIMIT]))
    store.sync()


def _resolved(path: str | PathLike) -> str:
    return str(Path(path).expanduser().resolve())


def remember(path: str | PathLike, columns: dict | None = None, store: QSettings | None = None) -> list[str]:
    """Put a ratings file first in the list (once, by resolved path) with how it was read; paths that are not
    files (MovieLens's cache, a URL) are not remembered. Returns the list, newest first."""
    store = store or settings()
    entries = _read(store)
    if Path(path).expanduser().is_file():
        key = _resolved(path)
        kept = {k: v for k, v in (columns or {}).items() if v is not None}
        entries = [{"path": key, "columns": kept}] + [e for e in entries if _resolved(e["path"]) != key]
        _write(store, entries)
    return [e["path"] for e in entries[:LIMIT]]


def recent(store: QSettings | None = None) -> list[tuple[str, dict]]:
    """The remembered files that still exist, newest first, with their columns; missing ones are forgotten."""
    store = store or settings()
    entries = _read(store)
    there = [e for e in entries if Path(e["path"]).is_file()]
    if len(there) != len(entries):
        _write(store, there)
    return [(e["path"], dict(e.get("columns") or {})) for e in there[:LIMIT]]


def forget_all(store: QSettings | None = None) -> None:
    """Empty the list."""
    _write(store or settings(), [])


def _labels(paths: list[str]) -> list[str]:
    """Each file's name; names that occur twice get their folder's name too."""
    names = Counter(Path(p).name for p in paths)
    return [Path(p).name if names[Path(p).name] == 1 else f"{Path(p).name} ({Path(p).parent.name})" for p in paths]


def described(path: str, columns: dict) -> str:
    """A recent entry's tooltip: its path, and the columns it is read with when they were picked by hand."""
    picked = [f"{name} {columns[key]!r}" for key, name in ROLES if columns.get(key) is not None]
    return path + (f"\ncolumns: {', '.join(picked)}" if picked else "")


def fill_menu(menu: QMenu, open_file: OpenFile, store: QSettings | None = None,
              pick_columns: PickColumns | None = None) -> None:
    """Replace menu's entries by one per recent file (text: its name, tooltip: its path and picked columns) that
    calls open_file(path, **columns); with pick_columns, a submenu to open each in the dialog to pick its columns
    again; then "Clear recent files". "No recent files" when there are none."""
    menu.clear()
    menu.setToolTipsVisible(True)
    files = recent(store)
    labels = [label.replace("&", "&&") for label in _labels([p for p, _ in files])]  # a name's & is no accelerator
    for (path, columns), label in zip(files, labels):
        action = menu.addAction(label)
        action.setToolTip(described(path, columns))
        action.setStatusTip(path)
        action.triggered.connect(lambda _=False, p=path, c=columns: open_file(p, **c))
    if not files:
        menu.addAction("No recent files").setEnabled(False)
        return
    menu.addSeparator()
    if pick_columns is not None:
        again = menu.addMenu("Pick the &columns again")
        again.setToolTipsVisible(True)
        for (path, columns), label in zip(files, labels):
            action = again.addAction(label + "…")
            action.setToolTip(described(path, columns))
            action.triggered.connect(lambda _=False, p=path, c=columns: pick_columns(p, c))
    menu.addAction("Clear recent files").triggered.connect(lambda: forget_all(store))


def keep_filled(menu: QMenu, open_file: OpenFile, store: QSettings | None = None,
                pick_columns: PickColumns | None = None) -> None:
    """Fill menu now and again each time it opens, so it lists what exists then."""
    fill_menu(menu, open_file, store, pick_columns)
    menu.aboutToShow.connect(lambda: fill_menu(menu, open_file, store, pick_columns))
