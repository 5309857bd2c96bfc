"""Builders and independent reference formulas shared by the engine tests.

The reference formulas are written straight from their definitions, on purpose in a
different style from the engine (no ``out=`` buffers, no shared work arrays), so that a
test comparing the two really compares two computations.
"""

from __future__ import annotations

import numpy as np

from playground.engine import LayerSpec, Network, NetworkSpec

# Klambauer et al. (2017), eq. (2), to 16 digits.
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
BN_EPS = 1e-5


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _elu(z, alpha):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


REFERENCE = {
    "linear": lambda z, alpha: z.copy(),
    "sigmoid": lambda z, alpha: _sigmoid(z),
    "tanh": lambda z, alpha: np.tanh(z),
    "relu": lambda z, alpha: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z, alpha: np.where(z > 0, z, alpha * z),
    "prelu": lambda z, alpha: np.where(z > 0, z, alpha * z),
    "elu": _elu,
    "selu": lambda z, alpha: SELU_LAMBDA * _elu(z, SELU_ALPHA),
    "swish": lambda z, alpha: z * _sigmoid(z),
    "gelu": lambda z, alpha: 0.5 * z * (
        1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3))),
    "softplus": lambda z, alpha: np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))),
}

#: Activations whose first derivative jumps somewhere (at 0), so finite differences that
#: straddle 0 are meaningless. ELU with its default alpha = 1 is smooth to first order.
KINKED = frozenset({"relu", "leaky_relu", "prelu", "selu"})

N_OUTPUTS = {"sigmoid": 1, "classic": 1, "softmax": 3, "linear": 2}


def reference_head_loss(head: str, z: np.ndarray, y: np.ndarray) -> float:
    """Mean data loss of a batch from the output pre-activations, from the definitions."""
    n = z.shape[0]
    if head == "sigmoid":
        p = _sigmoid(z[:, 0])
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if head == "softmax":
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-np.mean(log_p[np.arange(n), y]))
    if head == "linear":
        return float(0.5 * np.sum((z - y.reshape(n, -1)) ** 2) / n)
    if head == "classic":
        return float(0.5 * np.sum((np.tanh(z[:, 0]) - (2.0 * y - 1.0)) ** 2) / n)
    raise AssertionError(head)


def build(activation: str = "tanh", head: str = "sigmoid", depth: int = 1, *,
          width: int = 3, n_inputs: int = 2, batch_norm: bool = False,
          dropout: float = 0.0, alpha: float | None = None, init: str = "auto",
          seed: int = 0) -> Network:
    hidden = tuple(LayerSpec(width, activation, alpha, dropout, batch_norm)
                   for _ in range(depth))
    spec = NetworkSpec(n_inputs, hidden, N_OUTPUTS[head], head, init)
    return Network(spec, np.random.default_rng(seed))


def labels_for(head: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if head == "softmax":
        return rng.permutation(np.arange(n) % 3)
    if head == "linear":
        return rng.normal(size=(n, 2))
    return rng.permutation(np.arange(n) % 2)


def reference_training_pass(net: Network, x: np.ndarray, y: np.ndarray,
                            masks=None, l1: float = 0.0, l2: float = 0.0):
    """Training-mode loss (batch statistics, given dropout masks) computed from scratch.

    Returns (data loss, penalty, list of what each hidden activation received).
    """
    a = x
    received = []
    for i, layer in enumerate(net.hidden_layers):
        h = a @ layer.W + layer.b
        if layer.batch_norm:
            h = layer.gamma * (h - h.mean(axis=0)) / np.sqrt(h.var(axis=0) + BN_EPS) \
                + layer.beta
        received.append(h)
        alpha = layer.slope if layer.slope is not None else layer.alpha
        a = REFERENCE[layer.activation](h, alpha)
        if masks is not None and masks[i] is not None:
            a = a * masks[i]
    z = a @ net.output_layer.W + net.output_layer.b
    weights = np.concatenate([layer.W.ravel() for layer in net.layers])
    penalty = 0.5 * l2 * np.sum(weights**2) + l1 * np.sum(np.abs(weights))
    return reference_head_loss(net.spec.head, z, y), float(penalty), received
