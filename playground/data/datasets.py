"""Two-dimensional toy datasets for the playground.

Every dataset lives in the plane ``[-PLANE_EXTENT, PLANE_EXTENT]^2`` so that one decision
boundary grid fits them all. The six sets that TensorFlow Playground ships (circle, xor,
gauss, spiral, reg_plane, reg_gauss) follow the definitions in its ``src/dataset.ts`` so
that lessons written for the web version carry over; the others come from scikit-learn's
generators, which are imported only when such a set is asked for because loading
scikit-learn costs about half a second at start-up.

Labels: TensorFlow Playground's ``+1`` becomes class ``1`` and its ``-1`` becomes class
``0``. Regression targets stay in ``[-1, 1]``.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)

DATASET_NAMES = (
    "circle",
    "xor",
    "gauss",
    "spiral",
    "moons",
    "blobs",
    "gaussian_quantiles",
    "checkerboard",
    "classification",
    "reg_plane",
    "reg_gauss",
)
REGRESSION_DATASETS = ("reg_plane", "reg_gauss")
MULTICLASS_DATASETS = ("spiral", "blobs", "gaussian_quantiles", "classification")
MAX_CLASSES = 8
MAX_SAMPLES = 10_000
PLANE_EXTENT = 6.0
MAX_SEED = 2**32 - 1  # scikit-learn's random_state accepts at most this

# make_classification needs n_classes * n_clusters_per_class <= 2 ** n_informative, and the
# plane gives it two informative features with one cluster each: at most four classes.
_CLASSIFICATION_MAX_CLASSES = 4
# Attempts at redrawing a set whose random labels missed a class (only tiny sets need it).
_MAX_ATTEMPTS = 1000

_XY = tuple[np.ndarray, np.ndarray]  # points (n, 2) and labels (n,)
_Generator = Callable[[int, float, int, np.random.Generator], _XY]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Points in the plane with their labels, immutable so it can be shared between threads.

    The arrays are stored as read-only C-contiguous copies, so neither the caller nor the
    training thread can change a dataset behind the other's back. Equality is identity
    (comparing arrays element by element is left to the caller).

    Attributes:
        x: ``(n, 2)`` float64 raw coordinates.
        y: ``(n,)`` int64 labels ``0..n_classes-1`` for classification, float64 targets for
            regression.
        task: ``"classification"`` or ``"regression"``.
        n_classes: the number of classes of the problem (``0`` for regression). A subset
            made by :func:`train_test_split` keeps the parent's count even if it happens to
            miss a class.
        name: where the data came from (a dataset name or a file name).
    """

    x: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int
    name: str

    def __post_init__(self) -> None:
        x = np.array(self.x, dtype=np.float64, order="C", copy=True)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"Dataset.x must have shape (n, 2), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("Dataset.x must contain only finite numbers")
        y = np.asarray(self.y)
        if y.shape != (x.shape[0],):
            raise ValueError(f"Dataset.y must have shape ({x.shape[0]},), got {y.shape}")
        if self.task == CLASSIFICATION:
            if y.size and not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"classification labels must be integers, got {y.dtype}")
            y = np.array(y, dtype=np.int64, copy=True)
            if not 2 <= self.n_classes <= MAX_CLASSES:
                raise ValueError(
                    f"Dataset.n_classes must be in [2, {MAX_CLASSES}] for classification, "
                    f"got {self.n_classes}"
                )
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(f"classification labels must lie in 0..{self.n_classes - 1}")
        elif self.task == REGRESSION:
            y = np.array(y, dtype=np.float64, copy=True)
            if self.n_classes != 0:
                raise ValueError(
                    f"Dataset.n_classes must be 0 for regression, got {self.n_classes}"
                )
            if not np.all(np.isfinite(y)):
                raise ValueError("regression targets must be finite numbers")
        else:
            raise ValueError(f"Dataset.task must be one of {TASKS}, got {self.task!r}")
        x.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def n_samples(self) -> int:
        """Number of points."""
        return int(self.x.shape[0])


# ---------------------------------------------------------------- TensorFlow Playground sets


