"""The GUI's engine runner without Qt: mailbox hand-over, chunks, stop flag, failed loads."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from collabsheet.engine.data.ratings import RatingsError
from collabsheet.engine.config import OptimizerSettings, RunState
from collabsheet.engine.config import SheetConfig
from collabsheet.gui.sheet import load_commands
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.sheet.frames import Frame, LoadRequest, Preview
from collabsheet.gui.sheet.runner import SOLVE_LABEL, SheetRunner


@pytest.fixture
def runner(movielens):
    r = SheetRunner(Mailbox(Frame), device="cpu")
    r.loader.load(LoadRequest(ratings=movielens))
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
        runner.loader.load(LoadRequest(path=str(bad)))
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
    real_engine, seen = load_commands.engine_sheet, []

    def engine_sheet():
        seen.append(runner.mailbox.take())  # what the GUI could show while torch is imported
        return real_engine()

    monkeypatch.setattr(load_commands, "engine_sheet", engine_sheet)
    runner.loader.load(LoadRequest(ratings=movielens))
    preview = seen[0].preview
    assert seen[0].snapshot is None and preview.dataset == grid15.name
    np.testing.assert_array_equal(preview.ratings, grid15.ratings)
    assert preview.user_ids == grid15.user_ids and preview.titles == grid15.titles and preview.k == SheetConfig().k
    frame = runner.mailbox.take()
    assert frame.preview is None and frame.snapshot.k == SheetConfig().k and frame.snapshot.settings == OptimizerSettings()
    runner.loader.load(LoadRequest(ratings=movielens))  # with a sheet showing, a load goes straight to the new sheet
    assert seen[1] is None or (seen[1].preview is None and seen[1].snapshot is None)  # nothing of a sheet before it


@pytest.fixture
def kept(movielens, grid15, tmp_path, monkeypatch):
    """A prepared MovieLens copy with its default sheet kept beside it; the later read waits for `release`."""
    from collabsheet.engine.data import movielens as data
    from collabsheet.engine.data.cache import keep_crosstab

    monkeypatch.setenv("COLLABSHEET_CACHE", str(tmp_path))
    monkeypatch.delenv("COLLABSHEET_RATINGS", raising=False)
    data._write_cache(movielens, data.cache_folder())
    keep_crosstab(grid15, 15)
    release, reads = threading.Event(), []
    real_read = LoadRequest.read

    def read(request, task=None):
        reads.append(request)
        if request.default:
            assert release.wait(30)
        return real_read(request, task)

    monkeypatch.setattr(LoadRequest, "read", read)
    return release, reads


def _events(frame, kind):
    return [args for name, args in frame.events if name == kind] if frame else []


def test_the_default_sheet_opens_from_the_kept_copy_and_its_ratings_follow(kept, movielens, grid15):
    release, reads = kept
    runner = SheetRunner(Mailbox(Frame), device="cpu")
    runner.loader.load(LoadRequest())  # returns while the full ratings are still being read
    frame = runner.mailbox.take()
    np.testing.assert_array_equal(frame.snapshot.ratings, grid15.ratings)
    assert frame.snapshot.user_ids == grid15.user_ids and frame.snapshot.titles == grid15.titles
    assert not _events(frame, "loaded") and _events(frame, "state_changed")[-1] == (RunState.IDLE,)
    assert runner.step(3).steps == 3  # the sheet works before the ratings are read
    release.set()
    assert len(runner.loader.ratings) == len(movielens)  # waits for the read
    for _ in range(100):  # the read's thread puts its event just after the ratings are there
        loaded = _events(runner.mailbox.take(), "loaded")
        if loaded:
            break
        time.sleep(0.01)
    assert loaded[0][0].name == movielens.name and len(loaded[0][0]) == len(movielens)
    runner.configure(runner.config, 20)  # a new top-N is built from the ratings read beside
    assert runner.sheet.snapshot().ratings.shape == (20, 20)


def test_a_newer_load_drops_the_ratings_still_being_read(kept, movielens, tmp_path):
    release, _ = kept
    small = tmp_path / "small.csv"
    small.write_text("user,item,rating\n" + "".join(f"{u},{i},{(u + i) % 5 + 1}\n" for u in range(8) for i in range(8)))
    runner = SheetRunner(Mailbox(Frame), device="cpu")
    runner.loader.load(LoadRequest())
    runner.loader.load(LoadRequest(path=str(small)))
    release.set()
    time.sleep(0.5)  # the read of MovieLens ends meanwhile; its outcome is no longer news
    frame = runner.mailbox.take()
    assert [args[0].name for args in _events(frame, "loaded")] == ["small.csv"]
    assert runner.loader.ratings.name == "small.csv" and runner.sheet.snapshot().ratings.shape == (8, 8)


def test_a_failed_read_of_the_ratings_behind_the_kept_sheet_is_a_message(kept, monkeypatch):
    release, _ = kept

    def broken(request, task=None):
        raise RatingsError("ratings.parquet: damaged")

    runner = SheetRunner(Mailbox(Frame), device="cpu")
    monkeypatch.setattr(LoadRequest, "read", broken)
    runner.loader.load(LoadRequest())
    assert runner.sheet is not None
    for _ in range(100):
        messages = _events(runner.mailbox.take(), "message")
        if messages:
            break
        time.sleep(0.01)
    assert messages == [("Could not open the ratings", "ratings.parquet: damaged")]
    with pytest.raises(RatingsError):
        runner.configure(runner.config, 20)
