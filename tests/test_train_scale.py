"""Training whose cost grows with the ratings: row-wise Adam, batch sizes, SVD++ per batch, checkpoints, progress."""
import importlib.util
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from collabsheet.engine.models.lesson import EmbeddingDotBiasImplicit
from collabsheet.engine.optim.rowwise import RowAdam, coalesce_rows
from collabsheet.engine.task import Report, Task
from collabsheet.engine.train.checkpoint import CheckpointError, checkpoint_path, finish_checkpoint, load_checkpoint, write_atomic
from collabsheet.engine.train.data import prepare
from collabsheet.engine.train.fit import BatchEvent, EpochEvent
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.progress import RunProgress, duration_text, rate_text
from collabsheet.engine.train.recipes import RECIPES, Recipe
from train_helpers import low_rank_ratings


@pytest.fixture(scope="module")
def data():
    return prepare(low_rank_ratings(n_users=60, n_movies=50), seed=0)


def test_coalesce_rows_sums_repeated_rows_and_counts_their_uses() -> None:
    grad = torch.sparse_coo_tensor(torch.tensor([[4, 1, 4, 4]]), torch.tensor([[1.0, 2], [3, 4], [5, 6], [7, 8]]),
                                   (6, 2))
    rows, summed, uses = coalesce_rows(grad, 6)
    assert rows.tolist() == [1, 4] and summed.tolist() == [[3, 4], [13, 16]] and uses.tolist() == [1, 3]


@pytest.mark.parametrize("decoupled", [False, True])
def test_row_adam_on_dense_gradients_is_torchs_adam(decoupled) -> None:
    torch.manual_seed(0)
    a = nn.Parameter(torch.randn(5, 3, dtype=torch.float64))
    b = nn.Parameter(a.detach().clone())
    ours = RowAdam([a], lr=0.05, weight_decay=0.1, decoupled=decoupled)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    theirs = cls([b], lr=0.05, weight_decay=0.1, foreach=False)
    for step in range(4):
        for p, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            ((p - step) ** 2 * torch.arange(1.0, 16.0, dtype=torch.float64).view(5, 3)).sum().backward()
            opt.step()
    torch.testing.assert_close(a, b)


def test_row_adam_leaves_unused_rows_alone_and_decays_used_rows_per_use() -> None:
    torch.manual_seed(0)
    emb = nn.Embedding(6, 3, sparse=True).double()
    start = emb.weight.detach().clone()
    opt = RowAdam(emb.parameters(), lr=0.1, weight_decay=0.5)
    idx = torch.tensor([2, 5, 2, 2])
    (emb(idx) * torch.arange(12.0, dtype=torch.float64).view(4, 3)).mean().backward()
    dense = emb.weight.grad.to_dense()
    opt.step()
    unused = [0, 1, 3, 4]
    torch.testing.assert_close(emb.weight[unused], start[unused], rtol=0, atol=0)
    assert (opt.state[emb.weight]["exp_avg"][unused] == 0).all()
    # a used row: torch's Adam on that row alone, its gradient plus wd · uses / lookups · w
    for row, uses in ((2, 3), (5, 1)):
        p = nn.Parameter(start[row].clone())
        ref = torch.optim.Adam([p], lr=0.1, foreach=False)
        p.grad = dense[row] + 0.5 * uses / len(idx) * start[row]
        ref.step()
        torch.testing.assert_close(emb.weight[row], p.detach())


def test_row_adam_decays_a_used_row_by_its_uses_over_its_ratings_and_a_dense_one_by_wd_over_all_ratings() -> None:
    torch.manual_seed(0)
    emb = nn.Embedding(6, 3, sparse=True).double()
    lin = nn.Parameter(torch.randn(4, dtype=torch.float64))
    start, lin_start = emb.weight.detach().clone(), lin.detach().clone()
    counts = torch.tensor([1.0, 1, 4, 1, 1, 2], dtype=torch.float64)  # training ratings of each row
    opt = RowAdam([{"params": [emb.weight], "counts": counts}, {"params": [lin]}], lr=0.1, weight_decay=0.5,
                  ratings=10)
    idx = torch.tensor([2, 5, 2, 2])
    ((emb(idx) * torch.arange(12.0, dtype=torch.float64).view(4, 3)).mean() + (lin * 3).sum()).backward()
    dense = emb.weight.grad.to_dense()
    opt.step()
    # a used row: torch's Adam on that row alone, its gradient plus wd · uses / (its ratings · lookups) · w
    for row, uses in ((2, 3), (5, 1)):
        p = nn.Parameter(start[row].clone())
        ref = torch.optim.Adam([p], lr=0.1, foreach=False)
        p.grad = dense[row] + 0.5 * uses / (counts[row] * len(idx)) * start[row]
        ref.step()
        torch.testing.assert_close(emb.weight[row], p.detach())
    unused = [0, 1, 3, 4]
    torch.testing.assert_close(emb.weight[unused], start[unused], rtol=0, atol=0)
    # a dense parameter: torch's Adam with an L2 of wd / the training ratings, every batch
    p = nn.Parameter(lin_start.clone())
    ref = torch.optim.Adam([p], lr=0.1, weight_decay=0.5 / 10, foreach=False)
    p.grad = torch.full_like(p, 3.0)
    ref.step()
    torch.testing.assert_close(lin.detach(), p.detach())


