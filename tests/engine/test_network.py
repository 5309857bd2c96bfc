"""The network's parameter layout, initial weights, evaluation mode, dropout and batch norm,
and the validation of its specification."""

from __future__ import annotations

import numpy as np
import pytest

from playground.engine import (
    ACTIVATIONS,
    DEFAULT_ALPHA,
    HEADS,
    INITIALIZERS,
    LayerSpec,
    Network,
    NetworkSpec,
)

from .helpers import BN_EPS, REFERENCE, build, labels_for


# --- layout ---------------------------------------------------------------------------------
def test_every_parameter_lives_in_the_flat_buffer():
    spec = NetworkSpec(3, (LayerSpec(4, "prelu", batch_norm=True), LayerSpec(2, "tanh")), 3,
                       "softmax")
    net = Network(spec, np.random.default_rng(0))
    blocks = (3 + 1) * 4 + (4 + 1) * 2 + (2 + 1) * 3
    assert net.n_params == blocks + 4 + 2 * 4  # + PReLU slopes + gamma and beta
    assert net.buffer.shape == (3, net.n_params)
    for row, view in enumerate((net.params, net.grad, net.update)):
        assert np.shares_memory(view, net.buffer[row])
    first = net.layers[0]
    assert first.Wb.shape == (4, 4) and first.W.shape == (3, 4) and first.b.shape == (4,)
    views = [first.Wb, first.gWb, first.slope, first.g_slope, first.gamma, first.beta,
             first.g_gamma, first.g_beta] + [layer.Wb for layer in net.layers[1:]]
    for view in views:
        assert np.shares_memory(view, net.buffer)
    # Writing through a view is seen in the flat buffer and vice versa.
    first.W[2, 1] = 123.0
    assert net.params[2 * 4 + 1] == 123.0
    net.params[-1] = -7.0
    assert first.beta[-1] == -7.0
    assert [layer.name for layer in net.layers] == ["layer 1", "layer 2", "output"]


def test_weight_mask_marks_weights_only():
    net = build("prelu", "softmax", 2, batch_norm=True)
    expected = np.zeros(net.n_params)
    for layer in net.layers:
        expected[layer.weight_slice] = 1.0
        assert np.shares_memory(net.params[layer.weight_slice], layer.W)
    np.testing.assert_array_equal(net.weight_mask, expected)
    assert net.n_weights == sum(layer.W.size for layer in net.layers)
    np.testing.assert_array_equal(net.weight_values(),
                                  np.concatenate([layer.W.ravel() for layer in net.layers]))


def test_penalty_counts_weights_only():
    net = build("prelu", "linear", 2, batch_norm=True)
    net.params[...] = 2.0
    n_w = net.n_weights
    assert net.penalty(l2=0.1) == pytest.approx(0.5 * 0.1 * 4.0 * n_w)
    assert net.penalty(l1=0.1) == pytest.approx(0.1 * 2.0 * n_w)
    assert net.penalty() == 0.0


def test_augment_appends_a_column_of_ones():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(Network.augment(x), [[1, 2, 1], [3, 4, 1]])


