"""The sheets kept beside the prepared MovieLens copy: the same crosstab as the data's, and never a stale one."""
from __future__ import annotations

import os

import numpy as np
import pytest

from collabsheet.engine.data import movielens as data
from collabsheet.engine.data.cache import MAX_KEPT_TOP, keep_crosstab, kept_crosstab
from collabsheet.engine.data.crosstab import top_crosstab


@pytest.fixture
def prepared(movielens, tmp_path, monkeypatch):
    """A prepared copy of the real MovieLens ratings in a cache folder of the test's."""
    monkeypatch.delenv("COLLABSHEET_RATINGS", raising=False)
    data._write_cache(movielens, data.cache_folder(tmp_path))
    return tmp_path


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.ratings, b.ratings)  # NaN where blank, in both
    assert (a.user_ids, a.item_ids, a.titles, a.name) == (b.user_ids, b.item_ids, b.titles, b.name)
    assert all(type(x) is type(y) for x, y in zip(a.user_ids + a.item_ids, b.user_ids + b.item_ids))


@pytest.mark.parametrize("top", [15, 40])
def test_a_kept_sheet_is_the_crosstab_of_the_data(prepared, movielens, top):
    assert kept_crosstab(top, prepared) is None  # nothing kept yet
    grid = top_crosstab(movielens, top)
    keep_crosstab(grid, top, prepared)
    _same(kept_crosstab(top, prepared), grid)
    assert kept_crosstab(top + 1, prepared) is None  # another top-N is another sheet


def test_prepare_keeps_the_default_sheet(prepared, movielens, monkeypatch):
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", "http://127.0.0.1:9/x.zip")  # the prepared copy is there
    data.prepare(cache_dir=prepared)
    _same(kept_crosstab(15, prepared), top_crosstab(movielens, 15))


def test_a_new_prepared_copy_makes_the_kept_sheet_stale(prepared, movielens):
    keep_crosstab(top_crosstab(movielens, 15), 15, prepared)
    parquet = data.cache_folder(prepared) / "ratings.parquet"
    stat = parquet.stat()
    os.utime(parquet, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert kept_crosstab(15, prepared) is None


def test_another_default_file_is_never_answered_from_the_kept_sheet(prepared, movielens, monkeypatch, tmp_path):
    keep_crosstab(top_crosstab(movielens, 15), 15, prepared)
    monkeypatch.setenv("COLLABSHEET_RATINGS", str(tmp_path / "mine.csv"))
    assert kept_crosstab(15, prepared) is None


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not a zip", b"\x00" * 100])
def test_a_damaged_kept_sheet_is_read_from_the_data_instead(prepared, movielens, damage):
    keep_crosstab(top_crosstab(movielens, 15), 15, prepared)
    (data.cache_folder(prepared) / "sheet-top15.npz").write_bytes(damage)
    assert kept_crosstab(15, prepared) is None


@pytest.mark.parametrize("kind", ["fifo", "folder", "link"])
def test_what_is_not_a_regular_file_is_never_read_or_replaced(prepared, movielens, kind, tmp_path):
    path = data.cache_folder(prepared) / "sheet-top15.npz"
    target = tmp_path / "elsewhere.npz"
    {"fifo": lambda: os.mkfifo(path), "folder": lambda: path.mkdir(),
     "link": lambda: (target.write_bytes(b"mine"), path.symlink_to(target))}[kind]()
    assert kept_crosstab(15, prepared) is None  # a FIFO would block a read: it is never opened
    keep_crosstab(top_crosstab(movielens, 15), 15, prepared)
    assert (path.is_fifo(), path.is_dir(), path.is_symlink()) == (kind == "fifo", kind == "folder", kind == "link")
    if kind == "link":
        assert target.read_bytes() == b"mine"


def test_a_large_sheet_is_not_kept(prepared, movielens):
    keep_crosstab(top_crosstab(movielens, MAX_KEPT_TOP + 1), MAX_KEPT_TOP + 1, prepared)
    assert kept_crosstab(MAX_KEPT_TOP + 1, prepared) is None
    assert not list(data.cache_folder(prepared).glob("sheet-top*.npz"))


def test_nothing_is_kept_without_a_prepared_copy(movielens, tmp_path):
    keep_crosstab(top_crosstab(movielens, 15), 15, tmp_path)
    assert not data.cache_folder(tmp_path).exists()
    assert kept_crosstab(15, tmp_path) is None

