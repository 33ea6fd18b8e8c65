"""Held-out cells: seeded, left out of the loss, the gradient and Solve, scored on their own; overfitting shows."""
import math

import numpy as np
import pytest
import torch

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.sheet import holdout
from collabsheet.engine.sheet.sheet import Sheet

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)

ADAM = OptimizerSettings("adam", lr=0.05)


def blanked(grid: Crosstab, mask: np.ndarray) -> Crosstab:
    """The same crosstab with the masked cells blank: what a held-out sheet should fit."""
    return Crosstab(np.where(mask, np.nan, grid.ratings), grid.user_ids, grid.item_ids, grid.titles, grid.name)


def test_the_pick_is_a_seeded_fifth_of_the_rated_cells(grid15) -> None:
    rated = int(grid15.mask.sum())
    a, b, c = (holdout.pick(grid15.ratings, 0.2, seed) for seed in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.sum() == round(0.2 * rated) and not (a & ~grid15.mask).any()
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="held-out fraction must be between 0 and 1"):
            holdout.pick(grid15.ratings, bad, 0)
    one = np.full((3, 3), np.nan)
    one[0, 0] = 4.0
    with pytest.raises(ValueError, match="at least 2 ratings"):
        holdout.pick(one, 0.2, 0)


def test_held_out_cells_leave_the_loss_and_the_gradient(grid15) -> None:
    sheet = Sheet(grid15, SheetConfig(biases=True), ADAM, device="cpu")
    sheet.set_holdout(0.2, seed=3)
    mask = sheet.holdout.copy()
    plain = Sheet(blanked(grid15, mask), SheetConfig(biases=True), ADAM, device="cpu")
    assert sheet.rmse() == plain.rmse()
    a, b = sheet.step(200), plain.step(200)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert torch.equal(sheet.theta, plain.theta)  # the held-out ratings never reach the gradient
    snap = sheet.snapshot()
    assert snap.count == int(grid15.mask.sum()) - int(mask.sum()) == int(snap.mask.sum())
    assert not (snap.mask & snap.holdout).any() and np.isnan(snap.ratings[mask]).all()
    np.testing.assert_array_equal(snap.holdout_ratings[mask], grid15.ratings[mask])
    assert snap.holdout_count == int(mask.sum()) and (snap.predictions[mask] != 0).all()
    assert sheet.ratings[mask].tolist() == grid15.ratings[mask].tolist()  # the sheet still has every rating


def test_held_out_rmse_is_over_the_held_out_cells_only(grid15) -> None:
    sheet = Sheet(grid15, settings=ADAM, device="cpu")
    sheet.set_holdout(0.2, seed=5)
    before = sheet.holdout_rmse()
    result = sheet.step(150)
    assert result.holdout_losses[0] == pytest.approx(before, rel=1e-14)
    snap = sheet.snapshot()
    by_hand = math.sqrt(np.nanmean((snap.predictions - snap.holdout_ratings)[snap.holdout] ** 2))
    assert snap.holdout_rmse == pytest.approx(by_hand, rel=1e-12) == sheet.holdout_rmse()
    np.testing.assert_allclose(snap.holdout_errors[snap.holdout], (snap.predictions - snap.holdout_ratings)[snap.holdout])
    # Changing a held-out rating moves the held-out RMSE and nothing else.
    i, j = map(int, np.argwhere(snap.holdout)[0])
    grad, rmse = sheet.snapshot().grads["user_factors"].copy(), sheet.rmse()
    sheet.set_rating(i, j, 1.0 if sheet.ratings[i, j] != 1.0 else 5.0)
    assert sheet.holdout[i, j] and sheet.rmse() == rmse
    np.testing.assert_array_equal(sheet.snapshot().grads["user_factors"], grad)
    assert sheet.holdout_rmse() != snap.holdout_rmse
    # Blanking a held-out cell takes it out of the held-out set.
    sheet.set_rating(i, j, None)
    assert not sheet.holdout[i, j] and sheet.snapshot().holdout_count == snap.holdout_count - 1


def test_solve_respects_the_held_out_set(grid15) -> None:
    sheet = Sheet(grid15, SheetConfig(k=3), device="cpu")
    sheet.set_holdout(0.2, seed=2)
    mask = sheet.holdout.copy()
    plain = Sheet(blanked(grid15, mask), SheetConfig(k=3), device="cpu")
    a, b = sheet.solve(), plain.solve()
    assert a.rmse == b.rmse and torch.equal(sheet.theta, plain.theta)
    other = Sheet(grid15, SheetConfig(k=3), device="cpu")
    other.set_holdout(0.2, seed=2)
    i, j = map(int, np.argwhere(mask)[0])
    other.set_rating(i, j, 1.0 if grid15.ratings[i, j] != 1.0 else 5.0)  # a held-out value the solve must not see
    other.solve()
    assert torch.equal(other.theta, sheet.theta)
    assert sheet.holdout_rmse() > a.rmse  # fitted to the rest, worse on the cells it never saw


@pytest.mark.parametrize("k", [5, 8])
def test_overfitting_shows_training_falls_while_held_out_turns_up(grid15, k: int) -> None:
    sheet = Sheet(grid15, SheetConfig(k=k), ADAM, device="cpu")
    sheet.set_holdout(0.2, seed=0)
    result = sheet.step(3000)
    train, held = result.losses, result.holdout_losses
    best = int(np.argmin(held))
    # Measured on the 15×15 MovieLens sheet: the held-out RMSE bottoms out within the first ~50 steps
    # (about 0.9–1.0) and ends far above it, while the training RMSE goes on falling.
    assert best < len(held) // 10
    assert held[-1] > 1.3 * held[best]
    assert train[-1] < 0.5 * train[best] and train[-1] < 0.2
    assert held[best] < held[0]  # it did improve first: the turn is overfitting, not a bad start


def test_state_dict_carries_the_held_out_cells_and_clear_puts_them_back(grid15) -> None:
    sheet = Sheet(grid15, settings=ADAM, device="cpu")
    full = sheet.rmse()
    sheet.set_holdout(0.25, seed=9)
    sheet.step(20)
    saved = sheet.state_dict()
    other = Sheet(grid15, settings=ADAM, device="cpu")
    other.load_state_dict(saved)
    np.testing.assert_array_equal(other.holdout, sheet.holdout)
    assert other.rmse() == sheet.rmse() and other.holdout_rmse() == sheet.holdout_rmse()
    np.testing.assert_array_equal(other.step(30).holdout_losses, sheet.step(30).holdout_losses)
    fresh = Sheet(grid15, settings=ADAM, device="cpu")
    fresh.set_holdout(0.25, seed=9)
    fresh.clear_holdout()
    assert not fresh.holdout.any() and fresh.rmse() == full and math.isnan(fresh.holdout_rmse())
    assert fresh.step(3).holdout_losses is None and math.isnan(fresh.snapshot().holdout_rmse)
    with pytest.raises(ValueError, match="held-out mask should have shape"):
        fresh.load_state_dict({**saved, "holdout": np.zeros((2, 2), dtype=bool)})


def test_a_diverging_run_reports_held_out_losses_for_the_steps_it_kept(grid15) -> None:
    sheet = Sheet(grid15, settings=OptimizerSettings("sgd", lr=4.0), device="cpu")
    sheet.set_holdout(0.2, seed=1)
    result = sheet.step(1000)
    assert result.diverged and len(result.holdout_losses) == result.steps == len(result.losses) == 2
