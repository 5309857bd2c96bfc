"""The result views of a sweep: a sortable table, a heatmap over two settings, and a
gallery of final decision boundaries. Each takes :class:`RunRecord` objects as they come.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from playground.experiment.sweep import RunRecord, format_value, pivot
from playground.ui import style
from playground.ui.experiments.boundary_thumb import BoundaryThumb
from playground.ui.plots.common import style_plot

#: The role the table sorts by: numbers as numbers, so 10 comes after 9.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: The role of column 0 holding the run's index in the sweep.
RUN_ROLE = Qt.ItemDataRole.UserRole + 2
OUTCOME_COLUMNS = ("seed", "train loss", "test loss", "train acc.", "test acc.", "steps",
                   "status", "seconds")
GALLERY_COLUMNS = 5
#: The gallery stops adding pictures here (a big sweep would build hundreds of plots).
GALLERY_LIMIT = 60


def _number(value: float | None, digits: int = 4) -> tuple[str, float]:
    """Text and sort key of a metric; missing values sort first."""
    if value is None or not math.isfinite(value):
        return "—", -math.inf
    return f"{value:.{digits}g}", float(value)


def status_text(record: RunRecord) -> str:
    if record.failed:
        return f"failed: {record.error}"
    if record.diverged:
        return "diverged"
    return "ok"


class ResultsTable(QTableView):
    """One row per finished run; click a header to sort."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results = QStandardItemModel(0, 0, self)
        self.results.setSortRole(SORT_ROLE)
        self.setModel(self.results)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self._paths: tuple[str, ...] = ()

    def reset_columns(self, paths: Sequence[str]) -> None:
        self._paths = tuple(paths)
        self.results.clear()
        self.results.setHorizontalHeaderLabels(["run", *self._paths, *OUTCOME_COLUMNS])
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # arrival order until asked

    def add(self, record: RunRecord) -> None:
        cells: list[tuple[str, Any]] = [(str(record.index), record.index)]
        for p in self._paths:
            value = record.values.get(p)
            key = value if isinstance(value, (int, float)) and not isinstance(value, bool) \
                else format_value(value)
            cells.append((format_value(value), key))
        cells.append((str(record.seed), record.seed))
        for value in (record.train_loss, record.test_loss, record.train_accuracy,
                      record.test_accuracy):
            cells.append(_number(value))
        cells.append((str(record.steps), record.steps))
        cells.append((status_text(record), status_text(record)))
        cells.append((f"{record.seconds:.2f}", record.seconds))
        items = []
        bad = not record.finished
        for text, key in cells:
            item = QStandardItem(text)
            item.setData(key, SORT_ROLE)
            if bad:
                item.setForeground(QBrush(QColor(style.DEAD_COLOR)))
            items.append(item)
        items[0].setData(record.index, RUN_ROLE)
        items[-2].setToolTip(record.error or record.message or "")
        self.results.appendRow(items)

    def selected_run(self) -> int | None:
        """The sweep index of the selected row (None when no row is selected)."""
        rows = self.selectionModel().selectedRows()
        if not rows:
            return None
        return int(self.results.item(rows[0].row(), 0).data(RUN_ROLE))


