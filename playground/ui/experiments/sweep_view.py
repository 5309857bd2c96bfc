"""Sweep: train the current experiment over a grid of settings, in the background.

The editor takes up to three axes (a field path and comma-separated values), repeats,
steps and parallel jobs, and builds a :class:`SweepSpec` (every path and value checked
before the first run). :class:`SweepWorker` runs :func:`run_sweep` off the GUI thread;
each finished run becomes a table row, a gallery picture and a heatmap update. Cancel
starts no further run and stops the runs in progress; those are left out of the results.
"""

from __future__ import annotations

from pathlib import Path

from joblib import cpu_count
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.experiment.config import Experiment, is_regression
from playground.experiment.sweep import (
    RunRecord,
    SweepError,
    SweepSpec,
    parse_axis,
    write_results_csv,
)
from playground.ui import style
from playground.ui.experiments.compare_runner import DEFAULT_STEPS, SETTINGS
from playground.ui.experiments.sweep_results import Gallery, Heatmap, ResultsTable
from playground.ui.experiments.workers import SweepWorker

MAX_AXES = 3
STOP_TIMEOUT = 1.0
#: The axes the editor starts with (the learner edits them freely).
DEFAULT_AXES = (
    ("training.optimizer.learning_rate", "0.003, 0.03, 0.3"),
    ("network.layers[*].activation", "tanh, relu"),
    ("", ""),
)


