"""B copies of a sheet's parameters, each with its own optimizer, stepped by one set of tensor operations.

One batched matrix product gives every copy's predictions, loss and gradient; one set of element-wise
operations updates all of them, whatever each one's rule. Each rule of engine.optim.rules is a choice of
coefficients in one update, per copy:

    g ← g + wd₂·p ;  p ← p·decay ;  m ← m + w₁·(g − m) ;  r ← β₂·r + c₂·g² ;
    p ← p + u·m  (fused, as Sheet's p − lr·m) ;  p ← p + v·m / (e + √r / d)

    rule      w₁       β₂   c₂      e    d            u     v                 decay
    SGD       1        0    0       1    1            −lr   0                 1
    momentum  1 − β    0    0       1    1            −lr   0                 1
    RMSProp   1        β₂   1 − β₂  ε    1            0     −lr               1
    Adam      1 − β₁   β₂   1 − β₂  ε    √(1 − β₂ᵗ)   0     −lr / (1 − β₁ᵗ)   1
    AdamW     1 − β₁   β₂   1 − β₂  ε    √(1 − β₂ᵗ)   0     −lr / (1 − β₁ᵗ)   1 − lr·wd

(wd₂ is the L2 weight decay of the rules other than AdamW.) A coefficient of 1 or 0 changes nothing, exactly:
with w₁ = 1, m is g; with u = 0 or v = 0 that update adds 0. So each copy computes, operation for operation,
what its rule computes on a Sheet, and its parameters are the Sheet's to the last bit on one CPU thread
(tests/test_race.py holds every rule to a separate Sheet run).

Parameters are stored block by block (every copy's user factors, then every copy's movie factors, …) so that
each batched product writes its gradient block in place.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from engine.config import OptimizerSettings
from engine.models import factorization
from engine.sheet.model import DTYPE, SheetModel

DOTS = 4096  # cells from which each copy's sum of squares is its own dot product (a batched product is slower)
TABLE = 2**15  # per-step coefficients spread out at once: small enough to stay in cache (about 4× faster than 2**18)


@dataclass(frozen=True)
class Coefficients:
    """One copy's rule as coefficients of the one batched update (see the module's table)."""

    w1: float
    beta2: float
    c2: float
    e: float
    u: float
    wd2: float
    decay: float
    uses_r: bool  # a rule that divides by √r (RMSProp, Adam, AdamW)
    adam: bool  # d and v depend on the step t
    lr: float
    beta1: float

    @classmethod
    def of(cls, h: OptimizerSettings) -> Coefficients:
        """The coefficients that make the batched update compute rule h."""
        adam = h.name in ("adam", "adamw")
        w1 = {"momentum": 1 - h.beta, "adam": 1 - h.beta1, "adamw": 1 - h.beta1}.get(h.name, 1.0)
        uses_r = h.name in ("rmsprop", "adam", "adamw")
        return cls(w1=w1, beta2=h.beta2 if uses_r else 0.0, c2=1 - h.beta2 if uses_r else 0.0,
                   e=h.eps if uses_r else 1.0, u=0.0 if uses_r else -h.lr,
                   wd2=0.0 if h.name == "adamw" else h.weight_decay,
                   decay=1 - h.lr * h.weight_decay if h.name == "adamw" else 1.0,
                   uses_r=uses_r, adam=adam, lr=h.lr, beta1=h.beta1)

    def d(self, ts: range) -> list[float]:
        """The divisor of √r at steps ts: Adam's bias correction √(1 − β₂ᵗ), as rules.adam computes it; else 1."""
        if not self.adam:
            return [1.0] * len(ts)
        return [math.sqrt(x) for x in _one_minus_powers(self.beta2, ts)]

    def v(self, ts: range) -> list[float]:
        """The signed learning rate over √r at steps ts: −lr, over Adam's (1 − β₁ᵗ); 0 for SGD and momentum."""
        if not self.uses_r:
            return [0.0] * len(ts)
        if not self.adam:
            return [-self.lr] * len(ts)
        lr = self.lr
        return [-lr / x for x in _one_minus_powers(self.beta1, ts)]


@functools.lru_cache(maxsize=16)
def _one_minus_powers(beta: float, ts: range) -> list[float]:
    """1 − βᵗ for t in ts, computed as rules.adam does; racers that share β share the list."""
    return [1 - beta**t for t in ts]


