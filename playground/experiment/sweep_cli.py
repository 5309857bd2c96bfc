"""The ``sweep`` command: train one experiment under many settings and compare them.

``python main.py sweep CONFIG.json|preset:NAME --grid PATH=V1,V2,... [--grid ...]
[--random N] [--repeats R] [--jobs J] [--steps N] [--out DIR] [--backend loky|dask]
[--scheduler ADDRESS] [--top N]``

Writes ``DIR/results.csv`` (one row per run, see :func:`write_results_csv`) and
``DIR/base.json`` (the experiment every run starts from), shows progress on stderr and
prints the best settings to stdout. Exit codes: 0 done (diverged runs are results, not
errors), 1 an unexpected failure, 2 bad arguments, 130 interrupted with Ctrl-C (the runs
finished so far are written). Problems are one line on stderr, never a traceback.

:func:`add_sweep_parser` adds the subcommand to the program's parser and
:func:`run_sweep_command` runs it from the parsed arguments.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from playground.experiment.command_line import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    guarded,
    load_source,
    output_dir,
    positive_count,
    print_error,
)
from playground.experiment.config import Experiment, save_experiment
from playground.experiment.sweep import (
    BACKENDS,
    RunRecord,
    SettingSummary,
    SweepError,
    SweepInterrupted,
    SweepSpec,
    format_value,
    parse_axis,
    rank,
    run_sweep,
    summarize,
    write_results_csv,
)

RESULTS_FILE = "results.csv"
BASE_FILE = "base.json"
#: Seconds between progress lines when stderr is not a terminal.
PLAIN_INTERVAL = 1.5
#: Seconds between redraws of the bar on a terminal.
BAR_INTERVAL = 0.1
_OPTIONS = {"steps": "--steps", "random": "--random", "repeats": "--repeats",
            "jobs": "--jobs", "backend": "--backend", "scheduler": "--scheduler"}

_EXAMPLES = """\
examples:
  main.py sweep preset:spiral-relu --steps 3000 \\
      --grid training.optimizer.learning_rate=0.001,0.01,0.1 \\
      --grid 'network.layers[*].activation=relu,tanh' --repeats 3
  main.py sweep my.json --grid training.batch_size=1,10,50 --random 2
  main.py sweep my.json --grid 'data.features=[["x1","x2"],["x1","x2","x1*x2"]]'

