"""collabsheet.engine.sheet.recommend: predictions for the blank cells and each user's best unrated movies."""
from __future__ import annotations

import numpy as np
import pytest

from collabsheet.engine.config import SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.sheet import explain, recommend
from collabsheet.engine.sheet.sheet import Sheet


def _grid() -> Crosstab:
    rng = np.random.default_rng(3)
    ratings = rng.integers(1, 6, size=(5, 8)).astype(float)
    ratings[rng.random(ratings.shape) < 0.4] = np.nan
    ratings[4, :] = 3.0  # user 104 rated every movie
    titles = tuple(f"Movie {j}" for j in range(8))
    return Crosstab(ratings, tuple(range(100, 105)), tuple(range(200, 208)), titles, "toy")


@pytest.mark.parametrize("config", [{}, {"biases": True}, {"biases": True, "squash": True}])
def test_predictions_agree_with_the_sheet_where_rated_and_with_explain_where_blank(config):
    sheet = Sheet(_grid(), SheetConfig(k=3, **config), device="cpu")
    sheet.step(5)
    snap = sheet.snapshot()
    every = recommend.predictions(snap)
    assert np.allclose(every[snap.mask], snap.predictions[snap.mask], rtol=0, atol=1e-12)
    blank = recommend.blank_predictions(snap)
    assert np.isnan(blank[snap.mask]).all() and np.isfinite(blank[~snap.mask]).all()
    for i, j in zip(*np.nonzero(~snap.mask)):
        assert blank[i, j] == pytest.approx(dict(explain.prediction(snap, i, j).terms)["prediction p"], abs=1e-12)
    if config.get("squash"):
        lo, hi = snap.y_range
        assert ((blank[~snap.mask] > lo) & (blank[~snap.mask] < hi)).all()


def test_top_unrated_ranks_each_users_blanks_by_prediction():
    sheet = Sheet(_grid(), SheetConfig(k=3, biases=True), device="cpu")
    sheet.step(5)
    snap = sheet.snapshot()
    blank = recommend.blank_predictions(snap)
    lo, hi = recommend.rating_range(snap)
    top = recommend.top_unrated(snap, n=2)
    assert set(top) == set(range(5)) and top[4] == ()
    for i, recs in top.items():
        unrated = np.flatnonzero(~snap.mask[i])
        expected = sorted(unrated, key=lambda j: -blank[i, j])[:2]
        assert [r.movie for r in recs] == expected
        for r in recs:
            assert not snap.mask[i, r.movie] and r.title == f"Movie {r.movie}" and r.item_id == 200 + r.movie
            assert r.prediction == blank[i, r.movie] and r.rating == min(max(r.prediction, lo), hi)
    assert list(recommend.top_unrated(snap, n=3, users=[1])) == [1]
    with pytest.raises(ValueError, match="at least 1"):
        recommend.top_unrated(snap, n=0)


def test_a_movie_the_user_would_love_comes_first_and_is_clipped_to_the_top_rating():
    """Factors set by hand: movie 6 lines up with user 0's taste far past 5 stars; movie 3 comes second."""
    grid = _grid()
    sheet = Sheet(grid, SheetConfig(k=2), device="cpu")
    for f in range(2):
        sheet.set_param("user_factors", (0, f), 1.0)
        for j in range(8):
            sheet.set_param("item_factors", (f, j), {6: 4.0, 3: 2.0}.get(j, 0.1))
    sheet.set_rating(0, 6, None)
    sheet.set_rating(0, 3, None)
    snap = sheet.snapshot()
    first, second = recommend.top_unrated(snap, n=2, users=[0])[0]
    assert (first.movie, first.prediction, first.rating) == (6, pytest.approx(8.0), 5.0)
    assert (second.movie, second.prediction, second.rating) == (3, pytest.approx(4.0), pytest.approx(4.0))
    text = recommend.describe(snap, 0, (first, second))
    assert text.splitlines()[1] == "1. Movie 6  5.00 (model 8.00)" and text.splitlines()[2] == "2. Movie 3  4.00"
    assert "rated every movie" in recommend.describe(snap, 4, ())


def test_recommendations_on_the_lessons_sheet_after_solve(grid15):
    sheet = Sheet(grid15, SheetConfig(k=5, biases=True), device="cpu")
    sheet.solve(restarts=2, max_iter=300)
    snap = sheet.snapshot()
    top = recommend.top_unrated(snap)
    blank = recommend.blank_predictions(snap)
    lo, hi = recommend.rating_range(snap)
    for i, recs in top.items():
        unrated = int((~snap.mask[i]).sum())
        assert len(recs) == min(recommend.TOP, unrated)
        if recs:
            assert recs[0].prediction == np.nanmax(blank[i])
            assert [r.prediction for r in recs] == sorted((r.prediction for r in recs), reverse=True)
            assert all(lo <= r.rating <= hi and r.title == grid15.titles[r.movie] for r in recs)
