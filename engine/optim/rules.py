"""The lesson's optimizers as update rules, each one line of spreadsheet-style algebra.

Every rule takes the parameters `p`, their gradient `g`, the optimizer's state `s` (a dict of
tensors, empty on the first step), the settings `h` and this step's learning rate `lr` (which a
schedule may vary from step to step), and updates p and s in place. Rules are
plain tensor arithmetic, so the same code runs on the CPU and on a GPU.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from collabsheet.engine.config import OptimizerSettings

Tensor = torch.Tensor

def l2(p: Tensor, g: Tensor, h: OptimizerSettings) -> Tensor:
    """g ← g + wd·p : L2 weight decay folded into the gradient (torch.optim's `weight_decay`)."""
    return g.add_(p, alpha=h.weight_decay) if h.weight_decay else g


def _buffer(s: dict, key: str, p: Tensor) -> Tensor:
    """The state buffer `key`, zeros on the first step."""
    if key not in s:
        s[key] = torch.zeros_like(p)
    return s[key]


# Each rule updates p (and its state) in place: the sheet keeps one buffer per quantity, so a
# step allocates nothing and costs a few tensor operations. The formula is in each docstring.

def sgd(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float) -> None:
    """p ← p − lr·g"""
    g = l2(p, g, h)
    p.sub_(g, alpha=lr)


def momentum(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float) -> None:
    """v ← β·v + (1−β)·g ;  p ← p − lr·v   (the lesson's linear interpolation from v towards g)"""
    g = l2(p, g, h)
    v = _buffer(s, "v", p)
    v.lerp_(g, 1 - h.beta)
    p.sub_(v, alpha=lr)


def rmsprop(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float) -> None:
    """r ← β2·r + (1−β2)·g² ;  p ← p − lr·g / (√r + ε)"""
    g = l2(p, g, h)
    r = _buffer(s, "r", p)
    r.mul_(h.beta2).addcmul_(g, g, value=1 - h.beta2)
    p.addcdiv_(g, r.sqrt().add_(h.eps), value=-lr)


def adam(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float) -> None:
    """m ← β1·m + (1−β1)·g ;  r ← β2·r + (1−β2)·g² ;  p ← p − lr·m̂ / (√r̂ + ε), with m̂ = m/(1−β1ᵗ), r̂ = r/(1−β2ᵗ)"""
    g = l2(p, g, h)
    _adam_update(p, g, s, h, lr)


def adamw(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float) -> None:
    """p ← p·(1 − lr·wd), then Adam's update with the plain gradient (decoupled weight decay)"""
    if h.weight_decay:
        p.mul_(1 - lr * h.weight_decay)
    _adam_update(p, g, s, h, lr)


def _adam_update(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float) -> None:
    t = s["t"] = s.get("t", 0) + 1
    m, r = _buffer(s, "m", p), _buffer(s, "r", p)
    m.lerp_(g, 1 - h.beta1)
    r.mul_(h.beta2).addcmul_(g, g, value=1 - h.beta2)
    # √r̂ + ε and lr·m̂ in torch.optim.Adam's order of operations, so the two agree to the last bits.
    sqrt_r_hat = r.sqrt().div_(math.sqrt(1 - h.beta2**t)).add_(h.eps)
    p.addcdiv_(m, sqrt_r_hat, value=-lr / (1 - h.beta1**t))


RULES: dict[str, Callable[[Tensor, Tensor, dict, OptimizerSettings, float], None]] = {
    "sgd": sgd,
    "momentum": momentum,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}


def update(p: Tensor, g: Tensor, s: dict, h: OptimizerSettings, lr: float | None = None) -> None:
    """One step, in place, of the optimizer named in `h` at learning rate lr (h.lr by default); g may be overwritten."""
    RULES[h.name](p, g, s, h, h.lr if lr is None else lr)


def explain(p: float, g: float, s: dict[str, float], h: OptimizerSettings) -> list[tuple[str, float]]:
    """How the rule turns one parameter's gradient into its next update, term by term, for the UI."""
    state = {k: (v if k == "t" else torch.tensor([float(v)], dtype=torch.float64)) for k, v in s.items()}
    new = torch.tensor([p], dtype=torch.float64)
    update(new, torch.tensor([g], dtype=torch.float64), state, h)
    terms: list[tuple[str, float]] = [("gradient g", g)]
    if h.weight_decay and h.name != "adamw":
        terms.append(("g + wd·p", g + h.weight_decay * p))
    if h.weight_decay and h.name == "adamw":
        terms.append(("decay −lr·wd·p", -h.lr * h.weight_decay * p))
    if "v" in state:
        terms.append(("velocity v", float(state["v"])))
    if "m" in state:
        t = state["t"]
        terms += [("average m", float(state["m"])), (f"m̂ = m/(1−β1^{t})", float(state["m"]) / (1 - h.beta1**t))]
    if "r" in state:
        terms.append(("squared average r", float(state["r"])))
        if "t" in state:
            terms.append((f"r̂ = r/(1−β2^{state['t']})", float(state["r"]) / (1 - h.beta2 ** state["t"])))
    terms += [("next update Δp", float(new) - p), ("next value p", float(new))]
    return terms
