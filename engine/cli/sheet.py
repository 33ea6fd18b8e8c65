"""The sheet's commands: grid, solve, step, about, prepare."""
from __future__ import annotations

import argparse
import os
import time
from typing import Callable

import numpy as np

from collabsheet.engine.cli.options import (MAX_COUNT, common, frame, model, optimizer, progress, progress_task, say,
                                            source, stoppable, whole)
from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.movielens import about, default_ratings, prepare
from collabsheet.engine.data.ratings import Ratings, load_ratings
from collabsheet.engine.device import device_label
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.task import Report, Task

CHUNK = 1_000  # steps per Sheet.step call: it keeps a loss per step, so memory stays flat however many are run
_COLUMNS = ("user_col", "item_col", "rating_col", "sep")


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
    optimizer(step)
    step.add_argument("--steps", type=whole(0), default=500, help=f"steps to run (0-{MAX_COUNT:,}, default 500)")
    step.add_argument("--every", type=whole(1), default=100, help="print the loss every N steps (default 100)")
    step.set_defaults(run=_step)
    info = sub.add_parser("about", help="the dataset: name, size, licence")
    source(info)
    info.set_defaults(run=_about)
    sub.add_parser("prepare", help="download or unpack MovieLens into the cache").set_defaults(run=_prepare)


def ratings_path(args: argparse.Namespace) -> str | None:
    """The ratings file the command reads: --ratings or $COLLABSHEET_RATINGS; None for the default MovieLens."""
    return getattr(args, "ratings", None) or os.environ.get("COLLABSHEET_RATINGS") or None


def ratings_of(args: argparse.Namespace) -> Ratings:
    """The ratings the command names, MovieLens by default; read with the column options when given."""
    path = ratings_path(args)
    columns = {name: getattr(args, name) for name in _COLUMNS if getattr(args, name, None) is not None}
    if path is None:
        if columns:
            options = ", ".join("--" + name.replace("_", "-") for name in columns)
            raise ValueError(f"{options} {'says' if len(columns) == 1 else 'say'} how to read a ratings file; "
                             "name the file with --ratings PATH")
        return default_ratings(None, task=progress_task())
    progress(f"Reading {'standard input' if path == '-' else path}")
    return load_ratings(path, **columns)


def sheet_of(args: argparse.Namespace) -> Sheet:
    """The sheet the model options describe, over the command's ratings; prints what it is."""
    ratings = ratings_of(args)
    grid = top_crosstab(ratings, args.top)
    config = SheetConfig(k=args.factors, biases=args.biases, squash=args.squash, squash_range=args.squash_range,
                         seed=args.seed)
    sheet = Sheet(grid, config, device=args.device)
    say(f"{ratings.name} · {sheet.n_users}×{sheet.n_items} sheet, k={sheet.config.k} · {device_label(sheet.device)}")
    return sheet


def advance(sheet: Sheet, steps: int, every: int | None = None,
            report: Callable[[], None] | None = None) -> bool:
    """Run steps updates in chunks of at most CHUNK (a loss is kept per step only within a chunk), calling report
    every `every` steps and after the last; True when the sheet diverged and stopped early."""
    done = 0
    with stoppable(lambda: f"at step {sheet.steps}"):
        while done < steps:
            n = min(CHUNK, steps - done, every - done % every if every else CHUNK)
            result = sheet.step(n)
            done += result.steps
            if result.diverged:
                return True
            if report and (done == steps or (every and done % every == 0)):
                report()
    return False


def solve(sheet: Sheet):
    """Solve the sheet; Ctrl-C stops it, saying at which iteration."""
    at = [0]

    def note(report: Report) -> None:
        at[0] = report.figures["iterations"]

    with stoppable(lambda: f"at iteration {at[0]} of the solve"):
        return sheet.solve(task=Task(note))


def _prepare(args: argparse.Namespace) -> int:
    say(about(prepare(task=progress_task())))
    return 0


def _about(args: argparse.Namespace) -> int:
    say(about(ratings_of(args)))
    return 0


def _grid(args: argparse.Namespace) -> int:
    grid = top_crosstab(ratings_of(args), args.top)
    say(f"{grid.name}: top {len(grid.user_ids)} users × {len(grid.item_ids)} movies, "
        f"{int(grid.mask.sum())} ratings")
    say(frame(grid.ratings, grid.user_ids, grid.titles, ".1f"))
    return 0


def _solve(args: argparse.Namespace) -> int:
    sheet = sheet_of(args)
    result = solve(sheet)
    say(f"RMSE before {result.rmse_before:.6f} → after {result.rmse:.6f} "
        f"({result.iterations} iterations, {result.seconds * 1000:.0f} ms, "
        f"{result.ending}{': ' + result.why if result.why else ''})")
    snap = sheet.snapshot()
    say(frame(np.where(snap.mask, snap.predictions, np.nan), snap.user_ids, snap.titles, ".2f"))
    return 0


def _step(args: argparse.Namespace) -> int:
    sheet = sheet_of(args)
    settings = OptimizerSettings(args.optimizer, lr=args.lr, weight_decay=args.weight_decay)
    sheet.set_optimizer(settings)
    say(f"step 0: RMSE {sheet.rmse():.6f}")
    start = time.perf_counter()
    if advance(sheet, args.steps, args.every, lambda: say(f"step {sheet.steps}: RMSE {sheet.rmse():.6f}")):
        say(f"step {sheet.steps}: diverged — learning rate {args.lr} is too high; "
            f"kept the last good factors (RMSE {sheet.rmse():.6f})")
        return 1
    rate = sheet.steps / max(time.perf_counter() - start, 1e-9)
    say(f"final RMSE {sheet.rmse():.6f} after {sheet.steps} {settings.label} steps ({rate:,.0f} steps/s)")
    return 0
