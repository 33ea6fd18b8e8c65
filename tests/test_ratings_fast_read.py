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


def _columns(path, pieces, block_size=64, skip_rows=1, threads=2):
    """The columns read in about this many pieces (and blocks of block_size bytes) by this many threads."""
    from collabsheet.engine.data.csv_columns import read_columns
    types = {0: np.dtype(np.int64), 1: np.dtype(np.int64), 2: np.dtype(np.float64), 3: np.dtype(np.int64)}
    return read_columns(path, types, skip_rows=skip_rows, delimiter=",", threads=threads,
                        piece_bytes=-(-path.stat().st_size // pieces), block_size=block_size)


@pytest.fixture(params=["compiled", "pyarrow"])
def parser(request, monkeypatch):
    """Each test below once with the compiled loop reading every file (numba installed) and once with pyarrow alone."""
    import collabsheet.engine.data.csv_columns as csv_columns
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(csv_columns, "COMPILED_FROM", 0 if request.param == "compiled" else 1 << 62)
    return request.param


@pytest.mark.parametrize("pieces, threads", [(1, 1), (2, 2), (3, 2), (7, 2), (40, 3)])
@pytest.mark.parametrize("last_line_end", ["\n", "", "\r\n"])
def test_the_columns_read_in_pieces_and_small_blocks_are_the_file_s_rows_in_order(tmp_path, pieces, threads,
                                                                                  last_line_end, parser):
    rng = np.random.default_rng(pieces)
    n = 3_000
    frame = pd.DataFrame({"u": rng.integers(1, 10**6, n), "m": rng.integers(-50, 50, n),
                          "r": rng.integers(1, 11, n) / 2 + rng.random(n) * 1e-3, "t": rng.integers(0, 2**40, n)})
    text = "u,m,r,t\r\n" + "".join(f"{u},{m},{r!r},{t}\r\n" for u, m, r, t in frame.itertuples(index=False))
    (tmp_path / "r.csv").write_bytes((text[:-2] + last_line_end).encode())
    columns = _columns(tmp_path / "r.csv", pieces, threads=threads)
    assert [c.dtype for c in columns] == [np.int64, np.int64, np.float64, np.int64]
    for got, (_, want) in zip(columns, frame.items()):
        assert len(got) == n and got.flags.writeable
        # the same text parsed: equal to the last bit
        np.testing.assert_array_equal(got.view(np.int64), want.to_numpy().view(np.int64))


def test_the_rows_never_outgrow_the_bound_even_in_the_shortest_rows(tmp_path, parser) -> None:
    from collabsheet.engine.data.csv_columns import most_rows
    for ending in ("\n", ""):
        (tmp_path / "r.csv").write_text("1,2,3,4\n" * 999 + "1,2,3,4" + ending)
        assert most_rows((tmp_path / "r.csv").stat().st_size, [0, 1, 2, 3]) >= 1_000
        assert [len(c) for c in _columns(tmp_path / "r.csv", 3, skip_rows=0)] == [1_000] * 4


@pytest.mark.parametrize("pieces", [1, 3, 30])
def test_a_missing_field_a_quoted_line_break_or_a_lone_return_gives_nothing(tmp_path, pieces, parser) -> None:
    rows = [f"{u},{u % 7},4,{u * 10},note\n" for u in range(2_000)]
    (tmp_path / "gap.csv").write_text("u,m,r,t,n\n" + "".join(rows[:1500]) + "5,6,,7,note\n" + "".join(rows[1500:]))
    assert _columns(tmp_path / "gap.csv", pieces) is None
    # a quoted line break early on: the first piece's rows are not its lines, so the later pieces' rows would be
    # misplaced; and a lone carriage return, a line end to pyarrow and none to the count of lines
    for odd in ('1,2,3,4,"a note\nof two lines"\n', "1,2,3,4,note\r5,6,7,8,note\n"):
        (tmp_path / "odd.csv").write_text("u,m,r,t,n\n" + "".join(rows[:10] + [odd] + rows[10:]))
        assert _columns(tmp_path / "odd.csv", pieces) is None


@pytest.mark.parametrize("skip_rows", [0, 1, 5])
def test_no_rows_past_the_skipped_lines_gives_nothing(tmp_path, skip_rows, parser) -> None:
    (tmp_path / "r.csv").write_text("u,m,r,t\n" * skip_rows)
    assert _columns(tmp_path / "r.csv", 1, skip_rows=skip_rows) is None


def test_a_file_read_in_parts_loads_as_the_careful_path_reads_it_and_reports_in_order(tmp_path, monkeypatch,
                                                                                       parser):
    import collabsheet.engine.data.csv_columns as csv_columns
    from collabsheet.engine.task import Cancelled, Task

    rng = np.random.default_rng(1)
    lines = "".join(f"{u},{m},{r},{t}\n" for u, m, r, t in zip(np.sort(rng.integers(1, 300, 20_000)),
                                                             rng.integers(1, 200, 20_000), rng.integers(1, 11, 20_000) / 2,
                                                             rng.integers(8 * 10**8, 9 * 10**8, 20_000)))
    (tmp_path / "r.csv").write_text("userId,movieId,rating,timestamp\n" + lines)
    monkeypatch.setattr(csv_columns, "thread_count", lambda size: 3)
    monkeypatch.setattr(csv_columns, "PIECE", 1 << 14)  # 40 pieces in 3 threads
    monkeypatch.setattr(csv_columns, "BLOCK", 1 << 12)
    monkeypatch.setattr(ratings_module, "PROGRESS_EVERY", 0.0)  # every read reports
    read_fast, used, heard = ratings_module._read_fast, [], []
    monkeypatch.setattr(ratings_module, "_read_fast", lambda *a: used.append(read_fast(*a)) or used[-1])
    quick = load_ratings(tmp_path / "r.csv", task=Task(lambda r: heard.append(r.fraction)))
    assert used[0] is not None and heard == sorted(heard) and heard[-1] == 1.0
    monkeypatch.setattr(ratings_module, "_read_fast", lambda *a: None)
    careful = load_ratings(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(quick.frame, careful.frame)
    assert quick.notes == careful.notes and any("duplicate" in note for note in quick.notes)

    monkeypatch.setattr(ratings_module, "_read_fast", read_fast)
    task = Task(lambda r: task.cancel())
    with pytest.raises(Cancelled):
        load_ratings(tmp_path / "r.csv", task=task)
