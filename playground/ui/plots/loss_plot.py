"""Training and test loss (and accuracy) over the steps of the current session.

The curves come from the session's evaluations (the whole training and test sets every
``eval_every`` steps), with the noisy per-step batch loss faintly behind them. A gap
opening between the training and the test curve is overfitting, which is the thing to
see here.

Speed: the history hands over at most a few thousand points per curve however long the
run (bucket means, see ``ui.history``), so plain ``PlotCurveItem``s with fixed pens are
enough, and the axis limits move in 1-2-5 jumps (``SteadyRange``) so the cached axes are
seldom redrawn. The log scale is drawn as log10 values on a linear axis whose ticks are
labelled as powers of ten, which keeps zero and non-finite losses out of harm's way.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from playground.ui import style
from playground.ui.history import History
from playground.ui.plots.common import (
    STEP_AXIS_STEPS,
    SteadyRange,
    curve_pen,
    header,
    style_plot,
)

#: Losses at or below this are drawn at it on the log scale.
LOSS_FLOOR = 1e-12


class LossPlot(QWidget):
    """Loss curves (top, optional log scale) and accuracy curves (bottom)."""

    def __init__(self, parent: QWidget | None = None, *, title: str = "") -> None:
        super().__init__(parent)
        self.log_box = QCheckBox("Log scale")
        self.log_box.setToolTip("Show the loss on a logarithmic axis")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(style.BACKGROUND)
        self.graphics.ci.setContentsMargins(2, 2, 6, 2)
        self.graphics.setMinimumHeight(160)

        self.loss_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        self.accuracy_plot: pg.PlotItem = self.graphics.addPlot(row=1, col=0)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        for plot in (self.loss_plot, self.accuracy_plot):
            style_plot(plot)
            plot.showGrid(x=True, y=True, alpha=style.GRID_ALPHA)
            plot.getAxis("left").setWidth(48)
        self.accuracy_plot.setXLink(self.loss_plot)
        self.loss_plot.setLabel("left", "loss")
        self.accuracy_plot.setLabel("left", "accuracy")
        self.accuracy_plot.setLabel("bottom", "step")
        self.loss_plot.getAxis("bottom").setStyle(showValues=False)
        self.accuracy_plot.enableAutoRange(enable=False)
        self.accuracy_plot.setYRange(0.0, 1.0, padding=0.04)
        self.accuracy_plot.getAxis("left").setTicks(
            [[(0.0, "0"), (0.5, "50%"), (1.0, "100%")], [(0.25, ""), (0.75, "")]])
        self.x_range = SteadyRange(self.loss_plot, "x", steps=STEP_AXIS_STEPS)
        self.y_range = SteadyRange(self.loss_plot, "y", include_zero=True)

        self.legend_label = QLabel(" ".join(
            f'<span style="color:{color}; font-size:13pt">━</span>&nbsp;{name}&nbsp;'
            for color, name in ((style.TRAIN_LOSS_COLOR, "training"),
                                (style.TEST_LOSS_COLOR, "test"),
                                (style.BATCH_LOSS_COLOR, "each batch"))))
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.batch_loss_curve = pg.PlotCurveItem(pen=curve_pen(style.BATCH_LOSS_COLOR, 1))
        self.train_loss_curve = pg.PlotCurveItem(pen=curve_pen(style.TRAIN_LOSS_COLOR))
        self.test_loss_curve = pg.PlotCurveItem(pen=curve_pen(style.TEST_LOSS_COLOR))
        self.train_accuracy_curve = pg.PlotCurveItem(pen=curve_pen(style.TRAIN_LOSS_COLOR))
        self.test_accuracy_curve = pg.PlotCurveItem(pen=curve_pen(style.TEST_LOSS_COLOR))
        for curve in (self.batch_loss_curve, self.train_loss_curve, self.test_loss_curve):
            self.loss_plot.addItem(curve)
        self.accuracy_plot.addItem(self.train_accuracy_curve)
        self.accuracy_plot.addItem(self.test_accuracy_curve)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header(title, self.legend_label, self.log_box))
        layout.addWidget(self.graphics, 1)

        self._history: History | None = None
        self._revision = -1
        self._classification = True
        self.log_box.toggled.connect(self._on_log_toggled)

    # ------------------------------------------------------------------ public API
    @property
    def log_scale(self) -> bool:
        return self.log_box.isChecked()

    def set_log_scale(self, on: bool) -> None:
        self.log_box.setChecked(on)

    def set_task(self, classification: bool) -> None:
        """Accuracy only means something for classification."""
        self._classification = classification
        self.accuracy_plot.setVisible(classification)
        self.loss_plot.getAxis("bottom").setStyle(showValues=not classification)
        self.loss_plot.setLabel("bottom", "" if classification else "step")

    def curves(self) -> list[pg.PlotCurveItem]:
        return [self.batch_loss_curve, self.train_loss_curve, self.test_loss_curve,
                self.train_accuracy_curve, self.test_accuracy_curve]

    def reset(self) -> None:
        """A new session: empty curves."""
        self._history, self._revision = None, -1
        self.x_range.reset()
        self.y_range.reset()
        empty = np.empty(0)
        for curve in self.curves():
            curve.setData(empty, empty)

    def update_from(self, history: History) -> bool:
        """Redraw from the history if it grew; returns True when something was drawn."""
        if history is self._history and history.revision == self._revision:
            return False
        self._history, self._revision = history, history.revision
        step, values = history.evaluation_curves()
        train, test = self._scaled(values[:, 0]), self._scaled(values[:, 1])
        self.train_loss_curve.setData(step, train, connect="finite")
        self.test_loss_curve.setData(step, test, connect="finite")
        if self._classification:
            self.train_accuracy_curve.setData(step, values[:, 2], connect="finite")
            self.test_accuracy_curve.setData(step, values[:, 3], connect="finite")
        x, y = history.batch_loss_curve()
        self.batch_loss_curve.setData(x, self._scaled(y), connect="finite")
        if len(step):
            self.x_range.fit(0.0, float(step[-1]))
            shown = np.concatenate([train, test])
            shown = shown[np.isfinite(shown)]
            if shown.size:
                low, high = float(shown.min()), float(shown.max())
                if self.log_scale:
                    low, high = 10.0 ** low, 10.0 ** high
                self.y_range.fit(low, high)
        return True

    # ------------------------------------------------------------------ internals
    def _scaled(self, loss: np.ndarray) -> np.ndarray:
        """Values as drawn: the loss itself, or log10 of it on the log scale."""
        loss = np.where(np.isfinite(loss), loss, np.nan)
        if not self.log_scale:
            return loss
        with np.errstate(invalid="ignore"):
            return np.log10(np.maximum(loss, LOSS_FLOOR))

    def _on_log_toggled(self, on: bool) -> None:
        self.loss_plot.getAxis("left").setLogMode(on)
        self.y_range = SteadyRange(self.loss_plot, "y", log=on, include_zero=not on)
        if self._history is not None:
            history, self._history = self._history, None
            self.update_from(history)
