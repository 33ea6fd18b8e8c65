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


def fill_menu(menu: QMenu, open_file: OpenFile, store: QSettings | None = None) -> None:
    """Replace menu's entries by one per recent file (text: its name, tooltip: its path) that calls
    open_file(path, **columns), then "Clear recent files"; "No recent files" when there are none."""
    menu.clear()
    menu.setToolTipsVisible(True)
    files = recent(store)
    for (path, columns), label in zip(files, _labels([p for p, _ in files])):
        action = menu.addAction(label.replace("&", "&&"))  # a name's & is not a keyboard accelerator
        action.setToolTip(path)
        action.setStatusTip(path)
        action.triggered.connect(lambda _=False, p=path, c=columns: open_file(p, **c))
    if not files:
        menu.addAction("No recent files").setEnabled(False)
        return
    menu.addSeparator()
    menu.addAction("Clear recent files").triggered.connect(lambda: forget_all(store))


def keep_filled(menu: QMenu, open_file: OpenFile, store: QSettings | None = None) -> None:
    """Fill menu now and again each time it opens, so it lists what exists then."""
    fill_menu(menu, open_file, store)
    menu.aboutToShow.connect(lambda: fill_menu(menu, open_file, store))
