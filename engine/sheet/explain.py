"""What one cell of the sheet is, with its numbers filled in: the text behind the GUI's explain panel.

Numpy over a Snapshot; a factor's next value comes from the engine's own update rule. Each function returns an
Explanation: a title, the cell's formula with the current values substituted, the terms as (label, value)
pairs, notes in plain words, and the cells that feed it. Every number is written by explanation.fmt.

Hatted symbols (m̂, r̂) appear only in formulas: the panel sets formulas in a monospaced font, where a
combining hat sits over its letter; the proportional font of labels and notes puts it beside the letter.
"""
from __future__ import annotations

from typing import Callable

from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.models import factorization
from collabsheet.engine.optim import rules as optim
from collabsheet.engine.sheet.explanation import ALL, Explanation, Precedent, fmt, operand, power
from collabsheet.engine.sheet.snapshot import BLOCKS, Snapshot

MAX_TERMS = 8  # products written out in a prediction's formula before it is abbreviated with "…"
PRODUCT_PLACES = 3  # decimals of the factors in a written-out dot product: "0.234·(−0.402)"
LINE = ";\n"  # between the lines of a formula: still a separator when a panel runs them into one paragraph


def _setting(value: float) -> str:
    """A setting or constant as the user would type it: 0.9, 0.05, 1×10⁻⁸."""
    return operand(value, places=6, trim=True)


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


# --- predictions and ratings -------------------------------------------------------------------
def prediction(snap: Snapshot, i: int, j: int) -> Explanation:
    """A prediction cell: the dot product written out, biases, squashing, and its error."""
    u, m = snap.user_factors[i], snap.item_factors[:, j]
    products = u * m
    shown = [f"{operand(a, PRODUCT_PLACES)}·{operand(b, PRODUCT_PLACES)}" for a, b in zip(u[:MAX_TERMS], m[:MAX_TERMS])]
    if len(u) > MAX_TERMS:
        shown.append(f"… ({len(u)} products)")
    dot, raw = float(products.sum()), raw_prediction(snap, i, j)
    p = squash(snap, raw)
    terms: list[tuple[str, float]] = [(f"u{f + 1}·m{f + 1}", float(products[f])) for f in range(min(len(u), MAX_TERMS))]
    terms.append(("dot product u·m", dot))
    name = "x" if snap.squash else "p"  # the raw prediction's name: x when the sigmoid comes after it
    if snap.biases:
        bu, bm = float(snap.params["user_bias"][i]), float(snap.params["item_bias"][j])
        lines = [f"u·m = {' + '.join(shown)} = {fmt(dot)}",
                 f"{name} = u·m + user bias + movie bias = {fmt(dot)} + {operand(bu)} + {operand(bm)} = {fmt(raw)}"]
        terms += [("user bias", bu), ("movie bias", bm)]
    else:
        lines = [f"{name} = u·m = {' + '.join(shown)} = {fmt(raw)}"]
    if snap.squash and snap.y_range is not None:
        lo, hi = snap.y_range
        lines.append(f"p = lo + (hi − lo)·σ(x) = {fmt(lo, trim=True)} + {_setting(hi - lo)}·σ({fmt(raw)}) = {fmt(p)}")
        terms.append(("before squashing x", raw))
    terms.append(("prediction p", p))
    if snap.mask[i, j]:
        r = float(snap.ratings[i, j])
        terms += [("rating r", r), ("error p − r", p - r), ("squared error", (p - r) ** 2)]
        notes = ["The loss adds this squared error to every other rated cell's."]
    else:
        notes = ["No rating here, so the sheet leaves the cell blank and the loss ignores it. The number above is "
                 "the model's prediction for it: the lesson's test data, what a recommendation ranks."]
    precedents: list[Precedent] = [("user_factors", (i, ALL)), ("item_factors", (ALL, j))]
    if snap.biases:
        precedents += [("user_bias", (i,)), ("item_bias", (j,))]
    precedents.append(("rating", (i, j)))
    title = f"Prediction: {user_name(snap, i)} × {movie_name(snap, j)}"
    return Explanation(title, LINE.join(lines), tuple(terms), tuple(notes), tuple(precedents))


def rating(snap: Snapshot, i: int, j: int) -> Explanation:
    """A rating cell: the value typed in, and how far the prediction is from it."""
    title = f"Rating: {user_name(snap, i)} × {movie_name(snap, j)}"
    p = squash(snap, raw_prediction(snap, i, j))
    feeds = (("prediction", (i, j)), ("loss", ()))  # a rating is an input: what it feeds is marked instead
    if not snap.mask[i, j]:
        return Explanation(title, "r = (blank)", (("prediction p", p),),
                           ("Blank: not part of the loss; the prediction is the model's guess for it. "
                            "Type a number to rate.",), feeds)
    r = float(snap.ratings[i, j])
    terms = (("rating r", r), ("prediction p", p), ("error p − r", p - r))
    return Explanation(title, f"r = {fmt(r, trim=True)}", terms, ("Type a number to change it; Delete makes it blank.",),
                       feeds)


