"""Small widgets the editing panels share, and the base class that holds the panel contract.

The contract (see ``ExperimentPanel``): a panel shows one :class:`Experiment`, turns each
user edit into a new validated experiment, emits it, and never emits an invalid one. Every
rule about what is valid lives in ``playground.experiment.config``; the panels only catch
its :class:`ConfigError` and show the message inline.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QObject,
    QRegularExpression,
    QSignalBlocker,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QRegularExpressionValidator, QTextDocumentFragment
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.experiment.config import ConfigError, Experiment, with_path

#: Delay before a burst of slider or spin-box changes becomes one edit: long enough that
#: dragging or holding an arrow does not restart training dozens of times, short enough
#: to feel immediate.
DEBOUNCE_MS = 200

ERROR_COLOR = "#b3261e"
NOTE_COLOR = "#4a4a4a"

_FLOAT_PATTERN = r"[-+]?[0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]*)?"
_INT_PATTERN = r"[0-9]{0,10}"

_FIELD_LABELS = {
    "n_samples": "Number of points",
    "noise": "Noise",
    "n_classes": "Classes",
    "test_fraction": "Test share",
    "features": "Input features",
    "points": "Imported points",
    "seed": "Seed",
    "units": "units",
    "alpha": "alpha",
    "dropout": "dropout",
    "output": "Output",
    "init": "Initializer",
    "learning_rate": "Learning rate",
    "beta1": "Beta 1",
    "beta2": "Beta 2",
    "epsilon": "Epsilon",
    "rho": "Rho",
    "weight_decay": "Weight decay",
    "batch_size": "Batch size",
    "l1": "L1",
    "l2": "L2",
    "min_delta": "Minimum improvement",
    "max_steps": "Stop at step",
    "eval_every": "Evaluate every",
    "min_factor": "Minimum factor",
}


def format_number(value: float) -> str:
    """Shortest readable text for a setting: 0.03, 1e-8, 250 (never 1e-08 or 250.0)."""
    text = f"{value:.10g}"
    mantissa, sep, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if sep else text


def field_label(path: str) -> str:
    """A reader's name for a config field path: "network.layers[1].alpha" -> "Layer 2 alpha"."""
    if not path:
        return "Experiment"
    last = path.rsplit(".", 1)[-1]
    name = re.sub(r"\[\d+\]$", "", last)
    label = _FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
    layer = re.search(r"layers\[(\d+)\]", path)
    if layer and name != "layers":
        return f"Layer {int(layer.group(1)) + 1} {label}"
    return label


def describe_error(err: ConfigError) -> str:
    """Rich text for the inline message: the field's name and path, then the problem."""
    if not err.path:
        return html.escape(err.message)
    return (
        f"<b>{html.escape(field_label(err.path))}</b> "
        f"<span style='color:#777'>({html.escape(err.path)})</span>: {html.escape(err.message)}"
    )


