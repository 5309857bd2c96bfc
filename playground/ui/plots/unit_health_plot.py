"""Dead and saturated units: the share of each layer's units that have stopped learning.

Two bars per layer, 0..1: red for dead units (a ReLU-family unit that never fires on the
training data gets no gradient), amber for saturated units (a sigmoid/tanh unit sitting
on a flat tail for most points). Each bar carries its percentage; where the measure does
not apply to the layer's activation (a tanh unit cannot die) it says "n/a".
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from playground.experiment.session import Snapshot
from playground.ui import style
from playground.ui.plots.common import header, plot_font, short_layer_name, style_plot

BAR_WIDTH = 0.36
NOT_APPLICABLE = "n/a"
#: With more layers than this, labels shrink to bare numbers ("–" for not applicable).
COMPACT_ABOVE = 6


class UnitHealthPlot(QWidget):
    """Grouped bars: dead and saturated fractions per layer."""

    def __init__(self, parent: QWidget | None = None, *, title: str | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.plot_widget.setMinimumHeight(120)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        style_plot(self.plot)
        self.plot.showGrid(x=False, y=True, alpha=style.GRID_ALPHA)
        self.plot.setYRange(0.0, 1.12, padding=0.02)
        self.plot.enableAutoRange(axis="y", enable=False)
        self.plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "50%"), (1.0, "100%")]])
        self.plot.getAxis("left").setWidth(44)
        self.plot.setLabel("bottom", "layer")
        self.legend_label = QLabel("&nbsp;&nbsp;".join(
            f'<span style="color:{color}; font-size:13pt">■</span>&nbsp;{text}'
            for color, text in ((style.DEAD_COLOR, "dead (never fires)"),
                                (style.SATURATED_COLOR, "saturated (flat slope)"))))
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH,
                                         brush=style.DEAD_COLOR)
        self.saturated_bars = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH,
                                              brush=style.SATURATED_COLOR)
        self.plot.addItem(self.dead_bars)
        self.plot.addItem(self.saturated_bars)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header(title or "", self.legend_label))
        layout.addWidget(self.plot_widget, 1)

        self.layer_names: tuple[str, ...] = ()
        self.value_labels: list[tuple[pg.TextItem, pg.TextItem]] = []
        self._dead = np.empty(0)
        self._saturated = np.empty(0)

    def set_layers(self, names: tuple[str, ...]) -> None:
        names = tuple(names)
        if names == self.layer_names:
            return
        for pair in self.value_labels:
            for label in pair:
                self.plot.removeItem(label)
        self.layer_names = names
        self.value_labels = []
        for _ in names:
            pair = []
            for color in (style.DEAD_COLOR, style.SATURATED_COLOR):
                label = pg.TextItem("", color=pg.mkColor(color).darker(150), anchor=(0.5, 1.0))
                label.setFont(plot_font())
                self.plot.addItem(label)
                pair.append(label)
            self.value_labels.append((pair[0], pair[1]))
        self._dead = np.full(len(names), np.nan)
        self._saturated = np.full(len(names), np.nan)
        self.plot.getAxis("bottom").setTicks(
            [[(float(i), short_layer_name(n)) for i, n in enumerate(names)]])
        self.plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self._draw()

    def fractions(self) -> tuple[np.ndarray, np.ndarray]:
        """The dead and saturated fractions now drawn (nan where not applicable)."""
        return self._dead.copy(), self._saturated.copy()

    def update_from(self, snapshot: Snapshot) -> None:
        self.set_layers(snapshot.layer_names)
        dead = np.asarray(snapshot.dead_fraction, dtype=np.float64)
        saturated = np.asarray(snapshot.saturated_fraction, dtype=np.float64)
        if np.array_equal(dead, self._dead, equal_nan=True) and \
                np.array_equal(saturated, self._saturated, equal_nan=True):
            return
        self._dead, self._saturated = dead, saturated
        self._draw()

    def _draw(self) -> None:
        x = np.arange(len(self.layer_names), dtype=np.float64)
        self.dead_bars.setOpts(x=x - BAR_WIDTH / 2, height=np.nan_to_num(self._dead),
                               width=BAR_WIDTH)
        self.saturated_bars.setOpts(x=x + BAR_WIDTH / 2,
                                    height=np.nan_to_num(self._saturated), width=BAR_WIDTH)
        compact = len(self.layer_names) > COMPACT_ABOVE
        for i, (pair, values) in enumerate(zip(self.value_labels, zip(self._dead,
                                                                      self._saturated))):
            for side, (label, value) in enumerate(zip(pair, values)):
                text = _percent(value, compact)
                if text != label.textItem.toPlainText():
                    label.setText(text)
                label.setPos(i + (side - 0.5) * BAR_WIDTH, 0.0 if np.isnan(value) else value)


def _percent(value: float, compact: bool) -> str:
    if np.isnan(value):
        return "–" if compact else NOT_APPLICABLE
    return f"{100 * value:.0f}" if compact else f"{100 * value:.0f}%"
