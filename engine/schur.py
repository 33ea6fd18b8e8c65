"""The Marquardt step by the Schur complement, the way bundle adjustment solves it.

A rated cell's prediction depends only on its user's parameters (k factors and maybe a bias) and
its movie's. With θ ordered user by user and movie by movie, JᵀJ = [[D_u, W], [Wᵀ, D_m]]: D_u and
D_m are block diagonal, one small block per user or movie, and W has one block per rated cell, the
outer product of the cell's user values and movie values. The side with more blocks ("out") is
eliminated block by block, which leaves a dense system only the size of the other side ("kept"):
S = (D_kept + λI) − Wᵀ(D_out + λI)⁻¹W. Nothing of size θ × θ is ever formed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Blocks:
    """Where each rated cell and each parameter sits, for the elimination."""

    shape: tuple[int, int, int]  # (out blocks, kept blocks, parameters per block)
    out_values: slice  # which of a cell's compact Jacobian values belong to its out block …
    kept_values: slice  # … and which to its kept block
    cell: torch.Tensor  # (cells,) each rated cell's place in the out × kept grid, row by row
    order: torch.Tensor  # (P,) where each θ column sits among the out blocks' parameters, then the kept blocks'


def blocks(rows: torch.Tensor, cols: torch.Tensor, columns: dict[str, torch.Tensor]) -> Blocks:
    """The blocks of a sheet from its rated cells' users and movies and θ's named blocks of column numbers."""
    # The sheet's compact Jacobian rows hold a cell's user values (factors, bias), then its movie values.
    users, movies = [columns["user_factors"]], [columns["item_factors"].T]
    if "user_bias" in columns:
        users.append(columns["user_bias"][:, None])
        movies.append(columns["item_bias"][:, None])
    users, movies = torch.cat(users, 1), torch.cat(movies, 1)  # (users, size), (movies, size) in value order
    size = users.shape[1]
    sides = [(rows, users, slice(0, size)), (cols, movies, slice(size, 2 * size))]  # (cell's block, columns, values)
    (out_cell, out_columns, out_values), (kept_cell, kept_columns, kept_values) = (
        sides if len(users) >= len(movies) else sides[::-1])
    n, m = len(out_columns), len(kept_columns)
    order = torch.cat([out_columns.reshape(-1), kept_columns.reshape(-1)]).argsort()
    return Blocks((n, m, size), out_values, kept_values, out_cell * m + kept_cell, order)


def step(blocks: Blocks, r: torch.Tensor, values: torch.Tensor, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """δ solving (JᵀJ + λI)·δ = −Jᵀr for each start (r: starts × cells, values: its compact J), and δ·Jᵀr."""
    out, kept, a, b = _normal_blocks(blocks, r, values)
    batch, (n, m, s) = len(r), blocks.shape
    d_out, g_out = out[..., :s, :s], out[..., :s, s:]  # (starts, n, s, s), (starts, n, s, 1)
    d_kept, g_kept = kept[..., 1:, 1:], kept[..., 1:, 0]  # (starts, m, s, s), (starts, m, s)
    d_out.diagonal(dim1=-2, dim2=-1).add_(lam[:, None, None])
    chol, failed_out = torch.linalg.cholesky_ex(d_out)
    v, vg = _whitened(chol, a, b, g_out)
    schur = (v.mT @ v).neg_()
    schur.view(batch, m, s, m, s).diagonal(dim1=1, dim2=3).add_(d_kept.permute(0, 2, 3, 1))
    schur.diagonal(dim1=-2, dim2=-1).add_(lam[:, None])
    chol_kept, failed_kept = torch.linalg.cholesky_ex(schur)
    # A row vector times a matrix: torch's batched matrix–vector products are several times slower.
    rhs = (vg.view(batch, 1, -1) @ v).view(batch, m, s).sub_(g_kept)  # Wᵀ(D_out + λI)⁻¹g_out − g_kept
    x_kept = _cholesky_solve(chol_kept, rhs.view(batch, -1, 1))
    w_x = (x_kept.mT @ v.mT).view(batch, n, s, 1)  # L⁻¹W·x_kept
    x_out = -torch.linalg.solve_triangular(chol.mT, vg + w_x, upper=True)  # −(D_out + λI)⁻¹(g_out + W·x_kept)
    delta = torch.cat([x_out.view(batch, -1), x_kept.view(batch, -1)], 1)[:, blocks.order]
    slope = (x_out * g_out).sum((1, 2, 3)) + (x_kept.view(batch, m, s) * g_kept).sum((1, 2))
    # A start whose factorisation failed gets a NaN δ·Jᵀr, so that the gain ratio rejects its step.
    failed = failed_out.sum(-1) + failed_kept > 0
    return delta, torch.where(failed, float("nan"), slope)


def _normal_blocks(blocks: Blocks, r: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each out block's [[D, g], [gᵀ, rᵀr]], each kept block's [[rᵀr, gᵀ], [g, D]], and the values a and b."""
    # A cell's out values a, its residual r and its kept values b go in a row on the grid of out × kept
    # blocks (zero where unrated): the Gram matrix of [a, r] down a row of the grid holds an out
    # block's D and g = Jᵀr, that of [r, b] down a column a kept block's. a, b: (starts, n, m, s).
    batch, q = values.shape[0], values.shape[-1]
    n, m, s = blocks.shape
    cells = torch.cat([values[..., blocks.out_values], r[..., None], values[..., blocks.kept_values]], -1)
    grid = values.new_zeros(batch, n * m, q + 1).index_copy_(1, blocks.cell, cells).view(batch, n, m, q + 1)
    out_rows, kept_rows = grid[..., :s + 1], grid[..., s:].transpose(1, 2)
    return out_rows.mT @ out_rows, kept_rows.mT @ kept_rows, grid[..., :s], grid[..., s + 1:]


def _whitened(chol: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
              g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """V = L⁻¹W (starts, n·s, m·s) and L⁻¹g, for L the out blocks' Cholesky factors: Wᵀ(D_out + λI)⁻¹W = VᵀV."""
    # W's block for a cell is the outer product of its a and b, so V's is that of L⁻¹a and b.
    (batch, n, m, s), la = a.shape, torch.linalg.solve_triangular(chol, a.mT, upper=False)
    # The triangular solve hands back column-major blocks; contiguous, so that the product's layout is V's.
    v = (la.contiguous()[..., None] * b[:, :, None]).view(batch, n * s, m * s)
    return v, torch.linalg.solve_triangular(chol, g, upper=False)


def _cholesky_solve(chol: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """(LLᵀ)⁻¹·rhs by two triangular solves (torch.cholesky_solve copies the factor first)."""
    return torch.linalg.solve_triangular(chol.mT, torch.linalg.solve_triangular(chol, rhs, upper=False), upper=True)
