"""The race: batched racers equal separate Sheet runs, stop for the right reasons, and hand back their state."""
import numpy as np
import pytest
import torch

from collabsheet.engine.config import OPTIMIZERS, OptimizerSettings as O, SheetConfig
from collabsheet.engine.sheet.batched import BatchedSheet, Coefficients
from collabsheet.engine.sheet.race import CONVERGED, DIVERGED, LIMIT, Race
from collabsheet.engine.sheet.sheet import Sheet

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)

FIVE = [O("sgd", lr=0.01), O("momentum", lr=0.01, weight_decay=0.01), O("rmsprop", lr=0.01),
        O("adam", lr=0.05, weight_decay=0.01), O("adamw", lr=0.05, weight_decay=0.1)]
# On the default sheet SGD at lr 3 is chaotic: where it is refused moves with the last bit of one factor (at step
# 124 to 600 and more, seen here); at lr 20 its first step is refused on any CPU.
DIVERGING = [O("sgd", lr=3.0), O("sgd", lr=20.0)]


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


@pytest.mark.parametrize("config", [SheetConfig(), SheetConfig(biases=True), SheetConfig(biases=True, squash=True),
                                    SheetConfig(k=8, squash=True)], ids=["plain", "biases", "biases+squash", "k8+squash"])
def test_every_racer_equals_its_own_sheet_run(grid15, config: SheetConfig) -> None:
    racers = FIVE + (DIVERGING if config == SheetConfig() else [])
    race = Race(Sheet(grid15, config, device="cpu"), racers, max_steps=600, tol=0.0)
    race.run()
    assert {r.settings.name for r in race.racers} == set(OPTIMIZERS)
    for i, settings in enumerate(racers):  # one kernel on identically laid-out data: equal to the last bit
        ref = Sheet(grid15, config, settings, device="cpu")
        result = ref.step(600)
        racer, state = race.racers[i], race.state_dict(i)
        assert racer.steps == result.steps == ref.steps
        assert racer.status == (DIVERGED if result.diverged else LIMIT)
        np.testing.assert_array_equal(racer.losses.array(), result.losses)
        assert torch.equal(state["theta"], ref.theta), settings
        assert state["optimizer"].keys() == ref.state.keys()
        for key, value in ref.state.items():
            assert torch.equal(state["optimizer"][key], value) if key != "t" else state["optimizer"][key] == value


def _run(grid15, config, settings, steps) -> Sheet:
    sheet = Sheet(grid15, config, settings, device="cpu")
    sheet.step(steps)
    return sheet


def test_a_diverged_racer_keeps_its_last_good_state_and_leaves_the_batch(grid15) -> None:
    race = Race(Sheet(grid15, device="cpu"), [O("adam", lr=0.05)] + DIVERGING, max_steps=5000, tol=0.0)
    race.step(200)
    assert race.racers[2].status == DIVERGED and race.racers[2].steps == 0  # refused at once: out of the batch
    assert 2 not in race.live and race.batch.B == len(race.live)
    assert torch.equal(race.theta_of(2), Sheet(grid15, device="cpu").theta)
    race.run()
    alone = Sheet(grid15, settings=DIVERGING[0], device="cpu")
    alone.step(5000)
    kept = alone.steps  # where the same rule alone stops, wherever that is on this CPU
    chaotic = race.racers[1]
    assert chaotic.steps == kept and chaotic.status == (DIVERGED if alone.diverged else LIMIT)
    assert torch.equal(race.theta_of(1), alone.theta) and race.racers[0].steps == 5000
    assert race.live == [] and race.done
    sheet = Sheet(grid15, device="cpu")
    sheet.load_state_dict(race.state_dict(1))
    assert sheet.diverged == alone.diverged and sheet.steps == kept and np.isfinite(sheet.rmse())
    assert sheet.rmse() < np.sqrt(race.bound)
    assert race.rmse_at(1, kept) == sheet.rmse() and np.isnan(race.rmse_at(1, kept + 1))


