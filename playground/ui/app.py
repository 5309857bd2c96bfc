"""Starting the application: ``run_app`` creates the QApplication and shows the window;
``self_test`` (``python main.py --self-test``) proves that the real window trains and draws.

Importing this module is light (no Qt, numpy or scikit-learn); Qt loads inside
``run_app``. The first data set is generated after the window is shown (the controller
starts from a zero-delay timer), so scikit-learn never delays the first paint.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playground.experiment.config import Experiment

ICON_NAME = "playground.png"


def default_experiment() -> Experiment:
    """The "classic" preset, or the built-in default when the preset is missing/broken."""
    from playground.experiment.config import ConfigError, Experiment
    from playground.experiment.presets import DEFAULT_PRESET, load_preset

    try:
        return load_preset(DEFAULT_PRESET)
    except ConfigError:
        return Experiment()


def run_app(experiment: Experiment | None = None, argv: Sequence[str] | None = None) -> int:
    """Open the window on ``experiment`` (default: the "classic" preset) and run the event
    loop; returns the application's exit code."""
    from PySide6.QtGui import QFont, QIcon
    from PySide6.QtWidgets import QApplication

    from playground.resources import resource_path
    from playground.ui import style
    from playground.ui.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APPLICATION)
    font = QFont(app.font())
    font.setPointSize(max(font.pointSize(), style.BASE_FONT_POINTS))
    app.setFont(font)
    icon_path = resource_path("icons", ICON_NAME)
    if icon_path.is_file():
        app.setWindowIcon(QIcon(str(icon_path)))

    from playground.ui.main_window import MainWindow

    window = MainWindow(experiment if experiment is not None else default_experiment())
    window.show()
    return app.exec()


def _has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def self_test(timeout: float = 60.0) -> bool:
    """Open the real window (offscreen without a display), train the "classic" preset
    until the test loss has halved, and check that the plots were drawn. Prints what it
    found; True when everything worked. The user's saved layout is left alone."""
    from dataclasses import replace

    if not _has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["PLAYGROUND_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="playground-self-test-")
    import numpy as np
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from playground.ui.main_window import MainWindow

    if QApplication.instance() is None:
        owned = QApplication(["playground", "--self-test"])  # noqa: F841 - keep it alive
    exp = default_experiment()
    exp = replace(exp, training=replace(exp.training, max_steps=None))
    window = MainWindow(exp)
    window.show()

    def run_for(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    deadline = time.perf_counter() + timeout
    controller = window.controller
    problems: list[str] = []
    try:
        while controller.latest is None and time.perf_counter() < deadline:
            run_for(0.05)
        if controller.latest is None:
            problems.append("the training thread sent nothing")
            return False
        start_loss = controller.latest.test_loss
        window.transport.set_speed(None)
        controller.play()
        while time.perf_counter() < deadline and not (
                controller.latest.test_loss < 0.5 * start_loss
                and window.live_view.frames_drawn >= 10):
            run_for(0.05)
        controller.pause()
        snap = controller.latest
        image = window.boundary_plot.image_rgba()
        colours = 0 if image is None else len(np.unique(image.reshape(-1, 4), axis=0))
        if not snap.test_loss < 0.5 * start_loss:
            problems.append(f"the test loss did not halve ({start_loss:.4g} -> "
                            f"{snap.test_loss:.4g})")
        if window.live_view.frames_drawn < 10:
            problems.append(f"only {window.live_view.frames_drawn} frames were drawn")
        if colours < 10:
            problems.append("the decision boundary was not drawn")
        print(f"self-test: {snap.step} steps on the {snap.engine} engine, test loss "
              f"{start_loss:.4g} -> {snap.test_loss:.4g}, {window.live_view.frames_drawn} "
              f"frames drawn")
        return not problems
    finally:
        window.close()
        window.data_panel.wait_for_thumbnail_thread(10.0)
        for problem in problems:
            print(f"self-test: FAILED: {problem}", file=sys.stderr)
        if not problems:
            print("self-test: ok")
