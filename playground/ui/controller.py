"""The window's model of a run: the current experiment and the worker that trains it.

Every change of the experiment comes through :meth:`TrainingController.set_experiment`,
which makes the one decision the design asks for (DESIGN.md, "Thread model"):

* data, network or seed changed -> the weights must start again: stop the worker, start a
  fresh one from the same seed, and say so (``resetHappened`` names what changed);
* only training settings changed -> send them to the running session (``SetTraining``):
  the weights, the step count and the optimizer state carry on.

The controller knows nothing about widgets; the window listens to its signals.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from playground.experiment.build import PreparedData, needs_reset
from playground.experiment.config import Experiment
from playground.experiment.session import (
    Pause,
    Play,
    SetSpeed,
    SetTraining,
    SetViews,
    Snapshot,
    Step,
)
from playground.ui.history import History
from playground.ui.worker import TrainingWorker

#: What a reset can be caused by, in the order they are named.
RESET_CAUSES = ("data", "network", "seed")


def reset_reason(old: Experiment, new: Experiment) -> str:
    """Which of data, network and seed differ, in words: "network", "data and seed"."""
    changed = [name for name in RESET_CAUSES if getattr(old, name) != getattr(new, name)]
    if not changed:
        return "settings"
    if len(changed) == 1:
        return changed[0]
    return ", ".join(changed[:-1]) + " and " + changed[-1]


def divergence_advice(message: str, experiment: Experiment) -> str:
    """The session's divergence message plus what a learner can do about it."""
    training = experiment.training
    lr = training.optimizer.learning_rate
    tips = [f"lower the learning rate (try {lr / 10:.3g} instead of {lr:.3g})"]
    if training.batch_size < 32:
        tips.append(
            f"use a larger batch size (now {training.batch_size}): averaging the gradient "
            "over more points makes each step steadier"
        )
    if training.optimizer.name == "sgd" and training.optimizer.momentum >= 0.9:
        tips.append("use less momentum")
    tips.append("then press Reset (R) to start again from fresh weights")
    return f"{message} What to try: " + "; ".join(tips) + "."


