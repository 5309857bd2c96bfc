"""Small helpers every plot shares: one look for axes and text, pens built once."""

from __future__ import annotations

import math
import time

import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QWidget

from playground.ui import style


def plot_font(bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSize(style.PLOT_FONT_POINTS)
    font.setBold(bold)
    return font


def style_plot(plot: pg.PlotItem) -> None:
    """Dark axes and readable tick labels on a white plot; no pyqtgraph context menu,
    auto-range button or mouse zoom, which only confuse a learner.

    Axes are cached as pixmaps: redrawing tick labels is the most expensive part of a
    frame, and with ranges that change only now and then (:class:`SteadyRange`) the
    cached axis is reused frame after frame.
    """
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.getViewBox().setMouseEnabled(False, False)
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(style.FOREGROUND))
        axis.setTextPen(pg.mkPen(style.FOREGROUND))
        axis.setStyle(tickFont=plot_font(), tickTextOffset=4)
        axis.enableAutoSIPrefix(False)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


#: Round limits, times a power of ten: fine enough that a range never wastes much more
#: than a third of the plot, coarse enough that it changes only a few times a decade.
NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
#: Coarser round limits for an axis of training steps: at tens of thousands of steps a
#: second the finer ones changed the axis every few tenths of a second, and each change
#: redraws the plot whole (25-40 ms, measured); these change it a few times a decade.
STEP_AXIS_STEPS = (1.0, 2.0, 5.0, 10.0)


def nice_ceiling(value: float, steps: tuple[float, ...] = NICE_STEPS) -> float:
    """The smallest round number (one of ``steps`` times a power of ten) >= ``value``
    (> 0)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in steps:
        if factor * power >= value * (1 - 1e-12):
            return factor * power
    return 10.0 * power


#: Seconds the data must stay inside smaller limits before an axis shrinks to them. Noisy
#: values (a gradient norm jumping across a decade and back) would otherwise move the
#: axis back and forth, and every move redraws its tick labels, the dearest part of a
#: frame.
SHRINK_AFTER_SECONDS = 2.0


class SteadyRange:
    """Keeps one axis of a plot on "nice" limits that change only now and then.

    Auto-ranging moves the axes every frame, and every move redraws their tick labels.
    Snapping the limits (steps to round values, log axes to whole decades) keeps the
    range, and so the cached axes, the same for long stretches of training. The limits
    grow at once to take in new data but shrink only when the data has stayed inside
    the smaller limits for ``SHRINK_AFTER_SECONDS``.
    """

    def __init__(self, plot: pg.PlotItem, axis: str, *, log: bool = False,
                 include_zero: bool = False, steps: tuple[float, ...] = NICE_STEPS,
                 clock=time.monotonic) -> None:
        self.plot = plot
        self.axis = axis
        self.log = log
        self.include_zero = include_zero
        self.steps = steps
        self.limits: tuple[float, float] | None = None
        self._clock = clock
        self._inside_since: float | None = None
        plot.enableAutoRange(axis=axis, enable=False)

    def reset(self) -> None:
        self.limits = None
        self._inside_since = None

    def fit(self, low: float, high: float) -> None:
        """Show at least [low, high] (data units; positive values on a log axis)."""
        if not (math.isfinite(low) and math.isfinite(high)):
            return
        if self.log:
            low, high = max(low, 1e-300), max(high, 1e-300)
            lo = math.floor(math.log10(low) + 1e-9)
            hi = math.ceil(math.log10(high) - 1e-9)
            needed = (float(lo), float(max(hi, lo + 1)))
        else:
            hi = nice_ceiling(high, self.steps) if high > 0 else 0.0
            lo = 0.0 if self.include_zero or low >= 0 else -nice_ceiling(-low, self.steps)
            needed = (lo, hi if hi > lo else lo + 1.0)
        current = self.limits
        if current is None:
            self._apply(needed)
        elif needed[0] < current[0] or needed[1] > current[1]:
            # Grow, keeping the other side where it is.
            self._apply((min(needed[0], current[0]), max(needed[1], current[1])))
        elif needed != current:
            now = self._clock()
            if self._inside_since is None:
                self._inside_since = now
            elif now - self._inside_since >= SHRINK_AFTER_SECONDS:
                self._apply(needed)
        else:
            self._inside_since = None

    def _apply(self, limits: tuple[float, float]) -> None:
        self._inside_since = None
        if limits == self.limits:
            return
        self.limits = limits
        if self.axis == "x":
            self.plot.setXRange(*limits, padding=0.02)
        else:
            self.plot.setYRange(*limits, padding=0.04)


def curve_pen(color: str, width: float = style.CURVE_WIDTH) -> pg.QtGui.QPen:
    """An opaque cosmetic pen (the fast kind for pyqtgraph curves)."""
    pen = pg.mkPen(color, width=width)
    pen.setCosmetic(True)
    return pen


def header(title: str, *widgets: QWidget) -> QHBoxLayout:
    """A plot's title row: bold title on the left, its toggles on the right."""
    row = QHBoxLayout()
    row.setContentsMargins(4, 2, 4, 0)
    if title:
        label = QLabel(title)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        row.addWidget(label)
    row.addStretch(1)
    for w in widgets:
        row.addWidget(w)
    return row


def short_layer_name(name: str) -> str:
    """"layer 3" -> "3", "output" -> "out": tick labels that fit under a bar."""
    if name.startswith("layer "):
        return name[len("layer "):]
    return "out" if name == "output" else name
