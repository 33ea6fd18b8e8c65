"""Training quality and speed on MovieLens 100k (seeded 80/20 split) side by side; GPU throughput at 25M scale.

Run: .venv/bin/python bench/train.py [--device cpu|cuda] [--skip-lessons] [--skip-surprise] [--splits] [--ablation]
Prints one line per model; the figures in README come from here. --ablation takes the lesson's things to try out
of `tries` one at a time (and adds them to `best` one at a time) on u1 and the random splits. scikit-surprise's SVD runs when the
optional `bench` extra is installed (pip install -e '.[bench]'); the throughput line runs only where CUDA is.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.device import device_label, pick_device
from collabsheet.engine.train.data import TrainData, prepare, split_indices, synthetic
from collabsheet.engine.train.fit import fit
from collabsheet.engine.train.build import make_model, make_optimizer
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.recipes import RECIPES, Recipe

SEED = 42
LESSON = {  # what the lesson itself reports for each run (on ml-latest-small, its own split)
    "lesson-learner": "lesson: RMSE ≈ 0.88 (ml-latest-small)",
    "lesson-dot": "lesson: no figure printed for it",
    "lesson-dotbias": "lesson: MSE 0.8099",
    "lesson-net": "lesson: MSE 0.8071",
}
TARGETS = {"fast": (0.900, 3.0), "best": (0.895, None)}
U1_TARGET = (0.895, 60.0)  # tries on u1: RMSE, seconds on 2 CPU cores (stretch 0.889)
ABLATION = (  # (label, changes to tries): each thing to try left out, then best plus each alone
    ("tries: genres + time + ensemble of 5", {}),
    ("  without genres", {"genres": "off"}),
    ("  without time", {"time": "off"}),
    ("  without the ensemble (1 model)", {"ensemble": 1}),
    ("best (none of them)", {"genres": "off", "time": "off", "ensemble": 1}),
    ("  best + genres", {"time": "off", "ensemble": 1}),
    ("  best + time", {"genres": "off", "ensemble": 1}),
    ("  best + ensemble of 5", {"genres": "off", "time": "off"}),
)
SCALE_25M = (25_000_000, 162_000, 59_000)  # ratings, users, movies of MovieLens 25M


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"# {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, Python "
            f"{platform.python_version()}, load average {load:.1f} at start (other work slows these figures)")


def run_recipe(data: TrainData, recipe: Recipe) -> str:
    """One recipe on the split: validation RMSE and MSE, wall-clock and CPU seconds of training."""
    cpu = time.process_time()
    run = learn(data, recipe, seed=SEED)
    cpu = time.process_time() - cpu
    h = run.history
    line = (f"{recipe.name:>15}  RMSE {h.valid_rmse:.4f}  MSE {h.epochs[-1].valid_mse:.4f}  "
            f"{h.seconds:6.1f} s ({cpu:.1f} s CPU)  {recipe.summary()}")
    if recipe.name in TARGETS:
        rmse, seconds = TARGETS[recipe.name]
        met = h.valid_rmse <= rmse and (seconds is None or h.seconds <= seconds)
        line += f"  [target ≤ {rmse}{f' in ≤ {seconds:g} s' if seconds else ''}: {'ok' if met else 'NOT MET'}]"
    return line + (f"  [{LESSON[recipe.name]}]" if recipe.name in LESSON else "")


def multi_split(ratings, names: list[str], device: torch.device) -> None:
    """Each recipe on random splits 1, 2, 3 and ml-100k's u1: every RMSE, then mean ± sd (not one lucky split)."""

    datas = split_datas(ratings, device)
    print(f"# validation RMSE on {', '.join(datas)} (model seed {SEED}); mean ± sd over them")
    for name in names:
        rmses = [learn(d, RECIPES[name], seed=SEED).history.valid_rmse for d in datas.values()]
        cells = "  ".join(f"{label} {r:.4f}" for label, r in zip(datas, rmses))
        print(f"{name:>15}  {cells}  mean {np.mean(rmses):.4f} ± {np.std(rmses, ddof=1):.4f}", flush=True)


def split_datas(ratings, device: torch.device) -> dict:
    """u1 (MovieLens 100k only) and the random splits 1, 2, 3, each prepared once."""
    from collabsheet.engine.train.flags import prepare_split

    splits = (["u1"] if ratings.name == "MovieLens 100k" else []) + ["random:1", "random:2", "random:3"]
    return {label: prepare_split(ratings, None, label, SEED, device)[0] for label in splits}


