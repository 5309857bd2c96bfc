"""Tests for the dataset generators and the train/test split."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.data.datasets import (
    DATASET_NAMES,
    MAX_CLASSES,
    MAX_SAMPLES,
    MULTICLASS_DATASETS,
    PLANE_EXTENT,
    REGRESSION_DATASETS,
    Dataset,
    dataset_info,
    make_dataset,
    n_classes_range,
    train_test_split,
)

CLASSIFICATION_SETS = [name for name in DATASET_NAMES if name not in REGRESSION_DATASETS]
# Every (dataset, class count) pair the generators accept, at the ends of each range.
CASES = [
    (name, k)
    for name in DATASET_NAMES
    for k in sorted(set(n_classes_range(name)))
    if name not in REGRESSION_DATASETS
] + [(name, 0) for name in REGRESSION_DATASETS]


def make(name: str, n: int = 400, noise: float = 0.0, k: int = 2, seed: int = 0) -> Dataset:
    return make_dataset(name, n_samples=n, noise=noise, n_classes=k or 2, seed=seed)


def radius(ds: Dataset) -> np.ndarray:
    return np.hypot(ds.x[:, 0], ds.x[:, 1])


# ------------------------------------------------------------------------- every dataset


def test_names_and_groups_are_consistent():
    assert len(DATASET_NAMES) == 11
    assert set(REGRESSION_DATASETS) <= set(DATASET_NAMES)
    assert set(MULTICLASS_DATASETS) <= set(DATASET_NAMES)
    assert n_classes_range("circle") == (2, 2)
    assert n_classes_range("spiral") == (2, MAX_CLASSES)
    assert n_classes_range("classification") == (2, 4)
    assert n_classes_range("reg_plane") == (0, 0)


@pytest.mark.parametrize(("name", "k"), CASES)
@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
def test_shape_dtype_classes_and_bounds(name, k, noise):
    ds = make(name, n=301, noise=noise, k=k, seed=7)
    assert ds.name == name
    assert ds.x.shape == (301, 2)
    assert ds.x.dtype == np.float64 and ds.x.flags.c_contiguous
    assert ds.y.shape == (301,)
    assert np.all(np.abs(ds.x) <= PLANE_EXTENT)
    if name in REGRESSION_DATASETS:
        assert ds.task == "regression"
        assert ds.n_classes == 0
        assert ds.y.dtype == np.float64
        assert np.all((ds.y >= -1.0) & (ds.y <= 1.0))
    else:
        assert ds.task == "classification"
        assert ds.n_classes == k
        assert ds.y.dtype == np.int64
        assert sorted(np.unique(ds.y)) == list(range(k))


@pytest.mark.parametrize(("name", "k"), CASES)
def test_same_seed_same_bits_and_other_seed_differs(name, k):
    a = make(name, n=200, noise=0.3, k=k, seed=11)
    b = make(name, n=200, noise=0.3, k=k, seed=11)
    c = make(name, n=200, noise=0.3, k=k, seed=12)
    assert a.x.tobytes() == b.x.tobytes()
    assert a.y.tobytes() == b.y.tobytes()
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize(("name", "k"), CASES)
def test_smallest_sets_still_hold_every_class(name, k):
    n = max(k, 2)
    for seed in range(20):
        ds = make(name, n=n, noise=1.0, k=k, seed=seed)
        assert ds.x.shape == (n, 2)
        if k:
            assert sorted(np.unique(ds.y)) == list(range(k))


@pytest.mark.parametrize("name", ["circle", "gauss", "spiral", "moons"])
def test_two_class_sets_split_points_evenly(name):
    ds = make(name, n=401)
    assert np.bincount(ds.y).tolist() == [200, 201]


def test_output_order_is_shuffled():
    ds = make("spiral", n=400)
    # Generated arm by arm, so an unshuffled set would have a handful of label changes.
    assert np.count_nonzero(np.diff(ds.y)) > 100


def test_dataset_is_read_only():
    ds = make("xor")
    with pytest.raises(ValueError):
        ds.x[0, 0] = 1.0
    with pytest.raises(ValueError):
        ds.y[0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]


def test_dataset_rejects_inconsistent_arrays():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        Dataset(
            x=np.zeros((3, 3)),
            y=np.zeros(3, np.int64),
            task="classification",
            n_classes=2,
            name="t",
        )
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        Dataset(x=x, y=np.array([0, 1, 2]), task="classification", n_classes=2, name="t")
    with pytest.raises(ValueError, match="must be integers"):
        Dataset(x=x, y=np.array([0.0, 1.0, 0.5]), task="classification", n_classes=2, name="t")
    with pytest.raises(ValueError, match="task"):
        Dataset(x=x, y=np.zeros(3), task="ranking", n_classes=0, name="t")


def test_scikit_learn_is_not_imported_with_the_package():
    code = "import sys, playground.data; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dataset_info_describes_every_set():
    texts = [dataset_info(name) for name in DATASET_NAMES]
    assert all(t and "\n" not in t for t in texts)
    assert len(set(texts)) == len(texts)
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        dataset_info("nope")


# -------------------------------------------------------------- what each dataset looks like


def test_circle_without_noise_is_split_by_radius_three():
    ds = make("circle", n=1000)
    r = radius(ds)
    assert np.array_equal(ds.y, (r < 3.0).astype(np.int64))
    assert np.all(r[ds.y == 1] <= 2.5)
    assert np.all((r[ds.y == 0] >= 3.5) & (r[ds.y == 0] <= 5.0))


def test_circle_noise_puts_points_on_the_wrong_side():
    ds = make("circle", n=1000, noise=0.5)
    wrong = np.count_nonzero(ds.y != (radius(ds) < 3.0))
    assert 50 < wrong < 500


def test_xor_without_noise_follows_the_sign_of_the_product():
    ds = make("xor", n=1000)
    assert np.array_equal(ds.y, (ds.x[:, 0] * ds.x[:, 1] >= 0).astype(np.int64))
    assert np.all(np.abs(ds.x) >= 0.3)
    assert np.all(np.abs(ds.x) <= 5.3)


def test_xor_noise_flips_some_labels():
    ds = make("xor", n=1000, noise=0.5)
    wrong = np.count_nonzero(ds.y != (ds.x[:, 0] * ds.x[:, 1] >= 0))
    assert 20 < wrong < 500


def test_gauss_centres_and_spread_grow_with_noise():
    stds = []
    for noise in (0.0, 0.25, 0.5):
        ds = make("gauss", n=4000, noise=noise)
        # Redrawing points outside the plane pulls wide clouds slightly towards the middle.
        tolerance = 0.25 if noise == 0.5 else 0.12
        np.testing.assert_allclose(ds.x[ds.y == 1].mean(axis=0), [2.0, 2.0], atol=tolerance)
        np.testing.assert_allclose(ds.x[ds.y == 0].mean(axis=0), [-2.0, -2.0], atol=tolerance)
        stds.append(ds.x[ds.y == 1].std())
    # Variance 0.5 at noise 0, so std sqrt(0.5); the others are truncated at the border.
    assert stds[0] == pytest.approx(math.sqrt(0.5), rel=0.05)
    assert stds[0] < stds[1] < stds[2]
    assert stds[1] == pytest.approx(math.sqrt(2.25), rel=0.08)


@pytest.mark.parametrize(
    ("k", "deltas"),
    [
        (2, {1: 0.0, 0: math.pi}),  # TensorFlow Playground: positive arm at 0, negative at pi
        (3, {2: 0.0, 0: 2 * math.pi / 3, 1: 4 * math.pi / 3}),
    ],
)
def test_spiral_without_noise_lies_exactly_on_its_arms(k, deltas):
    ds = make("spiral", n=300, k=k)
    r = radius(ds)
    t = 1.75 * 2 * math.pi * r / 5.0 + np.array([deltas[c] for c in ds.y])
    np.testing.assert_allclose(ds.x[:, 0], r * np.sin(t), atol=1e-12)
    np.testing.assert_allclose(ds.x[:, 1], r * np.cos(t), atol=1e-12)
    # Radii are i/m * 5 for i = 0..m-1, m points per arm.
    m = 300 // k
    np.testing.assert_allclose(np.sort(r[ds.y == 0]), np.arange(m) / m * 5.0, atol=1e-12)


def test_spiral_noise_moves_points_off_the_arms_by_at_most_noise():
    clean = make("spiral", n=300, noise=0.0)
    noisy = make("spiral", n=300, noise=0.4)
    assert np.max(np.abs(noisy.x)) > np.max(np.abs(clean.x))
    assert np.max(radius(noisy)) <= 5.0 + 0.4 * math.sqrt(2)


def test_reg_plane_without_noise_is_the_scaled_sum():
    ds = make("reg_plane", n=500)
    np.testing.assert_array_equal(ds.y, np.clip((ds.x[:, 0] + ds.x[:, 1]) / 10.0, -1, 1))
    noisy = make("reg_plane", n=500, noise=0.5)
    assert not np.allclose(noisy.y, np.clip(noisy.x.sum(axis=1) / 10.0, -1, 1))


def _reg_gauss_target(px: float, py: float) -> float:
    """TensorFlow Playground's rule, written point by point."""
    label = 0.0
    for cx, cy, sign in [
        (-4, 2.5, 1),
        (0, 2.5, -1),
        (4, 2.5, 1),
        (-4, -2.5, -1),
        (0, -2.5, 1),
        (4, -2.5, -1),
    ]:
        d = math.hypot(px - cx, py - cy)
        new = sign * min(max(1 - d / 2, 0.0), 1.0)
        if abs(new) > abs(label):
            label = new
    return label


