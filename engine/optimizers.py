"""Every optimizer collabsheet runs, in one table: its name, its label, the update in words, what it reads and keeps.

Three families use them, each under its own names, and a variant that changes the maths has a name of its own:
- the sheet (engine.optim.rules, stepped by engine.sheet.batched): the lesson's rules;
- the gradient-descent workbook (engine.graddesc.rules): graddesc.xlsm's sheets, in the lesson's form and, as the
  library variant, as torch.optim computes them;
- training (engine.train.build): torch.optim's classes, as the lesson's notebook calls them.
So "momentum" is three different updates, and the table says which runs where: the lesson's average lerped from 0
(the sheet's and the workbook's), torch's dampened SGD whose average starts at the first gradient (the workbook's
library variant), and torch's undampened SGD momentum (training). No numpy, no torch: the GUI thread imports it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Optimizer:
    """One update rule as the UI and the docs name it."""

    name: str  # as the settings, the command line and the workbook's sheets name it
    label: str  # as the window shows it
    update: str  # the rule in the lesson's notation
    reads: tuple[str, ...]  # hyper-parameters besides lr (and weight decay, which every rule takes)
    keeps: tuple[str, ...]  # the running averages it carries from step to step


SHEET = {o.name: o for o in (
    Optimizer("sgd", "SGD", "p ← p − lr·g", (), ()),
    Optimizer("momentum", "Momentum", "v ← β·v + (1−β)·g ;  p ← p − lr·v   (v from 0: a new gradient moves p by lr·(1−β)·g)",
              ("beta",), ("v",)),
    Optimizer("rmsprop", "RMSProp", "r ← β2·r + (1−β2)·g² ;  p ← p − lr·g / (√r + ε)", ("beta2",), ("r",)),
    Optimizer("adam", "Adam", "m ← β1·m + (1−β1)·g ;  r ← β2·r + (1−β2)·g² ;  p ← p − lr·m̂ / (√r̂ + ε)",
              ("beta1", "beta2"), ("m", "r")),
    Optimizer("adamw", "AdamW", "p ← p·(1 − lr·wd), then Adam's update with the plain gradient", ("beta1", "beta2"),
              ("m", "r")),
)}

GRADDESC = {o.name: o for o in (
    Optimizer("sgd", "SGD", "new b = b − lr·∂e/∂b ;  new a = a − lr·∂e/∂a", (), ()),
    Optimizer("momentum", "Momentum", "m = β·m + (1−β)·g from the row above (the lesson's);  p − lr·m; the library "
              "variant is torch's SGD(momentum=β, dampening=β): m = g on the first row", ("beta1",), ("m",)),
    Optimizer("rmsprop", "RMSProp", "v = β2·v + (1−β2)·g² ;  p − lr·g / √v", ("beta2", "eps"), ("v",)),
    Optimizer("adam", "Adam", "m and v as above ;  p − lr·m / √v (the library variant: bias-corrected, with ε)",
              ("beta1", "beta2", "eps"), ("m", "v")),
    Optimizer("adam_ann", "Adam, annealed", "Adam, with lr ÷ 4 after an epoch whose gradient ratio passed 2",
              ("beta1", "beta2", "eps"), ("m", "v")),
    Optimizer("adamw", "AdamW", "p·(1 − lr·wd), then Adam", ("beta1", "beta2", "eps", "weight_decay"), ("m", "v")),
    Optimizer("adam_l2", "Adam + L2", "Adam on g + wd·p", ("beta1", "beta2", "eps", "weight_decay"), ("m", "v")),
)}

TRAINING = {o.name: o for o in (
    Optimizer("sgd", "SGD", "torch.optim.SGD", (), ()),
    Optimizer("momentum", "SGD with momentum (torch's, undampened)",
              "torch.optim.SGD(momentum=β): v ← β·v + g ;  p ← p − lr·v, as the lesson's notebook", ("momentum",),
              ("momentum_buffer",)),
    Optimizer("adam", "Adam", "torch.optim.Adam", ("beta1", "beta2"), ("exp_avg", "exp_avg_sq")),
    Optimizer("adamw", "AdamW", "torch.optim.AdamW", ("beta1", "beta2"), ("exp_avg", "exp_avg_sq")),
)}


def names(family: dict[str, Optimizer]) -> tuple[str, ...]:
    """A family's names, in the table's order."""
    return tuple(family)


def labels(family: dict[str, Optimizer]) -> dict[str, str]:
    """name → label for a family."""
    return {name: o.label for name, o in family.items()}


def readers(family: dict[str, Optimizer], hyper: str) -> tuple[str, ...]:
    """The rules of a family that read this hyper-parameter."""
    return tuple(name for name, o in family.items() if hyper in o.reads)
