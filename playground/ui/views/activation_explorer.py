"""The activation explorer: an activation function, its slope, and where a layer's units
actually sit on it.

The curves are f(x) and f'(x) from the engine's own functions (``engine.activations``),
so what the learner sees is exactly what the network computes, with the parameter of
leaky ReLU, PReLU and ELU adjustable. Behind them, on the same x axis, is the live
histogram of one hidden layer's pre-activations (the values its activation function
receives, sampled on the training set): a pile on ReLU's flat side means units that pass
no gradient, piles in a sigmoid's tails mean saturated units. The ranges where the slope
is under 5% of its peak are shaded, and a sentence says what share of the layer's inputs
falls there. Under the plot, a short note on the function's strengths and weaknesses
(``resources/lessons/activations.json``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from playground.engine import NetworkSpec
from playground.engine import activations as act
from playground.experiment.build import PreparedData
from playground.experiment.session import Snapshot
from playground.resources import resource_path
from playground.ui import style
from playground.ui.history import History
from playground.ui.plots.common import curve_pen, nice_ceiling, style_plot
from playground.ui.views.inside_view import InsideView, TextPanel

NOTES_FILE = ("lessons", "activations.json")
#: Names shown in the menus.
DISPLAY_NAMES = {
    "linear": "linear", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU",
    "leaky_relu": "leaky ReLU", "prelu": "PReLU", "elu": "ELU", "selu": "SELU",
    "swish": "swish", "gelu": "GELU", "softplus": "softplus",
}
#: The adjustable parameter of an activation: label, lowest, highest, step.
PARAMETERS = {
    "leaky_relu": ("negative slope α", 0.0, 1.0, 0.01),
    "prelu": ("slope a (learned per unit)", 0.0, 1.0, 0.01),
    "elu": ("α (lowest output is −α)", 0.05, 3.0, 0.05),
}
#: Points along each curve.
CURVE_POINTS = 801
#: Bars of the histogram over the shown x range.
HISTOGRAM_BINS = 60
#: The x axis shows at least [-DEFAULT_HALF_RANGE, DEFAULT_HALF_RANGE] and widens in
#: round steps when the layer's inputs go further (up to MAX_HALF_RANGE).
DEFAULT_HALF_RANGE = 5.0
MAX_HALF_RANGE = 1000.0
#: Share of the layer's inputs the x range must cover.
COVERED_SHARE = 99.0
#: "Flat": the slope is below this share of its largest value on [-6, 6].
FLAT_SHARE = 0.05


@dataclass(frozen=True)
class ActivationNote:
    formula: str
    good: str
    bad: str


def load_activation_notes(path: Path | None = None) -> tuple[dict[str, ActivationNote], str]:
    """The notes by activation name, and "" or a sentence saying why they could not be
    read (the explorer works without them)."""
    path = path if path is not None else resource_path(*NOTES_FILE)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        return {}, f"The notes could not be read from {path}: {err.strerror or err}."
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return {}, f"The notes in {path} are not valid JSON: {err}."
    if not isinstance(raw, dict):
        return {}, f"The notes in {path} should be one JSON object by activation name."
    notes = {}
    for name, entry in raw.items():
        if isinstance(entry, dict) and all(isinstance(entry.get(k), str)
                                           for k in ("formula", "good", "bad")):
            notes[name] = ActivationNote(entry["formula"], entry["good"], entry["bad"])
    return notes, ""


def flat_mask(name: str, x: np.ndarray, alpha: float | None) -> np.ndarray:
    """Where |f'(x)| is under FLAT_SHARE of its peak (taken over [-6, 6])."""
    reference = np.abs(act.derivative(name, np.linspace(-6.0, 6.0, 1201), alpha))
    peak = float(reference.max())
    if not peak > 0:
        return np.ones(len(x), dtype=bool)
    return np.abs(act.derivative(name, x, alpha)) < FLAT_SHARE * peak


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` index pairs of the True runs of ``mask`` (end inclusive)."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[0::2], edges[1::2])]


class ActivationExplorer(InsideView):
    """f(x), f'(x) and a layer's pre-activation histogram on one x axis."""

    needs_inside = True
    refresh_seconds = 0.1

    def __init__(self, parent: QWidget | None = None, *, notes_path: Path | None = None) -> None:
        super().__init__(parent)
        self.notes, self.notes_error = load_activation_notes(notes_path)
        self.function_box = QComboBox()
        for name in act.ACTIVATIONS:
            self.function_box.addItem(DISPLAY_NAMES.get(name, name), name)
        self.function_box.setToolTip("The activation function to draw")
        self.parameter_label = QLabel()
        self.parameter_box = QDoubleSpinBox()
        self.parameter_box.setDecimals(3)
        self.parameter_box.setKeyboardTracking(False)
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("Whose inputs to show under the curve; picking a layer "
                                  "also picks its activation")
        self.layer_box.setMinimumContentsLength(10)

        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.plot_widget.setMinimumHeight(130)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        style_plot(self.plot)
        self.plot.showGrid(x=True, y=True, alpha=style.GRID_ALPHA)
        self.plot.setLabel("bottom", "x (the value the unit receives)")
        self.plot.getAxis("left").setWidth(40)
        self.plot.enableAutoRange(enable=False)
        self.hist_box = pg.ViewBox(enableMouse=False, enableMenu=False)
        self.hist_box.setZValue(-10)
        self.plot.showAxis("right")
        self.plot.scene().addItem(self.hist_box)
        right = self.plot.getAxis("right")
        right.linkToView(self.hist_box)
        right.setLabel("share of inputs")
        right.setWidth(46)
        self.hist_box.setXLink(self.plot)
        self.plot.getViewBox().sigResized.connect(self._sync_hist_box)

        fill = pg.mkColor(style.HISTOGRAM_COLOR)
        fill.setAlpha(150)
        self.histogram_item = pg.PlotCurveItem(
            np.array([0.0, 1.0]), np.array([0.0]),
            stepMode="center", fillLevel=0.0, brush=pg.mkBrush(fill),
            pen=pg.mkPen(pg.mkColor(style.HISTOGRAM_COLOR).darker(130), width=1))
        self.hist_box.addItem(self.histogram_item)
        self.f_curve = pg.PlotCurveItem(pen=curve_pen(style.CURVE_COLOR, 2.5))
        slope_pen = curve_pen(style.SLOPE_COLOR, 2)
        slope_pen.setStyle(Qt.PenStyle.DashLine)
        self.slope_curve = pg.PlotCurveItem(pen=slope_pen)
        self.f_curve.setZValue(3)
        self.slope_curve.setZValue(2)
        self.plot.addItem(self.f_curve)
        self.plot.addItem(self.slope_curve)
        self.flat_regions: list[pg.LinearRegionItem] = []

        self.legend_label = QLabel(_legend_html())
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        # What the histogram says, then the note on the function: one scrolling panel.
        self.info_view = TextPanel(lines=4)
        self._stats = ""
        self._note = ""

        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 0)
        controls.addWidget(QLabel("Function"))
        controls.addWidget(self.function_box)
        controls.addWidget(self.parameter_label)
        controls.addWidget(self.parameter_box)
        controls.addStretch(1)
        controls.addWidget(QLabel("Inputs of"))
        controls.addWidget(self.layer_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        layout.addLayout(controls)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.plot_widget, 3)
        layout.addWidget(self.info_view, 2)

        self._spec: NetworkSpec | None = None
        self._half_range = DEFAULT_HALF_RANGE
        self._samples: np.ndarray | None = None
        self._dead: np.ndarray | None = None
        self._snapshot: Snapshot | None = None
        self._hist_top = 0.0
        self.function_box.currentIndexChanged.connect(self._on_function)
        self.parameter_box.valueChanged.connect(self._on_parameter)
        self.layer_box.currentIndexChanged.connect(self._on_layer)
        self._set_layers(None)
        self._on_function()

    # ------------------------------------------------------------------ public API
    @property
    def activation(self) -> str:
        return str(self.function_box.currentData())

    @property
    def alpha(self) -> float | None:
        """The parameter drawn (None for functions without one)."""
        return self.parameter_box.value() if self.activation in PARAMETERS else None

    @property
    def layer(self) -> int | None:
        """Index of the hidden layer whose inputs are shown (None: no hidden layer)."""
        data = self.layer_box.currentData()
        return int(data) if data is not None else None

    @property
    def x_range(self) -> tuple[float, float]:
        return -self._half_range, self._half_range

    def set_activation(self, name: str, alpha: float | None = None) -> None:
        """Draw ``name`` (its default parameter unless ``alpha`` is given)."""
        index = self.function_box.findData(act.check_activation(name))
        self.function_box.blockSignals(True)
        self.function_box.setCurrentIndex(index)
        self.function_box.blockSignals(False)
        self._configure_parameter(alpha)
        self._draw_curves()

    def set_layer(self, index: int) -> None:
        """Show hidden layer ``index``'s inputs (and pick its activation)."""
        position = self.layer_box.findData(index)
        if position >= 0:
            self.layer_box.setCurrentIndex(position)

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, f(x), f'(x))`` as drawn."""
        x, f = self.f_curve.getData()
        _, slope = self.slope_curve.getData()
        return x, f, slope

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(bin edges, share of the inputs in each bin)`` as drawn."""
        edges, shares = self.histogram_item.getData()
        return (np.asarray(edges) if edges is not None else np.empty(0),
                np.asarray(shares) if shares is not None else np.empty(0))

    def flat_share(self) -> float | None:
        """Share of the shown layer's sampled inputs where the slope is flat, if known."""
        if self._samples is None or not len(self._samples):
            return None
        return float(flat_mask(self.activation, self._samples, self.alpha).mean())

    def set_network(self, spec: NetworkSpec, data: PreparedData) -> None:
        if spec == self._spec:
            return
        self._spec = spec
        self._set_layers(spec)

    def reset(self) -> None:
        self._samples, self._dead, self._snapshot = None, None, None
        self._half_range = DEFAULT_HALF_RANGE
        self._draw_curves()
        self._draw_histogram()

    def update_from(self, snapshot: Snapshot, history: History | None = None) -> None:
        """Take the shown layer's inputs from the snapshot and redraw the histogram."""
        self._snapshot = snapshot
        layer = self.layer
        pre = snapshot.pre_activations
        if layer is None or pre is None or layer >= len(pre):
            return
        self._samples = np.asarray(pre[layer], dtype=np.float64).ravel()
        dead = snapshot.dead_units
        self._dead = dead[layer] if dead is not None and layer < len(dead) else None
        self._fit_range()
        self._draw_histogram()

    # ------------------------------------------------------------------ controls
    def _set_layers(self, spec: NetworkSpec | None) -> None:
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        hidden = spec.hidden if spec is not None else ()
        for i, h in enumerate(hidden):
            units = "unit" if h.units == 1 else "units"
            self.layer_box.addItem(f"layer {i + 1} · "
                                   f"{DISPLAY_NAMES.get(h.activation, h.activation)}", i)
            self.layer_box.setItemData(i, f"{h.units} {units}", Qt.ItemDataRole.ToolTipRole)
        if not hidden:
            self.layer_box.addItem("no hidden layer", None)
        self.layer_box.setEnabled(bool(hidden))
        self.layer_box.blockSignals(False)
        self._samples = None
        self._on_layer()

    def _on_layer(self) -> None:
        layer, spec = self.layer, self._spec
        if layer is not None and spec is not None and layer < len(spec.hidden):
            h = spec.hidden[layer]
            self.set_activation(h.activation, h.resolved_alpha if h.activation in PARAMETERS
                                else None)
        self._samples = None
        if self._snapshot is not None:
            self.update_from(self._snapshot)
        else:
            self._draw_histogram()

    def _on_function(self) -> None:
        self._configure_parameter(None)
        self._draw_curves()
        self._draw_histogram()

    def _on_parameter(self) -> None:
        self._draw_curves()
        self._draw_histogram()

    def _configure_parameter(self, alpha: float | None) -> None:
        name = self.activation
        spec = PARAMETERS.get(name)
        self.parameter_label.setVisible(spec is not None)
        self.parameter_box.setVisible(spec is not None)
        if spec is not None:
            label, low, high, step = spec
            self.parameter_box.blockSignals(True)
            self.parameter_box.setRange(low, high)
            self.parameter_box.setSingleStep(step)
            self.parameter_box.setValue(act.DEFAULT_ALPHA[name] if alpha is None else alpha)
            self.parameter_box.blockSignals(False)
            self.parameter_label.setText(label)
        self._note = self._note_html(name)
        self._show_info()

    # ------------------------------------------------------------------ drawing
    def _sync_hist_box(self) -> None:
        self.hist_box.setGeometry(self.plot.getViewBox().sceneBoundingRect())
        self.hist_box.linkedViewChanged(self.plot.getViewBox(), self.hist_box.XAxis)

    def _fit_range(self) -> None:
        """Widen (or narrow) the x range in round steps to cover the inputs."""
        samples = self._samples
        finite = samples[np.isfinite(samples)] if samples is not None else np.empty(0)
        if not finite.size:
            return
        need = float(np.percentile(np.abs(finite), COVERED_SHARE))
        half = min(MAX_HALF_RANGE, max(DEFAULT_HALF_RANGE, nice_ceiling(need)))
        if half > self._half_range or half < self._half_range / 2.5:
            self._half_range = half
            self._draw_curves()

    def _draw_curves(self) -> None:
        name, alpha = self.activation, self.alpha
        x = np.linspace(-self._half_range, self._half_range, CURVE_POINTS)
        f = act.apply(name, x, alpha)
        slope = act.derivative(name, x, alpha)
        self.f_curve.setData(x, f)
        self.slope_curve.setData(x, slope)
        # The y range holds both curves, clipped to a readable height, and always 0..1.
        shown = np.concatenate([f, slope, [0.0, 1.0]])
        shown = shown[np.isfinite(shown)]
        low, high = float(shown.min()), float(shown.max())
        limit = max(2.0, 1.2 * self._half_range)
        low, high = max(low, -limit), min(high, limit)
        pad = 0.06 * (high - low)
        self.plot.setRange(xRange=(-self._half_range, self._half_range),
                           yRange=(low - pad, high + pad), padding=0)
        self._draw_flat_regions(x)

    def _draw_flat_regions(self, x: np.ndarray) -> None:
        # In the histogram's view, under its bars: both sit behind the curves.
        for region in self.flat_regions:
            self.hist_box.removeItem(region)
        self.flat_regions = []
        brush = pg.mkBrush(pg.mkColor(style.FLAT_REGION_COLOR))
        for start, end in _runs(flat_mask(self.activation, x, self.alpha)):
            if end - start < 2:
                continue
            region = pg.LinearRegionItem((float(x[start]), float(x[end])), movable=False,
                                         brush=brush, pen=pg.mkPen(None))
            region.setZValue(-20)
            self.hist_box.addItem(region)
            self.flat_regions.append(region)

    def _draw_histogram(self) -> None:
        samples = self._samples
        if samples is None or not len(samples):
            self.histogram_item.setData(np.array([0.0, 1.0]), np.array([0.0]))
            self._stats = html.escape(self._no_samples_text())
            self._show_info()
            return
        low, high = -self._half_range, self._half_range
        finite = samples[np.isfinite(samples)]
        counts, edges = np.histogram(np.clip(finite, low, high), bins=HISTOGRAM_BINS,
                                     range=(low, high))
        shares = counts / max(len(samples), 1)
        self.histogram_item.setData(edges, shares)
        top = nice_ceiling(float(shares.max()) * 1.15) if shares.max() > 0 else 0.1
        if top != self._hist_top:
            self._hist_top = top
            self.hist_box.setYRange(0.0, top, padding=0)
        self._stats = html.escape(self._stats_text(finite, len(samples)))
        self._show_info()

    def _stats_text(self, finite: np.ndarray, total: int) -> str:
        layer = self.layer
        spec = self._spec
        if layer is None or spec is None:
            return ""
        units = spec.hidden[layer].units
        flat = float(flat_mask(self.activation, finite, self.alpha).mean()) if finite.size \
            else 0.0
        parts = [f"Layer {layer + 1}: {total // max(units, 1):,} training points × {units} "
                 f"units. {flat:.0%} of these inputs land where {self._display()}'s slope "
                 "is under 5% of its peak (shaded)"]
        if finite.size:
            negative = float((finite <= 0).mean())
            parts[-1] += f"; {negative:.0%} are at or below 0."
        if self._dead is not None and act_can_die(spec.hidden[layer].activation):
            parts.append(f"{int(np.sum(self._dead))} of {units} units are dead.")
        beyond = float((np.abs(finite) > self._half_range).mean()) if finite.size else 0.0
        if beyond >= 0.005:
            parts.append(f"{beyond:.0%} lie beyond the edges (counted in the end bars).")
        if self.activation != spec.hidden[layer].activation:
            layer_act = DISPLAY_NAMES.get(spec.hidden[layer].activation)
            parts.append(f"(This layer uses {layer_act}; the curve shows {self._display()} "
                         "for comparison.)")
        return " ".join(parts)

    def stats_text(self) -> str:
        """The sentence about the shown layer's inputs, as plain text."""
        return html.unescape(self._stats)

    def note_text(self) -> str:
        """The note on the drawn function, as plain text."""
        doc = QTextDocument()
        doc.setHtml(self._note)
        return doc.toPlainText()

    def _show_info(self) -> None:
        self.info_view.set_html(f"<p style='margin:0 0 6px 0'>{self._stats}</p>{self._note}")

    def _no_samples_text(self) -> str:
        if self._spec is not None and not self._spec.hidden:
            return "This network has no hidden layer, so no unit sits on an activation curve."
        if self._spec is None:
            return "The layer's inputs appear here once training data is ready."
        return "Waiting for the layer's inputs…"

    def _display(self) -> str:
        return DISPLAY_NAMES.get(self.activation, self.activation)

    def _note_html(self, name: str) -> str:
        note = self.notes.get(name)
        title = f"<b>{html.escape(self._display())}</b>"
        if note is None:
            reason = self.notes_error or "There is no note for this function."
            return f"{title}<br><i>{html.escape(reason)}</i>"
        return (f"{title}&nbsp;&nbsp;<code>{html.escape(note.formula)}</code><br>"
                f"<b>Good:</b> {html.escape(note.good)}<br>"
                f"<b>Watch out:</b> {html.escape(note.bad)}")


def act_can_die(name: str) -> bool:
    """Whether units of this activation can be dead (the ReLU family)."""
    return name in act.RELU_FAMILY


def _legend_html() -> str:
    def swatch(color: str, glyph: str) -> str:
        return f'<span style="color:{color}; font-size:13pt">{glyph}</span>'

    return "&nbsp;&nbsp;".join([
        f"{swatch(style.CURVE_COLOR, '━')}&nbsp;f(x)",
        f"{swatch(style.SLOPE_COLOR, '╌')}&nbsp;slope f′(x)",
        f"{swatch(style.HISTOGRAM_COLOR, '▇')}&nbsp;where the layer's inputs fall",
        f"{swatch('#c9ccd1', '▇')}&nbsp;flat: slope under 5% of its peak",
    ])
