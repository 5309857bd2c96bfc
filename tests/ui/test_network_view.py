"""The network graph: geometry, every shape from no hidden layer to 10 x 64, hover,
dead units, and a unit clicked into the big plot and back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from playground.experiment.build import network_spec
from playground.experiment.config import DataConfig, Experiment, LayerConfig, NetworkConfig
from playground.experiment.presets import load_preset
from playground.experiment.session import SetViews, TrainingSession
from playground.ui.history import History
from playground.ui.views.network_layout import (
    LINK_WIDTHS,
    MAX_LINKS,
    NetworkLayout,
    UnitRef,
    fitted_layout,
    strongest_links,
    weight_bands,
)
from playground.ui.views.network_view import NetworkView, tile_strip

WAIT = 20_000


def session_for(layers: tuple[int, ...], activation: str = "tanh",
                dataset: str = "circle") -> TrainingSession:
    exp = Experiment(
        data=DataConfig(dataset=dataset, n_samples=200),
        network=NetworkConfig(layers=tuple(LayerConfig(units=n, activation=activation)
                                           for n in layers)),
    )
    return TrainingSession(exp, grid_size=40, views=SetViews(neurons=True, inside=True))


def shown_view(qtbot, session: TrainingSession, size=(700, 500)) -> NetworkView:
    view = NetworkView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view.set_network(network_spec(session.experiment, session.data), session.data)
    return view


# ---------------------------------------------------------------------- geometry


def test_every_tile_centre_maps_back_to_its_unit():
    lay = NetworkLayout((2, 5, 16, 1))
    for column, n in enumerate(lay.sizes):
        for unit in range(n):
            x, y = lay.tile_origin(column, unit)
            assert lay.unit_at(x + lay.tile / 2, y + lay.tile / 2) == UnitRef(column, unit)
            assert lay.unit_at(x + lay.tile + 1, y + lay.tile / 2) is None  # beside it
    x, y = lay.tile_origin(2, 0)
    assert lay.unit_at(x + 1, y + lay.tile + lay.gap / 2) is None  # between two tiles


def test_nearest_link_finds_the_link_under_the_point():
    lay = NetworkLayout((3, 4, 1))
    source, target = np.array([0, 2, 1]), np.array([3, 0, 1])
    x0, y0, x1, y1 = lay.link_ends(0)
    t = 0.3
    x = x0 + t * (x1 - x0)
    y = y0[2] + t * (y1[0] - y0[2])  # on the link 2 -> 0
    assert lay.nearest_link(x, y, 0, source, target) == 1
    assert lay.nearest_link(x, y + 40, 0, source, target) is None


def test_strongest_links_keep_the_largest_weights_weakest_first():
    w = np.arange(-50, 50, dtype=float).reshape(10, 10)
    source, target = strongest_links(w, most=7)
    values = np.abs(w[source, target])
    assert len(values) == 7 and values.min() >= np.sort(np.abs(w).ravel())[-7]
    assert np.all(np.diff(values) >= 0)
    everything = strongest_links(w[:2, :3], most=100)
    assert len(everything[0]) == 6


def test_weight_bands_split_by_sign_and_relative_size():
    bands = weight_bands(np.array([2.0, -2.0, 0.01, -0.01, 1.0]))
    n = len(LINK_WIDTHS)
    assert bands[0] == n - 1 and bands[1] == 2 * n - 1  # the largest: top band
    assert bands[2] == 0 and bands[3] == n  # tiny: bottom band of its sign
    assert 0 < bands[4] < n - 1


def test_fitted_layout_fills_the_width_and_scrolls_when_too_tall():
    small, scale = fitted_layout((2, 4, 1), 800, 400)
    assert small.width * scale <= 800 + 1 and small.height * scale <= 400 + 1
    assert small.column_pitch > NetworkLayout((2, 4, 1)).column_pitch  # spread out
    tall, scale = fitted_layout((2,) + (64,) * 10 + (1,), 800, 400)
    assert tall.height * scale > 400  # the view scrolls rather than shrink tiles to dots
    assert tall.tile * scale >= 12


def test_tile_strip_puts_unit_0_on_top_with_each_image_upside_down():
    values = np.zeros((2, 4, 4), np.float32)
    values[0, 0] = 1.0  # unit 0: its bottom row (row 0 = the plane's bottom) is high
    lut = np.stack([np.arange(256)] * 4, axis=1).astype(np.uint8)
    strip = tile_strip(values, lut, (-1.0, 1.0), gap_rows=1)
    assert strip.shape == (9, 4, 4)
    assert strip[3, 0, 0] == 255 and strip[0, 0, 0] == 128  # drawn at the tile's bottom
    assert strip[4, 0, 3] == 0  # the gap is transparent


# ---------------------------------------------------------------------- shapes


@pytest.mark.parametrize("layers", [(), (1,), (4, 2), (16, 16, 16), (64,) * 10],
                         ids=["no-hidden", "1", "4-2", "3x16", "10x64"])
def test_the_view_builds_for_every_shape_once(qtbot, layers):
    session = session_for(layers)
    snap = session.snapshot()
    view = shown_view(qtbot, session)
    sizes = (2, *layers, 1)
    assert view.sizes == sizes
    view.update_from(snap, History())
    items = set(view.scene.items())
    images = list(view._images)
    for column, n in enumerate(sizes[:-1]):
        assert view.link_count(column) == min(MAX_LINKS, n * sizes[column + 1])
    for layer, n in enumerate(layers):
        tile = view.tile_image(UnitRef(layer + 1, n - 1))
        assert tile is not None and tile.shape == (32, 32, 4)
        assert tile[..., 3].min() == 255  # a whole heatmap, not a gap
    assert view.tile_image(UnitRef(len(sizes) - 1, 0)) is not None  # the output tile
    # Created once: a second frame changes data, not items.
    session.trainer.run(5)
    view.update_from(session.snapshot(), History())
    assert set(view.scene.items()) == items and view._images == images
    scrolls = view.graph.verticalScrollBar().maximum() > 0
    assert scrolls == (max(sizes) > 16)
    center = view.tile_center(UnitRef(len(sizes) - 2, 0))
    assert view.describe_at(center).startswith("layer" if layers else "input")


def test_a_new_architecture_rebuilds_and_a_new_session_does_not(qtbot):
    session = session_for((4,))
    view = shown_view(qtbot, session)
    view.update_from(session.snapshot(), History())
    images = list(view._images)
    view.set_network(network_spec(session.experiment, session.data), session.data)
    assert view._images == images
    wider = session_for((6,))
    view.set_network(network_spec(wider.experiment, wider.data), wider.data)
    assert view.sizes == (2, 6, 1) and view._images != images
    view.update_from(session.snapshot(), History())  # an old network's snapshot: ignored
    assert view.tile_image(UnitRef(1, 5)) is None


def test_hovering_a_unit_or_a_link_says_what_it_holds(qtbot):
    session = session_for((4, 3))
    session.trainer.run(50)
    view = shown_view(qtbot, session)
    view.update_from(session.snapshot(), History())
    viewport = view.graph.viewport()
    tile = view.graph.mapFromScene(view.tile_center(UnitRef(1, 2)))
    qtbot.mouseMove(viewport, tile)
    qtbot.waitUntil(lambda: view.hover_text.startswith("layer 1 · unit 3 (tanh)"))
    assert "output over the plane" in view.hover_text
    lay = view.layout_
    source, target, values = view._links[1]
    x0, y0, x1, y1 = lay.link_ends(1)
    strongest = len(source) - 1
    ya, yb = y0[source], y1[target]

    def clearance(t: float) -> float:  # how far the other links pass from this one
        ys = ya + t * (yb - ya)
        return float(np.delete(np.abs(ys - ys[strongest]), strongest).min())

    t = max(np.linspace(0.05, 0.95, 37), key=clearance)
    point = QPointF(x0 + t * (x1 - x0), ya[strongest] + t * (yb[strongest] - ya[strongest]))
    qtbot.mouseMove(viewport, view.graph.mapFromScene(point))
    qtbot.waitUntil(lambda: "weight" in view.hover_text)
    assert f"{values[strongest]:.3g}" in view.hover_text
    assert view._hover_item.isVisible()


def test_dead_units_are_marked_and_explained(qtbot):
    exp = load_preset("dying-relu")
    session = TrainingSession(exp, grid_size=40, views=SetViews(neurons=True))
    session.trainer.run(exp.training.max_steps)
    snap = session.snapshot()
    view = shown_view(qtbot, session)
    view.update_from(snap, History())
    for layer, mask in enumerate(snap.dead_units):
        dead, _ = view.marked_units(layer + 1)
        assert dead == [int(i) for i in np.flatnonzero(mask)]
    dead, _ = view.marked_units(3)
    assert dead  # the preset kills most of the last hidden layer
    text = view.describe_at(view.tile_center(UnitRef(3, dead[0])))
    assert "DEAD" in text
    assert not view._dead_items[3].path().isEmpty()


# ---------------------------------------------------------------------- in the window


@pytest.fixture
def window(qtbot, classic):
    from playground.ui.main_window import MainWindow

    window = MainWindow(replace(classic, title="Network view"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.controller.latest is not None, timeout=WAIT)
    yield window
    window.close()
    window.data_panel.wait_for_thumbnail_thread(30.0)


def test_heatmaps_are_computed_only_while_the_view_is_shown(qtbot, window):
    assert window.network_view_dock.isHidden()
    assert window.controller.latest.neurons is None
    assert not window.controller.views.neurons
    window.network_view_dock.toggleViewAction().trigger()
    assert window.controller.views.neurons
    qtbot.waitUntil(lambda: window.controller.latest.neurons is not None, timeout=WAIT)
    window.network_view_dock.toggleViewAction().trigger()
    assert not window.controller.views.neurons
    window.controller.step(1)
    qtbot.waitUntil(lambda: window.controller.latest.step == 1, timeout=WAIT)
    assert window.controller.latest.neurons is None


def test_clicking_a_unit_shows_it_in_the_big_plot_until_clicked_again(qtbot, window):
    window.network_view_dock.show()
    view, boundary = window.network_view, window.boundary_plot
    window.controller.step(100)
    qtbot.waitUntil(lambda: window.controller.latest.step == 100
                    and window.controller.latest.neurons is not None, timeout=WAIT)
    window.live_view.redraw()
    output_image = boundary.image_rgba().copy()
    assert output_image.shape == (200, 200, 4)
    ref = UnitRef(1, 2)
    point = view.graph.mapFromScene(view.tile_center(ref))
    with qtbot.waitSignal(view.focusChanged, timeout=WAIT):
        qtbot.mouseClick(view.graph.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert boundary.unit_title == "layer 1 · unit 3 (tanh)"
    assert "Showing layer 1 · unit 3" in boundary.legend_label.text()
    shown = boundary.image_rgba()
    assert shown.shape[:2] != (200, 200)  # the unit's coarse grid, smoothed
    neuron = window.controller.latest.neurons[0][2]
    # Where the unit's output is high the plot is blue, where low orange.
    top = np.unravel_index(np.argmax(neuron), neuron.shape)
    low = np.unravel_index(np.argmin(neuron), neuron.shape)
    scale = (shown.shape[0] - 1) / (neuron.shape[0] - 1)
    hi_px = shown[int(top[0] * scale), int(top[1] * scale)]
    lo_px = shown[int(low[0] * scale), int(low[1] * scale)]
    assert hi_px[2] > hi_px[0] and lo_px[0] > lo_px[2]
    # It stays while training goes on ...
    window.controller.step(5)
    qtbot.waitUntil(lambda: window.controller.latest.step == 105, timeout=WAIT)
    window.live_view.redraw()
    assert boundary.unit_title is not None
    # ... until the same unit is clicked again.
    with qtbot.waitSignal(view.focusChanged, timeout=WAIT):
        qtbot.mouseClick(view.graph.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert boundary.unit_title is None and view.focus is None
    assert boundary.image_rgba().shape == (200, 200, 4)
    assert "class 0" in boundary.legend_label.text()


def test_hiding_the_view_lets_go_of_the_unit(qtbot, window):
    window.network_view_dock.show()
    qtbot.waitUntil(lambda: window.controller.latest.neurons is not None, timeout=WAIT)
    window.network_view.set_focus(UnitRef(2, 0))
    assert window.boundary_plot.unit_title is not None
    window.network_view_dock.hide()
    assert window.network_view.focus is None
    assert window.boundary_plot.unit_title is None


def test_the_view_menu_opens_the_three_inside_views(window):
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    texts = [a.text() for a in view_menu.actions()]
    for dock in window.inside_docks:
        assert dock.isHidden()  # closed at first: they cost training time
        assert dock.windowTitle() in texts
    action = next(a for a in view_menu.actions() if a.text() == "Diagnostics and hints")
    action.trigger()
    assert window.diagnostics_dock.isVisible() and window.controller.views.inside
    assert not window.controller.views.neurons
    window.reset_layout()
    assert window.diagnostics_dock.isHidden() and not window.controller.views.inside
