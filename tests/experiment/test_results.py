"""metrics.json and model.npz: strict JSON, every promised field, pickle-free round trips."""

from __future__ import annotations

import dataclasses
import json
import math
import queue
import zipfile

import numpy as np
import pytest

from playground.experiment.build import build_trainer
from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    OptimizerConfig,
    TrainingConfig,
    experiment_to_dict,
)
from playground.experiment.results import (
    MODEL_VERSION,
    ModelFileError,
    RunHistory,
    load_model,
    metrics_dict,
    model_arrays,
    save_model,
    steps_per_epoch,
    write_metrics,
)
from playground.experiment.session import Play, SetViews, TrainingSession

LAYER_KEYS = {"name", "units", "activation", "grad_norm", "weight_norm", "dead_fraction",
              "saturated_fraction"}
TOP_KEYS = {"title", "seed", "engine", "steps", "epochs", "seconds", "steps_per_second",
            "train_loss", "test_loss", "penalty", "train_accuracy", "test_accuracy",
            "diverged", "diverged_message", "stopped_message", "layers", "history"}


def _experiment(**data: object) -> Experiment:
    return Experiment(
        title="results test",
        seed=4,
        data=DataConfig(**{"dataset": "circle", "n_samples": 120, **data}),
        network=NetworkConfig(layers=(LayerConfig(5, "relu"), LayerConfig(3, "tanh"))),
        training=TrainingConfig(max_steps=60, batch_size=8),
    )


def _run(experiment: Experiment) -> tuple[TrainingSession, RunHistory]:
    """Train to max_steps headless, feeding every snapshot to a RunHistory."""
    session = TrainingSession(experiment, grid_size=4, views=SetViews(boundary=False))
    history = RunHistory()
    commands: queue.SimpleQueue = queue.SimpleQueue()
    commands.put(Play())
    session.run(commands, history.add, exit_when_finished=True, idle_timeout=0.01)
    return session, history


def _strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON token {name}")

    return json.loads(text, parse_constant=refuse)


def test_steps_per_epoch_counts_the_short_last_batch():
    assert steps_per_epoch(250, 10) == 25
    assert steps_per_epoch(251, 10) == 26
    assert steps_per_epoch(5, 10) == 1  # a batch larger than the data is the whole data
    assert steps_per_epoch(7, 1) == 7


def test_metrics_hold_every_promised_field(tmp_path):
    experiment = _experiment()
    session, history = _run(experiment)
    path = tmp_path / "metrics.json"
    written = write_metrics(path, experiment, history.last, history, seconds=0.5)
    metrics = _strict(path.read_text(encoding="utf-8"))
    assert metrics == written
    assert set(metrics) == TOP_KEYS
    assert metrics["steps"] == 60
    n_train = len(session.data.train.y)
    assert metrics["epochs"] == pytest.approx(60 / steps_per_epoch(n_train, 8), abs=1e-4)
    assert metrics["steps_per_second"] == pytest.approx(120.0)
    assert metrics["seed"] == 4 and metrics["title"] == "results test"
    assert metrics["engine"] == session.trainer.engine_path  # "numpy" or "compiled"
    assert metrics["diverged"] is False
    assert metrics["diverged_message"] is None and metrics["stopped_message"] is None
    evaluation = session.trainer.evaluate()
    assert metrics["train_loss"] == evaluation.train_loss
    assert metrics["penalty"] == 0.0  # no L1/L2 here
    assert metrics["test_accuracy"] == evaluation.test_accuracy
    assert [p["step"] for p in metrics["history"]] == list(range(10, 61, 10))
    assert all(set(p) == {"step", "train_loss", "test_loss"} for p in metrics["history"])

    layers = metrics["layers"]
    assert [layer["name"] for layer in layers] == ["layer 1", "layer 2", "output"]
    assert all(set(layer) == LAYER_KEYS for layer in layers)
    assert [(layer["units"], layer["activation"]) for layer in layers] == [
        (5, "relu"), (3, "tanh"), (1, "sigmoid")]
    net = session.trainer.network
    for layer, entry in zip(net.layers, layers):
        assert entry["weight_norm"] == pytest.approx(np.linalg.norm(layer.W))
        assert entry["grad_norm"] >= 0
    # Dead units exist only for the ReLU family, saturation only for sigmoid and tanh.
    assert layers[0]["dead_fraction"] is not None and layers[0]["saturated_fraction"] is None
    assert layers[1]["dead_fraction"] is None and layers[1]["saturated_fraction"] is not None


