"""`graddesc`: the lesson's gradient-descent workbook on the command line, epoch by epoch."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from collabsheet.engine.graddesc import AVERAGES, RULES, VARIANTS, GradDesc, Settings, lesson_data, read_csv
from collabsheet.engine.graddesc.settings import MAX_ROWS, RESET_LR
from collabsheet.engine.xlsx.graddesc import export_graddesc, read_graddesc

CSV_HEADER = ("x", "y", "b", "a", "pred", "de_db", "de_da", "new_b", "new_a")
MAX_EPOCHS = 1_000_000


def _ranged(kind, low=None, high=None, low_open=False, what="a number"):
    """An argparse type: `kind` within [low, high] (or (low, high] when low_open), finite, else one clear line."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"should be {what}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"should be a finite number, got {text!r}")
        if (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"should be {what}, got {text!r}")
        return value
    return parse


def register(sub) -> None:
    """Add `graddesc` to the parser's subparsers."""
    p = sub.add_parser("graddesc", help="the gradient-descent workbook: y = a·x + b learned row by row")
    p.error = lambda message: _fail(p, message)  # one line, not argparse's usage block
    source = p.add_mutually_exclusive_group()
    source.add_argument("--workbook", metavar="PATH", help="read a sheet of a workbook laid out like graddesc.xlsm")
    source.add_argument("--rows", type=_ranged(int, 1, MAX_ROWS, what=f"a whole number from 1 to {MAX_ROWS:,}"),
                        metavar="N", help="rows of the lesson's data (default 29)")
    source.add_argument("--csv", metavar="PATH", help="x, y rows from a CSV with columns x and y")
    p.add_argument("--sheet", metavar="NAME", help="the workbook's sheet (with --workbook)")
    p.add_argument("--reset", action="store_true",
                   help="with --workbook: start from the sheet's reset macro (a = b = 1, warm averages, its lr), "
                        "not from the saved top cells")
    p.add_argument("--seed", type=_ranged(int, 0, 2**63 - 1, what="a whole number ≥ 0"), metavar="S",
                   help="seed of the lesson's data (default 42)")
    p.add_argument("--noise", type=_ranged(float, 0, what="a number ≥ 0"), metavar="SD",
                   help="standard deviation of the noise added to y (default 0)")
    p.add_argument("--true-a", type=_ranged(float), metavar="A", help="the slope the data is made with (default 2)")
    p.add_argument("--true-b", type=_ranged(float), metavar="B",
                   help="the intercept the data is made with (default 30)")
    p.add_argument("--optimizer", choices=RULES, help="the rule (default sgd; with --workbook: the sheet's)")
    p.add_argument("--variant", choices=VARIANTS, default="lesson",
                   help="lesson: the workbook's formulas; library: bias correction and ε as torch.optim")
    p.add_argument("--lr", type=_ranged(float, 0, low_open=True, what="a positive number"),
                   help="learning rate (default: the lesson's sheet's)")
    p.add_argument("--epochs", type=_ranged(int, 1, MAX_EPOCHS, what=f"a whole number from 1 to {MAX_EPOCHS:,}"),
                   default=5, metavar="E", help="epochs to run (default 5, as the workbook's run macro)")
    p.add_argument("--rows-csv", metavar="OUT", help="write the last epoch's rows as CSV")
    p.add_argument("--export", metavar="OUT.xlsx", help="write every optimizer's sheet with the lesson's formulas")
    p.set_defaults(run=_run)


def _fail(p: argparse.ArgumentParser, message: str):
    print(f"{p.prog}: {message}", file=sys.stderr)
    sys.exit(2)


def _check(args: argparse.Namespace) -> None:
    """What argparse cannot say about combinations, as one-line ValueErrors."""
    if args.workbook and not args.sheet:
        raise ValueError("--workbook needs --sheet NAME (the optimizer's sheet)")
    if args.reset and not args.workbook:
        raise ValueError("--reset starts a --workbook sheet from its reset macro; without one every run starts there")
    if args.sheet and not args.workbook:
        raise ValueError("--sheet names a sheet of --workbook PATH")
    made = [o for o, v in (("--seed", args.seed), ("--noise", args.noise), ("--true-a", args.true_a),
                           ("--true-b", args.true_b)) if v is not None]
    if made and (args.workbook or args.csv):
        other = "--workbook" if args.workbook else "--csv"
        raise ValueError(f"{made[0]} makes the lesson's data; it does not apply to {other}")
    if args.export and args.variant == "library":
        raise ValueError("--export writes the lesson's formulas; drop --variant library")