def test_sparse_recipes_and_batch_sizes() -> None:
    fast = RECIPES["fast"]
    assert all(RECIPES[n].sparse for n in ("fast", "best", "tries"))  # the tuned recipes: all row-wise
    assert not any(r.sparse for n, r in RECIPES.items() if n.startswith("lesson-"))
    assert fast.batch_size(80_000) == fast.bs  # MovieLens 100k: the tuned batch
    assert fast.batch_size(20_000_000) == -(-20_000_000 // fast.epoch_batches)  # 25M: the batch grows instead
    assert not fast.with_(optimizer="momentum", wd=2e-4).sparse  # plain SGD updates every row, as the lesson
    with pytest.raises(ValueError, match="fast trains row-wise.*set one for it too, e.g. 2e-4"):
        fast.with_(optimizer="sgd")  # its wd 20 is spread over the ratings: as SGD's own it would crush the weights
    with pytest.raises(ValueError, match="need adam or adamw"):
        Recipe(optimizer="sgd", sparse=True)


def test_svdpp_sums_only_the_batch_users_movies_and_matches_the_sum_over_everyone() -> None:
    torch.manual_seed(0)
    users = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4, 4])
    movies = torch.tensor([1, 3, 0, 1, 2, 4, 3, 0, 4])
    model = EmbeddingDotBiasImplicit(5, 5, 4, None, users, movies, sparse=True)
    batch = torch.tensor([2, 0, 2])  # 5 of the 9 rated rows: the batch's own sum
    torch.testing.assert_close(model.implicit_of(batch), model.implicit()[batch])
    everyone = torch.tensor([0, 1, 2, 3, 4, 1])  # as many rows as all: summed once for all users
    torch.testing.assert_close(model.implicit_of(everyone), model.implicit()[everyone])
    # the sum over everyone: its gradient of y (a sparse-matrix product) is embedding_bag's own, densely
    model = model.double()
    weights = torch.randn(5, 4, dtype=torch.float64)
    (model.implicit() * weights).sum().backward()
    plain = nn.Parameter(model.y.weight.detach().clone())
    bag = nn.functional.embedding_bag(model.rated_movies, plain, model._offsets, mode="sum",
                                      per_sample_weights=model._weights.double())
    (bag * weights).sum().backward()
    assert not model.y.weight.grad.is_sparse
    torch.testing.assert_close(model.y.weight.grad, plain.grad, rtol=1e-12, atol=1e-12)


def _stop_after(epochs: int) -> tuple[list, Task]:
    """A task cancelled once `epochs` epochs were heard, and the epochs it heard."""
    seen = []

    def heard(r: Report) -> None:
        if isinstance(r.result, EpochEvent):
            seen.append(r.result.epoch)
            if len(seen) >= epochs:
                task.cancel()

    task = Task(heard)
    return seen, task