def test_encode_targets():
    y = np.array([0, 2, 1])
    np.testing.assert_array_equal(build(head="softmax").encode_targets(y),
                                  [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(build(head="sigmoid").encode_targets([1, 0]), [[1], [0]])
    np.testing.assert_array_equal(build(head="classic").encode_targets([1, 0]), [[1], [-1]])
    np.testing.assert_array_equal(build(head="linear").encode_targets([[1, 2], [3, 4]]),
                                  [[1, 2], [3, 4]])


def test_state_round_trip_includes_running_statistics():
    net = build("relu", "sigmoid", 2, batch_norm=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2))
    saved = net.state()
    before = net.predict(x)
    net.loss_and_grad(Network.augment(x), net.encode_targets(labels_for("sigmoid", 8, rng)))
    net.params += 0.1
    assert not np.allclose(net.predict(x), before)
    net.load_state(saved)
    np.testing.assert_array_equal(net.predict(x), before)
    # The saved copy is not a view.
    net.params += 1.0
    assert not np.array_equal(saved["params"], net.params)
    with pytest.raises(ValueError, match="params"):
        net.load_state({"params": np.zeros(3)})


# --- initial weights ------------------------------------------------------------------------
@pytest.mark.parametrize(("init", "activation", "low", "std"), [
    ("glorot_uniform", "tanh", -np.sqrt(6 / 700), np.sqrt(2 / 700)),
    ("glorot_normal", "tanh", None, np.sqrt(2 / 700)),
    ("he_uniform", "relu", -np.sqrt(6 / 400), np.sqrt(2 / 400)),
    ("he_normal", "relu", None, np.sqrt(2 / 400)),
    ("lecun_normal", "selu", None, np.sqrt(1 / 400)),
    ("classic", "tanh", -0.5, np.sqrt(1 / 12)),
    ("auto", "relu", -np.sqrt(6 / 400), np.sqrt(2 / 400)),  # he_uniform
    ("auto", "selu", None, np.sqrt(1 / 400)),  # lecun_normal
    ("auto", "sigmoid", -np.sqrt(6 / 700), np.sqrt(2 / 700)),  # glorot_uniform
])
def test_initializer_distributions(init, activation, low, std):
    net = Network(NetworkSpec(400, (LayerSpec(300, activation),), 1, "sigmoid", init),
                  np.random.default_rng(0))
    w = net.layers[0].W
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 0.02 * std
    if low is None:  # normal: some values beyond 3 standard deviations
        assert np.abs(w).max() > 3.5 * std
    else:
        assert low <= w.min() < 0.99 * low and -0.99 * low < w.max() <= -low
    assert np.all(net.layers[0].b == (0.1 if init == "classic" else 0.0))


def test_initialization_is_deterministic_for_a_generator():
    a = build("relu", "softmax", 3, batch_norm=True, seed=4)
    b = build("relu", "softmax", 3, batch_norm=True, seed=4)
    c = build("relu", "softmax", 3, batch_norm=True, seed=5)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    layer = a.layers[0]
    assert np.all(layer.gamma == 1.0) and np.all(layer.beta == 0.0)
    assert np.all(layer.running_mean == 0.0) and np.all(layer.running_var == 1.0)


def test_prelu_slopes_start_at_alpha():
    net = build("prelu", alpha=0.3, width=4)
    np.testing.assert_array_equal(net.layers[0].slope, [0.3] * 4)
    assert np.all(build("prelu").layers[0].slope == DEFAULT_ALPHA["prelu"])


# --- evaluation mode --------------------------------------------------------------------------
def test_forward_matches_a_manual_computation():
    net = build("elu", "softmax", 2, width=4, alpha=0.7, seed=3)
    x = np.random.default_rng(1).normal(size=(6, 2))
    a = x
    for layer in net.hidden_layers:
        a = REFERENCE["elu"](a @ layer.W + layer.b, 0.7)
    z = a @ net.output_layer.W + net.output_layer.b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    res = net.forward(x, keep_hidden=True)
    np.testing.assert_allclose(res.logits, z, rtol=1e-13)
    np.testing.assert_allclose(res.output, p, rtol=1e-13)
    np.testing.assert_allclose(res.activations[-1], a, rtol=1e-13)
    assert len(res.pre_activations) == 2 and net.forward(x).pre_activations == []
    np.testing.assert_array_equal(net.predict(x), res.output)
    np.testing.assert_allclose(net.forward(x, dtype=np.float32).output, p, rtol=1e-5, atol=1e-6)
    assert net.forward(x, dtype=np.float32).output.dtype == np.float32


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluation_in_chunks_matches_one_whole_pass(head, dtype, monkeypatch):
    # Layer arrays of 6 rows (5 units and the ones) and 42 values a chunk: 31 samples
    # go in 5 chunks of 7, the last one ragged (3).
    monkeypatch.setattr("playground.engine.network.EVAL_CHUNK_VALUES", 42)
    net = build("relu", head, 2, width=5, seed=4)
    x = np.random.default_rng(2).normal(size=(31, 2))
    whole = net.forward(x, keep_hidden=True, dtype=dtype)  # no chunks
    res = net.forward(x, dtype=dtype)
    out = net.predict(x, dtype=dtype)
    for got in (res.logits, res.output, out):
        assert got.dtype == dtype and got.shape == whole.output.shape
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(res.logits, whole.logits, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(res.output, whole.output, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(out, res.output)
    # The chunks' work arrays are kept from call to call, but no result shares them: a
    # later call on other inputs leaves the first results as they were.
    kept = out.copy(), res.logits.copy()
    other = net.predict(-3.0 * x[:9], dtype=dtype)
    np.testing.assert_array_equal(out, kept[0])
    np.testing.assert_array_equal(res.logits, kept[1])
    np.testing.assert_array_equal(other, net.forward(-3.0 * x[:9], keep_hidden=True,
                                                     dtype=dtype).output)
    # Inputs of any numeric type take the evaluation's dtype as they are copied in.
    ints = np.arange(-10, 10).reshape(10, 2)
    np.testing.assert_allclose(net.predict(ints.tolist(), dtype=dtype),
                               net.predict(ints.astype(dtype), dtype=dtype), rtol=rtol)
    assert net.predict(np.empty((0, 2)), dtype=dtype).shape == (0, whole.output.shape[1])


@pytest.mark.parametrize("head", HEADS)
def test_evaluate_gives_the_mean_loss_and_accuracy(head):
    net = build("tanh", head, 1, width=4, seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 2)), labels_for(head, 12, rng)
    loss, accuracy = net.evaluate(x, y)
    expected_loss, _ = net.loss_and_grad(Network.augment(x), net.encode_targets(y))
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    out = net.predict(x)
    if head == "linear":
        assert accuracy is None
    else:
        predicted = {"softmax": lambda: out.argmax(axis=1),
                     "sigmoid": lambda: (out[:, 0] > 0.5).astype(int),
                     "classic": lambda: (out[:, 0] > 0).astype(int)}[head]()
        assert accuracy == pytest.approx(np.mean(predicted == y))
    assert np.isnan(net.evaluate(x[:0], y[:0])[0])


# --- dropout --------------------------------------------------------------------------------
def _constant_hidden_network(keep: float):
    """One linear hidden layer that outputs 1 everywhere, read out with place values, so the
    output of a training pass spells out which units dropout kept."""
    spec = NetworkSpec(2, (LayerSpec(3, "linear", dropout=1.0 - keep),), 1, "linear")
    net = Network(spec, np.random.default_rng(0))
    hidden, out = net.layers
    hidden.W[...] = 0.0
    hidden.b[...] = 1.0
    out.W[:, 0] = [1.0, 10.0, 100.0]
    out.b[...] = 0.0
    return net


def test_training_dropout_keeps_units_scaled_by_one_over_keep():
    keep = 0.75
    net = _constant_hidden_network(keep)
    rng = np.random.default_rng(0)
    x_aug, t = Network.augment(np.zeros((1, 2))), np.zeros((1, 1))
    kept = []
    for _ in range(2000):
        loss, _ = net.loss_and_grad(x_aug, t, dropout_rng=rng)
        z = np.sqrt(2.0 * loss)  # loss = z^2 / 2 with target 0 and z >= 0
        code = z * keep  # = k1 + 10 k2 + 100 k3 for the kept units k
        bits = [int(round(code)) // 10**j % 10 for j in range(3)]
        assert code == pytest.approx(sum(b * 10**j for j, b in enumerate(bits)), abs=1e-9)
        assert set(bits) <= {0, 1}
        # gW of the output = dropped-out activation times dL/dz = mask_j * z
        np.testing.assert_allclose(net.output_layer.gW[:, 0], np.array(bits) / keep * z,
                                   rtol=1e-12)
        kept.append(bits)
    assert np.mean(kept) == pytest.approx(keep, abs=0.03)
    # The units are dropped independently of one another.
    assert len({tuple(b) for b in kept}) == 8


def test_dropout_network_without_masks_or_rng_fails_clearly():
    net = _constant_hidden_network(0.5)
    with pytest.raises(ValueError, match="dropout_rng"):
        net.loss_and_grad(Network.augment(np.zeros((2, 2))), np.zeros((2, 1)))


def test_evaluation_has_no_dropout():
    with_dropout = build("relu", "softmax", 2, width=4, dropout=0.5, seed=8)
    without = build("relu", "softmax", 2, width=4, seed=8)
    np.testing.assert_array_equal(with_dropout.params, without.params)
    x = np.random.default_rng(0).normal(size=(20, 2))
    out = with_dropout.predict(x)
    np.testing.assert_array_equal(out, with_dropout.predict(x))
    np.testing.assert_array_equal(out, without.predict(x))
    # ... while training passes do see different masks.
    rng, t = np.random.default_rng(0), with_dropout.encode_targets(labels_for("softmax", 20,
                                                                          np.random.default_rng(1)))
    losses = {with_dropout.loss_and_grad(Network.augment(x), t, dropout_rng=rng)[0]
              for _ in range(5)}
    assert len(losses) == 5


# --- batch normalization --------------------------------------------------------------------
def _batch_norm_probe(gamma: float, beta: float):
    """Linear hidden units with batch norm, read out one to one by a linear head with
    target 0: the training loss and output gradients expose the normalized values."""
    spec = NetworkSpec(3, (LayerSpec(2, "linear", batch_norm=True),), 2, "linear")
    net = Network(spec, np.random.default_rng(0))
    hidden, out = net.layers
    hidden.W[...] = [[1.0, -2.0], [0.5, 3.0], [2.0, 0.1]]
    hidden.b[...] = [5.0, -4.0]
    hidden.gamma[...] = gamma
    hidden.beta[...] = beta
    out.W[...] = np.eye(2)
    out.b[...] = 0.0
    return net


def test_batch_norm_training_uses_batch_statistics():
    x = np.random.default_rng(0).normal(3.0, 4.0, size=(16, 3))
    t = np.zeros((16, 2))
    net = _batch_norm_probe(1.0, 0.0)
    z = x @ net.layers[0].W + net.layers[0].b
    shrink = z.var(axis=0) / (z.var(axis=0) + BN_EPS)  # var of (z - mean) / sqrt(var + eps)
    loss, _ = net.loss_and_grad(Network.augment(x), t)
    out = net.output_layer
    # dL/dz_out = h / n, so gb = mean of h per unit (0) and diag(gW) = mean of h^2 (~1).
    np.testing.assert_allclose(out.gb, 0.0, atol=1e-14)
    np.testing.assert_allclose(np.diag(out.gW), shrink, rtol=1e-12)
    assert loss == pytest.approx(0.5 * shrink.sum(), rel=1e-12)
    # gamma and beta act after the normalization.
    net = _batch_norm_probe(2.0, 3.0)
    net.loss_and_grad(Network.augment(x), t)
    np.testing.assert_allclose(net.output_layer.gb, 3.0, rtol=1e-12)
    # mean of (2 zhat + 3)^2 = 4 mean(zhat^2) + 12 mean(zhat) + 9
    np.testing.assert_allclose(np.diag(net.output_layer.gW), 4.0 * shrink + 9.0, rtol=1e-12)
    # Rescaling and shifting the batch changes nothing (up to eps).
    net2 = _batch_norm_probe(2.0, 3.0)
    loss2, _ = net2.loss_and_grad(Network.augment(10.0 * x + 7.0), t)
    assert loss2 == pytest.approx(net.loss_and_grad(Network.augment(x), t)[0], rel=1e-6)


def test_batch_norm_running_statistics_and_evaluation():
    net = _batch_norm_probe(1.5, -0.5)
    layer = net.layers[0]
    rng = np.random.default_rng(1)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.normal(2.0, 3.0, size=(10, 3))
        net.loss_and_grad(Network.augment(x), np.zeros((10, 2)))
        z = x @ layer.W + layer.b
        # momentum 0.9, fed the batch mean and the biased batch variance
        mean = 0.9 * mean + 0.1 * z.mean(axis=0)
        var = 0.9 * var + 0.1 * z.var(axis=0)
        np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-13)
        np.testing.assert_allclose(layer.running_var, var, rtol=1e-13)

    x = rng.normal(size=(7, 3))
    before = (layer.running_mean.copy(), layer.running_var.copy())
    h = 1.5 * (x @ layer.W + layer.b - mean) / np.sqrt(var + BN_EPS) - 0.5
    res = net.forward(x, keep_hidden=True)
    np.testing.assert_allclose(res.pre_activations[0], h, rtol=1e-12)
    np.testing.assert_allclose(res.output, h, rtol=1e-12)  # identity read-out
    # Evaluation does not touch the running statistics, and one row is enough.
    np.testing.assert_array_equal(layer.running_mean, before[0])
    np.testing.assert_array_equal(layer.running_var, before[1])
    np.testing.assert_allclose(net.predict(x[:1]), h[:1], rtol=1e-12)


# --- specification errors -----------------------------------------------------------------------
@pytest.mark.parametrize(("make", "parameter", "words"), [
    (lambda: LayerSpec(0), "units", ["1", "4096"]),
    (lambda: LayerSpec(5000), "units", ["4096"]),
    (lambda: LayerSpec(2.5), "units", ["integer"]),
    (lambda: LayerSpec(True), "units", ["integer"]),
    (lambda: LayerSpec(3, "mish"), "activation", list(ACTIVATIONS)),
    (lambda: LayerSpec(3, "tanh", alpha=0.1), "alpha", [*DEFAULT_ALPHA, "tanh"]),
    (lambda: LayerSpec(3, "elu", alpha=-1.0), "alpha", [">= 0"]),
    (lambda: LayerSpec(3, "leaky_relu", alpha=float("nan")), "alpha", ["finite"]),
    (lambda: LayerSpec(3, dropout=1.0), "dropout", ["[0, 1)"]),
    (lambda: LayerSpec(3, dropout=-0.1), "dropout", ["[0, 1)"]),
    (lambda: NetworkSpec(0), "n_inputs", [">= 1"]),
    (lambda: NetworkSpec(2, n_outputs=0), "n_outputs", [">= 1"]),
    (lambda: NetworkSpec(2, head="hinge"), "head", list(HEADS)),
    (lambda: NetworkSpec(2, init="orthogonal"), "init", list(INITIALIZERS)),
    (lambda: NetworkSpec(2, n_outputs=2, head="sigmoid"), "n_outputs", ["sigmoid", "one"]),
    (lambda: NetworkSpec(2, n_outputs=2, head="classic"), "n_outputs", ["classic"]),
    (lambda: NetworkSpec(2, n_outputs=1, head="softmax"), "n_outputs", ["softmax", "2"]),
    (lambda: NetworkSpec(2, hidden=(3,)), "hidden[0]", ["LayerSpec"]),
    (lambda: NetworkSpec(2, hidden=(LayerSpec(1),) * 33), "hidden", ["32"]),
])
def test_spec_errors_name_the_parameter(make, parameter, words):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert message.startswith(parameter + ":"), message
    for word in words:
        assert word in message, (word, message)


def test_valid_alphas_are_accepted():
    for name, default in DEFAULT_ALPHA.items():
        assert LayerSpec(2, name).resolved_alpha == default
        assert LayerSpec(2, name, alpha=0.0).resolved_alpha == 0.0
    assert LayerSpec(2, "tanh").resolved_alpha == 0.0
