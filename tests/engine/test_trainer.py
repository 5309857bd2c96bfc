"""The training loop: batches, per-step records, evaluations, determinism, divergence."""

from __future__ import annotations

import time

import numpy as np
import pytest

from playground.engine import (
    LayerSpec,
    Network,
    NetworkSpec,
    Trainer,
    make_optimizer,
    make_streams,
)
from playground.engine.schedules import StepDecay

from .helpers import build, labels_for


def _problem(head="softmax", n=40, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), labels_for(head, n, rng)


def _trainer(net, x, y, **kwargs):
    kwargs.setdefault("learning_rate", 0.05)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("eval_every", None)
    return Trainer(net, kwargs.pop("optimizer", None) or make_optimizer("sgd", net.n_params),
                   x, y, kwargs.pop("x_test", None), kwargs.pop("y_test", None), **kwargs)


# --- batches --------------------------------------------------------------------------------
def test_without_shuffling_batches_are_consecutive_slices():
    # 22 samples in batches of 8: slices [0:8], [8:16], [16:22], then again from the start.
    x, y = _problem(n=22)
    net = build("tanh", "softmax", 1, width=4, seed=1)
    manual = build("tanh", "softmax", 1, width=4, seed=1)
    trainer = _trainer(net, x, y, shuffle=False)
    trainer.fold_plain_sgd = False  # the same arithmetic as below, to the last bit
    log = trainer.run(7).log
    x_aug, t = Network.augment(x), manual.encode_targets(y)
    starts = [0, 8, 16, 0, 8, 16, 0]
    for k, start in enumerate(starts):
        rows = slice(start, min(start + 8, 22))
        loss, _ = manual.loss_and_grad(x_aug[rows], t[rows])
        assert log.loss[k] == loss
        manual.params -= 0.05 * manual.grad
    np.testing.assert_array_equal(net.params, manual.params)


def test_epochs_count_whole_passes():
    x, y = _problem(n=22)
    trainer = _trainer(build("tanh", "softmax"), x, y)
    trainer.run(3)
    assert (trainer.step, trainer.epoch) == (3, 0)
    trainer.run(1)  # the fourth batch starts the second pass
    assert (trainer.step, trainer.epoch) == (4, 1)
    trainer.run(5)
    assert (trainer.step, trainer.epoch) == (9, 2)


def test_shuffled_epochs_visit_every_sample_once():
    # Linear network on one-hot inputs: each sample moves only its own input weight,
    # so which weights changed tells which samples a batch held.
    n = 12
    x, y = np.eye(n), np.zeros(n)
    spec = NetworkSpec(n, (), 1, "linear")
    net = Network(spec, np.random.default_rng(0))
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), x, y, x, y,
                      learning_rate=0.1, batch_size=4, eval_every=None,
                      batch_rng=np.random.default_rng(5))
    seen = []
    orders = []
    for _ in range(6):  # two epochs of three batches
        before = net.layers[0].W[:, 0].copy()
        trainer.run(1)
        seen.append(set(np.flatnonzero(net.layers[0].W[:, 0] != before)))
        assert len(seen[-1]) == 4
        if len(seen) % 3 == 0:
            batches = seen[-3:]
            assert set().union(*batches) == set(range(n))
            orders.append([sorted(b) for b in batches])
    assert orders[0] != orders[1]  # a fresh order each epoch


def _replay(manual, x, y, slices, lr=0.05):
    """Plain SGD on ``manual`` over the given index arrays, as the trainer should do."""
    x_aug, t = Network.augment(x), manual.encode_targets(y)
    losses = []
    for rows in slices:
        losses.append(manual.loss_and_grad(x_aug[rows], t[rows])[0])
        manual.params -= lr * manual.grad
    return losses


