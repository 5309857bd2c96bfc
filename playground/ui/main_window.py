"""The main window: lays out the plots, panels and controls, and wires them together.

Nothing is computed here. The controller owns the experiment and the worker; the plots
draw; the panels edit; this class connects their signals, runs the File and View menus,
and turns every file error into a message box that leaves the current work untouched.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from playground.experiment.config import ConfigError, Experiment, load_experiment, save_experiment
from playground.experiment.presets import list_presets, load_preset, preset_names
from playground.ui.controller import TrainingController
from playground.ui.controls import TransportBar
from playground.ui.experiments.menu import ExperimentsMenu
from playground.ui.live_view import LiveView
from playground.ui.panels import DataPanel, NetworkPanel, TrainingPanel
from playground.ui.plots import BoundaryPlot, GradientPlot, LossPlot, UnitHealthPlot
from playground.ui.settings import app_settings
from playground.ui.status_bar import TrainingStatusBar
from playground.ui.views import ActivationExplorer, DiagnosticsView, NetworkView

APP_NAME = "Playground"
#: Bump when the docks change so that an old saved layout is ignored.
LAYOUT_VERSION = 2
EXPERIMENT_FILTER = "Playground experiments (*.json);;All files (*)"


class MainWindow(QMainWindow):
    """The Playground window around one :class:`TrainingController`."""

    def __init__(self, experiment: Experiment | None = None, *, start: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("playgroundMainWindow")
        self.resize(1400, 900)
        self.controller = TrainingController(experiment, parent=self)
        exp = self.controller.experiment
        self._path: Path | None = None

        self.boundary_plot = BoundaryPlot()
        self.loss_plot = LossPlot()
        self.gradient_plot = GradientPlot()
        self.unit_health_plot = UnitHealthPlot()
        self.data_panel = DataPanel(exp)
        self.network_panel = NetworkPanel(exp)
        self.training_panel = TrainingPanel(exp)
        self.panels = (self.data_panel, self.network_panel, self.training_panel)
        self.transport = TransportBar(self)
        self.status = TrainingStatusBar(self)
        self.network_view = NetworkView()
        self.activation_explorer = ActivationExplorer()
        self.diagnostics_view = DiagnosticsView()
        self.live_view = LiveView(self.controller, self.boundary_plot, self.loss_plot,
                                  self.gradient_plot, self.unit_health_plot, self.status, self)

        self._build_layout()
        self._build_menus()
        self._wire()
        self.transport.install_shortcuts(self)
        self._default_layout = self.saveState(LAYOUT_VERSION)
        self._restore_settings()
        self.controller.set_speed(self.transport.speed())
        self._show_experiment(exp)
        if start:
            # After the window is shown: the first data set may need scikit-learn.
            QTimer.singleShot(0, self.controller.start)

    # ------------------------------------------------------------------ layout
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_layout(self) -> None:
        self.setCentralWidget(self.boundary_plot)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.transport)
        self.setStatusBar(self.status)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.data_dock = self._dock("Data", "dataDock", self.data_panel, left)
        self.network_dock = self._dock("Network", "networkDock", self.network_panel, left)
        self.training_dock = self._dock("Training", "trainingDock", self.training_panel, left)
        self.loss_dock = self._dock("Loss", "lossDock", self.loss_plot, right)
        self.gradient_dock = self._dock("Gradient size per layer (log scale)", "gradientDock",
                                        self.gradient_plot, right)
        self.unit_health_dock = self._dock("Dead and saturated units", "unitHealthDock",
                                           self.unit_health_plot, right)
        self.tabifyDockWidget(self.data_dock, self.training_dock)
        self.data_dock.raise_()
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        self.resizeDocks([self.data_dock, self.network_dock], [430, 430], Qt.Orientation.Vertical)
        self.resizeDocks([self.loss_dock, self.gradient_dock, self.unit_health_dock],
                         [300, 300, 200], Qt.Orientation.Vertical)
        self.resizeDocks([self.data_dock, self.loss_dock], [360, 470], Qt.Orientation.Horizontal)
        self.docks = (self.data_dock, self.network_dock, self.training_dock, self.loss_dock,
                      self.gradient_dock, self.unit_health_dock)
        # Looking inside the network: closed at first (they cost training time while
        # shown). The graph goes under the boundary; the explorer and the diagnostics
        # open as tabs over the loss and the gradient plots they go deeper into.
        self.network_view_dock = self._dock("Network graph (live)", "networkViewDock",
                                            self.network_view,
                                            Qt.DockWidgetArea.BottomDockWidgetArea)
        self.explorer_dock = self._dock("Activation explorer", "activationExplorerDock",
                                        self.activation_explorer, right)
        self.diagnostics_dock = self._dock("Diagnostics and hints", "diagnosticsDock",
                                           self.diagnostics_view, right)
        self.tabifyDockWidget(self.loss_dock, self.explorer_dock)
        self.tabifyDockWidget(self.gradient_dock, self.diagnostics_dock)
        self.inside_docks = (self.network_view_dock, self.explorer_dock, self.diagnostics_dock)
        for dock in self.inside_docks:
            dock.hide()
            dock.toggleViewAction().toggled.connect(
                lambda shown, d=dock: self._on_inside_dock_toggled(d, shown))
        self.loss_dock.raise_()
        self.gradient_dock.raise_()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open experiment…", self.open_dialog,
                                        QKeySequence.StandardKey.Open)
        self.preset_menu = file_menu.addMenu("Open &preset")
        self.preset_menu.aboutToShow.connect(self._fill_preset_menu)
        file_menu.addSeparator()
        self.save_action = self._action(file_menu, "&Save experiment", self.save,
                                        QKeySequence.StandardKey.Save)
        self.save_as_action = self._action(file_menu, "Save experiment &as…", self.save_as_dialog,
                                           QKeySequence.StandardKey.SaveAs)
        file_menu.addSeparator()
        self.export_action = self._action(file_menu, "&Export decision boundary as PNG…",
                                          self.export_dialog)
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close,
                                        QKeySequence.StandardKey.Quit)

        train_menu = bar.addMenu("&Training")
        for action in (self.transport.play_action, self.transport.step_action,
                       self.transport.reset_action):
            train_menu.addAction(action)

        self.experiments_menu = ExperimentsMenu(self, self.controller)
        bar.addMenu(self.experiments_menu)

        view_menu = bar.addMenu("&View")
        for dock in self.docks:
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(self.transport.toggleViewAction())
        view_menu.addSeparator()
        for dock, key in zip(self.inside_docks, ("Ctrl+1", "Ctrl+2", "Ctrl+3")):
            action = dock.toggleViewAction()
            action.setShortcut(QKeySequence(key))
            view_menu.addAction(action)
        view_menu.addSeparator()
        self._action(view_menu, "&Reset layout", self.reset_layout)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _fill_preset_menu(self) -> None:
        self.preset_menu.clear()
        try:
            presets = [(p.name, p.title) for p in list_presets()]
        except ConfigError:
            presets = [(name, name) for name in preset_names()]  # one file is broken
        if not presets:
            self.preset_menu.addAction("(no presets found)").setEnabled(False)
        for name, title in presets:
            action = self.preset_menu.addAction(title)
            action.setToolTip(name)
            action.triggered.connect(lambda _=False, n=name: self.open_preset(n))

    def _on_inside_dock_toggled(self, dock: QDockWidget, shown: bool) -> None:
        """Opened from the View menu: bring its tab to the front and, for the graph,
        give it room to read (once, when it opens smaller than that)."""
        if not shown:
            return
        dock.raise_()
        if dock is self.network_view_dock and dock.height() < 0.3 * self.height():
            self.resizeDocks([dock], [int(0.42 * self.height())], Qt.Orientation.Vertical)

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        c = self.controller
        for panel in self.panels:
            panel.experimentEdited.connect(self._on_edited)
        c.experimentChanged.connect(self._show_experiment)
        c.resetHappened.connect(self._on_reset)
        c.historyReset.connect(self._on_history_reset)
        c.diverged.connect(self._on_diverged)
        c.trainingStopped.connect(self._on_training_stopped)
        c.errorOccurred.connect(self._on_error)
        c.notice.connect(lambda text: self.status.show_notice(text, 10000))
        c.runningChanged.connect(self.transport.set_running)
        for view in (self.network_view, self.activation_explorer, self.diagnostics_view):
            self.live_view.attach(view)
        self.live_view.set_unit_source(self.network_view.focused_image)
        self.network_view.focusChanged.connect(self.live_view.redraw)
        t = self.transport
        t.playPauseRequested.connect(c.toggle)
        t.stepRequested.connect(lambda: c.step(1))
        t.resetRequested.connect(self._on_reset_requested)
        t.speedChanged.connect(c.set_speed)

    @Slot(object)
    def _on_edited(self, experiment: Experiment) -> None:
        self.controller.set_experiment(experiment)
        self.setWindowModified(True)

    @Slot(object)
    def _show_experiment(self, experiment: Experiment) -> None:
        for panel in self.panels:
            if panel.experiment() != experiment:
                panel.set_experiment(experiment)
        self.setWindowTitle(f"{experiment.title}[*] — {APP_NAME}")

    @Slot(str)
    def _on_reset(self, reason: str) -> None:
        text = f"Reset: {reason} changed"
        self.boundary_plot.show_notice(f"{text} — training starts again from fresh weights")
        self.status.show_notice(f"{text}; training restarted from step 0 with the same seed.")

    @Slot()
    def _on_reset_requested(self) -> None:
        self.controller.reset()
        self.boundary_plot.show_notice("Reset — same seed, same starting weights", 2500)

    @Slot()
    def _on_history_reset(self) -> None:
        self.boundary_plot.clear_banner()
        self.status.clear_alarm()

    @Slot(str)
    def _on_diverged(self, message: str) -> None:
        self.boundary_plot.show_banner(message)
        self.status.show_alarm(message)

    @Slot(str)
    def _on_training_stopped(self, message: str) -> None:
        self.boundary_plot.show_notice(message, 6000)
        self.status.show_notice(message, 10000)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self.status.show_alarm(message)
        QMessageBox.critical(self, "Training stopped", message)

    # ------------------------------------------------------------------ files
    def _error(self, title: str, message: str) -> None:
        QMessageBox.critical(self, title, message)

    def _start_folder(self) -> str:
        if self._path is not None:
            return str(self._path.parent)
        return str(app_settings().value("files/last_folder", str(Path.home())))

    def _remember_folder(self, path: Path) -> None:
        app_settings().setValue("files/last_folder", str(path.parent))

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open experiment", self._start_folder(),
                                              EXPERIMENT_FILTER)
        if path:
            self.open_experiment_file(path)

    def open_experiment_file(self, path: str | Path) -> bool:
        """Open an experiment file; on any error say why and keep the current one."""
        path = Path(path)
        try:
            experiment = load_experiment(path)
        except ConfigError as err:
            self._error("Could not open experiment", str(err))
            return False
        self._path = path
        self._remember_folder(path)
        self.controller.open_experiment(experiment)
        self.setWindowModified(False)
        self.status.show_notice(f"Opened {path.name}")
        return True

    def open_preset(self, name: str) -> bool:
        try:
            experiment = load_preset(name)
        except ConfigError as err:
            self._error("Could not open preset", str(err))
            return False
        self._path = None
        self.controller.open_experiment(experiment)
        self.setWindowModified(False)
        self.status.show_notice(f"Opened preset: {experiment.title}")
        return True

    def save(self) -> bool:
        if self._path is None:
            return self.save_as_dialog()
        return self.save_experiment_file(self._path)

    def save_as_dialog(self) -> bool:
        suggested = self._path or Path(self._start_folder()) / "experiment.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save experiment", str(suggested),
                                              EXPERIMENT_FILTER)
        return self.save_experiment_file(path) if path else False

    def save_experiment_file(self, path: str | Path) -> bool:
        """Write the current experiment; on failure say why (nothing else changes)."""
        path = Path(path)
        try:
            save_experiment(self.controller.experiment, path)
        except (OSError, ConfigError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            self._error("Could not save experiment", f"{path}: {reason}")
            return False
        self._path = path
        self._remember_folder(path)
        self.setWindowModified(False)
        self.status.show_notice(f"Saved {path.name}")
        return True

    def export_dialog(self) -> bool:
        start = Path(self._start_folder()) / "decision-boundary.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export decision boundary", str(start),
                                              "PNG images (*.png)")
        return self.export_boundary_png(path) if path else False

    def export_boundary_png(self, path: str | Path) -> bool:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        try:
            self.boundary_plot.export_png(str(path))
        except OSError as err:
            self._error("Could not export the decision boundary",
                        f"{err}. Check that the folder exists and that you may write to it.")
            return False
        self.status.show_notice(f"Exported {path.name}")
        return True

    # ------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, LAYOUT_VERSION)
        speed = settings.value("training/speed")
        if speed is not None:
            self.transport.set_speed(None if speed == "max" else _int_or_none(speed))

    def save_settings(self) -> None:
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        speed = self.transport.speed()
        settings.setValue("training/speed", "max" if speed is None else str(speed))
        settings.sync()

    def reset_layout(self) -> None:
        """Back to the built-in arrangement of docks and toolbar."""
        self.restoreState(self._default_layout, LAYOUT_VERSION)
        for dock in self.docks:
            dock.show()
        self.transport.show()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.save_settings()
        self.experiments_menu.shutdown()
        self.controller.shutdown(timeout=1.0)
        super().closeEvent(event)


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
