"""Diagnostics: gradient sizes over time, weight and activation histograms, and hints.

Three parts, top to bottom:

* Hints in plain language (``experiment.hints``) when a known pattern appears, each with
  the numbers behind it. The rules read recent typical values, built here from the
  training history by :func:`training_state`.
* A heat strip, layer by time, of each layer's gradient norm on a log colour scale
  (viridis, whole decades): vanishing gradients show as early layers far darker than
  late ones, a dead network as a sudden drop to the darkest colour.
* Per layer, the histogram of its weights and of its outputs on a sample of the training
  points, as ridgelines (one row per layer, each scaled to its own peak) so that the
  shapes compare at a glance: a spike at 0 in a ReLU layer is its dead units, piles at
  +-1 in a tanh layer its saturated ones.

The history changes slowly and the text is costly to lay out, so this view redraws at
most twice a second (``refresh_seconds``).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.engine import NetworkSpec
from playground.experiment.build import PreparedData
from playground.experiment.hints import MIN_STEPS, Hint, TrainingState, compute_hints, typical
from playground.experiment.session import Snapshot
from playground.ui import style
from playground.ui.history import LOG_NORM_FLOOR, History
from playground.ui.plots.common import nice_ceiling, short_layer_name, style_plot
from playground.ui.views.inside_view import InsideView, TextPanel

#: Bars per histogram row.
HISTOGRAM_BINS = 40
#: Height of a histogram row's tallest bar (rows are 1 apart).
RIDGE_HEIGHT = 0.85
#: The colour scale of the heat strip spans at least this many decades.
MIN_DECADES = 2
_LUT_SIZE = 256
WAITING_HTML = "<i>Hints appear here while the network trains.</i>"
HINT_TITLES = {
    "vanishing": "Vanishing gradients",
    "exploding": "Exploding gradients",
    "dead": "Dead units",
    "saturated": "Saturated units",
    "step_size": "Step size",
    "overfitting": "Overfitting",
}
NUMBER_NAMES = {
    "ratio": "ratio", "low": "smallest", "high": "largest",
    "dead_fraction": "dead share", "saturated_fraction": "saturated share",
    "units": "units", "update_ratio": "update / weight", "rise": "rise",
    "best_test_loss": "best test loss", "best_step": "at step",
}


def training_state(history: History, snapshot: Snapshot,
                   spec: NetworkSpec) -> TrainingState | None:
    """What the hint rules read: the typical gradient norm and update ratio per layer
    over the history's recent steps (the latest snapshot's norms when there are none
    yet), the snapshot's unit fractions and learning rate, and every evaluation so far.
    None when the history or the snapshot belongs to another network."""
    names = snapshot.layer_names
    if len(names) != len(spec.hidden) + 1:
        return None
    grad_rows, ratio_rows = history.recent_steps()
    if grad_rows.shape[1:] != (len(names),):
        grad_rows = np.asarray(snapshot.current_grad_norm, dtype=np.float64)[None, :]
        ratio_rows = np.full((1, len(names)), np.nan)
    evaluations = history.evaluation_table()
    return TrainingState(
        step=snapshot.step,
        layer_names=names,
        activations=tuple(h.activation for h in spec.hidden) + (spec.head,),
        units=tuple(h.units for h in spec.hidden) + (spec.n_outputs,),
        grad_norm=typical(grad_rows),
        update_ratio=typical(ratio_rows),
        dead_fraction=np.asarray(snapshot.dead_fraction, dtype=np.float64),
        saturated_fraction=np.asarray(snapshot.saturated_fraction, dtype=np.float64),
        learning_rate=snapshot.learning_rate,
        eval_step=evaluations[:, 0].copy(),
        train_loss=evaluations[:, 1].copy(),
        test_loss=evaluations[:, 2].copy(),
    )


def hints_html(hints: list[Hint], step: int) -> str:
    """The hints as rich text, each with its numbers; a calm sentence when there are
    none."""
    if step < MIN_STEPS:
        return (f"<i>Hints start after {MIN_STEPS} steps, once the numbers have settled "
                f"(now at step {step:,}).</i>")
    if not hints:
        return ("<span style='color:#166534'><b>No warning signs.</b></span> Gradients, "
                "step sizes, units and the test loss look healthy.")
    blocks = []
    for hint in hints:
        title = HINT_TITLES.get(hint.kind, hint.kind)
        where = f" · {html.escape(hint.layer)}" if hint.layer else ""
        numbers = " · ".join(f"{NUMBER_NAMES.get(k, k.replace('_', ' '))} = {_number(v)}"
                             for k, v in hint.numbers.items())
        blocks.append(
            f"<p style='margin:0 0 6px 0'><b style='color:#b45309'>⚠ {title}{where}</b><br>"
            f"{html.escape(hint.text)}<br>"
            f"<span style='color:#6b7280'>{html.escape(numbers)}</span></p>")
    return "".join(blocks)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if 1e3 <= abs(value) < 1e9 or (value == int(value) and abs(value) < 1e9):
        return f"{value:,.0f}"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e3 else f"{value:.2e}"


class DiagnosticsView(InsideView):
    """Hints, the gradient heat strip and per-layer histograms (see module docstring)."""

    needs_inside = True
    refresh_seconds = 0.5

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hints_view = TextPanel(lines=3)
        self.hints_view.setStyleSheet(
            "QTextBrowser { background: #fffbeb; border: 1px solid #fde68a;"
            " border-radius: 4px; padding: 2px; }")
        self.hints_view.set_html(WAITING_HTML)

        self.heat_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.heat_widget.setMinimumHeight(80)
        self.heat_plot: pg.PlotItem = self.heat_widget.getPlotItem()
        style_plot(self.heat_plot)
        self.heat_plot.getViewBox().invertY(True)
        self.heat_plot.setLabel("bottom", "step")
        self.heat_plot.setLabel("left", "layer")
        self.heat_plot.getAxis("left").setWidth(40)
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.heat_image)
        self.colorbar_label = QLabel()
        self.colorbar_low = QLabel()
        self.colorbar_high = QLabel()
        self._lut = np.vstack([style.magnitude_lut(_LUT_SIZE),
                               _rgba_row(style.MISSING_COLOR)])
        self.colorbar_label.setPixmap(_gradient_pixmap(self._lut[:_LUT_SIZE], 120, 10))

        self.histograms = pg.GraphicsLayoutWidget()
        self.histograms.setBackground(style.BACKGROUND)
        self.histograms.setMinimumHeight(110)
        self.weight_plot: pg.PlotItem = self.histograms.addPlot(row=0, col=0)
        self.activation_plot: pg.PlotItem = self.histograms.addPlot(row=0, col=1)
        for plot, title in ((self.weight_plot, "weights"),
                            (self.activation_plot, "outputs on training points")):
            style_plot(plot)
            plot.setTitle(title, size=f"{style.PLOT_FONT_POINTS}pt", color=style.FOREGROUND)
            plot.showGrid(x=True, y=False, alpha=style.GRID_ALPHA)
            plot.getAxis("left").setWidth(34)
            plot.enableAutoRange(enable=False)
        self.weight_ridges: list[pg.PlotCurveItem] = []
        self.activation_ridges: list[pg.PlotCurveItem] = []

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        title = QLabel("Gradient size per layer over time (log colour scale)")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        bar.addWidget(title)
        bar.addStretch(1)
        bar.addWidget(self.colorbar_low)
        bar.addWidget(self.colorbar_label)
        bar.addWidget(self.colorbar_high)
        hist_title = QLabel("Histograms per layer (each row scaled to its own peak)")
        hist_title.setFont(font)
        hist_title.setContentsMargins(4, 0, 4, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        layout.addWidget(self.hints_view, 1)
        layout.addLayout(bar)
        layout.addWidget(self.heat_widget, 2)
        layout.addWidget(hist_title)
        layout.addWidget(self.histograms, 3)

        self._spec: NetworkSpec | None = None
        self._levels: tuple[float, float] | None = None
        self._revision = -1
        self._history: History | None = None
        self._weight_range = 0.0
        self._activation_range: tuple[float, float] | None = None
        self.hints: list[Hint] = []

    # ------------------------------------------------------------------ public API
    @property
    def levels(self) -> tuple[float, float] | None:
        """log10 limits of the heat strip's colour scale."""
        return self._levels

    def heat_rgba(self) -> np.ndarray | None:
        """The heat strip as drawn: ``(layers, buckets, 4)`` uint8, layer 1 first."""
        return self.heat_image.image

    def set_network(self, spec: NetworkSpec, data: PreparedData) -> None:
        self._spec = spec

    def reset(self) -> None:
        self._levels = None
        self._revision = -1
        self._history = None
        self._weight_range = 0.0
        self._activation_range = None
        self.hints = []
        self.heat_image.clear()
        for ridge in self.weight_ridges + self.activation_ridges:
            ridge.setData(np.array([0.0, 1.0]), np.array([0.0]))
        self._set_hints_html(WAITING_HTML)

    def update_from(self, snapshot: Snapshot, history: History) -> None:
        """Redraw the hints, the heat strip (when the history grew) and the histograms."""
        if self._spec is not None:
            state = training_state(history, snapshot, self._spec)
            if state is not None:
                self.hints = compute_hints(state)
                self._set_hints_html(hints_html(self.hints, snapshot.step))
        if history is not self._history or history.revision != self._revision:
            self._history, self._revision = history, history.revision
            self._draw_heat(history)
        self._draw_weight_ridges(snapshot)
        if snapshot.activations is not None:
            self._draw_activation_ridges(snapshot)

    # ------------------------------------------------------------------ hints
    def hints_text(self) -> str:
        """The hints panel's text, without markup."""
        return self.hints_view.text()

    def _set_hints_html(self, text: str) -> None:
        self.hints_view.set_html(text)

    # ------------------------------------------------------------------ heat strip
    def _draw_heat(self, history: History) -> None:
        names, steps, logs = history.grad_norm_heat()
        if not len(steps) or not logs.shape[1]:
            return
        image = np.ascontiguousarray(logs.T)  # (layers, buckets)
        real = image[np.isfinite(image) & (image > LOG_NORM_FLOOR)]
        if real.size:
            low, high = math.floor(float(real.min())), math.ceil(float(real.max()))
            if self._levels is not None:
                low, high = min(low, self._levels[0]), max(high, self._levels[1])
            if high - low < MIN_DECADES:
                high = low + MIN_DECADES
            if (low, high) != self._levels:
                self._levels = (float(low), float(high))
                self.colorbar_low.setText(f"10<sup>{low}</sup>")
                self.colorbar_high.setText(f"10<sup>{high}</sup>")
        low, high = self._levels if self._levels is not None else (-6.0, 0.0)
        index = (image - low) * ((_LUT_SIZE - 1) / (high - low)) + 0.5
        np.clip(index, 0, _LUT_SIZE - 1, out=index)
        index[~np.isfinite(image)] = _LUT_SIZE  # not a number: grey
        rgba = style.apply_lut(self._lut, index.astype(np.intp))
        reshaped = self.heat_image.image is None or self.heat_image.image.shape != rgba.shape
        self.heat_image.setImage(rgba, autoLevels=False)
        end = float(steps[-1])
        width = end / len(steps) if len(steps) else 1.0
        start = max(0.0, float(steps[0]) - width)
        rect = QRectF(start, 0.0, max(end - start, 1.0), float(len(names)))
        if reshaped or self.heat_image.mapRectToParent(self.heat_image.boundingRect()) != rect:
            self.heat_image.setRect(rect)
            self.heat_plot.getAxis("left").setTicks(
                [[(i + 0.5, short_layer_name(n)) for i, n in enumerate(names)]])
            self.heat_plot.setRange(xRange=(start, start + rect.width()),
                                    yRange=(0.0, float(len(names))), padding=0)

    # ------------------------------------------------------------------ histograms
    def _ridges(self, plot: pg.PlotItem, ridges: list[pg.PlotCurveItem],
                names: list[str]) -> list[pg.PlotCurveItem]:
        """One filled step curve per layer (made again only when the layers change)."""
        if len(ridges) == len(names):
            return ridges
        for ridge in ridges:
            plot.removeItem(ridge)
        colors = style.layer_colors(len(names))
        ridges = []
        for i, color in enumerate(colors):
            fill = pg.mkColor(color)
            fill.setAlpha(130)
            base = float(len(names) - 1 - i)
            ridge = pg.PlotCurveItem(np.array([0.0, 1.0]), np.array([base]),
                                     stepMode="center", fillLevel=base,
                                     brush=pg.mkBrush(fill), pen=pg.mkPen(color, width=1))
            plot.addItem(ridge)
            ridges.append(ridge)
        plot.getAxis("left").setTicks(
            [[(len(names) - 1 - i + 0.35, short_layer_name(n)) for i, n in enumerate(names)]])
        plot.setYRange(-0.1, len(names) - 1 + 1.0, padding=0)
        return ridges

    def _draw_weight_ridges(self, snapshot: Snapshot) -> None:
        names = list(snapshot.layer_names)
        weights = snapshot.weights
        if len(weights) != len(names):
            return
        self.weight_ridges = self._ridges(self.weight_plot, self.weight_ridges, names)
        largest = max((float(np.nanmax(np.abs(w))) for w in weights if w.size), default=1.0)
        half = nice_ceiling(largest) if math.isfinite(largest) and largest > 0 else 1.0
        if half > self._weight_range or half < self._weight_range / 2.5:
            self._weight_range = half
            self.weight_plot.setXRange(-half, half, padding=0.02)
        edges = np.linspace(-self._weight_range, self._weight_range, HISTOGRAM_BINS + 1)
        for i, (ridge, w) in enumerate(zip(self.weight_ridges, weights)):
            ridge.setData(edges, _ridge(w, edges, len(names) - 1 - i))

    def _draw_activation_ridges(self, snapshot: Snapshot) -> None:
        values = snapshot.activations
        names = list(snapshot.layer_names[:-1])
        if values is None or len(values) != len(names) or not names:
            return
        self.activation_ridges = self._ridges(self.activation_plot, self.activation_ridges,
                                              names)
        everything = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
        everything = everything[np.isfinite(everything)]
        if not everything.size:
            return
        low_q, high_q = np.percentile(everything, [0.5, 99.5])
        low = 0.0 if low_q >= 0 else -nice_ceiling(-float(low_q))
        high = nice_ceiling(float(high_q)) if high_q > 0 else 0.0
        if high <= low:
            high = low + 1.0
        old = self._activation_range
        if old is None or low < old[0] or high > old[1] or \
                (high - low) < (old[1] - old[0]) / 2.5:
            self._activation_range = (low, high)
            self.activation_plot.setXRange(low, high, padding=0.02)
        low, high = self._activation_range
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
        for i, (ridge, v) in enumerate(zip(self.activation_ridges, values)):
            ridge.setData(edges, _ridge(v, edges, len(names) - 1 - i))


def _ridge(values: np.ndarray, edges: np.ndarray, base: float) -> np.ndarray:
    """Bar heights of one ridge: counts in ``edges`` (values beyond them in the end bars)
    scaled so the tallest is RIDGE_HEIGHT, on top of ``base``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
    peak = counts.max() if counts.size else 0
    heights = counts * (RIDGE_HEIGHT / peak) if peak > 0 else np.zeros(len(edges) - 1)
    return heights + base


def _rgba_row(color: str) -> np.ndarray:
    r, g, b = style.hex_to_rgb(color)
    return np.array([[r, g, b, 255]], dtype=np.uint8)


def _gradient_pixmap(lut: np.ndarray, width: int, height: int) -> QPixmap:
    """A horizontal colour bar of the lookup table."""
    index = np.linspace(0, len(lut) - 1, width).astype(np.intp)
    row = np.ascontiguousarray(lut[index][None, :, :].repeat(height, axis=0))
    image = QImage(row.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return QPixmap.fromImage(image.copy())
