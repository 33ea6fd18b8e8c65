"""Training data: contiguous index maps, the seeded split, a validation file with ids training lacks."""
import numpy as np
import pandas as pd
import pytest
import torch

from collabsheet.engine.data.ratings import Ratings
from collabsheet.engine.train.data import IdMap, UnknownIdError, prepare, split_indices
from train_helpers import low_rank_ratings


def test_id_map_is_contiguous_and_round_trips() -> None:
    ids = np.array([30, 10, 20, 10, 30])
    m = IdMap.of(ids, "user")
    assert len(m) == 3 and m.ids.tolist() == [10, 20, 30]
    assert m.index(ids).tolist() == [2, 0, 1, 0, 2]
    assert [m.id_of(i) for i in m.index(ids)] == ids.tolist()


def test_an_unknown_id_is_named_not_an_index_error() -> None:
    m = IdMap.of(np.array([1, 2, 3]), "movie")
    with pytest.raises(UnknownIdError, match=r"^movie 99 is not in the model \(it knows 3 movies\)$"):
        m.index([2, 99])
    with pytest.raises(UnknownIdError, match=r"movie 7 is not in the model \(nor are 2 others; it knows 3"):
        m.index([7, 8, 9, 7])
    assert m.lookup([3, 42]).tolist() == [2, -1]


def test_text_ids_and_parsing_typed_ids() -> None:
    words = IdMap.of(np.array(["bo", "al", "cy"], dtype=object), "user")
    assert words.index(["cy", "al"]).tolist() == [2, 0] and words.parse("al") == "al"
    numbers = IdMap.of(np.array([5, 7]), "user")
    assert numbers.parse("7") == 7
    with pytest.raises(UnknownIdError, match="whole numbers"):
        numbers.parse("seven")


def test_split_is_seeded_twenty_percent_and_disjoint_from_training() -> None:
    a, b, c = split_indices(1000, seed=1), split_indices(1000, seed=1), split_indices(1000, seed=2)
    assert len(a) == 200 and len(set(a.tolist())) == 200 and a.tolist() == b.tolist() and a.tolist() != c.tolist()
    ratings = low_rank_ratings()
    data = prepare(ratings, seed=3)
    assert len(data.valid) == int(0.2 * len(ratings)) and len(data.train) + len(data.valid) == len(ratings)
    pairs = lambda s: set(zip(s.users.tolist(), s.movies.tolist()))  # noqa: E731
    assert not pairs(data.train) & pairs(data.valid)
    frame = ratings.frame
    truth = dict(zip(zip(data.users.index(frame["user"]), data.movies.index(frame["item"])), frame["rating"]))
    for split in (data.train, data.valid):
        assert all(truth[(u, m)] == y for u, m, y in zip(split.users.tolist(), split.movies.tolist(),
                                                         split.ratings.tolist()))


def test_tensors_are_indices_and_float_ratings_on_the_device() -> None:
    data = prepare(low_rank_ratings(), device="cpu")
    assert data.train.users.dtype == torch.int64 and data.train.ratings.dtype == torch.float32
    assert data.device == torch.device("cpu")
    assert int(data.train.users.max()) < len(data.users) and int(data.train.movies.max()) < len(data.movies)
    lo, hi = data.rating_range
    assert lo == data.train.ratings.min().item() and hi == data.train.ratings.max().item()
    assert data.movie_counts().sum() == len(data.train)


def test_a_validation_file_counts_and_reports_ids_training_lacks() -> None:
    train = low_rank_ratings(n_users=20, n_movies=15, density=0.8)
    known = train.frame.sample(10, random_state=0)
    strangers = pd.DataFrame({"user": [5000, 5000, 5001, 101], "item": [1000, 1001, 1002, 9999],
                              "rating": [3.0, 4.0, 5.0, 1.0]})
    valid = Ratings(pd.concat([known, strangers], ignore_index=True), "u1.test", "u1.test")
    data = prepare(train, valid=valid)
    assert len(data.train) == len(train) and len(data.valid) == 10
    assert data.notes == ("u1.test: left out 4 of 14 validation ratings whose user or movie low-rank test "
                          "ratings lacks (2 unknown users, 1 unknown movie)",
                          "u1.test: 10 of its 14 validation ratings are also in low-rank test ratings; a validation "
                          "the model trained on flatters it")  # these 10 were sampled from the training ratings


def test_a_validation_file_with_nothing_in_common_is_an_error() -> None:
    train = low_rank_ratings()
    other = low_rank_ratings(user_offset=7000, movie_offset=8000)
    with pytest.raises(ValueError, match="none of its .* ratings has a user and a movie"):
        prepare(train, valid=other)
