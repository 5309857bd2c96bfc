"""The editing panels of the main window (data, network, training).

Each panel shows one Experiment, emits ``experimentEdited(new_experiment)`` after a valid
user edit, and takes ``set_experiment(exp)`` to show another without emitting.
"""

from playground.ui.panels.data_panel import DataPanel
from playground.ui.panels.network_panel import NetworkPanel
from playground.ui.panels.training_panel import TrainingPanel

__all__ = ["DataPanel", "NetworkPanel", "TrainingPanel"]
