"""Per-layer gradient norms: history on the left, the current value per layer on the right.

Both halves plot log10 of the norm on one shared y axis (the bar plot is y-linked to the
curves, and both axes label their ticks as powers of ten), so a layer whose gradient is a
thousand times smaller than the last layer's sits three decades lower in both: vanishing
or exploding gradients read at a glance. Each bar rises from far below the visible range
to log10 of its layer's current norm, and a sentence under the plot says how the first
layer's gradient compares with the output layer's.

Per-step norms are noisy from batch to batch; the curves show their geometric mean over
the history's buckets (see ``ui.history``), lightly smoothed, so a run of millions of
steps still draws only a few thousand points per layer and plain ``PlotCurveItem``s
suffice.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.experiment.session import Snapshot
from playground.ui import style
from playground.ui.history import LOG_NORM_FLOOR, History, log10_norms
from playground.ui.plots.common import (
    STEP_AXIS_STEPS,
    SteadyRange,
    curve_pen,
    header,
    short_layer_name,
    style_plot,
)

#: Where the bars start, in log10 units: far below anything drawn.
BAR_BASE = -30.0
#: Points of the history averaged into one point of a curve (as a share of all points).
SMOOTHING_SHARE = 0.03
MIN_SMOOTHING = 5


def log_norms(norms: np.ndarray) -> np.ndarray:
    """log10 of gradient norms for drawing: zero and non-finite norms at the floor."""
    logs = log10_norms(norms)
    return np.where(np.isfinite(logs), logs, LOG_NORM_FLOOR)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start), nan-free input."""
    if window <= 1 or len(values) < 2:
        return values
    c = np.cumsum(np.concatenate([[0.0], values]))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (c[idx] - c[start]) / (idx - start)


