"""`collabsheet runs`: the recorded training runs, listed, compared epoch by epoch, exported or deleted."""
from __future__ import annotations

import argparse
import io

from collabsheet.engine.cli.options import say
from collabsheet.engine.train import runs as db
from collabsheet.engine.train.recipes import MODELS


def register(sub) -> None:
    """Add `runs` to the parser's subparsers."""
    p = sub.add_parser("runs", help="list and compare the recorded training runs",
                       description="Every `collabsheet train` run is kept in a SQLite database in the user data "
                                   "folder; list them, compare some epoch by epoch, export or delete.")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="runs to compare epoch by epoch")
    p.add_argument("--sort", choices=db.SORTS, default="id", help="id (newest first), rmse (best first), seconds")
    p.add_argument("--model", choices=MODELS)
    p.add_argument("--split", metavar="LABEL", help="only runs on this split: random:42, u1, …")
    p.add_argument("--dataset", metavar="TEXT", help="only runs whose dataset's name contains TEXT")
    p.add_argument("--filter", metavar="TEXT", help="only runs with every word of TEXT in their recipe, model, "
                                                     "dataset, split, settings, status or device (as the Training "
                                                     "tab's experiments table filters)")
    p.add_argument("-n", type=int, default=20, help="how many to list (default 20; 0: all)")
    p.add_argument("--csv", action="store_true", help="the runs as CSV, on standard output")
    p.add_argument("--delete", action="store_true", help="delete the runs named by ID")
    p.add_argument("--db", metavar="PATH", help=argparse.SUPPRESS)
    p.set_defaults(run=_runs)


def _rmse(x: float | None) -> str:
    return f"{x:.4f}" if x is not None else "—"


def _runs(args: argparse.Namespace) -> int:
    if args.delete:
        if not args.ids:
            raise ValueError("--delete needs the ids of the runs to delete")
        n = db.delete(args.ids, args.db)
        say(f"deleted {n} run{'s' * (n != 1)} from {db.database(args.db)}")
        return 0
    if args.ids:
        return _compare(args)
    if args.n < 0:
        raise ValueError(f"-n {args.n}: give how many runs to list, 0 for all")
    rows = db.runs(args.db, sort=args.sort, model=args.model, split=args.split, dataset=args.dataset,
                   text=args.filter, limit=args.n or None)
    if args.csv:
        text = io.StringIO()
        db.write_csv(rows, text)
        say(text.getvalue().rstrip("\n"))  # through the one escaping writer, as every line printed
        return 0
    if not rows:
        chosen = args.model or args.split or args.dataset or args.filter
        say(f"no runs match in {db.database(args.db)}" if chosen else
            f"no runs recorded yet in {db.database(args.db)}; `collabsheet train` records each run")
        return 0
    say(f"{'id':>4}  {'RMSE':>6}  {'time':>7}  {'split':<10} {'recipe':<16} {'status':<8} settings")
    for r in rows:
        say(f"{r.id:>4}  {_rmse(r.valid_rmse):>6}  {r.seconds:6.1f}s  {r.split:<10} {r.recipe[:16]:<16} "
              f"{r.status:<8} {r.summary} · {r.dataset}")
    return 0


def _value(v: object) -> str:
    """A setting as `collabsheet train` takes it: layers as 100,50, floats short, none as a dash."""
    if isinstance(v, list):
        return ",".join(map(str, v))
    if v is None:
        return "—"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _compare(args: argparse.Namespace) -> int:
    found = {r.id: r for r in db.runs(args.db, limit=None)}
    curves = db.curves(args.ids, args.db)
    for i in args.ids:
        r = found[i]
        say(f"run {i}: {r.recipe} · {r.summary} · {r.dataset} · {r.split} · RMSE {_rmse(r.valid_rmse)} "
              f"in {r.seconds:.1f} s ({r.status})")
    if len(args.ids) > 1:
        differ = db.differences([found[i] for i in args.ids])
        say("they differ in:" if differ else "they differ in no recorded setting")
        for name, values in differ.items():
            say(f"  {name:<14} " + " | ".join(_value(v) for v in values))
    longest = max((len(c) for c in curves.values()), default=0)
    say("epoch  " + "  ".join(f"{'run ' + str(i):>10}" for i in args.ids) + "   (validation RMSE)")
    for e in range(longest):
        cells = [f"{_rmse(c[e][2]) if e < len(c) else '':>10}" for c in curves.values()]
        say(f"{e + 1:>5}  " + "  ".join(cells))
    best = min((i for i in args.ids if found[i].valid_rmse is not None), key=lambda i: found[i].valid_rmse,
               default=None)
    if best is not None:
        say(f"best: run {best} (RMSE {found[best].valid_rmse:.4f})")
    return 0
