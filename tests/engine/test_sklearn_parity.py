"""Training step for step against scikit-learn's MLPClassifier and MLPRegressor.

Recipe (exact to rounding): fit the estimator once for one epoch so that it sets up all
its attributes, copy our initial weights into ``coefs_``/``intercepts_``, then ``fit`` again
with ``warm_start=True``. A warm-started ``fit`` keeps the weights but builds a fresh
SGD optimizer (zero velocities), so both sides start from the same state. With
``shuffle=False`` scikit-learn walks the data in order in ``gen_batches`` slices, which
is what our trainer does with ``shuffle=False``. scikit-learn adds ``alpha * W / batch``
to the weight gradient, so our ``l2`` is ``alpha / batch_size``; its reported batch loss
then equals ours (data loss plus ``0.5 * l2 * ||W||^2``), and ``loss_curve_`` holds the
per-epoch means of our per-step losses.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from playground.engine import LayerSpec, Network, NetworkSpec, Trainer, make_optimizer

sklearn_nn = pytest.importorskip("sklearn.neural_network")
ConvergenceWarning = pytest.importorskip("sklearn.exceptions").ConvergenceWarning

STEPS = 200
MOMENTA = {"sgd": (0.0, False), "momentum": (0.9, False), "nesterov": (0.9, True)}
OUR_ACTIVATION = {"tanh": "tanh", "relu": "relu", "logistic": "sigmoid"}


def _data(task: str, n: int):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, 2))
    if task == "binary":
        return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    if task == "3-class":
        return x, (np.floor(np.arctan2(x[:, 1], x[:, 0]) / (2 * np.pi / 3)) % 3).astype(np.int64)
    return x, np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2


def _fit_quietly(estimator, x, y):
    with warnings.catch_warnings():
        # Both fits stop at max_iter on purpose.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(x, y)


def _train_both(activation, task, momentum, nesterov, *, alpha, n=40, batch=10, lr=0.05):
    x, y = _data(task, n)
    head, n_out = {"binary": ("sigmoid", 1), "3-class": ("softmax", 3),
                   "regression": ("linear", 1)}[task]
    spec = NetworkSpec(2, (LayerSpec(5, OUR_ACTIVATION[activation]),
                           LayerSpec(4, OUR_ACTIVATION[activation])), n_out, head)
    net = Network(spec, np.random.default_rng(3))

    estimator_class = (sklearn_nn.MLPRegressor if task == "regression"
                       else sklearn_nn.MLPClassifier)
    batches_per_epoch = -(-n // batch)
    assert STEPS % batches_per_epoch == 0, "choose n and batch so steps are whole epochs"
    epochs = STEPS // batches_per_epoch
    sk = estimator_class(
        hidden_layer_sizes=(5, 4), activation=activation, solver="sgd", alpha=alpha,
        batch_size=batch, learning_rate="constant", learning_rate_init=lr,
        momentum=momentum, nesterovs_momentum=nesterov, shuffle=False,
        early_stopping=False, tol=0.0, n_iter_no_change=10**9, max_iter=1, random_state=0)
    _fit_quietly(sk, x, y)
    sk.coefs_ = [layer.W.copy() for layer in net.layers]
    sk.intercepts_ = [layer.b.copy() for layer in net.layers]
    sk.set_params(warm_start=True, max_iter=epochs)
    _fit_quietly(sk, x, y)

    optimizer = make_optimizer("sgd", net.n_params, momentum=momentum, nesterov=nesterov)
    # A test set is given because a regression trainer without one fails (see test_trainer).
    trainer = Trainer(net, optimizer, x, y, x, y, learning_rate=lr, batch_size=batch,
                      l2=alpha / batch, shuffle=False, eval_every=None)
    result = trainer.run(STEPS)
    assert len(result.log) == STEPS and sk.n_iter_ == epochs
    return net, sk, result, epochs


def _max_weight_difference(net, sk):
    return max(max(np.abs(layer.W - c).max(), np.abs(layer.b - b).max())
               for layer, c, b in zip(net.layers, sk.coefs_, sk.intercepts_))


CLASSIFIER_CASES = [(a, t, m) for m in MOMENTA for a in OUR_ACTIVATION
                    for t in ("binary", "3-class")]


@pytest.mark.parametrize(("activation", "task", "momentum"), CLASSIFIER_CASES,
                         ids=["-".join(c) for c in CLASSIFIER_CASES])
def test_classifier_weights_agree_after_200_steps(activation, task, momentum):
    net, sk, result, epochs = _train_both(activation, task, *MOMENTA[momentum], alpha=1e-3)
    assert _max_weight_difference(net, sk) <= 1e-12
    per_epoch = result.log.loss.reshape(epochs, -1).mean(axis=1)
    # loss_curve_[0] is the throw-away set-up epoch.
    np.testing.assert_allclose(per_epoch, sk.loss_curve_[1:], rtol=0, atol=1e-12)
    # The run really moved the weights (so agreement is not trivial).
    assert np.abs(result.log.norms[-1, 0] - result.log.norms[0, 0]).max() > 1e-2


@pytest.mark.parametrize(("activation", "momentum"),
                         [("tanh", "sgd"), ("relu", "momentum"), ("logistic", "nesterov")])
def test_regressor_weights_agree_after_200_steps(activation, momentum):
    net, sk, result, epochs = _train_both(activation, "regression", *MOMENTA[momentum],
                                          alpha=1e-3, lr=0.01)
    assert _max_weight_difference(net, sk) <= 1e-12
    per_epoch = result.log.loss.reshape(epochs, -1).mean(axis=1)
    np.testing.assert_allclose(per_epoch, sk.loss_curve_[1:], rtol=0, atol=1e-12)


def test_a_short_last_batch_is_taken_like_gen_batches():
    # 45 samples in batches of 10: every fifth step sees 5 samples. Without L2 (whose
    # scaling differs on that short batch) the runs still agree exactly.
    net, sk, _, _ = _train_both("tanh", "3-class", 0.9, True, alpha=0.0, n=45)
    assert _max_weight_difference(net, sk) <= 1e-12


def test_parity_is_sensitive_to_l2():
    """The recipe's l2 = alpha / batch matters: a different scaling shows up."""
    net, sk, _, _ = _train_both("tanh", "binary", 0.9, False, alpha=0.5)
    assert _max_weight_difference(net, sk) <= 1e-12
    x, y = _data("binary", 40)
    wrong = Network(net.spec, np.random.default_rng(3))
    Trainer(wrong, make_optimizer("sgd", wrong.n_params, momentum=0.9), x, y,
            learning_rate=0.05, batch_size=10, l2=0.5, shuffle=False,
            eval_every=None).run(STEPS)
    assert max(np.abs(a.W - c).max() for a, c in zip(wrong.layers, sk.coefs_)) > 1e-3