class GradientPlot(QWidget):
    """Gradient norm of every layer: curves over steps and bars for the current step."""

    def __init__(self, parent: QWidget | None = None, *, title: str | None = None) -> None:
        super().__init__(parent)
        # Two views side by side rather than one: a frame that moves only the bars then
        # repaints only the small bar view.
        self.curve_view = pg.PlotWidget(background=style.BACKGROUND)
        self.bar_view = pg.PlotWidget(background=style.BACKGROUND)
        for view in (self.curve_view, self.bar_view):
            view.setMinimumHeight(140)
        self.curve_plot: pg.PlotItem = self.curve_view.getPlotItem()
        self.bar_plot: pg.PlotItem = self.bar_view.getPlotItem()
        for plot in (self.curve_plot, self.bar_plot):
            style_plot(plot)
            plot.showGrid(x=False, y=True, alpha=style.GRID_ALPHA)
            plot.getAxis("left").setLogMode(True)  # values are log10: label 10^k
        self.curve_plot.setLabel("bottom", "step")
        self.curve_plot.getAxis("left").setWidth(44)
        self.x_range = SteadyRange(self.curve_plot, "x", steps=STEP_AXIS_STEPS)
        self.y_range = SteadyRange(self.curve_plot, "y", log=True)
        self.bar_plot.setYLink(self.curve_plot)
        self.bar_plot.enableAutoRange(axis="y", enable=False)
        self.bar_plot.enableAutoRange(axis="x", enable=False)
        self.bar_plot.getAxis("left").setWidth(40)
        self.bar_plot.setLabel("bottom", "now, by layer")
        # The legend is a line of text above the plots, so it never hides a curve; the
        # sentence below compares the first layer with the last.
        self.legend_label = QLabel()
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        self.ratio_label = QLabel()
        self.ratio_label.setStyleSheet("font-weight: 600;")
        self.ratio_label.setWordWrap(True)
        self.bars = pg.BarGraphItem(x=[], y0=[], y1=[], width=0.7)
        self.bar_plot.addItem(self.bars)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        if title:
            layout.addLayout(header(title))
        layout.addWidget(self.legend_label)
        views = QHBoxLayout()
        views.setContentsMargins(0, 0, 0, 0)
        views.setSpacing(0)
        views.addWidget(self.curve_view, 5)
        views.addWidget(self.bar_view, 2)
        layout.addLayout(views, 1)
        layout.addWidget(self.ratio_label)

        self.layer_names: tuple[str, ...] = ()
        self.curves: list[pg.PlotCurveItem] = []
        self._bar_tops = np.empty(0)
        self._history: History | None = None
        self._revision = -1

    # ------------------------------------------------------------------ public API
    def set_layers(self, names: tuple[str, ...]) -> None:
        """Create one curve, bar and label per layer (only when the layers change)."""
        names = tuple(names)
        if names == self.layer_names:
            return
        for curve in self.curves:
            self.curve_plot.removeItem(curve)
        self.layer_names = names
        colors = style.layer_colors(len(names))
        self.curves = []
        for color in colors:
            curve = pg.PlotCurveItem(pen=curve_pen(color), skipFiniteCheck=True)
            self.curve_plot.addItem(curve)
            self.curves.append(curve)
        self.legend_label.setText(legend_html(names, colors))
        n = len(names)
        self._bar_tops = np.full(n, LOG_NORM_FLOOR)
        self.bars.setOpts(x=np.arange(n, dtype=np.float64), y0=np.full(n, BAR_BASE),
                          y1=self._bar_tops.copy(), width=0.7,
                          brushes=[pg.mkBrush(c) for c in colors],
                          pens=[pg.mkPen(style.FOREGROUND, width=1)] * n)
        self.bar_plot.getAxis("bottom").setTicks(
            [[(float(i), short_layer_name(name)) for i, name in enumerate(names)]])
        self.bar_plot.setXRange(-0.6, n - 0.4, padding=0)

    def reset(self) -> None:
        """A new session: empty curves (the layers stay until the first snapshot)."""
        self._history, self._revision = None, -1
        self.x_range.reset()
        self.y_range.reset()
        empty = np.empty(0)
        for curve in self.curves:
            curve.setData(empty, empty)

    def bar_values(self) -> np.ndarray:
        """log10 of the norms the bars show now (their tops)."""
        return self._bar_tops.copy()

    def update_from(self, snapshot: Snapshot, history: History | None) -> None:
        """Bars from the snapshot; curves and the comparison sentence from the history as
        well (None: only the bars, the cheap part of a frame)."""
        self.set_layers(snapshot.layer_names)
        self._update_bars(snapshot.current_grad_norm)
        if history is not None:
            self._update_sentence(snapshot.current_grad_norm)
        if history is None or (history is self._history and history.revision == self._revision):
            return
        self._history, self._revision = history, history.revision
        names, curves = history.grad_norm_curves()
        if names != self.layer_names:
            return
        low, high, last_step = math.inf, -math.inf, 0.0
        for item, (x, logs) in zip(self.curves, curves):
            logs = np.where(np.isfinite(logs), logs, LOG_NORM_FLOOR)
            logs = smooth(logs, max(MIN_SMOOTHING, int(len(logs) * SMOOTHING_SHARE)))
            item.setData(x, logs)
            if len(logs):
                low, high = min(low, float(logs.min())), max(high, float(logs.max()))
                last_step = max(last_step, float(x[-1]))
        if len(self._bar_tops):
            low = min(low, float(self._bar_tops.min()))
            high = max(high, float(self._bar_tops.max()))
        if math.isfinite(low) and math.isfinite(high):
            self.x_range.fit(0.0, last_step)
            self.y_range.fit(10.0 ** low, 10.0 ** high)

    # ------------------------------------------------------------------ internals
    def _update_bars(self, norms: np.ndarray) -> None:
        if len(norms) != len(self.layer_names):
            return
        tops = log_norms(norms)
        if np.array_equal(tops, self._bar_tops):
            return
        self._bar_tops = tops
        self.bars.setOpts(y1=tops)

    def _update_sentence(self, norms: np.ndarray) -> None:
        """Text is slow to redraw: the sentence changes only when it reads differently."""
        ratio = ratio_text(norms, self.layer_names)
        if ratio != self.ratio_label.text():
            self.ratio_label.setText(ratio)


def legend_html(names: tuple[str, ...], colors: list[str]) -> str:
    """One coloured swatch and name per layer, as rich text."""
    return "&nbsp;&nbsp;".join(
        f'<span style="color:{c}; font-size:13pt">■</span>&nbsp;{n.replace(" ", "&nbsp;")}'
        for n, c in zip(names, colors))


def ratio_text(norms: np.ndarray, names: tuple[str, ...]) -> str:
    """How the first layer's gradient compares with the output layer's, in words, at one
    significant digit so that the text changes only now and then."""
    if len(norms) < 2:
        return ""
    first, last = float(norms[0]), float(norms[-1])
    if not (np.isfinite(first) and np.isfinite(last)) or first <= 0 or last <= 0:
        return ""
    ratio = last / first
    if 0.5 <= ratio <= 2:
        return f"Now: {names[0]} and {names[-1]} get gradients of about the same size."
    if ratio > 1:
        return f"Now: {names[0]}'s gradient is {_times(ratio)} smaller than the {names[-1]}'s."
    return f"Now: {names[0]}'s gradient is {_times(1 / ratio)} larger than the {names[-1]}'s."


def _times(ratio: float) -> str:
    rounded = float(f"{ratio:.0g}")
    return f"{rounded:,.0f}×"


