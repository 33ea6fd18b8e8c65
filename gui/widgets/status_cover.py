"""The window's status-bar fields a tab covers with its own while it is shown, given back as they were on hide."""
from __future__ import annotations

from typing import Iterable, Mapping

from PySide6.QtWidgets import QLabel


class StatusCover:
    """Remembers the fields' texts when a tab takes them over, and puts them back when it lets them go."""

    def __init__(self, labels: Mapping[str, QLabel], names: Iterable[str] | None = None) -> None:
        self.labels = labels
        self.names = tuple(labels if names is None else names)
        self._saved: dict[str, str] | None = None

    @property
    def held(self) -> bool:
        """Whether the tab holds the fields now (it is shown)."""
        return self._saved is not None

    def take(self) -> None:
        """Keep the fields' texts as they are, for give_back()."""
        self._saved = {name: self.labels[name].text() for name in self.names}

    def give_back(self) -> None:
        """The fields' texts as they were when taken."""
        if self._saved is not None:
            for name, text in self._saved.items():
                self.labels[name].setText(text)
            self._saved = None
