"""The experiment file: loading, validation messages, migration, dotted paths, round trips."""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.experiment import config as cfg
from playground.experiment.config import (
    ACTIVATIONS,
    ALPHA_DEFAULTS,
    DATASETS,
    FEATURES,
    FORMAT,
    INITIALIZERS,
    MULTICLASS_DATASETS,
    OPTIMIZERS,
    SCHEDULES,
    VERSION,
    ConfigError,
    DataConfig,
    EarlyStoppingConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainingConfig,
    dumps_experiment,
    experiment_from_dict,
    experiment_to_dict,
    get_path,
    is_regression,
    load_experiment,
    loads_experiment,
    migrate,
    resolved_output,
    save_experiment,
    with_path,
)

EXAMPLE = """
{
  "format": "playground-experiment",
  "version": 1,
  "title": "Spiral with ReLU",
  "seed": 7,
  "data": {"dataset": "spiral", "n_samples": 500, "noise": 0.1, "n_classes": 2,
           "test_fraction": 0.3, "features": ["x1", "x2"]},
  "network": {
    "layers": [
      {"units": 16, "activation": "relu"},
      {"units": 16, "activation": "relu", "dropout": 0.1, "batch_norm": true}
    ],
    "output": "auto",
    "init": "auto"
  },
  "training": {
    "optimizer": {"name": "adam", "learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999},
    "batch_size": 16,
    "l1": 0.0,
    "l2": 0.0001,
    "schedule": {"name": "cosine", "total_steps": 3000},
    "early_stopping": {"patience": 200, "restore_best": true},
    "max_steps": 3000
  }
}
"""

CUSTOM_POINTS = [[0.0, 0.5, 0], [1.0, -0.5, 1], [0.25, 0.75, 2], [-1.0, 1.0, 1]]


def example() -> dict:
    return json.loads(EXAMPLE)


def file_with(**sections: object) -> dict:
    """A minimal valid file dict with some sections replaced."""
    return {"format": FORMAT, "version": VERSION, **sections}


