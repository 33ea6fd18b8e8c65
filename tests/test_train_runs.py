"""The runs database (engine.train.runs) and `collabsheet runs`: filter, compare, export; each test has its own
database (conftest points COLLABSHEET_DATA at a temporary folder)."""
from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest

from collabsheet.engine.cli import main as cli
from collabsheet.engine.safe_write import WriteError
from collabsheet.engine.train import runs
from collabsheet.engine.train.recipes import RECIPES


def keep(recipe: str = "fast", rmses=(1.0, 0.95), split: str = "random:42", dataset: str = "ml-100k",
         **changes) -> int:
    """Record a run with these validation RMSEs per epoch, as `collabsheet train` would; its id."""
    r = RECIPES[recipe].with_(**changes) if changes else RECIPES[recipe]
    epochs = [SimpleNamespace(epoch=e + 1, train_loss=x * x + 0.1, valid_mse=x * x, valid_rmse=x, seconds=e + 1.0)
              for e, x in enumerate(rmses)]
    return runs.record(r, dataset=dataset, split=split, seed=42, n_train=80, n_valid=20, device="cpu",
                       status="finished", epochs=epochs, seconds=float(len(rmses)))


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_text_filter_needs_every_word_somewhere_in_the_searched_fields() -> None:
    net = keep("lesson-net", split="u1", dataset="MovieLens 100k")
    fast = keep("fast", split="random:7", dataset="MovieLens 100k")
    best = keep("best", split="u1", dataset="ml-latest-small")
    assert [r.id for r in runs.runs(text="u1")] == [best, net]
    assert [r.id for r in runs.runs(text="NET u1")] == [net]  # either case, words in any field
    assert [r.id for r in runs.runs(text="svd++ small")] == [best]  # the summary names the model
    assert [r.id for r in runs.runs(text="random:7 movielens")] == [fast]
    assert runs.runs(text="u1 random:7") == []
    assert [r.id for r in runs.runs(text="100k", limit=1)] == [fast]  # the limit counts the matches only
    assert [r.id for r in runs.runs(text="   ")] == [best, fast, net]


def test_differences_name_only_the_settings_that_differ() -> None:
    a = keep("fast", split="u1")
    b = keep("fast", split="u1", lr=0.003, wd=0.5)
    c = keep("fast", split="random:1", lr=0.003)
    found = {r.id: r for r in runs.runs()}
    assert runs.differences([found[a], found[b]]) == {"lr": [RECIPES["fast"].lr, 0.003],
                                                      "wd": [RECIPES["fast"].wd, 0.5]}
    differ = runs.differences([found[a], found[b], found[c]])
    assert set(differ) == {"lr", "wd", "split"} and differ["split"] == ["u1", "u1", "random:1"]
    assert runs.differences([found[a], found[a]]) == {}
    net = keep("lesson-net", split="u1")
    other = runs.differences([found[a], next(r for r in runs.runs() if r.id == net)])
    assert "model" in other and "about" not in other  # a recipe's story is no setting


def test_export_writes_the_rows_given_through_safe_write(tmp_path) -> None:
    first, second = keep("fast"), keep("best", rmses=(0.9,), dataset="=HYPERLINK(\"http://x\")")
    rows = runs.runs(sort="rmse")
    out = runs.export_csv(rows, tmp_path / "runs.csv")
    with open(out, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [int(t["id"]) for t in table] == [second, first]
    assert float(table[0]["valid_rmse"]) == pytest.approx(0.9) and table[1]["recipe"] == "fast"
    assert table[0]["dataset"] == "'=HYPERLINK(\"http://x\")"  # stays text in a spreadsheet
    with pytest.raises(WriteError, match="runs.sqlite: is the runs database"):
        runs.export_csv(rows, runs.database())
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(WriteError, match="folder.csv: is a folder"):
        runs.export_csv(rows, tmp_path / "folder.csv")
    assert runs.curves([]) == {} and runs.delete([]) == 0


def test_runs_filters_and_compares_on_the_command_line(capsys) -> None:
    a = keep("fast", rmses=(1.1, 0.99, 0.93), split="u1")
    b = keep("fast", rmses=(1.05, 0.97), split="u1", lr=0.003)
    keep("lesson-net", rmses=(1.2,), split="random:42")
    code, out, _ = _run(capsys, "runs", "--filter", "fast u1")
    listed = [int(line.split()[0]) for line in out.splitlines()[1:]]
    assert code == 0 and listed == [b, a]
    code, out, _ = _run(capsys, "runs", "--filter", "nothing-like-this")
    assert code == 0 and "no runs match" in out
    code, out, _ = _run(capsys, "runs", str(a), str(b))
    assert code == 0
    assert f"they differ in:\n  lr             {RECIPES['fast'].lr:g} | 0.003\nepoch" in out
    assert "    3      0.9300            " in out  # the third epoch: only run a has one
    assert f"best: run {a} (RMSE 0.9300)" in out
    code, out, _ = _run(capsys, "runs", "--filter", "net", "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and len(rows) == 2 and rows[1][2] == "lesson-net"
    code, _, err = _run(capsys, "runs", "-n", "-1")
    assert code == 2 and "-n -1" in err and len(err.strip().splitlines()) == 1


def test_a_file_that_is_no_database_is_named_in_one_line(capsys) -> None:
    path = runs.database()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not SQLite at all, " * 20)
    code, out, err = _run(capsys, "runs")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"collabsheet: the runs database {path}: file is not a database"]
    with pytest.raises(ValueError, match="runs.sqlite: file is not a database"):
        runs.curves([1])
    with pytest.raises(ValueError, match="runs.sqlite: file is not a database"):
        runs.delete([1])


def test_train_goes_on_and_says_so_when_the_runs_database_is_damaged(tmp_path, monkeypatch, capsys):
    """A damaged runs database must not cost the user the run: one warning line, the model saved, exit 0."""
    from collabsheet.engine.cli.main import main

    monkeypatch.setenv("COLLABSHEET_DATA", str(tmp_path))
    (tmp_path / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    ratings = tmp_path / "r.csv"
    ratings.write_text("user,item,rating\n" + "\n".join(f"{u},{m},{(u + m) % 5 + 1}" for u in range(30)
                                                         for m in range(20)) + "\n")
    model = tmp_path / "m.pt"
    code = main(["train", "--ratings", str(ratings), "--recipe", "fast", "--epochs", "1", "--bs", "64", "--save", str(model),
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0 and model.is_file()
    lines = [line for line in err.splitlines() if "not recorded" in line]
    assert len(lines) == 1 and "runs.sqlite" in lines[0] and "--no-record" in lines[0]
