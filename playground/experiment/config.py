"""The experiment: one frozen, validated description of a run, and its JSON file format.

The window edits an experiment, the command line trains one headless and the worker thread
runs one, so all three need the same answer to "is this a valid run?". That answer lives
here once: every dataclass validates itself in ``__post_init__``, so a value is checked the
same way whether it came from a file, from ``dataclasses.replace`` or from
:func:`with_path`. A bad value raises :class:`ConfigError`, whose ``path`` names the field
(``network.layers[1].activation``) and whose message says what is allowed.

File format reference
=====================

A file is one JSON object. ``format`` and ``version`` are required; every other field may
be left out and then takes the default below. Lists in the file are tuples in Python.
Unknown fields are errors, and so are fields that do not apply to the current choice
(``beta1`` for ``sgd``, ``alpha`` for ``relu``): a file that sets them was probably meant
to say something else.

Top level
---------
============  ======================  ==========================================
field         default                 allowed
============  ======================  ==========================================
format        (required)              "playground-experiment"
version       (required)              0..1; older versions are migrated
title         "Untitled experiment"   string of at most 200 characters
description   ""                      string
seed          0                       integer 0..2**32-1
data          see ``data``            object
network       see ``network``         object
training      see ``training``        object
============  ======================  ==========================================

``data``
--------
=============  ============  ===================================================
field          default       allowed
=============  ============  ===================================================
dataset        "circle"      one of DATASETS
n_samples      500           integer 2..10000 (not for custom)
noise          0.0           number in [0, 1] (not for custom)
n_classes      2             2..8 for spiral, blobs, gaussian_quantiles and
                             classification; exactly 2 for the others (not for
                             custom)
test_fraction  0.5           number in [0, 0.9]
features       ["x1","x2"]   non-empty list of distinct FEATURES
standardize    false         boolean
points         []            custom only, and required there: 2..10000 rows
                             [x1, x2, label] of finite numbers
=============  ============  ===================================================

Custom data is kept inside the file so a file handed to someone else is complete. If every
label is a whole number the data is a classification set whose classes are the distinct
labels (2..8 of them); otherwise it is a regression set. For custom data ``n_samples`` and
``n_classes`` are derived from the points and ``noise`` stays 0.

``network``
-----------
==========  ===================================  ======================================
field       default                              allowed
==========  ===================================  ======================================
layers      [{"units": 4}, {"units": 2}]         0..12 hidden layers, see below
output      "auto"                               one of OUTPUTS
init        "auto"                               one of INITIALIZERS
==========  ===================================  ======================================

``output`` "auto" means linear for regression, sigmoid for 2 classes and softmax for more.
"sigmoid" and "classic" need exactly 2 classes, "softmax" needs a classification set and
"linear" needs a regression set.

Each hidden layer:

==========  ========  ==================================================================
field       default   allowed
==========  ========  ==================================================================
units       4         integer 1..256
activation  "tanh"    one of ACTIVATIONS
alpha       null      only for leaky_relu (slope, >= 0, null means 0.01), prelu (initial
                      slope, >= 0, null means 0.25) and elu (> 0, null means 1.0)
dropout     0.0       number in [0, 1)
batch_norm  false     boolean
==========  ========  ==================================================================

``training``
------------
==============  =====================  =================================================
field           default                allowed
==============  =====================  =================================================
optimizer       {"name": "sgd"}        object, see below
batch_size      10                     integer 1..10000
l1              0.0                    number >= 0
l2              0.0                    number >= 0
schedule        {"name": "constant"}   object, see below
early_stopping  null                   null (off) or object, see below
max_steps       null                   null (the window trains until paused; the command
                                       line then needs --steps or --epochs) or integer
                                       >= 1
eval_every      10                     integer >= 1: steps between full train/test loss
                                       evaluations (history points, early stopping,
                                       reduce_on_plateau)
fast_path       true                   boolean: allow the compiled engine when available
==============  =====================  =================================================

``training.optimizer`` takes ``name`` (default "sgd", one of OPTIMIZERS) and only the
fields that optimizer uses (OPTIMIZER_FIELDS):

=============  ========  ==================  ==========================================
field          default   allowed             used by
=============  ========  ==================  ==========================================
learning_rate  0.03      number in (0, 10]   all
momentum       0.0       number in [0, 1)    sgd, rmsprop
nesterov       false     boolean             sgd; true needs momentum > 0
beta1          0.9       number in [0, 1)    adam, adamw
beta2          0.999     number in [0, 1)    adam, adamw
epsilon        1e-8      number > 0          rmsprop, adagrad, adam, adamw
rho            0.9       number in [0, 1)    rmsprop
weight_decay   0.01      number >= 0         adamw (decoupled, Loshchilov & Hutter 2019)
=============  ========  ==================  ==========================================

``training.schedule`` takes ``name`` (default "constant", one of SCHEDULES) and only the
fields that schedule uses (SCHEDULE_FIELDS); the learning rate is the optimizer's times a
factor:

===========  ========  ================  ==============================================
field        default   allowed           used by
===========  ========  ================  ==============================================
step_size    1000      integer >= 1      step: factor gamma**(step // step_size)
gamma        0.5       number in (0, 1]  step
decay_rate   0.5       number in (0, 1]  exponential: decay_rate**(step / decay_steps)
decay_steps  1000      integer >= 1      exponential
total_steps  5000      integer >= 1      cosine: from 1 down to min_factor over
                                         total_steps (Loshchilov & Hutter 2017)
min_factor   0.0       number in [0, 1)  cosine, reduce_on_plateau: the lowest factor
factor       0.5       number in (0, 1]  reduce_on_plateau: multiply by factor when the
                                         test loss has not improved for patience steps
patience     500       integer >= 1      reduce_on_plateau
===========  ========  ================  ==============================================

``training.early_stopping`` (when not null): ``patience`` 500 (integer >= 1, steps without
an improvement of the test loss), ``restore_best`` true (boolean, go back to the best
weights), ``min_delta`` 0.0 (number >= 0, the smallest decrease that counts).

In memory
=========

Settings that do not apply to the current choice are reset to their defaults when a
dataclass is built (switching the optimizer from adam to sgd drops the betas; switching an
activation to relu drops ``alpha``; a non-custom dataset drops its points). Two experiments
that train the same way therefore compare equal, and ``experiment_from_dict(
experiment_to_dict(e)) == e`` holds for every experiment. Numbers given as integers for
float fields are stored as floats.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "ACTIVATIONS",
    "ALPHA_DEFAULTS",
    "DATASETS",
    "FEATURES",
    "FORMAT",
    "INITIALIZERS",
    "MULTICLASS_DATASETS",
    "OPTIMIZERS",
    "OPTIMIZER_FIELDS",
    "OUTPUTS",
    "REGRESSION_DATASETS",
    "SCHEDULES",
    "SCHEDULE_FIELDS",
    "VERSION",
    "ConfigError",
    "DataConfig",
    "EarlyStoppingConfig",
    "Experiment",
    "LayerConfig",
    "NetworkConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrainingConfig",
    "dumps_experiment",
    "experiment_from_dict",
    "experiment_to_dict",
    "get_path",
    "is_regression",
    "load_experiment",
    "loads_experiment",
    "migrate",
    "resolved_output",
    "save_experiment",
    "with_path",
]

FORMAT = "playground-experiment"
VERSION = 1

DATASETS = (
    "circle",
    "xor",
    "gauss",
    "spiral",
    "moons",
    "blobs",
    "gaussian_quantiles",
    "checkerboard",
    "classification",
    "reg_plane",
    "reg_gauss",
    "custom",
)
REGRESSION_DATASETS = ("reg_plane", "reg_gauss")
MULTICLASS_DATASETS = ("spiral", "blobs", "gaussian_quantiles", "classification")
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
ACTIVATIONS = (
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "swish",
    "gelu",
    "softplus",
)
ALPHA_DEFAULTS = {"leaky_relu": 0.01, "prelu": 0.25, "elu": 1.0}
OUTPUTS = ("auto", "sigmoid", "softmax", "linear", "classic")
INITIALIZERS = (
    "auto",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "classic",
)
OPTIMIZERS = ("sgd", "rmsprop", "adagrad", "adam", "adamw")
SCHEDULES = ("constant", "step", "exponential", "cosine", "reduce_on_plateau")
OPTIMIZER_FIELDS = {
    "sgd": ("learning_rate", "momentum", "nesterov"),
    "rmsprop": ("learning_rate", "rho", "momentum", "epsilon"),
    "adagrad": ("learning_rate", "epsilon"),
    "adam": ("learning_rate", "beta1", "beta2", "epsilon"),
    "adamw": ("learning_rate", "beta1", "beta2", "epsilon", "weight_decay"),
}
SCHEDULE_FIELDS = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "exponential": ("decay_rate", "decay_steps"),
    "cosine": ("total_steps", "min_factor"),
    "reduce_on_plateau": ("factor", "patience", "min_factor"),
}

_CUSTOM = "custom"
_CUSTOM_DERIVED = ("n_samples", "noise", "n_classes")
_MAX_LAYERS = 12
_MAX_TITLE = 200
_MAX_SEED = 2**32 - 1


class ConfigError(ValueError):
    """A bad experiment setting, with the dotted ``path`` of the field it concerns.

    ``path`` is "" for problems with the file as a whole (missing, not JSON, ...). The
    message starts with the path so that printing the error is enough for a user.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.message))

    def within(self, prefix: str) -> ConfigError:
        """The same error seen from an enclosing object whose path is ``prefix``."""
        return ConfigError(_join(prefix, self.path), self.message)


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    if not name:
        return prefix
    return prefix + name if name.startswith("[") else f"{prefix}.{name}"


