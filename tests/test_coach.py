"""The coach: its verdicts on real runs of the sheet and on made-up loss curves, with evidence and fixes."""
import numpy as np
import pytest

from collabsheet.engine.config import OptimizerSettings as O
from collabsheet.engine.sheet import coach
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.sheet.timeline import Timeline

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)


def grads_with_peak(block: str, index: tuple) -> dict:
    grads = {"user_factors": np.full((15, 5), 0.01), "item_factors": np.full((5, 15), -0.01),
             "user_bias": None, "item_bias": None}
    if block in grads and grads[block] is not None:
        grads[block][index] = -7.5
    return grads


def test_a_rising_loss_is_divergence_with_its_start_and_the_largest_gradient() -> None:
    losses = np.concatenate([np.linspace(3.0, 1.0, 481), 1.0 * 1.05 ** np.arange(1, 13)])
    users = tuple(range(381, 396))
    d = coach.diagnose(losses, O("sgd", lr=0.2), grads=grads_with_peak("user_factors", (12, 3)), user_ids=users)
    assert d.kind == "diverging" and d.step == 480 and d.cell == ("user_factors", (12, 3))
    assert d.evidence.startswith("loss rose 12 steps in a row from step 480 (1 → 1.796)")
    assert d.evidence.endswith("the largest gradient was on user 393's factors")
    lower, switch = d.fixes
    assert (lower.step, lower.settings) == (480, O("sgd", lr=0.02))
    assert switch.step == 480 and switch.settings.name == "adam" and "lr ÷ 10" in lower.label


def test_a_short_or_small_rise_is_not_divergence() -> None:
    ringing = np.concatenate([np.linspace(3.0, 1.0, 300), 1.0 + 1e-4 * np.arange(1, 13)])  # rises by 0.1%
    assert coach.diagnose(ringing, O("momentum")) is None
    few = np.concatenate([np.linspace(3.0, 1.0, 300), 1.0 * 1.05 ** np.arange(1, 9)])
    assert coach.diagnose(few, O("momentum")) is None


def test_a_non_finite_loss_names_the_last_good_step() -> None:
    losses = np.array([2.0, 1.5, 1.2, np.inf, np.nan])
    d = coach.diagnose(losses, O("sgd", lr=1.0), start=100)
    assert d.kind == "diverging" and d.step == 102 and "became inf at step 103" in d.evidence


@pytest.mark.parametrize("lr", [3.0, 10.0, 20.0], ids=["chaotic", "second step", "first step"])
def test_a_refused_step_is_divergence_and_its_fix_recovers(grid15, lr: float) -> None:
    """SGD at lr 3 is chaotic on this sheet: one ulp in one factor moves the refused step by hundreds, and the
    state just before it is already far from the best. lr 10 is refused at its second step, lr 20 at its first,
    on any CPU. The coach's fix goes back to where the loss was last calm, and a tenth of the lr recovers."""
    alone = Sheet(grid15, settings=O("sgd", lr=lr), device="cpu")
    alone.step(5000)
    timeline = Timeline(Sheet(grid15, settings=O("sgd", lr=lr), device="cpu"))
    result = timeline.step(5000)
    kept = timeline.sheet.steps
    assert result.diverged and kept == alone.steps  # the timeline steps as the sheet alone does, wherever it stops
    if lr == 20.0:
        assert kept == 0
    losses = timeline.curve().losses
    d = coach.diagnose_snapshot(losses, timeline.sheet.snapshot())
    assert d.kind == "diverging" and "refused" in d.evidence and 0 <= d.step <= kept
    assert "the largest gradient was on user" in d.evidence or "the largest gradient was on the" in d.evidence
    if len(losses):  # calm: within CALM of the best loss up to there, and the last such step
        calm = losses <= coach.CALM * np.minimum.accumulate(losses)
        assert calm[d.step] and not calm[d.step + 1:].any()
    fix = d.fixes[0]
    timeline.seek(max(fix.step - 12, 0))  # the GUI may show the fix anywhere; it acts at its own step
    timeline.rewind(fix.step, fix.settings)
    assert timeline.position == ((0, kept) if fix.step == kept else (1, fix.step))
    assert timeline.sheet.settings.lr == pytest.approx(lr / 10)
    after = timeline.step(300)
    assert not after.diverged and after.losses[-1] < after.losses[0]