def test_shuffled_epochs_follow_the_batch_generator():
    # 22 samples in batches of 8, twenty epochs (more than the trainer draws in one go):
    # every epoch takes the batch generator's next permutation and cuts it into [0:8],
    # [8:16], [16:22].
    x, y = _problem(n=22)
    net, manual = build("tanh", "softmax", 1, width=4, seed=1), build("tanh", "softmax", 1,
                                                                       width=4, seed=1)
    trainer = _trainer(net, x, y, batch_rng=np.random.default_rng(9))
    trainer.fold_plain_sgd = False
    log = trainer.run(60).log
    rng = np.random.default_rng(9)
    slices = [order[a:b] for order in (rng.permutation(22) for _ in range(20))
              for a, b in ((0, 8), (8, 16), (16, 22))]
    assert list(log.loss) == _replay(manual, x, y, slices)
    np.testing.assert_array_equal(net.params, manual.params)


def test_a_new_batch_size_takes_effect_mid_epoch():
    # Two batches of 8, then batches of 4 from where the epoch stands.
    x, y = _problem(n=40)
    net, manual = build("tanh", "softmax", seed=2), build("tanh", "softmax", seed=2)
    trainer = _trainer(net, x, y)
    trainer.fold_plain_sgd = False
    trainer.run(2)
    order = trainer._order.copy()
    trainer.batch_size = 4
    trainer.run(3)
    assert np.array_equal(trainer._order, order)  # still the same epoch
    slices = [order[0:8], order[8:16], order[16:20], order[20:24], order[24:28]]
    _replay(manual, x, y, slices)
    np.testing.assert_array_equal(net.params, manual.params)


def test_batch_size_larger_than_the_data_is_clipped():
    x, y = _problem(n=6)
    net = build("tanh", "softmax")
    manual = build("tanh", "softmax")
    trainer = _trainer(net, x, y, batch_size=100, shuffle=False)
    trainer.fold_plain_sgd = False  # the same arithmetic as below, to the last bit
    assert trainer.batch_size == 6
    trainer.run(2)
    for _ in range(2):
        manual.loss_and_grad(Network.augment(x), manual.encode_targets(y))
        manual.params -= 0.05 * manual.grad
    np.testing.assert_array_equal(net.params, manual.params)


def test_epochs_are_counted_within_one_run():
    x, y = _problem(n=6)
    trainer = _trainer(build("tanh", "softmax"), x, y, batch_size=6)
    trainer.run(5)
    assert trainer.epoch == 4


@pytest.mark.parametrize("schedule", [None, StepDecay(step_size=7, gamma=0.5)])
def test_folding_the_rate_of_plain_sgd_changes_nothing_but_rounding(schedule):
    """Plain SGD lets the training pass scale dL/dz by -lr / n so that the gradient row
    comes out as the step; the run, its records and the rows it leaves match those of
    the usual gradient-then-step arithmetic to rounding."""
    x, y = _problem(n=30)
    runs = []
    for fold in (True, False):
        net = build("relu", "softmax", 2, width=5, seed=3)
        trainer = _trainer(net, x, y, batch_size=7, schedule=schedule, eval_every=10)
        trainer.fold_plain_sgd = fold
        log = trainer.run(45).log
        runs.append((net, trainer, log))
    (folded, tf, lf), (plain, tp, lp) = runs
    np.testing.assert_allclose(folded.buffer, plain.buffer, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lf.norms, lp.norms, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lf.loss, lp.loss, rtol=1e-12)
    np.testing.assert_array_equal(lf.learning_rate, lp.learning_rate)
    assert tf.optimizer.steps == tp.optimizer.steps == 45
    assert folded.update.any() and not np.array_equal(folded.update, folded.grad)


