"""The sheet's stepping kernel: B copies of its parameters, each with its own optimizer, stepped by one set of ops.

A lone Sheet steps as a batch of one, and a race as a batch of its racers, through this one kernel: the same
loss, gradient and update, on data laid out alike. So a racer, a restored checkpoint and a plain run perform
identical operations on identically aligned data, and agree to the last bit on any CPU (on one thread).

Layout. Each block of θ is stored for all copies at once, block by block ((B, users, k), (B, k, movies),
(B, users), (B, movies)), with users and movies padded with zeros (as few as needed) so that every block of a copy
is a whole number of ROWs, from a 64-byte boundary.
Hence two guarantees that a plain stack of copies lacks:
- every copy's matrices (factors, predictions, errors, gradients) start 64-byte aligned, as a lone sheet's do:
  a BLAS kernel (MKL's DGEMM among them) may round a product differently when an operand moves by 8 bytes;
- an element-wise pass over a buffer has no leftover elements, and each copy's entries sit at the same place
  within the vector loop as a lone sheet's: a vectorised loop hands its last few elements to scalar code, which
  may round differently (lerp's fused multiply-add, the sigmoid).
The padding is inert: its ratings are blank, so its errors, gradients and updates are exactly 0.

Each rule of engine.optim.rules is a choice of coefficients in one update, per copy:

    g ← g + wd₂·p ;  p ← p·decay ;  m ← m + w₁·(g − m) ;  r ← β₂·r + c₂·g² ;
    p ← p + u·m ;  p ← p + v·m / (e + √r / d)

    rule      w₁       β₂   c₂      e    d            u     v                 decay
    SGD       1        0    0       1    1            −lr   0                 1
    momentum  1 − β    0    0       1    1            −lr   0                 1
    RMSProp   1        β₂   1 − β₂  ε    1            0     −lr               1
    Adam      1 − β₁   β₂   1 − β₂  ε    √(1 − β₂ᵗ)   0     −lr / (1 − β₁ᵗ)   1
    AdamW     1 − β₁   β₂   1 − β₂  ε    √(1 − β₂ᵗ)   0     −lr / (1 − β₁ᵗ)   1 − lr·wd

(wd₂ is the L2 weight decay of the rules other than AdamW.) A coefficient of 1 or 0 changes a finite number
not at all: with w₁ = 1, m is g; with u = 0 or v = 0 that update adds 0. So a copy in a batch of mixed rules
computes what it computes alone, and the rules agree with engine.optim.rules (the readable form, tested
against torch.optim) to rounding: tests/test_kernel.py holds them to 1e-12.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.models import factorization
from collabsheet.engine.sheet.model import DTYPE, SheetModel

ROW = 16  # users and movies are padded to a multiple of this: two AVX-512 vectors of doubles, ATen's widest step
ALIGN = 64  # bytes: where every buffer starts
DOT_LOOP = 400  # ATen computes a batched product of fewer multiply-adds per copy in a plain loop of its own
TABLE = 2**15  # Adam's per-step coefficients worked out at once: small enough to stay in cache


def padded(users: int, movies: int, k: int, biases: bool) -> tuple[int, int]:
    """The fewest users and movies, at least these, that make every block of a copy a whole number of ROWs:
    the factors (users·k, k·movies), the biases (users, movies) and the predictions (users·movies)."""
    def whole(n: int, m: int) -> bool:
        sizes = (n * k, k * m, n * m) + ((n, m) if biases else ())
        return all(size % ROW == 0 for size in sizes)

    return min(((n, m) for n in range(users, users + ROW) for m in range(movies, movies + ROW) if whole(n, m)),
               key=lambda nm: (nm[0] * nm[1] + (nm[0] + nm[1]) * k, nm))


def aligned_zeros(size: int, device: torch.device) -> torch.Tensor:
    """A float64 vector of zeros that starts on an ALIGN-byte boundary."""
    flat = torch.zeros(size + ALIGN // 8, dtype=DTYPE, device=device)
    skip = (-flat.data_ptr() % ALIGN) // 8
    return flat[skip:skip + size]


@dataclass(frozen=True)
class Coefficients:
    """One copy's rule as coefficients of the one update (see the module's table)."""

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
        """The coefficients that make the update compute rule h."""
        adam = h.name in ("adam", "adamw")
        w1 = {"momentum": 1 - h.beta, "adam": 1 - h.beta1, "adamw": 1 - h.beta1}.get(h.name, 1.0)
        uses_r = h.name in ("rmsprop", "adam", "adamw")
        return cls(w1=w1, beta2=h.beta2 if uses_r else 0.0, c2=1 - h.beta2 if uses_r else 0.0,
                   e=h.eps if uses_r else 1.0, u=0.0 if uses_r else -h.lr,
                   wd2=0.0 if h.name == "adamw" else h.weight_decay,
                   decay=1 - h.lr * h.weight_decay if h.name == "adamw" else 1.0,
                   uses_r=uses_r, adam=adam, lr=h.lr, beta1=h.beta1)

    def d(self, ts: range) -> list[float]:
        """The divisor of √r at steps ts: Adam's bias correction √(1 − β₂ᵗ); else 1."""
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
    """1 − βᵗ for t in ts; racers that share β share the list."""
    return [1 - beta**t for t in ts]


