"""What one cell of the sheet is, with its numbers filled in: the text behind the GUI's explain panel.

Pure numpy over a Snapshot. Each function returns an Explanation: a title, the cell's formula with
the current values substituted, the terms as (label, value) pairs, and notes in plain words.
"""
from __future__ import annotations


from engine.optim import rules as optim
from engine.models import factorization
from engine.sheet.explanation import Explanation, fmt
from engine.sheet.snapshot import BLOCKS, Snapshot

MAX_TERMS = 8  # products written out in a prediction's formula before it is abbreviated with "…"


def _short(value: float) -> str:
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def user_name(snap: Snapshot, i: int) -> str:
    """How the sheet names user row i."""
    return f"user {snap.user_ids[i]}"


def movie_name(snap: Snapshot, j: int) -> str:
    """How the sheet names movie column j: its title (and id when the title is not just the id)."""
    title, item = snap.titles[j], snap.item_ids[j]
    return title if title == str(item) else f"{title} (id {item})"


def raw_prediction(snap: Snapshot, i: int, j: int) -> float:
    """u_i · m_j (+ biases): the prediction before any squashing."""
    bias = (snap.params["user_bias"][i], snap.params["item_bias"][j]) if snap.biases else (None, None)
    return float(factorization.pairs(snap.user_factors[i], snap.item_factors[:, j], *bias))


def squash(snap: Snapshot, raw: float) -> float:
    """The rating-range sigmoid when the sheet squashes, else the raw value."""
    return float(factorization.squash(raw, snap.y_range if snap.squash else None)[0])


def prediction(snap: Snapshot, i: int, j: int) -> Explanation:
    """A prediction cell: the dot product written out, biases, squashing, and its error."""
    u, m = snap.user_factors[i], snap.item_factors[:, j]
    products = u * m
    shown = [f"{_short(a)}·{_short(b)}" for a, b in zip(u[:MAX_TERMS], m[:MAX_TERMS])]
    if len(u) > MAX_TERMS:
        shown.append(f"… ({len(u)} products)")
    dot = float(products.sum())
    formula = " + ".join(shown)
    terms: list[tuple[str, float]] = [(f"u{f + 1}·m{f + 1}", float(products[f])) for f in range(min(len(u), MAX_TERMS))]
    terms.append(("dot product u·m", dot))
    raw = raw_prediction(snap, i, j)
    if snap.biases:
        bu, bm = float(snap.params["user_bias"][i]), float(snap.params["item_bias"][j])
        formula += f" + {_short(bu)} (user bias) + {_short(bm)} (movie bias)"
        terms += [("user bias", bu), ("movie bias", bm)]
    p = squash(snap, raw)
    if snap.squash and snap.y_range is not None:
        lo, hi = snap.y_range
        formula = f"{_short(lo)} + {_short(hi - lo)}·σ({formula}) = {_short(lo)} + {_short(hi - lo)}·σ({_short(raw)})"
        terms.append(("before squashing", raw))
    formula += f" = {p:.4f}"
    terms.append(("prediction p", p))
    notes: list[str] = []
    if snap.mask[i, j]:
        r = float(snap.ratings[i, j])
        terms += [("rating r", r), ("error p − r", p - r), ("squared error", (p - r) ** 2)]
    else:
        notes.append("No rating here, so the sheet leaves the cell blank and the loss ignores it.")
    title = f"Prediction: {user_name(snap, i)} × {movie_name(snap, j)}"
    return Explanation(title, f"p = {formula}", tuple(terms), tuple(notes))


def rating(snap: Snapshot, i: int, j: int) -> Explanation:
    """A rating cell: the value typed in, and how far the prediction is from it."""
    title = f"Rating: {user_name(snap, i)} × {movie_name(snap, j)}"
    if not snap.mask[i, j]:
        return Explanation(title, "r = (blank)", (), ("Blank: not part of the loss. Type a number to rate.",))
    r = float(snap.ratings[i, j])
    p = squash(snap, raw_prediction(snap, i, j))
    terms = (("rating r", r), ("prediction p", p), ("error p − r", p - r))
    return Explanation(title, f"r = {r:g}", terms, ("Type a number to change it; Delete makes it blank.",))


