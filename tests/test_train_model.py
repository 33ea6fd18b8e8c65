"""A trained model answers in original ids: predict, recommend, save and load, and the tab's analysis."""
import dataclasses
import math
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from collabsheet.engine.train import analysis
from collabsheet.engine.train.data import UnknownIdError, prepare, split_indices
from collabsheet.engine.train.fit import predict_split
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.model import last_rated, predict, recommend
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


# ---------------------------------------------------------------- genres, time and ensembles saved and loaded

T0, DAY = 880_000_000, 86_400
WITH_INPUTS = {  # each kind of model whose file holds genre or time tables, or several members
    "dotbias-genres": RECIPES["fast"].with_(genres="mean"),
    "dotbias-time": RECIPES["fast"].with_(time="bias"),
    "net-genres-time": RECIPES["lesson-net"].with_(genres="sum", time="bias", p1=0.0, p2=0.0),
    "net-conts": RECIPES["lesson-net"].with_(time="conts", p1=0.0, p2=0.0),
    "svdpp-ensemble": RECIPES["tries"].with_(ensemble=2),
}


@pytest.fixture(scope="module")
def timed():
    """The low-rank ratings with one of three genres per movie and each rating on one of nine days."""
    ratings = low_rank_ratings(n_users=50, n_movies=40)
    row = ratings.frame.index.to_numpy()
    frame = ratings.frame.assign(timestamp=T0 + DAY * (row % 9) + 60 * row)
    return dataclasses.replace(ratings, frame=frame, genres={m: ("ABC"[m % 3],) for m in ratings.titles})


def _learned(ratings, name: str):
    return learn(ratings, WITH_INPUTS[name].with_(epochs=3, bs=64, factors=3, lr=0.02), seed=3, device="cpu")


@pytest.fixture(scope="module")
def tries(timed):
    return _learned(timed, "svdpp-ensemble")


@pytest.mark.numeric
@pytest.mark.parametrize("name", list(WITH_INPUTS))
def test_a_model_with_genres_time_or_an_ensemble_predicts_and_recommends_the_same_after_load(timed, tmp_path, name):
    run = _learned(timed, name)
    path = save(run.model, tmp_path / f"{name}.pt")
    back = load(path)
    assert torch.load(path, weights_only=True)["version"] == 2
    assert type(back.module) is type(run.model.module) and back.recipe == run.model.recipe
    v = run.data.valid
    users, movies = run.model.users.ids[v.users.numpy()], run.model.movies.ids[v.movies.numpy()]
    # tolerance: the same weights through the same CPU arithmetic; 1e-6 allows only rounding
    for times in (v.times.numpy(), None):  # at the ratings' own dates, and at each user's now
        np.testing.assert_allclose(predict(back, users, movies, times), predict(run.model, users, movies, times),
                                   rtol=0, atol=1e-6)
    rmse = math.sqrt(np.mean((predict(back, users, movies, v.times.numpy()) - v.ratings.numpy()) ** 2))
    assert rmse == pytest.approx(run.history.valid_rmse, abs=1e-6)  # the loaded model scores as the trained one did
    for user in users[:3]:
        fresh, loaded = recommend(run.model, user, 5), recommend(back, user, 5)
        assert [p.movie for p in loaded] == [p.movie for p in fresh]
        np.testing.assert_allclose([p.score for p in loaded], [p.score for p in fresh], rtol=0, atol=1e-6)
    if name == "svdpp-ensemble":
        assert len(back.module.members) == 2 and back.module.members[1].genres is not None


