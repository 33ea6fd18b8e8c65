"""The command line on real MovieLens data: each subcommand's output and its errors."""
import re

import pytest

from collabsheet.engine.cli import main as cli


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_grid_prints_the_crosstab_with_titles(capsys, movielens, grid15) -> None:
    code, out, _ = _run(capsys, "grid")
    assert code == 0
    lines = out.splitlines()
    assert f"top 15 users × 15 movies, {int(grid15.mask.sum())} ratings" in lines[0]
    assert grid15.titles[0][:13] in lines[1]
    first_user = lines[3].split()
    assert first_user[0] == str(grid15.user_ids[0])
    assert len(lines) == 3 + 15


def test_solve_prints_rmse_before_after_and_the_solved_grid(capsys, grid15) -> None:
    code, out, _ = _run(capsys, "solve")
    assert code == 0
    before, after = map(float, re.search(r"RMSE before ([\d.]+) → after ([\d.]+)", out).groups())
    assert after < 0.5 * before
    rows = [line.split() for line in out.splitlines()[-15:]]
    assert [r[0] for r in rows] == [str(u) for u in grid15.user_ids]
    blanks = sum(16 - len(r) for r in rows)
    assert blanks == int((~grid15.mask).sum())  # unrated cells print blank


def test_step_prints_the_loss_every_n_steps(capsys) -> None:
    code, out, _ = _run(capsys, "step", "--optimizer", "adam", "--lr", "0.05", "--steps", "300", "--every", "100")
    assert code == 0
    losses = [float(x) for x in re.findall(r"^step \d+: RMSE ([\d.]+)$", out, flags=re.M)]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert re.search(r"final RMSE [\d.]+ after 300 Adam steps \([\d,]+ steps/s\)", out)


def test_step_reports_divergence(capsys) -> None:
    code, out, _ = _run(capsys, "step", "--optimizer", "sgd", "--lr", "1000", "--steps", "200")
    assert code == 1 and "diverged" in out and "too high" in out


def test_about_names_the_dataset_and_licence(capsys, movielens) -> None:
    code, out, _ = _run(capsys, "about")
    assert code == 0 and movielens.name in out and "GroupLens" in out
    assert re.search(rf"{len(movielens):,}|{len(movielens)}", out)


def test_custom_file_and_bad_file(capsys, tmp_path) -> None:
    good = tmp_path / "mine.csv"
    rows = [f"{u},{i},{(u * i) % 5 + 1}" for u in range(8) for i in range(9) if (u + i) % 3]
    good.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    code, out, _ = _run(capsys, "grid", "--ratings", str(good), "--top", "5")
    assert code == 0 and "mine.csv" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,x\n")
    code, out, err = _run(capsys, "solve", "--ratings", str(bad))
    assert code == 2 and out == ""
    message = err.strip().splitlines()[-1]  # after the data-loading progress lines
    assert message.startswith("collabsheet: ") and "bad.csv" in message and "line 2" in message


def test_bad_option_values_are_one_line_errors(capsys) -> None:
    with pytest.raises(SystemExit) as done:  # the parser checks each option's range, before any work
        cli.main(["grid", "--top", "3"])
    assert done.value.code == 2
    assert capsys.readouterr().err == ("collabsheet grid: argument --top: must be between 5 and 1,000, got 3 "
                                       "(see collabsheet grid -h)\n")


def test_engine_runs_without_qt() -> None:
    import subprocess
    import sys

    code = ("import sys, engine.cli.main, engine.sheet.sheet, engine.xlsx, engine.data.movielens, engine.sheet.explain; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6', 'gui')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
