"""Getting the kernels ready without making anyone wait.

``WarmUp.start`` compiles the kernels on a daemon thread, or loads them from numba's disk
cache when an earlier run left them there (see ``cache``). Until that is done every
trainer trains on the numpy engine; afterwards trainers that allow the fast path switch to
the kernels at their next ``run`` call.

The warm-up ends with a self-check: tiny networks, one per activation, cycling through the
heads and optimizers, take a few steps on both engines, which must agree. Numba's cache
is keyed on the kernels' own source, so this also catches a cache made stale by a change
elsewhere (say, to an activation's code): the fast path then stays off, with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np

log = logging.getLogger(__name__)

#: Largest difference between the engines that the self-check accepts.
SELF_CHECK_TOLERANCE = 1e-9


class WarmUp:
    """Compiles the kernels once per process; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self.failure: str | None = None
        self.seconds: float | None = None

    def start(self) -> None:
        """Start compiling on a background thread; returns at once (and does nothing if
        the warm-up has already started)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="playground-jit-warm-up")
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up has ended (ready or failed); False on timeout."""
        return self._done.wait(timeout)

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self.failure is None

    def _run(self) -> None:
        clock = time.perf_counter()
        try:
            self_check()
        except Exception as err:  # the reason reaches the user as the trainer's fallback
            self.failure = f"the compiled engine failed to start ({type(err).__name__}: {err})"
            log.exception("compiled engine warm-up failed")
        else:
            self.seconds = time.perf_counter() - clock
            log.info("compiled engine ready in %.2f s", self.seconds)
        finally:
            self._done.set()


def _tiny_trainers():
    """Small trainers covering every activation, head and optimizer, with dropout, L1/L2,
    PReLU slopes and evaluations; built twice from the same seed, they train identically."""
    from playground.engine import ACTIVATIONS, HEADS, OPTIMIZERS
    from playground.engine.network import LayerSpec, Network, NetworkSpec
    from playground.engine.optimizers import make_optimizer
    from playground.engine.trainer import Trainer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 2))
    for i, activation in enumerate(ACTIVATIONS):
        head = HEADS[i % len(HEADS)]
        n_out = {"softmax": 3, "linear": 2}.get(head, 1)
        if head == "linear":
            y = rng.normal(size=(12, 2))
        else:
            y = np.arange(12) % (3 if head == "softmax" else 2)
        spec = NetworkSpec(2, (LayerSpec(3, activation), LayerSpec(3, activation, dropout=0.3)),
                           n_out, head)
        pair = []
        for _ in range(2):
            net = Network(spec, np.random.default_rng(i))
            opt = make_optimizer(OPTIMIZERS[i % len(OPTIMIZERS)], net.n_params)
            pair.append(Trainer(net, opt, x, y, x[:4], y[:4], learning_rate=0.05,
                                batch_size=5, l1=1e-3, l2=1e-3, eval_every=2,
                                batch_rng=np.random.default_rng(1),
                                dropout_rng=np.random.default_rng(2)))
        yield pair


class _NoScipyHere:
    """An import hook that refuses scipy to one thread (see ``_numba_without_scipy``)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self.thread and name.partition(".")[0] == "scipy":
            raise ImportError("scipy is not imported during the warm-up")
        return None


@contextlib.contextmanager
def _numba_without_scipy() -> Iterator[None]:
    """Keep numba from importing scipy while it starts up, in this thread only.

    The first time numba loads or compiles anything it imports ``scipy.linalg``, only to
    note whether a BLAS is at hand for one fallback of its ``np.convolve`` (the kernels
    use no BLAS). That import is a quarter of a second, a third of the warm-up from the
    cache. Refused, numba takes the fallback and carries on; anything that needs BLAS
    later (numba's ``np.dot``) imports scipy then, as usual. Other threads, and scipy
    once imported, are not affected.
    """
    if "scipy.linalg" in sys.modules:
        yield
        return
    hook = _NoScipyHere()
    sys.meta_path.insert(0, hook)
    try:
        yield
    finally:
        sys.meta_path.remove(hook)


def self_check() -> None:
    """Compile (or load) the kernels and check them against the numpy engine."""
    with _numba_without_scipy():
        _self_check()


def _self_check() -> None:
    from playground.engine.compiled.cache import cache_folder
    from playground.engine.compiled.runner import CompiledRunner

    cache_folder()  # before the kernels are defined: numba reads the folder then
    for reference, fast in _tiny_trainers():
        reference.run(5)
        runner = CompiledRunner(fast)
        runner.run(5)
        runner.predict(fast.x_train)
        gap = float(np.max(np.abs(reference.network.params - fast.network.params)))
        if not gap <= SELF_CHECK_TOLERANCE:
            spec = fast.network.spec
            raise RuntimeError(
                f"the kernels disagree with the numpy engine by {gap:.3g} "
                f"({spec.hidden[0].activation}, {spec.head} head)")
