"""The command line: ``python main.py [--version | --self-test | train ... | presets]``.

Without a command it opens the window. ``train`` runs an experiment headless through the
same :class:`TrainingSession` the window uses and writes ``metrics.json`` and
``model.npz``; ``presets`` lists the built-in experiments.

Exit codes: 0 done (also when early stopping ended the run), 1 an unexpected failure, 2
bad arguments or an invalid experiment file, 3 the run diverged, 130 interrupted with
Ctrl-C. Problems are reported as one line on stderr, never as a traceback.

Qt is imported only inside the functions that open the window, so ``train`` and
``presets`` work on a machine without a display.
"""

from __future__ import annotations

import argparse
import math
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from playground import __version__
from playground.experiment.command_line import (  # noqa: F401  (re-exported)
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PRESET_PREFIX,
    UsageError,
    guarded,
    load_source,
    output_dir,
    positive_count,
    print_error,
)
from playground.experiment.config import ConfigError
from playground.experiment.presets import load_preset, preset_names
from playground.experiment.results import (
    RunHistory,
    save_model,
    steps_per_epoch,
    write_metrics,
)
from playground.experiment.session import (
    Play,
    SetViews,
    Snapshot,
    Stop,
    TrainingSession,
)

MAX_SEED = 2**32 - 1
#: Seconds between progress lines when stderr is not a terminal (a log file, CI).
PLAIN_PROGRESS_INTERVAL = 1.5
#: Seconds between redraws of the progress bar on a terminal.
BAR_INTERVAL = 0.1
#: How often the headless session reports (progress and the record of the run).
FRAME_INTERVAL = 0.1


# ---------------------------------------------------------------------------- arguments


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in 0..{MAX_SEED}, got {value}")
    return value


