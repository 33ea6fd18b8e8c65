"""The one progress/cancel object: the Task itself, and each long task reporting through it and stopping when cancelled."""
import io
import os
import signal
import threading

import pytest

from collabsheet.engine.task import Cancelled, Report, Task


def _recorded() -> tuple[list[Report], Task]:
    heard: list[Report] = []
    return heard, Task(heard.append)


# --- the object ----------------------------------------------------------------------------------

def test_a_task_without_a_listener_hears_nothing_and_runs_until_cancelled() -> None:
    task = Task()
    assert not task.listened and not task.cancelled
    task.report("anything", 0.5, rmse=1.0)  # nobody listens: nothing happens, nothing raises
    task.check()
    task.cancel()
    assert task.cancelled
    with pytest.raises(Cancelled):
        task.check()


def test_the_listener_hears_the_message_fraction_figures_and_partial_result() -> None:
    heard, task = _recorded()
    assert task.listened
    task.report("Reading r.csv: 3 of 6 MiB", 0.5)
    task.report(iterations=12, rmse=0.75)
    task.report(fraction=1.0, result=("any", "object"))
    assert heard == [Report("Reading r.csv: 3 of 6 MiB", 0.5, {}, None),
                     Report(None, None, {"iterations": 12, "rmse": 0.75}), Report(None, 1.0, {}, ("any", "object"))]


def test_tasks_sharing_an_event_are_cancelled_together_and_a_fresh_task_is_not() -> None:
    stop = threading.Event()
    first, second = Task(cancel=stop), Task(lambda r: None, cancel=stop)
    stop.set()
    assert first.cancelled and second.cancelled and not Task().cancelled
    stop.clear()  # a runner clears its Stop before the next command: its next task runs
    assert not first.cancelled


def test_a_task_is_cancelled_from_another_thread_and_from_a_signal_handler() -> None:
    task = Task()
    worker = threading.Thread(target=task.cancel)
    worker.start()
    worker.join(5)
    assert task.cancelled
    from collabsheet.engine.cli.train import ctrl_c_stops

    task, before = Task(), signal.getsignal(signal.SIGTERM)
    with ctrl_c_stops(task):  # Ctrl-C and SIGTERM cancel the task instead of raising
        os.kill(os.getpid(), signal.SIGTERM)
        assert task.cancelled
    assert signal.getsignal(signal.SIGTERM) is before  # the handler from before it is back


# --- each long task ------------------------------------------------------------------------------

@pytest.mark.numeric  # the last report's RMSE (the solver's residuals) against the sheet's own, to 1e-9
def test_a_solve_reports_iterations_and_rmse_and_stops_when_cancelled(grid15) -> None:
    from collabsheet.engine.sheet.sheet import Sheet

    heard, task = _recorded()
    result = Sheet(grid15, device="cpu").solve(task=task)
    assert not result.stopped and heard and all(r.message is None for r in heard)
    assert heard[-1].figures == {"iterations": result.iterations, "rmse": pytest.approx(result.rmse, rel=1e-9)}
    cancelled = Task()
    cancelled.cancel()
    stopped = Sheet(grid15, device="cpu").solve(task=cancelled)
    assert stopped.stopped and stopped.reason == "stopped" and stopped.iterations < result.iterations


def test_a_race_reports_its_steps_and_stops_between_chunks_when_cancelled(grid15) -> None:
    from collabsheet.engine.config import OptimizerSettings
    from collabsheet.engine.sheet.race import CHUNK, Race
    from collabsheet.engine.sheet.sheet import Sheet

    racers = [OptimizerSettings("sgd", lr=0.01), OptimizerSettings("adam", lr=0.05)]
    heard, task = _recorded()
    race = Race(Sheet(grid15, device="cpu"), racers, max_steps=3 * CHUNK)
    race.run(task)
    assert race.done and [r.figures["steps"] for r in heard] == [CHUNK, 2 * CHUNK, 3 * CHUNK]
    assert [r.fraction for r in heard] == pytest.approx([1 / 3, 2 / 3, 1.0]) and heard[-1].figures["racing"] == 0

    def cancel_at_first(report: Report) -> None:
        task.cancel()

    task = Task(cancel_at_first)
    race = Race(Sheet(grid15, device="cpu"), racers, max_steps=100 * CHUNK)
    race.run(task)
    assert race.steps == CHUNK and not race.done  # the chunk under way finished, no other began


