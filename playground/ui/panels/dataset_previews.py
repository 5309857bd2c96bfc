"""Thumbnails of the datasets for the data panel's picker.

A thumbnail draws the plane ``[-6, 6]^2`` the way the decision-boundary plot does: x
grows to the right and y grows UPWARDS, so image row 0 is y = +6 (screen images count
rows downwards; forgetting that flips every dataset upside down).

Generating the scikit-learn sets imports scikit-learn (about two seconds on a cold
start), so :class:`PreviewLoader` makes the points on a short-lived Python thread and
paints them on the GUI thread, one dataset at a time, after the panel is shown.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from playground.data import PLANE_EXTENT, Dataset, make_dataset
from playground.ui.style import class_color, diverging_lut, lut_colors

BACKGROUND = "#f7f7f7"
FRAME = "#c8c8c8"
#: Regression targets -1 .. +1 run orange -> white -> blue, as on the boundary plot.
_REGRESSION_LUT = diverging_lut(strength=1.0)

THUMBNAIL_SIZE = 68
PREVIEW_POINTS = 200
PREVIEW_NOISE = 0.1
PREVIEW_SEED = 0


def class_qcolor(label: int) -> QColor:
    return QColor(class_color(int(label)))


def regression_qcolor(value: float) -> QColor:
    """Colour of a regression target in [-1, 1] (clipped), from the shared colour map."""
    r, g, b, _ = lut_colors(_REGRESSION_LUT, np.array([value]), -1.0, 1.0)[0].tolist()
    return QColor(r, g, b)


def plane_to_pixel(x: np.ndarray, size: int, extent: float = PLANE_EXTENT) -> np.ndarray:
    """Pixel coordinates (column, row) of plane points: y = +extent is row 0 (the top)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    scale = size / (2.0 * extent)
    col = (x[:, 0] + extent) * scale
    row = (extent - x[:, 1]) * scale
    return np.column_stack([col, row])


def render_points(
    x: np.ndarray,
    y: np.ndarray,
    regression: bool,
    size: int = THUMBNAIL_SIZE,
    dot_radius: float = 1.9,
) -> QImage:
    """Points as coloured dots on a light square; classes by colour, targets by shade."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(BACKGROUND))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(FRAME), 1.0))
        painter.drawRect(0, 0, size - 1, size - 1)
        painter.setPen(Qt.PenStyle.NoPen)
        pixels = plane_to_pixel(x, size)
        labels = np.asarray(y)
        for (col, row), label in zip(pixels.tolist(), labels.tolist()):
            color = regression_qcolor(label) if regression else class_qcolor(label)
            painter.setBrush(color)
            painter.drawEllipse(QPointF(col, row), dot_radius, dot_radius)
    finally:
        painter.end()
    return image


def render_dataset(ds: Dataset, size: int = THUMBNAIL_SIZE) -> QImage:
    if ds.task == "regression":
        return render_points(ds.x, _full_range(ds.y), True, size)
    return render_points(ds.x, ds.y, False, size)


def _full_range(targets: np.ndarray) -> np.ndarray:
    """Targets scaled so the largest |value| is 1 and small values boosted (square root):
    a thumbnail shows the shape, and most of reg_plane's targets would look white."""
    reach = float(np.max(np.abs(targets))) if len(targets) else 0.0
    scaled = targets / reach if reach > 0 else np.asarray(targets, dtype=np.float64)
    return np.sign(scaled) * np.sqrt(np.abs(scaled))


def preview_dataset(name: str) -> Dataset:
    """The small, fixed sample every thumbnail of ``name`` shows."""
    return make_dataset(name, n_samples=PREVIEW_POINTS, noise=PREVIEW_NOISE, seed=PREVIEW_SEED)


def render_custom(points: Sequence[Sequence[float]], size: int = THUMBNAIL_SIZE) -> QImage:
    """Thumbnail of imported ``(x1, x2, label)`` rows (at most ~500 drawn, evenly spread)."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(arr) > 500:
        arr = arr[np.linspace(0, len(arr) - 1, 500).astype(np.int64)]
    labels = arr[:, 2]
    regression = not np.all(labels == np.round(labels))
    if regression:
        labels = _full_range(labels)
    else:
        _, labels = np.unique(labels, return_inverse=True)
    return render_points(arr[:, :2], labels, regression, size)


class PreviewLoader(QObject):
    """Makes the preview data off the GUI thread and hands out painted thumbnails.

    ``start()`` launches one daemon thread that generates each dataset in turn; a GUI
    timer collects them and emits ``previewReady(name, image)``, or ``previewFailed(name,
    message)`` if a generator raised. ``finished`` follows the last one.
    """

    previewReady = Signal(str, QImage)
    previewFailed = Signal(str, str)
    finished = Signal()

    def __init__(self, names: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._names = tuple(names)
        self._results: queue.SimpleQueue[tuple[str, Dataset | str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._done = False
        self._timer = QTimer(self)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._collect)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._generate, name="dataset-previews", daemon=True
        )
        self._thread.start()
        self._timer.start()

    def started(self) -> bool:
        return self._thread is not None

    def is_finished(self) -> bool:
        return self._done

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until the generating thread has ended (for tests and shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _generate(self) -> None:
        for name in self._names:
            try:
                self._results.put((name, preview_dataset(name)))
            except Exception as err:  # noqa: BLE001 - reported on the GUI thread
                self._results.put((name, f"{type(err).__name__}: {err}"))
        self._results.put(None)

    def _collect(self) -> None:
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._timer.stop()
                self._done = True
                self.finished.emit()
                return
            name, result = item
            if isinstance(result, Dataset):
                self.previewReady.emit(name, render_dataset(result))
            else:
                self.previewFailed.emit(name, result)
