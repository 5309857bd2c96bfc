"""Initial weights.

Each initializer draws a weight matrix of shape (fan_in, fan_out) from the generator it is
given; biases start at zero except for ``classic``.

* ``glorot_uniform`` / ``glorot_normal`` (Glorot and Bengio, 2010): variance
  2 / (fan_in + fan_out), suited to tanh, sigmoid and linear units.
* ``he_uniform`` / ``he_normal`` (He et al., 2015): variance 2 / fan_in, for the ReLU family.
* ``lecun_normal`` (LeCun et al., 1998): variance 1 / fan_in, which SELU needs to
  self-normalize (Klambauer et al., 2017).
* ``classic``: TensorFlow Playground's uniform(-0.5, 0.5) weights and 0.1 biases.

The normal variants use an untruncated normal distribution.
"""

from __future__ import annotations

import numpy as np

INITIALIZERS: tuple[str, ...] = (
    "auto",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "classic",
)

_AUTO = {
    "relu": "he_uniform",
    "leaky_relu": "he_uniform",
    "prelu": "he_uniform",
    "elu": "he_uniform",
    "swish": "he_uniform",
    "gelu": "he_uniform",
    "softplus": "he_uniform",
    "selu": "lecun_normal",
}


def check_initializer(name: str, parameter: str = "init") -> str:
    if name not in INITIALIZERS:
        raise ValueError(f"{parameter}: {name!r} is not one of {', '.join(INITIALIZERS)}")
    return name


def resolve(init: str, activation: str) -> str:
    """The concrete initializer that ``auto`` stands for, given the layer's activation."""
    check_initializer(init)
    if init != "auto":
        return init
    return _AUTO.get(activation, "glorot_uniform")


def draw_weights(
    init: str, fan_in: int, fan_out: int, rng: np.random.Generator
) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix from the named (already resolved) initializer."""
    shape = (fan_in, fan_out)
    if init == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if init == "glorot_normal":
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    if init == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, size=shape)
    if init == "he_normal":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    if init == "lecun_normal":
        return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=shape)
    if init == "classic":
        return rng.uniform(-0.5, 0.5, size=shape)
    raise ValueError(f"init: {init!r} is not one of {', '.join(INITIALIZERS[1:])}")


def initial_bias(init: str) -> float:
    return 0.1 if init == "classic" else 0.0
