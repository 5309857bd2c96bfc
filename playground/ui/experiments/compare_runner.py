"""Train a few variants of one experiment in turns, Qt-free.

A :class:`Variant` is a label and a few ``path -> value`` changes (as for
:func:`~playground.experiment.config.with_path`) applied to the current experiment, so
only the compared setting differs: same seed, hence the same data and, where the
architecture and initializer agree, the same initial weights. :class:`CompareSession`
owns one trainer per variant and advances them round-robin in short chunks, so a single
thread keeps every variant at about the same step; :meth:`CompareSession.states`
returns a :class:`VariantState` per variant for the window to draw: the loss and every
layer's gradient norm per chunk, and the decision boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playground.data import make_grid
from playground.engine import Trainer
from playground.experiment.build import PreparedData, build_trainer
from playground.experiment.config import Experiment, with_path
from playground.experiment.sweep import format_value, parse_value

#: Steps each variant trains before the next one gets its turn.
CHUNK_STEPS = 50
#: Side of the small decision-boundary images.
THUMB_SIZE = 48
#: Steps a comparison runs when the experiment sets no ``max_steps``.
DEFAULT_STEPS = 3000
MIN_VARIANTS, MAX_VARIANTS = 2, 6

ACTIVATION_PATH = "network.layers[*].activation"


@dataclass(frozen=True)
class Setting:
    """A setting one can compare: what it is called and which path it sets."""

    label: str
    path: str


#: The settings the Compare dialog offers. The optimizer is special: see
#: :func:`optimizer_changes`.
SETTINGS = (
    Setting("Activation (all hidden layers)", ACTIVATION_PATH),
    Setting("Optimizer", "training.optimizer.name"),
    Setting("Learning rate", "training.optimizer.learning_rate"),
    Setting("Initializer", "network.init"),
    Setting("Batch size", "training.batch_size"),
    Setting("L2 regularization", "training.l2"),
)


@dataclass(frozen=True)
class Variant:
    """One side of a comparison: applied to the base experiment in the given order."""

    label: str
    changes: Mapping[str, Any]

    def apply(self, base: Experiment) -> Experiment:
        """The base with this variant's changes (ConfigError when one is invalid)."""
        e = base
        for path, value in self.changes.items():
            e = with_path(e, path, value)
        return e


def optimizer_changes(name: str) -> dict[str, Any]:
    """The changes for an optimizer choice; "momentum" means SGD with momentum 0.9 and
    plain "sgd" means SGD without momentum."""
    if name == "momentum":
        return {"training.optimizer.name": "sgd", "training.optimizer.momentum": 0.9}
    if name == "sgd":
        return {"training.optimizer.name": "sgd", "training.optimizer.momentum": 0.0}
    return {"training.optimizer.name": name}


def variants_for(path: str, values: Sequence[Any]) -> list[Variant]:
    """One variant per value of the setting at ``path``."""
    if path == "training.optimizer.name":
        return [Variant(str(v), optimizer_changes(str(v))) for v in values]
    return [Variant(format_value(v), {path: v}) for v in values]


def parse_values(text: str) -> list[Any]:
    """Comma-separated values as typed ("0.01, 0.1", "relu, tanh")."""
    return [parse_value(part) for part in text.split(",") if part.strip()]


def activation_variants() -> list[Variant]:
    return variants_for(ACTIVATION_PATH, ["sigmoid", "tanh", "relu"])


def optimizer_variants() -> list[Variant]:
    return variants_for("training.optimizer.name", ["sgd", "momentum", "adam"])


@dataclass(frozen=True, eq=False)
class VariantState:
    """How one variant stands after a round: its history so far and its boundary.

    The arrays are read-only copies, one row per chunk of steps the variant trained.
    """

    label: str
    step: int
    steps: np.ndarray  # (n,) step at the end of each chunk
    loss: np.ndarray  # (n,) mean batch loss over each chunk
    grad_norm: np.ndarray  # (n, L) mean weight-gradient norm per layer over each chunk
    layer_names: tuple[str, ...]  # the L layers, hidden ones first, "output" last
    boundary: np.ndarray | None  # (g, g) or (g, g, k) float32, row 0 at the bottom
    diverged: str | None
    initial_params: np.ndarray = field(repr=False)