def ablation(ratings, device: torch.device) -> None:
    """tries with each thing to try left out, and best with each added, on u1 and random:1, 2, 3 (mean ± sd);
    u1's wall-clock and CPU seconds beside, and the u1 target."""
    datas = split_datas(ratings, device)
    print(f"# the things to try, one at a time: validation RMSE on {', '.join(datas)} (model seed {SEED}); "
          "seconds are u1's (wall, CPU)")
    for label, changes in ABLATION:
        recipe = RECIPES["tries"].with_(**changes, name="tries")
        rmses, timing = [], ""
        for split, data in datas.items():
            cpu = time.process_time()
            h = learn(data, recipe, seed=SEED).history
            cpu = time.process_time() - cpu
            rmses.append(h.valid_rmse)
            if split == "u1":
                timing = f"{h.seconds:6.1f} s ({cpu:5.1f} s CPU)"
        cells = "  ".join(f"{r:.4f}" for r in rmses)
        line = f"  {label:<40} {cells}  random mean {np.mean(rmses[1:]):.4f} ± {np.std(rmses[1:], ddof=1):.4f}  {timing}"
        if not changes and "u1" in datas:
            rmse, seconds = U1_TARGET
            met = rmses[0] <= rmse
            line += f"  [u1 target ≤ {rmse} (stretch 0.889): {'ok' if met else 'NOT MET'}; ≤ {seconds:g} s: see timing]"
        print(line, flush=True)


def surprise_svd(ratings) -> str:
    """scikit-surprise's SVD with its defaults on the same 80/20 split."""
    try:
        from surprise import SVD, Dataset, Reader, accuracy
    except ImportError:
        return "  surprise SVD  not installed (pip install -e '.[bench]' builds scikit-surprise; needs a C compiler)"
    frame = ratings.frame[["user", "item", "rating"]]
    held = np.zeros(len(frame), dtype=bool)
    held[split_indices(len(frame), seed=SEED)] = True
    low, high = frame["rating"].min(), frame["rating"].max()
    train = Dataset.load_from_df(frame[~held], Reader(rating_scale=(low, high))).build_full_trainset()
    algo = SVD(random_state=0)
    start = time.perf_counter()
    algo.fit(train)
    seconds = time.perf_counter() - start
    test = list(frame[held].itertuples(index=False, name=None))
    rmse = accuracy.rmse(algo.test(test), verbose=False)
    return (f"   surprise SVD  RMSE {rmse:.4f}  MSE {rmse**2:.4f}  {seconds:6.1f} s  "
            "(its defaults: 100 factors, 20 epochs of SGD)")


def throughput(device: torch.device, n_ratings: int, n_users: int, n_movies: int, bs: int, epochs: int = 2,
               runs: list | None = None) -> float:
    """Training ratings per second of the fit loop: dot + bias, k = 50, Adam, synthetic ratings, after a warm-up epoch.

    runs, when given, receives the warm-up's and the timed fit's results (what the figure was computed from)."""
    data = synthetic(n_ratings, n_users, n_movies, device=device)
    recipe = RECIPES["fast"].with_(bs=bs, epochs=epochs)
    model = make_model(recipe, n_users, n_movies, data.rating_range).to(device)
    opt = make_optimizer(recipe, model, device, data.train)
    warm = fit(model, data, 1, opt, bs=bs)  # warm-up: kernels, allocator, fused optimizer
    result = fit(model, data, epochs, opt, bs=bs)
    if runs is not None:
        runs += [warm, result]
    return epochs * len(data.train) / result.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="device for the MovieLens 100k runs (default cpu)")
    p.add_argument("--skip-lessons", action="store_true", help="only fast, best and surprise")
    p.add_argument("--skip-surprise", action="store_true")
    p.add_argument("--splits", action="store_true", help="also each recipe on random:1,2,3 and u1, mean ± sd")
    p.add_argument("--ablation", action="store_true", help="only the things to try, one at a time (tries vs best)")
    args = p.parse_args()
    device = pick_device(args.device)
    print(machine())
    ratings = default_ratings()
    if args.ablation:
        ablation(ratings, device)
        return
    data = prepare(ratings, seed=SEED, device=device)
    print(f"# {ratings.name}: {len(data.train):,} training, {len(data.valid):,} validation ratings "
          f"(seeded 80/20 split, seed {SEED}) · {device_label(device)}")
    names = ["fast", "best", "tries"] + ([] if args.skip_lessons else [n for n in RECIPES if n.startswith("lesson-")])
    for name in names:
        print(run_recipe(data, RECIPES[name]), flush=True)
    if not args.skip_surprise:
        print(surprise_svd(ratings), flush=True)
    if args.splits:
        multi_split(ratings, names, device)
    if torch.cuda.is_available():
        cuda = torch.device("cuda")
        rate = throughput(cuda, *SCALE_25M, bs=262_144)
        print(f"# {device_label(cuda)}: dot + bias k=50, Adam, batch 262,144, synthetic MovieLens-25M scale "
              f"(25 M ratings, 162k users, 59k movies): {rate / 1e6:,.0f} M ratings/s  [target ≥ 200 M/s: "
              f"{'ok' if rate >= 200e6 else 'NOT MET'}]")
    else:
        print("# CUDA throughput at MovieLens-25M scale: not measured (no CUDA GPU here); "
              "bench/train.py measures it where torch sees one")


if __name__ == "__main__":
    main()
