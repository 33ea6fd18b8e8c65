"""load_ratings: every good format in tests/data/ratings loads exactly; every bad one fails in one clear line."""
from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collabsheet.engine.data.ratings import Ratings, RatingsError, detect_columns, load_ratings

DATA = Path(__file__).parent / "data" / "ratings"
GOOD, BAD = DATA / "good", DATA / "bad"


def expected(users: list, items: list, ratings: list[float], times: list[int] | None = None) -> pd.DataFrame:
    """The frame load_ratings should return for these rows, with the dtypes it promises."""
    frame = pd.DataFrame({"user": users, "item": items, "rating": np.array(ratings, dtype=np.float64)})
    return frame if times is None else frame.assign(timestamp=np.array(times, dtype=np.int64))


def load_error(path: Path | str, **kwargs) -> str:
    """The RatingsError message for loading path, checked to be one line naming the file."""
    with pytest.raises(RatingsError) as info:
        load_ratings(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# --- good formats ----------------------------------------------------------------------------


def test_movielens_ratings_csv_reads_ids_ratings_and_sibling_movies_csv():
    path = DATA / "ml-latest-small" / "ratings.csv"
    r = load_ratings(path)
    pd.testing.assert_frame_equal(r.frame, expected(
        [1, 1, 1, 2, 2, 3, 3], [1, 3, 50, 1, 6, 47, 50], [4.0, 4.0, 5.0, 3.5, 0.5, 2.5, 5.0],
        [964982703, 964981247, 964982931, 1445714835, 1445714994, 1306463578, 1306463684]))
    assert r.frame["user"].dtype == np.int64 and r.frame["item"].dtype == np.int64
    assert r.genres[1] == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")
    assert r.genres[50] == ("Crime", "Mystery", "Thriller") and len(r.genres) == 5
    assert r.titles == {1: "Toy Story (1995)", 3: "Grumpier Old Men (1995)", 6: "Heat (1995)",
                        47: "Seven (a.k.a. Se7en) (1995)", 50: "Usual Suspects, The (1995)"}
    assert (r.name, r.source, r.notes) == ("ratings.csv", str(path), ())
    assert (r.n_users, r.n_items, len(r)) == (3, 5, 7)


def test_ml100k_u_data_is_tab_separated_without_header_and_u_item_is_latin1():
    r = load_ratings(DATA / "ml-100k" / "u.data")
    pd.testing.assert_frame_equal(r.frame, expected(
        [196, 186, 22, 196, 186], [242, 302, 377, 377, 1123], [3, 3, 1, 5, 4],
        [881250949, 891717742, 878887116, 886397596, 884182806]))
    assert r.genres == {242: (), 302: (), 377: (), 1123: ()}  # these lines of u.item have every flag 0
    assert r.titles == {242: "Kolya (1996)", 302: "L.A. Confidential (1997)", 377: "Heavyweights (1994)",
                        1123: "Misérables, Les (1995)"}


def test_ml1m_ratings_dat_splits_on_double_colon_and_keeps_colons_in_titles():
    r = load_ratings(DATA / "ml-1m" / "ratings.dat")
    pd.testing.assert_frame_equal(r.frame, expected([1, 1, 2, 2], [1193, 260, 1193, 3408], [5, 4, 3, 2.5],
                                                    [978300760, 978302109, 978298413, 978299839]))
    assert r.genres[260] == ("Action", "Adventure", "Fantasy", "Sci-Fi") and r.genres[3408] == ("Drama",)
    assert r.titles == {260: "Star Wars: Episode IV - A New Hope (1977)",
                        1193: "One Flew Over the Cuckoo's Nest (1975)", 3408: "Erin Brockovich (2000)"}


@pytest.mark.parametrize("columns", [
    {"user_col": "customer", "item_col": "product"},
    {"user_col": "CUSTOMER", "item_col": "Product", "rating_col": "stars"},
    {"user_col": 0, "item_col": 1, "rating_col": 2},
])
def test_semicolon_csv_with_custom_names_loads_with_explicit_columns(columns):
    r = load_ratings(GOOD / "semicolon-custom-names.csv", **columns)
    pd.testing.assert_frame_equal(r.frame, expected(
        ["alice", "bob", "alice", "carol"], ["kettle", "kettle", "toaster", "toaster"], [4, 2, 5, 1]),
        check_dtype=False)
    assert pd.api.types.is_string_dtype(r.frame["user"]) and pd.api.types.is_string_dtype(r.frame["item"])
    assert r.frame["rating"].dtype == np.float64
    assert r.titles == {}


def test_semicolon_csv_with_decimal_commas_reads_them_as_decimals_and_says_so():
    r = load_ratings(GOOD / "semicolon-decimal-comma.csv", user_col="Kunde", item_col="Artikel",
                     rating_col="Bewertung")
    assert r.frame["rating"].tolist() == [4.5, 3.0, 2.5]
    assert r.frame["user"].tolist() == ["anna", "ben", "anna"]
    assert r.notes == ("semicolon-decimal-comma.csv: read ratings with a decimal comma (4,5 as 4.5)",)


def test_one_to_ten_scale_with_user_id_item_id_score_header():
    r = load_ratings(GOOD / "scale-1-10.csv")
    pd.testing.assert_frame_equal(r.frame, expected([10, 10, 20, 20], [100, 200, 100, 300], [1, 10, 7, 8.5]))


def test_zero_to_one_scale_tsv_keeps_string_item_ids_as_str():
    r = load_ratings(GOOD / "scale-0-1.tsv")
    assert r.frame["user"].tolist() == [1, 1, 2, 2] and r.frame["user"].dtype == np.int64
    assert r.frame["item"].tolist() == ["a", "b", "a", "b"]
    assert pd.api.types.is_string_dtype(r.frame["item"])
    assert r.frame["rating"].tolist() == [0.0, 1.0, 0.25, 0.75]


def test_duplicate_pairs_are_averaged_into_one_row_each_and_reported():
    r = load_ratings(GOOD / "duplicates.csv")
    # (1,10): 4,2,3 -> 3; (2,20): 1,2,3 -> 2; the rest are single ratings
    pd.testing.assert_frame_equal(r.frame, expected([1, 2, 1, 2, 2], [10, 10, 20, 20, 30], [3, 5, 3, 2, 4]))
    assert r.notes == ("duplicates.csv: averaged 2 duplicate (user, item) pairs",)


def test_headerless_csv_takes_columns_0_1_2_as_user_item_rating():
    r = load_ratings(GOOD / "headerless.csv")
    pd.testing.assert_frame_equal(r.frame, expected([1, 1, 2], [10, 20, 10], [4, 3, 5]))


def test_name_and_explicit_titles_path_override_the_defaults():
    r = load_ratings(GOOD / "headerless.csv", name="My shop", titles_path=DATA / "ml-1m" / "movies.dat")
    assert r.name == "My shop"
    assert r.titles[260] == "Star Wars: Episode IV - A New Hope (1977)"
    assert isinstance(r, Ratings)


def test_bom_crlf_quotes_spaces_and_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b'\xef\xbb\xbf\r\n"userId", "movieId", "rating"\r\n"1", 10, 4\r\n\r\n'
                     b"2 , 10 , 3.5\r\n1,20,2\r\n\r\n")
    # the blank line makes pandas read the ids as floats; they must still come back as int64
    pd.testing.assert_frame_equal(load_ratings(path).frame, expected([1, 2, 1], [10, 10, 20], [4, 3.5, 2]))


