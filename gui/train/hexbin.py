"""The jointplot's numbers, Qt-free: the hexagons of `collabsheet train --plot` (engine.train.plot's binning) in
rating units, and both marginal histograms, from the validation predictions and their ratings."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collabsheet.engine.train.plot import HEX, SIZE, hex_index

MARGINAL_BINS = 40  # as the PNG's bars


@dataclass(frozen=True)
class HexCells:
    """The occupied hexagons (centre in rating units, how many pairs) and the marginals over the same range."""

    actual: np.ndarray  # (cells,) each hexagon's centre along the ratings (x)
    predicted: np.ndarray  # (cells,) … and along the predictions (y)
    counts: np.ndarray  # (cells,) pairs in each hexagon
    radius: float  # a hexagon's radius (centre to corner), in rating units
    lo: float
    hi: float
    edges: np.ndarray  # the marginals' bin edges, shared by both
    actual_counts: np.ndarray  # histogram of the ratings (above the hexagons)
    predicted_counts: np.ndarray  # histogram of the predictions (right of them)


def hex_cells(predicted: np.ndarray, actual: np.ndarray) -> HexCells:
    """Bin (rating, prediction) pairs into the PNG's hexagons, over the range both share, and both marginals."""
    ok = np.isfinite(predicted) & np.isfinite(actual)
    predicted, actual = np.asarray(predicted, float)[ok], np.asarray(actual, float)[ok]
    lo = float(min(actual.min(), predicted.min())) if len(actual) else 0.0
    hi = float(max(actual.max(), predicted.max())) if len(actual) else 1.0
    hi = hi if hi > lo else lo + 1
    scale = (SIZE - 1) / (hi - lo)  # the PNG's pixels per rating unit, its y growing downwards
    q, r = hex_index((actual - lo) * scale, (hi - predicted) * scale, HEX)
    keys, counts = np.unique(np.stack([q, r], 1), axis=0, return_counts=True)
    # A pointy-top hexagon's centre from its axial (q, r): x = HEX·√3·(q + r/2), y = HEX·3/2·r (pixels).
    x = HEX * math.sqrt(3) * (keys[:, 0] + keys[:, 1] / 2)
    y = HEX * 1.5 * keys[:, 1]
    edges = np.linspace(lo, hi, MARGINAL_BINS + 1)
    return HexCells(lo + x / scale, hi - y / scale, counts, HEX / scale, lo, hi, edges,
                    np.histogram(actual, edges)[0], np.histogram(predicted, edges)[0])
