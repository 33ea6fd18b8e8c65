"""`collabsheet train` and `collabsheet recommend`: their output, a validation file, and one-line errors."""
import re

import pandas as pd
import pytest

from collabsheet.engine.cli import main as cli
from train_helpers import low_rank_ratings


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def files(tmp_path):
    ratings = low_rank_ratings(n_users=60, n_movies=40)
    frame = ratings.frame.sample(frac=1.0, random_state=0)
    train, valid = frame.iloc[:1000], frame.iloc[1000:]
    strangers = pd.DataFrame({"user": [9001, 9002], "item": [1000, 1001], "rating": [4.0, 2.0]})
    train.to_csv(tmp_path / "base.csv", index=False)
    pd.concat([valid, strangers]).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path, len(valid)


def test_train_prints_epoch_lines_and_the_final_rmse_on_movielens(capsys, movielens, tmp_path) -> None:
    code, out, _ = _run(capsys, "train", "--recipe", "fast", "--epochs", "2", "--device", "cpu",
                        "--save", str(tmp_path / "m.pt"))
    assert code == 0
    epochs = re.findall(r"^epoch (\d)/2  train loss ([\d.]+)  valid MSE ([\d.]+)  valid RMSE ([\d.]+)", out, re.M)
    assert [e[0] for e in epochs] == ["1", "2"]
    final = re.search(r"^validation RMSE (0\.\d{4}) \((\d+) ratings, ([\d.]+) s\)$", out, re.M)
    assert final and float(final.group(1)) == pytest.approx(float(epochs[-1][3]), abs=1e-4)
    assert int(final.group(2)) == len(movielens) // 5
    assert "80,000 training and 20,000 validation ratings" in out and (tmp_path / "m.pt").is_file()
    code, out, _ = _run(capsys, "recommend", "--model", str(tmp_path / "m.pt"), "--user", "1", "-n", "3")
    assert code == 0
    picks = re.findall(r"^ +(\d)\. ([\d.]+)  (.+) \(id (\d+)\)$", out, re.M)
    assert [p[0] for p in picks] == ["1", "2", "3"] and all(movielens.titles[int(p[3])] == p[2] for p in picks)
    rated = set(movielens.frame.loc[movielens.frame["user"] == 1, "item"])
    assert not rated & {int(p[3]) for p in picks}


def test_options_change_the_recipe_and_a_validation_file_reports_unknown_ids(capsys, files) -> None:
    folder, n_valid = files
    code, out, _ = _run(capsys, "train", "--ratings", str(folder / "base.csv"), "--valid", str(folder / "test.csv"),
                        "--model", "net", "--factors", "8", "--epochs", "3", "--lr", "0.01", "--optimizer", "adamw",
                        "--schedule", "sgdr", "--bs", "128", "--device", "cpu")
    assert code == 0
    assert re.search(r"note: test\.csv: left out (\d+) of \d+ validation ratings .*2 unknown users", out)
    left = int(re.search(r"left out (\d+)", out).group(1))
    assert "EmbeddingNet · k=8" in out and "adamw lr=0.01" in out and "sgdr" in out
    assert re.search(rf"^validation RMSE \d\.\d{{4}} \({n_valid + 2 - left} ratings, ", out, re.M)
    assert len(re.findall(r"^epoch \d/3 ", out, re.M)) == 3


@pytest.mark.parametrize("argv,message", [
    (["--epochs", "0"], "epochs must be at least 1, got 0"),
    (["--lr", "-0.1"], "learning rate must be positive, got -0.1"),
    (["--recipe", "fastest"], "unknown recipe 'fastest'; choose one of lesson-learner, "),
    (["--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    (["--bs", "5000"], "batch size 5,000 is larger than the 800 training ratings"),
])
def test_bad_settings_are_one_line_errors(capsys, files, argv, message) -> None:
    folder, _ = files
    code, out, err = _run(capsys, "train", "--ratings", str(folder / "base.csv"), "--device", "cpu", *argv)
    assert code == 2 and err.strip().splitlines()[-1].startswith("collabsheet: ")
    assert message in err.strip().splitlines()[-1] and "epoch 1" not in out


def test_recommend_errors_are_one_line(capsys, files, tmp_path) -> None:
    folder, _ = files
    model = tmp_path / "model.pt"
    assert _run(capsys, "train", "--ratings", str(folder / "base.csv"), "--epochs", "1", "--bs", "100",
                "--device", "cpu", "--save", str(model))[0] == 0
    for argv, message in ((["--user", "77"], f"{model}: user 77 is not in the model (it knows "),
                          (["--user", "abc"], "user 'abc' is not in the model (user ids are whole numbers)"),
                          (["--user", "100", "-n", "0"], "n must be at least 1, got 0")):
        code, _, err = _run(capsys, "recommend", "--model", str(model), *argv)
        assert code == 2 and err.count("\n") == 1 and err.startswith("collabsheet: ") and message in err
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 64)
    code, _, err = _run(capsys, "recommend", "--model", str(tmp_path / "junk.pt"), "--user", "100")
    assert code == 2 and err.count("\n") == 1 and "not a collabsheet model file, or damaged" in err


def test_train_plot_writes_the_jointplot_png(capsys, files) -> None:
    import struct
    import zlib

    import numpy as np

    folder, _ = files
    out_png = folder / "joint.png"
    code, out, _ = _run(capsys, "train", "--ratings", str(folder / "base.csv"), "--model", "dotbias", "--epochs", "2",
                        "--bs", "128", "--device", "cpu", "--plot", str(out_png))
    assert code == 0 and f"wrote {out_png}" in out
    data = out_png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    size = struct.unpack(">I", data[33:37])[0]
    raw = np.frombuffer(zlib.decompress(data[41:41 + size]), dtype=np.uint8).reshape(h, 1 + 3 * w)[:, 1:]
    image = raw.reshape(h, w, 3)
    blue = (image == (31, 119, 180)).all(axis=2)
    assert blue.sum() > 1000  # the marginal bars and the loss curve
    assert ((image[..., 2] > image[..., 0] + 20) & ~blue).sum() > 200  # hexagons shaded lighter than the bars
    assert (image == (255, 127, 14)).all(axis=2).any()  # the validation points
    code, _, err = _run(capsys, "train", "--ratings", str(folder / "base.csv"), "--plot", str(folder / "j.jpg"))
    assert code == 2 and "give a name ending in .png" in err
