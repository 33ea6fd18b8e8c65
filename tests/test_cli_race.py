"""`collabsheet race`: the table of each racer's RMSE, and one-line errors for bad racers."""
import re

import pytest

from collabsheet.engine.cli import main as cli
from collabsheet.engine.cli.race import checkpoints, parse_optimizers
from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.sheet.sheet import Sheet

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _rows(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("racer"))
    rows = {}
    for line in lines[header + 1:]:
        if line.startswith("raced "):
            break
        label = re.match(r"^(\S+ \S+)\s", line).group(1)
        rows[label] = line[len(label):].split()
    return rows


def test_race_prints_each_racers_rmse_at_checkpoints_and_the_end(capsys, grid15) -> None:
    code, out, _ = _run(capsys, "race", "--optimizers", "sgd:0.01,momentum:0.01,adam:0.05", "--steps", "400")
    assert code == 0
    header = next(line for line in out.splitlines() if line.startswith("racer"))
    assert re.findall(r"step ([\d,]+)", header) == ["40", "100", "200", "400"] and "final RMSE" in header
    rows = _rows(out)
    assert list(rows) == ["SGD 0.01", "Momentum 0.01", "Adam 0.05"]
    for label, settings in [("SGD 0.01", OptimizerSettings("sgd", lr=0.01)), ("Adam 0.05", OptimizerSettings("adam"))]:
        sheet = Sheet(grid15, SheetConfig(), settings, device="cpu")
        losses = sheet.step(400).losses
        cells = rows[label]
        for value, step in zip(cells[:3], (40, 100, 200)):
            assert float(value) == pytest.approx(losses[step], abs=1e-6)
        assert float(cells[3]) == float(cells[4]) == pytest.approx(sheet.rmse(), abs=1e-6)
        assert " ".join(cells[5:]) == "step limit (400)"
    assert re.search(r"raced 3 optimizers in [\d.]+ s \([\d,]+ steps/s per racer\)", out)


@pytest.mark.parametrize("lr", ["3", "20"], ids=["chaotic", "at once"])
def test_a_diverging_racer_keeps_its_last_good_step(capsys, grid15, lr: str) -> None:
    """At lr 3 the run is chaotic (where it is refused moves with the last bit of a factor); at lr 20 the first step
    is refused on any CPU. Either way the racer shows what the same rule alone does, step for step."""
    code, out, _ = _run(capsys, "race", "--optimizers", f"sgd:{lr},adam:0.05", "--steps", "300")
    assert code == 0
    cells = _rows(out)[f"SGD {lr}"]
    sheet = Sheet(grid15, SheetConfig(), OptimizerSettings("sgd", lr=float(lr)), device="cpu")
    result = sheet.step(300)
    expected = [f"{result.losses[s]:.6f}" if s < result.steps else "—" for s in checkpoints(300)[:-1]]
    assert cells[:3] == expected and float(cells[4]) == pytest.approx(sheet.rmse(), abs=1e-6)
    if result.diverged:
        assert " ".join(cells[5:]) == f"diverged: kept step {sheet.steps}"
    else:
        assert " ".join(cells[5:]) == "step limit (300)"
    if lr == "20":
        assert sheet.steps == 0 and cells[:4] == ["—"] * 4


def test_race_reads_a_ratings_file_and_model_options(capsys, tmp_path) -> None:
    path = tmp_path / "mine.csv"
    rows = [f"{u},{i},{(u * i) % 5 + 1}" for u in range(8) for i in range(9) if (u + i) % 3]
    path.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    code, out, _ = _run(capsys, "race", "--ratings", str(path), "--top", "5", "--factors", "2", "--biases",
                        "--seed", "3", "--device", "cpu", "--optimizers", "rmsprop:0.01,adamw:0.01", "--steps", "50")
    assert code == 0 and "5×5 sheet, k=2" in out and list(_rows(out)) == ["RMSProp 0.01", "AdamW 0.01"]


@pytest.mark.parametrize("spec,message", [
    ("sgd:abc", "--optimizers: the learning rate 'abc' in 'sgd:abc' is not a number"),
    ("sgd:0.1,nadam:0.1", "--optimizers: unknown optimizer 'nadam' in 'nadam:0.1'; choose one of sgd, momentum, "
                          "rmsprop, adam, adamw"),
    ("adam:-1", "--optimizers: the learning rate in 'adam:-1' must be a positive number"),
    ("adam:inf", "--optimizers: the learning rate in 'adam:inf' must be a positive number"),
    ("sgd:0.1,,adam:0.1", "--optimizers: give racers as NAME:LR separated by commas"),
])
def test_bad_racers_are_one_line_errors(capsys, spec: str, message: str) -> None:
    code, out, err = _run(capsys, "race", "--optimizers", spec, "--steps", "10")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"collabsheet: {message}")


def test_bad_steps_is_a_one_line_error(capsys) -> None:
    code, _, err = _run(capsys, "race", "--steps", "0")
    assert code == 2 and err.strip().splitlines()[-1] == "collabsheet: --steps must be at least 1, got 0"


def test_specs_and_checkpoints() -> None:
    assert parse_optimizers("SGD:0.5, adam") == [OptimizerSettings("sgd", lr=0.5), OptimizerSettings("adam")]
    assert checkpoints(1000) == [100, 250, 500, 1000] and checkpoints(3) == [1, 3]
