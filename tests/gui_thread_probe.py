"""Runs a scripted session of the real window in a fresh process with a profiler on its GUI thread, and fails if
that thread called into torch or the engine's torch code (the worker thread owns them)."""
from __future__ import annotations

import subprocess
import sys

# What the GUI thread may run of the engine: the torch-free modules it imports (engine.config, the explanation,
# the first frame, the snapshot type, the initial draw, the training recipes, the runs table's filter rule, the
# jointplot's numpy binning).
PREAMBLE = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
ran = set()
def profile(frame, event, arg):
    name = frame.f_code.co_filename
    if frame.f_code.co_name == "_patched_getfile":  # torch replaces inspect.getfile for every thread when imported
        return
    if event == "call" and ("/torch/" in name or "/engine/sheet/" in name and not name.endswith(("explanation.py",
                            "sheet/__init__.py", "first_frame.py", "snapshot.py", "initial.py")) or "/engine/optim/" in name
                            or name.endswith("/engine/device.py")
                            or "/engine/train/" in name and not name.endswith((
                                "recipes.py", "train/runs.py", "train/plot.py", "train/__init__.py"))):
        ran.add((name, frame.f_code.co_name, frame.f_back.f_code.co_filename if frame.f_back else ""))
sys.setprofile(profile)  # this (the GUI) thread only
"""
POSTAMBLE = """
sys.setprofile(None)
assert not ran, sorted(ran)[:5]
"""


def assert_gui_thread_runs_no_torch(session: str) -> None:
    """Run `session` (code that drives a window and asserts what it saw) between the profiler's start and check."""
    done = subprocess.run([sys.executable, "-c", PREAMBLE + session + POSTAMBLE], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
