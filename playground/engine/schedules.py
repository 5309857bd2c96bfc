"""Learning-rate schedules and early stopping.

A schedule gives a factor that multiplies the base learning rate at a given step, so the
learner can still change the base rate mid-run and the schedule keeps shaping it.
Reduce-on-plateau is the one schedule that listens: ``observe`` is told the monitored loss
at every evaluation and halves (by ``factor``) the rate when it stops improving.
"""

from __future__ import annotations

import math

SCHEDULES: tuple[str, ...] = ("constant", "step", "exponential", "cosine", "reduce_on_plateau")


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    return value


def _fraction(name: str, value: float, low_open: bool = True, high_open: bool = False) -> float:
    ok_low = value > 0 if low_open else value >= 0
    ok_high = value < 1 if high_open else value <= 1
    if not (isinstance(value, (int, float)) and math.isfinite(value) and ok_low and ok_high):
        lo = "(0" if low_open else "[0"
        hi = "1)" if high_open else "1]"
        raise ValueError(f"{name}: must be in {lo}, {hi}, got {value!r}")
    return float(value)


class Schedule:
    name = "constant"

    def factor(self, step: int) -> float:
        """Multiplier of the base learning rate at ``step`` (0-based)."""
        return 1.0

    def observe(self, value: float) -> None:
        """Told the monitored loss after each evaluation; only plateau schedules use it."""


class Constant(Schedule):
    name = "constant"


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps."""

    name = "step"

    def __init__(self, step_size: int = 1000, gamma: float = 0.5) -> None:
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _fraction("gamma", gamma)

    def factor(self, step):
        return self.gamma ** (step // self.step_size)


class ExponentialDecay(Schedule):
    """Smooth decay: the rate is multiplied by ``decay_rate`` every ``decay_steps`` steps."""

    name = "exponential"

    def __init__(self, decay_rate: float = 0.5, decay_steps: int = 1000) -> None:
        self.decay_rate = _fraction("decay_rate", decay_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)

    def factor(self, step):
        return self.decay_rate ** (step / self.decay_steps)


class CosineDecay(Schedule):
    """Half a cosine from 1 down to ``min_factor`` over ``total_steps`` (Loshchilov and
    Hutter, 2017, without restarts); it stays at ``min_factor`` afterwards."""

    name = "cosine"

    def __init__(self, total_steps: int = 5000, min_factor: float = 0.0) -> None:
        self.total_steps = _positive_int("total_steps", total_steps)
        self.min_factor = _fraction("min_factor", min_factor, low_open=False, high_open=True)

    def factor(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_factor + (1.0 - self.min_factor) * cosine


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` when the monitored loss has not improved (by a
    relative 1e-4) for ``patience`` evaluations; never below ``min_factor``."""

    name = "reduce_on_plateau"
    threshold = 1e-4

    def __init__(self, factor: float = 0.5, patience: int = 50, min_factor: float = 0.0) -> None:
        self.reduce_by = _fraction("factor", factor, high_open=True)
        self.patience = _positive_int("patience", patience)
        self.min_factor = _fraction("min_factor", min_factor, low_open=False, high_open=True)
        self.current = 1.0
        self.best = math.inf
        self.waited = 0

    def factor(self, step):
        return self.current

    def observe(self, value):
        if not math.isfinite(value):
            return
        if value < self.best * (1.0 - self.threshold):
            self.best = value
            self.waited = 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            self.current = max(self.current * self.reduce_by, self.min_factor)
            self.waited = 0


_CLASSES = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": ExponentialDecay,
    "cosine": CosineDecay,
    "reduce_on_plateau": ReduceOnPlateau,
}


def make_schedule(name: str, **params) -> Schedule:
    """Build a schedule by name; unknown names or parameters raise ValueError."""
    if name not in _CLASSES:
        raise ValueError(f"schedule: {name!r} is not one of {', '.join(SCHEDULES)}")
    try:
        return _CLASSES[name](**params)
    except TypeError as exc:
        raise ValueError(f"schedule {name}: {exc}") from None


class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` steps.

    With ``restore_best`` the trainer puts back the parameters of the best evaluation.
    """

    def __init__(self, patience: int = 500, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        self.patience = _positive_int("patience", patience)
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta)
                and min_delta >= 0):
            raise ValueError(f"min_delta: must be a finite number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.best = math.inf
        self.best_step = 0

    def observe(self, step: int, value: float) -> tuple[bool, bool]:
        """Record a loss at ``step``; returns (improved, should_stop)."""
        if math.isfinite(value) and value < self.best - self.min_delta:
            self.best = value
            self.best_step = step
            return True, False
        return False, step - self.best_step >= self.patience
