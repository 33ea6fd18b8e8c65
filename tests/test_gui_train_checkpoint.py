"""The Training tab checkpoints each finished epoch and resumes from it (pytest-qt, a real TrainRunner, MovieLens)."""
from __future__ import annotations

import math
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from collabsheet.engine.config import RunState
from collabsheet.engine.task import Report, Task
from collabsheet.engine.train.checkpoint import FORMAT
from collabsheet.engine.train.fit import EpochEvent
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.recipes import RECIPES, Recipe
from collabsheet.gui.runtime.channel import QChannel
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.train import checkpoint_file
from collabsheet.gui.train.checkpoint_file import CheckpointUnreadable, read_summary, tab_checkpoint
from collabsheet.gui.train.frames import Frame
from collabsheet.gui.train.handle import QTrainHandle
from collabsheet.gui.train.runner import TRAINING_LABEL, VALID_LABEL, TrainRunner
from collabsheet.gui.train.tab import QTrainTab
from train_helpers import low_rank_ratings

WAIT_MS = 120_000  # generous: the machine running the tests may be busy
IDLE = RunState.IDLE
FAST = RECIPES["fast"].with_(epochs=3)  # well under a second an epoch on MovieLens 100k
TRAIN_RATINGS = 80_000  # MovieLens 100k's 80% training share
BATCHES = math.ceil(TRAIN_RATINGS / FAST.batch_size(TRAIN_RATINGS))  # 79 batches of 1,024


class StopAtEpoch(Mailbox):
    """The runner's mailbox, which sets Stop in the worker as epoch `at`'s row is put: the run ends right after it."""

    def __init__(self) -> None:
        super().__init__(Frame)
        self.runner: TrainRunner | None = None
        self.at: int | None = None

    def put(self, **updates) -> None:
        row = updates.get("epoch")
        if row is not None and row.epoch == self.at:
            self.runner.stop.set()
        super().put(**updates)


@pytest.fixture
def make_tab(qtbot):
    """A Training tab over its own channel, worker and TrainRunner (on the CPU, where runs repeat exactly)."""
    made = []

    def make() -> QTrainTab:
        mailbox = StopAtEpoch()
        runner = mailbox.runner = TrainRunner(mailbox, device="cpu")
        channel = QChannel()
        tab = QTrainTab(channel.add("train", runner, QTrainHandle))
        qtbot.addWidget(tab)
        made.append((tab, channel))
        tab.messages = []
        tab.message.connect(lambda title, text: tab.messages.append((title, text)))
        tab.show()  # the first show asks for MovieLens
        qtbot.waitUntil(lambda: "100,000 ratings" in tab.controls.ratings.text() and tab.state == IDLE,
                        timeout=WAIT_MS)
        return tab

    yield make
    for tab, channel in made:
        tab.close_tab()
        channel.shutdown()


def button(tab: QTrainTab, name: str) -> QToolButton:
    return next(b for b in tab.controls.findChildren(QToolButton) if b.defaultAction() is tab.actions[name])


def use(tab: QTrainTab, recipe: Recipe, seed: int) -> None:
    """Set the form to a recipe and seed, as picking one and typing would."""
    tab.controls.fill(recipe)
    tab.controls.seed.setValue(seed)


def click_and_wait(qtbot, tab: QTrainTab, name: str, trains: bool = True) -> None:
    """Click Train or Resume and wait for the run to end (trains) or to be refused with a message."""
    said = len(tab.messages)
    with qtbot.waitSignal(tab.engine.checkpoint, timeout=WAIT_MS):  # every run ends saying what the checkpoint holds
        qtbot.mouseClick(button(tab, name), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.state == IDLE, timeout=WAIT_MS)
    if trains:
        qtbot.waitUntil(lambda: tab.results is not None or len(tab.messages) > said, timeout=WAIT_MS)
        assert len(tab.messages) == said, tab.messages
    else:
        qtbot.waitUntil(lambda: len(tab.messages) > said, timeout=WAIT_MS)