@contextmanager
def _at(prefix: str) -> Iterator[None]:
    """Re-raise errors of a nested object with its full path in front."""
    try:
        yield
    except ConfigError as err:
        raise err.within(prefix) from None


# ---------------------------------------------------------------------------------------
# Field rules: each takes a raw value and its path, returns the normalized value or raises.
# ---------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value the way a JSON-file author would write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _got(value: Any) -> str:
    return f"got {_show(value)} ({_kind(value)})"


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Int:
    low: int
    high: int | None = None

    def describe(self) -> str:
        return f"{self.low}..{self.high}" if self.high is not None else f">= {self.low}"

    def check(self, value: Any, path: str) -> int:
        if not _is_integer(value):
            if _is_number(value) and math.isfinite(value) and float(value).is_integer():
                raise ConfigError(path, f"must be an integer ({self.describe()}), got {value!r}")
            raise ConfigError(path, f"must be an integer ({self.describe()}), {_got(value)}")
        value = int(value)
        if value < self.low or (self.high is not None and value > self.high):
            where = f"in {self.describe()}" if self.high is not None else self.describe()
            raise ConfigError(path, f"must be {where}, got {value}")
        return value


@dataclass(frozen=True)
class _Float:
    """A finite number in an interval; ``None`` for a bound means unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        if self.low is None:
            return ""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{_num(self.low)}, {_num(self.high)}{right}"

    def check(self, value: Any, path: str) -> float:
        bounds = f" {self.describe()}" if self.low is not None else ""
        if not _is_number(value):
            raise ConfigError(path, f"must be a number{bounds}, {_got(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(path, f"must be a finite number{bounds}, got {value!r}")
        low_ok = self.low is None or (number > self.low if self.low_open else number >= self.low)
        high_ok = self.high is None or (
            number < self.high if self.high_open else number <= self.high
        )
        if not (low_ok and high_ok):
            raise ConfigError(path, f"must be {self.describe()}, got {value!r}")
        return number


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


@dataclass(frozen=True)
class _Bool:
    def check(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"must be true or false, {_got(value)}")
        return value


@dataclass(frozen=True)
class _Choice:
    options: tuple[str, ...]

    def check(self, value: Any, path: str) -> str:
        allowed = ", ".join(self.options)
        if not isinstance(value, str):
            raise ConfigError(path, f"must be one of {allowed}, {_got(value)}")
        if value not in self.options:
            raise ConfigError(path, f"{value!r} is not one of {allowed}")
        return value


@dataclass(frozen=True)
class _Text:
    max_length: int | None = None

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(path, f"must be a string, {_got(value)}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ConfigError(
                path, f"must be at most {self.max_length} characters, got {len(value)}"
            )
        return value


@dataclass(frozen=True)
class _Optional:
    inner: Any

    def check(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.check(value, path)


@dataclass(frozen=True)
class _Instance:
    cls: type

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, self.cls):
            raise ConfigError(path, f"must be a {self.cls.__name__}, {_got(value)}")
        return value


def _as_tuple(value: Any, path: str, what: str) -> tuple[Any, ...]:
    # A bare string is a sequence too, but never the list the caller meant.
    if not isinstance(value, (list, tuple)):
        raise ConfigError(path, f"must be a list of {what}, {_got(value)}")
    return tuple(value)


@dataclass(frozen=True)
class _Features:
    def check(self, value: Any, path: str) -> tuple[str, ...]:
        names = _as_tuple(value, path, f"feature names from {', '.join(FEATURES)}")
        if not names:
            raise ConfigError(path, f"must name at least one of {', '.join(FEATURES)}")
        choice = _Choice(FEATURES)
        for i, name in enumerate(names):
            choice.check(name, f"{path}[{i}]")
            if name in names[:i]:
                raise ConfigError(path, f"{name!r} is listed twice; each feature at most once")
        return names


@dataclass(frozen=True)
class _Points:
    def check(self, value: Any, path: str) -> tuple[tuple[float, float, float], ...]:
        rows = _as_tuple(value, path, "[x1, x2, label] rows")
        if not 2 <= len(rows) <= 10000:
            raise ConfigError(path, f"must hold 2..10000 points, got {len(rows)}")
        finite = _Float()
        points = []
        for i, row in enumerate(rows):
            where = f"{path}[{i}]"
            if not isinstance(row, (list, tuple)) or len(row) != 3:
                raise ConfigError(where, f"must be [x1, x2, label], {_got(row)}")
            points.append(tuple(finite.check(v, f"{where}[{j}]") for j, v in enumerate(row)))
        return tuple(points)


def _apply_rules(obj: Any, rules: Mapping[str, Any]) -> None:
    """Check and normalize every field of a frozen dataclass in place, in table order."""
    for name, rule in rules.items():
        object.__setattr__(obj, name, rule.check(getattr(obj, name), name))


def _reset_fields(obj: Any, names: tuple[str, ...]) -> None:
    """Put fields that do not apply back to their defaults (see the module docstring)."""
    for f in fields(obj):
        if f.name not in names:
            object.__setattr__(obj, f.name, f.default)


def _point_classes(points: tuple[tuple[float, float, float], ...]) -> int | None:
    """Number of classes of custom points, or None when the labels make a regression set."""
    labels = {p[2] for p in points}
    if all(label.is_integer() for label in labels):
        return len(labels)
    return None


# ---------------------------------------------------------------------------------------
# The dataclasses, leaves first.
# ---------------------------------------------------------------------------------------

_DATA_RULES = {
    "dataset": _Choice(DATASETS),
    "n_samples": _Int(2, 10000),
    "noise": _Float(0, 1),
    "n_classes": _Int(2, 8),
    "test_fraction": _Float(0, 0.9),
    "features": _Features(),
    "standardize": _Bool(),
}


@dataclass(frozen=True)
class DataConfig:
    """Which points to learn from, how many, and which input features the network sees."""

    dataset: str = "circle"
    n_samples: int = 500
    noise: float = 0.0
    n_classes: int = 2
    test_fraction: float = 0.5
    features: tuple[str, ...] = ("x1", "x2")
    standardize: bool = False
    points: tuple[tuple[float, float, float], ...] = ()

    _SELECTOR: ClassVar[str] = "dataset"
    _CHOICES: ClassVar[tuple[str, ...]] = DATASETS

    def __post_init__(self) -> None:
        _apply_rules(self, _DATA_RULES)
        if self.dataset != _CUSTOM:
            if self.n_classes != 2 and self.dataset not in MULTICLASS_DATASETS:
                raise ConfigError(
                    "n_classes",
                    f"{self.dataset} has exactly 2 classes, got {self.n_classes} "
                    f"(only {', '.join(MULTICLASS_DATASETS)} take 2..8)",
                )
            _reset_fields(self, self._applicable(self.dataset))
            return
        if not self.points:
            raise ConfigError("points", "the custom dataset needs its [x1, x2, label] rows")
        points = _Points().check(self.points, "points")
        classes = _point_classes(points)
        if classes is not None and not 2 <= classes <= 8:
            raise ConfigError(
                "points",
                f"whole-number labels are read as classes and there are {classes} distinct "
                "ones; allowed 2..8 (use non-integer labels for a regression target)",
            )
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "n_samples", len(points))
        object.__setattr__(self, "noise", 0.0)
        object.__setattr__(self, "n_classes", classes if classes is not None else 2)

    @classmethod
    def _applicable(cls, dataset: str) -> tuple[str, ...]:
        names = tuple(f.name for f in fields(cls))
        if dataset == _CUSTOM:
            return tuple(n for n in names if n not in _CUSTOM_DERIVED)
        return tuple(n for n in names if n != "points")

    @classmethod
    def _why_not(cls, dataset: str) -> str:
        if dataset == _CUSTOM:
            return "does not apply to custom (its points give the samples and classes)"
        return f"does not apply to {dataset} (only the custom dataset keeps points)"


_LAYER_RULES = {
    "activation": _Choice(ACTIVATIONS),
    "units": _Int(1, 256),
    "dropout": _Float(0, 1, high_open=True),
    "batch_norm": _Bool(),
}


@dataclass(frozen=True)
class LayerConfig:
    """One hidden layer: its width, its nonlinearity and the extras applied to it."""

    units: int = 4
    activation: str = "tanh"
    alpha: float | None = None
    dropout: float = 0.0
    batch_norm: bool = False

    _SELECTOR: ClassVar[str] = "activation"
    _CHOICES: ClassVar[tuple[str, ...]] = ACTIVATIONS

    def __post_init__(self) -> None:
        _apply_rules(self, _LAYER_RULES)
        if self.activation not in ALPHA_DEFAULTS:
            object.__setattr__(self, "alpha", None)
            return
        # elu with alpha 0 would be plain relu with a kink the docs never promised.
        rule = _Float(0, low_open=self.activation == "elu")
        object.__setattr__(self, "alpha", _Optional(rule).check(self.alpha, "alpha"))

    @property
    def effective_alpha(self) -> float | None:
        """``alpha`` with None replaced by the activation's default; None if it has none."""
        if self.activation not in ALPHA_DEFAULTS:
            return None
        return self.alpha if self.alpha is not None else ALPHA_DEFAULTS[self.activation]

    @classmethod
    def _applicable(cls, activation: str) -> tuple[str, ...]:
        names = tuple(f.name for f in fields(cls))
        return names if activation in ALPHA_DEFAULTS else tuple(n for n in names if n != "alpha")

    @classmethod
    def _why_not(cls, activation: str) -> str:
        return f"does not apply to {activation} (only leaky_relu, prelu and elu take alpha)"


