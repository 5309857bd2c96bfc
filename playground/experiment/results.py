"""What a finished run leaves behind: ``metrics.json`` and ``model.npz``.

``metrics.json`` is strict JSON (no NaN or Infinity tokens: a number that is not finite is
written as ``null``) holding the final losses and accuracies, the run's length, whether it
diverged or stopped early, per-layer diagnostics and the evaluation history. It is built
from snapshots only, so the window can write one for a run it never touched directly.

``model.npz`` holds plain arrays and strings only, so ``np.load(path,
allow_pickle=False)`` reads it:

=====================  ==================================================================
key                    content
=====================  ==================================================================
format, version        "playground-model", 1 (0-d)
experiment             the experiment file's text (0-d unicode), seed included
params                 the network's flat parameter buffer (float64)
sizes                  layer widths from the inputs to the outputs (int64)
activations            hidden-layer activation names (unicode, one per hidden layer)
alphas                 the activation parameter each hidden layer uses (float64)
dropout, batch_norm    per hidden layer (float64, bool)
head, init             the output head and the initializer name (0-d unicode)
features               the input feature names (unicode)
input_mean, input_std  the standardizer, only when the features were standardized
layer<i>_W, layer<i>_b the weights (fan_in, units) and biases of hidden layer i (1-based);
output_W, output_b     and of the output layer
layer<i>_slope         PReLU slopes
layer<i>_gamma/_beta   batch-norm scale and shift, with ..._running_mean/_running_var
=====================  ==================================================================

The named arrays duplicate ``params`` for readers outside Playground; :func:`load_model`
restores the network from ``params`` and the running statistics.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from playground.data import Standardizer
from playground.engine import DEFAULT_ALPHA, LayerSpec, Network, NetworkSpec, Trainer
from playground.experiment.config import (
    ConfigError,
    Experiment,
    dumps_experiment,
    loads_experiment,
    resolved_output,
)
from playground.experiment.session import Snapshot, finite_or_none

MODEL_FORMAT = "playground-model"
MODEL_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be read back; the message says which file and why."""


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Mini-batches in one pass over ``n_train`` points (the last one may be short)."""
    return math.ceil(n_train / max(1, min(batch_size, n_train)))


# ---------------------------------------------------------------------------- metrics


@dataclass
class RunHistory:
    """What ``metrics.json`` needs from a whole run, gathered snapshot by snapshot.

    Feed it every snapshot (``add``): it keeps the evaluation history, the latest snapshot
    and the size of the training set, which only the first snapshot carries.
    """

    eval_step: list[int] = field(default_factory=list)
    eval_train_loss: list[float] = field(default_factory=list)
    eval_test_loss: list[float] = field(default_factory=list)
    n_train: int | None = None
    last: Snapshot | None = None

    def add(self, snapshot: Snapshot) -> None:
        if snapshot.data is not None:
            self.n_train = len(snapshot.data.train.y)
        self.eval_step.extend(int(s) for s in snapshot.eval_step)
        self.eval_train_loss.extend(float(v) for v in snapshot.eval_train_loss)
        self.eval_test_loss.extend(float(v) for v in snapshot.eval_test_loss)
        self.last = snapshot

    def points(self) -> list[dict[str, Any]]:
        """The history as metrics.json lists it: one entry per evaluation."""
        return [
            {"step": s, "train_loss": finite_or_none(a), "test_loss": finite_or_none(b)}
            for s, a, b in zip(self.eval_step, self.eval_train_loss, self.eval_test_loss)
        ]


def _layer_activations(experiment: Experiment, snapshot: Snapshot) -> list[str]:
    """Activation name per layer with weights: the hidden layers' and the output head."""
    out_units = snapshot.weights[-1].shape[1]
    head = resolved_output(experiment, out_units if out_units > 1 else 2)
    return [layer.activation for layer in experiment.network.layers] + [head]