def error_of(d: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        experiment_from_dict(d)
    return info.value


def is_within(small: object, big: object) -> bool:
    """Every key and value of ``small`` is also in ``big`` (lists compared item by item)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and is_within(v, big[k]) for k, v in small.items()
        )
    if isinstance(small, list):
        return (
            isinstance(big, list)
            and len(small) == len(big)
            and all(is_within(a, b) for a, b in zip(small, big, strict=True))
        )
    return small == big


# --- loading the example and defaults ------------------------------------------------------


def test_example_file_loads_with_every_value():
    e = loads_experiment(EXAMPLE)
    assert e.title == "Spiral with ReLU"
    assert e.seed == 7
    assert e.data == DataConfig(
        dataset="spiral", n_samples=500, noise=0.1, n_classes=2, test_fraction=0.3
    )
    assert e.network.layers == (
        LayerConfig(units=16, activation="relu"),
        LayerConfig(units=16, activation="relu", dropout=0.1, batch_norm=True),
    )
    assert e.training.optimizer == OptimizerConfig(name="adam", learning_rate=0.01)
    assert e.training.batch_size == 16
    assert e.training.l2 == 0.0001
    assert e.training.schedule == ScheduleConfig(name="cosine", total_steps=3000)
    assert e.training.early_stopping == EarlyStoppingConfig(patience=200, restore_best=True)
    assert e.training.max_steps == 3000
    assert e.data.features == ("x1", "x2")
    assert isinstance(e.network.layers, tuple)


def test_example_round_trips_and_keeps_every_given_value():
    e = loads_experiment(EXAMPLE)
    d = experiment_to_dict(e)
    assert experiment_from_dict(d) == e
    assert is_within(example(), d)
    assert json.loads(json.dumps(d)) == d
    assert loads_experiment(dumps_experiment(e)) == e


def test_to_dict_emits_only_fields_that_apply():
    d = experiment_to_dict(loads_experiment(EXAMPLE))
    assert d["training"]["optimizer"] == {
        "name": "adam",
        "learning_rate": 0.01,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
    }
    assert d["training"]["schedule"] == {"name": "cosine", "total_steps": 3000, "min_factor": 0.0}
    assert "alpha" not in d["network"]["layers"][0]
    assert "points" not in d["data"]
    assert d["training"]["early_stopping"] == {
        "patience": 200,
        "restore_best": True,
        "min_delta": 0.0,
    }
    assert experiment_to_dict(Experiment())["training"]["early_stopping"] is None
    assert experiment_to_dict(Experiment())["training"]["schedule"] == {"name": "constant"}


def test_missing_fields_take_the_documented_defaults():
    e = experiment_from_dict(file_with())
    assert e == Experiment()
    assert e.title == "Untitled experiment"
    assert e.data.dataset == "circle" and e.data.n_samples == 500 and e.data.test_fraction == 0.5
    assert [(layer.units, layer.activation) for layer in e.network.layers] == [
        (4, "tanh"),
        (2, "tanh"),
    ]
    assert e.training.optimizer.name == "sgd" and e.training.optimizer.learning_rate == 0.03
    assert e.training.batch_size == 10 and e.training.eval_every == 10
    assert e.training.max_steps is None and e.training.early_stopping is None
    partial = experiment_from_dict(file_with(training={"optimizer": {"name": "adamw"}}))
    assert partial.training.optimizer == OptimizerConfig(name="adamw")
    assert partial.training.optimizer.weight_decay == 0.01


def test_every_field_is_documented_in_the_module_docstring():
    doc = cfg.__doc__
    classes = (
        Experiment,
        DataConfig,
        LayerConfig,
        NetworkConfig,
        OptimizerConfig,
        ScheduleConfig,
        EarlyStoppingConfig,
        TrainingConfig,
    )
    missing = [f.name for c in classes for f in dataclasses.fields(c) if f.name not in doc]
    assert missing == []


def test_ints_are_accepted_for_float_fields_and_stored_as_floats():
    e = experiment_from_dict(file_with(training={"optimizer": {"learning_rate": 1}, "l2": 0}))
    assert e.training.optimizer.learning_rate == 1.0
    assert type(e.training.optimizer.learning_rate) is float
    assert type(e.training.l2) is float


# --- validation messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "path", "message"),
    [
        (file_with(colour="red"), "colour", "colour: unknown field; allowed: format, version, "),
        (file_with(data={"size": 3}), "data.size", "data.size: unknown field; allowed: dataset, "),
        (
            file_with(network={"layers": [{}, {"units": 3, "act": "relu"}]}),
            "network.layers[1].act",
            "network.layers[1].act: unknown field; allowed: units, activation, dropout, batch_norm",
        ),
        (
            file_with(training={"optimizer": {"name": "adam", "betas": [0.9, 0.99]}}),
            "training.optimizer.betas",
            "training.optimizer.betas: unknown field; allowed: name, learning_rate, beta1, beta2, "
            "epsilon",
        ),
        (
            file_with(training={"early_stopping": {"wait": 3}}),
            "training.early_stopping.wait",
            "training.early_stopping.wait: unknown field; allowed: patience, restore_best, "
            "min_delta",
        ),
    ],
)
def test_unknown_keys_are_rejected_at_every_depth(d, path, message):
    err = error_of(d)
    assert err.path == path
    assert str(err).startswith(message)


def test_bad_choice_lists_the_allowed_values():
    err = error_of(file_with(network={"layers": [{}, {"activation": "relus"}]}))
    assert err.path == "network.layers[1].activation"
    assert str(err) == (
        "network.layers[1].activation: 'relus' is not one of linear, sigmoid, tanh, relu, "
        "leaky_relu, prelu, elu, selu, swish, gelu, softplus"
    )
    err = error_of(file_with(training={"schedule": {"name": "linear"}}))
    assert str(err) == (
        "training.schedule.name: 'linear' is not one of constant, step, exponential, cosine, "
        "reduce_on_plateau"
    )
    err = error_of(file_with(data={"features": ["x1", "x3"]}))
    assert err.path == "data.features[1]"
    assert "'x3' is not one of x1, x2, x1^2" in str(err)


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (file_with(data={"n_samples": 20000}), "data.n_samples: must be in 2..10000, got 20000"),
        (file_with(data={"noise": 1.5}), "data.noise: must be in [0, 1], got 1.5"),
        (
            file_with(data={"test_fraction": 0.95}),
            "data.test_fraction: must be in [0, 0.9], got 0.95",
        ),
        (
            file_with(data={"dataset": "spiral", "n_classes": 9}),
            "data.n_classes: must be in 2..8, got 9",
        ),
        (
            file_with(network={"layers": [{"units": 0}]}),
            "network.layers[0].units: must be in 1..256, got 0",
        ),
        (
            file_with(network={"layers": [{"dropout": 1}]}),
            "network.layers[0].dropout: must be in [0, 1), got 1",
        ),
        (
            file_with(network={"layers": [{}] * 13}),
            "network.layers: at most 12 hidden layers (0..12), got 13",
        ),
        (
            file_with(network={"layers": [{"activation": "elu", "alpha": 0}]}),
            "network.layers[0].alpha: must be > 0, got 0",
        ),
        (
            file_with(network={"layers": [{"activation": "leaky_relu", "alpha": -0.1}]}),
            "network.layers[0].alpha: must be >= 0, got -0.1",
        ),
        (
            file_with(training={"optimizer": {"learning_rate": 0}}),
            "training.optimizer.learning_rate: must be in (0, 10], got 0",
        ),
        (
            file_with(training={"optimizer": {"learning_rate": 11}}),
            "training.optimizer.learning_rate: must be in (0, 10], got 11",
        ),
        (
            file_with(training={"optimizer": {"name": "adam", "beta2": 1.0}}),
            "training.optimizer.beta2: must be in [0, 1), got 1.0",
        ),
        (
            file_with(training={"optimizer": {"name": "adam", "epsilon": 0}}),
            "training.optimizer.epsilon: must be > 0, got 0",
        ),
        (file_with(training={"batch_size": 0}), "training.batch_size: must be in 1..10000, got 0"),
        (file_with(training={"l1": -1e-3}), "training.l1: must be >= 0, got -0.001"),
        (
            file_with(training={"schedule": {"name": "step", "gamma": 0}}),
            "training.schedule.gamma: must be in (0, 1], got 0",
        ),
        (
            file_with(training={"schedule": {"name": "cosine", "min_factor": 1}}),
            "training.schedule.min_factor: must be in [0, 1), got 1",
        ),
        (
            file_with(training={"schedule": {"name": "reduce_on_plateau", "patience": 0}}),
            "training.schedule.patience: must be >= 1, got 0",
        ),
        (file_with(training={"max_steps": 0}), "training.max_steps: must be >= 1, got 0"),
        (file_with(training={"eval_every": 0}), "training.eval_every: must be >= 1, got 0"),
        (file_with(seed=2**32), "seed: must be in 0..4294967295, got 4294967296"),
        (file_with(title="x" * 201), "title: must be at most 200 characters, got 201"),
    ],
)
def test_out_of_range_values_name_the_range(d, message):
    assert str(error_of(d)) == message


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (file_with(seed=True), "seed: must be an integer (0..4294967295), got true (boolean)"),
        (file_with(seed=3.0), "seed: must be an integer (0..4294967295), got 3.0"),
        (
            file_with(data={"n_samples": "500"}),
            "data.n_samples: must be an integer (2..10000), got '500' (string)",
        ),
        (
            file_with(data={"noise": None}),
            "data.noise: must be a number in [0, 1], got null (null)",
        ),
        (
            file_with(data={"standardize": 1}),
            "data.standardize: must be true or false, got 1 (integer)",
        ),
        (file_with(data={"features": "x1"}), "data.features: must be a list of feature names"),
        (file_with(data={"features": []}), "data.features: must name at least one of x1, x2"),
        (file_with(data={"features": ["x1", "x1"]}), "data.features: 'x1' is listed twice"),
        (file_with(data=[1, 2]), "data: must be an object with fields dataset, n_samples"),
        (
            file_with(network={"layers": {"units": 3}}),
            "network.layers: must be a list of LayerConfig",
        ),
        (
            file_with(network={"layers": [3]}),
            "network.layers[0]: must be an object with fields units",
        ),
        (file_with(title=5), "title: must be a string, got 5 (integer)"),
        (
            file_with(network={"output": 2}),
            "network.output: must be one of auto, sigmoid, softmax, linear, classic, "
            "got 2 (integer)",
        ),
        (
            file_with(training={"early_stopping": True}),
            "training.early_stopping: must be an object with fields patience",
        ),
        (
            file_with(training={"l2": 1e400}),
            "training.l2: must be a finite number >= 0, got inf",
        ),
    ],
)
def test_wrong_types_are_named(d, message):
    assert str(error_of(d)).startswith(message)


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (
            file_with(training={"optimizer": {"name": "sgd", "beta1": 0.9}}),
            "training.optimizer.beta1: does not apply to sgd "
            "(its fields: learning_rate, momentum, nesterov)",
        ),
        (
            file_with(training={"optimizer": {"beta1": 0.9}}),
            "training.optimizer.beta1: does not apply to sgd "
            "(its fields: learning_rate, momentum, nesterov)",
        ),
        (
            file_with(training={"schedule": {"name": "cosine", "gamma": 0.5}}),
            "training.schedule.gamma: does not apply to cosine "
            "(its fields: total_steps, min_factor)",
        ),
        (
            file_with(training={"schedule": {"step_size": 10}}),
            "training.schedule.step_size: does not apply to constant (it has no settings)",
        ),
        (
            file_with(network={"layers": [{"activation": "relu", "alpha": 0.1}]}),
            "network.layers[0].alpha: does not apply to relu "
            "(only leaky_relu, prelu and elu take alpha)",
        ),
        (
            file_with(data={"dataset": "spiral", "points": CUSTOM_POINTS}),
            "data.points: does not apply to spiral (only the custom dataset keeps points)",
        ),
        (
            file_with(data={"dataset": "custom", "points": CUSTOM_POINTS, "noise": 0.1}),
            "data.noise: does not apply to custom (its points give the samples and classes)",
        ),
    ],
)
def test_fields_that_do_not_apply_are_rejected(d, message):
    assert str(error_of(d)) == message


def test_nesterov_needs_momentum():
    err = error_of(file_with(training={"optimizer": {"nesterov": True}}))
    assert err.path == "training.optimizer.nesterov"
    assert "requires momentum > 0" in str(err)
    ok = experiment_from_dict(
        file_with(training={"optimizer": {"nesterov": True, "momentum": 0.9}})
    )
    assert ok.training.optimizer.nesterov is True


def test_n_classes_only_varies_for_multiclass_datasets():
    err = error_of(file_with(data={"dataset": "circle", "n_classes": 3}))
    assert str(err) == (
        "data.n_classes: circle has exactly 2 classes, got 3 "
        "(only spiral, blobs, gaussian_quantiles, classification take 2..8)"
    )
    for name in MULTICLASS_DATASETS:
        e = experiment_from_dict(file_with(data={"dataset": name, "n_classes": 8}))
        assert e.data.n_classes == 8


@pytest.mark.parametrize(
    ("data", "output", "message"),
    [
        (
            {"dataset": "reg_plane"},
            "softmax",
            "network.output: 'softmax' needs a classification dataset and reg_plane is "
            "regression (use 'auto' or 'linear')",
        ),
        (
            {"dataset": "reg_gauss"},
            "sigmoid",
            "network.output: 'sigmoid' needs a classification dataset",
        ),
        (
            {"dataset": "circle"},
            "linear",
            "network.output: 'linear' is for regression and circle is classification",
        ),
        (
            {"dataset": "blobs", "n_classes": 3},
            "sigmoid",
            "network.output: 'sigmoid' needs exactly 2 classes and the data has 3 "
            "(use 'auto' or 'softmax')",
        ),
        (
            {"dataset": "spiral", "n_classes": 4},
            "classic",
            "network.output: 'classic' needs exactly 2 classes and the data has 4",
        ),
    ],
)
def test_output_must_suit_the_dataset(data, output, message):
    err = error_of(file_with(data=data, network={"output": output}))
    assert err.path == "network.output"
    assert str(err).startswith(message)


def test_matching_outputs_are_accepted():
    pairs = [
        ("reg_plane", "linear"),
        ("circle", "sigmoid"),
        ("xor", "classic"),
        ("moons", "softmax"),
    ]
    for dataset, output in pairs:
        e = experiment_from_dict(file_with(data={"dataset": dataset}, network={"output": output}))
        assert e.network.output == output


# --- format and version --------------------------------------------------------------------


def test_wrong_or_missing_format_is_named():
    err = error_of({"format": "keras-model", "version": 1})
    assert err.path == "format"
    assert str(err) == (
        "format: this is not a Playground experiment (format 'keras-model', "
        "expected 'playground-experiment')"
    )
    assert error_of({"version": 1}).path == "format"
    assert "missing" in str(error_of({"version": 1}))


def test_newer_version_is_refused_clearly():
    err = error_of({"format": FORMAT, "version": 3})
    assert err.path == "version"
    assert str(err) == (
        "version: this file was written by a newer Playground (version 3); "
        "this one reads up to version 1"
    )


def test_missing_or_malformed_version_is_an_error():
    err = error_of({"format": FORMAT, "title": "no version"})
    assert err.path == "version"
    assert str(err).startswith("version: missing;")
    assert str(error_of({"format": FORMAT, "version": "1"})).startswith(
        "version: must be an integer (0..1), got '1' (string)"
    )
    assert str(error_of({"format": FORMAT, "version": -1})) == "version: must be in 0..1, got -1"


VERSION_0 = {
    "format": FORMAT,
    "version": 0,
    "title": "Old file",
    "seed": 3,
    "data": {"dataset": "xor", "noise": 0.2},
    "network": {"hidden": [6, 3, 2], "activation": "relu", "output": "sigmoid"},
    "training": {
        "learning_rate": 0.1,
        "optimizer": "sgd",
        "regularization": {"kind": "l2", "rate": 0.001},
        "batch_size": 5,
    },
}


def test_migrate_version_0_to_1_step():
    before = json.loads(json.dumps(VERSION_0))
    d = migrate(VERSION_0)
    assert VERSION_0 == before  # the input is left alone
    assert d["version"] == 1
    assert d["network"] == {
        "layers": [
            {"units": 6, "activation": "relu"},
            {"units": 3, "activation": "relu"},
            {"units": 2, "activation": "relu"},
        ],
        "output": "sigmoid",
    }
    assert d["training"] == {
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "l2": 0.001,
        "batch_size": 5,
    }


def test_version_0_file_loads_as_the_same_run():
    e = experiment_from_dict(VERSION_0)
    assert e.version == 1 and e.title == "Old file" and e.seed == 3
    assert [(layer.units, layer.activation) for layer in e.network.layers] == [
        (6, "relu"),
        (3, "relu"),
        (2, "relu"),
    ]
    assert e.training.optimizer == OptimizerConfig(name="sgd", learning_rate=0.1)
    assert (e.training.l1, e.training.l2) == (0.0, 0.001)
    l1 = dict(VERSION_0, training={"regularization": {"kind": "l1", "rate": 0.5}})
    assert experiment_from_dict(l1).training.l1 == 0.5
    none = dict(VERSION_0, training={"regularization": {"kind": "none"}, "optimizer": "adam"})
    migrated = experiment_from_dict(none).training
    assert (migrated.l1, migrated.l2, migrated.optimizer.name) == (0.0, 0.0, "adam")


def test_bad_version_0_regularization_is_named():
    d = dict(VERSION_0, training={"regularization": {"kind": "dropout", "rate": 0.5}})
    err = error_of(d)
    assert err.path == "training.regularization.kind"
    assert "'dropout' is not one of none, l1, l2" in str(err)
    d = dict(VERSION_0, training={"regularization": {"kind": "l1"}})
    assert error_of(d).path == "training.regularization.rate"


def test_current_version_passes_through_migrate_unchanged():
    d = file_with(seed=4)
    assert migrate(d) is d


# --- text and files ------------------------------------------------------------------------


def test_bad_json_names_line_and_column():
    text = '{\n  "format": "playground-experiment",\n  "version": 1\n  "seed": 2\n}'
    with pytest.raises(ConfigError) as info:
        loads_experiment(text)
    assert info.value.path == ""
    assert str(info.value) == "invalid JSON at line 4, column 3: Expecting ',' delimiter"


def test_json_that_is_not_an_experiment_object():
    with pytest.raises(ConfigError, match="top level must be a JSON object, got a list"):
        loads_experiment("[1, 2]")
    with pytest.raises(ConfigError, match="NaN is not a number a file may hold"):
        loads_experiment('{"format": "playground-experiment", "version": 1, "seed": NaN}')
    with pytest.raises(ConfigError, match="the key 'seed' appears twice"):
        loads_experiment('{"format": "playground-experiment", "version": 1, "seed": 1, "seed": 2}')


def test_file_errors_become_config_errors(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        load_experiment(missing)
    assert info.value.path == ""
    assert str(info.value) == f"{missing}: no such file"

    latin = tmp_path / "latin.json"
    latin.write_bytes('{"title": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(
        ConfigError, match=r"latin\.json: not UTF-8 text \(byte 0xe9 at offset 14\)"
    ):
        load_experiment(latin)

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "format": "playground-experiment",\n  "version": 1,\n}\n')
    with pytest.raises(ConfigError, match=r"broken\.json: invalid JSON at line 4, column 1"):
        load_experiment(broken)

    with pytest.raises(ConfigError, match="is a folder"):
        load_experiment(tmp_path)


def test_save_writes_pretty_json_atomically(tmp_path):
    e = loads_experiment(EXAMPLE)
    target = tmp_path / "spiral.json"
    save_experiment(e, target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith('{\n  "format": "playground-experiment",\n  "version": 1,\n')
    assert '    "features": ["x1", "x2"],\n' in text
    assert text.endswith("}\n")
    assert json.loads(text) == experiment_to_dict(e)
    assert load_experiment(target) == e
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spiral.json"]

    save_experiment(dataclasses.replace(e, title="Second"), target)
    assert load_experiment(target).title == "Second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spiral.json"]


def test_utf8_bom_and_non_ascii_titles_survive(tmp_path):
    e = Experiment(title="Spirale – größer ✓")
    target = tmp_path / "unicode.json"
    save_experiment(e, target)
    assert "größer ✓" in target.read_text(encoding="utf-8")
    target.write_bytes(b"\xef\xbb\xbf" + target.read_bytes())
    assert load_experiment(target) == e


# --- custom data ---------------------------------------------------------------------------


def test_custom_dataset_needs_points():
    err = error_of(file_with(data={"dataset": "custom"}))
    assert err.path == "data.points"
    assert "custom dataset needs its [x1, x2, label] rows" in str(err)
    err = error_of(file_with(data={"dataset": "custom", "points": [[0, 0, 1], [1, 1]]}))
    assert err.path == "data.points[1]"
    assert str(err).startswith("data.points[1]: must be [x1, x2, label]")
    err = error_of(file_with(data={"dataset": "custom", "points": [[0, 0, 1], [1, "y", 0]]}))
    assert str(err) == "data.points[1][1]: must be a number, got 'y' (string)"


def test_custom_points_derive_samples_and_classes():
    e = experiment_from_dict(file_with(data={"dataset": "custom", "points": CUSTOM_POINTS}))
    assert e.data.points == ((0.0, 0.5, 0.0), (1.0, -0.5, 1.0), (0.25, 0.75, 2.0), (-1.0, 1.0, 1.0))
    assert e.data.n_samples == 4 and e.data.n_classes == 3
    assert not is_regression(e)
    assert resolved_output(e) == "softmax"
    d = experiment_to_dict(e)["data"]
    assert "n_samples" not in d and "noise" not in d and "n_classes" not in d
    assert d["points"][2] == [0.25, 0.75, 2.0]
    assert loads_experiment(dumps_experiment(e)) == e
    assert "      [0.25, 0.75, 2.0],\n" in dumps_experiment(e)


def test_custom_points_with_fractional_labels_are_regression():
    points = [[0, 0, 0.5], [1, 1, 2], [2, 0, -1.25]]
    e = experiment_from_dict(file_with(data={"dataset": "custom", "points": points}))
    assert is_regression(e)
    assert resolved_output(e) == "linear"
    err = error_of(
        file_with(data={"dataset": "custom", "points": points}, network={"output": "sigmoid"})
    )
    assert err.path == "network.output"


def test_custom_points_need_two_to_eight_classes():
    one_class = [[0, 0, 1], [1, 1, 1]]
    err = error_of(file_with(data={"dataset": "custom", "points": one_class}))
    assert err.path == "data.points"
    assert "there are 1 distinct ones; allowed 2..8" in str(err)
    many = [[i, i, i] for i in range(9)]
    assert "there are 9 distinct ones" in str(
        error_of(file_with(data={"dataset": "custom", "points": many}))
    )


# --- dataclasses.replace and normalization -------------------------------------------------


def test_replace_with_a_bad_value_raises_config_error():
    layer = LayerConfig()
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(layer, activation="relus")
    assert info.value.path == "activation"
    with pytest.raises(ConfigError, match=r"^units: must be an integer \(1\.\.256\), got 3\.0$"):
        dataclasses.replace(layer, units=3.0)
    with pytest.raises(ConfigError, match=r"^learning_rate: must be in \(0, 10\], got -1"):
        dataclasses.replace(OptimizerConfig(), learning_rate=-1)
    with pytest.raises(ConfigError, match="^data: must be a DataConfig"):
        dataclasses.replace(Experiment(), data={"dataset": "xor"})
    with pytest.raises(ConfigError, match="^network.output: 'linear' is for regression"):
        dataclasses.replace(Experiment(), network=NetworkConfig(output="linear"))
    with pytest.raises(ConfigError, match="^version: must be 1 in memory, got 0"):
        Experiment(version=0)
    with pytest.raises(ConfigError, match="^format: this is not a Playground experiment"):
        Experiment(format="other")


def test_settings_that_do_not_apply_are_reset_in_memory():
    adam = OptimizerConfig(name="adam", beta1=0.5, learning_rate=0.2)
    sgd = dataclasses.replace(adam, name="sgd")
    assert sgd == OptimizerConfig(name="sgd", learning_rate=0.2)
    assert sgd.beta1 == 0.9
    leaky = LayerConfig(activation="leaky_relu", alpha=0.2)
    assert leaky.effective_alpha == 0.2
    relu = dataclasses.replace(leaky, activation="relu")
    assert relu.alpha is None and relu.effective_alpha is None
    assert LayerConfig(activation="elu").effective_alpha == ALPHA_DEFAULTS["elu"] == 1.0
    custom = DataConfig(dataset="custom", points=tuple(map(tuple, CUSTOM_POINTS)))
    spiral = dataclasses.replace(custom, dataset="spiral", n_classes=3, n_samples=200)
    assert spiral.points == () and spiral.n_samples == 200
    cosine = ScheduleConfig(name="cosine", total_steps=10, gamma=0.1)
    assert cosine.gamma == 0.5


def test_lists_become_tuples_in_memory():
    data = DataConfig(features=["x1", "sin(x2)"])
    assert data.features == ("x1", "sin(x2)")
    net = NetworkConfig(layers=[LayerConfig(3)])
    assert net.layers == (LayerConfig(3),)
    assert hash(Experiment(network=net)) == hash(
        Experiment(network=NetworkConfig((LayerConfig(3),)))
    )


def test_config_error_is_a_value_error_that_pickles():
    err = ConfigError("training.l1", "must be >= 0, got -1")
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, str(copy)) == ("training.l1", "training.l1: must be >= 0, got -1")


# --- helpers -------------------------------------------------------------------------------


def test_is_regression_and_resolved_output():
    reg = Experiment(data=DataConfig(dataset="reg_gauss"))
    assert is_regression(reg) and is_regression(reg.data)
    assert resolved_output(reg, 2) == "linear"
    two = Experiment()
    assert not is_regression(two)
    assert resolved_output(two, 2) == "sigmoid"
    assert resolved_output(two, 4) == "softmax"
    three = Experiment(data=DataConfig(dataset="spiral", n_classes=3))
    assert resolved_output(three) == "softmax"
    classic = Experiment(network=NetworkConfig(output="classic"))
    assert resolved_output(classic, 2) == "classic"


def test_get_path_reads_nested_values():
    e = loads_experiment(EXAMPLE)
    assert get_path(e, "training.optimizer.learning_rate") == 0.01
    assert get_path(e, "network.layers[1].units") == 16
    assert get_path(e, "network.layers[1].dropout") == 0.1
    assert get_path(e, "network.layers[*].batch_norm") == (False, True)
    assert get_path(e, "data.features") == ("x1", "x2")
    assert get_path(e, "training.early_stopping") == EarlyStoppingConfig(patience=200)
    assert get_path(e, "seed") == 7


def test_with_path_returns_a_validated_copy():
    e = loads_experiment(EXAMPLE)
    faster = with_path(e, "training.optimizer.learning_rate", 0.1)
    assert faster.training.optimizer.learning_rate == 0.1
    assert e.training.optimizer.learning_rate == 0.01
    assert faster.training.optimizer.beta2 == 0.999
    wider = with_path(e, "network.layers[0].units", 32)
    assert [layer.units for layer in wider.network.layers] == [32, 16]
    tanh = with_path(e, "network.layers[*].activation", "tanh")
    assert [layer.activation for layer in tanh.network.layers] == ["tanh", "tanh"]
    assert tanh.network.layers[1].dropout == 0.1
    assert with_path(e, "data.features", ["x1", "x1*x2"]).data.features == ("x1", "x1*x2")
    assert with_path(e, "network.layers[1]", LayerConfig(8)).network.layers[1] == LayerConfig(8)
    assert with_path(e, "training.early_stopping", None).training.early_stopping is None
    no_layers = with_path(e, "network.layers", ())
    assert with_path(no_layers, "network.layers[*].units", 5).network.layers == ()


@pytest.mark.parametrize(
    ("path", "value", "error_path", "message"),
    [
        (
            "training.optimzer.learning_rate",
            0.1,
            "training.optimzer",
            "training.optimzer: unknown field; allowed: optimizer, batch_size",
        ),
        ("colour", 1, "colour", "colour: unknown field; allowed: format, version"),
        (
            "network.layers[5].units",
            3,
            "network.layers[5]",
            "network.layers[5]: no such item (there are 2)",
        ),
        (
            "network.layers.units",
            3,
            "network.layers",
            "network.layers: is a list; use network.layers[i] or network.layers[*]",
        ),
        ("seed[0]", 3, "seed", "seed: is not a list, so it takes no [index]"),
        (
            "training.batch_size.value",
            3,
            "training.batch_size.value",
            "training.batch_size.value: training.batch_size is a single value",
        ),
        (
            "training.optimizer.momentum",
            0.9,
            "training.optimizer.momentum",
            "training.optimizer.momentum: does not apply to adam "
            "(its fields: learning_rate, beta1, beta2, epsilon)",
        ),
        (
            "network.layers[*].alpha",
            0.2,
            "network.layers[0].alpha",
            "network.layers[0].alpha: does not apply to relu",
        ),
        (
            "network.layers[*].activation",
            "relus",
            "network.layers[0].activation",
            "network.layers[0].activation: 'relus' is not one of linear",
        ),
        (
            "training.optimizer.learning_rate",
            "fast",
            "training.optimizer.learning_rate",
            "training.optimizer.learning_rate: must be a number in (0, 10], got 'fast' (string)",
        ),
        (
            "data.dataset",
            "reg_plane",
            "network.output",
            "network.output: 'sigmoid' needs a classification dataset",
        ),
        ("training..l1", 0, "training..l1", "training..l1: '' is not a field name"),
        ("", 0, "", "not a field path"),
    ],
)
def test_with_path_errors_name_the_path(path, value, error_path, message):
    e = loads_experiment(EXAMPLE)
    if path == "data.dataset":
        e = with_path(e, "network.output", "sigmoid")
    with pytest.raises(ConfigError) as info:
        with_path(e, path, value)
    assert info.value.path == error_path
    assert str(info.value).startswith(message)


def test_with_path_into_disabled_early_stopping_is_refused():
    with pytest.raises(ConfigError) as info:
        with_path(Experiment(), "training.early_stopping.patience", 10)
    assert str(info.value) == ("training.early_stopping: is null (off); set it to an object first")
    with pytest.raises(ConfigError, match="^training.early_stopping: is null"):
        get_path(Experiment(), "training.early_stopping.patience")


def test_importing_the_experiment_package_loads_no_qt():
    code = (
        "import sys, playground.experiment; "
        "print(sorted(m for m in ('PySide6', 'shiboken6', 'pyqtgraph', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# --- property: every valid experiment survives a trip through its file ---------------------


def unit_floats(**kw: object) -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False, **kw)


@st.composite
def layers(draw: st.DrawFn) -> LayerConfig:
    activation = draw(st.sampled_from(ACTIVATIONS))
    alpha = None
    if activation in ALPHA_DEFAULTS:
        alpha = draw(st.none() | unit_floats(min_value=0.0, max_value=5.0, exclude_min=True))
    return LayerConfig(
        units=draw(st.integers(1, 256)),
        activation=activation,
        alpha=alpha,
        dropout=draw(unit_floats(min_value=0.0, max_value=1.0, exclude_max=True)),
        batch_norm=draw(st.booleans()),
    )


@st.composite
def data_configs(draw: st.DrawFn) -> DataConfig:
    dataset = draw(st.sampled_from(DATASETS))
    features = draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=7, unique=True))
    common = {
        "dataset": dataset,
        "test_fraction": draw(unit_floats(min_value=0.0, max_value=0.9)),
        "features": tuple(features),
        "standardize": draw(st.booleans()),
    }
    if dataset == "custom":
        xy = unit_floats(min_value=-1e6, max_value=1e6)
        if draw(st.booleans()):
            n = draw(st.integers(2, 8))
            labels = draw(st.lists(st.integers(-3, 10), min_size=n, max_size=n, unique=True))
            labels += draw(st.lists(st.sampled_from(labels), max_size=10))
            labels = [float(x) for x in labels]
        else:
            labels = [0.5] + draw(st.lists(unit_floats(min_value=-5, max_value=5), min_size=1))
        points = tuple((draw(xy), draw(xy), label) for label in labels)
        return DataConfig(points=points, **common)
    multi = dataset in MULTICLASS_DATASETS
    return DataConfig(
        n_samples=draw(st.integers(2, 10000)),
        noise=draw(unit_floats(min_value=0.0, max_value=1.0)),
        n_classes=draw(st.integers(2, 8)) if multi else 2,
        **common,
    )


@st.composite
def optimizers(draw: st.DrawFn) -> OptimizerConfig:
    below_one = unit_floats(min_value=0.0, max_value=1.0, exclude_max=True)
    momentum = draw(below_one)
    return OptimizerConfig(
        name=draw(st.sampled_from(OPTIMIZERS)),
        learning_rate=draw(unit_floats(min_value=0.0, max_value=10.0, exclude_min=True)),
        momentum=momentum,
        nesterov=draw(st.booleans()) and momentum > 0,
        beta1=draw(below_one),
        beta2=draw(below_one),
        epsilon=draw(unit_floats(min_value=1e-12, max_value=1.0)),
        rho=draw(below_one),
        weight_decay=draw(unit_floats(min_value=0.0, max_value=1.0)),
    )


@st.composite
def schedules(draw: st.DrawFn) -> ScheduleConfig:
    fraction = unit_floats(min_value=0.0, max_value=1.0, exclude_min=True)
    return ScheduleConfig(
        name=draw(st.sampled_from(SCHEDULES)),
        step_size=draw(st.integers(1, 10**6)),
        gamma=draw(fraction),
        decay_rate=draw(fraction),
        decay_steps=draw(st.integers(1, 10**6)),
        total_steps=draw(st.integers(1, 10**6)),
        min_factor=draw(unit_floats(min_value=0.0, max_value=1.0, exclude_max=True)),
        factor=draw(fraction),
        patience=draw(st.integers(1, 10**6)),
    )


@st.composite
def experiments(draw: st.DrawFn) -> Experiment:
    data = draw(data_configs())
    if is_regression(data):
        outputs = ["auto", "linear"]
    elif data.n_classes == 2:
        outputs = ["auto", "sigmoid", "softmax", "classic"]
    else:
        outputs = ["auto", "softmax"]
    network = NetworkConfig(
        layers=tuple(draw(st.lists(layers(), max_size=12))),
        output=draw(st.sampled_from(outputs)),
        init=draw(st.sampled_from(INITIALIZERS)),
    )
    early = st.builds(
        EarlyStoppingConfig,
        patience=st.integers(1, 10**6),
        restore_best=st.booleans(),
        min_delta=unit_floats(min_value=0.0, max_value=1.0),
    )
    training = TrainingConfig(
        optimizer=draw(optimizers()),
        batch_size=draw(st.integers(1, 10000)),
        l1=draw(unit_floats(min_value=0.0, max_value=1.0)),
        l2=draw(unit_floats(min_value=0.0, max_value=1.0)),
        schedule=draw(schedules()),
        early_stopping=draw(st.none() | early),
        max_steps=draw(st.none() | st.integers(1, 10**9)),
        eval_every=draw(st.integers(1, 1000)),
        fast_path=draw(st.booleans()),
    )
    return Experiment(
        title=draw(st.text(max_size=200)),
        description=draw(st.text(max_size=40)),
        seed=draw(st.integers(0, 2**32 - 1)),
        data=data,
        network=network,
        training=training,
    )


@settings(max_examples=150, deadline=None)
@given(experiments())
def test_random_experiments_round_trip_exactly(e):
    text = dumps_experiment(e)
    back = loads_experiment(text)
    assert back == e
    assert dumps_experiment(back) == text
    assert experiment_from_dict(experiment_to_dict(e)) == e
    assert json.loads(text) == experiment_to_dict(e)