def test_a_racer_that_converges_stops(grid15) -> None:
    race = Race(Sheet(grid15, device="cpu"), [O("sgd", lr=1.0), O("sgd", lr=1e-4)], max_steps=5000,
                window=100, tol=1e-3)
    race.run()
    fast, slow = race.racers
    assert fast.status == CONVERGED and fast.steps < 5000 and fast.steps % 200 == 0
    last = fast.losses.array()[-100:]
    assert last.max() - last.min() <= 1e-3 * last.min()
    assert slow.status == LIMIT and slow.steps == 5000


def test_a_taken_racer_continues_exactly_in_the_sheet(grid15) -> None:
    race = Race(Sheet(grid15, SheetConfig(biases=True), device="cpu"), FIVE, max_steps=10_000, tol=0.0)
    race.step(300)  # still running: its row of the batch
    for i, settings in enumerate(FIVE):
        sheet = Sheet(grid15, SheetConfig(biases=True), device="cpu")
        sheet.load_state_dict(race.state_dict(i))
        ref = _run(grid15, SheetConfig(biases=True), settings, 300)
        assert sheet.settings == settings and sheet.steps == 300
        np.testing.assert_array_equal(sheet.step(50).losses, ref.step(50).losses)
        assert torch.equal(sheet.theta, ref.theta)


def test_views_are_plain_numpy_and_score_held_out_cells(grid15) -> None:
    sheet = Sheet(grid15, device="cpu")
    sheet.set_holdout(0.2, seed=1)
    race = Race(sheet, FIVE[:2], max_steps=100)
    race.run()
    view = race.views()[0]
    ref = Sheet(grid15, settings=FIVE[0], device="cpu")
    ref.set_holdout(0.2, seed=1)
    losses = ref.step(100).losses
    assert view.label == "SGD 0.01" and view.status == LIMIT and view.steps == 100
    assert isinstance(view.predictions, np.ndarray) and view.predictions.shape == (15, 15)
    np.testing.assert_allclose(view.predictions, ref.model.predict(ref._p)[0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(view.losses, losses, rtol=1e-12)
    assert view.rmse == pytest.approx(ref.rmse(), rel=1e-12)
    assert view.holdout_rmse == pytest.approx(ref.holdout_rmse(), rel=1e-12) and view.holdout_rmse > 0


def test_coefficients_are_the_rules() -> None:
    """The module's table: SGD's divisor is exactly 1 and its m is g; Adam's terms are rules.adam's numbers."""
    sgd, adam = Coefficients.of(O("sgd", lr=0.1)), Coefficients.of(O("adam", lr=0.1, beta1=0.8, beta2=0.9))
    assert (sgd.w1, sgd.e, sgd.u, sgd.beta2, sgd.c2) == (1.0, 1.0, -0.1, 0.0, 0.0)
    assert sgd.v(range(1, 3)) == [0.0, 0.0] and sgd.d(range(1, 3)) == [1.0, 1.0]
    assert adam.d(range(3, 4)) == [(1 - 0.9**3) ** 0.5] and adam.v(range(3, 4)) == [-0.1 / (1 - 0.8**3)]
    assert Coefficients.of(O("adamw", lr=0.1, weight_decay=0.5)).decay == 1 - 0.1 * 0.5


def test_bad_races_are_clear_errors(grid15) -> None:
    sheet = Sheet(grid15, device="cpu")
    with pytest.raises(ValueError, match="at least one optimizer"):
        Race(sheet, [])
    with pytest.raises(ValueError, match="step limit must be positive"):
        Race(sheet, FIVE, max_steps=0)


def test_a_batch_keeps_its_copies_apart(grid15) -> None:
    """Selecting copies out of a batch carries their state: the rest go on as if never batched with the others."""
    sheet = Sheet(grid15, device="cpu")
    start = sheet.theta.expand(3, -1)
    batch = BatchedSheet(sheet.model, [FIVE[3], FIVE[0], FIVE[2]], start)
    batch.run(40)
    batch = batch.select([2, 0])
    batch.run(60)
    for b, settings in enumerate([FIVE[2], FIVE[3]]):
        theta, state = batch.state(b)
        assert torch.equal(theta, _run(grid15, SheetConfig(), settings, 100).theta)