def metrics_dict(
    experiment: Experiment,
    snapshot: Snapshot,
    history: RunHistory,
    *,
    seconds: float,
) -> dict[str, Any]:
    """The content of metrics.json for a run whose final state is ``snapshot``.

    ``seconds`` is the training time; ``steps_per_second`` is the run's average over it.
    ``epochs`` counts passes over the training set and may be fractional. ``train_loss``
    includes the L1/L2 ``penalty`` (reported on its own too); ``test_loss`` is the data
    loss alone.
    """
    activations = _layer_activations(experiment, snapshot)
    layers = []
    for i, name in enumerate(snapshot.layer_names):
        w = snapshot.weights[i]
        layers.append({
            "name": name,
            "units": int(w.shape[1]),
            "activation": activations[i],
            "grad_norm": finite_or_none(float(snapshot.current_grad_norm[i])),
            "weight_norm": finite_or_none(float(np.linalg.norm(w))),
            "dead_fraction": finite_or_none(float(snapshot.dead_fraction[i])),
            "saturated_fraction": finite_or_none(float(snapshot.saturated_fraction[i])),
        })
    epochs = None
    if history.n_train:
        per_epoch = steps_per_epoch(history.n_train, experiment.training.batch_size)
        epochs = round(snapshot.step / per_epoch, 4)
    rate = snapshot.step / seconds if seconds > 0 else None
    return {
        "title": experiment.title,
        "seed": experiment.seed,
        "engine": snapshot.engine,
        "steps": snapshot.step,
        "epochs": epochs,
        "seconds": round(seconds, 4),
        "steps_per_second": finite_or_none(rate),
        "train_loss": finite_or_none(snapshot.train_loss),
        "test_loss": finite_or_none(snapshot.test_loss),
        "penalty": finite_or_none(snapshot.penalty),
        "train_accuracy": finite_or_none(snapshot.train_accuracy),
        "test_accuracy": finite_or_none(snapshot.test_accuracy),
        "diverged": snapshot.diverged is not None,
        "diverged_message": snapshot.diverged,
        "stopped_message": snapshot.stopped,
        "layers": layers,
        "history": history.points(),
    }


def write_metrics(
    path: str | os.PathLike[str],
    experiment: Experiment,
    snapshot: Snapshot,
    history: RunHistory,
    *,
    seconds: float,
) -> dict[str, Any]:
    """Write metrics.json atomically and return what was written."""
    metrics = metrics_dict(experiment, snapshot, history, seconds=seconds)
    text = _metrics_text(metrics)
    _write_atomically(Path(path), lambda f: f.write(text.encode("utf-8")))
    return metrics


def _metrics_text(metrics: dict[str, Any]) -> str:
    """Indented JSON with one history point per line, so long runs stay readable."""
    head = {key: value for key, value in metrics.items() if key != "history"}
    text = json.dumps(head, indent=2, allow_nan=False)
    points = ",\n".join("    " + json.dumps(p, allow_nan=False) for p in metrics["history"])
    history = f"[\n{points}\n  ]" if points else "[]"
    return f'{text[:-2]},\n  "history": {history}\n}}\n'


