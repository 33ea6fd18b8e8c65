"""What a user waits for at start-up: the real app under Xvfb, timed from its process's start.

Prints two figures from the app's own frames, each the median (and range) of several launches with cached
data: when the full sheet (factors, predictions and the loss) is on screen, and when its controls can be
used (the engine has built the sheet). Run: .venv/bin/python bench/startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from xvfb import NoDisplay, display  # bench/xvfb.py

ROOT = Path(__file__).resolve().parent.parent

# Runs in the timed process: opens the real window and watches its frames (connected after the tab's own slot,
# so a frame counts once the tab has rendered it).
PROBE = r"""
import json, os, sys, time
def started():  # the process's start, as the kernel recorded it, on time.time()'s clock
    ticks = os.sysconf("SC_CLK_TCK")
    since_boot = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
    uptime = float(open("/proc/uptime").read().split()[0])
    return time.time() - uptime + since_boot
t0 = started()
from collabsheet.gui.app import open_window, parser
app, w = open_window(parser().parse_args([]))  # what `collabsheet` runs, up to its event loop
from PySide6.QtCore import QTimer
marks = {}
def watch(frame):
    model = w.sheet.model
    full = model.snapshot is not None and getattr(model.snapshot, "params", None) is not None
    if full and "sheet" not in marks:
        marks["sheet"] = time.time() - t0
    if w.actions["step"].isEnabled() and "controls" not in marks:
        marks["controls"] = time.time() - t0
    if len(marks) == 2:
        print(json.dumps(marks), flush=True)
        os._exit(0)
w.sheet.engine.frame.connect(watch)
w.sheet.engine.state_changed.connect(lambda *_: QTimer.singleShot(0, lambda: watch(None)))
QTimer.singleShot(60_000, lambda: os._exit(3))
app.exec()
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = []
    try:
        with display(env, 90) as env:
            # As `make run` does before the window: the prepared copy and the sheet kept beside it, and the bytecode.
            subprocess.run([sys.executable, "-c", "import collabsheet.engine.data.movielens as m; m.prepare()"],
                           env=env, check=True, capture_output=True)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "engine"), str(ROOT / "gui")],
                           check=True, capture_output=True)
            for _ in range(args.runs):
                done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                                      timeout=120)
                lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
                if done.returncode or not lines:
                    print(f"a launch failed ({done.returncode}): {done.stderr.strip()[-300:]}", file=sys.stderr)
                    return 1
                runs.append(json.loads(lines[-1]))
    except NoDisplay as e:
        print(e, file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    print(f"# {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}, load average {load:.1f}; "
          f"{args.runs} launches with cached data, timed from the process's start")
    for key, what in (("sheet", "full sheet on screen"), ("controls", "controls usable")):
        values = sorted(r[key] for r in runs)
        print(f"{what:22s} {statistics.median(values):5.2f} s  (range {values[0]:.2f}–{values[-1]:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