def test_reg_gauss_without_noise_follows_the_six_cones():
    ds = make("reg_gauss", n=300)
    expected = [_reg_gauss_target(px, py) for px, py in ds.x]
    np.testing.assert_allclose(ds.y, expected, atol=1e-12)
    assert ds.y.max() > 0.5 and ds.y.min() < -0.5


def test_checkerboard_without_noise_alternates_cells():
    ds = make("checkerboard", n=1000)
    cells = np.floor((ds.x + 6.0) / 3.0).astype(int)
    assert np.array_equal(ds.y, (cells[:, 0] + cells[:, 1]) % 2)
    noisy = make("checkerboard", n=1000, noise=0.5)
    cells = np.floor((noisy.x + 6.0) / 3.0).astype(int)
    assert np.count_nonzero(noisy.y != (cells[:, 0] + cells[:, 1]) % 2) > 50


def test_moons_without_noise_lie_on_two_half_circles():
    ds = make("moons", n=200)
    raw = ds.x / 3.3 + [0.5, 0.25]
    outer, inner = raw[ds.y == 0], raw[ds.y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0, atol=1e-12)
    assert np.all(outer[:, 1] >= -1e-12) and np.all(inner[:, 1] <= 0.5 + 1e-12)


def test_blobs_centres_sit_on_a_circle_and_spread_with_noise():
    ds = make("blobs", n=2000, k=5)
    means = np.array([ds.x[ds.y == c].mean(axis=0) for c in range(5)])
    np.testing.assert_allclose(np.hypot(means[:, 0], means[:, 1]), 3.5, atol=0.1)
    spread = []
    for noise in (0.0, 0.3):
        blobs = make("blobs", n=2000, k=5, noise=noise)
        spread.append(blobs.x[blobs.y == 0].std(axis=0).mean())
    assert spread[0] == pytest.approx(0.4, rel=0.1)
    assert spread[1] == pytest.approx(0.82, rel=0.1)


