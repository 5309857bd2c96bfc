"""The training pass of one network at one batch size, written out as straight-line code.

A training step on the playground's small networks costs a few dozen numpy calls of
under a microsecond each, so the Python around them matters: a loop over the layers that
unpacks each layer's arrays and tests its options costs about as much as the arithmetic
of a layer. ``build`` therefore writes the pass for the layers at hand as the source of
one function, with every array it touches bound to a name of its own, and compiles it,
as ``dataclasses`` writes ``__init__`` methods. The formulas stay where they are written
once: the generated code copies in the lines that the activations and the head give for
themselves (``activations.INLINE``, ``Head.train_code``), and otherwise calls the
activations' functions, the network's batch-norm and dropout helpers and the BLAS
products, in the order of ``Network.loss_and_grad``'s docstring.

The generated function is
``train_pass(x_t, t_flat, rng, masks, l1, l2, scale) -> (loss, penalty)`` with ``x_t``
the augmented inputs (n_inputs + 1, n), ``t_flat`` the targets as one flat row, output by
output (the (outputs, n) array laid out flat, see ``heads.flat``) and ``scale`` a 0-d
array that multiplies dL/dz of the output layer: 1 / n for the gradient of the mean
loss, or -lr / n for the step of plain SGD (see ``Trainer``).
``source`` gives its text, to read or to debug.

``build_step`` writes a whole training step of the trainer the same way:
``train_step(x_t, t_flat, rng, masks, l1, l2, scale, lr, hist)`` runs the pass, then the
optimizer's step (its ``step_code`` lines where it gives them, else a call of its
``step``), moves the parameters and writes the squares of the parameter buffer into
the history row ``hist``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import activations as act
from . import heads, optimizers
from .codegen import compile_source

if TYPE_CHECKING:  # pragma: no cover
    from .heads import Head
    from .network import Layer, Network, _Work
    from .optimizers import Optimizer

TrainPass = Callable[..., tuple[float, float]]


def _renamed(lines: tuple[str, ...], names: dict[str, str]) -> list[str]:
    """``lines`` with each name in ``names`` replaced by its value (a keyword such as
    the ``out`` of ``out=`` is left alone)."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b(?!=)")
    return [pattern.sub(lambda m: names[m.group(1)], line) for line in lines]


