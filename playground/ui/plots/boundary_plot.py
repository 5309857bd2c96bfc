"""The decision boundary: the network's output over the plane, with the data on top.

The network's output arrives as a ``(G, G)`` float32 image (class-1 probability, or the
predicted value for regression) or ``(G, G, k)`` class probabilities; row 0 is the bottom
of the plane (y = -6), which is also where pyqtgraph puts row 0 of a row-major image in
a y-up view, so the image is drawn as it comes. Colours come from a uint8 lookup table
over fixed levels (set once per session, never per frame):

* two classes: orange -> white -> blue by probability, so a confident region is
  saturated and the undecided band around 0.5 is white;
* several classes: each pixel takes the colour of its most likely class, paler the less
  sure the network is (a vectorized index image into a per-class table);
* regression: a diverging map over the data's target range (fixed for the session).

The table is applied here, vectorized, and the ImageItem gets a uint8 RGBA image. Letting
pyqtgraph apply it instead yields an 8-bit indexed QImage, which Qt converts on every
paint: measured on the offscreen raster at 560 px, 4 ms per frame against 1 ms for RGBA.
The data points never move, so they are cached as pixmaps and only blitted per frame.

Instead of the network's output the plot can show one unit's output over the plane (a
:class:`UnitImage`, chosen by clicking the unit in the network view): a coarse grid,
smoothed for the big view, on the orange-white-blue scale over the unit's levels, with
the legend saying which unit it is. The boundary keeps arriving meanwhile and is drawn
again the moment the unit is let go.

Overlays on top of the plot tell the learner what just happened: a short-lived notice
("Reset: network changed") and a persistent red banner (divergence) until the next reset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from playground.experiment.build import PreparedData
from playground.experiment.session import Snapshot
from playground.ui import style
from playground.ui.plots.common import header, style_plot

EXTENT = 6.0
#: Confidence steps per class in the several-classes table.
CONFIDENCE_LEVELS = 32

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
#: A unit's coarse grid is drawn this many times finer (bilinear) in the big plot.
UNIT_UPSAMPLE = 4


@dataclass(frozen=True, eq=False)
class UnitImage:
    """One unit's output over the plane, to show in place of the network's output."""

    values: np.ndarray  # (g, g) float32, row 0 at the bottom
    levels: tuple[float, float]  # drawn orange at the low end, white between, blue high
    title: str  # which unit, in words: "layer 2 · unit 5 (relu)"


class BoundaryPlot(QWidget):
    """The plane [-6, 6]^2 coloured by the network's output, with the data points."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.show_test_box = QCheckBox("Show test data")
        self.show_test_box.setChecked(True)
        self.show_test_box.setToolTip("Draw the held-out test points (white centres)")
        self.discretize_box = QCheckBox("Discretize output")
        self.discretize_box.setToolTip("Colour each region by its predicted class only")

        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.plot_widget.setMinimumSize(260, 260)
        plot = self.plot_widget.getPlotItem()
        style_plot(plot)
        vb = plot.getViewBox()
        vb.setAspectLocked(True)
        vb.disableAutoRange()
        plot.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
        plot.showGrid(x=False, y=False)
        for name in ("left", "bottom"):
            plot.getAxis(name).setTicks([[(float(v), str(v)) for v in range(-6, 7, 2)]])
        plot.setLabel("bottom", "x₁")
        plot.setLabel("left", "x₂")

        self.image_item = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image_item)
        self.train_points = pg.ScatterPlotItem(symbol="o", pxMode=True)
        self.test_points = pg.ScatterPlotItem(symbol="o", pxMode=True)
        for z, points in enumerate((self.train_points, self.test_points), start=10):
            points.setZValue(z)
            points.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.addItem(points)

        self.legend_label = QLabel()
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)  # a long legend must not widen the window

        self.notice_label = QLabel()
        self.notice_label.setStyleSheet(style.NOTICE_STYLE)
        self.notice_label.hide()
        self.banner_label = QLabel()
        self.banner_label.setStyleSheet(style.BANNER_STYLE)
        self.banner_label.setWordWrap(True)
        self.banner_label.setMaximumWidth(520)
        self.banner_label.hide()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.notice_label.hide)

        stack = QGridLayout()
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(self.plot_widget, 0, 0)
        stack.addWidget(self.banner_label, 0, 0,
                        Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        stack.addWidget(self.notice_label, 0, 0,
                        Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header("Decision boundary", self.show_test_box, self.discretize_box))
        layout.addLayout(stack, 1)
        layout.addWidget(self.legend_label)

        self._data: PreparedData | None = None
        self._mode = BINARY
        self._n_classes = 2
        self._target_range = (-1.0, 1.0)
        self._last_boundary: np.ndarray | None = None
        self._unit: UnitImage | None = None
        self._unit_lut = style.diverging_lut()
        self._lut = style.diverging_lut()
        self._levels = (0.0, 1.0)
        self._apply_colors()

        self.show_test_box.toggled.connect(self.test_points.setVisible)
        self.discretize_box.toggled.connect(self._on_discretize)

    # ------------------------------------------------------------------ public API
    @property
    def mode(self) -> str:
        """"binary", "multiclass" or "regression"."""
        return self._mode

    def set_show_test(self, show: bool) -> None:
        self.show_test_box.setChecked(show)

    def set_discretize(self, discretize: bool) -> None:
        self.discretize_box.setChecked(discretize)

    def set_data(self, data: PreparedData) -> None:
        """New data for a new session: draw its points and fix the colour scale."""
        if data is self._data:
            return
        self._data = data
        if data.is_classification:
            self._n_classes = data.n_classes
            self._mode = BINARY if data.n_classes == 2 else MULTICLASS
        else:
            y = np.concatenate([data.train.y, data.test.y]).astype(np.float64)
            lo, hi = (float(y.min()), float(y.max())) if len(y) else (-1.0, 1.0)
            if not hi > lo:
                lo, hi = lo - 1.0, hi + 1.0
            self._mode = REGRESSION
            self._target_range = (lo, hi)
        self._apply_colors()
        self._draw_points()
        self._update_legend()

    def update_from(self, snapshot: Snapshot) -> None:
        """Draw a snapshot's boundary (and its data, when it is a session's first)."""
        if snapshot.data is not None:
            self.set_data(snapshot.data)
        if snapshot.boundary is not None:
            self.set_boundary(snapshot.boundary)

    @property
    def unit_title(self) -> str | None:
        """Which unit is shown instead of the network's output (None: the output)."""
        return self._unit.title if self._unit is not None else None

    def show_unit(self, unit: UnitImage | None) -> None:
        """Show one unit's output over the plane; None goes back to the network's."""
        was = self._unit
        self._unit = unit
        if unit is None:
            if was is not None:
                self._update_legend()
                if self._last_boundary is not None:
                    self.set_boundary(self._last_boundary)
            return
        low, high = unit.levels
        values = _upsample(np.asarray(unit.values, dtype=np.float32), UNIT_UPSAMPLE)
        index = _level_index_image(values, (low, high), len(self._unit_lut))
        self._set_rgba(style.apply_lut(self._unit_lut, index))
        if was is None or was.title != unit.title or was.levels != unit.levels:
            self.legend_label.setText(
                f"<b>Showing {unit.title}</b>: "
                f'<span style="color:{style.CLASS_COLORS[0]}">■</span> {low:.2g} … '
                f'<span style="color:{style.CLASS_COLORS[1]}">■</span> {high:.2g}. '
                "Click the unit again to go back.")

    def set_boundary(self, boundary: np.ndarray) -> None:
        self._last_boundary = boundary
        if self._unit is not None:
            return
        if boundary.ndim == 3:
            if self._mode != MULTICLASS or self._n_classes != boundary.shape[2]:
                self._mode, self._n_classes = MULTICLASS, boundary.shape[2]
                self._apply_colors()
            index = _class_index_image(boundary)
        else:
            if self._mode == MULTICLASS:
                self._mode = BINARY
                self._apply_colors()
            index = _level_index_image(boundary, self._levels, len(self._lut))
        self._set_rgba(style.apply_lut(self._lut, index))

    def _set_rgba(self, rgba: np.ndarray) -> None:
        reshaped = self.image_item.image is None or self.image_item.image.shape != rgba.shape
        self.image_item.setImage(rgba, autoLevels=False)
        if reshaped:  # the rect scales by the image size, so it follows a new shape
            self.image_item.setRect(QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT))

    def image_rgba(self) -> np.ndarray | None:
        """The colours now shown, ``(G, G, 4)`` uint8 with row 0 at the bottom."""
        return self.image_item.image

    def show_notice(self, text: str, msec: int = 4000) -> None:
        """A short-lived message over the plot (for example why training was reset)."""
        self.notice_label.setText(text)
        self.notice_label.adjustSize()
        self.notice_label.show()
        self.notice_label.raise_()
        self._notice_timer.start(msec)

    def show_banner(self, text: str) -> None:
        """A persistent red message over the plot, until :meth:`clear_banner`."""
        self.banner_label.setText(text)
        self.banner_label.show()
        self.banner_label.raise_()

    def clear_banner(self) -> None:
        self.banner_label.hide()
        self.banner_label.clear()

    def banner_text(self) -> str:
        """The banner's message, or "" when none is shown."""
        return self.banner_label.text() if not self.banner_label.isHidden() else ""

    def export_png(self, path: str) -> None:
        """Save the plot (boundary, points and axes) as a PNG; OSError when it fails."""
        pixmap = self.plot_widget.grab()
        if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
            raise OSError(f"{path}: the image could not be written")

    # ------------------------------------------------------------------ colours
    def _on_discretize(self, _checked: bool) -> None:
        self._apply_colors()
        if self._last_boundary is not None:
            self.set_boundary(self._last_boundary)

    def _apply_colors(self) -> None:
        """Lookup table and fixed levels for the current mode (not per frame)."""
        hard = self.discretize_box.isChecked()
        if self._mode == MULTICLASS:
            lut = style.class_confidence_lut(self._n_classes, CONFIDENCE_LEVELS, hard=hard)
            levels = (0.0, float(len(lut) - 1))
        elif self._mode == REGRESSION:
            lut = style.diverging_lut()
            if hard:
                lut = style.banded_lut(lut)
            levels = self._target_range
        else:
            lut = style.hard_binary_lut() if hard else style.diverging_lut()
            levels = (0.0, 1.0)
        self._lut, self._levels = lut, levels

    def _draw_points(self) -> None:
        data = self._data
        if data is None:
            return
        n = len(data.train.x) + len(data.test.x)
        size = 9 if n <= 600 else 7 if n <= 2000 else 5
        train_fill = self._point_brushes(data.train.y)
        test_rim = self._point_colors(data.test.y)
        self.train_points.setData(
            pos=data.train.x, brush=train_fill, size=size,
            pen=pg.mkPen(style.POINT_OUTLINE, width=1),
        )
        pens = [pg.mkPen(c, width=2.5) for c in test_rim]
        self.test_points.setData(
            pos=data.test.x, brush=pg.mkBrush(style.TEST_POINT_OUTLINE), pen=pens, size=size,
        )

    def _point_colors(self, y: np.ndarray) -> list[str]:
        if self._mode == REGRESSION:
            lo, hi = self._target_range
            rgba = style.lut_colors(style.diverging_lut(strength=1.0), y, lo, hi)
            return [style.rgb_to_hex(c[:3]) for c in rgba]
        return [style.class_color(int(c)) for c in y]

    def _point_brushes(self, y: np.ndarray) -> list:
        if self._mode == REGRESSION:
            return [pg.mkBrush(c) for c in self._point_colors(y)]
        by_class = [pg.mkBrush(style.class_color(i)) for i in range(max(self._n_classes, 1))]
        return [by_class[int(c)] for c in y]

    def _update_legend(self) -> None:
        if self._unit is not None:
            return

        def dot(color: str) -> str:
            return f'<span style="color:{color}; font-size:14pt">●</span>'

        parts = []
        if self._mode == REGRESSION:
            lo, hi = self._target_range
            parts.append(f"{dot(style.CLASS_COLORS[0])} low ({lo:.2g})")
            parts.append(f"{dot(style.CLASS_COLORS[1])} high ({hi:.2g})")
        else:
            parts += [f"{dot(style.class_color(i))} class {i}" for i in range(self._n_classes)]
        parts.append("filled = training point, white centre = test point")
        self.legend_label.setText("&nbsp;&nbsp;".join(parts))


