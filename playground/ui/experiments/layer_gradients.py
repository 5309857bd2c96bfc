"""Per-layer gradient norms of several variants: one small plot per layer.

Each layer of the network gets its own plot, titled with the layer's name and ordered
from the input side to the output; inside it every variant draws one curve in its own
colour (the colours of the loss plot and the boundary cards). All plots share one log
y scale and one x axis, so two things read at a glance: within a plot, which variant
passes more gradient to that layer; from plot to plot, how the gradient shrinks or
grows on its way back through the network (vanishing or exploding gradients).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from playground.ui import style
from playground.ui.experiments.compare_runner import VariantState
from playground.ui.plots.common import SteadyRange, curve_pen, style_plot

OUTPUT_LAYER = "output"
#: Plots per row: one row for shallow networks, more rows as layers are added.
MAX_COLUMNS = 4
#: Room left and right of the step axis, as a share of its range.
STEP_PADDING = 0.02
TITLE = "Gradient norm per layer, by step (log scale, the same in every plot)"


def all_layers(states: Sequence[VariantState]) -> tuple[str, ...]:
    """Every layer any variant has, hidden layers in order and the output layer last."""
    names: list[str] = []
    for state in states:
        names.extend(n for n in state.layer_names if n not in names)
    return tuple(sorted(names, key=lambda n: n == OUTPUT_LAYER))  # stable: order kept


def columns_for(n_layers: int) -> int:
    """Columns for ``n_layers`` plots, filled row by row as evenly as possible."""
    rows = math.ceil(n_layers / MAX_COLUMNS) if n_layers else 1
    return max(1, math.ceil(n_layers / rows))


def _power_label(value: float) -> str:
    """0.001 ... 1000 written out, smaller and larger values as 1e-5, 2e+04."""
    return f"{value:g}" if 1e-3 <= value < 1e4 else f"{value:.0e}"


def log_ticks(low: int, high: int) -> list[list[tuple[float, str]]]:
    """Tick levels for a log axis showing the decades ``10**low .. 10**high``.

    pyqtgraph labels every 2x..9x tick of a short log axis, which crowds a small plot.
    Here only whole decades carry labels, plus 2x and 5x while the axis spans at most
    two decades (so a short axis still has a few labels); positions are log10 values.
    """
    span = high - low
    decades = [(float(k), _power_label(10.0 ** k)) for k in range(low, high + 1)]
    minor = [(k + math.log10(m), _power_label(m * 10.0 ** k) if span <= 2 else "")
             for k in range(low, high) for m in (2, 5)] if span <= 4 else []
    return [decades, minor]


def positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: zero, negative and non-finite ones become NaN (a gap)."""
    out = np.array(values, dtype=np.float64)
    out[~((out > 0) & np.isfinite(out))] = np.nan
    return out


class LayerGradients(pg.GraphicsLayoutWidget):
    """Small multiples: a plot per layer, a curve per variant in that variant's colour.

    ``reset`` takes the variants of a new comparison; the plots themselves are made when
    the first states name the layers (the trainers are built on the worker thread).
    ``curves[i][j]`` is variant ``j``'s curve in the plot of layer ``layer_names[i]``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(style.BACKGROUND)
        self.layer_names: tuple[str, ...] = ()
        self.plots: list[pg.PlotItem] = []
        self.curves: list[list[pg.PlotDataItem]] = []
        self._labels: list[str] = []
        self._colors: list[str] = []
        self._steps: tuple[float, float] | None = None
        self._y_ranges: list[SteadyRange] = []

    # ------------------------------------------------------------------ public API
    def reset(self, labels: Sequence[str], colors: Sequence[str], *,
              steps: tuple[float, float] | None = None) -> None:
        """A new comparison of these variants: no plots until the layers are known.

        ``steps`` fixes the step axis of every plot (the loss plot's range), so a step
        sits at the same place in all of them; None lets each plot fit its curves.
        """
        self._labels, self._colors = list(labels), list(colors)
        self._steps = steps
        self._build(())

    def show_states(self, states: Sequence[VariantState]) -> None:
        """Draw each variant's per-layer history (states in the variants' order)."""
        names = all_layers(states)
        if names != self.layer_names:
            self._build(names)
        low, high = math.inf, -math.inf
        for j, state in enumerate(states):
            if j >= len(self._colors):
                break
            column = {name: k for k, name in enumerate(state.layer_names)}
            for i, name in enumerate(self.layer_names):
                k = column.get(name)
                curve = self.curves[i][j]
                if k is None:
                    curve.setData([], [])
                    continue
                values = positive(state.grad_norm[:, k])
                curve.setData(state.steps, values, connect="finite")
                shown = values[np.isfinite(values)]
                if shown.size:
                    low, high = min(low, float(shown.min())), max(high, float(shown.max()))
        if not math.isfinite(low):
            return
        # The same limits set on every plot rather than linked views: pyqtgraph lines
        # linked views up by their position on screen, which the layout may shift.
        for plot, y_range in zip(self.plots, self._y_ranges):
            before = y_range.limits
            y_range.fit(low, high)
            if y_range.limits is not None and y_range.limits != before:
                lo, hi = y_range.limits
                plot.getAxis("left").setTicks(log_ticks(int(lo), int(hi)))

    # ------------------------------------------------------------------ internals
    def _build(self, names: tuple[str, ...]) -> None:
        self.clear()
        self.layer_names = names
        self.plots, self.curves, self._y_ranges = [], [], []
        cols = columns_for(len(names))
        self.addLabel(TITLE, row=0, col=0, colspan=cols, color=style.FOREGROUND, bold=True,
                      size=f"{style.PLOT_FONT_POINTS + 1}pt")
        for i, name in enumerate(names):
            plot = self.addPlot(row=1 + i // cols, col=i % cols)
            style_plot(plot)
            plot.setTitle(name, color=style.FOREGROUND, size=f"{style.PLOT_FONT_POINTS}pt")
            plot.setLogMode(y=True)
            plot.showGrid(x=False, y=True, alpha=style.GRID_ALPHA)
            plot.getAxis("left").setWidth(40)
            self._y_ranges.append(SteadyRange(plot, "y", log=True))
            if self._steps is not None:
                plot.enableAutoRange(axis="x", enable=False)
                plot.setXRange(*self._steps, padding=STEP_PADDING)
            curves = []
            for label, color in zip(self._labels, self._colors):
                curve = plot.plot(pen=curve_pen(color), name=label)
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                curves.append(curve)
            self.plots.append(plot)
            self.curves.append(curves)
