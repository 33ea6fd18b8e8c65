"""A trained model answers in original ids: predict, recommend, save and load, and the tab's analysis."""
import dataclasses
import math
import zipfile

import numpy as np
import pytest
import torch

from collabsheet.engine.train import analysis
from collabsheet.engine.train.data import UnknownIdError
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.model import predict, recommend
from collabsheet.engine.train.recipes import RECIPES
from collabsheet.engine.train.store import ModelFileError, load, save
from train_helpers import low_rank_ratings


@pytest.fixture(scope="module")
def ratings():
    return low_rank_ratings(n_users=50, n_movies=40)


@pytest.fixture(scope="module")
def run(ratings):
    return learn(ratings, RECIPES["fast"].with_(epochs=30, bs=64, factors=2, lr=0.03, wd=1e-3), seed=1, device="cpu")


def test_predict_takes_original_ids(run, ratings) -> None:
    model, frame = run.model, ratings.frame.head(25)
    users, movies = frame["user"].to_numpy(), frame["item"].to_numpy()
    u, m = torch.tensor(model.users.index(users)), torch.tensor(model.movies.index(movies))
    model.module.eval()
    with torch.no_grad():
        expected = model.module(u, m).numpy()
    np.testing.assert_allclose(predict(model, users, movies), expected, rtol=1e-6)
    with pytest.raises(UnknownIdError, match="movie 4242 is not in the model"):
        predict(model, [users[0]], [4242])


def test_training_learns_the_low_rank_ratings(run) -> None:
    assert run.history.valid_rmse < 0.6 * float(run.data.valid.ratings.std())  # far better than the mean


def test_recommend_lists_the_best_unrated_movies_with_titles(run, ratings) -> None:
    model, user = run.model, int(ratings.frame["user"].iloc[0])
    picks = recommend(model, user, n=5)
    rated = set(ratings.frame.loc[ratings.frame["user"] == user, "item"])
    unrated = sorted(set(ratings.frame["item"]) - rated)
    scores = predict(model, [user] * len(unrated), unrated)
    assert [p.movie for p in picks] == [unrated[i] for i in np.argsort(-scores, kind="stable")[:5]]
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)
    assert all(p.title == f"Movie {p.movie - 1000}" for p in picks) and not rated & {p.movie for p in picks}
    assert len(recommend(model, user, n=1000)) == len(unrated)
    with pytest.raises(UnknownIdError, match="user 31337 is not in the model"):
        recommend(model, 31337)


def test_save_and_load_round_trip(run, ratings, tmp_path) -> None:
    path = save(run.model, tmp_path / "model.pt")
    back = load(path)
    assert back.recipe == run.model.recipe and back.dataset == ratings.name
    assert back.users.ids.tolist() == run.model.users.ids.tolist() and back.titles == run.model.titles
    assert back.valid_rmse == pytest.approx(run.history.valid_rmse)
    frame = ratings.frame
    np.testing.assert_array_equal(predict(back, frame["user"], frame["item"]),
                                  predict(run.model, frame["user"], frame["item"]))
    user = int(frame["user"].iloc[3])
    assert recommend(back, user, 7) == recommend(run.model, user, 7)
    assert not list(tmp_path.glob(".*.tmp"))


def test_text_ids_and_the_implicit_model_survive_save_and_load(tmp_path) -> None:
    ratings = low_rank_ratings(n_users=20, n_movies=15)
    frame = ratings.frame.assign(user="u" + ratings.frame["user"].astype(str))
    named = dataclasses.replace(ratings, frame=frame)
    run = learn(named, RECIPES["best"].with_(epochs=2, bs=32, factors=3), device="cpu")
    assert run.model.recipe.model == "svdpp"
    back = load(save(run.model, tmp_path / "m.pt"))
    assert back.users.id_of(0) == "u100" and back.users.parse("u101") == "u101"
    np.testing.assert_array_equal(predict(back, frame["user"], frame["item"]),
                                  predict(run.model, frame["user"], frame["item"]))


