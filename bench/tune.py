"""How `fast`, `best` and `tries` were tuned: small grids on inner splits of the training ratings only.

Run: .venv/bin/python bench/tune.py [--quick] [--only fast,best,tries]

`fast` and `best` were chosen on seed 42's random split of MovieLens 100k: its 80,000 training ratings are split
again (a seeded 20% of them validates, seeds 1 and 2), and the validation ratings of seed 42 are never read.
`tries` (the lesson's things to try on `best`) is chosen the same way inside u1.base, so u1.test, where README
reports it, plays no part. Each grid prints every point's inner RMSEs, their mean and the CPU seconds of a run,
then the point chosen (lowest mean) beside the recipe's own setting. --quick runs two points a grid on one inner
split with 2 epochs: it shows the machinery, not the choice.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.data.ratings import Ratings
from collabsheet.engine.train.data import TrainData, prepare, split_indices
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.recipes import RECIPES, Recipe
from collabsheet.engine.train.splits import fold, parse_split

SEED = 42  # the model seed, as bench/train.py
INNER_SEEDS = (1, 2)  # the inner splits: a seeded 20% of the training ratings each
BUDGET_CPU_S = 60.0  # the limit for the target recipe (2 cores: CPU seconds over-count wall time)


@dataclass(frozen=True)
class Grid:
    """One recipe's search: the recipe, the settings tried (field → values), and the data it is tuned inside."""

    recipe: str
    fields: dict  # field name -> values tried, in order
    outer: str  # "random:42" (fast, best) or "u1" (tries): whose training ratings are split again


GRIDS = {
    "fast": Grid("fast", {"factors": (16, 32, 50), "wd": (10, 15, 20, 30, 40)}, "random:42"),
    "best": Grid("best", {"wd": (10, 20, 40), "implicit_wd": (20, 80, 320)}, "random:42"),
    # the things to try, on best's settings: the inputs first (one model each), then how many models
    "tries": Grid("tries", {"genres": ("off", "sum", "mean"), "time": ("off", "bias")}, "u1"),
}
ENSEMBLES = (1, 3, 5)
QUICK = {"fast": {"factors": (16, 32), "wd": (20,)}, "best": {"wd": (20,), "implicit_wd": (80, 320)},
         "tries": {"genres": ("off", "mean"), "time": ("bias",)}}


def training_rows(ratings: Ratings, outer: str) -> Ratings:
    """The training ratings of the outer split (its validation ratings are dropped here and never read)."""
    spec = parse_split(outer)
    if spec.kind == "u":
        return fold(ratings, spec)[0]
    held = np.zeros(len(ratings.frame), dtype=bool)
    held[split_indices(len(ratings.frame), seed=spec.seed)] = True
    return replace(ratings, frame=ratings.frame[~held].reset_index(drop=True), notes=())


def score(recipe: Recipe, inner: list[TrainData]) -> tuple[list[float], float]:
    """The recipe's validation RMSE on each inner split, and its CPU seconds per run (mean)."""
    rmses, cpu = [], []
    for data in inner:
        started = time.process_time()
        rmses.append(learn(data, recipe, seed=SEED).history.valid_rmse)
        cpu.append(time.process_time() - started)
    return rmses, float(np.mean(cpu))


def show(label: str, rmses: list[float], cpu: float) -> None:
    cells = "  ".join(f"{r:.4f}" for r in rmses)
    print(f"  {label:<40} {cells}  mean {np.mean(rmses):.4f}  {cpu:5.1f} s CPU", flush=True)


def search(base: Recipe, fields: dict, inner: list[TrainData], epochs: int | None) -> tuple[dict, dict]:
    """Every point of the grid on the inner splits; (the chosen point, every point's mean RMSE and CPU s)."""
    results = {}
    names = list(fields)
    for values in itertools.product(*fields.values()):
        point = dict(zip(names, values))
        recipe = base.with_(**point, epochs=epochs, name=base.name)
        rmses, cpu = score(recipe, inner)
        results[values] = (float(np.mean(rmses)), cpu)
        show(", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items()), rmses, cpu)
    best = min(results, key=lambda v: results[v][0])
    return dict(zip(names, best)), results


def verdict(name: str, chosen: dict, recipe: Recipe) -> None:
    """The point chosen beside the recipe's own settings: reproduced, or where it lands instead."""
    own = {k: getattr(recipe, k) for k in chosen}
    same = all(own[k] == v for k, v in chosen.items())
    said = ", ".join(f"{k}={v}" for k, v in chosen.items())
    if same:
        print(f"  → chosen {said}: {name}'s own settings, reproduced", flush=True)
    else:
        print(f"  → chosen {said}; {name} has {', '.join(f'{k}={v}' for k, v in own.items())}: "
              "not reproduced here (see the means above for how far apart they are)", flush=True)


def tune(name: str, ratings: Ratings, quick: bool, device: torch.device) -> None:
    grid = GRIDS[name]
    fields = QUICK[name] if quick else grid.fields
    seeds = INNER_SEEDS[:1] if quick else INNER_SEEDS
    epochs = 2 if quick else None
    rows = training_rows(ratings, grid.outer)
    inner = [prepare(rows, seed=s, device=device) for s in seeds]
    print(f"# {name}: inside {grid.outer}'s {len(rows.frame):,} training ratings; inner splits seed "
          f"{', '.join(map(str, seeds))} ({len(inner[0].train):,} train / {len(inner[0].valid):,} validate each)")
    recipe = RECIPES[name]
    base = RECIPES["best"] if name == "tries" else recipe
    chosen, _ = search(base, fields, inner, epochs)
    if name != "tries":
        verdict(name, chosen, recipe)
        return
    print("  then how many models, with those inputs (a run's CPU seconds must stay within "
          f"{BUDGET_CPU_S:g} s on the full training ratings, about 1.25× these):")
    counts = (1, 3) if quick else ENSEMBLES
    inputs = base.with_(**chosen, name=base.name)
    _, results = search(inputs, {"ensemble": counts}, inner, epochs)
    within = [v for v in results if results[v][1] * 1.25 <= BUDGET_CPU_S] or [min(results)]
    chosen["ensemble"] = min(within, key=lambda v: results[v][0])[0]
    verdict(name, chosen, recipe)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two points a grid, one inner split, 2 epochs (for tests)")
    p.add_argument("--only", default="fast,best,tries", help="which recipes, comma-separated (default all three)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in GRIDS]
    if unknown:
        p.error(f"--only {','.join(unknown)}: choose from {', '.join(GRIDS)}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, load average {load:.1f}"
          f"{' · --quick: the machinery only' if args.quick else ''}")
    ratings = default_ratings()
    for name in names:
        tune(name, ratings, args.quick, torch.device(args.device))


if __name__ == "__main__":
    main()
