"""What the views that look inside the network have in common.

The network view, the activation explorer and the diagnostics view each live in a dock
the learner may close. What they need from the worker (neuron heatmaps, samples of the
hidden values) costs training time, so each view says what it needs and reports when it
is shown or hidden; the live view asks the worker for the union of what the shown views
need, and draws each shown view at its own pace (``refresh_seconds``) while training.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QWidget

from playground.engine import NetworkSpec
from playground.experiment.build import PreparedData
from playground.experiment.session import Snapshot
from playground.ui.history import History


class InsideView(QWidget):
    """Base class: visibility reporting and the drawing interface the live view calls."""

    shownChanged = Signal(bool)

    #: Whether snapshots must carry neuron heatmaps (``SetViews.neurons``) ...
    needs_neurons = False
    #: ... or samples of the hidden values and unit health (``SetViews.inside``).
    needs_inside = False
    #: The shortest time between two drawings while training.
    refresh_seconds = 0.1

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.shownChanged.emit(True)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        super().hideEvent(event)
        self.shownChanged.emit(False)

    def set_network(self, spec: NetworkSpec, data: PreparedData) -> None:
        """A session started on this network and data (called before its snapshots)."""

    def reset(self) -> None:
        """A new session: forget what the previous one showed."""

    def update_from(self, snapshot: Snapshot, history: History) -> None:
        """Draw the newest snapshot."""