class TrainingController(QObject):
    """Holds the current :class:`Experiment` and the worker training it."""

    snapshotReady = Signal(object)  # Snapshot
    dataReady = Signal(object)  # PreparedData, once per (re)started session
    historyReset = Signal()  # a new session started: history plots start empty
    experimentChanged = Signal(object)  # Experiment
    resetHappened = Signal(str)  # what changed: "data", "network", "seed", "data and seed"
    runningChanged = Signal(bool)
    diverged = Signal(str)  # what happened and what to try
    trainingStopped = Signal(str)  # early stopping or the step limit ended the run
    notice = Signal(str)  # any other message of the session (e.g. which engine runs)
    errorOccurred = Signal(str)

    def __init__(self, experiment: Experiment | None = None, *, grid_size: int = 200,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._experiment = experiment if experiment is not None else Experiment()
        self._grid_size = grid_size
        self._worker: TrainingWorker | None = None
        self._running = False
        self._speed: int | None = None
        self._views = SetViews()
        self._divergence: str | None = None
        self._data: PreparedData | None = None
        self._empty_history = History()
        self._pace_frames = False

    # ------------------------------------------------------------------ state
    @property
    def experiment(self) -> Experiment:
        return self._experiment

    @property
    def running(self) -> bool:
        return self._running

    @property
    def speed(self) -> int | None:
        return self._speed

    @property
    def latest(self) -> Snapshot | None:
        """The newest snapshot of the current session (None before the first)."""
        return self._worker.latest if self._worker is not None else None

    @property
    def data(self) -> PreparedData | None:
        """The current session's data (None until its first snapshot)."""
        return self._data

    @property
    def history(self) -> History:
        return self._worker.history if self._worker is not None else self._empty_history

    @property
    def divergence(self) -> str | None:
        """The divergence message of the current session, if it diverged."""
        return self._divergence

    @property
    def worker(self) -> TrainingWorker | None:
        return self._worker

    # ------------------------------------------------------------------ experiment
    def start(self) -> None:
        """Start the first session (paused); later sessions start on their own."""
        if self._worker is None:
            self._restart(play=False)

    def set_experiment(self, experiment: Experiment) -> str | None:
        """Apply an edited experiment; returns the reset reason, or None when it applied
        live (or nothing changed)."""
        old = self._experiment
        if experiment == old:
            return None
        self._experiment = experiment
        if needs_reset(old, experiment):
            reason = reset_reason(old, experiment)
            self._restart(play=self._running)
            self.experimentChanged.emit(experiment)
            self.resetHappened.emit(reason)
            return reason
        if self._worker is not None:
            self._worker.send(SetTraining(experiment.training))
        self.experimentChanged.emit(experiment)
        return None

    def open_experiment(self, experiment: Experiment) -> None:
        """Replace the experiment wholesale (a file or preset was opened): fresh, paused."""
        self._experiment = experiment
        self._set_running(False)
        self._restart(play=False)
        self.experimentChanged.emit(experiment)

    # ------------------------------------------------------------------ transport
    def play(self) -> None:
        if self._worker is None or self._divergence is not None:
            # A diverged trainer refuses to step: start again from fresh weights.
            self._restart(play=True)
        else:
            self._worker.send(Play())
        self._set_running(True)

    def pause(self) -> None:
        if self._worker is not None:
            self._worker.send(Pause())
        self._set_running(False)

    def toggle(self) -> None:
        """Play when paused, pause when playing."""
        if self._running:
            self.pause()
        else:
            self.play()

    def step(self, n: int = 1) -> None:
        """Train exactly ``n`` steps, then stay paused."""
        if self._worker is None or self._divergence is not None:
            self._restart(play=False)
        self._set_running(False)
        self._worker.send(Step(n))

    def reset(self) -> None:
        """Start again from the same seed (same data, same initial weights)."""
        self._restart(play=self._running)

    def set_speed(self, steps_per_frame: int | None) -> None:
        """Steps per drawn frame; None trains as fast as it goes."""
        self._speed = steps_per_frame
        if self._worker is not None:
            self._worker.send(SetSpeed(steps_per_frame))

    def set_views(self, boundary: bool = True, neurons: bool = False,
                  inside: bool = False) -> None:
        """What the snapshots compute besides the numbers (see ``SetViews``); the views
        that need neuron heatmaps or hidden values ask only while they are shown."""
        views = SetViews(boundary=boundary, neurons=neurons, inside=inside)
        if views == self._views:
            return
        self._views = views
        if self._worker is not None:
            self._worker.send(views)

    @property
    def views(self) -> SetViews:
        """What the snapshots compute now."""
        return self._views

    def set_frame_pacing(self, on: bool) -> None:
        """Whether the worker waits for :meth:`frame_drawn` after each training frame
        (see ``ui.worker``); the live view turns it on, headless uses leave it off."""
        self._pace_frames = on
        if self._worker is not None:
            self._worker.set_frame_pacing(on)

    def frame_drawn(self) -> None:
        """The view has drawn the latest snapshot."""
        if self._worker is not None:
            self._worker.frame_drawn()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the worker (window closing); True when its thread has ended in time."""
        worker, self._worker = self._worker, None
        self._set_running(False)
        return worker.stop(timeout) if worker is not None else True

    # ------------------------------------------------------------------ internals
    def _restart(self, play: bool) -> None:
        if self._worker is not None:
            self._worker.stop()
        self._divergence = None
        self._data = None
        worker = TrainingWorker(
            self._experiment, speed=self._speed, views=self._views, play=play,
            pace_frames=self._pace_frames, grid_size=self._grid_size,
        )
        worker.snapshotReady.connect(self._on_snapshot)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self.historyReset.emit()
        worker.start()

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.runningChanged.emit(running)

    @Slot(object)
    def _on_snapshot(self, snap: Snapshot) -> None:
        if self.sender() is not self._worker:
            return
        if snap.data is not None:
            self._data = snap.data
            self.dataReady.emit(snap.data)
        self.snapshotReady.emit(snap)
        for event in snap.events:
            if event not in (snap.diverged, snap.stopped):
                self.notice.emit(event)
        if snap.diverged and self._divergence is None:
            self._divergence = divergence_advice(snap.diverged, self._experiment)
            self._set_running(False)
            self.diverged.emit(self._divergence)
        elif snap.finished and not snap.running and self._running:
            self._set_running(False)
            if snap.stopped:
                self.trainingStopped.emit(snap.stopped)
            else:
                self.trainingStopped.emit(f"Reached the step limit ({snap.step} steps).")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self.sender() is not self._worker:
            return
        self._set_running(False)
        self.errorOccurred.emit(message)
