"""Help → About: what collabsheet is, the dataset and its licence, the versions it runs on, and the device.

Versions are read from the installed packages' metadata, so the GUI thread imports none of them (torch
above all: the worker thread owns it).
"""
from __future__ import annotations

import html
import platform
from typing import TYPE_CHECKING, Callable

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout

if TYPE_CHECKING:
    from collabsheet.engine.data.ratings import Ratings


TITLE = "About collabsheet"
SUMMARY = ("fast.ai's “collaborative filtering in Excel” lesson as a live instrument: real MovieLens ratings, "
           "factors that learn as you step, predictions, and the loss.")
LIBRARIES = ("pyqtgraph", "numpy", "pandas", "openpyxl")


def package_version(name: str) -> str:
    """An installed package's version from its metadata (the package is not imported)."""
    from importlib import metadata  # ~25 ms: when the About window opens, not at start-up

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    """(name, version) of collabsheet, Python and the libraries it runs on (PySide6's with its Qt)."""
    return [("collabsheet", package_version("collabsheet")), ("Python", platform.python_version()),
            ("torch", package_version("torch")), ("PySide6", f"{PySide6.__version__} (Qt {qVersion()})"),
            *((name, package_version(name)) for name in LIBRARIES)]


def dataset_lines(ratings: Ratings | None) -> list[str]:
    """The dataset as `collabsheet about` describes it, and MovieLens's licence notice when it is not already there."""
    from collabsheet.engine.data.movielens import LICENCE, about  # imports pandas: when the dialog opens, not at start-up

    lines = about(ratings).splitlines() if ratings is not None else ["Dataset: still loading"]
    if ratings is None or not ratings.licence:
        lines.append(f"MovieLens (the default data): {LICENCE}")
    return lines


def about_text(ratings: Ratings | None, device: str) -> str:
    """Everything the About window shows, as plain text (what Copy puts on the clipboard)."""
    return "\n".join([f"collabsheet {package_version('collabsheet')}", SUMMARY, "", *dataset_lines(ratings), "",
                      f"Computing on: {device or 'not known yet'}", "",
                      *(f"{name} {version}" for name, version in versions()[1:])])


def _html(ratings: Ratings | None, device: str) -> str:
    def rows(pairs):
        return "".join(f"<tr><td style='padding-right:12px'><b>{html.escape(k)}</b></td>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in pairs)

    dataset = [line.split(": ", 1) if ": " in line else ("", line) for line in dataset_lines(ratings)]
    return (f"<h2 style='margin-bottom:2px'>collabsheet {html.escape(package_version('collabsheet'))}</h2>"
            f"<p>{html.escape(SUMMARY)}</p>"
            f"<h3>Data</h3><table cellspacing='0' cellpadding='2'>{rows(dataset)}</table>"
            f"<h3>Computing on</h3><p>{html.escape(device or 'not known yet')}</p>"
            f"<h3>Versions</h3><table cellspacing='0' cellpadding='2'>{rows(versions())}</table>")


class QAboutDialog(QDialog):
    """The About window, for the ratings on the sheet and the device the engine computes on."""

    def __init__(self, ratings: Ratings | None, device: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.resize(620, 700)
        self.text = about_text(ratings, device)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(_html(ratings, device))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ActionRole)
        copy.setToolTip("copy all of this as text, e.g. for a bug report")
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        self.copied = QLabel("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.copied)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.copied.setText("Copied.")


def about_action(parent, ratings: Callable[[], Ratings | None], device: Callable[[], str]) -> QAction:
    """Help → About: opens the About window with the ratings and device current when it is chosen."""
    action = QAction("&About collabsheet", parent)
    action.setMenuRole(QAction.AboutRole)

    def show() -> None:
        dialog = QAboutDialog(ratings(), device(), parent)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    action.triggered.connect(show)
    return action