@dataclass(frozen=True)
class _Layers:
    def check(self, value: Any, path: str) -> tuple[LayerConfig, ...]:
        layers = _as_tuple(value, path, "LayerConfig")
        if len(layers) > _MAX_LAYERS:
            raise ConfigError(
                path, f"at most {_MAX_LAYERS} hidden layers (0..{_MAX_LAYERS}), got {len(layers)}"
            )
        for i, layer in enumerate(layers):
            _Instance(LayerConfig).check(layer, f"{path}[{i}]")
        return layers


_NETWORK_RULES = {
    "layers": _Layers(),
    "output": _Choice(OUTPUTS),
    "init": _Choice(INITIALIZERS),
}


@dataclass(frozen=True)
class NetworkConfig:
    """The hidden layers plus how the output layer and the initial weights are chosen."""

    layers: tuple[LayerConfig, ...] = (LayerConfig(4), LayerConfig(2))
    output: str = "auto"
    init: str = "auto"

    def __post_init__(self) -> None:
        _apply_rules(self, _NETWORK_RULES)


_OPTIMIZER_RULES = {
    "name": _Choice(OPTIMIZERS),
    "learning_rate": _Float(0, 10, low_open=True),
    "momentum": _Float(0, 1, high_open=True),
    "nesterov": _Bool(),
    "beta1": _Float(0, 1, high_open=True),
    "beta2": _Float(0, 1, high_open=True),
    "epsilon": _Float(0, low_open=True),
    "rho": _Float(0, 1, high_open=True),
    "weight_decay": _Float(0),
}


