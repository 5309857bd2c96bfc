"""Tests for input features, the standardizer and the decision-boundary grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from playground.data.features import (
    FEATURE_NAMES,
    Standardizer,
    check_feature_names,
    compute_features,
    make_grid,
)

POINTS = np.array([[0.0, 0.0], [1.5, -2.0], [-3.0, 0.5], [math.pi / 2, 6.0]])

# Each feature written out by hand for one point (a, b).
FORMULAS = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b,
    "sin(x1)": lambda a, b: math.sin(a),
    "sin(x2)": lambda a, b: math.sin(b),
}


def test_every_feature_has_a_formula():
    assert set(FORMULAS) == set(FEATURE_NAMES)


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_each_feature_matches_its_formula(name):
    got = compute_features(POINTS, [name])
    assert got.shape == (4, 1)
    expected = [FORMULAS[name](a, b) for a, b in POINTS]
    np.testing.assert_allclose(got[:, 0], expected, rtol=0, atol=1e-15)


def test_hand_worked_values():
    got = compute_features(np.array([[1.5, -2.0]]), ["x1^2", "x1*x2", "x2^2"])
    np.testing.assert_array_equal(got, [[2.25, -3.0, 4.0]])


def test_columns_follow_the_order_given():
    got = compute_features(POINTS, ["sin(x2)", "x1", "x1*x2"])
    np.testing.assert_allclose(got[:, 0], np.sin(POINTS[:, 1]))
    np.testing.assert_array_equal(got[:, 1], POINTS[:, 0])
    np.testing.assert_array_equal(got[:, 2], POINTS[:, 0] * POINTS[:, 1])


def test_output_is_float64_c_contiguous_even_from_odd_input():
    x = np.asfortranarray(np.array([[1, 2], [3, 4], [5, 6]]))  # ints, column-major
    got = compute_features(x, FEATURE_NAMES)
    assert got.shape == (3, 7)
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_array_equal(got[:, 4], [2.0, 12.0, 30.0])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.just(2)), elements=st.floats(-6, 6)))
def test_all_features_agree_with_numpy_expressions(x):
    got = compute_features(x, FEATURE_NAMES)
    a, b = x[:, 0], x[:, 1]
    expected = np.column_stack([a, b, a**2, b**2, a * b, np.sin(a), np.sin(b)])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], r"at least one feature is needed; choose from: x1, x2, x1\^2"),
        (["x1", "x3"], r"unknown feature 'x3'; allowed: x1, x2, x1\^2, x2\^2, x1\*x2, sin"),
        (["x1", "x1"], r"feature 'x1' is listed twice"),
        ("x1", r"features must be a sequence of names"),
    ],
)
def test_bad_feature_lists_are_rejected(names, message):
    with pytest.raises(ValueError, match=message):
        compute_features(POINTS, names)
    with pytest.raises(ValueError, match=message):
        check_feature_names(names)


def test_bad_point_shape_is_rejected():
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\), got \(4, 3\)"):
        compute_features(np.zeros((4, 3)), ["x1"])


def test_check_feature_names_returns_a_tuple():
    assert check_feature_names(["x2", "x1"]) == ("x2", "x1")


# ------------------------------------------------------------------------- standardizer


def test_standardizer_fits_on_training_features_only():
    rng = np.random.default_rng(0)
    train = rng.normal([3.0, -1.0], [2.0, 0.5], (200, 2))
    test = rng.normal(0.0, 1.0, (50, 2))
    s = Standardizer.fit(train)
    z = s.transform(train)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) / train.std(0))


def test_standardizer_hand_worked():
    s = Standardizer.fit(np.array([[1.0, 10.0], [3.0, 10.0]]))
    np.testing.assert_array_equal(s.mean, [2.0, 10.0])
    np.testing.assert_array_equal(s.std, [1.0, 1.0])  # second column is constant
    np.testing.assert_array_equal(s.transform(np.array([[5.0, 12.0]])), [[3.0, 2.0]])


def test_constant_column_is_safe():
    f = np.column_stack([np.linspace(0, 1, 7), np.full(7, 0.1)])
    s = Standardizer.fit(f)
    assert s.std[1] == 1.0
    z = s.transform(f)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z[:, 1], 0.0, atol=1e-15)


def test_standardizer_output_and_immutability():
    s = Standardizer.fit(np.arange(12.0).reshape(4, 3))
    z = s.transform(np.ones((5, 3), dtype=np.float32))
    assert z.dtype == np.float64 and z.flags.c_contiguous and z.shape == (5, 3)
    with pytest.raises(ValueError):
        s.mean[0] = 1.0


def test_standardizer_errors():
    with pytest.raises(ValueError, match=r"cannot fit on features of shape \(0, 2\)"):
        Standardizer.fit(np.zeros((0, 2)))
    s = Standardizer.fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"expected features of shape \(n, 2\), got \(3, 3\)"):
        s.transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="std finite and positive"):
        Standardizer(mean=np.zeros(2), std=np.array([1.0, 0.0]))


# --------------------------------------------------------------------------------- grid


def test_grid_orientation_row_zero_is_the_bottom():
    n, e = 5, 6.0
    g = make_grid(n, e)
    assert g.shape == (25, 2) and g.dtype == np.float64 and g.flags.c_contiguous
    np.testing.assert_array_equal(g[0], [-6.0, -6.0])  # bottom-left
    np.testing.assert_array_equal(g[n - 1], [6.0, -6.0])  # bottom-right: x grows along a row
    np.testing.assert_array_equal(g[n], [-6.0, -3.0])  # row 1 is one step higher
    np.testing.assert_array_equal(g[-1], [6.0, 6.0])  # top-right
    v = np.linspace(-e, e, n)
    image = g.reshape(n, n, 2)
    for i in range(n):
        for j in range(n):
            assert tuple(image[i, j]) == (v[j], v[i])


def test_default_grid_is_200_by_200_over_the_plane():
    g = make_grid()
    assert g.shape == (40_000, 2)
    assert g.min() == -6.0 and g.max() == 6.0
    assert compute_features(g, FEATURE_NAMES).shape == (40_000, 7)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1,), "n must be an integer >= 2"),
        ((2.5,), "n must be an integer >= 2"),
        ((10, 0.0), "extent must be a positive"),
        ((10, float("inf")), "extent must be a positive"),
    ],
)
def test_grid_errors(args, message):
    with pytest.raises(ValueError, match=message):
        make_grid(*args)
