"""Shared fixtures of the UI tests: offscreen Qt, private settings, no stray threads."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from playground.experiment.config import (  # noqa: E402 - after the Qt platform is chosen
    ConfigError,
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    OptimizerConfig,
    TrainingConfig,
)
from playground.experiment.presets import load_preset  # noqa: E402

TRAINING_THREAD = "playground-training"


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == TRAINING_THREAD and t.is_alive()]


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Every test gets its own settings file: no test reads or writes the user's layout."""
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    monkeypatch.setenv("PLAYGROUND_SETTINGS_DIR", str(tmp_path / "settings"))
    yield tmp_path / "settings"


@pytest.fixture(autouse=True)
def no_worker_left_running():
    """Fail any test that leaves a training thread behind (then stop it for the next)."""
    before = set(training_threads())
    yield
    left = [t for t in training_threads() if t not in before]
    for thread in left:
        thread.join(2.0)  # a thread that was told to stop gets a moment to finish
    still = [t for t in left if t.is_alive()]
    if still:
        pytest.fail(f"{len(still)} training thread(s) still running after the test")


@pytest.fixture
def messages(monkeypatch):
    """Record message boxes instead of showing them (a modal box would block the test)."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str, str]] = []

    def record(kind):
        def box(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return QMessageBox.StandardButton.Ok
        return box

    for kind in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record(kind)))
    return shown


def classic_experiment() -> Experiment:
    """TensorFlow Playground's starting point: circle, tanh 4-2, classic head."""
    try:
        exp = load_preset("classic")
    except ConfigError:
        exp = Experiment(
            title="Classic",
            data=DataConfig(dataset="circle", n_samples=500),
            network=NetworkConfig(layers=(LayerConfig(units=4), LayerConfig(units=2)),
                                  output="classic", init="classic"),
        )
    return replace(exp, training=replace(exp.training, max_steps=None))


def diverging_experiment() -> Experiment:
    """A regression that a huge learning rate blows up within a few steps."""
    return Experiment(
        title="Too fast",
        data=DataConfig(dataset="reg_plane", n_samples=200),
        network=NetworkConfig(layers=(LayerConfig(units=8, activation="relu"),) * 3),
        training=TrainingConfig(
            optimizer=OptimizerConfig(name="sgd", learning_rate=5.0, momentum=0.9),
            batch_size=1,
        ),
    )


@pytest.fixture
def classic() -> Experiment:
    return classic_experiment()


@pytest.fixture
def diverging() -> Experiment:
    return diverging_experiment()
