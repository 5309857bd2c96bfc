"""Backpropagation against central finite differences, in float64.

Every activation x every head x 1 to 3 hidden layers. Each of those 132 networks is
checked in four of the eight on/off variants of (batch norm, L1/L2, dropout): a half
fraction of the 2^3 design (an even number of switches on, or an odd number, alternating
from one depth to the next). Within each half every pair of switches takes all four
on/off combinations, and across the three depths every activation and head meets all
eight, at half the cost of the full product. Dropout uses fixed masks, so the loss is a
deterministic function of the parameters.

Entries whose perturbation moves a hidden unit across the kink of a ReLU-like activation
are skipped; weights are kept away from 0, where L1 has its kink.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from playground.engine import ACTIVATIONS, HEADS, Network

from .helpers import KINKED, build, labels_for, reference_training_pass

EPS = 1e-6
RTOL = 1e-6
#: Gradients smaller than this (times the loss, when the loss is above 1) are compared
#: absolutely: the central difference itself carries a rounding error of about
#: 1e-16 * loss / EPS.
FLOOR = 2e-3
BATCH = 5
MAX_CHECKED = 40

CASES = [
    (activation, head, depth, *switches)
    for k, (activation, head, depth) in enumerate(itertools.product(ACTIVATIONS, HEADS, (1, 2, 3)))
    for switches in itertools.product((False, True), repeat=3)
    if sum(switches) % 2 == k % 2
]


def _case_id(case):
    activation, head, depth, bn, reg, dropout = case
    return (f"{activation}-{head}-d{depth}" + ("-bn" if bn else "") + ("-l1l2" if reg else "")
            + ("-dropout" if dropout else ""))


def _prepare(activation, head, depth, bn, reg, dropout):
    seed = zlib.crc32(_case_id((activation, head, depth, bn, reg, dropout)).encode())
    rng = np.random.default_rng(seed)
    net = build(activation, head, depth, width=3, batch_norm=bn,
                dropout=0.3 if dropout else 0.0, seed=seed)
    for layer in net.layers:
        # Away from 0 (the L1 kink), and big enough that the loss is not flat.
        w = layer.W
        w[...] = np.sign(w) * np.maximum(np.abs(w), 0.1)
        layer.b[...] = rng.normal(0.0, 0.3, size=layer.units)
        if layer.slope is not None:
            layer.slope[...] = rng.uniform(0.05, 0.5, size=layer.units)
        if layer.gamma is not None:
            layer.gamma[...] = rng.uniform(0.5, 1.5, size=layer.units)
            layer.beta[...] = rng.normal(0.0, 0.3, size=layer.units)
    x = rng.normal(size=(BATCH, 2))
    y = labels_for(head, BATCH, rng)
    masks = None
    if dropout:
        masks = [(rng.random((BATCH, layer.units)) < 0.7) / 0.7 for layer in net.hidden_layers]
        for m in masks:  # keep at least one unit per row so no layer is cut off entirely
            m[:, 0] = 1 / 0.7
    l1, l2 = (0.01, 0.03) if reg else (0.0, 0.0)
    return net, x, y, masks, l1, l2, rng


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_backprop_matches_finite_differences(case):
    activation, head, depth, bn, reg, dropout = case
    net, x, y, masks, l1, l2, rng = _prepare(*case)
    x_aug, t = Network.augment(x), net.encode_targets(y)

    def total_loss():
        loss, penalty = net.loss_and_grad(x_aug, t, masks=masks, l1=l1, l2=l2)
        return loss + penalty

    def kink_sides():
        if activation not in KINKED:
            return []
        return [h > 0 for h in reference_training_pass(net, x, y, masks)[2]]

    loss, penalty = net.loss_and_grad(x_aug, t, masks=masks, l1=l1, l2=l2)
    analytic = net.grad.copy()
    # The returned values are the loss the gradient belongs to.
    ref_loss, ref_penalty, _ = reference_training_pass(net, x, y, masks, l1, l2)
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-14)
    assert penalty == pytest.approx(ref_penalty, rel=1e-12, abs=1e-14)

    n = net.n_params
    indices = np.arange(n) if n <= MAX_CHECKED else rng.choice(n, MAX_CHECKED, replace=False)
    checked = 0
    for i in indices:
        original = net.params[i]
        net.params[i] = original + EPS
        up, up_sides = total_loss(), kink_sides()
        net.params[i] = original - EPS
        down, down_sides = total_loss(), kink_sides()
        net.params[i] = original
        if any(np.any(u != d) for u, d in zip(up_sides, down_sides)):
            continue
        numeric = (up - down) / (2 * EPS)
        scale = max(abs(numeric), abs(analytic[i]), FLOOR * max(1.0, loss + penalty))
        assert abs(numeric - analytic[i]) <= RTOL * scale, (
            f"parameter {i}: backprop {analytic[i]!r}, finite differences {numeric!r}")
        checked += 1
    assert checked >= 0.9 * len(indices)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_is_nonzero_somewhere(activation):
    """Guards the check above against passing on an all-zero gradient."""
    net, x, y, masks, l1, l2, _ = _prepare(activation, "softmax", 2, False, False, False)
    net.loss_and_grad(Network.augment(x), net.encode_targets(y))
    for layer in net.layers:
        assert np.abs(layer.gW).max() > 1e-6, layer.name
