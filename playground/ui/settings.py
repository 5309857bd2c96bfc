"""Where the window keeps its settings (dock layout, geometry, last folder, speed).

Normally the platform's place for organisation "Playground", application "Playground".
``PLAYGROUND_SETTINGS_DIR`` points them to an INI file in another folder instead: tests
use it so that they never read or overwrite a user's real layout.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "Playground"
APPLICATION = "Playground"
SETTINGS_DIR_ENV = "PLAYGROUND_SETTINGS_DIR"


def app_settings() -> QSettings:
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        return QSettings(str(Path(folder) / "playground.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)