# --- factors and biases --------------------------------------------------------------------------
Lines = tuple[list[str], list[tuple[str, float]]]  # formula lines and terms of one rule's step


def _next_step(p: float, g: float, state: dict[str, float], h: OptimizerSettings) -> tuple[float, dict[str, float]]:
    """The engine's rule applied to one parameter: its next value and its optimizer state after the step."""
    import torch  # explanations are computed in the worker, which has torch loaded

    s = {k: (v if k == "t" else torch.tensor([float(v)], dtype=torch.float64)) for k, v in state.items()}
    new = torch.tensor([p], dtype=torch.float64)
    optim.update(new, torch.tensor([g], dtype=torch.float64), s, h)
    return float(new), {k: (v if k == "t" else float(v)) for k, v in s.items()}


def _average(name: str, beta_name: str, beta: float, old: float, g: float, new: float, squared: bool = False) -> str:
    """name ← β·name + (1−β)·g (or g²), with numbers: one running average's update."""
    sq = "²" if squared else ""
    return (f"{name} ← {beta_name}·{name} + (1−{beta_name})·g{sq} = {_setting(beta)}·{operand(old)} + "
            f"{_setting(1 - beta)}·{operand(g)}{sq} = {fmt(new)}")


def _sgd(p: float, g: float, old: dict, new: dict, h: OptimizerSettings, nxt: float) -> Lines:
    return [f"p ← p − lr·g = {fmt(p)} − {_setting(h.lr)}·{operand(g)} = {fmt(nxt)}"], []


def _momentum(p: float, g: float, old: dict, new: dict, h: OptimizerSettings, nxt: float) -> Lines:
    v = new["v"]
    return [_average("v", "β", h.beta, old.get("v", 0.0), g, v),
            f"p ← p − lr·v = {fmt(p)} − {_setting(h.lr)}·{operand(v)} = {fmt(nxt)}"], [("velocity v", v)]


def _rmsprop(p: float, g: float, old: dict, new: dict, h: OptimizerSettings, nxt: float) -> Lines:
    r = new["r"]
    step = f"{fmt(p)} − {_setting(h.lr)}·{operand(g)}/(√{operand(r)} + ε)"
    return [_average("r", "β2", h.beta2, old.get("r", 0.0), g, r, squared=True),
            f"p ← p − lr·g/(√r + ε) = {step} = {fmt(nxt)}"], [("squared average r", r)]


def _adam(p: float, g: float, old: dict, new: dict, h: OptimizerSettings, nxt: float) -> Lines:
    lines: list[str] = []
    if h.name == "adamw" and h.weight_decay:
        decayed = p * (1 - h.lr * h.weight_decay)
        shrink = f"(1 − {_setting(h.lr)}·{_setting(h.weight_decay)})"
        lines.append(f"p ← p·(1 − lr·wd) = {fmt(p)}·{shrink} = {fmt(decayed)}")
        p = decayed
    m, r, t = new["m"], new["r"], new["t"]
    m_hat, r_hat = m / (1 - h.beta1**t), r / (1 - h.beta2**t)
    beta1_t, beta2_t = power(fmt(h.beta1, 6, trim=True), t), power(fmt(h.beta2, 6, trim=True), t)
    step = f"{fmt(p)} − {_setting(h.lr)}·{operand(m_hat)}/(√{operand(r_hat)} + ε)"
    lines += [
        _average("m", "β1", h.beta1, old.get("m", 0.0), g, m),
        _average("r", "β2", h.beta2, old.get("r", 0.0), g, r, squared=True),
        f"m̂ = m/(1−β1ᵗ) = {operand(m)}/(1 − {beta1_t}) = {fmt(m_hat)}",
        f"r̂ = r/(1−β2ᵗ) = {operand(r)}/(1 − {beta2_t}) = {fmt(r_hat)}",
        f"p ← p − lr·m̂/(√r̂ + ε) = {step} = {fmt(nxt)}",
    ]
    terms = [("average m", m), (f"bias-corrected m, t = {t}", m_hat), ("squared average r", r),
             (f"bias-corrected r, t = {t}", r_hat)]
    return lines, terms


RULE_TEXT: dict[str, Callable[..., Lines]] = {
    "sgd": _sgd, "momentum": _momentum, "rmsprop": _rmsprop, "adam": _adam, "adamw": _adam,
}
RULE_WORDS = {  # what each rule does, in words (notes use the proportional font: no hatted symbols)
    "sgd": "step against the gradient, lr times it.",
    "momentum": "v is a running average of the gradients (β of the old v, 1−β of the new g); the step follows v, "
                "so it keeps going where successive gradients agree.",
    "rmsprop": "r is a running average of the squared gradients; dividing by √r makes every parameter's step "
               "about lr, however large or small its gradient.",
    "adam": "momentum's average m and RMSProp's r together. Both start at 0, so each is divided by 1−βᵗ "
            "(the bias correction), which matters in the first steps and fades after.",
    "adamw": "Adam, with weight decay taken out of the gradient: the weight first shrinks by lr·wd of itself.",
}


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


