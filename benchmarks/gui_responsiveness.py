"""Is the window responsive while it trains? (DESIGN.md budgets: >= 30 drawn frames/s,
UI event-loop latency p99 <= 25 ms, training throughput >= 80% of the same run headless.)

Opens the real MainWindow offscreen on the ``spiral-relu`` preset (or a built-in spiral
+ ReLU experiment when the preset file is missing), trains at maximum speed for a fixed
time and measures, in the same process:

* drawn frames per second: paint events of the decision-boundary view (frames the
  window really painted, not snapshots received);
* event-loop latency: a 5 ms precise QTimer probe; each tick's lateness beyond 5 ms;
* training steps per second, against the same experiment trained headless
  (``TrainingSession.run`` on a thread, views off) for the same time.

The window and the headless run take turns (``--rounds``, five by default), each
measured after half a second of settling, so that both see the machine in the same
state: on a shared machine the speed of the CPU drifts by tens of percent from one
ten-second stretch to the next. The throughput ratio is the median of the rounds'
ratios; frames per second and the latency come from the window's turns.

``--network-view`` opens the live network graph (neuron heatmaps computed by the worker,
tiles and links redrawn up to 10 times a second); ``--all-views`` opens the activation
explorer and the diagnostics as well. Run once without and once with a flag to compare.

BLAS is pinned to one thread so the numbers do not depend on the machine's core count.
The last line is machine-readable:
``gui_responsiveness: fps=<x> p50_ms=<x> p99_ms=<x> throughput_ratio=<x>``.
"""

from __future__ import annotations

import argparse
import os
import queue
import tempfile
import threading
import time
from dataclasses import replace

import numpy as np

PROBE_MS = 5
#: Seconds each turn runs before it is measured (the trainer sizing its first chunks).
SETTLE_SECONDS = 0.5


def spiral_relu_experiment():
    """The spiral-relu preset without its step limit (fallback: the same by hand)."""
    from playground.experiment.config import (
        ConfigError,
        DataConfig,
        Experiment,
        LayerConfig,
        NetworkConfig,
        OptimizerConfig,
        TrainingConfig,
    )
    from playground.experiment.presets import load_preset

    try:
        exp = load_preset("spiral-relu")
    except ConfigError:
        exp = Experiment(
            title="Two spirals with ReLU and Adam",
            data=DataConfig(dataset="spiral", n_samples=500, noise=0.1),
            network=NetworkConfig(layers=(LayerConfig(units=16, activation="relu"),) * 3),
            training=TrainingConfig(optimizer=OptimizerConfig(name="adam", learning_rate=0.01)),
        )
    return replace(exp, training=replace(exp.training, max_steps=None))


class Headless:
    """The same experiment trained without a window (boundary and neurons off), on a
    thread of its own that plays only while ``measure`` runs."""

    def __init__(self, exp) -> None:
        from playground.experiment.session import SetSpeed, SetViews, TrainingSession

        self.session = TrainingSession(exp, views=SetViews(boundary=False, neurons=False))
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.marks: list[tuple[float, int]] = []
        self.commands.put(SetSpeed(None))
        self.thread = threading.Thread(target=self.session.run, args=(self.commands, self._emit),
                                       name="headless")
        self.thread.start()

    def _emit(self, snap) -> None:
        self.marks.append((time.perf_counter(), snap.step))

    def measure(self, seconds: float, settle: float) -> float:
        """Steps per second over ``seconds`` of training, after ``settle`` seconds."""
        from playground.experiment.session import Pause, Play

        self.commands.put(Play())
        time.sleep(settle)
        t0 = time.perf_counter()
        time.sleep(seconds)
        t1 = time.perf_counter()
        self.commands.put(Pause())
        return _rate_between(self.marks, t0, t1)

    def close(self) -> None:
        from playground.experiment.session import Stop

        self.commands.put(Stop())
        self.thread.join()


def _rate_between(marks: list[tuple[float, int]], t0: float, t1: float) -> float:
    """Steps per second between the first and the last mark inside [t0, t1]."""
    inside = [m for m in marks if t0 <= m[0] <= t1]
    if len(inside) < 2:
        return 0.0
    (a, s0), (b, s1) = inside[0], inside[-1]
    return (s1 - s0) / (b - a) if b > a else 0.0


