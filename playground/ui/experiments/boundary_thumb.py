"""A small decision-boundary picture with a title, for galleries and small multiples.

The colours are the big plot's (``plots.boundary_plot``): orange-white-blue by class-1
probability, the most likely class's colour for several classes, a diverging map over
the given levels for regression. No data points and no axes: many of these sit side by
side and are compared by their shapes.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from playground.ui import style
from playground.ui.plots.boundary_plot import (
    CONFIDENCE_LEVELS,
    EXTENT,
    _class_index_image,
    _level_index_image,
)

THUMB_PIXELS = 150


def boundary_rgba(boundary: np.ndarray, levels: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """``(G, G, 4)`` uint8 colours for a boundary image: class probabilities when 3-D,
    otherwise values spread over ``levels`` (0..1 for a class-1 probability)."""
    if boundary.ndim == 3:
        lut = style.class_confidence_lut(boundary.shape[2], CONFIDENCE_LEVELS)
        return lut[_class_index_image(boundary)]
    lut = style.diverging_lut()
    return lut[_level_index_image(boundary, levels, len(lut))]


def value_levels(boundary: np.ndarray) -> tuple[float, float]:
    """Levels for a regression image: its own finite range (0..1 when it has none)."""
    finite = boundary[np.isfinite(boundary)]
    if not finite.size or not float(finite.max()) > float(finite.min()):
        return (0.0, 1.0)
    return (float(finite.min()), float(finite.max()))


class BoundaryThumb(QWidget):
    """A title over a small, square boundary image."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = QLabel(title)
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title_label.setWordWrap(True)
        self.title_label.setFixedWidth(THUMB_PIXELS + 24)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(style.BACKGROUND)
        self.view.setFixedSize(THUMB_PIXELS, THUMB_PIXELS)
        box = self.view.addViewBox(lockAspect=True, enableMouse=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        box.addItem(self.image_item)
        box.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title_label)
        layout.addWidget(self.view, 0, Qt.AlignmentFlag.AlignHCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_title(self, title: str) -> None:
        self.title_label.setText(title)

    def set_boundary(self, boundary: np.ndarray | None, *, regression: bool = False) -> None:
        if boundary is None:
            self.image_item.clear()
            return
        levels = value_levels(boundary) if regression and boundary.ndim == 2 else (0.0, 1.0)
        rgba = np.ascontiguousarray(boundary_rgba(boundary, levels))
        reshaped = self.image_item.image is None or self.image_item.image.shape != rgba.shape
        self.image_item.setImage(rgba, autoLevels=False)
        if reshaped:
            self.image_item.setRect(QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT))
