"""The built-in presets: each loads, trains headless through the command line, and shows
what its description promises, read back from metrics.json."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from playground import cli
from playground.experiment.config import save_experiment, with_path
from playground.experiment.presets import (
    DEFAULT_PRESET,
    list_presets,
    load_preset,
    preset_names,
    presets_dir,
)

NAMES = [
    "classic",
    "dying-relu",
    "early-stopping",
    "lr-schedule",
    "overfitting-l2",
    "selu-deep",
    "softmax-blobs",
    "spiral-relu",
    "vanishing-gradients",
    "xor-cross-feature",
]


@pytest.fixture(scope="module")
def train(tmp_path_factory) -> Callable[..., dict]:
    """Train a preset (or an experiment file) once per module through ``cli.main``."""
    root = tmp_path_factory.mktemp("presets")
    done: dict[str, dict] = {}

    def run(source: str, expected_code: int = 0) -> dict:
        if source not in done:
            out = root / re.sub(r"\W", "_", source)
            code = cli.main(["train", source, "--out", str(out)])
            assert code == expected_code, source
            assert (out / "model.npz").is_file()
            done[source] = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        return done[source]

    return run


@pytest.fixture(scope="module")
def variant(tmp_path_factory) -> Callable[..., str]:
    """A preset with some settings changed, saved as a file; returns its path."""
    root = tmp_path_factory.mktemp("variants")

    def make(name: str, label: str, changes: dict[str, object]) -> str:
        experiment = load_preset(name)
        for path, value in changes.items():
            experiment = with_path(experiment, path, value)
        path = root / f"{name}-{label}.json"
        save_experiment(experiment, path)
        return str(path)

    return make


def _relu_layers(metrics: dict) -> list[dict]:
    return [layer for layer in metrics["layers"][:-1] if layer["activation"] == "relu"]


# ---------------------------------------------------------------------------- the files


def test_there_are_exactly_the_ten_presets():
    assert preset_names() == NAMES
    assert DEFAULT_PRESET in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_preset_is_a_complete_lesson(name):
    experiment = load_preset(name)
    assert experiment.title and experiment.title != "Untitled experiment"
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", experiment.description) if s]
    assert 3 <= len(sentences) <= 8, experiment.description
    assert "watch" in experiment.description.lower()  # it tells the learner what to look at
    assert experiment.training.max_steps is not None
    assert experiment.training.max_steps <= 10_000


def test_preset_files_are_version_1_experiments():
    for path in sorted(presets_dir().glob("*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        assert d["format"] == "playground-experiment" and d["version"] == 1, path.name


def test_list_presets_gives_titles():
    infos = list_presets()
    assert [i.name for i in infos] == NAMES
    assert all(i.title == load_preset(i.name).title for i in infos)


# ---------------------------------------------------------------------------- training


@pytest.mark.parametrize("name", NAMES)
def test_preset_trains_headless(train, name):
    metrics = train(f"preset:{name}")
    assert metrics["diverged"] is False
    max_steps = load_preset(name).training.max_steps
    if name == "early-stopping":
        assert metrics["steps"] < max_steps
    else:
        assert metrics["steps"] == max_steps
        assert metrics["stopped_message"] is None
    assert len(metrics["history"]) == metrics["steps"] // 10


def test_classic_is_tensorflow_playgrounds_default(train):
    e = load_preset("classic")
    assert (e.data.dataset, e.data.noise, e.data.n_samples, e.data.test_fraction) == (
        "circle", 0.0, 500, 0.5)
    assert [(layer.units, layer.activation) for layer in e.network.layers] == [
        (4, "tanh"), (2, "tanh")]
    assert (e.network.output, e.network.init) == ("classic", "classic")
    opt = e.training.optimizer
    assert (opt.name, opt.learning_rate, e.training.batch_size) == ("sgd", 0.03, 10)
    metrics = train("preset:classic")
    assert metrics["test_accuracy"] >= 0.95
    assert metrics["layers"][-1]["activation"] == "classic"


def test_spiral_relu_reaches_95_percent(train):
    e = load_preset("spiral-relu")
    assert e.data.dataset == "spiral" and e.training.optimizer.name == "adam"
    assert all(layer.activation == "relu" for layer in e.network.layers)
    assert train("preset:spiral-relu")["test_accuracy"] >= 0.95


def test_xor_cross_feature_needs_no_hidden_layer(train, variant):
    e = load_preset("xor-cross-feature")
    assert e.network.layers == () and "x1*x2" in e.data.features
    metrics = train("preset:xor-cross-feature")
    assert [layer["name"] for layer in metrics["layers"]] == ["output"]
    assert metrics["test_accuracy"] >= 0.95
    # Without the product feature the same network is no better than a coin flip.
    plain = train(variant("xor-cross-feature", "plain", {"data.features": ("x1", "x2")}))
    assert plain["test_accuracy"] < 0.7


def test_vanishing_gradients_starve_the_first_layer(train):
    e = load_preset("vanishing-gradients")
    assert len(e.network.layers) >= 6 and e.training.optimizer.name == "sgd"
    assert all(layer.activation == "sigmoid" for layer in e.network.layers)
    metrics = train("preset:vanishing-gradients")
    first, last = metrics["layers"][0]["grad_norm"], metrics["layers"][-1]["grad_norm"]
    assert first < last / 100
    assert metrics["test_loss"] > 0.6  # stuck near ln 2, as the description says


def test_dying_relu_kills_most_units(train):
    metrics = train("preset:dying-relu")
    layers = _relu_layers(metrics)
    assert len(layers) == len(metrics["layers"]) - 1
    dead_units = sum(layer["dead_fraction"] * layer["units"] for layer in layers)
    assert dead_units / sum(layer["units"] for layer in layers) > 0.5
    assert np.mean([layer["dead_fraction"] for layer in layers]) > 0.5
    assert metrics["test_accuracy"] < 0.6  # the loss is stuck at a coin flip


def test_dying_relu_at_a_sane_rate_learns(train, variant):
    sane = train(variant("dying-relu", "sane",
                       {"training.optimizer.learning_rate": 0.03}))
    assert sane["test_accuracy"] >= 0.9
    layers = _relu_layers(sane)
    dead_units = sum(layer["dead_fraction"] * layer["units"] for layer in layers)
    assert dead_units / sum(layer["units"] for layer in layers) < 0.5


def test_softmax_blobs_separates_four_classes(train):
    e = load_preset("softmax-blobs")
    assert (e.data.dataset, e.data.n_classes, e.network.output) == ("blobs", 4, "softmax")
    metrics = train("preset:softmax-blobs")
    assert metrics["layers"][-1]["units"] == 4
    assert metrics["layers"][-1]["activation"] == "softmax"
    assert metrics["test_accuracy"] >= 0.95


def test_selu_deep_keeps_gradients_flowing(train):
    e = load_preset("selu-deep")
    assert len(e.network.layers) >= 6
    assert all(layer.activation == "selu" for layer in e.network.layers)
    assert e.network.init in ("lecun_normal", "auto")
    metrics = train("preset:selu-deep")
    first, last = metrics["layers"][0]["grad_norm"], metrics["layers"][-1]["grad_norm"]
    assert last / 10 < first < last * 10  # the same order, unlike vanishing-gradients
    assert metrics["test_accuracy"] >= 0.95


def test_overfitting_l2_and_dropout_rescue_the_test_loss(train, variant):
    e = load_preset("overfitting-l2")
    assert e.training.l2 > 0 and all(layer.dropout > 0 for layer in e.network.layers)
    n_train = round(e.data.n_samples * (1 - e.data.test_fraction))
    assert n_train <= 50 and e.data.noise > 0
    assert "L2" in e.description and "dropout" in e.description
    regularized = train("preset:overfitting-l2")
    bare = train(variant("overfitting-l2", "bare",
                         {"training.l2": 0.0, "network.layers[*].dropout": 0.0}))
    assert bare["train_loss"] < 0.01  # it memorised the training points
    assert regularized["test_loss"] < bare["test_loss"] / 2
    # Unregularized, the test loss ends far above its best value.
    best = min(p["test_loss"] for p in bare["history"])
    assert bare["test_loss"] > 2 * best


def test_early_stopping_stops_before_max_steps(train, variant):
    e = load_preset("early-stopping")
    assert e.training.early_stopping is not None
    metrics = train("preset:early-stopping")
    assert metrics["steps"] < e.training.max_steps / 2
    assert "Stopped early" in metrics["stopped_message"]
    # The restored weights are the best ones seen, and better than training on.
    best = min(p["test_loss"] for p in metrics["history"])
    assert metrics["test_loss"] == pytest.approx(best)
    endless = train(variant("early-stopping", "off", {"training.early_stopping": None}))
    assert endless["steps"] == e.training.max_steps
    assert endless["test_loss"] > metrics["test_loss"]


def test_lr_schedule_settles_the_loss(train, variant):
    e = load_preset("lr-schedule")
    assert e.training.schedule.name != "constant"
    scheduled = train("preset:lr-schedule")
    constant = train(variant("lr-schedule", "constant",
                             {"training.schedule.name": "constant"}))
    assert scheduled["test_accuracy"] >= 0.95

    def jitter(metrics: dict) -> float:
        """Spread of the full-data training loss over the last fifth of the run."""
        losses = [p["train_loss"] for p in metrics["history"]]
        return float(np.std(losses[-len(losses) // 5:]))

    assert jitter(scheduled) < jitter(constant) / 3


def test_every_promise_is_checked_from_a_fresh_file(train, tmp_path):
    """A preset copied to a file trains exactly as the preset does (same seed)."""
    path = Path(tmp_path) / "copy.json"
    save_experiment(load_preset("xor-cross-feature"), path)
    copy = train(str(path))
    original = train("preset:xor-cross-feature")
    assert copy["history"] == original["history"]
