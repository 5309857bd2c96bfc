"""Functions compiled from source that the engine writes for itself.

Some formulas are written once as lines of numpy calls and then used in two ways: as
small functions of their own and copied into the training pass and step, which are
written out as straight-line code (see ``training_pass``). This module turns such
source into a function, as ``dataclasses`` does for the methods it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


def compile_source(source: str, name: str, names: Mapping[str, Any], label: str) -> Callable:
    """The function ``name`` defined by ``source``, whose free names are looked up in
    ``names``; ``label`` names the source in tracebacks."""
    namespace = dict(names)
    exec(compile(source, label, "exec"), namespace)  # noqa: S102 - the engine's own source
    return namespace[name]


def function_from_lines(name: str, args: str, lines: Iterable[str],
                        names: Mapping[str, Any], label: str) -> Callable:
    """``def name(args):`` with ``lines`` as its body (see ``compile_source``)."""
    source = f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in lines)
    return compile_source(source, name, names, label)
