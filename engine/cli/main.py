"""`collabsheet` on the command line: print, step and solve the sheet without a display."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from engine.data.crosstab import top_crosstab
from engine.data.ratings import Ratings, RatingsError
from engine.device import device_label
from engine.data.movielens import about, default_ratings, prepare
from engine.config import OPTIMIZERS, OptimizerSettings
from engine.config import SheetConfig
from engine.sheet.sheet import Sheet
from engine.xlsx import export_xlsx, import_xlsx

SUBCOMMANDS = ("grid", "solve", "step", "about", "prepare", "export", "import")


def _progress(message: str, fraction: float | None = None) -> None:
    """Report data preparation on stderr, so stdout stays the result."""
    suffix = f" {fraction:4.0%}" if fraction is not None else ""
    print(f"{message}{suffix}", file=sys.stderr, flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ratings", metavar="PATH", help="ratings file (default: MovieLens)")
    p.add_argument("--top", type=int, default=15, metavar="N", help="users and movies in the sheet (default 15)")


def _model(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--factors", "-k", type=int, default=5, help="latent factors (default 5)")
    p.add_argument("--biases", action="store_true", help="add a bias per user and per movie")
    p.add_argument("--squash", action="store_true", help="sigmoid into the rating range")
    p.add_argument("--seed", type=int, default=42, help="seed of the random initial factors")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    top = argparse.ArgumentParser(prog="collabsheet", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    _common(sub.add_parser("grid", help="print the crosstab of the top users and movies"))
    _model(sub.add_parser("solve", help="solve the sheet like Excel's Solver and print the predictions"))
    step = sub.add_parser("step", help="run gradient descent and print the loss")
    _model(step)
    step.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    step.add_argument("--lr", type=float, default=0.05, help="learning rate")
    step.add_argument("--steps", type=int, default=500)
    step.add_argument("--every", type=int, default=100, help="print the loss every N steps")
    step.add_argument("--weight-decay", type=float, default=0.0)
    sub.add_parser("about", help="the dataset: name, size, licence").add_argument("--ratings", metavar="PATH")
    sub.add_parser("prepare", help="download or unpack MovieLens into the cache")
    _xlsx_commands(sub)
    return top


def _xlsx_commands(sub) -> None:
    """`export OUT.xlsx` and `import IN.xlsx`: the sheet to Excel and back."""
    export = sub.add_parser("export", help="write the sheet as an Excel workbook, ready for Solver")
    export.add_argument("out", metavar="OUT.xlsx")
    _model(export)
    first = export.add_mutually_exclusive_group()
    first.add_argument("--solve", action="store_true", help="solve the sheet before writing it")
    first.add_argument("--steps", type=int, default=0, metavar="N", help="run N gradient-descent steps first")
    export.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    export.add_argument("--lr", type=float, default=0.05, help="learning rate")
    export.add_argument("--weight-decay", type=float, default=0.0)
    imp = sub.add_parser("import", help="read a workbook back and compare its loss with the engine's")
    imp.add_argument("path", metavar="IN.xlsx")
    imp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")


def _import(args: argparse.Namespace) -> int:
    """Read a workbook, rebuild the sheet, and print the workbook's loss beside the recomputed one."""
    book = import_xlsx(args.path)
    sheet = book.to_sheet(args.device)
    config = sheet.config
    print(f"{Path(args.path).name}: {book.grid.name or 'ratings'} · {sheet.n_users}×{sheet.n_items} sheet, "
          f"k={config.k}{', biases' if config.biases else ''}{', squashed' if config.squash else ''} · "
          f"exported {book.exported} at step {book.step}")
    for note in book.notes:
        print(f"note: {note}")
    ours = sheet.rmse()
    if book.workbook_loss is None:
        print("workbook loss (RMSE): not calculated yet (open the workbook in Excel or LibreOffice and save it)")
    else:
        print(f"workbook loss (RMSE): {book.workbook_loss:.9f}")
    print(f"engine loss (RMSE):   {ours:.9f} recomputed from the workbook's ratings and factors "
          f"({device_label(sheet.device)})")
    if book.workbook_loss is not None:
        print(f"difference:           {book.workbook_loss - ours:+.3e}")
    return 0


def _export(args: argparse.Namespace, sheet: Sheet) -> int:
    """Optionally solve or step the sheet, then write it as a workbook."""
    if args.solve:
        sheet.solve()
    elif args.steps:
        sheet.set_optimizer(OptimizerSettings(args.optimizer, lr=args.lr, weight_decay=args.weight_decay))
        if sheet.step(args.steps).diverged:
            print(f"diverged — learning rate {args.lr} is too high; writing the last good factors")
    export_xlsx(sheet.snapshot(), args.out)
    done = "solved" if args.solve else f"after {sheet.steps} steps" if sheet.steps else "initial factors"
    print(f"wrote {args.out}: RMSE {sheet.rmse():.9f} ({done})")
    return 0


def _frame(values: np.ndarray, sheet_ids: tuple, titles: tuple, fmt: str) -> str:
    columns = [t if len(t) <= 14 else t[:13] + "…" for t in titles]
    frame = pd.DataFrame(values, index=pd.Index(sheet_ids, name="user"), columns=columns)
    return frame.to_string(float_format=lambda v: format(v, fmt), na_rep="")


def _sheet(args: argparse.Namespace, ratings: Ratings) -> Sheet:
    grid = top_crosstab(ratings, args.top)
    config = SheetConfig(k=args.factors, biases=args.biases, squash=args.squash, seed=args.seed)
    return Sheet(grid, config, device=args.device)


def run(args: argparse.Namespace) -> int:
    """Carry out one parsed command; raises RatingsError/ValueError for the user's mistakes."""
    if args.command == "prepare":
        ratings = prepare(progress=_progress)
        print(about(ratings))
        return 0
    if args.command == "import":
        return _import(args)
    ratings = default_ratings(getattr(args, "ratings", None), progress=_progress)
    if args.command == "about":
        print(about(ratings))
        return 0
    if args.command == "grid":
        grid = top_crosstab(ratings, args.top)
        print(f"{grid.name}: top {len(grid.user_ids)} users × {len(grid.item_ids)} movies, "
              f"{int(grid.mask.sum())} ratings")
        print(_frame(grid.ratings, grid.user_ids, grid.titles, ".1f"))
        return 0
    sheet = _sheet(args, ratings)
    print(f"{ratings.name} · {sheet.n_users}×{sheet.n_items} sheet, k={sheet.config.k} · {device_label(sheet.device)}")
    if args.command == "export":
        return _export(args, sheet)
    if args.command == "solve":
        result = sheet.solve()
        print(f"RMSE before {result.rmse_before:.6f} → after {result.rmse:.6f} "
              f"({result.iterations} iterations, {result.seconds * 1000:.0f} ms, "
              f"{'converged' if result.converged else 'not converged'})")
        snap = sheet.snapshot()
        print(_frame(np.where(snap.mask, snap.predictions, np.nan), snap.user_ids, snap.titles, ".2f"))
        return 0
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: errors become one line on stderr and a non-zero exit."""
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (RatingsError, ValueError) as error:
        print(f"collabsheet: {error}", file=sys.stderr)
        return 2
