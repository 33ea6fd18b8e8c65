"""The stopping tests: one definition each, on floats, numpy and torch alike."""
import numpy as np
import pytest
import torch

from collabsheet.engine import stopping

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
