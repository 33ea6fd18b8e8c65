"""The Training tab's runner without Qt: curves and progress in frames, the engine's analyses, stop, errors, files."""
from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from collabsheet.engine.config import RunState
from collabsheet.engine.data.ratings import RatingsError
from collabsheet.engine.train.analysis import movie_biases, movie_map, valid_predictions
from collabsheet.engine.train.data import UnknownIdError
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.model import recommend
from collabsheet.engine.train.recipes import Recipe, UnknownRecipeError
from collabsheet.engine.train.store import ModelFileError
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.sheet.frames import LoadRequest
from collabsheet.gui.train.frames import Frame, Joint, rating_edges
from collabsheet.gui.train.runner import FRAME_S, TRAINING_LABEL, VALID_LABEL, TrainRunner
from train_helpers import low_rank_ratings

SMALL = Recipe(model="dotbias", factors=4, epochs=3, lr=0.05, optimizer="adam", bs=32)


@pytest.fixture
def ratings():
    return low_rank_ratings(n_users=50, n_movies=40)


@pytest.fixture
def runner(ratings):
    r = TrainRunner(Mailbox(Frame), device="cpu")
    r.load_ratings(ratings)
    r.mailbox.take()
    return r


def series(frame: Frame, label: str) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) points of one labelled curve in a frame."""
    chunks = [p for p in frame.losses if p.label == label]
    x = np.concatenate([np.arange(p.x0, p.x0 + len(p.values)) for p in chunks])
    return x, np.concatenate([p.values for p in chunks])


def events(frame: Frame, kind: str) -> list[tuple]:
    return [args for name, args in frame.events if name == kind]


def test_a_run_publishes_the_lessons_curves_epochs_and_progress(runner, ratings):
    run = runner.train(SMALL, 7)
    frame = runner.mailbox.take()
    assert frame.clear_run and events(frame, "started") == [(SMALL.name, SMALL.summary())]
    history = run.history
    batches = math.ceil(len(run.data.train) / SMALL.bs)
    assert history.iterations == 3 * batches and not history.stopped
    # The training curve: the smoothed loss after every batch, at x = 1, 2, …; its last value is the epoch line's.
    x, y = series(frame, TRAINING_LABEL)
    np.testing.assert_array_equal(x, np.arange(1, history.iterations + 1))
    assert y[-1] == pytest.approx(history.epochs[-1].train_loss)
    # The validation curve: one point per epoch, where the epoch ended, at the engine's validation MSE.
    vx, vy = series(frame, VALID_LABEL)
    np.testing.assert_array_equal(vx, [batches, 2 * batches, 3 * batches])
    np.testing.assert_allclose(vy, [e.valid_mse for e in history.epochs])
    assert [(r.epoch, r.valid_rmse, r.iteration) for r in frame.epochs] == \
        [(e.epoch, e.valid_rmse, (i + 1) * batches) for i, e in enumerate(history.epochs)]
    p = frame.progress
    assert (p.epoch, p.epochs, p.batch, p.batches, p.iteration) == (3, 3, batches, batches, history.iterations)
    assert p.fraction == 1.0
    assert [s for (s,) in events(frame, "state_changed")] == [RunState.TRAINING, RunState.IDLE]
    # The same settings and seed give the same run in the engine directly (the CPU repeats exactly).
    again = learn(ratings, SMALL, seed=7, device="cpu")
    assert [e.valid_mse for e in again.history.epochs] == pytest.approx([e.valid_mse for e in history.epochs])


def test_when_a_run_ends_the_frame_carries_the_engines_analyses(runner):
    run = runner.train(SMALL, 7)
    frame = runner.mailbox.take()
    results, model = frame.results, run.model
    assert results.valid_rmse == pytest.approx(run.history.valid_rmse) and results.valid_ratings == len(run.data.valid)
    assert events(frame, "trained") == [(results.headline,)]
    assert f"{run.history.valid_rmse:.4f}" in results.headline
    predicted, actual = valid_predictions(model, run.data)
    np.testing.assert_array_equal(results.joint.predicted, predicted)
    np.testing.assert_array_equal(results.joint.actual, actual)
    assert results.joint.counts.sum() == len(actual)
    np.testing.assert_array_equal(results.joint.actual_edges, [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])  # a column per star
    engine_map = movie_map(model)
    np.testing.assert_array_equal(results.movie_map.x, engine_map.x)
    np.testing.assert_array_equal(results.movie_map.y, engine_map.y)
    assert results.movie_map.titles == engine_map.titles
    np.testing.assert_array_equal(results.movie_map.labelled, engine_map.most_rated(15))
    largest, smallest = movie_biases(model, 10)
    assert [(b.title, b.bias) for b in results.largest] == [(b.title, b.bias) for b in largest]
    assert [(b.title, b.bias) for b in results.smallest] == [(b.title, b.bias) for b in smallest]
    np.testing.assert_array_equal(results.users, model.users.ids)
    # The first user's recommendations come with it, as the engine ranks them.
    first = model.users.id_of(0)
    expected = recommend(model, first, 10)
    rec = frame.recommended
    assert rec.user == first and rec.titles == tuple(r.title for r in expected)
    np.testing.assert_allclose(rec.scores, [r.score for r in expected])
    assert rec.rated == len(model.rated_by(0))


def test_recommend_takes_the_id_as_typed_and_names_an_unknown_one(runner):
    run = runner.train(SMALL, 7)
    runner.mailbox.take()
    user = run.model.users.id_of(3)
    shown = runner.recommend(str(user), 5)
    assert shown.user == user and len(shown.titles) == 5
    assert runner.mailbox.take().recommended == shown
    with pytest.raises(UnknownIdError, match="^user 99999 is not in the model"):
        runner.recommend("99999")
    with pytest.raises(UnknownIdError, match="whole numbers"):
        runner.recommend("abc")


def test_models_without_biases_say_so_instead_of_a_table(runner):
    runner.train(SMALL.with_(model="dot", y_range="none"), 1)
    results = runner.mailbox.take().results
    assert results.largest == results.smallest == () and "no biases" in results.no_biases


def test_frames_come_at_most_about_30_a_second(ratings):
    puts = []

    class Counting(Mailbox):
        def put(self, **updates):
            if "progress" in updates:
                puts.append(time.perf_counter())
            super().put(**updates)

    runner = TrainRunner(Counting(Frame), device="cpu")
    runner.load_ratings(ratings)
    run = runner.train(SMALL.with_(epochs=4, bs=8), 1)  # hundreds of batches, a second or so
    assert run.history.iterations > 400
    within_epochs = len(puts) - 4  # each epoch's end publishes at once, so the epoch line is never late
    assert within_epochs <= run.history.seconds / FRAME_S + 2, (len(puts), run.history.seconds)
    assert np.sum(np.diff(puts) < FRAME_S * 0.9) <= 4
    assert len(puts) < run.history.iterations / 5


def test_stop_ends_a_run_between_batches(movielens):
    runner = TrainRunner(Mailbox(Frame), device="cpu")
    runner.load_ratings(movielens)
    runner.train(Recipe(factors=2, epochs=1, bs=40_000), 1)  # the engine imported and warm
    started = threading.Event()
    runner.mailbox.take()

    stopped = []

    class Watching(Mailbox):
        def put(self, **updates):
            if "progress" in updates:
                started.set()
            stopped.extend(kind for kind, _ in updates.get("events", ()) if kind == "stopped")
            super().put(**updates)

    runner.mailbox = Watching(Frame)
    out = []
    worker = threading.Thread(target=lambda: out.append(runner.train("lesson-learner", 1)))
    worker.start()
    assert started.wait(60)
    runner.stop.set()  # at the first progress: well inside the first epoch's 1,250 batches
    worker.join(60)
    assert not worker.is_alive() and stopped == ["stopped"]
    history = out[0].history
    assert history.stopped and history.iterations < 1250 and not history.epochs  # between batches, not at an epoch
    results = runner.mailbox.take().results
    assert results.stopped and results.epochs_done == len(history.epochs)
    # The RMSE shown is of the model where it stopped, not of the last whole epoch.
    predicted, actual = results.joint.predicted, results.joint.actual
    assert results.valid_rmse == pytest.approx(np.sqrt(np.mean((predicted.astype(float) - actual) ** 2)))
    assert runner.model.valid_rmse == results.valid_rmse


@pytest.mark.parametrize("settings, message", [
    (SMALL.with_(bs=10**6), r"^batch size 1,000,000 is larger than the \d+ training ratings; use at most \d+$"),
    ("no-such-recipe", r"^unknown recipe 'no-such-recipe'; choose one of lesson-learner, "),
    (SMALL.with_(model="dot", optimizer="sgd", lr=1e6, y_range="none"), r"^diverged after \d+ batches: .*1e\+06\)$"),
])
def test_bad_settings_are_one_line_errors_and_the_runner_goes_on(runner, settings, message):
    with pytest.raises(ValueError, match=message) as error:
        runner.train(settings)
    assert "\n" not in str(error.value)
    runner.failed("train", str(error.value))  # what the worker does with it: a message event
    frame = runner.mailbox.take()
    assert events(frame, "message")[-1] == ("Training", str(error.value))
    assert runner.state == RunState.IDLE
    assert runner.train(SMALL, 1).history.epochs  # and the next run works


def test_unknown_recipe_names_are_their_own_error(runner):
    with pytest.raises(UnknownRecipeError):
        runner.train("best-ever")


def test_nothing_to_recommend_or_save_before_a_model(runner, tmp_path):
    with pytest.raises(ValueError, match="train or load a model first"):
        runner.recommend("1")
    with pytest.raises(ValueError, match="no trained model to save"):
        runner.save(str(tmp_path / "m.pt"))


def test_save_and_load_round_trip(runner, tmp_path):
    run = runner.train(SMALL.with_(name="small"), 3)
    trained = runner.mailbox.take()
    path = tmp_path / "model.pt"
    runner.save(str(path))
    assert events(runner.mailbox.take(), "notice") == [(f"Saved the model to {path}",)]

    other = TrainRunner(Mailbox(Frame), device="cpu")
    model = other.load(str(path))
    frame = other.mailbox.take()
    assert frame.clear_run and frame.recipe == run.model.recipe
    results = frame.results
    assert results.joint is None and math.isnan(results.seconds)  # its validation ratings are not in the file
    assert results.valid_rmse == pytest.approx(trained.results.valid_rmse)
    assert "when it was trained" in results.headline
    np.testing.assert_array_equal(results.movie_map.x, trained.results.movie_map.x)
    assert results.largest == trained.results.largest
    np.testing.assert_array_equal(results.users, trained.results.users)
    assert frame.recommended.titles == trained.recommended.titles
    np.testing.assert_allclose(frame.recommended.scores, trained.recommended.scores, rtol=1e-6)
    mine, theirs = other.recommend(str(model.users.id_of(2))), runner.recommend(model.users.id_of(2))
    assert (mine.user, mine.rated, mine.movies) == (theirs.user, theirs.rated, theirs.movies)
    np.testing.assert_allclose(mine.scores, theirs.scores, rtol=1e-6)


def test_a_damaged_model_file_is_a_one_line_error_and_the_model_stays(runner, tmp_path):
    runner.train(SMALL, 1)
    model = runner.model
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match=f"^{bad}: not a collabsheet model file"):
        runner.load(str(bad))
    assert runner.model is model


def test_ratings_from_a_file_a_request_or_movielens(tmp_path, movielens):
    runner = TrainRunner(Mailbox(Frame), device="cpu")
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,10,4\n1,11,3\n2,10,5\n2,12,1\n3,11,2\n")
    runner.load_ratings(str(path))
    info = runner.mailbox.take().ratings
    assert (info.ratings, info.users, info.movies, info.low, info.high) == (5, 3, 3, 1.0, 5.0)
    runner.load_ratings(LoadRequest(path=str(path)))
    assert runner.mailbox.take().ratings.ratings == 5
    runner.load_ratings(None)
    frame = runner.mailbox.take()
    assert frame.ratings.ratings == len(movielens) and frame.ratings.name == movielens.name
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item\n1,2\n")
    with pytest.raises(RatingsError):
        runner.load_ratings(str(bad))
    assert runner.ratings.name == movielens.name  # the last good ratings stay


def test_the_histogram_bins_ratings_by_their_steps():
    np.testing.assert_array_equal(rating_edges(np.array([1.0, 2.0, 5.0])), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    np.testing.assert_array_equal(rating_edges(np.array([0.5, 1.0, 4.5])), np.arange(0.25, 4.76, 0.5))
    assert len(rating_edges(np.linspace(0, 1, 500))) == 25  # continuous ratings: even bins
    joint = Joint.of(np.array([1.2, 3.9, 4.4, 4.6]), np.array([1.0, 4.0, 4.0, 5.0]))
    assert joint.counts.sum() == 4 and joint.counts[3].sum() == 2  # the 4-star column holds two
