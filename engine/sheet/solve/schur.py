"""The Marquardt step by the Schur complement, the way bundle adjustment solves it.

A cell's residual r_ij depends only on its row's s parameters and its column's: its derivatives are
f_ij·a_j by the row's and f_ij·b_i by the column's, where a_j is what the row's parameters multiply
(the column's factors, and 1 for the bias), b_i what the column's multiply, and f_ij the slope of
the prediction (1, or the sigmoid's, and 0 where the cell is blank). So JᵀJ = [[D_rows, W], [Wᵀ,
D_cols]] with one small block per row and per column in D, and W_ij = f_ij²·a_j b_iᵀ. Eliminating
the rows block by block leaves a dense system only the size of the columns:
S = (D_cols + λI) − Wᵀ(D_rows + μI)⁻¹W. Nothing of size θ × θ, not even a per-cell block, is formed.
Shapes, batched over starts: r and f (starts, n, m), a (starts, m, s), b (starts, n, s).
With weight decay the sum of squares gains ρ‖θ‖²: JᵀJ gains ρI and Jᵀr gains ρθ (rows and cols: θ's two sides).
"""
from __future__ import annotations

import torch


def step(r: torch.Tensor, f: torch.Tensor, a: torch.Tensor, b: torch.Tensor, mu: torch.Tensor,
         lam: torch.Tensor, rho: float = 0.0, rows: torch.Tensor | None = None,
         cols: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """δ solving (JᵀJ + ρI + diag(μ on rows, λ on columns))·δ = −(Jᵀr + ρθ) per start: δ_rows, δ_cols and δ·g.

    rho is the weight of the L2 term ρ‖θ‖², and rows and cols (needed when rho > 0) the parameters θ it is taken at.
    """
    (batch, m, s), n = a.shape, b.shape[1]
    c, fr, chol, failed_rows = _rows_system(r, f, a, mu + rho if rho else mu)
    g_rows, g_cols = fr @ a, fr.mT @ b  # Jᵀr: (starts, n, s), (starts, m, s)
    if rho:
        g_rows, g_cols = g_rows + rho * rows, g_cols + rho * cols
    # Wᵀ(D_rows + μI)⁻¹W, block (j, l) = Σ_i c_ij c_il (a_j·D_i⁻¹a_l) b_i b_iᵀ: one m × m matrix Q_i per row …
    la = torch.linalg.solve_triangular(chol, a.mT[:, None].expand(batch, n, s, m), upper=False)
    q = (la.mT @ la) * c[..., :, None] * -c[..., None, :]  # (starts, n, m, m), negated for S
    # … summed against b_i b_iᵀ over the rows in one product, then laid out as S's (m·s, m·s)
    schur = (q.view(batch, n, m * m).mT @ _outer(b).view(batch, n, s * s)).view(batch, m, m, s, s)
    schur = schur.transpose(2, 3).reshape(batch, m * s, m * s)
    schur.view(batch, m, s, m, s).diagonal(dim1=1, dim2=3).add_(_blocks(c.mT, b).permute(0, 2, 3, 1))
    schur.diagonal(dim1=-2, dim2=-1).add_((lam + rho if rho else lam)[:, None])
    chol_cols, failed_cols = torch.linalg.cholesky_ex(schur)
    z = _solve(chol, g_rows)  # (D_rows + μI)⁻¹g_rows, per row
    rhs = ((c * (z @ a.mT)).mT @ b) - g_cols  # Wᵀz − g_cols
    x_cols = _solve(chol_cols, rhs.view(batch, m * s)).view(batch, m, s)
    x_rows = -_solve(chol, g_rows + (c * (b @ x_cols.mT)) @ a)  # −(D_rows + μI)⁻¹(g_rows + W·x_cols)
    slope = _dot(x_rows, g_rows) + _dot(x_cols, g_cols)
    # A start whose factorisation failed gets a NaN δ·Jᵀr, so that the gain ratio rejects its step.
    failed = failed_rows.sum(-1) + failed_cols.view(batch) > 0
    return x_rows, x_cols, torch.where(failed, float("nan"), slope)


def rows_step(r: torch.Tensor, f: torch.Tensor, a: torch.Tensor, mu: float, rho: float = 0.0,
              rows: torch.Tensor | None = None) -> torch.Tensor:
    """δ_rows solving (D_rows + (μ + ρ)I)·δ = −(g_rows + ρ·rows) with the columns held: each row's own least squares."""
    _, fr, chol, _ = _rows_system(r, f, a, torch.full(a.shape[:1], mu + rho, dtype=a.dtype, device=a.device))
    g_rows = fr @ a + rho * rows if rho else fr @ a
    return -_solve(chol, g_rows)  # positive definite: μ > 0


def _rows_system(r: torch.Tensor, f: torch.Tensor, a: torch.Tensor,
                 mu: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """f², f·r, and each row's D_rows + μI = LLᵀ as its Cholesky factor L, with which ones failed."""
    c = f * f
    chol, failed = torch.linalg.cholesky_ex(_blocks(c, a) + _eye(a.shape[-1], mu))
    return c, f * r, chol, failed


def _blocks(c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Σ_j c_ij a_j a_jᵀ for each i: (starts, n, s, s) from c (starts, n, m) and a (starts, m, s)."""
    batch, m, s = a.shape
    return (c @ _outer(a).view(batch, m, s * s)).view(batch, -1, s, s)


def _outer(a: torch.Tensor) -> torch.Tensor:
    return a[..., :, None] * a[..., None, :]


def _eye(s: int, mu: torch.Tensor) -> torch.Tensor:
    """μ·I per start, to add to each start's blocks."""
    return mu[:, None, None, None] * torch.eye(s, dtype=mu.dtype, device=mu.device)


def _solve(chol: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """(LLᵀ)⁻¹ applied to each row vector of rhs (…, s), by two triangular solves."""
    y = torch.linalg.solve_triangular(chol, rhs[..., None], upper=False)
    return torch.linalg.solve_triangular(chol.mT, y, upper=True)[..., 0]


def _dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vecdot(x.flatten(1), y.flatten(1))
