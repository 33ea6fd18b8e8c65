"""Small ratings files built on the fly, for tests that need no MovieLens."""
from pathlib import Path

import numpy as np


def write_ratings(path: Path, users: int, items: int, seed: int, keep: float) -> Path:
    """A user,item,rating CSV of users × items pairs, each kept with probability `keep`, ratings 1–5."""
    rng = np.random.default_rng(seed)
    rows = [f"{u},{i},{rng.integers(1, 6)}" for u in range(1, users + 1) for i in range(1, items + 1)
            if rng.random() < keep]
    path.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    return path
