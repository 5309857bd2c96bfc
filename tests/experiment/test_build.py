"""Experiment -> data, network and trainer: reproducible from the seed, custom points,
and which changes need fresh weights."""

from __future__ import annotations

import dataclasses

import numpy as np

from playground.experiment.build import (
    apply_training,
    build_trainer,
    needs_reset,
    prepare_data,
)
from playground.experiment.config import (
    DataConfig,
    EarlyStoppingConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainingConfig,
    with_path,
)

BASE = Experiment(
    seed=11,
    data=DataConfig(dataset="gauss", n_samples=120, noise=0.2),
    network=NetworkConfig(layers=(LayerConfig(6, "relu", dropout=0.1), LayerConfig(3))),
    training=TrainingConfig(optimizer=OptimizerConfig("sgd", learning_rate=0.05)),
)


def test_same_experiment_gives_identical_initial_weights_and_data():
    first, data1 = build_trainer(BASE)
    second, data2 = build_trainer(BASE)
    assert np.array_equal(first.network.params, second.network.params)
    assert np.array_equal(data1.train.x, data2.train.x)
    assert np.array_equal(data1.test.y, data2.test.y)
    # ... and the same run, bit for bit, dropout and batch order included.
    first.run(40)
    second.run(40)
    assert np.array_equal(first.network.params, second.network.params)


def test_another_seed_gives_other_weights_and_data():
    first, data1 = build_trainer(BASE)
    other, data2 = build_trainer(dataclasses.replace(BASE, seed=12))
    assert not np.array_equal(first.network.params, other.network.params)
    assert not np.array_equal(data1.train.x, data2.train.x)


def test_custom_points_make_a_classification_set():
    points = tuple((float(i), float(-i), float(i % 3)) for i in range(30))
    experiment = Experiment(
        data=DataConfig(dataset="custom", points=points, test_fraction=0.2),
        network=NetworkConfig(layers=(LayerConfig(4),)),
    )
    trainer, data = build_trainer(experiment)
    assert data.is_classification and data.n_classes == 3
    assert len(data.train.y) + len(data.test.y) == 30
    assert trainer.network.spec.head == "softmax"
    assert trainer.network.spec.n_outputs == 3
    rows = {tuple(p[:2]): p[2] for p in points}
    for x, y in zip(data.train.x, data.train.y):
        assert rows[tuple(x)] == y


def test_custom_points_with_fractional_labels_make_a_regression_set():
    points = tuple((float(i), 1.0, 0.5 * i) for i in range(12))
    experiment = Experiment(data=DataConfig(dataset="custom", points=points))
    trainer, data = build_trainer(experiment)
    assert data.task == "regression"
    assert trainer.network.spec.head == "linear"
    assert trainer.network.predict(data.x_train).shape == (len(data.x_train), 1)


def test_custom_labels_that_skip_values_are_renumbered():
    points = ((0.0, 0.0, 2.0), (1.0, 0.0, 7.0), (0.0, 1.0, 2.0), (1.0, 1.0, 7.0))
    data = prepare_data(Experiment(data=DataConfig(dataset="custom", points=points,
                                                   test_fraction=0.0)))
    assert data.n_classes == 2
    assert set(data.train.y.tolist()) == {0, 1}


def test_features_and_standardizing_shape_the_inputs():
    experiment = with_path(BASE, "data.features", ("x1", "x2", "x1^2", "sin(x2)"))
    experiment = with_path(experiment, "data.standardize", True)
    trainer, data = build_trainer(experiment)
    assert data.x_train.shape[1] == 4
    assert trainer.network.spec.n_inputs == 4
    assert np.allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(data.inputs(data.train.x), data.x_train)


def test_data_network_and_seed_changes_need_a_reset():
    for path, value in [
        ("seed", 12),
        ("data.noise", 0.3),
        ("data.features", ("x1", "x2", "x1*x2")),
        ("data.test_fraction", 0.3),
        ("network.layers[0].units", 7),
        ("network.layers[1].activation", "relu"),
        ("network.init", "he_normal"),
    ]:
        assert needs_reset(BASE, with_path(BASE, path, value)), path


def test_training_only_changes_apply_live():
    for path, value in [
        ("training.optimizer.learning_rate", 0.3),
        ("training.optimizer", OptimizerConfig("adam")),
        ("training.batch_size", 32),
        ("training.l2", 0.01),
        ("training.schedule", ScheduleConfig("cosine")),
        ("training.early_stopping", EarlyStoppingConfig()),
        ("training.max_steps", 100),
        ("title", "renamed"),
    ]:
        assert not needs_reset(BASE, with_path(BASE, path, value)), path


def test_apply_training_keeps_weights_and_step():
    trainer, _ = build_trainer(BASE)
    trainer.run(25)
    params = trainer.network.params.copy()
    new = dataclasses.replace(
        BASE.training, optimizer=OptimizerConfig("sgd", learning_rate=0.5, momentum=0.9),
        batch_size=20, l2=0.001)
    apply_training(trainer, BASE.training, new)
    assert trainer.step == 25
    assert np.array_equal(trainer.network.params, params)
    assert trainer.learning_rate == 0.5
    assert trainer.batch_size == 20 and trainer.l2 == 0.001
    trainer.run(5)
    assert trainer.step == 30


def test_the_issue_example_file_trains_unchanged():
    """The example experiment of the file-format reference builds and trains as written:
    ReLU layers with dropout and batch norm, Adam, L2, a cosine schedule, early stopping."""
    from playground.experiment.config import loads_experiment
    from tests.experiment.test_config import EXAMPLE

    experiment = loads_experiment(EXAMPLE)
    trainer, data = build_trainer(experiment)
    before = trainer.evaluate()
    while trainer.step < experiment.training.max_steps and not (
            trainer.diverged or trainer.stopped):
        trainer.run(500)
    after = trainer.evaluate()
    assert trainer.diverged is None
    assert trainer.network.layers[1].batch_norm and trainer.network.layers[1].dropout == 0.1
    assert after.test_loss < before.test_loss
    assert after.test_accuracy > 0.9
