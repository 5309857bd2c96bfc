"""The worker thread that trains: one :class:`TrainingSession` per worker.

The session (Qt-free) does the training; this class gives it a thread, a command queue and
a way to report back to the window:

* Commands go in through a ``queue.SimpleQueue`` (``send``). The thread is a plain
  ``threading.Thread`` so that the session's blocking ``queue.get`` and the numpy work in
  it never touch a Qt event loop.
* Snapshots come out through ``snapshotReady``, always delivered on the thread that owns
  the worker (the GUI thread): the worker thread emits a private signal that Qt queues
  across threads. After :meth:`stop` nothing more is delivered, so a snapshot of a run
  that was just replaced can never reach the plots.
* Every snapshot's records go into :attr:`history` on the worker thread before the
  snapshot is handed over, so dropping frames for drawing loses no history.
* An exception in the session becomes ``failed(message)``: the thread never dies silently.
* Frame pacing (optional): after handing over a snapshot while training, the thread
  waits, for at most ``MAX_FRAME_WAIT`` seconds, until the window reports the frame drawn
  (``frame_drawn``). Both threads need the GIL; when they take turns at it Python hands
  it over thousands of times a second and each side waits on the other, so a frame that
  paints in 8 ms alone took 50 ms or more while training ran (measured). Drawing while
  the worker waits is fast, and the worker then trains undisturbed until the next frame.
  Only engines that hold the GIL while training are paced (``PACED_ENGINES``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal, Slot

from playground.experiment.config import Experiment
from playground.experiment.session import (
    Command,
    Play,
    SetSpeed,
    SetViews,
    Snapshot,
    Stop,
    TrainingSession,
)
from playground.ui.history import History

log = logging.getLogger(__name__)

#: Snapshots per second the worker aims at while training (the window draws each one).
TARGET_FPS = 32.0
#: The longest the worker waits for the window to draw a frame (pacing is on).
MAX_FRAME_WAIT = 0.05
#: Engines that hold the GIL while they train and so are paced. The compiled engine
#: releases it, and then the window draws while training goes on.
PACED_ENGINES = ("numpy",)
#: How long a thread may keep the GIL while another waits for it. The training thread
#: runs Python almost without pause; at the default 5 ms every Python callback that Qt
#: makes while painting would wait up to 5 ms, so the window would stutter.
GIL_SWITCH_SECONDS = 0.0005


class TrainingWorker(QObject):
    """Runs ``TrainingSession.run`` for one experiment on a thread of its own."""

    snapshotReady = Signal(object)  # Snapshot, on the GUI thread
    failed = Signal(str)  # a message for the user, on the GUI thread

    _delivered = Signal(object)  # emitted on the worker thread, queued to the GUI thread
    _crashed = Signal(str)

    def __init__(
        self,
        experiment: Experiment,
        *,
        speed: int | None = None,
        views: SetViews | None = None,
        play: bool = False,
        pace_frames: bool = False,
        grid_size: int = 200,
        target_fps: float = TARGET_FPS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.experiment = experiment
        self.history = History()
        self._views = views if views is not None else SetViews()
        self._grid_size = grid_size
        self._period = 1.0 / target_fps
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._latest: Snapshot | None = None
        self._pace_frames = pace_frames
        self._drawn = threading.Event()
        self._delivered.connect(self._deliver)
        self._crashed.connect(self._report_failure)
        self._commands.put(SetSpeed(speed))
        if play:
            self._commands.put(Play())

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("a TrainingWorker can be started only once")
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_SECONDS))
        self._thread = threading.Thread(
            target=self._run, name="playground-training", daemon=False
        )
        self._thread.start()

    def send(self, cmd: Command) -> None:
        """Queue a command for the session (ignored once the worker is stopped)."""
        if not self._stopped:
            self._commands.put(cmd)

    def set_frame_pacing(self, on: bool) -> None:
        """Whether to wait for :meth:`frame_drawn` after each training frame."""
        self._pace_frames = on
        self._drawn.set()

    def frame_drawn(self) -> None:
        """The window has drawn the latest snapshot: training may go on (pacing)."""
        self._drawn.set()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the session to stop and wait for the thread; True when it has ended."""
        self._stopped = True
        self._drawn.set()
        self._commands.put(Stop())
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def latest(self) -> Snapshot | None:
        """The most recent snapshot delivered to the GUI thread."""
        return self._latest

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        try:
            session = TrainingSession(
                self.experiment, grid_size=self._grid_size, views=self._views,
                frame_interval=self._period,
            )
            pacer = _FramePacer(session, self._period)

            def emit(snap: Snapshot) -> None:
                pacer.emitted(snap)
                self.history.append(snap)
                if self._stopped:
                    return
                self._drawn.clear()
                self._delivered.emit(snap)
                if self._pace_frames and snap.running and snap.engine in PACED_ENGINES:
                    self._drawn.wait(MAX_FRAME_WAIT)

            with single_threaded_blas():
                session.run(self._commands, emit)
        except Exception as err:  # the user must hear about it; the log keeps the traceback
            log.exception("training worker failed")
            if not self._stopped:
                self._crashed.emit(_failure_message(err))

    # ------------------------------------------------------------------ GUI thread
    @Slot(object)
    def _deliver(self, snap: Snapshot) -> None:
        if self._stopped:
            return
        self._latest = snap
        self.snapshotReady.emit(snap)

    @Slot(str)
    def _report_failure(self, message: str) -> None:
        if not self._stopped:
            self.failed.emit(message)


class _FramePacer:
    """Keeps the time between snapshots near ``period`` while training.

    The session waits ``frame_interval`` after the previous snapshot was *sent*, so the
    time it takes to build a snapshot (the 200x200 boundary, the diagnostics) comes on
    top. This measures the real spacing and trims ``frame_interval`` to make up for it.
    """

    def __init__(self, session: TrainingSession, period: float) -> None:
        self.session = session
        self.period = period
        self._last = 0.0
        self._steps = -1

    def emitted(self, snap: Snapshot) -> None:
        now = time.perf_counter()
        spacing = now - self._last
        training = snap.running and snap.step != self._steps
        if training and spacing < 4 * self.period:
            interval = self.session.frame_interval + 0.5 * (self.period - spacing)
            self.session.frame_interval = min(self.period, max(0.25 * self.period, interval))
        self._last, self._steps = now, snap.step


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """One BLAS thread while training: the worker's matrices are small, and a second
    OpenBLAS thread spins on the second core between calls, stealing it from the window
    (measured: training with the window open went from ~1,000 to ~4,000 steps/s).
    threadpoolctl comes with scikit-learn; without it nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _failure_message(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return (f"Training stopped because of an internal error: {text}. "
            "Your settings are kept; press Reset to try again.")