def test_non_finite_numbers_become_null_and_the_file_stays_strict(tmp_path):
    experiment = _experiment()
    _, history = _run(experiment)
    nan = float("nan")
    broken = dataclasses.replace(
        history.last,
        train_loss=nan, test_loss=math.inf, diverged="Training diverged at step 60.",
        current_grad_norm=np.full_like(history.last.current_grad_norm, nan),
    )
    history.eval_train_loss[-1] = math.inf
    path = tmp_path / "metrics.json"
    write_metrics(path, experiment, broken, history, seconds=0.0)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    metrics = _strict(text)
    assert metrics["train_loss"] is None and metrics["test_loss"] is None
    assert metrics["diverged"] is True
    assert metrics["diverged_message"] == "Training diverged at step 60."
    assert all(layer["grad_norm"] is None for layer in metrics["layers"])
    assert metrics["history"][-1]["train_loss"] is None
    assert metrics["steps_per_second"] is None  # no time measured


def test_regression_metrics_have_null_accuracy():
    experiment = dataclasses.replace(
        _experiment(), data=DataConfig(dataset="reg_plane", n_samples=80))
    _, history = _run(experiment)
    metrics = metrics_dict(experiment, history.last, history, seconds=1.0)
    assert metrics["train_accuracy"] is None and metrics["test_accuracy"] is None
    assert metrics["layers"][-1]["activation"] == "linear"
    json.dumps(metrics, allow_nan=False)


def test_softmax_output_is_named_in_the_layers():
    experiment = dataclasses.replace(
        _experiment(), data=DataConfig(dataset="spiral", n_samples=90, n_classes=3))
    _, history = _run(experiment)
    metrics = metrics_dict(experiment, history.last, history, seconds=1.0)
    assert metrics["layers"][-1]["activation"] == "softmax"
    assert metrics["layers"][-1]["units"] == 3


# ---------------------------------------------------------------------------- model.npz


def _rich_experiment() -> Experiment:
    """Every kind of extra parameter a layer can carry: PReLU slopes, batch norm, dropout,
    a custom alpha, plus standardized features and a softmax output."""
    return Experiment(
        seed=9,
        data=DataConfig(dataset="spiral", n_samples=150, n_classes=3, noise=0.1,
                        features=("x1", "x2", "x1*x2"), standardize=True),
        network=NetworkConfig(layers=(
            LayerConfig(6, "prelu"),
            LayerConfig(5, "relu", batch_norm=True, dropout=0.2),
            LayerConfig(4, "leaky_relu", alpha=0.2),
            LayerConfig(3, "elu", alpha=0.5),
        )),
        training=TrainingConfig(optimizer=OptimizerConfig("adam", learning_rate=0.01),
                                batch_size=16),
    )


def test_model_round_trip_predicts_identically(tmp_path):
    experiment = _rich_experiment()
    trainer, data = build_trainer(experiment)
    trainer.run(200)
    path = tmp_path / "model.npz"
    save_model(path, trainer, experiment, standardizer=data.standardizer)

    loaded_experiment, network = load_model(path)
    assert loaded_experiment == experiment
    assert np.array_equal(network.params, trainer.network.params)
    grid = data.inputs(np.random.default_rng(0).uniform(-6, 6, (300, 2)))
    assert np.array_equal(network.predict(grid), trainer.network.predict(grid))
    assert np.array_equal(network.predict(data.x_test), trainer.network.predict(data.x_test))


