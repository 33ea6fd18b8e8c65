"""The GPU throughput path of bench/train.py, run small on the CPU so it is known to work where a GPU is."""
import importlib.util
import math
from pathlib import Path

import torch

from collabsheet.engine.train.data import synthetic


def _bench():
    spec = importlib.util.spec_from_file_location("bench_train", Path(__file__).parents[1] / "bench" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_ratings_are_made_on_the_device_and_split_80_20() -> None:
    data = synthetic(10_000, 300, 200, device="cpu")
    assert len(data.train) == 8_000 and len(data.valid) == 2_000 and data.device == torch.device("cpu")
    ratings = torch.cat([data.train.ratings, data.valid.ratings])
    assert ratings.min() >= 1 and ratings.max() <= 5 and torch.equal(ratings, ratings.round())
    assert int(data.train.users.max()) < 300 and int(data.train.movies.max()) < 200
    assert 0.5 < float(ratings.std()) < 1.5  # taste, not constant and not saturated


def test_throughput_is_the_timed_fit_loops_ratings_over_its_seconds() -> None:
    runs = []
    rate = _bench().throughput(torch.device("cpu"), 20_000, 300, 200, bs=4_096, epochs=2, runs=runs)
    warm, timed = runs
    assert [len(warm.epochs), len(timed.epochs)] == [1, 2] and timed.iterations == 2 * math.ceil(16_000 / 4_096)
    assert not timed.stopped and not timed.diverged
    assert rate == 2 * 16_000 / timed.seconds  # every training rating of both epochs, over the timed run alone
    assert timed.epochs[-1].train_loss < warm.epochs[0].train_loss  # it trained: the same model went on learning
