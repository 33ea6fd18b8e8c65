"""The solver on real MovieLens data: the Schur-complement step against the dense normal equations, and solve."""
import pytest
import torch

from engine import schur, solver
from engine.crosstab import top_crosstab
from engine.sheet import Sheet, SheetConfig

CONFIGS = [SheetConfig(), SheetConfig(biases=True), SheetConfig(biases=True, squash=True)]


def _problem(sheet: Sheet, monkeypatch) -> solver.Problem:
    """The Problem that sheet.solve hands the solver."""
    seen = []

    def capture(problem, starts, **_):
        seen.append(problem)
        return solver.Outcome(starts[0], 0, False, False)

    monkeypatch.setattr(solver, "multistart", capture)
    sheet.solve()
    return seen[0]


def _starts(sheet: Sheet) -> torch.Tensor:
    """Three starts, one of them after a few steps so that biases are off zero."""
    sheet.step(20)
    return torch.stack([sheet.theta.clone(), sheet.initial_theta(1), sheet.initial_theta(2)])


def _dense(problem: solver.Problem, x: torch.Tensor, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(JᵀJ + λI)⁻¹(−Jᵀr) from the dense J and JᵀJ, and Jᵀr."""
    r, values, columns = problem.residuals_and_jacobian(x)
    jac = torch.zeros(*r.shape, x.shape[1], dtype=torch.float64).scatter_(2, columns.expand_as(values), values)
    jtr = (jac.mT @ r[..., None])[..., 0]
    # By Cholesky: once torch.set_num_threads has changed (threads_for does that), MKL's batched LU can fail.
    chol = torch.linalg.cholesky(jac.mT @ jac + lam[:, None, None] * torch.eye(x.shape[1], dtype=torch.float64))
    return torch.cholesky_solve(-jtr[..., None], chol)[..., 0], jtr


@pytest.mark.parametrize("config", CONFIGS, ids=["plain", "biases", "biases+squash"])
def test_schur_step_equals_the_dense_step(grid15, monkeypatch, config: SheetConfig) -> None:
    sheet = Sheet(grid15, config, device="cpu")
    problem = _problem(sheet, monkeypatch)
    x = _starts(sheet)
    lam = torch.tensor([1e-3, 0.1, 10.0], dtype=torch.float64)
    dense, jtr = _dense(problem, x, lam)
    r, values, _ = problem.residuals_and_jacobian(x)
    step, slope = schur.step(problem.blocks, r, values, lam)
    assert torch.linalg.norm(step - dense, dim=1).max() <= 1e-9 * torch.linalg.norm(dense, dim=1).min()
    torch.testing.assert_close(slope, (dense * jtr).sum(1), rtol=1e-9, atol=0)


def test_a_failed_factorisation_gives_a_rejected_step(grid15, monkeypatch) -> None:
    sheet = Sheet(grid15, device="cpu")
    problem = _problem(sheet, monkeypatch)
    r, values, _ = problem.residuals_and_jacobian(_starts(sheet))
    _, slope = schur.step(problem.blocks, r, values, torch.tensor([1e-3, -1e6, 1e-3], dtype=torch.float64))
    assert torch.isfinite(slope[[0, 2]]).all() and torch.isnan(slope[1])  # a negative λ: not positive definite


def test_the_movie_side_is_eliminated_when_there_are_more_movies(movielens, monkeypatch) -> None:
    wide = Sheet(top_crosstab(movielens, 6, 15), SheetConfig(biases=True), device="cpu")
    problem = _problem(wide, monkeypatch)
    assert problem.blocks.shape == (15, 6, 6)  # 15 movie blocks out, 6 user blocks kept, k + 1 parameters each
    x, lam = _starts(wide), torch.ones(3, dtype=torch.float64)
    r, values, _ = problem.residuals_and_jacobian(x)
    step, _ = schur.step(problem.blocks, r, values, lam)
    torch.testing.assert_close(step, _dense(problem, x, lam)[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [42, 0])
def test_solve_reaches_the_best_known_loss(grid15, seed: int) -> None:
    sheet = Sheet(grid15, SheetConfig(seed=seed), device="cpu")
    result = sheet.solve()
    assert result.converged and result.rmse <= 0.2952, result