def _feeds(block: str, index: tuple[int, ...]) -> tuple[Precedent, ...]:
    """The prediction cells a factor or bias feeds: its user's row or its movie's column."""
    if block == "user_factors":
        return (("prediction", (index[0], ALL)),)
    if block == "item_factors":
        return (("prediction", (ALL, index[1])),)
    return (("prediction", (index[0], ALL) if block == "user_bias" else (ALL, index[0])),)


def parameter(snap: Snapshot, block: str, index: tuple[int, ...]) -> Explanation:
    """A factor or bias cell: its gradient and how the selected optimizer turns it into the next update."""
    if block not in BLOCKS or snap.params.get(block) is None:
        raise ValueError(f"this sheet has no {block.replace('_', ' ')}")
    index = tuple(int(x) for x in index)
    p, g = float(snap.params[block][index]), float(snap.grads[block][index])
    old, h = snap.param_state(block, index), snap.settings
    nxt, new = _next_step(p, g, old, h)
    terms: list[tuple[str, float]] = [("value p", p), ("gradient g = ∂MSE/∂p", g)]
    if snap.rmse > 0:
        terms.append(("∂RMSE/∂p = g/(2·RMSE)", g / (2 * snap.rmse)))
    lines: list[str] = []
    decay = h.weight_decay and h.name != "adamw"
    if decay:  # L2: the rule sees g + wd·p
        lines.append(f"g ← g + wd·p = {fmt(g)} + {_setting(h.weight_decay)}·{operand(p)} = {fmt(g + h.weight_decay * p)}")
        terms.append(("g + wd·p", g + h.weight_decay * p))
        g = g + h.weight_decay * p
    elif h.weight_decay:
        terms.append(("decay −lr·wd·p", -h.lr * h.weight_decay * p))
    rule_lines, rule_terms = RULE_TEXT[h.name](p, g, old, new, h, nxt)
    lines += rule_lines
    terms += rule_terms + [("next update Δp", nxt - p), ("next value p", nxt)]
    notes = [f"{h.label}: {RULE_WORDS[h.name]}", _gradient_formula(snap, block, index),
             "g is the gradient of the mean squared error (MSE = SSE/count), which the steps minimise; the loss cell "
             "shows its root, the RMSE. Both have the same minimum, and ∂RMSE/∂p = ∂MSE/∂p / (2·RMSE)."]
    if not old:
        notes.append("No optimizer state yet: this is the first step since reset or since the optimizer changed.")
    if decay:
        notes.append(f"Weight decay {fmt(h.weight_decay, 6, trim=True)} adds wd·p to the gradient.")
    elif h.weight_decay:
        notes.append(f"AdamW shrinks the weight by lr·wd = {fmt(h.lr * h.weight_decay, 6, trim=True)} of itself first.")
    return Explanation(_param_title(snap, block, index), LINE.join(lines), tuple(terms), tuple(notes),
                       _feeds(block, index))


# --- the loss -------------------------------------------------------------------------------------
def loss(snap: Snapshot) -> Explanation:
    """The loss cell: the root of the mean squared error over the rated cells."""
    mse = snap.sse / snap.count if snap.count else float("nan")
    formula = f"RMSE = √(SSE / count) = √({fmt(snap.sse)} / {snap.count}) = √{operand(mse)} = {fmt(snap.rmse)}"
    terms = [("sum of squared errors SSE", snap.sse), ("rated cells count", snap.count),
             ("mean squared error MSE", mse), ("RMSE", snap.rmse), ("step", snap.step)]
    notes = ["SSE adds (prediction − rating)² over every rated cell; blank cells do not count.",
             "The steps follow the gradient of the MSE, the RMSE squared: the same minimum, simpler derivatives. "
             "∂RMSE/∂p = ∂MSE/∂p / (2·RMSE)."]
    h = snap.settings
    if h.weight_decay and h.name != "adamw":
        squares = sum(float((a * a).sum()) for a in snap.params.values() if a is not None)
        terms.append(("MSE + (wd/2)·Σp²", mse + h.weight_decay / 2 * squares))
        notes.append(f"With weight decay {fmt(h.weight_decay, 6, trim=True)} the steps minimise MSE + (wd/2)·Σp² over "
                     "every factor and bias; the loss cell still shows the RMSE.")
    elif h.weight_decay:
        notes.append("AdamW's weight decay shrinks the weights at each step; it is not part of the loss.")
    if snap.diverged:
        notes.append("Diverged: the last step overflowed, so the sheet kept the last finite factors. "
                     "Lower the learning rate or Reset.")
    precedents = (("rating", (ALL, ALL)), ("prediction", (ALL, ALL)))
    return Explanation("Loss: root mean squared error", formula, tuple(terms), tuple(notes), precedents)


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