@pytest.mark.numeric
def test_a_time_model_recommends_at_each_users_last_training_date(timed):
    run = _learned(timed, "dotbias-time")
    train, u = run.data.train, 4
    last = int(train.times[train.users == u].max())
    user = run.model.users.id_of(u)
    picks = recommend(run.model, user, 1000)
    movies = [p.movie for p in picks]
    at_last = predict(run.model, [user] * len(movies), movies, [last] * len(movies))
    # tolerance: one prediction path against another on the same weights
    np.testing.assert_allclose([p.score for p in picks], at_last, rtol=0, atol=1e-6)
    index = torch.as_tensor(run.model.movies.index(movies))
    undated = predict_split(run.model.module, torch.full_like(index, u), index).numpy()
    assert np.abs(undated - at_last).max() > 1e-3  # that day's bias and the drift count: the date is not ignored


def test_a_user_with_no_training_rating_is_dated_at_the_latest_training_rating(timed):
    frame = timed.frame
    ratings = dataclasses.replace(timed, frame=pd.concat([frame, frame.iloc[[0]].assign(user=999)], ignore_index=True))
    n = len(ratings.frame)
    seed = next(s for s in range(200) if n - 1 in split_indices(n, seed=s))  # user 999's one rating held out
    data = prepare(ratings, seed=seed)
    dates = last_rated(data)
    assert dates[data.users.index([999])[0]] == int(data.train.times.max())
    latest = pd.Series(data.train.times.numpy()).groupby(data.train.users.numpy()).max()
    assert dates[latest.index].tolist() == latest.tolist()


def test_a_plain_model_is_still_written_as_version_1(run, tmp_path) -> None:
    payload = torch.load(save(run.model, tmp_path / "plain.pt"), weights_only=True)
    assert payload["version"] == 1  # what older collabsheets read: nothing in it needs version 2
    assert not {"members", "combine", "last_rated"} & set(payload)
    newer = tmp_path / "newer.pt"
    torch.save({**payload, "version": 3}, newer)
    with pytest.raises(ModelFileError, match="model file version 3; this collabsheet reads versions 1 and 2"):
        load(newer)


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t[:-1].clone()


TAMPERED = {  # what is changed in the ensemble's file, and what the one line says
    "genre weights short": (lambda p: p["state"].update({"members.1.genres.weights": _rows(
        p["state"]["members.1.genres.weights"])}),
        "weight members.1.genres.weights is (39, 3); 50 users and 40 movies with svdpp, k=3, 3 genres"),
    "genre weights flat": (lambda p: p["state"].update({"members.0.genres.weights": p["state"][
        "members.0.genres.weights"].flatten().clone()}), "members.0.genres.weights is (120,); it must have 2 dim"),
    "genre weights gone": (lambda p: p["state"].pop("members.0.genres.weights"),
                           "weight members.0.genres.weights is missing"),
    "user times short": (lambda p: p["state"].update({"members.0.time.mean_time": _rows(
        p["state"]["members.0.time.mean_time"])}), "members.0.time.mean_time is (49,)"),
    "day keys unsorted": (lambda p: p["state"].update({"members.1.time.keys": p["state"][
        "members.1.time.keys"].flip(0).clone()}), "members.1.time.keys is not sorted"),
    "members differ": (lambda p: p["state"].update({"members.1.rated_movies": p["state"][
        "members.1.rated_movies"].roll(1).clone()}), "members hold different training pairs"),
    "more members": (lambda p: p.update(members=3), "its ensemble of 2 says it holds 3 members"),
    "other combination": (lambda p: p.update(combine="median"), "combines its members by 'median'"),
    "no dates": (lambda p: p.pop("last_rated"), "lacks its users' last rating dates"),
    "dates short": (lambda p: p.update(last_rated=_rows(p["last_rated"])), "last_rated does not match the 50 users"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_genre_time_or_ensemble_file_is_one_line(tries, tmp_path, case) -> None:
    payload = torch.load(save(tries.model, tmp_path / "good.pt"), weights_only=True)
    change, message = TAMPERED[case]
    change(payload)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(ModelFileError) as caught:
        load(bad)
    line = str(caught.value)
    assert line.startswith(f"{bad}: damaged model file (") and "\n" not in line and message in line, line
