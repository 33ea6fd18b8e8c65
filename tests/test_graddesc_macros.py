"""The gradient-descent workbook over several epochs and its Reset, as graddesc.xlsm's macros run them."""
from __future__ import annotations

import math

import numpy as np
import pytest

from collabsheet.engine.cli.main import main
from collabsheet.engine.graddesc import RULES, Carry, Data, GradDesc, Settings, lesson_data
from collabsheet.engine.xlsx.graddesc import SHEETS, export_graddesc, read_graddesc

TWO = Data([2.0, 3.0], [34.0, 36.0], "two rows")  # y = 30 + 2·x


def cold_epoch(data: Data, h: Settings, top: Carry) -> np.void:
    """The last row of one epoch from the given top cells (a fresh run, no macro)."""
    run = GradDesc(data, h, top)
    run.run_epoch()
    return run.rows()[-1]


def test_basic_epoch_two_by_hand():
    """onestep copies C32:D32 (the b and a the last row used) to C1:C2: epoch 2 starts from (1.62, 2.24),
    not from the last row's new b and a (2.1732, 3.8996)."""
    run = GradDesc(TWO, Settings.lesson("sgd", lr=0.01))
    run.run(2)
    r = run.rows()
    assert (r["b"][0], r["a"][0]) == pytest.approx((1.62, 2.24), abs=1e-15)
    # pred = 1.62 + 2.24·2 = 6.1, de/db = −55.8: new b = 2.178, new a = 3.356; row 2: pred 12.246
    assert (r["new_b"][0], r["new_a"][0]) == pytest.approx((2.178, 3.356), abs=1e-13)
    assert run.history()["rmse"][1] == pytest.approx(math.sqrt(27.9**2 + 23.754**2), rel=1e-13)
    assert (run.history()["b"][1], run.history()["a"][1]) == pytest.approx((2.178, 3.356), abs=1e-13)


@pytest.mark.parametrize("rule", RULES)
def test_each_next_epoch_keeps_the_averages_but_starts_from_the_last_rows_inputs(rule):
    data = lesson_data()
    run = GradDesc(data, Settings.lesson(rule))
    run.run_epoch()
    last = run.rows()[-1]
    run.step_row()
    assert (run.top.p[0], run.top.p[1]) == (last["b"], last["a"])
    for kind in ("m", "v"):
        if not np.isnan(last[f"{kind}_b"]):
            assert getattr(run.top, kind).tolist() == [last[f"{kind}_b"], last[f"{kind}_a"]]


@pytest.mark.parametrize("rule", ["sgd", "momentum", "adam"])
def test_the_library_variant_keeps_torch_optims_one_long_run(rule):
    run = GradDesc(lesson_data(), Settings.lesson(rule, "library"))
    assert run.carry.m.tolist() == [0.0, 0.0] and run.carry.v.tolist() == [0.0, 0.0]  # cold, as torch.optim
    run.run_epoch()
    last = run.rows()[-1]
    run.step_row()
    assert (run.top.p[0], run.top.p[1]) == (last["new_b"], last["new_a"])


