"""What the command-line tools (``train``, ``sweep``) share: exit codes, the one-line error
report, and turning ``CONFIG.json`` or ``preset:NAME`` into an experiment."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from playground.experiment.config import ConfigError, Experiment, load_experiment
from playground.experiment.presets import load_preset, preset_names

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130

PRESET_PREFIX = "preset:"


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


def positive_count(text: str) -> int:
    """argparse type for counts such as --steps, --epochs and --jobs: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def guarded(action: Callable[[], int]) -> int:
    """Run a command and turn what can go wrong into an exit code and one line on stderr:
    bad usage (2), Ctrl-C (130), anything unexpected (1) -- never a traceback."""
    try:
        return action()
    except UsageError as err:
        print_error(str(err))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # the last line of defence: a message, not a traceback
        print_error(f"unexpected failure ({type(err).__name__}: {err})")
        return EXIT_FAILED


def load_source(source: str) -> tuple[Experiment, str]:
    """The experiment named on the command line and the name its results go under."""
    if source.startswith(PRESET_PREFIX):
        name = source[len(PRESET_PREFIX):]
        if not name:
            raise UsageError(f"{source!r}: give a preset name after 'preset:' "
                             f"({', '.join(preset_names())})")
        try:
            return load_preset(name), name
        except ConfigError as err:
            raise UsageError(f"preset {name}: {err}" if err.path else str(err)) from None
    path = Path(source)
    try:
        experiment = load_experiment(path)
    except ConfigError as err:
        message = str(err)
        if err.path or not message.startswith(str(path)):
            message = f"{path}: {message}"
        raise UsageError(message) from None
    return experiment, path.stem


def output_dir(out: Path | None, default_name: str) -> Path:
    """``--out`` (or ``runs/<default_name>``), created if needed."""
    folder = out if out is not None else Path("runs") / default_name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"--out {folder}: exists and is not a folder") from None
    except OSError as err:
        raise UsageError(f"--out {folder}: cannot be created ({err.strerror or err})") from None
    return folder
