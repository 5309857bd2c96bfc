"""The import rule: the engine loads neither Qt nor scikit-learn, and the data and
experiment layers load no Qt (each checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "shiboken6", "pyqtgraph")

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_import(module: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, module], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _offending(loaded: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if m.split(".")[0] in prefixes]


@pytest.mark.parametrize(("module", "forbidden"), [
    ("playground.engine", (*QT, "sklearn")),
    ("playground.data", QT),
    ("playground.experiment", QT),
])
def test_module_does_not_load_forbidden_packages(module, forbidden):
    loaded = _modules_after_import(module)
    assert module in loaded
    assert _offending(loaded, forbidden) == []


def test_the_probe_would_notice():
    """The check is live: a package the probe imports shows up as an offence."""
    loaded = _modules_after_import("xml.dom.minidom")
    assert "xml.dom" in _offending(loaded, ("xml",))