@pytest.mark.parametrize("name", ["fast", "best"])
def test_a_run_stopped_after_an_epoch_resumes_from_its_checkpoint_exactly(data, tmp_path, name) -> None:
    recipe = RECIPES[name].with_(epochs=3, bs=256, factors=5)
    whole = learn(data, recipe, seed=3)
    ckpt = tmp_path / "m.ckpt"
    seen, task = _stop_after(1)
    first = learn(data, recipe, seed=3, checkpoint=ckpt, task=task)
    assert first.history.stopped and len(first.history.epochs) == 1 and ckpt.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the temporary file was renamed
    rest = learn(data, recipe, seed=3, checkpoint=ckpt, resume=True)
    assert [e.epoch for e in rest.history.epochs] == [1, 2, 3] and not rest.history.stopped
    for (name, a), b in zip(whole.model.module.state_dict().items(), rest.model.module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert rest.history.valid_rmse == whole.history.valid_rmse
    with pytest.raises(CheckpointError, match="already finished all 3 epochs"):
        learn(data, recipe, seed=3, checkpoint=ckpt, resume=True)
    with pytest.raises(CheckpointError, match="was trained with lr 0.01"):
        learn(data, recipe.with_(lr=0.02), seed=3, checkpoint=ckpt, resume=True)
    with pytest.raises(CheckpointError, match="other data or another split"):
        learn(data, recipe, seed=4, checkpoint=ckpt, resume=True)


def test_checkpoint_files_are_never_written_through_links_and_foreign_files_are_refused(tmp_path) -> None:
    assert checkpoint_path(tmp_path / "model.pt") == tmp_path / "model.ckpt"
    with pytest.raises(CheckpointError, match="may not end in .ckpt"):
        checkpoint_path(tmp_path / "model.ckpt")
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    link = tmp_path / "m.ckpt"
    link.symlink_to(target)
    with pytest.raises(CheckpointError, match="is a symbolic link; collabsheet writes a checkpoint only as a new or "
                                              "regular file"):
        write_atomic(link, {"x": 1})
    assert target.read_text() == "keep me" and link.is_symlink()
    assert "not a regular file" in finish_checkpoint(link, done=True) and link.is_symlink()
    (tmp_path / "folder.ckpt").mkdir()
    with pytest.raises(CheckpointError, match="is a folder; collabsheet writes a checkpoint only as a new or regular"):
        write_atomic(tmp_path / "folder.ckpt", {"x": 1})
    torch.save({"format": "something else"}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a collabsheet checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(tmp_path / "junk.ckpt")
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        load_checkpoint(tmp_path / "none.ckpt")
    assert "no epoch finished" in finish_checkpoint(tmp_path / "none.ckpt", done=False)
    (tmp_path / "done.ckpt").write_bytes(b"x")
    assert "removed" in finish_checkpoint(tmp_path / "done.ckpt", done=True)
    assert not (tmp_path / "done.ckpt").exists()


def test_train_cli_resume_needs_save_and_an_existing_checkpoint(capsys, tmp_path) -> None:
    from collabsheet.engine.cli import main as cli
    low_rank_ratings(n_users=30, n_movies=20).frame.to_csv(tmp_path / "r.csv", index=False)
    base = ["train", "--ratings", str(tmp_path / "r.csv"), "--device", "cpu", "--epochs", "2", "--bs", "64"]
    assert cli.main(base + ["--resume"]) != 0
    assert "--resume goes on from the checkpoint beside --save" in capsys.readouterr().err
    assert cli.main(base + ["--resume", "--save", str(tmp_path / "m.pt")]) != 0
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert cli.main(base + ["--save", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "removed the checkpoint" in out and not (tmp_path / "m.ckpt").exists() and (tmp_path / "m.pt").is_file()


def test_progress_without_a_terminal_writes_a_line_every_ten_seconds_with_speed_and_time_left() -> None:
    now = [0.0]
    out, err = io.StringIO(), io.StringIO()
    with RunProgress(2, 100, terminal=False, out=out, err=err, clock=lambda: now[0]) as bars:
        for it in range(1, 21):  # 2 epochs × 10 batches of 100 ratings, 3 s a batch
            now[0] = 3.0 * it
            bars.batch(BatchEvent(it, (it - 1) // 10 + 1, (it - 1) % 10 + 1, 10, 0.5, 0.01, 64))
        bars.epoch(EpochEvent(2, 0.5, 0.8, 0.894, 60.0))
    lines = err.getvalue().splitlines()
    assert len(lines) == 4  # at 15, 27, 39 and 51 s: the first batch (at 3 s) starts the clock
    assert lines[0] == "epoch 1/2 · batch 5/10 · 25% of the run · loss 0.5000 · 42 ratings/s · 36 s left"
    assert out.getvalue().startswith("epoch 2/2  train loss 0.5000  valid MSE 0.8000  valid RMSE 0.8940")
    assert rate_text(2_050_000) == "2.05M" and rate_text(12_345) == "12.3k" and duration_text(185) == "3 min 5 s"


def test_bench_scale_writes_seeded_movielens_shaped_ratings(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("scale", Path(__file__).parents[1] / "bench" / "scale.py")
    scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale)
    scale.synthetic_csv(tmp_path / "a.csv", 5_000, 300, 200)
    scale.synthetic_csv(tmp_path / "b.csv", 5_000, 300, 200)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    import pandas as pd
    frame = pd.read_csv(tmp_path / "a.csv")
    assert len(frame) == 5_000 and not frame.duplicated(["userId", "movieId"]).any()
    assert set(np.unique(frame["rating"])) <= {x / 2 for x in range(1, 11)}
    counts = frame["movieId"].value_counts().to_numpy()
    assert counts[0] > 5 * np.median(counts)  # a few popular movies, many rarely rated: Zipf-like
    assert os.path.getsize(tmp_path / "a.csv") > 0
    figures = scale.one(tmp_path / "a.csv", epochs=1, threads=None, surprise=False, also=("best",))
    for run in (figures["best"], {"rate": figures["fast_rate"], "rmse": figures["fast_rmse"]}):
        assert run["rate"] > 0 and 0.1 < run["rmse"] < 3


def test_loading_a_large_file_reports_the_bytes_read_and_reads_what_the_careful_path_reads(tmp_path, monkeypatch):
    import collabsheet.engine.data.ratings as ratings_module
    from collabsheet.engine.data.ratings import load_ratings
    rng = np.random.default_rng(0)
    n = 20_000
    users, movies = np.sort(rng.integers(1, 500, n)), rng.integers(1, 300, n)
    lines = "".join(f"{u},{m},{r}\n" for u, m, r in zip(users, movies, rng.integers(1, 11, n) / 2))
    (tmp_path / "r.csv").write_text("userId,movieId,rating,timestamp\n".replace(",timestamp", "") + lines)
    heard = []
    monkeypatch.setattr(ratings_module, "PROGRESS_EVERY", 0.0)  # every read reports, so a small file shows it
    read_fast, used = ratings_module._read_fast, []
    monkeypatch.setattr(ratings_module, "_read_fast", lambda *a: used.append(read_fast(*a)) or used[-1])
    fast = load_ratings(tmp_path / "r.csv", task=Task(lambda r: heard.append((r.message, r.fraction))))
    assert heard and heard[-1][1] == 1.0 and heard[-1][0].startswith(f"Reading {tmp_path / 'r.csv'}: ")
    assert [f for _, f in heard] == sorted(f for _, f in heard)
    assert used and used[0] is not None  # pyarrow read it
    monkeypatch.setattr(ratings_module, "_read_fast", lambda *a: None)  # the C engine's path, as before
    careful = load_ratings(tmp_path / "r.csv")
    pd_testing = __import__("pandas").testing
    pd_testing.assert_frame_equal(fast.frame, careful.frame)
    assert fast.notes == careful.notes and any("duplicate" in note for note in fast.notes)


def test_past_the_first_chunk_a_nul_byte_or_a_comment_line_still_takes_the_careful_path(tmp_path) -> None:
    from collabsheet.engine.data.ratings import RatingsError, load_ratings
    rows = "".join(f"{u},{m},{(u + m) % 5 + 1}\n" for u in range(1, 400) for m in range(1, 300))  # ~1.3 MB
    assert len(rows) > 1 << 20
    (tmp_path / "nul.csv").write_text("user,item,rating\n" + rows + "7,7\x00,3\n")
    with pytest.raises(RatingsError, match="contains NUL bytes"):
        load_ratings(tmp_path / "nul.csv")
    (tmp_path / "comment.csv").write_text("user,item,rating\n" + rows + "# a comment at the end\n")
    (tmp_path / "plain.csv").write_text("user,item,rating\n" + rows)
    commented, plain = load_ratings(tmp_path / "comment.csv"), load_ratings(tmp_path / "plain.csv")
    assert commented.frame.equals(plain.frame) and len(plain.frame) == 399 * 299


def test_row_wise_training_runs_on_one_cpu_thread_and_gives_the_threads_back(data) -> None:
    before, seen = torch.get_num_threads(), set()
    learn(data, RECIPES["fast"].with_(epochs=1, bs=256), seed=0, task=Task(lambda r: seen.add(torch.get_num_threads())))
    assert seen == {1} and torch.get_num_threads() == before


def test_a_parsed_file_with_an_infinite_rating_is_still_named_by_line(tmp_path) -> None:
    from collabsheet.engine.data.ratings import RatingsError, load_ratings
    (tmp_path / "inf.csv").write_text("user,item,rating\n1,1,4\n1,2,inf\n2,1,3\n")
    with pytest.raises(RatingsError, match="line 3 has an infinite rating"):
        load_ratings(tmp_path / "inf.csv")
