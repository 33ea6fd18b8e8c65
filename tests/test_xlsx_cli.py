"""`collabsheet export OUT.xlsx` and `collabsheet import IN.xlsx` on the command line."""
from __future__ import annotations

import numpy as np
import pytest

from collabsheet.engine.cli.main import main
from collabsheet.engine.xlsx import import_xlsx


@pytest.fixture
def ratings(tmp_path):
    """A small ratings CSV, so the commands need no MovieLens."""
    rng = np.random.default_rng(5)
    lines = ["user,item,rating"]
    for user in range(1, 13):
        for item in range(1, 11):
            if rng.random() < 0.7:
                lines.append(f"{user},{item},{rng.integers(1, 6)}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_export_then_import(tmp_path, ratings, capsys):
    out = tmp_path / "sheet.xlsx"
    assert main(["export", str(out), "--ratings", str(ratings), "--top", "8", "--biases", "--factors", "3",
                 "--steps", "30", "--optimizer", "rmsprop", "--lr", "0.01", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: RMSE" in printed and "after 30 steps" in printed
    book = import_xlsx(out)
    assert book.step == 30 and book.settings.name == "rmsprop" and book.settings.lr == 0.01
    assert book.config.k == 3 and book.config.biases and book.grid.ratings.shape == (8, 8)

    assert main(["import", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "k=3, biases" in printed and "at step 30" in printed
    assert "workbook loss (RMSE): not calculated yet" in printed
    assert f"engine loss (RMSE):   {book.engine_loss:.9f}" in printed


def test_export_initial_factors_with_squash(tmp_path, ratings, capsys):
    out = tmp_path / "squash.xlsx"
    assert main(["export", str(out), "--ratings", str(ratings), "--top", "6", "--squash", "--seed", "7"]) == 0
    assert "(initial factors)" in capsys.readouterr().out
    book = import_xlsx(out)
    assert book.config.squash and book.config.seed == 7 and book.step == 0


def test_import_of_a_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == "collabsheet: bad.xlsx: not an Excel workbook (.xlsx)\n"


def test_solve_and_steps_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["export", str(tmp_path / "x.xlsx"), "--solve", "--steps", "3"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_export_after_a_solve(tmp_path, ratings, capsys):
    out = tmp_path / "solved.xlsx"
    assert main(["export", str(out), "--ratings", str(ratings), "--top", "5", "--factors", "2", "--solve",
                 "--device", "cpu"]) == 0
    assert "(solved)" in capsys.readouterr().out
    book = import_xlsx(out)
    assert book.to_sheet("cpu").rmse() == book.engine_loss
