"""The workbook's rows by hand: each lesson formula on two rows small enough to check with a pencil."""
from __future__ import annotations

import math

import numpy as np
import pytest

from collabsheet.engine.graddesc import Carry, Data, GradDesc, Settings, lesson_data
from collabsheet.engine.graddesc.rules import anneal

TWO = Data([2.0, 3.0], [34.0, 36.0], "two rows")  # y = 30 + 2·x


def first_rows(rule: str, **settings) -> np.ndarray:
    h = Settings.lesson(rule, **settings)
    run = GradDesc(TWO, h, Carry.reset(h))  # from the reset macros' first values (averages 0, 10,000), not warmed
    run.run_epoch()
    return run.rows()


def test_basic_sgd_rows_by_hand():
    r = first_rows("sgd", lr=0.01)
    # row 1: b = a = 1, x = 2, y = 34
    assert (r["pred"][0], r["err2"][0]) == (3.0, 961.0)
    assert (r["de_db"][0], r["de_da"][0]) == (-62.0, -124.0)  # 2(y_pred − y), x·de/db
    assert r["new_b"][0] == pytest.approx(1.62, abs=1e-15) and r["new_a"][0] == pytest.approx(2.24, abs=1e-15)
    # the nudged errors: (34 − 3.01)² = 960.3801 and (34 − (1 + 1.01·2))² = 959.7604
    assert r["est_db"][0] == pytest.approx((960.3801 - 961) / 0.01, abs=1e-9)
    assert r["est_da"][0] == pytest.approx((959.7604 - 961) / 0.01, abs=1e-9)
    # row 2 carries row 1's new b and a: pred = 1.62 + 2.24·3 = 8.34
    assert (r["b"][1], r["a"][1]) == (r["new_b"][0], r["new_a"][0])
    assert r["pred"][1] == pytest.approx(8.34, abs=1e-14)
    assert r["de_db"][1] == pytest.approx(-55.32, abs=1e-12) and r["de_da"][1] == pytest.approx(-165.96, abs=1e-12)
    assert r["new_b"][1] == pytest.approx(2.1732, abs=1e-12) and r["new_a"][1] == pytest.approx(3.8996, abs=1e-12)


def test_workbook_rmse_is_not_divided_by_the_count():
    run = GradDesc(TWO, Settings.lesson("sgd", lr=0.01))
    value = run.run_epoch()
    assert value == pytest.approx(math.sqrt(961 + 27.66**2), rel=1e-14)
    assert run.history()["rmse"][0] == value


def test_momentum_interpolates_the_derivative():
    r = first_rows("momentum", lr=0.01)
    assert (r["m_b"][0], r["m_a"][0]) == pytest.approx((-6.2, -12.4), abs=1e-14)  # 0.9·0 + 0.1·de/db
    assert (r["new_b"][0], r["new_a"][0]) == pytest.approx((1.062, 1.124), abs=1e-14)
    de_db = 2 * (1.062 + 1.124 * 3 - 36)
    assert r["m_b"][1] == pytest.approx(0.9 * -6.2 + 0.1 * de_db, abs=1e-12)
    assert np.isnan(r["v_b"]).all()


def test_rmsprop_divides_by_the_previous_rows_average():
    r = first_rows("rmsprop")  # lr 0.02, β 0.9, squared averages reset to 10,000
    assert (r["v_b"][0], r["v_a"][0]) == pytest.approx((0.9 * 10_000 + 0.1 * 62**2, 0.9 * 10_000 + 0.1 * 124**2))
    assert r["new_b"][0] == pytest.approx(1 + 0.02 * 62 / 100, abs=1e-15)  # √10,000, not this row's average
    assert r["new_a"][0] == pytest.approx(1 + 0.02 * 124 / 100, abs=1e-15)
    assert r["new_b"][1] == pytest.approx(r["b"][1] - 0.02 * r["de_db"][1] / math.sqrt(r["v_b"][0]), abs=1e-14)


def test_adam_uses_this_rows_averages_without_bias_correction_or_epsilon():
    r = first_rows("adam")  # lr 0.1, β1 = β2 = 0.9
    v_b, v_a = 9000 + 384.4, 9000 + 1537.6
    assert (r["m_b"][0], r["v_b"][0]) == pytest.approx((-6.2, v_b), abs=1e-12)
    assert r["new_b"][0] == pytest.approx(1 + 0.1 * 6.2 / math.sqrt(v_b), abs=1e-15)
    assert r["new_a"][0] == pytest.approx(1 + 0.1 * 12.4 / math.sqrt(v_a), abs=1e-15)


def test_adamw_shrinks_apart_from_the_averages_and_adam_l2_puts_decay_in_the_gradient():
    w = first_rows("adamw", weight_decay=0.01)
    assert (w["de_db"][0], w["m_b"][0]) == (-62.0, pytest.approx(-6.2, abs=1e-14))
    assert w["new_b"][0] == pytest.approx(1 * (1 - 0.1 * 0.01) + 0.1 * 6.2 / math.sqrt(9384.4), abs=1e-15)
    l2 = first_rows("adam_l2", weight_decay=0.01)
    assert (l2["de_db"][0], l2["de_da"][0]) == pytest.approx((-62 + 0.01, -124 + 0.01), abs=1e-14)  # + wd·b, + wd·a
    v_b = 9000 + 0.1 * 61.99**2
    assert l2["new_b"][0] == pytest.approx(1 + 0.1 * 6.199 / math.sqrt(v_b), abs=1e-15)


