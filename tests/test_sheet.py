"""The sheet engine on real MovieLens data: formulas, gradients, steps, divergence, solve."""
import numpy as np
import pandas as pd
import pytest
import torch

from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.ratings import Ratings
from collabsheet.engine.config import OPTIMIZERS, OptimizerSettings
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.models.factorization import y_range
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.sheet.snapshot import Snapshot
from collabsheet.engine.task import Report, Task

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)


def test_crosstab_is_the_lessons_recipe(movielens, grid15) -> None:
    frame = movielens.frame
    users = frame.groupby("user").size().reset_index(name="n").sort_values(["n", "user"], ascending=[False, True])
    items = frame.groupby("item").size().reset_index(name="n").sort_values(["n", "item"], ascending=[False, True])
    assert list(grid15.user_ids) == users["user"].head(15).tolist()
    assert list(grid15.item_ids) == items["item"].head(15).tolist()
    lookup = frame.set_index(["user", "item"])["rating"]
    for i, u in enumerate(grid15.user_ids):
        for j, m in enumerate(grid15.item_ids):
            expected = lookup.get((u, m), np.nan)
            assert (np.isnan(expected) and np.isnan(grid15.ratings[i, j])) or expected == grid15.ratings[i, j]
    assert grid15.mask.sum() > 100 and (~grid15.mask).sum() > 0  # real data: mostly rated, some blanks
    assert all(isinstance(t, str) and t for t in grid15.titles)


def test_crosstab_ties_are_deterministic_and_n_is_bounded() -> None:
    frame = pd.DataFrame({"user": [3, 1, 2, 3, 1, 2, 4, 5, 6, 7],
                          "item": [10, 10, 10, 11, 11, 11, 12, 13, 14, 15], "rating": 4.0})
    grid = top_crosstab(Ratings(frame, "t", "t"), 5)
    assert grid.user_ids == (1, 2, 3, 4, 5)  # counts 2,2,2,1,1,… : ties go to the smaller id
    assert grid.item_ids == (10, 11, 12, 13, 14)
    with pytest.raises(ValueError, match="between 5 and 1000"):
        top_crosstab(Ratings(frame, "t", "t"), 4)


@pytest.mark.parametrize("biases,squash", [(False, False), (True, False), (True, True)])
def test_cells_follow_the_lessons_formulas(grid15, biases: bool, squash: bool) -> None:
    sheet = Sheet(grid15, SheetConfig(biases=biases, squash=squash), device="cpu")
    sheet.step(3)  # move the biases off zero
    snap = sheet.snapshot()
    raw = snap.user_factors @ snap.item_factors
    if biases:
        raw = raw + snap.params["user_bias"][:, None] + snap.params["item_bias"][None, :]
    if squash:
        lo, hi = snap.y_range
        raw = lo + (hi - lo) / (1 + np.exp(-raw))
    expected = np.where(snap.mask, raw, 0.0)  # =IF(rating="",0,MMULT(user_row, movie_col))
    np.testing.assert_allclose(snap.predictions, expected, rtol=0, atol=1e-12)
    ratings = np.nan_to_num(snap.ratings)
    rmse = np.sqrt(((ratings - snap.predictions)[snap.mask] ** 2).sum() / snap.mask.sum())  # =SQRT(SUMXMY2/COUNT)
    assert snap.rmse == pytest.approx(rmse, rel=1e-12)
    assert snap.sse == pytest.approx(rmse**2 * snap.count, rel=1e-12)


