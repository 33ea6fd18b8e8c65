"""Training at bigger-MovieLens scale: collabsheet's `fast` beside plain torch, on seeded synthetic ratings.

Run: .venv/bin/python bench/scale.py [--sizes 1M,10M,25M] [--epochs N] [--keep DIR] [--timestamps] [--also best]
For each size it writes a CSV shaped like that MovieLens (Zipf-like users and movies, ratings 0.5–5 in
halves, a rank-8 taste model plus noise), then in a fresh process (so peak memory is that size's own):
loads it with collabsheet's loader and with pandas' default read_csv, trains `fast` on a seeded 80/20
split, and trains a plain reference (torch nn.Embedding(sparse=True) + torch.optim.SparseAdam, dot +
bias, same k and batch). Then each loader once more, alone in a fresh process, taking turns: a first
load pays for touching fresh memory. Rates are ratings per second of wall-clock time and per CPU second
(time.process_time, every thread of the process): on a shared machine the second says more about the code,
the first about the wait; the load average is printed beside each size.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {"1M": (1_000_000, 6_000, 4_000), "10M": (10_000_000, 70_000, 10_000), "25M": (25_000_000, 162_000, 59_000)}
SEED = 42
REFERENCE_EPOCHS = 1
SURPRISE = {"n_factors": 50, "n_epochs": 10}  # scikit-surprise's SVD as issue 21 ran it (the bench extra)


def zipf_ids(rng: np.random.Generator, n: int, size: int, a: float) -> np.ndarray:
    """`size` ids in 0..n−1, id r drawn with weight 1/(r + 10)^a (popular first), then shuffled ids."""
    weights = 1.0 / (np.arange(n) + 10.0) ** a
    cdf = np.cumsum(weights)
    picks = np.searchsorted(cdf, rng.random(size) * cdf[-1])
    return rng.permutation(n)[picks]  # popularity not tied to the id's order


def synthetic_csv(path: Path, n: int, users: int, movies: int, seed: int = SEED, timestamps: bool = False) -> None:
    """Write n seeded ratings (user,item,rating with a header) shaped like MovieLens to path; with `timestamps`, a
    fourth column of seconds as MovieLens's ratings.csv has (uniform over ml-25m's span)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    u, m = zipf_ids(rng, users, n * 13 // 10, 0.6), zipf_ids(rng, movies, n * 13 // 10, 0.9)
    # one rating per (user, movie), as MovieLens: the first draw of each pair, the first n of those
    _, first = np.unique(u.astype(np.int64) * movies + m, return_index=True)
    keep = np.sort(rng.permutation(first)[:n])
    if len(keep) < n:
        raise ValueError(f"only {len(keep):,} distinct pairs drawn for {n:,} ratings")
    u, m = u[keep], m[keep]
    order = np.lexsort((m, u))  # sorted by user, then movie, as MovieLens's ratings.csv
    u, m = u[order], m[order]
    k = 8
    taste_u = rng.standard_normal((users, k), dtype=np.float32) / k**0.5
    taste_m = rng.standard_normal((movies, k), dtype=np.float32)
    bias_u, bias_m = 0.4 * rng.standard_normal(users), 0.5 * rng.standard_normal(movies)
    r = np.empty(n, dtype=np.float64)
    for at in range(0, n, 1 << 22):  # in chunks: n × k floats at once would be gigabytes
        s = slice(at, at + (1 << 22))
        r[s] = (3.5 + bias_u[u[s]] + bias_m[m[s]] + (taste_u[u[s]] * taste_m[m[s]]).sum(1)
                + 0.6 * rng.standard_normal(len(r[s])))
    r = np.clip(np.round(r * 2) / 2, 0.5, 5.0)
    table = pa.table({"userId": u + 1, "movieId": m + 1, "rating": r})
    if timestamps:  # ml-25m's first and last rating times, 1995-01-09 and 2019-11-21
        table = table.append_column("timestamp", pa.array(rng.integers(789_652_009, 1_574_327_704, n)))
    pacsv.write_csv(table, path)


def peak_gib() -> float:
    """This process's peak resident memory in GiB: Linux's VmHWM where there is one, since getrusage's ru_maxrss
    carries over exec the peak of the process it was forked from (here, the bench that wrote the CSV)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 2**20  # KiB
    except (OSError, StopIteration, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def surprise_svd(data, out: dict) -> None:
    """scikit-surprise's SVD (k=50, 10 epochs) on the same split, when installed: time and RMSE."""
    try:
        from surprise import SVD, Dataset, Reader
    except ImportError:
        return
    import pandas as pd

    tr, va = data.train, data.valid
    frame = pd.DataFrame({"u": tr.users.numpy(), "i": tr.movies.numpy(), "r": tr.ratings.numpy()})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=data.rating_range)).build_full_trainset()
    del frame
    algo = SVD(random_state=0, **SURPRISE)
    t, c = time.perf_counter(), time.process_time()
    algo.fit(trainset)
    out["svd_s"], out["svd_cpu"] = time.perf_counter() - t, time.process_time() - c
    out["svd_rate"] = SURPRISE["n_epochs"] * len(tr) / out["svd_s"]
    # its model's own arithmetic, vectorised (algo.predict is a Python call per rating): inner ids are ours
    u_inner = {trainset.to_raw_uid(i): i for i in range(trainset.n_users)}
    m_inner = {trainset.to_raw_iid(i): i for i in range(trainset.n_items)}
    vu, vm, vr = va.users.numpy(), va.movies.numpy(), va.ratings.numpy().astype(np.float64)
    ui = np.array([u_inner.get(int(x), -1) for x in vu]), np.array([m_inner.get(int(x), -1) for x in vm])
    pred = np.full(len(vr), trainset.global_mean)
    known_u, known_m = ui[0] >= 0, ui[1] >= 0
    pred[known_u] += algo.bu[ui[0][known_u]]
    pred[known_m] += algo.bi[ui[1][known_m]]
    both = known_u & known_m
    pred[both] += (algo.pu[ui[0][both]] * algo.qi[ui[1][both]]).sum(1)
    pred = np.clip(pred, *data.rating_range)
    out["svd_rmse"] = float(np.sqrt(np.mean((pred - vr) ** 2)))
    out["svd_peak_gib"] = peak_gib()


