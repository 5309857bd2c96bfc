"""A fully connected network whose parameters live in one flat float64 buffer.

Layout. ``Network.buffer`` is a (3, P) array: row 0 holds every parameter, row 1 their
gradients and row 2 the last update the optimizer applied. Each dense layer owns one block
of shape (fan_in + 1, units): its weight matrix ``W`` with the bias ``b`` as the last row.
Activations carry a trailing column of ones, so ``a_prev @ [W; b]`` adds the bias and
``a_prev.T @ delta`` yields the weight and bias gradients in one product. After all the
blocks come the PReLU slopes and the batch-norm scales and shifts. Every layer's arrays are
views into that buffer, so an optimizer updates the whole network with a few calls on flat
arrays, and a compiled kernel can take the network whole.

A hidden layer computes, in order::

    z = a_prev @ W + b                       (pre-activation)
    h = gamma * (z - mean) / std + beta      (only with batch normalization)
    a = f(h)                                 (activation)
    a = a * mask / (1 - p)                   (only with dropout, only in training)

The output layer computes ``z = a_prev @ W + b`` and hands ``z`` to the head.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import activations as act
from . import training_pass
from .heads import CLASSIFICATION_HEADS, Head, check_head, make_head
from .initializers import check_initializer, draw_weights, initial_bias, resolve

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9  # running = momentum * running + (1 - momentum) * batch statistic
MAX_LAYERS = 32
MAX_UNITS = 4096
#: Values per layer array in a chunk of an evaluation pass (see ``Network.predict``):
#: 10,000 samples for layers of 16 units, which timed fastest on a 200 x 200 grid (a
#: tenth faster than 4,096 samples, and than no chunks at all).
EVAL_CHUNK_VALUES = 170_000


@dataclass(frozen=True)
class LayerSpec:
    """One hidden layer: its width, activation and optional regularizers."""

    units: int
    activation: str = "relu"
    alpha: float | None = None
    dropout: float = 0.0
    batch_norm: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.units, bool) or not isinstance(self.units, (int, np.integer)):
            raise ValueError(f"units: must be an integer from 1 to {MAX_UNITS}, got {self.units!r}")
        if not 1 <= self.units <= MAX_UNITS:
            raise ValueError(f"units: must be from 1 to {MAX_UNITS}, got {self.units}")
        act.check_activation(self.activation)
        if self.alpha is not None:
            if self.activation not in act.DEFAULT_ALPHA:
                raise ValueError(
                    f"alpha: only {', '.join(act.DEFAULT_ALPHA)} take a parameter, "
                    f"not {self.activation}"
                )
            if not np.isfinite(self.alpha) or self.alpha < 0:
                raise ValueError(f"alpha: must be a finite number >= 0, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")

    @property
    def resolved_alpha(self) -> float:
        if self.alpha is not None:
            return float(self.alpha)
        return act.DEFAULT_ALPHA.get(self.activation, 0.0)


@dataclass(frozen=True)
class NetworkSpec:
    """The whole architecture: inputs, hidden layers, output width and head, initializer."""

    n_inputs: int
    hidden: tuple[LayerSpec, ...] = ()
    n_outputs: int = 1
    head: str = "sigmoid"
    init: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not isinstance(self.n_inputs, (int, np.integer)) or self.n_inputs < 1:
            raise ValueError(f"n_inputs: must be an integer >= 1, got {self.n_inputs!r}")
        if not isinstance(self.n_outputs, (int, np.integer)) or self.n_outputs < 1:
            raise ValueError(f"n_outputs: must be an integer >= 1, got {self.n_outputs!r}")
        if len(self.hidden) > MAX_LAYERS:
            raise ValueError(f"hidden: at most {MAX_LAYERS} hidden layers, got {len(self.hidden)}")
        for i, layer in enumerate(self.hidden):
            if not isinstance(layer, LayerSpec):
                raise ValueError(f"hidden[{i}]: must be a LayerSpec, got {type(layer).__name__}")
        check_head(self.head)
        if self.head in ("sigmoid", "classic") and self.n_outputs != 1:
            raise ValueError(
                f"n_outputs: the {self.head} head has one output, got {self.n_outputs}")
        if self.head == "softmax" and self.n_outputs < 2:
            raise ValueError(
                f"n_outputs: the softmax head needs >= 2 outputs, got {self.n_outputs}")
        check_initializer(self.init)

    @property
    def sizes(self) -> np.ndarray:
        """Widths of every layer from the input to the output, as plain integers."""
        return np.array([self.n_inputs, *(h.units for h in self.hidden), self.n_outputs],
                        dtype=np.int64)

    @property
    def activation_codes(self) -> np.ndarray:
        """Activation code per hidden layer (see ``activations.CODES``)."""
        return np.array([act.CODES[h.activation] for h in self.hidden], dtype=np.int64)


@dataclass
class Layer:
    """Views into the network buffers for one dense layer (hidden or output)."""

    index: int
    name: str
    fan_in: int
    units: int
    activation: str  # for the output layer: the head's name
    alpha: float
    dropout: float
    batch_norm: bool
    Wb: np.ndarray  # (fan_in + 1, units): W with b as its last row
    gWb: np.ndarray
    weight_slice: slice  # where W sits in the flat buffer
    slope: np.ndarray | None = None
    g_slope: np.ndarray | None = None
    gamma: np.ndarray | None = None
    beta: np.ndarray | None = None
    g_gamma: np.ndarray | None = None
    g_beta: np.ndarray | None = None
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None

    @property
    def W(self) -> np.ndarray:
        return self.Wb[:-1]

    @property
    def b(self) -> np.ndarray:
        return self.Wb[-1]

    @property
    def gW(self) -> np.ndarray:
        return self.gWb[:-1]

    @property
    def gb(self) -> np.ndarray:
        return self.gWb[-1]

    @property
    def is_output(self) -> bool:
        return self.name == "output"

    def act_param(self) -> float | np.ndarray:
        return self.slope if self.slope is not None else self.alpha


@dataclass(frozen=True)
class ForwardResult:
    """Every layer's values for a batch, from an evaluation pass (no dropout)."""

    pre_activations: list[np.ndarray]  # h per hidden layer (after batch norm)
    activations: list[np.ndarray]  # a per hidden layer
    logits: np.ndarray  # z of the output layer
    output: np.ndarray


