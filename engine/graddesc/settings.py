"""The gradient-descent workbook's rules and their settings, with the lesson's values; no numpy, no torch.

The GUI imports these names (never a copy) to build its controls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from collabsheet.engine.optimizers import GRADDESC, labels, names, readers

RULES = names(GRADDESC)  # the workbook's sheets (engine.optimizers says what each computes)
LABELS = labels(GRADDESC)
VARIANTS = ("lesson", "library")  # the workbook's formulas, or bias correction and ε as torch.optim computes them
# Which settings each rule reads besides lr (eps only in the library variant).
USES = {hyper: readers(GRADDESC, hyper) for hyper in ("beta1", "beta2", "eps", "weight_decay")}
# The averages each rule carries from row to row, as the workbook's columns J, K (and L, M) hold them.
AVERAGES = {name: rule.keeps for name, rule in GRADDESC.items()}
# The lesson's sheets: learning rate and β's as the workbook has them.
LESSON = {
    "sgd": {"lr": 1e-4},
    "momentum": {"lr": 1e-4, "beta1": 0.9},
    "rmsprop": {"lr": 0.02, "beta2": 0.9},
    "adam": {"lr": 0.1, "beta1": 0.9, "beta2": 0.9},
    "adam_ann": {"lr": 1.0, "beta1": 0.9, "beta2": 0.95},  # lr 1: the value its reset macro restores
    "adamw": {"lr": 0.1, "beta1": 0.9, "beta2": 0.9, "weight_decay": 0.01},
    "adam_l2": {"lr": 0.1, "beta1": 0.9, "beta2": 0.9, "weight_decay": 0.01},
}
# The lr each sheet's reset macro writes into D2 (basic's and rmsprop's leave theirs as it is).
RESET_LR = {"momentum": 1e-4, "adam": 1.0, "adam_ann": 1.0}
RESET_SQUARED = 10_000.0  # the lesson's reset macros start every squared average here (the library's start at 0)
MAX_ROWS = 1_000_000  # rows of data one epoch steps through


class SettingsError(ValueError):
    """A setting out of range; str(error) is one line naming the setting."""


@dataclass(frozen=True)
class Settings:
    """Which rule runs, in which variant, from where, with which hyper-parameters."""

    rule: str = "sgd"  # one of RULES
    variant: str = "lesson"  # "lesson": the workbook's formulas; "library": as torch.optim computes them
    lr: float = 1e-4  # learning rate (adam_ann's annealing lowers the running copy, not this start value)
    beta1: float = 0.9  # weight of the previous gradient average (momentum's β, Adam's β1)
    beta2: float = 0.9  # weight of the previous squared average (RMSProp's β, Adam's β2)
    eps: float = 1e-8  # library variant only: keeps the division finite (the lesson has none)
    weight_decay: float = 0.0  # AdamW shrinks the weights by lr·wd; Adam + L2 adds wd·p to the gradient
    start_b: float = 1.0  # the intercept every epoch-0 row starts from ("reset" sets a = b = 1)
    start_a: float = 1.0  # the slope
    nudge: float = 0.01  # the finite-difference step of the estimates (the workbook's 0.01)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise SettingsError(f"unknown optimizer {self.rule!r}; choose one of {', '.join(RULES)}")
        if self.variant not in VARIANTS:
            raise SettingsError(f"unknown variant {self.variant!r}; choose lesson or library")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise SettingsError(f"learning rate must be a positive number, got {self.lr}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise SettingsError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise SettingsError(f"eps must be a positive number, got {self.eps}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise SettingsError(f"weight decay must be a number ≥ 0, got {self.weight_decay}")
        if not (math.isfinite(self.start_b) and math.isfinite(self.start_a)):
            raise SettingsError(f"the start b = {self.start_b}, a = {self.start_a} must be finite numbers")
        if not (math.isfinite(self.nudge) and self.nudge > 0):
            raise SettingsError(f"the finite-difference nudge must be a positive number, got {self.nudge}")

    @classmethod
    def lesson(cls, rule: str, variant: str = "lesson", **changes) -> Settings:
        """The rule with the lesson's sheet's lr and β's (and a weight decay for the two rules that use one)."""
        if rule not in RULES:
            raise SettingsError(f"unknown optimizer {rule!r}; choose one of {', '.join(RULES)}")
        return cls(rule=rule, variant=variant, **{**LESSON[rule], **changes})

    def but(self, **changes) -> Settings:
        """A copy with some settings changed (checked again)."""
        return replace(self, **changes)

    @property
    def label(self) -> str:
        return LABELS[self.rule] + (" (torch.optim)" if self.variant == "library" else "")

    @property
    def l2(self) -> bool:
        """Whether the loss carries (wd/2)·(a² + b²), so the gradient carries wd·p."""
        return self.rule == "adam_l2"
