"""Training speed of the numpy engine beside PyTorch (CPU, one thread) and scikit-learn,
and of the compiled fast path (numba).

Three small nets, as the playground trains them:

* net A: 2-8-8-1 tanh, sigmoid + binary cross-entropy, batch 10, plain SGD;
* net B: 2-16-16-16-3 relu, softmax + cross-entropy, batch 32, Adam;
* net B10: 2-16-16-16-1 relu, sigmoid + binary cross-entropy, batch 10, plain SGD
  (numpy and the fast path only);

plus the time to evaluate net B on a 200x200 grid (the decision boundary), on numpy and
on the fast path, and the fast path's JIT warm-up in a fresh process: cold (an empty cache
folder) and from the cache that the cold run left.

Every contender does the same work, measured two ways:

* shuffled (the headline figures): a fresh sample order every epoch, as the playground
  trains and as ``MLPClassifier`` does by default (``shuffle=True``); PyTorch gathers its
  batches through ``torch.randperm``, as a shuffling ``DataLoader`` would;
* fixed: the same consecutive batches every epoch for all three (``shuffle=False``),
  which spares each of them its gathers (the ``*_fixed`` figures).

Everything runs in one process, interleaved, for many short rounds, so that a noisy
shared machine slows all contenders alike. Within a round, a net's contenders take turns
(A-numpy, A-torch, A-sklearn, ..., then again) in slices of a fraction of their time, so
that each of them samples the same second or so of the machine's speed. Speeds are the
medians over the rounds; a ratio is the median over the rounds of that round's ratio (the
speed of these machines drifts by tens of percent from one stretch of seconds to the
next).
BLAS is pinned to one thread: on these tiny matrices a second thread only adds
synchronisation.

Usage: python benchmarks/engine_speed.py [--rounds 15] [--seconds 0.2] [--slices 4]
                                          [--no-jit-timing]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from playground.engine import LayerSpec, Network, NetworkSpec, Trainer, compiled, make_optimizer

N_SAMPLES = 500
NETS = {
    "A": {"hidden": (8, 8), "activation": "tanh", "classes": 2, "batch": 10,
          "optimizer": "sgd", "lr": 0.03},
    "B": {"hidden": (16, 16, 16), "activation": "relu", "classes": 3, "batch": 32,
          "optimizer": "adam", "lr": 0.01},
    "B10": {"hidden": (16, 16, 16), "activation": "relu", "classes": 2, "batch": 10,
            "optimizer": "sgd", "lr": 0.03, "fast_only": True},
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


def timed(run_chunk, steps_per_chunk: int, seconds: float) -> tuple[int, float]:
    """(steps, seconds) of ``run_chunk`` repeated for about ``seconds``, after one
    untimed call."""
    run_chunk()  # warm-up
    done, start = 0, time.perf_counter()
    while True:
        run_chunk()
        done += steps_per_chunk
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done, elapsed


def one_round(contenders: dict, seconds: float, slices: int) -> dict:
    """Steps per second of each contender over one round: ``slices`` turns in which every
    contender runs for ``seconds / slices`` in turn, so that all of them sample the same
    stretch of the machine's speed."""
    totals = {key: [0, 0.0] for key in contenders}
    for _ in range(slices):
        for key, (run, steps) in contenders.items():
            done, elapsed = timed(run, steps, seconds / slices)
            totals[key][0] += done
            totals[key][1] += elapsed
    return {key: done / elapsed for key, (done, elapsed) in totals.items()}


# ----------------------------------------------------------------------------- contenders
def numpy_runner(cfg: dict, fast_path: bool = False, shuffle: bool = True):
    x, y = make_data(cfg["classes"])
    head = "sigmoid" if cfg["classes"] == 2 else "softmax"
    spec = NetworkSpec(2, tuple(LayerSpec(u, cfg["activation"]) for u in cfg["hidden"]),
                       1 if head == "sigmoid" else cfg["classes"], head)
    net = Network(spec, np.random.default_rng(1))
    trainer = Trainer(net, make_optimizer(cfg["optimizer"], net.n_params), x, y,
                      learning_rate=cfg["lr"], batch_size=cfg["batch"], eval_every=None,
                      fast_path=fast_path, shuffle=shuffle)
    chunk = 500
    return (lambda: trainer.run(chunk)), chunk, trainer