@dataclass(frozen=True)
class OptimizerConfig:
    """The update rule and its hyper-parameters; only those in OPTIMIZER_FIELDS[name] count."""

    name: str = "sgd"
    learning_rate: float = 0.03
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    rho: float = 0.9
    weight_decay: float = 0.01

    _SELECTOR: ClassVar[str] = "name"
    _CHOICES: ClassVar[tuple[str, ...]] = OPTIMIZERS

    def __post_init__(self) -> None:
        _apply_rules(self, _OPTIMIZER_RULES)
        _reset_fields(self, self._applicable(self.name))
        if self.nesterov and self.momentum == 0:
            raise ConfigError(
                "nesterov", "requires momentum > 0 (Nesterov looks ahead along the momentum)"
            )

    @classmethod
    def _applicable(cls, name: str) -> tuple[str, ...]:
        return ("name", *OPTIMIZER_FIELDS[name])

    @classmethod
    def _why_not(cls, name: str) -> str:
        return f"does not apply to {name} (its fields: {', '.join(OPTIMIZER_FIELDS[name])})"


_SCHEDULE_RULES = {
    "name": _Choice(SCHEDULES),
    "step_size": _Int(1),
    "gamma": _Float(0, 1, low_open=True),
    "decay_rate": _Float(0, 1, low_open=True),
    "decay_steps": _Int(1),
    "total_steps": _Int(1),
    "min_factor": _Float(0, 1, high_open=True),
    "factor": _Float(0, 1, low_open=True),
    "patience": _Int(1),
}


