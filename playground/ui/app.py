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
    # Compile the fast path in the background once the window is up; training runs on the
    # numpy engine until it is ready and then switches over, keeping weights and state.
    from PySide6.QtCore import QTimer

    from playground.engine import compiled

    QTimer.singleShot(0, compiled.warm_up_in_background)
    return app.exec()


def _has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# ---------------------------------------------------------------------------- self-test

#: Set by whoever launches the app (``packaging/build.py``, the bundle test) to the
#: ``time.time()`` of the launch, so the self-test can time start-up from the very start,
#: a one-file bundle's unpacking included.
LAUNCHED_AT_ENV = "PLAYGROUND_LAUNCHED_AT"
#: Seconds the self-test may wait for the compiled engine. Unset (the default): the
#: self-test leaves the engine alone and only says which engine trained. Set: it starts
#: the engine's warm-up with the window, waits for it, and checks that the window then
#: trains on it; compiling from nothing takes about a minute, from numba's cache ~1 s.
COMPILED_WAIT_ENV = "PLAYGROUND_SELF_TEST_COMPILED_WAIT"
#: The self-test trains at least this many steps, and until the test loss has halved.
SELF_TEST_MIN_STEPS = 300
#: Fewer distinct colours than this in the boundary image means it was not drawn.
SELF_TEST_MIN_COLOURS = 10
SELF_TEST_MIN_FRAMES = 10


def _launched_at() -> float | None:
    """When this process (or its launcher) started, as ``time.time()``; None if unknown."""
    text = os.environ.get(LAUNCHED_AT_ENV)
    if text:
        try:
            return float(text)
        except ValueError:
            pass
    try:  # Linux: the process's start, in clock ticks after boot
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            since_boot = float(uptime.read().split()[0])
        return time.time() - (since_boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _check_datasets() -> tuple[int, list[str]]:
    """Generate every built-in data set once (scikit-learn's generators included, which is
    what a packaged app can lose); returns how many worked and what failed."""
    from playground.data import DATASET_NAMES, make_dataset, n_classes_range

    problems = []
    for name in DATASET_NAMES:
        try:
            make_dataset(name, n_samples=100, noise=0.2, n_classes=max(2, n_classes_range(name)[1]))
        except Exception as err:
            problems.append(f"data set {name} failed ({type(err).__name__}: {err})")
    return len(DATASET_NAMES) - len(problems), problems


def self_test(timeout: float = 60.0) -> bool:
    """Open the real window (offscreen without a display), train the "classic" preset for
    at least ``SELF_TEST_MIN_STEPS`` steps and until the test loss has halved, check that
    the decision boundary and the plots were drawn and that every data set can be
    generated, and print the result as one line starting with ``self-test: ok`` or
    ``self-test: FAILED``. True when everything worked. The user's saved layout is left
    alone. See ``COMPILED_WAIT_ENV`` for checking the compiled engine too."""
    from dataclasses import replace

    launched = _launched_at()
    if not _has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["PLAYGROUND_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="playground-self-test-")
    wait_text = os.environ.get(COMPILED_WAIT_ENV, "").strip()
    compiled_wait = float(wait_text) if wait_text else None
    import numpy as np
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    from playground.engine import compiled
    from playground.ui.main_window import MainWindow

    class FirstPaint(QObject):
        """Notes when any widget of the window is first painted."""

        at: float | None = None

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if (self.at is None and event.type() == QEvent.Type.Paint
                    and isinstance(watched, QWidget) and watched.window() is window):
                self.at = time.time()
            return False

    app = QApplication.instance()
    if app is None:
        app = owned = QApplication(["playground", "--self-test"])  # noqa: F841 - keep it
    exp = default_experiment()
    exp = replace(exp, training=replace(exp.training, max_steps=None))
    started = time.time()
    window = MainWindow(exp)
    first_paint = FirstPaint()
    app.installEventFilter(first_paint)
    window.show()

    def run_for(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def run_until(done, seconds: float) -> bool:
        until = time.perf_counter() + seconds
        while not done() and time.perf_counter() < until:
            run_for(0.02)
        return done()

    deadline = time.perf_counter() + timeout

    def remaining() -> float:
        return max(0.0, deadline - time.perf_counter())
    controller = window.controller
    problems: list[str] = []
    found: list[str] = []
    try:
        run_until(lambda: first_paint.at is not None, remaining())
        app.removeEventFilter(first_paint)
        if first_paint.at is None:
            problems.append("the window was never painted")
        else:
            reference = launched if launched is not None else started
            found.append(f"window shown {first_paint.at - reference:.2f} s after start")
        if compiled_wait is not None:
            compiled.warm_up_in_background()  # as the window does once it is shown
        n_datasets, dataset_problems = _check_datasets()
        problems += dataset_problems
        if not run_until(lambda: controller.latest is not None, remaining()):
            problems.append("the training thread sent nothing")
            return False
        start_loss = controller.latest.test_loss
        window.transport.set_speed(None)
        controller.play()
        run_until(lambda: controller.latest.step >= SELF_TEST_MIN_STEPS
                  and controller.latest.test_loss < 0.5 * start_loss
                  and window.live_view.frames_drawn >= SELF_TEST_MIN_FRAMES, remaining())
        controller.pause()
        snap = controller.latest
        frames = window.live_view.frames_drawn
        image = window.boundary_plot.image_rgba()
        colours = 0 if image is None else len(np.unique(image.reshape(-1, 4), axis=0))
        found.append(f"{snap.step} steps on the {snap.engine} engine, test loss "
                     f"{start_loss:.4g} -> {snap.test_loss:.4g}")
        found.append(f"{frames} frames drawn, boundary in {colours} colours")
        found.append(f"{n_datasets} data sets generated")
        if snap.step < SELF_TEST_MIN_STEPS:
            problems.append(f"only {snap.step} steps were trained")
        if not snap.test_loss < 0.5 * start_loss:
            problems.append("the test loss did not halve")
        if frames < SELF_TEST_MIN_FRAMES:
            problems.append(f"only {frames} frames were drawn")
        if colours < SELF_TEST_MIN_COLOURS:
            problems.append("the decision boundary was not drawn (blank)")
        if compiled_wait is not None:
            problems += _check_compiled(compiled, controller, compiled_wait, run_until, found)
        return not problems
    finally:
        window.close()
        window.data_panel.wait_for_thumbnail_thread(10.0)
        verdict = "ok" if not problems else "FAILED (" + "; ".join(problems) + ")"
        print(f"self-test: {verdict}: {'; '.join(found) or 'nothing measured'}", flush=True)


def _check_compiled(compiled, controller, wait: float, run_until, found: list[str]) -> list[str]:
    """Wait for the compiled engine and let the window train on it for a moment."""
    from playground.engine.compiled.selection import enabled_by_environment, numba_installed

    if not numba_installed():
        found.append("compiled engine not installed")
        return []
    if not enabled_by_environment():
        found.append("compiled engine switched off")
        return []
    clock = time.perf_counter()
    if not compiled.warm_up(wait):
        if compiled.failure():
            return [compiled.failure()]
        return [f"the compiled engine was not ready after {wait:g} s"]
    waited = time.perf_counter() - clock
    controller.play()
    ran = run_until(lambda: controller.latest.engine == "compiled", 10.0)
    controller.pause()
    found.append(f"compiled engine ready ({compiled.warm_up_seconds():.1f} s to warm up, "
                 f"{waited:.1f} s waited), then trained to step {controller.latest.step}")
    if not ran:
        note = controller.latest.engine_note or "no reason given"
        return [f"the window did not switch to the compiled engine ({note})"]
    return []
