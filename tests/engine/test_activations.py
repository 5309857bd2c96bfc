"""Activation values against their definitions, derivatives against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from playground.engine import ACTIVATIONS, DEFAULT_ALPHA, activations

from .helpers import KINKED, REFERENCE, SELU_ALPHA, SELU_LAMBDA


def values(low: float, high: float, max_size: int = 20):
    return arrays(np.float64, st.integers(1, max_size),
                  elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


# Scalar formulas from the textbook definitions, evaluated with the math module.
def _math_sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


SCALAR = {
    "linear": lambda z: z,
    "sigmoid": _math_sigmoid,
    "tanh": math.tanh,
    "relu": lambda z: max(z, 0.0),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "prelu": lambda z: z if z > 0 else 0.25 * z,
    "elu": lambda z: z if z > 0 else math.expm1(z),
    "selu": lambda z: SELU_LAMBDA * (z if z > 0 else SELU_ALPHA * math.expm1(z)),
    "swish": lambda z: z * _math_sigmoid(z),
    "gelu": lambda z: 0.5 * z * (1 + math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))),
    "softplus": lambda z: max(z, 0.0) + math.log1p(math.exp(-abs(z))),
}


def test_every_activation_has_a_reference():
    assert set(SCALAR) == set(ACTIVATIONS) == set(REFERENCE)


#: Few examples per activation: eleven activations times several properties add up.
FEW = settings(max_examples=25, deadline=None)


@pytest.mark.parametrize("name", ACTIVATIONS)
@FEW
@given(z=values(-40.0, 40.0))
def test_value_matches_the_definition(name, z):
    got = activations.apply(name, z)
    expected = np.array([SCALAR[name](float(v)) for v in z])
    # The engine's sigmoid, 0.5 (1 + tanh(z / 2)), is exact to ~1e-16 absolutely but not
    # relatively far out on the left tail; swish multiplies that error by |z|.
    error = np.abs(got - expected)
    assert np.all(error <= 1e-12 * np.abs(expected) + 2e-16 * (1.0 + np.abs(z))), (
        z, got, expected)


@pytest.mark.parametrize("name", ACTIVATIONS)
@FEW
@given(z=values(-20.0, 20.0))
def test_derivative_matches_finite_differences(name, z):
    if name in KINKED:
        z = np.where(np.abs(z) < 1e-3, 0.5, z)  # step off the kink at 0
    h = 1e-6
    numeric = (activations.apply(name, z + h) - activations.apply(name, z - h)) / (2 * h)
    np.testing.assert_allclose(activations.derivative(name, z), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("name", "alpha"), [("leaky_relu", 0.2), ("prelu", 0.7), ("elu", 0.5)])
@FEW
@given(z=values(-10.0, 10.0))
def test_alpha_is_used(name, alpha, z):
    z = np.where(np.abs(z) < 1e-3, -0.5, z)
    np.testing.assert_allclose(activations.apply(name, z, alpha),
                               REFERENCE[name](z, alpha), rtol=1e-13, atol=1e-15)
    h = 1e-6
    up, down = activations.apply(name, z + h, alpha), activations.apply(name, z - h, alpha)
    numeric = (up - down) / (2 * h)
    np.testing.assert_allclose(activations.derivative(name, z, alpha), numeric,
                               rtol=1e-6, atol=1e-8)


def test_prelu_takes_one_slope_per_unit():
    z = np.array([[-1.0, -2.0, 3.0], [2.0, -4.0, -1.0]])
    slopes = np.array([0.1, 0.2, 0.3])
    np.testing.assert_array_equal(activations.apply("prelu", z, slopes),
                                  [[-0.1, -0.4, 3.0], [2.0, -0.8, -0.3]])
    np.testing.assert_array_equal(activations.derivative("prelu", z, slopes),
                                  [[0.1, 0.2, 1.0], [1.0, 0.2, 0.3]])


def test_default_alphas():
    assert DEFAULT_ALPHA == {"leaky_relu": 0.01, "prelu": 0.25, "elu": 1.0}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_extreme_inputs_stay_finite_and_quiet(name):
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        f, d = activations.apply(name, z), activations.derivative(name, z)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(d))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_input_is_left_alone(name):
    z = np.linspace(-3, 3, 7)
    before = z.copy()
    activations.apply(name, z)
    activations.derivative(name, z)
    np.testing.assert_array_equal(z, before)


def test_relu_derivative_is_zero_at_and_below_zero():
    np.testing.assert_array_equal(activations.derivative("relu", np.array([-1.0, 0.0, 1e-300])),
                                  [0.0, 0.0, 1.0])


@given(z=arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(2, 5)),
                elements=st.floats(-50, 50)),
       shift=st.floats(-100, 100))
def test_softmax_rows_are_distributions_and_shift_invariant(z, shift):
    p = activations.softmax(z)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(activations.softmax(z + shift), p, rtol=1e-9, atol=1e-12)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-300)


def test_softmax_of_huge_logits_does_not_overflow():
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        p = activations.softmax(np.array([[1000.0, 0.0, -1000.0], [5e3, 5e3, 5e3]]))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)


@FEW
@given(z=values(-30.0, 30.0))
def test_sigmoid_is_symmetric(z):
    s = activations.apply("sigmoid", z)
    np.testing.assert_allclose(s + activations.apply("sigmoid", -z), 1.0, atol=1e-15)


@pytest.mark.parametrize("call", [activations.apply, activations.derivative])
def test_unknown_activation_lists_the_known_ones(call):
    with pytest.raises(ValueError, match="activation") as info:
        call("mish", np.zeros(3))
    message = str(info.value)
    assert "'mish'" in message
    assert all(name in message for name in ACTIVATIONS)
