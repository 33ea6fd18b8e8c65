"""Where everything sits on a gradient-descent sheet, as the lesson's graddesc.xlsm lays it out.

basic (SGD): b, a in C1:C2, lr in F1; header row 3; rows from 4: A x, B y, C b, D a, E y_pred, F err²,
G/H the b nudge and its estimate, I/J the a nudge and its estimate, K de/db, L de/da, M new a, N new b.
The others: b, a in C1:C2, lr in D2, β in J1 with 1 − β in K1 (β2 in L1, 1 − β2 in M1 for Adam); row 3
holds the header in A:I and the averages carried from the previous epoch in J3, K3 (L3, M3); rows from
4: A x, B y, C b, D a, E pred, F de/db, G de/da, H new b, I new a, then the averages J, K (L, M).
Ours adds the weight decay in N1 (adamw, adam_l2) and adam_ann's best √L + √M in N3; "rmse" sits
under the rows (label in E, value in F).
"""
from __future__ import annotations

from dataclasses import dataclass

from collabsheet.engine.graddesc.settings import AVERAGES, RULES

HEADER_ROW, FIRST = 3, 4  # the header row, and the first data row
B_CELL, A_CELL = (1, 3), (2, 3)  # C1, C2: the starting intercept b and slope a
DATA_SHEET = "data"
SHEETS = {"sgd": "basic", "momentum": "momentum", "rmsprop": "rmsprop", "adam": "adam", "adam_ann": "adam_ann",
          "adamw": "adamw", "adam_l2": "adam_l2"}  # the sheet each rule is written to
BASIC_HEADER = ("x", "y", "b", "a", "y_pred", "err^2", "errb1", "est de/db", "erra1", "est de/da", "de/db",
                "de/da", "new a", "new b")
HEADER = ("x", "y", "b", "a", "pred", "de/db", "de/da", "new b", "new a")
# Which row field each column holds (G and I, the nudged errors, are not row fields).
BASIC_COLUMNS = {"x": 1, "y": 2, "b": 3, "a": 4, "pred": 5, "err2": 6, "est_db": 8, "est_da": 10, "de_db": 11,
                 "de_da": 12, "new_a": 13, "new_b": 14}
COLUMNS = {"x": 1, "y": 2, "b": 3, "a": 4, "pred": 5, "de_db": 6, "de_da": 7, "new_b": 8, "new_a": 9}


def rule_of_sheet(name: str) -> str | None:
    """The rule a sheet's name says it holds ("basic SGD", "Adam annealing", "adam_l2" …), or None."""
    key = "".join(ch for ch in name.lower() if ch.isalnum())
    if "adam" in key:
        for marker, rule in (("ann", "adam_ann"), ("l2", "adam_l2"), ("adamw", "adamw")):
            if marker in key:
                return rule
        return "adam"
    for marker, rule in (("rmsprop", "rmsprop"), ("momentum", "momentum"), ("basic", "sgd"), ("sgd", "sgd")):
        if marker in key:
            return rule
    return None


@dataclass(frozen=True)
class Layout:
    """The cells of one rule's sheet with n data rows; cells are (row, column), 1-based."""

    rule: str
    n: int

    def __post_init__(self) -> None:
        assert self.rule in RULES, self.rule

    @property
    def basic(self) -> bool:
        return self.rule == "sgd"

    @property
    def last(self) -> int:
        """The last data row."""
        return FIRST + self.n - 1

    @property
    def lr_cell(self) -> tuple[int, int]:
        return (1, 6) if self.basic else (2, 4)

    @property
    def betas(self) -> dict[str, tuple[int, int]]:
        """Each β's cell (its 1 − β sits right of it) by its Settings field."""
        if self.rule == "momentum":
            return {"beta1": (1, 10)}
        if self.rule == "rmsprop":
            return {"beta2": (1, 10)}
        return {} if self.basic else {"beta1": (1, 10), "beta2": (1, 12)}

    @property
    def wd_cell(self) -> tuple[int, int] | None:
        return (1, 14) if self.rule in ("adamw", "adam_l2") else None

    @property
    def best_cell(self) -> tuple[int, int] | None:
        return (HEADER_ROW, 14) if self.rule == "adam_ann" else None

    @property
    def averages(self) -> dict[str, int]:
        """The carried averages' columns by row field: J, K (and L, M), in the order the sheet has them."""
        fields = [f"{kind}_{p}" for kind in AVERAGES[self.rule] for p in ("b", "a")]
        return {field: 10 + i for i, field in enumerate(fields)}

    @property
    def columns(self) -> dict[str, int]:
        """Every row field the sheet shows, by column."""
        return dict(BASIC_COLUMNS) if self.basic else {**COLUMNS, **self.averages}

    @property
    def header(self) -> tuple[str, ...]:
        return BASIC_HEADER if self.basic else HEADER

    @property
    def rmse_cell(self) -> tuple[int, int]:
        return (self.last + 1, 6)
