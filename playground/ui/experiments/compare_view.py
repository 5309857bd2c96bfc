"""Compare: the current experiment trained with one setting varied, side by side.

The variants differ from the current experiment in the chosen setting only (same seed,
same data), train in one background thread (:class:`CompareWorker`) and are drawn as
small multiples: a decision boundary per variant, the loss curves overlaid, and one
small plot per layer with every variant's gradient norm for that layer overlaid
(:class:`LayerGradients`). "Use this one" hands the variant's experiment to the window
(``experimentChosen``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from playground.experiment.config import ConfigError, Experiment, is_regression
from playground.experiment.sweep import SweepError
from playground.ui import style
from playground.ui.experiments.boundary_thumb import BoundaryThumb
from playground.ui.experiments.compare_runner import (
    MAX_VARIANTS,
    MIN_VARIANTS,
    SETTINGS,
    CompareSession,
    Variant,
    VariantState,
    parse_values,
    variants_for,
)
from playground.ui.experiments.layer_gradients import STEP_PADDING, LayerGradients
from playground.ui.experiments.workers import CompareWorker
from playground.ui.plots.common import curve_pen, style_plot

#: Values offered when a setting is picked (the learner edits them freely).
DEFAULT_VALUES = {
    "network.layers[*].activation": "sigmoid, tanh, relu",
    "training.optimizer.name": "sgd, momentum, adam",
    "training.optimizer.learning_rate": "0.003, 0.03, 0.3",
    "network.init": "glorot_uniform, he_uniform, lecun_normal",
    "training.batch_size": "1, 10, 100",
    "training.l2": "0, 0.001, 0.01",
}
STOP_TIMEOUT = 1.0


def variant_colors(n: int) -> list[str]:
    return [style.class_color(i) for i in range(n)]


class _VariantCard(QWidget):
    """One variant's boundary, its status line and the "Use this one" button."""

    def __init__(self, title: str, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb = BoundaryThumb(f'<b style="color:{color}">■</b> {title}')
        self.status_label = QLabel("preparing…")
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.use_button = QPushButton("Use this one")
        self.use_button.setToolTip("Make this variant the current experiment")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.thumb)
        layout.addWidget(self.status_label)
        layout.addWidget(self.use_button)


