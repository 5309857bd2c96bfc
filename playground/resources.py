"""Where the app's resources (presets, icons, lesson texts) live.

From a source checkout they sit in ``resources/`` beside the ``playground`` package; inside
a PyInstaller bundle they are unpacked under ``sys._MEIPASS``. ``PLAYGROUND_RESOURCES``
overrides both (useful for tests and for teachers who keep their own presets).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    override = os.environ.get("PLAYGROUND_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