def curve_x(tab: QTrainTab, label: str) -> np.ndarray:
    trace = next(t for t in tab.loss_plot.traces.values() if t.item.name() == label)
    return trace.x[:trace.n]


def stopped_after_epochs(ratings, recipe: Recipe, seed: int, epochs: int, path) -> None:
    """Train in the engine with a checkpoint at `path`, cancelled once `epochs` epochs have finished."""
    def heard(report: Report) -> None:
        if isinstance(report.result, EpochEvent) and report.result.epoch >= epochs:
            task.cancel()

    task = Task(heard)
    run = learn(ratings, recipe, seed=seed, device="cpu", checkpoint=path, task=task)
    assert run.history.stopped and len(run.history.epochs) == epochs


@pytest.mark.numeric
def test_stop_keeps_the_last_epoch_and_resume_ends_where_an_uninterrupted_run_does(make_tab, qtbot, movielens):
    tab = make_tab()
    path = tab.engine.runner.checkpoint
    assert path == tab_checkpoint() and not path.exists() and not tab.actions["resume"].isEnabled()
    use(tab, FAST, seed=5)
    tab.engine.runner.mailbox.at = 1  # Stop, set in the worker as the first epoch ends
    click_and_wait(qtbot, tab, "train")
    assert tab.results.stopped and tab.results.epochs_done == 1 and tab.results.iterations == BATCHES
    assert path.is_file() and tab.actions["resume"].isEnabled()
    described = f"{FAST.name} (epoch 1 of 3 on MovieLens 100k)"
    assert tab.controls.status.text().endswith(f"an interrupted run of {described} can be resumed")
    assert described in tab.actions["resume"].toolTip() and "seed 5" in tab.actions["resume"].toolTip()

    # The form changes; Resume goes on with the checkpoint's settings and seed all the same.
    use(tab, RECIPES["lesson-dot"], seed=9)
    tab.engine.runner.mailbox.at = None
    click_and_wait(qtbot, tab, "resume")
    assert not tab.messages
    results = tab.results
    assert not results.stopped and results.epochs_done == 3 and results.iterations == 3 * BATCHES
    whole = learn(movielens, FAST, seed=5, device="cpu")
    assert results.valid_rmse == pytest.approx(whole.history.valid_rmse, abs=1e-6)
    assert not path.exists() and not tab.actions["resume"].isEnabled()  # a finished run removes it
    # The curves go on from the checkpoint: the first epoch's points come from its history, the rest from the run.
    assert [row.epoch for row in tab.epoch_table.rows] == [1, 2, 3]
    np.testing.assert_array_equal(curve_x(tab, VALID_LABEL), [BATCHES, 2 * BATCHES, 3 * BATCHES])
    train_x = curve_x(tab, TRAINING_LABEL)
    assert train_x[0] == BATCHES and train_x[-1] == 3 * BATCHES and np.all(np.diff(train_x) > 0)
    assert tab.epoch_table.rows[0].valid_rmse == pytest.approx(whole.history.epochs[0].valid_rmse, abs=1e-6)


def test_a_fresh_tab_offers_an_earlier_sessions_checkpoint_and_refuses_one_of_other_ratings(make_tab, qtbot):
    path = tab_checkpoint()
    path.parent.mkdir(parents=True, exist_ok=True)
    small = Recipe(factors=4, epochs=3, lr=0.05, bs=32)
    stopped_after_epochs(low_rank_ratings(n_users=50, n_movies=40), small, 3, 1, path)
    kept = path.read_bytes()
    tab = make_tab()
    assert tab.actions["resume"].isEnabled() and tab.actions["train"].isEnabled()
    line = "an interrupted run of custom (epoch 1 of 3 on low-rank test ratings) can be resumed"
    assert tab.controls.status.text() == line  # said again once MovieLens was read

    click_and_wait(qtbot, tab, "resume", trains=False)  # the tab's ratings are MovieLens, not the checkpoint's
    assert len(tab.messages) == 1
    title, text = tab.messages[0]
    assert title == "Resume" and "\n" not in text
    assert text.startswith(f"{path}: was trained on other data or another split")
    assert tab.controls.status.text() == f"Resume: {text}"
    assert path.read_bytes() == kept and tab.actions["resume"].isEnabled()  # nothing else changed
    assert tab.results is None and not tab.epoch_table.rows and not tab.loss_plot.traces  # no history was drawn

    # The tab goes on: a new run trains, and replaces the checkpoint (this one finishes, so none is left).
    use(tab, RECIPES["fast"].with_(epochs=1), seed=1)
    click_and_wait(qtbot, tab, "train")
    assert not tab.results.stopped and not path.exists() and not tab.actions["resume"].isEnabled()
    assert len(tab.messages) == 1


