"""NetworkPanel: layer rows, the output head, the initializer and the summary line."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from playground.engine import Network
from playground.experiment.build import network_spec, prepare_data
from playground.experiment.config import (
    ACTIVATIONS,
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
)
from playground.ui.panels import NetworkPanel
from playground.ui.panels.network_panel import (
    ACTIVATION_TIPS,
    head_description,
    network_summary,
    parameter_count,
)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LAYERS = (LayerConfig(4, "tanh"), LayerConfig(3, "relu"), LayerConfig(2, "sigmoid"))
BASE = Experiment(network=NetworkConfig(layers=LAYERS))


@pytest.fixture
def panel(qtbot):
    p = NetworkPanel(BASE)
    qtbot.addWidget(p)
    return p


def edited(qtbot, panel, action):
    with qtbot.waitSignal(panel.experimentEdited, timeout=3000) as blocker:
        action()
    return blocker.args[0]


def with_layers(exp: Experiment, *layers: LayerConfig) -> Experiment:
    return replace(exp, network=replace(exp.network, layers=tuple(layers)))


def with_layer(exp: Experiment, index: int, **changes) -> Experiment:
    layers = list(exp.network.layers)
    layers[index] = replace(layers[index], **changes)
    return with_layers(exp, *layers)


def shown_error(panel) -> str:
    label = panel.message_label
    return label.plain_text() if label.kind == "error" and not label.isHidden() else ""


def type_into(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


# -- one row per layer -----------------------------------------------------------------


def test_rows_show_the_layers(panel):
    assert len(panel.rows) == 3
    assert [r.units.value() for r in panel.rows] == [4, 3, 2]
    assert [r.activation.currentText() for r in panel.rows] == ["tanh", "relu", "sigmoid"]
    assert [r.title.text() for r in panel.rows] == ["1", "2", "3"]
    combo = panel.rows[0].activation
    assert [combo.itemText(i) for i in range(combo.count())] == list(ACTIVATIONS)
    for i, name in enumerate(ACTIVATIONS):
        assert combo.itemData(i, Qt.ItemDataRole.ToolTipRole) == ACTIVATION_TIPS[name]


def test_units_change_only_that_layer_and_is_debounced(qtbot, panel):
    received = []
    panel.experimentEdited.connect(received.append)
    for units in (5, 6, 7):
        panel.rows[1].units.setValue(units)
        qtbot.wait(40)  # a burst with short gaps, as when an arrow is held
    qtbot.waitUntil(lambda: len(received) == 1, timeout=2000)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        pass
    assert received == [with_layer(BASE, 1, units=7)]


def test_activation_change(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.rows[0].activation.setCurrentText("gelu"))
    assert new == with_layer(BASE, 0, activation="gelu")


def test_alpha_only_for_leaky_relu_prelu_and_elu(qtbot, panel):
    row = panel.rows[0]
    assert not row.alpha.isEnabled() and row.alpha.text() == ""
    edited(qtbot, panel, lambda: row.activation.setCurrentText("leaky_relu"))
    assert row.alpha.isEnabled()
    assert row.alpha.text() == "0.01"  # the default shown
    new = edited(qtbot, panel, lambda: type_into(qtbot, row.alpha, "0.2"))
    assert new == with_layer(BASE, 0, activation="leaky_relu", alpha=0.2)
    new = edited(qtbot, panel, lambda: row.activation.setCurrentText("elu"))
    assert new.network.layers[0].alpha is None  # elu starts from its own default
    assert row.alpha.text() == "1"


def test_invalid_alpha_is_shown_inline_and_not_emitted(qtbot):
    start = with_layer(BASE, 2, activation="elu")
    p = NetworkPanel(start)
    qtbot.addWidget(p)
    with qtbot.assertNotEmitted(p.experimentEdited, wait=300):
        type_into(qtbot, p.rows[2].alpha, "0")
    error = shown_error(p)
    assert "Layer 3 alpha" in error and "network.layers[2].alpha" in error
    assert p.rows[2].alpha.text() == "1"
    assert p.experiment() == start
    with qtbot.assertNotEmitted(p.experimentEdited, wait=300):
        type_into(qtbot, p.rows[2].alpha, "1e")
    assert "not a number" in shown_error(p)


def test_dropout_and_batch_norm(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.rows[2].dropout.setValue(0.25))
    assert new == with_layer(BASE, 2, dropout=0.25)
    new = edited(qtbot, panel, panel.rows[1].batch_norm.click)
    assert new == with_layer(with_layer(BASE, 2, dropout=0.25), 1, batch_norm=True)


# -- adding, removing, moving ----------------------------------------------------------


def test_add_layer_copies_the_last_one(qtbot, panel):
    new = edited(qtbot, panel, panel.add_button.click)
    assert new == with_layers(BASE, *LAYERS, LAYERS[-1])
    assert len(panel.rows) == 4


def test_add_layer_to_an_empty_network_gives_four_tanh_units(qtbot):
    start = with_layers(BASE)
    p = NetworkPanel(start)
    qtbot.addWidget(p)
    assert not p.empty_label.isHidden()
    new = edited(qtbot, p, p.add_button.click)
    assert new == with_layers(start, LayerConfig(4, "tanh"))


def test_remove_layer(qtbot, panel):
    new = edited(qtbot, panel, panel.rows[1].remove.click)
    assert new == with_layers(BASE, LAYERS[0], LAYERS[2])
    assert [r.title.text() for r in panel.rows] == ["1", "2"]
    assert [r.units.value() for r in panel.rows] == [4, 2]


def test_move_up_and_down(qtbot, panel):
    assert not panel.rows[0].up.isEnabled() and not panel.rows[2].down.isEnabled()
    new = edited(qtbot, panel, panel.rows[2].up.click)
    assert new == with_layers(BASE, LAYERS[0], LAYERS[2], LAYERS[1])
    new = edited(qtbot, panel, panel.rows[0].down.click)
    assert new == with_layers(BASE, LAYERS[2], LAYERS[0], LAYERS[1])
    assert [r.activation.currentText() for r in panel.rows] == ["sigmoid", "tanh", "relu"]


def test_remove_all(qtbot, panel):
    new = edited(qtbot, panel, panel.remove_all_button.click)
    assert new == with_layers(BASE)
    assert panel.rows == []
    assert not panel.remove_all_button.isEnabled()
    assert panel.summary.text() == "Network: 2 \u2192 1, 3 parameters"


def test_a_pending_units_edit_lands_on_its_layer_before_a_move(qtbot, panel):
    received = []
    panel.experimentEdited.connect(received.append)
    panel.rows[2].units.setValue(9)  # still being debounced
    panel.rows[2].up.click()
    assert received == [
        with_layer(BASE, 2, units=9),
        with_layers(BASE, LAYERS[0], replace(LAYERS[2], units=9), LAYERS[1]),
    ]


def test_no_more_than_twelve_layers(qtbot, panel):
    for _ in range(9):
        edited(qtbot, panel, panel.add_button.click)
    assert len(panel.experiment().network.layers) == 12
    assert not panel.add_button.isEnabled()


def test_apply_one_activation_to_all_layers(qtbot, panel):
    panel.all_activation.setCurrentText("swish")
    new = edited(qtbot, panel, panel.apply_all.click)
    assert new == with_layers(BASE, *(replace(layer, activation="swish") for layer in LAYERS))


# -- big networks ----------------------------------------------------------------------


def test_ten_layers_of_256_units_can_be_built_in_the_panel(qtbot):
    p = NetworkPanel(with_layers(BASE, LayerConfig(4)))
    qtbot.addWidget(p)
    p.resize(320, 700)
    p.show()
    for _ in range(9):
        edited(qtbot, p, p.add_button.click)
    for row in p.rows:
        edited(qtbot, p, lambda row=row: row.units.setValue(256))
    layers = p.experiment().network.layers
    assert [layer.units for layer in layers] == [256] * 10
    assert [r.units.value() for r in p.rows] == [256] * 10
    assert p.summary.text().startswith("Network: 2 \u2192 256 \u2192 256")
    # All rows can be reached by scrolling inside the panel.
    assert p.scroll_area.verticalScrollBar().maximum() > 0


def test_set_experiment_with_ten_wide_layers_refreshes_all_rows(qtbot, panel):
    big = with_layers(BASE, *(LayerConfig(256, "relu") for _ in range(10)))
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        panel.set_experiment(big)
    assert len(panel.rows) == 10
    assert all(r.units.value() == 256 and r.activation.currentText() == "relu" for r in panel.rows)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        panel.set_experiment(BASE)
    assert len(panel.rows) == 3


# -- summary and output head -----------------------------------------------------------


def test_summary_of_the_default_network():
    assert network_summary(Experiment()) == "2 \u2192 4 \u2192 2 \u2192 1, 25 parameters"


@pytest.mark.parametrize(
    "exp",
    [
        Experiment(),
        Experiment(
            data=DataConfig(dataset="spiral", n_classes=3, features=("x1", "x2", "sin(x1)")),
            network=NetworkConfig(
                layers=(LayerConfig(5, "prelu"), LayerConfig(3, "relu", batch_norm=True)),
            ),
        ),
        Experiment(
            data=DataConfig(dataset="reg_gauss"),
            network=NetworkConfig(layers=(LayerConfig(6, "prelu", batch_norm=True),)),
        ),
        Experiment(network=NetworkConfig(layers=())),
    ],
)
def test_parameter_count_matches_the_engine(exp):
    data = prepare_data(exp)
    net = Network(network_spec(exp, data), np.random.default_rng(0))
    assert parameter_count(exp) == net.n_params


@pytest.mark.parametrize(
    ("exp", "text"),
    [
        (Experiment(), "sigmoid + binary cross-entropy (2 classes)"),
        (
            Experiment(data=DataConfig(dataset="blobs", n_classes=4)),
            "softmax + cross-entropy (4 classes)",
        ),
        (Experiment(data=DataConfig(dataset="reg_plane")), "linear + squared error (regression)"),
        (
            Experiment(network=NetworkConfig(output="classic")),
            "classic: tanh + squared error (TensorFlow Playground)",
        ),
    ],
)
def test_output_head_label(qtbot, panel, exp, text):
    panel.set_experiment(exp)
    assert text in panel.head_label.text()
    assert head_description(exp).endswith(text)


def test_output_combo(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.output.setCurrentText("softmax"))
    assert new == replace(BASE, network=replace(BASE.network, output="softmax"))
    assert "softmax + cross-entropy (2 classes)" in panel.head_label.text()
    assert "2 \u2192 4 \u2192 3 \u2192 2 \u2192 2" in panel.summary.text()


def test_output_that_does_not_fit_the_data_is_refused_inline(qtbot, panel):
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        panel.output.setCurrentText("linear")
    error = shown_error(panel)
    assert "Output" in error and "regression" in error
    assert panel.output.currentText() == "auto"
    assert panel.experiment() == BASE
    # The next valid edit clears the message.
    edited(qtbot, panel, lambda: panel.output.setCurrentText("sigmoid"))
    assert shown_error(panel) == ""


def test_initializer_combo(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.init.setCurrentText("he_normal"))
    assert new == replace(BASE, network=replace(BASE.network, init="he_normal"))
    assert panel.init.itemData(panel.init.currentIndex(), Qt.ItemDataRole.ToolTipRole)


def test_set_experiment_refreshes_without_emitting(qtbot, panel):
    other = Experiment(
        data=DataConfig(dataset="spiral", n_classes=3),
        network=NetworkConfig(
            layers=(LayerConfig(8, "elu", alpha=0.5, dropout=0.1, batch_norm=True),),
            output="softmax",
            init="lecun_normal",
        ),
    )
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        panel.set_experiment(other)
    row = panel.rows[0]
    assert len(panel.rows) == 1
    assert (row.units.value(), row.activation.currentText(), row.alpha.text()) == (8, "elu", "0.5")
    assert row.dropout.value() == pytest.approx(0.1)
    assert row.batch_norm.isChecked()
    assert (panel.output.currentText(), panel.init.currentText()) == ("softmax", "lecun_normal")
    assert "(3 classes)" in panel.head_label.text()
    assert panel.experiment() == other