def test_large_file_is_read_beyond_the_sniffed_head(tmp_path):
    n = 200_000
    rng = np.random.default_rng(0)
    users, items = rng.permutation(n), rng.integers(0, 500, n)
    ratings = rng.integers(1, 11, n) / 2
    path = tmp_path / "ratings.csv"
    pd.DataFrame({"userId": users, "movieId": items, "rating": ratings}).to_csv(path, index=False)
    r = load_ratings(path)
    assert len(r) == n and r.n_users == n
    assert np.array_equal(r.frame["item"].to_numpy(), items)
    assert np.array_equal(r.frame["rating"].to_numpy(), ratings)


@pytest.mark.parametrize("content, sep", [
    (b"1|10|4\n2|10|3\n1|20|2\n", "|"),
    (b"1 10  4\n2\t10 3\n1   20 2\n", None),
    (b"1::10::4\n2::10::3\n1::20::2\n", "::"),
], ids=["pipe", "whitespace", "double-colon"])
def test_explicit_or_whitespace_separators(tmp_path, content, sep):
    path = tmp_path / "ratings.txt"
    path.write_bytes(content)
    pd.testing.assert_frame_equal(load_ratings(path, sep=sep).frame, expected([1, 2, 1], [10, 10, 20], [4, 3, 2]))


