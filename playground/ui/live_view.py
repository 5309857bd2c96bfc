"""Draws the newest snapshot, at most once per frame, on the GUI thread.

The controller hands over every snapshot; this keeps only the latest and draws it from a
single-shot timer, so several snapshots arriving between two frames cost one drawing and
the event loop is never blocked by a backlog. History plots read the worker's history
buffers, which already hold every record, so skipped snapshots lose nothing.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot

from playground.experiment.build import PreparedData
from playground.experiment.session import Snapshot
from playground.ui.controller import TrainingController
from playground.ui.plots import BoundaryPlot, GradientPlot, LossPlot, UnitHealthPlot
from playground.ui.status_bar import TrainingStatusBar

#: The shortest time between two drawn frames (60 Hz).
MIN_FRAME_SECONDS = 1.0 / 60.0
#: While training, the history plots (loss curves, gradient curves, unit health) take
#: turns, one per frame: they change slowly, painting them costs the most, and Qt paints
#: every view of a window in one go, so three at once would stall the event loop for
#: their sum. The boundary, the gradient bars and the status bar follow every frame.
HISTORY_TURNS = 3


class LiveView(QObject):
    """Connects the controller's snapshots to the plots and the status bar."""

    frameDrawn = Signal(int)  # the step drawn

    def __init__(
        self,
        controller: TrainingController,
        boundary: BoundaryPlot,
        loss: LossPlot,
        gradients: GradientPlot,
        unit_health: UnitHealthPlot,
        status: TrainingStatusBar,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.boundary = boundary
        self.loss = loss
        self.gradients = gradients
        self.unit_health = unit_health
        self.status = status
        self.frames_drawn = 0
        self._pending: Snapshot | None = None
        self._last_draw = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.draw)
        controller.set_frame_pacing(True)
        controller.snapshotReady.connect(self._on_snapshot)
        controller.dataReady.connect(self._on_data)
        controller.historyReset.connect(self._on_history_reset)

    # ------------------------------------------------------------------ frame pacing
    def _paint_then_release(self) -> None:
        """Paint the frame now, while the worker waits for it (see ui.worker), then let
        the worker train on. pyqtgraph's scenes note their changes in queued calls and
        Qt paints a window on a later update request; both are delivered here instead,
        so the whole frame is painted before the worker takes the GIL back."""
        window = self.boundary.window()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.MetaCall)
        QCoreApplication.sendPostedEvents(window, QEvent.Type.UpdateRequest)
        self.controller.frame_drawn()

    # ------------------------------------------------------------------ snapshots
    @Slot(object)
    def _on_snapshot(self, snap: Snapshot) -> None:
        self._pending = snap
        if not self._timer.isActive():
            wait = MIN_FRAME_SECONDS - (time.perf_counter() - self._last_draw)
            self._timer.start(max(0, int(wait * 1000)))

    @Slot(object)
    def _on_data(self, data: PreparedData) -> None:
        self.boundary.set_data(data)
        self.loss.set_task(data.is_classification)

    @Slot()
    def _on_history_reset(self) -> None:
        self._pending = None
        self.loss.reset()
        self.gradients.reset()
        self.status.clear_values()

    @Slot()
    def draw(self) -> None:
        """Draw the newest snapshot, if one arrived since the last frame."""
        snap, self._pending = self._pending, None
        if snap is None:
            return
        history = self.controller.history
        turn = self.frames_drawn % HISTORY_TURNS if snap.running else None
        self.boundary.update_from(snap)
        self.gradients.update_from(snap, history if turn in (None, 0) else None)
        if turn in (None, 1):
            self.loss.update_from(history)
        if turn in (None, 2):
            self.unit_health.update_from(snap)
        self.status.update_from(snap)
        if snap.running:
            self._paint_then_release()
        self._last_draw = time.perf_counter()
        self.frames_drawn += 1
        self.frameDrawn.emit(snap.step)
