"""TrainingController and TrainingWorker: the run behind the window, without the window."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from playground.experiment.config import LayerConfig, with_path
from playground.experiment.session import Step, TrainingSession
from playground.ui.controller import TrainingController, divergence_advice, reset_reason
from playground.ui.worker import TrainingWorker

WAIT = 20_000  # ms; generous, the machine may be busy


@pytest.fixture
def controller(qtbot, classic):
    c = TrainingController(classic)
    yield c
    assert c.shutdown(timeout=2.0)


def started(qtbot, controller: TrainingController) -> None:
    with qtbot.waitSignal(controller.snapshotReady, timeout=WAIT):
        controller.start()


def wait_for_step(qtbot, controller: TrainingController, step: int) -> None:
    qtbot.waitUntil(lambda: controller.latest is not None and controller.latest.step >= step,
                    timeout=WAIT)


def test_play_trains_and_the_loss_falls(qtbot, controller):
    started(qtbot, controller)
    first = controller.latest
    assert first.step == 0 and first.data is not None
    with qtbot.waitSignal(controller.runningChanged, timeout=WAIT) as running:
        controller.play()
    assert running.args == [True]
    qtbot.waitUntil(lambda: controller.latest.test_loss < 0.5 * first.test_loss, timeout=WAIT)
    controller.pause()
    assert not controller.running
    assert controller.latest.step > 0
    # Every evaluation of the run is in the history, in order.
    table = controller.history.evaluation_table()
    assert len(table) > 0 and np.all(np.diff(table[:, 0]) > 0)


def test_one_step_advances_exactly_one_step(qtbot, controller):
    started(qtbot, controller)
    with qtbot.waitSignal(controller.snapshotReady, timeout=WAIT,
                          check_params_cb=lambda s: s.step == 1):
        controller.step()
    snap = controller.latest
    assert snap.step == 1 and not snap.running
    assert list(snap.steps) == [1]  # exactly one per-step record
    with qtbot.waitSignal(controller.snapshotReady, timeout=WAIT,
                          check_params_cb=lambda s: s.step == 2):
        controller.step()
    assert controller.latest.step == 2


def test_reset_with_the_same_seed_gives_the_same_initial_weights(qtbot, controller):
    started(qtbot, controller)
    initial = [w.copy() for w in controller.latest.weights]
    controller.step(50)
    wait_for_step(qtbot, controller, 50)
    assert not all(np.array_equal(a, b) for a, b in zip(initial, controller.latest.weights))
    with qtbot.waitSignal(controller.historyReset, timeout=WAIT):
        controller.reset()
    qtbot.waitUntil(lambda: controller.latest is not None, timeout=WAIT)
    assert controller.latest.step == 0
    for a, b in zip(initial, controller.latest.weights):
        np.testing.assert_array_equal(a, b)


def test_a_learning_rate_change_applies_live_without_a_reset(qtbot, controller, classic):
    started(qtbot, controller)
    controller.step(100)
    wait_for_step(qtbot, controller, 100)
    before = [w.copy() for w in controller.latest.weights]
    history = controller.history
    faster = with_path(classic, "training.optimizer.learning_rate", 0.1)
    with qtbot.assertNotEmitted(controller.resetHappened), \
            qtbot.assertNotEmitted(controller.historyReset):
        assert controller.set_experiment(faster) is None
        controller.step(10)
        wait_for_step(qtbot, controller, 110)
    snap = controller.latest
    assert snap.step == 110  # kept counting from 100
    assert snap.learning_rate == pytest.approx(0.1)
    assert controller.history is history  # same session, same history
    assert not all(np.array_equal(a, b) for a, b in zip(before, snap.weights))
    assert controller.experiment == faster


def test_a_layer_change_resets_and_says_why(qtbot, controller, classic):
    started(qtbot, controller)
    controller.step(50)
    wait_for_step(qtbot, controller, 50)
    wider = replace(classic, network=replace(
        classic.network, layers=(*classic.network.layers, LayerConfig(units=3))))
    with qtbot.waitSignal(controller.resetHappened, timeout=WAIT) as reset:
        assert controller.set_experiment(wider) == "network"
    assert reset.args == ["network"]
    qtbot.waitUntil(lambda: controller.latest is not None, timeout=WAIT)
    snap = controller.latest
    assert snap.step == 0
    assert len(snap.layer_names) == len(wider.network.layers) + 1
    assert len(controller.history.evaluation_table()) == 0


def test_reset_reason_names_everything_that_changed(classic):
    other = replace(classic, seed=5, data=replace(classic.data, noise=0.2))
    assert reset_reason(classic, other) == "data and seed"
    assert reset_reason(classic, replace(classic, seed=1)) == "seed"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the engine overflowing
def test_divergence_pauses_and_says_what_to_try(qtbot, diverging):
    controller = TrainingController(diverging)
    try:
        started(qtbot, controller)
        with qtbot.waitSignal(controller.diverged, timeout=WAIT) as blocker:
            controller.play()
        message = blocker.args[0]
        assert "diverged" in message
        assert "learning rate" in message and "Reset" in message
        assert not controller.running
        assert controller.divergence == message
    finally:
        assert controller.shutdown()


def test_divergence_advice_suggests_a_smaller_rate(diverging):
    text = divergence_advice("Training diverged at step 4.", diverging)
    assert "0.5" in text  # a tenth of the learning rate of 5
    assert "batch size" in text


def test_an_exception_in_the_session_reaches_the_user(qtbot, classic, monkeypatch):
    def broken(self):
        raise RuntimeError("simulated fault")

    monkeypatch.setattr(TrainingSession, "snapshot", broken)
    controller = TrainingController(classic)
    try:
        with qtbot.waitSignal(controller.errorOccurred, timeout=WAIT) as blocker:
            controller.start()
        assert "simulated fault" in blocker.args[0]
        assert not controller.running
    finally:
        assert controller.shutdown()


def test_shutdown_stops_a_training_worker_within_one_second(qtbot, controller):
    started(qtbot, controller)
    controller.set_speed(None)
    controller.play()
    wait_for_step(qtbot, controller, 20)
    t0 = time.perf_counter()
    assert controller.shutdown(timeout=1.0)
    assert time.perf_counter() - t0 < 1.0


def test_a_stopped_worker_delivers_nothing_more(qtbot, classic):
    worker = TrainingWorker(classic, play=True)
    received = []
    worker.snapshotReady.connect(received.append)
    worker.start()
    qtbot.waitUntil(lambda: len(received) > 0, timeout=WAIT)
    assert worker.stop(timeout=1.0)
    count = len(received)
    worker.send(Step(5))  # ignored after stop
    qtbot.wait(100)  # queued deliveries, if any were left, would arrive now
    assert len(received) == count
    assert not worker.is_running()
    assert len(worker.history.batch_loss) > 0  # the records were kept


def test_a_worker_starts_only_once(qtbot, classic):
    worker = TrainingWorker(classic)
    worker.start()
    try:
        with pytest.raises(RuntimeError):
            worker.start()
    finally:
        assert worker.stop()


def test_session_messages_reach_the_user_once(qtbot, classic, monkeypatch):
    original = TrainingSession.snapshot

    def with_event(self):
        self._events.append("Training runs on the numpy engine: a test reason.")
        return original(self)

    monkeypatch.setattr(TrainingSession, "snapshot", with_event)
    controller = TrainingController(classic)
    try:
        with qtbot.waitSignal(controller.notice, timeout=WAIT) as blocker:
            controller.start()
        assert blocker.args == ["Training runs on the numpy engine: a test reason."]
    finally:
        assert controller.shutdown()
