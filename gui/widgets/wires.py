"""What every tab connects, remembered so that closing the tab disconnects it all."""
from __future__ import annotations


class Wires:
    """Mixin for a tab: `_connect` records each connection; `disconnect_all` undoes them (on close)."""

    _wires: list

    def _connect(self, signal, slot) -> None:
        signal.connect(slot)
        self._wires.append((signal, slot))

    def disconnect_all(self) -> None:
        """Disconnect everything this tab connected."""
        for signal, slot in self._wires:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone with its object
                pass
        self._wires.clear()
