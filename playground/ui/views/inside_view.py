"""What the views that look inside the network have in common.

The network view, the activation explorer and the diagnostics view each live in a dock
the learner may close. What they need from the worker (neuron heatmaps, samples of the
hidden values) costs training time, so each view says what it needs and reports when it
is shown or hidden; the live view asks the worker for the union of what the shown views
need, and draws each shown view at its own pace (``refresh_seconds``) while training.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QFrame, QTextBrowser, QWidget

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


class TextPanel(QTextBrowser):
    """Rich text that wraps to the dock's width and scrolls when the dock is short, so
    that a long note never squeezes the plots or makes the window grow (a word-wrapped
    label asks for its full height). The text is replaced only when it changes."""

    def __init__(self, lines: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setOpenLinks(False)
        self.setMinimumHeight(lines * self.fontMetrics().lineSpacing() + 10)
        self.viewport().setAutoFillBackground(False)
        self._html = ""

    def set_html(self, html: str) -> None:
        if html != self._html:
            self._html = html
            self.setHtml(html)

    def text(self) -> str:
        """The text shown, without markup."""
        return self.toPlainText()
