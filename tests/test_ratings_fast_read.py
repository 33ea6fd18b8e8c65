"""The quick read of a large ratings file: the types pyarrow is asked for, the range check, the sorted-file check."""
import numpy as np
import pandas as pd
import pytest

import collabsheet.engine.data.ratings as ratings_module
from collabsheet.engine.data.ratings import RatingsError, load_ratings


@pytest.mark.parametrize("broken_at", range(1, 12))
def test_the_sorted_check_finds_a_pair_out_of_order_wherever_the_blocks_fall(monkeypatch, broken_at) -> None:
    monkeypatch.setattr(ratings_module, "_BLOCK", 4)  # blocks of 4 rows over 12: every kind of position is tried
    users = np.repeat(np.arange(4, dtype=np.int64), 3)
    items = np.tile(np.arange(3, dtype=np.int64), 4)
    frame = pd.DataFrame({"user": users, "item": items, "rating": np.ones(12)})
    assert ratings_module._strictly_sorted(frame)
    swapped = frame.copy()
    swapped.iloc[[broken_at - 1, broken_at]] = swapped.iloc[[broken_at, broken_at - 1]].to_numpy()
    assert not ratings_module._strictly_sorted(swapped)
    repeated = frame.copy()
    repeated.iloc[broken_at] = repeated.iloc[broken_at - 1].to_numpy()  # the same pair twice: not strictly sorted
    assert not ratings_module._strictly_sorted(repeated)


@pytest.mark.parametrize("line, message", [
    ("1,2,nan", "line 3 has rating 'nan', which is not a number"),
    ("1,2,-1e60", "line 3 has rating -1e\\+60, too large to compute with"),
    ("1,x,4", None),  # a text item id: read by the careful path, which keeps it as text
    ("1.5,2,4", None),  # a fractional user id: the careful path too
])
def test_what_the_typed_read_refuses_goes_the_careful_way(tmp_path, line, message) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"user,item,rating\n1,1,4\n{line}\n2,1,3\n2,2,5\n")
    if message is not None:
        with pytest.raises(RatingsError, match=message):
            load_ratings(path)
        return
    frame = load_ratings(path).frame
    assert len(frame) == 4 and frame["rating"].tolist() == [4.0, 4.0, 3.0, 5.0]


def test_whole_number_ratings_and_ids_read_typed_as_before(tmp_path, monkeypatch) -> None:
    path = tmp_path / "r.csv"
    path.write_text("userId,movieId,rating\n" + "".join(f"{u},{m},{(u * m) % 5 + 1}\n" for u in range(1, 30)
                                                        for m in range(1, 20)))
    quick = load_ratings(path).frame
    assert quick["user"].dtype == np.int64 and quick["item"].dtype == np.int64 and quick["rating"].dtype == np.float64
    monkeypatch.setattr(ratings_module, "_read_fast", lambda *a: None)
    pd.testing.assert_frame_equal(quick, load_ratings(path).frame)