class CompareView(QDialog):
    """Pick a setting and 2..6 values; watch the variants train side by side."""

    experimentChosen = Signal(object)  # Experiment

    def __init__(self, base: Experiment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare settings")
        self.resize(1180, 780)
        self._base = base
        self._session: CompareSession | None = None
        self.worker: CompareWorker | None = None
        self.states: list[VariantState] = []
        self._cards: list[_VariantCard] = []
        self._loss_curves: list[pg.PlotDataItem] = []

        self.setting_combo = QComboBox()
        for setting in SETTINGS:
            self.setting_combo.addItem(setting.label, setting.path)
        self.values_edit = QLineEdit()
        self.values_edit.setToolTip(f"{MIN_VARIANTS} to {MAX_VARIANTS} values, comma-separated")
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)

        self.cards_box = QWidget()
        self.cards_layout = QHBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)

        self.loss_plot = pg.PlotWidget(background=style.BACKGROUND)
        loss_plot = self.loss_plot.getPlotItem()
        style_plot(loss_plot)
        loss_plot.setTitle("Loss (mean batch loss)", color=style.FOREGROUND, bold=True,
                           size=f"{style.PLOT_FONT_POINTS + 1}pt")
        loss_plot.setLabel("bottom", "step")
        loss_plot.showGrid(x=False, y=True, alpha=style.GRID_ALPHA)
        # A framed, nearly opaque legend: the curves pass behind it, not through it.
        loss_plot.addLegend(offset=(-10, 10), labelTextColor=style.FOREGROUND,
                            brush=pg.mkBrush(255, 255, 255, 230),
                            pen=pg.mkPen(style.TILE_OUTLINE))
        loss_plot.enableAutoRange(axis="x", enable=False)
        self.grad_plots = LayerGradients()

        top = QHBoxLayout()
        top.addWidget(QLabel("Setting:"))
        top.addWidget(self.setting_combo)
        top.addWidget(QLabel("Values:"))
        top.addWidget(self.values_edit, 1)
        top.addWidget(self.start_button)
        top.addWidget(self.stop_button)
        plots = QGridLayout()
        plots.addWidget(self.loss_plot, 0, 0)
        plots.addWidget(self.grad_plots, 0, 1)
        plots.setColumnStretch(0, 2)
        plots.setColumnStretch(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message_label)
        layout.addWidget(self.cards_box)
        layout.addLayout(plots, 1)

        self.setting_combo.currentIndexChanged.connect(self._on_setting_changed)
        self.start_button.clicked.connect(self.start_from_editor)
        self.stop_button.clicked.connect(self.stop)
        self.values_edit.returnPressed.connect(self.start_from_editor)
        self._on_setting_changed()

    # ------------------------------------------------------------------ public API
    @property
    def base(self) -> Experiment:
        return self._base

    def set_base(self, experiment: Experiment) -> None:
        """The experiment the next comparison varies (a running one carries on)."""
        self._base = experiment

    @property
    def session(self) -> CompareSession | None:
        return self._session

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def choose(self, path: str, values: str) -> None:
        """Select the setting at ``path`` and type ``values`` into the editor."""
        index = self.setting_combo.findData(path)
        if index < 0:
            raise ValueError(f"{path}: not a setting the comparison offers")
        self.setting_combo.setCurrentIndex(index)
        self.values_edit.setText(values)

    def start_from_editor(self) -> bool:
        """Compare the values typed for the chosen setting; False (and a message) when
        they do not make a valid comparison."""
        path = self.setting_combo.currentData()
        try:
            values = parse_values(self.values_edit.text())
        except SweepError as err:
            return self._refuse(str(err))
        if not MIN_VARIANTS <= len(values) <= MAX_VARIANTS:
            return self._refuse(f"Give {MIN_VARIANTS} to {MAX_VARIANTS} values, separated by "
                                f"commas (got {len(values)}).")
        return self.start(variants_for(path, values))

    def start(self, variants: Sequence[Variant]) -> bool:
        """Stop any running comparison and start these variants of the base."""
        self.stop()
        try:
            session = CompareSession(self._base, variants)
        except (ConfigError, ValueError) as err:
            return self._refuse(str(err))
        self._session = session
        self.states = []
        self._build_outputs(session)
        self.message_label.setText(
            f"Training {len(variants)} variants for {session.max_steps} steps, same seed "
            f"({self._base.seed}) and same data.")
        worker = CompareWorker(session, parent=self)
        worker.statesReady.connect(self._on_states)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(True)
        worker.start()
        return True

    def stop(self) -> bool:
        """Stop the training thread (within ``STOP_TIMEOUT``); True when it has ended."""
        worker, self.worker = self.worker, None
        self.stop_button.setEnabled(False)
        if worker is None:
            return True
        ended = worker.stop(STOP_TIMEOUT)
        worker.deleteLater()
        return ended

    def use_variant(self, index: int) -> Experiment | None:
        """Hand variant ``index``'s experiment to the window."""
        if self._session is None or not 0 <= index < len(self._session.experiments):
            return None
        experiment = self._session.experiments[index]
        self.experimentChosen.emit(experiment)
        self.message_label.setText(f"“{self._session.variants[index].label}” is now the "
                                   "current experiment.")
        return experiment

    # ------------------------------------------------------------------ drawing
    def _refuse(self, message: str) -> bool:
        self.message_label.setText(f'<span style="{style.ERROR_TEXT_STYLE}">{message}</span>')
        return False

    def _on_setting_changed(self) -> None:
        self.values_edit.setText(DEFAULT_VALUES.get(self.setting_combo.currentData(), ""))

    def _build_outputs(self, session: CompareSession) -> None:
        for card in self._cards:
            self.cards_layout.removeWidget(card)
            card.deleteLater()
        self._cards = []
        loss = self.loss_plot.getPlotItem()
        loss.clear()
        if loss.legend is not None:
            loss.legend.clear()
        steps = (0.0, float(session.max_steps))
        loss.setXRange(*steps, padding=STEP_PADDING)
        self._loss_curves = []
        colors = variant_colors(len(session.variants))
        self.grad_plots.reset([v.label for v in session.variants], colors, steps=steps)
        for i, (variant, color) in enumerate(zip(session.variants, colors)):
            card = _VariantCard(variant.label, color)
            card.use_button.clicked.connect(lambda _=False, i=i: self.use_variant(i))
            self.cards_layout.addWidget(card)
            self._cards.append(card)
            curve = loss.plot(pen=curve_pen(color), name=variant.label)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self._loss_curves.append(curve)
        self.cards_layout.addStretch(1)

    @Slot(object)
    def _on_states(self, states: list[VariantState]) -> None:
        self.states = states
        regression = is_regression(self._base)
        for state, card, loss in zip(states, self._cards, self._loss_curves):
            card.thumb.set_boundary(state.boundary, regression=regression)
            card.status_label.setText(
                f"diverged at step {state.step}" if state.diverged
                else f"step {state.step}" + (f" · loss {state.loss[-1]:.3g}"
                                             if len(state.loss) else ""))
            loss.setData(state.steps, state.loss, connect="finite")
        self.grad_plots.show_states(states)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._refuse(f"The comparison stopped: {message}")

    @Slot()
    def _on_finished(self) -> None:
        self.stop_button.setEnabled(False)
        if self._session is not None and self._session.finished:
            self.message_label.setText(f"Done: every variant trained "
                                       f"{self._session.max_steps} steps (or diverged).")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.stop()
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Esc and the window's close button end here
        self.stop()
        super().done(result)