# --- bad inputs ------------------------------------------------------------------------------

BAD_CASES = [
    # (file, keyword arguments, fragments the message must contain)
    (DATA / "nope" / "ratings.csv", {}, ["no such file"]),
    (DATA / "ml-100k", {}, ["is a folder, not a file"]),
    (BAD / "empty.csv", {}, ["is empty (0 bytes)"]),
    (BAD / "header-only.csv", {}, ["header row (userId, movieId, rating, timestamp)", "no ratings"]),
    (BAD / "no-rating-column.csv", {}, ["no rating column", "'userId', 'movieId', 'timestamp'",
                                        "say which column holds the ratings"]),
    (BAD / "non-numeric-rating.csv", {}, ["line 4 ", "'five'", "not a number"]),
    (BAD / "empty-rating.csv", {}, ["line 3 ", "no rating"]),
    (BAD / "nan-rating.csv", {}, ["line 5 ", "'NaN'", "not a number"]),
    (BAD / "inf-rating.csv", {}, ["line 3 ", "infinite rating (inf)"]),
    (BAD / "neg-inf-rating.csv", {}, ["line 4 ", "infinite rating (-inf)"]),
    (BAD / "huge-rating.csv", {}, ["line 2 ", "infinite rating"]),
    (BAD / "not-utf8.csv", {}, ["line 3 ", "not UTF-8", "0xe9", "CSV UTF-8"]),
    (BAD / "utf16.csv", {}, ["UTF-16", "CSV UTF-8"]),
    (BAD / "binary.csv", {}, ["NUL bytes", "binary"]),
    (BAD / "excel.csv", {}, ["looks like an Excel workbook, not a CSV; save it as CSV"]),
    (BAD / "zip-archive.csv", {}, ["zip archive", "unzip"]),
    (BAD / "one-user.csv", {}, ["only 1 user (7)", "at least 2 users and 2 items"]),
    (BAD / "one-item.csv", {}, ["only 1 item ('tea')", "at least 2 users and 2 items"]),
    (BAD / "ragged.csv", {}, ["line 4 has 4 fields but the other lines have 3"]),
    (BAD / "ragged-late.csv", {}, ["line 32 has 4 fields but the other lines have 3"]),
    (BAD / "missing-user.csv", {}, ["line 4 ", "no user id"]),
    (BAD / "missing-item.csv", {}, ["line 3 ", "no item id"]),
    (BAD / "single-column.csv", {}, ["only one column ('rating')"]),
    (GOOD / "semicolon-custom-names.csv", {}, ["no user column", "'customer', 'product', 'stars'",
                                                "say which column holds the users"]),
    (GOOD / "headerless.csv", {"rating_col": 5}, ["rating column 5 is out of range", "3 columns"]),
    (DATA / "ml-latest-small" / "ratings.csv", {"rating_col": "Stars"}, ["no column named 'Stars'", "'userId'"]),
    (DATA / "ml-latest-small" / "ratings.csv", {"item_col": "userId"}, ["3 different columns"]),
]


@pytest.mark.parametrize("path, kwargs, fragments", BAD_CASES, ids=lambda v: v.name if isinstance(v, Path) else "")
def test_bad_file_raises_one_line_naming_file_and_problem(path, kwargs, fragments):
    message = load_error(path, **kwargs)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("path, kwargs, role", [
    (BAD / "no-rating-column.csv", {}, "rating"),
    (GOOD / "semicolon-custom-names.csv", {}, "user"),
    (GOOD / "headerless.csv", {"rating_col": 5}, "rating"),
    (DATA / "ml-latest-small" / "ratings.csv", {"rating_col": "Stars"}, "rating"),
    (DATA / "ml-latest-small" / "ratings.csv", {"item_col": "userId"}, "item"),
    (GOOD / "headerless.csv", {"sep": "ab"}, "sep"),
    (BAD / "one-user.csv", {}, None),
], ids=["no-rating-column", "no-user-column", "out-of-range", "no-such-name", "same-column", "sep", "file"])
def test_column_errors_name_the_role_for_each_front_end_to_word(path, kwargs, role):
    with pytest.raises(RatingsError) as info:
        load_ratings(path, **kwargs)
    assert info.value.role == role
    assert not re.search(r"\b(user|item|rating)_col\b|\bsep=", str(info.value))  # no Python argument names


