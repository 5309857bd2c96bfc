"""Draws the newest snapshot, at most once per frame, on the GUI thread.

The controller hands over every snapshot; this keeps only the latest and draws it from a
single-shot timer, so several snapshots arriving between two frames cost one drawing and
the event loop is never blocked by a backlog. History plots read the worker's history
buffers, which already hold every record, so skipped snapshots lose nothing.

The views that look inside the network (``ui.views``) are attached here too. Each is
drawn only while it is shown, at most every ``refresh_seconds`` while training, and the
worker is asked for what the shown ones need (neuron heatmaps, samples of the hidden
values) and for nothing while none is shown. A unit picked in the network view replaces
the network's output in the boundary plot (``set_unit_source``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot

from playground.experiment.build import PreparedData, network_spec
from playground.experiment.config import ConfigError
from playground.experiment.session import Snapshot
from playground.ui.controller import TrainingController
from playground.ui.plots import BoundaryPlot, GradientPlot, LossPlot, UnitHealthPlot
from playground.ui.plots.boundary_plot import UnitImage
from playground.ui.status_bar import TrainingStatusBar
from playground.ui.views.inside_view import InsideView
from playground.ui.worker import PACED_ENGINES

#: The shortest time between two drawn frames (60 Hz).
MIN_FRAME_SECONDS = 1.0 / 60.0
#: While an unpaced engine trains (the compiled one, which releases the GIL in its
#: kernel), a snapshot is drawn no sooner than this after it arrives. After handing it
#: over, the worker spends about a millisecond in Python preparing its next kernel call;
#: drawing in that moment makes both threads take turns at the GIL, which cost the
#: worker 3-4 ms a frame (measured), where drawing a little later costs it nothing.
HANDOFF_SECONDS = 0.003
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
        self._inside: list[InsideView] = []
        self._shown: dict[InsideView, bool] = {}
        self._inside_drawn: dict[InsideView, float] = {}
        self._unit_source: Callable[[Snapshot], UnitImage | None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.draw)
        controller.set_frame_pacing(True)
        controller.snapshotReady.connect(self._on_snapshot)
        controller.dataReady.connect(self._on_data)
        controller.historyReset.connect(self._on_history_reset)

    # ------------------------------------------------------------------ inside views
    def attach(self, view: InsideView) -> None:
        """Draw ``view`` as well, while it is shown (see the module docstring)."""
        self._inside.append(view)
        self._shown[view] = view.isVisible()
        self._inside_drawn[view] = 0.0
        view.shownChanged.connect(lambda shown, v=view: self._on_shown(v, shown))
        data = self.controller.data
        if data is not None:
            self._set_network(view, data)
        self._request_views()

    def set_unit_source(self, source: Callable[[Snapshot], UnitImage | None] | None) -> None:
        """Where the boundary plot gets a unit to show instead of the network's output
        (the source returns None to show the output)."""
        self._unit_source = source

    @Slot()
    def redraw(self) -> None:
        """Draw the latest snapshot again now (the choice of what to show changed)."""
        latest = self.controller.latest
        if latest is not None:
            self._pending = latest
            for view in self._inside:
                self._inside_drawn[view] = 0.0
            self.draw()

    def _on_shown(self, view: InsideView, shown: bool) -> None:
        if self._shown.get(view) == shown:
            return
        self._shown[view] = shown
        self._request_views()
        if shown:
            self._inside_drawn[view] = 0.0
            latest = self.controller.latest
            if latest is not None:
                view.update_from(latest, self.controller.history)

    def _request_views(self) -> None:
        shown = [v for v in self._inside if self._shown.get(v)]
        self.controller.set_views(
            boundary=True,
            neurons=any(v.needs_neurons for v in shown),
            inside=any(v.needs_inside for v in shown),
        )

    def _set_network(self, view: InsideView, data: PreparedData) -> None:
        try:
            spec = network_spec(self.controller.experiment, data)
        except (ValueError, ConfigError):  # the experiment changed under the data
            return
        view.set_network(spec, data)

    def _draw_inside(self, snap: Snapshot) -> None:
        """Draw the shown inside views: all of them when training is paused; while it
        runs only the most overdue one per frame, so their costs never pile up in one
        frame (as with the history plots)."""
        now = time.perf_counter()
        shown = [v for v in self._inside if self._shown.get(v)]
        if snap.running:
            overdue = [(now - self._inside_drawn[v] - v.refresh_seconds, i)
                       for i, v in enumerate(shown)]
            due = [i for lateness, i in overdue if lateness >= 0]
            shown = [shown[max(due, key=lambda i: overdue[i][0])]] if due else []
        history = self.controller.history
        for view in shown:
            self._inside_drawn[view] = now
            view.update_from(snap, history)

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
            if snap.running and snap.engine not in PACED_ENGINES:
                wait = max(wait, HANDOFF_SECONDS)
            self._timer.start(max(0, int(wait * 1000)))

    @Slot(object)
    def _on_data(self, data: PreparedData) -> None:
        self.boundary.set_data(data)
        self.loss.set_task(data.is_classification)
        for view in self._inside:
            self._set_network(view, data)

    @Slot()
    def _on_history_reset(self) -> None:
        self._pending = None
        self.loss.reset()
        self.gradients.reset()
        self.status.clear_values()
        for view in self._inside:
            view.reset()
            self._inside_drawn[view] = 0.0

    @Slot()
    def draw(self) -> None:
        """Draw the newest snapshot, if one arrived since the last frame."""
        snap, self._pending = self._pending, None
        if snap is None:
            return
        history = self.controller.history
        turn = self.frames_drawn % HISTORY_TURNS if snap.running else None
        unit = self._unit_source(snap) if self._unit_source is not None else None
        self.boundary.show_unit(unit)
        self.boundary.update_from(snap)
        self._draw_inside(snap)
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