class BatchedSheet:
    """Copies of θ (each a row in the sheet's layout), each stepped by its own rule, all at once."""

    def __init__(self, model: SheetModel, settings: Sequence[OptimizerSettings], theta: torch.Tensor,
                 m: torch.Tensor | None = None, r: torch.Tensor | None = None, t: int = 0) -> None:
        """theta (B, P); m and r the rules' running averages in the same layout (zeros: fresh); t updates so far."""
        self.model, self.settings, self.t = model, list(settings), t
        self.B = len(self.settings)
        self.sizes = model.sizes()
        self.theta = self._blocked(theta)
        self.grad = torch.zeros_like(self.theta)
        self.m = torch.zeros_like(self.theta) if m is None else self._blocked(m)
        self.r = torch.zeros_like(self.theta) if r is None else self._blocked(r)
        self._bind()
        self.coef = [Coefficients.of(h) for h in self.settings]
        spread = {k: self._spread(np.array([getattr(c, k) for c in self.coef]))
                  for k in ("w1", "beta2", "c2", "e", "u", "wd2", "decay")}
        self._w1, self._beta2, self._c2, self._e = spread["w1"], spread["beta2"], spread["c2"], spread["e"]
        self._u, self._wd2, self._decay = spread["u"], spread["wd2"], spread["decay"]
        self._uses_r = any(c.uses_r for c in self.coef)
        self._uses_u = not all(c.uses_r for c in self.coef)
        self._uses_m = any(c.w1 != 1 for c in self.coef)
        self._uses_l2 = any(c.wd2 for c in self.coef)
        self._uses_decay = any(c.decay != 1 for c in self.coef)
        self.adam = any(c.adam for c in self.coef)

    def _bind(self) -> None:
        """Named views of the buffers, and scratch space, for the loss and the update."""
        model, B = self.model, self.B
        p, g = self._views(self.theta), self._views(self.grad)
        self._U, self._M, self._gU, self._gM = p["user_factors"], p["item_factors"], g["user_factors"], g["item_factors"]
        self._Ut, self._Mt = self._U.mT, self._M.mT
        self._biases, self._squash = model.config.biases, model.config.squash
        if self._biases:
            self._ub, self._ib = p["user_bias"][:, :, None], p["item_bias"][:, None, :]
            self._gub, self._gib = g["user_bias"], g["item_bias"]
        n, m = model.n_users, model.n_items
        self._pred = torch.empty(B, n, m, dtype=DTYPE, device=model.device)
        self._err = torch.empty_like(self._pred)
        self._row, self._col = self._err.view(B, 1, n * m), self._err.view(B, n * m, 1)
        self._rows = self._err.view(B, n * m).unbind(0) if n * m >= DOTS else None
        # The sigmoid's vectorised and leftover elements round differently: with each copy's cells a row of a
        # padded buffer, the sigmoid runs row by row, and each copy's cells round as on its own sheet.
        self._raw = torch.empty(B, n * m + 1, dtype=DTYPE, device=model.device)[:, :-1].view(B, n, m)
        self._neg_r, self._w = -model.r, model.mask
        self._buf, self._den = torch.empty_like(self.theta), torch.empty_like(self.theta)

    # --- layout ------------------------------------------------------------------------------
    def _blocked(self, theta: torch.Tensor) -> torch.Tensor:
        """(B, P) in the sheet's layout → one flat vector, block by block with the copies inside each block."""
        return torch.cat([b.reshape(-1) for b in self.model.split(theta).values()]).contiguous()

    def _views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, start = {}, 0
        for name, shape in self.sizes.items():
            size = self.B * int(np.prod(shape))
            out[name] = flat[start:start + size].view(self.B, *shape)
            start += size
        return out

    def rows(self, flat: torch.Tensor) -> torch.Tensor:
        """A block-by-block buffer (θ, m or r) as (B, P) in the sheet's layout."""
        return torch.cat([v.flatten(1) for v in self._views(flat).values()], 1)

    def _spread(self, per_copy: np.ndarray) -> torch.Tensor:
        """Per-copy values (…, B) spread over every entry each copy owns (…, B·P), block by block."""
        blocks = [np.repeat(per_copy, int(np.prod(s)), axis=-1) for s in self.sizes.values()]
        return torch.from_numpy(np.concatenate(blocks, axis=-1)).to(self.model.device)

    def save(self) -> tuple[torch.Tensor, ...]:
        """A copy of everything a run changes, for restore()."""
        return self.theta.clone(), self.m.clone(), self.r.clone(), self.t

    def restore(self, saved: tuple) -> None:
        for buffer, value in zip((self.theta, self.m, self.r), saved):
            buffer.copy_(value)
        self.t = saved[3]

    def select(self, keep: Sequence[int]) -> BatchedSheet:
        """A batch of only these copies, as they are now."""
        index = torch.tensor(list(keep), device=self.model.device)
        theta, m, r = (self.rows(x).index_select(0, index) for x in (self.theta, self.m, self.r))
        return BatchedSheet(self.model, [self.settings[i] for i in keep], theta, m, r, self.t)

    def state(self, b: int) -> tuple[torch.Tensor, dict]:
        """Copy b's θ (the sheet's layout) and its optimizer state as a Sheet keeps it."""
        theta = self.rows(self.theta)[b].clone()
        m, r = self.rows(self.m)[b].clone(), self.rows(self.r)[b].clone()
        name = self.settings[b].name
        if self.t == 0 or name == "sgd":
            return theta, {}
        if name == "momentum":
            return theta, {"v": m}
        if name == "rmsprop":
            return theta, {"r": r}
        return theta, {"t": self.t, "m": m, "r": r}

    # --- stepping ----------------------------------------------------------------------------
    def run(self, n: int) -> np.ndarray:
        """n updates of every copy; the MSE (n + 1, B) before each update and after the last."""
        piece = max(TABLE // len(self.theta), 1) if self.adam else max(n, 1)
        with torch.inference_mode():
            sse = torch.empty(n + 1, self.B, 1, 1, dtype=DTYPE, device=self.model.device)
            outs = sse.unbind(0)
            loss, update = self._loss, self._update
            for start in range(0, n, piece):
                for i, coefficients in enumerate(self._coefficients(self.t + start, min(piece, n - start))):
                    loss(outs[start + i])
                    update(*coefficients)
            loss(outs[n])
        self.t += n
        return sse.view(n + 1, self.B).cpu().numpy() / self.model.count

    def _coefficients(self, t: int, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(d, v) spread per entry for the n steps after step t: Adam's change with t, the others' do not."""
        ts = range(t + 1, t + (n if self.adam else 1) + 1)
        d, v = (self._spread(np.array([f(c, ts) for c in self.coef]).T) for f in (Coefficients.d, Coefficients.v))
        if not self.adam:
            return [(d[0], v[0])] * n
        return list(zip(d.unbind(0), v.unbind(0)))

    def _loss(self, out: torch.Tensor) -> None:
        """Each copy's sum of squared errors into out (B, 1, 1); the gradient of its MSE into self.grad."""
        raw = torch.bmm(self._U, self._M, out=self._pred)
        if self._biases:
            raw.add_(self._ub).add_(self._ib)
        if self._squash:
            raw = self._raw.copy_(raw)
        pred, s = factorization.squash(raw, self.model.squash_range)
        err = torch.addcmul(self._neg_r, pred, self._w, out=self._err)  # pred − r on rated cells, 0 elsewhere
        if self._rows is None:
            torch.bmm(self._row, self._col, out=out)
        else:
            out.copy_(torch.stack([e.dot(e) for e in self._rows]).view_as(out))
        d = err.mul_(2.0 / self.model.count)  # ∂MSE/∂prediction, as SheetModel.loss_and_gradient
        if self._squash:
            d = d * factorization.squash_slope(s, self.model.y_range)
        torch.bmm(d, self._Mt, out=self._gU)
        torch.bmm(self._Ut, d, out=self._gM)
        if self._biases:
            torch.sum(d, 2, out=self._gub)
            torch.sum(d, 1, out=self._gib)

    def _update(self, d: torch.Tensor, v: torch.Tensor) -> None:
        """Every copy's rule at once: the module's table, coefficient by coefficient."""
        p, g = self.theta, self.grad
        if self._uses_l2:
            g.addcmul_(p, self._wd2)
        if self._uses_decay:
            p.mul_(self._decay)
        m = self.m.lerp_(g, self._w1) if self._uses_m else g
        if self._uses_u:
            p.addcmul_(m, self._u)  # a fused multiply-add, as Sheet's p.sub_(m, alpha=lr)
        if self._uses_r:
            self.r.mul_(self._beta2).addcmul_(g, torch.mul(g, self._c2, out=self._den))
            den = torch.sqrt(self.r, out=self._den)
            torch.addcdiv(self._e, den, d, out=den)
            p.addcdiv_(torch.mul(m, v, out=self._buf), den)
