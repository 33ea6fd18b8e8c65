"""Folding in a new user: the exact least-squares row, its predictions and recommendations."""
import numpy as np
import pytest

from collabsheet.engine.config import SheetConfig
from collabsheet.engine.models import factorization
from collabsheet.engine.sheet import foldin
from collabsheet.engine.sheet.sheet import Sheet

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)


@pytest.fixture
def movies():
    rng = np.random.default_rng(4)
    return rng.normal(size=(15, 5)), rng.normal(scale=0.3, size=15)


def user(rated: list[int], seed: int = 0) -> np.ndarray:
    row = np.full(15, np.nan)
    row[rated] = np.random.default_rng(seed).integers(1, 11, len(rated)) / 2  # 0.5 … 5 in halves
    return row


def test_equal_to_the_closed_form(movies) -> None:
    factors, bias = movies
    row = user([0, 2, 3, 5, 8, 9, 11, 14])
    rated = ~np.isnan(row)
    a = np.concatenate([factors, np.ones((15, 1))], 1)[rated]
    y = row[rated] - bias[rated]
    expected = np.linalg.solve(a.T @ a, a.T @ y)  # the normal equations
    f = foldin.fold_in(row, factors, bias)
    np.testing.assert_allclose(np.append(f.factors, f.bias), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.predictions, factors @ f.factors + f.bias + bias, rtol=0, atol=1e-12)
    assert f.rmse == pytest.approx(np.sqrt(np.mean((a @ expected - y) ** 2)), rel=1e-10)
    ridge = foldin.fold_in(row, factors, bias, ridge=0.7)
    expected = np.linalg.solve(a.T @ a + 0.7 * np.eye(6), a.T @ y)
    np.testing.assert_allclose(np.append(ridge.factors, ridge.bias), expected, rtol=0, atol=1e-12)
    plain = foldin.fold_in(row, factors)  # no biases: k unknowns
    a = factors[rated]
    np.testing.assert_allclose(plain.factors, np.linalg.solve(a.T @ a, a.T @ row[rated]), rtol=0, atol=1e-12)
    assert plain.bias is None


def test_fewer_ratings_than_unknowns(movies) -> None:
    factors, bias = movies
    row = user([1, 4, 7], seed=2)
    rated = ~np.isnan(row)
    a = np.concatenate([factors, np.ones((15, 1))], 1)[rated]
    f = foldin.fold_in(row, factors, bias)
    np.testing.assert_allclose(np.append(f.factors, f.bias), np.linalg.pinv(a) @ (row[rated] - bias[rated]), atol=1e-12)
    assert f.rmse < 1e-12  # three ratings, six unknowns: fitted exactly, by the smallest row that does
    ridge = foldin.fold_in(row, factors, bias, ridge=0.1)
    expected = np.linalg.solve(a.T @ a + 0.1 * np.eye(6), a.T @ (row[rated] - bias[rated]))
    np.testing.assert_allclose(np.append(ridge.factors, ridge.bias), expected, atol=1e-12)
    assert np.linalg.norm(np.append(ridge.factors, ridge.bias)) < np.linalg.norm(np.append(f.factors, f.bias))


@pytest.mark.parametrize("config", [SheetConfig(k=3), SheetConfig(k=3, biases=True)])
def test_a_solved_sheets_users_fold_back_in_to_their_own_rows(grid15, config: SheetConfig) -> None:
    """Solve keeps every user's row at its least-squares optimum for the movies: folding them in finds it again."""
    sheet = Sheet(grid15, config, device="cpu")
    assert sheet.solve().converged
    snap = sheet.snapshot()
    for i in range(15):
        f = foldin.from_snapshot(snap, grid15.ratings[i])
        np.testing.assert_allclose(f.factors, snap.user_factors[i], atol=1e-8)
        if config.biases:
            assert f.bias == pytest.approx(snap.params["user_bias"][i], abs=1e-8)
        np.testing.assert_allclose(f.predictions[f.rated], snap.predictions[i][f.rated], atol=1e-8)


