"""The Gradient descent tab's runner without Qt: commands, ticks, frames, errors as events, workbook open and export."""
from __future__ import annotations

import time

import numpy as np
import openpyxl
import pytest

from collabsheet.engine.graddesc import ROW, GradDesc, Settings, lesson_data, paths, rmse
from collabsheet.engine.graddesc.macros import reset_macro
from collabsheet.engine.xlsx.errors import XlsxError
from collabsheet.engine.xlsx.graddesc import SHEETS, export_graddesc, read_graddesc
from collabsheet.gui.graddesc.frames import Frame
from collabsheet.gui.graddesc.runner import GradDescRunner
from collabsheet.gui.graddesc.xlsx_commands import optimizer_sheets
from collabsheet.gui.runtime.mailbox import Mailbox


@pytest.fixture
def runner():
    r = GradDescRunner(Mailbox(Frame))
    r.start()
    return r


def drain(runner: GradDescRunner, limit_s: float = 30.0) -> None:
    """Tick until the long work ends, as the worker would (without waiting between ticks)."""
    end = time.perf_counter() + limit_s
    while runner.tick() is not None:
        assert time.perf_counter() < end, "the runner never finished"


def rows_of(frame: Frame, shown: np.ndarray | None = None) -> np.ndarray:
    """The table a GUI holding `shown` would hold after this frame."""
    table = np.zeros(0, ROW) if shown is None or frame.clear else shown
    for start, rows in frame.rows:
        table = np.concatenate([table[:start], rows])
    return table