def build_parser(with_sweep: bool = True) -> argparse.ArgumentParser:
    """The argument parser for ``python main.py``.

    The ``sweep`` command brings the parallel-run machinery with it, so it is only added
    when it may be needed (``with_sweep``); opening the window stays quick.
    """
    parser = argparse.ArgumentParser(
        description="A desktop neural-network playground. Without a command it opens "
                    "the window.",
    )
    parser.add_argument("--version", action="version", version=f"playground {__version__}")
    parser.add_argument(
        "--self-test", action="store_true",
        help="open the real window (offscreen without a display), train briefly, check "
             "that it learned and drew, and exit 0 or 1",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train an experiment headless and write metrics.json and model.npz",
        description="Train an experiment without the window. Writes DIR/metrics.json and "
                    "DIR/model.npz. Exit codes: 0 done, 2 bad arguments or file, "
                    "3 diverged, 130 interrupted.",
    )
    train.add_argument(
        "source", metavar="CONFIG.json|preset:NAME",
        help="an experiment file, or a built-in preset (see the presets command)",
    )
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_count, metavar="N",
                        help="train N mini-batch steps (default: the file's max_steps)")
    length.add_argument("--epochs", type=positive_count, metavar="N",
                        help="train N passes over the training set")
    train.add_argument("--seed", type=_seed, metavar="S",
                       help="use seed S instead of the experiment's own")
    train.add_argument("--out", type=Path, metavar="DIR",
                       help="where to write the results (default: runs/<preset or file name>)")

    commands.add_parser(
        "presets", help="list the built-in presets",
        description="List the built-in presets with their titles.",
    )
    if with_sweep:
        from playground.experiment.sweep_cli import add_sweep_parser

        add_sweep_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(with_sweep=any(w in ("sweep", "-h", "--help") for w in words))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argument errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_OK
    return guarded(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.self_test:
        if args.command is not None:
            print_error("--self-test takes no command")
            return EXIT_USAGE
        return _self_test()
    if args.command == "train":
        return _train(args)
    if args.command == "presets":
        return _list_presets()
    if args.command == "sweep":
        from playground.experiment.sweep_cli import run_sweep_command

        return run_sweep_command(args)
    return _open_window()


# ---------------------------------------------------------------------------- window


def _open_window() -> int:
    try:
        from playground.ui.app import run_app
    except ImportError as err:
        print_error(f"the window cannot open: {err}")
        return EXIT_FAILED
    code = run_app(experiment=None)
    return code if isinstance(code, int) else EXIT_OK


def _self_test() -> int:
    try:
        from playground.ui.app import self_test
    except ImportError as err:
        print_error(f"the self-test needs the window, which cannot be loaded: {err}")
        return EXIT_FAILED
    result = self_test()
    if result is None or result is True:
        return EXIT_OK
    if result is False:
        return EXIT_FAILED
    return int(result)


# ---------------------------------------------------------------------------- presets


def _list_presets() -> int:
    names = preset_names()
    if not names:
        print_error("no presets found")
        return EXIT_FAILED
    width = max(len(name) for name in names)
    for name in names:
        try:
            title = load_preset(name).title
        except ConfigError as err:
            title = f"(cannot be read: {err})"
        print(f"{name:<{width}}  {title}")
    return EXIT_OK


# ---------------------------------------------------------------------------- train


@dataclass
class _Outcome:
    seconds: float = 0.0
    interrupted: bool = False
    failure: BaseException | None = None


def _train(args: argparse.Namespace) -> int:
    experiment, name = load_source(args.source)
    if args.seed is not None:
        experiment = replace(experiment, seed=args.seed)
    if args.steps is None and args.epochs is None and experiment.training.max_steps is None:
        raise UsageError(f"{args.source}: training.max_steps is not set, so give the run's "
                         "length with --steps N or --epochs N")
    try:
        session = TrainingSession(
            experiment, grid_size=2, neuron_grid_size=2, frame_interval=FRAME_INTERVAL,
            views=SetViews(boundary=False, neurons=False),
        )
    except ValueError as err:
        raise UsageError(f"{args.source}: cannot be built ({err})") from None
    if args.steps is not None:
        steps = args.steps
    elif args.epochs is not None:
        n_train = len(session.data.train.y)
        steps = args.epochs * steps_per_epoch(n_train, experiment.training.batch_size)
    else:
        steps = experiment.training.max_steps
    session.max_steps = steps
    folder = output_dir(args.out, name)
    # What was run, so the saved experiment reproduces it.
    experiment = replace(experiment, training=replace(experiment.training, max_steps=steps))

    history = RunHistory()
    stderr = sys.stderr
    progress = Progress(stderr, name, steps, interactive=stderr.isatty())

    def emit(snapshot: Snapshot) -> None:
        history.add(snapshot)
        progress.update(snapshot)

    outcome = _run_session(session, emit)
    progress.finish()
    if outcome.failure is not None:
        err = outcome.failure
        print_error(f"training failed ({type(err).__name__}: {err})")
        return EXIT_FAILED
    last = history.last
    assert last is not None  # run() always emits at least once
    try:
        with np.errstate(all="ignore"):
            metrics = write_metrics(folder / "metrics.json", experiment, last, history,
                                    seconds=outcome.seconds)
            save_model(folder / "model.npz", session.trainer, experiment,
                       standardizer=session.data.standardizer)
    except OSError as err:
        print_error(f"cannot write the results to {folder} ({err.strerror or err})")
        return EXIT_FAILED
    for message in (last.diverged, last.stopped):
        if message:
            print(message, file=stderr)
    if outcome.interrupted:
        print(f"interrupted at step {last.step}; wrote what there is", file=stderr)
    print(_summary(name, metrics, folder))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_DIVERGED if last.diverged else EXIT_OK


def _run_session(session: TrainingSession, emit: Callable[[Snapshot], None]) -> _Outcome:
    """Train on a worker thread so that Ctrl-C in the main thread can stop it cleanly:
    the session finishes its current chunk of steps and reports its final state."""
    commands: queue.SimpleQueue = queue.SimpleQueue()
    commands.put(Play())
    outcome = _Outcome()
    done = threading.Event()

    def work() -> None:
        start = time.perf_counter()
        try:
            # Divergence is reported as a message; numpy's overflow warnings add nothing.
            with np.errstate(all="ignore"):
                session.run(commands, emit, exit_when_finished=True)
        except Exception as err:
            outcome.failure = err
        finally:
            outcome.seconds = time.perf_counter() - start
            done.set()

    worker = threading.Thread(target=work, name="playground-train", daemon=True)
    worker.start()
    # Wait on an Event rather than in Thread.join: a KeyboardInterrupt that lands inside
    # join() can leave the thread reported as ended while it still runs (CPython < 3.12).
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            if not outcome.interrupted:
                outcome.interrupted = True
                commands.put(Stop())
    worker.join()
    return outcome


def _summary(name: str, metrics: dict, folder: Path) -> str:
    parts = [f"{metrics['steps']} steps"]
    if metrics["epochs"] is not None:
        parts[0] += f" ({metrics['epochs']:.4g} epochs)"
    parts[0] += f" in {metrics['seconds']:.1f} s"
    if metrics["diverged"]:
        parts.append("diverged")
    for key, label in (("train_loss", "train loss"), ("test_loss", "test loss")):
        if metrics[key] is not None:
            parts.append(f"{label} {metrics[key]:.4g}")
    for key, label in (("train_accuracy", "train accuracy"), ("test_accuracy",
                                                              "test accuracy")):
        if metrics[key] is not None:
            parts.append(f"{label} {metrics[key]:.1%}")
    return f"{name}: {', '.join(parts)} -> {folder}"


# ---------------------------------------------------------------------------- progress


class Progress:
    """Training progress on stderr: a bar redrawn in place on a terminal, otherwise a
    plain line every ``PLAIN_PROGRESS_INTERVAL`` seconds (log files keep every line)."""

    def __init__(self, stream: TextIO, name: str, total: int, *, interactive: bool) -> None:
        self.stream = stream
        self.name = name
        self.total = total
        self.interactive = interactive
        self.interval = BAR_INTERVAL if interactive else PLAIN_PROGRESS_INTERVAL
        self._last = time.perf_counter()
        self._drawn = False

    def update(self, snapshot: Snapshot) -> None:
        now = time.perf_counter()
        if now - self._last < self.interval and not (self.interactive and snapshot.finished):
            return
        self._last = now
        if self.interactive:
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self.stream.write("\r" + self._bar_line(snapshot)[:width].ljust(width))
            self._drawn = True
        else:
            self.stream.write(self._plain_line(snapshot) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()

    def _numbers(self, s: Snapshot) -> str:
        parts = [f"loss {_number(s.train_loss)}"]
        accuracy = s.test_accuracy if s.test_accuracy is not None else s.train_accuracy
        if accuracy is not None and math.isfinite(accuracy):
            parts.append(f"acc {accuracy:.1%}")
        parts.append(f"{s.steps_per_second:,.0f} steps/s")
        return "  ".join(parts)

    def _bar_line(self, s: Snapshot) -> str:
        cells = 20
        filled = min(cells, int(cells * s.step / self.total)) if self.total else cells
        bar = "#" * filled + "-" * (cells - filled)
        return f"[{bar}] {s.step}/{self.total}  {self._numbers(s)}"

    def _plain_line(self, s: Snapshot) -> str:
        return f"{self.name}: step {s.step}/{self.total}  {self._numbers(s)}"


def _number(x: float) -> str:
    return f"{x:.4f}" if math.isfinite(x) else "n/a"