def test_the_workbook_epochs_report_each_epoch_and_stop_when_cancelled() -> None:
    from collabsheet.engine.graddesc.data import lesson_data
    from collabsheet.engine.graddesc.run import GradDesc
    from collabsheet.engine.graddesc.settings import Settings

    data = lesson_data(29, 42, 2.0, 30.0, 0.0)
    heard, task = _recorded()
    whole = GradDesc(data, Settings.lesson("adam")).run(4, task)
    assert [r.figures["epoch"] for r in heard] == [1, 2, 3, 4] and [r.figures["rmse"] for r in heard] == whole
    assert [r.fraction for r in heard] == [0.25, 0.5, 0.75, 1.0]

    def cancel_after_two(report: Report) -> None:
        if report.figures["epoch"] == 2:
            task.cancel()

    task = Task(cancel_after_two)
    run = GradDesc(data, Settings.lesson("adam"))
    assert run.run(4, task) == whole[:2] and run.epoch == 2


def test_training_reports_every_batch_and_epoch_and_stops_between_batches(tmp_path) -> None:
    from collabsheet.engine.train.data import prepare
    from collabsheet.engine.train.fit import BatchEvent, EpochEvent
    from collabsheet.engine.train.learn import learn
    from collabsheet.engine.train.recipes import RECIPES
    from train_helpers import low_rank_ratings

    data = prepare(low_rank_ratings(n_users=40, n_movies=30), seed=0)
    recipe = RECIPES["fast"].with_(epochs=2, bs=64, factors=4)
    heard, task = _recorded()
    run = learn(data, recipe, seed=1, task=task)
    batches = [r for r in heard if isinstance(r.result, BatchEvent)]
    epochs = [r for r in heard if isinstance(r.result, EpochEvent)]
    assert len(batches) == run.history.iterations and tuple(r.result for r in epochs) == run.history.epochs
    assert [r.fraction for r in batches] == pytest.approx([i / run.history.iterations for i in
                                                            range(1, run.history.iterations + 1)])
    assert epochs[-1].fraction == 1.0 and epochs[-1].figures["valid_rmse"] == run.history.valid_rmse

    def cancel_at_third_batch(report: Report) -> None:
        if isinstance(report.result, BatchEvent) and report.result.iteration == 3:
            task.cancel()

    task = Task(cancel_at_third_batch)
    stopped = learn(data, recipe, seed=1, task=task)
    assert stopped.history.stopped and stopped.history.iterations == 3 and stopped.history.epochs == ()


@pytest.mark.parametrize("path", ["fast", "careful"])
def test_reading_a_file_reports_the_bytes_read_and_stops_when_cancelled(tmp_path, monkeypatch, path) -> None:
    import collabsheet.engine.data.ratings as ratings_module

    rows = "".join(f"{u},{m},{(u * m) % 5 + 1}\n" for u in range(1, 301) for m in range(1, 101))
    (tmp_path / "r.csv").write_text("user,item,rating\n" + rows)
    monkeypatch.setattr(ratings_module, "PROGRESS_EVERY", 0.0)  # every read reports, so a small file shows it
    if path == "careful":
        monkeypatch.setattr(ratings_module, "_read_fast", lambda *a: None)
    else:  # pyarrow reads it, and hands the cancel back as it was raised rather than falling back to pandas
        monkeypatch.setattr(ratings_module, "_read_table", lambda *a: pytest.fail("the careful path read it"))
    heard, task = _recorded()
    read = ratings_module.load_ratings(tmp_path / "r.csv", task=task)
    assert len(read) == 30_000 and heard and heard[-1].fraction == 1.0
    assert heard[-1].message.startswith(f"Reading {tmp_path / 'r.csv'}: ")

    def cancel_at_first(report: Report) -> None:
        task.cancel()

    task = Task(cancel_at_first)
    with pytest.raises(Cancelled):
        ratings_module.load_ratings(tmp_path / "r.csv", task=task)


def test_a_file_the_window_opens_reports_its_bytes_read_too(tmp_path, monkeypatch) -> None:
    """Issue 21: the window showed the bytes read of the default data only; a named file's read heard no task."""
    import collabsheet.engine.data.ratings as ratings_module
    from collabsheet.gui.sheet.frames import LoadRequest

    rows = "".join(f"{u},{m},{(u * m) % 5 + 1}\n" for u in range(1, 101) for m in range(1, 51))
    (tmp_path / "r.csv").write_text("user,item,rating\n" + rows)
    monkeypatch.setattr(ratings_module, "PROGRESS_EVERY", 0.0)  # every read reports, so a small file shows it
    heard, task = _recorded()
    read = LoadRequest(str(tmp_path / "r.csv"), {"sep": ","}).read(task)
    assert len(read) == 5_000 and heard and heard[-1].message.startswith(f"Reading {tmp_path / 'r.csv'}: ")


def test_the_default_data_checks_its_task_before_each_source(tmp_path, monkeypatch) -> None:
    from collabsheet.engine.data.movielens import default_ratings

    monkeypatch.setenv("COLLABSHEET_CACHE", str(tmp_path))
    monkeypatch.delenv("COLLABSHEET_RATINGS", raising=False)
    task = Task()
    task.cancel()
    with pytest.raises(Cancelled):
        default_ratings(task=task)


