"""The compiled fast path against the numpy reference.

Each comparison trains two trainers built from the same seed, one on each path, and
requires the parameters, gradients, updates, optimizer state and every per-step record to
agree to 1e-12 after 500 steps. The tests that need the kernels skip when numba is not
installed; the ones about choosing a path run either way.

Tolerances are absolute on values of order one. Learning rates are moderate on purpose:
with L1 and an adaptive optimizer (RMSprop above all) a trajectory is chaotic, so that
the numpy engine itself, nudged by one unit in the last place of one weight, ends
percents away after a few hundred steps; no second implementation can follow it to 1e-12
there, so L1 is checked with SGD and Adagrad, and the adaptive optimizers with L2.
RMSprop, which turns even a vanishing gradient into a full-size step, also gets half the
learning rate (at 0.01 a linear network drifts to 1e-12 by step 500; at 0.005, 2e-14).
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from playground.engine import (
    ACTIVATIONS,
    HEADS,
    OPTIMIZERS,
    EarlyStopping,
    LayerSpec,
    Network,
    NetworkSpec,
    Trainer,
    compiled,
    make_optimizer,
    make_schedule,
)

from .helpers import N_OUTPUTS, labels_for

TOL = 1e-12
STEPS = 500


@pytest.fixture(scope="module")
def kernels():
    """The compiled kernels, warmed up (skips the test without numba).

    The warm-up is process-wide; this module warms a warm-up object of its own, so that
    the tests after it find the kernels as cold as before and train on numpy, as they
    would have without this module.
    """
    if not compiled.numba_installed():
        pytest.skip("numba is not installed")
    if not compiled.enabled_by_environment():
        pytest.skip(f"the fast path is switched off ({compiled.ENV_VAR})")
    from playground.engine.compiled import kernels as module
    from playground.engine.compiled.warmup import WarmUp

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiled, "_WARM_UP", WarmUp())
        assert compiled.warm_up(timeout=900), compiled.why_not(_pair("tanh", "sigmoid")[1])
        yield module


@pytest.fixture(autouse=True)
def _fast_path_allowed(monkeypatch):
    """Each test starts with the environment allowing the fast path (tests that need the
    kernels still skip, through ``kernels``, when the environment switched it off)."""
    monkeypatch.delenv(compiled.ENV_VAR, raising=False)


def _pair(activation: str, head: str, optimizer: str = "sgd", *, hyper=None, width=4,
          dropout=0.0, l1=0.0, l2=0.0, lr=None, batch_size=7, eval_every=10,
          schedule=None, early_stopping=None, n=40):
    """Two trainers built alike: a numpy reference and one allowed the fast path."""
    if lr is None:
        lr = 0.005 if optimizer == "rmsprop" else 0.01
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(n, 2)), rng.normal(size=(15, 2))
    y, y_test = labels_for(head, n, rng), labels_for(head, 15, rng)
    spec = NetworkSpec(2, (LayerSpec(width, activation), LayerSpec(width, activation,
                                                                  dropout=dropout)),
                       N_OUTPUTS[head], head)
    trainers = []
    for fast in (False, True):
        net = Network(spec, np.random.default_rng(3))
        trainers.append(Trainer(
            net, make_optimizer(optimizer, net.n_params, **(hyper or {})), x, y, x_test,
            y_test, learning_rate=lr, batch_size=batch_size, l1=l1, l2=l2,
            eval_every=eval_every, batch_rng=np.random.default_rng(4),
            dropout_rng=np.random.default_rng(5), fast_path=fast,
            schedule=make_schedule(**schedule) if schedule else None,
            early_stopping=EarlyStopping(**early_stopping) if early_stopping else None))
    return trainers


def assert_same_run(reference: Trainer, fast: Trainer, ref_result, fast_result) -> None:
    """Same weights, gradients, updates, optimizer state, records and evaluations."""
    assert fast.engine_path == "compiled", fast.fallback_reason
    assert reference.engine_path == "numpy"
    np.testing.assert_allclose(fast.network.buffer, reference.network.buffer, rtol=0, atol=TOL)
    ref_state, fast_state = reference.optimizer.state(), fast.optimizer.state()
    assert ref_state.keys() == fast_state.keys()
    for key in ref_state:
        np.testing.assert_allclose(fast_state[key], ref_state[key], rtol=TOL, atol=TOL)
    assert (fast.step, fast.epoch, fast._pos) == (reference.step, reference.epoch,
                                                 reference._pos)
    a, b = ref_result.log, fast_result.log
    np.testing.assert_array_equal(b.step, a.step)
    np.testing.assert_array_equal(b.learning_rate, a.learning_rate)
    np.testing.assert_allclose(b.loss, a.loss, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(b.penalty, a.penalty, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(b.norms, a.norms, rtol=1e-10, atol=TOL)
    assert len(fast_result.evaluations) == len(ref_result.evaluations)
    for ev_a, ev_b in zip(ref_result.evaluations, fast_result.evaluations):
        assert (ev_b.step, ev_b.epoch) == (ev_a.step, ev_a.epoch)
        assert ev_b.train_accuracy == ev_a.train_accuracy
        assert ev_b.test_accuracy == ev_a.test_accuracy
        np.testing.assert_allclose([ev_b.train_loss, ev_b.test_loss, ev_b.penalty],
                                   [ev_a.train_loss, ev_a.test_loss, ev_a.penalty],
                                   rtol=1e-11, atol=TOL)
    assert (fast_result.diverged, fast_result.stopped) == (ref_result.diverged,
                                                           ref_result.stopped)


def _run_both(reference: Trainer, fast: Trainer, steps: int = STEPS):
    return reference.run(steps), fast.run(steps)


# ------------------------------------------------------------------------- the matrix
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_head_and_optimizer_matches_the_reference(
        kernels, activation, head, optimizer):
    reference, fast = _pair(activation, head, optimizer, l2=1e-3)
    assert_same_run(reference, fast, *_run_both(reference, fast))


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_l1_and_l2_match_the_reference(kernels, activation, head, optimizer):
    reference, fast = _pair(activation, head, optimizer, l1=1e-3, l2=1e-3)
    ref_result, fast_result = _run_both(reference, fast)
    assert ref_result.log.penalty.min() > 0
    assert_same_run(reference, fast, ref_result, fast_result)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dropout_with_the_same_masks_matches_the_reference(kernels, activation, optimizer):
    reference, fast = _pair(activation, "softmax", optimizer, dropout=0.3, l2=1e-3)
    assert_same_run(reference, fast, *_run_both(reference, fast))
    # Both drew the same numbers from their dropout streams.
    assert reference.dropout_rng.random() == fast.dropout_rng.random()


@pytest.mark.parametrize(("optimizer", "hyper"), [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"momentum": 0.5, "rho": 0.8}),
    ("adamw", {"weight_decay": 0.1}),
    ("adam", {"beta1": 0.5, "beta2": 0.9, "epsilon": 1e-6}),
])
def test_optimizer_options_match_the_reference(kernels, optimizer, hyper):
    reference, fast = _pair("tanh", "sigmoid", optimizer, hyper=hyper, l2=1e-3)
    assert_same_run(reference, fast, *_run_both(reference, fast))


@pytest.mark.parametrize("alpha", [0.05, 0.4])
@pytest.mark.parametrize("activation", ["leaky_relu", "prelu", "elu"])
def test_activation_parameters_match_the_reference(kernels, activation, alpha):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), np.arange(30) % 2
    spec = NetworkSpec(2, (LayerSpec(5, activation, alpha=alpha),), 1, "sigmoid")
    trainers = []
    for fast in (False, True):
        net = Network(spec, np.random.default_rng(1))
        trainers.append(Trainer(net, make_optimizer("adam", net.n_params), x, y,
                                learning_rate=0.01, fast_path=fast))
    assert_same_run(*trainers, *_run_both(*trainers))


@pytest.mark.parametrize(("activation", "head", "optimizer", "dropout"), [
    ("tanh", "sigmoid", "sgd", 0.0),
    ("relu", "softmax", "adam", 0.2),
    ("prelu", "linear", "rmsprop", 0.0),
])
@pytest.mark.parametrize(("width", "batch_size"), [(16, 10), (13, 32), (9, 5)])
def test_wide_layers_match_the_reference(kernels, activation, head, optimizer, dropout,
                                         width, batch_size):
    """Widths and batches that take every block of the kernels' dense products: eight
    and four units or inputs at a time and the leftovers, pairs of sample groups and an
    odd last group."""
    reference, fast = _pair(activation, head, optimizer, width=width, dropout=dropout,
                            l2=1e-3, batch_size=batch_size)
    assert_same_run(reference, fast, *_run_both(reference, fast))


def test_an_unshuffled_run_matches_the_reference(kernels):
    reference, fast = _pair("tanh", "softmax", "adam")
    reference.shuffle = fast.shuffle = False
    assert_same_run(reference, fast, *_run_both(reference, fast))


def test_a_network_without_hidden_layers_matches_the_reference(kernels):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), np.arange(30) % 3
    spec = NetworkSpec(2, (), 3, "softmax")
    trainers = []
    for fast in (False, True):
        net = Network(spec, np.random.default_rng(1))
        trainers.append(Trainer(net, make_optimizer("sgd", net.n_params), x, y,
                                learning_rate=0.1, batch_size=4, fast_path=fast))
    assert_same_run(*trainers, *_run_both(*trainers))


# ------------------------------------------------------------------ schedules and stops
@pytest.mark.parametrize("schedule", [
    {"name": "step", "step_size": 100, "gamma": 0.5},
    {"name": "exponential", "decay_rate": 0.5, "decay_steps": 200},
    {"name": "cosine", "total_steps": 300, "min_factor": 0.1},
    {"name": "reduce_on_plateau", "factor": 0.5, "patience": 3},
])
def test_schedules_give_the_same_rates_and_trajectory(kernels, schedule):
    reference, fast = _pair("relu", "softmax", "adam", lr=0.02, schedule=schedule)
    ref_result, fast_result = _run_both(reference, fast)
    assert len(set(ref_result.log.learning_rate)) > 1
    assert_same_run(reference, fast, ref_result, fast_result)


def test_early_stopping_stops_at_the_same_step_and_restores_the_same_weights(kernels):
    stop = {"patience": 40, "min_delta": 1e-3, "restore_best": True}
    reference, fast = _pair("tanh", "sigmoid", "adam", lr=0.05, early_stopping=stop)
    ref_result, fast_result = _run_both(reference, fast, 5000)
    assert ref_result.stopped and "restored the weights" in ref_result.stopped
    assert_same_run(reference, fast, ref_result, fast_result)
    assert fast.run(10).stopped == fast.stopped and len(fast.run(10).log) == 0


def test_divergence_is_reported_at_the_same_step(kernels):
    reference, fast = _pair("relu", "linear", "sgd", lr=5.0, width=8)
    with np.errstate(over="ignore", invalid="ignore"):
        ref_result, fast_result = _run_both(reference, fast, 300)
    assert ref_result.diverged and ref_result.diverged == fast_result.diverged
    assert len(fast_result.log) == len(ref_result.log)
    np.testing.assert_array_equal(fast_result.log.step, ref_result.log.step)
    assert len(fast.run(5).log) == 0  # a diverged trainer refuses further steps


def test_a_nan_weight_stops_the_compiled_run_at_the_next_step(kernels):
    _, fast = _pair("tanh", "softmax")
    fast.run(3)
    fast.network.layers[0].W[0, 0] = np.nan
    result = fast.run(5)
    assert len(result.log) == 1
    assert result.diverged.startswith("Training diverged at step 4")


# ---------------------------------------------------------------- switching paths
def test_switching_paths_mid_run_continues_the_same_trajectory(kernels):
    reference, switching = _pair("tanh", "softmax", "adam", dropout=0.2, l2=1e-3)
    switching.fast_path = False
    logs = [switching.run(123)]
    assert switching.engine_path == "numpy"
    switching.fast_path = True
    logs.append(switching.run(200))
    assert switching.engine_path == "compiled"
    switching.fast_path = False
    logs.append(switching.run(STEPS - 323))
    assert switching.engine_path == "numpy"
    ref_result = reference.run(STEPS)
    np.testing.assert_allclose(switching.network.buffer, reference.network.buffer,
                               rtol=0, atol=TOL)
    np.testing.assert_allclose(np.concatenate([r.log.loss for r in logs]),
                               ref_result.log.loss, rtol=TOL, atol=TOL)
    assert switching.optimizer.steps == reference.optimizer.steps == STEPS
    assert (switching.step, switching.epoch) == (reference.step, reference.epoch)


def test_runs_of_any_length_chain_into_one_trajectory(kernels):
    reference, fast = _pair("gelu", "classic", "rmsprop", dropout=0.1)
    ref_result = reference.run(STEPS)
    done = 0
    for n in (1, 2, 5, 6, 13, 100, 373):
        done += len(fast.run(n).log)
    assert done == STEPS
    np.testing.assert_allclose(fast.network.buffer, reference.network.buffer, rtol=0,
                               atol=TOL)
    assert fast.dropout_rng.random() == reference.dropout_rng.random()
    assert ref_result.log.step[-1] == fast.step


def test_a_long_run_split_into_many_calls_is_one_trajectory(kernels, monkeypatch):
    from playground.engine.compiled import runner

    monkeypatch.setattr(runner, "MAX_CALL_STEPS", 7)
    reference, fast = _pair("swish", "softmax", "adamw", dropout=0.2, batch_size=6)
    assert_same_run(reference, fast, *_run_both(reference, fast))


def test_a_deadline_ends_the_compiled_run_early_but_consistently(kernels):
    reference, fast = _pair("relu", "sigmoid", "sgd")
    result = fast.run(10**7, deadline=time.perf_counter() + 0.05)
    assert 0 < len(result.log) < 10**7
    assert fast.step == len(result.log) == result.log.step[-1]
    reference.run(fast.step)
    np.testing.assert_allclose(fast.network.buffer, reference.network.buffer, rtol=0,
                               atol=TOL)


def test_no_kernel_call_starts_too_close_to_the_deadline(kernels, monkeypatch):
    """Each call costs about a millisecond of Python around the kernel; a run makes its
    calls (after the first) only while MIN_CALL_SECONDS or more are left."""
    from playground.engine.compiled import runner

    _, fast = _pair("relu", "sigmoid", "sgd")
    fast.run(50)  # a speed estimate
    deadline = time.perf_counter() + 0.2
    left = []
    call = runner.CompiledRunner._call

    def timed_call(self, *args):
        left.append(deadline - time.perf_counter())
        return call(self, *args)

    monkeypatch.setattr(runner.CompiledRunner, "_call", timed_call)
    monkeypatch.setattr(runner, "MAX_CALL_STEPS", 64)  # many calls before the deadline
    fast.run(10**7, deadline=deadline)
    assert len(left) > 3
    # The run looks at the clock just before it calls; a millisecond allows for the
    # Python in between on a busy machine.
    assert min(left[1:]) >= runner.MIN_CALL_SECONDS - 0.001
    assert deadline - time.perf_counter() < runner.MIN_CALL_SECONDS + 0.05


# ---------------------------------------------------------------- choosing the path
def test_batch_normalization_falls_back_to_numpy_and_says_why():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), np.arange(20) % 2
    spec = NetworkSpec(2, (LayerSpec(4, "relu", batch_norm=True),), 1, "sigmoid")
    net = Network(spec, np.random.default_rng(0))
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), x, y, fast_path=True)
    result = trainer.run(20)
    assert len(result.log) == 20
    assert trainer.engine_path == "numpy"
    assert "batch normalization" in trainer.fallback_reason


def test_a_subclassed_optimizer_is_not_compiled():
    from playground.engine.optimizers import SGD

    class Custom(SGD):
        pass

    reference, _ = _pair("tanh", "sigmoid")
    reference.fast_path = True
    reference.optimizer = Custom(reference.network.n_params)
    reference.run(1)
    assert reference.engine_path == "numpy"
    assert "Custom" in reference.fallback_reason


def test_the_fast_path_can_be_switched_off_per_trainer():
    reference, _ = _pair("tanh", "sigmoid")
    reference.run(1)
    assert reference.engine_path == "numpy"
    assert "training.fast_path" in reference.fallback_reason


def test_the_environment_switches_the_fast_path_off(kernels, monkeypatch):
    monkeypatch.setenv(compiled.ENV_VAR, "0")
    _, fast = _pair("tanh", "sigmoid")
    fast.run(5)
    assert fast.engine_path == "numpy"
    assert "PLAYGROUND_FAST_PATH=0" in fast.fallback_reason
    monkeypatch.setenv(compiled.ENV_VAR, "1")
    fast.run(5)
    assert fast.engine_path == "compiled"


def test_the_kernels_compile_once_for_every_configuration(kernels):
    """One generic kernel: no configuration may trigger a second compilation."""
    assert len(kernels.train_steps.signatures) == 1
    assert len(kernels.predict.signatures) <= 2  # float32 (drawing) and float64


# ---------------------------------------------------------------- prediction
@pytest.mark.parametrize("activation", ["relu", "tanh", "prelu", "swish"])
@pytest.mark.parametrize("head", HEADS)
def test_compiled_prediction_matches_the_network(kernels, activation, head):
    _, fast = _pair(activation, head)
    fast.run(50)
    x = np.random.default_rng(9).normal(size=(300, 2))
    runner = fast._runner
    np.testing.assert_allclose(runner.predict(x, np.float64), fast.network.predict(x),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(runner.predict(x, np.float32),
                               fast.network.predict(x, dtype=np.float32), rtol=0, atol=1e-5)
    expected = fast.network.predict(x, dtype=np.float32)
    np.testing.assert_allclose(fast.predict(x, np.float32), expected, rtol=0, atol=1e-5)


def test_the_faster_prediction_is_chosen_by_timing_once_per_input_size(kernels, monkeypatch):
    from playground.engine.compiled import runner as runner_module

    _, fast = _pair("relu", "sigmoid")
    fast.run(20)
    runner = fast._runner
    timed = []

    def fake_best_time(call, repeats=3):
        timed.append(call)
        return 1.0 if len(timed) % 2 else 2.0  # the compiled pass always "wins"

    monkeypatch.setattr(runner_module, "_best_time", fake_best_time)
    calls = []
    monkeypatch.setattr(runner, "predict", lambda x, dtype: calls.append(len(x)) or
                        np.zeros((len(x), 1), dtype=dtype))
    x = np.zeros((40, 2))
    fast.predict(x, np.float32)
    fast.predict(x, np.float32)
    assert len(timed) == 2  # timed once for this size and dtype
    assert calls == [40, 40]  # both predictions went to the compiled pass
    fast.predict(np.zeros((7, 2)), np.float32)
    assert len(timed) == 4
    runner._predicts_faster.clear()
    monkeypatch.setattr(runner_module, "_best_time",
                        lambda call, repeats=3: timed.append(call) or (2.0 if len(timed) % 2
                                                                         else 1.0))
    calls.clear()
    out = fast.predict(x, np.float32)  # numpy now "wins": its result is returned
    assert calls == [] and out.shape == (40, 1)
    np.testing.assert_array_equal(out, fast.network.predict(x, dtype=np.float32))


def test_the_kernels_tanh_is_within_two_units_in_the_last_place_of_numpys(kernels):
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], 4000) * 10.0 ** rng.uniform(-12.0, 1.6, 4000)
    x = np.concatenate([x, [0.0, 0.625, -0.625, 19.1, 40.0, 1e300, np.inf, -np.inf]])
    got = np.array([kernels._tanh(v) for v in x])
    expected = np.tanh(x)
    assert np.max(np.abs(got - expected) / np.spacing(np.abs(expected))) <= 2
    assert np.isnan(kernels._tanh(np.nan))


def test_the_kernels_exp_is_within_two_units_in_the_last_place_of_numpys(kernels):
    """The softmax's exp, on x <= 0: near numpy's down to -708, and a number of no weight
    (about e^-708) below, where numpy's is smaller still or 0."""
    rng = np.random.default_rng(0)
    x = -(10.0 ** rng.uniform(-12.0, np.log10(708.0), 4000))
    x = np.concatenate([x, [0.0, -0.5 * np.log(2.0), -1.0, -700.0, -708.0]])
    got = np.array([kernels._exp_inline(v) for v in x])
    expected = np.exp(x)
    assert np.max(np.abs(got - expected) / np.spacing(expected)) <= 2
    assert kernels._exp_inline(0.0) == 1.0
    for far in (-709.0, -1e4, -np.inf):
        assert 0.0 <= kernels._exp_inline(far) < 1e-307
    assert np.isnan(kernels._exp_inline(np.nan))


