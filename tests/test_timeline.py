"""The timeline: exact restores, redo along a branch, branch bookkeeping, recorded changes."""
import numpy as np
import pytest
import torch

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.sheet.timeline import Series, Timeline

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)

ADAM = OptimizerSettings("adam", lr=0.05)
SLOW = OptimizerSettings("adam", lr=0.01)
SGD = OptimizerSettings("sgd", lr=0.02)
CONFIG = SheetConfig(biases=True)


def sheet(grid15, settings=ADAM) -> Sheet:
    return Sheet(grid15, CONFIG, settings, device="cpu")


def plain_run(grid15, plan) -> tuple[Sheet, np.ndarray]:
    """A sheet stepped without a timeline; plan is a list of step counts and callables applied in order."""
    s, losses = sheet(grid15), []
    for item in plan:
        if callable(item):
            item(s)
        elif item:
            losses.append(s.step(item).losses)
    return s, np.concatenate(losses) if losses else np.empty(0)


def same_state(a: Sheet, b: Sheet) -> bool:
    return (torch.equal(a.theta, b.theta) and a.steps == b.steps and a.settings == b.settings
            and a.state.keys() == b.state.keys()
            and all(torch.equal(v, b.state[k]) if isinstance(v, torch.Tensor) else v == b.state[k]
                    for k, v in a.state.items()))


def test_series_keeps_values_across_chunks() -> None:
    s = Series(chunk=7)
    values = np.random.default_rng(0).random(50)
    for piece in np.split(values, [3, 10, 11, 30]):
        s.extend(piece)
    assert len(s) == 50 and s.nbytes == 8 * 7 * 8
    np.testing.assert_array_equal(s.array(), values)
    np.testing.assert_array_equal(s.array(5, 23), values[5:23])
    assert s.array(20, 20).size == 0


def test_recording_changes_nothing_and_restores_are_bit_identical(grid15) -> None:
    """Losses recorded through the timeline equal a plain run's; any step restored and continued is that run."""
    tl = Timeline(sheet(grid15), every=100)
    tl.step(250)
    tl.set_optimizer(SLOW)  # a change at the head: recorded in the branch, mid-branch
    tl.step(400)
    ref, losses = plain_run(grid15, [250, lambda s: s.set_optimizer(SLOW), 400])
    assert same_state(tl.sheet, ref)
    np.testing.assert_array_equal(tl.curve().losses, losses)
    assert tl.view()[0].segments == ((0, ADAM), (250, SLOW))
    for step in (0, 1, 99, 100, 249, 250, 251, 437, 650):
        tl.seek(step)
        at, _ = plain_run(grid15, [min(step, 250), lambda s: s.set_optimizer(SLOW) if step >= 250 else None,
                                   max(step - 250, 0)])
        assert same_state(tl.sheet, at), step
    tl.seek(137)
    redo = tl.step(300)  # along the recorded branch, past the change at step 250, with its settings
    assert tl.sheet.settings == SLOW and tl.position == (0, 437) and len(tl.branches) == 1
    np.testing.assert_array_equal(redo.losses, losses[137:437])
    # Continuing past the head records new steps, equal to the plain run continued.
    tl.resume(0)
    tl.step(50)
    more = ref.step(50).losses
    np.testing.assert_array_equal(tl.curve(start=650).losses, more)
    assert same_state(tl.sheet, ref)


def test_replay_after_a_restore_is_exactly_the_steps_the_sheet_would_take(grid15) -> None:
    tl = Timeline(sheet(grid15), every=64)
    tl.step(300)
    tl.seek(111)
    fresh = sheet(grid15)
    fresh.step(111)
    np.testing.assert_array_equal(tl.sheet.step(77).losses, fresh.step(77).losses)  # the sheet itself, exactly
    assert torch.equal(tl.sheet.theta, fresh.theta)


def test_changing_settings_at_a_past_step_starts_a_branch(grid15) -> None:
    tl = Timeline(sheet(grid15), every=100)
    tl.step(500)
    root = tl.curve(0).losses.copy()
    tl.seek(300)
    tl.set_optimizer(SGD)
    assert tl.position == (1, 300) and tl.at_head
    tl.step(120)
    a, b = tl.view()
    assert (a.id, a.parent, a.fork, a.end) == (0, None, 0, 500)
    assert (b.id, b.parent, b.fork, b.end) == (1, 0, 300, 420) and b.segments == ((300, SGD),)
    assert [(e.step, e.kind) for e in b.events] == [(300, "settings")]
    np.testing.assert_array_equal(tl.curve(0).losses, root)  # the old branch stays as it was
    own, path = tl.curve(1), tl.curve(1, path=True)
    np.testing.assert_array_equal(own.steps, np.arange(300, 420))
    np.testing.assert_array_equal(path.steps, np.arange(420))
    np.testing.assert_array_equal(path.losses[:300], root[:300])
    ref, losses = plain_run(grid15, [300, lambda s: s.set_optimizer(SGD), 120])
    np.testing.assert_array_equal(path.losses, losses)
    assert same_state(tl.sheet, ref)
    # A branch of the branch, and back to each head.
    tl.seek(350)
    tl.set_optimizer(SLOW)
    tl.step(10)
    assert [(v.parent, v.fork, v.end) for v in tl.view()] == [(None, 0, 500), (0, 300, 420), (1, 350, 360)]
    tl.resume(1)
    assert tl.position == (1, 420) and same_state(tl.sheet, ref)
    tl.step(5)  # branch 1 goes on from its head
    assert tl.view()[1].end == 425
    tl.resume(0)
    assert tl.position == (0, 500) and tl.sheet.settings == ADAM
    # The same settings at a past step are no change: no branch.
    tl.seek(200)
    tl.set_optimizer(ADAM)
    assert len(tl.branches) == 3


