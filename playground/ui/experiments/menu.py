"""The main window's Experiments menu: it opens the Compare and Sweep dialogs on the
current experiment and sends a chosen variant back through the controller."""

from __future__ import annotations

from PySide6.QtWidgets import QMainWindow, QMenu

from playground.ui.controller import TrainingController
from playground.ui.experiments.compare_runner import activation_variants, optimizer_variants
from playground.ui.experiments.compare_view import CompareView
from playground.ui.experiments.sweep_view import SweepView


class ExperimentsMenu(QMenu):
    """Compare…, two one-click comparisons, and Sweep…; one dialog of each kind."""

    def __init__(self, window: QMainWindow, controller: TrainingController) -> None:
        super().__init__("E&xperiments", window)
        self._window = window
        self._controller = controller
        self.compare_view: CompareView | None = None
        self.sweep_view: SweepView | None = None
        self.compare_action = self.addAction("&Compare…", self.open_compare)
        self.activation_action = self.addAction(
            "Sigmoid vs tanh vs ReLU",
            lambda: self.open_compare().start(activation_variants()))
        self.optimizer_action = self.addAction(
            "SGD vs momentum vs Adam",
            lambda: self.open_compare().start(optimizer_variants()))
        self.addSeparator()
        self.sweep_action = self.addAction("&Sweep…", self.open_sweep)
        controller.experimentChanged.connect(self._on_experiment_changed)

    def open_compare(self) -> CompareView:
        if self.compare_view is None:
            self.compare_view = CompareView(self._controller.experiment, self._window)
            self.compare_view.experimentChosen.connect(self._controller.set_experiment)
        self.compare_view.set_base(self._controller.experiment)
        self.compare_view.show()
        self.compare_view.raise_()
        return self.compare_view

    def open_sweep(self) -> SweepView:
        if self.sweep_view is None:
            self.sweep_view = SweepView(self._controller.experiment, self._window)
            self.sweep_view.experimentChosen.connect(self._controller.set_experiment)
        self.sweep_view.set_base(self._controller.experiment)
        self.sweep_view.show()
        self.sweep_view.raise_()
        return self.sweep_view

    def _on_experiment_changed(self, experiment: object) -> None:
        for view in (self.compare_view, self.sweep_view):
            if view is not None:
                view.set_base(experiment)

    def shutdown(self) -> None:
        """Stop any comparison or sweep still running (the window is closing)."""
        for view in (self.compare_view, self.sweep_view):
            if view is not None:
                view.stop()