def _circle(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """A disc of radius 2.5 (class 1) inside a ring 3.5..5 (class 0).

    Noise does not move the points: it shifts the position at which the label is read by
    up to ``5 * noise`` in each coordinate, so points near the gap take the wrong class.
    """
    radius = 5.0
    n_inner = n - n // 2
    r = np.concatenate(
        [rng.uniform(0.0, radius * 0.5, n_inner), rng.uniform(radius * 0.7, radius, n // 2)]
    )
    angle = rng.uniform(0.0, 2.0 * math.pi, n)
    x = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    probe = x + rng.uniform(-radius, radius, (n, 2)) * noise
    y = (np.hypot(probe[:, 0], probe[:, 1]) < radius * 0.5).astype(np.int64)
    return x, y


def _xor(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """Uniform in [-5, 5]^2 pushed 0.3 away from both axes; class 1 where x1*x2 >= 0.

    As in the circle, noise only moves the point at which the label is read.
    """
    padding = 0.3
    x = rng.uniform(-5.0, 5.0, (n, 2))
    x += np.where(x > 0, padding, -padding)
    probe = x + rng.uniform(-5.0, 5.0, (n, 2)) * noise
    y = (probe[:, 0] * probe[:, 1] >= 0).astype(np.int64)
    return x, y


def _gauss(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """Class 1 around (2, 2), class 0 around (-2, -2).

    The variance maps noise 0..0.5 linearly onto 0.5..4 (and keeps going up to 7.5 at
    noise 1). Points that fall outside the plane are drawn again, which keeps the set
    inside ``[-6, 6]^2`` without piling points up on the border as clipping would.
    """
    variance = 0.5 + 7.0 * noise
    std = math.sqrt(variance)
    n_pos = n - n // 2
    centres = np.empty((n, 2))
    centres[:n_pos] = 2.0
    centres[n_pos:] = -2.0
    x = rng.normal(centres, std)
    outside = np.any(np.abs(x) > PLANE_EXTENT, axis=1)
    while outside.any():
        x[outside] = rng.normal(centres[outside], std)
        outside = np.any(np.abs(x) > PLANE_EXTENT, axis=1)
    y = np.zeros(n, dtype=np.int64)
    y[:n_pos] = 1
    return x, y


def spiral_arm_delta(label: int, n_classes: int) -> float:
    """Angular offset of the spiral arm that carries ``label``.

    The arms sit at offsets ``2*pi*a/k``. Class ``c`` takes arm ``a = (c + 1) mod k`` so
    that two classes match TensorFlow Playground: its positive arm (offset 0) is class 1
    and its negative arm (offset pi) is class 0.
    """
    arm = (label + 1) % n_classes
    return 2.0 * math.pi * arm / n_classes


def _spiral(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """``k`` interleaved arms; point ``i`` of ``m`` on an arm has ``r = 5 i/m`` and angle
    ``t = 1.75 * 2 pi i/m + delta``, at ``(r sin t, r cos t)`` plus uniform(-1, 1)*noise.
    """
    xs, ys = [], []
    for label in range(k):
        arm = (label + 1) % k  # spare points go to the first arms, as in TF's order
        m = n // k + (1 if arm < n % k else 0)
        frac = np.arange(m) / m
        r = frac * 5.0
        t = 1.75 * frac * 2.0 * math.pi + spiral_arm_delta(label, k)
        arm = np.column_stack([r * np.sin(t), r * np.cos(t)])
        arm += rng.uniform(-1.0, 1.0, (m, 2)) * noise
        xs.append(arm)
        ys.append(np.full(m, label, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _reg_plane(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """Target ``(x1 + x2) / 10`` read at a noise-shifted point.

    TensorFlow Playground lets the shifted target leave [-1, 1]; here it is clipped so
    every regression target shares one range.
    """
    radius = PLANE_EXTENT
    x = rng.uniform(-radius, radius, (n, 2))
    probe = x + rng.uniform(-radius, radius, (n, 2)) * noise
    y = np.clip((probe[:, 0] + probe[:, 1]) / 10.0, -1.0, 1.0)
    return x, y


_REG_GAUSS_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)
_REG_GAUSS_BUMPS.setflags(write=False)


def _reg_gauss(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """Six cones of height +-1 and radius 2; the target is the strongest cone at the
    noise-shifted point (the first one wins a tie, and 0 far from every cone).
    """
    radius = PLANE_EXTENT
    x = rng.uniform(-radius, radius, (n, 2))
    probe = x + rng.uniform(-radius, radius, (n, 2)) * noise
    dist = np.hypot(
        probe[:, 0, None] - _REG_GAUSS_BUMPS[None, :, 0],
        probe[:, 1, None] - _REG_GAUSS_BUMPS[None, :, 1],
    )
    height = np.clip(1.0 - dist / 2.0, 0.0, 1.0)
    best = np.argmax(height, axis=1)
    y = _REG_GAUSS_BUMPS[best, 2] * height[np.arange(n), best]
    return x, y + 0.0  # turn -0.0 into 0.0


# ------------------------------------------------------------------------ numpy-only extras


def _checkerboard(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """Uniform in the plane, 4x4 cells of width 3 in alternating classes.

    Noise shifts the point at which the label is read by up to one cell width times
    noise, the same ratio the xor set uses (it shifts by up to one quadrant width).
    """
    cell = 2.0 * PLANE_EXTENT / 4
    x = rng.uniform(-PLANE_EXTENT, PLANE_EXTENT, (n, 2))
    probe = x + rng.uniform(-cell, cell, (n, 2)) * noise
    index = np.floor((probe + PLANE_EXTENT) / cell).astype(np.int64)
    y = (index[:, 0] + index[:, 1]) % 2
    return x, y.astype(np.int64)


# ---------------------------------------------------------------------- scikit-learn sets


def _sklearn_seed(rng: np.random.Generator) -> int:
    """An int random_state drawn from the dataset's stream, so one seed drives everything."""
    return int(rng.integers(0, 2**31 - 1))


def _moons(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """scikit-learn's two moons, stretched by 3.3 around their middle to fill about
    [-5, 5] x [-2.5, 2.5]; noise 1 adds Gaussian noise of std 0.4 moon units (1.3 plane
    units).
    """
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=0.4 * noise, random_state=_sklearn_seed(rng))
    x = (x - np.array([0.5, 0.25])) * 3.3
    return x, y


def _blobs(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """``k`` Gaussian blobs whose centres sit evenly on a circle of radius 3.5 (inside
    [-4, 4]^2) at a random rotation, so no two centres ever coincide. The blob std grows
    from 0.4 at noise 0 to 1.8 at noise 1.
    """
    from sklearn.datasets import make_blobs

    phase = rng.uniform(0.0, 2.0 * math.pi)
    angles = phase + 2.0 * math.pi * np.arange(k) / k
    centres = 3.5 * np.column_stack([np.cos(angles), np.sin(angles)])
    x, y = make_blobs(
        n_samples=n,
        centers=centres,
        cluster_std=0.4 + 1.4 * noise,
        random_state=_sklearn_seed(rng),
    )
    return x, y


def _gaussian_quantiles(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """A standard 2-D Gaussian cut into ``k`` concentric shells of equal size, scaled by
    1.6; noise then blurs the shells with Gaussian jitter of std ``0.8 * noise``.
    """
    from sklearn.datasets import make_gaussian_quantiles

    x, y = make_gaussian_quantiles(
        n_samples=n, n_features=2, n_classes=k, random_state=_sklearn_seed(rng)
    )
    x = x * 1.6 + rng.normal(0.0, 0.8 * noise, (n, 2))
    return x, y


def _classification(n: int, noise: float, k: int, rng: np.random.Generator) -> _XY:
    """scikit-learn's make_classification with two informative features and one cluster
    per class; noise lowers the class separation from 2.0 to 0.5. Its random linear mix
    gives an unpredictable scale, so the cloud is centred and scaled until its farthest
    coordinate is 5.
    """
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_repeated=0,
        n_classes=k,
        n_clusters_per_class=1,
        class_sep=2.0 - 1.5 * noise,
        flip_y=0.0,
        random_state=_sklearn_seed(rng),
    )
    x = x - x.mean(axis=0)
    reach = float(np.max(np.abs(x)))
    if reach > 0:
        x = x * (5.0 / reach)
    return x, y


_GENERATORS: MappingProxyType[str, _Generator] = MappingProxyType(
    {
        "circle": _circle,
        "xor": _xor,
        "gauss": _gauss,
        "spiral": _spiral,
        "moons": _moons,
        "blobs": _blobs,
        "gaussian_quantiles": _gaussian_quantiles,
        "checkerboard": _checkerboard,
        "classification": _classification,
        "reg_plane": _reg_plane,
        "reg_gauss": _reg_gauss,
    }
)

_DESCRIPTIONS = MappingProxyType(
    {
        "circle": "A disc of one class inside a ring of the other; needs a curved boundary.",
        "xor": "Opposite quadrants share a class; no single straight line separates them.",
        "gauss": "Two Gaussian clouds; noise widens them until they overlap.",
        "spiral": "Interleaved spiral arms, one per class; the hardest of the classic sets.",
        "moons": "Two interlocking half-moons.",
        "blobs": "One round Gaussian cluster per class, spaced around a circle.",
        "gaussian_quantiles": "Concentric shells of a Gaussian, one shell per class.",
        "checkerboard": "A 4x4 board of alternating squares; many small regions to carve out.",
        "classification": "Random Gaussian clusters from scikit-learn, one per class.",
        "reg_plane": "Regression: the target rises linearly along the diagonal.",
        "reg_gauss": "Regression: six bumps of height +1 or -1 on a flat floor.",
    }
)


# --------------------------------------------------------------------------- public API


def n_classes_range(name: str) -> tuple[int, int]:
    """Smallest and largest class count (inclusive) that ``name`` can produce.

    Lets a UI bound its class-count control; regression sets report ``(0, 0)``.
    """
    _check_name(name)
    if name in REGRESSION_DATASETS:
        return (0, 0)
    if name == "classification":
        return (2, _CLASSIFICATION_MAX_CLASSES)
    if name in MULTICLASS_DATASETS:
        return (2, MAX_CLASSES)
    return (2, 2)


def dataset_info(name: str) -> str:
    """One-line description of a dataset for tooltips and menus."""
    _check_name(name)
    return _DESCRIPTIONS[name]


def make_dataset(
    name: str, n_samples: int = 500, noise: float = 0.0, n_classes: int = 2, seed: int = 0
) -> Dataset:
    """Generate dataset ``name``; the same arguments always give bit-identical arrays.

    Args:
        name: one of :data:`DATASET_NAMES`.
        n_samples: number of points, 2..MAX_SAMPLES and at least ``n_classes``.
        noise: fraction in [0, 1]; TensorFlow Playground's slider 0..50 is 0..0.5 here.
        n_classes: 2 for the two-class sets; see :func:`n_classes_range` for the
            multiclass ones. Regression sets accept 2 (the default) or 0 and ignore it.
        seed: integer in [0, 2**32 - 1]; drives every random draw, including the int
            ``random_state`` handed to scikit-learn.

    Every class appears in the result (a set whose labels depend on noise is redrawn from
    the same stream in the rare case one is missing). The points come out in a shuffled
    order, so no class is drawn entirely on top of another.

    Raises:
        ValueError: an argument is out of range; the message names it and what is allowed.
    """
    _check_name(name)
    n_samples = _check_int("n_samples", n_samples, 2, MAX_SAMPLES)
    noise = _check_noise(noise)
    seed = _check_int("seed", seed, 0, MAX_SEED)
    k = _check_n_classes(name, n_classes)
    if n_samples < k:
        raise ValueError(
            f"n_samples ({n_samples}) must be at least n_classes ({k}) so every class appears"
        )

    rng = np.random.default_rng(seed)
    generate = _GENERATORS[name]
    if name in REGRESSION_DATASETS:
        x, y = generate(n_samples, noise, 0, rng)
        task = REGRESSION
        n_out = 0
    else:
        for _ in range(_MAX_ATTEMPTS):
            x, y = generate(n_samples, noise, k, rng)
            if np.unique(y).size == k:
                break
        else:  # pragma: no cover - each attempt fails with probability < 1/2
            raise RuntimeError(f"could not draw every class of {name!r} in {_MAX_ATTEMPTS} tries")
        task = CLASSIFICATION
        n_out = k
    order = rng.permutation(n_samples)
    x = np.clip(np.asarray(x, dtype=np.float64)[order], -PLANE_EXTENT, PLANE_EXTENT)
    return Dataset(x=x, y=np.asarray(y)[order], task=task, n_classes=n_out, name=name)


def train_test_split(ds: Dataset, test_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into (train, test), deterministically for a given seed.

    Classification splits are stratified: each class sends ``test_fraction`` of its points
    to the test part, rounded so the total test size is ``round(test_fraction * n)`` and
    no class is off by a whole point; a class with at least two points is then kept in
    both parts, even if that moves it by one point. A class with a single point stays in
    training. Regression takes a plain shuffled split. Training always keeps at least one
    point; ``test_fraction == 0`` gives an empty test set with ``x.shape == (0, 2)``.

    Both parts are shuffled and keep the parent's ``task``, ``n_classes`` and ``name``.
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a Dataset, got {type(ds).__name__}")
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, numbers.Real)
        or not 0.0 <= float(test_fraction) <= 0.9
    ):
        raise ValueError(f"test_fraction must be a number in [0, 0.9], got {test_fraction!r}")
    test_fraction = float(test_fraction)
    seed = _check_int("seed", seed, 0, MAX_SEED)
    rng = np.random.default_rng(seed)
    n = ds.n_samples

    if ds.task == REGRESSION:
        n_test = min(round(test_fraction * n), max(n - 1, 0))
        order = rng.permutation(n)
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        test_idx, train_idx = _stratified_indices(ds.y, ds.n_classes, test_fraction, rng)

    return _subset(ds, train_idx), _subset(ds, test_idx)


# ------------------------------------------------------------------------------ helpers


def _stratified_indices(
    y: np.ndarray, k: int, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class test counts by largest remainder, then clamped so classes sit in both."""
    members = [np.flatnonzero(y == c) for c in range(k)]
    sizes = np.array([m.size for m in members])
    n = int(sizes.sum())
    exact = test_fraction * sizes
    counts = np.floor(exact).astype(np.int64)
    missing = round(test_fraction * n) - int(counts.sum())
    if missing > 0:
        # Largest fractional part first; ties go to the lower class (stable sort).
        by_remainder = np.argsort(-(exact - counts), kind="stable")
        counts[by_remainder[:missing]] += 1
    if test_fraction > 0:
        counts = np.where(sizes >= 2, np.clip(counts, 1, sizes - 1), 0)

    test_parts, train_parts = [], []
    for m, c in zip(members, counts, strict=True):
        shuffled = rng.permutation(m)
        test_parts.append(shuffled[:c])
        train_parts.append(shuffled[c:])
    test_idx = rng.permutation(np.concatenate(test_parts)) if n else np.empty(0, np.int64)
    train_idx = rng.permutation(np.concatenate(train_parts)) if n else np.empty(0, np.int64)
    return test_idx, train_idx


def _subset(ds: Dataset, idx: np.ndarray) -> Dataset:
    idx = np.asarray(idx, dtype=np.int64)
    return Dataset(x=ds.x[idx], y=ds.y[idx], task=ds.task, n_classes=ds.n_classes, name=ds.name)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or name not in _GENERATORS:
        raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(DATASET_NAMES)}")


def _check_int(param: str, value: object, low: int, high: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{param} must be an integer in [{low}, {high}], got {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{param} must be an integer in [{low}, {high}], got {number}")
    return number


def _check_noise(noise: object) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise ValueError(f"noise must be a number in [0, 1], got {noise!r}")
    value = float(noise)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"noise must be a number in [0, 1], got {value!r}")
    return value


def _check_n_classes(name: str, n_classes: object) -> int:
    if name in REGRESSION_DATASETS:
        if isinstance(n_classes, bool) or n_classes not in (0, 2):
            raise ValueError(
                f"n_classes for regression dataset {name!r} must be 0 or 2 (it is ignored), "
                f"got {n_classes!r}"
            )
        return 0
    low, high = n_classes_range(name)
    if low == high:
        detail = f"must be {low}: {name!r} has exactly two classes"
    else:
        detail = f"must be an integer in [{low}, {high}] for {name!r}"
    try:
        if isinstance(n_classes, bool):
            raise TypeError
        k = operator.index(n_classes)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"n_classes {detail}, got {n_classes!r}") from None
    if not low <= k <= high:
        raise ValueError(f"n_classes {detail}, got {k}")
    return k