class _Work:
    """Work arrays for one batch size, allocated once and reused every step.

    The training pass keeps every layer's values unit by unit with the batch innermost,
    shape (units, n): each unit's values over the batch are one contiguous row, the bias
    input is a trailing row of ones, and the softmax works on whole rows. (The public
    arrays, inputs and ``ForwardResult``, stay in the usual (n, units) layout.)
    ``train_pass`` is the training pass written out for these arrays (see
    ``training_pass``).
    """

    def __init__(self, net: Network, n: int) -> None:
        hidden = net.hidden_layers
        self.ones = np.ones(n)
        widths = {layer.units for layer in hidden}
        #: Hidden layers all of one width and without dropout keep their outputs (with
        #: the row of ones) and their dL/dz (with a spare row) in one contiguous
        #: (layers, units + 1, n) array each, ``a_stack`` and ``d_stack``: a derivative
        #: that needs only the outputs (as tanh's and relu's do) is then taken for several
        #: layers in one call, over whole arrays. (A ufunc on a view that skips the rows
        #: of ones would run slower than the separate calls.)
        self.stacked = len(hidden) > 1 and len(widths) == 1 \
            and not any(layer.dropout for layer in hidden)
        if self.stacked:
            self.a_stack = np.ones((len(hidden), widths.pop() + 1, n))
            self.d_stack = np.empty(self.a_stack.shape)
            self.a_aug = list(self.a_stack)
            self.d = [*self.d_stack[:, :-1], np.empty((net.spec.n_outputs, n))]
        else:
            # a_aug[i] is layer i's output with a trailing row of ones (the bias input).
            self.a_aug = [np.ones((layer.units + 1, n)) for layer in hidden]
            self.d = [np.empty((layer.units, n)) for layer in net.layers]
        self.a = [aa[:-1] for aa in self.a_aug]
        self.z = [np.empty((layer.units, n)) for layer in net.layers[:-1]]
        # The logits with the rows the head may use below them (``Head.spare_rows``).
        units = net.output_layer.units
        self.z.append(np.empty((units + net.head.spare_rows, n))[:units])
        self.h = [np.empty((layer.units, n)) if layer.batch_norm else self.z[i]
                  for i, layer in enumerate(hidden)]
        # f(h) before dropout; the same array as a[i] when there is no dropout.
        self.act = [np.empty((layer.units, n)) if layer.dropout else self.a[i]
                    for i, layer in enumerate(hidden)]
        self.da = [np.empty((layer.units, n)) for layer in hidden]
        self.masks = [np.empty((layer.units, n)) if layer.dropout else None for layer in hidden]
        self.zhat = [np.empty((layer.units, n)) if layer.batch_norm else None for layer in hidden]
        self.inv_std: list[np.ndarray | None] = [None] * len(hidden)
        self.out = np.empty((net.spec.n_outputs, n))
        #: The activation parameter of each hidden layer, shaped to broadcast.
        self.alphas = [_column_param(layer) for layer in hidden]
        self._net = net

    @functools.cached_property
    def _built(self) -> tuple[training_pass.TrainPass, str]:
        # Written when first asked for: the trainer writes whole steps of its own
        # (``training_pass.build_step``) and never calls the bare pass.
        return training_pass.build(self._net, self)

    @property
    def train_pass(self) -> training_pass.TrainPass:
        """The training pass for this batch size, as straight-line code."""
        return self._built[0]

    @property
    def source(self) -> str:
        """The source of ``train_pass``."""
        return self._built[1]


