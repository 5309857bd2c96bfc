"""The compiled kernels: many training steps, a data-set evaluation and a prediction pass.

Each kernel is one generic function for every dense network the numpy engine builds: the
architecture arrives as plain arrays (layer widths, activation codes, parameter offsets)
and the activation, head and optimizer as small integer codes, so numba compiles one
version per kernel and dtype (not one per configuration), and caches it on disk.

The formulas are those of the numpy reference (``activations``, ``heads``, ``network``,
``optimizers``), written out one element at a time in the same order of operations, so
that both paths agree to rounding. Only sums may be reordered: like BLAS, the compiler may
split a sum into partial sums to vectorize it (``fastmath`` reassociation and fused
multiply-add, nothing that assumes finite values, so infinities and NaNs still propagate
and divergence is still caught). Values are kept unit by unit with the batch innermost,
as in the numpy training pass.

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
from playground.engine.compiled.cache import caching_enabled

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
#: Samples per pass when evaluating a whole data set.
CHUNK = 128

SELU_SLOPE = SELU_LAMBDA * SELU_ALPHA
#: LLVM flags: reorder sums, fuse multiply-adds. Not "nnan"/"ninf": divergence needs them.
FAST_MATH = frozenset({"reassoc", "contract"})


def _jit(fn):
    """Compile without the GIL, with numpy's float semantics (inf and nan, no raising) and
    with sums free to be reordered (see the module docstring).

    With ``cache=True`` numba needs a folder it can write to; when it finds none it
    refuses at decoration time, and the kernel is compiled afresh in each process.
    """
    options = {"nogil": True, "error_model": "numpy", "fastmath": set(FAST_MATH)}
    if caching_enabled():
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            pass
    return numba.njit(**options)(fn)


# ------------------------------------------------------------------ activations and heads
@_jit
def _sigmoid(z):
    return math.tanh(z * 0.5) * 0.5 + 0.5


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
    return math.tanh(GELU_C * (z + GELU_K * z * z * z))


@_jit
def _unit_alpha(alpha, params, slope_at, j):
    """The activation parameter of unit j: its PReLU slope, else the layer's alpha."""
    return params[slope_at + j] if slope_at >= 0 else alpha


@_jit
def _activate(code, alpha, params, slope_at, z, out, row, units, n):
    """out = f(z) on rows row .. row + units - 1, columns :n (one layer).

    The branch on the activation sits outside the loops, so each loop is simple."""
    for r in range(row, row + units):
        al = _unit_alpha(alpha, params, slope_at, r - row)
        if code == TANH:
            for s in range(n):
                out[r, s] = math.tanh(z[r, s])
        elif code == RELU:
            for s in range(n):
                out[r, s] = 0.0 if z[r, s] <= 0.0 else z[r, s]
        elif code == SIGMOID:
            for s in range(n):
                out[r, s] = _sigmoid(z[r, s])
        elif code == LEAKY_RELU or code == PRELU:
            for s in range(n):
                out[r, s] = z[r, s] if z[r, s] > 0.0 else z[r, s] * al
        elif code == ELU:
            for s in range(n):
                out[r, s] = z[r, s] if z[r, s] > 0.0 else math.expm1(z[r, s]) * al
        elif code == SELU:
            for s in range(n):
                v = z[r, s]
                out[r, s] = (v if v > 0.0 else math.expm1(v) * SELU_ALPHA) * SELU_LAMBDA
        elif code == SWISH:
            for s in range(n):
                out[r, s] = _sigmoid(z[r, s]) * z[r, s]
        elif code == GELU:
            for s in range(n):
                out[r, s] = (z[r, s] * 0.5) * (_gelu_tanh(z[r, s]) + 1.0)
        elif code == SOFTPLUS:
            for s in range(n):
                out[r, s] = _logaddexp0(z[r, s])
        else:  # linear
            for s in range(n):
                out[r, s] = z[r, s]


