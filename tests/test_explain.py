"""collabsheet.engine.sheet.explain: each cell's explanation agrees with the sheet's own numbers and is written to be read."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from collabsheet.engine.sheet import explain
from collabsheet.engine.sheet.explanation import ALL, MINUS, fmt, marks, operand, power
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet.sheet import Sheet

HAT = "\u0302"  # the combining circumflex of m̂ and r̂
OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam", "adamw"]
PARAMS = [("user_factors", (1, 2)), ("item_factors", (0, 3)), ("user_bias", (2,)), ("item_bias", (4,))]


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


def _every_explanation(snap):
    """Every kind of cell of a sheet explained (with biases on, so all blocks exist)."""
    yield explain.loss(snap)
    yield explain.prediction(snap, 0, 0)
    yield explain.prediction(snap, 0, 1)  # blank
    yield explain.rating(snap, 0, 0)
    yield explain.rating(snap, 0, 1)
    for block, index in PARAMS:
        yield explain.parameter(snap, block, index)


def _negative_sheet(name: str = "adam", **settings) -> Sheet:
    """A sheet after a few steps, with negative factors and biases (so minus signs must be written)."""
    sheet = _sheet(biases=True)
    sheet.set_optimizer(OptimizerSettings(name, lr=0.05, **settings))
    sheet.set_param("user_factors", (0, 1), -0.402)
    sheet.set_param("item_factors", (1, 0), 0.234)
    sheet.set_param("user_factors", (1, 2), -0.3)
    sheet.step(3)
    return sheet


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
    last = e.formula.splitlines()[-1]
    assert last.startswith("p = ") and last.endswith(f"= {fmt(snap.predictions[0, 0])}")
    assert ("user bias" in terms) == config.get("biases", False)
    assert ("σ(" in e.formula) == config.get("squash", False)
    assert "Movie 0 (id 100)" in e.title and "user 10" in e.title


def test_blank_prediction_says_it_is_not_in_the_loss_and_gives_the_models_guess():
    snap = _sheet().snapshot()
    e = explain.prediction(snap, 0, 1)
    assert "rating r" not in dict(e.terms)
    assert any("blank" in note and "test data" in note for note in e.notes)
    guess = float(snap.user_factors[0] @ snap.item_factors[:, 1])
    assert dict(e.terms)["prediction p"] == pytest.approx(guess)
    assert dict(explain.rating(snap, 0, 1).terms)["prediction p"] == pytest.approx(guess)


def test_long_dot_product_is_abbreviated():
    snap = Sheet(_grid(), SheetConfig(k=20), device="cpu").snapshot()
    e = explain.prediction(snap, 0, 0)
    assert "… (20 products)" in e.formula
    assert dict(e.terms)["dot product u·m"] == pytest.approx(snap.predictions[0, 0])


def test_negative_numbers_are_bracketed_with_a_true_minus():
    sheet = _negative_sheet()
    sheet.set_param("user_factors", (0, 1), -0.402)
    sheet.set_param("item_factors", (1, 0), 0.234)
    sheet.set_param("user_bias", (0,), -0.668)
    snap = sheet.snapshot()
    e = explain.prediction(snap, 0, 0)
    assert f"({MINUS}0.402)·0.234" in e.formula  # u₂·m₂ of user 10 and movie 100
    assert f"+ ({MINUS}0.6680)" in e.formula
    for e in _every_explanation(snap):
        text = e.text()
        assert not re.search(r"(^|[\s(·/=+−×√])-", text), text  # no hyphen as a minus sign, anywhere
        assert not re.search(r"[+·/−] −", e.formula), e.formula  # a negative after an operator is bracketed
        assert not re.search(r"·−", e.formula), e.formula


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameter_next_value_is_the_engines_next_step(name):
    sheet = _sheet(biases=True)
    sheet.set_optimizer(OptimizerSettings(name, lr=0.01, weight_decay=0.1))
    sheet.step(2)
    snap = sheet.snapshot()
    explained = {(b, idx): explain.parameter(snap, b, idx) for b, idx in PARAMS}
    sheet.step(1)
    after = sheet.snapshot()
    for (block, index), e in explained.items():
        terms = dict(e.terms)
        assert terms["gradient g = ∂MSE/∂p"] == snap.grads[block][index]
        assert terms["next value p"] == pytest.approx(after.params[block][index], rel=1e-12, abs=1e-15)
        assert terms["value p"] == snap.params[block][index]
        last = e.formula.splitlines()[-1]
        assert last.startswith("p ← ") and last.endswith(f"= {fmt(after.params[block][index])}")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_rules_lines_carry_its_state_and_hats_sit_only_in_formulas(name):
    sheet = _negative_sheet(name)
    snap = sheet.snapshot()
    e = explain.parameter(snap, "user_factors", (1, 2))
    terms, lines = dict(e.terms), e.formula.split(";\n")
    assert "^" not in e.text()  # powers are written with superscripts: 0.9⁴, β1ᵗ
    assert all(HAT not in part for part in (e.title, *e.notes, *(label for label, _ in e.terms)))
    state = {"momentum": ["v"], "rmsprop": ["r"], "adam": ["m", "r", "m̂", "r̂"], "adamw": ["m", "r", "m̂", "r̂"]}
    assert [line.split(" ")[0] for line in lines] == state.get(name, []) + ["p"]
    if name in ("adam", "adamw"):
        t = snap.optimizer_state["t"] + 1
        m, r = terms["average m"], terms["squared average r"]
        assert terms[f"bias-corrected m, t = {t}"] == pytest.approx(m / (1 - 0.9**t))
        assert terms[f"bias-corrected r, t = {t}"] == pytest.approx(r / (1 - 0.99**t))
        assert lines[2].startswith("m̂ = m/(1−β1ᵗ) = ") and f"(1 − {power('0.9', t)})" in lines[2]
        assert lines[2].endswith(f"= {fmt(m / (1 - 0.9**t))}") and lines[3].startswith("r̂ = r/(1−β2ᵗ)")
        assert "lr·m̂/(√r̂ + ε)" in lines[4]
    if name == "rmsprop":
        assert lines[0].startswith("r ← β2·r + (1−β2)·g² = 0.99·") and lines[0].endswith(fmt(terms["squared average r"]))


def test_weight_decay_adds_a_line_for_l2_and_for_adamw():
    sgd = explain.parameter(_negative_sheet("sgd", weight_decay=0.1).snapshot(), "user_factors", (1, 2))
    assert sgd.formula.startswith("g ← g + wd·p = ") and "g + wd·p" in dict(sgd.terms)
    adamw = explain.parameter(_negative_sheet("adamw", weight_decay=0.1).snapshot(), "user_factors", (1, 2))
    assert adamw.formula.startswith("p ← p·(1 − lr·wd) = ") and "0.05·0.1" in adamw.formula


def test_gradient_is_the_mses_and_the_rmses_follows_from_it():
    """g is ∂MSE/∂p and the panel's ∂RMSE/∂p is g/(2·RMSE): both checked by finite differences."""
    sheet = _negative_sheet("sgd")
    snap = sheet.snapshot()
    e = explain.parameter(snap, "user_factors", (1, 2))
    terms = dict(e.terms)
    assert any("mean squared error" in note and "∂RMSE/∂p = ∂MSE/∂p / (2·RMSE)" in note for note in e.notes)
    p, h = snap.params["user_factors"][1, 2], 1e-6
    rmse = []
    for value in (p + h, p - h):
        sheet.set_param("user_factors", (1, 2), value)
        rmse.append(sheet.rmse())
    assert terms["gradient g = ∂MSE/∂p"] == pytest.approx((rmse[0] ** 2 - rmse[1] ** 2) / (2 * h), rel=1e-6)
    assert terms["∂RMSE/∂p = g/(2·RMSE)"] == pytest.approx((rmse[0] - rmse[1]) / (2 * h), rel=1e-6)