def _column_param(layer: Layer, dtype: type = np.float64) -> float | np.ndarray:
    """The activation parameter shaped to broadcast over (units, n) arrays of ``dtype``."""
    p = layer.act_param()
    return p[:, None].astype(dtype, copy=False) if isinstance(p, np.ndarray) else p


class Network:
    """A dense network with a flat parameter buffer; see the module docstring."""

    def __init__(self, spec: NetworkSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        self.head: Head = make_head(spec.head)
        sizes = [int(s) for s in spec.sizes]
        n_layers = len(sizes) - 1
        block_sizes = [(sizes[i] + 1) * sizes[i + 1] for i in range(n_layers)]
        extra = 0
        for i, h in enumerate(spec.hidden):
            extra += sizes[i + 1] if h.activation == "prelu" else 0
            extra += 2 * sizes[i + 1] if h.batch_norm else 0
        self.n_params = int(sum(block_sizes)) + extra
        self.buffer = np.zeros((3, self.n_params))
        self.params, self.grad, self.update = self.buffer
        # Boundaries of [W, b + rest) for each layer: reduceat over these, keep even entries.
        bounds = []
        #: 1 where a parameter is a weight (L1/L2 apply), 0 for biases and the rest.
        self.weight_mask = np.zeros(self.n_params)

        self.layers: list[Layer] = []
        pos = 0
        for i in range(n_layers):
            fan_in, units = sizes[i], sizes[i + 1]
            n = (fan_in + 1) * units
            hidden = spec.hidden[i] if i < len(spec.hidden) else None
            w_slice = slice(pos, pos + fan_in * units)
            self.weight_mask[w_slice] = 1.0
            bounds += [pos, pos + fan_in * units]
            self.layers.append(Layer(
                index=i,
                name=f"layer {i + 1}" if hidden else "output",
                fan_in=fan_in,
                units=units,
                activation=hidden.activation if hidden else spec.head,
                alpha=hidden.resolved_alpha if hidden else 0.0,
                dropout=hidden.dropout if hidden else 0.0,
                batch_norm=hidden.batch_norm if hidden else False,
                Wb=self.params[pos : pos + n].reshape(fan_in + 1, units),
                gWb=self.grad[pos : pos + n].reshape(fan_in + 1, units),
                weight_slice=w_slice,
            ))
            pos += n
        for layer, hidden in zip(self.layers, spec.hidden):
            u = layer.units
            if hidden.activation == "prelu":
                layer.slope, layer.g_slope = self.params[pos : pos + u], self.grad[pos : pos + u]
                pos += u
            if hidden.batch_norm:
                layer.gamma, layer.g_gamma = self.params[pos : pos + u], self.grad[pos : pos + u]
                layer.beta = self.params[pos + u : pos + 2 * u]
                layer.g_beta = self.grad[pos + u : pos + 2 * u]
                layer.running_mean = np.zeros(u)
                layer.running_var = np.ones(u)
                pos += 2 * u
        self.diag_bounds = np.array(bounds, dtype=np.intp)
        self.n_weights = int(self.weight_mask.sum())
        self._work: dict[int, _Work] = {}
        self._eval_arrays: dict[tuple[int, np.dtype], list[np.ndarray]] = {}
        self.initialize(rng)

    # ----------------------------------------------------------------------------------
    @property
    def hidden_layers(self) -> list[Layer]:
        return self.layers[:-1]

    @property
    def output_layer(self) -> Layer:
        return self.layers[-1]

    @property
    def is_classifier(self) -> bool:
        return self.spec.head in CLASSIFICATION_HEADS

    def weight_values(self) -> np.ndarray:
        """All weights (no biases or other parameters) as one new flat array."""
        return np.concatenate([self.params[layer.weight_slice] for layer in self.layers])

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw fresh weights layer by layer (deterministic for a given generator)."""
        self.buffer.fill(0.0)
        for layer in self.layers:
            if layer.is_output:
                kind = resolve(self.spec.init, "sigmoid")
            else:
                kind = resolve(self.spec.init, layer.activation)
            layer.W[...] = draw_weights(kind, layer.fan_in, layer.units, rng)
            layer.b.fill(initial_bias(kind))
            if layer.slope is not None:
                layer.slope.fill(layer.alpha)
            if layer.gamma is not None:
                layer.gamma.fill(1.0)
                layer.beta.fill(0.0)
                layer.running_mean.fill(0.0)
                layer.running_var.fill(1.0)

    def state(self) -> dict[str, np.ndarray]:
        """Copies of everything that defines the model (parameters and running statistics)."""
        out = {"params": self.params.copy()}
        for layer in self.layers:
            if layer.running_mean is not None:
                out[f"running_mean_{layer.index}"] = layer.running_mean.copy()
                out[f"running_var_{layer.index}"] = layer.running_var.copy()
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        params = np.asarray(state["params"], dtype=np.float64)
        if params.shape != self.params.shape:
            raise ValueError(f"params: expected {self.params.shape[0]} values, got {params.shape}")
        self.params[...] = params
        for layer in self.layers:
            if layer.running_mean is not None:
                layer.running_mean[...] = state[f"running_mean_{layer.index}"]
                layer.running_var[...] = state[f"running_var_{layer.index}"]

    def encode_targets(self, y: np.ndarray) -> np.ndarray:
        return self.head.encode(y, self.spec.n_outputs)

    @staticmethod
    def augment(x: np.ndarray) -> np.ndarray:
        """``x`` with a trailing column of ones: the input form ``loss_and_grad`` takes."""
        x = np.asarray(x, dtype=np.float64)
        out = np.ones((x.shape[0], x.shape[1] + 1))
        out[:, :-1] = x
        return out

    def penalty(self, l1: float = 0.0, l2: float = 0.0) -> float:
        """The L1/L2 penalty on the weights (biases and other parameters are exempt)."""
        p = 0.0
        if l2:
            w = self.params * self.weight_mask
            p += 0.5 * l2 * float(np.dot(w, w))
        if l1:
            p += l1 * float(np.dot(np.abs(self.params), self.weight_mask))
        return p

    # ----------------------------------------------------------------------------------
    def _work_for(self, n: int) -> _Work:
        w = self._work.get(n)
        if w is None:
            if len(self._work) > 8:
                self._work.clear()
            w = self._work[n] = _Work(self, n)
        return w

    def loss_and_grad(
        self,
        x_aug: np.ndarray,
        t: np.ndarray,
        dropout_rng: np.random.Generator | None = None,
        masks: list[np.ndarray | None] | None = None,
        l1: float = 0.0,
        l2: float = 0.0,
    ) -> tuple[float, float]:
        """One training pass on a batch: fills ``self.grad``, returns (data loss, penalty).

        ``x_aug`` is the batch with a trailing column of ones (see ``augment``) and ``t``
        the targets from ``encode_targets``. Dropout masks are drawn from ``dropout_rng``
        unless ``masks`` gives them (already scaled by 1 / keep, one per hidden layer).
        Batch normalization uses batch statistics and updates its running ones.
        """
        n = x_aug.shape[0]
        w = self._work.get(n) or self._work_for(n)
        scale = self.head.batch_constants(n)[1]  # 1 / n: the gradient of the mean loss
        t_flat = np.asarray(t, dtype=np.float64).T.reshape(-1)  # output by output
        return w.train_pass(x_aug.T, t_flat, dropout_rng, masks, l1, l2, scale)

    def _add_penalty_grad(self, l1: float, l2: float) -> float:
        """Add the L1/L2 penalty's gradient to ``grad``; returns the penalty."""
        penalty = self.penalty(l1, l2)
        mask = self.weight_mask
        if l2:
            self.grad += (l2 * self.params) * mask
        if l1:
            self.grad += (l1 * np.sign(self.params)) * mask
        return penalty

    @staticmethod
    def _prelu_slope_grad(layer: Layer, h: np.ndarray, da: np.ndarray, w: _Work) -> None:
        """dL/dslope_j = sum over the batch of dL/da * min(h, 0)."""
        (da * np.minimum(h, 0.0)).dot(w.ones, out=layer.g_slope)

    @staticmethod
    def _batch_norm_forward(layer: Layer, w: _Work, i: int, n: int) -> None:
        """h = gamma * (z - mean) / sqrt(var + eps) + beta, with batch statistics."""
        z, h, zhat = w.z[i], w.h[i], w.zhat[i]
        mean = z.dot(w.ones) / n
        np.subtract(z, mean[:, None], out=zhat)
        var = (zhat * zhat).dot(w.ones) / n
        inv_std = 1.0 / np.sqrt(var + BN_EPSILON)
        zhat *= inv_std[:, None]
        w.inv_std[i] = inv_std
        np.multiply(zhat, layer.gamma[:, None], out=h)
        h += layer.beta[:, None]
        layer.running_mean *= BN_MOMENTUM
        layer.running_mean += (1.0 - BN_MOMENTUM) * mean
        layer.running_var *= BN_MOMENTUM
        layer.running_var += (1.0 - BN_MOMENTUM) * var

    @staticmethod
    def _batch_norm_backward(layer: Layer, w: _Work, i: int, n: int, d: np.ndarray) -> None:
        """Turn dL/dh (in ``d``) into dL/dz, filling the gamma and beta gradients.

        dz = inv_std / n * (n dzhat - sum(dzhat) - zhat * sum(dzhat * zhat)),
        where dzhat = dL/dh * gamma (Ioffe and Szegedy, 2015).
        """
        zhat, inv_std, ones = w.zhat[i], w.inv_std[i], w.ones
        (d * zhat).dot(ones, out=layer.g_gamma)
        d.dot(ones, out=layer.g_beta)
        dzhat = d * layer.gamma[:, None]
        s1 = dzhat.dot(ones)
        s2 = (dzhat * zhat).dot(ones)
        dzhat *= n
        dzhat -= s1[:, None]
        dzhat -= zhat * s2[:, None]
        np.multiply(dzhat, (inv_std / n)[:, None], out=d)

    @staticmethod
    def _dropout_forward(layer: Layer, w: _Work, i: int, n: int,
                         rng: np.random.Generator | None,
                         masks: list[np.ndarray | None] | None) -> None:
        """Inverted dropout: keep each unit with probability 1 - p and scale it by 1 / (1 - p).

        Masks given by the caller are (n, units), already scaled.
        """
        mask = w.masks[i]
        if masks is not None and masks[i] is not None:
            mask[...] = np.asarray(masks[i]).T
        else:
            if rng is None:
                raise ValueError("dropout_rng: needed for a network with dropout")
            keep = 1.0 - layer.dropout
            np.less(rng.random((n, layer.units)).T, keep, out=mask, casting="unsafe")
            mask *= 1.0 / keep
        np.multiply(w.act[i], mask, out=w.a[i])

    # ----------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, keep_hidden: bool = False,
                dtype: type = np.float64) -> ForwardResult:
        """Evaluation pass: no dropout, batch norm with its running statistics.

        ``x`` holds plain inputs (no column of ones). ``dtype=np.float32`` evaluates in
        single precision, which is plenty for drawing and about twice as fast. As in
        training, the work runs unit by unit with the samples innermost and each layer's
        output carries a trailing row of ones, so one product per layer applies the
        weights and the bias (and, folded into them, batch normalization); the returned
        arrays are (n, units) views of that layout.
        """
        if not keep_hidden:
            x = np.asarray(x)
            logits = np.empty((self.spec.sizes[-1], len(x)), dtype=dtype)
            output = self._output_in_chunks(x, dtype, logits)
            return ForwardResult([], [], logits.T, output.T)
        blocks, out_block = self._evaluation_blocks(dtype)
        x = np.asarray(x, dtype=dtype)
        pres: list[np.ndarray] = []
        posts: list[np.ndarray] = []
        arrays = self._layer_arrays(x.shape[0], dtype)
        z = arrays[-1]
        out_block.dot(self._hidden_pass(x, blocks, arrays[:-1], pres, posts), z)
        output = self.head.forward_units(z, np.empty_like(z))
        return ForwardResult(pres, posts, z.T, output.T)

    def _evaluation_blocks(self, dtype: type) -> tuple[list, np.ndarray]:
        """What an evaluation pass needs, in ``dtype``: per hidden layer its [W; b] block
        transposed (batch norm folded in), activation and activation parameter; and the
        output layer's block, transposed."""
        blocks = [(self._evaluation_block(layer).T.astype(dtype),
                   act.FORWARD[layer.activation], _column_param(layer, dtype))
                  for layer in self.layers[:-1]]
        return blocks, self.output_layer.Wb.T.astype(dtype)

    def _output_in_chunks(self, x: np.ndarray, dtype: type,
                          logits: np.ndarray | None) -> np.ndarray:
        """The network's output for the rows of ``x``, (outputs, n) in ``dtype``, with
        the logits copied into ``logits`` when it is given.

        Nothing else leaves the call, so the samples go through in chunks, head
        included, whose values stay in the processor's cache, in arrays kept from call
        to call: fresh arrays of a few hundred kilobytes cost more in page faults than
        the arithmetic done in them. The inputs take ``dtype`` as they are copied into
        the first layer's array. A call that finds the arrays taken, on another thread,
        makes its own.
        """
        blocks, out_block = self._evaluation_blocks(dtype)
        n = len(x)
        output = np.empty((out_block.shape[0], n), dtype=dtype)
        # Chunks of equal size (but the last) whose widest layer array (units + 1 rows)
        # holds about EVAL_CHUNK_VALUES values.
        n_chunks = max(1, math.ceil(n * (max(self.spec.sizes) + 1) / EVAL_CHUNK_VALUES))
        chunk = max(1, math.ceil(n / n_chunks))
        for start in range(0, n, chunk):
            part = x[start : start + chunk]
            end = start + len(part)
            key = (len(part), np.dtype(dtype))
            arrays = self._eval_arrays.pop(key, None) or self._layer_arrays(len(part), dtype)
            z = arrays[-1]
            out_block.dot(self._hidden_pass(part, blocks, arrays[:-1], None, None), z)
            if logits is not None:
                logits[:, start:end] = z
            self.head.forward_units(z, output[:, start:end])
            if len(self._eval_arrays) >= 4:
                self._eval_arrays.clear()
            self._eval_arrays[key] = arrays
        return output

    def _layer_arrays(self, n: int, dtype: type) -> list[np.ndarray]:
        """(units + 1, n) arrays for the inputs and each hidden layer, last row ones,
        then an (outputs, n) array for the logits."""
        arrays = [np.empty((size + 1, n), dtype=dtype) for size in self.spec.sizes[:-1]]
        for array in arrays:
            array[-1] = 1.0
        return [*arrays, np.empty((self.spec.sizes[-1], n), dtype=dtype)]

    @staticmethod
    def _hidden_pass(x: np.ndarray, blocks: list, arrays: list[np.ndarray],
                     pres: list[np.ndarray] | None, posts: list[np.ndarray] | None
                     ) -> np.ndarray:
        """Run ``x`` through the hidden layers; returns the last one's values with their
        row of ones. With ``pres`` and ``posts`` each layer's values before and after the
        activation are appended to them, as (n, units) views."""
        a = arrays[0]
        a[:-1] = x.T
        for (block_t, fwd, param), out in zip(blocks, arrays[1:]):
            act_out = out[:-1]
            if pres is not None or fwd not in act.IN_PLACE_FORWARD:
                z = block_t.dot(a)
                fwd(z, act_out, param)
            else:
                block_t.dot(a, act_out)
                fwd(act_out, act_out, param)
            if pres is not None:
                pres.append(z.T)
                posts.append(act_out.T)
            a = out
        return a

    @staticmethod
    def _evaluation_block(layer: Layer) -> np.ndarray:
        """The layer's [W; b] block, with batch normalization (running statistics)
        folded in: gamma (z - mean) / std + beta = (W s) a + (b - mean) s + beta, where
        s = gamma / std."""
        if not layer.batch_norm:
            return layer.Wb
        scale = layer.gamma / np.sqrt(layer.running_var + BN_EPSILON)
        block = layer.Wb * scale
        block[-1] += layer.beta - layer.running_mean * scale
        return block

    def predict(self, x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Network output (probabilities or values) for each row of ``x``, (n, outputs):
        ``forward(x).output`` without the logits."""
        return self._output_in_chunks(np.asarray(x), dtype, None).T

    def evaluate(self, x: np.ndarray, y: np.ndarray,
                 t: np.ndarray | None = None) -> tuple[float, float | None]:
        """(mean data loss, accuracy or None) over a whole data set, in evaluation mode."""
        if len(x) == 0:
            return float("nan"), None
        res = self.forward(x)
        if t is None:
            t = self.encode_targets(y)
        return self.head.loss(res.logits, res.output, t), self.head.accuracy(res.output, y)
