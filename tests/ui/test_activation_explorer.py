"""The activation explorer: its curves are the engine's, its histogram is the layer's
pre-activations, its notes come from the resources folder (or say why not)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.engine import activations as act
from playground.experiment.build import network_spec
from playground.experiment.config import DataConfig, Experiment, LayerConfig, NetworkConfig
from playground.experiment.presets import load_preset
from playground.experiment.session import SetViews, TrainingSession
from playground.ui.views.activation_explorer import (
    HISTOGRAM_BINS,
    PARAMETERS,
    ActivationExplorer,
    flat_mask,
    load_activation_notes,
)


@pytest.fixture
def explorer(qtbot):
    view = ActivationExplorer()
    qtbot.addWidget(view)
    view.resize(600, 560)
    view.show()
    return view


def trained(exp: Experiment, steps: int) -> TrainingSession:
    session = TrainingSession(exp, grid_size=8, views=SetViews(boundary=False, inside=True))
    session.trainer.run(steps)
    return session


@pytest.mark.parametrize("name", act.ACTIVATIONS)
def test_curves_are_the_engines_function_and_derivative(explorer, name):
    index = explorer.function_box.findData(name)
    explorer.function_box.setCurrentIndex(index)  # as the learner picks it
    x, f, slope = explorer.curves()
    assert len(x) > 100 and x[0] < -4 and x[-1] > 4
    np.testing.assert_allclose(f, act.apply(name, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(slope, act.derivative(name, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_the_parameter_changes_the_curves_as_in_the_engine(explorer, name):
    explorer.function_box.setCurrentIndex(explorer.function_box.findData(name))
    assert explorer.parameter_box.isVisibleTo(explorer)
    assert explorer.alpha == pytest.approx(act.DEFAULT_ALPHA[name])
    explorer.parameter_box.setValue(0.4)
    x, f, slope = explorer.curves()
    np.testing.assert_allclose(f, act.apply(name, x, 0.4), rtol=0, atol=1e-12)
    np.testing.assert_allclose(slope, act.derivative(name, x, 0.4), rtol=0, atol=1e-12)
    assert not np.allclose(f, act.apply(name, x))  # the default would look different


def test_functions_without_a_parameter_hide_the_box(explorer):
    explorer.set_activation("tanh")
    assert not explorer.parameter_box.isVisibleTo(explorer)
    assert explorer.alpha is None


def test_picking_a_layer_picks_its_activation_and_shows_its_inputs(qtbot, explorer):
    exp = Experiment(
        data=DataConfig(dataset="circle", n_samples=300),
        network=NetworkConfig(layers=(LayerConfig(5, "tanh"),
                                      LayerConfig(3, "leaky_relu", alpha=0.2))),
    )
    session = trained(exp, 100)
    snap = session.snapshot()
    explorer.set_network(network_spec(exp, session.data), session.data)
    explorer.update_from(snap)
    assert explorer.layer == 0 and explorer.activation == "tanh"
    explorer.set_layer(1)
    assert explorer.activation == "leaky_relu" and explorer.alpha == pytest.approx(0.2)
    edges, shares = explorer.histogram()
    samples = np.asarray(snap.pre_activations[1], dtype=np.float64).ravel()
    assert samples.size == 150 * 3  # every training point (150 <= 256), every unit
    assert len(shares) == HISTOGRAM_BINS and shares.sum() == pytest.approx(1.0)
    low, high = explorer.x_range
    expected, _ = np.histogram(np.clip(samples, low, high), bins=edges)
    np.testing.assert_allclose(shares, expected / samples.size)
    # The curves kept their x range in step with the histogram's.
    x, _, _ = explorer.curves()
    assert (x[0], x[-1]) == pytest.approx((low, high))


def test_dying_relu_sits_on_the_flat_side(qtbot, explorer):
    exp = load_preset("dying-relu")
    session = trained(exp, exp.training.max_steps)
    snap = session.snapshot()
    explorer.set_network(network_spec(exp, session.data), session.data)
    explorer.set_layer(2)
    explorer.update_from(snap)
    assert explorer.activation == "relu"
    assert explorer.flat_share() == pytest.approx(1.0)
    dead = int(np.sum(snap.dead_units[2]))
    assert dead >= 4
    assert f"{dead} of 8 units are dead" in explorer.stats_text()
    edges, shares = explorer.histogram()
    assert shares[edges[1:] > 0].sum() == 0  # nothing on ReLU's working side
    assert explorer.flat_regions  # the flat side is shaded


def test_flat_mask_marks_relu_negative_side_and_sigmoid_tails():
    x = np.array([-8.0, -1.0, 0.5, 1.0, 8.0])
    assert flat_mask("relu", x, None).tolist() == [True, True, False, False, False]
    assert flat_mask("sigmoid", x, None).tolist() == [True, False, False, False, True]
    assert not flat_mask("linear", x, None).any()


def test_notes_come_from_the_resources_folder(qtbot, tmp_path, monkeypatch):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "activations.json").write_text(json.dumps(
        {"relu": {"formula": "f(x) = max(0, x)", "good": "Our own good words.",
                  "bad": "Our own warning."}}), encoding="utf-8")
    monkeypatch.setenv("PLAYGROUND_RESOURCES", str(tmp_path))
    view = ActivationExplorer()
    qtbot.addWidget(view)
    view.set_activation("relu")
    assert "Our own good words." in view.note_text()
    view.set_activation("tanh")  # not in that file
    assert "There is no note" in view.note_text()


def test_missing_or_broken_notes_are_explained_not_fatal(qtbot, tmp_path):
    notes, error = load_activation_notes(tmp_path / "missing.json")
    assert notes == {} and "could not be read" in error
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    notes, error = load_activation_notes(broken)
    assert notes == {} and "not valid JSON" in error
    view = ActivationExplorer(notes_path=broken)
    qtbot.addWidget(view)
    assert "not valid JSON" in view.note_text()


def test_every_activation_has_a_note_in_the_shipped_file():
    notes, error = load_activation_notes()
    assert error == ""
    assert set(act.ACTIVATIONS) <= set(notes)
    assert all(n.good and n.bad and n.formula for n in notes.values())


def test_a_network_without_hidden_layers_says_so(qtbot, explorer):
    exp = Experiment(data=DataConfig(dataset="circle", n_samples=100),
                     network=NetworkConfig(layers=()))
    session = trained(exp, 10)
    explorer.set_network(network_spec(exp, session.data), session.data)
    explorer.update_from(session.snapshot())
    assert explorer.layer is None and not explorer.layer_box.isEnabled()
    assert "no hidden layer" in explorer.stats_text()
