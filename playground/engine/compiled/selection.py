"""Whether the compiled path may train a given trainer, and if not, why not.

Nothing here imports numba: the trainer asks before every run, and the answer must be
cheap and available whether or not numba is installed.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

from playground.engine.activations import ACTIVATIONS
from playground.engine.heads import HEADS
from playground.engine.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

if TYPE_CHECKING:
    from playground.engine.trainer import Trainer

#: Set to 0 (or false, no, off) to keep every trainer on the numpy engine.
ENV_VAR = "PLAYGROUND_FAST_PATH"
_OFF = frozenset({"0", "false", "no", "off"})
#: The optimizers the kernels implement, exactly (a subclass may change the formula).
COMPILED_OPTIMIZERS = (SGD, RMSprop, Adagrad, Adam, AdamW)


def enabled_by_environment() -> bool:
    return os.environ.get(ENV_VAR, "").strip().lower() not in _OFF


def numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def unsupported_reason(trainer: Trainer) -> str | None:
    """Why the kernels cannot run this configuration, or None when they can."""
    net = trainer.network
    for layer in net.hidden_layers:
        if layer.batch_norm:
            return f"batch normalization ({layer.name}) is not compiled"
        if layer.activation not in ACTIVATIONS:
            return f"activation {layer.activation!r} is not compiled"
    if net.spec.head not in HEADS:
        return f"output head {net.spec.head!r} is not compiled"
    opt = trainer.optimizer
    if type(opt) not in COMPILED_OPTIMIZERS:
        return f"optimizer {type(opt).__name__} is not compiled"
    return None


def switched_off_reason(trainer: Trainer) -> str | None:
    if not trainer.fast_path:
        return "the fast path is switched off (training.fast_path)"
    if not enabled_by_environment():
        return f"the fast path is switched off ({ENV_VAR}={os.environ[ENV_VAR]})"
    return None
