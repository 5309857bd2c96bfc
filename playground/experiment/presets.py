"""Built-in experiments: one JSON experiment file per preset in ``resources/presets``.

A preset's name is its file name without ``.json``; its title and description (what to
watch for) are the experiment's own ``title`` and ``description`` fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playground.experiment.config import ConfigError, Experiment, load_experiment
from playground.resources import resource_path

DEFAULT_PRESET = "classic"


@dataclass(frozen=True)
class PresetInfo:
    name: str
    title: str
    description: str


def presets_dir() -> Path:
    return resource_path("presets")


def preset_names() -> list[str]:
    folder = presets_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json"))


def load_preset(name: str) -> Experiment:
    """The preset's experiment; an unknown name raises ConfigError listing the known ones."""
    path = presets_dir() / f"{name}.json"
    if not path.is_file():
        known = ", ".join(preset_names()) or "none found"
        raise ConfigError("", f"unknown preset {name!r}; the presets are: {known}")
    return load_experiment(path)


def list_presets() -> list[PresetInfo]:
    out = []
    for name in preset_names():
        e = load_preset(name)
        out.append(PresetInfo(name, e.title, e.description))
    return out