def test_a_damaged_checkpoint_is_one_line_and_stays_and_ctrl_shift_t_resumes(make_tab, qtbot):
    path = tab_checkpoint()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")
    tab = make_tab()
    assert tab.actions["resume"].isEnabled()
    assert "cannot be read" in tab.actions["resume"].toolTip() and "damaged" in tab.actions["resume"].toolTip()
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow, timeout=WAIT_MS)
    tab.controls.epochs.setFocus()
    with qtbot.waitSignal(tab.engine.checkpoint, timeout=WAIT_MS):  # Ctrl+Shift+T, from a field of the tab
        qtbot.keyClick(tab.controls.epochs, Qt.Key_T, Qt.ControlModifier | Qt.ShiftModifier)
    qtbot.waitUntil(lambda: tab.state == IDLE and bool(tab.messages), timeout=WAIT_MS)
    (title, text), = tab.messages
    assert title == "Resume" and text.startswith(f"{path}: not a collabsheet checkpoint, or damaged")
    assert "\n" not in text and path.read_bytes() == b"not a checkpoint" and tab.state == IDLE


def test_an_ensemble_trains_without_a_checkpoint_and_says_so_once(tmp_path):
    runner = TrainRunner(Mailbox(Frame), device="cpu", checkpoint=tmp_path / "tab.ckpt")
    runner.load_ratings(low_rank_ratings(n_users=50, n_movies=40))
    runner.mailbox.take()
    run = runner.train(Recipe(factors=4, epochs=2, lr=0.05, bs=32, ensemble=2), 3)
    events = runner.mailbox.take().events
    assert not run.history.stopped and not (tmp_path / "tab.ckpt").exists()
    notices = [args[0] for kind, args in events if kind == "notice" and "checkpoint" in args[0]]
    assert notices == ["an ensemble of 2 is not checkpointed: Stop keeps no epoch to resume from"]
    assert [args for kind, args in events if kind == "checkpoint"] == [(None, "")]


def test_the_summary_is_read_without_torch_and_never_resolves_a_foreign_global(tmp_path):
    assert checkpoint_file.FORMAT == FORMAT
    path = tmp_path / "run.ckpt"
    small = Recipe(name="small", factors=4, epochs=4, lr=0.05, bs=32)
    stopped_after_epochs(low_rank_ratings(n_users=50, n_movies=40), small, 8, 2, path)
    script = ("import sys; from collabsheet.gui.train.checkpoint_file import read_summary; "
              f"s = read_summary({str(path)!r}); print(s.describe(), s.seed, s.recipe() == s.recipe(), "
              "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["small", "(epoch", "2", "of", "4", "on", "low-rank", "test", "ratings)", "8", "True",
                           "False"]
    assert read_summary(path).recipe() == small
    assert read_summary(tmp_path / "none.ckpt") is None
    foreign = tmp_path / "foreign.ckpt"
    with zipfile.ZipFile(foreign, "w") as archive:  # a pickle that would call a function if it were resolved
        archive.writestr("archive/data.pkl", pickle.dumps({"format": FORMAT, "x": zipfile.Path}))
    with pytest.raises(CheckpointUnreadable, match="refers to zipfile.Path, which no checkpoint holds"):
        read_summary(foreign)