# --- records --------------------------------------------------------------------------------
def test_step_log_records_norms_of_each_layer():
    x, y = _problem()
    net = build("relu", "softmax", 2, width=5, seed=2)
    trainer = _trainer(net, x, y, l2=0.01, optimizer=make_optimizer("sgd", net.n_params,
                                                                    momentum=0.9))
    result = trainer.run(5)
    log = result.log
    assert len(log) == 5 and log.norms.shape == (5, 3, 3)
    np.testing.assert_array_equal(log.step, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(log.learning_rate, 0.05)
    for i, layer in enumerate(net.layers):
        assert log.grad_norm[-1, i] == pytest.approx(np.linalg.norm(layer.gW), rel=1e-12)
        assert log.weight_norm[-1, i] == pytest.approx(np.linalg.norm(layer.W), rel=1e-12)
        update = net.update[layer.weight_slice]
        assert log.update_ratio[-1, i] == pytest.approx(
            np.linalg.norm(update) / np.linalg.norm(layer.W), rel=1e-12)
    np.testing.assert_array_equal(trainer.last_norms, log.norms[-1])
    # The loss includes the penalty, which is recorded on its own as well.
    assert log.penalty[-1] == pytest.approx(net.penalty(l2=0.01), rel=0.05)
    assert np.all(log.penalty > 0) and np.all(log.loss > log.penalty)


def test_evaluations_every_n_steps():
    x, y = _problem()
    xt, yt = _problem(seed=4)
    net = build("tanh", "softmax", 1, width=4)
    trainer = _trainer(net, x, y, x_test=xt, y_test=yt, l1=0.001, eval_every=4)
    result = trainer.run(10)
    assert [ev.step for ev in result.evaluations] == [4, 8]
    last = trainer.evaluate()
    assert last.step == 10 and last.epoch == trainer.epoch
    train_loss, train_acc = net.evaluate(x, y)
    test_loss, test_acc = net.evaluate(xt, yt)
    penalty = net.penalty(l1=0.001)
    assert last.train_loss == pytest.approx(train_loss + penalty)
    assert last.penalty == pytest.approx(penalty)
    assert last.test_loss == pytest.approx(test_loss)
    assert (last.train_accuracy, last.test_accuracy) == (train_acc, test_acc)


def test_evaluation_without_a_test_set():
    x, y = _problem()
    trainer = _trainer(build("tanh", "softmax"), x, y, eval_every=2)
    ev = trainer.run(2).evaluations[0]
    assert np.isnan(ev.test_loss) and ev.test_accuracy is None
    assert 0.0 <= ev.train_accuracy <= 1.0


def test_regression_without_a_test_set():
    x, y = _problem("linear")
    trainer = _trainer(build("tanh", "linear"), x, y)
    assert len(trainer.run(3).log) == 3


def test_deadline_ends_a_run_early():
    x, y = _problem()
    trainer = _trainer(build("tanh", "softmax"), x, y)
    log = trainer.run(100_000, deadline=time.perf_counter()).log
    assert 1 <= len(log) <= 16
    assert trainer.step == len(log)


# --- determinism ----------------------------------------------------------------------------
def _seeded_run(seed: int, steps: int = 300):
    streams = make_streams(seed)
    x = streams["data"].normal(size=(50, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    spec = NetworkSpec(2, (LayerSpec(6, "relu", dropout=0.2),
                           LayerSpec(5, "tanh", dropout=0.1, batch_norm=True)), 1, "sigmoid")
    net = Network(spec, streams["init"])
    initial = net.params.copy()
    trainer = Trainer(net, make_optimizer("adam", net.n_params), x[:40], y[:40], x[40:],
                      y[40:], learning_rate=0.01, batch_size=8, eval_every=25,
                      batch_rng=streams["batches"], dropout_rng=streams["dropout"])
    return initial, net, trainer.run(steps)


def test_same_seed_same_run_bit_for_bit():
    init_a, net_a, run_a = _seeded_run(42)
    init_b, net_b, run_b = _seeded_run(42)
    assert init_a.tobytes() == init_b.tobytes()
    assert net_a.params.tobytes() == net_b.params.tobytes()
    for key, value in net_a.state().items():
        assert value.tobytes() == net_b.state()[key].tobytes()
    assert run_a.log.loss.tobytes() == run_b.log.loss.tobytes()
    assert run_a.log.norms.tobytes() == run_b.log.norms.tobytes()
    assert run_a.evaluations == run_b.evaluations
    assert len(run_a.log) == 300


def test_different_seeds_differ():
    init_a, net_a, run_a = _seeded_run(1, steps=20)
    init_b, net_b, run_b = _seeded_run(2, steps=20)
    assert not np.array_equal(init_a, init_b)
    assert not np.array_equal(run_a.log.loss, run_b.log.loss)


def test_streams_are_independent_generators():
    a, b = make_streams(7), make_streams(7)
    assert set(a) == {"data", "init", "batches", "dropout"}
    draws = {name: gen.random(4) for name, gen in a.items()}
    assert len({d.tobytes() for d in draws.values()}) == 4
    for name, gen in b.items():
        np.testing.assert_array_equal(gen.random(4), draws[name])


def test_dropout_stream_only_changes_dropout():
    # Drawing more from the dropout stream leaves initial weights and batch order alone.
    a, b = make_streams(3), make_streams(3)
    b["dropout"].random(100)
    np.testing.assert_array_equal(a["init"].random(3), b["init"].random(3))
    np.testing.assert_array_equal(a["batches"].permutation(10), b["batches"].permutation(10))


# --- divergence -----------------------------------------------------------------------------
def test_a_huge_learning_rate_is_reported_as_divergence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    y = 1e3 * rng.normal(size=20)
    net = Network(NetworkSpec(2, (LayerSpec(4, "relu"),), 1, "linear"),
                  np.random.default_rng(0))
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), x, y, x, y,
                      learning_rate=1e6, batch_size=5, eval_every=None)
    with np.errstate(all="ignore"):
        result = trainer.run(1000)
    log = result.log
    assert result.diverged is not None and result.diverged == trainer.diverged
    assert len(log) == trainer.step < 1000
    # The message names the first step whose loss, gradients or weights are not finite.
    finite = np.isfinite(log.loss) & np.all(np.isfinite(log.norms), axis=(1, 2))
    first_bad = int(log.step[np.argmin(finite)])
    assert not finite.all() and finite[: first_bad - 1].all()
    what = ("gradients" if not np.all(np.isfinite(log.norms[first_bad - 1, 1])) else
            "weights" if not np.all(np.isfinite(log.norms[first_bad - 1, 0])) else "loss")
    assert result.diverged.startswith(f"Training diverged at step {first_bad}: the {what} ")
    # The run stops right there (at most one step later, when the loss shows it).
    assert trainer.step - first_bad in (0, 1)
    assert not np.isfinite(log.loss[-1])
    again = trainer.run(10)
    assert len(again.log) == 0 and again.diverged == result.diverged
    assert trainer.step == len(result.log)


def test_a_nan_weight_is_reported_at_the_next_step():
    x, y = _problem()
    net = build("tanh", "softmax", 1, width=4)
    trainer = _trainer(net, x, y)
    trainer.run(3)
    net.layers[0].W[0, 0] = np.nan
    result = trainer.run(5)
    assert len(result.log) == 1 and trainer.step == 4
    assert result.diverged.startswith("Training diverged at step 4: the ")
    assert "became infinite or not a number" in result.diverged


# --- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "parameter", "words"), [
    ({"batch_size": 0}, "batch_size", [">= 1"]),
    ({"batch_size": 2.5}, "batch_size", ["integer"]),
    ({"batch_size": True}, "batch_size", ["integer"]),
    ({"l1": -0.1}, "l1", [">= 0"]),
    ({"l2": float("inf")}, "l2", [">= 0"]),
    ({"learning_rate": 0.0}, "learning_rate", ["> 0"]),
    ({"learning_rate": -0.1}, "learning_rate", ["> 0"]),
    ({"learning_rate": float("nan")}, "learning_rate", ["> 0"]),
    ({"eval_every": 0}, "eval_every", [">= 1"]),
])
def test_trainer_errors_name_the_parameter(kwargs, parameter, words):
    x, y = _problem()
    with pytest.raises(ValueError) as info:
        _trainer(build("tanh", "softmax"), x, y, **kwargs)
    message = str(info.value)
    assert message.startswith(parameter + ":"), message
    for word in words:
        assert word in message


def test_trainer_rejects_bad_training_data():
    net = build("tanh", "softmax")
    with pytest.raises(ValueError, match=r"x_train: expected shape \(n, 2\)"):
        _trainer(net, np.zeros((5, 3)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="x_train: the training set is empty"):
        _trainer(net, np.zeros((0, 2)), np.zeros(0, dtype=int))


def test_set_learning_rate_validates():
    x, y = _problem()
    trainer = _trainer(build("tanh", "softmax"), x, y)
    with pytest.raises(ValueError, match="learning_rate"):
        trainer.set_learning_rate(-1.0)
    assert trainer.learning_rate == 0.05
