"""What several Sheet-tab GUI tests do the same way."""
from __future__ import annotations

WAIT_MS = 30_000  # generous: the machine running the tests may be busy


def run(qtbot, tab, n: int) -> None:
    """n steps from where the sheet is, waited for."""
    target = tab.snapshot.step + n
    tab.engine.step(n)
    qtbot.waitUntil(lambda: tab.snapshot.step == target and tab.state == "idle", timeout=WAIT_MS)