@_jit
def _delta(code, alpha, params, slope_at, z, a, da, d, row, units, n):
    """d = f'(z) * dL/da on the rows of one layer, given a = f(z)."""
    for r in range(row, row + units):
        al = _unit_alpha(alpha, params, slope_at, r - row)
        if code == TANH:
            for s in range(n):
                d[r, s] = (1.0 - a[r, s] * a[r, s]) * da[r, s]
        elif code == RELU:
            for s in range(n):  # sign(a): a = max(z, 0) is never negative
                v = a[r, s]
                d[r, s] = (1.0 if v > 0.0 else (0.0 if v == 0.0 else v)) * da[r, s]
        elif code == SIGMOID:
            for s in range(n):
                d[r, s] = ((1.0 - a[r, s]) * a[r, s]) * da[r, s]
        elif code == LEAKY_RELU or code == PRELU:
            for s in range(n):
                d[r, s] = (1.0 if z[r, s] > 0.0 else al) * da[r, s]
        elif code == ELU:
            for s in range(n):
                d[r, s] = (1.0 if z[r, s] > 0.0 else a[r, s] + al) * da[r, s]
        elif code == SELU:
            for s in range(n):
                d[r, s] = (SELU_LAMBDA if z[r, s] > 0.0 else a[r, s] + SELU_SLOPE) * da[r, s]
        elif code == SWISH:
            for s in range(n):
                v = z[r, s]
                sg = _sigmoid(v)
                d[r, s] = (((1.0 - sg) * v + 1.0) * sg) * da[r, s]
        elif code == GELU:
            for s in range(n):
                v = z[r, s]
                t = _gelu_tanh(v)
                inner = GELU_C * (1.0 + 3.0 * GELU_K * v * v)
                d[r, s] = (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * inner) * da[r, s]
        elif code == SOFTPLUS:
            for s in range(n):
                d[r, s] = _sigmoid(z[r, s]) * da[r, s]
        else:  # linear
            for s in range(n):
                d[r, s] = da[r, s]


@_jit
def work_width(n):
    """Columns of a work array for batches of up to n samples (see ``_dense``)."""
    return (n + 3) // 4 * 4


@_jit
def _dense(params, at, fan_in, units, src, src_row, z, z_row, n):
    """z[j] = sum_i W[i, j] src[i] + b[j] for the n columns of a batch.

    Long batches loop over the batch, which the compiler vectorizes. Short ones go four
    samples at a time with their sums in registers, rounding n up to a multiple of four:
    the work arrays are that wide (see ``work_width``), the extra columns hold finite
    leftovers, and nothing reads what is computed from them (every later step works
    column by column, and every sum over the batch stops at n)."""
    for j in range(units):
        zj = z_row + j
        b = params[at + fan_in * units + j]
        if n >= 16:
            for s in range(n):
                z[zj, s] = 0.0
            for i in range(fan_in):
                w = params[at + i * units + j]
                si = src_row + i
                for s in range(n):
                    z[zj, s] += w * src[si, s]
            for s in range(n):
                z[zj, s] += b
            continue
        for s in range(0, n, 4):  # up to three columns past n: see the docstring
            c0 = c1 = c2 = c3 = 0.0
            for i in range(fan_in):
                w = params[at + i * units + j]
                si = src_row + i
                c0 += w * src[si, s]
                c1 += w * src[si, s + 1]
                c2 += w * src[si, s + 2]
                c3 += w * src[si, s + 3]
            z[zj, s] = c0 + b
            z[zj, s + 1] = c1 + b
            z[zj, s + 2] = c2 + b
            z[zj, s + 3] = c3 + b


@_jit
def _hidden_forward(sizes, codes, alphas, slope_at, block_at, params, x, z, a, n):
    """Evaluation pass through the hidden layers; ``a`` gets f(z). Returns the output
    layer's input (array, first row)."""
    src, src_row = x, 0
    row = 0
    for layer in range(len(sizes) - 2):
        fan_in, units = sizes[layer], sizes[layer + 1]
        _dense(params, block_at[layer], fan_in, units, src, src_row, z, row, n)
        _activate(codes[layer], alphas[layer], params, slope_at[layer], z, a, row, units, n)
        src, src_row = a, row
        row += units
    return src, src_row


@_jit
def _load_columns(x, rows, first, n, out):
    """out[:, s] = x[rows[first + s]]: a batch laid out inputs x samples."""
    for s in range(n):
        r = rows[first + s]
        for i in range(x.shape[1]):
            out[i, s] = x[r, i]


