"""Plain-language hints: patterns in the training numbers, said in a sentence.

Each rule looks at the numbers a snapshot carries (per-layer gradient and update sizes,
dead and saturated unit fractions, the loss history) and, when a well-known pattern shows
up, returns a ``Hint`` whose text names the numbers behind it and suggests what to try.
The rules are deliberately conservative: a hint should be worth interrupting a learner
for, so a healthy run (say, ``spiral-relu``) stays quiet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from playground.engine.activations import RELU_FAMILY, SATURATING

#: A layer whose gradient is this many times smaller than the largest one is "vanishing".
VANISHING_RATIO = 100.0
#: ... and this many times larger: "exploding".
EXPLODING_RATIO = 100.0
#: Share of a layer's units that must be dead or saturated for a hint.
UNIT_SHARE = 0.5
#: Update-to-weight ratios outside this band suggest a learning rate far off.
UPDATE_RATIO_HIGH = 0.1
UPDATE_RATIO_LOW = 1e-6
#: The test loss must be this much above its best (relative and absolute, in the loss's own
#: units: tiny losses wobble by large percentages without mattering), and the training loss
#: still falling.
OVERFIT_RISE = 0.25
OVERFIT_MIN_RISE = 0.05
#: Steps of history a hint needs before it speaks (the first steps are noisy).
MIN_STEPS = 200


@dataclass(frozen=True)
class Hint:
    kind: str  # "vanishing", "exploding", "dead", "saturated", "step_size", "overfitting"
    layer: str | None
    text: str
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingState:
    """The numbers the rules read.

    The per-layer gradient norms and update ratios are the recent typical values
    (``typical`` over the last couple of hundred steps), not one noisy step; the unit
    fractions and the learning rate are the current ones. The window's diagnostics view
    builds one from its training history and the latest snapshot.
    """

    step: int
    layer_names: tuple[str, ...]  # hidden layers, then "output"
    activations: tuple[str, ...]  # activation per layer (the head's name for the output)
    units: tuple[int, ...]
    grad_norm: np.ndarray  # (L,) recent typical gradient norm per layer
    update_ratio: np.ndarray  # (L,) recent typical update-to-weight ratio
    dead_fraction: np.ndarray  # (L,) nan where it does not apply
    saturated_fraction: np.ndarray  # (L,)
    learning_rate: float
    eval_step: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    test_loss: np.ndarray = field(default_factory=lambda: np.empty(0))


def typical(values: np.ndarray) -> np.ndarray:
    """Geometric mean over recent steps (rows), per layer: gradients span decades, so the
    log scale is the fair average. Zeros and non-finite values are ignored."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where((v > 0) & np.isfinite(v), np.log10(v), np.nan)
        counts = np.sum(np.isfinite(logs), axis=0)
        sums = np.nansum(logs, axis=0)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return np.where(np.isfinite(means), 10.0**means, np.nan)


def _fmt(x: float) -> str:
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.1e}"


def _times(ratio: float) -> str:
    """'about 1000x' for 1234: round to one significant figure for a readable factor."""
    if ratio >= 10:
        p = 10 ** math.floor(math.log10(ratio))
        return f"about {round(ratio / p) * p:,.0f}x"
    return f"about {ratio:.1f}x"


def _layer_title(name: str) -> str:
    return "the output layer" if name == "output" else name


def gradient_hints(s: TrainingState) -> list[Hint]:
    g = np.asarray(s.grad_norm, dtype=np.float64)
    if len(g) < 3 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        return []
    hints = []
    biggest = int(np.argmax(g))
    smallest = int(np.argmin(g))
    # Vanishing: an early layer far below a later one (gradients shrink on the way back).
    if smallest < biggest and g[biggest] / g[smallest] >= VANISHING_RATIO:
        ratio = g[biggest] / g[smallest]
        low, high = s.layer_names[smallest], s.layer_names[biggest]
        acts = {s.activations[i] for i in range(smallest, biggest)}
        cause = ("Sigmoid and tanh units shrink the gradient at every layer it passes "
                 "back through" if acts & SATURATING else
                 "The gradient shrinks at each layer it passes back through")
        hints.append(Hint(
            "vanishing", low,
            f"{_layer_title(low).capitalize()} gets {_times(ratio)} smaller gradients than "
            f"{_layer_title(high)} ({_fmt(g[smallest])} against {_fmt(g[biggest])}), so it "
            f"barely learns. {cause}: try ReLU-family activations, fewer layers, or batch "
            f"normalization.",
            {"ratio": float(ratio), "low": float(g[smallest]), "high": float(g[biggest])},
        ))
    elif smallest > biggest and g[biggest] / g[smallest] >= EXPLODING_RATIO:
        ratio = g[biggest] / g[smallest]
        high, low = s.layer_names[biggest], s.layer_names[smallest]
        hints.append(Hint(
            "exploding", high,
            f"{_layer_title(high).capitalize()} gets {_times(ratio)} larger gradients than "
            f"{_layer_title(low)} ({_fmt(g[biggest])} against {_fmt(g[smallest])}): "
            f"gradients grow on the way back. A lower learning rate, smaller initial "
            f"weights or batch normalization keep them in check.",
            {"ratio": float(ratio), "low": float(g[smallest]), "high": float(g[biggest])},
        ))
    return hints


