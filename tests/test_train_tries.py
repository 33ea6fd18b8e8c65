"""The lesson's things to try as settings, the validation splits, and every run kept in SQLite."""
import math
import re

import numpy as np
import pytest
import torch

from collabsheet.engine.cli import main as cli
from collabsheet.engine.models.lesson import EmbeddingNet, Ensemble
from collabsheet.engine.train import runs
from collabsheet.engine.train.data import prepare
from collabsheet.engine.train.model import predict, recommend
from collabsheet.engine.train.recipes import RECIPES, Recipe
from collabsheet.engine.train.splits import fold, overlap, parse_split
from collabsheet.engine.train.store import load
from train_helpers import low_rank_ratings


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_net_takes_layers_an_activation_and_separate_embedding_sizes() -> None:
    torch.manual_seed(0)
    net = EmbeddingNet(7, 9, 8, (1.0, 5.0), layers=(6, 4), activation="tanh", user_factors=3, movie_factors=5,
                       p1=0.0, p2=0.0)
    assert [k for k in net.state_dict() if k.startswith("lin")] == [
        "lin1.weight", "lin1.bias", "lin2.weight", "lin2.bias", "lin3.weight", "lin3.bias"]
    assert net.u.weight.shape == (7, 3) and net.m.weight.shape == (9, 5) and net.lin1.in_features == 8
    users, movies = torch.tensor([0, 6]), torch.tensor([8, 1])
    x = torch.cat([net.u(users), net.m(movies)], 1)
    expected = torch.sigmoid(net.lin3(torch.tanh(net.lin2(torch.tanh(net.lin1(x))))).squeeze(-1)) * 5 + 0.5
    torch.testing.assert_close(net(users, movies), expected)
    lesson = EmbeddingNet(7, 9, 8, (1.0, 5.0), nh=10)  # the lesson's own net keeps its two layers' names
    assert [k for k in lesson.state_dict() if k.startswith("lin")] == ["lin1.weight", "lin1.bias", "lin2.weight",
                                                                        "lin2.bias"]


def test_recipe_checks_the_things_to_try() -> None:
    r = RECIPES["lesson-net"].with_(layers=[100, 50], activation="gelu", user_factors=30, movie_factors=60)
    assert r.layers == (100, 50) and r.hidden == (100, 50) and r.sizes == (30, 60)
    assert "layers=100,50 gelu" in r.summary() and "k=30 (users), 60 (movies)" in r.summary()
    assert RECIPES["lesson-net"].hidden == (10,)
    with pytest.raises(ValueError, match="separate user and movie embedding sizes need the net"):
        RECIPES["fast"].with_(user_factors=20)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Recipe(model="net", activation="swish")
    with pytest.raises(ValueError, match="at least 1 unit"):
        Recipe(model="net", layers=(10, 0))


def test_splits_parse_and_movielens_u_folds_are_its_file_blocks(movielens) -> None:
    assert parse_split("random:7").label == "random:7" and parse_split("random", 3).seed == 3
    assert parse_split("U3").fold == 3
    with pytest.raises(ValueError, match="choose random, random:SEED, or u1"):
        parse_split("u6")
    train, test = fold(movielens, parse_split("u2"))
    assert len(train.frame) == 80_000 and len(test.frame) == 20_000
    assert test.frame.iloc[0].tolist() == movielens.frame.iloc[20_000].tolist()
    assert overlap(train, test) == 0 and overlap(movielens, test) == 20_000
    with pytest.raises(ValueError, match="has none: use random:SEED"):
        fold(low_rank_ratings(), parse_split("u1"))


