"""engine.sheet.explain: each cell's explanation agrees with the sheet's own numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.sheet import explain
from engine.data.crosstab import Crosstab
from engine.config import OptimizerSettings
from engine.config import SheetConfig
from engine.sheet.sheet import Sheet


def _grid() -> Crosstab:
    rng = np.random.default_rng(0)
    ratings = rng.integers(1, 6, size=(6, 7)).astype(float)
    ratings[rng.random(ratings.shape) < 0.3] = np.nan
    ratings[0, 0] = 4.0
    ratings[0, 1] = np.nan
    titles = tuple(f"Movie {j}" for j in range(7))
    return Crosstab(ratings, tuple(range(10, 16)), tuple(range(100, 107)), titles, "toy")


def _sheet(**config) -> Sheet:
    return Sheet(_grid(), SheetConfig(k=3, **config), device="cpu")


@pytest.mark.parametrize("config", [{}, {"biases": True}, {"biases": True, "squash": True}])
def test_prediction_matches_sheet(config):
    sheet = _sheet(**config)
    sheet.step(3)
    snap = sheet.snapshot()
    e = explain.explain(snap, "prediction", (0, 0))
    terms = dict(e.terms)
    assert terms["prediction p"] == pytest.approx(snap.predictions[0, 0], abs=1e-12)
    assert terms["error p − r"] == pytest.approx(snap.errors[0, 0], abs=1e-12)
    assert terms["dot product u·m"] == pytest.approx(float(snap.user_factors[0] @ snap.item_factors[:, 0]))
    assert e.formula.startswith("p = ") and e.formula.endswith(f"{snap.predictions[0, 0]:.4f}")
    assert ("user bias" in terms) == config.get("biases", False)
    assert "Movie 0 (id 100)" in e.title and "user 10" in e.title


def test_blank_prediction_says_it_is_not_in_the_loss():
    snap = _sheet().snapshot()
    e = explain.prediction(snap, 0, 1)
    assert "rating r" not in dict(e.terms)
    assert any("blank" in note for note in e.notes)


def test_long_dot_product_is_abbreviated():
    snap = Sheet(_grid(), SheetConfig(k=20), device="cpu").snapshot()
    e = explain.prediction(snap, 0, 0)
    assert "… (20 products)" in e.formula
    assert dict(e.terms)["dot product u·m"] == pytest.approx(snap.predictions[0, 0])


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_parameter_next_value_is_the_engines_next_step(name):
    sheet = _sheet(biases=True)
    sheet.set_optimizer(OptimizerSettings(name, lr=0.01, weight_decay=0.1))
    sheet.step(2)
    snap = sheet.snapshot()
    explained = {(b, idx): explain.parameter(snap, b, idx)
                 for b, idx in [("user_factors", (1, 2)), ("item_factors", (0, 3)), ("user_bias", (2,)), ("item_bias", (4,))]}
    sheet.step(1)
    after = sheet.snapshot()
    for (block, index), e in explained.items():
        terms = dict(e.terms)
        assert terms["gradient g"] == snap.grads[block][index]
        assert terms["next value p"] == pytest.approx(after.params[block][index], rel=1e-12, abs=1e-15)
        assert terms["value p"] == snap.params[block][index]


def test_parameter_shows_the_optimizer_state_that_applies():
    sheet = _sheet()
    sheet.set_optimizer(OptimizerSettings("adam", lr=0.01))
    sheet.step(1)
    labels = [label for label, _ in explain.parameter(sheet.snapshot(), "user_factors", (0, 0)).terms]
    assert "average m" in labels and "squared average r" in labels and any("m̂" in x for x in labels)
    sheet.set_optimizer(OptimizerSettings("momentum", lr=0.01))
    sheet.step(1)
    e = explain.parameter(sheet.snapshot(), "user_factors", (0, 0))
    assert "velocity v" in dict(e.terms) and "average m" not in dict(e.terms)
    assert "Momentum" in e.notes[0]


def test_missing_block_raises():
    with pytest.raises(ValueError):
        explain.parameter(_sheet().snapshot(), "user_bias", (0,))


def test_loss_is_sse_over_count():
    sheet = _sheet()
    snap = sheet.snapshot()
    e = explain.loss(snap)
    terms = dict(e.terms)
    assert terms["rated cells count"] == snap.count == int(snap.mask.sum())
    assert math.sqrt(terms["sum of squared errors SSE"] / snap.count) == pytest.approx(snap.rmse)
    assert terms["sum of squared errors SSE"] == pytest.approx(float(np.nansum(snap.errors ** 2)))
    assert e.formula.endswith(f"{snap.rmse:.4f}")


def test_rating_and_blank_cells_and_text():
    snap = _sheet().snapshot()
    assert dict(explain.rating(snap, 0, 0).terms)["rating r"] == 4.0
    assert explain.rating(snap, 0, 1).terms == ()
    assert explain.explain(snap, "blank") is None
    text = explain.explain(snap, "loss").text()
    assert text.splitlines()[0] == "Loss: root mean squared error" and "RMSE" in text


def test_fmt():
    assert explain.fmt(0.5) == "0.5000"
    assert explain.fmt(3) == "3"
    assert explain.fmt(1e-6) == "1.000e-06"
