"""The generated training pass and step, the heads' training lines and the trainer's check
schedule."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.engine import (
    LayerSpec,
    Network,
    NetworkSpec,
    Trainer,
    make_optimizer,
    training_pass,
)
from playground.engine import activations as act
from playground.engine.heads import HEADS, make_head

from .helpers import labels_for


def _net(head: str, layers: tuple[LayerSpec, ...], seed: int = 0) -> Network:
    k = {"softmax": 3, "linear": 2}.get(head, 1)
    return Network(NetworkSpec(2, layers, k, head), np.random.default_rng(seed))


def _batch(net: Network, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * 2
    return Network.augment(x), net.encode_targets(labels_for(net.spec.head, n, rng))


def _called_pass(net: Network, x_aug: np.ndarray, t: np.ndarray, monkeypatch):
    """The same pass written without inlining: every activation called as a function."""
    with monkeypatch.context() as m:
        m.setattr(act, "INLINE", {})
        twin = Network(net.spec, np.random.default_rng(0))
        twin.params[...] = net.params
        loss, _ = twin.loss_and_grad(x_aug, t)
        assert all(f"f{i}(" in twin._work[len(x_aug)].source
                   for i in range(len(net.hidden_layers)))
    return loss, twin.grad.copy()


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", sorted(act.INLINE))
@pytest.mark.parametrize("widths", [(5, 4), (5, 5, 5)])
def test_inlined_activations_change_nothing(head, activation, widths, monkeypatch):
    net = _net(head, tuple(LayerSpec(u, activation) for u in widths))
    x_aug, t = _batch(net, 7)
    loss, _ = net.loss_and_grad(x_aug, t)
    source = net._work[7].source
    assert "f0(" not in source and "df1(" not in source  # the lines were written in
    # Layers of one width take their derivative together, over the stacked outputs.
    assert ("derivative of layers 1 to 3 at once" in source) == (len(set(widths)) == 1)
    called_loss, called_grad = _called_pass(net, x_aug, t, monkeypatch)
    assert loss == called_loss
    np.testing.assert_array_equal(net.grad, called_grad)


@pytest.mark.parametrize("widths", [(4,), (4, 4, 4)])
def test_relu_masks_in_the_bits_match_the_float_masks_at_zero(widths, monkeypatch):
    """The pass takes relu's 0/1 derivative and multiplies it in on the floats' bits
    (``activations.MASK_BITS``). Units whose pre-activation is exactly 0 (all weights 0,
    so +0.0 or -0.0 by the inputs' signs) or negative must get dL/dz = 0, as with the
    float mask, and the others dL/da itself, whatever its sign."""
    # relu's outputs are >= +0.0, never -0.0, whose bits are a negative integer
    # (BLAS gives +0.0 for a sum of zeros, so the pass below meets only +0.0).
    for n in (5, 300):
        z = np.tile([-0.0, 0.0, -1.5, 2.0, -np.inf], n // 5)
        assert not np.signbit(act.apply("relu", z)).any()
    net = _net("softmax", tuple(LayerSpec(u, "relu") for u in widths))
    for layer in net.hidden_layers:
        layer.Wb[:, 0] = 0.0  # unit 0: z = 0 exactly, of either sign
        layer.Wb[-1, 0] = -0.0
        layer.Wb[:, 1] = -np.abs(layer.Wb[:, 1])  # unit 1: z < 0 on inputs >= 0
        layer.Wb[-1, 1] = -1.0
    x_aug, t = _batch(net, 9)
    x_aug[:3, :2] = -np.abs(x_aug[:3, :2])  # 0 * negative inputs give -0.0
    x_aug[3:, :2] = np.abs(x_aug[3:, :2])
    loss, _ = net.loss_and_grad(x_aug, t)
    source = net._work[9].source
    assert "_bits" in source and "sign(" in source
    w = net._work[9]
    for i, layer in enumerate(net.hidden_layers):
        assert np.all(w.d[i][0] == 0) and np.all(np.isfinite(w.d[i]))
        assert np.all(layer.gWb[:, 0] == 0)
        active = w.act[i] > 0
        np.testing.assert_array_equal(w.d[i][active], w.da[i][active])
        np.testing.assert_array_equal(w.d[i][~active], 0.0)
    called_loss, called_grad = _called_pass(net, x_aug, t, monkeypatch)
    assert loss == called_loss
    np.testing.assert_array_equal(net.grad, called_grad)


@pytest.mark.parametrize("head", HEADS)
def test_the_inlined_head_matches_head_train(head):
    """The pass writes the head's lines in; ``Head.train`` compiles the same lines."""
    net = _net(head, (LayerSpec(6, "elu", batch_norm=True), LayerSpec(4, "prelu", dropout=0.3)))
    x_aug, t = _batch(net, 9)
    loss, _ = net.loss_and_grad(x_aug, t, np.random.default_rng(2))
    w = net._work[9]
    last = net.output_layer.index
    z = w.z[last].copy()
    a, d = np.empty_like(z), np.empty_like(z)
    assert make_head(head).train(z, np.ascontiguousarray(t.T), a, d) == loss
    np.testing.assert_array_equal(a, w.out)
    np.testing.assert_array_equal(d, w.d[last])


def test_the_source_names_every_step_of_the_layers():
    net = _net("softmax", (LayerSpec(4, "prelu", batch_norm=True, dropout=0.2),
                           LayerSpec(3, "tanh")))
    source = net._work_for(5).source
    for piece in ("# layer 1: 4 prelu", "bn_forward(layer0", "dropout_forward(layer0",
                  "tanh(h1, act1)", "logaddexp(head_row0, head_row1, head_lse)",
                  "multiply(da0, mask0, da0)", "prelu_slope_grad(layer0",
                  "bn_backward(layer0", "x_t.dot(d0_t, g0)", "add_penalty(l1, l2)"):
        assert piece in source, piece
    assert source.index("bn_forward") < source.index("f0(h0") < source.index("dropout_forward")


# --- heads at extreme logits ------------------------------------------------------------------
def test_sigmoid_head_at_extreme_logits_stays_exact():
    head = make_head("sigmoid")
    z = np.array([[-800.0, -40.0, 0.0, 40.0, 800.0, -800.0]])
    t = np.array([[0.0, 0.0, 1.0, 1.0, 1.0, 1.0]])
    a, d = np.empty_like(z), np.empty_like(z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = head.train(z, t, a, d)
    # Per sample: softplus(z) - t z = 0, ~4e-18, log 2, ~4e-18, 0 and 800.
    assert loss == pytest.approx((np.log(2.0) + 800.0) / 6, rel=1e-15)
    np.testing.assert_allclose(a, [[0.0, np.exp(-40.0), 0.5, 1 - np.exp(-40.0), 1.0, 0.0]],
                               rtol=1e-15, atol=0)
    np.testing.assert_array_equal(d, (a - t) * (1.0 / 6))


def test_softmax_head_at_extreme_logits_stays_finite():
    head = make_head("softmax")
    z = np.array([[1000.0, 0.0], [-1000.0, 1.0], [0.0, 2.0]])
    t = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # sample 0 is 2000 logits wrong
    a, d = np.empty_like(z), np.empty_like(z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = head.train(z, t, a, d)
    lse1 = np.log(np.exp(0.0) + np.exp(1.0) + np.exp(2.0))
    assert loss == pytest.approx((2000.0 + lse1 - 2.0) / 2, rel=1e-15)
    np.testing.assert_allclose(a[:, 0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(d, (a - t) * 0.5)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_softmax_lines_with_a_spare_row_give_the_same_bits(k, scale):
    """Logits with a spare row below them (as the training pass lays them out) take
    z - logsumexp(z) from one product; the result is the subtraction's, to the bit."""
    rng = np.random.default_rng(k)
    n = 9
    joint = np.empty((k + 1, n))
    z = joint[:k]
    z[...] = rng.normal(size=(k, n)) * scale
    z[0, 0], z[-1, 1] = 800.0, -800.0
    t = np.eye(k)[rng.integers(0, k, n)].T.copy()
    head = make_head("softmax")
    lines, _ = head.train_code(z, np.empty_like(z), np.empty_like(z))
    assert "spread.dot(z_lse, a)" in lines
    a, d = np.empty_like(z), np.empty_like(z)
    a2, d2 = np.empty_like(z), np.empty_like(z)
    with np.errstate(over="raise", invalid="raise"):
        loss = head.train(z, t, a, d)
        plain = head.train(z.copy(), t, a2, d2)  # no spare row: the subtraction
    assert loss == plain
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(d, d2)


# --- when the trainer evaluates ------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(eval_every=st.integers(1, 40), pieces=st.lists(st.integers(0, 45), min_size=1,
                                                       max_size=5),
       with_deadline=st.booleans())
def test_evaluations_fall_on_multiples_however_runs_are_cut(eval_every, pieces, with_deadline):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    net = _net("sigmoid", (LayerSpec(3, "tanh"),))
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), x, (x[:, 0] > 0) * 1,
                      learning_rate=0.1, batch_size=7, eval_every=eval_every)
    deadline = time.perf_counter() + 600 if with_deadline else None
    steps = []
    for n in pieces:
        steps += [ev.step for ev in trainer.run(n, deadline).evaluations]
    total = sum(pieces)
    assert trainer.step == total
    assert steps == list(range(eval_every, total + 1, eval_every))


# --- the trainer's generated step --------------------------------------------------------------
_OPTIMIZERS = [("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
               ("rmsprop", {"momentum": 0.5}), ("adagrad", {}), ("adam", {}),
               ("adamw", {"weight_decay": 0.1})]


_RELU = (LayerSpec(5, "relu"), LayerSpec(5, "relu"))


def _stepped(optimizer, hyper, steps, change=None, l2=0.0, layers=_RELU):
    """A trainer's run of ``steps`` (in two halves, ``change`` applied to the optimizer
    in between with ``set``) beside the same steps taken one call at a time: the
    network's pass (dropout drawn from a twin of the trainer's dropout generator), the
    optimizer's ``step`` and the move of the parameters."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 2))
    y = labels_for("softmax", 24, rng)
    net, manual = _net("softmax", layers), _net("softmax", layers)
    opt = make_optimizer(optimizer, net.n_params, **hyper)
    manual_opt = make_optimizer(optimizer, net.n_params, **hyper)
    trainer = Trainer(net, opt, x, y, learning_rate=0.02, batch_size=8, eval_every=None,
                      shuffle=False, l2=l2, dropout_rng=np.random.default_rng(6))
    dropout_rng = np.random.default_rng(6)
    logs = [trainer.run(steps // 2).log]
    if change:
        opt.set(**change)
    logs.append(trainer.run(steps - steps // 2).log)
    x_aug, t = Network.augment(x), manual.encode_targets(y)
    losses = []
    for k in range(steps):
        if change and k == steps // 2:  # a fresh optimizer, with the state so far
            fresh = make_optimizer(optimizer, net.n_params, **{**hyper, **change})
            fresh.load_state(manual_opt.state())
            if hasattr(fresh, "sums") and all(
                    fresh.hyper[b] == manual_opt.hyper[b] for b in ("beta1", "beta2")):
                fresh.sums[...] = manual_opt.sums  # Adam's own form, to the bit
            manual_opt = fresh
        rows = slice(8 * (k % 3), 8 * (k % 3) + 8)
        loss, penalty = manual.loss_and_grad(x_aug[rows], t[rows], dropout_rng, l2=l2)
        losses.append(loss + penalty)
        manual_opt.step(manual.params, manual.grad, manual.update, 0.02)
        manual.params += manual.update
    return trainer, logs, manual, manual_opt, losses


@pytest.mark.parametrize(("optimizer", "hyper"), _OPTIMIZERS)
def test_the_generated_step_is_the_pass_then_the_optimizer(optimizer, hyper):
    trainer, logs, manual, manual_opt, losses = _stepped(optimizer, hyper, 10, l2=1e-3)
    assert [*logs[0].loss, *logs[1].loss] == losses
    np.testing.assert_array_equal(trainer.network.buffer, manual.buffer)
    state, manual_state = trainer.optimizer.state(), manual_opt.state()
    assert state.keys() == manual_state.keys() and int(state["steps"]) == 10
    for name, value in state.items():
        np.testing.assert_array_equal(value, manual_state[name])
    # The history behind the norms saw the same parameters, gradients and updates.
    for k, layer in enumerate(manual.layers):
        w = manual.params[layer.weight_slice]
        assert logs[1].weight_norm[-1, k] == pytest.approx(np.linalg.norm(w), rel=1e-14)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_the_generated_step_with_batch_norm_dropout_and_prelu(optimizer):
    layers = (LayerSpec(6, "prelu", dropout=0.25, batch_norm=True), LayerSpec(4, "tanh"),
              LayerSpec(4, "elu", batch_norm=True))
    trainer, logs, manual, manual_opt, losses = _stepped(optimizer, {}, 9, l2=1e-3,
                                                         layers=layers)
    assert [*logs[0].loss, *logs[1].loss] == losses
    np.testing.assert_array_equal(trainer.network.buffer, manual.buffer)
    for layer, twin in zip(trainer.network.hidden_layers, manual.hidden_layers):
        if layer.batch_norm:
            np.testing.assert_array_equal(layer.running_mean, twin.running_mean)
            np.testing.assert_array_equal(layer.running_var, twin.running_var)


@pytest.mark.parametrize(("optimizer", "hyper", "change"), [
    ("adam", {}, {"beta1": 0.5, "epsilon": 1e-3}),
    ("adamw", {"weight_decay": 0.1}, {"weight_decay": 0.5, "beta2": 0.9}),
    ("adamw", {"weight_decay": 0.0}, {"weight_decay": 0.2}),
    ("sgd", {"momentum": 0.9}, {"momentum": 0.1}),
])
def test_a_hyper_parameter_changed_between_runs_reaches_the_generated_step(
        optimizer, hyper, change):
    trainer, logs, manual, _, losses = _stepped(optimizer, hyper, 8, change)
    assert [*logs[0].loss, *logs[1].loss] == losses
    np.testing.assert_array_equal(trainer.network.params, manual.params)


def test_the_step_writes_the_lines_of_adam_in_and_calls_the_others():
    net = _net("softmax", (LayerSpec(4, "tanh"),))
    adam = training_pass.build_step(net, net._work_for(6),
                                    make_optimizer("adam", net.n_params))[1]
    assert "opt.steps = t = opt.steps + 1" in adam and "opt_step(" not in adam
    assert "multiply(grad, grad, update)" in adam  # g^2 into the update row, read as a pair
    assert "add(opt_sums, opt_terms, opt_sums)" in adam
    assert "divide(opt_first, opt_tmp, update)" in adam
    assert adam.index("x_t.dot(d0_t, g0)") < adam.index("opt.steps") \
        < adam.index("add(params, update, params)") < adam.index("square(buf, hist)")
    rms = training_pass.build_step(net, net._work_for(6),
                                   make_optimizer("rmsprop", net.n_params))[1]
    assert "opt_step(params, grad, update, lr)" in rms
    folded = training_pass.build_step(net, net._work_for(6), None)[1]
    assert "add(params, grad, params)" in folded
    assert "opt_" not in folded and "opt.steps" not in folded
