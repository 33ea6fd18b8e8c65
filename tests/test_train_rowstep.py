"""fast's hand-written batch: its gradient against autograd's, its update against RowAdam.step, and who gets it."""
import pytest
import torch
import torch.nn.functional as F

from collabsheet.engine.models.lesson import EmbeddingDotBias, EmbeddingDotBiasImplicit
from collabsheet.engine.optim.rowwise import RowAdam, put_rows, take_rows
from collabsheet.engine.train.build import make_model, make_optimizer
from collabsheet.engine.train.data import Split
from collabsheet.engine.train.recipes import RECIPES
from collabsheet.engine.train.rowstep import DotBiasStep, row_step

N_USERS, N_MOVIES, K = 9, 7, 4


def _model(y_range, seed: int = 0) -> EmbeddingDotBias:
    torch.manual_seed(seed)
    model = EmbeddingDotBias(N_USERS, N_MOVIES, K, y_range, sparse=True).double()
    with torch.no_grad():
        for p in model.parameters():  # larger than the lesson's start, so every term of the gradient counts
            p.uniform_(-0.8, 0.8)
    return model


def _batch(seed: int, n: int = 40, grouped: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    users = torch.randint(N_USERS - 2, (n,), generator=g)  # the last two users never appear: rows left alone
    if grouped:
        users = users.sort().values  # a user's ratings together, as MovieLens files list them
    movies = torch.randint(N_MOVIES, (n,), generator=g)
    ratings = torch.randint(1, 11, (n,), generator=g).double() / 2
    return users, movies, ratings


def _autograd(model: EmbeddingDotBias, users, movies, ratings) -> tuple[torch.Tensor, dict]:
    model.zero_grad(set_to_none=True)
    loss = F.mse_loss(model(users, movies), ratings)
    loss.backward()
    return loss.detach(), {name: p.grad.to_dense() for name, p in model.named_parameters()}


@pytest.mark.numeric
@pytest.mark.parametrize("y_range", [None, (0.0, 5.5)])
@pytest.mark.parametrize("grouped", [False, True])
def test_the_hand_written_gradient_is_autograds(y_range, grouped) -> None:
    model = _model(y_range)
    batch = _batch(1, grouped=grouped)
    loss, expected = _autograd(model, *batch)
    step = DotBiasStep(model, RowAdam(model.parameters()))
    ours, grads = step.gradients(*batch)
    torch.testing.assert_close(ours, loss, rtol=1e-12, atol=0)
    names = {id(p): name for name, p in model.named_parameters()}
    assert sorted(names[id(g.param)] for g in grads) == sorted(names.values())
    for g in grads:
        dense = torch.zeros_like(g.param)
        dense[g.rows] = g.grad
        torch.testing.assert_close(dense, expected[names[id(g.param)]], rtol=1e-10, atol=1e-14)
        index = batch[0] if g.param.shape[0] == N_USERS and names[id(g.param)].startswith("u") else batch[1]
        assert g.rows.tolist() == sorted(set(index.tolist()))
        assert g.uses.tolist() == [float((index == r).sum()) for r in g.rows.tolist()]
        assert g.lookups == len(index)


@pytest.mark.numeric
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("workers", [1, 2])
def test_the_hand_written_step_is_autograd_and_row_adams_step(decoupled, workers) -> None:
    ours, theirs = _model((0.0, 5.5)), _model((0.0, 5.5))
    settings = {"lr": 0.05, "weight_decay": 0.3, "decoupled": decoupled}
    opt_ours, opt_theirs = RowAdam(ours.parameters(), **settings), RowAdam(theirs.parameters(), **settings)
    step = DotBiasStep(ours, opt_ours, workers)
    start = {name: p.detach().clone() for name, p in ours.named_parameters()}
    for seed in range(6):
        users, movies, ratings = _batch(seed, grouped=seed % 2 == 1)
        split = Split(users, movies, ratings)
        loss = step(split, torch.randperm(len(users), generator=torch.Generator().manual_seed(seed)))
        theirs_loss, _ = _autograd(theirs, users, movies, ratings)
        opt_theirs.step()
        torch.testing.assert_close(loss, theirs_loss, rtol=1e-10, atol=0)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12, msg=name)
        state_a, state_b = opt_ours.state[a], opt_theirs.state[b]
        assert float(state_a["step"]) == float(state_b["step"]) == 6
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(state_a[key], state_b[key], rtol=1e-9, atol=1e-14, msg=f"{name} {key}")
    never = [N_USERS - 2, N_USERS - 1]  # users no batch named: exactly as they started, moments zero
    assert torch.equal(ours.u.weight[never], start["u.weight"][never])
    assert not opt_ours.state[ours.u.weight]["exp_avg"][never].any()