def fast_runner(cfg: dict):
    """The same trainer on the compiled path (the kernels must be warmed up)."""
    run, chunk, trainer = numpy_runner(cfg, fast_path=True)
    run()
    if trainer.engine_path != "compiled":
        raise SystemExit(f"the fast path did not run: {trainer.fallback_reason}")
    return run, chunk, trainer


def torch_runner(cfg: dict, shuffle: bool = True):
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
    starts = range(0, N_SAMPLES, b)
    fixed = [(xt[i : i + b], yt[i : i + b]) for i in starts]
    generator = torch.Generator().manual_seed(0)

    def chunk():
        if shuffle:
            order = torch.randperm(N_SAMPLES, generator=generator)
            batches = ((xt[idx], yt[idx]) for idx in (order[i : i + b] for i in starts))
        else:
            batches = fixed
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()

    return chunk, len(fixed)


def sklearn_runner(cfg: dict, shuffle: bool = True):
    from sklearn.neural_network import MLPClassifier

    x, y = make_data(cfg["classes"])
    clf = MLPClassifier(hidden_layer_sizes=cfg["hidden"], activation=cfg["activation"],
                        solver=cfg["optimizer"], batch_size=cfg["batch"],
                        learning_rate_init=cfg["lr"], momentum=0.0, shuffle=shuffle,
                        random_state=0)
    classes = np.arange(cfg["classes"])
    steps = -(-N_SAMPLES // cfg["batch"])  # partial_fit makes one pass in batches

    def chunk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(x, y, classes=classes)

    return chunk, steps


def grid_ms(predict, rounds: int = 20) -> float:
    """Median time of ``predict(grid, dtype)`` on a 200x200 grid, float32, in ms."""
    side = np.linspace(-6, 6, 200)
    grid = np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2)
    predict(grid, dtype=np.float32)
    best = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        predict(grid, dtype=np.float32)
        best.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(best)


_WARM_UP_SCRIPT = """
import time
from playground.engine import compiled
t0 = time.perf_counter()
ok = compiled.warm_up()
print(ok, time.perf_counter() - t0, compiled.failure())
"""


