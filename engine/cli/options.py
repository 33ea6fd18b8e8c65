"""Options and printing the command groups share."""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd


def progress(message: str, fraction: float | None = None) -> None:
    """Report data preparation on stderr, so stdout stays the result."""
    suffix = f" {fraction:4.0%}" if fraction is not None else ""
    print(f"{message}{suffix}", file=sys.stderr, flush=True)


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ratings", metavar="PATH", help="ratings file (default: MovieLens)")
    p.add_argument("--top", type=int, default=15, metavar="N", help="users and movies in the sheet (default 15)")


def model(p: argparse.ArgumentParser) -> None:
    common(p)
    p.add_argument("--factors", "-k", type=int, default=5, help="latent factors (default 5)")
    p.add_argument("--biases", action="store_true", help="add a bias per user and per movie")
    p.add_argument("--squash", action="store_true", help="sigmoid into the rating range")
    p.add_argument("--seed", type=int, default=42, help="seed of the random initial factors")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")


def frame(values: np.ndarray, sheet_ids: tuple, titles: tuple, fmt: str) -> str:
    columns = [t if len(t) <= 14 else t[:13] + "…" for t in titles]
    frame = pd.DataFrame(values, index=pd.Index(sheet_ids, name="user"), columns=columns)
    return frame.to_string(float_format=lambda v: format(v, fmt), na_rep="")
