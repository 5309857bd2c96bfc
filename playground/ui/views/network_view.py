"""The network drawn as a graph: every unit a live heatmap, every weight a link.

Reading left to right: the input features, each hidden layer, the output units. A unit's
tile shows its output over the plane (the worker computes it on a coarse grid, only while
this view is shown), on the same orange-white-blue scale as TensorFlow Playground, fixed
at -1 .. +1 so tiles compare across units and over time. Links are blue for positive and
orange for negative weights, thicker and darker the larger the weight. A red cross marks
a dead unit, an amber frame a saturated one. Hovering says what a unit or link holds;
clicking a unit shows it in the big plot until it is clicked again.

Speed: the scene is built once per architecture. Each column's tiles are one
``ImageItem`` holding the column's tiles as a strip (one ``setImage`` per column and
frame instead of one per unit, with the colours looked up in numpy from a uint8 table
over fixed levels); all links are one item holding, per gap, a path per sign and width
band, built from numpy arrays. Stroking hundreds of long lines is what costs (measured
offscreen, 3 x 16 units: about 70 ms a frame antialiased and translucent, under 10 ms
aliased and opaque), so links are drawn aliased in opaque pale-to-full colours, kept as
one cached pixmap between changes, and updated at most LINK_REFRESH_SECONDS apart while
training; the tiles follow every drawing. Wide layers shrink the tiles, and past what
fits the view scrolls.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QHideEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QResizeEvent,
    QTransform,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from playground.data import make_grid
from playground.engine import NetworkSpec
from playground.engine.activations import RELU_FAMILY
from playground.experiment.build import PreparedData
from playground.experiment.session import Snapshot
from playground.ui import style
from playground.ui.history import History
from playground.ui.panels.data_panel import FEATURE_LABELS
from playground.ui.plots.boundary_plot import UnitImage
from playground.ui.views.inside_view import InsideView
from playground.ui.views.network_layout import (
    LINK_ALPHAS,
    LINK_WIDTHS,
    LinkRef,
    NetworkLayout,
    UnitRef,
    fitted_layout,
    strongest_links,
    weight_bands,
)

#: Grid of the input features' tiles (the worker's neuron grid is 32 as well).
INPUT_GRID = 32
#: Output tiles are taken from the boundary image at about this many pixels a side.
OUTPUT_TILE_PIXELS = 40
#: Levels of the hidden units' tiles: orange at -1, white at 0, blue at +1.
UNIT_LEVELS = (-1.0, 1.0)
#: While training, links are redrawn at most this often (the tiles at every drawing).
LINK_REFRESH_SECONDS = 0.25
#: The view is drawn at most 10 times a second, and less often when a drawing costs more
#: than 1/BUSY_SHARE_LIMIT of the time between two (a 10 x 64 network, say), so that it
#: never takes the window's frames from the boundary plot.
FASTEST_REFRESH = 1.0 / 10.0
SLOWEST_REFRESH = 1.0
BUSY_SHARE_LIMIT = 10.0
#: The graph is laid out again when the viewport asks for columns this much closer or
#: further apart (smaller changes only zoom).
RELAYOUT_CHANGE = 0.08
HOVER_TOLERANCE = 4.0
_LUT_SIZE = 256
_HEAD_TEXT = {"sigmoid": "sigmoid", "classic": "tanh", "softmax": "softmax",
              "linear": "linear"}


def tile_strip(values: np.ndarray, lut: np.ndarray, levels: tuple[float, float],
               gap_rows: int) -> np.ndarray:
    """``(n, g, g)`` unit images -> one ``(n * (g + gap_rows) - gap_rows, g, 4)`` uint8
    strip, unit 0 at the top, each image flipped so that its top row is the top of the
    plane (the scene's y grows downwards), the gaps transparent."""
    n, g_rows, g_cols = values.shape
    low, high = levels
    scale = (len(lut) - 1) / (high - low) if high > low else 0.0
    index = (values[:, ::-1, :] - np.float32(low)) * np.float32(scale) + np.float32(0.5)
    np.clip(index, 0, len(lut) - 1, out=index)
    index[np.isnan(index)] = (len(lut) - 1) / 2
    strip = np.zeros((n, g_rows + gap_rows, g_cols, 4), dtype=np.uint8)
    strip[:, :g_rows] = style.apply_lut(lut, index.astype(np.int32))
    return strip.reshape(n * (g_rows + gap_rows), g_cols, 4)[: n * (g_rows + gap_rows)
                                                               - gap_rows]


def _class_strip(probabilities: np.ndarray, gap_rows: int) -> np.ndarray:
    """``(h, w, k)`` class probabilities -> a strip of k tiles, tile j going from white
    (probability 0) to class j's colour (probability 1)."""
    k = probabilities.shape[2]
    lut = style.class_confidence_lut(k, _LUT_SIZE)
    steps = np.clip(probabilities[::-1] * (_LUT_SIZE - 1) + 0.5, 0, _LUT_SIZE - 1)
    np.nan_to_num(steps, copy=False, nan=0.0)
    index = steps.astype(np.intp) + np.arange(k) * _LUT_SIZE  # (h, w, k)
    h, w = probabilities.shape[:2]
    strip = np.zeros((k, h + gap_rows, w, 4), dtype=np.uint8)
    strip[:, :h] = style.apply_lut(lut, np.moveaxis(index, 2, 0))
    return strip.reshape(k * (h + gap_rows), w, 4)[: k * (h + gap_rows) - gap_rows]


def _fmt(x: float) -> str:
    return f"{x:.3g}" if np.isfinite(x) else "not a number"


class _Links(QGraphicsItem):
    """Every link of the graph as one item: per gap, one path per sign and width band,
    stroked as aliased lines (much cheaper) and kept as one pixmap until they change, so
    a frame that only changes the tiles blits it once."""

    def __init__(self, rect: QRectF, gaps: int) -> None:
        super().__init__()
        self._rect = QRectF(rect)
        self._pens = [_link_pen(band) for band in range(2 * len(LINK_WIDTHS))]
        self.paths = [[QPainterPath() for _ in self._pens] for _ in range(gaps)]
        self.setZValue(0)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for paths in self.paths:
            for pen, path in zip(self._pens, paths):
                if not path.isEmpty():
                    painter.setPen(pen)
                    painter.drawPath(path)


class _GraphView(QGraphicsView):
    """The scrolling view of the graph; reports the mouse in scene coordinates."""

    hovered = Signal(QPointF, QPoint)  # scene position, global position
    clicked = Signal(QPointF)
    left = Signal()
    resized = Signal()
    # pyqtgraph items connect to these on the view that shows them (as on its own
    # GraphicsView); nothing here needs them, so they are never emitted.
    sigDeviceRangeChanged = Signal(object, object)
    sigDeviceTransformChanged = Signal(object)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setMouseTracking(True)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setBackgroundBrush(QBrush(QColor(style.BACKGROUND)))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        super().mouseMoveEvent(event)
        self.hovered.emit(self.mapToScene(event.position().toPoint()),
                          event.globalPosition().toPoint())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        # A quick second click arrives as a double click: it still toggles the unit.
        self.mousePressEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().leaveEvent(event)
        self.left.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.resized.emit()


class NetworkView(InsideView):
    """Input features, hidden layers and outputs as a live graph (see module docstring)."""

    focusChanged = Signal(object)  # UnitRef or None
    needs_neurons = True
    refresh_seconds = FASTEST_REFRESH

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene = QGraphicsScene(self)
        # The paths change every frame; keeping a spatial index of them only costs.
        self.scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.graph = _GraphView(self.scene, self)
        self.graph.setMinimumSize(200, 160)
        self.legend_label = QLabel(_legend_html())
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        self.caption_label = QLabel("The network appears when training data is ready.")
        self.caption_label.setWordWrap(True)
        self.caption_label.setStyleSheet("color: #4b5563;")
        # Two lines always: a caption that grew would shrink the graph under the mouse.
        self.caption_label.setFixedHeight(2 * self.caption_label.fontMetrics().lineSpacing() + 2)
        self.caption_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.graph, 1)
        layout.addWidget(self.caption_label)

        self.layout_: NetworkLayout | None = None
        self.hover_text = ""
        self._key: tuple | None = None
        self._spec: NetworkSpec | None = None
        self._features: tuple[str, ...] = ()
        self._focus: UnitRef | None = None
        self._snapshot: Snapshot | None = None
        self._neurons: tuple[np.ndarray, ...] | None = None
        self._input_values = np.zeros((0, INPUT_GRID, INPUT_GRID), np.float32)
        self._input_scale = np.ones(0)
        self._output_levels = (0.0, 1.0)
        self._output_mode = "binary"
        self._lut = style.diverging_lut()
        self._images: list[pg.ImageItem] = []
        self._image_shapes: list[tuple[int, ...] | None] = []
        self._dead_items: list[QGraphicsPathItem] = []
        self._saturated_items: list[QGraphicsPathItem] = []
        self._dead_masks: list[np.ndarray | None] = []
        self._saturated_masks: list[np.ndarray | None] = []
        self._link_layer: _Links | None = None
        self._links: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._links_drawn = 0.0
        self._cost = 0.0  # seconds per drawing, a moving average
        self._focus_item: QGraphicsRectItem | None = None
        self._hover_item: QGraphicsLineItem | None = None

        self.graph.hovered.connect(self._on_hover)
        self.graph.clicked.connect(self._on_click)
        self.graph.left.connect(self._on_leave)
        self.graph.resized.connect(self._fit)

    # ------------------------------------------------------------------ public API
    @property
    def focus(self) -> UnitRef | None:
        """The unit shown in the big plot, if any."""
        return self._focus

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.layout_.sizes if self.layout_ is not None else ()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(640, 420)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        # Closed or tabbed away: the heatmaps stop coming, so the big plot goes back to
        # the network's output rather than freeze on a stale unit.
        if not event.spontaneous():
            self.set_focus(None)
        super().hideEvent(event)

    def set_network(self, spec: NetworkSpec, data: PreparedData) -> None:
        """Build the graph for this architecture (only when it changed) and take the
        data's input features and output scale."""
        hidden = tuple((h.units, h.activation) for h in spec.hidden)
        key = (spec.n_inputs, hidden, spec.n_outputs, spec.head, tuple(data.features))
        self._spec, self._features = spec, tuple(data.features)
        if key != self._key:
            self._key = key
            self._build(spec)
        self._set_inputs(data)
        self._set_output_scale(spec, data)

    def reset(self) -> None:
        self._snapshot = None
        self._neurons = None

    def set_focus(self, ref: UnitRef | None) -> None:
        """Show this unit in the big plot (None: the network's output)."""
        if ref is not None and (self.layout_ is None or not self._can_focus(ref)):
            ref = None
        if ref == self._focus:
            return
        self._focus = ref
        self._place_focus_item()
        self.focusChanged.emit(ref)

    def focused_image(self, snapshot: Snapshot | None = None) -> UnitImage | None:
        """The focused unit's output over the plane, for the big plot (None: nothing
        focused, or no heatmap for it yet)."""
        ref = self._focus
        if ref is None or self.layout_ is None:
            return None
        if ref.column == 0:
            scale = float(self._input_scale[ref.unit])
            values = self._input_values[ref.unit] * np.float32(scale)
            return UnitImage(values, (-scale, scale), self.unit_name(ref))
        neurons = snapshot.neurons if snapshot is not None and snapshot.neurons else None
        neurons = neurons or self._neurons
        layer = ref.column - 1
        if neurons is None or layer >= len(neurons) or ref.unit >= len(neurons[layer]):
            return None
        return UnitImage(neurons[layer][ref.unit], UNIT_LEVELS, self.unit_name(ref))

    def unit_name(self, ref: UnitRef) -> str:
        """"input x₁", "layer 2 · unit 5 (relu)", "output · unit 1"."""
        if ref.column == 0:
            name = self._features[ref.unit] if ref.unit < len(self._features) else "?"
            return f"input {FEATURE_LABELS.get(name, name)}"
        if self._spec is not None and ref.column <= len(self._spec.hidden):
            act = self._spec.hidden[ref.column - 1].activation
            return f"layer {ref.column} · unit {ref.unit + 1} ({act})"
        return f"output · unit {ref.unit + 1}"

    def tile_center(self, ref: UnitRef) -> QPointF:
        """Scene position of a unit's tile centre (for tests and tooltips)."""
        assert self.layout_ is not None
        x, y = self.layout_.tile_origin(ref.column, ref.unit)
        half = self.layout_.tile / 2
        return QPointF(x + half, y + half)

    def tile_image(self, ref: UnitRef) -> np.ndarray | None:
        """The RGBA pixels now drawn for one unit (top row first), or None."""
        if self.layout_ is None or ref.column >= len(self._images):
            return None
        strip = self._images[ref.column].image
        if strip is None:
            return None
        g = strip.shape[1]
        rows = (strip.shape[0] + self._gap_rows(g)) // self.layout_.sizes[ref.column]
        return strip[ref.unit * rows : ref.unit * rows + g]

    def marked_units(self, column: int) -> tuple[list[int], list[int]]:
        """The units of a column now marked ``(dead, saturated)``."""
        found = []
        for masks in (self._dead_masks, self._saturated_masks):
            mask = masks[column] if column < len(masks) else None
            found.append([] if mask is None else [int(i) for i in np.flatnonzero(mask)])
        return found[0], found[1]

    def link_count(self, column: int) -> int:
        """How many links are drawn leaving ``column``."""
        return len(self._links[column][0]) if column < len(self._links) else 0

    def describe_at(self, pos: QPointF) -> str:
        """What is under a scene position, in words ("" for nothing)."""
        hit = self._hit(pos)
        if isinstance(hit, UnitRef):
            return self._describe_unit(hit)
        if isinstance(hit, LinkRef):
            return self._describe_link(hit)
        return ""

    def update_from(self, snapshot: Snapshot, history: History | None = None) -> None:
        """Draw a snapshot's heatmaps, weights and unit health."""
        lay = self.layout_
        if lay is None or not self._matches(snapshot):
            return
        start = time.perf_counter()
        self._draw(snapshot)
        self._cost = 0.7 * self._cost + 0.3 * (time.perf_counter() - start)
        self.refresh_seconds = min(SLOWEST_REFRESH,
                                   max(FASTEST_REFRESH, BUSY_SHARE_LIMIT * self._cost))

    def _draw(self, snapshot: Snapshot) -> None:
        lay = self.layout_
        assert lay is not None
        self._snapshot = snapshot
        if snapshot.neurons is not None and len(snapshot.neurons) == lay.n_columns - 2:
            self._neurons = snapshot.neurons
            for layer, values in enumerate(snapshot.neurons):
                self._set_strip(layer + 1, tile_strip(values, self._lut, UNIT_LEVELS,
                                                      self._gap_rows(values.shape[1])))
        if snapshot.boundary is not None:
            self._draw_outputs(snapshot.boundary)
        now = time.perf_counter()
        if not snapshot.running or now - self._links_drawn >= LINK_REFRESH_SECONDS:
            self._links_drawn = now
            for column, weights in enumerate(snapshot.weights):
                self._draw_links(column, weights)
            if self._link_layer is not None:
                self._link_layer.update()
        self._draw_health(snapshot)
        if self._neurons is None:
            self.caption_label.setText("Waiting for the units' heatmaps…")
        else:
            self._update_caption()

    # ------------------------------------------------------------------ building
    def _build(self, spec: NetworkSpec) -> None:
        """A new architecture: forget the old one's state and lay the graph out."""
        self._snapshot, self._neurons = None, None
        self._input_values = np.zeros((0, INPUT_GRID, INPUT_GRID), np.float32)
        self.layout_ = None
        if self._focus is not None:
            self._focus = None
            self.focusChanged.emit(None)
        self._fit()

    def _fit(self) -> None:
        """Fit the graph to the viewport: zoom, and lay it out again (same units, new
        spacing) when the columns should move noticeably."""
        spec = self._spec
        if spec is None or self._key is None:
            return
        sizes = (spec.n_inputs, *(h.units for h in spec.hidden), spec.n_outputs)
        size = self.graph.size()
        frame = 2 * self.graph.frameWidth() + 4
        width, height = max(size.width() - frame, 50), max(size.height() - frame, 50)
        lay, scale = fitted_layout(sizes, width, height)
        if lay.height * scale > height:  # it scrolls: leave room for the scroll bar
            bar = self.graph.verticalScrollBar().sizeHint().width()
            lay, scale = fitted_layout(sizes, max(width - bar, 50), height)
        old = self.layout_
        if old is None or old.sizes != lay.sizes or old.tile != lay.tile or \
                abs(lay.column_pitch / old.column_pitch - 1.0) > RELAYOUT_CHANGE:
            self._lay_out(spec, lay)
        self.graph.resetTransform()
        self.graph.scale(scale, scale)

    def _lay_out(self, spec: NetworkSpec, lay: NetworkLayout) -> None:
        """Create every item of the scene at the positions of ``lay``, then draw what is
        known (the inputs, the last snapshot) into it."""
        self.scene.clear()
        sizes = lay.sizes
        self.layout_ = lay
        self._links_drawn = 0.0
        self._images, self._image_shapes = [], []
        self._dead_items, self._saturated_items = [], []
        self._dead_masks = [None] * len(sizes)
        self._saturated_masks = [None] * len(sizes)
        empty = np.empty(0, np.intp)
        self._links = [(empty, empty, np.empty(0)) for _ in range(len(sizes) - 1)]
        self._link_layer = _Links(QRectF(0, 0, lay.width, lay.height), len(sizes) - 1)
        self.scene.addItem(self._link_layer)
        outline = QPen(QColor(style.TILE_OUTLINE), 1)
        outline.setCosmetic(True)
        for column, n in enumerate(sizes):
            image = pg.ImageItem(axisOrder="row-major")
            image.setZValue(1)
            self.scene.addItem(image)
            self._images.append(image)
            self._image_shapes.append(None)
            path = QPainterPath()
            for unit in range(n):
                x, y = lay.tile_origin(column, unit)
                path.addRect(QRectF(x - 0.5, y - 0.5, lay.tile + 1, lay.tile + 1))
            frame = QGraphicsPathItem(path)
            frame.setPen(outline)
            frame.setZValue(2)
            self.scene.addItem(frame)
            self._dead_items.append(self._mark_item(style.DEAD_COLOR, 2.0, 4))
            self._saturated_items.append(self._mark_item(style.SATURATED_COLOR, 2.5, 3))
            self._add_column_title(column, spec)
        self._focus_item = QGraphicsRectItem()
        pen = QPen(QColor(style.FOCUS_COLOR), 3)
        pen.setCosmetic(True)
        self._focus_item.setPen(pen)
        self._focus_item.setZValue(5)
        self._focus_item.hide()
        self.scene.addItem(self._focus_item)
        self._hover_item = QGraphicsLineItem()
        hover_pen = QPen(QColor(style.FOCUS_COLOR), 2.5)
        hover_pen.setCosmetic(True)
        self._hover_item.setPen(hover_pen)
        self._hover_item.setZValue(6)
        self._hover_item.hide()
        self.scene.addItem(self._hover_item)
        self.scene.setSceneRect(QRectF(0, 0, lay.width, lay.height))
        self._add_feature_labels()
        self._place_focus_item()
        if len(self._input_values) == sizes[0]:
            self._set_strip(0, tile_strip(self._input_values, self._lut, UNIT_LEVELS,
                                          self._gap_rows(self._input_values.shape[1])))
        if self._snapshot is not None:
            neurons = self._neurons
            self.update_from(self._snapshot)
            if neurons is not None and self._snapshot.neurons is None:
                self._neurons = neurons
                for layer, values in enumerate(neurons):
                    self._set_strip(layer + 1, tile_strip(
                        values, self._lut, UNIT_LEVELS, self._gap_rows(values.shape[1])))
                self._update_caption()

    def _mark_item(self, color: str, width: float, z: int) -> QGraphicsPathItem:
        item = QGraphicsPathItem()
        pen = QPen(QColor(color), width)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(z)
        self.scene.addItem(item)
        return item

    def _add_column_title(self, column: int, spec: NetworkSpec) -> None:
        lay = self.layout_
        assert lay is not None
        last = lay.n_columns - 1
        if column == 0:
            title, detail = "Input", "features"
        elif column == last:
            title, detail = "Output", _HEAD_TEXT.get(spec.head, spec.head)
        else:
            h = spec.hidden[column - 1]
            title, detail = f"Layer {column}", f"{h.units} {h.activation}"
        center = lay.column_x(column) + lay.tile / 2
        self._add_text(title, center, 2.0, 0.5, 0.0, bold=True)
        self._add_text(detail, center, 2.0, 0.5, -1.15)

    def _add_feature_labels(self) -> None:
        lay = self.layout_
        assert lay is not None
        for unit, name in enumerate(self._features[: lay.sizes[0]]):
            x, y = lay.tile_origin(0, unit)
            self._add_text(FEATURE_LABELS.get(name, name), x - 4, y + lay.tile / 2, 1.0, 0.5,
                           size=style.PLOT_FONT_POINTS + 1)

    def _add_text(self, text: str, x: float, y: float, anchor_x: float, anchor_y: float, *,
                  bold: bool = False, size: int = style.PLOT_FONT_POINTS) -> None:
        """Text at a scene point that keeps its size in pixels whatever the zoom;
        ``anchor`` says which point of the text sits there (0..1 of its width and
        height; a negative y anchor puts it that many heights below)."""
        item = QGraphicsSimpleTextItem(text)
        font = QFont()
        font.setPointSize(size)
        font.setBold(bold)
        item.setFont(font)
        item.setBrush(QBrush(QColor(style.FOREGROUND)))
        item.setFlag(QGraphicsSimpleTextItem.GraphicsItemFlag.ItemIgnoresTransformations)
        rect = item.boundingRect()
        item.setTransform(QTransform.fromTranslate(-anchor_x * rect.width(),
                                                   -anchor_y * rect.height()))
        item.setPos(x, y)
        item.setZValue(3)
        self.scene.addItem(item)

    # ------------------------------------------------------------------ data
    def _set_inputs(self, data: PreparedData) -> None:
        lay = self.layout_
        if lay is None:
            return
        g = INPUT_GRID
        x = data.inputs(make_grid(g)).astype(np.float32)  # (g*g, features)
        values = np.ascontiguousarray(x.T.reshape(x.shape[1], g, g))
        scale = np.abs(values).reshape(len(values), -1).max(axis=1).astype(np.float64)
        scale[~(scale > 0)] = 1.0
        self._input_scale = scale
        self._input_values = values / scale.astype(np.float32)[:, None, None]
        if len(values) == lay.sizes[0]:
            self._set_strip(0, tile_strip(self._input_values, self._lut, UNIT_LEVELS,
                                          self._gap_rows(g)))

    def _set_output_scale(self, spec: NetworkSpec, data: PreparedData) -> None:
        if spec.head == "softmax":
            self._output_mode = "multiclass"
        elif spec.head == "linear":
            self._output_mode = "regression"
            y = np.concatenate([data.train.y, data.test.y]).astype(np.float64)
            lo, hi = (float(y.min()), float(y.max())) if len(y) else (-1.0, 1.0)
            self._output_levels = (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)
        else:
            self._output_mode = "binary"
            self._output_levels = (0.0, 1.0)

    def _gap_rows(self, g: int) -> int:
        lay = self.layout_
        return max(1, int(round(g * lay.gap / lay.tile))) if lay is not None else 1

    def _set_strip(self, column: int, strip: np.ndarray) -> None:
        lay = self.layout_
        assert lay is not None
        item = self._images[column]
        item.setImage(strip, autoLevels=False)
        if self._image_shapes[column] != strip.shape:
            self._image_shapes[column] = strip.shape
            x, y = lay.tile_origin(column, 0)
            height = lay.sizes[column] * lay.pitch - lay.gap
            item.setRect(QRectF(x, y, lay.tile, height))

    def _draw_outputs(self, boundary: np.ndarray) -> None:
        lay = self.layout_
        assert lay is not None
        step = max(1, boundary.shape[0] // OUTPUT_TILE_PIXELS)
        small = np.ascontiguousarray(boundary[::step, ::step], dtype=np.float32)
        gap = self._gap_rows(small.shape[0])
        last = lay.n_columns - 1
        if small.ndim == 3 and small.shape[2] == lay.sizes[last]:
            self._set_strip(last, _class_strip(small, gap))
        elif small.ndim == 2 and lay.sizes[last] == 1:
            self._set_strip(last, tile_strip(small[None], self._lut, self._output_levels, gap))

    def _draw_links(self, column: int, weights: np.ndarray) -> None:
        lay = self.layout_
        assert lay is not None
        source, target = strongest_links(weights)
        values = np.asarray(weights)[source, target]
        self._links[column] = (source, target, values)
        bands = weight_bands(values)
        assert self._link_layer is not None
        paths = self._link_layer.paths[column]
        for band in range(len(paths)):
            chosen = bands == band
            if not chosen.any():
                paths[band] = QPainterPath()
                continue
            x, y = lay.link_segments(column, source[chosen], target[chosen])
            paths[band] = pg.arrayToQPath(x, y, connect="pairs", finiteCheck=False)

    def _draw_health(self, snapshot: Snapshot) -> None:
        lay = self.layout_
        assert lay is not None
        for masks, items, kept, cross in (
                (snapshot.dead_units, self._dead_items, self._dead_masks, True),
                (snapshot.saturated_units, self._saturated_items, self._saturated_masks,
                 False)):
            if masks is None or len(masks) != lay.n_columns - 2:
                continue
            for layer, mask in enumerate(masks):
                column = layer + 1
                old = kept[column]
                if old is not None and np.array_equal(old, mask):
                    continue
                kept[column] = np.array(mask, dtype=bool)
                items[column].setPath(self._marks_path(column, kept[column], cross))

    def _marks_path(self, column: int, mask: np.ndarray, cross: bool) -> QPainterPath:
        lay = self.layout_
        assert lay is not None
        path = QPainterPath()
        t = lay.tile
        for unit in np.flatnonzero(mask):
            x, y = lay.tile_origin(column, int(unit))
            path.addRect(QRectF(x - 1.5, y - 1.5, t + 3, t + 3))
            if cross:
                path.moveTo(x + 0.2 * t, y + 0.2 * t)
                path.lineTo(x + 0.8 * t, y + 0.8 * t)
                path.moveTo(x + 0.8 * t, y + 0.2 * t)
                path.lineTo(x + 0.2 * t, y + 0.8 * t)
        return path

    def _update_caption(self) -> None:
        lay = self.layout_
        assert lay is not None
        full = [lay.sizes[c] * lay.sizes[c + 1] for c in range(lay.n_columns - 1)]
        cut = [(self.link_count(c), n) for c, n in enumerate(full) if self.link_count(c) < n]
        if cut:
            shown, total = cut[0][0], max(n for _, n in cut)
            text = (f"Big gaps show only their {shown:,} strongest links (of up to "
                    f"{total:,}). ")
        else:
            text = ""
        if self._focus is not None:
            text += f"Showing {self.unit_name(self._focus)} in the big plot; click it again " \
                    "to go back."
        else:
            text += "Hover for values; click a unit to show it in the big plot."
        if text != self.caption_label.text():
            self.caption_label.setText(text)

    def _matches(self, snapshot: Snapshot) -> bool:
        """Whether the snapshot comes from a network of this view's shape."""
        lay = self.layout_
        if lay is None or len(snapshot.weights) != lay.n_columns - 1:
            return False
        return all(w.shape == (lay.sizes[i], lay.sizes[i + 1])
                   for i, w in enumerate(snapshot.weights))

    # ------------------------------------------------------------------ mouse
    def _hit(self, pos: QPointF) -> UnitRef | LinkRef | None:
        lay = self.layout_
        if lay is None:
            return None
        ref = lay.unit_at(pos.x(), pos.y())
        if ref is not None:
            return ref
        column = lay.gap_at(pos.x())
        if column is None:
            return None
        source, target, _ = self._links[column]
        tolerance = HOVER_TOLERANCE / max(self.graph.transform().m11(), 1e-6)
        best = lay.nearest_link(pos.x(), pos.y(), column, source, target, tolerance)
        if best is None:
            return None
        return LinkRef(column, int(source[best]), int(target[best]))

    def _on_hover(self, pos: QPointF, global_pos: QPoint) -> None:
        hit = self._hit(pos)
        text = self.describe_at(pos)
        self._show_hover_link(hit if isinstance(hit, LinkRef) else None)
        if text != self.hover_text:
            self.hover_text = text
            if text:
                QToolTip.showText(global_pos, text, self.graph.viewport())
            else:
                QToolTip.hideText()

    def _on_leave(self) -> None:
        self.hover_text = ""
        self._show_hover_link(None)
        QToolTip.hideText()

    def _show_hover_link(self, link: LinkRef | None) -> None:
        item, lay = self._hover_item, self.layout_
        if item is None or lay is None:
            return
        if link is None:
            item.hide()
            return
        x0, y0, x1, y1 = lay.link_ends(link.column)
        item.setLine(x0, float(y0[link.source]), x1, float(y1[link.target]))
        item.show()

    def _on_click(self, pos: QPointF) -> None:
        lay = self.layout_
        ref = lay.unit_at(pos.x(), pos.y()) if lay is not None else None
        if ref is None:
            return
        self.set_focus(None if ref == self._focus else ref)
        self._update_caption()

    def _can_focus(self, ref: UnitRef) -> bool:
        lay = self.layout_
        assert lay is not None
        return 0 <= ref.column < lay.n_columns - 1 and 0 <= ref.unit < lay.sizes[ref.column]

    def _place_focus_item(self) -> None:
        item, lay, ref = self._focus_item, self.layout_, self._focus
        if item is None or lay is None:
            return
        if ref is None:
            item.hide()
            return
        x, y = lay.tile_origin(ref.column, ref.unit)
        item.setRect(QRectF(x - 3, y - 3, lay.tile + 6, lay.tile + 6))
        item.show()

    # ------------------------------------------------------------------ words
    def _describe_unit(self, ref: UnitRef) -> str:
        lay = self.layout_
        assert lay is not None
        name = self.unit_name(ref)
        last = lay.n_columns - 1
        if ref.column == 0:
            scale = float(self._input_scale[ref.unit]) if ref.unit < len(self._input_scale) \
                else 1.0
            return (f"{name}\nwhat the network receives over the plane: at most "
                    f"{scale:.2g} either side of 0\nClick to show it in the big plot.")
        if ref.column == last:
            what = {"multiclass": f"probability of class {ref.unit}",
                    "regression": "predicted value"}.get(self._output_mode,
                                                         "probability of class 1")
            return f"{name}\nthe network's output: the {what} over the plane"
        lines = [name]
        neurons = self._neurons
        layer = ref.column - 1
        if neurons is not None and layer < len(neurons):
            values = neurons[layer][ref.unit]
            lines.append(f"output over the plane: {_fmt(float(values.min()))} to "
                         f"{_fmt(float(values.max()))}")
            act = self._spec.hidden[layer].activation if self._spec is not None else ""
            if act in RELU_FAMILY:
                lines.append(f"active (output > 0) on {float((values > 0).mean()):.0%} of "
                             "the plane")
        snap = self._snapshot
        if snap is not None:
            w = np.asarray(snap.weights[layer])[:, ref.unit]
            lines.append(f"{len(w)} incoming weights, largest |w| = "
                         f"{_fmt(float(np.abs(w).max()))}")
        if self._is_marked(self._dead_masks, ref):
            lines.append("DEAD: its input is at most 0 for every training point, so it "
                         "gives a constant and passes no gradient back.")
        if self._is_marked(self._saturated_masks, ref):
            lines.append("SATURATED: most training points put it on a flat tail, where its "
                         "slope is nearly zero.")
        lines.append("Click to show it in the big plot.")
        return "\n".join(lines)

    def _describe_link(self, link: LinkRef) -> str:
        source, target, values = self._links[link.column]
        hits = np.flatnonzero((source == link.source) & (target == link.target))
        value = float(values[hits[0]]) if len(hits) else float("nan")
        start = self.unit_name(UnitRef(link.column, link.source))
        end = self.unit_name(UnitRef(link.column + 1, link.target))
        sign = "positive" if value > 0 else "negative" if value < 0 else "zero"
        return f"{start} → {end}\nweight {_fmt(value)} ({sign})"

    @staticmethod
    def _is_marked(masks: list[np.ndarray | None], ref: UnitRef) -> bool:
        mask = masks[ref.column] if ref.column < len(masks) else None
        return bool(mask is not None and ref.unit < len(mask) and mask[ref.unit])


def _link_pen(band: int) -> QPen:
    """Pen of a link band: blue positive bands first, then the orange negative ones.

    The paler bands are the colour mixed with white, not made transparent: opaque lines
    stroke several times faster (measured: 800 lines in 2-4 ms against 14-24 ms), and
    the strong links, drawn last, stay on top anyway."""
    n = len(LINK_WIDTHS)
    rgb = np.array(style.hex_to_rgb(style.POSITIVE_COLOR if band < n else style.NEGATIVE_COLOR),
                   dtype=np.float64)
    share = LINK_ALPHAS[band % n] / 255.0
    r, g, b = (int(round(v)) for v in 255.0 + (rgb - 255.0) * share)
    pen = QPen(QColor(r, g, b), LINK_WIDTHS[band % n])
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


def _legend_html() -> str:
    def swatch(color: str, glyph: str = "━") -> str:
        return f'<span style="color:{color}; font-size:13pt">{glyph}</span>'

    weights = "&nbsp;&nbsp;".join([
        f"{swatch(style.POSITIVE_COLOR)}&nbsp;positive weight",
        f"{swatch(style.NEGATIVE_COLOR)}&nbsp;negative weight",
        "(thicker = larger in its gap)",
    ])
    tiles = "&nbsp;&nbsp;".join([
        "Each tile: the unit's output over the plane,",
        f"{swatch(style.NEGATIVE_COLOR, '■')}&nbsp;−1&nbsp;"
        f"{swatch('#d4d4d4', '■')}&nbsp;0&nbsp;{swatch(style.POSITIVE_COLOR, '■')}&nbsp;+1",
        f"{swatch(style.DEAD_COLOR, '✕')}&nbsp;dead",
        f"{swatch(style.SATURATED_COLOR, '□')}&nbsp;saturated",
    ])
    return f"{weights}<br>{tiles}"
