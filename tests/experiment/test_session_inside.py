"""Snapshots carry samples of the hidden values only when asked (SetViews(inside=True))."""

from __future__ import annotations

import numpy as np

from playground.engine import activations as act
from playground.engine import layer_statistics
from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
)
from playground.experiment.session import INSIDE_SAMPLE_ROWS, SetViews, TrainingSession

EXPERIMENT = Experiment(
    seed=3,
    data=DataConfig(dataset="circle", n_samples=700, noise=0.1),
    network=NetworkConfig(layers=(LayerConfig(5, "tanh"), LayerConfig(3, "elu", alpha=0.5))),
)


def test_inside_views_are_off_by_default():
    snap = TrainingSession(EXPERIMENT, grid_size=4).snapshot()
    assert snap.pre_activations is None and snap.activations is None
    assert snap.dead_units is None and snap.saturated_units is None


def test_inside_samples_are_the_hidden_values_of_a_fixed_subset():
    session = TrainingSession(EXPERIMENT, grid_size=4, views=SetViews(inside=True))
    session.trainer.run(30)
    snap = session.snapshot()
    n = len(session.trainer.x_train)
    assert n > INSIDE_SAMPLE_ROWS
    stats = layer_statistics(session.trainer.network, session.trainer.x_train)
    for layer, (pre, post, spec_units) in enumerate(
            zip(snap.pre_activations, snap.activations, (5, 3))):
        assert pre.shape == (INSIDE_SAMPLE_ROWS, spec_units) and pre.dtype == np.float32
        assert not pre.flags.writeable and not post.flags.writeable
        # Rows of the training set's own values, spread over all of it.
        full = stats[layer].pre_activations
        rows = [int(np.argmin(np.abs(full - p).sum(axis=1))) for p in pre[[0, -1]]]
        assert rows == [0, n - 1]
        spread = np.linspace(0, n - 1, INSIDE_SAMPLE_ROWS).round().astype(int)
        np.testing.assert_allclose(pre, full[spread], rtol=1e-6, atol=1e-6)
    alpha = session.trainer.network.hidden_layers[1].alpha
    np.testing.assert_allclose(snap.activations[1], act.apply("elu", snap.pre_activations[1],
                                                              alpha), rtol=1e-5, atol=1e-6)
    for layer, mask in enumerate(snap.dead_units):
        assert np.array_equal(mask, stats[layer].dead_units)


def test_neurons_alone_bring_unit_health_but_no_samples():
    session = TrainingSession(EXPERIMENT, grid_size=4, views=SetViews(neurons=True))
    snap = session.snapshot()
    assert snap.pre_activations is None
    assert [m.shape for m in snap.saturated_units] == [(5,), (3,)]