@_jit
def _load_range(x, first, n, out):
    for s in range(n):
        for i in range(x.shape[1]):
            out[i, s] = x[first + s, i]


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
            o = math.tanh(z[row, s])
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
    """(mean data loss, accuracy) over a whole data set, in evaluation mode."""
    n_all = x.shape[0]
    if n_all == 0:
        return math.nan, math.nan
    L = len(sizes) - 1
    k = sizes[L]
    out_row = 0
    for layer in range(L - 1):
        out_row += sizes[layer + 1]
    plus, minus = 0.0, 0.0
    correct[0] = 0
    for first in range(0, n_all, CHUNK):
        n = min(CHUNK, n_all - first)
        _load_range(x, first, n, xb)
        src, src_row = _hidden_forward(sizes, codes, alphas, slope_at, block_at, params,
                                       xb, z, a, n)
        _dense(params, block_at[L - 1], sizes[L - 1], k, src, src_row, z, out_row, n)
        p, m = _head_loss_sums(head, z, out_row, k, t, first, n, y, correct)
        plus += p
        minus += m
    if head == H_SOFTMAX:
        loss = (plus - minus) / n_all
    elif head == H_SIGMOID:
        loss = plus / n_all
    else:
        loss = 0.5 * plus / n_all
    return loss, correct[0] / n_all


@_jit
def _sum_squares(v, lo, hi):
    q = 0.0
    for p in range(lo, hi):
        q += v[p] * v[p]
    return q


@_jit
def _sum_abs(v, lo, hi):
    q = 0.0
    for p in range(lo, hi):
        q += abs(v[p])
    return q


@_jit
def _penalty(sizes, block_at, params, l1, l2):
    """0.5 l2 |W|^2 + l1 |W|_1 over every weight (biases and other parameters exempt)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    sq, ab = 0.0, 0.0
    for layer in range(len(sizes) - 1):
        at = block_at[layer]
        end = at + sizes[layer] * sizes[layer + 1]
        sq += _sum_squares(params, at, end)
        ab += _sum_abs(params, at, end)
    out = 0.0
    if l2:
        out += 0.5 * l2 * sq
    if l1:
        out += l1 * ab
    return out


# ------------------------------------------------------------------ one training step
@_jit
def _train_forward(sizes, codes, alphas, slope_at, block_at, keep, params, xb, z, f, a,
                   mask, drop, cursor, n):
    """Training pass through the hidden layers, with dropout masks drawn from ``drop``
    (laid out samples x units per layer, as ``rng.random((n, units))`` fills them).
    Returns the cursor after the numbers used."""
    src, src_row = xb, 0
    row = 0
    for layer in range(len(sizes) - 2):
        fan_in, units = sizes[layer], sizes[layer + 1]
        _dense(params, block_at[layer], fan_in, units, src, src_row, z, row, n)
        _activate(codes[layer], alphas[layer], params, slope_at[layer], z, f, row, units, n)
        if keep[layer] < 1.0:
            scale = 1.0 / keep[layer]
            for s in range(n):
                for j in range(units):
                    m = (1.0 if drop[cursor + s * units + j] < keep[layer] else 0.0) * scale
                    mask[row + j, s] = m
                    a[row + j, s] = f[row + j, s] * m
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
        return (lse_sum - tz) / n
    if head == H_SIGMOID:
        soft, tz = 0.0, 0.0
        for s in range(n):
            r = rows[first + s]
            zs = z[row, s]
            out[row, s] = _sigmoid(zs)
            soft += _logaddexp0(zs)
            tz += t[r, 0] * zs
            d[row, s] = (out[row, s] - t[r, 0]) * inv_n
        return (soft - tz) / n
    sq = 0.0
    for j in range(k):
        for s in range(n):
            r = rows[first + s]
            zs = z[row + j, s]
            if head == H_CLASSIC:
                o = math.tanh(zs)
                diff = o - t[r, j]
                sq += diff * diff
                d[row + j, s] = (diff * (1.0 - o * o)) * inv_n
            else:
                o = zs
                diff = zs - t[r, j]
                sq += diff * diff
                d[row + j, s] = diff * inv_n
            out[row + j, s] = o
    return 0.5 * sq / n


@_jit
def _weight_grad(grad, at, fan_in, units, src, src_row, d, d_row, n):
    """dL/dW[i, j] = sum_s src[i, s] d[j, s] and dL/db[j] = sum_s d[j, s]: dot products
    of contiguous rows, which the compiler vectorizes (it may reorder these sums)."""
    for i in range(fan_in):
        si = src_row + i
        for j in range(units):
            dj = d_row + j
            g = 0.0
            for s in range(n):
                g += src[si, s] * d[dj, s]
            grad[at + i * units + j] = g
    for j in range(units):
        dj = d_row + j
        g = 0.0
        for s in range(n):
            g += d[dj, s]
        grad[at + fan_in * units + j] = g


@_jit
def _input_grad(params, at, fan_in, units, d, d_row, da, da_row, n):
    """dL/da_prev[i, s] = sum_j W[i, j] d[j, s], summed over j in order (batches as in
    ``_dense``)."""
    for i in range(fan_in):
        di = da_row + i
        w_at = at + i * units
        if n >= 16:
            for s in range(n):
                da[di, s] = 0.0
            for j in range(units):
                w = params[w_at + j]
                dj = d_row + j
                for s in range(n):
                    da[di, s] += w * d[dj, s]
            continue
        for s in range(0, n, 4):  # up to three columns past n, as in _dense
            c0 = c1 = c2 = c3 = 0.0
            for j in range(units):
                w = params[w_at + j]
                dj = d_row + j
                c0 += w * d[dj, s]
                c1 += w * d[dj, s + 1]
                c2 += w * d[dj, s + 2]
                c3 += w * d[dj, s + 3]
            da[di, s] = c0
            da[di, s + 1] = c1
            da[di, s + 2] = c2
            da[di, s + 3] = c3


@_jit
def _backward(sizes, codes, alphas, slope_at, block_at, keep, params, grad, xb, z, f, a,
              mask, d, da, rows_at, n):
    """Gradients of every block (and the PReLU slopes) from dL/dz of the output layer;
    ``rows_at[layer]`` is the first work-array row of that layer's units."""
    L = len(sizes) - 1
    for layer in range(L - 1, -1, -1):
        fan_in, units, row = sizes[layer], sizes[layer + 1], rows_at[layer]
        if layer < L - 1:  # hidden: turn dL/da into dL/dz
            sa = slope_at[layer]
            if keep[layer] < 1.0:
                for r in range(row, row + units):
                    for s in range(n):
                        da[r, s] *= mask[r, s]
            if sa >= 0:  # dL/dslope_j = sum over the batch of dL/da * min(z, 0)
                for j in range(units):
                    g = 0.0
                    for s in range(n):
                        g += da[row + j, s] * min(z[row + j, s], 0.0)
                    grad[sa + j] = g
            _delta(codes[layer], alphas[layer], params, sa, z, f, da, d, row, units, n)
        if layer == 0:
            _weight_grad(grad, block_at[0], fan_in, units, xb, 0, d, row, n)
        else:
            prev = rows_at[layer - 1]
            src = a if keep[layer - 1] < 1.0 else f
            _weight_grad(grad, block_at[layer], fan_in, units, src, prev, d, row, n)
            _input_grad(params, block_at[layer], fan_in, units, d, row, da, prev, n)


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
        else:
            for p in range(P):
                v = s1[p] * mu - lr * grad[p]
                s1[p] = v
                update[p] = v * mu - lr * grad[p] if nesterov else v
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
    else:  # adam, adamw
        b1, b2, eps, wd = hyper[0], hyper[1], hyper[2], hyper[3]
        c1 = 1.0 - math.pow(b1, float(t))
        c2 = math.sqrt(1.0 - math.pow(b2, float(t)))
        scale = -lr * c2 / c1
        ceps = c2 * eps
        decay = opt == O_ADAMW and wd != 0.0
        for p in range(P):
            g = grad[p]
            m = s1[p] * b1 + g * (1.0 - b1)
            v = s2[p] * b2 + (g * g) * (1.0 - b2)
            s1[p] = m
            s2[p] = v
            u = (m / (math.sqrt(v) + ceps)) * scale
            if decay:
                u -= (lr * wd) * params[p]
            update[p] = u


