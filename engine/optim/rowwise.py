"""Adam whose step costs what the batch touched: lazy, row-wise moments for sparse embedding gradients.

torch.optim.Adam with weight decay updates every row of every embedding at every batch (a zero gradient
still moves a row through its moments and its decay), so a batch costs users + movies rows whatever its
size. RowAdam reads a sparse gradient (nn.Embedding(sparse=True)) and updates only the rows it names:
their moments, their weight decay (L2 added to their gradient, as torch's Adam and the lesson's per-batch
L2, or decoupled as AdamW) and their values. Rows a batch did not use are left exactly as they were — the
"lazy Adam" of TensorFlow Addons and torch.optim.SparseAdam, which lacks weight decay. Dense gradients
(a net's linear layers) get plain Adam, with the same arithmetic as torch.optim.Adam.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch.optim.adam import adam as adam_step

Tensor = torch.Tensor


def coalesce_rows(grad: Tensor, n_rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """(rows, summed gradient per row, uses per row) of a sparse row gradient whose rows repeat, rows ascending.

    A row is marked in an n_rows flag vector (one byte per row: a scan of 162k bytes at MovieLens-25M is
    far cheaper than sorting a large batch's indices, which torch.unique and Tensor.coalesce do).
    """
    index, values = grad._indices()[0], grad._values()
    rows, at, uses = _row_slots(index, n_rows, values.dtype)
    summed = torch.zeros((len(rows), *values.shape[1:]), dtype=values.dtype, device=values.device)
    summed.index_add_(0, at, values)
    return rows, summed, uses


def _row_slots(index: Tensor, n_rows: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct rows of `index` (ascending), each entry's position among them, and each row's count."""
    seen = torch.zeros(n_rows, dtype=torch.bool, device=index.device)
    seen[index] = True
    rows = seen.nonzero().squeeze(1)
    slot = torch.empty(n_rows, dtype=torch.int64, device=index.device)
    slot[rows] = torch.arange(len(rows), device=index.device)
    at = slot.index_select(0, index)
    uses = torch.zeros(len(rows), dtype=dtype, device=index.device)
    uses.index_add_(0, at, torch.ones_like(at, dtype=dtype))
    return rows, at, uses


class RowAdam(torch.optim.Optimizer):
    """Adam (L2 weight decay) or AdamW (decoupled) that updates only the rows present in sparse gradients.

    On a sparse gradient over a batch of B lookups, weight decay is per use: a row used c times gets
    wd·c/B·w added to its gradient (AdamW: shrinks by lr·wd·c/B), as if wd/2·|w|² joined each rating's
    mean loss. Its weight beside the data's gradient (also a mean over the batch) is then the same at any
    batch size and data size; decay once per row and batch would grow with the batch size instead.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False, per_use: bool = True):
        if not lr > 0 or not eps >= 0 or not weight_decay >= 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid RowAdam settings: lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "decoupled": decoupled, "per_use": per_use})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - torch.optim's signature
        """One update of every parameter that has a gradient; sparse gradients touch only their rows."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            values, grads, ms, vs, steps, back, sparse_decay = [], [], [], [], [], [], []
            slots: list[tuple[Tensor, int, tuple]] = []  # a user's factors and bias share their rows: found once
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    # a step count per tensor, shared by its rows (as SparseAdam): rows skipped by a batch
                    # get no update, not a smaller one
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if p.grad.is_sparse:
                    rows, grad, uses = self._coalesce(p.grad, p.shape[0], slots)
                    if group["weight_decay"] and group["per_use"]:
                        decay = uses.mul_(group["weight_decay"] / len(p.grad._values())).unsqueeze(1)
                        if group["decoupled"]:
                            decay = decay * group["lr"]
                        sparse_decay.append((len(values), decay))
                    # gathered copies of the rows, updated, then written back: the other rows are never read
                    values.append(p.index_select(0, rows))
                    ms.append(m.index_select(0, rows)), vs.append(v.index_select(0, rows))
                    back.append((p, m, v, rows, values[-1], ms[-1], vs[-1]))
                else:
                    values.append(p), ms.append(m), vs.append(v)
                grads.append(grad if p.grad.is_sparse else p.grad)
                steps.append(state["step"])
            if not values:
                continue
            dense_wd = group["weight_decay"]
            for i, decay in sparse_decay:  # per-use decay of the gathered rows (the fused step's own is per tensor)
                if group["decoupled"]:
                    values[i].mul_(1 - decay)
                else:
                    grads[i] = grads[i].addcmul(values[i], decay)
            if sparse_decay and dense_wd:  # dense tensors decay in the fused step: do them one by one
                sparse_at = {i for i, _ in sparse_decay}
                dense = [i for i in range(len(values)) if i not in sparse_at]
                self._fused(group, *([values[i] for i in dense], [grads[i] for i in dense], [ms[i] for i in dense],
                                     [vs[i] for i in dense], [steps[i] for i in dense]), dense_wd)
                keep = sorted(sparse_at)
                values, grads, ms, vs, steps = ([x[i] for i in keep] for x in (values, grads, ms, vs, steps))
                dense_wd = 0.0
            self._fused(group, values, grads, ms, vs, steps, 0.0 if sparse_decay else dense_wd)
            for p, m, v, rows, value, m_rows, v_rows in back:
                p.index_copy_(0, rows, value), m.index_copy_(0, rows, m_rows), v.index_copy_(0, rows, v_rows)
        return loss

    @staticmethod
    def _coalesce(grad: Tensor, n_rows: int, slots: list) -> tuple[Tensor, Tensor, Tensor]:
        """coalesce_rows, reusing the rows found for an earlier gradient over the same lookups."""
        index, values = grad._indices()[0], grad._values()
        for other, n, found in slots:
            if n == n_rows and other.shape == index.shape and torch.equal(other, index):
                rows, at, uses = found
                break
        else:
            rows, at, uses = _row_slots(index, n_rows, values.dtype)
            slots.append((index, n_rows, (rows, at, uses)))
        summed = torch.zeros((len(rows), *values.shape[1:]), dtype=values.dtype, device=values.device)
        summed.index_add_(0, at, values)
        return rows, summed, uses.clone()

    @staticmethod
    def _fused(group: dict, values: list, grads: list, ms: list, vs: list, steps: list, wd: float) -> None:
        """torch's own fused Adam kernel (one pass over each tensor)."""
        if values:
            adam_step(values, grads, ms, vs, [], steps, fused=True, amsgrad=False, beta1=group["betas"][0],
                      beta2=group["betas"][1], lr=group["lr"], weight_decay=wd, eps=group["eps"], maximize=False,
                      decoupled_weight_decay=group["decoupled"])
