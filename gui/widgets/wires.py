"""What a tab connects, remembered so that closing the tab disconnects it all."""
from __future__ import annotations

from typing import Callable


class Wires:
    """A tab's connections, kept as made; `disconnect_all` undoes them (on close) and they stay undone."""

    def __init__(self) -> None:
        self._made: list[tuple] = []
        self.closed = False  # once disconnected, what was scheduled before (a timer's callback) should not wire again

    def connect(self, signal, slot: Callable) -> None:
        """Connect `signal` to `slot` and remember it."""
        signal.connect(slot)
        self._made.append((signal, slot))

    def disconnect_all(self) -> None:
        """Disconnect everything connected through these wires."""
        for signal, slot in self._made:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone with its object
                pass
        self._made.clear()
        self.closed = True