def test_parameter_shows_the_optimizer_state_that_applies():
    sheet = _sheet()
    sheet.set_optimizer(OptimizerSettings("adam", lr=0.01))
    sheet.step(1)
    labels = [label for label, _ in explain.parameter(sheet.snapshot(), "user_factors", (0, 0)).terms]
    assert "average m" in labels and "squared average r" in labels and "bias-corrected m, t = 2" in labels
    sheet.set_optimizer(OptimizerSettings("momentum", lr=0.01))
    sheet.step(1)
    e = explain.parameter(sheet.snapshot(), "user_factors", (0, 0))
    assert "velocity v" in dict(e.terms) and "average m" not in dict(e.terms)
    assert "Momentum" in e.notes[0]


def test_missing_block_raises():
    with pytest.raises(ValueError):
        explain.parameter(_sheet().snapshot(), "user_bias", (0,))


def test_loss_is_sse_over_count_and_says_the_steps_follow_the_mse():
    sheet = _sheet()
    snap = sheet.snapshot()
    e = explain.loss(snap)
    terms = dict(e.terms)
    assert terms["rated cells count"] == snap.count == int(snap.mask.sum())
    assert math.sqrt(terms["sum of squared errors SSE"] / snap.count) == pytest.approx(snap.rmse)
    assert terms["sum of squared errors SSE"] == pytest.approx(float(np.nansum(snap.errors ** 2)))
    assert terms["mean squared error MSE"] == pytest.approx(snap.rmse ** 2)
    assert e.formula.endswith(f"= {fmt(snap.rmse)}")
    assert any("gradient of the MSE" in note for note in e.notes)