def _write_atomically(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through a temporary file beside ``path`` so a crash leaves no half file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- model file


def _text(value: str) -> np.ndarray:
    return np.array(value, dtype=np.str_)


def _names(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=np.str_) if values else np.empty(0, dtype="<U1")


def model_arrays(
    network: Network,
    experiment: Experiment,
    standardizer: Standardizer | None = None,
) -> dict[str, np.ndarray]:
    """Everything model.npz holds, as named plain arrays (see the module docstring)."""
    spec = network.spec
    arrays: dict[str, np.ndarray] = {
        "format": _text(MODEL_FORMAT),
        "version": np.array(MODEL_VERSION, dtype=np.int64),
        "experiment": _text(dumps_experiment(experiment)),
        "params": network.params.copy(),
        "sizes": spec.sizes,
        "activations": _names([h.activation for h in spec.hidden]),
        "alphas": np.array([h.resolved_alpha for h in spec.hidden], dtype=np.float64),
        "dropout": np.array([h.dropout for h in spec.hidden], dtype=np.float64),
        "batch_norm": np.array([h.batch_norm for h in spec.hidden], dtype=bool),
        "head": _text(spec.head),
        "init": _text(spec.init),
        "features": _names(list(experiment.data.features)),
    }
    if standardizer is not None:
        arrays["input_mean"] = np.array(standardizer.mean)
        arrays["input_std"] = np.array(standardizer.std)
    for layer in network.layers:
        prefix = "output" if layer.is_output else f"layer{layer.index + 1}"
        arrays[f"{prefix}_W"] = layer.W.copy()
        arrays[f"{prefix}_b"] = layer.b.copy()
        extras = {
            "slope": layer.slope,
            "gamma": layer.gamma,
            "beta": layer.beta,
            "running_mean": layer.running_mean,
            "running_var": layer.running_var,
        }
        for name, value in extras.items():
            if value is not None:
                arrays[f"{prefix}_{name}"] = np.array(value, dtype=np.float64)
    return arrays


def save_model(
    path: str | os.PathLike[str],
    model: Trainer | Network,
    experiment: Experiment,
    *,
    standardizer: Standardizer | None = None,
) -> None:
    """Write model.npz (compressed, atomically) for a trainer's network or a network."""
    network = model.network if isinstance(model, Trainer) else model
    arrays = model_arrays(network, experiment, standardizer)
    _write_atomically(Path(path), lambda f: np.savez_compressed(f, **arrays))


def _read(npz: Any, key: str, path: Path) -> np.ndarray:
    if key not in npz.files:
        raise ModelFileError(f"{path}: not a complete Playground model (no {key!r} array)")
    return npz[key]


def load_model(path: str | os.PathLike[str]) -> tuple[Experiment, Network]:
    """Read model.npz back: the experiment and a network that predicts as the saved one.

    Raises ModelFileError (with the file name) for a file that is missing, not an npz
    archive, written by a newer Playground or inconsistent with itself.
    """
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as err:
        raise ModelFileError(f"{path}: not a model file ({err})") from None
    if not hasattr(npz, "files"):
        raise ModelFileError(f"{path}: holds a single array, not a Playground model")
    with npz:
        if str(_read(npz, "format", path)) != MODEL_FORMAT:
            raise ModelFileError(f"{path}: not a Playground model file")
        version = int(_read(npz, "version", path))
        if version > MODEL_VERSION:
            raise ModelFileError(
                f"{path}: written by a newer Playground (model version {version}); "
                f"this one reads up to version {MODEL_VERSION}"
            )
        try:
            experiment = loads_experiment(str(_read(npz, "experiment", path)))
        except ConfigError as err:
            raise ModelFileError(f"{path}: its experiment is invalid: {err}") from None
        sizes = [int(s) for s in _read(npz, "sizes", path)]
        activations = [str(a) for a in _read(npz, "activations", path)]
        alphas = _read(npz, "alphas", path)
        dropout = _read(npz, "dropout", path)
        batch_norm = _read(npz, "batch_norm", path)
        if not len(activations) == len(alphas) == len(dropout) == len(batch_norm) \
                == len(sizes) - 2:
            raise ModelFileError(f"{path}: the per-layer arrays disagree in length")
        try:
            hidden = tuple(
                LayerSpec(
                    units=sizes[i + 1],
                    activation=activations[i],
                    alpha=float(alphas[i]) if activations[i] in DEFAULT_ALPHA else None,
                    dropout=float(dropout[i]),
                    batch_norm=bool(batch_norm[i]),
                )
                for i in range(len(activations))
            )
            spec = NetworkSpec(
                n_inputs=sizes[0],
                hidden=hidden,
                n_outputs=sizes[-1],
                head=str(_read(npz, "head", path)),
                init=str(_read(npz, "init", path)),
            )
            network = Network(spec, np.random.default_rng(0))
            state = {"params": _read(npz, "params", path)}
            for layer in network.layers:
                if layer.running_mean is not None:
                    prefix = f"layer{layer.index + 1}"
                    state[f"running_mean_{layer.index}"] = _read(
                        npz, f"{prefix}_running_mean", path)
                    state[f"running_var_{layer.index}"] = _read(
                        npz, f"{prefix}_running_var", path)
            network.load_state(state)
        except ModelFileError:
            raise
        except ValueError as err:
            raise ModelFileError(f"{path}: the network cannot be rebuilt ({err})") from None
    return experiment, network
