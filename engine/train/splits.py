"""Which ratings validate: a seeded random 20% (`random:SEED`), MovieLens 100k's own u1…u5, or a file.

ml-100k's u1.test … u5.test are lines 1–20,000, 20,001–40,000, … of u.data in file order (its mku.sh takes
them with head and tail, then sorts), and u*.base the other 80,000; the prepared copy keeps u.data's order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from collabsheet.engine.data.ratings import Ratings

ML100K = ("MovieLens 100k", 100_000)  # the dataset's name and size where u1…u5 apply
FOLD = 20_000


@dataclass(frozen=True)
class SplitSpec:
    """A validation choice: kind "random" (with seed) or "u" (with fold 1–5)."""

    kind: str
    seed: int = 42
    fold: int = 0

    @property
    def label(self) -> str:
        """How runs are listed: random:42, u1, …"""
        return f"random:{self.seed}" if self.kind == "random" else f"u{self.fold}"


def parse_split(text: str, default_seed: int = 42) -> SplitSpec:
    """`random`, `random:SEED` or `u1`…`u5`; anything else is a one-line ValueError."""
    text = text.strip().lower()
    if text == "random":
        return SplitSpec("random", default_seed)
    if m := re.fullmatch(r"random:(-?\d+)", text):
        return SplitSpec("random", int(m.group(1)))
    if m := re.fullmatch(r"u([1-5])", text):
        return SplitSpec("u", fold=int(m.group(1)))
    raise ValueError(f"--split {text!r}: choose random, random:SEED, or u1 … u5 (MovieLens 100k's own splits)")


def fold(ratings: Ratings, spec: SplitSpec) -> tuple[Ratings, Ratings]:
    """(training, validation) ratings of MovieLens 100k's u-fold: u{i}.base and u{i}.test."""
    if (ratings.name, len(ratings.frame)) != ML100K:
        raise ValueError(f"--split {spec.label} is MovieLens 100k's own split; {ratings.name} "
                         f"({len(ratings.frame):,} ratings) has none: use random:SEED or --valid PATH")
    held = np.zeros(len(ratings.frame), dtype=bool)
    held[(spec.fold - 1) * FOLD:spec.fold * FOLD] = True
    frame = ratings.frame
    train = replace(ratings, frame=frame[~held].reset_index(drop=True), notes=())
    valid = replace(ratings, frame=frame[held].reset_index(drop=True), name=f"{ratings.name} u{spec.fold}.test",
                    notes=())
    return train, valid


def overlap(ratings: Ratings, valid: Ratings) -> int:
    """How many validation (user, item) pairs the training ratings also hold: a validation that was trained on."""
    left = ratings.frame[["user", "item"]]
    right = valid.frame[["user", "item"]].drop_duplicates()
    if left["user"].dtype != right["user"].dtype or left["item"].dtype != right["item"].dtype:
        left, right = left.astype(str), right.astype(str)
    return len(right.merge(left.drop_duplicates(), on=["user", "item"], how="inner"))