@dataclass(frozen=True)
class ScheduleConfig:
    """How the learning rate changes over training; only SCHEDULE_FIELDS[name] count."""

    name: str = "constant"
    step_size: int = 1000
    gamma: float = 0.5
    decay_rate: float = 0.5
    decay_steps: int = 1000
    total_steps: int = 5000
    min_factor: float = 0.0
    factor: float = 0.5
    patience: int = 500

    _SELECTOR: ClassVar[str] = "name"
    _CHOICES: ClassVar[tuple[str, ...]] = SCHEDULES

    def __post_init__(self) -> None:
        _apply_rules(self, _SCHEDULE_RULES)
        _reset_fields(self, self._applicable(self.name))

    @classmethod
    def _applicable(cls, name: str) -> tuple[str, ...]:
        return ("name", *SCHEDULE_FIELDS[name])

    @classmethod
    def _why_not(cls, name: str) -> str:
        own = SCHEDULE_FIELDS[name]
        settings = f"its fields: {', '.join(own)}" if own else "it has no settings"
        return f"does not apply to {name} ({settings})"


_EARLY_STOPPING_RULES = {
    "patience": _Int(1),
    "restore_best": _Bool(),
    "min_delta": _Float(0),
}


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop when the test loss has not improved for a while, to show over-fitting."""

    patience: int = 500
    restore_best: bool = True
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _apply_rules(self, _EARLY_STOPPING_RULES)


_TRAINING_RULES = {
    "optimizer": _Instance(OptimizerConfig),
    "batch_size": _Int(1, 10000),
    "l1": _Float(0),
    "l2": _Float(0),
    "schedule": _Instance(ScheduleConfig),
    "early_stopping": _Optional(_Instance(EarlyStoppingConfig)),
    "max_steps": _Optional(_Int(1)),
    "eval_every": _Int(1),
    "fast_path": _Bool(),
}


@dataclass(frozen=True)
class TrainingConfig:
    """Everything about the optimization loop that is not the network itself."""

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    batch_size: int = 10
    l1: float = 0.0
    l2: float = 0.0
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    early_stopping: EarlyStoppingConfig | None = None
    max_steps: int | None = None
    eval_every: int = 10
    fast_path: bool = True

    def __post_init__(self) -> None:
        _apply_rules(self, _TRAINING_RULES)


_EXPERIMENT_RULES = {
    "format": _Text(),
    "title": _Text(_MAX_TITLE),
    "description": _Text(),
    "seed": _Int(0, _MAX_SEED),
    "data": _Instance(DataConfig),
    "network": _Instance(NetworkConfig),
    "training": _Instance(TrainingConfig),
}


@dataclass(frozen=True)
class Experiment:
    """A complete, reproducible run: the seed fixes data, weights, batches and dropout."""

    format: str = FORMAT
    version: int = VERSION
    title: str = "Untitled experiment"
    description: str = ""
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        if self.format != FORMAT:
            raise ConfigError("format", _not_our_format(self.format))
        if self.version != VERSION or isinstance(self.version, bool):
            raise ConfigError(
                "version",
                f"must be {VERSION} in memory, got {_show(self.version)} "
                "(older files are migrated when they are read)",
            )
        _apply_rules(self, _EXPERIMENT_RULES)
        _check_output(self)


def _not_our_format(value: Any) -> str:
    return f"this is not a Playground experiment (format {_show(value)}, expected {FORMAT!r})"


def _check_output(e: Experiment) -> None:
    """The output layer has to suit the targets: the loss is chosen from it."""
    output = e.network.output
    if output == "auto":
        return
    data = e.data
    suggest = "use 'auto'"
    if is_regression(data):
        if output != "linear":
            raise ConfigError(
                "network.output",
                f"{output!r} needs a classification dataset and {data.dataset} is regression "
                f"({suggest} or 'linear')",
            )
    elif output == "linear":
        raise ConfigError(
            "network.output",
            f"'linear' is for regression and {data.dataset} is classification "
            f"({suggest}, 'sigmoid', 'softmax' or 'classic')",
        )
    elif output in ("sigmoid", "classic") and data.n_classes != 2:
        raise ConfigError(
            "network.output",
            f"{output!r} needs exactly 2 classes and the data has {data.n_classes} "
            f"({suggest} or 'softmax')",
        )


def is_regression(e: Experiment | DataConfig) -> bool:
    """Whether the targets are real numbers rather than classes; decides loss and output."""
    data = e.data if isinstance(e, Experiment) else e
    if data.dataset == _CUSTOM:
        return _point_classes(data.points) is None
    return data.dataset in REGRESSION_DATASETS


def resolved_output(e: Experiment, n_classes: int | None = None) -> str:
    """The output actually built: "auto" becomes linear, sigmoid or softmax.

    ``n_classes`` defaults to ``e.data.n_classes``; pass the count of the generated data
    when it is known, so the network always matches the labels it is trained on.
    """
    output = e.network.output
    if output != "auto":
        return output
    if is_regression(e):
        return "linear"
    classes = e.data.n_classes if n_classes is None else n_classes
    return "sigmoid" if classes == 2 else "softmax"


# ---------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------


def _migrate_0_to_1(d: dict[str, Any]) -> dict[str, Any]:
    """Version 0 had one activation for all layers and a flat optimizer/regularization."""
    d = copy.deepcopy(d)
    network = d.get("network")
    if isinstance(network, dict) and ("hidden" in network or "activation" in network):
        hidden = network.pop("hidden", [4, 2])
        activation = network.pop("activation", "tanh")
        if not isinstance(hidden, list):
            raise ConfigError("network.hidden", f"must be a list of layer sizes, {_got(hidden)}")
        network["layers"] = [{"units": units, "activation": activation} for units in hidden]
    training = d.get("training")
    if isinstance(training, dict):
        optimizer: dict[str, Any] = {}
        if "optimizer" in training:
            name = training.pop("optimizer")
            if not isinstance(name, str):
                raise ConfigError(
                    "training.optimizer", f"version 0 names the optimizer, {_got(name)}"
                )
            optimizer["name"] = name
        if "learning_rate" in training:
            optimizer["learning_rate"] = training.pop("learning_rate")
        if optimizer:
            training["optimizer"] = optimizer
        if "regularization" in training:
            training.update(_migrate_regularization(training.pop("regularization")))
    d["version"] = 1
    return d


def _migrate_regularization(reg: Any) -> dict[str, Any]:
    path = "training.regularization"
    if not isinstance(reg, dict):
        raise ConfigError(path, f"must be an object with kind and rate, {_got(reg)}")
    for key in reg:
        if key not in ("kind", "rate"):
            raise ConfigError(_join(path, str(key)), "unknown field; allowed: kind, rate")
    kind = _Choice(("none", "l1", "l2")).check(reg.get("kind", "none"), f"{path}.kind")
    if kind == "none":
        return {}
    if "rate" not in reg:
        raise ConfigError(f"{path}.rate", f"missing; {kind} regularization needs a rate")
    return {kind: reg["rate"]}


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1}


def migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a file's dict up to VERSION, one small step per version; ``d`` is not changed.

    Returns ``d`` itself when it is already current. A missing or newer version is an error:
    guessing would silently train something other than what the file describes.
    """
    if not isinstance(d, dict):
        raise ConfigError("", f"an experiment must be a JSON object, {_got(d)}")
    if "version" not in d:
        raise ConfigError(
            "version", f"missing; an experiment file must state its version (this is {VERSION})"
        )
    version = d["version"]
    if not _is_integer(version):
        raise ConfigError("version", f"must be an integer (0..{VERSION}), {_got(version)}")
    if version > VERSION:
        raise ConfigError(
            "version",
            f"this file was written by a newer Playground (version {version}); "
            f"this one reads up to version {VERSION}",
        )
    if version < 0:
        raise ConfigError("version", f"must be in 0..{VERSION}, got {version}")
    for step in range(version, VERSION):
        d = _MIGRATIONS[step](d)
    return d


