"""The stopping tests: one definition each, on floats, numpy and torch alike; the race and the coach agree."""
import numpy as np
import pytest
import torch

from engine import stopping
from engine.config import OptimizerSettings as O
from engine.sheet import coach
from engine.sheet.race import TOL, WINDOW

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)


@pytest.mark.parametrize("make", [np.array, torch.tensor], ids=["numpy", "torch"])
def test_each_test_on_numpy_and_torch(make) -> None:
    window = make([[2.0, 2.0 + 1e-7, 2.0], [2.0, 2.1, 2.0]])
    assert list(np.asarray(stopping.settled(window, 1e-6))) == [True, False]
    assert bool(stopping.little_progress(2.0, 1.999, 1e-3)) and not bool(stopping.little_progress(2.0, 1.9, 1e-3))
    assert bool(stopping.little_gain(make([2.0]), make([2.0]), 1e-7)[0])
    recent = make([[10.0, 10.0], [10.0005, 9.0], [10.0004, 8.0]])  # iterations down, two starts across
    assert list(np.asarray(stopping.excel_converged(recent, 1e-4))) == [True, False]
    assert stopping.flat(1e-11, 1e-10) and not stopping.flat(1e-9, 1e-10)


def test_a_curve_the_race_calls_converged_the_coach_does_too() -> None:
    """A long run that crept to a standstill: the race stops it as converged; the coach says converged, not stalled,
    even with a gradient it cannot call zero."""
    losses = np.concatenate([np.linspace(3.0, 1.0, 400), 1.0 + 1e-9 * np.arange(WINDOW + 400)[::-1]])
    assert stopping.settled(losses[-WINDOW:], TOL)
    grads = {"user_factors": np.full((2, 2), 1e-3)}
    d = coach.diagnose(losses, O("sgd", lr=1e-4), grads=grads)
    assert d.kind == "converged" and not d.fixes and f"last {WINDOW} steps" in d.evidence
    creeping = np.concatenate([np.linspace(3.0, 1.0, 400), 1.0 + 1e-4 * np.arange(WINDOW + 400)[::-1] / 600])
    assert not stopping.settled(creeping[-WINDOW:], TOL)
    assert coach.diagnose(creeping, O("sgd", lr=1e-4), grads=grads).kind == "stalled"