def unit_hints(s: TrainingState) -> list[Hint]:
    hints = []
    for i, name in enumerate(s.layer_names):
        act, units = s.activations[i], s.units[i]
        dead = float(s.dead_fraction[i])
        if act in RELU_FAMILY and math.isfinite(dead) and dead >= UNIT_SHARE and units >= 2:
            n_dead = round(dead * units)
            hints.append(Hint(
                "dead", name,
                f"Most units in {name} ({n_dead} of {units}) have stopped responding: their "
                f"input is negative for every training point, so they output a constant and "
                f"pass no gradient. The learning rate may be too high (now "
                f"{_fmt(s.learning_rate)}); try a lower rate, leaky ReLU, or He "
                f"initialization, then reset.",
                {"dead_fraction": dead, "units": float(units)},
            ))
        sat = float(s.saturated_fraction[i])
        if act in SATURATING and math.isfinite(sat) and sat >= UNIT_SHARE and units >= 2 \
                and name != "output":
            n_sat = round(sat * units)
            hints.append(Hint(
                "saturated", name,
                f"Most units in {name} ({n_sat} of {units}) are saturated: for most points "
                f"they sit on a flat tail of {act}, where the slope is nearly zero, so they "
                f"learn very slowly. Smaller initial weights, standardized inputs, a lower "
                f"learning rate or batch normalization help.",
                {"saturated_fraction": sat, "units": float(units)},
            ))
    return hints


def step_size_hints(s: TrainingState) -> list[Hint]:
    r = np.asarray(s.update_ratio, dtype=np.float64)
    r = r[np.isfinite(r) & (r > 0)]
    if len(r) == 0:
        return []
    mid = float(np.median(r))
    if mid > UPDATE_RATIO_HIGH:
        return [Hint(
            "step_size", None,
            f"Each step changes the weights by about {mid:.0%} of their size (a healthy "
            f"rate is nearer 0.1%): the learning rate ({_fmt(s.learning_rate)}) is probably "
            f"too high.", {"update_ratio": mid})]
    if mid < UPDATE_RATIO_LOW:
        return [Hint(
            "step_size", None,
            f"Each step changes the weights by only {mid:.1e} of their size: training has "
            f"nearly stopped. If the loss is still high, raise the learning rate "
            f"({_fmt(s.learning_rate)}).", {"update_ratio": mid})]
    return []


def overfitting_hints(s: TrainingState) -> list[Hint]:
    test, train, steps = (np.asarray(a, dtype=np.float64)
                          for a in (s.test_loss, s.train_loss, s.eval_step))
    if len(test) < 10 or not np.any(np.isfinite(test)):
        return []
    best = int(np.nanargmin(test))
    now_test, best_test = float(test[-1]), float(test[best])
    if not (math.isfinite(now_test) and best_test > 0):
        return []
    rise = now_test / best_test - 1.0
    if rise >= OVERFIT_RISE and now_test - best_test >= OVERFIT_MIN_RISE \
            and train[-1] < train[best] and best < len(test) - 1:
        return [Hint(
            "overfitting", None,
            f"The test loss has risen {rise:.0%} above its best ({_fmt(best_test)} at step "
            f"{int(steps[best])}) while the training loss kept falling "
            f"({_fmt(float(train[best]))} to {_fmt(float(train[-1]))}): the network is "
            f"memorizing the training points. L2, dropout, more data or early stopping help.",
            {"rise": rise, "best_test_loss": best_test, "best_step": float(steps[best])})]
    return []


def compute_hints(state: TrainingState) -> list[Hint]:
    """Every hint that applies to ``state`` (none before ``MIN_STEPS`` steps)."""
    if state.step < MIN_STEPS:
        return []
    return (gradient_hints(state) + unit_hints(state) + step_size_hints(state)
            + overfitting_hints(state))
