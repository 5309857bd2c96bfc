"""Background threads for the Experiments dialogs, reporting back through Qt signals.

Both workers run a plain ``threading.Thread`` (numpy and joblib never touch a Qt event
loop there) and emit private signals that Qt queues to the thread owning the worker, the
GUI thread. ``stop`` sets an event the loop checks between short pieces of work and
joins the thread; after it nothing more is delivered. Failures arrive as ``failed``.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from playground.experiment.sweep import (
    GALLERY_BOUNDARY_SIZE,
    RunRecord,
    SweepSpec,
    run_sweep,
)
from playground.ui.experiments.compare_runner import CompareSession

COMPARE_THREAD = "playground-compare"
SWEEP_THREAD = "playground-sweep"
#: Rounds per second the comparison reports at most (each report draws every variant).
COMPARE_FPS = 10.0


class _ThreadWorker(QObject):
    """A thread, a stop event, and signals queued to the GUI thread."""

    failed = Signal(str)
    finished = Signal()

    _failed = Signal(str)
    _finished = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._failed.connect(self._deliver_failure)
        self._finished.connect(self._deliver_finished)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the loop to stop and wait up to ``timeout`` s; True when it has ended."""
        self._stopped = True
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Ask the loop to stop without waiting (``finished`` follows)."""
        self._stop.set()

    def _main(self) -> None:
        try:
            self._work()
        except Exception as err:  # reaches the user as a message, never silently
            self._failed.emit(f"{type(err).__name__}: {err}")
        finally:
            self._finished.emit()

    def _work(self) -> None:
        raise NotImplementedError

    @Slot(str)
    def _deliver_failure(self, message: str) -> None:
        if not self._stopped:
            self.failed.emit(message)

    @Slot()
    def _deliver_finished(self) -> None:
        if not self._stopped:
            self.finished.emit()


class CompareWorker(_ThreadWorker):
    """Trains a :class:`CompareSession` round-robin; ``statesReady(list[VariantState])``
    about ``COMPARE_FPS`` times a second and once more at the end."""

    statesReady = Signal(object)
    _states = Signal(object)

    def __init__(self, session: CompareSession, parent: QObject | None = None) -> None:
        super().__init__(COMPARE_THREAD, parent)
        self.session = session
        self._states.connect(self._deliver_states)

    def _work(self) -> None:
        s = self.session
        s.build()
        self._states.emit(s.states())
        last = time.perf_counter()
        while not self._stop.is_set() and not s.finished:
            for i in range(len(s.variants)):
                if self._stop.is_set():
                    return
                s.advance_one(i)
            if time.perf_counter() - last >= 1.0 / COMPARE_FPS or s.finished:
                self._states.emit(s.states())
                last = time.perf_counter()

    @Slot(object)
    def _deliver_states(self, states: object) -> None:
        if not self._stopped:
            self.statesReady.emit(states)


class SweepWorker(_ThreadWorker):
    """Runs :func:`run_sweep`; ``recordReady(done, total, RunRecord)`` per finished run,
    then ``finished``. Cancelling stops the runs in progress within a fraction of a second
    (they are left out of the results) and starts no more."""

    recordReady = Signal(int, int, object)
    _record = Signal(int, int, object)

    def __init__(self, spec: SweepSpec, jobs: int = 1, *,
                 boundary_size: int = GALLERY_BOUNDARY_SIZE,
                 parent: QObject | None = None) -> None:
        super().__init__(SWEEP_THREAD, parent)
        self.spec = spec
        self.jobs = jobs
        self.boundary_size = boundary_size
        self._record.connect(self._deliver_record)

    def _work(self) -> None:
        run_sweep(self.spec, jobs=self.jobs, cancel=self._stop,
                  boundary_size=self.boundary_size,
                  progress=lambda done, total, record: self._record.emit(done, total, record))

    @Slot(int, int, object)
    def _deliver_record(self, done: int, total: int, record: RunRecord) -> None:
        if not self._stopped:
            self.recordReady.emit(done, total, record)