# ---------------------------------------------------------------- warm-up and cache
def test_warm_up_is_idempotent_and_ready(kernels):
    compiled.warm_up_in_background()
    assert compiled.is_ready()
    assert compiled.warm_up(timeout=0)
    assert compiled.warm_up_seconds() is not None


def test_a_warm_up_from_the_cache_skips_what_only_compiling_needs(kernels):
    """A fresh process loading what the fixture cached: numba's start-up would import
    scipy.linalg, and a load through numba's usual way refreshes the compiler's rule
    modules (numba.np.linalg among them); the warm-up keeps both out, and its self-check
    has trained the loaded kernels."""
    code = ("import sys\n"
            "from playground.engine import compiled\n"
            "assert compiled.warm_up(), compiled.failure()\n"
            "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'scipy'))\n"
            "print('numba.np.linalg' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=600)
    assert out.stdout.split("\n")[:2] == ["[]", "False"]


class _FakeCache:
    """The two methods of numba's cache that ``load_quickly`` uses, recorded."""

    def __init__(self, quick):
        self.quick, self.calls = quick, []

    def _load_overload(self, sig, context):
        self.calls.append("quick")
        return self.quick()

    def load_overload(self, sig, context):
        self.calls.append("usual")
        return "compiled the usual way"


@pytest.mark.parametrize(("quick", "calls", "result"), [
    (lambda: "loaded", ["quick"], "loaded"),
    (lambda: None, ["quick", "usual"], "compiled the usual way"),
    (lambda: 1 / 0, ["quick", "usual"], "compiled the usual way"),
])
def test_the_quick_load_falls_back_to_numbas_own(quick, calls, result):
    cache = pytest.importorskip("playground.engine.compiled.cache")
    from numba.core.registry import cpu_target

    dispatcher = type("Dispatcher", (), {})()
    dispatcher._cache = _FakeCache(quick)
    assert cache.load_quickly(dispatcher) is dispatcher
    assert dispatcher._cache.load_overload("sig", cpu_target.target_context) == result
    assert dispatcher._cache.calls == calls


def test_the_cache_goes_to_the_first_writable_folder(tmp_path):
    cache = pytest.importorskip("playground.engine.compiled.cache")
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    good = tmp_path / "cache"
    assert cache.choose_folder([blocked / "numba", good]) == good
    assert good.is_dir()
    assert cache.choose_folder([blocked / "numba"]) is None


def test_a_one_file_bundle_does_not_cache(monkeypatch, tmp_path):
    cache = pytest.importorskip("playground.engine.compiled.cache")
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path / "_MEI12345"), raising=False)
    assert cache.unpacked_per_launch()
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path / "playground" / "_internal"))
    assert not cache.unpacked_per_launch()


