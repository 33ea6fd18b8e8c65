"""The timeline's cost on the default sheet: memory for a long run, and the time to restore any step.

Run: .venv/bin/python bench/timeline.py [--steps 100000] [--seeks 200] [--device cpu|cuda]
Prints the recording speed against plain stepping, the bytes the history holds (and the process's resident
memory growth, which includes the allocator's slack), and restore times for random steps and the worst case.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.device import device_label
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.sheet.timeline import EVERY, Timeline


def rss_bytes() -> int:
    """Resident memory of this process (Linux), 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeks", type=int, default=200)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    ratings = default_ratings()
    grid = top_crosstab(ratings, 15)
    settings = OptimizerSettings("adam", lr=0.01)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{ratings.name}")
    sheet = Sheet(grid, SheetConfig(k=5), settings, device=args.device)
    where, shape = device_label(sheet.device), f"{sheet.n_users}×{sheet.n_items}×{sheet.config.k}"

    plain = Sheet(grid, SheetConfig(k=5), settings, device=args.device)
    before = rss_bytes()
    timeline = Timeline(sheet)
    took = plain_took = 0.0
    for _ in range(args.steps // 1000):  # in GUI-sized chunks, alternating with a plain sheet (the machine's load varies)
        start = time.perf_counter()
        timeline.step(1000)
        took += time.perf_counter() - start
        start = time.perf_counter()
        plain.step(1000)
        plain_took += time.perf_counter() - start
    grown = rss_bytes() - before
    print(f"{shape:>10}  {where:<8} record    {args.steps / took:>10,.0f} steps/s  "
          f"(a plain sheet alongside: {args.steps / plain_took:,.0f} steps/s)")
    print(f"{shape:>10}  {where:<8} memory    {timeline.nbytes() / 2**20:>10.2f} MB  for {args.steps:,} steps "
          f"(losses and {len(timeline.branch.checkpoints)} checkpoints; resident memory grew "
          f"{grown / 2**20:.1f} MB)")

    rng = np.random.default_rng(0)
    times = []
    for step in rng.integers(0, args.steps + 1, args.seeks):
        timeline.resume(0)  # from the head, so every seek loads a checkpoint
        start = time.perf_counter()
        timeline.seek(int(step))
        times.append(time.perf_counter() - start)
    worst = []
    for step in (EVERY - 1, args.steps // 2 - 1, args.steps - 1):  # the most replay: just before a checkpoint
        timeline.resume(0)
        start = time.perf_counter()
        timeline.seek(step)
        worst.append(time.perf_counter() - start)
    print(f"{shape:>10}  {where:<8} restore   {statistics.median(times) * 1000:>10.1f} ms  median of {args.seeks} "
          f"random steps (max {max(times) * 1000:.1f} ms); {max(worst) * 1000:.1f} ms replaying {EVERY - 1} steps")


if __name__ == "__main__":
    main()