@pytest.mark.parametrize("biases,squash", [(False, False), (True, False), (False, True), (True, True)])
def test_gradient_matches_autograd(grid15, biases: bool, squash: bool) -> None:
    sheet = Sheet(grid15, SheetConfig(biases=biases, squash=squash, seed=3), device="cpu")
    sheet.set_param("user_factors", (0, 0), -0.7)
    theta = sheet.theta.clone().requires_grad_(True)
    pred, _ = sheet.model.predict(sheet.model.split(theta))
    mask = torch.tensor(grid15.mask)
    target = torch.tensor(np.nan_to_num(grid15.ratings))
    torch.nn.functional.mse_loss(pred[mask], target[mask]).backward()
    sheet._loss()
    np.testing.assert_allclose(sheet.grad.numpy(), theta.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(grid15, name: str) -> None:
    sheet = Sheet(grid15, SheetConfig(), OptimizerSettings(name, lr=0.01), device="cpu")
    before = sheet.rmse()
    result = sheet.step(200)
    assert result.steps == 200 and not result.diverged and sheet.steps == 200
    assert result.losses[0] == pytest.approx(before)
    assert sheet.rmse() < 0.8 * before
    assert np.all(np.diff(result.losses[-50:]) < 1e-9) or name in ("momentum", "rmsprop", "adam", "adamw")


def test_switching_optimizer_keeps_parameters_and_starts_fresh_state(grid15) -> None:
    sheet = Sheet(grid15, settings=OptimizerSettings("momentum", lr=0.01), device="cpu")
    sheet.step(10)
    params = sheet.params()
    sheet.set_optimizer(OptimizerSettings("adam", lr=0.01))
    assert sheet.state == {}
    for block, values in sheet.params().items():
        np.testing.assert_array_equal(values, params[block])
    sheet.step(1)
    assert sheet.state["t"] == 1
    sheet.set_optimizer(OptimizerSettings("adam", lr=0.02))  # same rule, new settings: state kept
    assert sheet.state["t"] == 1


def test_a_diverging_run_keeps_the_last_good_parameters(grid15) -> None:
    sheet = Sheet(grid15, settings=OptimizerSettings("sgd", lr=50.0), device="cpu")
    result = sheet.step(100)
    assert result.diverged and sheet.snapshot().diverged
    assert result.steps < 100 and sheet.steps == result.steps
    assert np.isfinite(sheet.theta.numpy()).all() and np.isfinite(sheet.rmse())
    # The kept parameters are the last finite ones: one more update from them is not finite.
    assert not sheet.step(1).steps
    sheet.set_optimizer(OptimizerSettings("sgd", lr=0.01))
    sheet.reset()
    assert not sheet.step(10).diverged and not sheet.diverged


def test_a_diverging_run_keeps_the_last_good_optimizer_state(grid15) -> None:
    sheet = Sheet(grid15, settings=OptimizerSettings("momentum", lr=20.0), device="cpu")
    assert sheet.step(100).diverged and np.isfinite(sheet.state["v"].numpy()).all()
    v = sheet.state["v"].clone()
    assert not sheet.step(1).steps  # the next update would not be finite …
    torch.testing.assert_close(sheet.state["v"], v, rtol=0, atol=0)  # … so the velocity stays as it was
    sheet.set_optimizer(OptimizerSettings("adam", lr=0.01))
    assert not sheet.step(10).diverged and sheet.snapshot().optimizer_state["t"] == 10


def test_solve_reaches_the_best_of_20_restarts(grid15) -> None:
    sheet = Sheet(grid15, device="cpu")
    result = sheet.solve()
    assert result.converged and not result.stopped and result.rmse == pytest.approx(sheet.rmse())
    # Reference: torch.optim.Adam + autograd on the same loss, from 20 random starts at once.
    mask = torch.tensor(grid15.mask)
    target = torch.tensor(np.nan_to_num(grid15.ratings))
    gen = torch.Generator().manual_seed(1234)
    users = torch.rand(20, 15, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    items = torch.rand(20, 5, 15, generator=gen, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([users, items], lr=0.02)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only adds hand-offs
    try:
        for _ in range(4000):
            adam.zero_grad()
            err = ((users @ items - target) * mask) ** 2
            err.sum().backward()
            adam.step()
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        best = float((((users @ items - target) * mask) ** 2).sum((1, 2)).min() / mask.sum()) ** 0.5
    assert result.rmse <= best * 1.001, (result.rmse, best)


def test_solve_can_be_stopped(grid15) -> None:
    sheet = Sheet(grid15, device="cpu")
    calls = []

    def heard(r: Report) -> None:
        calls.append((r.figures["iterations"], r.figures["rmse"]))
        task.cancel()  # at the first report

    task = Task(heard)
    result = sheet.solve(task=task)
    # Asked to stop at the first report, it stops after the next iteration at the latest.
    assert result.stopped and len(calls) <= 2 and result.iterations == calls[-1][0] <= calls[0][0] + 1
    assert result.rmse < result.rmse_before


def test_edits_change_predictions_and_loss(grid15) -> None:
    sheet = Sheet(grid15, device="cpu")
    i, j = map(int, np.argwhere(grid15.mask)[0])
    before = sheet.snapshot()
    sheet.set_rating(i, j, None)
    after = sheet.snapshot()
    assert not after.mask[i, j] and after.predictions[i, j] == 0.0 and after.count == before.count - 1
    sheet.set_rating(i, j, 1.0)
    assert sheet.snapshot().ratings[i, j] == 1.0
    sheet.set_param("item_factors", (2, j), 3.25)
    snap = sheet.snapshot()
    assert snap.item_factors[2, j] == 3.25
    assert snap.predictions[i, j] == pytest.approx(snap.user_factors[i] @ snap.item_factors[:, j], abs=1e-12)
    with pytest.raises(ValueError, match="finite"):
        sheet.set_rating(i, j, float("nan"))
    with pytest.raises(ValueError, match="user bias"):
        sheet.set_param("user_bias", (0,), 1.0)


def test_params_state_round_trips_and_validates(grid15) -> None:
    sheet = Sheet(grid15, SheetConfig(biases=True), device="cpu")
    sheet.step(5)
    params = sheet.params()
    other = Sheet(grid15, SheetConfig(biases=True, seed=7), device="cpu")
    other.load_state_dict(other.params_state(params))
    assert other.rmse() == sheet.rmse()
    with pytest.raises(ValueError, match="shape"):
        other.params_state({**params, "user_bias": np.zeros(3)})
    with pytest.raises(ValueError, match="expected parameters"):
        other.params_state({"user_factors": params["user_factors"]})


def test_snapshot_is_plain_numpy(grid15) -> None:
    sheet = Sheet(grid15, settings=OptimizerSettings("adam"), device="cpu")
    sheet.step(2)
    snap = sheet.snapshot()
    assert isinstance(snap, Snapshot)
    for value in (snap.ratings, snap.mask, snap.predictions, snap.user_factors, snap.item_factors):
        assert isinstance(value, np.ndarray)
    assert snap.user_factors.shape == (15, 5) and snap.item_factors.shape == (5, 15)
    assert snap.params["user_bias"] is None and snap.step == 2 and snap.device == "cpu"
    state = snap.param_state("user_factors", (1, 2))
    assert state["t"] == 2 and isinstance(state["m"], float)


def test_reset_is_seeded_and_y_range_fits_the_scale(grid15) -> None:
    a, b = Sheet(grid15, SheetConfig(seed=5), device="cpu"), Sheet(grid15, SheetConfig(seed=5), device="cpu")
    np.testing.assert_array_equal(a.theta.numpy(), b.theta.numpy())
    a.reset(6)
    assert not np.array_equal(a.theta.numpy(), b.theta.numpy()) and a.config.seed == 6
    assert y_range(0.5, 5.0) == (0.5, 5.0) and y_range(1.0, 10.0, "data") == (1.0, 10.0)  # the lesson's (min, max)
    assert y_range(0.5, 5.0, "wide") == (0.0, 5.5)
    assert y_range(1.0, 10.0, "wide") == (0.0, 11.0)
    assert Sheet(grid15, SheetConfig(squash=True), device="cpu").model.squash_range == (1.0, 5.0)  # MovieLens's 1–5
    with pytest.raises(ValueError, match="factors k"):
        SheetConfig(k=0)
    with pytest.raises(ValueError, match="unknown sigmoid range 'wider'; choose one of data, wide"):
        SheetConfig(squash=True, squash_range="wider")


def test_asking_for_cuda_without_one_is_a_clear_error(grid15) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        Sheet(grid15, device="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(grid15) -> None:
    cpu, gpu = Sheet(grid15, device="cpu"), Sheet(grid15, device="cuda")
    for sheet in (cpu, gpu):
        sheet.set_optimizer(OptimizerSettings("adam", lr=0.03))
        sheet.step(300)
    np.testing.assert_allclose(gpu.snapshot().predictions, cpu.snapshot().predictions, atol=1e-9)
    assert gpu.snapshot().device.startswith("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_solve_finds_the_cpu_minimum(grid15) -> None:
    cpu, gpu = Sheet(grid15, device="cpu").solve(), Sheet(grid15, device="cuda").solve()
    assert gpu.converged and gpu.rmse == pytest.approx(cpu.rmse, rel=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_restored_state_continues_bit_identically(grid15, name: str) -> None:
    settings = OptimizerSettings(name, lr=0.01, weight_decay=0.01)
    a = Sheet(grid15, SheetConfig(biases=True), settings, device="cpu")
    a.step(37)
    a.set_rating(0, 0, 2.5)
    saved = a.state_dict()
    before = saved["theta"].clone()
    a.step(50)
    assert torch.equal(saved["theta"], before)  # a copy: later steps do not reach into it
    b = Sheet(grid15, SheetConfig(biases=True, seed=9), OptimizerSettings("sgd"), device="cpu")
    b.load_state_dict(saved)
    assert b.steps == 37 and b.settings == settings and b.ratings[0, 0] == 2.5
    b.step(50)
    assert torch.equal(a.theta, b.theta) and a.steps == b.steps == 87
    assert a.state.keys() == b.state.keys()
    for key, value in a.state.items():
        assert torch.equal(value, b.state[key]) if isinstance(value, torch.Tensor) else value == b.state[key]


def test_load_state_dict_refuses_another_sheets_shape(grid15) -> None:
    small = Sheet(grid15, SheetConfig(k=2), device="cpu")
    with pytest.raises(ValueError, match="θ should have"):
        Sheet(grid15, device="cpu").load_state_dict({**small.state_dict(), "config": SheetConfig()})


@pytest.mark.parametrize("name,lr", [("sgd", 5.0), ("momentum", 20.0)])
def test_a_lower_lr_recovers_from_divergence(grid15, name: str, lr: float) -> None:
    """Divergence keeps factors from before the loss ran away, so a lower learning rate goes on from them."""
    sheet = Sheet(grid15, settings=OptimizerSettings(name, lr=lr), device="cpu")
    start = sheet.rmse()
    result = sheet.step(1000)
    assert result.diverged and result.steps < 1000
    assert sheet.rmse() <= 10 * max(start, 4.0)  # within the healthy bound, not astronomically large
    assert not sheet.step(5).steps  # the same lr is refused again …
    sheet.set_optimizer(OptimizerSettings(name, lr=0.001))
    before = sheet.rmse()
    result = sheet.step(200)  # … a lower one continues from the last good factors
    assert result.steps == 200 and not result.diverged and sheet.rmse() < before


@pytest.mark.parametrize("change", [dict(k=8), dict(k=2), dict(biases=True), dict(squash=True)])
def test_reconfigure_keeps_the_run(grid15, change: dict) -> None:
    sheet = Sheet(grid15, SheetConfig(), OptimizerSettings("adam", lr=0.05), device="cpu")
    sheet.step(300)
    before, steps = sheet.params(), sheet.steps
    config = SheetConfig(**{**SheetConfig().__dict__, **change})
    sheet.reconfigure(config)
    after = sheet.params()
    k = min(5, config.k)
    np.testing.assert_array_equal(after["user_factors"][:, :k], before["user_factors"][:, :k])
    np.testing.assert_array_equal(after["item_factors"][:k], before["item_factors"][:k])
    assert sheet.steps == steps and sheet.config == config
    assert after["user_factors"].shape == (15, config.k)
    if config.biases:
        assert not after["user_bias"].any() and not after["item_bias"].any()
    if config.k > 5:
        assert 0 <= after["user_factors"][:, 5:].min() and after["user_factors"][:, 5:].max() < 0.1
    if not config.squash and config.k >= 5:
        assert sheet.rmse() < 1.0  # biases at 0 and small new columns barely move a fitted sheet


def test_zero_steps_do_nothing(grid15) -> None:
    sheet = Sheet(grid15, device="cpu")
    before = sheet.theta.clone()
    result = sheet.step(0)
    assert result.steps == 0 and not len(result.losses) and torch.equal(sheet.theta, before) and sheet.steps == 0