def test_without_numba_everything_trains_on_numpy(monkeypatch):
    import playground.engine.compiled.selection as selection

    monkeypatch.setattr(compiled, "numba_installed", lambda: False)
    monkeypatch.setattr(selection, "numba_installed", lambda: False)
    _, fast = _pair("tanh", "sigmoid")
    fast.run(3)
    assert fast.engine_path == "numpy"
    assert fast.fallback_reason == "numba is not installed"


# ---------------------------------------------------------------- through an experiment
def _experiment(**training):
    from playground.experiment.config import (
        DataConfig,
        Experiment,
        LayerConfig,
        NetworkConfig,
        TrainingConfig,
    )

    return Experiment(
        seed=5,
        data=DataConfig(dataset="circle", n_samples=120, noise=0.1),
        network=NetworkConfig(layers=(LayerConfig(6, "relu"),
                                      LayerConfig(4, "relu", batch_norm=training.pop(
                                          "batch_norm", False)))),
        training=TrainingConfig(**training),
    )


def test_snapshots_say_which_path_ran(kernels):
    from playground.experiment.session import TrainingSession

    fast = TrainingSession(_experiment(), grid_size=8)
    fast.train_for(50)
    snap = fast.snapshot()
    assert (snap.engine, snap.engine_note, snap.events) == ("compiled", None, ())
    slow = TrainingSession(_experiment(fast_path=False), grid_size=8)
    slow.train_for(50)
    snap_slow = slow.snapshot()
    assert snap_slow.engine == "numpy" and "training.fast_path" in snap_slow.engine_note
    np.testing.assert_allclose(fast.trainer.network.params, slow.trainer.network.params,
                               rtol=0, atol=TOL)
    np.testing.assert_allclose(snap.boundary, snap_slow.boundary, rtol=0, atol=1e-5)


def test_an_uncovered_experiment_tells_the_user_once(kernels):
    from playground.experiment.session import TrainingSession

    session = TrainingSession(_experiment(batch_norm=True), grid_size=8)
    session.train_for(20)
    first, second = session.snapshot(), session.snapshot()
    assert first.engine == "numpy" and "batch normalization" in first.engine_note
    assert any("numpy engine" in event for event in first.events)
    assert second.events == ()


def test_the_fast_path_option_applies_live(kernels):
    import dataclasses

    from playground.experiment.build import apply_training
    from playground.experiment.session import TrainingSession

    session = TrainingSession(_experiment(), grid_size=8)
    old = session.experiment.training
    session.train_for(10)
    assert session.trainer.engine_path == "compiled"
    apply_training(session.trainer, old, dataclasses.replace(old, fast_path=False))
    session.train_for(10)
    assert session.trainer.engine_path == "numpy"
