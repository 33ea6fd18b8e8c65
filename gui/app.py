"""`collabsheet`: the window, or with a subcommand (grid, solve, step, …) the command line without Qt."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from collabsheet.engine.config import DEFAULT_TOP, MAX_TOP, MIN_TOP


def _cli_args(args: list[str]) -> list[str] | None:
    """collabsheet.engine.cli.main's arguments when they start with a word (a subcommand, or an unknown one the CLI reports)."""
    if args and not args[0].startswith("-"):
        return args
    if len(args) > 1 and args[0] in ("-h", "--help") and not args[1].startswith("-"):
        return [args[1], args[0], *args[2:]]  # `-h solve` means `solve -h`
    return None


def _subcommands(args: list[str]) -> Sequence[str]:
    if any(a in ("-h", "--help") for a in args):
        from collabsheet.engine.cli.main import SUBCOMMANDS

        return SUBCOMMANDS
    return ()


def parser(subcommands: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The window's command line."""
    p = argparse.ArgumentParser(
        prog="collabsheet",
        description="fast.ai's collaborative-filtering spreadsheet as a live desktop instrument.",
        epilog=f"Without a window: collabsheet {{{','.join(subcommands)}}} … (collabsheet SUBCOMMAND -h for each)")
    p.add_argument("--ratings", metavar="PATH", help="ratings file to open (default: MovieLens)")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="N",
                   help=f"users and movies in the sheet (default {DEFAULT_TOP})")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window, or hand a subcommand to engine.cli (which never imports Qt)."""
    args = list(sys.argv[1:] if argv is None else argv)
    cli_args = _cli_args(args)
    if cli_args is not None:
        from collabsheet.engine.cli import main as cli  # only here: engine.cli pulls in the Excel writer, which the window loads later

        return cli.main(cli_args)
    try:
        options = parser(_subcommands(args)).parse_args(args)
    except SystemExit as done:  # --help or a usage error: argparse has printed it
        return int(done.code or 0)
    try:
        if options.device is not None:  # engine.device imports torch: ~2 s the window need not wait for by default
            from collabsheet.engine.device import pick_device

            pick_device(options.device)
        if not MIN_TOP <= options.top <= MAX_TOP:
            raise ValueError(f"--top must be between {MIN_TOP} and {MAX_TOP}, got {options.top}")
    except (ValueError, RuntimeError) as error:
        print(f"collabsheet: {error}", file=sys.stderr)
        return 2
    app, _window = open_window(options)
    return app.exec()


def open_window(options: argparse.Namespace):
    """The QApplication and the main window, shown (bench/startup.py times this from the process's start)."""
    from PySide6.QtWidgets import QApplication

    from collabsheet.gui.main_window import QMainSheetWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "collabsheet"])
    app.setApplicationName("collabsheet")
    window = QMainSheetWindow(path=options.ratings, top=options.top, device=options.device)
    window.show()
    return app, window


def run() -> None:
    """The `collabsheet` program: main(), then exit at once.

    Everything the app writes is complete and closed by then (exports are saved atomically), so the
    interpreter's seconds-long teardown of torch and Qt would only keep a closed window's process alive."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