def _timed_subprocess(code: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    if out[0] not in ("True", "ok"):
        raise SystemExit(f"the JIT warm-up failed: {out}")
    return float(out[1])


def jit_seconds() -> tuple[float, float, float]:
    """(cold, from the cache, importing numba alone) in fresh processes, in seconds.

    The cold run compiles into an empty cache folder of its own (the user's cache is left
    alone); the cached run loads what it left. Both time ``compiled.warm_up()`` from the
    call to the kernels being ready, self-check included, with numpy already imported.
    Python may write its bytecode files, as it does on a user's machine (and the bundle
    ships them), so the cached runs import the project's modules the way a second
    launch does.
    """
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "NUMBA_CACHE_DIR": folder, "PLAYGROUND_FAST_PATH": "1"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cold = _timed_subprocess(_WARM_UP_SCRIPT, env)
        cached = min(_timed_subprocess(_WARM_UP_SCRIPT, env) for _ in range(3))
        numba_import = min(_timed_subprocess(
            "import time, numpy; t0 = time.perf_counter(); import numba; "
            "print('ok', time.perf_counter() - t0)", env) for _ in range(3))
    return cold, cached, numba_import


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.2, help="per contender per round")
    parser.add_argument("--slices", type=int, default=4,
                        help="turns per round in which a net's contenders take their time")
    parser.add_argument("--no-jit-timing", action="store_true",
                        help="skip the cold and cached warm-up runs (they take a minute)")
    args = parser.parse_args()
    jit = (float("nan"),) * 3 if args.no_jit_timing else jit_seconds()
    if not compiled.warm_up():
        raise SystemExit(f"the compiled path is unavailable: {compiled.failure()}")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False

    with threadpool_limits(1):
        runners = {}
        for name, cfg in NETS.items():
            run, steps, trainer = numpy_runner(cfg)
            runners[(name, "numpy")] = (run, steps)
            if name == "B":
                net_b = trainer.network
            if not cfg.get("fast_only"):
                run, steps, _ = numpy_runner(cfg, shuffle=False)
                runners[(name, "numpy_fixed")] = (run, steps)
                if have_torch:
                    runners[(name, "torch")] = torch_runner(cfg)
                    runners[(name, "torch_fixed")] = torch_runner(cfg, shuffle=False)
                runners[(name, "sklearn")] = sklearn_runner(cfg)
                runners[(name, "sklearn_fixed")] = sklearn_runner(cfg, shuffle=False)
            run, steps, trainer = fast_runner(cfg)
            runners[(name, "fast")] = (run, steps)
            if name == "B":
                fast_b = trainer
        results: dict[tuple[str, str], list[float]] = {k: [] for k in runners}
        grids, fast_grids = [], []
        for _ in range(args.rounds):
            for name in NETS:
                net_runners = {k: v for k, v in runners.items() if k[0] == name}
                for key, speed in one_round(net_runners, args.seconds, args.slices).items():
                    results[key].append(speed)
            grids.append(grid_ms(net_b.predict))
            fast_grids.append(grid_ms(fast_b.predict))

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{'net':<4}{'engine':<14}{'steps/s (median)':>18}{'min':>10}{'max':>10}")
    for (name, engine), v in results.items():
        print(f"{name:<4}{engine:<14}{med[(name, engine)]:>18,.0f}{min(v):>10,.0f}"
              f"{max(v):>10,.0f}")
    grid = statistics.median(grids)
    fast_grid = statistics.median(fast_grids)
    print(f"grid 200x200, net B, float32: {grid:.2f} ms (median of {len(grids)} rounds)")
    print(f"grid 200x200, net B, float32, fast path: {fast_grid:.2f} ms")
    cold, cached, numba_import = jit
    print(f"JIT warm-up in a fresh process: cold {cold:.2f} s, from the cache {cached:.2f} s "
          f"(importing numba alone: {numba_import:.2f} s)")

    def ratio(name: str, other: str, ours: str = "numpy") -> str:
        if (name, other) not in results:
            return "nan"
        rounds = [a / b for a, b in zip(results[(name, ours)], results[(name, other)])]
        return f"{statistics.median(rounds):.1f}"

    def fixed(name: str, other: str) -> str:
        return ratio(name, f"{other}_fixed", "numpy_fixed")

    if ("B", "sklearn") in results:
        print("B against scikit-learn, round by round, shuffled:",
              " ".join(f"{a / b:.1f}" for a, b in zip(results[("B", "numpy")],
                                                     results[("B", "sklearn")])))
        print("B against scikit-learn, round by round, fixed batches:",
              " ".join(f"{a / b:.1f}" for a, b in zip(results[("B", "numpy_fixed")],
                                                     results[("B", "sklearn_fixed")])))
    print(
        "like for like, shuffled: "
        f"vs_torch_A={ratio('A', 'torch')} vs_torch_B={ratio('B', 'torch')} "
        f"vs_sklearn_A={ratio('A', 'sklearn')} vs_sklearn_B={ratio('B', 'sklearn')}")
    print(
        "like for like, fixed batches: "
        f"vs_torch_A={fixed('A', 'torch')} vs_torch_B={fixed('B', 'torch')} "
        f"vs_sklearn_A={fixed('A', 'sklearn')} vs_sklearn_B={fixed('B', 'sklearn')}")
    print(
        f"engine_speed: A={med[('A', 'numpy')]:.0f} B={med[('B', 'numpy')]:.0f} "
        f"vs_torch_A={ratio('A', 'torch')} vs_torch_B={ratio('B', 'torch')} "
        f"vs_sklearn_A={ratio('A', 'sklearn')} vs_sklearn_B={ratio('B', 'sklearn')} "
        f"grid200_ms={grid:.2f} "
        f"A_fixed={med[('A', 'numpy_fixed')]:.0f} B_fixed={med[('B', 'numpy_fixed')]:.0f} "
        f"vs_torch_fixed_A={fixed('A', 'torch')} vs_torch_fixed_B={fixed('B', 'torch')} "
        f"vs_sklearn_fixed_A={fixed('A', 'sklearn')} vs_sklearn_fixed_B={fixed('B', 'sklearn')} "
        f"fast_A={med[('A', 'fast')]:.0f} fast_B={med[('B', 'fast')]:.0f} "
        f"fast_B10={med[('B10', 'fast')]:.0f} fast_grid200_ms={fast_grid:.2f} "
        f"jit_cold_s={cold:.2f} jit_cached_s={cached:.2f}"
    )


if __name__ == "__main__":
    main()