def test_loss_with_weight_decay_shows_the_objective_the_steps_minimise():
    """The L2 objective's finite difference is the gradient the rule uses, g + wd·p."""
    sheet = _negative_sheet("sgd", weight_decay=0.1)

    def objective():
        snap = sheet.snapshot()
        return dict(explain.loss(snap).terms)["MSE + (wd/2)·Σp²"]

    g = dict(explain.parameter(sheet.snapshot(), "item_factors", (1, 0)).terms)["g + wd·p"]
    p, h = sheet.snapshot().params["item_factors"][1, 0], 1e-6
    up = (sheet.set_param("item_factors", (1, 0), p + h), objective())[1]
    down = (sheet.set_param("item_factors", (1, 0), p - h), objective())[1]
    assert g == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_huge_numbers_are_scientific_everywhere():
    """A factor typed as 1e30 makes the SSE a 61-digit number: no explanation prints it in full."""
    sheet = _sheet(biases=True)
    sheet.set_param("user_factors", (0, 0), 1e30)
    sheet.set_param("user_factors", (1, 2), -3e29)
    snap = sheet.snapshot()
    assert snap.sse > 1e59
    for e in _every_explanation(snap):
        assert not re.search(r"\d{7,}", e.text()), e.text()
    loss = explain.loss(snap)
    assert "×10⁶" in loss.formula and loss.formula.count("×10") >= 3  # SSE, MSE and RMSE


def test_precedents_are_the_cells_that_feed_the_selected_one():
    snap = _sheet(biases=True).snapshot()
    n, m = snap.ratings.shape
    shapes = {"rating": (n, m), "prediction": (n, m), "loss": (), **{b: snap.params[b].shape for b in
                                                                     ("user_factors", "item_factors", "user_bias",
                                                                      "item_bias")}}
    marked = marks(explain.prediction(snap, 2, 4).precedents, shapes)
    assert set(marked) == {"user_factors", "item_factors", "user_bias", "item_bias", "rating"}
    assert np.array_equal(np.argwhere(marked["user_factors"]), [[2, f] for f in range(3)])
    assert np.array_equal(np.argwhere(marked["item_factors"]), [[f, 4] for f in range(3)])
    assert np.argwhere(marked["user_bias"]).tolist() == [[2]] and np.argwhere(marked["item_bias"]).tolist() == [[4]]
    assert np.argwhere(marked["rating"]).tolist() == [[2, 4]]
    loss = marks(explain.loss(snap).precedents, shapes)
    assert set(loss) == {"rating", "prediction"} and loss["rating"].all() and loss["prediction"].all()
    factor = marks(explain.parameter(snap, "item_factors", (1, 5)).precedents, shapes)
    assert np.argwhere(factor["prediction"]).tolist() == [[i, 5] for i in range(n)]
    bias = marks(explain.parameter(snap, "user_bias", (3,)).precedents, shapes)
    assert np.argwhere(bias["prediction"]).tolist() == [[3, j] for j in range(m)]
    rating = explain.rating(snap, 1, 1).precedents
    assert rating == (("prediction", (1, 1)), ("loss", ()))
    assert explain.prediction(_sheet().snapshot(), 0, 0).precedents == (
        ("user_factors", (0, ALL)), ("item_factors", (ALL, 0)), ("rating", (0, 0)))


def test_rating_and_blank_cells_and_text():
    snap = _sheet().snapshot()
    assert dict(explain.rating(snap, 0, 0).terms)["rating r"] == 4.0
    assert explain.rating(snap, 0, 0).formula == "r = 4"
    assert explain.rating(snap, 0, 1).formula == "r = (blank)"
    assert explain.explain(snap, "blank") is None
    text = explain.explain(snap, "loss").text()
    assert text.splitlines()[0] == "Loss: root mean squared error" and "RMSE" in text


def test_fmt():
    assert explain.fmt(0.5) == "0.5000"
    assert fmt(3) == "3" and fmt(np.int64(-3)) == f"{MINUS}3"
    assert fmt(1e-6) == "1.000×10⁻⁶" and fmt(-2.5e21) == f"{MINUS}2.500×10²¹"
    assert fmt(-0.402) == f"{MINUS}0.4020" and fmt(-0.0) == "0.0000" and fmt(-1e-9, 2) == f"{MINUS}1.0×10⁻⁹"
    assert fmt(float("inf")) == "∞" and fmt(float("-inf")) == f"{MINUS}∞" and fmt(float("nan")) == "NaN"
    assert fmt(0.05, 6, trim=True) == "0.05" and fmt(1e-8, 6, trim=True) == "1×10⁻⁸" and fmt(2.0, trim=True) == "2"
    assert operand(-0.402, 3) == f"({MINUS}0.402)" and operand(0.234, 3) == "0.234"
    assert operand(3e21) == "(3.000×10²¹)"
    assert power("0.9", 12) == "0.9¹²"