# ---------------------------------------------------------------------------------------
# dict <-> dataclasses
# ---------------------------------------------------------------------------------------


def _section(cls: type, d: Any, path: str, nested: Mapping[str, Callable[[Any, str], Any]]) -> Any:
    """Build one dataclass from a JSON object: reject unknown and non-applicable keys first.

    The dataclass itself checks the values, so files and code share one set of rules.
    """
    names = [f.name for f in fields(cls)]
    if not isinstance(d, dict):
        raise ConfigError(path, f"must be an object with fields {', '.join(names)}, {_got(d)}")
    selector = getattr(cls, "_SELECTOR", None)
    applicable: tuple[str, ...] | list[str] = names
    choice = None
    if selector is not None:
        choice = d.get(selector, next(f.default for f in fields(cls) if f.name == selector))
        if isinstance(choice, str) and choice in cls._CHOICES:
            applicable = cls._applicable(choice)
    for key in d:
        where = _join(path, str(key))
        if key not in names:
            raise ConfigError(where, f"unknown field; allowed: {', '.join(applicable)}")
        if key not in applicable:
            raise ConfigError(where, cls._why_not(choice))
    kwargs = {
        key: nested[key](value, _join(path, key)) if key in nested else value
        for key, value in d.items()
    }
    with _at(path):
        return cls(**kwargs)