def test_model_file_is_plain_arrays_with_clear_names(tmp_path):
    experiment = _rich_experiment()
    trainer, data = build_trainer(experiment)
    trainer.run(50)
    path = tmp_path / "model.npz"
    save_model(path, trainer.network, experiment, standardizer=data.standardizer)

    with np.load(path, allow_pickle=False) as npz:
        files = set(npz.files)
        for name in files:
            assert npz[name].dtype != object, name
        assert str(npz["format"]) == "playground-model"
        assert int(npz["version"]) == MODEL_VERSION
        assert json.loads(str(npz["experiment"])) == experiment_to_dict(experiment)
        assert list(npz["sizes"]) == [3, 6, 5, 4, 3, 3]
        assert list(npz["activations"]) == ["prelu", "relu", "leaky_relu", "elu"]
        assert list(npz["alphas"]) == [0.25, 0.0, 0.2, 0.5]
        assert list(npz["batch_norm"]) == [False, True, False, False]
        assert str(npz["head"]) == "softmax"
        assert list(npz["features"]) == ["x1", "x2", "x1*x2"]
        assert np.array_equal(npz["input_mean"], data.standardizer.mean)
        assert np.array_equal(npz["params"], trainer.network.params)
        net = trainer.network
        for i, layer in enumerate(net.hidden_layers, start=1):
            assert np.array_equal(npz[f"layer{i}_W"], layer.W)
            assert np.array_equal(npz[f"layer{i}_b"], layer.b)
        assert np.array_equal(npz["output_W"], net.output_layer.W)
        assert np.array_equal(npz["output_b"], net.output_layer.b)
        assert np.array_equal(npz["layer1_slope"], net.layers[0].slope)
        bn = net.layers[1]
        assert np.array_equal(npz["layer2_gamma"], bn.gamma)
        assert np.array_equal(npz["layer2_running_mean"], bn.running_mean)
        assert np.array_equal(npz["layer2_running_var"], bn.running_var)
        assert not np.all(bn.running_mean == 0)  # training moved the statistics
    assert {"layer1_W", "output_b", "layer2_beta"} <= files


def test_network_without_hidden_layers_round_trips(tmp_path):
    experiment = Experiment(data=DataConfig(dataset="xor", n_samples=60),
                            network=NetworkConfig(layers=()))
    trainer, data = build_trainer(experiment)
    trainer.run(20)
    arrays = model_arrays(trainer.network, experiment)
    assert arrays["activations"].shape == (0,) and arrays["activations"].dtype.kind == "U"
    save_model(tmp_path / "m.npz", trainer, experiment)
    _, network = load_model(tmp_path / "m.npz")
    assert np.array_equal(network.predict(data.x_test), trainer.network.predict(data.x_test))


def test_bad_model_files_are_reported_with_their_name(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.npz")

    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(ModelFileError, match="text.npz"):
        load_model(text)

    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'format' array"):
        load_model(other)

    experiment = _experiment()
    trainer, _ = build_trainer(experiment)
    arrays = model_arrays(trainer.network, experiment)
    newer = tmp_path / "newer.npz"
    np.savez(newer, **{**arrays, "version": np.array(MODEL_VERSION + 1)})
    with pytest.raises(ModelFileError, match="newer Playground"):
        load_model(newer)

    short = tmp_path / "short.npz"
    np.savez(short, **{**arrays, "params": arrays["params"][:-1]})
    with pytest.raises(ModelFileError, match="cannot be rebuilt"):
        load_model(short)


def test_save_leaves_no_temporary_files(tmp_path):
    experiment = _experiment()
    trainer, _ = build_trainer(experiment)
    save_model(tmp_path / "model.npz", trainer, experiment)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    assert zipfile.is_zipfile(tmp_path / "model.npz")
