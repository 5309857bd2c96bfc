"""Colours, lookup tables and fonts shared by every plot and panel.

One place decides what "class 1" or "layer 3" looks like, so the boundary, the data
points, the legends and the panels always agree. The class colours start with the orange
and blue of TensorFlow Playground (so lessons written for it still read right) and go on
with hues chosen to stay distinct for the common forms of colour blindness (after
Okabe & Ito, "Color Universal Design", 2008). Lookup tables are ``(n, 4)`` uint8 arrays,
the form pyqtgraph's fast image path takes.

Only numpy is needed here; Qt colours are made by the callers from the hex strings.
"""

from __future__ import annotations

import numpy as np

#: Class colours: orange, blue, then further colour-blind-friendly hues (up to 8 classes).
CLASS_COLORS: tuple[str, ...] = (
    "#f59322",  # orange (TensorFlow Playground's negative class)
    "#0877bd",  # blue (its positive class)
    "#009e73",  # bluish green
    "#cc79a7",  # reddish purple
    "#6a3d9a",  # violet
    "#d4b000",  # dark yellow
    "#8c564b",  # brown
    "#555555",  # grey
)

BACKGROUND = "#ffffff"
FOREGROUND = "#222222"  # axes, tick labels, text on plots
GRID_ALPHA = 0.15
POINT_OUTLINE = "#2b2b2b"  # dark rim of training points
TEST_POINT_OUTLINE = "#ffffff"  # white rim of test points

TRAIN_LOSS_COLOR = "#0f766e"  # teal: not a class colour, so no false association
TEST_LOSS_COLOR = "#9333ea"  # purple
BATCH_LOSS_COLOR = "#bfdcd8"  # pale teal for the noisy per-step loss

DEAD_COLOR = "#d62728"  # red: dead units
SATURATED_COLOR = "#e69f00"  # amber: saturated units

# The network graph and the activation explorer: weights and values by sign, with
# TensorFlow Playground's convention (blue positive, orange negative).
POSITIVE_COLOR = CLASS_COLORS[1]
NEGATIVE_COLOR = CLASS_COLORS[0]
FOCUS_COLOR = "#111827"  # the outline of the unit shown in the big plot
TILE_OUTLINE = "#c8ccd2"
CURVE_COLOR = "#1f2937"  # f(x) in the activation explorer
SLOPE_COLOR = "#c2410c"  # f'(x)
HISTOGRAM_COLOR = "#7aa6c2"  # the pre-activation histogram under the curves
FLAT_REGION_COLOR = "#e5e7eb"  # where the slope is too small to pass a gradient
MISSING_COLOR = "#9ca3af"  # a value that is not a number (a diverged run)

NOTICE_STYLE = (
    "QLabel { background: rgba(30, 41, 59, 215); color: white; border-radius: 6px;"
    " padding: 6px 12px; font-weight: 600; }"
)
BANNER_STYLE = (
    "QLabel { background: rgba(185, 28, 28, 235); color: white; border-radius: 6px;"
    " padding: 8px 12px; font-weight: 600; }"
)
ERROR_TEXT_STYLE = "color: #b91c1c; font-weight: 600;"

#: Point size of the application font; large enough to read on a classroom projector.
BASE_FONT_POINTS = 10
#: Point size of tick labels and plot titles inside pyqtgraph plots.
PLOT_FONT_POINTS = 9
#: Width in pixels of history curves; wide enough to see from the back of a room.
CURVE_WIDTH = 2

# Viridis anchors (van der Walt & Smith, 2015), trimmed before its pale yellow end so the
# last layer stays visible on a white background.
_LAYER_ANCHORS = np.array(
    [
        [68, 1, 84],
        [65, 68, 135],
        [42, 120, 142],
        [34, 168, 132],
        [122, 209, 81],
        [189, 223, 38],
    ],
    dtype=np.float64,
)


