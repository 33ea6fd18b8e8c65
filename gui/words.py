"""Words beside numbers, Qt-free: "1 epoch", "2 epochs"."""
from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and the word, singular for exactly one: plural(1, "epoch") == "1 epoch", plural(9447, "step") == "9,447 steps"."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"