def test_reset_macros_warm_the_averages_per_sheet():
    data = lesson_data()
    basic = GradDesc(data, Settings.lesson("sgd")).carry
    assert basic.p.tolist() == [1.0, 1.0] and basic.m.tolist() == [0.0, 0.0]
    # momentum: momtarget = 0, recalculate, momlast → momtarget once
    h = Settings.lesson("momentum")
    last = cold_epoch(data, h, Carry.reset(h))
    top = GradDesc(data, h).carry
    assert top.p.tolist() == [1.0, 1.0] and top.m.tolist() == [last["m_b"], last["m_a"]]
    # rmsprop: gradtarget = 10,000, then ms_last → gradtarget twice
    h = Settings.lesson("rmsprop")
    once = cold_epoch(data, h, Carry.reset(h))
    warm = Carry.reset(h)
    warm.v = np.array([once["v_b"], once["v_a"]])
    twice = cold_epoch(data, h, warm)
    assert GradDesc(data, h).carry.v.tolist() == [twice["v_b"], twice["v_a"]]
    # adam_ann: as adam (both averages, twice), and prev_grad2 = √L + √M of what it copied
    h = Settings.lesson("adam_ann")
    once = cold_epoch(data, h, Carry.reset(h))
    warm = Carry.reset(h)
    warm.m, warm.v = np.array([once["m_b"], once["m_a"]]), np.array([once["v_b"], once["v_a"]])
    twice = cold_epoch(data, h, warm)
    top = GradDesc(data, h).carry
    assert top.m.tolist() == [twice["m_b"], twice["m_a"]] and top.v.tolist() == [twice["v_b"], twice["v_a"]]
    assert top.best == math.sqrt(twice["v_b"]) + math.sqrt(twice["v_a"]) and top.lr == 1.0


def test_reset_after_epochs_returns_to_the_macros_state():
    run = GradDesc(lesson_data(), Settings.lesson("adam"))
    start = run.carry.copy()
    run.run(3)
    run.reset()
    assert run.epoch == 0 and run.history().shape == (0,)  # basic's rmse list cleared too
    assert run.carry.m.tolist() == start.m.tolist() and run.carry.v.tolist() == start.v.tolist()


@pytest.mark.parametrize("rule", ["momentum", "rmsprop", "adam_ann"])
def test_an_exported_sheet_read_back_goes_on_as_the_run_did(tmp_path, rule):
    """Export shows the epoch in progress from its top cells; read back, its epochs are the run's."""
    run = GradDesc(lesson_data(), Settings.lesson(rule))
    run.run(30 if rule == "adam_ann" else 4)  # adam_ann: past an annealing on this data
    path = tmp_path / "gd.xlsx"
    export_graddesc([run], path)
    again = read_graddesc(path, SHEETS[rule]).graddesc()
    got = again.run(3)
    assert got[0] == run.history()["rmse"][-1]  # the epoch the sheet shows
    assert got[1:] == run.run(2) and again.carry.lr == run.carry.lr


def graddesc_cli(capsys, *args: str) -> list[list[str]]:
    assert main(["graddesc", *args]) == 0
    printed = capsys.readouterr().out
    return printed, [line.split() for line in printed.splitlines() if line.split() and line.split()[0].isdigit()]


@pytest.mark.parametrize("rule", ["sgd", "momentum", "adam"])
def test_cli_reset_starts_a_workbook_sheet_from_its_reset_macro(tmp_path, capsys, rule):
    run = GradDesc(lesson_data(), Settings.lesson(rule))
    run.run(7)  # the saved sheet is somewhere in a run
    path = tmp_path / "gd.xlsx"
    export_graddesc([run], path)
    printed, lines = graddesc_cli(capsys, "--workbook", str(path), "--sheet", SHEETS[rule], "--reset", "--epochs", "4")
    assert "(its reset macro's state)" in printed
    lr = {"momentum": 1e-4, "adam": 1.0}.get(rule, run.settings.lr)  # what the macro writes into D2
    ref = GradDesc(lesson_data(), Settings.lesson(rule, lr=lr))
    values = ref.run(4)  # --epochs N: the epoch button pressed N times from Reset
    assert [float(line[3]) for line in lines] == pytest.approx(values, rel=1e-11)
    _, saved = graddesc_cli(capsys, "--workbook", str(path), "--sheet", SHEETS[rule], "--epochs", "1")
    assert float(saved[0][3]) != pytest.approx(values[0], rel=1e-6)  # without --reset: the saved state


def test_cli_reset_needs_a_workbook(capsys):
    assert main(["graddesc", "--reset"]) == 2
    assert "--reset starts a --workbook sheet from its reset macro" in capsys.readouterr().err
