"""How long export_xlsx and import_xlsx take on the lesson's 15×15 sheet and on a 200×200 one.

Targets: 15×15 ≤ 0.3 s, 200×200 ≤ 5 s, each way. Prints figures; asserts nothing.
Run: .venv/bin/python bench/xlsx.py
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collabsheet.engine.data.crosstab import Crosstab, top_crosstab  # noqa: E402
from collabsheet.engine.config import SheetConfig  # noqa: E402
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx import export_xlsx, import_xlsx  # noqa: E402

TARGETS = {15: 0.3, 200: 5.0}  # seconds, each way


def grid(n: int) -> tuple[Crosstab, str]:
    """MovieLens' top n users × top n movies, or a synthetic grid of the same size without the data."""
    try:
        from collabsheet.engine.data.movielens import default_ratings
        return top_crosstab(default_ratings(), n), "MovieLens 100k"
    except Exception as exc:  # no cache and no way to fetch it: the timing does not depend on the numbers
        print(f"(MovieLens unavailable: {exc}; using synthetic ratings)")
    rng = np.random.default_rng(0)
    ratings = rng.integers(1, 11, (n, n)) / 2.0
    ratings[rng.random((n, n)) < 0.5] = np.nan
    return Crosstab(ratings, tuple(range(n)), tuple(range(n)), tuple(f"Movie {j}" for j in range(n))), "synthetic"


def timed(fn, repeats: int) -> float:
    """Median wall time of fn() over repeats."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()}-core CPU ({cpu}), Python {platform.python_version()}, "
          f"load average {load:.1f} (other work on the machine slows these figures)")
    with tempfile.TemporaryDirectory() as tmp:
        for n, target in TARGETS.items():
            data, source = grid(n)
            for config in (SheetConfig(), SheetConfig(biases=True, squash=True)):
                snap = Sheet(data, config, device="cpu").snapshot()
                path = Path(tmp) / f"{n}.xlsx"
                repeats = 5 if n <= 50 else 3
                out = timed(lambda: export_xlsx(snap, path), repeats)
                back = timed(lambda: import_xlsx(path), repeats)
                label = f"{n}×{n} {source}, k={config.k}{' +biases +squash' if config.biases else ''}"
                size = path.stat().st_size / 1024
                verdict = "ok" if max(out, back) <= target else "OVER"
                print(f"{label:<45} export {out:6.3f} s  import {back:6.3f} s  "
                      f"({size:,.0f} KiB; target ≤ {target:g} s: {verdict})")


if __name__ == "__main__":
    main()
