"""TrainingPanel: optimizer and hyper-parameters, learning rate, batches, schedule, stopping."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from playground.experiment.config import (
    OPTIMIZER_FIELDS,
    OPTIMIZERS,
    SCHEDULE_FIELDS,
    SCHEDULES,
    EarlyStoppingConfig,
    Experiment,
    OptimizerConfig,
    ScheduleConfig,
    TrainingConfig,
)
from playground.ui.panels import TrainingPanel

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BASE = Experiment(
    training=TrainingConfig(optimizer=OptimizerConfig("sgd", learning_rate=0.03, momentum=0.5))
)


@pytest.fixture
def panel(qtbot):
    p = TrainingPanel(BASE)
    qtbot.addWidget(p)
    return p


def edited(qtbot, panel, action):
    with qtbot.waitSignal(panel.experimentEdited, timeout=3000) as blocker:
        action()
    return blocker.args[0]


def training_changed(exp: Experiment, **changes) -> Experiment:
    return replace(exp, training=replace(exp.training, **changes))


def optimizer_changed(exp: Experiment, **changes) -> Experiment:
    return training_changed(exp, optimizer=replace(exp.training.optimizer, **changes))


def type_into(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def shown_error(panel) -> str:
    label = panel.message_label
    return label.plain_text() if label.kind == "error" and not label.isHidden() else ""


# -- learning rate ---------------------------------------------------------------------


def test_learning_rate_entry_accepts_plain_and_scientific_notation(qtbot, panel):
    lr = panel.learning_rate
    new = edited(qtbot, panel, lambda: type_into(qtbot, lr.entry, "3e-3"))
    assert new == optimizer_changed(BASE, learning_rate=0.003)
    new = edited(qtbot, panel, lambda: type_into(qtbot, lr.entry, "0.1"))
    assert new.training.optimizer.learning_rate == 0.1
    assert lr.slider.value() == lr.position_of(0.1)


def test_learning_rate_slider_is_logarithmic(panel):
    lr = panel.learning_rate
    low, high = 1e-5, 10.0
    middle = (lr.slider.minimum() + lr.slider.maximum()) // 2
    assert lr.value_at(middle) == pytest.approx(math.sqrt(low * high))
    assert lr.value_at(lr.slider.minimum()) == pytest.approx(low)
    assert lr.value_at(lr.slider.maximum()) == pytest.approx(high)
    # Equal slider distances are equal factors.
    quarter = (lr.slider.maximum() - lr.slider.minimum()) // 4
    ratio1 = lr.value_at(middle) / lr.value_at(middle - quarter)
    ratio2 = lr.value_at(middle + quarter) / lr.value_at(middle)
    assert ratio1 == pytest.approx(ratio2, rel=0.01)


def test_learning_rate_slider_drives_the_entry_and_emits_on_release(qtbot, panel):
    lr = panel.learning_rate
    middle = (lr.slider.minimum() + lr.slider.maximum()) // 2
    lr.slider.setSliderDown(True)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        lr.slider.setValue(middle)
    assert lr.entry.text() == "0.01"  # the geometric middle of 1e-5 .. 10
    new = edited(qtbot, panel, lambda: lr.slider.setSliderDown(False))
    assert new == optimizer_changed(BASE, learning_rate=0.01)


def test_learning_rate_entry_moves_the_slider(qtbot, panel):
    lr = panel.learning_rate
    edited(qtbot, panel, lambda: type_into(qtbot, lr.entry, "1e-2"))
    middle = (lr.slider.minimum() + lr.slider.maximum()) // 2
    assert lr.slider.value() == middle
    edited(qtbot, panel, lambda: type_into(qtbot, lr.entry, "10"))
    assert lr.slider.value() == lr.slider.maximum()


def test_learning_rate_presets(qtbot, panel):
    new = edited(qtbot, panel, panel.learning_rate_presets[0.3].click)
    assert new == optimizer_changed(BASE, learning_rate=0.3)
    assert panel.learning_rate.entry.text() == "0.3"
    assert panel.learning_rate.slider.value() == panel.learning_rate.position_of(0.3)
    checked = [v for v, chip in panel.learning_rate_presets.items() if chip.isChecked()]
    assert checked == [0.3]
    # Clicking the chip of the value already set keeps it set and highlighted.
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=100):
        panel.learning_rate_presets[0.3].click()
    assert panel.learning_rate_presets[0.3].isChecked()


@pytest.mark.parametrize(("text", "expected"), [("20", "(0, 10]"), ("0", "(0, 10]"),
                                                ("3e", "not a number"), ("-", "not a number")])
def test_invalid_learning_rate_is_shown_inline(qtbot, panel, text, expected):
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        type_into(qtbot, panel.learning_rate.entry, text)
    error = shown_error(panel)
    assert "Learning rate" in error and expected in error
    assert panel.learning_rate.entry.text() == "0.03"
    assert panel.experiment() == BASE


def test_letters_cannot_be_typed_into_a_number_entry(qtbot, panel):
    entry = panel.learning_rate.entry
    entry.selectAll()
    qtbot.keyClicks(entry, "abc")
    assert entry.text() == "0.03"  # every letter was refused


# -- optimizers ------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_switching_optimizer_shows_exactly_its_fields(qtbot, panel, name):
    if name != "sgd":
        new = edited(qtbot, panel, lambda: panel.optimizer.setCurrentText(name))
        assert new == training_changed(
            BASE, optimizer=OptimizerConfig(name, learning_rate=0.03)
        )
    for field, _widget in panel.optimizer_fields.items():
        assert panel.optimizer_field_shown(field) == (field in OPTIMIZER_FIELDS[name]), field


def test_switching_back_restores_remembered_values(qtbot, panel):
    edited(qtbot, panel, lambda: panel.optimizer.setCurrentText("adam"))
    edited(qtbot, panel, lambda: panel.optimizer_fields["beta1"].setValue(0.8))
    edited(qtbot, panel, lambda: type_into(qtbot, panel.optimizer_fields["epsilon"], "1e-6"))
    new = edited(qtbot, panel, lambda: panel.optimizer.setCurrentText("sgd"))
    assert new == BASE  # sgd's momentum 0.5 came back
    assert panel.optimizer_fields["momentum"].value() == 0.5
    new = edited(qtbot, panel, lambda: panel.optimizer.setCurrentText("adam"))
    assert new.training.optimizer == OptimizerConfig(
        "adam", learning_rate=0.03, beta1=0.8, epsilon=1e-6
    )
    assert panel.optimizer_fields["beta1"].value() == 0.8
    assert panel.optimizer_fields["epsilon"].text() == "1e-6"


def test_learning_rate_carries_over_to_another_optimizer(qtbot, panel):
    edited(qtbot, panel, lambda: panel.optimizer.setCurrentText("adam"))
    edited(qtbot, panel, lambda: type_into(qtbot, panel.learning_rate.entry, "0.001"))
    new = edited(qtbot, panel, lambda: panel.optimizer.setCurrentText("sgd"))
    assert new.training.optimizer == OptimizerConfig("sgd", learning_rate=0.001, momentum=0.5)


@pytest.mark.parametrize(
    ("optimizer", "field", "value", "text"),
    [
        ("sgd", "momentum", 0.9, None),
        ("rmsprop", "rho", 0.95, None),
        ("rmsprop", "epsilon", 1e-7, "1e-7"),
        ("adagrad", "epsilon", 0.0001, "1e-4"),
        ("adam", "beta1", 0.85, None),
        ("adam", "beta2", 0.99, None),
        ("adamw", "weight_decay", 0.05, "0.05"),
    ],
)
def test_each_hyper_parameter(qtbot, optimizer, field, value, text):
    start = training_changed(BASE, optimizer=OptimizerConfig(optimizer, learning_rate=0.03))
    p = TrainingPanel(start)
    qtbot.addWidget(p)
    widget = p.optimizer_fields[field]
    if text is None:
        new = edited(qtbot, p, lambda: widget.setValue(value))
    else:
        new = edited(qtbot, p, lambda: type_into(qtbot, widget, text))
    assert new == optimizer_changed(start, **{field: value})


def test_nesterov_needs_momentum(qtbot, panel):
    nesterov = panel.optimizer_fields["nesterov"]
    new = edited(qtbot, panel, nesterov.click)
    assert new == optimizer_changed(BASE, nesterov=True)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        panel.optimizer_fields["momentum"].setValue(0.0)
    assert "Nesterov" in shown_error(panel) and "momentum" in shown_error(panel)
    assert panel.optimizer_fields["momentum"].value() == 0.5


def test_negative_epsilon_is_refused_inline(qtbot):
    start = training_changed(BASE, optimizer=OptimizerConfig("adam"))
    p = TrainingPanel(start)
    qtbot.addWidget(p)
    with qtbot.assertNotEmitted(p.experimentEdited, wait=300):
        type_into(qtbot, p.optimizer_fields["epsilon"], "-1e-8")
    assert "Epsilon" in shown_error(p) and "training.optimizer.epsilon" in shown_error(p)
    assert p.optimizer_fields["epsilon"].text() == "1e-8"


# -- batches and regularization --------------------------------------------------------


def test_batch_size(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.batch_size.setValue(32))
    assert new == training_changed(BASE, batch_size=32)


@pytest.mark.parametrize(("field", "text", "value"), [("l1", "1e-4", 1e-4), ("l2", "0.003", 0.003)])
def test_regularization_rates(qtbot, panel, field, text, value):
    new = edited(qtbot, panel, lambda: type_into(qtbot, getattr(panel, field), text))
    assert new == training_changed(BASE, **{field: value})


def test_negative_l2_is_refused_inline(qtbot, panel):
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        type_into(qtbot, panel.l2, "-0.1")
    assert "L2" in shown_error(panel) and ">= 0" in shown_error(panel)
    assert panel.l2.text() == "0"


# -- schedule --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_shows_exactly_its_fields(qtbot, panel, name):
    if name != "constant":
        new = edited(qtbot, panel, lambda: panel.schedule.setCurrentText(name))
        assert new == training_changed(BASE, schedule=ScheduleConfig(name))
    for field in panel.schedule_fields:
        assert panel.schedule_field_shown(field) == (field in SCHEDULE_FIELDS[name]), field


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("step", "step_size", 250),
        ("step", "gamma", 0.9),
        ("exponential", "decay_rate", 0.75),
        ("exponential", "decay_steps", 300),
        ("cosine", "total_steps", 9000),
        ("cosine", "min_factor", 0.1),
        ("reduce_on_plateau", "factor", 0.2),
        ("reduce_on_plateau", "patience", 40),
    ],
)
def test_schedule_fields(qtbot, name, field, value):
    start = training_changed(BASE, schedule=ScheduleConfig(name))
    p = TrainingPanel(start)
    qtbot.addWidget(p)
    new = edited(qtbot, p, lambda: p.schedule_fields[field].setValue(value))
    schedule = replace(start.training.schedule, **{field: value})
    assert new == training_changed(start, schedule=schedule)


def test_schedule_values_are_remembered(qtbot, panel):
    edited(qtbot, panel, lambda: panel.schedule.setCurrentText("step"))
    edited(qtbot, panel, lambda: panel.schedule_fields["gamma"].setValue(0.25))
    edited(qtbot, panel, lambda: panel.schedule.setCurrentText("cosine"))
    new = edited(qtbot, panel, lambda: panel.schedule.setCurrentText("step"))
    assert new.training.schedule == ScheduleConfig("step", gamma=0.25)


# -- stopping and evaluation -----------------------------------------------------------


def test_early_stopping(qtbot, panel):
    assert not panel.early_patience.isEnabled()
    new = edited(qtbot, panel, panel.early_stopping.click)
    assert new == training_changed(BASE, early_stopping=EarlyStoppingConfig())
    assert panel.early_patience.isEnabled()
    new = edited(qtbot, panel, lambda: panel.early_patience.setValue(100))
    assert new.training.early_stopping == EarlyStoppingConfig(patience=100)
    new = edited(qtbot, panel, lambda: type_into(qtbot, panel.min_delta, "1e-3"))
    assert new.training.early_stopping == EarlyStoppingConfig(patience=100, min_delta=0.001)
    new = edited(qtbot, panel, panel.restore_best.click)
    expected = EarlyStoppingConfig(patience=100, min_delta=0.001, restore_best=False)
    assert new.training.early_stopping == expected
    new = edited(qtbot, panel, panel.early_stopping.click)
    assert new == BASE
    # Switching it on again brings back the settings it had.
    new = edited(qtbot, panel, panel.early_stopping.click)
    assert new.training.early_stopping == expected


def test_stop_at_step(qtbot, panel):
    assert not panel.max_steps.isEnabled()
    new = edited(qtbot, panel, panel.stop_at.click)
    assert new == training_changed(BASE, max_steps=panel.max_steps.value())
    new = edited(qtbot, panel, lambda: panel.max_steps.setValue(2500))
    assert new == training_changed(BASE, max_steps=2500)
    new = edited(qtbot, panel, panel.stop_at.click)
    assert new == BASE


def test_eval_every(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.eval_every.setValue(25))
    assert new == training_changed(BASE, eval_every=25)


# -- set_experiment --------------------------------------------------------------------


def test_set_experiment_refreshes_without_emitting(qtbot, panel):
    other = Experiment(
        training=TrainingConfig(
            optimizer=OptimizerConfig("adamw", learning_rate=0.002, beta2=0.99,
                                      weight_decay=0.1),
            batch_size=64,
            l1=1e-5,
            schedule=ScheduleConfig("cosine", total_steps=1234, min_factor=0.05),
            early_stopping=EarlyStoppingConfig(patience=77),
            max_steps=4321,
            eval_every=5,
        )
    )
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        panel.set_experiment(other)
    assert panel.experiment() == other
    assert panel.optimizer.currentText() == "adamw"
    assert panel.learning_rate.entry.text() == "0.002"
    assert panel.learning_rate.slider.value() == panel.learning_rate.position_of(0.002)
    assert panel.optimizer_fields["beta2"].value() == 0.99
    assert panel.optimizer_fields["weight_decay"].text() == "0.1"
    assert not panel.optimizer_field_shown("momentum")
    assert panel.batch_size.value() == 64
    assert panel.l1.text() == "1e-5"
    assert panel.schedule.currentText() == "cosine"
    assert panel.schedule_fields["total_steps"].value() == 1234
    assert panel.schedule_field_shown("min_factor") and not panel.schedule_field_shown("gamma")
    assert panel.early_stopping.isChecked() and panel.early_patience.value() == 77
    assert panel.stop_at.isChecked() and panel.max_steps.value() == 4321
    assert panel.eval_every.value() == 5


def test_set_experiment_cancels_a_pending_slider_edit(qtbot, panel):
    panel.learning_rate.slider.setValue(100)  # keyboard-style change: debounced
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=500):
        panel.set_experiment(BASE)
    assert panel.learning_rate.entry.text() == "0.03"
