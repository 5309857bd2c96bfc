"""The numpy training engine: no Qt, no scikit-learn, no file I/O.

The pieces, from the bottom up: ``activations`` and ``heads`` (each formula beside its
derivative), ``initializers``, ``network`` (one flat parameter buffer with per-layer
views), ``optimizers``, ``schedules`` (and early stopping), ``trainer`` (mini-batches and
per-step diagnostics) and ``diagnostics`` (dead and saturated units over a data set).
"""

from __future__ import annotations

import numpy as np

from .activations import ACTIVATIONS, DEFAULT_ALPHA
from .diagnostics import LayerStats, layer_statistics
from .heads import HEADS
from .initializers import INITIALIZERS
from .network import ForwardResult, LayerSpec, Network, NetworkSpec
from .optimizers import OPTIMIZERS, Optimizer, make_optimizer
from .schedules import SCHEDULES, EarlyStopping, Schedule, make_schedule
from .trainer import Evaluation, RunResult, StepLog, Trainer

STREAMS = ("data", "init", "batches", "dropout")


def make_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for data, initial weights, batch order and dropout.

    Each stream comes from its own child of one ``SeedSequence``, so changing how much one
    stream draws (say, adding dropout) leaves the others untouched.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def data_seed(seed: int) -> int:
    """An integer seed for data generators that take one (scikit-learn's random_state)."""
    return int(np.random.SeedSequence(seed).spawn(len(STREAMS))[0].generate_state(1)[0])


__all__ = [
    "ACTIVATIONS", "DEFAULT_ALPHA", "HEADS", "INITIALIZERS", "OPTIMIZERS", "SCHEDULES",
    "EarlyStopping", "Evaluation", "ForwardResult", "LayerSpec", "LayerStats", "Network",
    "NetworkSpec", "Optimizer", "RunResult", "Schedule", "StepLog", "Trainer",
    "data_seed", "layer_statistics", "make_optimizer", "make_schedule", "make_streams",
]