def test_with_the_sigmoid_the_row_is_a_stationary_point_at_least_as_good_as_solves(grid15) -> None:
    # A start Solve takes to a bounded minimum: from many others a squashed sheet ends in a valley where factors
    # grow and predictions saturate at the range's ends (README, "Solve"), and no row is strictly inside it.
    config = SheetConfig(k=3, biases=True, squash=True, squash_range="wide", seed=7)  # a bounded minimum exists
    sheet = Sheet(grid15, config, device="cpu")
    sheet.solve()
    snap = sheet.snapshot()
    factors, bias = snap.item_factors.T, snap.params["item_bias"]
    for i in (0, 6, 13):
        row = grid15.ratings[i]
        rated = ~np.isnan(row)
        f = foldin.from_snapshot(snap, row)
        a = np.concatenate([factors, np.ones((15, 1))], 1)[rated]
        x = np.append(f.factors, f.bias)
        pred, s = factorization.squash(a @ x + bias[rated], snap.y_range)
        gradient = (factorization.squash_slope(s, snap.y_range)[:, None] * a).T @ (pred - row[rated])
        assert np.abs(gradient).max() < 1e-9
        solved = np.append(snap.user_factors[i], snap.params["user_bias"][i])
        loss = lambda v: np.sum((factorization.squash(a @ v + bias[rated], snap.y_range)[0] - row[rated]) ** 2)  # noqa: E731
        assert loss(x) <= loss(solved) + 1e-12
        # The same row as Solve's, to Solve's tolerance (a relative change of 1e-7 in the loss leaves a squashed
        # row's values within about 1e-2).
        np.testing.assert_allclose(x, solved, rtol=1e-2, atol=1e-3)
        assert np.all((f.predictions > snap.y_range[0]) & (f.predictions < snap.y_range[1]))


def test_recommendations_are_the_best_unrated_movies(movies) -> None:
    factors, bias = movies
    titles = tuple(f"Film {j}" for j in range(15))
    row = user([0, 1, 2, 3, 4, 5, 6, 7], seed=5)
    f = foldin.fold_in(row, factors, bias, titles=titles, top=4)
    unrated = np.flatnonzero(np.isnan(row))
    best = unrated[np.argsort(-f.predictions[unrated])][:4]
    assert [r.index for r in f.top] == best.tolist()
    assert [r.title for r in f.top] == [titles[j] for j in best]
    assert all(not f.rated[r.index] for r in f.top) and f.top[0].prediction >= f.top[-1].prediction


def test_a_trained_models_every_movie(movies) -> None:
    """Any number of movies: a dataset's, with the user's ratings typed by movie id."""
    rng = np.random.default_rng(1)
    item_ids = tuple(range(1000, 3000))
    factors, bias = rng.normal(size=(2000, 8)), rng.normal(scale=0.2, size=2000)
    row = foldin.ratings_row({1000: 5.0, 1003: 1.0, 1500: 4.5, 2999: 3.0, 2024: 2.0, 1111: 4.0, 1200: 5.0,
                              1300: 1.5, 1400: 3.5, 1600: 2.5}, item_ids)
    assert np.count_nonzero(~np.isnan(row)) == 10 and row[0] == 5.0 and row[-1] == 3.0
    f = foldin.fold_in(row, factors, bias, titles=[f"#{i}" for i in item_ids], top=10)
    assert f.predictions.shape == (2000,) and len(f.top) == 10 and all(not f.rated[r.index] for r in f.top)
    with pytest.raises(ValueError, match="movie 7 is not among the model's 2000 movies"):
        foldin.ratings_row({7: 3.0}, item_ids)


def test_bad_inputs_are_one_line_errors(movies) -> None:
    factors, bias = movies
    row = user([0, 1])
    cases = [((np.full(15, np.nan), factors), "rate at least one movie"),
             ((row, factors[:10]), r"movie factors should have shape \(15, k\)"),
             ((row, factors, bias[:3]), "movie biases should be 15 finite numbers"),
             ((np.where(np.isnan(row), np.inf, row), factors), "finite numbers or blank")]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            foldin.fold_in(*args)
    with pytest.raises(ValueError, match="ridge must not be negative"):
        foldin.fold_in(row, factors, ridge=-1.0)
    with pytest.raises(ValueError, match="one title per movie"):
        foldin.fold_in(row, factors, titles=("a", "b"))