def _damaged(tmp_path, run):
    good = save(run.model, tmp_path / "good.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good[: len(good) // 2])
    text = tmp_path / "notes.pt"
    text.write_text("not a model\n")
    state = tmp_path / "state.pt"
    torch.save(run.model.module.state_dict(), state)
    pickled = tmp_path / "module.pt"
    torch.save(run.model.module, pickled)
    newer = tmp_path / "newer.pt"
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    torch.save({**payload, "version": 99}, newer)
    broken = tmp_path / "broken.pt"
    torch.save({**payload, "state": {}}, broken)
    return [(cut, "not a complete torch.save archive"), (text, "not a complete torch.save archive"),
            (state, "not a collabsheet model file \\(it holds a dict"), (pickled, "objects other than plain data"),
            (newer, "version 99"), (broken, "damaged model file"), (tmp_path / "none.pt", "no such file")]


def test_a_damaged_or_foreign_file_is_a_one_line_error(run, tmp_path) -> None:
    for path, message in _damaged(tmp_path, run):
        with pytest.raises(ModelFileError, match=message) as caught:
            load(path)
        assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_valid_predictions_pair_predictions_with_ratings(run) -> None:
    predicted, actual = analysis.valid_predictions(run.model, run.data)
    assert predicted.shape == actual.shape == (len(run.data.valid),)
    assert math.sqrt(np.mean((predicted - actual) ** 2)) == pytest.approx(run.history.valid_rmse, rel=1e-5)


def test_movie_map_is_the_first_two_principal_components(run) -> None:
    pcs = analysis.movie_map(run.model)
    factors = analysis.movie_factors(run.model)
    centred = factors - factors.mean(0)
    eigen = np.sort(np.linalg.eigvalsh(np.cov(centred.T, bias=True)))[::-1]
    assert np.var(pcs.x) == pytest.approx(eigen[0]) and np.var(pcs.y) == pytest.approx(eigen[1])
    assert abs(np.dot(pcs.x, pcs.y)) < 1e-9 * len(pcs.x)
    assert pcs.explained == pytest.approx(tuple(eigen[:2] / eigen.sum()))
    assert len(pcs.titles) == len(pcs.x) == len(pcs.counts) and pcs.titles[0] == "Movie 0"
    top = pcs.most_rated(3)
    assert list(pcs.counts[top]) == sorted(pcs.counts, reverse=True)[:3]


def test_movie_biases_largest_and_smallest(run) -> None:
    largest, smallest = analysis.movie_biases(run.model, n=4)
    bias = analysis.movie_bias(run.model)
    assert [b.bias for b in largest] == pytest.approx(sorted(bias[run.model.counts > 0], reverse=True)[:4])
    assert [b.bias for b in smallest] == pytest.approx(sorted(bias[run.model.counts > 0])[:4])
    assert largest[0].title == run.model.title(int(np.argmax(np.where(run.model.counts > 0, bias, -np.inf))))


def test_a_model_without_biases_says_so(ratings) -> None:
    run = learn(ratings, RECIPES["lesson-dot"].with_(epochs=1), device="cpu")
    with pytest.raises(ValueError, match="the dot model has no biases"):
        analysis.movie_biases(run.model)
    assert analysis.movie_map(run.model).x.shape == (len(run.model.movies),)


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_trains(ratings, name: str) -> None:
    recipe = RECIPES[name].with_(epochs=1, bs=64)
    if recipe.genres != "off" or recipe.time != "off":  # the same ratings, with a genre per movie and times
        frame = ratings.frame.assign(timestamp=880_000_000 + 86_400 * (ratings.frame.index.to_numpy() % 5))
        ratings = dataclasses.replace(ratings, frame=frame, genres={m: (("A", "B")[m % 2],) for m in ratings.titles})
    run = learn(ratings, recipe, device="cpu")
    batches = math.ceil(len(run.data.train) / 64)
    assert math.isfinite(run.history.valid_rmse) and run.history.iterations == batches * recipe.ensemble


def test_saved_file_is_plain_data(run, tmp_path) -> None:
    path = save(run.model, tmp_path / "plain.pt")
    with zipfile.ZipFile(path) as z:
        pickle = next(n for n in z.namelist() if n.endswith("data.pkl"))
        assert b"engine" not in z.read(pickle)  # no classes of ours inside: loads with weights_only=True
