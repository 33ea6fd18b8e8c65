"""The sheet's commands: grid, solve, step, about, prepare."""
from __future__ import annotations

import argparse
import time

import numpy as np

from engine.cli.options import common, frame, model, progress
from engine.config import OPTIMIZERS, OptimizerSettings, SheetConfig
from engine.data.crosstab import top_crosstab
from engine.data.movielens import about, default_ratings, prepare
from engine.data.ratings import Ratings
from engine.device import device_label
from engine.sheet.sheet import Sheet


def register(sub) -> None:
    """Add the sheet's subcommands to the parser's subparsers."""
    grid = sub.add_parser("grid", help="print the crosstab of the top users and movies")
    common(grid)
    grid.set_defaults(run=_grid)
    solve = sub.add_parser("solve", help="solve the sheet like Excel's Solver and print the predictions")
    model(solve)
    solve.set_defaults(run=_solve)
    step = sub.add_parser("step", help="run gradient descent and print the loss")
    model(step)
    step.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    step.add_argument("--lr", type=float, default=0.05, help="learning rate")
    step.add_argument("--steps", type=int, default=500)
    step.add_argument("--every", type=int, default=100, help="print the loss every N steps")
    step.add_argument("--weight-decay", type=float, default=0.0)
    step.set_defaults(run=_step)
    info = sub.add_parser("about", help="the dataset: name, size, licence")
    info.add_argument("--ratings", metavar="PATH")
    info.set_defaults(run=_about)
    sub.add_parser("prepare", help="download or unpack MovieLens into the cache").set_defaults(run=_prepare)


def ratings_of(args: argparse.Namespace) -> Ratings:
    """The ratings the command names, MovieLens by default."""
    return default_ratings(getattr(args, "ratings", None), progress=progress)


def sheet_of(args: argparse.Namespace) -> Sheet:
    """The sheet the model options describe, over the command's ratings; prints what it is."""
    ratings = ratings_of(args)
    grid = top_crosstab(ratings, args.top)
    config = SheetConfig(k=args.factors, biases=args.biases, squash=args.squash, seed=args.seed)
    sheet = Sheet(grid, config, device=args.device)
    print(f"{ratings.name} · {sheet.n_users}×{sheet.n_items} sheet, k={sheet.config.k} · {device_label(sheet.device)}")
    return sheet


def _prepare(args: argparse.Namespace) -> int:
    print(about(prepare(progress=progress)))
    return 0


def _about(args: argparse.Namespace) -> int:
    print(about(ratings_of(args)))
    return 0


def _grid(args: argparse.Namespace) -> int:
    grid = top_crosstab(ratings_of(args), args.top)
    print(f"{grid.name}: top {len(grid.user_ids)} users × {len(grid.item_ids)} movies, "
          f"{int(grid.mask.sum())} ratings")
    print(frame(grid.ratings, grid.user_ids, grid.titles, ".1f"))
    return 0


def _solve(args: argparse.Namespace) -> int:
    sheet = sheet_of(args)
    result = sheet.solve()
    print(f"RMSE before {result.rmse_before:.6f} → after {result.rmse:.6f} "
          f"({result.iterations} iterations, {result.seconds * 1000:.0f} ms, "
          f"{'converged' if result.converged else 'not converged'})")
    snap = sheet.snapshot()
    print(frame(np.where(snap.mask, snap.predictions, np.nan), snap.user_ids, snap.titles, ".2f"))
    return 0


def _step(args: argparse.Namespace) -> int:
    sheet = sheet_of(args)
    settings = OptimizerSettings(args.optimizer, lr=args.lr, weight_decay=args.weight_decay)
    sheet.set_optimizer(settings)
    print(f"step 0: RMSE {sheet.rmse():.6f}")
    start, done = time.perf_counter(), 0
    while done < args.steps:
        result = sheet.step(min(args.every, args.steps - done))
        done += result.steps
        if result.diverged:
            print(f"step {sheet.steps}: diverged — learning rate {args.lr} is too high; "
                  f"kept the last good factors (RMSE {sheet.rmse():.6f})")
            return 1
        print(f"step {sheet.steps}: RMSE {sheet.rmse():.6f}")
    rate = done / max(time.perf_counter() - start, 1e-9)
    print(f"final RMSE {sheet.rmse():.6f} after {done} {settings.label} steps ({rate:,.0f} steps/s)")
    return 0
