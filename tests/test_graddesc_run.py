"""GradDesc as the tab and the command line use it: data, settings, epochs, state, surface, paths."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from numpy.lib.recfunctions import structured_to_unstructured as table

from collabsheet.engine.graddesc import (FIELDS, RULES, Data, DataError, GradDesc, Settings, SettingsError, least_squares,
                             lesson_data, loss_surface, paths, read_csv)
from collabsheet.engine.graddesc.macros import reset_macro


def test_lesson_data_is_the_recipe():
    d = lesson_data()
    assert len(d) == 29 and d.x.dtype == np.float64
    assert set(np.unique(d.x)) <= set(range(1, 101)) and np.all(d.x == np.round(d.x))
    np.testing.assert_array_equal(d.y, 30 + 2 * d.x)
    np.testing.assert_array_equal(lesson_data(seed=42).x, d.x)  # seeded
    assert not np.array_equal(lesson_data(seed=43).x, d.x)
    noisy = lesson_data(rows=500, seed=1, a=-1.5, b=4.0, noise=2.0)
    residual = noisy.y - (4.0 - 1.5 * noisy.x)
    assert len(noisy) == 500 and 1.7 < residual.std() < 2.3
    with pytest.raises(DataError, match="rows must be between 1 and"):
        lesson_data(rows=0)
    with pytest.raises(DataError, match="noise must be"):
        lesson_data(noise=-1)


def test_read_csv(tmp_path):
    good = tmp_path / "points.csv"
    good.write_text("id, X ,Y\n1,1,32\n\n2,2.5,35\n")
    d = read_csv(good)
    np.testing.assert_array_equal(d.x, [1, 2.5])
    np.testing.assert_array_equal(d.y, [32, 35])
    cases = {"x\n1\n": "no column named 'y'", "x,y\n": "has a header but no rows", "": "is empty",
             "x,y\n1,2\n3,abc\n": "line 3: y should be a number, found 'abc'",
             "x,y\n1,2\n\n,4\n": "line 4: x should be a number, found a blank",
             "x,y\n1,inf\n": "line 2: y should be a number, found 'inf'"}
    for i, (text, message) in enumerate(cases.items()):
        bad = tmp_path / f"bad{i}.csv"
        bad.write_text(text)
        with pytest.raises(DataError, match=message) as info:
            read_csv(bad)
        assert "\n" not in str(info.value) and str(info.value).startswith(bad.name)
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "missing.csv")


def test_settings_say_what_is_wrong():
    for changes, message in (({"rule": "lbfgs"}, "unknown optimizer 'lbfgs'"), ({"lr": 0}, "learning rate"),
                             ({"lr": math.nan}, "learning rate"), ({"beta1": 1.0}, r"beta1 must be in \[0, 1\)"),
                             ({"variant": "fast"}, "lesson or library"), ({"weight_decay": -1}, "weight decay"),
                             ({"start_b": math.inf}, "finite"), ({"nudge": 0}, "nudge")):
        with pytest.raises(SettingsError, match=message):
            Settings(**changes)
    assert Settings.lesson("adam_ann").lr == 1.0 and Settings.lesson("rmsprop").lr == 0.02
    assert Settings.lesson("momentum", lr=0.5).beta1 == 0.9


@pytest.mark.parametrize("rule", RULES)
def test_rows_step_one_at_a_time_and_epochs_carry_everything(rule):
    data = lesson_data()
    stepped, whole = GradDesc(data, Settings.lesson(rule)), GradDesc(data, Settings.lesson(rule))
    for _ in range(2 * len(data)):
        stepped.step_row()
    whole.run(2)
    assert stepped.epoch == whole.epoch == 2
    np.testing.assert_array_equal(table(stepped.rows()), table(whole.rows()))  # NaN where a rule has no average
    rows = whole.rows()
    assert rows.dtype.names == FIELDS and len(rows) == len(data)
    # each row starts where the previous one ended, and the second epoch where the first ended
    np.testing.assert_array_equal(rows["b"][1:], rows["new_b"][:-1])
    np.testing.assert_array_equal(rows["a"][1:], rows["new_a"][:-1])
    assert (rows["b"][0], rows["a"][0]) == (whole.history()["b"][0], whole.history()["a"][0])
    path = whole.path()
    assert path.shape == (2 * len(data) + 1, 2) and tuple(path[0]) == (1.0, 1.0)
    assert tuple(path[-1]) == (rows["new_a"][-1], rows["new_b"][-1])
    np.testing.assert_allclose(whole.history()["rmse"][-1], math.sqrt(np.sum(rows["err2"])), rtol=1e-14)
    if rule in ("momentum", "adam"):  # the averages carry over the epoch boundary too
        fresh = GradDesc(data, Settings.lesson(rule))
        fresh.run(1)
        assert whole.top.m.tolist() == [fresh.rows()["m_b"][-1], fresh.rows()["m_a"][-1]]


def test_a_new_epoch_starts_on_the_first_step_after_the_last_row():
    run = GradDesc(Data([1, 2, 3], [32, 34, 36]), Settings.lesson("sgd", lr=0.01))
    run.run_epoch()
    assert len(run.rows()) == 3 and run.row == 0
    top_after_one = run.carry.copy()
    run.step_row()
    assert len(run.rows()) == 1 and run.row == 1 and run.top.p.tolist() == top_after_one.p.tolist()
    assert run.run_epoch() is not None and run.epoch == 2 and len(run.rows()) == 3


def test_state_dict_restores_exactly_mid_epoch():
    data = lesson_data(noise=3.0)
    straight = GradDesc(data, Settings.lesson("adam_ann", "library"))
    straight.run(17)
    for _ in range(11):
        straight.step_row()
    saved = json.loads(json.dumps(straight.state_dict()))  # plain values, even through JSON
    restored = GradDesc(lesson_data(rows=3), Settings())
    restored.load_state_dict(saved)
    assert restored.settings == straight.settings and restored.epoch == straight.epoch
    np.testing.assert_array_equal(table(restored.rows()), table(straight.rows()))
    np.testing.assert_array_equal(restored.path(), straight.path())
    np.testing.assert_array_equal(restored.history(), straight.history())
    for _ in range(50):
        np.testing.assert_array_equal(list(straight.step_row().tolist()), list(restored.step_row().tolist()))
    assert straight.carry.lr == restored.carry.lr and straight.carry.best == restored.carry.best
    with pytest.raises(ValueError, match="format"):
        restored.load_state_dict({**saved, "format": 99})


def test_reset_and_configure():
    run = GradDesc(lesson_data(), Settings.lesson("momentum"))
    run.run(2)
    run.configure(run.settings.but(lr=5e-5))  # a new lr applies from the next row, the run goes on
    assert run.epoch == 2 and run.carry.lr == 5e-5
    run.configure(Settings.lesson("rmsprop"))  # another rule starts again
    warm = reset_macro(lesson_data(), Settings.lesson("rmsprop"))
    assert run.epoch == 0 and run.carry.v.tolist() == warm.v.tolist() and run.carry.lr == 0.02
    run.run(1)
    run.reset()
    assert run.epoch == 0 and len(run.rows()) == 0 and run.path().shape == (1, 2)
    assert run.carry.p.tolist() == [1.0, 1.0] and run.history().shape == (0,)
    library = GradDesc(lesson_data(), Settings.lesson("adam", "library"))
    assert library.carry.v.tolist() == [0.0, 0.0]  # torch.optim's start, not the workbook's 10,000


def test_a_diverging_row_is_refused():
    run = GradDesc(lesson_data(), Settings.lesson("sgd", lr=0.01))  # far too high for x up to 100
    values = run.run(1000)
    assert run.diverged and len(values) < 1000
    assert np.isfinite(run.carry.p).all() and np.isfinite(run.path()).all()
    assert run.step_row() is None and run.run_epoch() is None


def test_loss_surface_is_the_mean_squared_error():
    data = lesson_data(noise=4.0, seed=7)
    a, b = np.linspace(0, 4, 41), np.linspace(-10, 70, 33)
    surface = loss_surface(data, a, b)
    assert surface.shape == (41, 33)
    direct = np.mean((data.y[None, None, :] - (b[None, :, None] + a[:, None, None] * data.x[None, None, :])) ** 2,
                     axis=2)
    np.testing.assert_allclose(surface, direct, rtol=1e-11)
    a_hat, b_hat = least_squares(data)
    np.testing.assert_allclose((a_hat, b_hat), np.polyfit(data.x, data.y, 1), rtol=1e-10)
    at_min = loss_surface(data, [a_hat], [b_hat])[0, 0]
    assert at_min <= surface.min() and at_min >= 0
    exact = lesson_data()  # y = 30 + 2x exactly: the bowl's bottom is 0, never negative
    assert 0 <= loss_surface(exact, [2.0], [30.0])[0, 0] < 1e-20


def test_paths_from_the_same_start():
    data = lesson_data()
    runs = paths(data, [Settings.lesson(r) for r in ("sgd", "momentum", "adam")], epochs=3, start=(5.0, -1.0))
    assert len(runs) == 3
    for path in runs:
        assert path.shape == (3 * 29 + 1, 2) and tuple(path[0]) == (-1.0, 5.0)  # (a, b)
    assert not np.array_equal(runs[0], runs[2])
    one = GradDesc(data, Settings.lesson("adam", start_b=5.0, start_a=-1.0))
    one.run(3)
    np.testing.assert_array_equal(one.path(), runs[2])


def test_table_columns_put_each_estimate_beside_its_derivative():
    from collabsheet.engine.graddesc import HEADINGS, columns

    assert columns("sgd")[5:10] == ("err2", "est_db", "de_db", "est_da", "de_da")
    assert columns("rmsprop")[-2:] == ("v_b", "v_a") and columns("adam")[-4:] == ("m_b", "m_a", "v_b", "v_a")
    assert set(FIELDS) == set(HEADINGS) and all(set(columns(r)) <= set(FIELDS) for r in RULES)