def one(path: Path, epochs: int | None, threads: int | None, surprise: bool = True,
        workers: int | None = None, also: tuple[str, ...] = ()) -> dict:
    """Load, train fast and the reference on one CSV; the figures as a dict."""
    import pandas as pd
    import torch
    import torch.nn.functional as F
    from torch import nn

    from collabsheet.engine.data.ratings import load_ratings
    from collabsheet.engine.train.data import prepare
    from collabsheet.engine.train.learn import learn
    from collabsheet.engine.train.recipes import RECIPES

    if threads:
        torch.set_num_threads(threads)
    if workers:  # fast's Python threads per batch (engine.train.rowstep), instead of one per core up to 2
        import collabsheet.engine.train.rowstep as rowstep
        rowstep.cpu_workers = lambda: workers
    out: dict = {"load_before": os.getloadavg()[0]}
    t, c = time.perf_counter(), time.process_time()
    frame = pd.read_csv(path)
    out["pandas_load_s"], out["pandas_load_cpu"] = time.perf_counter() - t, time.process_time() - c
    del frame
    t, c = time.perf_counter(), time.process_time()
    ratings = load_ratings(path)
    out["load_s"], out["load_cpu"] = time.perf_counter() - t, time.process_time() - c
    data = prepare(ratings, seed=SEED)
    out["users"], out["movies"], out["train"] = len(data.users), len(data.movies), len(data.train)
    recipe = RECIPES["fast"] if epochs is None else RECIPES["fast"].with_(epochs=epochs, name="fast")
    bs = recipe.batch_size(len(data.train))
    out["bs"], out["epochs"] = bs, recipe.epochs
    t, c = time.perf_counter(), time.process_time()
    run = learn(data, recipe, seed=SEED)
    out["fast_s"], out["fast_cpu"] = time.perf_counter() - t, time.process_time() - c
    out["fast_rmse"] = run.history.valid_rmse
    out["fast_rate"] = recipe.epochs * len(data.train) / run.history.seconds
    out["fast_rate_cpu"] = recipe.epochs * len(data.train) / out["fast_cpu"]
    out["fast_peak_gib"] = peak_gib()
    out["load_fast"] = os.getloadavg()[0]  # the last minute's load average as fast ends
    del run
    for name in also:  # other recipes on the same split (best: SVD++, row-wise)
        other = RECIPES[name] if epochs is None else RECIPES[name].with_(epochs=epochs, name=name)
        t, c = time.perf_counter(), time.process_time()
        run = learn(data, other, seed=SEED)
        seconds, cpu = run.history.seconds, time.process_time() - c
        out[name] = {"s": time.perf_counter() - t, "rmse": run.history.valid_rmse, "epochs": other.epochs,
                     "bs": other.batch_size(len(data.train)), "rate": other.epochs * len(data.train) / seconds,
                     "rate_cpu": other.epochs * len(data.train) / cpu, "peak_gib": peak_gib()}
        del run

    # the reference: what a torch user writes first for sparse embeddings
    torch.manual_seed(SEED)
    nu, nm, k = len(data.users), len(data.movies), recipe.factors
    emb = nn.ModuleDict({"u": nn.Embedding(nu, k, sparse=True), "m": nn.Embedding(nm, k, sparse=True),
                         "ub": nn.Embedding(nu, 1, sparse=True), "mb": nn.Embedding(nm, 1, sparse=True)})
    for e in emb.values():
        nn.init.uniform_(e.weight, -0.01, 0.01)
    opt = torch.optim.SparseAdam(list(emb.parameters()), lr=recipe.lr)
    mean = float(data.train.ratings.mean())

    def forward(u: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return ((emb["u"](u) * emb["m"](m)).sum(1) + emb["ub"](u).squeeze(1) + emb["mb"](m).squeeze(1) + mean)

    tr = data.train
    t, c = time.perf_counter(), time.process_time()
    g = torch.Generator().manual_seed(SEED)
    for _ in range(REFERENCE_EPOCHS):
        order = torch.randperm(len(tr), generator=g)
        for at in range(0, len(tr), bs):
            idx = order[at:at + bs]
            loss = F.mse_loss(forward(tr.users[idx], tr.movies[idx]), tr.ratings[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    out["ref_s"], out["ref_cpu"] = time.perf_counter() - t, time.process_time() - c
    out["ref_rate"] = REFERENCE_EPOCHS * len(tr) / out["ref_s"]
    out["ref_rate_cpu"] = REFERENCE_EPOCHS * len(tr) / out["ref_cpu"]
    with torch.no_grad():
        va = data.valid
        pred = torch.cat([forward(va.users[a:a + (1 << 20)], va.movies[a:a + (1 << 20)]).clamp(0.5, 5)
                          for a in range(0, len(va), 1 << 20)])
        out["ref_rmse"] = float(F.mse_loss(pred, va.ratings)) ** 0.5
    out["peak_gib"] = peak_gib()
    out["threads"] = torch.get_num_threads()
    del emb, opt
    if surprise:
        surprise_svd(data, out)
    return out


def fresh_load(path: Path, loader: str) -> dict:
    """One load of the CSV in this (fresh) process, by collabsheet or by pandas' read_csv: wall and CPU seconds, peak
    memory, and the page faults of the load (fresh memory touched: the cost a first load pays)."""
    import pandas as pd

    from collabsheet.engine.data.ratings import load_ratings

    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t, c = time.perf_counter(), time.process_time()
    if loader == "pandas":
        pd.read_csv(path)
    else:
        load_ratings(path)
    return {"s": time.perf_counter() - t, "cpu": time.process_time() - c, "peak_gib": peak_gib(),
            "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}


def fresh_loads(path: Path, rounds: int = 2) -> dict:
    """Each loader's first load in a fresh process, taking turns (collabsheet, pandas, …): the runs' figures."""
    runs: dict = {"collabsheet": [], "pandas": []}
    for _ in range(rounds):
        for loader in runs:
            done = subprocess.run([sys.executable, __file__, "--load", str(path), "--loader", loader],
                                  capture_output=True, text=True, check=True)
            runs[loader].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1M,10M", help="comma-separated of " + ", ".join(SIZES) + " (default 1M,10M)")
    p.add_argument("--epochs", type=int, default=None, help="fast's epochs (default: the recipe's)")
    p.add_argument("--keep", metavar="DIR", help="keep the CSVs here (and reuse them)")
    p.add_argument("--timestamps", action="store_true",
                   help="give the ratings a timestamp column, as MovieLens's ratings.csv has (loaded, not trained on)")
    p.add_argument("--also", default="", metavar="RECIPES",
                   help="train these recipes too, after fast, comma-separated (e.g. best: SVD++, row-wise)")
    p.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: torch's choice)")
    p.add_argument("--workers", type=int, default=None,
                   help="fast's Python threads per batch on the CPU (default: 2 on 2 cores or more)")
    p.add_argument("--surprise-up-to", default="10M", metavar="SIZE",
                   help="run scikit-surprise's SVD up to this size (default 10M: at 25M it needs ~12 GiB)")
    p.add_argument("--no-surprise", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-fresh-loads", action="store_true", help="skip timing each loader alone in a fresh process")
    p.add_argument("--load-rounds", type=int, default=2, metavar="N",
                   help="turns each loader takes at a first load in a fresh process (default 2)")
    p.add_argument("--one", metavar="CSV", help=argparse.SUPPRESS)  # the child process: one size, JSON out
    p.add_argument("--load", metavar="CSV", help=argparse.SUPPRESS)  # the child process: one load, JSON out
    p.add_argument("--loader", default="collabsheet", help=argparse.SUPPRESS)
    args = p.parse_args()
    also = tuple(n.strip() for n in args.also.split(",") if n.strip())
    if args.load:
        print(json.dumps(fresh_load(Path(args.load), args.loader)))
        return
    if args.one:
        print(json.dumps(one(Path(args.one), args.epochs, args.threads, not args.no_surprise, args.workers, also)))
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            p.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    from collabsheet.engine.train.recipes import RECIPES
    for name in also:
        if name not in RECIPES:
            p.error(f"--also {name!r}: choose from {', '.join(RECIPES)}")
    load = os.getloadavg()[0]
    import torch
    print(f"# {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, Python "
          f"{platform.python_version()}, load average {load:.1f} at start (others' work on the machine slows wall-clock "
          "figures; per-CPU-second ones less)", flush=True)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="collabsheet-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    rates = {}
    for s in sizes:
        n, users, movies = SIZES[s]
        path = folder / f"synthetic-{s}{'-timestamps' * args.timestamps}.csv"
        if not path.exists():
            t = time.perf_counter()
            synthetic_csv(path, n, users, movies, timestamps=args.timestamps)
            print(f"# {s}: wrote {path} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.0f} s",
                  flush=True)
        cmd = [sys.executable, __file__, "--one", str(path)] + (["--epochs", str(args.epochs)] if args.epochs else []) \
            + (["--threads", str(args.threads)] if args.threads else []) \
            + (["--workers", str(args.workers)] if args.workers else []) \
            + (["--also", ",".join(also)] if also else []) \
            + (["--no-surprise"] if SIZES[s][0] > SIZES.get(args.surprise_up_to, (0,))[0] else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{s}: failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        rates[s] = r["fast_rate"], r["fast_rate_cpu"]
        print(f"{s:>4} ({r['train']:,} training ratings, {r['users']:,} users × {r['movies']:,} movies, batch "
              f"{r['bs']:,}, {r['threads']} torch thread(s); load average {r['load_before']:.1f} at the start, "
              f"{r['load_fast']:.1f} as fast ended)\n"
              f"     load CSV: collabsheet {r['load_s']:.1f} s ({r['load_cpu']:.1f} s CPU) · pandas read_csv "
              f"{r['pandas_load_s']:.1f} s ({r['pandas_load_cpu']:.1f} s CPU)\n"
              f"     fast ({r['epochs']} epochs): {r['fast_rate'] / 1e6:.2f}M ratings/s ({r['fast_rate_cpu'] / 1e6:.2f}M "
              f"per CPU s) · {r['fast_s']:.0f} s · RMSE {r['fast_rmse']:.4f} · peak {r['fast_peak_gib']:.2f} GiB\n"
              f"     plain torch sparse + SparseAdam ({REFERENCE_EPOCHS} epochs): {r['ref_rate'] / 1e6:.2f}M ratings/s "
              f"({r['ref_rate_cpu'] / 1e6:.2f}M per CPU s) · {r['ref_s']:.0f} s · RMSE {r['ref_rmse']:.4f}", flush=True)
        for name, x in r.items():
            if isinstance(x, dict):
                print(f"     {name} ({x['epochs']} epochs, batch {x['bs']:,}): {x['rate'] / 1e6:.2f}M ratings/s "
                      f"({x['rate_cpu'] / 1e6:.2f}M per CPU s) · {x['s']:.0f} s · RMSE {x['rmse']:.4f} · peak "
                      f"{x['peak_gib']:.2f} GiB", flush=True)
        if "svd_rmse" in r:
            print(f"     scikit-surprise SVD (k=50, 10 epochs): {r['svd_rate'] / 1e6:.2f}M ratings/s · {r['svd_s']:.0f} s · "
                  f"RMSE {r['svd_rmse']:.4f} · peak {r['svd_peak_gib']:.2f} GiB", flush=True)
        if not args.no_fresh_loads:
            before = os.getloadavg()[0]
            loads = fresh_loads(path, args.load_rounds)
            shown = " · ".join(f"{who} " + ", ".join(f"{x['s']:.1f} s ({x['cpu']:.1f} s CPU, {x['faults'] / 1e3:.0f}k "
                                                     f"page faults, peak {x['peak_gib']:.2f} GiB)" for x in runs)
                               for who, runs in loads.items())
            print(f"     first load in a fresh process, taking turns: {shown} (load average {before:.1f})", flush=True)
    if len(rates) > 1:
        first, last = sizes[0], sizes[-1]
        if first in rates and last in rates:
            print(f"# ratings/s at {last} ÷ at {first}: {rates[last][0] / rates[first][0]:.2f} wall-clock, "
                  f"{rates[last][1] / rates[first][1]:.2f} per CPU second (target ≥ 0.5)")


if __name__ == "__main__":
    main()
