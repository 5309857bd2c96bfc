"""The Compare dialog: variants differ in the chosen setting only, start from the same
weights, train in one thread that stops on close, and one can be made current. Every
layer of every variant gets a gradient curve in that layer's plot, in the variant's
colour, on one shared log scale."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from playground.experiment.build import build_trainer
from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    TrainingConfig,
    experiment_to_dict,
)
from playground.ui.experiments.compare_runner import (
    CompareSession,
    VariantState,
    activation_variants,
    optimizer_variants,
    variants_for,
)
from playground.ui.experiments.compare_view import CompareView, variant_colors
from playground.ui.experiments.layer_gradients import LayerGradients, log_ticks
from playground.ui.experiments.workers import COMPARE_THREAD


def compare_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == COMPARE_THREAD and t.is_alive()]


@pytest.fixture
def base() -> Experiment:
    return Experiment(
        seed=7,
        data=DataConfig(dataset="circle", n_samples=120),
        network=NetworkConfig(layers=(LayerConfig(units=5), LayerConfig(units=3)),
                              init="glorot_uniform"),
        training=TrainingConfig(max_steps=200, batch_size=10),
    )


@pytest.fixture
def deep(base) -> Experiment:
    """Three hidden layers of different widths: four plots of gradient norms."""
    layers = (LayerConfig(units=5), LayerConfig(units=4), LayerConfig(units=3))
    return replace(base, network=replace(base.network, layers=layers))


LR = "training.optimizer.learning_rate"
DEEP_LAYERS = ("layer 1", "layer 2", "layer 3", "output")


@pytest.fixture
def view(qtbot, base):
    v = CompareView(base)
    qtbot.addWidget(v)
    yield v
    v.stop()
    assert not compare_threads()


def _flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in d.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, path + "."))
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for i, item in enumerate(value):
                out.update(_flatten(item, f"{path}[{i}]."))
        else:
            out[path] = value
    return out


def _differences(a: Experiment, b: Experiment) -> set[str]:
    fa, fb = _flatten(experiment_to_dict(a)), _flatten(experiment_to_dict(b))
    return {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)}


def test_activation_variants_differ_only_in_activation(base):
    session = CompareSession(base, activation_variants())
    for e in session.experiments[1:]:
        assert _differences(session.experiments[0], e) == {
            "network.layers[0].activation", "network.layers[1].activation"}
    assert [e.network.layers[0].activation for e in session.experiments] == [
        "sigmoid", "tanh", "relu"]
    assert {e.seed for e in session.experiments} == {base.seed}


def test_optimizer_variants_change_only_the_optimizer(base):
    session = CompareSession(base, optimizer_variants())
    sgd, momentum, adam = session.experiments
    assert (sgd.training.optimizer.name, sgd.training.optimizer.momentum) == ("sgd", 0.0)
    assert (momentum.training.optimizer.name, momentum.training.optimizer.momentum) == (
        "sgd", 0.9)
    assert adam.training.optimizer.name == "adam"
    for e in session.experiments:
        assert all(d.startswith("training.optimizer.") for d in _differences(base, e))


def test_three_variants_start_from_identical_weights_and_train(qtbot, view):
    assert view.start(activation_variants())
    qtbot.waitUntil(lambda: len(view.states) == 3 and min(s.step for s in view.states) >= 50,
                    timeout=10000)
    first = view.states[0].initial_params
    for state in view.states[1:]:
        assert state.initial_params.shape == first.shape
        np.testing.assert_array_equal(state.initial_params, first)
    # ... and the activations then make them learn differently.
    assert len({float(s.loss[-1]) for s in view.states}) == 3
    for state in view.states:
        assert state.boundary is not None and state.boundary.shape == (48, 48)
    assert view.stop()
    assert not compare_threads()


def test_values_typed_in_the_editor(qtbot, view):
    view.choose("training.optimizer.learning_rate", "0.01, 0.1")
    assert view.start_from_editor()
    rates = [e.training.optimizer.learning_rate for e in view.session.experiments]
    assert rates == [0.01, 0.1]
    with qtbot.waitSignal(view.worker.finished, timeout=15000):
        pass
    assert all(s.step == 200 for s in view.states)


def test_bad_values_are_refused_with_a_message(view):
    view.choose("network.layers[*].activation", "relu")
    assert not view.start_from_editor()
    assert "2 to 6" in view.message_label.text()
    view.choose("network.layers[*].activation", "relu, nonsense")
    assert not view.start_from_editor()
    assert "nonsense" in view.message_label.text()
    assert view.worker is None


def test_close_stops_the_thread_within_a_second(qtbot, base):
    long_run = replace(base, training=replace(base.training, max_steps=10**6))
    v = CompareView(long_run)
    qtbot.addWidget(v)
    v.show()
    assert v.start(optimizer_variants())
    qtbot.waitUntil(lambda: bool(v.states), timeout=10000)
    v.close()
    assert not compare_threads()


def test_use_this_one_emits_the_variant(qtbot, view):
    view.start(optimizer_variants())
    with qtbot.waitSignal(view.experimentChosen) as blocker:
        view._cards[2].use_button.click()
    assert blocker.args[0].training.optimizer.name == "adam"


def test_menu_action_runs_a_builtin_and_use_goes_through_the_controller(qtbot, base,
                                                                        monkeypatch):
    from playground.ui.main_window import MainWindow

    window = MainWindow(base, start=False)
    qtbot.addWidget(window)
    window.experiments_menu.optimizer_action.trigger()
    compare = window.experiments_menu.compare_view
    assert compare is not None and compare.running
    compare.use_variant(1)
    assert window.controller.experiment.training.optimizer.momentum == 0.9
    window.close()
    assert not compare_threads()


# ---------------------------------------------------------------- per-layer gradients


def test_the_runner_keeps_every_layers_gradient_norm_per_chunk(deep):
    session = CompareSession(deep, variants_for(LR, [0.01, 0.3]), max_steps=150, chunk=50)
    session.build()
    for _ in range(3):
        for i in range(2):
            session.advance_one(i)
    for experiment, state in zip(session.experiments, session.states()):
        # The same run again, straight from a trainer: one mean norm per layer per chunk.
        trainer, _ = build_trainer(experiment)
        expected = [np.mean(trainer.run(50).log.grad_norm, axis=0) for _ in range(3)]
        assert state.layer_names == DEEP_LAYERS
        assert state.steps.tolist() == [50, 100, 150]
        assert state.grad_norm.shape == (3, 4)
        np.testing.assert_array_equal(state.grad_norm, np.array(expected))
        assert not state.grad_norm.flags.writeable
    first, second = session.states()
    assert not np.array_equal(first.grad_norm, second.grad_norm)  # the rates differ


def test_every_layer_of_every_variant_is_drawn_in_the_variants_colour(qtbot, deep):
    view = CompareView(deep)
    qtbot.addWidget(view)
    view.show()
    rates = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
    assert view.start(variants_for(LR, rates))
    with qtbot.waitSignal(view.worker.finished, timeout=30000):
        pass
    assert [s.step for s in view.states] == [200] * 6
    grads = view.grad_plots
    assert grads.layer_names == DEEP_LAYERS
    assert [plot.titleLabel.text for plot in grads.plots] == list(DEEP_LAYERS)
    colors = variant_colors(6)
    loss_colors = [c.opts["pen"].color().name() for c in view._loss_curves]
    assert loss_colors == colors
    for i in range(len(DEEP_LAYERS)):
        assert len(grads.curves[i]) == 6
        for j, state in enumerate(view.states):
            curve = grads.curves[i][j]
            assert curve.opts["pen"].color().name() == colors[j]
            x, y = curve.getOriginalDataset()
            np.testing.assert_array_equal(x, state.steps)
            np.testing.assert_array_equal(y, state.grad_norm[:, i])
    # Each plot shows its own layer: the columns really differ.
    norms = view.states[0].grad_norm
    assert len({norms[:, i].tobytes() for i in range(len(DEEP_LAYERS))}) == len(DEEP_LAYERS)
    # One log scale for all plots, holding every curve; one step axis with the loss plot.
    ranges = [plot.viewRange() for plot in grads.plots]
    logs = np.log10(np.concatenate([s.grad_norm.ravel() for s in view.states]))
    for x_range, y_range in ranges:
        assert y_range == pytest.approx(ranges[0][1])
        assert y_range[0] <= logs.min() and logs.max() <= y_range[1]
        assert x_range == pytest.approx(view.loss_plot.getPlotItem().viewRange()[0])
    view.stop()
    assert not compare_threads()


def _state(label: str, names: tuple[str, ...], norms: list[list[float]]) -> VariantState:
    grad_norm = np.array(norms, dtype=np.float64)
    return VariantState(label=label, step=100 * len(norms),
                        steps=100.0 * np.arange(1, len(norms) + 1),
                        loss=np.ones(len(norms)), grad_norm=grad_norm, layer_names=names,
                        boundary=None, diverged=None, initial_params=np.zeros(1))


def test_layer_plots_leave_gaps_for_bad_values_and_for_layers_a_variant_lacks(qtbot):
    grads = LayerGradients()
    qtbot.addWidget(grads)
    grads.reset(["wide", "shallow"], variant_colors(2))
    grads.show_states([
        _state("wide", ("layer 1", "layer 2", "output"),
               [[1e-3, 0.0, 0.5], [math.inf, 1e-2, 0.4], [2e-3, math.nan, 0.3]]),
        _state("shallow", ("layer 1", "output"), [[1e-4, 0.2], [2e-4, 0.1], [3e-4, 0.05]]),
    ])
    assert grads.layer_names == ("layer 1", "layer 2", "output")
    wide, shallow = zip(*grads.curves)
    np.testing.assert_array_equal(wide[0].getOriginalDataset()[1], [1e-3, np.nan, 2e-3])
    np.testing.assert_array_equal(wide[1].getOriginalDataset()[1], [np.nan, 1e-2, np.nan])
    np.testing.assert_array_equal(shallow[0].getOriginalDataset()[1], [1e-4, 2e-4, 3e-4])
    assert shallow[1].getOriginalDataset()[1] is None  # no layer 2 in that network
    np.testing.assert_array_equal(shallow[2].getOriginalDataset()[1], [0.2, 0.1, 0.05])
    low, high = grads.plots[0].viewRange()[1]
    assert low <= -4 and high >= math.log10(0.5)
    assert math.isfinite(low) and math.isfinite(high)


def test_log_ticks_label_decades_and_a_few_steps_between_on_short_axes():
    decades, minor = log_ticks(-2, 0)
    assert decades == [(-2.0, "0.01"), (-1.0, "0.1"), (0.0, "1")]
    assert [label for _, label in minor] == ["0.02", "0.05", "0.2", "0.5"]
    decades, minor = log_ticks(-7, -3)
    assert [label for _, label in decades] == ["1e-07", "1e-06", "1e-05", "1e-04", "0.001"]
    assert all(label == "" for _, label in minor)
