"""The fit loop's bookkeeping: the smoothed loss, batches and epochs, schedules, stopping, divergence, bad settings."""
import math
import threading

import pytest
import torch
import torch.nn.functional as F

from collabsheet.engine.models.lesson import EmbeddingDotBias
from collabsheet.engine.optim.schedules import OneCycle
from collabsheet.engine.train.data import prepare
from collabsheet.engine.task import Task
from collabsheet.engine.train.fit import BatchEvent, EpochEvent, Smoothed, evaluate, fit
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.recipes import RECIPES
from train_helpers import low_rank_ratings


@pytest.fixture(scope="module")
def data():
    return prepare(low_rank_ratings(n_users=60, n_movies=50), seed=0)


def _model(data, seed: int = 0) -> EmbeddingDotBias:
    torch.manual_seed(seed)
    return EmbeddingDotBias(len(data.users), len(data.movies), 5, (0.0, 5.5))


def _kept(batches: list | None = None, epochs: list | None = None) -> Task:
    """A task that keeps fit's batch and epoch events (its partial results) in these lists."""
    def heard(report) -> None:
        if isinstance(report.result, BatchEvent) and batches is not None:
            batches.append(report.result)
        elif isinstance(report.result, EpochEvent) and epochs is not None:
            epochs.append(report.result)

    return Task(heard)


def test_smoothed_loss_is_fastais_debiased_moving_average() -> None:
    s, losses = Smoothed(0.98), [4.0, 2.0, 3.0, 1.0]
    avg = 0.0
    for n, x in enumerate(losses, 1):
        avg = 0.98 * avg + 0.02 * x
        assert s.add(x) == pytest.approx(avg / (1 - 0.98**n))
    assert Smoothed().add(7.0) == pytest.approx(7.0)  # debiased: the first value is the loss itself


def test_events_count_batches_and_epochs_and_smooth_the_batch_losses(data) -> None:
    raw, batches, epochs = [], [], []

    def recording_mse(predicted, target):
        value = F.mse_loss(predicted, target)
        if predicted.requires_grad:  # a training batch, not the validation at the epoch's end
            raw.append(value.item())
        return value

    model = _model(data)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    result = fit(model, data, 3, opt, recording_mse, bs=100, task=_kept(batches, epochs))
    per_epoch = math.ceil(len(data.train) / 100)
    assert result.iterations == len(batches) == len(raw) == 3 * per_epoch
    assert [b.iteration for b in batches] == list(range(1, 3 * per_epoch + 1))
    assert [(b.epoch, b.batch) for b in batches[per_epoch - 1:per_epoch + 1]] == [(1, per_epoch), (2, 1)]
    smooth = Smoothed()
    assert [b.loss for b in batches] == pytest.approx([smooth.add(x) for x in raw])
    assert [e.epoch for e in epochs] == [1, 2, 3] and result.epochs == tuple(epochs)
    assert epochs[-1].train_loss == pytest.approx(batches[-1].loss)
    assert epochs[-1].valid_mse == pytest.approx(evaluate(model, data.valid))
    assert all(e.valid_rmse == pytest.approx(math.sqrt(e.valid_mse)) for e in epochs)
    assert epochs[-1].valid_mse < epochs[0].valid_mse and not result.stopped and not result.diverged


def test_the_schedule_sets_each_batchs_learning_rate(data) -> None:
    model, seen = _model(data), []
    opt = torch.optim.SGD(model.parameters(), lr=123.0)
    schedule = OneCycle(0.1, 2 * math.ceil(len(data.train) / 64))
    batches = []
    fit(model, data, 2, opt, bs=64, schedule=schedule, task=_kept(batches))
    seen = [b.lr for b in batches]
    assert seen == [schedule(it) for it in range(len(seen))]


def test_batches_are_tensors_in_a_seeded_shuffled_order(data) -> None:
    sizes, orders = [], []

    def spy(predicted, target):
        if predicted.requires_grad:
            sizes.append(len(target))
            orders.append(target.clone())
        return F.mse_loss(predicted, target)

    for _ in range(2):
        model = _model(data)
        fit(model, data, 1, torch.optim.SGD(model.parameters(), lr=0.01), spy, bs=128, seed=5)
    half = len(orders) // 2
    assert sizes[:half] == [128] * (half - 1) + [len(data.train) - 128 * (half - 1)]
    assert all(torch.equal(a, b) for a, b in zip(orders[:half], orders[half:]))  # same seed, same batches
    assert not torch.equal(torch.cat(orders[:half]), data.train.ratings)  # shuffled


def test_a_cancelled_task_ends_the_run_before_the_next_batch(data) -> None:
    done = []
    model = _model(data)

    def heard(report) -> None:
        if isinstance(report.result, BatchEvent):
            done.append(report.result.iteration)
            if len(done) >= 7:
                task.cancel()

    task = Task(heard)
    result = fit(model, data, 5, torch.optim.Adam(model.parameters()), bs=32, task=task)
    assert result.stopped and result.iterations == 7 and done == list(range(1, 8)) and result.epochs == ()
    assert math.isnan(result.valid_rmse)


def test_a_threading_event_stops_a_run_in_another_thread_promptly(movielens) -> None:
    data = prepare(movielens)
    stop, started, out, batches = threading.Event(), threading.Event(), {}, []

    def heard(report) -> None:
        if isinstance(report.result, BatchEvent):
            batches.append(report.result)
            started.set()

    # cancelled through the Event the task shares, as a runner's Stop cancels the task it handed the engine
    worker = threading.Thread(target=lambda: out.setdefault("run", learn(
        data, RECIPES["lesson-net"].with_(epochs=50), task=Task(heard, cancel=stop))))
    worker.start()
    assert started.wait(60)
    stop.set()
    seen = len(batches)  # at least the batches done when the flag was set
    worker.join(60)
    assert not worker.is_alive() and out["run"].history.stopped
    assert len(batches) <= seen + 1  # the flag is read between batches: at most the batch under way finishes


def test_divergence_is_reported_not_trained_on(data) -> None:
    torch.manual_seed(0)
    model = EmbeddingDotBias(len(data.users), len(data.movies), 5)  # no sigmoid to hold it
    result = fit(model, data, 3, torch.optim.SGD(model.parameters(), lr=1e6), bs=64)
    assert result.diverged and not result.stopped and result.iterations < 3 * math.ceil(len(data.train) / 64)


@pytest.mark.parametrize("epochs,bs,message", [
    (0, 64, "epochs must be at least 1, got 0"),
    (1, 0, "batch size must be at least 1"),
    (1, 10**6, r"batch size 1,000,000 is larger than the [\d,]+ training ratings"),
])
def test_bad_settings_are_one_line_errors(data, epochs: int, bs: int, message: str) -> None:
    model = _model(data)
    with pytest.raises(ValueError, match=message):
        fit(model, data, epochs, torch.optim.Adam(model.parameters()), bs=bs)


@pytest.mark.parametrize("name", ["fast", "lesson-net"])  # the net's dropout masks are seeded too
def test_a_run_repeats_exactly_with_the_same_seed(data, name: str) -> None:
    a, b = (learn(data, RECIPES[name].with_(epochs=2, bs=256), seed=3) for _ in range(2))
    assert a.history.valid_rmse == b.history.valid_rmse
    c = learn(data, RECIPES[name].with_(epochs=2, bs=256), seed=4)
    assert c.history.valid_rmse != a.history.valid_rmse