def test_stepping_from_before_a_fork_follows_the_branch_being_viewed(grid15) -> None:
    tl = Timeline(sheet(grid15), every=100)
    tl.step(400)
    tl.seek(250)
    tl.set_optimizer(SGD)
    tl.step(100)
    tl.seek(200, branch=1)  # a step that branch 1 shares with its parent
    assert tl.position == (1, 200)
    tl.step(100)  # crosses the fork at 250 into branch 1's history
    ref, _ = plain_run(grid15, [250, lambda s: s.set_optimizer(SGD), 50])
    assert tl.position == (1, 300) and same_state(tl.sheet, ref)


def test_edits_at_the_head_are_recorded_and_replayed(grid15) -> None:
    tl = Timeline(sheet(grid15), every=100)
    tl.step(130)
    tl.set_rating(0, 0, 1.0)
    tl.set_param("item_factors", (1, 2), 0.75)
    tl.step(60)
    tl.set_holdout(0.2, seed=3)
    tl.step(40)
    tl.reconfigure(SheetConfig(k=6, biases=True))
    tl.step(30)

    def edits(s: Sheet) -> None:
        s.set_rating(0, 0, 1.0)
        s.set_param("item_factors", (1, 2), 0.75)

    ref, losses = plain_run(grid15, [130, edits, 60, lambda s: s.set_holdout(0.2, 3), 40,
                                     lambda s: s.reconfigure(SheetConfig(k=6, biases=True)), 30])
    assert same_state(tl.sheet, ref)
    np.testing.assert_array_equal(tl.curve().losses, losses)
    held = tl.curve().holdout
    assert np.isnan(held[:190]).all() and np.isfinite(held[190:]).all()
    assert [e.kind for e in tl.branch.events] == ["rating", "param", "holdout", "config"]
    assert len(tl.branches) == 1
    tl.seek(100)  # before every edit: the sheet as it was
    assert tl.sheet.ratings[0, 0] == sheet(grid15).ratings[0, 0] and not tl.sheet.holdout.any()
    tl.step(160)  # a redo through the edits, the held-out cells and the new k, to the head
    assert tl.sheet.config.k == 6 and tl.sheet.ratings[0, 0] == 1.0 and tl.sheet.holdout.any()
    assert tl.at_head and same_state(tl.sheet, ref)
    tl.seek(130)  # the edits' own step shows the sheet after them
    assert tl.sheet.ratings[0, 0] == 1.0 and tl.sheet.params()["item_factors"][1, 2] == 0.75
    tl.set_rating(0, 1, 2.0)  # an edit at a past step: a new branch
    assert tl.position == (1, 130) and tl.branch.events[0].kind == "rating"


def test_solve_and_divergence_are_events(grid15) -> None:
    tl = Timeline(Sheet(grid15, settings=OptimizerSettings("sgd", lr=50.0), device="cpu"))
    result = tl.step(100)
    assert result.diverged and result.steps < 100
    stopped = tl.sheet.steps
    assert tl.branch.end == stopped and tl.branch.events[-1].kind == "diverged"
    tl.step(10)  # refused again: no second event
    assert [e.kind for e in tl.branch.events] == ["diverged"]
    tl.set_optimizer(OptimizerSettings("sgd", lr=0.01))  # at the head: the same branch goes on
    tl.step(20)
    assert tl.branch.end == stopped + 20 and len(tl.branches) == 1
    rmse = tl.solve().rmse
    assert tl.branch.events[-1].kind == "solve" and tl.sheet.rmse() == rmse
    tl.step(5)
    tl.seek(stopped + 20)
    assert tl.sheet.rmse() == rmse  # the solved state is the checkpoint at its step


def test_reset_starts_a_new_root_and_keeps_the_tree(grid15) -> None:
    tl = Timeline(sheet(grid15))
    tl.step(30)
    tl.reset(7)
    assert tl.position == (1, 0) and [v.parent for v in tl.view()] == [None, None]
    tl.step(10)
    tl.resume(0)
    assert tl.position == (0, 30) and tl.sheet.config.seed == 42


def test_bad_positions_are_clear_errors(grid15) -> None:
    tl = Timeline(sheet(grid15))
    tl.step(20)
    with pytest.raises(ValueError, match="past the head of branch 0"):
        tl.seek(21)
    with pytest.raises(ValueError, match="no branch 3"):
        tl.seek(0, branch=3)
    with pytest.raises(ValueError, match="at least 1 step"):
        Timeline(sheet(grid15), every=0)
    with pytest.raises(ValueError, match="finite"):
        tl.set_rating(0, 0, float("nan"))
    assert not tl.branch.events  # a refused edit records nothing


def test_history_is_compact(grid15) -> None:
    tl = Timeline(sheet(grid15), every=200)
    tl.step(2000)
    # Losses are float64 in chunks (2 × 4096 × 8 bytes) and 11 checkpoints of θ + Adam's m and r; the ratings
    # and held-out mask are stored once, shared by every checkpoint.
    theta = tl.sheet.theta.numel() * 8
    assert tl.nbytes() <= 2 * 4096 * 8 * 2 + 11 * 3 * theta + 2 * 225 * 8
    states = list(tl.branch.checkpoints.values())
    assert all(s["ratings"] is states[0]["ratings"] for s in states)
