"""How long quitting takes: the real app under Xvfb, closed while it works, timed until its process has exited.

Each launch opens the window as `collabsheet` does, waits for the sheet's controls, starts what a user may leave
running (the sheet's Play, or the Training tab's training), then closes the window (Ctrl+Q's slot) and exits as
`collabsheet` does (gui.app.run: os._exit after the event loop). Prints, per case, the median (and range) of the
seconds from the close to the window gone and to the process gone.
Run: .venv/bin/python bench/quit.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from xvfb import NoDisplay, display  # bench/xvfb.py

# Runs in the timed process: what `collabsheet` runs, a case started, then the close (its time printed first).
PROBE = r"""
import json, os, sys, time
from collabsheet.gui.app import open_window, parser
app, w = open_window(parser().parse_args([]))
from PySide6.QtCore import QTimer
case = sys.argv[1]
def close():
    t = time.time()
    w.close()
    print(json.dumps({"closed": t, "hidden": time.time()}), flush=True)
def begin():
    if not w.actions["step"].isEnabled():
        QTimer.singleShot(100, begin)
        return
    if case == "play":
        w.actions["play"].setChecked(True)
    elif case == "train":
        w.tabs.setCurrentWidget(w.train)
        QTimer.singleShot(3000, lambda: w.train.train())
        QTimer.singleShot(5000, close)
        return
    QTimer.singleShot(1500, close)
QTimer.singleShot(100, begin)
QTimer.singleShot(90_000, lambda: os._exit(3))
code = app.exec()
sys.stdout.flush()
os._exit(code)
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    env = dict(os.environ)  # the venv's Python finds the installed package
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        with display(env, 190) as env:
            for case in ("idle", "play", "train"):
                for _ in range(args.runs):
                    proc = subprocess.Popen([sys.executable, "-c", PROBE, case], env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, text=True)
                    line = proc.stdout.readline()  # the close's times, printed before the exit begins
                    proc.wait(timeout=120)
                    gone = time.time()
                    if not line.startswith("{"):
                        print(f"{case}: a launch failed ({proc.returncode})", file=sys.stderr)
                        return 1
                    marks = json.loads(line)
                    times = (marks["hidden"] - marks["closed"], gone - marks["closed"])
                    results.setdefault(case, []).append(times)
    except NoDisplay as e:
        print(e, file=sys.stderr)
        return 2
    print(f"# {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}; "
          f"{args.runs} launches per case, seconds from the window's close")
    for case, runs in results.items():
        for i, what in ((0, "window hidden"), (1, "process exited")):
            values = sorted(r[i] for r in runs)
            print(f"{case:6s} {what:15s} {statistics.median(values):5.2f} s  (range {values[0]:.2f}–{values[-1]:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