class _Source:
    """Lines of the function and the objects its names stand for."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {**act.INLINE_NAMES, **heads.INLINE_NAMES,
                                      "one": act.F64.one}
        self.bit_masks: set[str] = set()  # the names of dL/dz arrays that hold bit masks

    def bind(self, name: str, value: Any) -> str:
        self.names[name] = value
        return name

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def bits(self, name: str) -> str:
        """The name ``<name>_bits``, bound to the integer view of the bits of the array
        bound to ``name`` (``activations.bits``; see ``backward_multiply``)."""
        return self.bind(f"{name}_bits", act.bits(self.names[name]))

    def activation(self, layer: Layer, derivative: bool, i: int, out: str) -> None:
        """Layer ``i``'s activation (or its derivative) into ``out``: the lines of
        ``activations.INLINE`` where it has them, else a call of its function."""
        inline = act.INLINE.get(layer.activation)
        if inline is None:
            if derivative:
                self.bind(f"df{i}", act.DERIVATIVE[layer.activation])
                self.emit(f"df{i}(h{i}, act{i}, {out}, p{i})")
            else:
                self.bind(f"f{i}", act.FORWARD[layer.activation])
                self.emit(f"f{i}(h{i}, act{i}, p{i})")
            return
        lines = inline[derivative]
        a = f"act{i}"
        if derivative and layer.activation in act.MASK_BITS:
            # the mask as integers in the bits of ``out`` (see ``backward_multiply``)
            self.bit_masks.add(out)
            a, out = self.bits(a), self.bits(out)
        if any("zeros" in line for line in lines):
            self.bind(f"zeros{i}", act.zeros_like(self.names[a]))
        names = {"z": f"h{i}", "a": a, "out": out, "one": "one", "zeros": f"zeros{i}"}
        for line in _renamed(lines, names):
            self.emit(line)

    def stacked_derivative(self, layer: Layer, first: int, last: int, w: _Work) -> None:
        """The derivative of layers ``first`` to ``last`` (which share ``layer``'s
        activation) into their dL/dz, in one go over the stacked outputs."""
        a = self.bind(f"act_s{first}", w.a_stack[first : last + 1])
        out = self.bind(f"d_s{first}", w.d_stack[first : last + 1])
        if layer.activation in act.MASK_BITS:  # (see ``backward_multiply``)
            self.bit_masks.update(f"d{i}" for i in range(first, last + 1))
            a, out = self.bits(a), self.bits(out)
        self.emit(f"# the derivative of layers {first + 1} to {last + 1} at once")
        for line in _renamed(act.INLINE[layer.activation][1],
                             {"a": a, "out": out, "one": "one"}):
            self.emit(line)

    def backward_multiply(self, d: str, da: str) -> None:
        """dL/dz = f'(z) dL/da into ``d``, which holds f'(z); or, where the lines of
        ``activation`` or ``stacked_derivative`` wrote f'(z) as integers 0 and 1 in the
        floats' bits (``activations.MASK_BITS``), the bits of dL/da times them as
        integers."""
        if d in self.bit_masks:
            d, da = self.bits(d), self.bits(da)
        self.emit(f"multiply({d}, {da}, {d})")

    def head(self, head: Head, z: np.ndarray, a: np.ndarray, d: np.ndarray) -> None:
        """The head's training pass (``Head.train_code``) on z_out, t_flat, out and d_out,
        setting ``loss``; the head's own names get the prefix ``head_``."""
        lines, own = head.train_code(z, a, d)
        names = {"z": "z_out", "t": "t_flat", "a": "out", "d": "d_out", "loss": "loss",
                 "scale": "scale"}  # the last one is the pass's argument
        for name, value in own.items():
            if name not in names:
                names[name] = self.bind(f"head_{name}", value)
        for line in _renamed(lines, names):
            self.emit(line)

    def optimizer(self, opt: Optimizer, grad: np.ndarray, update: np.ndarray) -> None:
        """The optimizer's step into ``update``: its ``step_code`` lines, whose own names
        (and the locals they set) get the prefix ``opt_``, or else a call of its
        ``step``."""
        self.bind("opt", opt)
        code = opt.step_code(grad, update)
        if code is None:
            self.bind("opt_step", opt.step)
            self.emit("opt_step(params, grad, update, lr)")
            return
        lines, own = code
        self.names.update(optimizers.STEP_NAMES)
        self.emit("opt.steps = t = opt.steps + 1")
        names = {"params": "params", "grad": "grad", "out": "update", "lr": "lr", "t": "t"}
        assigned = {m.group(1) for line in lines for m in [re.match(r"(\w+) =", line)] if m}
        for name in (*own, *assigned):
            if name not in names:
                names[name] = f"opt_{name}"
                if name in own:
                    self.bind(f"opt_{name}", own[name])
        for line in _renamed(lines, names):
            self.emit(line)