def test_train_cli_sets_the_things_to_try_records_the_run_and_runs_lists_and_compares(capsys, tmp_path) -> None:
    low_rank_ratings(n_users=60, n_movies=40).frame.to_csv(tmp_path / "r.csv", index=False)
    base = ["train", "--ratings", str(tmp_path / "r.csv"), "--device", "cpu", "--epochs", "2", "--bs", "64"]
    code, out, _ = _run(capsys, *base, "--model", "net", "--layers", "16,8", "--activation", "tanh",
                        "--user-factors", "6", "--movie-factors", "10", "--p1", "0.1", "--p2", "0.2", "--wd", "1e-4",
                        "--split", "random:5", "--save", str(tmp_path / "net.pt"))
    assert code == 0, out
    assert "k=6 (users), 10 (movies)" in out and "layers=16,8 tanh p1=0.1 p2=0.2" in out
    assert "a seeded 20% split, seed 5" in out
    model = load(tmp_path / "net.pt")  # the saved net rebuilds with its layers and sizes
    assert model.recipe.layers == (16, 8) and model.module.u.weight.shape[1] == 6
    code, out, _ = _run(capsys, *base, "--recipe", "fast", "--split", "random:5")
    assert code == 0
    listed = runs.runs()
    assert [r.recipe for r in listed] == ["fast (changed)", "lesson-net (changed)"]
    assert listed[1].split == "random:5" and listed[1].epochs == 2 and listed[1].status == "finished"
    assert listed[0].valid_rmse == pytest.approx(float(re.search(r"validation RMSE ([\d.]+)", out).group(1)),
                                                 abs=1e-4) and listed[0].version
    code, out, _ = _run(capsys, "runs", "--sort", "rmse")
    assert code == 0 and len(re.findall(r"^ +\d+  \d\.\d{4} ", out, re.M)) == 2
    ids = [str(r.id) for r in listed]
    code, out, _ = _run(capsys, "runs", *ids)
    assert code == 0 and re.search(r"^ +2  +\d\.\d{4}  +\d\.\d{4}$", out, re.M) and "best: run" in out
    code, out, _ = _run(capsys, "runs", "--csv")
    assert out.splitlines()[0].startswith("id,started,recipe,model") and len(out.splitlines()) == 3
    code, out, _ = _run(capsys, "runs", "--delete", ids[0])
    assert "deleted 1 run" in out and [r.id for r in runs.runs()] == [int(ids[1])]
    code, _, err = _run(capsys, "runs", "999")
    assert code == 2 and "no run 999" in err
    code, _, _ = _run(capsys, *base, "--no-record")
    assert code == 0 and len(runs.runs()) == 1


def test_a_validation_file_that_repeats_training_ratings_is_named(capsys, tmp_path) -> None:
    frame = low_rank_ratings(n_users=60, n_movies=40).frame
    frame.to_csv(tmp_path / "all.csv", index=False)
    frame.iloc[:200].to_csv(tmp_path / "valid.csv", index=False)
    code, out, _ = _run(capsys, "train", "--ratings", str(tmp_path / "all.csv"), "--valid", str(tmp_path / "valid.csv"),
                        "--epochs", "1", "--bs", "64", "--device", "cpu")
    assert code == 0 and "note: valid.csv: 200 of its 200 validation ratings are also in all.csv" in out
    code, _, err = _run(capsys, "train", "--ratings", str(tmp_path / "all.csv"), "--valid", str(tmp_path / "valid.csv"),
                        "--split", "u1")
    assert code == 2 and "either --split or --valid" in err


def test_the_training_tabs_runs_are_recorded_too() -> None:
    from collabsheet.gui.train.runner import TrainRunner

    runner = TrainRunner(device="cpu")
    runner.load_ratings(low_rank_ratings(n_users=30, n_movies=20))
    runner.train(RECIPES["fast"].with_(epochs=2, bs=64), seed=7)
    (kept,) = runs.runs()
    assert kept.split == "random:7" and kept.epochs == 2 and kept.dataset == "low-rank test ratings"
    assert kept.valid_rmse == pytest.approx(runner.learned.history.valid_rmse)


@pytest.mark.numeric
def test_the_tries_recipe_saves_and_recommends_from_the_command_line(capsys, tmp_path, movielens) -> None:
    """MovieLens 100k end to end: genres, time and an ensemble trained, saved, loaded and asked for recommendations."""
    path = tmp_path / "m.pt"
    code, out, err = _run(capsys, "train", "--recipe", "tries", "--epochs", "1", "--ensemble", "2", "--device", "cpu",
                          "--no-record", "--save", str(path))
    assert code == 0, err
    assert f"saved the model to {path}" in out and not path.with_suffix(".ckpt").exists()  # an ensemble: no checkpoint
    model = load(path)
    assert isinstance(model.module, Ensemble) and len(model.module.members) == 2
    assert (model.recipe.genres, model.recipe.time) == ("mean", "bias")
    printed = float(re.search(r"validation RMSE ([\d.]+)", out).group(1))
    data = prepare(movielens, seed=42)  # the command's split: random:42
    v = data.valid
    users, movies = data.users.ids[v.users.numpy()], data.movies.ids[v.movies.numpy()]
    rmse = math.sqrt(np.mean((predict(model, users, movies, v.times.numpy()) - v.ratings.numpy()) ** 2))
    # tolerance: the printed figure's 4 decimals; the loaded model's own record to float rounding
    assert rmse == pytest.approx(printed, abs=5e-5) and rmse == pytest.approx(model.valid_rmse, abs=1e-6)
    code, out, err = _run(capsys, "recommend", "--model", str(path), "--user", "196", "-n", "5")
    assert code == 0, err
    listed = re.findall(r"^ +\d+\. (\d\.\d\d)  .* \(id (\d+)\)$", out, re.M)
    assert listed == [(f"{p.score:.2f}", str(p.movie)) for p in recommend(model, 196, 5)] and len(listed) == 5
