"""Sweeps: one experiment trained many times with some settings varied, side by side.

A :class:`SweepSpec` takes a base experiment and *axes*: a field path (as in
:func:`~playground.experiment.config.with_path`, ``[*]`` included) and the values it should
take. Its runs are every combination of the axes' values (a grid) or ``random`` of them
drawn without replacement, each run ``repeats`` times with the seeds ``base``,
``base + 1``, ... Every path and value is checked when the spec is built, so a typo fails
before the first run rather than after an hour.

:func:`run_one` trains one experiment headless and never raises: divergence and failures
are recorded in the returned :class:`RunRecord`. :func:`run_sweep` runs a spec's runs in
worker processes through joblib (loky locally, or a dask cluster) and reports each run as
it finishes.

Reproducibility. A run is fully determined by its experiment and its number of steps: the
seed fixes data, weights, batch order and dropout, and BLAS is held to one thread inside
every run, so no summation order depends on the machine's load. A row of a sweep
therefore equals :func:`run_one` of the same experiment bit for bit, whatever ``jobs`` or
backend ran it (on machines of one kind: another processor may round differently). The
engine path is part of that: an experiment that allows the compiled
fast path waits for the compiled kernels before it trains (once per process; they load
from numba's disk cache), so it never starts on numpy and switches midway depending on how
busy a worker was. Each record says which path ran; the two agree to about 1e-12, not bit
for bit.

Cancelling. Once ``cancel`` is set no further run is started (the task list is consumed
lazily), and the runs in progress stop too: a run looks for the cancel between chunks of
training (a chunk lasts about ``CHUNK_SECONDS``) and gives up, so the sweep returns
within about one chunk whatever the length of a run. Runs stopped that way are left out
of the results, as are runs still queued; runs that finished are kept. With ``jobs=1``
the run checks ``cancel`` itself. Worker processes cannot see an event of this process,
so the sweep turns it into a file they look for (:class:`_CancelFile`); afterwards
joblib aborts the pool (on dask the pending futures are cancelled). Dask workers on
other machines do not see that file: there the sweep returns when the next of its runs
finishes. Ctrl-C (KeyboardInterrupt) does not wait for a result: the pool is aborted at
once and :class:`SweepInterrupted` carries the finished runs.

Workers. ``jobs=1`` trains in the calling process, one run after another. Otherwise the
loky worker processes outlive a sweep (joblib keeps them for a few idle minutes), so the
next sweep with the same ``jobs`` starts without paying for new processes and imports.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from playground.data import make_grid
from playground.engine import Trainer, compiled
from playground.experiment.build import PreparedData, build_trainer
from playground.experiment.config import ConfigError, Experiment, get_path, with_path
from playground.experiment.results import steps_per_epoch

__all__ = [
    "BACKENDS",
    "GALLERY_BOUNDARY_SIZE",
    "MAX_RUNS",
    "METRICS",
    "PlannedRun",
    "Pivot",
    "RunRecord",
    "Stat",
    "SweepError",
    "SweepInterrupted",
    "SweepSpec",
    "SettingSummary",
    "format_value",
    "parse_axis",
    "parse_value",
    "pivot",
    "rank",
    "read_results_csv",
    "run_one",
    "run_sweep",
    "summarize",
    "write_results_csv",
]

BACKENDS = ("loky", "dask")
#: Upper bound on the runs of one sweep (settings times repeats).
MAX_RUNS = 10_000
#: A decision-boundary size that suits a gallery of small pictures (``boundary_size``).
GALLERY_BOUNDARY_SIZE = 64
#: Most steps per ``Trainer.run`` call in :func:`run_one`; bounds the per-step log's memory.
CHUNK_STEPS = 2048
#: Longest a ``Trainer.run`` call in :func:`run_one` trains (seconds, but at least a few
#: steps): how long a cancelled run may take to notice. Where a run is cut into chunks
#: does not change its result.
CHUNK_SECONDS = 0.1
#: The numbers a run reports, in the order the results file lists them.
METRICS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "steps", "epochs",
           "seconds")
#: Fields whose value decides which of their neighbours apply; applied first in a setting.
_SELECTORS = ("dataset", "activation", "name")
_MAX_SELECTOR_VARIANTS = 64
_MAX_SEED = 2**32 - 1
_DASK_CONNECT_TIMEOUT = "10s"

ProgressCallback = Callable[[int, int, "RunRecord"], None]
#: Asked between chunks of training: True when the run should stop (it was cancelled).
CancelCheck = Callable[[], bool]


class SweepError(ValueError):
    """A sweep that cannot run as asked; ``path`` names the setting it concerns ("" if none).

    Like :class:`ConfigError`, the message starts with the path, so printing it is enough.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.message))


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`; ``records`` holds the runs that had finished."""

    def __init__(self, records: list[RunRecord]) -> None:
        super().__init__(f"sweep interrupted after {len(records)} runs")
        self.records = records


# ---------------------------------------------------------------------------- values


_INTEGER = re.compile(r"[+-]?\d+")


def _tuples(value: Any) -> Any:
    """JSON lists as tuples, the way experiments hold them."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def parse_value(text: str) -> Any:
    """A value as typed on the command line or stored in results.csv.

    ``true``/``false`` are booleans, ``null`` is None, whole numbers are integers, other
    numbers (``0.1``, ``1e-3``) floats, text starting with ``[``, ``{`` or ``"`` is JSON
    (lists become tuples), and anything else is the text itself (``relu``).
    """
    s = text.strip()
    lowered = s.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    if _INTEGER.fullmatch(s):
        return int(s)
    try:
        return float(s)
    except ValueError:
        pass
    if s[:1] in ('[', '{', '"'):
        try:
            return _tuples(json.loads(s))
        except json.JSONDecodeError as err:
            raise SweepError("", f"{s!r} is not valid JSON ({err.msg})") from None
    return s


def format_value(value: Any) -> str:
    """The text :func:`parse_value` reads back as ``value`` (floats keep every bit)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return json.dumps(_lists(value))
    return str(value)


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def parse_axis(text: str) -> tuple[str, tuple[Any, ...]]:
    """``PATH=V1,V2,...`` (or ``PATH=[JSON values]`` for values that are lists)."""
    path, sep, rest = text.partition("=")
    path, rest = path.strip(), rest.strip()
    example = "e.g. training.optimizer.learning_rate=0.01,0.1"
    if not sep or not path:
        raise SweepError("", f"{text!r}: expected PATH=V1,V2,... ({example})")
    if not rest:
        raise SweepError(path, f"{text!r}: no values after '=' ({example})")
    if rest.startswith("["):
        try:
            items = json.loads(rest)
        except json.JSONDecodeError as err:
            raise SweepError(path, f"{rest!r} is not a valid JSON list ({err.msg})") from None
        if not isinstance(items, list) or not items:
            raise SweepError(path, f"{rest!r}: expected a non-empty JSON list of values")
        return path, tuple(_tuples(v) for v in items)
    parts = [p.strip() for p in rest.split(",")]
    if any(not p for p in parts):
        raise SweepError(path, f"{text!r}: an empty value (two commas in a row, or a comma "
                               "at either end?)")
    return path, tuple(parse_value(p) for p in parts)


# ---------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its place in the run order and the experiment it trains."""

    index: int
    setting: int  # which combination of axis values (0-based, in run order)
    repeat: int
    values: Mapping[str, Any]  # path -> value, for the swept paths
    experiment: Experiment


def _is_selector(path: str) -> bool:
    last = path.rsplit(".", 1)[-1]
    return last.split("[", 1)[0] in _SELECTORS


def _canonical(e: Experiment, path: str) -> Any:
    """The value an experiment holds at ``path`` (for ``[*]``, the first item's)."""
    got = get_path(e, path)
    if "[*]" in path and isinstance(got, tuple):
        return got[0] if got else None
    return got


def _selector_variants(base: Experiment, axes: Mapping[str, Sequence[Any]],
                       path: str) -> list[Experiment]:
    """The base plus the base with other selector axes' values applied.

    A value such as ``momentum=0.9`` may only be valid once another axis switched the
    optimizer to sgd; it counts as valid when at least one of these variants accepts it.
    """
    variants = [base]
    for other, values in axes.items():
        if other == path or not _is_selector(other):
            continue
        grown = []
        for e in variants:
            for v in values:
                try:
                    grown.append(with_path(e, other, v))
                except ConfigError:
                    continue  # reported when that axis itself is checked
        variants.extend(grown)
        if len(variants) > _MAX_SELECTOR_VARIANTS:
            break
    return variants[:_MAX_SELECTOR_VARIANTS]


def _check_value(variants: list[Experiment], path: str, value: Any) -> Any:
    first: ConfigError | None = None
    for e in variants:
        try:
            return _canonical(with_path(e, path, value), path)
        except ConfigError as err:
            first = first or err
    assert first is not None
    raise SweepError(first.path or path, first.message) from None


def _check_axes(base: Experiment, axes: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(axes, Mapping):
        raise SweepError("", f"axes must map field paths to lists of values, got "
                             f"{type(axes).__name__}")
    raw: dict[str, tuple[Any, ...]] = {}
    for path, values in axes.items():
        if not isinstance(path, str) or not path:
            raise SweepError("", f"{path!r} is not a field path (e.g. 'training.batch_size')")
        if path == "seed":
            raise SweepError("seed", "is not swept directly: repeats run the seeds base, "
                                     "base+1, ... (use repeats)")
        if path in ("format", "version"):
            raise SweepError(path, "is part of the file format, not a setting to sweep")
        try:
            current = get_path(base, path)
        except ConfigError as err:
            raise SweepError(err.path or path, err.message) from None
        if "[*]" in path and current == ():
            raise SweepError(path, "matches nothing: the list is empty in the base experiment")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SweepError(path, "needs a non-empty list of values")
        raw[path] = tuple(values)
    checked: dict[str, tuple[Any, ...]] = {}
    for path, values in raw.items():
        variants = _selector_variants(base, raw, path)
        canonical: list[Any] = []
        for value in values:
            c = _check_value(variants, path, value)
            if any(c == seen and type(c) is type(seen) for seen in canonical):
                raise SweepError(path, f"{format_value(value)} is listed twice")
            canonical.append(c)
        checked[path] = tuple(canonical)
    return checked


def _positive(value: Any, name: str, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SweepError(name, f"must be a whole number >= 1, got {value!r}")
    return int(value)


def _describe(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{p}={format_value(v)}" for p, v in values.items())


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep; see the module docstring. Invalid specs raise :class:`SweepError`.

    ``steps`` defaults to the base's ``training.max_steps``. ``random`` picks that many
    distinct combinations (seeded by ``random_seed``, default the base's seed) instead of
    the whole grid. The runs are ordered setting by setting (the grid in the axes' order,
    the last axis changing fastest), each setting's repeats together.
    """

    base: Experiment
    axes: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    random: int | None = None
    repeats: int = 1
    steps: int | None = None
    random_seed: int | None = None
    runs: tuple[PlannedRun, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.base, Experiment):
            raise SweepError("", f"the base must be an Experiment, got {type(self.base).__name__}")
        repeats = _positive(self.repeats, "repeats", optional=False)
        _positive(self.steps, "steps", optional=True)
        _positive(self.random, "random", optional=True)
        if self.random_seed is not None and not (
                isinstance(self.random_seed, int) and 0 <= self.random_seed <= _MAX_SEED):
            raise SweepError("random_seed", f"must be in 0..{_MAX_SEED}, got {self.random_seed!r}")
        if self.steps_per_run is None:
            raise SweepError("steps", "not set: give the number of steps per run (--steps N) "
                                      "or set training.max_steps in the experiment")
        axes = _check_axes(self.base, self.axes)
        object.__setattr__(self, "axes", axes)
        settings = self._settings(axes)
        if len(settings) * repeats > MAX_RUNS:
            raise SweepError("", f"{len(settings)} settings x {repeats} repeats is "
                                 f"{len(settings) * repeats} runs; at most {MAX_RUNS}")
        object.__setattr__(self, "runs", self._plan(axes, settings, repeats))

    @property
    def steps_per_run(self) -> int | None:
        return self.steps if self.steps is not None else self.base.training.max_steps

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self.axes)

    @property
    def n_settings(self) -> int:
        return len(self.runs) // self.repeats

    def _settings(self, axes: dict[str, tuple[Any, ...]]) -> list[tuple[int, ...]]:
        sizes = [len(v) for v in axes.values()]
        total = math.prod(sizes)
        if self.random is None:
            if total > MAX_RUNS:
                raise SweepError("", f"the grid has {total} settings; at most {MAX_RUNS} "
                                     "(sample some with random instead)")
            return list(itertools.product(*(range(n) for n in sizes)))
        if self.random > total:
            raise SweepError("random", f"asks for {self.random} settings but the axes give "
                                       f"only {total} distinct ones")
        if total >= 2**62:
            raise SweepError("", f"the grid has {total} settings, too many to sample from")
        seed = self.base.seed if self.random_seed is None else self.random_seed
        rng = np.random.default_rng(seed)
        picked = sorted(int(i) for i in rng.choice(total, size=self.random, replace=False))
        settings = []
        for flat in picked:
            digits = []
            for n in reversed(sizes):
                flat, digit = divmod(flat, n)
                digits.append(digit)
            settings.append(tuple(reversed(digits)))
        return settings

    def _plan(self, axes: dict[str, tuple[Any, ...]], settings: list[tuple[int, ...]],
              repeats: int) -> tuple[PlannedRun, ...]:
        order = sorted(axes, key=lambda p: not _is_selector(p))  # stable: selectors first
        steps = self.steps_per_run
        runs = []
        for s, picks in enumerate(settings):
            values = {path: axes[path][i] for path, i in zip(axes, picks)}
            e = self.base
            try:
                for path in order:
                    e = with_path(e, path, values[path])
                e = replace(e, training=replace(e.training, max_steps=steps))
            except ConfigError as err:
                where = f" (in the setting {_describe(values)})" if len(values) > 1 else ""
                raise SweepError(err.path, err.message + where) from None
            for r in range(repeats):
                seeded = replace(e, seed=(self.base.seed + r) % (_MAX_SEED + 1))
                runs.append(PlannedRun(len(runs), s, r, values, seeded))
        return tuple(runs)


# ---------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunRecord:
    """What one run produced. Metrics are None where they do not exist (accuracy for
    regression, a test loss without a test set) or are not finite.

    ``==`` compares the settings and the outcome; ``seconds``, ``boundary`` and the
    bookkeeping fields ``index`` and ``repeat`` are left out of it.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    train_loss: float | None = None
    test_loss: float | None = None
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    steps: int = 0
    epochs: float | None = None
    diverged: bool = False
    error: str | None = None  # why the run failed; None when it ran
    message: str | None = None  # the divergence or early-stopping message
    engine: str | None = None  # the training path that ran: "numpy" or "compiled"
    seconds: float = field(default=0.0, compare=False)
    index: int = field(default=0, compare=False)
    repeat: int = field(default=0, compare=False)
    boundary: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def finished(self) -> bool:
        """Trained without failing or diverging: its metrics mean something."""
        return self.error is None and not self.diverged

    def metric(self, name: str) -> float | None:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; one of {', '.join(METRICS)}")
        value = getattr(self, name)
        return None if value is None else float(value)


def _finite(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _boundary(trainer: Trainer, data: PreparedData, size: int) -> np.ndarray:
    """The network's output over a ``size x size`` grid, as the window draws it: class-1
    probability for two classes, (size, size, k) probabilities for k, values for regression.
    Row 0 is the bottom edge (see ``make_grid``)."""
    out = trainer.predict(data.inputs(make_grid(size)).astype(np.float32), dtype=np.float32)
    if trainer.network.spec.head == "classic":
        out = (out + 1.0) * 0.5  # tanh output in [-1, 1] read as a probability
    img = out[:, 0].reshape(size, size) if out.shape[1] == 1 else out.reshape(size, size, -1)
    return np.ascontiguousarray(img, dtype=np.float32)


def run_one(
    experiment: Experiment,
    steps: int | None = None,
    *,
    boundary_size: int = 0,
    values: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Train ``experiment`` headless for ``steps`` (default its ``max_steps``).

    Never raises: a run that diverges is recorded with ``diverged=True`` and the metrics of
    its final state; any other failure gives a record with ``error`` set. ``values`` is
    copied into the record as the swept settings; ``boundary_size > 0`` adds the final
    decision boundary as a float32 image of that size.
    """
    record = _run_unless_cancelled(experiment, steps, boundary_size, values, _never)
    assert record is not None  # nothing cancels it
    return record


def _never() -> bool:
    return False


def _run_unless_cancelled(experiment: Experiment, steps: int | None, boundary_size: int,
                          values: Mapping[str, Any] | None,
                          cancelled: CancelCheck) -> RunRecord | None:
    """:func:`run_one`, but None when ``cancelled()`` turns true before the run ends."""
    start = time.perf_counter()
    values = dict(values or {})
    seed = experiment.seed if isinstance(experiment, Experiment) else 0
    try:
        n = experiment.training.max_steps if steps is None else steps
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the number of steps must be a whole number >= 1, got {n!r}")
        if experiment.training.fast_path:
            compiled.warm_up()  # the same engine path in every process (module docstring)
            start = time.perf_counter()  # a run's seconds leave the one-off warm-up out
        # One BLAS thread: the same summation order wherever the run happens.
        with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
            return _train(experiment, n, boundary_size, values, start, cancelled)
    except Exception as err:
        return RunRecord(values=values, seed=seed, error=f"{type(err).__name__}: {err}",
                         seconds=time.perf_counter() - start)


def _train(experiment: Experiment, n: int, boundary_size: int, values: dict[str, Any],
           start: float, cancelled: CancelCheck) -> RunRecord | None:
    if cancelled():
        return None
    trainer, data = build_trainer(experiment)
    while trainer.step < n and not (trainer.diverged or trainer.stopped):
        if cancelled():
            return None
        chunk = trainer.run(min(CHUNK_STEPS, n - trainer.step),
                            deadline=time.perf_counter() + CHUNK_SECONDS)
        if not len(chunk.log):
            break
    final = trainer.evaluate()
    boundary = _boundary(trainer, data, boundary_size) if boundary_size > 0 else None
    per_epoch = steps_per_epoch(len(data.train.y), experiment.training.batch_size)
    return RunRecord(
        values=values,
        seed=experiment.seed,
        train_loss=_finite(final.train_loss),
        test_loss=_finite(final.test_loss),
        train_accuracy=_finite(final.train_accuracy),
        test_accuracy=_finite(final.test_accuracy),
        steps=trainer.step,
        epochs=round(trainer.step / per_epoch, 4),
        diverged=trainer.diverged is not None,
        message=trainer.diverged or trainer.stopped,
        engine=trainer.engine_path,
        seconds=time.perf_counter() - start,
        boundary=boundary,
    )


def _run_planned(run: PlannedRun, steps: int, boundary_size: int,
                 cancelled: CancelCheck = _never) -> RunRecord | None:
    """The task a worker process executes (module level, so it pickles by name); None
    when the sweep was cancelled before the run finished."""
    record = _run_unless_cancelled(run.experiment, steps, boundary_size, run.values,
                                   cancelled)
    return None if record is None else replace(record, index=run.index, repeat=run.repeat)


class _CancelFile:
    """A cancel that worker processes can see: true once the file at ``path`` exists.

    It pickles as its path, and looking for a file costs a few microseconds per chunk.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self) -> bool:
        return os.path.exists(self.path)

    def set(self) -> None:
        Path(self.path).touch()


#: How often the sweep looks whether ``cancel`` was set, to pass it on to the workers.
_CANCEL_POLL_SECONDS = 0.05


@contextmanager
def _cancel_file(cancel: threading.Event) -> Iterator[_CancelFile]:
    """A :class:`_CancelFile` that a helper thread sets once ``cancel`` is set."""
    folder = tempfile.mkdtemp(prefix="playground-sweep-")
    token = _CancelFile(os.path.join(folder, "cancel"))
    over = threading.Event()

    def watch() -> None:
        while not over.is_set():
            if cancel.wait(_CANCEL_POLL_SECONDS):
                token.set()
                return

    watcher = threading.Thread(target=watch, name="playground-sweep-cancel", daemon=True)
    watcher.start()
    try:
        yield token
    finally:
        over.set()
        watcher.join()
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------- many runs


def _n_jobs(jobs: int | None, backend: str, n_runs: int) -> int:
    if jobs is None:
        if backend == "dask":
            return -1  # every thread of the cluster
        from joblib import cpu_count

        jobs = cpu_count()
    elif isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SweepError("jobs", f"must be a whole number >= 1, got {jobs!r}")
    return max(1, min(jobs, n_runs))


@contextmanager
def _backend(backend: str, scheduler: Any) -> Iterator[None]:
    """joblib configured for the backend: loky with one thread per worker, or dask."""
    from joblib import parallel_config

    if backend == "loky":
        if scheduler is not None:
            raise SweepError("scheduler", "only applies to the dask backend")
        with parallel_config(backend="loky", inner_max_num_threads=1):
            yield
        return
    if backend != "dask":
        raise SweepError("backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")
    try:
        import distributed
    except ImportError:
        raise SweepError("backend", "dask needs the optional 'distributed' package; install "
                                    "it with: pip install 'playground[distributed]'") from None
    if scheduler is None:
        raise SweepError("scheduler", "the dask backend needs the scheduler's address "
                                      "(e.g. tcp://127.0.0.1:8786)")
    own = isinstance(scheduler, str)
    if own:
        try:
            client = distributed.Client(scheduler, timeout=_DASK_CONNECT_TIMEOUT,
                                        set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise SweepError("scheduler", f"cannot connect to the dask scheduler at "
                                          f"{scheduler} ({err})") from None
    else:
        client = scheduler
    try:
        with parallel_config(backend="dask", client=client):
            yield
    finally:
        if own:
            client.close()


def run_sweep(
    spec: SweepSpec,
    *,
    jobs: int | None = None,
    backend: str = "loky",
    scheduler: Any = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    boundary_size: int = 0,
) -> list[RunRecord]:
    """Run every run of ``spec``, each in a worker process; records in the spec's run order.

    ``jobs`` runs at once (default: every core; ``1`` runs them one after another in this
    process). ``backend="dask"`` sends the runs to the dask scheduler at ``scheduler`` (an
    address, or a ``distributed.Client``); its workers need Playground installed.
    ``progress(done, total, record)`` is called in this thread as each run finishes, in
    the order they finish. When ``cancel`` is set the sweep stops soon (see the module
    docstring) and returns the runs that finished. If the worker machinery itself breaks
    (a worker process killed), the runs that never finished come back with ``error`` set.
    Ctrl-C raises :class:`SweepInterrupted` with the finished runs.
    """
    if not isinstance(spec, SweepSpec):
        raise SweepError("", f"expected a SweepSpec, got {type(spec).__name__}")
    if backend not in BACKENDS:
        raise SweepError("backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")
    runs = spec.runs
    steps = spec.steps_per_run
    assert steps is not None  # checked by SweepSpec
    n_jobs = _n_jobs(jobs, backend, len(runs))
    stop = cancel if cancel is not None else threading.Event()
    done: dict[int, RunRecord] = {}
    broken: Exception | None = None

    def finished(record: RunRecord) -> None:
        done[record.index] = record
        if progress is not None:
            progress(len(done), len(runs), record)

    try:
        with _backend(backend, scheduler):
            if n_jobs == 1:
                _run_here(runs, steps, boundary_size, stop, finished)
            else:
                broken = _run_in_workers(runs, steps, boundary_size, n_jobs, stop, finished)
    except KeyboardInterrupt:
        raise SweepInterrupted(_in_order(done)) from None
    if broken is not None:
        why = f"not finished: the sweep's workers failed ({type(broken).__name__}: {broken})"
        for run in runs:
            if run.index not in done:
                done[run.index] = RunRecord(values=run.values, seed=run.experiment.seed,
                                            error=why, index=run.index, repeat=run.repeat)
    return _in_order(done)


def _run_here(runs: Sequence[PlannedRun], steps: int, boundary_size: int,
              stop: threading.Event, finished: Callable[[RunRecord], None]) -> None:
    """``jobs=1``: the runs one after another in this process, each watching ``stop``."""
    for run in runs:
        if stop.is_set():
            return
        record = _run_planned(run, steps, boundary_size, stop.is_set)
        if record is None:  # cancelled part-way: left out, like a killed worker's run
            return
        finished(record)


def _run_in_workers(runs: Sequence[PlannedRun], steps: int, boundary_size: int, n_jobs: int,
                    stop: threading.Event,
                    finished: Callable[[RunRecord], None]) -> Exception | None:
    """The runs in joblib's workers; the exception when the pool itself broke."""
    from joblib import Parallel, delayed  # ~0.2 s to import: only when a sweep runs

    with _cancel_file(stop) as cancelled:

        def tasks() -> Iterator[Any]:
            for run in runs:
                if stop.is_set():
                    return  # stop submitting
                yield delayed(_run_planned)(run, steps, boundary_size, cancelled)

        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
        outputs = parallel(tasks())
        try:
            while not stop.is_set():
                try:
                    record = next(outputs)
                except StopIteration:
                    return None
                except Exception as err:  # the pool broke, not a run (run_one catches)
                    return None if stop.is_set() else err
                if record is None:  # a run that saw the cancel and gave up
                    return None
                finished(record)
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # joblib's note on unused results
                outputs.close()  # aborts the pool if runs are still going
    return None


def _in_order(done: Mapping[int, RunRecord]) -> list[RunRecord]:
    return [done[i] for i in sorted(done)]


# ---------------------------------------------------------------------------- results.csv

_HEAD = ("run", "repeat")
_TAIL = ("seed", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "steps",
         "epochs", "diverged", "error", "message", "engine", "seconds")


def _swept_paths(records: Sequence[RunRecord]) -> list[str]:
    paths: dict[str, None] = {}
    for r in records:
        paths.update(dict.fromkeys(r.values))
    return list(paths)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_results_csv(records: Sequence[RunRecord], path: str | os.PathLike[str]) -> None:
    """One row per run: ``run``, ``repeat``, one column per swept path (named by the path,
    values written as on the command line), then the seed and the outcome. Empty cells
    are missing values. Written atomically."""
    path = Path(path)
    paths = _swept_paths(records)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([*_HEAD, *paths, *_TAIL])
            for r in records:
                swept = [format_value(r.values[p]) if p in r.values else "" for p in paths]
                outcome = [r.seed, r.train_loss, r.test_loss, r.train_accuracy,
                           r.test_accuracy, r.steps, r.epochs, r.diverged, r.error,
                           r.message, r.engine, round(r.seconds, 4)]
                writer.writerow([r.index, r.repeat, *swept, *(_cell(v) for v in outcome)])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cell(text: str, kind: str) -> Any:
    if kind == "text":
        return text or None
    if text == "":
        if kind in ("int", "bool"):
            raise ValueError("is empty")
        return None
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"must be true or false, got {text!r}")
        return text == "true"
    if kind == "int":
        return int(text)
    return float(text)


_KINDS = {"run": "int", "repeat": "int", "seed": "int", "steps": "int", "diverged": "bool",
          "error": "text", "message": "text", "engine": "text", "seconds": "float"}


def read_results_csv(path: str | os.PathLike[str]) -> list[RunRecord]:
    """Read back what :func:`write_results_csv` wrote (every field but ``boundary``)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise SweepError("", f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SweepError("", f"{path}: cannot be read ({err})") from None
    if not rows:
        raise SweepError("", f"{path}: empty, not a sweep results file")
    header = rows[0]
    missing = [c for c in (*_HEAD, *_TAIL) if c not in header]
    if missing:
        raise SweepError("", f"{path}: not a sweep results file (no column "
                             f"{', '.join(missing)})")
    paths = [c for c in header if c not in _HEAD and c not in _TAIL]
    records = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise SweepError("", f"{path}, line {line}: {len(row)} cells, expected "
                                 f"{len(header)}")
        cells = dict(zip(header, row))
        try:
            fields_ = {c: _read_cell(cells[c], _KINDS.get(c, "float"))
                       for c in (*_HEAD, *_TAIL)}
            values = {p: parse_value(cells[p]) for p in paths if cells[p] != ""}
        except (ValueError, SweepError) as err:
            raise SweepError("", f"{path}, line {line}: {err}") from None
        records.append(RunRecord(
            values=values,
            index=fields_.pop("run"),
            seconds=fields_.pop("seconds") or 0.0,
            **fields_,
        ))
    return records


# ---------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (ddof 1; nan below two values) of ``n`` values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, xs: Sequence[float]) -> Stat:
        a = np.asarray(xs, dtype=np.float64)
        if not len(a):
            return cls(math.nan, math.nan, 0)
        with np.errstate(over="ignore", invalid="ignore"):  # huge but finite losses
            std = float(np.std(a, ddof=1)) if len(a) > 1 else math.nan
            return cls(float(np.mean(a)), std, len(a))


@dataclass(frozen=True)
class SettingSummary:
    """The runs of one setting (its repeats) pooled: mean and std per metric, over the
    runs that finished (diverged and failed runs are counted, not averaged)."""

    values: Mapping[str, Any]
    runs: int
    diverged: int
    failed: int
    stats: Mapping[str, Stat]


def _key(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    # format_value tells 1 from 1.0 and True from 1, which == would not.
    return tuple((p, format_value(v)) for p, v in values.items())


def _values_of(r: RunRecord, metric: str) -> float | None:
    return r.metric(metric) if r.finished else None


def summarize(records: Sequence[RunRecord]) -> list[SettingSummary]:
    """One summary per distinct setting, in the order the settings first appear."""
    groups: dict[tuple[tuple[str, str], ...], list[RunRecord]] = {}
    for r in records:
        groups.setdefault(_key(r.values), []).append(r)
    out = []
    for group in groups.values():
        stats = {}
        for m in METRICS:
            xs = [x for r in group if (x := _values_of(r, m)) is not None]
            stats[m] = Stat.of(xs)
        out.append(SettingSummary(
            values=dict(group[0].values),
            runs=len(group),
            diverged=sum(r.diverged for r in group),
            failed=sum(r.failed for r in group),
            stats=stats,
        ))
    return out


def rank(summaries: Sequence[SettingSummary], metric: str = "test_loss") -> list[SettingSummary]:
    """Best first: lowest mean for losses and time, highest for accuracies; settings with
    no finished run last."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    sign = -1.0 if metric.endswith("accuracy") else 1.0

    def key(s: SettingSummary) -> tuple[bool, float]:
        mean = s.stats[metric].mean
        return (math.isnan(mean), sign * mean if not math.isnan(mean) else 0.0)

    return sorted(summaries, key=key)


@dataclass(frozen=True)
class Pivot:
    """A metric over two swept paths, for a heatmap: ``mean[i, j]`` belongs to
    ``y_values[i]`` and ``x_values[j]``. Each cell pools every finished run with those
    two values (repeats and any other swept paths alike); ``count`` says how many,
    ``runs`` how many runs there were in all."""

    x_path: str
    y_path: str
    metric: str
    x_values: tuple[Any, ...]
    y_values: tuple[Any, ...]
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    runs: np.ndarray


def pivot(records: Sequence[RunRecord], path_x: str, path_y: str, metric: str) -> Pivot:
    """Mean and std of ``metric`` on the grid of ``path_x`` by ``path_y`` values."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    if path_x == path_y:
        raise ValueError(f"pivot needs two different paths, got {path_x!r} twice")
    for p in (path_x, path_y):
        if any(p not in r.values for r in records):
            raise ValueError(f"{p}: not a swept path of these runs")

    def distinct(p: str) -> tuple[list[Any], dict[str, int]]:
        values: list[Any] = []
        where: dict[str, int] = {}
        for r in records:
            k = format_value(r.values[p])
            if k not in where:
                where[k] = len(values)
                values.append(r.values[p])
        return values, where

    xs, x_at = distinct(path_x)
    ys, y_at = distinct(path_y)
    cells: list[list[list[float]]] = [[[] for _ in xs] for _ in ys]
    runs = np.zeros((len(ys), len(xs)), dtype=np.int64)
    for r in records:
        i, j = y_at[format_value(r.values[path_y])], x_at[format_value(r.values[path_x])]
        runs[i, j] += 1
        x = _values_of(r, metric)
        if x is not None:
            cells[i][j].append(x)
    stats = [[Stat.of(c) for c in row] for row in cells]
    return Pivot(
        x_path=path_x,
        y_path=path_y,
        metric=metric,
        x_values=tuple(xs),
        y_values=tuple(ys),
        mean=np.array([[s.mean for s in row] for row in stats]).reshape(len(ys), len(xs)),
        std=np.array([[s.std for s in row] for row in stats]).reshape(len(ys), len(xs)),
        count=np.array([[s.n for s in row] for row in stats],
                       dtype=np.int64).reshape(len(ys), len(xs)),
        runs=runs,
    )