def _layers_from(value: Any, path: str) -> Any:
    if not isinstance(value, (list, tuple)):
        return value  # NetworkConfig names the problem
    return [_section(LayerConfig, item, f"{path}[{i}]", {}) for i, item in enumerate(value)]


def _network_from(value: Any, path: str) -> NetworkConfig:
    return _section(NetworkConfig, value, path, {"layers": _layers_from})


def _training_from(value: Any, path: str) -> TrainingConfig:
    return _section(
        TrainingConfig,
        value,
        path,
        {
            "optimizer": lambda v, p: _section(OptimizerConfig, v, p, {}),
            "schedule": lambda v, p: _section(ScheduleConfig, v, p, {}),
            "early_stopping": lambda v, p: (
                None if v is None else _section(EarlyStoppingConfig, v, p, {})
            ),
        },
    )


def experiment_from_dict(d: dict[str, Any]) -> Experiment:
    """Validate a parsed experiment file (any supported version) and build the Experiment."""
    if not isinstance(d, dict):
        raise ConfigError("", f"an experiment must be a JSON object, {_got(d)}")
    if "format" not in d:
        raise ConfigError("format", f'missing; an experiment file starts with "format": "{FORMAT}"')
    if d["format"] != FORMAT:
        raise ConfigError("format", _not_our_format(d["format"]))
    d = migrate(d)
    return _section(
        Experiment,
        d,
        "",
        {
            "data": lambda v, p: _section(DataConfig, v, p, {}),
            "network": _network_from,
            "training": _training_from,
        },
    )


