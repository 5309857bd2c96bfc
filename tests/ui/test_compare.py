"""The Compare dialog: variants differ in the chosen setting only, start from the same
weights, train in one thread that stops on close, and one can be made current."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

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
    activation_variants,
    optimizer_variants,
)
from playground.ui.experiments.compare_view import CompareView
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
