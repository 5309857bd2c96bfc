"""Activation functions, each written once beside its derivative.

Every activation is a pair of functions working on whole arrays:

* ``forward(z, out, alpha)`` writes ``f(z)`` into ``out``;
* ``derivative(z, a, out, alpha)`` writes ``f'(z)`` into ``out``, where ``a = f(z)``
  is passed in so that functions like tanh and sigmoid can reuse it.

``alpha`` is the activation's own parameter: the negative slope of leaky ReLU, the
saturation value of ELU, or the per-unit learnable slope of PReLU (an array).

Each activation has a small integer code (its position in ``ACTIVATIONS``) so that a
network can be described by plain integer arrays, which is what a compiled kernel takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .codegen import function_from_lines

ACTIVATIONS: tuple[str, ...] = (
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "swish",
    "gelu",
    "softplus",
)
CODES: dict[str, int] = {name: i for i, name in enumerate(ACTIVATIONS)}

#: Activations that have a parameter, and its default value.
DEFAULT_ALPHA: dict[str, float] = {"leaky_relu": 0.01, "prelu": 0.25, "elu": 1.0}

#: Units that output nothing (or a constant) on their negative side: these can "die".
RELU_FAMILY: frozenset[str] = frozenset({"relu", "leaky_relu", "prelu", "elu", "selu"})
#: Units with two flat tails: these can saturate.
SATURATING: frozenset[str] = frozenset({"sigmoid", "tanh"})

# SELU constants from Klambauer et al. (2017), "Self-Normalizing Neural Networks".
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
# GELU, tanh approximation (Hendrycks and Gimpel, 2016): 0.5 z (1 + tanh(c (z + k z^3))).
GELU_C = float(np.sqrt(2.0 / np.pi))
GELU_K = 0.044715



class Constants:
    """The numbers the formulas use, as read-only 0-d arrays of one dtype.

    A Python float passed to a ufunc is converted on every call, which on the small arrays
    of one training step costs about as much as the arithmetic; a 0-d array of the right
    dtype is not converted, and keeps float32 work in float32.
    """

    def __init__(self, dtype: np.dtype) -> None:
        def constant(value: float) -> np.ndarray:
            a = np.array(value, dtype=dtype)
            a.flags.writeable = False
            return a

        self.zero = constant(0.0)
        self.half = constant(0.5)
        self.one = constant(1.0)
        self.selu_lambda = constant(SELU_LAMBDA)
        self.selu_slope = constant(SELU_LAMBDA * SELU_ALPHA)


class _ConstantTable(dict):
    """``CONSTANTS[dtype]``: the constants in that dtype, made on first use."""

    def __missing__(self, dtype: np.dtype) -> Constants:
        c = self[dtype] = Constants(dtype)
        return c


CONSTANTS = _ConstantTable()
F64 = CONSTANTS[np.dtype(np.float64)]


Forward = Callable[[np.ndarray, np.ndarray, "float | np.ndarray"], np.ndarray]
Derivative = Callable[[np.ndarray, np.ndarray, np.ndarray, "float | np.ndarray"], np.ndarray]


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function, computed without overflow for large negative ``z``."""
    if out is None:
        out = np.empty_like(z)
    half = CONSTANTS[out.dtype].half
    # 1 / (1 + exp(-z)) overflows exp for z << 0; 0.5 * (1 + tanh(z / 2)) never does.
    np.multiply(z, half, out)
    np.tanh(out, out)
    np.multiply(out, half, out)
    np.add(out, half, out)
    return out


# --- sigmoid ------------------------------------------------------------------------------
def _sigmoid(z, out, alpha):
    return sigmoid(z, out)


def _sigmoid_d(z, a, out, alpha):
    np.subtract(CONSTANTS[out.dtype].one, a, out)
    np.multiply(out, a, out)
    return out


# --- zeros for np.maximum -----------------------------------------------------------------
_ZEROS: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}


def zeros_like(a: np.ndarray) -> np.ndarray:
    """A read-only array of zeros shaped like ``a``, kept for the next call (the relu
    lines of INLINE and the training pass take theirs here): np.maximum against a whole
    array runs its vector loop, against a scalar it runs up to five times slower
    (float32)."""
    if a.size > 1 << 20:
        return np.zeros(a.shape, a.dtype)
    key = (a.shape, a.dtype)
    zeros = _ZEROS.get(key)
    if zeros is None:
        if len(_ZEROS) >= 64:
            _ZEROS.clear()
        zeros = _ZEROS[key] = np.zeros(a.shape, a.dtype)
        zeros.flags.writeable = False
    return zeros


