"""Training and activations against PyTorch in float64.

The same initial weights go into an ``nn.Sequential`` of ``Linear`` layers (torch keeps
``W.T``), both sides see the same batches in the same order and minimise the same mean
loss, and after 200 steps every weight must agree to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest

from playground.engine import (
    LayerSpec,
    Network,
    NetworkSpec,
    Trainer,
    activations,
    make_optimizer,
)

from .helpers import build, labels_for

torch = pytest.importorskip("torch")
F = torch.nn.functional

STEPS = 200
N_TRAIN, BATCH = 64, 16  # four batches an epoch, in order


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _torch_model(net: Network, with_activations: bool = True):
    modules = []
    for layer in net.layers:
        linear = torch.nn.Linear(layer.fan_in, layer.units, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.b.copy()))
        modules.append(linear)
        if with_activations and not layer.is_output:
            modules.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[layer.activation]())
    return torch.nn.Sequential(*modules)


# (our name, our hyper-parameters, learning rate, torch factory)
OPTIMIZERS = {
    "adam": ("adam", {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-7}, 0.01,
             lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.8, 0.99), eps=1e-7)),
    "adamw": ("adamw", {"weight_decay": 0.05}, 0.01,
              lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.05, eps=1e-8)),
    "rmsprop": ("rmsprop", {"rho": 0.95, "epsilon": 1e-6}, 0.003,
                lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.95, eps=1e-6)),
    "rmsprop-momentum": ("rmsprop", {"rho": 0.9, "momentum": 0.5}, 0.002,
                         lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-8,
                                                           momentum=0.5)),
    "adagrad": ("adagrad", {"epsilon": 1e-10}, 0.05,
                lambda p, lr: torch.optim.Adagrad(p, lr=lr, eps=1e-10, lr_decay=0,
                                                  initial_accumulator_value=0)),
    "sgd-momentum": ("sgd", {"momentum": 0.9}, 0.02,
                     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, dampening=0)),
    "sgd-nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, 0.02,
                     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
}

NETWORKS = {
    # name: (hidden widths, activation, head, n_outputs, torch loss)
    "2-16-16-3-relu-softmax": ((16, 16), "relu", "softmax", 3,
                               lambda z, y: F.cross_entropy(z, y)),
    "2-8-8-1-tanh-sigmoid": ((8, 8), "tanh", "sigmoid", 1,
                             lambda z, y: F.binary_cross_entropy_with_logits(z[:, 0], y)),
}


def _data(head):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(N_TRAIN, 2))
    if head == "softmax":
        y = (np.floor(np.arctan2(x[:, 1], x[:, 0]) / (2 * np.pi / 3)) % 3).astype(np.int64)
    else:
        y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x, y


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("network", list(NETWORKS))
def test_training_matches_torch(network, optimizer):
    widths, activation, head, n_out, torch_loss = NETWORKS[network]
    name, hyper, lr, torch_optimizer = OPTIMIZERS[optimizer]
    spec = NetworkSpec(2, tuple(LayerSpec(w, activation) for w in widths), n_out, head)
    net = Network(spec, np.random.default_rng(5))
    start = [layer.W.copy() for layer in net.layers]
    x, y = _data(head)

    model = _torch_model(net)
    opt = torch_optimizer(model.parameters(), lr)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y) if head == "softmax" else torch.from_numpy(y.astype(np.float64))
    torch_losses = []
    for step in range(STEPS):
        rows = slice((step * BATCH) % N_TRAIN, (step * BATCH) % N_TRAIN + BATCH)
        opt.zero_grad()
        loss = torch_loss(model(xt[rows]), yt[rows])
        loss.backward()
        opt.step()
        torch_losses.append(loss.item())

    trainer = Trainer(net, make_optimizer(name, net.n_params, **hyper), x, y,
                      learning_rate=lr, batch_size=BATCH, shuffle=False, eval_every=None)
    log = trainer.run(STEPS).log

    np.testing.assert_allclose(log.loss, torch_losses, rtol=0, atol=1e-10)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    worst = max(max(np.abs(layer.W - lin.weight.detach().numpy().T).max(),
                    np.abs(layer.b - lin.bias.detach().numpy()).max())
                for layer, lin in zip(net.layers, linears))
    assert worst <= 1e-10
    # The weights really moved, so the agreement is not trivial.
    assert max(np.abs(layer.W - w0).max() for layer, w0 in zip(net.layers, start)) > 1e-2


def test_linear_head_is_half_mse():
    net = build("tanh", "linear", 2, width=4, seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), labels_for("linear", 6, rng)
    loss, _ = net.loss_and_grad(Network.augment(x), net.encode_targets(y))
    model = _torch_model(net)
    # 0.5 * mean over samples of the sum over outputs = 0.5 * n_outputs * mse.
    expected = 0.5 * 2 * F.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-13)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for layer, lin in zip(net.layers, linears):
        np.testing.assert_allclose(layer.gW, lin.weight.grad.numpy().T, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.gb, lin.bias.grad.numpy(), rtol=1e-12, atol=1e-15)


# --- activations ----------------------------------------------------------------------------
TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
    "softplus": F.softplus,  # torch switches to z itself above 20
    "swish": F.silu,
}


@pytest.mark.parametrize("name", list(TORCH_ACTIVATIONS))
def test_activation_and_derivative_match_torch(name):
    z = np.concatenate([np.linspace(-19.5, 19.5, 391), [-1e-3, 1e-3, -7.3, 3.1]])
    zt = torch.from_numpy(z).requires_grad_(True)
    value = TORCH_ACTIVATIONS[name](zt)
    value.sum().backward()
    # The absolute tolerance covers the cancellation in 1 + tanh(...) on the left tails.
    np.testing.assert_allclose(activations.apply(name, z), value.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(activations.derivative(name, z), zt.grad.numpy(),
                               rtol=1e-12, atol=1e-14)


def test_prelu_slope_gradient_matches_torch():
    net = build("prelu", "softmax", 1, width=4, seed=4)
    layer = net.layers[0]
    layer.slope[...] = [0.1, 0.2, 0.3, 0.4]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 2)), labels_for("softmax", 8, rng)
    net.loss_and_grad(Network.augment(x), net.encode_targets(y))

    prelu = torch.nn.PReLU(4, dtype=torch.float64)
    with torch.no_grad():
        prelu.weight.copy_(torch.from_numpy(layer.slope.copy()))
    first, out = _torch_model(net, with_activations=False)
    loss = F.cross_entropy(out(prelu(first(torch.from_numpy(x)))), torch.from_numpy(y))
    loss.backward()
    assert np.abs(layer.g_slope).max() > 1e-4
    np.testing.assert_allclose(layer.g_slope, prelu.weight.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.gW, first.weight.grad.numpy().T, rtol=1e-12, atol=1e-15)
