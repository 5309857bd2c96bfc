"""One SGD step of a 2-2-1 network, worked out by hand.

Network: 2 inputs -> 2 tanh units -> 1 linear output (half squared error).
Weights (rows = inputs, columns = units) and biases:

    W1 = [[0.5, -0.5],      b1 = [0.0, 0.25]
          [1.0,  0.25]]
    W2 = [[ 1.0],           b2 = [0.5]
          [-2.0]]

Batch of two samples, picked so that each one "selects" a row of W1:

    A: x = (1, 0), y = 1
    B: x = (0, 1), y = 0

Learning rate 0.1, plain SGD, no regularization. Values of tanh to 18 digits:

    tanh(0.5)   = 0.462117157260009759
    tanh(-0.25) = -0.244918662403709129
    tanh(1)     = 0.761594155955764888
"""

from __future__ import annotations

import numpy as np
import pytest

from playground.engine import LayerSpec, Network, NetworkSpec, Trainer, make_optimizer


def _network():
    net = Network(NetworkSpec(2, (LayerSpec(2, "tanh"),), 1, "linear"), np.random.default_rng(0))
    hidden, out = net.layers
    hidden.W[...] = [[0.5, -0.5], [1.0, 0.25]]
    hidden.b[...] = [0.0, 0.25]
    out.W[...] = [[1.0], [-2.0]]
    out.b[...] = [0.5]
    return net


X = np.array([[1.0, 0.0], [0.0, 1.0]])
Y = np.array([1.0, 0.0])

# Forward.
#   hidden pre-activations z = x W1 + b1
#     A: (0.5 + 0, -0.5 + 0.25) = (0.5, -0.25)
#     B: (1.0 + 0,  0.25 + 0.25) = (1.0, 0.5)
#   hidden activations a = tanh(z)
#     A: (0.462117157260009759, -0.244918662403709129)
#     B: (0.761594155955764888,  0.462117157260009759)
#   output o = a W2 + b2
#     A: 0.462117157260009759 * 1 + (-0.244918662403709129) * (-2) + 0.5
#        = 0.462117157260009759 + 0.489837324807418259 + 0.5 = 1.451954482067428017
#     B: 0.761594155955764888 - 2 * 0.462117157260009759 + 0.5
#        = 0.761594155955764888 - 0.924234314520019517 + 0.5 = 0.337359841435745371
#   errors e = o - y: A 0.451954482067428017, B 0.337359841435745371
#   loss = 0.5 * (eA^2 + eB^2) / 2
#        = 0.25 * (0.204262853860837113 + 0.113811662613551259) = 0.079518629118597093
LOSS = 0.079518629118597093

# Backward.
#   output delta d = e / n (n = 2): dA = 0.225977241033714009, dB = 0.168679920717872686
#   gW2 = a^T d:
#     row 1: 0.462117157260009759 * dA + 0.761594155955764888 * dB
#            = 0.104427960231959947 + 0.128465641845813587 = 0.232893602077773534
#     row 2: -0.244918662403709129 * dA + 0.462117157260009759 * dB
#            = -0.055346043607657807 + 0.077949885448987150 = 0.022603841841329343
#   gb2 = dA + dB = 0.394657161751586694
#   back into the hidden layer, da = d W2^T:
#     A: (dA * 1, dA * -2) = (0.225977241033714009, -0.451954482067428017)
#     B: (dB * 1, dB * -2) = (0.168679920717872686, -0.337359841435745371)
#   tanh'(z) = 1 - a^2:
#     A: (1 - 0.213552267034072590, 1 - 0.059985151193622044)
#        = (0.786447732965927410, 0.940014848806377956)
#     B: (1 - 0.580025658385973931, 1 - 0.213552267034072590)
#        = (0.419974341614026069, 0.786447732965927410)
#   hidden delta dh = da * (1 - a^2):
#     A: (0.225977241033714009 * 0.786447732965927410, -0.451954482067428017 * 0.940014848806377956)
#        = (0.177719288912859329, -0.424843924127978205)
#     B: (0.168679920717872686 * 0.419974341614026069, -0.337359841435745371 * 0.786447732965927410)
#        = (0.070841238646994697, -0.265315882490886689)
#   gW1 = x^T dh: x_A = (1, 0) and x_B = (0, 1), so row 1 is dh_A and row 2 is dh_B.
#   gb1 = dh_A + dh_B = (0.248560527559854025, -0.690159806618864894)
GRAD_W1 = [[0.177719288912859329, -0.424843924127978205],
           [0.070841238646994697, -0.265315882490886689]]
GRAD_B1 = [0.248560527559854025, -0.690159806618864894]
GRAD_W2 = [[0.232893602077773534], [0.022603841841329343]]
GRAD_B2 = [0.394657161751586694]

# Step: parameter -= 0.1 * gradient.
#   W1: [[0.5 - 0.0177719288912859329, -0.5 + 0.0424843924127978205],
#        [1.0 - 0.0070841238646994697,  0.25 + 0.0265315882490886689]]
#   b1: [0.0 - 0.0248560527559854025, 0.25 + 0.0690159806618864894]
#   W2: [[1.0 - 0.0232893602077773534], [-2.0 - 0.0022603841841329343]]
#   b2: [0.5 - 0.0394657161751586694]
NEW_W1 = [[0.482228071108714067, -0.457515607587202180],
          [0.992915876135300530, 0.276531588249088669]]
NEW_B1 = [-0.024856052755985403, 0.319015980661886489]
NEW_W2 = [[0.976710639792222647], [-2.002260384184132934]]
NEW_B2 = [0.460534283824841331]


def test_loss_and_gradients_by_hand():
    net = _network()
    loss, penalty = net.loss_and_grad(Network.augment(X), net.encode_targets(Y))
    assert loss == pytest.approx(LOSS, abs=1e-15)
    assert penalty == 0.0
    hidden, out = net.layers
    np.testing.assert_allclose(hidden.gW, GRAD_W1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(hidden.gb, GRAD_B1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out.gW, GRAD_W2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out.gb, GRAD_B2, rtol=0, atol=1e-15)


def test_one_sgd_step_by_hand():
    net = _network()
    trainer = Trainer(net, make_optimizer("sgd", net.n_params), X, Y, X, Y,
                      learning_rate=0.1, batch_size=2, shuffle=False, eval_every=None)
    log = trainer.run(1).log
    assert log.loss[0] == pytest.approx(LOSS, abs=1e-15)
    hidden, out = net.layers
    np.testing.assert_allclose(hidden.W, NEW_W1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(hidden.b, NEW_B1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out.W, NEW_W2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out.b, NEW_B2, rtol=0, atol=1e-15)
    # The update row holds the step that was taken.
    np.testing.assert_allclose(net.update[out.weight_slice], -0.1 * np.ravel(GRAD_W2),
                               rtol=0, atol=1e-16)