class Heatmap(QWidget):
    """A metric's mean over two swept settings, chosen with two combo boxes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        plot = self.plot_widget.getPlotItem()
        style_plot(plot)
        plot.getViewBox().setMouseEnabled(False, False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image_item)
        self._labels: list[pg.TextItem] = []
        self._records: list[RunRecord] = []
        self.metric = "test_accuracy"
        row = QHBoxLayout()
        row.addWidget(QLabel("Across:"))
        row.addWidget(self.x_combo, 1)
        row.addWidget(QLabel("Down:"))
        row.addWidget(self.y_combo, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.note_label)
        layout.addWidget(self.plot_widget, 1)
        self.x_combo.currentIndexChanged.connect(self.redraw)
        self.y_combo.currentIndexChanged.connect(self.redraw)

    def reset(self, paths: Sequence[str], metric: str) -> None:
        self.metric = metric
        self._records = []
        for combo, pick in ((self.x_combo, 0), (self.y_combo, 1)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(paths))
            combo.setCurrentIndex(min(pick, len(paths) - 1))
            combo.blockSignals(False)
        self.redraw()

    def set_records(self, records: Sequence[RunRecord]) -> None:
        self._records = list(records)
        self.redraw()

    def redraw(self) -> None:
        for label in self._labels:
            self.plot_widget.removeItem(label)
        self._labels = []
        x, y = self.x_combo.currentText(), self.y_combo.currentText()
        what = self.metric.replace("_", " ")
        if self.x_combo.count() < 2:
            self.image_item.clear()
            self.note_label.setText("A heatmap needs two swept settings.")
            return
        if x == y:
            self.image_item.clear()
            self.note_label.setText("Choose two different settings.")
            return
        if not self._records:
            self.image_item.clear()
            self.note_label.setText(f"Mean {what}: no finished runs yet.")
            return
        grid = pivot(self._records, x, y, self.metric)
        mean = grid.mean
        finite = mean[np.isfinite(mean)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        lut = style.magnitude_lut()
        flat = np.where(np.isfinite(mean), mean, low).ravel()
        rgba = style.lut_colors(lut, flat, low, high).reshape(*mean.shape, 4).copy()
        rgba[~np.isfinite(mean)] = (*style.hex_to_rgb(style.MISSING_COLOR), 255)
        self.image_item.setImage(np.ascontiguousarray(rgba), autoLevels=False)
        ny, nx = mean.shape
        self.image_item.setRect(QRectF(0, 0, nx, ny))
        plot = self.plot_widget.getPlotItem()
        plot.getAxis("bottom").setTicks([[(j + 0.5, format_value(v))
                                          for j, v in enumerate(grid.x_values)]])
        plot.getAxis("left").setTicks([[(i + 0.5, format_value(v))
                                        for i, v in enumerate(grid.y_values)]])
        plot.setLabel("bottom", x)
        plot.setLabel("left", y)
        plot.setRange(xRange=(0, nx), yRange=(0, ny), padding=0)
        for i in range(ny):
            for j in range(nx):
                text = "—" if not np.isfinite(mean[i, j]) else f"{mean[i, j]:.3g}"
                label = pg.TextItem(text, color="#ffffff" if mean[i, j] < (low + high) / 2
                                    else "#111111", anchor=(0.5, 0.5))
                label.setPos(j + 0.5, i + 0.5)
                self.plot_widget.addItem(label)
                self._labels.append(label)
        self.note_label.setText(f"Mean {what} over repeats and other settings "
                                "(diverged and failed runs left out; grey: none finished).")


class Gallery(QScrollArea):
    """The final decision boundary of each run, titled with its settings."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.thumbs: list[BoundaryThumb] = []
        self.regression = False
        self._new_grid()

    def _new_grid(self) -> None:
        box = QWidget()
        self.grid = QGridLayout(box)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setWidget(box)

    def reset(self, regression: bool) -> None:
        self.regression = regression
        self.thumbs = []
        self._new_grid()

    def add(self, record: RunRecord) -> None:
        if record.boundary is None or len(self.thumbs) >= GALLERY_LIMIT:
            return
        settings = ", ".join(f"{p.rsplit('.', 1)[-1]}={format_value(v)}"
                             for p, v in record.values.items())
        title = f"{settings} · seed {record.seed}"
        if not record.finished:
            title += f" ({status_text(record)})"
        thumb = BoundaryThumb(title)
        thumb.set_boundary(record.boundary, regression=self.regression)
        n = len(self.thumbs)
        self.grid.addWidget(thumb, n // GALLERY_COLUMNS, n % GALLERY_COLUMNS)
        self.thumbs.append(thumb)
