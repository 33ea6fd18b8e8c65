"""The race command: several optimizers from the same starting factors, side by side, as one batched sheet."""
from __future__ import annotations

import argparse
import math
import time

from collabsheet.engine.cli.options import model
from collabsheet.engine.cli.sheet import sheet_of
from collabsheet.engine.config import OPTIMIZERS, OptimizerSettings
from collabsheet.engine.sheet.race import CONVERGED, DIVERGED, Race

DEFAULT = "sgd:0.01,momentum:0.01,adam:0.05"


def register(sub) -> None:
    """Add the race subcommand to the parser's subparsers."""
    race = sub.add_parser("race", help="race optimizers from the same starting factors and print their RMSE")
    model(race)
    race.add_argument("--optimizers", default=DEFAULT, metavar="NAME:LR,…",
                      help=f"racers, each an optimizer ({', '.join(OPTIMIZERS)}) and its learning rate "
                           f"(default {DEFAULT})")
    race.add_argument("--steps", type=int, default=1000, help="step limit of every racer (default 1000)")
    race.set_defaults(run=_race)


def parse_optimizers(text: str) -> list[OptimizerSettings]:
    """'sgd:0.01,adam:0.05' as settings; NAME alone takes the default learning rate."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise ValueError(f"--optimizers: give racers as NAME:LR separated by commas, e.g. {DEFAULT}; got {text!r}")
    racers = []
    for item in items:
        name, _, lr = item.partition(":")
        name = name.strip().lower()
        if name not in OPTIMIZERS:
            raise ValueError(f"--optimizers: unknown optimizer {name!r} in {item!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        if not lr:
            racers.append(OptimizerSettings(name))
            continue
        try:
            rate = float(lr)
        except ValueError:
            raise ValueError(f"--optimizers: the learning rate {lr!r} in {item!r} is not a number") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"--optimizers: the learning rate in {item!r} must be a positive number")
        racers.append(OptimizerSettings(name, lr=rate))
    return racers


def checkpoints(steps: int) -> list[int]:
    """The steps the table shows: a tenth, a quarter and half of the way, and the end."""
    return sorted({max(1, steps // 10), max(1, steps // 4), max(1, steps // 2), steps})


def _race(args: argparse.Namespace) -> int:
    racers = parse_optimizers(args.optimizers)
    if args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    sheet = sheet_of(args)
    print(f"{len(racers)} racers from the same factors (RMSE {sheet.rmse():.6f} at step 0), "
          f"at most {args.steps:,} steps each")
    race = Race(sheet, racers, max_steps=args.steps)
    start = time.perf_counter()
    race.run()
    took = time.perf_counter() - start
    marks = checkpoints(args.steps)
    width = max(len(r.label) for r in race.racers) + 2
    print(f"{'racer':<{width}}" + "".join(f"{f'step {s:,}':>13}" for s in marks) + f"{'final RMSE':>13}  result")
    for i, (racer, view) in enumerate(zip(race.racers, race.views())):
        cells = []
        for s in marks:
            value = race.rmse_at(i, s)
            cells.append(f"{'—' if math.isnan(value) else format(value, '.6f'):>13}")
        print(f"{racer.label:<{width}}" + "".join(cells) + f"{view.rmse:>13.6f}  {_result(racer.status, racer.steps)}")
    print(f"raced {len(racers)} optimizers in {took:.2f} s ({race.steps / max(took, 1e-9):,.0f} steps/s per racer)")
    return 0


def _result(status: str, steps: int) -> str:
    if status == DIVERGED:
        return f"diverged: kept step {steps:,}"
    if status == CONVERGED:
        return f"converged at step {steps:,}"
    return f"step limit ({steps:,})"
