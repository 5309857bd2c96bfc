"""The status bar: where the run stands (epoch, step, losses, accuracy, speed, engine)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from playground.experiment.session import Snapshot
from playground.ui import style


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return "∞" if value > 0 else "nan"
    return f"{value:.{digits}g}"


def _percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f}%"


class TrainingStatusBar(QStatusBar):
    """Permanent read-outs of the latest snapshot, plus notices and the divergence alarm."""

    FIELDS = ("epoch", "step", "train_loss", "test_loss", "accuracy", "speed", "engine")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.alarm_label = QLabel()
        self.alarm_label.setStyleSheet(style.ERROR_TEXT_STYLE)
        self.alarm_label.hide()
        self.addWidget(self.alarm_label, 1)
        self.labels: dict[str, QLabel] = {}
        for name in self.FIELDS:
            label = QLabel()
            label.setContentsMargins(6, 0, 6, 0)
            self.labels[name] = label
            self.addPermanentWidget(label)
        metrics = self.fontMetrics()
        for name, widest in (("step", "Step 00,000,000"), ("speed", "000,000 steps/s"),
                             ("train_loss", "Train loss 0.0000"),
                             ("test_loss", "Test loss 0.0000")):
            self.labels[name].setMinimumWidth(metrics.horizontalAdvance(widest) + 12)
        self.labels["train_loss"].setToolTip("Loss over the whole training set (with L1/L2)")
        self.labels["test_loss"].setToolTip("Loss over the held-out test set")
        self.labels["speed"].setToolTip("Training steps per second (worker thread)")
        self.labels["engine"].setToolTip("Which training engine ran the last steps")
        self.clear_values()

    def clear_values(self) -> None:
        for name, text in (("epoch", "Epoch –"), ("step", "Step 0"), ("train_loss", "Train loss –"),
                           ("test_loss", "Test loss –"), ("accuracy", "Test accuracy –"),
                           ("speed", "– steps/s"), ("engine", "")):
            self.labels[name].setText(text)

    def update_from(self, snap: Snapshot) -> None:
        self.labels["epoch"].setText(f"Epoch {snap.epoch}")
        self.labels["step"].setText(f"Step {snap.step:,}")
        self.labels["train_loss"].setText(f"Train loss {_number(snap.train_loss)}")
        self.labels["test_loss"].setText(f"Test loss {_number(snap.test_loss)}")
        if snap.test_accuracy is None and snap.train_accuracy is None:
            self.labels["accuracy"].setText("")
        else:
            self.labels["accuracy"].setText(
                f"Accuracy {_percent(snap.train_accuracy)} / {_percent(snap.test_accuracy)} test")
        rate = f"{snap.steps_per_second:,.0f} steps/s" if snap.running else "paused"
        self.labels["speed"].setText(rate)
        self.labels["engine"].setText(f"engine: {snap.engine}")
        note = getattr(snap, "engine_note", None)  # why the numpy path ran, if it did
        self.labels["engine"].setToolTip(note or "Which training engine ran the last steps")

    def show_notice(self, text: str, msec: int = 6000) -> None:
        self.showMessage(text, msec)

    def show_alarm(self, text: str) -> None:
        """A persistent red message (divergence) until :meth:`clear_alarm`."""
        self.clearMessage()
        self.alarm_label.setText(text)
        self.alarm_label.setToolTip(text)
        self.alarm_label.show()

    def clear_alarm(self) -> None:
        self.alarm_label.hide()
        self.alarm_label.clear()

    def alarm_text(self) -> str:
        return self.alarm_label.text() if not self.alarm_label.isHidden() else ""
