"""The Sweep dialog: a small grid fills the table, heatmap and gallery; Cancel stops a
big sweep early, the run in progress included, with the thread gone; a row can be
exported and opened."""

from __future__ import annotations

import csv
import threading

import pytest
from PySide6.QtCore import Qt

from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    TrainingConfig,
)
from playground.ui.experiments.sweep_view import SweepView
from playground.ui.experiments.workers import SWEEP_THREAD


def sweep_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == SWEEP_THREAD and t.is_alive()]


@pytest.fixture
def tiny() -> Experiment:
    return Experiment(
        seed=3,
        data=DataConfig(dataset="xor", n_samples=60),
        network=NetworkConfig(layers=(LayerConfig(units=3),)),
        training=TrainingConfig(max_steps=20, batch_size=10, fast_path=False),
    )


@pytest.fixture
def view(qtbot, tiny):
    v = SweepView(tiny)
    qtbot.addWidget(v)
    v.jobs_spin.setValue(1)
    yield v
    assert v.stop()
    assert not sweep_threads()


def column(view, name: str) -> int:
    model = view.table.results
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return headers.index(name)


def cells(view, name: str) -> list[str]:
    c = column(view, name)
    return [view.table.results.item(r, c).text() for r in range(view.table.results.rowCount())]


def _run_to_end(qtbot, view) -> None:
    assert view.run()
    qtbot.waitUntil(lambda: not view.running and view.worker is None, timeout=30000)


def test_a_two_by_two_grid_fills_the_table(qtbot, view):
    view.set_axes([("training.optimizer.learning_rate", "0.01, 0.1"),
                   ("network.layers[*].activation", "tanh, relu")])
    view.steps_spin.setValue(20)
    _run_to_end(qtbot, view)
    model = view.table.results
    assert model.rowCount() == 4
    assert view.progress_bar.value() == 4
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[1:3] == ["training.optimizer.learning_rate", "network.layers[*].activation"]
    assert set(cells(view, "steps")) == {"20"}
    assert set(cells(view, "status")) == {"ok"}
    assert len(view.gallery.thumbs) == 4
    assert view.heatmap.image_item.image.shape[:2] == (2, 2)
    assert "Done: 4 runs" in view.message_label.text()


def test_sorting_by_a_number_column(qtbot, view):
    view.set_axes([("training.batch_size", "2, 10, 5")])
    _run_to_end(qtbot, view)
    view.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert [view.table.results.item(r, 1).text() for r in range(3)] == ["2", "5", "10"]
    assert "two swept settings" in view.heatmap.note_label.text()


def test_cancel_stops_a_big_sweep_early(qtbot, view):
    view.set_axes([("training.optimizer.learning_rate", "0.001, 0.002, 0.003, 0.004"),
                   ("training.batch_size", "1, 2, 3, 4, 5")])
    view.repeats_spin.setValue(2)
    view.steps_spin.setValue(400)
    assert view.run()
    planned = len(view.spec.runs)
    view.cancel()
    assert view.run_button.isEnabled() is False  # still finishing the run in progress
    qtbot.waitUntil(lambda: view.worker is None, timeout=10000)
    assert len(view.records) < planned
    assert view.table.results.rowCount() == len(view.records)
    assert "Cancelled" in view.message_label.text()
    assert not sweep_threads()
    assert view.run_button.isEnabled()


def test_cancel_stops_the_run_in_progress_with_one_job(qtbot, view, monkeypatch):
    """One job trains in the sweep's own thread: Cancel stops that run between two chunks
    of training instead of waiting for its million steps."""
    from playground.engine import Trainer

    started, cancelled = threading.Event(), threading.Event()
    late: list[int] = []
    run = Trainer.run

    def watched(self, n_steps, deadline=None):
        if cancelled.is_set():
            late.append(self.step)
            if len(late) > 3:  # recorded as a failed run: a row the test would see
                raise AssertionError("the run went on training after Cancel")
        result = run(self, n_steps, deadline)
        started.set()
        return result

    monkeypatch.setattr(Trainer, "run", watched)
    view.set_axes([("training.batch_size", "5, 10")])
    view.steps_spin.setValue(1_000_000)
    assert view.run()
    qtbot.waitUntil(started.is_set, timeout=10000)
    cancelled.set()
    with qtbot.waitSignal(view.worker.finished, timeout=10000):
        view.cancel()
        assert "stopping the runs in progress" in view.message_label.text()
    assert view.worker is None and not sweep_threads()
    assert view.records == [] and view.table.results.rowCount() == 0
    assert len(late) <= 1
    assert "Cancelled after 0 of 2 runs" in view.message_label.text()
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()


def test_a_diverged_run_is_a_row_that_says_so(qtbot, view, diverging):
    view.set_base(diverging)  # sgd with momentum 0.9, batch size 1, three relu layers
    view.set_axes([("training.optimizer.learning_rate", "0.001, 5")])
    view.steps_spin.setValue(200)
    _run_to_end(qtbot, view)
    status = dict(zip(cells(view, "training.optimizer.learning_rate"), cells(view, "status")))
    assert status == {"0.001": "ok", "5.0": "diverged"}
    assert "1 diverged or failed" in view.message_label.text()


def test_bad_axis_is_refused_with_a_message(view):
    view.set_axes([("training.no_such_field", "1, 2")])
    assert not view.run()
    assert "no_such_field" in view.message_label.text()
    assert view.worker is None


def test_export_and_open_a_row(qtbot, view, tmp_path):
    view.set_axes([("training.batch_size", "5, 10")])
    _run_to_end(qtbot, view)
    target = tmp_path / "results.csv"
    assert view.export_csv(target)
    with target.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["training.batch_size"] for r in rows] == ["5", "10"]

    view.table.selectRow(1)
    with qtbot.waitSignal(view.experimentChosen) as blocker:
        view.open_button.click()
    chosen = view.table.results.item(1, 1).text()
    assert blocker.args[0].training.batch_size == int(chosen)


def test_export_dialog_is_patched_not_shown(qtbot, view, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    view.set_axes([("training.batch_size", "5, 10")])
    _run_to_end(qtbot, view)
    target = tmp_path / "out.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    view.export_button.click()
    assert target.exists()