def generate(net: Network, w: _Work, step: bool = False,
             optimizer: Optimizer | None = None) -> tuple[str, dict[str, Any]]:
    """The source of the training pass for ``net`` on ``w``'s batch size, and the
    objects its names refer to; with ``step``, of the training step (see
    ``build_step``)."""
    src = _Source()
    if step:
        src.lines.append("def train_step(x_t, t_flat, rng, masks, l1, l2, scale, lr, hist):")
    else:
        src.lines.append("def train_pass(x_t, t_flat, rng, masks, l1, l2, scale):")
    n = w.ones.shape[0]
    hidden = net.hidden_layers

    # Forward: z = [W; b]^T a_prev, then batch norm, activation and dropout.
    a_prev = "x_t"
    for i, layer in enumerate(hidden):
        src.emit(f"# layer {i + 1}: {layer.units} {layer.activation}")
        block = src.bind(f"block{i}", layer.Wb.T)
        z = src.bind(f"z{i}", w.z[i])
        src.emit(f"{block}.dot({a_prev}, {z})")
        if layer.batch_norm:
            src.bind(f"layer{i}", layer)
            src.emit(f"bn_forward(layer{i}, work, {i}, {n})")
        src.bind(f"h{i}", w.h[i])
        src.bind(f"p{i}", w.alphas[i])
        src.bind(f"act{i}", w.act[i])
        src.activation(layer, False, i, f"act{i}")
        if layer.dropout:
            src.bind(f"layer{i}", layer)
            src.emit(f"dropout_forward(layer{i}, work, {i}, {n}, rng, masks)")
        a_prev = src.bind(f"a_aug{i}", w.a_aug[i])

    # Runs of stacked layers whose derivative needs only their outputs: it is taken now,
    # for each run at once, and the backward pass only multiplies it in.
    runs = _stacked_runs(net, w)
    for first, last in runs:
        src.stacked_derivative(hidden[first], first, last, w)
    in_runs = {i for first, last in runs for i in range(first, last + 1)}

    # Output layer and head.
    last = net.output_layer.index
    src.emit("# output and head")
    src.bind("block_out", net.output_layer.Wb.T)
    src.bind("z_out", w.z[last])
    src.bind("out", w.out)
    src.bind("d_out", w.d[last])
    src.bind("d_out_t", w.d[last].T)
    src.bind("g_out", net.output_layer.gWb)
    src.emit(f"block_out.dot({a_prev}, z_out)")
    src.head(net.head, w.z[last], w.out, w.d[last])
    src.emit(f"{a_prev}.dot(d_out_t, g_out)")
    if hidden:
        src.bind("w_out", net.output_layer.Wb[:-1])
        src.emit(f"w_out.dot(d_out, da{last - 1})")

    # Backward: dL/dz of each hidden layer from dL/da, then its gradient and dL/da below.
    for i in reversed(range(len(hidden))):
        layer = hidden[i]
        src.emit(f"# layer {i + 1}, backward")
        da = src.bind(f"da{i}", w.da[i])
        d = src.bind(f"d{i}", w.d[i])
        src.bind(f"d{i}_t", w.d[i].T)
        if layer.dropout:
            src.bind(f"mask{i}", w.masks[i])
            src.emit(f"multiply({da}, mask{i}, {da})")
        if layer.slope is not None:
            src.bind(f"layer{i}", layer)
            src.emit(f"prelu_slope_grad(layer{i}, h{i}, {da}, work)")
        if i not in in_runs:
            src.activation(layer, True, i, d)
        src.backward_multiply(d, da)
        if layer.batch_norm:
            src.emit(f"bn_backward(layer{i}, work, {i}, {n}, {d})")
        below = "x_t" if i == 0 else f"a_aug{i - 1}"
        src.bind(f"g{i}", layer.gWb)
        src.emit(f"{below}.dot(d{i}_t, g{i})")
        if i > 0:
            src.bind(f"w{i}", layer.Wb[:-1])
            src.emit(f"w{i}.dot({d}, da{i - 1})")

    if step:
        src.emit("penalty = add_penalty(l1, l2) if l1 or l2 else 0.0")
        src.names.update(params=net.params, grad=net.grad, update=net.update,
                         buf=net.buffer, add=np.add, square=np.square)
        if optimizer is None:
            src.emit("# plain SGD: the gradient row holds the step (scale is -lr / n)")
            src.emit("add(params, grad, params)")
        else:
            src.emit(f"# the optimizer's step ({optimizer.name})")
            src.optimizer(optimizer, net.grad, net.update)
            src.emit("add(params, update, params)")
        src.emit("square(buf, hist)")
        src.emit("return loss, penalty")
    else:
        src.emit("if l1 or l2:")
        src.emit("    return loss, add_penalty(l1, l2)")
        src.emit("return loss, 0.0")
    src.names.update(work=w, bn_forward=net._batch_norm_forward,
                     bn_backward=net._batch_norm_backward,
                     dropout_forward=net._dropout_forward,
                     prelu_slope_grad=net._prelu_slope_grad,
                     add_penalty=net._add_penalty_grad)
    return "\n".join(src.lines) + "\n", src.names


def _stacked_runs(net: Network, w: _Work) -> list[tuple[int, int]]:
    """(first, last) of each run of two or more consecutive hidden layers with the same
    inlined activation whose derivative reads only the outputs, when ``w`` stacks them."""
    if not w.stacked:
        return []
    runs: list[tuple[int, int]] = []
    hidden = net.hidden_layers
    for i, layer in enumerate(hidden):
        lines = act.INLINE.get(layer.activation, (None, None))[1]
        fits = lines is not None and not any(re.search(r"\bz\b", line) for line in lines)
        if not fits:
            continue
        if runs and runs[-1][1] == i - 1 and hidden[i - 1].activation == layer.activation:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return [(first, last) for first, last in runs if last > first]


def build(net: Network, w: _Work) -> tuple[TrainPass, str]:
    """The compiled training pass for ``net`` at ``w``'s batch size, and its source."""
    source, names = generate(net, w)
    label = f"<training pass, batch of {w.ones.shape[0]}>"
    return compile_source(source, "train_pass", names, label), source


def build_step(net: Network, w: _Work, optimizer: Optimizer | None) -> tuple[TrainPass, str]:
    """The compiled training step for ``net`` at ``w``'s batch size, and its source:
    the pass, then ``optimizer``'s step, or with None the step of plain SGD folded into
    the pass (``scale`` = -lr / n), which the gradient row then holds."""
    source, names = generate(net, w, step=True, optimizer=optimizer)
    label = f"<training step, batch of {w.ones.shape[0]}>"
    return compile_source(source, "train_step", names, label), source
