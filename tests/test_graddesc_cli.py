"""`collabsheet graddesc` end to end: epochs printed, rows written, the workbook exported and read back, bad options."""
from __future__ import annotations

import pandas as pd
import pytest

from collabsheet.engine.cli.main import main
from collabsheet.engine.graddesc import RULES, GradDesc, Settings, lesson_data
from collabsheet.engine.xlsx.graddesc import SHEETS, read_graddesc


def epoch_lines(printed: str) -> list[list[str]]:
    return [line.split() for line in printed.splitlines() if line.split() and line.split()[0].isdigit()]


def test_default_is_the_basic_sheet_for_five_epochs(capsys):
    assert main(["graddesc"]) == 0
    printed = capsys.readouterr().out
    assert "data: 29 rows, seed 42, y = 30 + 2·x" in printed and "SGD · lesson formulas · lr 0.0001" in printed
    run = GradDesc(lesson_data(), Settings.lesson("sgd"))
    values = run.run(5)
    lines = epoch_lines(printed)
    assert [int(line[0]) for line in lines] == [1, 2, 3, 4, 5]
    a, b, rmse = (float(v) for v in lines[-1][1:4])
    assert (a, b) == pytest.approx((run.carry.p[1], run.carry.p[0]), rel=1e-11)
    assert rmse == pytest.approx(values[-1], rel=1e-11)


def test_rows_csv_holds_the_last_epoch_and_its_averages(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    assert main(["graddesc", "--rows", "40", "--seed", "7", "--noise", "1.5", "--optimizer", "adam", "--variant",
                 "library", "--lr", "0.05", "--epochs", "3", "--rows-csv", str(out)]) == 0
    described = "Adam (torch.optim) · torch.optim's formulas · lr 0.05 · β1 0.9 · β2 0.9 · ε 1e-08"
    assert described in capsys.readouterr().out
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["x", "y", "b", "a", "pred", "de_db", "de_da", "new_b", "new_a",
                                   "m_b", "m_a", "v_b", "v_a"]
    run = GradDesc(lesson_data(rows=40, seed=7, noise=1.5), Settings.lesson("adam", "library", lr=0.05))
    run.run(3)
    rows = run.rows()
    assert len(frame) == 40
    for column in frame.columns:
        assert frame[column].tolist() == rows[column].tolist(), column  # every digit: floats written as repr


@pytest.mark.parametrize("rule, averages", [("sgd", []), ("momentum", ["m_b", "m_a"]), ("rmsprop", ["v_b", "v_a"])])
def test_rows_csv_averages_follow_the_rule(tmp_path, capsys, rule, averages):
    out = tmp_path / "rows.csv"
    assert main(["graddesc", "--optimizer", rule, "--epochs", "1", "--rows-csv", str(out)]) == 0
    assert out.read_text().splitlines()[0] == ",".join(["x", "y", "b", "a", "pred", "de_db", "de_da", "new_b",
                                                         "new_a"] + averages)


def test_csv_data(tmp_path, capsys):
    data = tmp_path / "points.csv"
    data.write_text("x,y\n1,32\n2,34\n3,36\n")
    assert main(["graddesc", "--csv", str(data), "--optimizer", "momentum", "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "data: points.csv, 3 rows" in printed and len(epoch_lines(printed)) == 2


def test_export_then_open_the_sheet_back(tmp_path, capsys):
    out = tmp_path / "graddesc.xlsx"
    assert main(["graddesc", "--optimizer", "rmsprop", "--lr", "0.03", "--epochs", "4", "--export", str(out)]) == 0
    assert f"wrote {out}: a sheet per optimizer" in capsys.readouterr().out
    book = read_graddesc(out, "rmsprop")
    assert book.settings.lr == 0.03
    run = GradDesc(lesson_data(), Settings.lesson("rmsprop", lr=0.03))
    run.run(3)  # the sheet shows epoch 4: it starts where epoch 3 ended
    assert book.carry.p.tolist() == run.carry.p.tolist() and book.carry.v.tolist() == run.carry.v.tolist()
    for rule in RULES:
        assert read_graddesc(out, SHEETS[rule]).rule == rule
    assert main(["graddesc", "--workbook", str(out), "--sheet", "rmsprop", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "graddesc.xlsx · sheet 'rmsprop' (rmsprop): 29 rows" in printed
    assert "workbook: not calculated yet" in printed
    a, b = (float(v) for v in epoch_lines(printed)[0][1:3])
    run.run(1)
    assert (a, b) == pytest.approx((run.carry.p[1], run.carry.p[0]), rel=1e-11)


def test_a_diverging_run_says_so(capsys):
    assert main(["graddesc", "--lr", "0.01", "--epochs", "100"]) == 1
    printed = capsys.readouterr().out
    assert "diverged in epoch" in printed and "the learning rate 0.01 is too high" in printed


@pytest.mark.parametrize("argv, message", [
    (["--lr", "-1"], "argument --lr: should be a positive number, got '-1'"),
    (["--lr", "nan"], "argument --lr: should be a finite number, got 'nan'"),
    (["--epochs", "0"], "argument --epochs: should be a whole number from 1 to 1,000,000, got '0'"),
    (["--rows", "many"], "argument --rows: should be a whole number from 1 to 1,000,000, got 'many'"),
    (["--seed", "-3"], "argument --seed: should be a whole number ≥ 0, got '-3'"),
    (["--noise", "-0.5"], "argument --noise: should be a number ≥ 0, got '-0.5'"),
    (["--optimizer", "nag"], "argument --optimizer: invalid choice: 'nag'"),
    (["--rows", "5", "--workbook", "x.xlsx"], "argument --workbook: not allowed with argument --rows"),
])
def test_bad_options_get_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        main(["graddesc", *argv])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"collabsheet graddesc: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--workbook", "x.xlsx"], "--workbook needs --sheet NAME"),
    (["--sheet", "adam"], "--sheet names a sheet of --workbook PATH"),
    (["--csv", "p.csv", "--seed", "3"], "--seed makes the lesson's data; it does not apply to --csv"),
    (["--variant", "library", "--export", "o.xlsx"], "--export writes the lesson's formulas"),
    (["--workbook", "missing.xlsm", "--sheet", "adam"], "missing.xlsm: no such file"),
    (["--csv", "missing.csv"], "missing.csv: no such file"),
])
def test_bad_combinations_and_files_get_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["graddesc", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"collabsheet: {message}") and err.count("\n") == 1