def same_rows(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal to the last bit, field by field (the averages a rule does not carry are NaN in both)."""
    assert ours.dtype == ROW and len(ours) == len(theirs)
    for field in ROW.names:
        np.testing.assert_array_equal(ours[field], theirs[field], err_msg=field)


def events(frame: Frame, kind: str) -> list:
    return [args for name, args in frame.events if name == kind]


def test_start_publishes_the_start_its_surface_and_settings(runner):
    frame = runner.mailbox.take()
    assert frame.clear and frame.settings == Settings.lesson("sgd")
    assert len(rows_of(frame)) == 0
    np.testing.assert_array_equal(np.concatenate(frame.path), [[1.0, 1.0]])  # (a, b): the reset macro's a = b = 1
    s = frame.surface
    assert s.contains(1.0, 1.0) and s.contains(*s.optimum)
    assert s.optimum == pytest.approx((2.0, 30.0))  # the lesson's data: y = 30 + 2·x, no noise
    assert s.loss.shape == (len(s.a), len(s.b)) and s.loss.min() >= 0
    p = frame.progress
    assert (p.epoch, p.row, p.rows, p.a, p.b, p.steps) == (0, 0, 29, 1.0, 1.0, 0)
    assert runner.mailbox.take() is None


def test_step_row_sends_the_engines_row_and_path_point(runner):
    runner.mailbox.take()
    ref = GradDesc(lesson_data(), Settings.lesson("sgd"))
    for _ in range(3):
        runner.step_row()
        ref.step_row()
    frame = runner.mailbox.take()  # both rows, merged: the frame accumulates what the GUI has not taken
    same_rows(rows_of(frame), ref.rows())
    np.testing.assert_array_equal(np.concatenate(frame.path), ref.path()[1:])
    assert (frame.progress.row, frame.progress.steps, frame.progress.a, frame.progress.b) == (
        3, 3, ref.carry.p[1], ref.carry.p[0])
    assert not frame.clear
    assert all(runner.surface.contains(*p) for p in ref.path())  # the surface follows the path (SGD's a overshoots)


def test_run_epoch_ticks_to_the_end_of_the_epoch_and_plots_its_rmse(runner):
    runner.step_row()
    runner.mailbox.take()
    runner.run_epoch()
    assert runner.playing
    drain(runner)
    frame = runner.mailbox.take()
    ref = GradDesc(lesson_data(), Settings.lesson("sgd"))
    ref.run_epoch()
    assert [args[0] for args in events(frame, "state_changed")] == ["playing", "idle"]
    table = rows_of(frame, shown=ref.rows()[:1])
    same_rows(table, ref.rows())
    values = [float(v) for p in frame.rmse if p.style == "line" for v in p.values]
    assert values == [rmse(ref.rows())] == [ref.history()["rmse"][-1]]
    assert frame.progress.epoch == 1 and frame.progress.row == 29 and frame.progress.rmse == values[0]
    runner.run_epoch()
    drain(runner)
    frame = runner.mailbox.take()
    ref.run_epoch()
    assert frame.rows[0][0] == 0  # the second epoch starts the table again
    same_rows(rows_of(frame), ref.rows())
    last = [p for p in frame.rmse if p.style == "line"][-1]
    assert (last.x0, float(last.values[-1])) == (2, ref.history()["rmse"][-1])


def test_play_is_paced_in_rows_per_second_and_pause_stops_it(runner):
    runner.set_rate(20.0)
    runner.play(True)
    began = time.perf_counter()
    while time.perf_counter() - began < 0.3:
        wait = runner.tick()
        assert wait is not None and wait <= 0.05
        time.sleep(wait)
    elapsed = time.perf_counter() - began
    assert 1 <= runner.run.row <= elapsed * 20 + 1  # never ahead of the pace
    runner.pause()
    assert runner.tick() is None and not runner.playing
    assert events(runner.mailbox.take(), "state_changed")[-1] == ("idle",)


def test_play_flat_out_steps_in_chunks_across_epochs(runner):
    runner.set_rate(None)
    runner.play(True)
    for _ in range(20):
        runner.tick()
    runner.pause()
    assert runner.run.epoch >= 2
    frame = runner.mailbox.take()
    ref = GradDesc(lesson_data(), Settings.lesson("sgd"))
    ref.run(runner.run.epoch)
    for _ in range(runner.run.row):
        ref.step_row()
    same_rows(rows_of(frame), ref.rows())  # only the epoch shown, from its first row
    np.testing.assert_array_equal(np.concatenate(frame.path), ref.path())
    epochs = [p.x0 for p in frame.rmse if p.style == "line"]
    assert epochs == list(range(1, runner.run.epoch + 1))


def test_a_new_learning_rate_keeps_the_run_and_starts_a_curve_segment(runner):
    runner.run_epoch()
    drain(runner)
    runner.mailbox.take()
    runner.configure(Settings.lesson("sgd", lr=5e-5))
    frame = runner.mailbox.take()
    assert not frame.clear and frame.settings.lr == 5e-5 and runner.run.epoch == 1
    runner.run_epoch()
    drain(runner)
    line = [p for p in runner.mailbox.take().rmse if p.style == "line"]
    assert [(p.label, p.x0) for p in line] == [("SGD · lr 5e-05", 1), ("SGD · lr 5e-05", 2)]  # joined at epoch 1


def test_another_optimizer_starts_again_with_its_columns(runner):
    runner.step_row()
    runner.configure(Settings.lesson("adam"))
    frame = runner.mailbox.take()
    assert frame.clear and frame.settings.rule == "adam" and len(rows_of(frame)) == 0
    warm = reset_macro(runner.run.data, Settings.lesson("adam"))  # adam's reset: averages warmed by two epochs
    assert frame.progress.top == (1.0, 1.0, *warm.m.tolist(), *warm.v.tolist())
    assert warm.v.tolist() != [10_000.0, 10_000.0]


def test_a_diverging_run_says_so_stops_and_reset_recovers(runner):
    runner.configure(Settings.lesson("sgd", lr=1.0))
    runner.set_rate(None)
    runner.play(True)
    drain(runner)
    frame = runner.mailbox.take()
    assert events(frame, "diverged") and not runner.playing and frame.progress.diverged
    runner.step_row()
    assert events(runner.mailbox.take(), "diverged")
    runner.reset()
    frame = runner.mailbox.take()
    assert frame.clear and not frame.progress.diverged and frame.progress.steps == 0


def test_compare_draws_each_optimizers_path_from_the_same_start(runner):
    runner.configure(Settings.lesson("adam", start_a=0.5, start_b=10.0))
    runner.mailbox.take()
    runner.compare(["sgd", "momentum", "adam"], 3)
    frame = runner.mailbox.take()
    expected = paths(lesson_data(), [Settings.lesson(r, start_a=0.5, start_b=10.0) for r in ("sgd", "momentum", "adam")],
                     3)
    assert [c.rule for c in frame.compare] == ["sgd", "momentum", "adam"]
    for c, path in zip(frame.compare, expected):
        np.testing.assert_array_equal(c.path, path)
        assert c.path[0].tolist() == [0.5, 10.0] and len(c.path) == 3 * 29 + 1 and not c.diverged
    assert frame.surface is not None  # the comparisons went beyond the first surface, so it grew to hold them
    assert all(frame.surface.contains(*p) for c in frame.compare for p in c.path)
    runner.configure(Settings.lesson("adam", lr=0.05, start_a=0.5, start_b=10.0))  # the run's own rule follows it
    again = runner.mailbox.take().compare
    assert again[2].label == "Adam · lr 0.05" and again[0].label == "SGD · lr 0.0001"
    runner.compare([])
    assert runner.mailbox.take().compare == ()


def test_the_surface_grows_when_the_path_leaves_it(runner):
    runner.configure(Settings.lesson("adam", lr=2.0))
    first = runner.mailbox.take().surface
    runner.run_epoch()
    drain(runner)
    frame = runner.mailbox.take()
    path = np.concatenate(frame.path)
    assert not all(first.contains(*p) for p in path)
    assert frame.surface is not None and all(frame.surface.contains(*p) for p in path)


def test_new_data_from_the_recipe_or_a_csv(runner, tmp_path):
    runner.set_data(10, 7, 2.5)
    frame = runner.mailbox.take()
    assert frame.clear and frame.progress.rows == 10 and frame.surface is not None
    np.testing.assert_array_equal(runner.data.x, lesson_data(10, 7, noise=2.5).x)
    good = tmp_path / "points.csv"
    good.write_text("x,y\n1,5\n2,7\n3,9.5\n")
    runner.open_csv(str(good))
    frame = runner.mailbox.take()
    assert frame.progress.rows == 3 and frame.progress.data == "points.csv"
    assert events(frame, "notice") == [("Opened points.csv: 3 rows",)]
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,5\n2,seven\n")
    with pytest.raises(ValueError, match=r"^bad.csv line 3: y should be a number, found 'seven'$"):
        runner.open_csv(str(bad))
    assert len(runner.data) == 3  # the data in use stays


def test_errors_become_one_line_messages_and_a_failed_tick_pauses(runner):
    runner.play(True)
    runner.failed("tick", "something broke")
    frame = runner.mailbox.take()
    assert ("Play", "something broke") in events(frame, "message") and not runner.playing
    runner.failed("open_workbook", "book.xlsx: no such file")
    assert events(runner.mailbox.take(), "message") == [("Could not open the workbook", "book.xlsx: no such file")]


def test_export_writes_a_sheet_per_optimizer_that_opens_back_as_this_epoch(runner, tmp_path):
    runner.configure(Settings.lesson("adam"))
    runner.run_epoch()
    drain(runner)
    for _ in range(5):
        runner.step_row()  # the table shows epoch 2, five rows in
    path = tmp_path / "out.xlsx"
    runner.export(str(path))
    assert events(runner.mailbox.take(), "notice")[-1][0].startswith(f"Saved {path}")
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == ["data", *SHEETS.values()]
    runner.run_epoch()
    drain(runner)
    epoch2 = runner.run.rows()

    other = GradDescRunner(Mailbox(Frame))
    other.open_workbook(str(path), "adam")
    drain(other)  # opening runs the sheet's epoch: the table shows its rows as the engine computes them
    same_rows(other.run.rows(), epoch2)
    assert other.run.settings == Settings.lesson("adam")
    frame = other.mailbox.take()
    assert any("never calculated" in args[0] for args in events(frame, "notice"))
    same_rows(rows_of(frame), epoch2)
    basic = read_graddesc(path, "basic")  # the others: the lesson's settings, from the same start, same epoch
    ref = GradDesc(lesson_data(), Settings.lesson("sgd"))
    ref.run(2)
    np.testing.assert_array_equal(basic.carry.p, ref.top.p)


def test_export_refuses_the_library_variant_in_one_line(runner, tmp_path):
    runner.configure(Settings.lesson("adam", "library"))
    with pytest.raises(ValueError, match="library variant has no sheet") as error:
        runner.export(str(tmp_path / "out.xlsx"))
    assert "\n" not in str(error.value) and not (tmp_path / "out.xlsx").exists()


def test_a_workbook_with_several_sheets_asks_which(runner, tmp_path):
    runs = [GradDesc(lesson_data(), Settings.lesson(rule)) for rule in ("sgd", "adam")]
    path = tmp_path / "two.xlsx"
    export_graddesc(runs, path)
    assert optimizer_sheets(path) == ["basic", "adam"]
    runner.configure(Settings.lesson("adam"))
    runner.mailbox.take()
    runner.open_workbook(str(path))
    assert events(runner.mailbox.take(), "choose_sheet") == [(str(path), ["basic", "adam"], "adam")]
    single = tmp_path / "one.xlsx"
    export_graddesc(runs[:1], single)
    runner.open_workbook(str(single))
    drain(runner)
    assert runner.run.settings.rule == "sgd" and len(runner.run.rows()) == 29


def test_a_bad_workbook_leaves_the_run_as_it_was(runner, tmp_path):
    runner.step_row()
    runner.step_row()
    before = runner.run.rows()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook at all")
    with pytest.raises(XlsxError, match=r"^bad.xlsx: not an Excel workbook \(.xlsx\)$"):
        runner.open_workbook(str(bad))
    wrong = tmp_path / "wrong.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "adam"
    wb.active["A3"] = "nothing here"
    wb.save(wrong)
    with pytest.raises(XlsxError, match=r"^wrong.xlsx: adam!A3 should read 'x'"):
        runner.open_workbook(str(wrong), "adam")
    same_rows(runner.run.rows(), before)
    assert runner.mailbox.take().progress.row == 2


def test_a_recalculated_export_opens_and_its_epoch_matches_the_cached_rows(runner, tmp_path):
    """Through LibreOffice: the runner's export, recalculated, opens back; the rows equal the cached ones to 1e-9."""
    from test_xlsx_calc import recalculate, soffice

    soffice()
    runner.configure(Settings.lesson("momentum"))
    runner.run_epoch()
    drain(runner)
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    runner.export(str(src / "graddesc.xlsx"))
    recalculate([src / "graddesc.xlsx"], out, tmp_path / "profile")
    other = GradDescRunner(Mailbox(Frame))
    other.open_workbook(str(out / "graddesc.xlsx"), "momentum")
    drain(other)
    cached = read_graddesc(out / "graddesc.xlsx", "momentum").cached
    ours = other.run.rows()
    for field in ("pred", "de_db", "de_da", "new_b", "new_a", "m_b", "m_a"):
        assert np.max(np.abs(ours[field] - cached[field]) / np.maximum(1, np.abs(cached[field]))) <= 1e-9, field
    notice = [args[0] for args in events(other.mailbox.take(), "notice")][-1]
    assert "one epoch matches its cached rows to" in notice
