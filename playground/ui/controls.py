"""The transport toolbar: play/pause, one step, reset and the training speed.

Keyboard: Space plays or pauses, Right arrow or S takes one step, R resets. The shortcuts
work anywhere in the window but never take a key from a widget that uses it: text fields
keep every key (Qt gives them the key first), and buttons, combo boxes, sliders and lists
keep Space or the arrow, to which the shortcut hands the key back.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QStyle,
    QTabBar,
    QTextEdit,
    QToolBar,
    QWidget,
)

#: Steps per drawn frame offered to the user; None trains as fast as it goes.
SPEEDS: tuple[int | None, ...] = (1, 2, 5, 10, 25, 100, 1000, None)
DEFAULT_SPEED: int | None = 25

_TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)
_SPACE_USERS = (QAbstractButton, QComboBox, QAbstractItemView)
_ARROW_USERS = (QAbstractSlider, QAbstractSpinBox, QTabBar, QAbstractItemView, QComboBox)


def speed_label(speed: int | None) -> str:
    return "max" if speed is None else str(speed)


def widget_wants_key(widget: QWidget | None, key: int) -> bool:
    """True when ``widget`` (the focus widget) uses ``key`` itself."""
    if widget is None:
        return False
    if isinstance(widget, _TEXT_INPUTS) or (isinstance(widget, QComboBox) and widget.isEditable()):
        return True
    if key == Qt.Key.Key_Space:
        return isinstance(widget, _SPACE_USERS)
    if key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
        return isinstance(widget, _ARROW_USERS)
    return False


class TransportBar(QToolBar):
    """Toolbar with the training controls; it shows whether training is running."""

    playPauseRequested = Signal()
    stepRequested = Signal()
    resetRequested = Signal()
    speedChanged = Signal(object)  # int | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Training controls", parent)
        self.setObjectName("transportToolBar")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setMovable(False)
        icons = self.style()
        self._play_icon = icons.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = icons.standardIcon(QStyle.StandardPixmap.SP_MediaPause)

        self.play_action = QAction(self._play_icon, "Train", self)
        self.step_action = QAction(
            icons.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward), "Step", self)
        self.step_action.setToolTip("Train exactly one step, then pause (→ or S)")
        self.reset_action = QAction(
            icons.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reset", self)
        self.reset_action.setToolTip(
            "Start again from fresh weights with the same seed: same data, same start (R)")
        self.addAction(self.play_action)
        self.addAction(self.step_action)
        self.addAction(self.reset_action)
        self.addSeparator()

        self.speed_box = QComboBox()
        self.speed_box.setToolTip(
            "Training steps between two drawn frames; 'max' trains as fast as it can")
        for speed in SPEEDS:
            self.speed_box.addItem(speed_label(speed), speed)
        self.speed_box.setCurrentIndex(SPEEDS.index(DEFAULT_SPEED))
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.addWidget(QLabel(" Steps per frame: "))
        self.addWidget(self.speed_box)
        self.addSeparator()
        self.state_label = QLabel()
        self.state_label.setMinimumWidth(110)
        self.addWidget(self.state_label)

        self.play_action.triggered.connect(self.playPauseRequested)
        self.step_action.triggered.connect(self.stepRequested)
        self.reset_action.triggered.connect(self.resetRequested)
        self.speed_box.currentIndexChanged.connect(
            lambda i: self.speedChanged.emit(self.speed_box.itemData(i)))
        self._shortcuts: list[QShortcut] = []
        self.set_running(False)

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        return self._running

    def set_running(self, running: bool) -> None:
        """Show the state: the play button says what pressing it will do."""
        self._running = running
        if running:
            self.play_action.setIcon(self._pause_icon)
            self.play_action.setText("Pause")
            self.play_action.setToolTip("Pause training (Space)")
            self.state_label.setText("  ● Training")
            self.state_label.setStyleSheet("color: #15803d; font-weight: 600;")
        else:
            self.play_action.setIcon(self._play_icon)
            self.play_action.setText("Train")
            self.play_action.setToolTip("Start training (Space)")
            self.state_label.setText("  ❚❚ Paused")
            self.state_label.setStyleSheet("color: #555555; font-weight: 600;")

    def speed(self) -> int | None:
        return self.speed_box.currentData()

    def set_speed(self, speed: int | None) -> None:
        if speed in SPEEDS:
            self.speed_box.setCurrentIndex(SPEEDS.index(speed))

    # ------------------------------------------------------------------ keyboard
    def install_shortcuts(self, window: QWidget) -> None:
        """Space, Right/S and R for ``window`` (see the module docstring)."""
        bindings: list[tuple[int, Callable[[], None]]] = [
            (Qt.Key.Key_Space, self.play_action.trigger),
            (Qt.Key.Key_Right, self.step_action.trigger),
            (Qt.Key.Key_S, self.step_action.trigger),
            (Qt.Key.Key_R, self.reset_action.trigger),
        ]
        for key, act in bindings:
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(
                lambda key=key, act=act, shortcut=shortcut: self._on_key(shortcut, key, act))
            self._shortcuts.append(shortcut)

    @staticmethod
    def _on_key(shortcut: QShortcut, key: int, act: Callable[[], None]) -> None:
        focus = QApplication.focusWidget()
        if not widget_wants_key(focus, key):
            act()
            return
        # The shortcut caught a key the focused widget needs: hand it back, with the
        # shortcut off so that the key does not come straight back here.
        shortcut.setEnabled(False)
        try:
            text = " " if key == Qt.Key.Key_Space else ""
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(
                    focus, QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text))
        finally:
            shortcut.setEnabled(True)