@pytest.mark.parametrize("rule", ["sgd", "momentum", "rmsprop", "adam", "adam_ann", "adamw", "adam_l2"])
def test_finite_differences_agree_with_the_derivatives_to_order_nudge(rule):
    data = lesson_data()
    gaps = {}
    for nudge in (0.01, 0.005):
        run = GradDesc(data, Settings.lesson(rule, nudge=nudge))
        run.run_epoch()
        r = run.rows()
        gaps[nudge] = (r["est_db"] - r["de_db"], r["est_da"] - r["de_da"])
    wd = Settings.lesson(rule).weight_decay if rule == "adam_l2" else 0.0
    x = data.x
    for nudge, (gap_b, gap_a) in gaps.items():
        # err² is quadratic: the estimate is the derivative + nudge·(half the second derivative), exactly in reals
        np.testing.assert_allclose(gap_b, nudge * (1 + wd / 2), rtol=1e-5)
        np.testing.assert_allclose(gap_a, nudge * (x**2 + wd / 2), rtol=1e-5)
    np.testing.assert_allclose(gaps[0.01][0] / gaps[0.005][0], 2, rtol=1e-5)  # halving the nudge halves the gap


def test_annealing_divides_lr_by_four_when_the_squared_averages_jump():
    c = Carry(np.zeros(2), np.zeros(2), np.array([100.0, 400.0]), lr=1.0)
    anneal(c)  # no best yet: nothing to compare with
    assert (c.lr, c.best) == (1.0, 30.0)
    c.v = np.array([900.0, 1600.0])  # √ sum 70: more than twice 30
    anneal(c)
    assert (c.lr, c.best) == (0.25, 30.0)
    c.v = np.array([900.0, 0.0])  # 30 / 30 = 1: keep
    anneal(c)
    assert (c.lr, c.best) == (0.25, 30.0)
    c.v = np.array([25.0, 0.0])
    anneal(c)
    assert (c.lr, c.best) == (0.25, 5.0)


def test_adam_ann_anneals_as_somesteps_does_after_each_onestep():
    """prev_grad2 starts at the reset's √L + √M; after every epoch but the first (the one Reset shows), lr ÷ 4
    when the last row's √L + √M exceeds twice prev_grad2, then prev_grad2 keeps the smaller of the two."""
    run = GradDesc(lesson_data(), Settings.lesson("adam_ann"))
    best = math.sqrt(run.carry.v[0]) + math.sqrt(run.carry.v[1])
    assert run.carry.best == best  # the reset macro's prev_grad2 ← avg_grad2
    lr = 1.0
    for epoch in range(1, 21):
        for _ in range(len(run.data)):
            before = run.carry.lr
            run.step_row()
            if run.row != 0:
                assert run.carry.lr == before  # never within an epoch
        last = run.rows()[-1]
        g2 = math.sqrt(last["v_b"]) + math.sqrt(last["v_a"])
        if epoch > 1:
            lr = lr / 4 if g2 / best > 2 else lr
            best = min(best, g2)
        assert (run.carry.lr, run.carry.best) == (lr, best)
    assert min(run.history()["lr"]) < 1.0  # it did anneal on the lesson's data
    assert run.history()["lr"][0] == 1.0


def test_adam_l2_and_adamw_shrink_differently_where_the_gradient_varies():
    """AdamW takes lr·wd·p off every weight; Adam + L2 divides the decay by √(squared average) like the gradient,
    so the slope a, whose derivative x·de/db is large and varies with x, is hardly decayed at all."""
    data = lesson_data()
    wd = 0.1

    def shrink(rule: str) -> np.ndarray:
        """One row from a = b = 1 with and without decay: how much the decay took off, in units of lr·wd·p."""
        hs = [Settings.lesson(rule, weight_decay=w) for w in (0.0, wd)]
        plain, decayed = (GradDesc(data, h, Carry.reset(h)) for h in hs)  # the same (cold) averages
        plain.step_row(), decayed.step_row()
        h = decayed.settings
        return (plain.carry.p - decayed.carry.p) / (h.lr * wd * np.array([h.start_b, h.start_a]))

    adamw, l2 = shrink("adamw"), shrink("adam_l2")
    np.testing.assert_allclose(adamw, [1.0, 1.0], rtol=1e-6)  # the same for b and a
    assert l2[1] < l2[0] / 10  # a's gradient is x = 9 times b's here: a decays less
    assert l2[0] < 0.1 and l2[1] < 0.01  # and both far less than AdamW's
    # over whole epochs the difference stays: AdamW keeps pulling a and b towards 0 at the same rate
    runs = {rule: GradDesc(data, Settings.lesson(rule, weight_decay=wd)) for rule in ("adamw", "adam_l2")}
    for run in runs.values():
        run.run(5)
    assert not np.allclose(runs["adamw"].carry.p, runs["adam_l2"].carry.p, rtol=1e-3)