@pytest.mark.parametrize("k", [5, 32])
def test_two_workers_give_the_same_bits_as_one(k) -> None:
    runs = []
    for workers in (1, 2):
        torch.manual_seed(0)
        model = EmbeddingDotBias(700, 300, k, (0.0, 5.5), sparse=True)
        step = DotBiasStep(model, RowAdam(model.parameters(), lr=0.05, weight_decay=0.3), workers)
        g = torch.Generator().manual_seed(1)
        for _ in range(4):  # ~600 users and ~300 movies a batch: both split at a cut of 64 rows or more
            batch = torch.randint(700, (3000,), generator=g), torch.randint(300, (3000,), generator=g), \
                torch.randint(1, 11, (3000,), generator=g) / 2
            step(Split(*batch), torch.arange(3000))
        runs.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_only_fasts_model_optimizer_and_loss_get_the_hand_written_step() -> None:
    fast = RECIPES["fast"]
    model = make_model(fast, N_USERS, N_MOVIES, (0.5, 5.0))
    train = Split(torch.arange(N_USERS) % N_USERS, torch.arange(N_USERS) % N_MOVIES, torch.ones(N_USERS))
    opt = make_optimizer(fast, model, torch.device("cpu"), train)
    assert isinstance(row_step(model, opt, F.mse_loss), DotBiasStep)
    assert row_step(model, opt, F.l1_loss) is None  # another loss: autograd
    dense = make_model(RECIPES["lesson-learner"], N_USERS, N_MOVIES, (0.5, 5.0))
    assert row_step(dense, make_optimizer(RECIPES["lesson-learner"], dense, torch.device("cpu"), train), F.mse_loss) is None
    pairs = torch.tensor([0, 1]), torch.tensor([2, 3])
    svdpp = EmbeddingDotBiasImplicit(N_USERS, N_MOVIES, K, None, *pairs, sparse=True)
    assert row_step(svdpp, RowAdam(svdpp.parameters()), F.mse_loss) is None  # a subclass has more to learn


def test_rows_are_read_and_written_alike_on_wide_views_bias_columns_and_odd_widths() -> None:
    for shape in ((10, 32), (10, 1), (10, 3), (10, 6)):
        table = torch.arange(float(shape[0] * shape[1])).view(shape)
        rows = torch.tensor([1, 4, 7])
        got = take_rows(table, rows)
        assert torch.equal(got, table[rows])
        new = -got - 1
        put_rows(table, rows, new)
        assert torch.equal(table[rows], new) and table[0, 0] == 0 and table[9, -1] == shape[0] * shape[1] - 1


@pytest.mark.numeric
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here (bench/gpu_check.sh runs this on one)")
def test_the_hand_written_step_on_cuda_is_the_cpus() -> None:
    runs = []
    for device in ("cpu", "cuda"):
        model = _model((0.0, 5.5)).to(device)
        step = row_step(model, RowAdam(model.parameters(), lr=0.05, weight_decay=0.3), F.mse_loss)
        for seed in range(4):
            batch = [x.to(device) for x in _batch(seed)]
            step(Split(*batch), torch.arange(len(batch[0]), device=device))
        runs.append([p.detach().cpu() for p in model.parameters()])
    for a, b in zip(*runs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_fasts_wide_sigmoid_range_runs_from_zero_to_a_tenth_above_the_top_rating() -> None:
    from collabsheet.engine.train.build import squash_range
    assert squash_range(RECIPES["fast"], (0.5, 5.0)) == (0.0, 5.5)  # the range fast was tuned with on ml-100k
    assert squash_range(RECIPES["fast"].with_(y_range="data"), (0.5, 5.0)) == (0.5, 5.0)