# Viridis anchors, complete: dark purple (small) to yellow (large), for magnitudes.
_VIRIDIS = np.array(
    [
        [68, 1, 84],
        [72, 40, 120],
        [62, 74, 137],
        [49, 104, 142],
        [38, 130, 142],
        [31, 158, 137],
        [53, 183, 121],
        [110, 206, 88],
        [181, 222, 43],
        [253, 231, 37],
    ],
    dtype=np.float64,
)


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``"#0877bd"`` -> ``(8, 119, 189)``."""
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def rgb_to_hex(rgb: np.ndarray | tuple[float, float, float]) -> str:
    r, g, b = (int(round(float(v))) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def class_color(index: int) -> str:
    """Colour of class ``index`` (wraps around past 8 classes)."""
    return CLASS_COLORS[index % len(CLASS_COLORS)]


def class_rgb(n_classes: int) -> np.ndarray:
    """``(n, 3)`` float64 RGB of the first ``n`` class colours."""
    return np.array([hex_to_rgb(class_color(i)) for i in range(n_classes)], dtype=np.float64)


def layer_colors(n_layers: int) -> list[str]:
    """A sequential palette, dark for layer 1 and light-green for the output layer, so the
    order of the layers reads from the colour alone."""
    if n_layers <= 0:
        return []
    if n_layers == 1:
        return [rgb_to_hex(_LAYER_ANCHORS[2])]
    t = np.linspace(0.0, 1.0, n_layers)
    pos = np.linspace(0.0, 1.0, len(_LAYER_ANCHORS))
    rgb = np.stack([np.interp(t, pos, _LAYER_ANCHORS[:, c]) for c in range(3)], axis=1)
    return [rgb_to_hex(row) for row in rgb]


def _to_lut(rgb: np.ndarray) -> np.ndarray:
    lut = np.empty((len(rgb), 4), dtype=np.uint8)
    lut[:, :3] = np.clip(np.rint(rgb), 0, 255)
    lut[:, 3] = 255
    return lut


def _blend_with_white(rgb: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """``amount`` 0 gives white, 1 gives the colour itself."""
    amount = np.asarray(amount, dtype=np.float64)[..., None]
    return 255.0 + (rgb - 255.0) * amount


def diverging_lut(
    low: str = CLASS_COLORS[0],
    high: str = CLASS_COLORS[1],
    n: int = 256,
    strength: float = 0.8,
) -> np.ndarray:
    """Low colour -> white -> high colour, for binary probabilities and regression values.

    ``strength`` < 1 keeps the extremes a little paler than the data points, so points stay
    visible on a confident background.
    """
    t = np.linspace(-1.0, 1.0, n)
    amount = np.abs(t) * strength
    lo, hi = np.array(hex_to_rgb(low), float), np.array(hex_to_rgb(high), float)
    rgb = np.where(t[:, None] < 0, _blend_with_white(lo, amount), _blend_with_white(hi, amount))
    return _to_lut(rgb)


def magnitude_lut(n: int = 256) -> np.ndarray:
    """Viridis, dark for small and yellow for large values: it reads in grey-scale and for
    colour-blind viewers, so it suits a log-scale magnitude such as a gradient norm."""
    t = np.linspace(0.0, 1.0, n)
    pos = np.linspace(0.0, 1.0, len(_VIRIDIS))
    rgb = np.stack([np.interp(t, pos, _VIRIDIS[:, c]) for c in range(3)], axis=1)
    return _to_lut(rgb)


def hard_binary_lut(n: int = 256, strength: float = 0.8) -> np.ndarray:
    """Two flat colours split at 0.5: the "discretize output" view of a binary boundary."""
    rgb = class_rgb(2)
    half = n // 2
    flat = np.empty((n, 3))
    flat[:half] = _blend_with_white(rgb[0], strength)
    flat[half:] = _blend_with_white(rgb[1], strength)
    return _to_lut(flat)


def banded_lut(base: np.ndarray, bands: int = 10) -> np.ndarray:
    """``base`` quantized into ``bands`` flat steps (discretized regression output)."""
    n = len(base)
    idx = (np.floor(np.arange(n) * bands / n) + 0.5) * n / bands
    return base[np.clip(idx.astype(int), 0, n - 1)].copy()


def class_confidence_lut(n_classes: int, levels: int = 32, strength: float = 0.8,
                         hard: bool = False) -> np.ndarray:
    """``n_classes * levels`` entries: entry ``c * levels + j`` is class ``c``'s colour at
    confidence step ``j`` (0 = pale, ``levels - 1`` = full). With ``hard`` every step of
    a class gets its full colour."""
    rgb = class_rgb(n_classes)
    amount = np.full(levels, strength) if hard else np.linspace(0.0, 1.0, levels) * strength
    table = _blend_with_white(rgb[:, None, :], amount[None, :])
    return _to_lut(table.reshape(-1, 3))


def apply_lut(lut: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``lut[index]`` for a ``(n, 4)`` uint8 table: ``index.shape + (4,)`` uint8.

    Each RGBA entry is read as one 32-bit word, so numpy gathers one number per pixel
    instead of indexing a row of four: about 25 times faster on a 200x200 image, which
    matters at thirty frames a second."""
    words = np.ascontiguousarray(lut, dtype=np.uint8).view(np.uint32).reshape(len(lut))
    return np.take(words, index).view(np.uint8).reshape(*np.shape(index), 4)


def lut_colors(lut: np.ndarray, values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map ``values`` in ``[low, high]`` through ``lut``: ``(n, 4)`` uint8."""
    span = high - low if high > low else 1.0
    idx = np.clip(((np.asarray(values, float) - low) / span * (len(lut) - 1)).round(), 0,
                  len(lut) - 1).astype(np.intp)
    return apply_lut(lut, idx)
