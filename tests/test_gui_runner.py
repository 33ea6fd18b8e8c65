"""The GUI's engine runner without Qt: mailbox hand-over, chunks, stop flag, failed loads."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data.ratings import RatingsError
from engine.config import OptimizerSettings
from engine.config import SheetConfig
from gui.sheet import runner as gui_runner
from gui.runtime.mailbox import Mailbox
from gui.sheet.frames import Frame, LoadRequest, Preview
from gui.sheet.runner import SOLVE_LABEL, SheetRunner


@pytest.fixture
def runner(movielens):
    r = SheetRunner(Mailbox(Frame), device="cpu")
    r.load(LoadRequest(ratings=movielens))
    return r


def test_load_publishes_a_snapshot_and_clears_curves(runner):
    frame = runner.mailbox.take()
    assert frame.snapshot is not None and frame.clear_curves and frame.snapshot.ratings.shape == (15, 15)
    assert runner.mailbox.take() is None  # nothing new since


def test_steps_publish_losses_and_the_latest_snapshot_only(runner):
    runner.mailbox.take()
    runner.step(1)
    runner.step(1)
    frame = runner.mailbox.take()
    assert frame.snapshot.step == 2  # the older snapshot was replaced, not queued
    # The curve gets the RMSE after each step, joined to where the segment began: it ends where the sheet is.
    assert [c.x0 for c in frame.losses] == [0, 1, 2]
    assert {c.label for c in frame.losses} == {"Adam · lr 0.05"}
    assert frame.losses[-1].values[-1] == frame.snapshot.rmse


def test_play_chunks_grow_and_stay_short(runner):
    steps = [runner.play_chunk(budget_s=0.004).steps for _ in range(12)]
    assert steps[0] == 1 and max(steps) > 1
    assert runner.sheet.steps == sum(steps)


def test_new_optimizer_starts_a_new_segment_and_keeps_parameters(runner):
    runner.step(3)
    before = runner.sheet.params()
    runner.mailbox.take()
    runner.set_optimizer(OptimizerSettings("sgd", lr=0.01))
    for block, value in runner.sheet.params().items():
        np.testing.assert_array_equal(value, before[block])
    runner.step(1)
    chunks = runner.mailbox.take().losses
    assert chunks[-2].label == chunks[-1].label == "SGD · lr 0.01"
    assert chunks[-2].x0 == 3 and chunks[-1].x0 == 4  # the new segment starts at step 3, where the old one ended


def test_solve_stops_when_asked(runner):
    runner.mailbox.take()
    runner.stop.set()
    result = runner.solve()
    assert result.stopped
    assert runner.mailbox.take().losses[0].label == SOLVE_LABEL


def test_failed_load_keeps_the_sheet(runner, tmp_path):
    sheet = runner.sheet
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item\n1,2\n")
    with pytest.raises(RatingsError):
        runner.load(LoadRequest(path=str(bad)))
    assert runner.sheet is sheet


def test_reset_starts_a_new_run(runner):
    runner.step(5)
    runner.mailbox.take()
    runner.reset(7)
    frame = runner.mailbox.take()
    assert frame.clear_curves and frame.snapshot.step == 0 and frame.snapshot.seed == 7


def test_the_preview_has_the_shape_of_the_engines_default_sheet(grid15):
    preview = Preview.of(grid15)
    assert (preview.k, preview.biases) == (SheetConfig().k, SheetConfig().biases)


def test_the_first_load_previews_the_ratings_before_it_needs_the_engine(movielens, grid15, monkeypatch):
    runner = SheetRunner(Mailbox(Frame), device="cpu")
    real_engine, seen = gui_runner.engine_sheet, []

    def engine_sheet():
        seen.append(runner.mailbox.take())  # what the GUI could show while torch is imported
        return real_engine()

    monkeypatch.setattr(gui_runner, "engine_sheet", engine_sheet)
    runner.load(LoadRequest(ratings=movielens))
    preview = seen[0].preview
    assert seen[0].snapshot is None and preview.dataset == grid15.name
    np.testing.assert_array_equal(preview.ratings, grid15.ratings)
    assert preview.user_ids == grid15.user_ids and preview.titles == grid15.titles and preview.k == SheetConfig().k
    frame = runner.mailbox.take()
    assert frame.preview is None and frame.snapshot.k == SheetConfig().k and frame.snapshot.settings == OptimizerSettings()
    runner.load(LoadRequest(ratings=movielens))  # with a sheet showing, a load goes straight to the new sheet
    assert seen[1] is None or (seen[1].preview is None and seen[1].snapshot is None)  # nothing of a sheet before it
