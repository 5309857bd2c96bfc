"""Training speed of the numpy engine beside PyTorch (CPU, one thread) and scikit-learn.

Two small nets, as the playground trains them:

* net A: 2-8-8-1 tanh, sigmoid + binary cross-entropy, batch 10, plain SGD;
* net B: 2-16-16-16-3 relu, softmax + cross-entropy, batch 32, Adam;

plus the time to evaluate net B on a 200x200 grid (the decision boundary).

Everything runs in one process, interleaved (A-numpy, A-torch, A-sklearn, B-numpy, ...)
for several rounds, and the median of the rounds is reported, so that a noisy shared
machine slows all contenders alike. BLAS is pinned to one thread: on these tiny matrices
a second thread only adds synchronisation.

Usage: python benchmarks/engine_speed.py [--rounds 7] [--seconds 0.4]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from playground.engine import LayerSpec, Network, NetworkSpec, Trainer, make_optimizer

N_SAMPLES = 500
NETS = {
    "A": {"hidden": (8, 8), "activation": "tanh", "classes": 2, "batch": 10,
          "optimizer": "sgd", "lr": 0.03},
    "B": {"hidden": (16, 16, 16), "activation": "relu", "classes": 3, "batch": 32,
          "optimizer": "adam", "lr": 0.01},
}


def make_data(classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, size=(N_SAMPLES, 2))
    if classes == 2:
        y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    else:
        y = (np.floor(np.arctan2(x[:, 1], x[:, 0]) / (2 * np.pi) * classes) % classes)
        y = y.astype(np.int64)
    return x, y


def timed(run_chunk, steps_per_chunk: int, seconds: float) -> float:
    """Steps per second of ``run_chunk`` repeated for about ``seconds``."""
    run_chunk()  # warm-up
    done, start = 0, time.perf_counter()
    while True:
        run_chunk()
        done += steps_per_chunk
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


# ----------------------------------------------------------------------------- contenders
def numpy_runner(cfg: dict):
    x, y = make_data(cfg["classes"])
    head = "sigmoid" if cfg["classes"] == 2 else "softmax"
    spec = NetworkSpec(2, tuple(LayerSpec(u, cfg["activation"]) for u in cfg["hidden"]),
                       1 if head == "sigmoid" else cfg["classes"], head)
    net = Network(spec, np.random.default_rng(1))
    trainer = Trainer(net, make_optimizer(cfg["optimizer"], net.n_params), x, y,
                      learning_rate=cfg["lr"], batch_size=cfg["batch"], eval_every=None)
    chunk = 500
    return (lambda: trainer.run(chunk)), chunk, net


def torch_runner(cfg: dict):
    import torch

    torch.set_num_threads(1)
    x, y = make_data(cfg["classes"])
    layers, fan_in = [], 2
    act = torch.nn.Tanh if cfg["activation"] == "tanh" else torch.nn.ReLU
    for u in cfg["hidden"]:
        layers += [torch.nn.Linear(fan_in, u), act()]
        fan_in = u
    out = 1 if cfg["classes"] == 2 else cfg["classes"]
    layers.append(torch.nn.Linear(fan_in, out))
    model = torch.nn.Sequential(*layers).double()
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    xt = torch.tensor(x)
    if cfg["classes"] == 2:
        yt = torch.tensor(y, dtype=torch.float64).reshape(-1, 1)
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        yt = torch.tensor(y)
        loss_fn = torch.nn.CrossEntropyLoss()
    b = cfg["batch"]
    batches = [(xt[i : i + b], yt[i : i + b]) for i in range(0, N_SAMPLES, b)]

    def chunk():
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()

    return chunk, len(batches)


def sklearn_runner(cfg: dict):
    from sklearn.neural_network import MLPClassifier

    x, y = make_data(cfg["classes"])
    clf = MLPClassifier(hidden_layer_sizes=cfg["hidden"], activation=cfg["activation"],
                        solver=cfg["optimizer"], batch_size=cfg["batch"],
                        learning_rate_init=cfg["lr"], momentum=0.0, shuffle=False,
                        random_state=0)
    classes = np.arange(cfg["classes"])
    steps = -(-N_SAMPLES // cfg["batch"])  # partial_fit makes one pass in batches

    def chunk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(x, y, classes=classes)

    return chunk, steps


def grid_ms(net: Network, rounds: int = 20) -> float:
    side = np.linspace(-6, 6, 200)
    grid = np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2)
    net.predict(grid, dtype=np.float32)
    best = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        net.predict(grid, dtype=np.float32)
        best.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.4, help="per contender per round")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False

    with threadpool_limits(1):
        runners = {}
        for name, cfg in NETS.items():
            run, steps, net = numpy_runner(cfg)
            runners[(name, "numpy")] = (run, steps)
            if name == "B":
                net_b = net
            if have_torch:
                runners[(name, "torch")] = torch_runner(cfg)
            runners[(name, "sklearn")] = sklearn_runner(cfg)
        results: dict[tuple[str, str], list[float]] = {k: [] for k in runners}
        grids = []
        for _ in range(args.rounds):
            for key, (run, steps) in runners.items():
                results[key].append(timed(run, steps, args.seconds))
            grids.append(grid_ms(net_b))

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{'net':<4}{'engine':<10}{'steps/s (median)':>18}{'min':>10}{'max':>10}")
    for (name, engine), v in results.items():
        print(f"{name:<4}{engine:<10}{med[(name, engine)]:>18,.0f}{min(v):>10,.0f}{max(v):>10,.0f}")
    grid = statistics.median(grids)
    print(f"grid 200x200, net B, float32: {grid:.2f} ms (median of {len(grids)} rounds)")

    def ratio(name: str, other: str) -> str:
        if (name, other) not in med:
            return "nan"
        return f"{med[(name, 'numpy')] / med[(name, other)]:.1f}"

    print(
        f"engine_speed: A={med[('A', 'numpy')]:.0f} B={med[('B', 'numpy')]:.0f} "
        f"vs_torch_A={ratio('A', 'torch')} vs_torch_B={ratio('B', 'torch')} "
        f"vs_sklearn_A={ratio('A', 'sklearn')} vs_sklearn_B={ratio('B', 'sklearn')} "
        f"grid200_ms={grid:.2f}"
    )


if __name__ == "__main__":
    main()
