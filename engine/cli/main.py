"""`collabsheet` on the command line: print, step and solve the sheet without a display.

Each command group is a module with `register(subparsers)`, which sets each command's `run`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from engine.cli import sheet, train, xlsx
from engine.data.ratings import RatingsError

GROUPS = (sheet, xlsx, train)
SUBCOMMANDS = ("grid", "solve", "step", "about", "prepare", "export", "import", "train", "recommend")


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    top = argparse.ArgumentParser(prog="collabsheet", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return top


def run(args: argparse.Namespace) -> int:
    """Carry out one parsed command; raises RatingsError/ValueError for the user's mistakes."""
    return args.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: errors become one line on stderr and a non-zero exit."""
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (RatingsError, ValueError) as error:
        print(f"collabsheet: {error}", file=sys.stderr)
        return 2
