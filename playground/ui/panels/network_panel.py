"""The network panel: hidden layers one by one, the output head and the initializer."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.experiment.config import (
    ACTIVATIONS,
    ALPHA_DEFAULTS,
    INITIALIZERS,
    OUTPUTS,
    Experiment,
    LayerConfig,
    is_regression,
    resolved_output,
    with_path,
)
from playground.ui.panels.widgets import (
    Debouncer,
    ExperimentPanel,
    NumberEdit,
    make_form,
    make_fraction_spin,
    make_spin,
    set_value_quietly,
)

MAX_LAYERS = 12
MAX_UNITS = 256
ARROW = " \u2192 "

ACTIVATION_TIPS = {
    "linear": "identity: no nonlinearity, so stacked linear layers stay one linear map",
    "sigmoid": "1 / (1 + e^-x), output 0..1; saturates at both ends (vanishing gradients)",
    "tanh": "output -1..1, zero-centred; saturates for large |x|",
    "relu": "max(0, x); fast, but a unit whose input stays negative dies",
    "leaky_relu": "x for x > 0, alpha * x otherwise (alpha default 0.01): no dead units",
    "prelu": "leaky ReLU whose negative slope is learned per unit (alpha = start, 0.25)",
    "elu": "x for x > 0, alpha * (e^x - 1) otherwise (alpha default 1.0); smooth",
    "selu": "scaled ELU that keeps activations normalized (Klambauer et al. 2017)",
    "swish": "x * sigmoid(x) (Ramachandran et al. 2017); smooth, non-monotonic",
    "gelu": "x * Phi(x), the Gaussian error linear unit (Hendrycks & Gimpel 2016)",
    "softplus": "log(1 + e^x), a smooth ReLU",
}
OUTPUT_TIPS = {
    "auto": "linear for regression, sigmoid for 2 classes, softmax for more",
    "sigmoid": "one sigmoid unit + binary cross-entropy; needs exactly 2 classes",
    "softmax": "one unit per class + cross-entropy; any classification data",
    "linear": "one linear unit + squared error; regression data only",
    "classic": "TensorFlow Playground's head: one tanh unit + squared error; 2 classes",
}
INIT_TIPS = {
    "auto": "he_normal below relu-like activations, glorot_uniform otherwise",
    "glorot_uniform": "uniform, variance 2 / (fan_in + fan_out) (Glorot & Bengio 2010)",
    "glorot_normal": "normal, variance 2 / (fan_in + fan_out) (Glorot & Bengio 2010)",
    "he_uniform": "uniform, variance 2 / fan_in, for ReLU (He et al. 2015)",
    "he_normal": "normal, variance 2 / fan_in, for ReLU (He et al. 2015)",
    "lecun_normal": "normal, variance 1 / fan_in; the match for selu (LeCun et al. 1998)",
    "classic": "TensorFlow Playground's: uniform in [-0.5, 0.5], biases 0.1",
}
_HEAD_TEXT = {
    "sigmoid": "sigmoid + binary cross-entropy",
    "softmax": "softmax + cross-entropy",
    "linear": "linear + squared error (regression)",
    "classic": "classic: tanh + squared error (TensorFlow Playground)",
}


def output_units(experiment: Experiment) -> int:
    """Width of the output layer: one unit per class for softmax, else one."""
    return experiment.data.n_classes if resolved_output(experiment) == "softmax" else 1


def parameter_count(experiment: Experiment) -> int:
    """Trainable numbers: weights and biases ``(fan_in + 1) * units`` per layer, plus one
    learned slope per prelu unit and a scale and shift (gamma, beta) per batch-norm unit."""
    fan_in = len(experiment.data.features)
    total = 0
    for layer in experiment.network.layers:
        total += (fan_in + 1) * layer.units
        total += layer.units if layer.activation == "prelu" else 0
        total += 2 * layer.units if layer.batch_norm else 0
        fan_in = layer.units
    return total + (fan_in + 1) * output_units(experiment)


def network_summary(experiment: Experiment) -> str:
    """"2 → 4 → 2 → 1, 25 parameters": the layer widths from inputs to output."""
    widths = [
        len(experiment.data.features),
        *(layer.units for layer in experiment.network.layers),
        output_units(experiment),
    ]
    count = parameter_count(experiment)
    noun = "parameter" if count == 1 else "parameters"
    return f"{ARROW.join(str(w) for w in widths)}, {count:,} {noun}"


def head_description(experiment: Experiment) -> str:
    """The output layer and loss that training will use, in words."""
    head = resolved_output(experiment)
    text = _HEAD_TEXT[head]
    if head in ("sigmoid", "softmax"):
        text += f" ({experiment.data.n_classes} classes)"
    prefix = "Output (auto): " if experiment.network.output == "auto" else "Output: "
    return prefix + text


def _fill_combo(combo: QComboBox, names: tuple[str, ...], tips: dict[str, str]) -> None:
    for i, name in enumerate(names):
        combo.addItem(name)
        combo.setItemData(i, tips[name], Qt.ItemDataRole.ToolTipRole)


def _select(combo: QComboBox, name: str) -> None:
    with QSignalBlocker(combo):
        combo.setCurrentIndex(combo.findText(name))
    combo.setToolTip(combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole))


class LayerRow(QFrame):
    """The editors of one hidden layer, in two lines so a ~300 px dock fits them.

    Signals carry the row's index: ``edited(index, field, value)`` for a changed setting,
    ``moveRequested(index, delta)`` and ``removeRequested(index)`` for the buttons.
    """

    edited = Signal(int, str, object)
    moveRequested = Signal(int, int)
    removeRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = 0
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("layerRow")
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 3, 3, 3)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(3)

        self.title = QLabel()
        self.title.setMinimumWidth(16)
        self.title.setStyleSheet("font-weight: bold")
        self.units = make_spin(1, MAX_UNITS)
        self.units.setToolTip(f"Units (neurons) in this layer, 1..{MAX_UNITS}")
        self.units.setFixedWidth(50)
        self.activation = QComboBox()
        _fill_combo(self.activation, ACTIVATIONS, ACTIVATION_TIPS)
        self.activation.setMinimumContentsLength(5)
        self.activation.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.activation.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.up = self._tool_button(Qt.ArrowType.UpArrow, "Move this layer up (towards the inputs)")
        self.down = self._tool_button(
            Qt.ArrowType.DownArrow, "Move this layer down (towards the output)"
        )
        self.remove = QToolButton()
        self.remove.setText("\u2715")
        self.remove.setToolTip("Remove this layer")
        self.remove.setFixedSize(22, 22)
        buttons = QHBoxLayout()
        buttons.setSpacing(1)
        for button in (self.up, self.down, self.remove):
            buttons.addWidget(button)

        self.alpha = NumberEdit()
        self.alpha.setPlaceholderText("\u2014")
        self.alpha.setFixedWidth(52)
        self.dropout = make_fraction_spin(0.0, 0.9, 0.05, decimals=2)
        self.dropout.setToolTip(
            "Dropout: the share of this layer's units switched off at random in each "
            "training step (0 = off)"
        )
        self.dropout.setFixedWidth(56)
        self.batch_norm = QCheckBox("BN")
        self.batch_norm.setToolTip(
            "Batch normalization before the activation (Ioffe & Szegedy 2015)"
        )
        extras = QHBoxLayout()
        extras.setSpacing(4)
        alpha_label = QLabel("\u03b1")
        alpha_label.setToolTip("Slope or scale of leaky_relu, prelu and elu")
        extras.addWidget(alpha_label)
        extras.addWidget(self.alpha)
        extras.addSpacing(6)
        extras.addWidget(QLabel("drop"))
        extras.addWidget(self.dropout)
        extras.addSpacing(6)
        extras.addWidget(self.batch_norm)
        extras.addStretch(1)

        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.units, 0, 1)
        grid.addWidget(self.activation, 0, 2)
        grid.addLayout(buttons, 0, 3)
        grid.addLayout(extras, 1, 1, 1, 3)
        grid.setColumnStretch(2, 1)

        self._units_debounce = Debouncer(lambda v: self._emit("units", v), parent=self)
        self._dropout_debounce = Debouncer(lambda v: self._emit("dropout", v), parent=self)
        self.units.valueChanged.connect(self._units_debounce.trigger)
        self.dropout.valueChanged.connect(self._dropout_debounce.trigger)
        self.activation.currentIndexChanged.connect(
            lambda i: self._emit("activation", self.activation.itemText(i))
        )
        self.alpha.valueEdited.connect(lambda v: self._emit("alpha", float(v)))
        self.alpha.textRejected.connect(lambda t: self._emit("alpha_text", t))
        self.batch_norm.clicked.connect(lambda c: self._emit("batch_norm", bool(c)))
        self.up.clicked.connect(lambda: self.moveRequested.emit(self.index, -1))
        self.down.clicked.connect(lambda: self.moveRequested.emit(self.index, 1))
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self.index))

    @staticmethod
    def _tool_button(arrow: Qt.ArrowType, tip: str) -> QToolButton:
        button = QToolButton()
        button.setArrowType(arrow)
        button.setToolTip(tip)
        button.setFixedSize(22, 22)
        return button

    def _emit(self, name: str, value: object) -> None:
        self.edited.emit(self.index, name, value)

    def cancel_pending(self) -> None:
        self._units_debounce.cancel()
        self._dropout_debounce.cancel()

    def flush_pending(self) -> None:
        """Apply a waiting units/dropout change now, while the row's index still holds."""
        self._units_debounce.flush()
        self._dropout_debounce.flush()

    def show_layer(self, index: int, layer: LayerConfig, count: int) -> None:
        """Show ``layer`` as hidden layer ``index`` of ``count`` without emitting."""
        self.index = index
        self.title.setText(str(index + 1))
        set_value_quietly(self.units, layer.units)
        _select(self.activation, layer.activation)
        has_alpha = layer.activation in ALPHA_DEFAULTS
        self.alpha.setValue(layer.effective_alpha if has_alpha else None)
        self.alpha.setEnabled(has_alpha)
        self.alpha.setToolTip(
            f"alpha of {layer.activation} (default {ALPHA_DEFAULTS[layer.activation]})"
            if has_alpha else "Only leaky_relu, prelu and elu take alpha"
        )
        set_value_quietly(self.dropout, layer.dropout)
        set_value_quietly(self.batch_norm, layer.batch_norm)
        self.up.setEnabled(index > 0)
        self.down.setEnabled(index < count - 1)