class SweepView(QDialog):
    """Edit, run and read a sweep of the current experiment."""

    experimentChosen = Signal(object)  # Experiment

    def __init__(self, base: Experiment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep settings")
        self.resize(1100, 760)
        self._base = base
        self.spec: SweepSpec | None = None
        self.worker: SweepWorker | None = None
        self.records: list[RunRecord] = []
        self._cancelled = False

        self.path_boxes: list[QComboBox] = []
        self.value_edits: list[QLineEdit] = []
        axes = QGridLayout()
        axes.addWidget(QLabel("Setting (field path)"), 0, 0)
        axes.addWidget(QLabel("Values (comma-separated)"), 0, 1)
        for row, (path, values) in enumerate(DEFAULT_AXES, start=1):
            box = QComboBox()
            box.setEditable(True)
            box.addItems(["", *(s.path for s in SETTINGS)])
            box.setCurrentText(path)
            edit = QLineEdit(values)
            axes.addWidget(box, row, 0)
            axes.addWidget(edit, row, 1)
            self.path_boxes.append(box)
            self.value_edits.append(edit)
        axes.setColumnStretch(1, 1)

        self.repeats_spin = QSpinBox()
        self.repeats_spin.setRange(1, 100)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1_000_000)
        self.steps_spin.setValue(base.training.max_steps or DEFAULT_STEPS)
        self.jobs_spin = QSpinBox()
        self.jobs_spin.setRange(1, max(1, cpu_count()))
        self.jobs_spin.setValue(min(4, max(1, cpu_count())))
        self.jobs_spin.setToolTip("Runs trained at once, each in its own process")
        form = QFormLayout()
        form.addRow("Repeats (seeds):", self.repeats_spin)
        form.addRow("Steps per run:", self.steps_spin)
        form.addRow("Parallel jobs:", self.jobs_spin)

        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)

        self.table = ResultsTable()
        self.heatmap = Heatmap()
        self.gallery = Gallery()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Table")
        self.tabs.addTab(self.heatmap, "Heatmap")
        self.tabs.addTab(self.gallery, "Boundaries")
        self.export_button = QPushButton("Export CSV…")
        self.open_button = QPushButton("Open as current experiment")
        self.open_button.setToolTip("Make the selected row's experiment the current one")

        top = QHBoxLayout()
        top.addLayout(axes, 3)
        top.addLayout(form, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress_bar, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.open_button)
        bottom.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(run_row)
        layout.addWidget(self.message_label)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.export_dialog)
        self.open_button.clicked.connect(self.open_selected)
        self._update_buttons()

    # ------------------------------------------------------------------ public API
    @property
    def base(self) -> Experiment:
        return self._base

    def set_base(self, experiment: Experiment) -> None:
        """The experiment the next sweep varies (a running sweep carries on)."""
        self._base = experiment

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def set_axes(self, axes: list[tuple[str, str]]) -> None:
        """Fill the editor's rows with ``(path, "v1, v2")``; rows left over are cleared."""
        for i, (box, edit) in enumerate(zip(self.path_boxes, self.value_edits)):
            path, values = axes[i] if i < len(axes) else ("", "")
            box.setCurrentText(path)
            edit.setText(values)

    def build_spec(self) -> SweepSpec:
        """The spec the editor describes; SweepError says what is wrong."""
        axes: dict[str, tuple] = {}
        for box, edit in zip(self.path_boxes, self.value_edits):
            path, values = box.currentText().strip(), edit.text().strip()
            if not path and not values:
                continue
            name, parsed = parse_axis(f"{path}={values}")
            if name in axes:
                raise SweepError(name, "is listed in two rows")
            axes[name] = parsed
        if not axes:
            raise SweepError("", "Give at least one setting to sweep and its values.")
        return SweepSpec(self._base, axes, repeats=self.repeats_spin.value(),
                         steps=self.steps_spin.value())

    def run(self) -> bool:
        """Start the sweep the editor describes; False (and why) when it cannot run."""
        if self.running:
            return False
        try:
            spec = self.build_spec()
        except SweepError as err:
            self._say(str(err), error=True)
            return False
        self._release_worker()
        self.spec = spec
        self.records = []
        self._cancelled = False
        regression = is_regression(spec.base)
        self.table.reset_columns(spec.paths)
        self.heatmap.reset(spec.paths, "test_loss" if regression else "test_accuracy")
        self.gallery.reset(regression)
        self.progress_bar.setRange(0, len(spec.runs))
        self.progress_bar.setValue(0)
        worker = SweepWorker(spec, jobs=self.jobs_spin.value(), parent=self)
        worker.recordReady.connect(self._on_record)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._say(f"Running {len(spec.runs)} runs of {spec.steps_per_run} steps "
                  f"({spec.n_settings} settings × {spec.repeats} repeats)…")
        worker.start()
        self._update_buttons()
        return True

    def cancel(self) -> None:
        """Start no further run and stop the ones in progress (``finished`` follows)."""
        if self.worker is None or not self.running:
            return
        self._cancelled = True
        self.worker.cancel()
        self.cancel_button.setEnabled(False)
        self._say("Cancelling: stopping the runs in progress…")

    def stop(self) -> bool:
        """Cancel and wait up to ``STOP_TIMEOUT`` for the thread (the dialog closes)."""
        worker, self.worker = self.worker, None
        if worker is None:
            return True
        ended = worker.stop(STOP_TIMEOUT)
        worker.deleteLater()
        self._update_buttons()
        return ended

    def export_csv(self, path: str | Path) -> bool:
        try:
            write_results_csv(self.records, path)
        except OSError as err:
            self._say(f"Could not write {path}: {err.strerror or err}", error=True)
            return False
        self._say(f"Wrote {len(self.records)} rows to {Path(path).name}.")
        return True

    def export_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Export sweep results",
                                              str(Path.home() / "results.csv"),
                                              "CSV files (*.csv)")
        return self.export_csv(path) if path else False

    def open_selected(self) -> Experiment | None:
        """Hand the selected row's experiment (its settings and seed) to the window."""
        index = self.table.selected_run()
        if index is None or self.spec is None:
            self._say("Select a row of the table first.", error=True)
            return None
        experiment = self.spec.runs[index].experiment
        self.experimentChosen.emit(experiment)
        self._say(f"Run {index} is now the current experiment.")
        return experiment

    # ------------------------------------------------------------------ progress
    def _say(self, text: str, *, error: bool = False) -> None:
        self.message_label.setText(f'<span style="{style.ERROR_TEXT_STYLE}">{text}</span>'
                                   if error else text)

    def _update_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running and not self._cancelled)
        self.export_button.setEnabled(bool(self.records) and not running)
        self.open_button.setEnabled(bool(self.records))

    @Slot(int, int, object)
    def _on_record(self, done: int, total: int, record: RunRecord) -> None:
        self.records.append(record)
        self.table.add(record)
        self.gallery.add(record)
        self.heatmap.set_records(self.records)
        self.progress_bar.setValue(done)
        self._update_buttons()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._say(f"The sweep stopped: {message}", error=True)

    @Slot()
    def _on_finished(self) -> None:
        self._release_worker()
        total = len(self.spec.runs) if self.spec is not None else 0
        bad = sum(not r.finished for r in self.records)
        note = f" ({bad} diverged or failed)" if bad else ""
        if self._cancelled:
            self._say(f"Cancelled after {len(self.records)} of {total} runs{note}; runs "
                      "that had not finished are not listed.")
        elif "stopped" not in self.message_label.text():
            self._say(f"Done: {len(self.records)} runs{note}.")
        self._update_buttons()

    def _release_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop(STOP_TIMEOUT)  # the thread has ended or is ending
            worker.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.stop()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.stop()
        super().done(result)