Values are numbers, true/false, null or bare words; a value that is itself a list is
written as a JSON list of values. Quote paths with [*] so the shell leaves them alone.
"""


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``parser.add_subparsers(...)``'s result."""
    p = subparsers.add_parser(
        "sweep",
        help="train an experiment under many settings, in parallel, and compare them",
        description="Train an experiment once per combination of the --grid values (or\n"
                    "--random of them), --repeats times each with seeds S, S+1, ..., in\n"
                    "parallel worker processes. Writes DIR/results.csv and prints the best\n"
                    "settings. Exit codes: 0 done, 2 bad arguments, 130 interrupted.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="CONFIG.json|preset:NAME",
                   help="the experiment every run starts from, or a built-in preset")
    p.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2,...",
                   help="a setting to vary and its values, e.g. "
                        "training.optimizer.learning_rate=0.01,0.1 (repeatable)")
    p.add_argument("--random", type=positive_count, metavar="N",
                   help="run N distinct random combinations instead of the whole grid")
    p.add_argument("--repeats", type=positive_count, default=1, metavar="R",
                   help="run every setting R times with seeds S, S+1, ... (default 1)")
    p.add_argument("--jobs", type=positive_count, metavar="J",
                   help="runs at once (default: every core)")
    p.add_argument("--steps", type=positive_count, metavar="N",
                   help="steps per run (default: the experiment's max_steps)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where to write results.csv (default: runs/<name>-sweep)")
    p.add_argument("--backend", choices=BACKENDS, default="loky",
                   help="loky: processes on this machine (default); dask: a dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="the dask scheduler, e.g. tcp://HOST:8786 (with --backend dask)")
    p.add_argument("--top", type=positive_count, default=10, metavar="N",
                   help="how many of the best settings to print (default 10)")
    return p


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run ``sweep`` with parsed arguments; returns the exit code."""
    return guarded(lambda: _sweep(args))


def _usage_from(err: SweepError) -> UsageError:
    """A SweepError phrased with the option it came from."""
    if err.path in _OPTIONS:
        return UsageError(f"{_OPTIONS[err.path]}: {err.message}")
    if err.path:
        return UsageError(f"--grid {err.path}: {err.message}")
    return UsageError(err.message)


def _spec(args: argparse.Namespace, base: Experiment) -> SweepSpec:
    axes: dict[str, Any] = {}
    for text in args.grid:
        try:
            path, values = parse_axis(text)
        except SweepError as err:
            raise UsageError(f"--grid {err.message}" if not err.path
                         else f"--grid {err.path}: {err.message}") from None
        if path in axes:
            raise UsageError(f"--grid {path}: given twice; list all its values in one --grid")
        axes[path] = values
    try:
        return SweepSpec(base, axes, random=args.random, repeats=args.repeats,
                         steps=args.steps)
    except SweepError as err:
        raise _usage_from(err) from None


# ---------------------------------------------------------------------------- the command


def _sweep(args: argparse.Namespace) -> int:
    base, name = load_source(args.source)
    if args.scheduler is not None and args.backend != "dask":
        raise UsageError("--scheduler: only applies with --backend dask")
    if args.backend == "dask" and args.scheduler is None:
        raise UsageError("--backend dask: give the scheduler's address with --scheduler ADDRESS")
    spec = _spec(args, base)
    folder = output_dir(args.out, f"{name}-sweep")
    stderr = sys.stderr
    runs = len(spec.runs)
    where = f"on {args.jobs} worker{'s' if args.jobs != 1 else ''}" if args.jobs \
        else "on every core"
    if args.backend == "dask":
        where = f"on the dask cluster at {args.scheduler}"
    print(f"sweep {name}: {runs} run{'s' if runs != 1 else ''} ({spec.n_settings} "
          f"setting{'s' if spec.n_settings != 1 else ''} x {spec.repeats} "
          f"repeat{'s' if spec.repeats != 1 else ''}) of {spec.steps_per_run} steps "
          f"{where}", file=stderr)
    progress = Progress(stderr, runs, interactive=stderr.isatty())
    interrupted = False
    try:
        records = run_sweep(spec, jobs=args.jobs, backend=args.backend,
                            scheduler=args.scheduler, progress=progress.update)
    except SweepInterrupted as stop:
        records, interrupted = stop.records, True
    except SweepError as err:
        progress.finish()
        raise _usage_from(err) from None
    progress.finish()
    try:
        write_results_csv(records, folder / RESULTS_FILE)
        save_experiment(spec.base, folder / BASE_FILE)
    except OSError as err:
        print_error(f"cannot write the results to {folder} ({err.strerror or err})")
        return EXIT_FAILED
    diverged = sum(r.diverged for r in records)
    failed = sum(r.failed for r in records)
    print(f"{len(records)} of {runs} runs done, {diverged} diverged, {failed} failed "
          f"-> {folder / RESULTS_FILE}", file=stderr)
    for r in records:
        if r.failed:
            print(f"run {r.index} failed: {r.error}", file=stderr)
            break
    if records:
        print(best_table(records, spec.paths, top=args.top))
    if interrupted:
        print("interrupted; wrote the runs that had finished", file=stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


# ---------------------------------------------------------------------------- output


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Sweep progress on stderr: runs done of the total, elapsed time and an estimate of
    the time left. A bar redrawn in place on a terminal, otherwise a plain line at most
    every ``PLAIN_INTERVAL`` seconds (and always for the last run)."""

    def __init__(self, stream: TextIO, total: int, *, interactive: bool) -> None:
        self.stream = stream
        self.total = total
        self.interactive = interactive
        self.interval = BAR_INTERVAL if interactive else PLAIN_INTERVAL
        self.start = time.perf_counter()
        self.diverged = 0
        self.failed = 0
        self._last = -math.inf
        self._drawn = False

    def update(self, done: int, total: int, record: RunRecord) -> None:
        self.diverged += record.diverged
        self.failed += record.failed
        now = time.perf_counter()
        if now - self._last < self.interval and done < total:
            return
        self._last = now
        line = self.line(done, total, now - self.start)
        if self.interactive:
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self.stream.write("\r" + line[:width].ljust(width))
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, done: int, total: int, elapsed: float) -> str:
        parts = [f"{done}/{total} runs"]
        if self.diverged:
            parts.append(f"{self.diverged} diverged")
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"elapsed {_duration(elapsed)}")
        if 0 < done < total:
            parts.append(f"ETA {_duration(elapsed / done * (total - done))}")
        text = "  ".join(parts)
        if not self.interactive:
            return f"sweep: {text}"
        cells = 24
        filled = min(cells, cells * done // total) if total else cells
        return f"sweep [{'#' * filled}{'-' * (cells - filled)}] {text}"

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _stat(s: SettingSummary, metric: str, percent: bool) -> str:
    stat = s.stats[metric]
    if stat.n == 0:
        return "-"
    if percent:
        text = f"{stat.mean:.1%}"
        return text if stat.n < 2 else f"{text} ± {stat.std * 100:.1f}"
    text = f"{stat.mean:.4g}"
    return text if stat.n < 2 else f"{text} ± {stat.std:.2g}"


def best_table(records: list[RunRecord], paths: tuple[str, ...], *, top: int = 10) -> str:
    """The best settings by mean test loss (training loss without a test set), as text."""
    summaries = summarize(records)
    has_test = any(s.stats["test_loss"].n for s in summaries)
    metric = "test_loss" if has_test else "train_loss"
    ranked = rank(summaries, metric)
    shown = ranked[:top]
    columns: list[tuple[str, list[str]]] = [
        ("#", [str(i + 1) for i in range(len(shown))]),
    ]
    for p in paths:
        columns.append((p, [format_value(s.values.get(p)) for s in shown]))
    columns.append(("runs", [str(s.runs) for s in shown]))
    columns.append((metric.replace("_", " "), [_stat(s, metric, False) for s in shown]))
    accuracy = "test_accuracy" if has_test else "train_accuracy"
    if any(s.stats[accuracy].n for s in summaries):
        columns.append((accuracy.replace("_", " "), [_stat(s, accuracy, True) for s in shown]))
    if any(s.diverged for s in summaries):
        columns.append(("diverged", [f"{s.diverged}/{s.runs}" if s.diverged else ""
                                     for s in shown]))
    if any(s.failed for s in summaries):
        columns.append(("failed", [f"{s.failed}/{s.runs}" if s.failed else ""
                                   for s in shown]))
    widths = [max(len(title), *(len(c) for c in cells)) for title, cells in columns]
    lines = [f"best {len(shown)} of {len(summaries)} settings by mean "
             f"{metric.replace('_', ' ')}:"]
    lines.append("  ".join(t.ljust(w) for (t, _), w in zip(columns, widths)).rstrip())
    for i in range(len(shown)):
        lines.append("  ".join(c[i].ljust(w) for (_, c), w in zip(columns, widths)).rstrip())
    return "\n".join(lines)
