"""Options, their ranges, and printing, shared by the command groups."""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import pandas as pd

# the commands' one way to print
from collabsheet.engine.cli.terminal import complain, printable, progress, progress_task, say  # noqa: F401
from collabsheet.engine.config import DEFAULT_TOP, MAX_K, MAX_TOP, MIN_K, MIN_TOP, SQUASH_RANGES

MAX_COUNT = 2**53 - 1  # steps and seeds are stored in the workbook as numbers (doubles): exact up to here


class Parser(argparse.ArgumentParser):
    """argparse, answering a bad command line in one line on stderr (exit 2) instead of a usage block."""

    def error(self, message: str) -> None:
        complain(f"{message} (see {self.prog} -h)", prefix=self.prog)
        raise SystemExit(2)


# --- what each option accepts (argparse type functions) ---------------------------------------

def whole(low: int, high: int = MAX_COUNT) -> Callable[[str], int]:
    """A whole number in [low, high]; 1e9 and 1_000 are accepted too."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            if not number.is_integer():
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            value = int(number)
        if not low <= value <= high:
            bounds = f"between {low:,} and {high:,}" if high < MAX_COUNT else \
                f"at least {low:,}" if value < low else f"at most {high:,}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    return parse


def number(low: float, low_included: bool, high: float = float("inf")) -> Callable[[str], float]:
    """A finite number above low (or at least low), at most high."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not np.isfinite(value) or value < low or (value == low and not low_included) or value > high:
            bound = f"at least {low:g}" if low_included else f"above {low:g}"
            bound += f" and at most {high:g}" if high < float("inf") else ""
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
        return value
    return parse


def device(text: str) -> str:
    """cpu, cuda or cuda:N, checked against what torch sees here."""
    import torch  # only when --device is given: torch takes a second or two to import

    if text == "auto":
        return text
    try:
        chosen = torch.device(text)
    except (RuntimeError, ValueError):
        chosen = None
    if chosen is None or chosen.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda or cuda:N")
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError("CUDA was requested but torch sees no CUDA GPU; use --device cpu")
        if chosen.index is not None and chosen.index >= count:
            raise argparse.ArgumentTypeError(f"there is no {text}; torch sees {count} CUDA GPU(s), cuda:0 to "
                                             f"cuda:{count - 1}")
    return text


def column(text: str) -> str | int:
    """A column's name, or its 0-based position."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a column name or a 0-based position, got nothing")
    return int(text) if text.isdigit() else text


SEPARATORS = {"tab": "\t", "\\t": "\t", "space": r"\s+", "spaces": r"\s+", "whitespace": r"\s+", r"\s+": r"\s+"}


def separator(text: str) -> str:
    """One character, '::', or tab / whitespace by name."""
    sep = SEPARATORS.get(text.lower(), text)
    if len(sep) != 1 and sep not in ("::", r"\s+"):
        raise argparse.ArgumentTypeError(f"expected one character (such as , ; | ), '::', 'tab' or 'whitespace', "
                                         f"got {text!r}")
    return sep


def file_name(text: str) -> str:
    """A file's name: an empty one is a mistake (a variable that was never set), not a request for the default."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty one")
    return text


def xlsx_path(text: str) -> str:
    """A file name ending in .xlsx: what export writes."""
    if not text.lower().endswith(".xlsx"):
        raise argparse.ArgumentTypeError(f"{text!r}: a workbook is written as .xlsx; end the file name with .xlsx")
    return text


# --- option groups ----------------------------------------------------------------------------

def source(p: argparse.ArgumentParser) -> None:
    """Which ratings to read, and how."""
    p.add_argument("--ratings", type=file_name, metavar="PATH",
                   help="ratings file, or - for standard input (default: MovieLens)")
    p.add_argument("--user-col", type=column, metavar="NAME", help="the column of user ids (a name or 0-based "
                                                                   "position; default: detected)")
    p.add_argument("--item-col", type=column, metavar="NAME", help="the column of item ids")
    p.add_argument("--rating-col", type=column, metavar="NAME", help="the column of ratings")
    p.add_argument("--sep", type=separator, metavar="SEP", help="the separator: one character, '::', 'tab' or "
                                                                "'whitespace' (default: detected)")


def common(p: argparse.ArgumentParser) -> None:
    source(p)
    p.add_argument("--top", type=whole(MIN_TOP, MAX_TOP), default=DEFAULT_TOP, metavar="N",
                   help=f"users and movies in the sheet ({MIN_TOP}-{MAX_TOP}, default {DEFAULT_TOP})")


def device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", type=device, default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")


def model(p: argparse.ArgumentParser) -> None:
    common(p)
    p.add_argument("--factors", "-k", type=whole(MIN_K, MAX_K), default=5,
                   help=f"latent factors ({MIN_K}-{MAX_K}, default 5)")
    p.add_argument("--biases", action="store_true", help="add a bias per user and per movie")
    p.add_argument("--squash", action="store_true", help="sigmoid into the rating range")
    p.add_argument("--squash-range", choices=tuple(SQUASH_RANGES), default="data",
                   help="with --squash: the ratings' (min, max) as the lesson (data, the default), or 0 to the top "
                        "rating + 10%% as the later course (wide: Solve then has a bounded minimum)")
    p.add_argument("--seed", type=whole(0), default=42, help=f"seed of the random initial factors (0-{MAX_COUNT:,})")
    device_option(p)


def optimizer(p: argparse.ArgumentParser) -> None:
    from collabsheet.engine.config import OPTIMIZERS

    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--lr", type=number(0.0, False), default=0.05, help="learning rate (above 0)")
    p.add_argument("--weight-decay", type=number(0.0, True), default=0.0, help="L2 weight decay (at least 0)")


# --- printing ---------------------------------------------------------------------------------

def frame(values: np.ndarray, sheet_ids: tuple, titles: tuple, fmt: str) -> str:
    """A grid as a table: user ids down, titles across, control characters in either escaped."""
    titles = [printable(t) for t in titles]
    columns = [t if len(t) <= 14 else t[:13] + "…" for t in titles]
    ids = [printable(i) if isinstance(i, str) else i for i in sheet_ids]
    frame = pd.DataFrame(values, index=pd.Index(ids, name="user"), columns=columns)
    return frame.to_string(float_format=lambda v: format(v, fmt), na_rep="")


# --- stopping -----------------------------------------------------------------------------------

class Stopped(Exception):
    """A command stopped by Ctrl-C or SIGTERM; str(error) says where, e.g. 'at step 1200'."""

    def __init__(self, where: str, signal: KeyboardInterrupt, kept: str = "nothing written") -> None:
        super().__init__(where)
        self.signal, self.kept = signal, kept  # kept: what was written before the stop, said after it


@contextmanager
def stoppable(where: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C (or SIGTERM) inside the block into Stopped, saying where the work was."""
    try:
        yield
    except KeyboardInterrupt as signal:
        raise Stopped(where(), signal) from None
