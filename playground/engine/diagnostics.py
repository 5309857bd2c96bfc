"""Whole-data-set diagnostics of a network's units, computed on demand.

* Dead units: a unit of the ReLU family whose pre-activation is at most zero for every
  sample. A ReLU unit then outputs 0 everywhere and gets no gradient, so it cannot
  recover; leaky ReLU, PReLU, ELU and SELU units in that state are stuck on their flat
  side and learn only slowly.
* Saturated units: a sigmoid or tanh unit whose slope is below 5% of its peak for more
  than half of the samples; gradients through it nearly vanish.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations as act
from .network import Network

#: A sample saturates a unit when f'(h) is below this share of the peak slope.
SATURATION_SLOPE = 0.05
#: A unit is saturated when more than this share of samples saturate it.
SATURATED_SHARE = 0.5
_PEAK_SLOPE = {"sigmoid": 0.25, "tanh": 1.0}
_OUTPUT_FUNCTION = {"sigmoid": "sigmoid", "classic": "tanh", "softmax": None, "linear": None}


@dataclass(frozen=True)
class LayerStats:
    name: str
    activation: str
    units: int
    dead_fraction: float  # nan when the activation cannot die
    saturated_fraction: float  # nan when the activation cannot saturate
    dead_units: np.ndarray  # (units,) bool
    saturated_units: np.ndarray  # (units,) bool
    activation_mean: float
    activation_std: float
    pre_activations: np.ndarray  # (n, units): what the activation function received
    activations: np.ndarray  # (n, units)


def dead_mask(activation: str, pre: np.ndarray) -> np.ndarray | None:
    """Per unit: True when the pre-activation is <= 0 for every row (ReLU family only)."""
    if activation not in act.RELU_FAMILY or len(pre) == 0:
        return None
    return np.all(pre <= 0.0, axis=0)


def saturated_mask(activation: str, pre: np.ndarray) -> np.ndarray | None:
    """Per unit: True when most rows sit on a flat tail (sigmoid and tanh only)."""
    if activation not in _PEAK_SLOPE or len(pre) == 0:
        return None
    slope = act.derivative(activation, pre)
    flat = slope < SATURATION_SLOPE * _PEAK_SLOPE[activation]
    return flat.mean(axis=0) > SATURATED_SHARE


def _fraction(mask: np.ndarray | None) -> float:
    return float("nan") if mask is None else float(mask.mean())


def layer_statistics(network: Network, x: np.ndarray) -> list[LayerStats]:
    """Statistics of every hidden layer and the output layer over the rows of ``x``."""
    res = network.forward(x, keep_hidden=True)
    stats = []
    for layer, pre, post in zip(network.hidden_layers, res.pre_activations, res.activations):
        dead = dead_mask(layer.activation, pre)
        sat = saturated_mask(layer.activation, pre)
        stats.append(_stats(layer.name, layer.activation, layer.units, dead, sat, pre, post))
    out_layer = network.output_layer
    fn = _OUTPUT_FUNCTION[network.spec.head]
    sat = saturated_mask(fn, res.logits) if fn else None
    stats.append(_stats("output", network.spec.head, out_layer.units, None, sat,
                        res.logits, res.output))
    return stats


def _stats(name, activation, units, dead, sat, pre, post) -> LayerStats:
    empty = np.zeros(units, dtype=bool)
    return LayerStats(
        name=name,
        activation=activation,
        units=units,
        dead_fraction=_fraction(dead),
        saturated_fraction=_fraction(sat),
        dead_units=empty if dead is None else dead,
        saturated_units=empty if sat is None else sat,
        activation_mean=float(post.mean()) if post.size else float("nan"),
        activation_std=float(post.std()) if post.size else float("nan"),
        pre_activations=pre,
        activations=post,
    )
