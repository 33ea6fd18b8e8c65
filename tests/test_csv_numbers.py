"""The compiled loop of the quick read: plain numbers parsed to the bit as pyarrow parses them, anything else refused."""
import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

pytest.importorskip("numba")
from collabsheet.engine.data import csv_numbers  # noqa: E402 - after the skip

KINDS = {"i": csv_numbers.INTEGER, "d": csv_numbers.DECIMAL, "s": csv_numbers.SKIP}


def loop(text: bytes, layout: str, at: int = 0, room: int = 1_000) -> tuple[int, list[np.ndarray]]:
    """The loop over `text` whose fields are as `layout` says (i whole, d decimal, s skipped): rows and columns."""
    kinds = np.array([KINDS[k] for k in layout], dtype=np.int64)
    slots = np.cumsum(kinds != csv_numbers.SKIP) - 1
    block = np.full((max(1, int((kinds != csv_numbers.SKIP).sum())), room), -7, dtype=np.int64)
    data = np.frombuffer(bytearray(text + b"\0"), np.uint8)
    rows = csv_numbers.parse(data, ord(","), kinds, slots, block, block.view(np.float64), at)
    return rows, [block[slot].view(np.float64 if k == "d" else np.int64)
                  for slot, k in enumerate(k for k in layout if k != "s")]


def arrow(text: bytes, layout: str) -> list[np.ndarray]:
    types = {f"f{j}": (pa.float64() if k == "d" else pa.int64()) for j, k in enumerate(layout) if k != "s"}
    table = pacsv.read_csv(io.BytesIO(text), read_options=pacsv.ReadOptions(autogenerate_column_names=True),
                           convert_options=pacsv.ConvertOptions(include_columns=list(types), column_types=types))
    return [table.column(name).to_numpy() for name in types]


def plain_text(rng: np.random.Generator, rows: int, layout: str, line_end: bytes) -> bytes:
    def field(kind: str) -> str:
        if kind == "i":
            return str(int(rng.integers(-10**17, 10**17)) if rng.random() < 0.2 else int(rng.integers(0, 200_000)))
        if kind == "s":
            return "".join(rng.choice(list("abc xyz-.:;()'/0123456789"), int(rng.integers(0, 12))))
        digits, decimals = int(rng.integers(1, 16)), int(rng.integers(0, 8))
        text = str(int(rng.integers(0, 10**digits))).zfill(decimals + 1) if rng.random() < 0.7 else \
            str(rng.integers(1, 11) / 2)  # MovieLens's halves, as "4.5" and "3.0"
        if decimals and "." not in text:
            text = text[:-decimals] + "." + text[-decimals:]
        return ("-" if rng.random() < 0.2 else "") + text
    lines = [",".join(field(k) for k in layout) for _ in range(rows)]
    return line_end.join(s.encode() for s in lines) + (line_end if rng.random() < 0.5 else b"")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("layout", ["iid", "iidi", "sisdi", "ds"])
def test_plain_numbers_parse_to_the_bit_as_pyarrow_parses_them(seed, layout) -> None:
    rng = np.random.default_rng(seed)
    text = plain_text(rng, 500, layout, b"\r\n" if seed % 2 else b"\n")
    rows, got = loop(text, layout)
    assert rows == 500
    for mine, theirs in zip(got, arrow(text, layout)):
        np.testing.assert_array_equal(mine[:rows].view(np.int64), theirs.view(np.int64))  # -0.0 and all


def test_rows_go_from_the_row_asked_and_no_further() -> None:
    rows, (users, items, ratings) = loop(b"1,2,3.5\n4,5,.5\n6,7,5.\n", "iid", at=10)
    assert rows == 3 and users[10:13].tolist() == [1, 4, 6] and ratings[10:13].tolist() == [3.5, 0.5, 5.0]
    assert (users[:10] == -7).all() and (users[13:] == -7).all()
    assert loop(b"1,2,3\n" * 5, "iid", room=4)[0] == -1  # more rows than the columns hold: refused, not overrun