class NetworkPanel(ExperimentPanel):
    """Hidden layers (units, activation, alpha, dropout, batch norm), output and init.

    Every change here changes the network, so the controller starts training afresh;
    spin boxes are debounced so holding an arrow makes one change, not twenty.
    """

    def __init__(self, experiment: Experiment | None = None, parent: QWidget | None = None):
        super().__init__(experiment, parent)
        self.rows: list[LayerRow] = []
        self._build_summary()
        self._build_layers_group()
        self._build_head_group()
        self.body_layout.addStretch(1)
        self._align_forms()
        self._refresh_widgets()

    # -- construction ------------------------------------------------------------------

    def _build_summary(self) -> None:
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-weight: bold")
        self.summary.setToolTip(
            "Layer widths from the input features to the output, and the number of "
            "trainable parameters (weights, biases, prelu slopes, batch-norm scales)."
        )
        self.head_label = QLabel()
        self.head_label.setWordWrap(True)
        self.body_layout.addWidget(self.summary)
        self.body_layout.addWidget(self.head_label)

    def _build_layers_group(self) -> None:
        group = self._add_group("Hidden layers")
        layout = QVBoxLayout(group)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)

        apply_row = QHBoxLayout()
        apply_row.addWidget(QLabel("All layers:"))
        self.all_activation = QComboBox()
        _fill_combo(self.all_activation, ACTIVATIONS, ACTIVATION_TIPS)
        self.all_activation.setCurrentText("tanh")
        self.all_activation.setMinimumContentsLength(6)
        self.all_activation.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.all_activation.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.apply_all = QPushButton("Apply")
        self.apply_all.setToolTip("Give every hidden layer the chosen activation")
        self.apply_all.clicked.connect(self._apply_activation_to_all)
        apply_row.addWidget(self.all_activation, 1)
        apply_row.addWidget(self.apply_all)
        layout.addLayout(apply_row)

        self.empty_label = QLabel("No hidden layers: the inputs feed the output directly.")
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #666")
        layout.addWidget(self.empty_label)
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(4)
        layout.addLayout(self.rows_layout)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add layer")
        self.add_button.setToolTip(
            f"Append a layer like the last one (at most {MAX_LAYERS} hidden layers)"
        )
        self.add_button.clicked.connect(self._add_layer)
        self.remove_all_button = QPushButton("Remove all")
        self.remove_all_button.setToolTip("Remove every hidden layer")
        self.remove_all_button.clicked.connect(self._remove_all)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_all_button)
        layout.addLayout(buttons)

    def _build_head_group(self) -> None:
        group = self._add_group("Output and initialization")
        form = make_form(group)
        self.output = QComboBox()
        _fill_combo(self.output, OUTPUTS, OUTPUT_TIPS)
        self.output.currentIndexChanged.connect(
            lambda i: self._set_path("network.output", self.output.itemText(i))
        )
        form.addRow("Output", self.output)
        self.init = QComboBox()
        _fill_combo(self.init, INITIALIZERS, INIT_TIPS)
        self.init.currentIndexChanged.connect(
            lambda i: self._set_path("network.init", self.init.itemText(i))
        )
        form.addRow("Initializer", self.init)

    # -- refresh -----------------------------------------------------------------------

    def _refresh(self, experiment: Experiment) -> None:
        network = experiment.network
        self.summary.setText(f"Network: {network_summary(experiment)}")
        self.head_label.setText(head_description(experiment))
        self._sync_rows(len(network.layers))
        for i, (row, layer) in enumerate(zip(self.rows, network.layers)):
            row.show_layer(i, layer, len(network.layers))
        self.empty_label.setVisible(not network.layers)
        self.add_button.setEnabled(len(network.layers) < MAX_LAYERS)
        self.remove_all_button.setEnabled(bool(network.layers))
        self.apply_all.setEnabled(bool(network.layers))
        _select(self.output, network.output)
        _select(self.init, network.init)
        regression = is_regression(experiment)
        for i, name in enumerate(OUTPUTS):
            fits = name in ("auto", "linear") if regression else name != "linear"
            if name in ("sigmoid", "classic") and not regression:
                fits = experiment.data.n_classes == 2
            tip = OUTPUT_TIPS[name] + ("" if fits else " \u2014 does not fit this data")
            self.output.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)

    def _sync_rows(self, count: int) -> None:
        """Create or drop row widgets so there is one per layer (rows are reused)."""
        while len(self.rows) < count:
            row = LayerRow()
            row.edited.connect(self._edit_layer)
            row.moveRequested.connect(self._move_layer)
            row.removeRequested.connect(self._remove_layer)
            self.rows_layout.addWidget(row)
            self.rows.append(row)
        while len(self.rows) > count:
            row = self.rows.pop()
            row.cancel_pending()
            self.rows_layout.removeWidget(row)
            row.deleteLater()

    def set_experiment(self, experiment: Experiment) -> None:
        for row in self.rows:
            row.cancel_pending()
        super().set_experiment(experiment)

    # -- edits -------------------------------------------------------------------------

    def _set_layers(self, layers: tuple[LayerConfig, ...]) -> bool:
        return self._set_path("network.layers", layers)

    def _flush_rows(self) -> None:
        """Before layers are added, moved or removed, finish edits still being debounced
        so they land on the layer they were made on."""
        for row in list(self.rows):
            row.flush_pending()

    def _edit_layer(self, index: int, name: str, value: object) -> None:
        path = f"network.layers[{index}]"
        if name == "alpha_text":
            self._reject_text(f"{path}.alpha", str(value))
            return
        if name == "activation":
            # A new activation starts from its own default alpha, not the old one's.
            self._commit(
                lambda e: with_path(
                    e, path, replace(e.network.layers[index], activation=value, alpha=None)
                )
            )
            return
        self._set_path(f"{path}.{name}", value)

    def _move_layer(self, index: int, delta: int) -> None:
        self._flush_rows()
        layers = list(self._experiment.network.layers)
        target = index + delta
        if not 0 <= target < len(layers):
            return
        layers[index], layers[target] = layers[target], layers[index]
        self._set_layers(tuple(layers))

    def _remove_layer(self, index: int) -> None:
        self._flush_rows()
        layers = list(self._experiment.network.layers)
        if 0 <= index < len(layers):
            del layers[index]
            self._set_layers(tuple(layers))

    def _remove_all(self) -> None:
        self._flush_rows()
        self._set_layers(())

    def _add_layer(self) -> None:
        self._flush_rows()
        layers = self._experiment.network.layers
        new = layers[-1] if layers else LayerConfig(units=4, activation="tanh")
        self._set_layers((*layers, new))

    def _apply_activation_to_all(self) -> None:
        self._flush_rows()
        name = self.all_activation.currentText()
        self._commit(
            lambda e: with_path(
                e,
                "network.layers",
                tuple(replace(layer, activation=name, alpha=None) for layer in e.network.layers),
            )
        )
