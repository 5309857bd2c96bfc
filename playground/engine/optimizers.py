"""Optimizers on flat parameter buffers, from the simplest to the most elaborate.

Each optimizer writes the step it wants to take into ``out`` (the network's update row);
the caller then adds it to the parameters. Keeping the update separate lets the
diagnostics measure its size against the weights at no extra cost.

Hyper-parameters can be changed between steps with ``set`` (the learning rate is passed to
every ``step`` call, so schedules and live changes cost nothing); the internal state
(velocities, moment estimates, step count) is kept, so training carries on smoothly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .codegen import function_from_lines

OPTIMIZERS: tuple[str, ...] = ("sgd", "rmsprop", "adagrad", "adam", "adamw")

#: Hyper-parameters of each optimizer with their defaults.
DEFAULTS: dict[str, dict[str, float | bool]] = {
    "sgd": {"momentum": 0.0, "nesterov": False},
    "rmsprop": {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-8},
    "adagrad": {"epsilon": 1e-8},
    "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01},
}


#: The functions the lines of ``Optimizer.step_code`` call.
STEP_NAMES: dict[str, object] = {
    "add": np.add, "copyto": np.copyto, "divide": np.divide, "multiply": np.multiply,
    "sqrt": np.sqrt, "subtract": np.subtract, "root": math.sqrt,
}


def compile_step(lines: tuple[str, ...], names: dict) -> Callable[..., None]:
    """``step(params, grad, out, lr, t)`` made from the lines of ``Optimizer.step_code``."""
    return function_from_lines("step", "params, grad, out, lr, t", lines,
                               {**STEP_NAMES, **names}, "<optimizer step>")


def _check_unit(name: str, value: float, closed_top: bool = False) -> float:
    ok = 0.0 <= value <= 1.0 if closed_top else 0.0 <= value < 1.0
    if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
        top = "1]" if closed_top else "1)"
        raise ValueError(f"{name}: must be in [0, {top}, got {value!r}")
    return float(value)


def _check_positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: must be a finite number > 0, got {value!r}")
    return float(value)


def check_learning_rate(lr: float) -> float:
    return _check_positive("learning_rate", lr)


class Optimizer:
    """Base class: holds hyper-parameters and validates changes to them."""

    name = ""
    #: Counts the changes of hyper-parameters: code made from ``step_code`` holds the
    #: values of one version.
    version = 0

    def __init__(self, n_params: int, **hyper: float | bool) -> None:
        self.n_params = n_params
        self.hyper: dict[str, float | bool] = dict(DEFAULTS[self.name])
        self.steps = 0
        self.set(**hyper)

    def set(self, **hyper: float | bool) -> None:
        """Change hyper-parameters; the optimizer's state is kept."""
        for key in hyper:
            if key not in self.hyper:
                allowed = ", ".join(self.hyper) or "none"
                raise ValueError(
                    f"{key}: not a parameter of {self.name} (its parameters: {allowed})")
        merged = {**self.hyper, **hyper}
        self._validate(merged)
        self.hyper = merged
        self._prepare()
        self.version += 1

    def _prepare(self) -> None:
        """Precompute what the steps use from the hyper-parameters (after every ``set``)."""

    def _validate(self, h: dict) -> None:
        for key, value in h.items():
            if key == "nesterov":
                if not isinstance(value, bool):
                    raise ValueError(f"nesterov: must be true or false, got {value!r}")
            elif key in ("momentum", "beta1", "beta2", "rho"):
                _check_unit(key, value)
            elif key == "epsilon":
                _check_positive(key, value)
            elif key == "weight_decay":
                if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                    raise ValueError(f"weight_decay: must be a finite number >= 0, got {value!r}")

    def step(self, params: np.ndarray, grad: np.ndarray, out: np.ndarray, lr: float) -> None:
        """Write the update for this step into ``out``; do not touch ``params``."""
        self.steps += 1
        self._step(params, grad, out, lr)

    def step_code(self, grad: np.ndarray, out: np.ndarray) -> tuple[tuple[str, ...], dict] | None:
        """The step as lines of source, where the optimizer gives them (else None).

        Over the names ``params``, ``grad``, ``out`` (the update, as in ``step``), ``lr``
        and ``t`` (the step count, this step included), the lines write the step into
        ``out``, calling only the functions of STEP_NAMES; the dict holds the other names
        they use (the optimizer's arrays and constants, for these ``grad`` and ``out``).
        The lines hold the hyper-parameters of the current ``version``. ``_step`` runs
        the same lines, compiled, and the trainer's generated step copies them in (see
        ``training_pass``), so each formula is written once."""
        return None

    @staticmethod
    def _scalar(value: float = 0.0) -> np.ndarray:
        """A 0-d array for a number a step uses: a ufunc takes it as it is, whereas a
        Python float is converted on every call (see ``activations.Constants``)."""
        return np.array(float(value))

    def _step(self, params, grad, out, lr):  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the internal state arrays (and the step count)."""
        return {"steps": np.array(self.steps)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.steps = int(state["steps"])


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum.

    With momentum the velocity is kept in parameter units, as scikit-learn does::

        v = momentum * v - lr * g
        step = v                              (classical momentum)
        step = momentum * v - lr * g          (Nesterov, Sutskever et al. 2013)
    """

    name = "sgd"

    def __init__(self, n_params: int, **hyper) -> None:
        self._neg_lr, self._lr = self._scalar(), None
        super().__init__(n_params, **hyper)
        self.velocity = np.zeros(n_params)
        self._tmp = np.empty(n_params)

    def _validate(self, h):
        super()._validate(h)
        if h["nesterov"] and h["momentum"] <= 0:
            raise ValueError("nesterov: needs momentum > 0")

    def _prepare(self):
        self._mu = self._scalar(self.hyper["momentum"])

    def _step(self, params, grad, out, lr):
        if lr != self._lr:
            self._lr, self._neg_lr[()] = lr, -lr
        neg_lr = self._neg_lr
        if not self.hyper["momentum"]:
            np.multiply(grad, neg_lr, out)
            return
        v, tmp, mu = self.velocity, self._tmp, self._mu
        np.multiply(v, mu, v)
        np.multiply(grad, neg_lr, tmp)
        np.add(v, tmp, v)
        if self.hyper["nesterov"]:
            np.multiply(v, mu, out)
            np.add(out, tmp, out)
        else:
            np.copyto(out, v)

    def state(self):
        return {**super().state(), "velocity": self.velocity.copy()}

    def load_state(self, state):
        super().load_state(state)
        self.velocity[...] = state["velocity"]


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients (Hinton, 2012).

    Follows PyTorch: ``s = rho s + (1 - rho) g^2``; ``step = -lr g / (sqrt(s) + eps)``,
    with optional momentum on the scaled gradient.
    """

    name = "rmsprop"

    def __init__(self, n_params: int, **hyper) -> None:
        super().__init__(n_params, **hyper)
        self.square_avg = np.zeros(n_params)
        self.buf = np.zeros(n_params)
        self._tmp = np.empty(n_params)

    def _step(self, params, grad, out, lr):
        rho, eps, mu = self.hyper["rho"], self.hyper["epsilon"], self.hyper["momentum"]
        s, tmp = self.square_avg, self._tmp
        s *= rho
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - rho
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += eps
        if mu:
            self.buf *= mu
            self.buf += grad / tmp
            np.multiply(self.buf, -lr, out=out)
        else:
            np.divide(grad, tmp, out=out)
            out *= -lr

    def state(self):
        return {**super().state(), "square_avg": self.square_avg.copy(), "buf": self.buf.copy()}

    def load_state(self, state):
        super().load_state(state)
        self.square_avg[...] = state["square_avg"]
        self.buf[...] = state["buf"]


class Adagrad(Optimizer):
    """Per-parameter rates that shrink with the sum of past squared gradients (Duchi et al.,
    2011): ``G += g^2``; ``step = -lr g / (sqrt(G) + eps)``."""

    name = "adagrad"

    def __init__(self, n_params: int, **hyper) -> None:
        super().__init__(n_params, **hyper)
        self.sum_sq = np.zeros(n_params)
        self._tmp = np.empty(n_params)

    def _step(self, params, grad, out, lr):
        tmp = self._tmp
        np.multiply(grad, grad, out=tmp)
        self.sum_sq += tmp
        np.sqrt(self.sum_sq, out=tmp)
        tmp += self.hyper["epsilon"]
        np.divide(grad, tmp, out=out)
        out *= -lr

    def state(self):
        return {**super().state(), "sum_sq": self.sum_sq.copy()}

    def load_state(self, state):
        super().load_state(state)
        self.sum_sq[...] = state["sum_sq"]


class Adam(Optimizer):
    """Adam, Algorithm 1 of Kingma and Ba (2015)::

        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        step = -lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    The moments are kept as the decayed sums they are scaled from,
    ``sums = [m / (1 - b1); v / (1 - b2)]``, which advance as ``s = b s + g`` and
    ``s = b s + g^2``: the new terms need no multiplication, and the constant factors
    go into the two numbers the step computes anyway (see ``adam_factors``). ``m`` and
    ``v`` give the moments themselves.
    """

    name = "adam"

    def __init__(self, n_params: int, **hyper) -> None:
        # Both sums are the rows of one array, so one call on (2, P) arrays advances
        # both; with the gradient and its square side by side they take one add.
        self.sums = np.zeros((2, n_params))
        self._terms = np.empty((2, n_params))
        self._tmp = np.empty(n_params)
        self._shift, self._scale = self._scalar(), self._scalar()
        self._compiled: tuple | None = None
        self._betas: tuple[float, float] | None = None
        super().__init__(n_params, **hyper)

    @property
    def m(self) -> np.ndarray:
        """The first moment estimate (a copy)."""
        return self.sums[0] * (1.0 - self.hyper["beta1"])

    @property
    def v(self) -> np.ndarray:
        """The second moment estimate (a copy)."""
        return self.sums[1] * (1.0 - self.hyper["beta2"])

    def _prepare(self):
        h, n = self.hyper, self.n_params
        betas = (h["beta1"], h["beta2"])
        if self._betas is not None and betas != self._betas:
            # The same moments under the new betas (as ``state`` and ``load_state``
            # would carry them over).
            for row, old, new in zip(self.sums, self._betas, betas):
                row *= 1.0 - old
                row /= 1.0 - new
        self._betas = betas
        # The decays as whole rows: a (2, 1) column broadcast over the rows would make
        # the call slower than two separate ones.
        self._decay = np.repeat([[h["beta1"]], [h["beta2"]]], n, axis=1)

    @staticmethod
    def _adjacent_rows(grad: np.ndarray, out: np.ndarray) -> np.ndarray | None:
        """``grad`` and ``out`` as one (2, P) view when they are consecutive rows of one
        array (the network's gradient and update rows are), else None."""
        base = grad.base
        if base is None or out.base is not base or base.ndim != 2 \
                or not base.flags.c_contiguous or base.shape[1] != grad.size:
            return None
        row = (grad.ctypes.data - base.ctypes.data) // base.strides[0]
        if not 0 <= row < base.shape[0] - 1:
            return None
        pair = base[row : row + 2]
        if pair[0].ctypes.data != grad.ctypes.data or pair[1].ctypes.data != out.ctypes.data:
            return None
        return pair

    def step_code(self, grad, out):
        # s = b s + [g; g^2], row by row. g^2 goes into ``out`` (the step overwrites it
        # below), so that when ``out`` follows ``grad`` in memory [g; g^2] is one
        # array, read in place.
        pair = self._adjacent_rows(grad, out)
        if pair is None:
            terms = ("copyto(gradient_term, grad)", "multiply(grad, grad, square_term)")
        else:
            terms = ("multiply(grad, grad, out)",)
        lines = (*terms,
                 "multiply(sums, decay, sums)",
                 "add(sums, terms, sums)",
                 "c2 = root(1.0 - b2 ** t)",
                 "shift[()] = c2 * eps_k",
                 "scale[()] = -lr * c2 * k / (1.0 - b1 ** t)",
                 "sqrt(second, tmp)",
                 "add(tmp, shift, tmp)",
                 "divide(first, tmp, out)",
                 "multiply(out, scale, out)")
        h = self.hyper
        k, eps_k = adam_factors(h["beta1"], h["beta2"], h["epsilon"])
        names = {"terms": self._terms if pair is None else pair,
                 "gradient_term": self._terms[0], "square_term": self._terms[1],
                 "decay": self._decay, "sums": self.sums, "first": self.sums[0],
                 "second": self.sums[1], "tmp": self._tmp, "shift": self._shift,
                 "scale": self._scale, "b1": h["beta1"], "b2": h["beta2"], "k": k,
                 "eps_k": eps_k}
        return lines, names

    def _step(self, params, grad, out, lr):
        kept = self._compiled
        if kept is None or kept[0] is not grad or kept[1] is not out \
                or kept[2] != self.version:
            step = compile_step(*self.step_code(grad, out))
            kept = self._compiled = (grad, out, self.version, step)
        kept[3](params, grad, out, lr, self.steps)

    def state(self):
        return {**super().state(), "m": self.m, "v": self.v}

    def load_state(self, state):
        super().load_state(state)
        self.sums[0] = state["m"] / (1.0 - self.hyper["beta1"])
        self.sums[1] = state["v"] / (1.0 - self.hyper["beta2"])


def adam_factors(beta1: float, beta2: float, epsilon: float) -> tuple[float, float]:
    """The constants of Adam's step on the decayed sums (see ``Adam``).

    With c1 = 1 - b1^t and c2 = sqrt(1 - b2^t),
    ``m_hat / (sqrt(v_hat) + eps) = (c2 / c1) m / (sqrt(v) + c2 eps)``, and with
    ``m = (1 - b1) s1``, ``v = (1 - b2) s2`` this is
    ``(c2 k / c1) s1 / (sqrt(s2) + c2 eps_k)`` for ``k = (1 - b1) / sqrt(1 - b2)`` and
    ``eps_k = eps / sqrt(1 - b2)``, returned here. The compiled kernel uses the same
    two numbers."""
    root = math.sqrt(1.0 - beta2)
    return (1.0 - beta1) / root, epsilon / root


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019): the parameters shrink
    by ``lr * weight_decay`` each step, apart from the gradient-based step."""

    name = "adamw"

    def __init__(self, n_params: int, **hyper) -> None:
        self._rate = self._scalar()
        super().__init__(n_params, **hyper)

    def step_code(self, grad, out):
        lines, names = super().step_code(grad, out)
        wd = self.hyper["weight_decay"]
        if wd:
            # out -= lr wd params (``tmp`` is free again once the Adam step is taken)
            lines += ("rate[()] = lr * wd",
                      "multiply(params, rate, tmp)",
                      "subtract(out, tmp, out)")
            names.update(rate=self._rate, wd=wd)
        return lines, names


_CLASSES: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamw": AdamW,
}


def make_optimizer(name: str, n_params: int, **hyper: float | bool) -> Optimizer:
    """Build an optimizer by name; unknown names and bad values raise ValueError."""
    if name not in _CLASSES:
        raise ValueError(f"optimizer: {name!r} is not one of {', '.join(OPTIMIZERS)}")
    return _CLASSES[name](n_params, **hyper)