@pytest.mark.parametrize("line", [
    "1,2,4e0",  # an exponent
    "1,2,+4",  # a plus sign
    "1, 2,4",  # a space
    "1,2,4 ",
    "1,,4",  # an empty field
    "1,2,",
    "1,2,nan",
    "1,2,inf",
    "1,2",  # a field short
    "1,2,4,5",  # a field more
    "1,2,4.0000000000000001",  # a decimal of more than 15 digits
    "1234567890123456789,2,4",  # a whole number of more than 18
    "1.0,2,4",  # a decimal where a whole number goes
    "--1,2,4",
    "-,2,4",
    "1,2,.",
    '"1",2,4',  # quoted
    "1,2,4\r5,6,7",  # a lone carriage return
    "1,2\x004,5",  # a NUL byte
    "\ufeff1,2,4",  # a byte-order mark
    "",  # a blank line
])
def test_anything_but_plain_numbers_is_refused(line) -> None:
    text = f"1,2,3\n{line}\n7,8,9\n".encode()
    assert loop(text, "iid")[0] == -1


def test_a_quote_in_a_skipped_field_is_refused_as_it_may_hold_a_separator() -> None:
    assert loop(b'1,"Toy Story, The",2,4\n', "isid")[0] == -1
    rows, (users, ratings) = loop(b"1,Toy Story (1995),4\n", "isd")  # unquoted text is skipped
    assert rows == 1 and users[0] == 1 and ratings[0] == 4.0


def test_a_large_file_is_read_by_the_loop_and_what_it_refuses_by_pyarrow(tmp_path, monkeypatch) -> None:
    """Through read_columns: pieces the loop reads and a piece it refuses (one rating in an exponent) agree with a
    read by pyarrow alone."""
    from collabsheet.engine.data import csv_columns

    rng = np.random.default_rng(3)
    body = plain_text(rng, 20_000, "iidi", b"\n").rstrip(b"\n").split(b"\n")
    body[12_345] = b"5,6,3.5e0,7"
    (tmp_path / "r.csv").write_bytes(b"u,m,r,t\n" + b"\n".join(body) + b"\n")
    types = {0: np.dtype(np.int64), 1: np.dtype(np.int64), 2: np.dtype(np.float64), 3: np.dtype(np.int64)}
    loops, parse = [], csv_numbers.parse
    monkeypatch.setattr(csv_numbers, "parse", lambda *a: loops.append(parse(*a)) or loops[-1])

    def read(compiled_from: int) -> list[np.ndarray]:
        monkeypatch.setattr(csv_columns, "COMPILED_FROM", compiled_from)
        return csv_columns.read_columns(tmp_path / "r.csv", types, skip_rows=1, delimiter=",", threads=2,
                                        piece_bytes=1 << 15)

    compiled, loops_used = read(0), len(loops)
    by_arrow = read(1 << 62)
    assert len(loops) == loops_used and loops.count(-1) == 1 and loops_used > 10  # one piece refused, of many
    for mine, theirs in zip(compiled, by_arrow):
        assert len(mine) == 20_000
        np.testing.assert_array_equal(mine.view(np.int64), theirs.view(np.int64))


def test_a_loop_numba_cannot_make_leaves_the_read_to_pyarrow(tmp_path, monkeypatch) -> None:
    from collabsheet.engine.data import csv_columns

    def cannot(*args):
        raise RuntimeError("cannot cache function '_parse': no locator available")  # as numba says it

    (tmp_path / "r.csv").write_bytes(b"u,m,r\n" + b"".join(b"%d,%d,%d.5\n" % (u, u % 7, u % 5) for u in range(3_000)))
    monkeypatch.setattr(csv_numbers, "parse", cannot)
    monkeypatch.setattr(csv_columns, "COMPILED_FROM", 0)
    users, items, ratings = csv_columns.read_columns(tmp_path / "r.csv", {0: np.dtype(np.int64), 1: np.dtype(np.int64),
                                                     2: np.dtype(np.float64)}, skip_rows=1, delimiter=",")
    assert users.tolist() == list(range(3_000)) and ratings[:3].tolist() == [0.5, 1.5, 2.5]