def test_gaussian_quantiles_without_noise_are_nested_shells():
    ds = make("gaussian_quantiles", n=600, k=4)
    r = radius(ds)
    for c in range(3):
        assert r[ds.y == c].max() <= r[ds.y == c + 1].min()
    noisy = make("gaussian_quantiles", n=600, k=4, noise=0.5)
    r = radius(noisy)
    assert r[noisy.y == 0].max() > r[noisy.y == 1].min()


def test_classification_is_scaled_to_reach_five():
    ds = make("classification", n=300, k=3)
    assert np.max(np.abs(ds.x)) == pytest.approx(5.0)
    np.testing.assert_allclose(ds.x.mean(axis=0), 0.0, atol=1e-12)


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "spirals"}, r"unknown dataset 'spirals'; expected one of: circle, xor"),
        ({"n_samples": 1}, r"n_samples must be an integer in \[2, 10000\], got 1"),
        ({"n_samples": MAX_SAMPLES + 1}, r"n_samples must be an integer in \[2, 10000\]"),
        ({"n_samples": 2.5}, r"n_samples must be an integer in \[2, 10000\], got 2.5"),
        ({"noise": -0.1}, r"noise must be a number in \[0, 1\], got -0.1"),
        ({"noise": 1.5}, r"noise must be a number in \[0, 1\], got 1.5"),
        ({"noise": float("nan")}, r"noise must be a number in \[0, 1\], got nan"),
        ({"noise": "0.1"}, r"noise must be a number in \[0, 1\]"),
        ({"n_classes": 3}, r"n_classes must be 2: 'circle' has exactly two classes, got 3"),
        ({"seed": -1}, r"seed must be an integer in \[0, 4294967295\], got -1"),
        ({"seed": True}, r"seed must be an integer"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, message):
    args = {"name": "circle", "n_samples": 100, "noise": 0.0, "n_classes": 2, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_dataset(**args)


@pytest.mark.parametrize(
    ("name", "k", "message"),
    [
        ("spiral", 9, r"n_classes must be an integer in \[2, 8\] for 'spiral', got 9"),
        ("blobs", 1, r"n_classes must be an integer in \[2, 8\] for 'blobs', got 1"),
        ("classification", 5, r"\[2, 4\] for 'classification', got 5"),
        ("moons", 3, r"'moons' has exactly two classes"),
        ("reg_gauss", 3, r"n_classes for regression dataset 'reg_gauss' must be 0 or 2"),
    ],
)
def test_bad_class_counts_name_the_dataset(name, k, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(name, n_samples=100, n_classes=k)


def test_too_few_samples_for_the_classes():
    with pytest.raises(ValueError, match=r"n_samples \(3\) must be at least n_classes \(4\)"):
        make_dataset("spiral", n_samples=3, n_classes=4)


def test_regression_accepts_zero_classes():
    a = make_dataset("reg_plane", n_samples=50, n_classes=0)
    b = make_dataset("reg_plane", n_samples=50, n_classes=2)
    assert np.array_equal(a.y, b.y)


# ------------------------------------------------------------------------ train/test split


def _labelled(sizes: list[int]) -> Dataset:
    """A dataset whose x1 is the point's index, so points can be told apart."""
    y = np.repeat(np.arange(len(sizes)), sizes)
    x = np.column_stack([np.arange(y.size, dtype=float), np.zeros(y.size)])
    return Dataset(x=x, y=y, task="classification", n_classes=len(sizes), name="t")


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 60), min_size=2, max_size=MAX_CLASSES),
    fraction=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_split_keeps_proportions_and_partitions(sizes, fraction, seed):
    ds = _labelled(sizes)
    train, test = train_test_split(ds, fraction, seed)
    ids_train, ids_test = train.x[:, 0], test.x[:, 0]
    assert np.intersect1d(ids_train, ids_test).size == 0
    assert np.array_equal(np.sort(np.concatenate([ids_train, ids_test])), ds.x[:, 0])
    assert np.array_equal(train.y, ds.y[ids_train.astype(int)])
    assert np.array_equal(test.y, ds.y[ids_test.astype(int)])
    assert train.n_samples >= 1
    test_counts = np.bincount(test.y, minlength=len(sizes))
    train_counts = np.bincount(train.y, minlength=len(sizes))
    for size, n_test, n_train in zip(sizes, test_counts, train_counts, strict=True):
        assert abs(n_test - fraction * size) <= 1.0
        if size >= 2 and fraction > 0:
            assert n_test >= 1 and n_train >= 1
        if size == 1:
            assert n_train == 1


