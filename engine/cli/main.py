"""`collabsheet` on the command line: print, step and solve the sheet without a display.

Each command group is a module with `register(subparsers)`, which sets each command's `run`.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Sequence

from collabsheet.engine.cli import graddesc, race, runs, sheet, train, xlsx
from collabsheet.engine.cli.options import Parser, Stopped
from collabsheet.engine.cli.terminal import StdoutError, complain, guard_standard_streams
from collabsheet.engine.data.ratings import RatingsError

GROUPS = (sheet, xlsx, graddesc, race, train, runs)
SUBCOMMANDS = ("grid", "solve", "step", "about", "prepare", "export", "import", "graddesc", "race", "train", "recommend",
               "runs")
# How the command line names what a RatingsError's role refers to (the GUI names its own fields).
HINTS = {"user": "--user-col NAME or a 0-based position", "item": "--item-col NAME or a 0-based position",
         "rating": "--rating-col NAME or a 0-based position", "sep": "--sep", "top": "--top N",
         "timestamp": "--time-col NAME or a 0-based position", "genres": "--genres-file PATH, --genres-col NAME"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (no .part file is left behind)."""


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    top = Parser(prog="collabsheet", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return top


def run(args: argparse.Namespace) -> int:
    """Carry out one parsed command; raises RatingsError/ValueError for the user's mistakes."""
    return args.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: errors, Ctrl-C and SIGTERM become one line on stderr and a non-zero exit."""
    guard_standard_streams()  # before any file is opened: none may take the number of a closed stream
    with _sigterm_raises():
        try:
            args = parser().parse_args(argv)
            return run(args)
        except (RatingsError, ValueError) as error:
            role = getattr(error, "role", None)
            _fail(f"{error} ({HINTS[role]})" if role in HINTS else str(error))
            return 2
        except Stopped as stop:
            return _stopped(stop.signal, f" {stop}", stop.kept)
        except KeyboardInterrupt as stop:
            return _stopped(stop, "", "nothing written")
        except BrokenPipeError:  # the reader went away (`collabsheet grid | head`): not an error of ours
            _silence_stdout()
            return 141
        except StdoutError as error:
            _silence_stdout()
            _fail(str(error))
            return 1
        except RecursionError:
            _fail("the input nests too deeply to be read (a formula or structure thousands of levels deep)")
            return 2
        except MemoryError:
            _fail("ran out of memory; try smaller input or settings")
            return 1
        except OSError as error:  # a file system failure no command foresaw: one line, not a traceback
            name = f"{error.filename}: " if getattr(error, "filename", None) else ""
            _fail(f"{name}{error.strerror or error}")
            return 1
        except Exception as error:  # noqa: BLE001 - a bug of ours still reaches the user as one line
            text = str(error).strip().splitlines()
            _fail(f"internal error, please report it: {type(error).__name__}: {text[0] if text else ''}"[:300])
            return 1


def _fail(message: str) -> None:
    complain(message)


def _stopped(signal_: KeyboardInterrupt, where: str, kept: str) -> int:
    terminated = isinstance(signal_, Terminated)
    _fail(f"{'terminated' if terminated else 'interrupted'}{where}; {kept}")
    return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


class _sigterm_raises:
    """While a command runs, SIGTERM raises Terminated (only the main thread can set a handler)."""

    def __enter__(self) -> None:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, _terminate)

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _terminate(signum, frame) -> None:
    raise Terminated()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (a test capturing it) or already closed
        pass
