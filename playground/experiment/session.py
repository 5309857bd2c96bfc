"""The Qt-free training loop: commands in, immutable snapshots out.

A ``TrainingSession`` owns one trainer outright. Whoever drives it (the window's worker
thread, the command line) sends small frozen commands through a ``queue.SimpleQueue``
and receives ``Snapshot`` objects through a callback. Snapshots are throttled by a clock,
not by the step count: at most one per ``frame_interval`` while training, plus one after
every state change (pause, a single step, a settings change). Each snapshot carries every
per-step record since the previous one, so a consumer that keeps only the latest
snapshot for drawing, but appends the records to its history, loses nothing.

While paused the loop blocks on the queue; while training it drains the queue without
blocking between chunks of steps.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playground.data import make_grid
from playground.engine import layer_statistics
from playground.engine.compiled import unsupported_reason
from playground.experiment.build import PreparedData, apply_training, build_trainer
from playground.experiment.config import Experiment, TrainingConfig

# ---------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Play:
    """Train continuously (at the current speed) until paused or finished."""


@dataclass(frozen=True)
class Pause:
    """Stop training; the loop waits for the next command."""


@dataclass(frozen=True)
class Step:
    """Train exactly ``n`` steps, then pause."""

    n: int = 1


@dataclass(frozen=True)
class SetTraining:
    """Apply new training settings (learning rate, optimizer, L1/L2, ...) without a reset."""

    training: TrainingConfig


@dataclass(frozen=True)
class SetSpeed:
    """Steps per drawn frame; ``None`` trains as fast as it goes."""

    steps_per_frame: int | None


@dataclass(frozen=True)
class SetViews:
    """What each snapshot computes besides the numbers."""

    boundary: bool = True
    neurons: bool = False
    #: Samples of each hidden layer's values on the training set and which units are
    #: dead or saturated, for the views that look inside the network.
    inside: bool = False


@dataclass(frozen=True)
class RequestSnapshot:
    """Emit a snapshot now (for example after the window was resized)."""


@dataclass(frozen=True)
class Stop:
    """Leave the loop; the session cannot be restarted."""


Command = Play | Pause | Step | SetTraining | SetSpeed | SetViews | RequestSnapshot | Stop

#: The most training points whose hidden values a snapshot samples (SetViews.inside).
INSIDE_SAMPLE_ROWS = 256
#: While training runs, the per-layer statistics over the training set (dead and
#: saturated units, the hidden values the inside views sample) and the neuron heatmaps
#: are measured at most this often; snapshots in between repeat the last measurement.
#: They change slowly, the views that show them redraw at most ten times a second, and
#: measuring them for every frame took time from training.
STATISTICS_SECONDS = 0.1

# ---------------------------------------------------------------------------- snapshot


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Snapshot:
    """What the trainer looked like at one moment, plus what happened since the last one.

    All arrays are read-only copies. ``L`` is the number of layers with weights (hidden
    layers and the output layer).
    """

    step: int
    epoch: int
    running: bool
    finished: bool  # reached max_steps, diverged or stopped early
    steps_per_second: float
    learning_rate: float
    engine: str  # which training path ran last: "numpy" or "compiled"
    diverged: str | None
    stopped: str | None
    layer_names: tuple[str, ...]
    # Per-step records since the previous snapshot.
    steps: np.ndarray  # (n,)
    loss: np.ndarray  # (n,) batch loss including the penalty
    grad_norm: np.ndarray  # (n, L)
    weight_norm: np.ndarray  # (n, L)
    update_ratio: np.ndarray  # (n, L)
    # Whole-data-set evaluations since the previous snapshot.
    eval_step: np.ndarray  # (m,)
    eval_train_loss: np.ndarray
    eval_test_loss: np.ndarray
    eval_train_accuracy: np.ndarray  # nan for regression
    eval_test_accuracy: np.ndarray
    # The current state.
    train_loss: float
    test_loss: float
    penalty: float
    train_accuracy: float | None
    test_accuracy: float | None
    dead_fraction: np.ndarray  # (L,) nan where it does not apply
    saturated_fraction: np.ndarray  # (L,)
    current_grad_norm: np.ndarray  # (L,)
    boundary: np.ndarray | None  # (G, G) or (G, G, k) float32, row 0 at the bottom
    neurons: tuple[np.ndarray, ...] | None  # per hidden layer (units, g, g) float32
    weights: tuple[np.ndarray, ...]  # W per layer (fan_in, units)
    data: PreparedData | None = None  # only in the first snapshot of a session
    events: tuple[str, ...] = field(default_factory=tuple)  # messages for the user
    engine_note: str | None = None  # why the numpy path ran (None on the compiled one)
    # Only with SetViews(inside=True): per hidden layer, the values of at most
    # INSIDE_SAMPLE_ROWS training points (the same rows every time), (rows, units) float32.
    pre_activations: tuple[np.ndarray, ...] | None = None  # what the activation received
    activations: tuple[np.ndarray, ...] | None = None  # what it gave out
    # With SetViews(neurons=True) or inside=True: per hidden layer, (units,) bool.
    dead_units: tuple[np.ndarray, ...] | None = None
    saturated_units: tuple[np.ndarray, ...] | None = None


# ---------------------------------------------------------------------------- session


class TrainingSession:
    """One experiment being trained; see the module docstring."""

    def __init__(
        self,
        experiment: Experiment,
        *,
        grid_size: int = 200,
        neuron_grid_size: int = 32,
        frame_interval: float = 1.0 / 30.0,
        max_steps: int | None = None,
        views: SetViews = SetViews(),
    ) -> None:
        self.experiment = experiment
        self.trainer, self.data = build_trainer(experiment)
        self.frame_interval = frame_interval
        self.max_steps = max_steps if max_steps is not None else experiment.training.max_steps
        self.views = views
        self.speed: int | None = None
        self.running = False
        self._pending = 0
        self._training: TrainingConfig = experiment.training
        self._grid_size = grid_size
        self._grid_inputs = self.data.inputs(make_grid(grid_size)).astype(np.float32)
        self._neuron_inputs = self.data.inputs(make_grid(neuron_grid_size)).astype(np.float32)
        self._neuron_grid_size = neuron_grid_size
        self._logs: list = []
        self._evals: list = []
        self._events: list[str] = []
        self._first = True
        reason = unsupported_reason(self.trainer) if self.trainer.fast_path else None
        if reason:
            self._events.append(f"Training runs on the numpy engine: {reason}.")
        self._chunk = 64
        self._rate_steps = 0
        self._rate_time = 0.0
        self._last_rate = 0.0
        # what _measured keeps: name -> (when measured, value)
        self._kept: dict[str, tuple[float, object]] = {}

    # ---------------------------------------------------------------- state
    @property
    def finished(self) -> bool:
        t = self.trainer
        return bool(t.diverged or t.stopped or
                    (self.max_steps is not None and t.step >= self.max_steps))

    def _remaining(self) -> int:
        if self.max_steps is None:
            return 1 << 30
        return max(0, self.max_steps - self.trainer.step)

    def handle(self, cmd: Command) -> bool:
        """Apply one command; returns False when the loop should end."""
        if isinstance(cmd, Stop):
            return False
        if isinstance(cmd, Play):
            self.running = not self.finished
            self._pending = 0
        elif isinstance(cmd, Pause):
            self.running = False
            self._pending = 0
        elif isinstance(cmd, Step):
            self.running = False
            self._pending += max(0, int(cmd.n))
        elif isinstance(cmd, SetTraining):
            apply_training(self.trainer, self._training, cmd.training)
            self._training = cmd.training
            if cmd.training.max_steps != self.experiment.training.max_steps:
                self.max_steps = cmd.training.max_steps
        elif isinstance(cmd, SetSpeed):
            self.speed = None if cmd.steps_per_frame is None else max(1, int(cmd.steps_per_frame))
        elif isinstance(cmd, SetViews):
            self.views = cmd
        return True

    # ---------------------------------------------------------------- training
    def train_for(self, n: int, deadline: float | None = None) -> int:
        """Train up to ``n`` steps (stopping at the deadline); returns how many ran."""
        n = min(n, self._remaining())
        if n <= 0:
            return 0
        t0 = time.perf_counter()
        result = self.trainer.run(n, deadline=deadline)
        self._rate_time += time.perf_counter() - t0
        done = len(result.log)
        self._rate_steps += done
        if done:
            self._logs.append(result.log)
        self._evals.extend(result.evaluations)
        if result.diverged:
            self._events.append(result.diverged)
        if result.stopped:
            self._events.append(result.stopped)
        return done

    def _train_frame(self, deadline: float) -> bool:
        """Train for one frame; True when training stopped short of its chunk, at (or a
        little before) the deadline: the snapshot is due then, not a sliver later."""
        stopped_short = False
        if self._pending:
            done = self.train_for(self._pending)
            self._pending = 0 if self.finished else self._pending - done
            if done == 0:
                self._pending = 0
        elif self.running:
            if self.speed is not None:
                self.train_for(self.speed)
            else:
                # Size the chunk so that it ends near the deadline; the trainer also checks
                # the clock every 16 steps.
                done = self.train_for(self._chunk, deadline)
                if done >= self._chunk:
                    self._chunk = min(self._chunk * 2, 1 << 16)
                else:  # stopped for the deadline (or the end)
                    stopped_short = True
            if self.finished:
                self.running = False
        return stopped_short

    # ---------------------------------------------------------------- snapshots
    def snapshot(self) -> Snapshot:
        """Build a snapshot of the current state and hand over the records since the last."""
        t = self.trainer
        net = t.network
        L = len(net.layers)
        logs, self._logs = self._logs, []
        evals, self._evals = self._evals, []
        events, self._events = tuple(self._events), []
        if logs:
            steps = np.concatenate([g.step for g in logs])
            loss = np.concatenate([g.loss for g in logs])
            norms = np.concatenate([g.norms for g in logs])
        else:
            steps, loss, norms = np.empty(0, np.int64), np.empty(0), np.empty((0, 3, L))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = norms[:, 2] / norms[:, 0]
        nan = float("nan")

        def acc(v: float | None) -> float:
            return nan if v is None else v

        # While training runs, the whole-data-set losses shown are those of the latest
        # evaluation the trainer made (at most eval_every - 1 steps old); otherwise they
        # are measured for the weights as they are.
        if self.running and evals and t.step - evals[-1].step < (t.eval_every or 1):
            current = evals[-1]
        else:
            current = t.evaluate()
        stats = self._layer_statistics()
        boundary = None
        if self.views.boundary:
            boundary = self._boundary()
        neurons = self._measured("neurons", self._neurons) if self.views.neurons else None
        hidden_stats = stats[:-1]
        pre = post = dead_units = saturated_units = None
        if self.views.inside:
            rows = _sample_rows(len(t.x_train), INSIDE_SAMPLE_ROWS)
            pre = tuple(_frozen(s.pre_activations[rows].astype(np.float32)) for s in hidden_stats)
            post = tuple(_frozen(s.activations[rows].astype(np.float32)) for s in hidden_stats)
        if self.views.inside or self.views.neurons:
            dead_units = tuple(_frozen(s.dead_units) for s in hidden_stats)
            saturated_units = tuple(_frozen(s.saturated_units) for s in hidden_stats)
        if self._rate_time > 0 and self._rate_steps:
            self._last_rate = self._rate_steps / self._rate_time
        self._rate_steps, self._rate_time = 0, 0.0
        snap = Snapshot(
            step=t.step,
            epoch=t.epoch,
            running=self.running,
            finished=self.finished,
            steps_per_second=self._last_rate,
            learning_rate=t.learning_rate,
            engine=t.engine_path,
            diverged=t.diverged,
            stopped=t.stopped,
            layer_names=tuple(layer.name for layer in net.layers),
            steps=_frozen(steps),
            loss=_frozen(loss),
            grad_norm=_frozen(norms[:, 1]),
            weight_norm=_frozen(norms[:, 0]),
            update_ratio=_frozen(ratio),
            eval_step=_frozen(np.array([e.step for e in evals], dtype=np.int64)),
            eval_train_loss=_frozen(np.array([e.train_loss for e in evals])),
            eval_test_loss=_frozen(np.array([e.test_loss for e in evals])),
            eval_train_accuracy=_frozen(np.array([acc(e.train_accuracy) for e in evals])),
            eval_test_accuracy=_frozen(np.array([acc(e.test_accuracy) for e in evals])),
            train_loss=current.train_loss,
            test_loss=current.test_loss,
            penalty=current.penalty,
            train_accuracy=current.train_accuracy,
            test_accuracy=current.test_accuracy,
            dead_fraction=_frozen(np.array([s.dead_fraction for s in stats])),
            saturated_fraction=_frozen(np.array([s.saturated_fraction for s in stats])),
            current_grad_norm=_frozen(t.last_norms[1]),
            boundary=boundary,
            neurons=neurons,
            weights=tuple(_frozen(layer.W) for layer in net.layers),
            data=self.data if self._first else None,
            events=events,
            engine_note=t.fallback_reason,
            pre_activations=pre,
            activations=post,
            dead_units=dead_units,
            saturated_units=saturated_units,
        )
        self._first = False
        return snap

    def _layer_statistics(self) -> list:
        """Per-layer statistics over the training set (see ``_measured``)."""
        t = self.trainer
        return self._measured("statistics", lambda: layer_statistics(t.network, t.x_train))

    def _neurons(self) -> tuple[np.ndarray, ...]:
        """Every hidden unit's output over the low-resolution grid, (units, g, g) per
        hidden layer."""
        g = self._neuron_grid_size
        res = self.trainer.network.forward(self._neuron_inputs, keep_hidden=True,
                                           dtype=np.float32)
        return tuple(_frozen(a.T.reshape(a.shape[1], g, g)) for a in res.activations)

    def _measured(self, name: str, measure: Callable[[], Any]) -> Any:
        """``measure()``, or while training runs the value it gave under
        STATISTICS_SECONDS ago (kept under ``name``)."""
        now = time.perf_counter()
        kept = self._kept.get(name)
        if kept is not None and self.running and now - kept[0] < STATISTICS_SECONDS:
            return kept[1]
        value = measure()
        self._kept[name] = (now, value)
        return value

    def _boundary(self) -> np.ndarray:
        """The network's output over the grid: class-1 probability for two classes,
        class probabilities (G, G, k) for several, the predicted value for regression."""
        g = self._grid_size
        out = self.trainer.predict(self._grid_inputs, dtype=np.float32)
        head = self.trainer.network.spec.head
        if head == "classic":
            out = (out + 1.0) * 0.5  # tanh output in [-1, 1] -> a probability-like [0, 1]
        if out.shape[1] == 1:
            img = out[:, 0].reshape(g, g)
        else:
            img = out.reshape(g, g, out.shape[1])
        return _frozen(np.ascontiguousarray(img, dtype=np.float32))

    # ---------------------------------------------------------------- the loop
    def run(
        self,
        commands: queue.SimpleQueue,
        emit: Callable[[Snapshot], None],
        *,
        exit_when_finished: bool = False,
        idle_timeout: float = 0.1,
    ) -> None:
        """Process commands and train until ``Stop`` (or, headless, until finished)."""
        emit(self.snapshot())
        last_emit = time.perf_counter()
        dirty = False
        held: Command | None = None
        while True:
            busy = self.running or self._pending > 0
            if held is not None:
                cmd, held = held, None
            else:
                try:
                    cmd = commands.get_nowait() if busy else commands.get(timeout=idle_timeout)
                except queue.Empty:
                    cmd = None
            while cmd is not None:
                was = (self.running, self._pending)
                if not self.handle(cmd):
                    emit(self.snapshot())
                    return
                if isinstance(cmd, RequestSnapshot) or (self.running, self._pending) != was \
                        or isinstance(cmd, (SetTraining, SetViews)):
                    dirty = True
                try:
                    cmd = commands.get_nowait()
                except queue.Empty:
                    cmd = None
            was_busy = self.running or self._pending > 0
            stopped_short = False
            if was_busy:
                frame_end = last_emit + self.frame_interval
                stopped_short = self._train_frame(frame_end)
                dirty = True
                if self.speed is not None and self.running:
                    # Fixed speed: wait out the rest of the frame, listening for commands.
                    wait = frame_end - time.perf_counter()
                    if wait > 0:
                        try:
                            held = commands.get(timeout=wait)  # handled at the loop's top
                        except queue.Empty:
                            held = None
            now = time.perf_counter()
            idle_now = not (self.running or self._pending > 0)
            frame_over = now - last_emit >= self.frame_interval or stopped_short
            if dirty and (frame_over or idle_now):
                emit(self.snapshot())
                last_emit = time.perf_counter()
                dirty = False
            if exit_when_finished and idle_now and (self.finished or not was_busy):
                if dirty:
                    emit(self.snapshot())
                return


def _sample_rows(n: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` rows, evenly spread (all rows when few)."""
    if n <= most:
        return np.arange(n)
    return np.linspace(0, n - 1, most).round().astype(np.intp)


def finite_or_none(x: float | None) -> float | None:
    """JSON-friendly number: None for missing or non-finite values."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)
