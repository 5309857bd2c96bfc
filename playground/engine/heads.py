"""Output heads: the last layer's activation together with the loss it is trained on.

A head turns the output layer's pre-activation ``z`` (n, k) into the network's output,
measures the mean loss over the batch, and gives ``dL/dz`` averaged over the batch. Each
pairing is the one whose gradient simplifies to "output minus target":

* ``sigmoid``: logistic output, binary cross-entropy. ``dL/dz = (p - y) / n``.
* ``softmax``: softmax output, categorical cross-entropy. ``dL/dz = (P - Y) / n``.
* ``linear``: identity output, half the squared error, ``0.5 (z - y)^2`` averaged over
  samples and summed over outputs (the convention of scikit-learn's MLPRegressor).
  ``dL/dz = (z - y) / n``.
* ``classic``: TensorFlow Playground's head. A tanh output trained with half the squared
  error against labels -1 and +1, so ``dL/dz = (a - y)(1 - a^2) / n``.

Losses are computed from ``z`` where that avoids ``log(0)``: binary cross-entropy is
``softplus(z) - y z`` and cross-entropy is ``logsumexp(z) - z[y]``.
"""

from __future__ import annotations

import numpy as np

from .activations import F64, sigmoid, softmax
from .codegen import function_from_lines

HEADS: tuple[str, ...] = ("sigmoid", "softmax", "linear", "classic")
#: The functions the lines of ``Head.train_code`` call.
INLINE_NAMES: dict[str, object] = {
    "copyto": np.copyto, "exp": np.exp, "logaddexp": np.logaddexp, "multiply": np.multiply,
    "subtract": np.subtract, "tanh": np.tanh,
}
CLASSIFICATION_HEADS = frozenset({"sigmoid", "softmax", "classic"})


def flat(x: np.ndarray) -> np.ndarray:
    """``x`` (k, n) as one flat row of k n values, output by output: a view, so that the
    lines of ``Head.train_code`` write through it. On flat rows the targets' products
    and sums are BLAS dots of two vectors, which cost less than ``vdot`` on (k, n)."""
    if not x.flags.c_contiguous:
        raise ValueError("a head's work arrays must be C-contiguous")
    return x.reshape(-1)


def check_head(name: str, parameter: str = "head") -> str:
    if name not in HEADS:
        raise ValueError(f"{parameter}: {name!r} is not one of {', '.join(HEADS)}")
    return name


def n_outputs_for(head: str, n_classes: int, n_targets: int = 1) -> int:
    """Width of the output layer for a head: one unit per class for softmax, else one."""
    check_head(head)
    if head == "softmax":
        if n_classes < 2:
            raise ValueError(f"n_classes: softmax needs at least 2 classes, got {n_classes}")
        return n_classes
    if head == "linear":
        return n_targets
    return 1


