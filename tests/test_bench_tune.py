"""bench/tune.py: its inner splits hold none of the ratings the recipes report on, and --quick runs the search."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from collabsheet.engine.train.data import split_indices

ROOT = Path(__file__).parents[1]


def _tune():
    spec = importlib.util.spec_from_file_location("bench_tune", ROOT / "bench" / "tune.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_tune"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _pairs(frame) -> set:
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


def test_the_inner_splits_are_made_of_training_ratings_only(movielens) -> None:
    tune = _tune()
    u1 = tune.training_rows(movielens, "u1")
    assert _pairs(u1.frame) == _pairs(movielens.frame.iloc[20_000:])  # u1.base: u1.test is never read
    seeded = tune.training_rows(movielens, "random:42")
    held = movielens.frame.iloc[split_indices(len(movielens.frame), seed=42)]
    assert len(seeded.frame) == 80_000 and not _pairs(seeded.frame) & _pairs(held)
    assert seeded.has_times and seeded.genres == movielens.genres


@pytest.mark.slow
def test_quick_mode_prints_the_grid_and_what_it_chose(movielens) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "tune.py"), "--quick", "--only", "best"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("# best: inside random:42's 80,000 training ratings") for line in lines)
    points = [line for line in lines if "implicit_wd=" in line and "s CPU" in line]
    assert len(points) == 2
    rmses = [float(line.split("mean ")[1].split()[0]) for line in points]
    assert all(0.8 < r < 1.2 for r in rmses)
    chosen = next(line for line in lines if "→ chosen" in line)
    assert f"implicit_wd={(80, 320)[int(np.argmin(rmses))]}" in chosen
    bad = subprocess.run([sys.executable, str(ROOT / "bench" / "tune.py"), "--only", "worst"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "choose from fast, best, tries" in bad.stderr
