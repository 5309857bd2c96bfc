"""Dead and saturated units on networks whose weights are set by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from playground.engine import ACTIVATIONS, LayerSpec, Network, NetworkSpec, layer_statistics

#: One input feature taking the values 0, 1, ..., 9.
X = np.arange(10.0).reshape(-1, 1)

CAN_DIE = {"relu", "leaky_relu", "prelu", "elu", "selu"}
CAN_SATURATE = {"sigmoid", "tanh"}


def _one_layer(activation: str, weights, biases, head: str = "sigmoid") -> Network:
    units = len(weights)
    spec = NetworkSpec(1, (LayerSpec(units, activation),), 3 if head == "softmax" else 1, head)
    net = Network(spec, np.random.default_rng(0))
    net.layers[0].W[0] = weights
    net.layers[0].b[...] = biases
    return net


@pytest.mark.parametrize("k", [0, 1, 3, 5])
@pytest.mark.parametrize("activation", sorted(CAN_DIE))
def test_dead_fraction_counts_units_that_never_fire(activation, k):
    # Units before k: pre-activation -x - 0.5 < 0 for every x >= 0. The others: x - 0.5,
    # which is positive for all samples but the first.
    n = 5
    weights = [-1.0] * k + [1.0] * (n - k)
    net = _one_layer(activation, weights, -0.5)
    stats = layer_statistics(net, X)[0]
    assert stats.dead_fraction == k / n
    np.testing.assert_array_equal(stats.dead_units, [True] * k + [False] * (n - k))


def test_a_unit_at_exactly_zero_is_dead_and_one_firing_sample_keeps_it_alive():
    # Unit 0: always exactly 0. Unit 1: positive only for x = 9.
    net = _one_layer("relu", [0.0, 1.0], [0.0, -8.5])
    stats = layer_statistics(net, X)[0]
    np.testing.assert_array_equal(stats.dead_units, [True, False])
    assert stats.dead_fraction == 0.5


def test_tanh_saturation():
    # 1 - tanh(h)^2 < 0.05 exactly when |h| > 2.178 (atanh(sqrt(0.95))).
    #   unit 0: h = 10 x + 5 -> |h| >= 5 everywhere: saturated
    #   unit 1: h = 0.01 x -> never
    #   unit 2: h = x - 1 -> |h| > 2.178 for x = 4..9: 6 of 10 samples: saturated
    #   unit 3: h = x - 4 -> for x = 0, 1 and 7, 8, 9: 5 of 10, not more than half: not
    net = _one_layer("tanh", [10.0, 0.01, 1.0, 1.0], [5.0, 0.0, -1.0, -4.0])
    stats = layer_statistics(net, X)[0]
    np.testing.assert_array_equal(stats.saturated_units, [True, False, True, False])
    assert stats.saturated_fraction == 0.5
    assert math.isnan(stats.dead_fraction)


def test_sigmoid_saturation():
    # s (1 - s) < 0.05 * 0.25 exactly when |h| > 4.36.
    #   unit 0: h = 10 x -> |h| > 4.36 for x >= 1: 9 of 10: saturated
    #   unit 1: h = 0.1 x -> never
    #   unit 2: h = -x - 0.5 -> for x >= 4: 6 of 10: saturated
    net = _one_layer("sigmoid", [10.0, 0.1, -1.0], [0.0, 0.0, -0.5])
    stats = layer_statistics(net, X)[0]
    np.testing.assert_array_equal(stats.saturated_units, [True, False, True])
    assert stats.saturated_fraction == pytest.approx(2 / 3)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fractions_are_nan_where_they_do_not_apply(activation):
    net = _one_layer(activation, [1.0, -1.0], [0.0, 0.0])
    stats = layer_statistics(net, X)[0]
    assert math.isnan(stats.dead_fraction) == (activation not in CAN_DIE)
    assert math.isnan(stats.saturated_fraction) == (activation not in CAN_SATURATE)
    if activation not in CAN_DIE:
        assert not stats.dead_units.any()
    if activation not in CAN_SATURATE:
        assert not stats.saturated_units.any()


@pytest.mark.parametrize(("head", "saturates"), [("sigmoid", True), ("classic", True),
                                                 ("softmax", False), ("linear", False)])
def test_output_layer_statistics(head, saturates):
    net = _one_layer("relu", [1.0, 1.0], [0.0, 0.0], head=head)
    out = net.output_layer
    out.W[...] = 5.0  # logits 10 x: far out on the flat tails for x >= 1
    out.b[...] = 0.0
    stats = layer_statistics(net, X)
    assert len(stats) == 2
    hidden, output = stats
    assert (hidden.name, hidden.activation, hidden.units) == ("layer 1", "relu", 2)
    assert (output.name, output.activation) == ("output", head)
    assert math.isnan(output.dead_fraction)
    if saturates:
        assert output.saturated_fraction == 1.0
    else:
        assert math.isnan(output.saturated_fraction)
    res = net.forward(X)
    np.testing.assert_array_equal(output.pre_activations, res.logits)
    np.testing.assert_array_equal(output.activations, res.output)


def test_activation_summary_matches_the_forward_pass():
    spec = NetworkSpec(2, (LayerSpec(4, "elu"), LayerSpec(3, "tanh", batch_norm=True)), 1,
                       "sigmoid")
    net = Network(spec, np.random.default_rng(2))
    net.layers[1].running_mean[...] = [0.5, -0.5, 1.0]
    net.layers[1].running_var[...] = [2.0, 0.5, 1.5]
    x = np.random.default_rng(0).normal(size=(30, 2))
    res = net.forward(x, keep_hidden=True)
    stats = layer_statistics(net, x)
    for i in range(2):
        # What the activation received: after batch norm, with the running statistics.
        np.testing.assert_allclose(stats[i].pre_activations, res.pre_activations[i])
        np.testing.assert_allclose(stats[i].activations, res.activations[i])
        assert stats[i].activation_mean == pytest.approx(res.activations[i].mean())
        assert stats[i].activation_std == pytest.approx(res.activations[i].std())