# --- the listeners: the command line's, the runners' ---------------------------------------------

def test_the_command_lines_progress_line_shows_messages_only(capsys) -> None:
    from collabsheet.engine.cli.terminal import progress_task

    task = progress_task()
    task.report("Downloading ml-latest-small.zip: 0.8 MB", 0.25)
    task.report(iterations=3, rmse=0.5)  # figures alone: nothing to read on a terminal
    task.report("Unpacking ratings.csv and movies.csv")
    err = capsys.readouterr().err
    assert err == "Downloading ml-latest-small.zip: 0.8 MB  25%\nUnpacking ratings.csv and movies.csv\n"


def test_the_training_bar_hears_the_tasks_batch_and_epoch_events() -> None:
    from collabsheet.engine.train.fit import BatchEvent, EpochEvent
    from collabsheet.engine.train.progress import RunProgress

    now, out, err = [0.0], io.StringIO(), io.StringIO()
    with RunProgress(1, 100, terminal=False, out=out, err=err, every=0.0, clock=lambda: now[0]) as bars:
        task = Task(bars.hear)
        for it in (1, 2):
            now[0] = float(it)
            task.report(fraction=it / 10, result=BatchEvent(it, 1, it, 10, 0.5, 0.01, 64))
        task.report(message="not an event")  # neither a batch nor an epoch: no line
        task.report(fraction=1.0, result=EpochEvent(1, 0.5, 0.8, 0.894, 3.0))
    assert err.getvalue().splitlines()[-1].startswith("epoch 1/1 · batch 2/10 · 20% of the run · loss 0.5000")
    assert out.getvalue() == "epoch 1/1  train loss 0.5000  valid MSE 0.8000  valid RMSE 0.8940  (3.0 s)\n"


def test_a_runners_task_is_cancelled_by_its_stop_and_a_reading_sends_only_what_changed() -> None:
    from collabsheet.gui.runtime.mailbox import Mailbox
    from collabsheet.gui.runtime.runner import Frame, Runner

    runner = Runner(Mailbox(Frame))
    task = runner.task(lambda r: None)
    runner.stop.set()  # the GUI thread's Stop
    assert task.cancelled
    runner.stop.clear()
    reading = runner.reading("progress")
    assert not reading.cancelled
    runner.stop.set()
    assert not reading.cancelled  # Stop never cancels a read: the ratings are still wanted
    for message, fraction in (("Reading r.csv", None), ("Reading r.csv", None), ("Downloading: 1 MB", 0.101),
                              ("Downloading: 1 MB", 0.099)):
        reading.report(message, fraction)
    reading.report(iterations=1)  # no message: nothing to show
    events = [args for kind, args in runner.mailbox.take().events if kind == "progress"]
    assert events == [("Reading r.csv", None), ("Downloading: 1 MB", 0.101)]


def test_the_package_exports_the_task_and_its_calls_take_one(tmp_path) -> None:
    import collabsheet

    assert collabsheet.Task is Task and collabsheet.Report is Report and collabsheet.Cancelled is Cancelled
    assert {"Task", "Report", "Cancelled"} <= set(collabsheet.__all__)
    rows = "".join(f"{u},{m},{(u + m) % 5 + 1}\n" for u in range(1, 21) for m in range(1, 21))
    (tmp_path / "r.csv").write_text("user,item,rating\n" + rows)
    ratings = collabsheet.load_ratings(tmp_path / "r.csv", task=Task())
    assert len(ratings) == 400
    cancelled = Task()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        collabsheet.load_ratings(tmp_path / "r.csv", task=cancelled)
    run = collabsheet.train(ratings, "fast", epochs=1, bs=64, task=cancelled, device="cpu")
    assert run.history.stopped and run.history.iterations == 0


@pytest.mark.slow
def test_sigterm_during_training_ends_it_after_the_batch_and_keeps_the_checkpoint(tmp_path) -> None:
    from small_data import write_ratings
    from tests.test_hostile import run

    ratings = write_ratings(tmp_path / "ratings.csv", 24, 19, seed=5, keep=0.7)
    stopped = run("train", "--ratings", str(ratings), "--epochs", "100000", "--bs", "8", "--device", "cpu",
                  "--save", "m.pt", "--no-record", cwd=tmp_path, until="epoch 1/", send=signal.SIGTERM, after=0.3)
    assert stopped.code == 130 and stopped.message.startswith("collabsheet: interrupted after ")
    assert (tmp_path / "m.ckpt").is_file() and not (tmp_path / "m.pt").exists()