def _plain(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON object holding only the fields that apply to it."""
    selector = getattr(obj, "_SELECTOR", None)
    names = (
        obj._applicable(getattr(obj, selector)) if selector else tuple(f.name for f in fields(obj))
    )
    return {name: _json_value(getattr(obj, name)) for name in names}


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if is_dataclass(value):
        return _plain(value)
    return value


def experiment_to_dict(e: Experiment) -> dict[str, Any]:
    """The JSON-ready form of an experiment; ``experiment_from_dict`` reads it back equal."""
    d = _plain(e)
    for layer in d["network"]["layers"]:
        if layer.get("alpha", 0) is None:
            del layer["alpha"]
    return d


# ---------------------------------------------------------------------------------------
# Text and files
# ---------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ConfigError("", f"invalid JSON: {name} is not a number a file may hold")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for key, value in pairs:
        if key in d:
            raise ConfigError("", f"invalid JSON: the key {key!r} appears twice in one object")
        d[key] = value
    return d


def _parse(text: str, source: str) -> Experiment:
    where = f"{source}: " if source else ""
    try:
        d = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise ConfigError(
            "", f"{where}invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    except ConfigError as err:
        raise ConfigError("", f"{where}{err.message}") from None
    if not isinstance(d, dict):
        raise ConfigError("", f"{where}the top level must be a JSON object, got a {_kind(d)}")
    return experiment_from_dict(d)


def loads_experiment(text: str) -> Experiment:
    """Parse and validate experiment JSON text."""
    return _parse(text, "")


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read an experiment file; every way it can fail becomes a ConfigError for the user."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("", f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError("", f"{path}: is a folder, not an experiment file") from None
    except OSError as err:
        raise ConfigError("", f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM that some Windows editors add
    except UnicodeDecodeError as err:
        raise ConfigError(
            "", f"{path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start})"
        ) from None
    return _parse(text, str(path))


def _dump(value: Any, indent: str) -> str:
    """Pretty JSON that keeps a list of plain values on one line (features, point rows)."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_dump(k, inner)}: {_dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
        items = [inner + _dump(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def dumps_experiment(e: Experiment) -> str:
    """The experiment as the text of a file (indented by 2, ending in a newline)."""
    return _dump(experiment_to_dict(e), "") + "\n"


def save_experiment(e: Experiment, path: str | os.PathLike[str]) -> None:
    """Write atomically, so a crash mid-save never leaves a half-written experiment behind."""
    path = Path(path)
    text = dumps_experiment(e)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private; a saved experiment is meant to be shared.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------
# Dotted paths
# ---------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+|\*)\])?")


def _parse_path(path: str) -> list[tuple[str, int | str | None]]:
    if not isinstance(path, str) or not path:
        raise ConfigError(str(path), "not a field path (expected e.g. 'training.batch_size')")
    segments: list[tuple[str, int | str | None]] = []
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise ConfigError(path, f"{part!r} is not a field name or name[index]")
        name, index = match.groups()
        segments.append((name, None if index is None else index if index == "*" else int(index)))
    return segments


def _field_of(obj: Any, name: str, prefix: str, must_apply: bool) -> Any:
    """The value of one named field, after checking that the name means something here."""
    where = _join(prefix, name)
    if not is_dataclass(obj):
        raise ConfigError(where, f"{prefix} is a single value and has no fields")
    names = [f.name for f in fields(obj)]
    if name not in names:
        raise ConfigError(where, f"unknown field; allowed: {', '.join(names)}")
    selector = getattr(obj, "_SELECTOR", None)
    if must_apply and selector and name not in obj._applicable(getattr(obj, selector)):
        raise ConfigError(where, obj._why_not(getattr(obj, selector)))
    return getattr(obj, name)


def _indices(value: Any, index: int | str, where: str) -> range | list[int]:
    if not isinstance(value, tuple):
        raise ConfigError(where, "is not a list, so it takes no [index]")
    if index == "*":
        return range(len(value))
    if index >= len(value):
        raise ConfigError(f"{where}[{index}]", f"no such item (there are {len(value)})")
    return [index]


def _descend(value: Any, where: str) -> None:
    """Refuse to look inside a value that has no named fields to look at."""
    if value is None:
        raise ConfigError(where, "is null (off); set it to an object first")
    if isinstance(value, tuple):
        raise ConfigError(where, f"is a list; use {where}[i] or {where}[*]")


def get_path(e: Experiment, path: str) -> Any:
    """Read one setting by its dotted path, e.g. "network.layers[1].units".

    A "[*]" index returns a tuple with the value for every item.
    """
    return _get(e, _parse_path(path), "")


def _get(obj: Any, segments: list[tuple[str, int | str | None]], prefix: str) -> Any:
    if not segments:
        return obj
    (name, index), rest = segments[0], segments[1:]
    where = _join(prefix, name)
    value = _field_of(obj, name, prefix, must_apply=False)
    if index is None:
        if rest:
            _descend(value, where)
        return _get(value, rest, where)
    picked = [_get(value[i], rest, f"{where}[{i}]") for i in _indices(value, index, where)]
    return tuple(picked) if index == "*" else picked[0]


def with_path(e: Experiment, path: str, value: Any) -> Experiment:
    """A validated copy of ``e`` with one setting changed, for the window's editors.

    "network.layers[*].activation" changes every hidden layer. Setting a field that does
    not apply (``beta1`` while the optimizer is sgd) is an error rather than a silent no-op.
    """
    return _set(e, _parse_path(path), value, "")


def _set(obj: Any, segments: list[tuple[str, int | str | None]], value: Any, prefix: str) -> Any:
    (name, index), rest = segments[0], segments[1:]
    where = _join(prefix, name)
    current = _field_of(obj, name, prefix, must_apply=not rest and index is None)
    if index is None:
        if rest:
            _descend(current, where)
        new = _set(current, rest, value, where) if rest else value
    else:
        chosen = _indices(current, index, where)
        items = list(current)
        for i in chosen:
            items[i] = _set(items[i], rest, value, f"{where}[{i}]") if rest else value
        new = tuple(items)
    with _at(prefix):
        return replace(obj, **{name: new})
