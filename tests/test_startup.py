"""What the window imports before its first frame: only what that frame needs (README, Performance: start-up)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pandas and pyarrow (~0.4 s): the first sheet comes from the copy kept beside the data; torch (~2 s): the worker
# imports it once the first frame is up; the other tabs' modules: imported when a tab is first shown.
NOT_AT_START = ("pandas", "pyarrow", "torch", "contourpy", "pyqtgraph", "collabsheet.gui.graddesc.tab", "collabsheet.gui.train.tab",
                "collabsheet.gui.sheet.open_dialog", "collabsheet.engine.sheet.sheet")


def test_the_window_imports_only_what_its_first_frame_needs():
    code = ("import sys, gui.app, gui.main_window; "
            f"print(sorted(m for m in {NOT_AT_START!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