def _gradient_formula(snap: Snapshot, block: str, index: tuple[int, ...]) -> str:
    chain = "·σ′" if snap.squash else ""
    if block == "user_factors":
        i, f = index
        return f"g = (2/{snap.count})·Σⱼ (pⱼ − rⱼ){chain}·m{f + 1},ⱼ over the movies {user_name(snap, i)} rated"
    if block == "item_factors":
        f, j = index
        return f"g = (2/{snap.count})·Σᵢ (pᵢ − rᵢ){chain}·uᵢ,{f + 1} over the users who rated this movie"
    if block == "user_bias":
        return f"g = (2/{snap.count})·Σⱼ (pⱼ − rⱼ){chain} over the movies {user_name(snap, index[0])} rated"
    return f"g = (2/{snap.count})·Σᵢ (pᵢ − rᵢ){chain} over the users who rated this movie"


def _param_title(snap: Snapshot, block: str, index: tuple[int, ...]) -> str:
    if block == "user_factors":
        return f"User factor {index[1] + 1} of {user_name(snap, index[0])}"
    if block == "item_factors":
        return f"Movie factor {index[0] + 1} of {movie_name(snap, index[1])}"
    if block == "user_bias":
        return f"User bias of {user_name(snap, index[0])}"
    return f"Movie bias of {movie_name(snap, index[0])}"


def parameter(snap: Snapshot, block: str, index: tuple[int, ...]) -> Explanation:
    """A factor or bias cell: its gradient and how the selected optimizer turns it into the next update."""
    if block not in BLOCKS or snap.params.get(block) is None:
        raise ValueError(f"this sheet has no {block.replace('_', ' ')}")
    index = tuple(int(x) for x in index)
    p = float(snap.params[block][index])
    g = float(snap.grads[block][index])
    state = snap.param_state(block, index)
    settings = snap.settings
    rule = optim.RULES[settings.name].__doc__ or ""
    terms = (("value p", p),) + tuple(optim.explain(p, g, state, settings))
    notes = [f"{settings.label}: {rule}", _gradient_formula(snap, block, index)]
    if not state:
        notes.append("No optimizer state yet: this is the first step since reset or since the optimizer changed.")
    if settings.weight_decay and settings.name != "adamw":
        notes.append(f"Weight decay {settings.weight_decay:g} adds wd·p to the gradient.")
    elif settings.weight_decay:
        notes.append(f"AdamW shrinks the weight by lr·wd = {settings.lr * settings.weight_decay:g} of itself first.")
    formula = f"p ← p + Δp = {fmt(p)} + ({fmt(terms[-2][1])}) = {fmt(terms[-1][1])}"
    return Explanation(_param_title(snap, block, index), formula, terms, tuple(notes))


def loss(snap: Snapshot) -> Explanation:
    """The loss cell: the root of the mean squared error over the rated cells."""
    mse = snap.sse / snap.count if snap.count else float("nan")
    formula = f"RMSE = √(SSE / count) = √({snap.sse:.4f} / {snap.count}) = √{mse:.6f} = {snap.rmse:.4f}"
    terms = (("sum of squared errors SSE", snap.sse), ("rated cells count", snap.count),
             ("mean squared error", mse), ("RMSE", snap.rmse), ("step", snap.step))
    notes = ["SSE adds (prediction − rating)² over every rated cell; blank cells do not count."]
    if snap.diverged:
        notes.append("Diverged: the last step overflowed, so the sheet kept the last finite factors. "
                     "Lower the learning rate or Reset.")
    return Explanation("Loss: root mean squared error", formula, terms, tuple(notes))


def explain(snap: Snapshot, kind: str, index: tuple[int, ...] = ()) -> Explanation | None:
    """Explain the cell of `kind` ("rating", "prediction", "loss" or a parameter block) at `index`; None for blanks."""
    if kind == "prediction":
        return prediction(snap, *index)
    if kind == "rating":
        return rating(snap, *index)
    if kind == "loss":
        return loss(snap)
    if kind in BLOCKS:
        return parameter(snap, kind, index)
    return None