def measurements(exp, seconds: float, rounds: int, docks: tuple[str, ...] = ()) -> dict:
    """Alternate ``rounds`` times between training in the window and training headless,
    ``seconds / rounds`` each; the figures of the window come from its turns."""
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from playground.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(exp)
    window.resize(1400, 900)
    window.show()
    for name in docks:
        getattr(window, name).show()

    class PaintCounter(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def eventFilter(self, obj, event):  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    counter = PaintCounter()
    window.boundary_plot.plot_widget.viewport().installEventFilter(counter)

    for _ in range(300):
        if window.controller.latest is not None:
            break
        _run_event_loop(0.1)
    if window.controller.latest is None:
        raise RuntimeError("the window never received a first snapshot")
    # Measure the steady state: let start-up helpers (the data panel's thumbnail thread)
    # finish first, as they would long before a learner presses play.
    for _ in range(300):
        if not [t for t in threading.enumerate()
                if t is not threading.main_thread() and t.name != "playground-training"]:
            break
        _run_event_loop(0.1)

    lateness: list[float] = []
    marks: list[tuple[float, int]] = []
    last_tick = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last_tick[0]:
            lateness.append(max(0.0, (now - last_tick[0]) * 1000 - PROBE_MS))
        last_tick[0] = now

    window.controller.snapshotReady.connect(
        lambda snap: marks.append((time.perf_counter(), snap.step)))
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(tick)
    window.transport.set_speed(None)

    headless = Headless(exp)
    turn = seconds / rounds
    paints = frames = 0
    gui_time = 0.0
    pairs = []
    try:
        for _ in range(rounds):
            window.controller.play()
            _run_event_loop(SETTLE_SECONDS)
            paints0, frames0 = counter.count, window.live_view.frames_drawn
            last_tick[0] = 0.0
            t0 = time.perf_counter()
            probe.start()
            _run_event_loop(turn)
            probe.stop()
            t1 = time.perf_counter()
            window.controller.pause()
            paints += counter.count - paints0
            frames += window.live_view.frames_drawn - frames0
            gui_time += t1 - t0
            gui_rate = _rate_between(marks, t0, t1)
            _run_event_loop(0.2)  # let the paused window settle
            pairs.append((gui_rate, headless.measure(turn, SETTLE_SECONDS)))
    finally:
        headless.close()
        window.close()
        app.processEvents()
    lat = np.array(lateness) if lateness else np.zeros(1)
    return {
        "fps": paints / gui_time,
        "frames_per_second": frames / gui_time,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "pairs": pairs,
    }


def _run_event_loop(seconds: float) -> None:
    """Run the real event loop (as ``exec`` does) for ``seconds``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="measured training time with the window, and as much headless")
    parser.add_argument("--rounds", type=int, default=5,
                        help="turns each, alternating between the window and headless")
    views = parser.add_mutually_exclusive_group()
    views.add_argument("--network-view", action="store_true",
                       help="with the network graph (neuron heatmaps) open")
    views.add_argument("--all-views", action="store_true",
                       help="with the network graph, activation explorer and diagnostics open")
    parser.add_argument("--fast-path", choices=("on", "off"), default="on",
                        help="on: warm the compiled engine up first so both runs use it "
                             "(where it covers the experiment); off: numpy engine only")
    args = parser.parse_args()
    if args.fast_path == "off":
        os.environ["PLAYGROUND_FAST_PATH"] = "0"
    else:
        from playground.engine import compiled

        compiled.warm_up()
    docks: tuple[str, ...] = ()
    if args.network_view:
        docks = ("network_view_dock",)
    elif args.all_views:
        docks = ("network_view_dock", "explorer_dock", "diagnostics_dock")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLAYGROUND_SETTINGS_DIR", tempfile.mkdtemp(prefix="pg-bench-"))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        exp = spiral_relu_experiment()
        m = measurements(exp, args.seconds, args.rounds, docks)
    ratios = [g / h if h else 0.0 for g, h in m["pairs"]]
    ratio = float(np.median(ratios))
    rows = [
        ("drawn frames/s (boundary paints)", f"{m['fps']:.1f}", ">= 30"),
        ("snapshots drawn/s", f"{m['frames_per_second']:.1f}", ""),
        ("event-loop latency p50 (ms)", f"{m['p50_ms']:.2f}", ""),
        ("event-loop latency p99 (ms)", f"{m['p99_ms']:.2f}", "<= 25"),
        ("steps/s with the window (median)", f"{np.median([g for g, _ in m['pairs']]):.0f}", ""),
        ("steps/s headless (median)", f"{np.median([h for _, h in m['pairs']]):.0f}", ""),
        ("throughput ratio per round", " ".join(f"{r:.2f}" for r in ratios), ""),
        ("throughput ratio (median)", f"{ratio:.2f}", ">= 0.80"),
    ]
    print(f"open views: {', '.join(docks) or 'main window only'}")
    print(f"{'measure':36s} {'value':>24s}  budget")
    for name, value, budget in rows:
        print(f"{name:36s} {value:>24s}  {budget}")
    label = "network_view" if args.network_view else "all_views" if args.all_views else "main"
    print(f"gui_responsiveness: views={label} fast_path={args.fast_path} "
          f"fps={m['fps']:.1f} p50_ms={m['p50_ms']:.2f} "
          f"p99_ms={m['p99_ms']:.2f} throughput_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
