"""What an embedding's lookup saves: a batch of users' factor rows as one-hot rows × the factor matrix, or by index.

For 15 users (the lesson's sheet), 943 (MovieLens 100k) and 100,000: the multiply-adds of the one-hot product
(batch × users × k; the lookup does none, it copies batch × k numbers) and the measured time of each, in wall
and CPU seconds (other work shares this machine). Both give the same rows (checked). Prints figures; asserts
nothing. Run: .venv/bin/python bench/onehot.py
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collabsheet.engine.cli.terminal import say  # noqa: E402
from collabsheet.engine.sheet.onehot import one_hot  # noqa: E402

USERS = (15, 943, 100_000)
BATCH, K = 64, 50  # the lesson's learner: 50 factors; a batch small enough that 100k one-hot rows fit in memory
REPEATS = 5


def best(run, inner: int = 1) -> tuple[float, float]:
    """The fastest (wall, CPU) seconds of one call over a few runs of `inner` calls: the least disturbed."""
    walls, cpus = [], []
    for _ in range(REPEATS):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(inner):
            run()
        walls.append((time.perf_counter() - w) / inner)
        cpus.append((time.process_time() - c) / inner)
    return min(walls), min(cpus)


def main() -> None:
    say(f"# {platform.machine()}, {os.cpu_count()} CPU cores, numpy {np.__version__}, float64, "
        f"batch {BATCH} ratings, k = {K}")
    say(f"{'users':>8} {'one-hot MACs':>14} {'lookup MACs':>12} {'one-hot wall':>13} {'CPU':>9} "
        f"{'lookup wall':>12} {'CPU':>9} {'ratio (CPU)':>11}")
    rng = np.random.default_rng(0)
    for n in USERS:
        factors = rng.random((n, K))
        idx = rng.integers(1, n + 1, BATCH)  # 1-based, as MATCH gives it
        assert np.array_equal(one_hot(idx, n) @ factors, factors[idx - 1])  # the same rows, exactly
        hot = best(lambda: one_hot(idx, n) @ factors)  # building the one-hot rows is part of the method
        look = best(lambda: factors[idx - 1], inner=1000)  # microseconds: timed over many calls
        say(f"{n:>8,} {BATCH * n * K:>14,} {0:>12} {hot[0] * 1e3:>11.3f}ms {hot[1] * 1e3:>7.3f}ms "
            f"{look[0] * 1e3:>10.4f}ms {look[1] * 1e3:>7.4f}ms {hot[1] / max(look[1], 1e-9):>10,.0f}×")


if __name__ == "__main__":
    main()
