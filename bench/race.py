"""Steps per second of each racer in a race (one batched sheet), for B = 1 and B = 5, on the default sheet.

Run: .venv/bin/python bench/race.py [--device cpu|cuda] [--seconds 2]
Every racer takes one step per batched step, so a race's steps/s is each racer's. A plain Sheet is timed in
turn with each race, for comparison. Each figure is given per wall-clock second and per second of this
process's CPU time: on a shared machine the first falls with the load, the second much less.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from collabsheet.engine.config import OptimizerSettings as O, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.device import device_label
from collabsheet.engine.sheet.race import Race
from collabsheet.engine.sheet.sheet import Sheet

RACES = {
    "B=1 adam": [O("adam", lr=1e-3)],
    "B=5 five rules": [O("sgd", lr=1e-3), O("momentum", lr=1e-3), O("rmsprop", lr=1e-4), O("adam", lr=1e-3),
                       O("adamw", lr=1e-3, weight_decay=0.01)],
    "B=5 adam": [O("adam", lr=lr) for lr in (1e-4, 2e-4, 5e-4, 1e-3, 2e-3)],
}


def rate(step, seconds: float, batch: int = 200) -> tuple[float, float]:
    """Steps per wall-clock second and per CPU second of step(batch), over about `seconds`, after a warm-up."""
    step(batch)
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        done += step(batch)
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    ratings = default_ratings()
    grid = top_crosstab(ratings, 15)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{ratings.name}")
    for config in (SheetConfig(k=5), SheetConfig(k=5, biases=True, squash=True)):
        for name, racers in RACES.items():
            sheet = Sheet(grid, config, device=args.device)
            shape = f"{sheet.n_users}×{sheet.n_items}×{config.k}{' b+s' if config.biases else ''}"
            race = Race(sheet, racers, max_steps=10**9, tol=0.0)  # no racer stops while timed
            raced = rate(race.step, args.seconds)
            plain = Sheet(grid, config, racers[-1], device=args.device)
            alone = rate(lambda n: plain.step(n).steps, args.seconds)
            assert not race.done
            print(f"{shape:>14}  {device_label(sheet.device):<8} {name:<15} {raced[0]:>7,.0f} steps/s per racer "
                  f"({raced[1]:,.0f} per CPU second); one plain Sheet with {racers[-1].label}: {alone[0]:,.0f} "
                  f"steps/s ({alone[1]:,.0f} per CPU second)")


if __name__ == "__main__":
    main()