# --- linear, tanh and relu: a few ufunc calls each -----------------------------------------
#: The forward pass and the derivative of these activations as lines of source over the
#: names ``z`` (the input), ``a`` (f(z), for the derivative), ``out``, the constant
#: ``one`` and ``zeros`` (zeros shaped like ``out``), all in ``out``'s dtype. The
#: functions in FORWARD and DERIVATIVE are compiled from these lines, and the training
#: pass writes them into its own code rather than calling the functions (see
#: ``training_pass``), so each formula is still written once.
INLINE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "linear": (("copyto(out, z)",),
               ("copyto(out, one)",)),
    "tanh": (("tanh(z, out)",),
             ("multiply(a, a, out)", "subtract(one, out, out)")),
    # a = max(z, 0) >= 0, so sign(a) is 1 where z > 0 and 0 elsewhere.
    "relu": (("maximum(z, zeros, out=out)",),
             ("sign(a, out)",)),
}
#: Activations whose derivative is 0 or 1 and whose output is >= +0, so that the
#: training pass may take the derivative and multiply it in on the integer view of the
#: floats' bits (see ``bits``): the integer of a float >= +0 is > 0 exactly where the
#: float is, so ``sign`` gives 0 or 1 as an integer, and multiplying the bits of dL/da by
#: 1 or 0 gives dL/da or +0.0. numpy's integer ``sign`` runs its vector loop and the
#: float one does not (0.8 against 1.5 us on three stacked 16 x 32 layers here).
MASK_BITS: frozenset[str] = frozenset({"relu"})


def bits(a: np.ndarray) -> np.ndarray:
    """The integer view of ``a``'s bits (same shape, an integer of the float's size)."""
    return a.view(np.dtype(f"i{a.itemsize}"))


#: The functions the lines of INLINE call.
INLINE_NAMES: dict[str, object] = {
    "copyto": np.copyto, "tanh": np.tanh, "multiply": np.multiply,
    "subtract": np.subtract, "maximum": np.maximum, "sign": np.sign,
}


def _compiled(name: str, lines: tuple[str, ...], derivative: bool) -> Callable:
    """A FORWARD (or DERIVATIVE) function made of ``lines`` (see INLINE)."""
    text = "\n".join(lines)
    body = []
    if re.search(r"\bone\b", text):
        body.append("one = CONSTANTS[out.dtype].one")
    if re.search(r"\bzeros\b", text):
        body.append("zeros = zeros_like(out)")
    body += [*lines, "return out"]
    function = f"_{name}_d" if derivative else f"_{name}"
    args = "z, a, out, alpha" if derivative else "z, out, alpha"
    names = {**INLINE_NAMES, "CONSTANTS": CONSTANTS, "zeros_like": zeros_like}
    return function_from_lines(function, args, body, names, f"<activation {name}>")


_linear, _linear_d = (_compiled("linear", lines, d) for d, lines in enumerate(INLINE["linear"]))
_tanh, _tanh_d = (_compiled("tanh", lines, d) for d, lines in enumerate(INLINE["tanh"]))
_relu, _relu_d = (_compiled("relu", lines, d) for d, lines in enumerate(INLINE["relu"]))


# --- leaky relu and prelu (alpha is a scalar or one slope per unit) -----------------------
def _leaky(z, out, alpha):
    np.multiply(z, alpha, out=out)
    np.copyto(out, z, where=z > CONSTANTS[out.dtype].zero)
    return out


def _leaky_d(z, a, out, alpha):
    k = CONSTANTS[out.dtype]
    np.copyto(out, alpha)
    np.copyto(out, k.one, where=z > k.zero)
    return out


# --- elu ----------------------------------------------------------------------------------
def _elu(z, out, alpha):
    zero = CONSTANTS[out.dtype].zero
    np.minimum(z, zero, out=out)
    np.expm1(out, out=out)
    np.multiply(out, alpha, out)
    np.copyto(out, z, where=z > zero)
    return out


def _elu_d(z, a, out, alpha):
    # For z <= 0: d/dz alpha (e^z - 1) = alpha e^z = a + alpha.
    k = CONSTANTS[out.dtype]
    np.add(a, alpha, out=out)
    np.copyto(out, k.one, where=z > k.zero)
    return out