def test_a_run_that_blows_up_at_once_gets_a_fix_from_its_start() -> None:
    """No loss recorded yet and the sheet refused its step: diverging, back to the start."""
    d = coach.diagnose(np.empty(0), O("sgd", lr=20.0), start=7, diverged=True)
    assert d.kind == "diverging" and d.step == 7 and d.fixes[0].settings.lr == pytest.approx(2.0)
    assert coach.diagnose(np.empty(0), O("sgd", lr=20.0)) is None


def test_sgd_with_too_high_a_rate_oscillates(grid15) -> None:
    sheet = Sheet(grid15, settings=O("sgd", lr=2.5), device="cpu")
    result = sheet.step(1000)
    assert not result.diverged
    d = coach.diagnose_snapshot(result.losses, sheet.snapshot())
    assert d.kind == "oscillating" and d.evidence.startswith("the loss went up in ")
    window = result.losses[-101:]
    assert d.step == 899 + int(np.argmin(window))  # the best step of the window
    assert d.fixes[0].settings.lr == pytest.approx(0.25)
    timeline = Timeline(Sheet(grid15, settings=O("sgd", lr=2.5), device="cpu"))
    timeline.step(1000)
    timeline.rewind(d.step, d.fixes[0].settings)  # a past step: a new branch, the oscillating one stays
    assert timeline.position == (1, d.step) and timeline.view()[0].end == 1000
    assert coach.diagnose(timeline.step(500).losses, timeline.sheet.settings) is None


def test_a_tiny_rate_stalls_and_the_fix_goes_on_from_here(grid15) -> None:
    sheet = Sheet(grid15, settings=O("sgd", lr=1e-6), device="cpu")
    result = sheet.step(600)
    d = coach.diagnose_snapshot(result.losses, sheet.snapshot(), start=0)
    assert d.kind == "stalled" and d.step == 600 and "in the last 500 steps" in d.evidence
    assert d.fixes[0].settings.lr == pytest.approx(1e-5) and d.fixes[1].settings.name == "adam"


def test_a_solved_sheet_has_converged_not_stalled(grid15) -> None:
    sheet = Sheet(grid15, settings=O("sgd", lr=1e-3), device="cpu")
    sheet.solve()
    result = sheet.step(600)
    d = coach.diagnose_snapshot(result.losses, sheet.snapshot())
    assert d.kind == "converged" and not d.fixes


def test_a_healthy_run_gets_no_verdict(grid15) -> None:
    sheet = Sheet(grid15, settings=O("adam", lr=0.05), device="cpu")
    result = sheet.step(300)
    assert coach.diagnose_snapshot(result.losses, sheet.snapshot()) is None
    assert coach.diagnose(np.empty(0), O()) is None


def test_the_largest_gradient_is_named_by_its_block() -> None:
    titles = tuple(f"Movie {j}" for j in range(15))
    losses = np.concatenate([np.linspace(3.0, 1.0, 100), 1.0 * 1.1 ** np.arange(1, 12)])
    d = coach.diagnose(losses, O("adam"), grads=grads_with_peak("item_factors", (2, 7)), titles=titles)
    assert d.evidence.endswith("the factors of Movie 7") and d.fixes[1].settings.name == "momentum"
    grads = {"user_factors": np.zeros((2, 1)), "item_factors": np.zeros((1, 3)), "user_bias": np.zeros(2),
             "item_bias": np.array([0.0, np.nan, 1.0])}
    d = coach.diagnose(losses, O("adam"), grads=grads, titles=("A", "B", "C"))
    assert d.cell == ("item_bias", (1,)) and d.evidence.endswith("the bias of B")


def test_a_jump_under_the_sigmoid_is_a_divergence_and_a_recovered_spike_is_not():
    """Adam at lr 100 under the sigmoid: 0.18 → 2.30 in one step, then saturated near 2.3–2.4 (never refused, never
    rising ten steps in a row); the coach said nothing. A spike the run has come back from is no verdict."""
    settings = O("adam", lr=100)
    losses = np.array([0.1770, 2.2999, 2.2999, 2.4420, 2.3900])
    d = coach.diagnose(losses, settings, start=6200)
    assert d is not None and d.kind == "diverging"
    assert "jumped ×13 in one step after step 6200 (0.177 → 2.3)" in d.evidence and "2.39 now" in d.evidence
    assert d.step == 6200 and d.fixes[0].settings.lr == 10
    assert coach.diagnose(np.array([0.5, 0.49, 1.8, 0.6, 0.5]), settings) is None  # back within 1.5× of its best
    assert coach.diagnose(np.array([0.5, 1.4, 1.3]), settings) is None  # a rise of less than 3×
