"""The Training tab's hexagons are the PNG's: each pair lies in the hexagon it is counted in, every pair counted."""
from __future__ import annotations


import numpy as np

from collabsheet.engine.train.plot import HEX, SIZE, hex_index
from collabsheet.gui.train.hexbin import hex_cells


def test_each_pair_lies_in_its_hexagon_and_all_are_counted():
    rng = np.random.default_rng(3)
    actual = rng.integers(1, 6, 5000).astype(float)
    predicted = np.clip(actual + rng.normal(0, 0.8, 5000), 0.5, 5.5)
    c = hex_cells(predicted, actual)
    assert c.counts.sum() == 5000 and c.actual_counts.sum() == c.predicted_counts.sum() == 5000
    assert (c.lo, c.hi) == (0.5, 5.5)
    np.testing.assert_allclose(c.radius, HEX * (c.hi - c.lo) / (SIZE - 1))
    # Every pair's nearest hexagon centre is within a radius of it, and that centre's count includes it.
    d = np.hypot(actual[:, None] - c.actual[None], predicted[:, None] - c.predicted[None])
    nearest = d.argmin(1)
    assert (d[np.arange(5000), nearest] <= c.radius * (1 + 1e-9)).all()
    np.testing.assert_array_equal(np.bincount(nearest, minlength=len(c.counts)), c.counts)
    # The centres are the PNG's own hexagons (engine.train.plot's binning): mapped back, they bin to themselves.
    scale = (SIZE - 1) / (c.hi - c.lo)
    q, r = hex_index((c.actual - c.lo) * scale, (c.hi - c.predicted) * scale, HEX)
    assert len(set(zip(q.tolist(), r.tolist()))) == len(c.counts)


def test_no_finite_pairs_draw_nothing():
    c = hex_cells(np.array([np.nan]), np.array([4.0]))
    assert c.counts.sum() == 0 and c.actual_counts.sum() == 0