# ------------------------------------------------------------------ the entry points
@_jit
def train_steps(sizes, codes, alphas, slope_at, block_at, keep, head,
                buffer, opt, hyper, s1, s2, opt_steps,
                x, t, rows, starts, rates, l1, l2, drop,
                eval_every, first_step, y, x_test, t_test, y_test,
                losses, penalties, norms, evals):
    """Run ``len(rates)`` training steps in one call; returns (steps done, evaluations).

    ``buffer`` is the network's (3, P) params/grad/update buffer and ``s1``, ``s2`` the
    optimizer's state, all updated in place. Step ``k`` trains on the samples
    ``rows[starts[k]:starts[k + 1]]`` of ``x``/``t`` at learning rate ``rates[k]``.
    Per step it writes the loss (with the L1/L2 penalty), the penalty and, per layer,
    the norms of the weights, their gradient and their update (``norms[k]``). Every
    ``eval_every`` steps (counted from ``first_step``) it evaluates the training and test
    sets into a row of ``evals`` (see ``EVAL_FIELDS``). A non-finite loss or norm ends
    the run after that step.
    """
    params, grad, update = buffer[0], buffer[1], buffer[2]
    L = len(sizes) - 1
    k_out = sizes[L]
    rows_at = np.zeros(L + 1, np.int64)
    for layer in range(L):
        rows_at[layer + 1] = rows_at[layer] + sizes[layer + 1]
    n_units = rows_at[L]
    out_row = rows_at[L - 1]
    b_max = 1
    for k in range(len(rates)):
        b_max = max(b_max, starts[k + 1] - starts[k])
    width = work_width(max(b_max, CHUNK))
    xb = np.zeros((sizes[0], width))
    z = np.zeros((n_units, width))
    f = np.zeros((n_units, width))
    a = np.zeros((n_units, width))
    mask = np.zeros((n_units, width))
    d = np.zeros((n_units, width))
    da = np.zeros((n_units, width))
    correct = np.zeros(1, np.int64)
    cursor = 0
    n_evals = 0
    done = 0
    for k in range(len(rates)):
        first, n = starts[k], starts[k + 1] - starts[k]
        _load_columns(x, rows, first, n, xb)
        cursor = _train_forward(sizes, codes, alphas, slope_at, block_at, keep, params, xb,
                                z, f, a, mask, drop, cursor, n)
        src, src_row = xb, 0
        if L > 1:
            src = a if keep[L - 2] < 1.0 else f
            src_row = rows_at[L - 2]
        _dense(params, block_at[L - 1], sizes[L - 1], k_out, src, src_row, z, out_row, n)
        loss = _head_train(head, z, f, d, out_row, k_out, t, rows, first, n)
        _backward(sizes, codes, alphas, slope_at, block_at, keep, params, grad, xb, z, f,
                  a, mask, d, da, rows_at, n)
        penalty = _penalty(sizes, block_at, params, l1, l2)
        if l1 != 0.0 or l2 != 0.0:
            _penalty_grad(sizes, block_at, params, grad, l1, l2)
        _optimizer_step(opt, hyper, s1, s2, opt_steps + k + 1, params, grad, update,
                        rates[k])
        for p in range(params.shape[0]):
            params[p] += update[p]
        finite = True
        for layer in range(L):
            at = block_at[layer]
            for which in range(3):  # params, grad, update
                sq = _sum_squares(buffer[which], at, at + sizes[layer] * sizes[layer + 1])
                norms[k, which, layer] = math.sqrt(sq)
                finite = finite and math.isfinite(sq)
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
                                             params, x, t, y, xb, z, a, correct)
            record[3], record[4] = _evaluate(sizes, codes, alphas, slope_at, block_at, head,
                                             params, x_test, t_test, y_test, xb, z, a,
                                             correct)
            record[5] = _penalty(sizes, block_at, params, l1, l2)
            n_evals += 1
    return done, n_evals


