"""Optimizer steps against textbook formulas, live hyper-parameter changes, schedules,
reduce-on-plateau and early stopping, and the validation of all of them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from playground.engine import (
    OPTIMIZERS,
    SCHEDULES,
    EarlyStopping,
    Network,
    Trainer,
    make_optimizer,
    make_schedule,
)

from .helpers import build, labels_for


# --- reference optimizers, one dictionary of state each ---------------------------------------
def ref_sgd(state, p, g, lr, momentum=0.0, nesterov=False):
    v = state.get("v", np.zeros_like(p))
    v = momentum * v - lr * g
    state["v"] = v
    return momentum * v - lr * g if nesterov else v


def ref_rmsprop(state, p, g, lr, rho=0.9, momentum=0.0, epsilon=1e-8):
    s = rho * state.get("s", np.zeros_like(p)) + (1 - rho) * g**2
    state["s"] = s
    scaled = g / (np.sqrt(s) + epsilon)
    if momentum:
        state["b"] = momentum * state.get("b", np.zeros_like(p)) + scaled
        return -lr * state["b"]
    return -lr * scaled


def ref_adagrad(state, p, g, lr, epsilon=1e-8):
    state["G"] = state.get("G", np.zeros_like(p)) + g**2
    return -lr * g / (np.sqrt(state["G"]) + epsilon)


def ref_adam(state, p, g, lr, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=None):
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = beta1 * state.get("m", np.zeros_like(p)) + (1 - beta1) * g
    v = state["v"] = beta2 * state.get("v", np.zeros_like(p)) + (1 - beta2) * g**2
    step = -lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + epsilon)
    if weight_decay is not None:  # AdamW: decoupled, on every parameter
        step = step - lr * weight_decay * p
    return step


CASES = {
    "sgd": ("sgd", {}, ref_sgd),
    "sgd-momentum": ("sgd", {"momentum": 0.8}, ref_sgd),
    "sgd-nesterov": ("sgd", {"momentum": 0.8, "nesterov": True}, ref_sgd),
    "rmsprop": ("rmsprop", {"rho": 0.7, "epsilon": 1e-3}, ref_rmsprop),
    "rmsprop-momentum": ("rmsprop", {"rho": 0.9, "momentum": 0.6}, ref_rmsprop),
    "adagrad": ("adagrad", {"epsilon": 1e-2}, ref_adagrad),
    "adam": ("adam", {"beta1": 0.5, "beta2": 0.9, "epsilon": 1e-4}, ref_adam),
    "adamw": ("adamw", {"weight_decay": 0.1}, ref_adam),
}
DEFAULT_WEIGHT_DECAY = 0.01


@pytest.mark.parametrize("case", list(CASES))
def test_steps_match_the_textbook(case):
    name, hyper, reference = CASES[case]
    rng = np.random.default_rng(0)
    p = rng.normal(size=7)
    ours_p, ref_p, state = p.copy(), p.copy(), {}
    ref_hyper = dict(hyper)
    if name == "adamw":
        ref_hyper.setdefault("weight_decay", DEFAULT_WEIGHT_DECAY)
    opt = make_optimizer(name, 7, **hyper)
    out = np.full(7, np.nan)
    for k in range(6):
        g = rng.normal(size=7)
        lr = 0.1 / (k + 1)  # the rate may change every step
        opt.step(ours_p, g, out, lr)
        assert np.all(np.isfinite(out))
        ours_p += out
        ref_p += reference(state, ref_p, g, lr, **ref_hyper)
        np.testing.assert_allclose(ours_p, ref_p, rtol=1e-13, atol=1e-15)
    assert opt.steps == 6


def test_step_does_not_touch_the_parameters():
    for name in OPTIMIZERS:
        p = np.ones(3)
        make_optimizer(name, 3).step(p, np.ones(3), np.zeros(3), 0.1)
        np.testing.assert_array_equal(p, 1.0)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_reads_adjacent_gradient_and_update_rows_in_place(name):
    """With the update row right after the gradient row (as in the network's buffer),
    Adam squares the gradient into the update row and reads both as one array; the
    steps are the same to the last bit as with separate arrays, and the gradient row
    is left as it was."""
    rng = np.random.default_rng(4)
    n = 37
    buffer = np.zeros((3, n))
    params, grad, update = buffer
    params[...] = rng.normal(size=n)
    loose = [params.copy(), np.empty(n), np.empty(n)]
    together, apart = make_optimizer(name, n), make_optimizer(name, n)
    for _ in range(5):
        grad[...] = rng.normal(size=n)
        loose[1][...] = grad
        together.step(params, grad, update, 0.01)
        apart.step(loose[0], loose[1], loose[2], 0.01)
        np.testing.assert_array_equal(grad, loose[1])
        np.testing.assert_array_equal(update, loose[2])
        params += update
        loose[0] += loose[2]
    # The terms the sums add are the buffer's rows themselves, or else the optimizer's.
    assert np.shares_memory(together.step_code(grad, update)[1]["terms"], buffer)
    assert not np.shares_memory(apart.step_code(*loose[1:])[1]["terms"], loose[1])
    np.testing.assert_array_equal(together.m, apart.m)
    np.testing.assert_array_equal(together.v, apart.v)


def test_set_keeps_the_state():
    opt = make_optimizer("adam", 4)
    rng = np.random.default_rng(1)
    p, out = np.zeros(4), np.zeros(4)
    for _ in range(3):
        opt.step(p, rng.normal(size=4), out, 0.01)
    m, v, steps = opt.m.copy(), opt.v.copy(), opt.steps
    opt.set(beta1=0.5, epsilon=1e-3)
    np.testing.assert_array_equal(opt.m, m)
    np.testing.assert_array_equal(opt.v, v)
    assert opt.steps == steps
    assert opt.hyper == {"beta1": 0.5, "beta2": 0.999, "epsilon": 1e-3}
    # The next step uses the new values with the old moments.
    g = rng.normal(size=4)
    opt.step(p, g, out, 0.01)
    state = {"t": steps, "m": m, "v": v}
    expected = ref_adam(state, p, g, 0.01, beta1=0.5, epsilon=1e-3)
    np.testing.assert_allclose(out, expected, rtol=1e-13)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_new_betas_keep_adams_moments(name):
    """Adam keeps decayed sums scaled by 1 - beta; new betas must leave the moments
    (to the last bit or so) and the next step must use them with the new betas."""
    opt = make_optimizer(name, 5)
    rng = np.random.default_rng(7)
    p, out = rng.normal(size=5), np.zeros(5)
    for _ in range(4):
        opt.step(p, rng.normal(size=5), out, 0.01)
    m, v = opt.m, opt.v
    opt.set(beta1=0.8, beta2=0.99)
    np.testing.assert_allclose(opt.m, m, rtol=2e-16, atol=0)
    np.testing.assert_allclose(opt.v, v, rtol=2e-16, atol=0)
    g = rng.normal(size=5)
    opt.step(p, g, out, 0.01)
    wd = {"weight_decay": 0.01} if name == "adamw" else {}
    expected = ref_adam({"t": 4, "m": m, "v": v}, p, g, 0.01, beta1=0.8, beta2=0.99, **wd)
    np.testing.assert_allclose(out, expected, rtol=1e-13)


def test_sgd_momentum_change_keeps_the_velocity():
    opt = make_optimizer("sgd", 2, momentum=0.9)
    p, out = np.zeros(2), np.zeros(2)
    opt.step(p, np.array([1.0, -1.0]), out, 0.1)
    opt.set(momentum=0.5, nesterov=True)
    opt.step(p, np.array([1.0, 1.0]), out, 0.1)
    # v = 0.5 * (-0.1, 0.1) - 0.1 * (1, 1) = (-0.15, -0.05); step = 0.5 v - 0.1 g
    np.testing.assert_allclose(opt.velocity, [-0.15, -0.05])
    np.testing.assert_allclose(out, [-0.175, -0.125])


def test_state_round_trip():
    for name in OPTIMIZERS:
        a, b = make_optimizer(name, 3), make_optimizer(name, 3)
        p, out_a, out_b = np.ones(3), np.zeros(3), np.zeros(3)
        a.step(p, np.array([1.0, 2.0, 3.0]), out_a, 0.1)
        b.load_state(a.state())
        g = np.array([0.5, -1.0, 2.0])
        a.step(p, g, out_a, 0.1)
        b.step(p, g, out_b, 0.1)
        np.testing.assert_array_equal(out_a, out_b)


def _setup(seed=0):
    net = build("tanh", "softmax", 2, width=6, seed=seed)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 2)), labels_for("softmax", 40, rng)
    return net, x, y


def test_a_mid_run_change_equals_a_two_phase_manual_run():
    net, x, y = _setup()
    opt = make_optimizer("adam", net.n_params)
    trainer = Trainer(net, opt, x, y, learning_rate=0.01, batch_size=8, shuffle=False,
                      eval_every=None)
    trainer.run(100)
    trainer.set_learning_rate(0.002)
    opt.set(beta1=0.7)
    assert trainer.learning_rate == 0.002
    log = trainer.run(100).log
    np.testing.assert_array_equal(log.learning_rate, 0.002)
    assert trainer.step == 200 and opt.steps == 200

    manual, _, _ = _setup()
    manual_opt = make_optimizer("adam", manual.n_params)
    x_aug, t = Network.augment(x), manual.encode_targets(y)
    for step in range(200):
        if step == 100:
            manual_opt.set(beta1=0.7)
        rows = slice(8 * step % 40, 8 * step % 40 + 8)
        manual.loss_and_grad(x_aug[rows], t[rows])
        manual_opt.step(manual.params, manual.grad, manual.update,
                        0.01 if step < 100 else 0.002)
        manual.params += manual.update
    np.testing.assert_allclose(net.params, manual.params, rtol=0, atol=1e-14)


# --- schedules ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params", "expected"), [
    ("constant", {}, {0: 1.0, 10**6: 1.0}),
    ("step", {"step_size": 100, "gamma": 0.5}, {0: 1.0, 99: 1.0, 100: 0.5, 250: 0.25}),
    ("exponential", {"decay_rate": 0.5, "decay_steps": 100},
     {0: 1.0, 50: math.sqrt(0.5), 100: 0.5, 300: 0.125}),
    ("cosine", {"total_steps": 100, "min_factor": 0.1},
     {0: 1.0, 50: 0.55, 25: 0.1 + 0.9 * 0.5 * (1 + math.sqrt(0.5)), 100: 0.1, 1000: 0.1}),
    ("reduce_on_plateau", {}, {0: 1.0, 5000: 1.0}),
])
def test_schedule_factors(name, params, expected):
    schedule = make_schedule(name, **params)
    for step, factor in expected.items():
        assert schedule.factor(step) == pytest.approx(factor, rel=1e-14), step


def test_trainer_applies_the_schedule_to_the_base_rate():
    net, x, y = _setup()
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), x, y, learning_rate=0.1,
                      batch_size=8, schedule=make_schedule("step", step_size=3, gamma=0.5),
                      eval_every=None)
    log = trainer.run(7).log
    np.testing.assert_allclose(log.learning_rate, [0.1] * 3 + [0.05] * 3 + [0.025])
    trainer.set_learning_rate(1.0)  # the schedule keeps shaping a new base rate
    assert trainer.learning_rate == pytest.approx(0.25)


def test_reduce_on_plateau_halves_after_patience():
    schedule = make_schedule("reduce_on_plateau", factor=0.5, patience=3, min_factor=0.2)
    schedule.observe(1.0)  # the first value is an improvement
    for _ in range(2):
        schedule.observe(1.0)
        assert schedule.factor(0) == 1.0
    schedule.observe(0.99995)  # better, but by less than the relative threshold 1e-4
    assert schedule.factor(0) == 0.5
    schedule.observe(0.5)  # a real improvement resets the wait
    for _ in range(2):
        schedule.observe(float("nan"))  # ignored
        schedule.observe(0.6)
    assert schedule.factor(0) == 0.5
    schedule.observe(0.6)
    assert schedule.factor(0) == 0.25
    for _ in range(3):
        schedule.observe(0.6)
    assert schedule.factor(0) == 0.2  # floored at min_factor


def test_reduce_on_plateau_in_the_trainer():
    net, x, y = _setup()
    # A rate so small that the loss cannot improve by the relative threshold.
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), x, y, x, y,
                      learning_rate=1e-12, batch_size=8, eval_every=5,
                      schedule=make_schedule("reduce_on_plateau", patience=2))
    rates = trainer.run(30).log.learning_rate
    # Evaluations at steps 5, 10, ...: the first sets the best, the 2nd and 3rd wait, and
    # the rate halves for the steps after step 15, again after 25.
    np.testing.assert_allclose(rates, [1e-12] * 15 + [5e-13] * 10 + [2.5e-13] * 5)


# --- early stopping -------------------------------------------------------------------------
def test_early_stopping_rule():
    es = EarlyStopping(patience=20, min_delta=0.1)
    assert es.observe(10, 1.0) == (True, False)
    assert es.observe(20, 0.95) == (False, False)  # not better by min_delta
    assert es.observe(29, float("nan")) == (False, False)
    assert es.observe(30, 0.8) == (True, False)
    assert es.observe(49, 0.8) == (False, False)
    assert es.observe(50, 0.8) == (False, True)
    assert es.best == 0.8 and es.best_step == 30


def test_early_stopping_stops_and_restores_the_best_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    net = build("tanh", "sigmoid", 1, width=6, seed=1)
    # The test labels are the opposite: the better it learns, the worse the test loss.
    trainer = Trainer(net, make_optimizer("adam", net.n_params), x, y, x, 1 - y,
                      learning_rate=0.01, batch_size=10, eval_every=10,
                      early_stopping=EarlyStopping(patience=50, restore_best=True))
    result = trainer.run(10_000)
    assert result.stopped and result.stopped == trainer.stopped
    best = min(result.evaluations, key=lambda ev: ev.test_loss)
    assert f"step {trainer.step}" in result.stopped
    assert f"restored the weights of step {best.step}" in result.stopped
    assert trainer.step == best.step + 50 == result.log.step[-1]
    assert net.evaluate(x, 1 - y)[0] == pytest.approx(best.test_loss, rel=1e-12)
    assert best.test_loss < result.evaluations[-1].test_loss
    assert len(trainer.run(10).log) == 0


def test_early_stopping_without_restore_keeps_the_last_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    net = build("tanh", "sigmoid", 1, width=6, seed=1)
    trainer = Trainer(net, make_optimizer("adam", net.n_params), x, y, x, 1 - y,
                      learning_rate=0.01, batch_size=10, eval_every=10,
                      early_stopping=EarlyStopping(patience=50, restore_best=False))
    result = trainer.run(10_000)
    assert "restored" not in result.stopped
    assert net.evaluate(x, 1 - y)[0] == pytest.approx(result.evaluations[-1].test_loss,
                                                      rel=1e-12)


# --- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "parameter", "words"), [
    (lambda: make_optimizer("lbfgs", 3), "optimizer", list(OPTIMIZERS)),
    (lambda: make_optimizer("sgd", 3, nesterov=True), "nesterov", ["momentum > 0"]),
    (lambda: make_optimizer("sgd", 3, momentum=1.0), "momentum", ["[0, 1)"]),
    (lambda: make_optimizer("sgd", 3, momentum=-0.1), "momentum", ["[0, 1)"]),
    (lambda: make_optimizer("sgd", 3, momentum=0.9, nesterov=1), "nesterov", ["true or false"]),
    (lambda: make_optimizer("rmsprop", 3, rho=1.5), "rho", ["[0, 1)"]),
    (lambda: make_optimizer("rmsprop", 3, epsilon=0.0), "epsilon", ["> 0"]),
    (lambda: make_optimizer("adagrad", 3, epsilon=-1e-8), "epsilon", ["> 0"]),
    (lambda: make_optimizer("adam", 3, beta1=float("nan")), "beta1", ["[0, 1)"]),
    (lambda: make_optimizer("adam", 3, beta2=1.0), "beta2", ["[0, 1)"]),
    (lambda: make_optimizer("adamw", 3, weight_decay=-0.01), "weight_decay", [">= 0"]),
    (lambda: make_optimizer("adam", 3, momentum=0.9), "momentum",
     ["adam", "beta1", "beta2", "epsilon"]),
    (lambda: make_optimizer("adagrad", 3, rho=0.9), "rho", ["adagrad", "epsilon"]),
    (lambda: make_schedule("warmup"), "schedule", list(SCHEDULES)),
    (lambda: make_schedule("step", step_size=0), "step_size", [">= 1"]),
    (lambda: make_schedule("step", step_size=2.5), "step_size", ["integer"]),
    (lambda: make_schedule("step", gamma=1.5), "gamma", ["(0, 1]"]),
    (lambda: make_schedule("step", gamma=0.0), "gamma", ["(0, 1]"]),
    (lambda: make_schedule("exponential", decay_rate=-0.5), "decay_rate", ["(0, 1]"]),
    (lambda: make_schedule("exponential", decay_steps=0), "decay_steps", [">= 1"]),
    (lambda: make_schedule("cosine", total_steps=-5), "total_steps", [">= 1"]),
    (lambda: make_schedule("cosine", min_factor=1.0), "min_factor", ["[0, 1)"]),
    (lambda: make_schedule("reduce_on_plateau", factor=1.0), "factor", ["(0, 1)"]),
    (lambda: make_schedule("reduce_on_plateau", patience=0), "patience", [">= 1"]),
    (lambda: make_schedule("step", decay=0.5), "schedule step", ["decay"]),
    (lambda: EarlyStopping(patience=0), "patience", [">= 1"]),
    (lambda: EarlyStopping(min_delta=-1.0), "min_delta", [">= 0"]),
])
def test_errors_name_the_parameter(make, parameter, words):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert message.startswith(parameter + ":"), message
    for word in words:
        assert word in message, (word, message)


def test_a_rejected_change_leaves_the_optimizer_as_it_was():
    opt = make_optimizer("sgd", 3, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        opt.set(momentum=0.0)
    assert opt.hyper == {"momentum": 0.9, "nesterov": True}
