"""Each update rule against torch.optim with equivalent settings, in float64."""
import pytest
import torch

from collabsheet.engine.optim import rules as optim
from collabsheet.engine.config import OPTIMIZERS, OptimizerSettings

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)


def _loss(p: torch.Tensor) -> torch.Tensor:
    # A non-quadratic bowl, so that gradients change from step to step.
    target = torch.linspace(-1, 2, p.numel(), dtype=torch.float64)
    return ((p - target) ** 2).sum() + 0.1 * (p**4).sum() + (p[:-1] * p[1:]).sum()


def _reference(name: str, h: OptimizerSettings, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The torch.optim optimizer that should do exactly what rule `name` does."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=h.lr, weight_decay=h.weight_decay, foreach=False)
    if name == "momentum":
        # v ← β·v + (1−β)·g, p ← p − lr·v  equals torch's buf ← β·buf + g, p ← p − lr(1−β)·buf
        return torch.optim.SGD(params, lr=h.lr * (1 - h.beta), momentum=h.beta, weight_decay=h.weight_decay,
                               foreach=False)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=h.lr, alpha=h.beta2, eps=h.eps, weight_decay=h.weight_decay,
                                   foreach=False)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=h.lr, betas=(h.beta1, h.beta2), eps=h.eps, weight_decay=h.weight_decay, foreach=False)


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_rule_matches_torch_optim(name: str, weight_decay: float) -> None:
    h = OptimizerSettings(name, lr=0.01, beta=0.8, beta1=0.85, beta2=0.95, eps=1e-6, weight_decay=weight_decay)
    start = torch.linspace(-0.5, 0.7, 12, dtype=torch.float64)
    ours, state = start.clone(), {}
    theirs = torch.nn.Parameter(start.clone())
    reference = _reference(name, h, [theirs])
    for _ in range(200):
        p = ours.clone().requires_grad_(True)
        _loss(p).backward()
        optim.update(ours, p.grad.clone(), state, h)
        reference.zero_grad()
        _loss(theirs).backward()
        reference.step()
    assert not torch.equal(ours, start)  # the rule moved the parameters
    assert torch.allclose(ours, theirs.detach(), rtol=0, atol=1e-12), (ours - theirs).abs().max()


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown optimizer"):
        OptimizerSettings("lbfgs")
    with pytest.raises(ValueError, match="learning rate"):
        OptimizerSettings(lr=0)
    with pytest.raises(ValueError, match="beta1"):
        OptimizerSettings(beta1=1.0)


def test_explain_follows_the_rule() -> None:
    h = OptimizerSettings("adam", lr=0.1, weight_decay=0.0)
    terms = dict(optim.explain(0.5, 0.2, {"m": 0.1, "r": 0.01, "t": 3}, h))
    m = 0.9 * 0.1 + 0.1 * 0.2
    r = 0.99 * 0.01 + 0.01 * 0.04
    m_hat, r_hat = m / (1 - 0.9**4), r / (1 - 0.99**4)
    assert terms["average m"] == pytest.approx(m)
    assert terms["next value p"] == pytest.approx(0.5 - 0.1 * m_hat / (r_hat**0.5 + 1e-8))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_steps_lr_comes_from_the_caller(name: str) -> None:
    """A schedule sets each step's lr: the rule at lr must equal the rule whose settings say lr."""
    g = torch.linspace(-1, 1, 7, dtype=torch.float64)
    base, scheduled = torch.ones(7, dtype=torch.float64), torch.ones(7, dtype=torch.float64)
    s1, s2 = {}, {}
    for step in range(5):
        lr = 0.1 / (step + 1)
        optim.update(base, g.clone(), s1, OptimizerSettings(name, lr=lr, weight_decay=0.1))
        optim.update(scheduled, g.clone(), s2, OptimizerSettings(name, lr=1.0, weight_decay=0.1), lr)
    torch.testing.assert_close(base, scheduled, rtol=0, atol=0)
