"""The Qt-free training loop: commands in, snapshots out, no history lost, no thread left."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from playground.experiment.build import build_trainer
from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    OptimizerConfig,
    TrainingConfig,
)
from playground.experiment.session import (
    Pause,
    Play,
    RequestSnapshot,
    SetSpeed,
    SetTraining,
    SetViews,
    Snapshot,
    Step,
    Stop,
    TrainingSession,
)

TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def no_thread_left_running():
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"

EXPERIMENT = Experiment(
    seed=5,
    data=DataConfig(dataset="circle", n_samples=200, noise=0.1),
    network=NetworkConfig(layers=(LayerConfig(6), LayerConfig(4, "relu"))),
    training=TrainingConfig(optimizer=OptimizerConfig("sgd", learning_rate=0.03)),
)


def _session(experiment: Experiment = EXPERIMENT, **kwargs) -> TrainingSession:
    kwargs.setdefault("grid_size", 8)
    kwargs.setdefault("frame_interval", 0.01)
    return TrainingSession(experiment, **kwargs)


class Driver:
    """Runs a session on a thread and collects what it emits."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.received: list[Snapshot] = []
        self.thread = threading.Thread(
            target=session.run, args=(self.commands, self.inbox.put),
            kwargs={"idle_timeout": 0.02}, daemon=True)

    def send(self, *commands: object) -> None:
        for cmd in commands:
            self.commands.put(cmd)

    def wait_for(self, condition: Callable[[Snapshot], bool]) -> Snapshot:
        """The first new snapshot that meets the condition (all of them are kept)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail("the session did not reach the expected state in time")
            try:
                snap = self.inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            self.received.append(snap)
            if condition(snap):
                return snap

    def drain(self) -> None:
        while True:
            try:
                self.received.append(self.inbox.get_nowait())
            except queue.Empty:
                return


@contextmanager
def running(session: TrainingSession) -> Iterator[Driver]:
    driver = Driver(session)
    driver.thread.start()
    try:
        yield driver
    finally:
        driver.send(Stop())
        driver.thread.join(TIMEOUT)
        assert not driver.thread.is_alive(), "the session thread did not end"
        driver.drain()


def _run_to_end(session: TrainingSession) -> list[Snapshot]:
    """Play headless until finished, on this thread."""
    out: list[Snapshot] = []
    commands: queue.SimpleQueue = queue.SimpleQueue()
    commands.put(Play())
    session.run(commands, out.append, exit_when_finished=True, idle_timeout=0.01)
    return out


def test_play_then_pause_holds_the_step_count():
    with running(_session()) as driver:
        driver.send(Play())
        driver.wait_for(lambda s: s.running and s.step > 0)
        driver.send(Pause())
        paused = driver.wait_for(lambda s: not s.running)
        time.sleep(0.1)
        driver.send(RequestSnapshot())
        later = driver.wait_for(lambda s: True)
        assert later.step == paused.step > 0
        assert not later.running and len(later.steps) == 0


def test_step_one_trains_exactly_one_step():
    with running(_session()) as driver:
        driver.wait_for(lambda s: True)  # the initial snapshot
        driver.send(Step(1))
        after = driver.wait_for(lambda s: s.step >= 1)
        assert after.step == 1 and not after.running
        assert after.steps.tolist() == [1]
        time.sleep(0.05)
        driver.send(RequestSnapshot())
        assert driver.wait_for(lambda s: True).step == 1
        driver.send(Step(4))
        assert driver.wait_for(lambda s: s.step >= 5).step == 5


def test_new_learning_rate_applies_live_without_a_reset():
    with running(_session()) as driver:
        driver.send(Step(30))
        before = driver.wait_for(lambda s: s.step >= 30)
        faster = dataclasses.replace(
            EXPERIMENT.training, optimizer=OptimizerConfig("sgd", learning_rate=0.4))
        driver.send(SetTraining(faster))
        changed = driver.wait_for(lambda s: s.learning_rate == 0.4)
        assert changed.step == 30  # no reset
        for w_before, w_now in zip(before.weights, changed.weights):
            assert np.array_equal(w_before, w_now)
        driver.send(Step(20))
        after = driver.wait_for(lambda s: s.step >= 50)

    # The same run done directly: 30 steps at 0.03, then 20 at 0.4.
    trainer, _ = build_trainer(EXPERIMENT)
    trainer.run(30)
    trainer.set_learning_rate(0.4)
    trainer.run(20)
    for layer, w in zip(trainer.network.layers, after.weights):
        assert np.array_equal(layer.W, w)
    # ... which differs from keeping the old rate, so the new rate really was used.
    unchanged, _ = build_trainer(EXPERIMENT)
    unchanged.run(50)
    assert not np.array_equal(unchanged.network.layers[0].W, after.weights[0])


def test_set_speed_trains_that_many_steps_per_frame():
    with running(_session(frame_interval=0.02)) as driver:
        driver.send(SetSpeed(3), Play())
        driver.wait_for(lambda s: s.step >= 30)
        driver.send(Pause())
        driver.wait_for(lambda s: not s.running)
    training = [s for s in driver.received if len(s.steps)]
    assert len(training) >= 10
    # Every frame trains 3 steps; only a frame cut short by the pause may hold fewer.
    assert all(len(s.steps) == 3 for s in training[:-1])
    assert len(training[-1].steps) <= 3


def test_stop_ends_run_while_training():
    session = _session()
    driver = Driver(session)
    driver.thread.start()
    driver.send(Play())
    driver.wait_for(lambda s: s.running and s.step > 0)
    driver.send(Stop())
    driver.thread.join(TIMEOUT)
    assert not driver.thread.is_alive()
    driver.drain()
    assert driver.received[-1].step == session.trainer.step


def test_snapshots_carry_every_record_exactly_once():
    session = _session(max_steps=700, frame_interval=0.002)
    snaps = _run_to_end(session)
    assert len(snaps) > 2
    steps = np.concatenate([s.steps for s in snaps])
    assert steps.tolist() == list(range(1, 701))
    assert sum(len(s.steps) for s in snaps) == snaps[-1].step == 700
    assert all(len(s.loss) == len(s.steps) == len(s.grad_norm) for s in snaps)
    evals = np.concatenate([s.eval_step for s in snaps])
    assert evals.tolist() == list(range(10, 701, 10))
    assert snaps[-1].finished and not snaps[-1].running


def test_first_snapshot_carries_the_data_and_later_ones_do_not():
    snaps = _run_to_end(_session(max_steps=50))
    assert snaps[0].data is not None
    assert snaps[0].data.x_train.shape == (100, 2)
    assert all(s.data is None for s in snaps[1:])


def test_snapshot_arrays_are_read_only():
    session = _session(max_steps=40, views=SetViews(boundary=True, neurons=True))
    snap = _run_to_end(session)[-1]
    arrays = [getattr(snap, f.name) for f in dataclasses.fields(snap)]
    arrays = [a for a in arrays if isinstance(a, np.ndarray)]
    arrays += list(snap.weights) + list(snap.neurons)
    assert snap.boundary is not None and len(arrays) > 15
    for a in arrays:
        assert not a.flags.writeable
    with pytest.raises(ValueError):
        snap.weights[0][0, 0] = 1.0
    # They are copies: training on does not change a snapshot already handed out.
    kept = snap.weights[0].copy()
    session.trainer.run(10)
    assert np.array_equal(snap.weights[0], kept)


def test_diverging_run_finishes_with_a_message():
    # Linear regression by SGD diverges for certain once the rate exceeds 2 / the largest
    # eigenvalue of E[x x^T]; inputs spread over [-6, 6] put that far below 1.
    experiment = Experiment(
        data=DataConfig(dataset="reg_plane", n_samples=200),
        network=NetworkConfig(layers=()),
        training=TrainingConfig(optimizer=OptimizerConfig("sgd", learning_rate=1.0),
                                max_steps=3000),
    )
    with np.errstate(all="ignore"):
        snaps = _run_to_end(_session(experiment))
    last = snaps[-1]
    assert last.diverged and "diverged" in last.diverged
    assert last.finished and not last.running
    assert last.step < 3000
    events = [e for s in snaps for e in s.events]
    assert events == [last.diverged]


def test_views_switch_the_boundary_on_and_off():
    with running(_session(views=SetViews(boundary=False))) as driver:
        first = driver.wait_for(lambda s: True)
        assert first.boundary is None and first.neurons is None
        driver.send(SetViews(boundary=True, neurons=True), RequestSnapshot())
        shown = driver.wait_for(lambda s: s.boundary is not None)
        assert shown.boundary.shape == (8, 8) and shown.boundary.dtype == np.float32
        assert len(shown.neurons) == 2


def test_layer_statistics_are_measured_at_most_every_interval_while_running(monkeypatch):
    from playground.engine import layer_statistics
    from playground.experiment import session as session_module

    session = _session()
    session.running = True
    monkeypatch.setattr(session_module, "STATISTICS_SECONDS", 3600.0)
    first = session.snapshot()
    session.train_for(200)
    kept = session.snapshot()  # within the interval: the earlier measurement again
    np.testing.assert_array_equal(kept.dead_fraction, first.dead_fraction)
    measured_at = session._kept["statistics"][0]
    session.snapshot()
    assert session._kept["statistics"][0] == measured_at
    session.running = False  # paused: always measured for the weights shown
    fresh = session.snapshot()
    assert session._kept["statistics"][0] > measured_at
    expected = layer_statistics(session.trainer.network, session.trainer.x_train)
    np.testing.assert_array_equal(fresh.dead_fraction,
                                  [s.dead_fraction for s in expected])
    session.running = True
    monkeypatch.setattr(session_module, "STATISTICS_SECONDS", 0.0)
    before = session._kept["statistics"][0]
    session.snapshot()
    assert session._kept["statistics"][0] > before


def test_neuron_heatmaps_are_measured_at_most_every_interval_while_running(monkeypatch):
    from playground.experiment import session as session_module

    session = _session()
    session.handle(SetViews(boundary=False, neurons=True))
    session.running = True
    monkeypatch.setattr(session_module, "STATISTICS_SECONDS", 3600.0)
    first = session.snapshot()
    session.train_for(200)
    kept = session.snapshot()  # within the interval: the same images again
    assert kept.neurons is first.neurons
    session.running = False  # paused: the weights as they are now
    fresh = session.snapshot()
    assert fresh.neurons is not first.neurons
    g = session._neuron_grid_size
    res = session.trainer.network.forward(session._neuron_inputs, keep_hidden=True,
                                          dtype=np.float32)
    for shown, values in zip(fresh.neurons, res.activations, strict=True):
        np.testing.assert_array_equal(shown, values.T.reshape(values.shape[1], g, g))
    assert not np.array_equal(fresh.neurons[0], first.neurons[0])  # training moved them


def test_while_running_a_snapshot_shows_the_latest_evaluation_and_paused_a_fresh_one():
    session = _session()
    trainer = session.trainer
    every = trainer.eval_every
    assert every and every > 1
    session.snapshot()
    session.running = True
    session.train_for(3 * every + 1)  # the last evaluation is one step old
    latest = session._evals[-1]
    assert latest.step == 3 * every
    snap = session.snapshot()
    assert (snap.train_loss, snap.test_loss) == (latest.train_loss, latest.test_loss)
    session.running = False
    session.train_for(1)
    snap = session.snapshot()
    fresh = trainer.evaluate()
    assert (snap.train_loss, snap.test_loss) == (fresh.train_loss, fresh.test_loss)
    assert snap.train_loss != latest.train_loss


def test_a_frame_ends_when_training_stops_for_its_deadline():
    """At full speed the trainer may stop a little before the frame's deadline (the
    compiled engine does, rather than start a call that would be mostly overhead); the
    snapshot is then due at once, not after another sliver of training."""
    session = _session(frame_interval=1.0)
    real_run = session.trainer.run
    runs = []

    def stops_early(n, deadline=None):  # as if the deadline had come after 3 steps
        runs.append(n)
        return real_run(min(n, 3))

    session.trainer.run = stops_early
    with running(session) as driver:
        driver.send(SetSpeed(None), Play())
        start = time.perf_counter()
        driver.wait_for(lambda s: s.running and s.step >= 9)
        elapsed = time.perf_counter() - start
    assert elapsed < 1.0  # three frames, without waiting out their second each
    assert len(runs) <= len(driver.received) + 1
