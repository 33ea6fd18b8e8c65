"""Learning-rate schedules against torch.optim.lr_scheduler, iteration by iteration."""
import math

import pytest
import torch

from collabsheet.engine.optim.schedules import SGDR, Constant, OneCycle, sgdr_epochs


def _torch_lrs(make, steps: int, lr: float) -> list[float]:
    """The lr torch's scheduler gives before each of `steps` optimizer steps."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def test_constant() -> None:
    assert [Constant(0.03)(it) for it in (0, 1, 10**6)] == [0.03] * 3


@pytest.mark.parametrize("cycle_len,cycle_mult,batches", [(1, 2, 7), (1, 1, 5), (2, 3, 4)])
def test_sgdr_matches_cosine_annealing_warm_restarts_stepped_per_batch(cycle_len, cycle_mult, batches) -> None:
    epochs = sgdr_epochs(3, cycle_len, cycle_mult)
    ours = SGDR(0.01, batches, cycle_len, cycle_mult)
    theirs = _torch_lrs(lambda opt: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=cycle_len * batches, T_mult=cycle_mult), epochs * batches, 0.01)
    assert [ours(it) for it in range(epochs * batches)] == pytest.approx(theirs, rel=1e-9, abs=1e-15)


def test_the_lessons_sgdr_is_three_epochs_in_two_cycles() -> None:
    assert sgdr_epochs(2, cycle_len=1, cycle_mult=2) == 3
    schedule = SGDR(1e-2, batches_per_epoch=10, cycle_len=1, cycle_mult=2)
    lrs = [schedule(it) for it in range(30)]
    restarts = [it for it in range(1, 30) if lrs[it] > lrs[it - 1]]
    assert restarts == [10] and lrs[0] == lrs[10] == 1e-2  # back to the top after epoch 1, then one 2-epoch cycle


@pytest.mark.parametrize("total,pct", [(100, 0.25), (37, 0.3), (8, 0.5)])
def test_one_cycle_matches_torch_one_cycle_lr(total: int, pct: float) -> None:
    ours = OneCycle(0.05, total, pct_start=pct, div=25.0, final_div=1e4)
    theirs = _torch_lrs(lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.05, total_steps=total, pct_start=pct, div_factor=25.0, final_div_factor=1e4,
        cycle_momentum=False), total, 0.05)
    assert [ours(it) for it in range(total)] == pytest.approx(theirs, rel=1e-9)


def test_one_cycle_rises_to_the_peak_then_falls_far_below_the_start() -> None:
    s = OneCycle(0.01, 100)
    lrs = [s(it) for it in range(100)]
    assert lrs[0] == pytest.approx(0.01 / 25) and max(lrs) == pytest.approx(0.01)
    assert lrs.index(max(lrs)) == 24 and lrs[-1] == pytest.approx(0.01 / 25 / 1e4)


@pytest.mark.parametrize("make,message", [
    (lambda: Constant(-0.1), "learning rate must be positive"),
    (lambda: SGDR(0.0, 10), "learning rate must be positive"),
    (lambda: SGDR(0.1, 10, cycle_len=0), "cycle len must be at least 1"),
    (lambda: OneCycle(0.1, 1), "at least 2 iterations"),
])
def test_bad_settings_get_one_line_errors(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_sgdr_with_the_lessons_warmup_as_fastai_07_cos_anneal() -> None:
    """fastai 0.7's CosAnneal: lr/100 while iteration < nb/20 (counted in the cycle), then lr/2·(cos(π·i/nb) + 1);
    each next cycle cycle_mult times longer; the warm-up only in the first cycle."""
    nb = 50  # batches in an epoch, cycle_len 1
    s = SGDR(1.0, nb, cycle_len=1, cycle_mult=2, warmup=True)
    assert [s(i) for i in range(3)] == [0.01, 0.01, 0.01]  # 0, 1, 2 < 2.5
    assert s(3) == pytest.approx(0.5 * (math.cos(math.pi * 3 / nb) + 1), rel=1e-15)
    assert s(nb) == 1.0 and s(nb + 5) == pytest.approx(0.5 * (math.cos(math.pi * 5 / (2 * nb)) + 1), rel=1e-15)
    plain = SGDR(1.0, nb, cycle_len=1, cycle_mult=2)
    assert all(s(i) == plain(i) for i in range(3, 3 * nb))


def test_the_lesson_learner_uses_it() -> None:
    from collabsheet.engine.train.build import make_schedule
    from collabsheet.engine.train.recipes import recipe

    schedule = make_schedule(recipe("lesson-learner"), 1000)
    assert schedule(0) == pytest.approx(1e-4) and schedule(49) == pytest.approx(1e-4) and schedule(50) > 9e-3