# --- selu ---------------------------------------------------------------------------------
def _selu(z, out, alpha):
    _elu(z, out, SELU_ALPHA)
    np.multiply(out, CONSTANTS[out.dtype].selu_lambda, out)
    return out


def _selu_d(z, a, out, alpha):
    k = CONSTANTS[out.dtype]
    np.add(a, k.selu_slope, out=out)
    np.copyto(out, k.selu_lambda, where=z > k.zero)
    return out


# --- swish (silu) -------------------------------------------------------------------------
def _swish(z, out, alpha):
    sigmoid(z, out)
    out *= z
    return out


def _swish_d(z, a, out, alpha):
    # s + z s (1 - s) = s (1 + z (1 - s)), with s = sigmoid(z).
    one = CONSTANTS[out.dtype].one
    s = sigmoid(z)
    np.subtract(one, s, out)
    np.multiply(out, z, out)
    np.add(out, one, out)
    np.multiply(out, s, out)
    return out


# --- gelu (tanh approximation) ------------------------------------------------------------
def _gelu_inner(z):
    return np.tanh(GELU_C * (z + GELU_K * z * z * z))


def _gelu(z, out, alpha):
    t = _gelu_inner(z)
    t += 1.0
    np.multiply(z, 0.5, out=out)
    out *= t
    return out


def _gelu_d(z, a, out, alpha):
    t = _gelu_inner(z)
    # d/dz [0.5 z (1 + t)] = 0.5 (1 + t) + 0.5 z (1 - t^2) c (1 + 3 k z^2)
    inner_d = GELU_C * (1.0 + 3.0 * GELU_K * z * z)
    out[...] = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * inner_d
    return out


# --- softplus -----------------------------------------------------------------------------
def _softplus(z, out, alpha):
    return np.logaddexp(CONSTANTS[out.dtype].zero, z, out)


def _softplus_d(z, a, out, alpha):
    return sigmoid(z, out)


FORWARD: dict[str, Forward] = {
    "linear": _linear,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky,
    "prelu": _leaky,
    "elu": _elu,
    "selu": _selu,
    "swish": _swish,
    "gelu": _gelu,
    "softplus": _softplus,
}
DERIVATIVE: dict[str, Derivative] = {
    "linear": _linear_d,
    "sigmoid": _sigmoid_d,
    "tanh": _tanh_d,
    "relu": _relu_d,
    "leaky_relu": _leaky_d,
    "prelu": _leaky_d,
    "elu": _elu_d,
    "selu": _selu_d,
    "swish": _swish_d,
    "gelu": _gelu_d,
    "softplus": _softplus_d,
}


#: Forward functions that may write over their input (``out`` is ``z``).
IN_PLACE_FORWARD = frozenset(FORWARD[name] for name in (
    "linear", "sigmoid", "tanh", "relu", "gelu", "softplus"))


def check_activation(name: str, parameter: str = "activation") -> str:
    """Return ``name`` if it is a known activation, else raise a ValueError naming them all."""
    if name not in CODES:
        raise ValueError(f"{parameter}: {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return name


def apply(name: str, z: np.ndarray, alpha: float | np.ndarray | None = None) -> np.ndarray:
    """``f(z)`` for the named activation, as a new array (for plots and tests)."""
    check_activation(name)
    z = np.asarray(z, dtype=np.float64)
    alpha = DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha
    return FORWARD[name](z, np.empty_like(z), alpha)


def derivative(name: str, z: np.ndarray, alpha: float | np.ndarray | None = None) -> np.ndarray:
    """``f'(z)`` for the named activation, as a new array (for plots and tests)."""
    check_activation(name)
    z = np.asarray(z, dtype=np.float64)
    alpha = DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha
    a = FORWARD[name](z, np.empty_like(z), alpha)
    return DERIVATIVE[name](z, a, np.empty_like(z), alpha)


def softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax of ``z`` (n, k), stable: the row maximum is subtracted first.

    The row maximum is taken with a loop over the few columns; on (n, 3) arrays this is
    much faster than ``z.max(axis=1)``.
    """
    if out is None:
        out = np.empty_like(z)
    k = z.shape[1]
    m = z[:, 0].copy()
    for j in range(1, k):
        np.maximum(m, z[:, j], out=m)
    np.subtract(z, m[:, None], out=out)
    np.exp(out, out=out)
    s = out[:, 0].copy()
    for j in range(1, k):
        s += out[:, j]
    out /= s[:, None]
    return out