@_jit
def predict(sizes, codes, alphas, slope_at, block_at, head, params, x, out):
    """Network output for each row of ``x`` into ``out`` (n, k), in evaluation mode.

    Works in the dtype of ``x`` (float32 for drawing, like ``Network.predict``)."""
    p = params.astype(x.dtype)
    L = len(sizes) - 1
    k = sizes[L]
    n_units = 0
    for layer in range(L):
        n_units += sizes[layer + 1]
    out_row = n_units - k
    xb = np.zeros((sizes[0], work_width(CHUNK)), x.dtype)
    z = np.zeros((n_units, work_width(CHUNK)), x.dtype)
    a = np.zeros((n_units, work_width(CHUNK)), x.dtype)
    for first in range(0, x.shape[0], CHUNK):
        n = min(CHUNK, x.shape[0] - first)
        _load_range(x, first, n, xb)
        src, src_row = _hidden_forward(sizes, codes, alphas, slope_at, block_at, p, xb, z, a,
                                       n)
        _dense(p, block_at[L - 1], sizes[L - 1], k, src, src_row, z, out_row, n)
        for s in range(n):
            r = first + s
            if head == H_SOFTMAX:
                m = z[out_row, s]
                for j in range(1, k):
                    m = max(m, z[out_row + j, s])
                e = 0.0
                for j in range(k):
                    out[r, j] = math.exp(z[out_row + j, s] - m)
                    e += out[r, j]
                for j in range(k):
                    out[r, j] /= e
            else:
                for j in range(k):
                    zs = z[out_row + j, s]
                    if head == H_SIGMOID:
                        out[r, j] = _sigmoid(zs)
                    elif head == H_CLASSIC:
                        out[r, j] = math.tanh(zs)
                    else:
                        out[r, j] = zs