class _Rows:
    """A table that grows one row per chunk, in a buffer that doubles when full."""

    def __init__(self, width: int) -> None:
        self._data = np.empty((64, width))
        self.n = 0

    def append(self, row: np.ndarray) -> None:
        if self.n == len(self._data):
            grown = np.empty((2 * len(self._data), self._data.shape[1]))
            grown[: self.n] = self._data
            self._data = grown
        self._data[self.n] = row
        self.n += 1

    def snapshot(self) -> np.ndarray:
        out = self._data[: self.n].copy()
        out.flags.writeable = False
        return out


class _Track:
    """One variant's trainer and growing history."""

    def __init__(self, variant: Variant, experiment: Experiment) -> None:
        self.variant = variant
        self.experiment = experiment
        self.trainer: Trainer
        self.data: PreparedData
        self.trainer, self.data = build_trainer(experiment)
        self.initial_params = self.trainer.network.params.copy()
        self.layer_names = tuple(layer.name for layer in self.trainer.network.layers)
        # Columns: step, loss, then one gradient norm per layer.
        self.rows = _Rows(2 + len(self.layer_names))

    @property
    def done(self) -> bool:
        return self.trainer.diverged is not None or self.trainer.stopped is not None

    def advance(self, n: int) -> None:
        log = self.trainer.run(n).log
        if not len(log):
            return
        row = np.empty(2 + len(self.layer_names))
        row[0] = self.trainer.step
        row[1] = np.mean(log.loss)
        row[2:] = np.mean(log.grad_norm, axis=0)
        self.rows.append(row)

    def boundary(self, size: int) -> np.ndarray:
        x = self.data.inputs(make_grid(size)).astype(np.float32)
        out = self.trainer.predict(x, dtype=np.float32)
        if self.trainer.network.spec.head == "classic":
            out = (out + 1.0) * 0.5  # tanh output in [-1, 1] read as a probability
        img = out[:, 0].reshape(size, size) if out.shape[1] == 1 else out.reshape(size, size, -1)
        return np.ascontiguousarray(img, dtype=np.float32)

    def state(self, size: int) -> VariantState:
        rows = self.rows.snapshot()
        return VariantState(
            label=self.variant.label,
            step=self.trainer.step,
            steps=rows[:, 0],
            loss=rows[:, 1],
            grad_norm=rows[:, 2:],
            layer_names=self.layer_names,
            boundary=self.boundary(size) if size > 0 else None,
            diverged=self.trainer.diverged,
            initial_params=self.initial_params,
        )


class CompareSession:
    """The variants of one base experiment, trained in turns up to ``max_steps``."""

    def __init__(self, base: Experiment, variants: Sequence[Variant], *,
                 max_steps: int | None = None, chunk: int = CHUNK_STEPS,
                 boundary_size: int = THUMB_SIZE) -> None:
        if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
            raise ValueError(f"compare needs {MIN_VARIANTS} to {MAX_VARIANTS} variants, "
                             f"got {len(variants)}")
        self.base = base
        self.experiments = [v.apply(base) for v in variants]  # ConfigError before training
        self.variants = list(variants)
        self.max_steps = max_steps or base.training.max_steps or DEFAULT_STEPS
        self.chunk = chunk
        self.boundary_size = boundary_size
        self._tracks: list[_Track] = []

    def build(self) -> None:
        """Prepare data and trainers (slow: call it on the worker thread)."""
        self._tracks = [_Track(v, e) for v, e in zip(self.variants, self.experiments)]

    @property
    def finished(self) -> bool:
        return bool(self._tracks) and all(
            t.done or t.trainer.step >= self.max_steps for t in self._tracks)

    def advance_one(self, index: int) -> None:
        """One chunk of steps for one variant (nothing when it is done)."""
        track = self._tracks[index]
        left = self.max_steps - track.trainer.step
        if left > 0 and not track.done:
            track.advance(min(self.chunk, left))

    def states(self) -> list[VariantState]:
        return [t.state(self.boundary_size) for t in self._tracks]
