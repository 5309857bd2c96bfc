"""The compiled kernels: many training steps, a data-set evaluation and a prediction pass.

Each kernel is one generic function for every dense network the numpy engine builds: the
architecture arrives as plain arrays (layer widths, activation codes, parameter offsets)
and the activation, head and optimizer as small integer codes, so numba compiles one
version per kernel and dtype (not one per configuration), and caches it on disk.

The formulas are those of the numpy reference (``activations``, ``heads``, ``network``,
``optimizers``), written out one element at a time in the same order of operations, so
that both paths agree to rounding. Only sums may be ordered differently, as BLAS orders
them differently too. The one function not taken from the C library is tanh (used by
tanh, sigmoid, swish and GELU units and by the sigmoid and classic heads): ``_tanh`` is
within two units in the last place of numpy's, and a loop of it compiles to SIMD code.

Memory layout. Values are kept unit by unit with the batch innermost, as in the numpy
training pass, in work arrays of shape (rows, groups, LANES): the samples of a batch go
in groups of four, the last group padded. The dense products work on whole groups with
fixed-size inner statements, which LLVM packs into SIMD instructions, and loop only over
units and groups. Every computation there is column by column, so the padded columns
just carry leftovers (earlier samples' values, or the zeros the arrays start
with) that nothing reads back: the loss, the head's gradient and the sums over the
batch stop at the batch size. The weight gradients are sums over the batch for every
pair of units; they read dL/dz transposed, units innermost, so that those sums too run
over contiguous vectors. Element-wise passes (activations, heads, dropout) see the work
arrays as (rows, columns) views.

Layout of the arguments that describe a network with ``L`` weight layers:

* ``sizes`` (L + 1,): widths from the inputs to the outputs;
* ``codes`` (L - 1,): activation code per hidden layer (``activations.CODES``);
* ``alphas`` (L - 1,): the fixed activation parameter (leaky ReLU slope, ELU alpha);
* ``slope_at`` (L - 1,): where a PReLU layer's slopes sit in the parameters, else -1;
* ``block_at`` (L,): where each layer's (fan_in + 1, units) block starts;
* ``keep`` (L - 1,): 1 - dropout rate per hidden layer;
* ``head``: the output head's code (``HEAD_CODES``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from playground.engine.activations import (
    CODES,
    GELU_C,
    GELU_K,
    SELU_ALPHA,
    SELU_LAMBDA,
)
from playground.engine.compiled.cache import caching_enabled, load_quickly

LINEAR, SIGMOID, TANH, RELU = CODES["linear"], CODES["sigmoid"], CODES["tanh"], CODES["relu"]
LEAKY_RELU, PRELU, ELU, SELU = (CODES["leaky_relu"], CODES["prelu"], CODES["elu"],
                                CODES["selu"])
SWISH, GELU, SOFTPLUS = CODES["swish"], CODES["gelu"], CODES["softplus"]

HEAD_CODES: dict[str, int] = {"sigmoid": 0, "softmax": 1, "linear": 2, "classic": 3}
H_SIGMOID, H_SOFTMAX, H_LINEAR, H_CLASSIC = 0, 1, 2, 3

OPTIMIZER_CODES: dict[str, int] = {"sgd": 0, "rmsprop": 1, "adagrad": 2, "adam": 3,
                                   "adamw": 4}
O_SGD, O_RMSPROP, O_ADAGRAD, O_ADAM, O_ADAMW = 0, 1, 2, 3, 4

#: Columns of the evaluation records written by ``train_steps``.
EVAL_FIELDS = ("step_index", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
               "penalty")
#: Samples per group in the work arrays (four float64 fill one AVX register).
LANES = 4
#: Samples per group in the prediction pass (``_dense_wide``): eight float32 numbers
#: fill one AVX register, where training's float64 fill it four at a time.
WIDE = 8
#: Samples per pass when evaluating a whole data set or predicting (a multiple of LANES
#: and of 2 * WIDE).
CHUNK = 128

SELU_SLOPE = SELU_LAMBDA * SELU_ALPHA
#: Fused multiply-add everywhere; reordered sums only in the diagnostics' sums of squares
#: and absolute values. Never "nnan"/"ninf": divergence detection needs infinities and NaNs.
CONTRACT = frozenset({"contract"})
REASSOC = frozenset({"reassoc", "contract"})

# The dense products below carry their sums four lanes at a time in 4-tuples; LLVM's SLP
# vectorizer turns such groups of like operations into SIMD instructions. Numba leaves
# that pass off unless asked (it only packs independent operations together, never
# changes the arithmetic). This is numba's process-wide setting, read whenever it
# compiles.
numba.config.SLP_VECTORIZE = 1


def _jit(fn=None, *, fastmath=CONTRACT, inline="never"):
    """Compile without the GIL, with numpy's float semantics (inf and nan, no raising).

    For the helpers: they are compiled into the entry points that call them, and only
    the entry points go to the disk cache (see ``_entry``). ``inline="always"`` pastes a
    helper into its callers before they are compiled, for loops that must see its body
    to become SIMD code.
    """
    if fn is None:
        return lambda f: _jit(f, fastmath=fastmath, inline=inline)
    return numba.njit(nogil=True, error_model="numpy", fastmath=set(fastmath),
                      inline=inline)(fn)


def _entry(fn):
    """``_jit`` for an entry point, cached on disk with every helper it calls (numba keys
    the cache on this file, so a change to any helper here invalidates it).

    With ``cache=True`` numba needs a folder it can write to; when it finds none it
    refuses at decoration time, and the kernel is compiled afresh in each process.
    """
    options = {"nogil": True, "error_model": "numpy", "fastmath": set(CONTRACT)}
    if caching_enabled():
        try:
            return load_quickly(numba.njit(cache=True, **options)(fn))
        except RuntimeError:  # "cannot cache function ...: no locator available"
            pass
    return numba.njit(**options)(fn)


# ------------------------------------------------------------------ scalar functions
# tanh without branches or library calls, so that a loop of them compiles to SIMD code:
# below |x| = 0.625 a rational function of x^2 (Cephes' tanh, S. L. Moshier), above it
# 1 - 2 / (e^2|x| + 1), with e^t = 2^k e^f (|f| <= ln(2) / 2) from a Taylor polynomial
# of degree 13 and 2^k built from the bits of k. Within two units in the last place of
# numpy's tanh.
_TP0, _TP1, _TP2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, \
    -1.61468768441708447952e3
_TQ0, _TQ1, _TQ2 = 1.12811678491632931402e2, 2.23548839060100448583e3, \
    4.84406305325125486048e3
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_E2, _E3, _E4, _E5, _E6, _E7 = (1.0 / math.factorial(k) for k in range(2, 8))
_E8, _E9, _E10, _E11, _E12, _E13 = (1.0 / math.factorial(k) for k in range(8, 14))
#: tanh(x) rounds to +-1 from |x| = 19.1 on; 2|x| is cut at 40, where 2^k <= 2^58
_TANH_CUT = 40.0


def _tanh_formula(x):
    """tanh(x); see above."""
    ax = abs(x)
    s = x * x
    small = x + x * s * (((_TP0 * s + _TP1) * s + _TP2)
                         / (((s + _TQ0) * s + _TQ1) * s + _TQ2))
    t = 2.0 * ax
    t = t if t < _TANH_CUT else _TANH_CUT
    k = np.floor(t * _LOG2E + 0.5)
    f = (t - k * _LN2_HI) - k * _LN2_LO
    p = ((((((_E13 * f + _E12) * f + _E11) * f + _E10) * f + _E9) * f + _E8) * f + _E7) * f
    p = ((((((p + _E6) * f + _E5) * f + _E4) * f + _E3) * f + _E2) * f + 1.0) * f + 1.0
    # m = 2^k, one bit of k at a time (products of powers of two are exact)
    h = np.floor(k * 0.5)
    m = 2.0 if k != 2.0 * h else 1.0
    k = np.floor(h * 0.5)
    m = m * 4.0 if h != 2.0 * k else m
    h = np.floor(k * 0.5)
    m = m * 16.0 if k != 2.0 * h else m
    k = np.floor(h * 0.5)
    m = m * 256.0 if h != 2.0 * k else m
    h = np.floor(k * 0.5)
    m = m * 65536.0 if k != 2.0 * h else m
    m = m * 4294967296.0 if h != 0.0 else m
    r = 1.0 - 2.0 / (m * p + 1.0)
    big = -r if x < 0.0 else r
    out = small if ax < 0.625 else big
    return out if ax == ax else x  # nan stays nan


_tanh = _jit(_tanh_formula)
#: The same, pasted into the tanh and sigmoid loops over whole blocks (``_activate``)
#: so that they compile to SIMD code; only there, as every pasted copy costs compile
#: time.
_tanh_inline = _jit(_tanh_formula, inline="always")


#: e^x is taken at -708 and above, where 2^k is still a normal number.
_EXP_FLOOR = -708.0


def _exp_formula(x):
    """e^x for x <= 0 (the softmax's logits less their maximum), branch-free like
    ``_tanh_formula`` so that a loop of it compiles to SIMD code: e^x = 2^k e^f, e^f from
    the same polynomial, 2^k (k from 0 down to -1022) built from the bits of -k. Below
    -708 it gives e^-708 (3e-308) where the true value is smaller still; next to the
    maximum's e^0 = 1 no softmax can tell."""
    t = x if x > _EXP_FLOOR else _EXP_FLOOR
    k = np.floor(t * _LOG2E + 0.5)
    f = (t - k * _LN2_HI) - k * _LN2_LO
    p = ((((((_E13 * f + _E12) * f + _E11) * f + _E10) * f + _E9) * f + _E8) * f + _E7) * f
    p = ((((((p + _E6) * f + _E5) * f + _E4) * f + _E3) * f + _E2) * f + 1.0) * f + 1.0
    j = -k
    m = 1.0
    h = np.floor(j * 0.5)
    m = m * 0.5 if j != 2.0 * h else m
    j = np.floor(h * 0.5)
    m = m * 0.25 if h != 2.0 * j else m
    h = np.floor(j * 0.5)
    m = m * 0.0625 if j != 2.0 * h else m
    j = np.floor(h * 0.5)
    m = m * 2.0**-8 if h != 2.0 * j else m
    h = np.floor(j * 0.5)
    m = m * 2.0**-16 if j != 2.0 * h else m
    j = np.floor(h * 0.5)
    m = m * 2.0**-32 if h != 2.0 * j else m
    h = np.floor(j * 0.5)
    m = m * 2.0**-64 if j != 2.0 * h else m
    j = np.floor(h * 0.5)
    m = m * 2.0**-128 if h != 2.0 * j else m
    h = np.floor(j * 0.5)
    m = m * 2.0**-256 if j != 2.0 * h else m
    m = m * 2.0**-512 if h != 0.0 else m
    return p * m if x == x else x  # nan stays nan


#: Pasted into the softmax loop of ``predict`` (see ``_tanh_inline``).
_exp_inline = _jit(_exp_formula, inline="always")


@_jit
def _sigmoid(z):
    return _tanh(z * 0.5) * 0.5 + 0.5


@_jit
def _logaddexp0(z):
    """log(1 + e^z), computed as numpy's ``logaddexp(0, z)`` does."""
    if z == 0.0:
        return math.log(2.0)
    if z < 0.0:
        return math.log1p(math.exp(z))
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return z  # nan


@_jit
def _gelu_tanh(z):
    return _tanh(GELU_C * (z + GELU_K * z * z * z))


@_jit
def groups_for(n):
    """The groups of LANES that hold n items (samples, or units)."""
    return (n + LANES - 1) // LANES


# ------------------------------------------------------------------ element-wise passes
# These take the work arrays flat, ``width`` columns to a row, and work on one layer's
# rows through one-dimensional slices (cheap to take, and indexed by plain counters).
# Activations that compile to SIMD code and are the same for every unit go over the
# layer's whole block, padding included, in one loop; the others go row by row over the
# n samples.
@_jit
def _block(v, row, units, width):
    """Rows row .. row + units - 1 of a flat work array."""
    return v[row * width : (row + units) * width]


@_jit
def _activate(code, alpha, params, slope_at, z, out, row, units, width, n):
    """out = f(z) on rows row .. row + units - 1 (one layer), for n samples.

    The branch on the activation sits outside the loops, so each loop is simple."""
    zb, ob = _block(z, row, units, width), _block(out, row, units, width)
    if code == RELU:
        for q in range(zb.shape[0]):
            ob[q] = 0.0 if zb[q] <= 0.0 else zb[q]
        return
    if code == LINEAR:
        for q in range(zb.shape[0]):
            ob[q] = zb[q]
        return
    if code == LEAKY_RELU:
        for q in range(zb.shape[0]):
            ob[q] = zb[q] if zb[q] > 0.0 else zb[q] * alpha
        return
    if code == TANH:
        for q in range(zb.shape[0]):
            ob[q] = _tanh_inline(zb[q])
        return
    if code == SIGMOID:
        for q in range(zb.shape[0]):
            ob[q] = _tanh_inline(zb[q] * 0.5) * 0.5 + 0.5
        return
    for j in range(units):
        zr, o = zb[j * width : j * width + n], ob[j * width : j * width + n]
        if code == PRELU:
            al = params[slope_at + j]
            for s in range(n):
                o[s] = zr[s] if zr[s] > 0.0 else zr[s] * al
        elif code == ELU:
            for s in range(n):
                o[s] = zr[s] if zr[s] > 0.0 else math.expm1(zr[s]) * alpha
        elif code == SELU:
            for s in range(n):
                v = zr[s]
                o[s] = (v if v > 0.0 else math.expm1(v) * SELU_ALPHA) * SELU_LAMBDA
        elif code == SWISH:
            for s in range(n):
                o[s] = _sigmoid(zr[s]) * zr[s]
        elif code == GELU:
            for s in range(n):
                o[s] = (zr[s] * 0.5) * (_gelu_tanh(zr[s]) + 1.0)
        else:  # softplus
            for s in range(n):
                o[s] = _logaddexp0(zr[s])


@_jit
def _delta(code, alpha, params, slope_at, z, a, da, d, row, units, width, n):
    """d = f'(z) * dL/da on the rows of one layer, given a = f(z), for n samples."""
    zb, ab = _block(z, row, units, width), _block(a, row, units, width)
    gb, db = _block(da, row, units, width), _block(d, row, units, width)
    if code == TANH:
        for q in range(zb.shape[0]):
            db[q] = (1.0 - ab[q] * ab[q]) * gb[q]
    elif code == RELU:
        for q in range(zb.shape[0]):  # sign(a): a = max(z, 0) is never negative
            v = ab[q]
            db[q] = (1.0 if v > 0.0 else (0.0 if v == 0.0 else v)) * gb[q]
    elif code == SIGMOID:
        for q in range(zb.shape[0]):
            db[q] = ((1.0 - ab[q]) * ab[q]) * gb[q]
    elif code == LEAKY_RELU:
        for q in range(zb.shape[0]):
            db[q] = (1.0 if zb[q] > 0.0 else alpha) * gb[q]
    elif code == ELU:
        for q in range(zb.shape[0]):
            db[q] = (1.0 if zb[q] > 0.0 else ab[q] + alpha) * gb[q]
    elif code == SELU:
        for q in range(zb.shape[0]):
            db[q] = (SELU_LAMBDA if zb[q] > 0.0 else ab[q] + SELU_SLOPE) * gb[q]
    elif code == LINEAR:
        for q in range(zb.shape[0]):
            db[q] = gb[q]
    else:
        for j in range(units):
            lo = j * width
            zr, g, dr = zb[lo : lo + n], gb[lo : lo + n], db[lo : lo + n]
            if code == PRELU:
                al = params[slope_at + j]
                for s in range(n):
                    dr[s] = (1.0 if zr[s] > 0.0 else al) * g[s]
            elif code == SWISH:
                for s in range(n):
                    v = zr[s]
                    sg = _sigmoid(v)
                    dr[s] = (((1.0 - sg) * v + 1.0) * sg) * g[s]
            elif code == GELU:
                for s in range(n):
                    v = zr[s]
                    t = _gelu_tanh(v)
                    inner = GELU_C * (1.0 + 3.0 * GELU_K * v * v)
                    dr[s] = (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * inner) * g[s]
            else:  # softplus
                for s in range(n):
                    dr[s] = _sigmoid(zr[s]) * g[s]


# ------------------------------------------------------------------ dense products
# These take the (rows, groups, LANES) work arrays and the flat parameters, through views
# (a layer's weights as a (fan_in, units) matrix, its rows of the work arrays), so that
# every index in the loops is a plain loop counter. Sums are carried four lanes at a time
# in 4-tuples, which LLVM keeps in one SIMD register each; a block keeps eight of them
# going, enough independent additions to keep both of the CPU's FMA units busy.
ZERO4 = (0.0, 0.0, 0.0, 0.0)


@_jit
def _fma4(acc, w, x):
    """acc + w * x lane by lane: acc and x are 4-tuples, w is a number or a 4-tuple."""
    return (acc[0] + w * x[0], acc[1] + w * x[1], acc[2] + w * x[2], acc[3] + w * x[3])


@_jit
def _lanes(v, i, g):
    """The four samples of group g in row i of a (rows, groups, LANES) array."""
    return (v[i, g, 0], v[i, g, 1], v[i, g, 2], v[i, g, 3])


@_jit
def _put(v, i, g, acc, shift):
    """Row i, group g of a (rows, groups, LANES) array = acc + shift."""
    v[i, g, 0] = acc[0] + shift
    v[i, g, 1] = acc[1] + shift
    v[i, g, 2] = acc[2] + shift
    v[i, g, 3] = acc[3] + shift


@_jit
def _dense(params, at, fan_in, units, src, src_row, z, z_row, groups, zero):
    """z[j] = sum_i W[i, j] src[i] + b[j] for the samples of ``groups`` groups, summed
    in the type of ``zero`` (the work arrays' dtype: float32 when drawing).

    Blocks of four units by two groups; an odd last group, and the last one to three
    units (as a block with zero weights for the missing ones), go with fewer sums."""
    z4 = (zero, zero, zero, zero)
    W = params[at : at + fan_in * units].reshape((fan_in, units))
    b = params[at + fan_in * units : at + (fan_in + 1) * units]
    x = src[src_row : src_row + fan_in]
    out = z[z_row : z_row + units]
    for jq in range(units // 4):
        j = 4 * jq
        for gp in range(groups // 2):
            g, h = 2 * gp, 2 * gp + 1
            a0 = a1 = a2 = a3 = e0 = e1 = e2 = e3 = z4
            for i in range(fan_in):
                xg, xh = _lanes(x, i, g), _lanes(x, i, h)
                w0, w1, w2, w3 = W[i, j], W[i, j + 1], W[i, j + 2], W[i, j + 3]
                a0, e0 = _fma4(a0, w0, xg), _fma4(e0, w0, xh)
                a1, e1 = _fma4(a1, w1, xg), _fma4(e1, w1, xh)
                a2, e2 = _fma4(a2, w2, xg), _fma4(e2, w2, xh)
                a3, e3 = _fma4(a3, w3, xg), _fma4(e3, w3, xh)
            _put(out, j, g, a0, b[j])
            _put(out, j, h, e0, b[j])
            _put(out, j + 1, g, a1, b[j + 1])
            _put(out, j + 1, h, e1, b[j + 1])
            _put(out, j + 2, g, a2, b[j + 2])
            _put(out, j + 2, h, e2, b[j + 2])
            _put(out, j + 3, g, a3, b[j + 3])
            _put(out, j + 3, h, e3, b[j + 3])
        if groups % 2:
            g = groups - 1
            a0 = a1 = a2 = a3 = z4
            for i in range(fan_in):
                xg = _lanes(x, i, g)
                a0 = _fma4(a0, W[i, j], xg)
                a1 = _fma4(a1, W[i, j + 1], xg)
                a2 = _fma4(a2, W[i, j + 2], xg)
                a3 = _fma4(a3, W[i, j + 3], xg)
            _put(out, j, g, a0, b[j])
            _put(out, j + 1, g, a1, b[j + 1])
            _put(out, j + 2, g, a2, b[j + 2])
            _put(out, j + 3, g, a3, b[j + 3])
    j = units // 4 * 4
    r = units - j
    if r == 0:
        return
    for g in range(groups):
        a0 = a1 = a2 = z4
        for i in range(fan_in):
            xg = _lanes(x, i, g)
            a0 = _fma4(a0, W[i, j], xg)
            a1 = _fma4(a1, W[i, j + 1] if r > 1 else zero, xg)
            a2 = _fma4(a2, W[i, j + 2] if r > 2 else zero, xg)
        _put(out, j, g, a0, b[j])
        if r > 1:
            _put(out, j + 1, g, a1, b[j + 1])
        if r > 2:
            _put(out, j + 2, g, a2, b[j + 2])


@_jit
def _fma8(acc, w, x):
    """``_fma4`` for 8-tuples."""
    return (acc[0] + w * x[0], acc[1] + w * x[1], acc[2] + w * x[2], acc[3] + w * x[3],
            acc[4] + w * x[4], acc[5] + w * x[5], acc[6] + w * x[6], acc[7] + w * x[7])


@_jit
def _lanes8(v, i, g):
    """The eight samples of group g in row i of a (rows, groups, WIDE) array."""
    return (v[i, g, 0], v[i, g, 1], v[i, g, 2], v[i, g, 3],
            v[i, g, 4], v[i, g, 5], v[i, g, 6], v[i, g, 7])


@_jit
def _put8(v, i, g, acc, shift):
    """Row i, group g of a (rows, groups, WIDE) array = acc + shift."""
    v[i, g, 0] = acc[0] + shift
    v[i, g, 1] = acc[1] + shift
    v[i, g, 2] = acc[2] + shift
    v[i, g, 3] = acc[3] + shift
    v[i, g, 4] = acc[4] + shift
    v[i, g, 5] = acc[5] + shift
    v[i, g, 6] = acc[6] + shift
    v[i, g, 7] = acc[7] + shift


@_jit
def _dense_wide(params, at, fan_in, units, src, src_row, z, z_row, groups, zero):
    """``_dense`` on (rows, groups, WIDE) arrays: the same blocks of four units by two
    groups, with groups of eight samples. For the prediction pass, in float32, where
    eight lanes fill a SIMD register."""
    z8 = (zero, zero, zero, zero, zero, zero, zero, zero)
    W = params[at : at + fan_in * units].reshape((fan_in, units))
    b = params[at + fan_in * units : at + (fan_in + 1) * units]
    x = src[src_row : src_row + fan_in]
    out = z[z_row : z_row + units]
    for jq in range(units // 4):
        j = 4 * jq
        for gp in range(groups // 2):
            g, h = 2 * gp, 2 * gp + 1
            a0 = a1 = a2 = a3 = e0 = e1 = e2 = e3 = z8
            for i in range(fan_in):
                xg, xh = _lanes8(x, i, g), _lanes8(x, i, h)
                w0, w1, w2, w3 = W[i, j], W[i, j + 1], W[i, j + 2], W[i, j + 3]
                a0, e0 = _fma8(a0, w0, xg), _fma8(e0, w0, xh)
                a1, e1 = _fma8(a1, w1, xg), _fma8(e1, w1, xh)
                a2, e2 = _fma8(a2, w2, xg), _fma8(e2, w2, xh)
                a3, e3 = _fma8(a3, w3, xg), _fma8(e3, w3, xh)
            _put8(out, j, g, a0, b[j])
            _put8(out, j, h, e0, b[j])
            _put8(out, j + 1, g, a1, b[j + 1])
            _put8(out, j + 1, h, e1, b[j + 1])
            _put8(out, j + 2, g, a2, b[j + 2])
            _put8(out, j + 2, h, e2, b[j + 2])
            _put8(out, j + 3, g, a3, b[j + 3])
            _put8(out, j + 3, h, e3, b[j + 3])
        if groups % 2:
            g = groups - 1
            a0 = a1 = a2 = a3 = z8
            for i in range(fan_in):
                xg = _lanes8(x, i, g)
                a0 = _fma8(a0, W[i, j], xg)
                a1 = _fma8(a1, W[i, j + 1], xg)
                a2 = _fma8(a2, W[i, j + 2], xg)
                a3 = _fma8(a3, W[i, j + 3], xg)
            _put8(out, j, g, a0, b[j])
            _put8(out, j + 1, g, a1, b[j + 1])
            _put8(out, j + 2, g, a2, b[j + 2])
            _put8(out, j + 3, g, a3, b[j + 3])
    # The last one to three units, one at a time, two groups at once.
    for j in range(units // 4 * 4, units):
        for gp in range((groups + 1) // 2):
            g = 2 * gp
            h = g + 1 if g + 1 < groups else g
            a0 = e0 = z8
            for i in range(fan_in):
                a0 = _fma8(a0, W[i, j], _lanes8(x, i, g))
                e0 = _fma8(e0, W[i, j], _lanes8(x, i, h))
            _put8(out, j, g, a0, b[j])
            _put8(out, j, h, e0, b[j])


@_jit
def _input_grad(params, at, fan_in, units, d, d_row, da, da_row, groups):
    """dL/da_prev[i] = sum_j W[i, j] d[j], in blocks of four inputs by two groups (as
    in ``_dense``, with the roles of inputs and units swapped)."""
    W = params[at : at + fan_in * units].reshape((fan_in, units))
    y = d[d_row : d_row + units]
    out = da[da_row : da_row + fan_in]
    for iq in range(fan_in // 4):
        i = 4 * iq
        for gp in range(groups // 2):
            g, h = 2 * gp, 2 * gp + 1
            a0 = a1 = a2 = a3 = e0 = e1 = e2 = e3 = ZERO4
            for j in range(units):
                yg, yh = _lanes(y, j, g), _lanes(y, j, h)
                w0, w1, w2, w3 = W[i, j], W[i + 1, j], W[i + 2, j], W[i + 3, j]
                a0, e0 = _fma4(a0, w0, yg), _fma4(e0, w0, yh)
                a1, e1 = _fma4(a1, w1, yg), _fma4(e1, w1, yh)
                a2, e2 = _fma4(a2, w2, yg), _fma4(e2, w2, yh)
                a3, e3 = _fma4(a3, w3, yg), _fma4(e3, w3, yh)
            _put(out, i, g, a0, 0.0)
            _put(out, i, h, e0, 0.0)
            _put(out, i + 1, g, a1, 0.0)
            _put(out, i + 1, h, e1, 0.0)
            _put(out, i + 2, g, a2, 0.0)
            _put(out, i + 2, h, e2, 0.0)
            _put(out, i + 3, g, a3, 0.0)
            _put(out, i + 3, h, e3, 0.0)
        if groups % 2:
            g = groups - 1
            a0 = a1 = a2 = a3 = ZERO4
            for j in range(units):
                yg = _lanes(y, j, g)
                a0 = _fma4(a0, W[i, j], yg)
                a1 = _fma4(a1, W[i + 1, j], yg)
                a2 = _fma4(a2, W[i + 2, j], yg)
                a3 = _fma4(a3, W[i + 3, j], yg)
            _put(out, i, g, a0, 0.0)
            _put(out, i + 1, g, a1, 0.0)
            _put(out, i + 2, g, a2, 0.0)
            _put(out, i + 3, g, a3, 0.0)
    for i in range(fan_in // 4 * 4, fan_in):
        for g in range(groups):
            a0 = ZERO4
            for j in range(units):
                a0 = _fma4(a0, W[i, j], _lanes(y, j, g))
            _put(out, i, g, a0, 0.0)


@_jit
def _transpose(d, row, units, n, dt):
    """dt[s, j] = d[row + j, s]: a layer's dL/dz with the units innermost."""
    for j in range(units):
        dj = d[row + j]
        for s in range(n):
            dt[s, j] = dj[s]


@_jit
def _weight_grad(grad, at, fan_in, units, src, src_row, dt, n, gw):
    """dL/dW[i, j] = sum_s src[i, s] dt[s, j] and dL/db[j] = sum_s dt[s, j], each sum in
    sample order, from the layer's input (rows, columns) and its dL/dz transposed by
    ``_transpose``, seen here as (columns, unit groups, LANES): units in 4-tuples, the
    lanes past the layer's last unit holding leftovers.

    Blocks of four inputs by eight units (two 4-tuples of units per input), then by
    four; leftover inputs go one at a time. The sums go to ``gw`` (rows, unit groups,
    LANES) whole 4-tuples at a time, and from there the layer's (fan_in + 1, units)
    gradient block is copied out."""
    x = src[src_row : src_row + fan_in]
    quads = groups_for(units)
    for iq in range(fan_in // 4):
        i = 4 * iq
        for qp in range(quads // 2):
            q = 2 * qp
            a0 = a1 = a2 = a3 = e0 = e1 = e2 = e3 = ZERO4
            for s in range(n):
                yq, yr = _lanes(dt, s, q), _lanes(dt, s, q + 1)
                v0, v1, v2, v3 = x[i, s], x[i + 1, s], x[i + 2, s], x[i + 3, s]
                a0, e0 = _fma4(a0, v0, yq), _fma4(e0, v0, yr)
                a1, e1 = _fma4(a1, v1, yq), _fma4(e1, v1, yr)
                a2, e2 = _fma4(a2, v2, yq), _fma4(e2, v2, yr)
                a3, e3 = _fma4(a3, v3, yq), _fma4(e3, v3, yr)
            _put(gw, i, q, a0, 0.0)
            _put(gw, i + 1, q, a1, 0.0)
            _put(gw, i + 2, q, a2, 0.0)
            _put(gw, i + 3, q, a3, 0.0)
            _put(gw, i, q + 1, e0, 0.0)
            _put(gw, i + 1, q + 1, e1, 0.0)
            _put(gw, i + 2, q + 1, e2, 0.0)
            _put(gw, i + 3, q + 1, e3, 0.0)
        if quads % 2:
            q = quads - 1
            a0 = a1 = a2 = a3 = ZERO4
            for s in range(n):
                yq = _lanes(dt, s, q)
                a0 = _fma4(a0, x[i, s], yq)
                a1 = _fma4(a1, x[i + 1, s], yq)
                a2 = _fma4(a2, x[i + 2, s], yq)
                a3 = _fma4(a3, x[i + 3, s], yq)
            _put(gw, i, q, a0, 0.0)
            _put(gw, i + 1, q, a1, 0.0)
            _put(gw, i + 2, q, a2, 0.0)
            _put(gw, i + 3, q, a3, 0.0)
    for i in range(fan_in // 4 * 4, fan_in):
        for q in range(quads):
            a0 = ZERO4
            for s in range(n):
                a0 = _fma4(a0, x[i, s], _lanes(dt, s, q))
            _put(gw, i, q, a0, 0.0)
    for q in range(quads):
        a0 = ZERO4
        for s in range(n):
            a0 = _fma4(a0, 1.0, _lanes(dt, s, q))
        _put(gw, fan_in, q, a0, 0.0)
    block = grad[at : at + (fan_in + 1) * units].reshape((fan_in + 1, units))
    sums = gw.reshape((gw.shape[0], gw.shape[1] * LANES))
    for i in range(fan_in + 1):
        for j in range(units):
            block[i, j] = sums[i, j]


# ------------------------------------------------------------------ batches
@_jit
def _load_rows(x, rows, first, n, out):
    """out[:, s] = x[rows[first + s]] for the n samples of a batch."""
    for s in range(n):
        r = rows[first + s]
        for i in range(x.shape[1]):
            out[i, s] = x[r, i]


@_jit
def _load_range(x, first, n, out):
    for s in range(n):
        for i in range(x.shape[1]):
            out[i, s] = x[first + s, i]


@_jit
def _hidden_forward(sizes, codes, alphas, slope_at, block_at, params, x, z, a, n, zero):
    """Evaluation pass through the hidden layers of n samples in ``x`` (groups); ``a``
    gets f(z). Sums are in the type of ``zero``. Returns the output layer's input
    (array, first row)."""
    groups = groups_for(n)
    width = z.shape[1] * LANES
    z1, a1 = z.reshape(z.size), a.reshape(a.size)
    src, src_row = x, 0
    row = 0
    for layer in range(len(sizes) - 2):
        fan_in, units = sizes[layer], sizes[layer + 1]
        _dense(params, block_at[layer], fan_in, units, src, src_row, z, row, groups,
               zero)
        _activate(codes[layer], alphas[layer], params, slope_at[layer], z1, a1, row, units,
                  width, n)
        src, src_row = a, row
        row += units
    return src, src_row


# ------------------------------------------------------------------ evaluation
@_jit
def _head_loss_sums(head, z, row, k, t, first, n, y, correct):
    """Two sums over a chunk of an evaluation from which ``_evaluate`` builds the loss
    the way the numpy heads' ``loss`` does; adds the correct labels to ``correct[0]``."""
    plus, minus = 0.0, 0.0
    for s in range(n):
        r = first + s
        if head == H_SOFTMAX:  # plus: logsumexp(z), minus: z of the target class
            m = z[row, s]
            for j in range(1, k):
                m = max(m, z[row + j, s])
            e = 0.0
            for j in range(k):
                e += math.exp(z[row + j, s] - m)
            plus += math.log(e) + m
            best, label = -1.0, 0
            for j in range(k):
                p = math.exp(z[row + j, s] - m) / e
                if p > best:
                    best, label = p, j
                minus += t[r, j] * z[row + j, s]
            if label == y[r]:
                correct[0] += 1
        elif head == H_SIGMOID:  # plus: softplus(z) - t z
            zs = z[row, s]
            plus += _logaddexp0(zs) - t[r, 0] * zs
            if (1 if _sigmoid(zs) > 0.5 else 0) == y[r]:
                correct[0] += 1
        elif head == H_CLASSIC:  # plus: squared error of tanh(z)
            o = _tanh(z[row, s])
            diff = o - t[r, 0]
            plus += diff * diff
            if (1 if o > 0.0 else 0) == y[r]:
                correct[0] += 1
        else:  # linear, plus: squared error over every output
            for j in range(k):
                diff = z[row + j, s] - t[r, j]
                plus += diff * diff
    return plus, minus


@_jit
def _evaluate(sizes, codes, alphas, slope_at, block_at, head, params, x, t, y,
              xb, z, a, correct):
    """(mean data loss, accuracy) over a whole data set, in evaluation mode; the work
    arrays hold CHUNK samples."""
    n_all = x.shape[0]
    if n_all == 0:
        return math.nan, math.nan
    L = len(sizes) - 1
    k = sizes[L]
    out_row = 0
    for layer in range(L - 1):
        out_row += sizes[layer + 1]
    xb2 = xb.reshape((xb.shape[0], xb.shape[1] * LANES))
    z2 = z.reshape((z.shape[0], z.shape[1] * LANES))
    plus, minus = 0.0, 0.0
    correct[0] = 0
    for first in range(0, n_all, CHUNK):
        n = min(CHUNK, n_all - first)
        _load_range(x, first, n, xb2)
        src, src_row = _hidden_forward(sizes, codes, alphas, slope_at, block_at, params,
                                       xb, z, a, n, 0.0)
        _dense(params, block_at[L - 1], sizes[L - 1], k, src, src_row, z, out_row,
               groups_for(n), 0.0)
        p, m = _head_loss_sums(head, z2, out_row, k, t, first, n, y, correct)
        plus += p
        minus += m
    if head == H_SOFTMAX:
        loss = (plus - minus) / n_all
    elif head == H_SIGMOID:
        loss = plus / n_all
    else:
        loss = 0.5 * plus / n_all
    return loss, correct[0] / n_all


@_jit(fastmath=REASSOC)
def _penalty(sizes, block_at, params, l1, l2):
    """0.5 l2 |W|^2 + l1 |W|_1 over every weight (biases and other parameters exempt)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    sq, ab = 0.0, 0.0
    for layer in range(len(sizes) - 1):
        at = block_at[layer]
        for p in range(at, at + sizes[layer] * sizes[layer + 1]):
            w = params[p]
            sq += w * w
            ab += abs(w)
    out = 0.0
    if l2:
        out += 0.5 * l2 * sq
    if l1:
        out += l1 * ab
    return out


# ------------------------------------------------------------------ one training step
@_jit
def _train_forward(sizes, codes, alphas, slope_at, block_at, keep, params, xb, z, f, a,
                   z1, f1, f2, a2, mask, drop, cursor, n):
    """Training pass through the hidden layers, with dropout masks drawn from ``drop``
    (laid out samples x units per layer, as ``rng.random((n, units))`` fills them).
    The work arrays come as (rows, groups, LANES) (``z``, ``f``, ``a``), flat (``z1``,
    ``f1``) and (rows, columns) (``f2``, ``a2``). Returns the cursor after the numbers
    used."""
    groups = groups_for(n)
    width = z.shape[1] * LANES
    zero = 0.0
    src, src_row = xb, 0
    row = 0
    for layer in range(len(sizes) - 2):
        fan_in, units = sizes[layer], sizes[layer + 1]
        _dense(params, block_at[layer], fan_in, units, src, src_row, z, row, groups,
               zero)
        _activate(codes[layer], alphas[layer], params, slope_at[layer], z1, f1, row, units,
                  width, n)
        if keep[layer] < 1.0:
            kp = keep[layer]
            scale = 1.0 / kp
            for s in range(n):
                for j in range(units):
                    m = (1.0 if drop[cursor + s * units + j] < kp else 0.0) * scale
                    mask[row + j, s] = m
                    a2[row + j, s] = f2[row + j, s] * m
            cursor += n * units
            src = a
        else:
            src = f
        src_row = row
        row += units
    return cursor


@_jit
def _head_train(head, z, out, d, row, k, t, rows, first, n):
    """Output, mean loss and dL/dz of a batch (the numpy heads' ``train`` formulas)."""
    inv_n = 1.0 / n
    if head == H_SOFTMAX:
        lse_sum, tz = 0.0, 0.0
        for s in range(n):
            r = rows[first + s]
            m = max(z[row, s], z[row + 1, s])
            for j in range(2, k):
                m = max(m, z[row + j, s])
            e = 0.0
            for j in range(k):
                out[row + j, s] = math.exp(z[row + j, s] - m)
                e += out[row + j, s]
            for j in range(k):
                out[row + j, s] /= e
            lse_sum += math.log(e) + m
            for j in range(k):
                tz += t[r, j] * z[row + j, s]
                d[row + j, s] = (out[row + j, s] - t[r, j]) * inv_n
        loss = (lse_sum - tz) / n
    elif head == H_SIGMOID:
        soft, tz = 0.0, 0.0
        for s in range(n):
            r = rows[first + s]
            zs = z[row, s]
            out[row, s] = _sigmoid(zs)
            soft += _logaddexp0(zs)
            tz += t[r, 0] * zs
            d[row, s] = (out[row, s] - t[r, 0]) * inv_n
        loss = (soft - tz) / n
    else:
        sq = 0.0
        for j in range(k):
            for s in range(n):
                r = rows[first + s]
                zs = z[row + j, s]
                if head == H_CLASSIC:
                    o = _tanh(zs)
                    diff = o - t[r, j]
                    sq += diff * diff
                    d[row + j, s] = (diff * (1.0 - o * o)) * inv_n
                else:
                    o = zs
                    diff = zs - t[r, j]
                    sq += diff * diff
                    d[row + j, s] = diff * inv_n
                out[row + j, s] = o
        loss = 0.5 * sq / n
    return loss


@_jit
def _backward(sizes, codes, alphas, slope_at, block_at, keep, params, grad, xb2, z1, z2,
              f1, f2, a2, mask, d, d1, d2, da, da1, da2, dt2, dt3, gw, rows_at, n):
    """Gradients of every block (and the PReLU slopes) from dL/dz of the output layer;
    ``rows_at[layer]`` is the first work-array row of that layer's units. The work
    arrays come as (rows, groups, LANES), flat (``1``) and (rows, columns) (``2``);
    ``dt2``, ``dt3`` are two views of the transposition space and ``gw`` the space for
    the weight gradients' sums (see ``_weight_grad``)."""
    groups = groups_for(n)
    width = d.shape[1] * LANES
    L = len(sizes) - 1
    for layer in range(L - 1, -1, -1):
        fan_in, units, row = sizes[layer], sizes[layer + 1], rows_at[layer]
        if layer < L - 1:  # hidden: turn dL/da into dL/dz
            sa = slope_at[layer]
            if keep[layer] < 1.0:
                for r in range(row, row + units):
                    for s in range(n):
                        da2[r, s] *= mask[r, s]
            if sa >= 0:  # dL/dslope_j = sum over the batch of dL/da * min(z, 0)
                for j in range(units):
                    g = 0.0
                    for s in range(n):
                        g += da2[row + j, s] * min(z2[row + j, s], 0.0)
                    grad[sa + j] = g
            _delta(codes[layer], alphas[layer], params, sa, z1, f1, da1, d1, row, units,
                   width, n)
        _transpose(d2, row, units, n, dt2)
        src, prev = xb2, rows_at[0]  # the inputs, for the first layer
        if layer > 0:
            src = a2 if keep[layer - 1] < 1.0 else f2
            prev = rows_at[layer - 1]
        _weight_grad(grad, block_at[layer], fan_in, units, src, prev, dt3, n, gw)
        if layer > 0:
            _input_grad(params, block_at[layer], fan_in, units, d, row, da, prev, groups)


@_jit
def _penalty_grad(sizes, block_at, params, grad, l1, l2):
    for layer in range(len(sizes) - 1):
        at = block_at[layer]
        for p in range(at, at + sizes[layer] * sizes[layer + 1]):
            if l2:
                grad[p] += l2 * params[p]
            if l1:
                w = params[p]
                grad[p] += l1 * (1.0 if w > 0.0 else (-1.0 if w < 0.0 else w * 0.0))


@_jit
def _optimizer_step(opt, hyper, s1, s2, t, params, grad, update, lr):
    """The update of one step into ``update`` (the numpy optimizers' formulas)."""
    P = params.shape[0]
    if opt == O_SGD:
        mu, nesterov = hyper[0], hyper[1]
        if mu == 0.0:
            for p in range(P):
                update[p] = grad[p] * -lr
        elif nesterov:
            for p in range(P):
                v = s1[p] * mu - lr * grad[p]
                s1[p] = v
                update[p] = v * mu - lr * grad[p]
        else:
            for p in range(P):
                v = s1[p] * mu - lr * grad[p]
                s1[p] = v
                update[p] = v
    elif opt == O_RMSPROP:
        rho, mu, eps = hyper[0], hyper[1], hyper[2]
        for p in range(P):
            g = grad[p]
            s = s1[p] * rho + (g * g) * (1.0 - rho)
            s1[p] = s
            denom = math.sqrt(s) + eps
            if mu:
                b = s2[p] * mu + g / denom
                s2[p] = b
                update[p] = b * -lr
            else:
                update[p] = (g / denom) * -lr
    elif opt == O_ADAGRAD:
        eps = hyper[0]
        for p in range(P):
            g = grad[p]
            s = s1[p] + g * g
            s1[p] = s
            update[p] = (g / (math.sqrt(s) + eps)) * -lr
    else:  # adam, adamw, on the decayed sums s1 = m / (1 - b1), s2 = v / (1 - b2)
        b1, b2, eps, wd = hyper[0], hyper[1], hyper[2], hyper[3]
        root = math.sqrt(1.0 - b2)  # the constants of optimizers.adam_factors
        k, eps_k = (1.0 - b1) / root, eps / root
        c2 = math.sqrt(1.0 - math.pow(b2, float(t)))
        scale = -lr * c2 * k / (1.0 - math.pow(b1, float(t)))
        shift = c2 * eps_k
        if opt == O_ADAMW and wd != 0.0:
            decay = lr * wd
            for p in range(P):
                g = grad[p]
                m = s1[p] * b1 + g
                v = s2[p] * b2 + g * g
                s1[p] = m
                s2[p] = v
                update[p] = (m / (math.sqrt(v) + shift)) * scale - decay * params[p]
        else:
            for p in range(P):
                g = grad[p]
                m = s1[p] * b1 + g
                v = s2[p] * b2 + g * g
                s1[p] = m
                s2[p] = v
                update[p] = (m / (math.sqrt(v) + shift)) * scale


@_jit(fastmath=REASSOC)
def _apply_update(sizes, block_at, params, grad, update, norms):
    """params += update, then the per-layer norms of the weights, their gradient and
    their update into ``norms`` (3, L), in one pass; False if any is not finite."""
    for p in range(params.shape[0]):
        params[p] += update[p]
    finite = True
    for layer in range(len(sizes) - 1):
        at = block_at[layer]
        end = at + sizes[layer] * sizes[layer + 1]
        w, g, u = params[at:end], grad[at:end], update[at:end]
        qp = qg = qu = 0.0
        for p in range(end - at):
            qp += w[p] * w[p]
            qg += g[p] * g[p]
            qu += u[p] * u[p]
        norms[0, layer] = math.sqrt(qp)
        norms[1, layer] = math.sqrt(qg)
        norms[2, layer] = math.sqrt(qu)
        finite = finite and math.isfinite(qp) and math.isfinite(qg) and math.isfinite(qu)
    return finite


# ------------------------------------------------------------------ the entry points
@_entry
def train_steps(sizes, codes, alphas, slope_at, block_at, keep, head,
                buffer, opt, hyper, s1, s2, opt_steps,
                x, t, rows, left, n_train, batch, rates, l1, l2, drop,
                eval_every, first_step, y, x_test, t_test, y_test,
                losses, penalties, norms, evals):
    """Run ``len(rates)`` training steps in one call; returns (steps done, evaluations).

    ``buffer`` is the network's (3, P) params/grad/update buffer and ``s1``, ``s2`` the
    optimizer's state, all updated in place. The steps take their samples from ``x``/``t``
    in the order of ``rows`` as the trainer does: batches of ``batch`` samples, the last
    of each epoch shorter, with ``left`` samples left in the epoch under way (none: a new
    epoch starts) and ``n_train`` in every later epoch. Step ``k`` trains at learning
    rate ``rates[k]``. Per step it writes the loss (with the L1/L2 penalty), the penalty
    and, per layer, the norms of the weights, their gradient and their update
    (``norms[k]``). Every ``eval_every`` steps (counted from ``first_step``) it evaluates
    the training and test sets into a row of ``evals`` (see ``EVAL_FIELDS``). A non-finite
    loss or norm ends the run after that step.
    """
    params, grad, update = buffer[0], buffer[1], buffer[2]
    L = len(sizes) - 1
    k_out = sizes[L]
    rows_at = np.zeros(L + 1, np.int64)
    for layer in range(L):
        rows_at[layer + 1] = rows_at[layer] + sizes[layer + 1]
    n_units = rows_at[L]
    out_row = rows_at[L - 1]
    groups = groups_for(batch)
    width = groups * LANES
    # the work arrays, each seen three ways: flat (z1), (rows, columns) (z2) and
    # (rows, groups, LANES) (z); xb holds the batch's inputs
    xb2 = np.zeros((sizes[0], width))
    xb = xb2.reshape((sizes[0], groups, LANES))
    flat, table, grouped = n_units * width, (n_units, width), (n_units, groups, LANES)
    z1, f1, a1, d1, da1 = (np.zeros(flat), np.zeros(flat), np.zeros(flat), np.zeros(flat),
                           np.zeros(flat))
    z2, f2, a2 = z1.reshape(table), f1.reshape(table), a1.reshape(table)
    d2, da2 = d1.reshape(table), da1.reshape(table)
    z, f, a = z1.reshape(grouped), f1.reshape(grouped), a1.reshape(grouped)
    d, da = d1.reshape(grouped), da1.reshape(grouped)
    mask = np.zeros(table)
    unit_groups = groups_for(max(sizes[1:]))
    dt3 = np.zeros((width, unit_groups, LANES))
    dt2 = dt3.reshape((width, unit_groups * LANES))
    gw = np.zeros((max(sizes[:-1]) + 1, unit_groups, LANES))
    src_out, src_out_row = xb, 0
    if L > 1:
        src_out = a if keep[L - 2] < 1.0 else f
        src_out_row = rows_at[L - 2]
    # evaluations: work arrays of their own, CHUNK samples wide
    eval_groups = CHUNK // LANES if eval_every > 0 else 0
    exb = np.zeros((sizes[0], eval_groups, LANES))
    ez = np.zeros((n_units, eval_groups, LANES))
    ea = np.zeros((n_units, eval_groups, LANES))
    correct = np.zeros(1, np.int64)
    penalized = l1 != 0.0 or l2 != 0.0
    cursor = 0
    first = 0
    n_evals = 0
    done = 0
    for k in range(len(rates)):
        if left <= 0:
            left = n_train
        n = min(batch, left)
        left -= n
        _load_rows(x, rows, first, n, xb2)
        cursor = _train_forward(sizes, codes, alphas, slope_at, block_at, keep, params, xb,
                                z, f, a, z1, f1, f2, a2, mask, drop, cursor, n)
        _dense(params, block_at[L - 1], sizes[L - 1], k_out, src_out, src_out_row, z,
               out_row, groups_for(n), 0.0)
        loss = _head_train(head, z2, f2, d2, out_row, k_out, t, rows, first, n)
        _backward(sizes, codes, alphas, slope_at, block_at, keep, params, grad, xb2, z1, z2,
                  f1, f2, a2, mask, d, d1, d2, da, da1, da2, dt2, dt3, gw, rows_at, n)
        first += n
        penalty = 0.0
        if penalized:
            penalty = _penalty(sizes, block_at, params, l1, l2)
            _penalty_grad(sizes, block_at, params, grad, l1, l2)
        _optimizer_step(opt, hyper, s1, s2, opt_steps + k + 1, params, grad, update,
                        rates[k])
        finite = _apply_update(sizes, block_at, params, grad, update, norms[k])
        total = loss + penalty
        losses[k] = total
        penalties[k] = penalty
        done = k + 1
        if not (finite and math.isfinite(total)):
            break
        if eval_every > 0 and (first_step + k + 1) % eval_every == 0:
            record = evals[n_evals]
            record[0] = k
            record[1], record[2] = _evaluate(sizes, codes, alphas, slope_at, block_at, head,
                                             params, x, t, y, exb, ez, ea, correct)
            record[3], record[4] = _evaluate(sizes, codes, alphas, slope_at, block_at, head,
                                             params, x_test, t_test, y_test, exb, ez, ea,
                                             correct)
            record[5] = _penalty(sizes, block_at, params, l1, l2)
            n_evals += 1
    return done, n_evals


@_entry
def predict(sizes, codes, alphas, slope_at, block_at, head, params, x, out):
    """Network output for each row of ``x`` into ``out`` (n, k), in evaluation mode.

    Works in the dtype of ``x`` (float32 for drawing, like ``Network.predict``), eight
    samples to a group (``_dense_wide``). The heads go over each output row at once:
    sigmoid and classic through the SIMD loops of ``_activate``, softmax with
    ``_exp_inline``."""
    p = params.astype(x.dtype)
    zero = np.zeros(1, x.dtype)[0]
    L = len(sizes) - 1
    k = sizes[L]
    n_units = 0
    for layer in range(L):
        n_units += sizes[layer + 1]
    out_row = n_units - k
    groups = CHUNK // WIDE
    xb = np.zeros((sizes[0], groups, WIDE), x.dtype)
    z = np.zeros((n_units, groups, WIDE), x.dtype)
    a = np.zeros((n_units, groups, WIDE), x.dtype)
    xb2 = xb.reshape((sizes[0], CHUNK))
    z1, z2 = z.reshape(z.size), z.reshape((n_units, CHUNK))
    a1, a2 = a.reshape(a.size), a.reshape((n_units, CHUNK))
    squash = SIGMOID if head == H_SIGMOID else TANH if head == H_CLASSIC else -1
    shared = np.zeros((2, CHUNK), x.dtype)  # the softmax's maximum and sum per sample
    for first in range(0, x.shape[0], CHUNK):
        n = min(CHUNK, x.shape[0] - first)
        _load_range(x, first, n, xb2)
        groups = (n + WIDE - 1) // WIDE
        # the hidden layers (as in ``_hidden_forward``), then the output layer
        src, src_row, row = xb, 0, 0
        for layer in range(L - 1):
            units = sizes[layer + 1]
            _dense_wide(p, block_at[layer], sizes[layer], units, src, src_row, z, row,
                        groups, zero)
            _activate(codes[layer], alphas[layer], p, slope_at[layer], z1, a1, row, units,
                      CHUNK, n)
            src, src_row = a, row
            row += units
        _dense_wide(p, block_at[L - 1], sizes[L - 1], k, src, src_row, z, out_row, groups,
                    zero)
        if head == H_SOFTMAX:
            # row by row over the samples: the largest logit, then e^(z - max) into the
            # output's rows of ``a`` and their sum, then the quotients
            top, total = shared[0], shared[1]
            for s in range(n):
                top[s] = z2[out_row, s]
            for j in range(1, k):
                zr = z2[out_row + j]
                for s in range(n):
                    top[s] = max(top[s], zr[s])
            for s in range(n):
                total[s] = 0.0
            for j in range(k):
                zr, er = z2[out_row + j], a2[out_row + j]
                for s in range(n):
                    er[s] = _exp_inline(zr[s] - top[s])
                    total[s] += er[s]
            for s in range(n):
                for j in range(k):
                    out[first + s, j] = a2[out_row + j, s] / total[s]
        else:
            values = z2
            if squash >= 0:
                _activate(squash, 0.0, p, -1, z1, a1, out_row, k, CHUNK, n)
                values = a2
            for s in range(n):
                for j in range(k):
                    out[first + s, j] = values[out_row + j, s]