class MessageLabel(QLabel):
    """The line at the bottom of a panel: a red error about the last rejected edit, or a
    grey note about something the panel did on the user's behalf. Hidden when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panelMessage")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setContentsMargins(8, 4, 8, 6)
        self._kind = ""
        self.hide()

    @property
    def kind(self) -> str:
        """"error", "note" or "" when nothing is shown."""
        return self._kind

    def plain_text(self) -> str:
        """The message without its markup."""
        return QTextDocumentFragment.fromHtml(self.text()).toPlainText()

    def show_error(self, text: str) -> None:
        self._show(text, "error", ERROR_COLOR, "#fdecea")

    def show_note(self, text: str) -> None:
        self._show(text, "note", NOTE_COLOR, "#eef3f8")

    def clear_message(self) -> None:
        self._kind = ""
        self.clear()
        self.hide()

    def _show(self, text: str, kind: str, color: str, background: str) -> None:
        self._kind = kind
        self.setStyleSheet(
            f"QLabel#panelMessage {{ color: {color}; background: {background};"
            f" border-top: 1px solid {color}; }}"
        )
        self.setText(text)
        self.show()


class Debouncer(QObject):
    """Calls ``callback`` with the latest arguments once the triggers stop for a while."""

    def __init__(
        self, callback: Callable[..., Any], delay_ms: int = DEBOUNCE_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._callback = callback
        self._args: tuple[Any, ...] = ()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._fire)

    def trigger(self, *args: Any) -> None:
        self._args = args
        self._timer.start()

    def flush(self) -> None:
        """Run a pending call now (e.g. when a slider is released)."""
        if self._timer.isActive():
            self._timer.stop()
            self._fire()

    def cancel(self) -> None:
        self._timer.stop()

    def is_pending(self) -> bool:
        return self._timer.isActive()

    def _fire(self) -> None:
        args, self._args = self._args, ()
        self._callback(*args)


class NumberEdit(QLineEdit):
    """An entry for one exact number, in plain or scientific notation (0.03, 3e-2).

    The validator only keeps out characters that cannot be part of a number; anything
    typed is parsed when editing finishes, so an incomplete entry such as "3e" gets a
    message (``textRejected``) instead of silently staying in the box. ``None`` shows an
    empty box (a setting that does not apply).
    """

    valueEdited = Signal(object)
    textRejected = Signal(str)

    def __init__(self, integer: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._integer = integer
        self._value: float | int | None = None
        pattern = _INT_PATTERN if integer else _FLOAT_PATTERN
        self.setValidator(QRegularExpressionValidator(QRegularExpression(pattern), self))
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.editingFinished.connect(self._finish)

    def value(self) -> float | int | None:
        return self._value

    def setValue(self, value: float | int | None) -> None:  # noqa: N802 - Qt naming
        self._value = value
        text = "" if value is None else str(value) if self._integer else format_number(value)
        with QSignalBlocker(self):
            self.setText(text)
            self.setCursorPosition(0)

    def _finish(self) -> None:
        text = self.text().strip()
        try:
            value: float | int = int(text) if self._integer else float(text)
        except ValueError:
            self.setValue(self._value)
            self.textRejected.emit(text)
            return
        if value == self._value:
            self.setValue(self._value)
            return
        self.valueEdited.emit(value)


class SliderSpin(QWidget):
    """A slider with a spin box beside it, both showing one value (e.g. noise in %).

    The slider may cover less than the spin box (TensorFlow Playground's noise slider
    stops at 50 % while files may hold up to 100 %). Dragging only updates the spin box;
    the edit is emitted when the slider is released, and bursts of keyboard, wheel or
    arrow changes are debounced into one edit.
    """

    valueEdited = Signal(float)

    def __init__(
        self,
        minimum: float,
        slider_maximum: float,
        spin_maximum: float,
        decimals: int = 0,
        suffix: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._scale = 10**decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(minimum * self._scale), round(slider_maximum * self._scale))
        self.slider.setPageStep(5 * self._scale)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(minimum, spin_maximum)
        self.spin.setDecimals(decimals)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.spin.setFixedWidth(76)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self._debounce = Debouncer(self._emit_current, parent=self)
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(self._emit_now)
        self.spin.valueChanged.connect(self._spin_changed)

    def value(self) -> float:
        return self.spin.value()

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt naming
        self._debounce.cancel()
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.spin.setValue(value)
            self.slider.setValue(round(value * self._scale))

    def cancel_pending(self) -> None:
        self._debounce.cancel()

    def _slider_moved(self, position: int) -> None:
        with QSignalBlocker(self.spin):
            self.spin.setValue(position / self._scale)
        if not self.slider.isSliderDown():
            self._debounce.trigger()

    def _spin_changed(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(value * self._scale))
        self._debounce.trigger()

    def _emit_now(self) -> None:
        self._debounce.cancel()
        self._emit_current()

    def _emit_current(self) -> None:
        self.valueEdited.emit(self.spin.value())


class LogSlider(QWidget):
    """A log-scale slider plus an exact entry, kept in sync (for the learning rate).

    The slider covers ``[low, high]`` with ``steps_per_decade`` positions per factor of
    ten, so its middle is the geometric mean ``sqrt(low * high)``; a slider value is
    rounded to three significant digits (0.0316, not 0.031622776...). The entry takes
    any exact number, also outside the slider's range, and the experiment's validation
    decides whether it is allowed.
    """

    valueEdited = Signal(float)
    textRejected = Signal(str)

    def __init__(
        self, low: float, high: float, steps_per_decade: int = 100,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if not 0 < low < high:
            raise ValueError(f"LogSlider needs 0 < low < high, got {low}, {high}")
        self._log_low = math.log10(low)
        self._steps = steps_per_decade
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round((math.log10(high) - self._log_low) * steps_per_decade))
        self.slider.setPageStep(steps_per_decade // 2)
        self.entry = NumberEdit()
        self.entry.setFixedWidth(76)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.entry)
        self._debounce = Debouncer(self._emit_slider, parent=self)
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(self._emit_now)
        self.entry.valueEdited.connect(lambda v: self.valueEdited.emit(float(v)))
        self.entry.textRejected.connect(self.textRejected)

    def value_at(self, position: int) -> float:
        """The value a slider position stands for, to three significant digits."""
        exact = 10 ** (self._log_low + position / self._steps)
        return float(f"{exact:.3g}")

    def position_of(self, value: float) -> int:
        if value <= 0:
            return self.slider.minimum()
        position = round((math.log10(value) - self._log_low) * self._steps)
        return min(max(position, self.slider.minimum()), self.slider.maximum())

    def value(self) -> float:
        return float(self.entry.value() or 0.0)

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt naming
        self._debounce.cancel()
        self.entry.setValue(value)
        with QSignalBlocker(self.slider):
            self.slider.setValue(self.position_of(value))

    def cancel_pending(self) -> None:
        self._debounce.cancel()

    def _slider_moved(self, position: int) -> None:
        shown = self.value_at(position)
        with QSignalBlocker(self.entry):
            self.entry.setText(format_number(shown))
        if not self.slider.isSliderDown():
            self._debounce.trigger()

    def _emit_now(self) -> None:
        self._debounce.cancel()
        self._emit_slider()

    def _emit_slider(self) -> None:
        self.valueEdited.emit(self.value_at(self.slider.value()))


def make_spin(minimum: int, maximum: int, step: int = 1, suffix: str = "") -> QSpinBox:
    """An integer spin box that reports a value only when editing is done (no per-key)."""
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setKeyboardTracking(False)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


def make_fraction_spin(
    minimum: float, maximum: float, step: float, decimals: int = 3
) -> QDoubleSpinBox:
    """A spin box for a number in a small range (momentum, dropout, decay factors)."""
    spin = QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    spin.setKeyboardTracking(False)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


def make_form(group: QGroupBox | QWidget) -> QFormLayout:
    """A form whose long rows wrap under their label in a narrow dock."""
    form = QFormLayout(group)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(6)
    return form


def set_value_quietly(widget: QWidget, value: Any) -> None:
    """Show ``value`` in a standard editor without it reporting a user edit."""
    with QSignalBlocker(widget):
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.setValue(value)
        elif hasattr(widget, "setChecked"):
            widget.setChecked(bool(value))
        else:
            raise TypeError(f"set_value_quietly does not know {type(widget).__name__}")


class ExperimentPanel(QWidget):
    """Base of the three editing panels: the contract, scrolling and the inline message.

    Subclasses build their editors into ``body_layout`` and implement ``_refresh`` (show
    an experiment in the widgets). Editors call ``_commit`` with a function that derives
    the new experiment from the current one; a :class:`ConfigError` from it is shown
    inline, the widgets go back to the current experiment and nothing is emitted.
    """

    #: A new, valid experiment after a user edit.
    experimentEdited = Signal(object)

    def __init__(self, experiment: Experiment | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._experiment = experiment if experiment is not None else Experiment()
        self._refreshing = False
        self._debouncers: list[Debouncer] = []
        self._sliders: list[SliderSpin | LogSlider] = []

        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(8, 8, 8, 8)
        self.body_layout.setSpacing(10)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll_area.setWidget(self.body)
        self.message_label = MessageLabel()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.scroll_area, 1)
        outer.addWidget(self.message_label)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Wide enough for every editor without a horizontal scroll bar (docks open at
        this width); the height is whatever the dock gives, the body scrolls."""
        body = self.body.minimumSizeHint().width()
        scroll_bar = self.scroll_area.verticalScrollBar().sizeHint().width()
        return QSize(max(body + scroll_bar + 4, 300), 560)

    # -- the contract ------------------------------------------------------------------

    def experiment(self) -> Experiment:
        """The experiment the panel currently shows."""
        return self._experiment

    def set_experiment(self, experiment: Experiment) -> None:
        """Show ``experiment`` in every widget without emitting ``experimentEdited``."""
        for debouncer in self._debouncers:
            debouncer.cancel()
        for slider in self._sliders:
            slider.cancel_pending()
        if experiment != self._experiment:
            self.message_label.clear_message()
        self._experiment = experiment
        self._remember(experiment)
        self._refresh_widgets()

    # -- for subclasses ----------------------------------------------------------------

    def _refresh(self, experiment: Experiment) -> None:
        raise NotImplementedError

    def _remember(self, experiment: Experiment) -> None:
        """Hook: keep settings the config drops (e.g. another optimizer's values)."""

    def _refresh_widgets(self) -> None:
        self._refreshing = True
        try:
            self._refresh(self._experiment)
        finally:
            self._refreshing = False

    def _commit(self, change: Callable[[Experiment], Experiment], where: str = "") -> bool:
        """Apply a user edit; emit the new experiment if it is valid and different.

        ``where`` is the path of the object ``change`` builds directly, so that an error
        raised by a nested dataclass still names the full field path.
        """
        if self._refreshing:
            return False
        try:
            new = change(self._experiment)
        except ConfigError as err:
            self.show_error(err.within(where) if where else err)
            self._refresh_widgets()
            return False
        self.message_label.clear_message()
        if new == self._experiment:
            self._refresh_widgets()
            return False
        self._experiment = new
        self._remember(new)
        self._refresh_widgets()
        self.experimentEdited.emit(new)
        return True

    def _set_path(self, path: str, value: Any) -> bool:
        return self._commit(lambda e: with_path(e, path, value))

    def _reject_text(self, path: str, text: str, expected: str = "a number") -> None:
        """Inline message for an entry whose text is not a number at all."""
        shown = f"'{text}'" if text else "an empty entry"
        self.show_error(ConfigError(path, f"{shown} is not {expected}; the value was kept"))

    def show_error(self, err: ConfigError) -> None:
        self.message_label.show_error(describe_error(err))

    def _debouncer(self, callback: Callable[..., Any]) -> Debouncer:
        debouncer = Debouncer(callback, parent=self)
        self._debouncers.append(debouncer)
        return debouncer

    def _track_slider(self, slider: SliderSpin | LogSlider) -> None:
        self._sliders.append(slider)

    def _align_forms(self) -> None:
        """Give the label columns of all forms in the panel one width, so the editors of
        different groups line up."""
        forms = self.body.findChildren(QFormLayout)
        labels = []
        for form in forms:
            for row in range(form.rowCount()):
                item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                if item is not None and item.widget() is not None:
                    labels.append(item.widget())
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:
            label.setMinimumWidth(width)

    def _add_group(self, title: str) -> QGroupBox:
        group = QGroupBox(title)
        self.body_layout.addWidget(group)
        return group
