"""The training panel: optimizer, learning rate, batches, regularization, schedule, stopping.

All of these are live settings: the controller hands them to the running trainer without
a reset, so edits are emitted promptly (only the slider waits for its release).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from playground.experiment.config import (
    OPTIMIZER_FIELDS,
    OPTIMIZERS,
    SCHEDULE_FIELDS,
    SCHEDULES,
    EarlyStoppingConfig,
    Experiment,
    OptimizerConfig,
    ScheduleConfig,
)
from playground.ui.panels.widgets import (
    ExperimentPanel,
    LogSlider,
    NumberEdit,
    format_number,
    make_form,
    make_fraction_spin,
    make_spin,
    set_value_quietly,
)

LEARNING_RATE_RANGE = (1e-5, 10.0)
#: One-click values, as in TensorFlow Playground's learning-rate menu.
LEARNING_RATE_PRESETS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
_BIG = 2**31 - 1

OPTIMIZER_TIPS = {
    "sgd": "Stochastic gradient descent, optionally with (Nesterov) momentum",
    "rmsprop": "Divides by a running RMS of the gradients (Hinton's lecture 6e)",
    "adagrad": "Per-parameter rates shrinking with the summed squared gradients "
    "(Duchi et al. 2011)",
    "adam": "Momentum plus RMS scaling with bias correction (Kingma & Ba 2015)",
    "adamw": "Adam with decoupled weight decay (Loshchilov & Hutter 2019)",
}
SCHEDULE_TIPS = {
    "constant": "The learning rate stays as set",
    "step": "Multiply by gamma every step_size steps",
    "exponential": "Multiply by decay_rate every decay_steps steps, smoothly",
    "cosine": "Cosine from 1 down to min_factor over total_steps (Loshchilov & Hutter 2017)",
    "reduce_on_plateau": "Multiply by factor when the test loss stalls for patience steps",
}
_OPTIMIZER_LABELS = {
    "momentum": ("Momentum", "Share of the previous update carried into the next one, [0, 1)"),
    "nesterov": ("Nesterov", "Look ahead along the momentum before taking the gradient"),
    "beta1": ("\u03b2\u2081", "Decay of the running mean of gradients, [0, 1)"),
    "beta2": ("\u03b2\u2082", "Decay of the running mean of squared gradients, [0, 1)"),
    "epsilon": ("\u03b5", "Added to the denominator for stability, > 0 (e.g. 1e-8)"),
    "rho": ("\u03c1", "Decay of the running mean of squared gradients, [0, 1)"),
    "weight_decay": ("Weight decay", "Decoupled shrinkage of the weights per step, >= 0"),
}
_SCHEDULE_LABELS = {
    "step_size": ("Step size", "Steps between two multiplications by gamma"),
    "gamma": ("Gamma", "Factor applied every step_size steps, (0, 1]"),
    "decay_rate": ("Decay rate", "Factor reached after decay_steps steps, (0, 1]"),
    "decay_steps": ("Decay steps", "Steps over which the rate falls by decay_rate"),
    "total_steps": ("Total steps", "Length of the cosine curve in steps"),
    "min_factor": ("Min. factor", "Lowest multiple of the learning rate, [0, 1)"),
    "factor": ("Factor", "Multiply the rate by this on a plateau, (0, 1]"),
    "patience": ("Patience", "Steps without a better test loss before reducing"),
}


def _select(combo: QComboBox, name: str) -> None:
    with QSignalBlocker(combo):
        combo.setCurrentIndex(combo.findText(name))


class TrainingPanel(ExperimentPanel):
    """Optimizer and its hyper-parameters (only those that apply are shown), learning rate
    (log slider plus exact entry), batch size, L1/L2, schedule, early stopping, limits.

    Values of an optimizer or schedule that is switched away from are remembered for the
    panel's life, so switching back restores them (the experiment itself drops them).
    The learning rate is shared: it stays as set when the optimizer changes.
    """

    def __init__(self, experiment: Experiment | None = None, parent: QWidget | None = None):
        super().__init__(experiment, parent)
        self._optimizer_memory: dict[str, OptimizerConfig] = {}
        self._schedule_memory: dict[str, ScheduleConfig] = {}
        self._early_memory = EarlyStoppingConfig()
        self._max_steps_memory = 10000
        self._build_optimizer_group()
        self._build_batch_group()
        self._build_schedule_group()
        self._build_stopping_group()
        self.body_layout.addStretch(1)
        self._align_forms()
        self._remember(self._experiment)
        self._refresh_widgets()

    # -- construction ------------------------------------------------------------------

    def _build_optimizer_group(self) -> None:
        group = self._add_group("Optimizer")
        form = make_form(group)
        self._optimizer_form = form
        self.optimizer = QComboBox()
        for i, name in enumerate(OPTIMIZERS):
            self.optimizer.addItem(name)
            self.optimizer.setItemData(i, OPTIMIZER_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.optimizer.currentIndexChanged.connect(
            lambda i: self._switch_optimizer(self.optimizer.itemText(i))
        )
        form.addRow("Optimizer", self.optimizer)

        low, high = LEARNING_RATE_RANGE
        self.learning_rate = LogSlider(low, high)
        self.learning_rate.setToolTip(
            "Learning rate: the slider is logarithmic (1e-5 .. 10); the box takes any "
            "exact value such as 0.03 or 3e-2."
        )
        self.learning_rate.valueEdited.connect(
            lambda v: self._set_path("training.optimizer.learning_rate", v)
        )
        self.learning_rate.textRejected.connect(
            lambda t: self._reject_text("training.optimizer.learning_rate", t)
        )
        self._track_slider(self.learning_rate)
        form.addRow(QLabel("Learning rate"))
        form.addRow(self.learning_rate)
        chips = QHBoxLayout()
        chips.setSpacing(2)
        self.learning_rate_presets: dict[float, QToolButton] = {}
        for value in LEARNING_RATE_PRESETS:
            chip = QToolButton()
            chip.setText(format_number(value))
            chip.setToolTip(f"Set the learning rate to {format_number(value)}")
            chip.setCheckable(True)
            chip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            chip.setMinimumWidth(30)
            chip.setStyleSheet("QToolButton { padding: 1px 1px; }")
            chip.clicked.connect(
                lambda _c=False, v=value: self._set_path("training.optimizer.learning_rate", v)
            )
            chips.addWidget(chip)
            self.learning_rate_presets[value] = chip
        form.addRow(chips)

        self.optimizer_fields: dict[str, QWidget] = {
            "momentum": make_fraction_spin(0.0, 0.999, 0.05),
            "nesterov": QCheckBox("look ahead"),
            "beta1": make_fraction_spin(0.0, 0.9999, 0.01, decimals=4),
            "beta2": make_fraction_spin(0.0, 0.99999, 0.001, decimals=5),
            "epsilon": NumberEdit(),
            "rho": make_fraction_spin(0.0, 0.999, 0.05),
            "weight_decay": NumberEdit(),
        }
        for name, widget in self.optimizer_fields.items():
            label, tip = _OPTIMIZER_LABELS[name]
            widget.setToolTip(tip)
            self._connect_field(widget, f"training.optimizer.{name}")
            form.addRow(label, widget)

    def _build_batch_group(self) -> None:
        group = self._add_group("Batches and regularization")
        form = make_form(group)
        self.batch_size = make_spin(1, 10000)
        self.batch_size.setToolTip(
            "Points per gradient step (capped at the number of training points)"
        )
        self._connect_field(self.batch_size, "training.batch_size")
        form.addRow("Batch size", self.batch_size)
        self.l1 = NumberEdit()
        self.l1.setToolTip("L1 penalty rate on the weights (>= 0; e.g. 0, 0.001, 1e-4)")
        self._connect_field(self.l1, "training.l1")
        form.addRow("L1", self.l1)
        self.l2 = NumberEdit()
        self.l2.setToolTip("L2 penalty rate on the weights (>= 0; e.g. 0, 0.001, 1e-4)")
        self._connect_field(self.l2, "training.l2")
        form.addRow("L2", self.l2)

    def _build_schedule_group(self) -> None:
        group = self._add_group("Learning-rate schedule")
        form = make_form(group)
        self._schedule_form = form
        self.schedule = QComboBox()
        for i, name in enumerate(SCHEDULES):
            self.schedule.addItem(name)
            self.schedule.setItemData(i, SCHEDULE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.schedule.currentIndexChanged.connect(
            lambda i: self._switch_schedule(self.schedule.itemText(i))
        )
        form.addRow("Schedule", self.schedule)
        self.schedule_fields: dict[str, QWidget] = {
            "step_size": make_spin(1, _BIG, step=100),
            "gamma": make_fraction_spin(0.001, 1.0, 0.05),
            "decay_rate": make_fraction_spin(0.001, 1.0, 0.05),
            "decay_steps": make_spin(1, _BIG, step=100),
            "total_steps": make_spin(1, _BIG, step=500),
            "min_factor": make_fraction_spin(0.0, 0.999, 0.05),
            "factor": make_fraction_spin(0.001, 1.0, 0.05),
            "patience": make_spin(1, _BIG, step=50),
        }
        for name, widget in self.schedule_fields.items():
            label, tip = _SCHEDULE_LABELS[name]
            widget.setToolTip(tip)
            self._connect_field(widget, f"training.schedule.{name}")
            form.addRow(label, widget)

    def _build_stopping_group(self) -> None:
        group = self._add_group("Stopping and evaluation")
        form: QFormLayout = make_form(group)
        self.early_stopping = QCheckBox("Early stopping")
        self.early_stopping.setToolTip(
            "Stop when the test loss has not improved for a while (shows over-fitting)"
        )
        self.early_stopping.clicked.connect(self._toggle_early_stopping)
        form.addRow(self.early_stopping)
        self.early_patience = make_spin(1, _BIG, step=50, suffix=" steps")
        self.early_patience.setToolTip("Steps without a better test loss before stopping")
        self._connect_field(self.early_patience, "training.early_stopping.patience")
        form.addRow("Patience", self.early_patience)
        self.min_delta = NumberEdit()
        self.min_delta.setToolTip("The smallest decrease of the test loss that counts (>= 0)")
        self._connect_field(self.min_delta, "training.early_stopping.min_delta")
        form.addRow("Min. improvement", self.min_delta)
        self.restore_best = QCheckBox("Restore best weights")
        self.restore_best.setToolTip("Go back to the weights with the lowest test loss")
        self._connect_field(self.restore_best, "training.early_stopping.restore_best")
        form.addRow(self.restore_best)

        self.stop_at = QCheckBox("Stop at step")
        self.stop_at.setToolTip("Pause training automatically at this step")
        self.stop_at.clicked.connect(self._toggle_max_steps)
        self.max_steps = make_spin(1, _BIG, step=1000)
        self.max_steps.setToolTip("Pause training automatically at this step")
        self._connect_field(self.max_steps, "training.max_steps")
        form.addRow(self.stop_at, self.max_steps)
        self.eval_every = make_spin(1, 1_000_000, step=10, suffix=" steps")
        self.eval_every.setToolTip(
            "Steps between full train/test loss evaluations (loss history points, early "
            "stopping, reduce_on_plateau)"
        )
        self._connect_field(self.eval_every, "training.eval_every")
        form.addRow(QLabel("Evaluate every"), self.eval_every)

    def _connect_field(self, widget: QWidget, path: str) -> None:
        """Route a plain editor's user edits to ``path``."""
        if isinstance(widget, NumberEdit):
            widget.valueEdited.connect(lambda v: self._set_path(path, float(v)))
            widget.textRejected.connect(lambda t: self._reject_text(path, t))
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.valueChanged.connect(lambda v: self._set_path(path, v))
        elif isinstance(widget, QCheckBox):
            widget.clicked.connect(lambda c: self._set_path(path, bool(c)))
        else:
            raise TypeError(f"no editor wiring for {type(widget).__name__}")

    # -- refresh -----------------------------------------------------------------------

    def _remember(self, experiment: Experiment) -> None:
        training = experiment.training
        self._optimizer_memory[training.optimizer.name] = training.optimizer
        self._schedule_memory[training.schedule.name] = training.schedule
        if training.early_stopping is not None:
            self._early_memory = training.early_stopping
        if training.max_steps is not None:
            self._max_steps_memory = training.max_steps

    def _refresh(self, experiment: Experiment) -> None:
        training = experiment.training
        opt = training.optimizer
        _select(self.optimizer, opt.name)
        self.optimizer.setToolTip(OPTIMIZER_TIPS[opt.name])
        self.learning_rate.setValue(opt.learning_rate)
        for value, chip in self.learning_rate_presets.items():
            set_value_quietly(chip, value == opt.learning_rate)
        applicable = OPTIMIZER_FIELDS[opt.name]
        for name, widget in self.optimizer_fields.items():
            self._optimizer_form.setRowVisible(widget, name in applicable)
            self._show_value(widget, getattr(opt, name))
        self.optimizer_fields["nesterov"].setEnabled(opt.momentum > 0 or opt.nesterov)

        set_value_quietly(self.batch_size, training.batch_size)
        self.l1.setValue(training.l1)
        self.l2.setValue(training.l2)

        schedule = training.schedule
        _select(self.schedule, schedule.name)
        self.schedule.setToolTip(SCHEDULE_TIPS[schedule.name])
        for name, widget in self.schedule_fields.items():
            self._schedule_form.setRowVisible(widget, name in SCHEDULE_FIELDS[schedule.name])
            self._show_value(widget, getattr(schedule, name))

        early = training.early_stopping
        shown = early if early is not None else self._early_memory
        set_value_quietly(self.early_stopping, early is not None)
        set_value_quietly(self.early_patience, shown.patience)
        self.min_delta.setValue(shown.min_delta)
        set_value_quietly(self.restore_best, shown.restore_best)
        for widget in (self.early_patience, self.min_delta, self.restore_best):
            widget.setEnabled(early is not None)

        set_value_quietly(self.stop_at, training.max_steps is not None)
        set_value_quietly(
            self.max_steps,
            training.max_steps if training.max_steps is not None else self._max_steps_memory,
        )
        self.max_steps.setEnabled(training.max_steps is not None)
        set_value_quietly(self.eval_every, training.eval_every)

    @staticmethod
    def _show_value(widget: QWidget, value: object) -> None:
        if isinstance(widget, NumberEdit):
            widget.setValue(value)
        else:
            set_value_quietly(widget, value)

    def optimizer_field_shown(self, name: str) -> bool:
        """Whether the optimizer hyper-parameter ``name`` has a visible row."""
        return self._optimizer_form.isRowVisible(self.optimizer_fields[name])

    def schedule_field_shown(self, name: str) -> bool:
        return self._schedule_form.isRowVisible(self.schedule_fields[name])

    # -- edits -------------------------------------------------------------------------

    def _switch_optimizer(self, name: str) -> None:
        current = self._experiment.training.optimizer
        if name == current.name:
            return
        remembered = self._optimizer_memory.get(name, OptimizerConfig(name=name))
        new = replace(remembered, learning_rate=current.learning_rate)
        self._set_path("training.optimizer", new)

    def _switch_schedule(self, name: str) -> None:
        if name == self._experiment.training.schedule.name:
            return
        self._set_path(
            "training.schedule", self._schedule_memory.get(name, ScheduleConfig(name=name))
        )

    def _toggle_early_stopping(self, checked: bool) -> None:
        self._set_path("training.early_stopping", self._early_memory if checked else None)

    def _toggle_max_steps(self, checked: bool) -> None:
        value = self.max_steps.value() if checked else None
        self._set_path("training.max_steps", value)