def test_split_total_matches_the_fraction_when_classes_are_large():
    ds = make("spiral", n=1000, k=3)
    train, test = train_test_split(ds, 0.3, seed=0)
    assert test.n_samples == 300 and train.n_samples == 700
    assert np.bincount(test.y).tolist() == [100, 100, 100]
    assert test.n_classes == 3 and test.task == "classification" and test.name == "spiral"


def test_split_is_deterministic_by_seed():
    ds = make("circle", n=200)
    a_train, a_test = train_test_split(ds, 0.25, seed=3)
    b_train, b_test = train_test_split(ds, 0.25, seed=3)
    c_train, c_test = train_test_split(ds, 0.25, seed=4)
    assert np.array_equal(a_test.x, b_test.x) and np.array_equal(a_train.y, b_train.y)
    assert not np.array_equal(a_test.x, c_test.x)


def test_split_parts_are_shuffled_across_classes():
    ds = _labelled([100, 100])
    train, test = train_test_split(ds, 0.5, seed=1)
    assert np.count_nonzero(np.diff(test.y)) > 10
    assert np.count_nonzero(np.diff(train.y)) > 10


@pytest.mark.parametrize("name", ["circle", "reg_gauss"])
def test_zero_test_fraction_gives_an_empty_test_set(name):
    ds = make(name, n=50)
    train, test = train_test_split(ds, 0.0, seed=0)
    assert test.x.shape == (0, 2) and test.y.shape == (0,)
    assert test.y.dtype == ds.y.dtype
    assert train.n_samples == 50
    assert sorted(map(tuple, train.x)) == sorted(map(tuple, ds.x))


def test_regression_split_is_a_plain_shuffle():
    ds = make("reg_plane", n=101)
    train, test = train_test_split(ds, 0.2, seed=5)
    assert (train.n_samples, test.n_samples) == (81, 20)
    assert train.task == "regression" and train.n_classes == 0
    both = np.concatenate([train.x, test.x])
    assert sorted(map(tuple, both)) == sorted(map(tuple, ds.x))
    lookup = {tuple(p): v for p, v in zip(ds.x, ds.y, strict=True)}
    assert all(lookup[tuple(p)] == v for p, v in zip(test.x, test.y, strict=True))


def test_tiny_regression_split_keeps_a_training_point():
    ds = make("reg_plane", n=2)
    train, test = train_test_split(ds, 0.9, seed=0)
    assert (train.n_samples, test.n_samples) == (1, 1)


@pytest.mark.parametrize("fraction", [-0.1, 0.95, float("nan"), True, "0.2"])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \[0, 0.9\]"):
        train_test_split(make("xor", n=20), fraction, seed=0)


def test_split_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed must be an integer"):
        train_test_split(make("xor", n=20), 0.2, seed=-5)
