"""A new user folded in: "Add me", ratings typed into the new row's blue cells, and "Fold in" (on the sheet's movies or a
trained model's), equal to the closed-form least-squares fit."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet import foldin
from collabsheet.engine.train import analysis
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.recipes import RECIPES
from collabsheet.engine.train.store import save
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.frames import NEW_USER_ID, Frame, LoadRequest
from collabsheet.gui.sheet.layout import Cell
from collabsheet.gui.sheet.newuser import load_movies
from collabsheet.gui.sheet.runner import SheetRunner
from train_helpers import low_rank_ratings

WAIT_MS = 30_000
MINE = {0: 5.0, 1: 4.0, 3: 1.0, 5: 2.0, 6: 4.5, 8: 3.0, 10: 5.0, 12: 1.5}  # sheet movie column → my rating


@pytest.fixture(scope="module")
def trained(movielens, tmp_path_factory):
    """A small dotbias model of all of MovieLens, saved as the Training tab saves one."""
    run = learn(movielens, RECIPES["fast"].with_(epochs=1, factors=8), seed=1, device="cpu")
    return save(run.model, tmp_path_factory.mktemp("model") / "dotbias.pt"), run.model


@pytest.fixture
def window(laptop_window):
    return laptop_window


def type_ratings(qtbot, tab, ratings: dict) -> None:
    """Type into the new row's blue cells, as a user does (the model's setData is what the cell editor calls)."""
    model = tab.model
    row = model.new_user_row
    for j, r in ratings.items():
        assert model.setData(model.index(*model.layout.position(Cell(L.RATING, (row, j)))), f"{r:g}")
    part = tab.new_user
    qtbot.waitUntil(lambda: part.row is not None and int((part.row.ratings == part.row.ratings).sum()) == len(ratings),
                    timeout=WAIT_MS)


def my_row(ratings: dict, m: int = 15) -> np.ndarray:
    row = np.full(m, np.nan)
    for j, r in ratings.items():
        row[j] = r
    return row


def test_add_me_then_fold_in_fills_the_row_with_the_least_squares_fit(qtbot, window):
    tab = window.sheet
    tab.actions["add_me"].trigger()
    qtbot.waitUntil(lambda: tab.model.new_user_row == 15, timeout=WAIT_MS)
    model = tab.model
    assert model.headerData(model.layout.position(Cell(L.RATING, (15, 0)))[0], Qt.Vertical) == NEW_USER_ID
    assert tab.view.currentIndex() == model.index(*model.layout.position(Cell(L.RATING, (15, 0))))  # ready to type
    assert tab.snapshot.ratings.shape == (15, 15) and tab.side_tabs.currentWidget() is tab.new_user.panel
    type_ratings(qtbot, tab, MINE)
    assert not tab.actions["fold_in"].isEnabled() or tab.new_user.row.folded_at is None
    tab.actions["fold_in"].trigger()
    qtbot.waitUntil(lambda: tab.new_user.row.folded_at == 0, timeout=WAIT_MS)
    snap = tab.snapshot
    rated = np.array(sorted(MINE))
    movies = snap.item_factors.T  # (movies, k): frozen
    x, *_ = np.linalg.lstsq(movies[rated], np.array([MINE[j] for j in rated]), rcond=None)
    np.testing.assert_allclose(tab.new_user.row.factors, x, rtol=1e-10)
    np.testing.assert_allclose(tab.new_user.row.predictions, movies @ x, rtol=1e-10)
    for j in range(15):  # the purple cells of the row: rated ones as predictions, the others greyed
        text = model.data(model.index(*model.layout.position(Cell(L.PREDICTION, (15, j)))), Qt.DisplayRole)
        assert float(text) == pytest.approx(movies[j] @ x, abs=0.006)
    factor = model.data(model.index(*model.layout.position(Cell(L.USER_FACTORS, (15, 2)))), Qt.EditRole)
    assert float(factor) == pytest.approx(x[2], rel=1e-12)
    unrated = [j for j in range(15) if j not in MINE]
    best = sorted(unrated, key=lambda j: -(movies[j] @ x))[:3]
    assert [title for title, _ in tab.new_user.row.top[:3]] == [snap.titles[j] for j in best]
    assert snap.titles[best[0]] in tab.new_user.panel.text() and "Recommended for you, from 15 movies" in tab.new_user.panel.text()
    assert tab.snapshot.rmse == pytest.approx(snap.rmse)  # the loss never counts the new row


def test_the_new_row_follows_the_sheet_and_goes_away(qtbot, window):
    tab = window.sheet
    tab.engine.add_me(True)
    qtbot.waitUntil(lambda: tab.model.new_user_row == 15, timeout=WAIT_MS)
    type_ratings(qtbot, tab, {2: 4.0})
    tab.engine.step(30)  # the movies move; the row is not trained
    qtbot.waitUntil(lambda: tab.snapshot.step == 30 and tab.state == "idle", timeout=WAIT_MS)
    assert tab.new_user.row.folded_at is None and np.isnan(tab.new_user.row.predictions).all()
    tab.actions["add_me"].trigger()  # unchecked: the row goes
    qtbot.waitUntil(lambda: tab.model.new_user_row is None and tab.new_user.row is None, timeout=WAIT_MS)
    assert tab.model.rowCount() == tab.model.layout.top + 15 and tab.side_tabs.indexOf(tab.new_user.panel) < 0


def test_fold_in_with_biases_and_the_sigmoid_equals_the_engines_fit(movielens):
    runner = SheetRunner(Mailbox(Frame), device="cpu", config=SheetConfig(k=3, biases=True, squash=True))
    runner.loader.load(LoadRequest(ratings=movielens))
    runner.step(200)
    runner.newuser.add_me(True)
    for j, r in MINE.items():
        runner.edit("rating", (15, j), r)
    runner.newuser.fold_in()
    frame = runner.mailbox.take()
    expected = foldin.from_snapshot(frame.snapshot, my_row(MINE), top=10)
    np.testing.assert_allclose(frame.new_user.predictions, expected.predictions, rtol=1e-10)
    assert frame.new_user.bias == pytest.approx(expected.bias, rel=1e-12)
    assert frame.display.params["user_bias"][15] == frame.new_user.bias and frame.display.user_ids[-1] == NEW_USER_ID
    assert [t for t, _ in frame.new_user.top] == [r.title for r in expected.top]
    runner.select("prediction", (15, 4))  # the row's cells are explained too
    explained = runner.mailbox.take().explanation
    assert dict(explained.terms)["prediction p"] == pytest.approx(expected.predictions[4], rel=1e-10)


def test_fold_in_against_a_trained_model_recommends_from_all_its_movies(qtbot, window, trained):
    path, model = trained
    tab = window.sheet
    tab.engine.use_model(str(path))
    tab.engine.add_me(True)
    qtbot.waitUntil(lambda: tab.new_user.row is not None and tab.new_user.row.source.startswith("dotbias.pt"), timeout=WAIT_MS)
    type_ratings(qtbot, tab, MINE)
    tab.engine.fold_in()
    qtbot.waitUntil(lambda: tab.new_user.row.folded_at is not None, timeout=WAIT_MS)
    ids = list(model.movies.ids)
    row = foldin.ratings_row({tab.snapshot.item_ids[j]: r for j, r in MINE.items()}, ids)
    expected = foldin.fold_in(row, analysis.movie_factors(model), analysis.movie_bias(model), model.module.y_range,
                              titles=[model.title(i) for i in range(len(ids))], top=10)
    assert tab.new_user.row.movies == len(ids) == 1682 and [t for t, _ in tab.new_user.row.top] == [r.title for r in expected.top]
    at = [ids.index(item) for item in tab.snapshot.item_ids]
    np.testing.assert_allclose(tab.new_user.row.predictions, expected.predictions[at], rtol=1e-10)
    assert tab.new_user.row.factors is None and "from 1,682 movies" in tab.new_user.panel.text()
    assert tab.new_user.panel.sheet_movies.isVisible()
    qtbot.mouseClick(tab.new_user.panel.sheet_movies, Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.new_user.row.source == "" and tab.new_user.row.folded_at is None, timeout=WAIT_MS)


def test_an_svdpp_models_offsets_give_its_own_predictions(tmp_path):
    ratings = low_rank_ratings(n_users=30, n_movies=25)
    run = learn(ratings, RECIPES["best"].with_(epochs=3, factors=4, bs=64), seed=2, device="cpu")
    movies = load_movies(str(save(run.model, tmp_path / "svdpp.pt")))
    module, u = run.model.module, 3
    rated = np.zeros(len(movies.ids), dtype=bool)
    rated[module.rated_movies[module.rated_users == u].numpy()] = True  # R(u): what the model's implicit part sums
    with torch.no_grad():
        user = module.u.weight[u].double().numpy()
        expected = module(torch.full((len(rated),), u), torch.arange(len(rated))).double().numpy()
    raw = movies.factors @ user + module.ub.weight[u, 0].item() + movies.offsets(rated)
    lo, hi = movies.y_range
    np.testing.assert_allclose(lo + (hi - lo) / (1 + np.exp(-raw)), expected, rtol=1e-5)


def test_clear_messages_for_what_cannot_be_folded_in(movielens, tmp_path):
    runner = SheetRunner(Mailbox(Frame), device="cpu")
    runner.loader.load(LoadRequest(ratings=movielens))
    with pytest.raises(ValueError, match="Add me first"):
        runner.newuser.fold_in()
    runner.newuser.add_me(True)
    with pytest.raises(ValueError, match="rate at least one movie"):
        runner.newuser.fold_in()
    bad = tmp_path / "notes.pt"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="notes.pt: not a collabsheet model file"):
        runner.newuser.use_model(str(bad))
    net = learn(low_rank_ratings(n_users=20, n_movies=15), RECIPES["lesson-net"].with_(epochs=1, factors=3), seed=1,
                device="cpu")
    with pytest.raises(ValueError, match="not a dot product"):
        runner.newuser.use_model(str(save(net.model, tmp_path / "net.pt")))
    small = low_rank_ratings(n_users=20, n_movies=15)
    genred = dataclasses.replace(small, genres={m: (("A", "B")[m % 2],) for m in small.titles})
    mixed = learn(genred, RECIPES["fast"].with_(epochs=1, factors=3, bs=32, genres="mean"), seed=1, device="cpu")
    with pytest.raises(ValueError, match="genres.pt: a model with genres, time or an ensemble"):
        runner.newuser.use_model(str(save(mixed.model, tmp_path / "genres.pt")))


def test_a_fold_in_with_as_many_ratings_as_unknowns_warns_and_flags_predictions_past_the_range(qtbot):
    """Issue 20, item 18: two ratings with k = 1 and a bias fitted exactly (RMSE 0.0000) and recommended
    "Contact 5.00 (model 33.49)" with no word of warning."""
    from collabsheet.gui.sheet.frames import NewUserRow
    from collabsheet.gui.sheet.newuser_panel import QNewUserPanel
    from PySide6.QtGui import QAction

    actions = {name: QAction(name) for name in ("fold_in", "use_model")}
    panel = QNewUserPanel(actions)
    qtbot.addWidget(panel)
    ratings = np.full(5, np.nan)
    ratings[:2] = (5.0, 1.0)
    row = NewUserRow(ratings, np.full(5, np.nan), np.array([3.0]), 0.5, (("Contact", 33.49), ("Heat", 4.1)), "", 10,
                     0.0, 5)
    panel.show_row(row, (1.0, 5.0))
    text = panel.text()
    assert "Too few ratings" in text and "fits 2 numbers" in text
    assert "Contact 5.00 (model 33.49, outside the ratings)" in text and "outside the ratings' range" in text
    ratings[:4] = (5.0, 1.0, 3.0, 4.0)
    panel.show_row(NewUserRow(ratings, row.predictions, row.factors, 0.5, (("Heat", 4.1),), "", 10, 0.3, 5),
                   (1.0, 5.0))
    assert "Too few" not in panel.text() and "outside" not in panel.text()