class Head:
    """Behaviour shared by all heads; subclasses fill in the formulas."""

    name = ""
    is_classifier = True
    #: Rows the training pass leaves free below the logits, in the same array, for the
    #: head's own use (see ``SoftmaxHead.train_code``).
    spare_rows = 0

    def __init__(self) -> None:
        self._per_n: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._compiled_train: dict[tuple[int, ...], tuple] = {}

    def batch_constants(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """For a batch of n: a vector of n ones (``x.dot(ones)`` sums faster than
        ``x.sum()``) and 1 / n as a 0-d array (see ``activations.Constants``)."""
        c = self._per_n.get(n)
        if c is None:
            inv_n = np.array(1.0 / n)
            inv_n.flags.writeable = False
            c = self._per_n[n] = (np.ones(n), inv_n)
        return c

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_units(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``forward`` on arrays laid out units x samples (k, n). The heads that work
        value by value need no change; softmax, which mixes the k outputs, overrides it."""
        return self.forward(z, out)

    def loss(self, z: np.ndarray, a: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def encode(self, y: np.ndarray, n_outputs: int) -> np.ndarray:
        """Targets as the head trains on them, (n, n_outputs) float64."""
        raise NotImplementedError

    def labels(self, a: np.ndarray) -> np.ndarray:
        """Predicted class per row of the output ``a`` (classifiers only)."""
        raise NotImplementedError

    def train(self, z: np.ndarray, t: np.ndarray, a: np.ndarray, d: np.ndarray) -> float:
        """Training pass in one go, on arrays laid out units x batch (k, n).

        Writes the output into ``a`` and ``dL/dz`` into ``d`` and returns the mean loss.
        The training path keeps a layer's values unit by unit with the batch innermost, so
        every row is one contiguous vector. The pass is ``train_code``'s lines, compiled
        once for these ``z``, ``a`` and ``d`` (the training pass inlines the same lines).
        """
        kept = self._compiled_train.get(z.shape)
        if kept is None or kept[0] is not z or kept[1] is not a or kept[2] is not d:
            if len(self._compiled_train) > 8:
                self._compiled_train.clear()
            lines, names = self.train_code(z, a, d)
            train = function_from_lines("train", "z, t, a, d", (*lines, "return float(loss)"),
                                        {**INLINE_NAMES, **names}, f"<{self.name} head>")
            kept = self._compiled_train[z.shape] = (z, a, d, train)
        return kept[3](z, np.asarray(t, dtype=np.float64).reshape(-1), a, d)

    def train_code(self, z: np.ndarray, a: np.ndarray,
                   d: np.ndarray) -> tuple[tuple[str, ...], dict]:
        """The training pass as lines of source over the names ``z`` (the logits), ``a``
        (the output) and ``d`` (dL/dz), all (k, n), and ``t``: the targets as one flat
        row of k n values, output by output (as ``flat`` lays out a (k, n) array). The
        lines set ``loss`` to the mean loss over the batch; the other names they use come
        with them (views and work arrays made for these ``z``, ``a`` and ``d``, and
        constants). They call only the functions in INLINE_NAMES, and end by multiplying
        ``d`` by ``scale``: 1 / n, the mean over the batch, which the training pass may
        replace by -lr / n (see ``Trainer``, plain SGD). Each head writes ``forward`` and
        ``loss`` here once more, with dL/dz, sharing intermediate results."""
        raise NotImplementedError

    def accuracy(self, a: np.ndarray, y: np.ndarray) -> float | None:
        if not self.is_classifier or len(y) == 0:
            return None
        return float(np.mean(self.labels(a) == y))


class SigmoidHead(Head):
    name = "sigmoid"

    def forward(self, z, out):
        return sigmoid(z, out)

    def loss(self, z, a, t):
        # -[y log p + (1 - y) log(1 - p)] = softplus(z) - y z
        per = np.logaddexp(0.0, z)
        per -= t * z
        return float(per.sum()) / z.shape[0]

    def train_code(self, z, a, d):
        n = z.shape[1]
        ones, inv_n = self.batch_constants(n)
        # With sp = softplus(z): the loss is sp - t z, and log p = z - sp, so that
        # p = exp(z - sp) comes from one exp instead of the four calls of ``sigmoid``.
        lines = ("logaddexp(zero, z, d)",
                 "loss = (d_flat.dot(ones) - t.dot(z_row)) / n",
                 "subtract(z, d, a)",
                 "exp(a, a)",
                 "subtract(a_flat, t, d_flat)",
                 "multiply(d, scale, d)")
        return lines, {"zero": F64.zero, "ones": ones, "z_row": z[0], "n": float(n),
                       "scale": inv_n, "a_flat": flat(a), "d_flat": flat(d)}

    def encode(self, y, n_outputs):
        return np.asarray(y, dtype=np.float64).reshape(-1, 1).copy()

    def labels(self, a):
        return (a[:, 0] > 0.5).astype(np.int64)


class SoftmaxHead(Head):
    name = "softmax"

    def forward(self, z, out):
        return softmax(z, out)

    def forward_units(self, z, out):
        np.subtract(z, np.maximum.reduce(z, 0), out)
        np.exp(out, out)
        out /= np.ones(z.shape[0], dtype=z.dtype).dot(out)
        return out

    def loss(self, z, a, t):
        lse = _logsumexp_rows(z)
        return (float(lse.sum()) - float(np.vdot(t, z))) / z.shape[0]

    spare_rows = 1

    def train_code(self, z, a, d):
        k, n = z.shape
        # logsumexp(z) over the k rows, pairwise: logaddexp needs no shift by the
        # maximum. Then log P = z - logsumexp(z), the loss is -sum(t log P), and P - t
        # gives dL/dz. When z is the first k rows of a (k + 1, n) array (the training
        # pass makes it so, see ``spare_rows``), logsumexp goes into the last row and
        # one (k, k + 1) x (k + 1, n) product [I | -1] [z; lse] gives z - lse, to the
        # last bit as a subtraction would (every other term of the sums is an exact 0).
        # Otherwise a (k, 1) x (1, n) product spreads logsumexp over the rows (a ufunc
        # that broadcasts a row runs far slower than one on whole arrays) and a
        # subtraction follows.
        base = z.base
        joint = base is not None and base.shape == (k + 1, n) \
            and base.flags.c_contiguous and z.ctypes.data == base.ctypes.data
        lse = base[k] if joint else np.empty(n)
        spread = ("spread.dot(z_lse, a)",) if joint else ("ones_k1.dot(lse_row, a)",
                                                          "subtract(z, a, a)")
        lines = ("logaddexp(row0, row1, lse)",
                 *(f"logaddexp(lse, row{j}, lse)" for j in range(2, k)),
                 *spread,
                 "loss = -t.dot(a_flat) / n",
                 "exp(a, a)",
                 "subtract(a_flat, t, d_flat)",
                 "multiply(d, scale, d)")
        names = {f"row{j}": row for j, row in enumerate(z)}
        names.update(lse=lse, n=float(n), scale=self.batch_constants(n)[1], a_flat=flat(a),
                     d_flat=flat(d))
        if joint:
            names.update(z_lse=base, spread=np.hstack([np.eye(k), -np.ones((k, 1))]))
        else:
            names.update(lse_row=lse.reshape(1, n), ones_k1=np.ones((k, 1)))
        return lines, names

    def encode(self, y, n_outputs):
        y = np.asarray(y, dtype=np.int64)
        t = np.zeros((len(y), n_outputs))
        t[np.arange(len(y)), y] = 1.0
        return t

    def labels(self, a):
        return np.argmax(a, axis=1)


def _row_max(z: np.ndarray) -> np.ndarray:
    # A loop over the few columns is far faster than z.max(axis=1) on narrow arrays.
    m = z[:, 0].copy()
    for j in range(1, z.shape[1]):
        np.maximum(m, z[:, j], out=m)
    return m


def _row_sum(e: np.ndarray) -> np.ndarray:
    s = e[:, 0].copy()
    for j in range(1, e.shape[1]):
        s += e[:, j]
    return s


def _logsumexp_rows(z: np.ndarray) -> np.ndarray:
    m = _row_max(z)
    return np.log(_row_sum(np.exp(z - m[:, None]))) + m


class LinearHead(Head):
    name = "linear"
    is_classifier = False

    def forward(self, z, out):
        np.copyto(out, z)
        return out

    def loss(self, z, a, t):
        d = z - t
        return 0.5 * float(np.vdot(d, d)) / z.shape[0]

    def train_code(self, z, a, d):
        n = z.shape[1]
        lines = ("copyto(a, z)",
                 "subtract(a_flat, t, d_flat)",
                 "loss = 0.5 * d_flat.dot(d_flat) / n",
                 "multiply(d, scale, d)")
        return lines, {"a_flat": flat(a), "d_flat": flat(d), "n": float(n),
                       "scale": self.batch_constants(n)[1]}

    def encode(self, y, n_outputs):
        return np.asarray(y, dtype=np.float64).reshape(-1, n_outputs).copy()


class ClassicHead(Head):
    """TensorFlow Playground's output: tanh, half squared error, labels -1 and +1."""

    name = "classic"

    def forward(self, z, out):
        return np.tanh(z, out=out)

    def loss(self, z, a, t):
        d = a - t
        return 0.5 * float(np.vdot(d, d)) / z.shape[0]

    def train_code(self, z, a, d):
        n = z.shape[1]
        lines = ("tanh(z, a)",
                 "subtract(a_flat, t, d_flat)",
                 "loss = 0.5 * d_flat.dot(d_flat) / n",
                 "multiply(a, a, slope)",
                 "subtract(one, slope, slope)",
                 "multiply(d, slope, d)",
                 "multiply(d, scale, d)")
        return lines, {"a_flat": flat(a), "d_flat": flat(d), "slope": np.empty_like(z),
                       "one": F64.one, "n": float(n), "scale": self.batch_constants(n)[1]}

    def encode(self, y, n_outputs):
        return (2.0 * np.asarray(y, dtype=np.float64) - 1.0).reshape(-1, 1)

    def labels(self, a):
        return (a[:, 0] > 0.0).astype(np.int64)


_HEAD_CLASSES = {"sigmoid": SigmoidHead, "softmax": SoftmaxHead, "linear": LinearHead,
                 "classic": ClassicHead}


def make_head(name: str) -> Head:
    return _HEAD_CLASSES[check_head(name)]()