def _run(args: argparse.Namespace) -> int:
    _check(args)
    book = None
    if args.workbook:
        book = read_graddesc(args.workbook, args.sheet, args.optimizer)
        data, rule = book.data, book.rule
        settings, carry = book.settings.but(variant=args.variant), book.carry.copy()
        if args.reset:  # the macro's own lr where it writes one, the sheet's otherwise (--lr overrides both)
            settings, carry = settings.but(lr=RESET_LR.get(rule, carry.lr)), None
        if args.lr:
            settings = settings.but(lr=args.lr)
            if carry is not None:
                carry.lr = args.lr
        run = GradDesc(data, settings, carry)
        print(f"{book.book} · sheet {book.sheet!r} ({rule}): {len(data)} rows, b = {run.carry.p[0]:.10g}, "
              f"a = {run.carry.p[1]:.10g}" + (" (its reset macro's state)" if args.reset else ""))
    else:
        data = read_csv(args.csv) if args.csv else lesson_data(
            args.rows or 29, 42 if args.seed is None else args.seed, 2.0 if args.true_a is None else args.true_a,
            30.0 if args.true_b is None else args.true_b, args.noise or 0.0)
        rule = args.optimizer or "sgd"
        changes = {"lr": args.lr} if args.lr else {}
        settings = Settings.lesson(rule, args.variant, **changes)
        run = GradDesc(data, settings)
        print(f"data: {data.name}" if not args.csv else f"data: {data.name}, {len(data)} rows")
    print(_describe(settings, run.carry.lr))
    print(f"{'epoch':>5}  {'a':>18}  {'b':>18}  {'rmse':>18}")
    print(f"{'start':>5}  {run.carry.p[1]:18.12g}  {run.carry.p[0]:18.12g}")
    last_rows = run.rows()
    for _ in range(args.epochs):
        value = run.run_epoch()
        if value is None:
            print(f"diverged in epoch {run.epoch + 1}, row {run.row + 1}: a number overflowed; "
                  f"the learning rate {settings.lr:g} is too high")
            break
        last_rows = run.rows()
        lr = "" if run.carry.lr == settings.lr else f"   (lr now {run.carry.lr:g})"
        print(f"{run.epoch:>5}  {run.carry.p[1]:18.12g}  {run.carry.p[0]:18.12g}  {value:18.12g}{lr}")
        if book is not None and run.epoch == 1 and not (args.lr or args.reset or args.variant == "library"):
            _compare(book)
    if args.rows_csv:
        _write_rows(last_rows, rule, args.rows_csv)
        print(f"wrote {args.rows_csv}: the last epoch's {len(last_rows)} rows")
    if args.export:
        _export(run, args)
    return 1 if run.diverged else 0


def _describe(h: Settings, lr_now: float) -> str:
    lr = f"lr {h.lr:g}" + (f" (the sheet's, annealed: {lr_now:g})" if lr_now != h.lr else "")
    parts = [h.label, "lesson formulas" if h.variant == "lesson" else "torch.optim's formulas", lr]
    if "m" in AVERAGES[h.rule]:
        parts.append(f"β1 {h.beta1:g}" if "v" in AVERAGES[h.rule] else f"β {h.beta1:g}")
    if "v" in AVERAGES[h.rule]:
        parts.append(f"β2 {h.beta2:g}" if "m" in AVERAGES[h.rule] else f"β {h.beta2:g}")
    if h.rule in ("adamw", "adam_l2"):
        parts.append(f"weight decay {h.weight_decay:g}")
    if h.variant == "library" and h.rule != "sgd" and h.rule != "momentum":
        parts.append(f"ε {h.eps:g}")
    return " · ".join(parts)


def _compare(book) -> None:
    gap = book.difference()
    if gap is None:
        print("workbook: not calculated yet (open it in Excel or LibreOffice and save it to compare)")
    else:
        print(f"workbook vs engine, epoch 1: largest difference {gap[0]:.2e} (at {gap[1]}; relative above 1)")


def _write_rows(rows: np.ndarray, rule: str, out: str) -> None:
    averages = [f"{kind}_{p}" for kind in AVERAGES[rule] for p in ("b", "a")]
    columns = list(CSV_HEADER) + averages
    frame = pd.DataFrame({c: rows[c] for c in columns}, columns=columns)
    try:
        frame.to_csv(out, index=False)  # floats as repr: the shortest text that reads back exactly
    except OSError as exc:
        raise ValueError(f"{Path(out).name}: cannot be written ({exc.strerror or exc})") from None


def _export(chosen: GradDesc, args: argparse.Namespace) -> None:
    """The chosen run's sheet beside every other rule's, run with the lesson's settings on the same data."""
    runs = []
    for rule in RULES:
        if rule == chosen.settings.rule:
            runs.append(chosen)
            continue
        run = GradDesc(chosen.data, Settings.lesson(rule))
        run.run(args.epochs)
        runs.append(run)
    export_graddesc(runs, args.export)
    print(f"wrote {args.export}: a sheet per optimizer ({', '.join(RULES)}), each showing its last epoch")