def test_broken_sibling_titles_file_is_an_error_naming_the_titles_file():
    titles = BAD / "broken-titles" / "movies.csv"
    message = load_error(BAD / "broken-titles" / "ratings.csv")
    assert message.startswith(f"{titles}: line 3 has item id 'abc'")


@pytest.mark.parametrize("titles, fragment", [
    (BAD / "binary.csv", "NUL bytes"),
    (BAD / "excel.csv", "Excel workbook"),
    (BAD / "empty.csv", "is empty"),
    (DATA / "nope.csv", "no such file"),
])
def test_bad_explicit_titles_file_is_an_error_naming_it(titles, fragment):
    message = load_error(GOOD / "headerless.csv", titles_path=titles)
    assert message.startswith(f"{titles}: ") and fragment in message


@pytest.mark.parametrize("content, fragments", [
    (b"\n\n  \n", ["only blank lines"]),
    (b"userId,movieId,rating\n1,10,4\n2,\"10,3\n1,20,2\n", ["line 3 ", "quote"]),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), ["old Excel workbook (.xls)"]),
    (gzip.compress(b"userId,movieId,rating\n1,10,4\n"), ["gzip"]),
    (b"1,2\n3,4\n", ["only 2 column(s)"]),
    (b"\n\nuserId,movieId,rating\n1,10,4\n\n2,10,x\n", ["line 6 ", "'x'"]),
], ids=["blank", "quote", "xls", "gzip", "two-columns", "after-blank-lines"])
def test_other_bad_content_raises_one_line(tmp_path, content, fragments):
    path = tmp_path / "ratings.csv"
    path.write_bytes(content)
    message = load_error(path)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_freshly_written_xlsx_renamed_to_csv_is_recognised(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["userId", "movieId", "rating"])
    book.active.append([1, 10, 4])
    path = tmp_path / "ratings.csv"
    book.save(path)
    assert "looks like an Excel workbook, not a CSV; save it as CSV" in load_error(path)


@pytest.mark.parametrize("bad_line, fragments", [
    (b"ann,cof,bad\n", ["'bad'", "not a number"]),
    (b"jos\xe9,tea,3\n", ["not UTF-8", "0xe9"]),
    (b"ann,cof,3,extra\n", ["has 4 fields"]),
    (b"ann,,3\n", ["no item id"]),
], ids=["rating", "utf8", "ragged", "item"])
def test_problems_far_past_the_sniffed_head_report_the_right_line(tmp_path, bad_line, fragments):
    path = tmp_path / "big.csv"
    path.write_bytes(b"user,item,rating\n" + b"ann,tea,4\nbob,cof,3\n" * 20_000 + bad_line + b"bob,tea,1\n")
    message = load_error(path)
    assert "line 40002 " in message
    for fragment in fragments:
        assert fragment in message


def test_garbage_never_escapes_as_anything_but_ratings_error(tmp_path):
    rng = random.Random(7)
    alphabet = b"0123456789,;\t:.-e\"' \nabc\xe9\xff"
    for i in range(200):
        path = tmp_path / f"garbage{i}.csv"
        path.write_bytes(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 120))))
        try:
            r = load_ratings(path)
        except RatingsError as e:
            assert "\n" not in str(e) and str(path) in str(e)
        else:
            assert list(r.frame.columns) == ["user", "item", "rating"] and r.frame["rating"].dtype == np.float64


@pytest.mark.parametrize("path, found", [
    (DATA / "ml-latest-small" / "ratings.csv",
     {"sep": ",", "header": ["userId", "movieId", "rating", "timestamp"], "user_col": 0, "item_col": 1,
      "rating_col": 2}),
    (DATA / "ml-1m" / "ratings.dat", {"sep": "::", "header": None, "user_col": 0, "item_col": 1, "rating_col": 2}),
    (GOOD / "scale-0-1.tsv", {"sep": "\t", "header": ["uid", "iid", "rating"], "user_col": 0, "item_col": 1,
                              "rating_col": 2}),
])
def test_detect_columns_reports_what_load_ratings_would_use(path, found):
    assert detect_columns(path) == found


def test_detect_columns_raises_the_same_one_line_errors():
    with pytest.raises(RatingsError, match="no rating column"):
        detect_columns(BAD / "no-rating-column.csv")
