"""The main window, end to end: train, reset, diverge, files, layout, keyboard."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLineEdit

from playground.experiment.config import LayerConfig, load_experiment, with_path

from .conftest import training_threads

pytest.importorskip("playground.ui.panels")  # the window needs the real panels

from playground.ui.main_window import MainWindow  # noqa: E402

WAIT = 20_000


@pytest.fixture
def make_window(qtbot):
    windows = []

    def make(experiment):
        window = MainWindow(experiment)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.controller.latest is not None, timeout=WAIT)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.data_panel.wait_for_thumbnail_thread(30.0)


@pytest.fixture
def window(make_window, classic):
    return make_window(classic)


def wait_for_step(qtbot, window, step):
    qtbot.waitUntil(lambda: window.controller.latest.step >= step, timeout=WAIT)


def test_play_trains_draws_and_reports_progress(qtbot, window):
    start_loss = window.controller.latest.test_loss
    window.transport.play_action.trigger()
    assert window.transport.running and window.transport.play_action.text() == "Pause"
    qtbot.waitUntil(lambda: window.controller.latest.test_loss < 0.5 * start_loss,
                    timeout=WAIT)
    window.transport.play_action.trigger()
    assert not window.transport.running and window.transport.play_action.text() == "Train"
    qtbot.waitUntil(lambda: window.live_view.frames_drawn > 3, timeout=WAIT)
    window.live_view.draw()
    image = window.boundary_plot.image_rgba()
    assert len(np.unique(image.reshape(-1, 4), axis=0)) > 20  # a boundary, not a flat field
    _, train = window.loss_plot.train_loss_curve.getData()
    assert len(train) > 0
    qtbot.waitUntil(lambda: window.status.labels["step"].text()
                    == f"Step {window.controller.latest.step:,}", timeout=WAIT)
    assert window.status.labels["engine"].text() == f"engine: {window.controller.latest.engine}"


@pytest.mark.parametrize(("engine", "running", "handoff"), [
    ("compiled", True, True), ("numpy", True, False), ("compiled", False, False)])
def test_a_snapshot_of_the_compiled_engine_is_drawn_after_the_hand_off(
        qtbot, window, engine, running, handoff):
    """While the compiled engine trains, a frame waits HANDOFF_SECONDS for the worker to
    get back into its kernel; a paced (numpy) or paused snapshot is drawn at once."""
    from playground.ui import live_view

    view = window.live_view
    qtbot.waitUntil(lambda: not view._timer.isActive(), timeout=WAIT)
    view._last_draw = 0.0  # long ago: no frame-rate wait of its own
    drawn = view.frames_drawn
    view._on_snapshot(replace(window.controller.latest, running=running, engine=engine))
    expected = int(live_view.HANDOFF_SECONDS * 1000) if handoff else 0
    assert view._timer.isActive() and view._timer.interval() == expected
    qtbot.waitUntil(lambda: view.frames_drawn == drawn + 1, timeout=WAIT)


def test_step_button_takes_exactly_one_step(qtbot, window):
    window.transport.step_action.trigger()
    qtbot.waitUntil(lambda: window.controller.latest.step == 1, timeout=WAIT)
    qtbot.wait(200)
    assert window.controller.latest.step == 1
    assert not window.transport.running


def test_editing_the_learning_rate_does_not_reset(qtbot, window, classic):
    window.controller.step(60)
    wait_for_step(qtbot, window, 60)
    with qtbot.assertNotEmitted(window.controller.resetHappened):
        window.training_panel.experimentEdited.emit(
            with_path(classic, "training.optimizer.learning_rate", 0.3))
        window.controller.step(5)
        wait_for_step(qtbot, window, 65)
    assert not window.boundary_plot.notice_label.isVisible()
    assert window.isWindowModified()
    assert window.data_panel.experiment().training.optimizer.learning_rate == 0.3


def test_changing_the_layers_resets_visibly(qtbot, window, classic):
    window.controller.step(60)
    wait_for_step(qtbot, window, 60)
    deeper = replace(classic, network=replace(
        classic.network, layers=(*classic.network.layers, LayerConfig(units=2))))
    with qtbot.waitSignal(window.controller.resetHappened, timeout=WAIT):
        window.network_panel.experimentEdited.emit(deeper)
    notice = window.boundary_plot.notice_label
    assert notice.isVisible() and "network changed" in notice.text()
    assert "Reset" in window.status.currentMessage()
    qtbot.waitUntil(lambda: window.controller.latest is not None, timeout=WAIT)
    assert window.controller.latest.step == 0
    assert len(window.controller.latest.layer_names) == 4
    # Every panel now shows the new experiment.
    for panel in window.panels:
        assert panel.experiment() == deeper


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the engine overflowing
def test_divergence_pauses_and_shows_what_to_try(qtbot, make_window, diverging):
    window = make_window(diverging)
    window.transport.play_action.trigger()
    qtbot.waitUntil(lambda: window.boundary_plot.banner_text() != "", timeout=WAIT)
    banner = window.boundary_plot.banner_text()
    assert "diverged" in banner and "learning rate" in banner
    assert window.boundary_plot.banner_label.isVisible()
    assert "learning rate" in window.status.alarm_text()
    assert not window.transport.running
    window.live_view.draw()  # drawing a diverged snapshot must not fail
    qtbot.wait(50)  # the window keeps serving events
    window.transport.reset_action.trigger()
    qtbot.waitUntil(lambda: window.boundary_plot.banner_text() == "", timeout=WAIT)
    assert window.status.alarm_text() == ""


def test_closing_while_training_stops_the_worker_within_one_second(qtbot, window):
    window.transport.set_speed(None)
    window.transport.play_action.trigger()
    wait_for_step(qtbot, window, 50)
    assert training_threads()
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 1.0
    assert not training_threads()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"format": "playground-experiment", "version": 1,
                     "network": {"layers": [{"units": 4, "activation": "swishy"}]}}),
         "network.layers[0].activation"),
    ],
)
def test_opening_a_broken_file_shows_an_error_and_keeps_everything(
        qtbot, window, messages, tmp_path, content, expected):
    window.controller.step(20)
    wait_for_step(qtbot, window, 20)
    before = window.controller.experiment
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    assert not window.open_experiment_file(path)
    assert len(messages) == 1 and expected in messages[0][2]
    assert window.controller.experiment is before
    assert window.controller.latest.step >= 20  # training was not reset


def test_opening_a_folder_or_a_missing_file_is_an_error(window, messages, tmp_path):
    assert not window.open_experiment_file(tmp_path)
    assert not window.open_experiment_file(tmp_path / "missing.json")
    assert [m[0] for m in messages] == ["critical", "critical"]
    assert "folder" in messages[0][2] and "no such file" in messages[1][2]


def test_save_and_open_round_trip(qtbot, window, classic, tmp_path, monkeypatch):
    edited = with_path(classic, "training.batch_size", 17)
    window.training_panel.experimentEdited.emit(edited)
    assert window.isWindowModified()
    path = tmp_path / "mine.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))
    assert window.save()  # no file yet: asks where
    assert not window.isWindowModified()
    assert load_experiment(path) == edited
    window.training_panel.experimentEdited.emit(classic)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))
    with qtbot.waitSignal(window.controller.historyReset, timeout=WAIT):
        window.open_dialog()
    assert window.controller.experiment == edited
    assert window.training_panel.experiment() == edited
    assert edited.title in window.windowTitle() and not window.isWindowModified()


def test_a_failed_save_says_why_and_changes_nothing(window, messages, tmp_path):
    window.setWindowModified(True)
    assert not window.save_experiment_file(tmp_path / "no" / "such" / "folder.json")
    assert len(messages) == 1 and "folder.json" in messages[0][2]
    assert window.isWindowModified()


def test_export_boundary_png_writes_a_real_image(qtbot, window, tmp_path, messages):
    window.controller.step(300)
    wait_for_step(qtbot, window, 300)
    window.live_view.draw()
    path = tmp_path / "boundary"  # the .png suffix is added
    assert window.export_boundary_png(path)
    image = QImage(str(path) + ".png")
    assert not image.isNull()
    colors = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    assert len(colors) > 20
    assert not window.export_boundary_png(tmp_path / "missing" / "b.png")
    assert messages and "Could not export" in messages[-1][1]


def test_the_preset_menu_lists_every_preset_by_title(window):
    from playground.experiment.presets import list_presets

    window.preset_menu.aboutToShow.emit()
    titles = [a.text() for a in window.preset_menu.actions()]
    assert titles == [p.title for p in list_presets()]


def test_opening_a_preset_replaces_the_experiment(qtbot, window):
    from playground.experiment.presets import list_presets, load_preset

    name = list_presets()[-1].name
    with qtbot.waitSignal(window.controller.historyReset, timeout=WAIT):
        assert window.open_preset(name)
    assert window.controller.experiment == load_preset(name)


def test_dock_layout_is_remembered_and_can_be_reset(qtbot, make_window, classic):
    first = make_window(classic)
    assert {d.objectName() for d in first.findChildren(QDockWidget)} >= {
        "dataDock", "networkDock", "trainingDock", "lossDock", "gradientDock",
        "unitHealthDock"}
    first.unit_health_dock.hide()
    first.close()
    second = make_window(classic)
    assert second.unit_health_dock.isHidden()
    second.reset_layout()
    assert not second.unit_health_dock.isHidden()


def test_space_plays_but_not_while_typing(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5000)
    window.boundary_plot.plot_widget.setFocus()
    qtbot.keyClick(window.boundary_plot.plot_widget, Qt.Key.Key_Space)
    assert window.controller.running
    qtbot.keyClick(window.boundary_plot.plot_widget, Qt.Key.Key_Space)
    assert not window.controller.running
    editor = QLineEdit()  # any text field in the window, e.g. a note
    window.status.addWidget(editor)
    editor.show()
    editor.setFocus()
    qtbot.keyClicks(editor, "a b")
    qtbot.keyClick(editor, Qt.Key.Key_S)
    qtbot.keyClick(editor, Qt.Key.Key_R)
    qtbot.keyClick(editor, Qt.Key.Key_Right)
    assert editor.text().lower() == "a bsr"
    assert not window.controller.running
    assert window.controller.latest.step == 0
    box = window.boundary_plot.show_test_box  # a focused check box keeps its Space
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Space)
    assert not box.isChecked() and not window.controller.running


def test_step_and_reset_keys(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5000)
    window.boundary_plot.plot_widget.setFocus()
    qtbot.keyClick(window.boundary_plot.plot_widget, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.controller.latest.step == 1, timeout=WAIT)
    qtbot.keyClick(window.boundary_plot.plot_widget, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: window.controller.latest.step == 2, timeout=WAIT)
    with qtbot.waitSignal(window.controller.historyReset, timeout=WAIT):
        qtbot.keyClick(window.boundary_plot.plot_widget, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.controller.latest is not None
                    and window.controller.latest.step == 0, timeout=WAIT)


def test_importing_the_app_module_loads_neither_qt_nor_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, playground.ui.app; "
            "print(any(m.startswith(('PySide6', 'sklearn', 'pyqtgraph')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_run_app_opens_the_default_preset_and_returns_when_closed(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from playground.experiment.presets import DEFAULT_PRESET, load_preset
    from playground.ui.app import run_app

    seen = []

    def close_window():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                seen.append(widget)
                qtbot.waitUntil(lambda w=widget: w.controller.latest is not None, timeout=WAIT)
                widget.close()
                widget.data_panel.wait_for_thumbnail_thread(30.0)

    QTimer.singleShot(100, close_window)
    assert run_app(argv=["playground"]) == 0
    assert len(seen) == 1
    assert seen[0].controller.experiment == load_preset(DEFAULT_PRESET)
    assert not QApplication.windowIcon().isNull()


def test_self_test_trains_and_draws(capsys):
    from playground.ui.app import self_test

    assert self_test(timeout=60.0)
    assert "self-test: ok" in capsys.readouterr().out