def _level_index_image(values: np.ndarray, levels: tuple[float, float], n: int) -> np.ndarray:
    """Per pixel: the lookup-table row of its value, ``levels`` spread over ``n`` rows."""
    low, high = levels
    scale = (n - 1) / (high - low) if high > low else 0.0
    index = (values - np.float32(low)) * np.float32(scale) + np.float32(0.5)
    np.clip(index, 0, n - 1, out=index)
    index[np.isnan(index)] = (n - 1) / 2  # a diverged network: undecided
    return index.astype(np.int32)


def _upsample(values: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear interpolation onto a grid ``factor`` times finer, keeping the corner
    samples in place (the grid's samples sit on the plane's edges)."""
    g_rows, g_cols = values.shape
    if factor <= 1 or g_rows < 2 or g_cols < 2:
        return values
    rows = np.linspace(0.0, g_rows - 1, (g_rows - 1) * factor + 1)
    cols = np.linspace(0.0, g_cols - 1, (g_cols - 1) * factor + 1)
    r0 = np.minimum(rows.astype(np.intp), g_rows - 2)
    c0 = np.minimum(cols.astype(np.intp), g_cols - 2)
    fr = (rows - r0).astype(np.float32)[:, None]
    fc = (cols - c0).astype(np.float32)[None, :]
    top = values[r0][:, c0] * (1 - fc) + values[r0][:, c0 + 1] * fc
    bottom = values[r0 + 1][:, c0] * (1 - fc) + values[r0 + 1][:, c0 + 1] * fc
    return np.ascontiguousarray(top * (1 - fr) + bottom * fr, dtype=np.float32)


def _class_index_image(probabilities: np.ndarray) -> np.ndarray:
    """Per pixel: ``class * CONFIDENCE_LEVELS + confidence step``, where the step grows
    from 0 at chance level (1/k) to the top at probability 1."""
    k = probabilities.shape[2]
    winner = probabilities.argmax(axis=2)
    top = probabilities.max(axis=2)
    confidence = (top - 1.0 / k) * (k / (k - 1.0))
    steps = np.clip(confidence * (CONFIDENCE_LEVELS - 1) + 0.5, 0, CONFIDENCE_LEVELS - 1)
    steps[np.isnan(steps)] = 0.0  # a diverged network: palest colour
    return winner * CONFIDENCE_LEVELS + steps.astype(np.intp)
