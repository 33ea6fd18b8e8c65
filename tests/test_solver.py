"""The solver on real MovieLens data: the grid's residuals and derivatives, the Schur-complement step
against the dense normal equations, projection, alternating sweeps, the spectral start, and solve."""
import numpy as np
import pytest
import torch

from engine.sheet.solve import schur
from engine.sheet.solve import solver
from engine.data.crosstab import top_crosstab
from engine.config import SheetConfig
from engine.sheet.sheet import Sheet
from engine.sheet.solve.spectral import spectral_start

CONFIGS = [SheetConfig(), SheetConfig(biases=True), SheetConfig(biases=True, squash=True)]
IDS = ["plain", "biases", "biases+squash"]


def _sides(sheet: Sheet) -> tuple[solver.Grid, torch.Tensor, torch.Tensor]:
    """The sheet's grid and three starts as rows and columns: one after a few steps (biases off zero),
    one random, one spectral."""
    sheet.step(20)
    theta = torch.stack([sheet.theta.clone(), sheet.model.initial_theta(1), sheet.model.spectral_theta()])
    grid = solver.Grid(solver.problem_of(sheet.model))
    return (grid, *grid.sides(theta))


def _dense_jacobian(grid: solver.Grid, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """∂r/∂(rows, cols) of one start by autograd: (cells, rows' parameters then columns')."""
    by_rows, by_cols = torch.autograd.functional.jacobian(
        lambda r, c: grid.evaluate(r[None], c[None])[0].flatten(), (rows, cols))
    return torch.cat([by_rows.flatten(1), by_cols.flatten(1)], 1)


def _dense_step(grid, rows, cols, mu: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(JᵀJ + diag(μ, λ))⁻¹(−Jᵀr) for one start from the dense J, and Jᵀr."""
    jac = _dense_jacobian(grid, rows, cols)
    r = grid.evaluate(rows[None], cols[None])[0].flatten()
    damping = torch.cat([torch.full((rows.numel(),), mu), torch.full((cols.numel(),), lam)]).double()
    jtr = jac.T @ r
    chol = torch.linalg.cholesky(jac.T @ jac + torch.diag(damping))
    return torch.cholesky_solve(-jtr[:, None], chol)[:, 0], jtr


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_grid_residuals_are_the_sheets(grid15, config: SheetConfig) -> None:
    sheet = Sheet(grid15, config, device="cpu")
    grid, rows, cols = _sides(sheet)
    r = grid.evaluate(rows[:1], cols[:1])[0][0]
    pred, _ = sheet.model.predict(sheet._p)
    expected = torch.where(torch.tensor(grid15.mask), pred - torch.tensor(np.nan_to_num(grid15.ratings)), 0.0)
    torch.testing.assert_close(r, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_grid_derivatives_match_autograd(grid15, config: SheetConfig) -> None:
    sheet = Sheet(grid15, config, device="cpu")
    grid, rows, cols = _sides(sheet)
    _, f, a, b = grid.evaluate(rows, cols)
    n, m, s = rows.shape[1], cols.shape[1], rows.shape[2]
    f = f.expand(len(rows), n, m)
    for i in range(len(rows)):
        # The cell (u, v)'s derivatives are f·a_v by its row's parameters and f·b_u by its column's.
        jac = torch.zeros(n, m, n * s + m * s, dtype=torch.float64)
        for u in range(n):
            jac[u, :, u * s:(u + 1) * s] = f[i, u, :, None] * a[i]
        for v in range(m):
            jac[:, v, n * s + v * s:n * s + (v + 1) * s] = f[i, :, v, None] * b[i]
        expected = _dense_jacobian(grid, rows[i], cols[i])
        torch.testing.assert_close(jac.view(n * m, -1), expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_schur_step_equals_the_dense_step(grid15, config: SheetConfig) -> None:
    sheet = Sheet(grid15, config, device="cpu")
    grid, rows, cols = _sides(sheet)
    mu = torch.tensor([1e-9, 0.1, 10.0], dtype=torch.float64)
    lam = torch.tensor([1e-3, 0.1, 1.0], dtype=torch.float64)
    d_rows, d_cols, slope = schur.step(*grid.evaluate(rows, cols), mu, lam)
    for i in range(3):
        dense, jtr = _dense_step(grid, rows[i], cols[i], float(mu[i]), float(lam[i]))
        step = torch.cat([d_rows[i].flatten(), d_cols[i].flatten()])
        assert torch.linalg.norm(step - dense) <= 1e-8 * torch.linalg.norm(dense)
        torch.testing.assert_close(slope[i], step @ jtr, rtol=1e-9, atol=0)


def test_a_failed_factorisation_gives_a_rejected_step(grid15) -> None:
    grid, rows, cols = _sides(Sheet(grid15, device="cpu"))
    mu = torch.full((3,), 1e-9, dtype=torch.float64)
    _, _, slope = schur.step(*grid.evaluate(rows, cols), mu, torch.tensor([1e-3, -1e6, 1e-3], dtype=torch.float64))
    assert torch.isfinite(slope[[0, 2]]).all() and torch.isnan(slope[1])  # a negative λ: not positive definite


def test_the_movie_side_is_eliminated_when_there_are_more_movies(movielens) -> None:
    wide = Sheet(top_crosstab(movielens, 6, 15), SheetConfig(biases=True), device="cpu")
    grid, rows, cols = _sides(wide)
    assert grid.flip and rows.shape == (3, 15, 6) and cols.shape == (3, 6, 6)  # 15 movies out, 6 users kept
    torch.testing.assert_close(grid.theta(rows, cols)[0], wide.theta, rtol=0, atol=0)
    d_rows, d_cols, _ = schur.step(*grid.evaluate(rows, cols), torch.ones(3, dtype=torch.float64),
                                   torch.ones(3, dtype=torch.float64))
    dense, _ = _dense_step(grid, rows[0], cols[0], 1.0, 1.0)
    torch.testing.assert_close(torch.cat([d_rows[0].flatten(), d_cols[0].flatten()]), dense, rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("config", CONFIGS[:2], ids=IDS[:2])
def test_projection_puts_each_row_at_its_least_squares_optimum(grid15, config: SheetConfig) -> None:
    grid, rows, cols = _sides(Sheet(grid15, config, device="cpu"))
    before, *_ = grid.evaluate(rows, cols)
    projected = grid.project(rows, cols)
    r, f, a, _ = grid.evaluate(projected, cols)
    gradient = (f * r) @ a  # ½∂SSE/∂rows
    assert gradient.abs().max() <= 1e-8 * ((f * before) @ a).abs().max()
    assert ((r**2).sum((1, 2)) <= (before**2).sum((1, 2))).all()


def test_alternating_sweeps_never_raise_the_loss(grid15) -> None:
    grid, rows, cols = _sides(Sheet(grid15, SheetConfig(biases=True), device="cpu"))
    losses = []
    for sweeps in range(6):
        r, *_ = grid.evaluate(*solver.alternate(grid, rows, cols, sweeps))
        losses.append((r**2).sum((1, 2)))
    assert all((later <= earlier * (1 + 1e-12)).all() for earlier, later in zip(losses, losses[1:]))
    assert (losses[-1] < losses[0]).all()


def test_the_spectral_start_reproduces_a_grid_of_rank_k(grid15) -> None:
    solved = Sheet(grid15, device="cpu")
    solved.solve()
    exact = solved.snapshot().user_factors @ solved.snapshot().item_factors  # every cell rated, rank 5
    blocks = spectral_start(exact, k=5, biases=False)
    np.testing.assert_allclose(blocks["user_factors"] @ blocks["item_factors"], exact, rtol=0, atol=1e-9)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_the_spectral_start_is_better_placed_than_random_factors(grid15, config: SheetConfig) -> None:
    sheet = Sheet(grid15, config, device="cpu")
    random_rmse = sheet.rmse()
    sheet.theta.copy_(sheet.model.spectral_theta())
    assert np.isfinite(sheet.rmse()) and sheet.rmse() < 0.5 * random_rmse


def test_the_spectral_start_pads_factors_beyond_the_grids_rank(movielens) -> None:
    small = top_crosstab(movielens, 5, 5)
    blocks = spectral_start(small.ratings, k=8, biases=True)
    assert blocks["user_factors"].shape == (5, 8) and blocks["item_factors"].shape == (8, 5)
    assert np.isfinite(np.concatenate([b.ravel() for b in blocks.values()])).all()


@pytest.mark.parametrize("config,spread", [(CONFIGS[0], 1e-6), (CONFIGS[1], 5e-3)], ids=IDS[:2])
def test_solve_finds_the_same_minimum_from_different_seeds(grid15, config: SheetConfig, spread: float) -> None:
    # Plain: every start measured ends at one minimum. Biases: a neighbouring one 0.3% higher is sometimes kept.
    found = []
    for seed in (42, 0, 7):
        result = Sheet(grid15, SheetConfig(k=config.k, biases=config.biases, seed=seed), device="cpu").solve()
        assert result.converged and not result.stopped
        found.append(result.rmse)
    assert max(found) - min(found) <= spread * min(found), found


def test_a_sheet_too_big_for_marquardt_is_solved_by_lbfgs(movielens) -> None:
    sheet = Sheet(top_crosstab(movielens, 60, 60), SheetConfig(k=40), device="cpu")
    assert not solver.affordable(solver.problem_of(sheet.model), 1)
    result = sheet.solve(max_iter=40)
    assert 0 < result.iterations <= 40 and result.rmse < 0.5 * result.rmse_before


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_solve_copes_with_users_rated_too_little_to_fit(grid15, config: SheetConfig) -> None:
    # A user with no rating left and one with a single rating (fewer than k + 1 parameters' worth).
    sheet = Sheet(grid15, config, device="cpu")
    for j in range(sheet.n_items):
        sheet.set_rating(0, j, None)
    rated = np.flatnonzero(grid15.mask[1])
    for j in rated[1:]:
        sheet.set_rating(1, int(j), None)
    before = sheet.rmse()
    result = sheet.solve()
    assert result.converged and np.isfinite(sheet.theta.numpy()).all()
    assert result.rmse < before and result.rmse == pytest.approx(sheet.rmse())
