"""Diagnostics: the hints fire on the presets made to show them and stay quiet on a
healthy run; the heat strip and histograms follow the history; the view is drawn at its
own slow pace inside the window."""

from __future__ import annotations

import queue
from dataclasses import replace

import numpy as np
import pytest

from playground.experiment.build import network_spec
from playground.experiment.hints import MIN_STEPS
from playground.experiment.presets import load_preset
from playground.experiment.session import Play, SetViews, Snapshot, TrainingSession
from playground.ui.history import RECENT_STEPS, History, RecentRows
from playground.ui.views.diagnostics_view import DiagnosticsView, training_state
from playground.ui.views.inside_view import InsideView

WAIT = 20_000


def train_headless(name: str) -> tuple[TrainingSession, History, Snapshot]:
    """The preset trained to its step limit the way the window's worker does it: the
    session's loop, every snapshot folded into a History."""
    exp = load_preset(name)
    session = TrainingSession(exp, views=SetViews(boundary=False, inside=True),
                              frame_interval=0.05)
    history = History()
    snaps: list[Snapshot] = []

    def emit(snap: Snapshot) -> None:
        history.append(snap)
        snaps.append(snap)

    commands: queue.SimpleQueue = queue.SimpleQueue()
    commands.put(Play())
    session.run(commands, emit, exit_when_finished=True)
    assert snaps[-1].step == exp.training.max_steps
    return session, history, snaps[-1]


@pytest.fixture(scope="module")
def trained_presets():
    return {name: train_headless(name)
            for name in ("vanishing-gradients", "dying-relu", "spiral-relu")}


@pytest.mark.parametrize(("preset", "must", "must_not"), [
    ("vanishing-gradients", {"vanishing"}, {"dead"}),
    ("dying-relu", {"dead"}, {"vanishing", "exploding"}),
    ("spiral-relu", set(), {"vanishing", "exploding", "dead", "saturated", "step_size",
                            "overfitting"}),
])
def test_hints_fire_on_the_right_presets_and_stay_quiet_on_a_healthy_run(
        qtbot, trained_presets, preset, must, must_not):
    session, history, last = trained_presets[preset]
    spec = network_spec(session.experiment, session.data)
    state = training_state(history, last, spec)
    assert state is not None and state.step >= MIN_STEPS
    view = DiagnosticsView()
    qtbot.addWidget(view)
    view.set_network(spec, session.data)
    view.update_from(last, history)
    kinds = {h.kind for h in view.hints}
    assert must <= kinds
    assert not kinds & must_not
    text = view.hints_text()
    if must:
        for hint in view.hints:
            assert hint.layer is None or hint.layer in text
        assert " = " in text  # each hint shows its numbers
    else:
        assert "No warning signs" in text


def test_the_vanishing_hint_names_the_first_layer_and_its_numbers(qtbot, trained_presets):
    session, history, last = trained_presets["vanishing-gradients"]
    view = DiagnosticsView()
    qtbot.addWidget(view)
    view.set_network(network_spec(session.experiment, session.data), session.data)
    view.update_from(last, history)
    hint = next(h for h in view.hints if h.kind == "vanishing")
    assert hint.layer == "layer 1" and hint.numbers["ratio"] >= 100
    grad, _ = history.recent_steps()
    assert len(grad) == RECENT_STEPS
    assert hint.numbers["low"] == pytest.approx(
        10 ** np.mean(np.log10(grad[:, 0])), rel=1e-9)  # the typical recent value


def test_the_heat_strip_shows_early_layers_darker_on_vanishing_gradients(
        qtbot, trained_presets):
    session, history, last = trained_presets["vanishing-gradients"]
    view = DiagnosticsView()
    qtbot.addWidget(view)
    view.set_network(network_spec(session.experiment, session.data), session.data)
    view.update_from(last, history)
    image = view.heat_rgba()
    names, steps, logs = history.grad_norm_heat()
    assert image.shape == (len(names), len(steps), 4) and image.dtype == np.uint8
    low, high = view.levels
    assert low == int(low) and high == int(high) and high - low >= 2  # whole decades
    brightness = image[..., :3].astype(float).sum(axis=2).mean(axis=1)
    assert brightness[0] < brightness[-1]  # layer 1 (first row) far darker than output
    assert brightness[0] == pytest.approx(brightness.min())


def test_histograms_have_one_row_per_layer(qtbot, trained_presets):
    session, history, last = trained_presets["dying-relu"]
    view = DiagnosticsView()
    qtbot.addWidget(view)
    view.set_network(network_spec(session.experiment, session.data), session.data)
    view.update_from(last, history)
    assert len(view.weight_ridges) == len(last.layer_names)
    assert len(view.activation_ridges) == len(last.layer_names) - 1
    # Layer 3 is all but dead: its outputs pile up in the bar at 0, the tallest.
    edges, heights = view.activation_ridges[2].getData()
    base = 0.0  # the last hidden layer is the bottom row
    assert edges[np.argmax(heights)] <= 0 < edges[np.argmax(heights) + 1]
    assert heights.max() - base == pytest.approx(0.85)


def test_recent_rows_keep_the_last_steps_in_order():
    rows = RecentRows(2, capacity=5)
    rows.extend(np.arange(6).reshape(3, 2))
    assert rows.rows().tolist() == [[0, 1], [2, 3], [4, 5]]
    rows.extend(np.arange(6, 14).reshape(4, 2))
    assert rows.rows()[:, 0].tolist() == [4, 6, 8, 10, 12]
    rows.extend(np.arange(100, 120).reshape(10, 2))
    assert rows.rows()[:, 0].tolist() == [110, 112, 114, 116, 118]


def test_a_mismatched_snapshot_gives_no_state(trained_presets):
    session, history, last = trained_presets["spiral-relu"]
    other = load_preset("dying-relu")
    other_session = TrainingSession(other, views=SetViews(boundary=False))
    spec = network_spec(other, other_session.data)
    wider = replace(spec, hidden=spec.hidden + spec.hidden[:1])
    assert training_state(history, last, wider) is None


class CountingView(InsideView):
    """A stand-in for a slow view: counts how often the live view draws it."""

    needs_inside = True
    refresh_seconds = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.drawn = 0

    def update_from(self, snapshot, history) -> None:
        self.drawn += 1


def test_inside_views_draw_at_their_own_pace_and_only_while_shown(qtbot, classic):
    import time

    from playground.ui.main_window import MainWindow

    window = MainWindow(replace(classic, title="Pace"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.controller.latest is not None, timeout=WAIT)
    assert not window.controller.views.inside
    counting = CountingView()
    window.diagnostics_dock.setWidget(counting)
    window.live_view.attach(counting)
    window.diagnostics_dock.show()
    qtbot.waitUntil(lambda: window.controller.views.inside, timeout=WAIT)
    qtbot.waitUntil(lambda: window.controller.latest.pre_activations is not None,
                    timeout=WAIT)
    window.transport.set_speed(None)
    window.controller.play()
    start_frames, start_drawn = window.live_view.frames_drawn, counting.drawn
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: window.live_view.frames_drawn > start_frames + 30, timeout=WAIT)
    elapsed = time.perf_counter() - t0
    window.controller.pause()
    drawn = counting.drawn - start_drawn
    assert 1 <= drawn <= elapsed / counting.refresh_seconds + 2
    assert drawn < window.live_view.frames_drawn - start_frames
    window.diagnostics_dock.hide()
    assert not window.controller.views.inside
    window.close()
    window.data_panel.wait_for_thumbnail_thread(30.0)
