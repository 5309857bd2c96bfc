"""Where each unit and link of the network graph sits, and what lies under the mouse.

Plain geometry, no Qt: the network view draws at these positions and asks this class
what the mouse points at, so both can be tested with numbers alone.

The graph reads left to right: a column of input features, one column per hidden layer,
then the output units. Each unit is a square tile (its heatmap); the columns are centred
on the tallest one. Scene coordinates grow rightwards and downwards (as in a
``QGraphicsScene``). Links run from the middle of a tile's right edge to the middle of
the next tile's left edge.

Big layers would draw thousands of links, which neither reads nor paints fast, so each
gap between two columns draws only its ``MAX_LINKS`` strongest links (by |weight|); the
rest are too faint to matter at that count anyway. A link's width and opacity grow with
|weight| relative to the largest in its gap: trained weights range from hundredths to
tens, and on one absolute scale a gap is either a thicket or invisible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Links drawn per gap between two columns at most (the strongest ones).
MAX_LINKS = 400
#: Edges of the link bands, as shares of the largest |weight| in the gap.
WEIGHT_EDGES = (0.15, 0.35, 0.6, 0.85)
#: Pen width in pixels and opacity (0-255) for each band.
LINK_WIDTHS = (0.6, 1.0, 1.6, 2.4, 3.4)
LINK_ALPHAS = (45, 90, 140, 190, 235)
#: Room (in pixels: the text does not zoom) above the columns for their titles, left of
#: the inputs for the feature names and right of the outputs for half a title.
HEADER = 40.0
LEFT_MARGIN = 46.0
RIGHT_MARGIN = 32.0
#: Space under the tallest column.
MARGIN = 10.0
#: A view zooms the graph to fit, but not below MIN_SCALE (it scrolls instead) nor above
#: MAX_SCALE; spare width spreads the columns up to MAX_SPREAD times their natural pitch.
MIN_SCALE = 0.55
MAX_SCALE = 1.6
MAX_SPREAD = 2.5


@dataclass(frozen=True)
class UnitRef:
    """One unit of the graph: ``column`` 0 holds the inputs, 1..H the hidden layers and
    H+1 the output layer."""

    column: int
    unit: int


@dataclass(frozen=True)
class LinkRef:
    """The weight from unit ``source`` of ``column`` to unit ``target`` of ``column + 1``
    (entry ``W[source, target]`` of the weights into ``column + 1``)."""

    column: int
    source: int
    target: int


def tile_size(largest_layer: int) -> float:
    """Tile side in scene units: big for small layers, smaller as layers widen (the view
    scrolls when even these do not fit)."""
    if largest_layer <= 8:
        return 40.0
    if largest_layer <= 16:
        return 32.0
    return 24.0


class NetworkLayout:
    """Positions of the tiles of a network with ``sizes`` units per column."""

    def __init__(self, sizes: Sequence[int], tile: float | None = None,
                 column_pitch: float | None = None, *, header: float = HEADER,
                 left: float = LEFT_MARGIN, right: float = RIGHT_MARGIN) -> None:
        self.sizes = tuple(int(n) for n in sizes)
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes: need inputs and outputs of >= 1 unit, got {sizes}")
        self.tile = float(tile) if tile is not None else tile_size(max(self.sizes))
        self.gap = self.tile / 4.0
        self.pitch = self.tile + self.gap
        natural = self.tile + max(64.0, 2.4 * self.tile)
        self.column_pitch = max(natural, float(column_pitch)) if column_pitch else natural
        self.left = left
        tallest = max(self.sizes)
        self.height = header + tallest * self.pitch - self.gap + MARGIN
        self.width = left + (len(self.sizes) - 1) * self.column_pitch + self.tile + right
        self._top = [header + (tallest - n) * self.pitch / 2.0 for n in self.sizes]

    @property
    def n_columns(self) -> int:
        return len(self.sizes)

    def column_x(self, column: int) -> float:
        """Left edge of the column's tiles."""
        return self.left + column * self.column_pitch

    def column_top(self, column: int) -> float:
        """Top edge of the column's first tile."""
        return self._top[column]

    def tile_origin(self, column: int, unit: int) -> tuple[float, float]:
        """Top-left corner of a tile."""
        return self.column_x(column), self._top[column] + unit * self.pitch

    def tile_centers_y(self, column: int) -> np.ndarray:
        return self._top[column] + np.arange(self.sizes[column]) * self.pitch + self.tile / 2

    def unit_at(self, x: float, y: float) -> UnitRef | None:
        """The unit whose tile contains the point, if any."""
        col = int(np.floor((x - self.left) / self.column_pitch))
        if not 0 <= col < self.n_columns:
            return None
        if x - self.column_x(col) > self.tile:
            return None
        offset = y - self._top[col]
        unit = int(np.floor(offset / self.pitch))
        if not 0 <= unit < self.sizes[col] or offset - unit * self.pitch > self.tile:
            return None
        return UnitRef(col, unit)

    def gap_at(self, x: float) -> int | None:
        """The column whose outgoing links pass over ``x`` (between its tiles and the
        next column's), if any."""
        col = int(np.floor((x - self.left) / self.column_pitch))
        if not 0 <= col < self.n_columns - 1:
            return None
        if x - self.column_x(col) <= self.tile:
            return None
        return col

    def link_ends(self, column: int) -> tuple[float, np.ndarray, float, np.ndarray]:
        """``(x0, y0 per source unit, x1, y1 per target unit)`` of the links leaving
        ``column``."""
        x0 = self.column_x(column) + self.tile
        x1 = self.column_x(column + 1)
        return x0, self.tile_centers_y(column), x1, self.tile_centers_y(column + 1)

    def link_segments(self, column: int, source: np.ndarray,
                      target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` with two points per link (start, end), for drawing in pairs."""
        x0, y0, x1, y1 = self.link_ends(column)
        n = len(source)
        x = np.empty(2 * n)
        y = np.empty(2 * n)
        x[0::2], x[1::2] = x0, x1
        y[0::2], y[1::2] = y0[source], y1[target]
        return x, y

    def nearest_link(self, x: float, y: float, column: int, source: np.ndarray,
                     target: np.ndarray, tolerance: float = 4.0) -> int | None:
        """Index (into ``source``/``target``) of the drawn link nearest the point, when
        it passes within ``tolerance`` scene units."""
        if len(source) == 0:
            return None
        x0, y0, x1, y1 = self.link_ends(column)
        if not x0 <= x <= x1:
            return None
        t = (x - x0) / (x1 - x0)
        ya, yb = y0[source], y1[target]
        # Vertical distance at x, turned into the distance to the line.
        dy = np.abs(ya + t * (yb - ya) - y)
        slope = (yb - ya) / (x1 - x0)
        distance = dy / np.sqrt(1.0 + slope * slope)
        best = int(np.argmin(distance))
        return best if distance[best] <= tolerance else None


def fitted_layout(sizes: Sequence[int], width: float,
                  height: float) -> tuple[NetworkLayout, float]:
    """The layout and zoom that fit a viewport of ``width`` x ``height`` pixels: the
    zoom fits the tiles (and the margins, which are in pixels) within [MIN_SCALE,
    MAX_SCALE], then the columns spread out over the spare width (up to MAX_SPREAD times
    their natural spacing)."""
    natural = NetworkLayout(sizes, header=0.0, left=0.0, right=0.0)
    gaps = max(1, natural.n_columns - 1)
    by_height = (height - HEADER) / natural.height
    by_width = (width - LEFT_MARGIN - RIGHT_MARGIN) / natural.width
    scale = max(MIN_SCALE, min(MAX_SCALE, by_height, by_width))
    room = ((width - LEFT_MARGIN - RIGHT_MARGIN) / scale - natural.tile) / gaps
    pitch = min(MAX_SPREAD * natural.column_pitch, max(natural.column_pitch, room))
    lay = NetworkLayout(sizes, natural.tile, pitch, header=HEADER / scale,
                        left=LEFT_MARGIN / scale, right=RIGHT_MARGIN / scale)
    return lay, scale


def strongest_links(weights: np.ndarray, most: int = MAX_LINKS) -> tuple[np.ndarray, np.ndarray]:
    """``(source, target)`` indices of the ``most`` largest |weights| (all when fewer),
    weakest first so that strong links are drawn on top."""
    w = np.abs(np.nan_to_num(np.asarray(weights, dtype=np.float64)))
    flat = w.ravel()
    if flat.size > most:
        keep = np.argpartition(flat, flat.size - most)[flat.size - most:]
    else:
        keep = np.arange(flat.size)
    keep = keep[np.argsort(flat[keep], kind="stable")]
    return np.unravel_index(keep, w.shape)


def weight_bands(values: np.ndarray) -> np.ndarray:
    """Band of each weight: 0..len(WEIGHT_EDGES) by |w| / max |w| for positive weights,
    the same plus ``len(LINK_WIDTHS)`` for negative ones (non-finite weights fall in the
    top positive band)."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.abs(v[np.isfinite(v)])
    largest = float(finite.max()) if finite.size else 0.0
    share = np.abs(v) / largest if largest > 0 else np.zeros_like(v)
    bands = np.searchsorted(np.asarray(WEIGHT_EDGES), share, side="right")
    bands[~np.isfinite(v)] = len(WEIGHT_EDGES)
    return np.where(v < 0, bands + len(LINK_WIDTHS), bands)
