"""The compiled fast path: the numpy engine's training step, compiled with numba.

For networks as small as a playground's, numpy's cost is its per-call overhead, not the
arithmetic. The kernels here run forward pass, backward pass, L1/L2, dropout and the
optimizer update for K steps in one compiled call that releases the GIL, and record the
same per-step diagnostics as ``Trainer.run``. The numpy engine stays the reference; the
tests hold the two paths to 1e-12 of each other.

Using it:

* ``warm_up_in_background()`` at start-up (it returns at once). Until the kernels are
  compiled, or loaded from the disk cache, trainers train on the numpy engine.
* A ``Trainer(..., fast_path=True)`` then switches to the kernels at its next ``run``
  when they cover its configuration (everything but batch normalization), and says which
  path ran (``trainer.engine_path``) and why not (``trainer.fallback_reason``).
* ``PLAYGROUND_FAST_PATH=0`` in the environment keeps every trainer on numpy.

The modules: ``selection`` (may this trainer use the kernels? no numba needed),
``warmup`` (the background compile and its self-check), ``cache`` (where numba caches
the compiled code), ``kernels`` (the numba code) and ``runner`` (the Python side of a
call). Importing this package does not import numba: the warm-up thread does, and the
runner is created only once the kernels are ready.

Where to start the warm-up: in the window, right after it is first shown (so that it does
not compete with start-up); on the command line, before building the session. From the
disk cache it takes about half a second, most of it numba's own start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .selection import (
    ENV_VAR,
    enabled_by_environment,
    numba_installed,
    switched_off_reason,
    unsupported_reason,
)
from .warmup import WarmUp

if TYPE_CHECKING:
    from playground.engine.trainer import Trainer

    from .runner import CompiledRunner

#: The one warm-up of this process: compiled code is shared by the whole process.
_WARM_UP = WarmUp()


def warm_up_in_background() -> None:
    """Start compiling (or loading) the kernels on a background thread; returns at once.

    Safe to call any number of times and from any thread. Does nothing when numba is
    missing or the fast path is switched off in the environment.
    """
    if numba_installed() and enabled_by_environment():
        _WARM_UP.start()


def warm_up(timeout: float | None = None) -> bool:
    """Start the warm-up if needed and wait for it; True when the kernels are ready."""
    warm_up_in_background()
    if not _WARM_UP.started:
        return False
    _WARM_UP.wait(timeout)
    return _WARM_UP.ready


def is_ready() -> bool:
    """True once the kernels are compiled and have passed their self-check."""
    return _WARM_UP.ready


def failure() -> str | None:
    """Why the warm-up failed (None while it runs, after success, or before it starts)."""
    return _WARM_UP.failure


def warm_up_seconds() -> float | None:
    """How long the warm-up took (None until it has succeeded)."""
    return _WARM_UP.seconds


def why_not(trainer: Trainer) -> str | None:
    """Why ``trainer`` must train on the numpy engine now, or None if the kernels may."""
    reason = switched_off_reason(trainer) or unsupported_reason(trainer)
    if reason:
        return reason
    if not numba_installed():
        return "numba is not installed"
    if _WARM_UP.failure:
        return _WARM_UP.failure
    if not _WARM_UP.ready:
        return "the compiled engine is not ready yet (warming up)"
    return None


def make_runner(trainer: Trainer) -> CompiledRunner:
    """A runner for ``trainer`` (call only when ``why_not(trainer)`` is None)."""
    from .runner import CompiledRunner

    return CompiledRunner(trainer)


__all__ = [
    "ENV_VAR", "enabled_by_environment", "failure", "is_ready", "make_runner",
    "numba_installed", "unsupported_reason", "warm_up", "warm_up_in_background",
    "warm_up_seconds", "why_not",
]
