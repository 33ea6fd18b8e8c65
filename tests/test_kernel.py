"""The stepping kernel: one layout for a lone sheet and a batch, copies equal to lone runs bit for bit, the rules
equal to their readable form, and the padding inert."""
import numpy as np
import pytest
import torch

from collabsheet.engine.config import OptimizerSettings as O, SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.optim import rules
from collabsheet.engine.sheet.batched import ALIGN, ROW, BatchedSheet, padded
from collabsheet.engine.sheet.model import SheetModel
from collabsheet.engine.sheet.sheet import Sheet

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)

MIXED = [O("adamw", lr=0.05, weight_decay=0.1), O("sgd", lr=0.02), O("momentum", lr=0.03, weight_decay=0.01),
         O("rmsprop", lr=0.01), O("adam", lr=0.05, weight_decay=0.01)]
CONFIGS = [SheetConfig(k=2), SheetConfig(k=5, biases=True, squash=True), SheetConfig(k=7, biases=True)]


def crosstab(users: int, movies: int, seed: int) -> Crosstab:
    """A users × movies grid of ratings 1–5 with about a third blank."""
    rng = np.random.default_rng(seed)
    ratings = rng.integers(1, 6, (users, movies)).astype(float)
    ratings[rng.random((users, movies)) < 0.35] = np.nan
    ratings[0, 0] = 5.0
    return Crosstab(ratings, tuple(range(users)), tuple(range(movies)), tuple(f"m{j}" for j in range(movies)))


@pytest.mark.parametrize("shape", [(7, 9), (16, 16), (15, 15), (21, 34)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("config", CONFIGS, ids=["k2", "k5+biases+squash", "k7+biases"])
def test_each_copy_of_a_batch_is_its_batch_of_one_to_the_last_bit(shape, config) -> None:
    grid = crosstab(*shape, seed=sum(shape))
    model = SheetModel(grid.ratings, config, torch.device("cpu"))
    starts = torch.stack([model.initial_theta(seed) for seed in range(len(MIXED))])
    batch = BatchedSheet(model, MIXED, starts)
    mse, _ = batch.run(60)
    for b, settings in enumerate(MIXED):
        alone = BatchedSheet(model, [settings], starts[b])
        mse1, _ = alone.run(60)
        np.testing.assert_array_equal(mse[:, b], mse1[:, 0])
        theta, state = batch.state(b)
        theta1, state1 = alone.state(0)
        assert torch.equal(theta, theta1) and state.keys() == state1.keys()
        assert all(torch.equal(state[k], state1[k]) if k != "t" else state[k] == state1[k] for k in state)


def test_every_block_starts_aligned_and_padding_stays_zero() -> None:
    grid = crosstab(15, 15, seed=1)
    model = SheetModel(grid.ratings, SheetConfig(k=5, biases=True, squash=True), torch.device("cpu"))
    batch = BatchedSheet(model, MIXED, torch.stack([model.initial_theta(s) for s in range(5)]))
    batch.run(30)
    for buffer in (batch.theta, batch.grad, batch.m, batch.r, batch._pred, batch._err):
        assert buffer.data_ptr() % ALIGN == 0
    for blocks in (batch._blocks(batch.theta), batch._blocks(batch.grad), batch._blocks(batch.m)):
        for name, block in blocks.items():
            for b in range(batch.B):
                assert block[b].data_ptr() % ALIGN == 0, name
            assert block.shape[-1] % ROW == 0 or block.shape[-1] == 5  # movies padded; k is not
        assert not blocks["user_factors"][:, 15:].any() and not blocks["item_factors"][:, :, 15:].any()
        assert not blocks["user_bias"][:, 15:].any() and not blocks["item_bias"][:, 15:].any()
    assert padded(15) == 16 and padded(16) == 16 and padded(17) == 32


def _reference(grid: Crosstab, config: SheetConfig, settings: O, steps: int) -> np.ndarray:
    """The readable rules (engine.optim.rules) on a gradient taken by autograd: an independent path to the same run."""
    model = SheetModel(grid.ratings, config, torch.device("cpu"))
    theta, state, losses = model.initial_theta(config.seed), {}, []
    for _ in range(steps):
        x = theta.clone().requires_grad_(True)
        pred, _ = model.predict(model.split(x))
        mse = (((pred - model.r) * model.mask) ** 2).sum() / model.count
        mse.backward()
        losses.append(float(mse.detach()))
        with torch.no_grad():
            rules.update(theta, x.grad, state, settings)
    return np.sqrt(losses), theta


@pytest.mark.parametrize("settings", MIXED, ids=lambda h: h.name)
@pytest.mark.parametrize("config", CONFIGS[:2], ids=["k2", "k5+biases+squash"])
def test_the_kernel_computes_the_readable_rules(settings, config) -> None:
    """Within 1e-10: the two paths sum and multiply in different orders (a fused multiply-add here, not there)."""
    grid = crosstab(15, 15, seed=4)
    sheet = Sheet(grid, config, settings, device="cpu")
    result = sheet.step(100)
    losses, theta = _reference(grid, config, settings, 100)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10)
    np.testing.assert_allclose(sheet.theta.numpy(), theta.numpy(), rtol=1e-10, atol=1e-12)


def test_a_sheet_that_goes_on_from_a_state_dict_is_the_sheet_that_never_stopped() -> None:
    grid = crosstab(15, 15, seed=5)
    for settings in MIXED:
        a, b = Sheet(grid, SheetConfig(biases=True), settings, device="cpu"), Sheet(grid, device="cpu")
        a.step(40)
        b.load_state_dict(a.state_dict())
        np.testing.assert_array_equal(a.step(40).losses, b.step(40).losses)
        assert torch.equal(a.theta, b.theta)