def first_unhealthy(mse: np.ndarray, bound: float) -> np.ndarray:
    """Per copy, the first j ≥ 1 whose MSE (mse[j], after j updates) is not finite or passes bound; 0 for none.

    The one test of divergence, for a Sheet and for every racer: a copy keeps j − 1 updates."""
    bad = ~(mse[1:] <= bound)  # NaN is bad too
    return np.where(bad.any(0), bad.argmax(0) + 1, 0)


class BatchedSheet:
    """Copies of θ, each stepped by its own rule, all at once."""

    def __init__(self, model: SheetModel, settings: Sequence[OptimizerSettings], theta: torch.Tensor,
                 m: torch.Tensor | None = None, r: torch.Tensor | None = None, t: int = 0,
                 started: bool | None = None) -> None:
        """theta (B, P) or (P,) for all, in the sheet's layout; m and r the rules' running averages alike (None:
        fresh); t the updates so far."""
        self.model, self.settings, self.t = model, list(settings), t
        self.started = (t > 0 or m is not None or r is not None) if started is None else started
        self.B = len(self.settings)
        n, k, items = model.n_users, model.config.k, model.n_items
        self._n, self._m = n, items
        N, M = padded(n, items, k, model.config.biases)
        shapes = {"user_factors": (N, k), "item_factors": (k, M)}
        if model.config.biases:
            shapes |= {"user_bias": (N,), "item_bias": (M,)}
        self.shapes = shapes
        size = self.B * sum(int(np.prod(s)) for s in shapes.values())
        device = model.device
        self.theta, self.grad, self.m, self.r, self._buf, self._den = (aligned_zeros(size, device) for _ in range(6))
        for buffer, value in ((self.theta, theta), (self.m, m), (self.r, r)):
            if value is not None:
                self._put(buffer, value)
        self.coef = [Coefficients.of(h) for h in self.settings]
        spread = {k: self._spread([getattr(c, k) for c in self.coef])
                  for k in ("w1", "beta2", "c2", "e", "u", "wd2", "decay")}
        self._w1, self._beta2, self._c2, self._e = spread["w1"], spread["beta2"], spread["c2"], spread["e"]
        self._u, self._wd2, self._decay = spread["u"], spread["wd2"], spread["decay"]
        self._uses_r = any(c.uses_r for c in self.coef)
        self._uses_u = not all(c.uses_r for c in self.coef)
        self._uses_m = any(c.w1 != 1 for c in self.coef)
        self._uses_l2 = any(c.wd2 for c in self.coef)
        self._uses_decay = any(c.decay != 1 for c in self.coef)
        self.adam = any(c.adam for c in self.coef)
        self.held = None  # a holdout.HeldOut to score at every step (a Sheet's held-out cells), or None
        self._bind()

    @classmethod
    def of_state(cls, model: SheetModel, settings: OptimizerSettings, theta: torch.Tensor,
                 state: dict) -> BatchedSheet:
        """A batch of one from θ and an optimizer state in the Sheet's form ({}, {"v"}, {"r"} or {"t", "m", "r"})."""
        m = state.get("v", state.get("m"))
        return cls(model, [settings], theta, m, state.get("r"), int(state.get("t", 0)), started=bool(state))

    def _bind(self) -> None:
        """Named views of the buffers, and scratch space, for the loss and the update."""
        model, B = self.model, self.B
        p, g = self._blocks(self.theta), self._blocks(self.grad)
        self._U, self._M, self._gU, self._gM = p["user_factors"], p["item_factors"], g["user_factors"], g["item_factors"]
        self._Ut, self._Mt = self._U.mT, self._M.mT
        self._biases, self._squash = model.config.biases, model.config.squash
        if self._biases:
            self._ub, self._ib = p["user_bias"][:, :, None], p["item_bias"][:, None, :]
            self._gub, self._gib = g["user_bias"], g["item_bias"]
        N, M = self.shapes["user_factors"][0], self.shapes["item_factors"][1]
        self._pred, self._err = (aligned_zeros(B * N * M, model.device).view(B, N, M) for _ in range(2))
        # A sum of squares as a product of fewer than 400 multiply-adds runs ATen's plain loop, the fastest here;
        # a longer one would go to BLAS, whose path differs with the batch's size (a dot for one, a GEMM for more).
        small = N * M < DOT_LOOP
        self._row, self._col = (self._err.view(B, 1, N * M), self._err.view(B, N * M, 1)) if small else (None, None)
        self._sq = None if small else torch.empty_like(self._err)
        r, w = (torch.zeros(N, M, dtype=DTYPE, device=model.device) for _ in range(2))
        r[:self._n, :self._m], w[:self._n, :self._m] = model.r, model.mask  # padding: blank cells
        self._neg_r, self._w = -r, w

    # --- layout ------------------------------------------------------------------------------
    def _blocks(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named (B, …) views of a buffer's blocks, padding included."""
        out, start = {}, 0
        for name, shape in self.shapes.items():
            size = self.B * int(np.prod(shape))
            out[name] = flat[start:start + size].view(self.B, *shape)
            start += size
        return out

    def _real(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named (B, …) views of a buffer's blocks without their padding: the sheet's shapes."""
        n, m = self._n, self._m
        cut = {"user_factors": (slice(None), slice(None, n)), "item_factors": (slice(None), slice(None), slice(None, m)),
               "user_bias": (slice(None), slice(None, n)), "item_bias": (slice(None), slice(None, m))}
        return {name: block[cut[name]] for name, block in self._blocks(flat).items()}

    def _put(self, flat: torch.Tensor, rows: torch.Tensor) -> None:
        """Write (B, P) or (P,) values in the sheet's layout into a buffer."""
        real = self._real(flat)
        for name, value in self.model.split(rows).items():
            real[name].copy_(value)

    def rows(self, flat: torch.Tensor) -> torch.Tensor:
        """A buffer (θ, its gradient, m or r) as (B, P) in the sheet's layout: a copy."""
        return torch.cat([v.flatten(1) for v in self._real(flat).values()], 1)

    def put_theta(self, theta: torch.Tensor) -> None:
        """Every copy's θ from (B, P) or (P,) values in the sheet's layout (the optimizer's state stays)."""
        self._put(self.theta, theta)

    def _spread(self, per_copy: Sequence[float] | np.ndarray) -> torch.Tensor:
        """Per-copy values (…, B) spread over every entry each copy owns (…, size), block by block."""
        per_copy = np.asarray(per_copy, dtype=np.float64)
        blocks = [np.repeat(per_copy, int(np.prod(s)), axis=-1) for s in self.shapes.values()]
        return torch.from_numpy(np.concatenate(blocks, axis=-1)).to(self.model.device)

    def save(self) -> tuple:
        """A copy of everything a run changes, for restore()."""
        return self.theta.clone(), self.m.clone(), self.r.clone(), self.t, self.started

    def restore(self, saved: tuple) -> None:
        for buffer, value in zip((self.theta, self.m, self.r), saved):
            buffer.copy_(value)
        self.t, self.started = saved[3], saved[4]

    def select(self, keep: Sequence[int]) -> BatchedSheet:
        """A batch of only these copies, as they are now."""
        index = torch.tensor(list(keep), device=self.model.device)
        theta, m, r = (self.rows(x).index_select(0, index) for x in (self.theta, self.m, self.r))
        batch = BatchedSheet(self.model, [self.settings[i] for i in keep], theta, m, r, self.t, self.started)
        batch.held = self.held
        return batch

    def state(self, b: int) -> tuple[torch.Tensor, dict]:
        """Copy b's θ (the sheet's layout) and its optimizer state as a Sheet keeps it: copies."""
        theta = self.rows(self.theta)[b]
        name = self.settings[b].name
        if not self.started or name == "sgd":
            return theta, {}
        m, r = self.rows(self.m)[b], self.rows(self.r)[b]
        if name == "momentum":
            return theta, {"v": m}
        if name == "rmsprop":
            return theta, {"r": r}
        return theta, {"t": self.t, "m": m, "r": r}

    # --- stepping ----------------------------------------------------------------------------
    def run(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """n updates of every copy: the MSE (n + 1, B) before each update and after the last, and the held-out
        cells' MSE at the same θs when there are any (else None)."""
        piece = max(TABLE // len(self.theta), 1) if self.adam else max(n, 1)
        device = self.model.device
        with torch.inference_mode():
            sse = self._sums(n + 1)
            held = torch.empty(n + 1, self.B, dtype=DTYPE, device=device) if self.held is not None else None
            loss, update = self._loss, self._update
            sums, helds = sse.unbind(0), held.unbind(0) if held is not None else [None] * (n + 1)
            for start in range(0, n, piece):
                for i, (d, v) in enumerate(self._coefficients(self.t + start, min(piece, n - start)), start):
                    loss(sums[i], helds[i])
                    update(d, v)
            loss(sums[n], helds[n])
        self.t += n
        self.started = self.started or n > 0
        mse = sse[:, :, 0, 0].cpu().numpy() / self.model.count
        return mse, None if held is None else held.cpu().numpy()

    def loss(self) -> torch.Tensor:
        """Each copy's MSE now, (B,); the gradient lands in self.grad."""
        with torch.inference_mode():
            sse = self._sums(1)
            self._loss(sse[0], None)
        return sse[0, :, 0, 0] / self.model.count

    def _sums(self, rows: int) -> torch.Tensor:
        """Room for `rows` sums of squares per copy, (rows, B, 1, 1): each copy's 64 bytes from the next."""
        return aligned_zeros(rows * self.B * ALIGN // 8, self.model.device).view(rows, self.B, -1)[:, :, :1, None]

    def _coefficients(self, t: int, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(d, v) spread per entry for the n steps after step t: Adam's change with t, the others' do not."""
        ts = range(t + 1, t + (n if self.adam else 1) + 1)
        d, v = (self._spread(np.array([f(c, ts) for c in self.coef]).T) for f in (Coefficients.d, Coefficients.v))
        if not self.adam:
            return [(d[0], v[0])] * n
        return list(zip(d.unbind(0), v.unbind(0)))

    def _loss(self, sse: torch.Tensor, held: torch.Tensor | None) -> None:
        """Each copy's sum of squared errors into sse (B, 1, 1), held-out MSE into held (B,); the MSE's gradient
        into grad."""
        raw = torch.bmm(self._U, self._M, out=self._pred)
        if self._biases:
            raw.add_(self._ub).add_(self._ib)
        pred, s = factorization.squash(raw, self.model.squash_range)
        if held is not None:
            held.copy_(self.held.mse(pred[:, :self._n, :self._m]))
        err = torch.addcmul(self._neg_r, pred, self._w, out=self._err)  # pred − r on rated cells, 0 elsewhere
        if self._row is not None:
            torch.bmm(self._row, self._col, out=sse)  # each copy's errors · themselves, by ATen's plain loop
        else:
            torch.sum(torch.mul(err, err, out=self._sq), (1, 2), out=sse[:, 0, 0])
        d = err.mul_(2.0 / self.model.count)  # ∂MSE/∂prediction
        if self._squash:
            d.mul_(factorization.squash_slope(s, self.model.y_range))  # through the sigmoid, in place: d stays aligned
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
            p.addcmul_(m, self._u)
        if self._uses_r:
            self.r.mul_(self._beta2).addcmul_(g, torch.mul(g, self._c2, out=self._den))
            den = torch.sqrt(self.r, out=self._den)
            torch.addcdiv(self._e, den, d, out=den)
            p.addcdiv_(torch.mul(m, v, out=self._buf), den)
