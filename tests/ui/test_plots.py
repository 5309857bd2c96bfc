"""Plots: drawn from real snapshots of a Qt-free session, items made once, colours right."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QRectF

from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
)
from playground.experiment.session import TrainingSession
from playground.ui import style
from playground.ui.history import History
from playground.ui.plots import BoundaryPlot, GradientPlot, LossPlot, UnitHealthPlot


def trained(exp: Experiment, steps: int) -> tuple[TrainingSession, History, list]:
    session = TrainingSession(exp)
    history = History()
    snaps = [session.snapshot()]
    history.append(snaps[0])
    done = 0
    while done < steps:
        done += session.train_for(min(50, steps - done))
        snaps.append(session.snapshot())
        history.append(snaps[-1])
    return session, history, snaps


@pytest.fixture
def boundary(qtbot):
    plot = BoundaryPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 540)
    return plot


def rgb(color: str) -> np.ndarray:
    return np.array(style.hex_to_rgb(color))


# ---------------------------------------------------------------------- boundary


def test_boundary_image_covers_the_plane_with_row_0_at_the_bottom(boundary):
    probability = np.zeros((200, 200), np.float32)
    probability[100:] = 1.0  # top half (y > 0) is class 1
    boundary.set_boundary(probability)
    item = boundary.image_item
    assert item.mapRectToParent(item.boundingRect()) == QRectF(-6, -6, 12, 12)
    assert not boundary.plot_widget.getPlotItem().getViewBox().yInverted()
    image = boundary.image_rgba()
    assert image.shape == (200, 200, 4) and image.dtype == np.uint8
    # Row 0 is drawn at y = -6: it must carry class 0's colour (orange), the top blue.
    assert image[0, 0, 0] > image[0, 0, 2]
    assert image[-1, 0, 2] > image[-1, 0, 0]


def test_binary_colours_are_pale_when_unsure_and_saturated_when_sure(boundary):
    boundary.set_boundary(np.array([[0.0, 0.5, 1.0]] * 3, np.float32))
    row = boundary.image_rgba()[0, :, :3].astype(int)
    assert row[1].min() >= 250  # 0.5: white
    orange, blue = rgb(style.CLASS_COLORS[0]), rgb(style.CLASS_COLORS[1])
    assert np.abs(row[0] - orange).sum() < np.abs(row[0] - 255).sum()
    assert np.abs(row[2] - blue).sum() < np.abs(row[2] - 255).sum()


def test_discretize_shows_hard_class_colours(boundary):
    boundary.set_boundary(np.array([[0.45, 0.55]], np.float32))
    soft = boundary.image_rgba()[0, :, :3].astype(int).copy()
    boundary.set_discretize(True)
    hard = boundary.image_rgba()[0, :, :3].astype(int)
    assert soft.min() > 230  # near 0.5 both are almost white
    assert hard.min() < 200  # discretized: full class colours
    assert hard[0, 0] > hard[0, 2] and hard[1, 2] > hard[1, 0]


def test_several_classes_take_the_colour_of_the_most_likely_one(boundary):
    p = np.zeros((2, 3, 3), np.float32)
    p[0, 0] = [0.9, 0.05, 0.05]
    p[0, 1] = [0.05, 0.9, 0.05]
    p[0, 2] = [0.05, 0.05, 0.9]
    p[1, :] = [0.34, 0.33, 0.33]  # undecided
    boundary.set_boundary(p)
    assert boundary.mode == "multiclass"
    image = boundary.image_rgba()[..., :3].astype(int)
    for k in range(3):
        distances = [np.abs(image[0, k] - rgb(style.class_color(j))).sum() for j in range(3)]
        assert int(np.argmin(distances)) == k
    assert image[1].min() > 240  # chance level: nearly white


def test_regression_uses_fixed_levels_from_the_targets(qtbot, boundary):
    exp = Experiment(data=DataConfig(dataset="reg_plane", n_samples=200))
    session = TrainingSession(exp)
    boundary.update_from(session.snapshot())
    assert boundary.mode == "regression"
    y = np.concatenate([session.data.train.y, session.data.test.y])
    assert boundary._levels == (pytest.approx(y.min()), pytest.approx(y.max()))
    low = np.full((2, 2), y.min(), np.float32)
    boundary.set_boundary(low)
    assert np.abs(boundary.image_rgba()[0, 0, :3].astype(int)
                  - rgb(style.CLASS_COLORS[0])).sum() < 200


def test_a_diverged_output_draws_without_error(boundary):
    boundary.set_boundary(np.full((4, 4), np.nan, np.float32))
    assert boundary.image_rgba()[..., :3].min() > 240  # undecided white, not garbage


def test_boundary_after_training_is_not_uniform_and_points_are_drawn(qtbot, boundary, classic):
    _, _, snaps = trained(classic, 1500)
    boundary.update_from(snaps[0])
    boundary.update_from(snaps[-1])
    image = boundary.image_rgba()
    assert image.shape == (200, 200, 4)
    assert len(np.unique(image.reshape(-1, 4), axis=0)) > 20
    data = snaps[0].data
    assert len(boundary.train_points.data) == len(data.train.x)
    assert len(boundary.test_points.data) == len(data.test.x)
    boundary.set_show_test(False)
    assert not boundary.test_points.isVisible()


def test_training_and_test_points_look_different(boundary, classic):
    boundary.update_from(TrainingSession(classic).snapshot())
    train, test = boundary.train_points.points()[0], boundary.test_points.points()[0]
    assert test.brush().color().name() == "#ffffff"  # white centre
    assert train.brush().color().name() in style.CLASS_COLORS  # filled with the class
    assert test.pen().color().name() in style.CLASS_COLORS  # ringed in the class colour
    assert test.pen().widthF() > train.pen().widthF()


def test_notice_disappears_but_the_banner_stays_until_cleared(qtbot, boundary):
    boundary.show()
    boundary.show_notice("Reset: network changed", msec=50)
    assert boundary.notice_label.isVisible()
    qtbot.waitUntil(lambda: not boundary.notice_label.isVisible(), timeout=2000)
    boundary.show_banner("Training diverged")
    qtbot.wait(100)
    assert boundary.banner_label.isVisible() and boundary.banner_text() == "Training diverged"
    boundary.clear_banner()
    assert boundary.banner_text() == ""


def test_export_png_writes_the_plot(qtbot, boundary, classic, tmp_path):
    _, _, snaps = trained(classic, 500)
    boundary.update_from(snaps[0])
    boundary.update_from(snaps[-1])
    path = tmp_path / "boundary.png"
    boundary.export_png(str(path))
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull() and image.width() > 100
    with pytest.raises(OSError):
        boundary.export_png(str(tmp_path / "missing" / "x.png"))


# ---------------------------------------------------------------------- gradients


def deep_sigmoid() -> Experiment:
    return Experiment(
        data=DataConfig(dataset="circle", n_samples=200),
        network=NetworkConfig(layers=(LayerConfig(units=6, activation="sigmoid"),) * 5,
                              init="glorot_uniform"),
    )


def test_gradient_bars_show_log10_of_the_current_norms(qtbot):
    plot = GradientPlot()
    qtbot.addWidget(plot)
    _, history, snaps = trained(deep_sigmoid(), 200)
    plot.update_from(snaps[-1], history)
    np.testing.assert_allclose(plot.bar_values(), np.log10(snaps[-1].current_grad_norm))
    np.testing.assert_allclose(plot.bars.opts["y1"], np.log10(snaps[-1].current_grad_norm))
    assert len(plot.curves) == 6
    # Vanishing gradients: the first layer's bar is far below the output layer's.
    assert plot.bar_values()[0] < plot.bar_values()[-1] - 1
    assert "smaller than the output" in plot.ratio_label.text()


def test_gradient_curves_follow_the_history_and_items_are_made_once(qtbot):
    plot = GradientPlot()
    qtbot.addWidget(plot)
    _, history, snaps = trained(deep_sigmoid(), 300)
    plot.update_from(snaps[1], history)
    curves, bars = list(plot.curves), plot.bars
    plot.update_from(snaps[-1], history)
    assert plot.curves == curves and plot.bars is bars
    x, y = plot.curves[0].getData()
    assert x[-1] == 300 and np.all(np.isfinite(y))
    assert set(plot.curve_plot.items) >= set(curves)


def test_gradient_plot_makes_new_curves_only_when_the_layers_change(qtbot):
    plot = GradientPlot()
    qtbot.addWidget(plot)
    plot.set_layers(("layer 1", "output"))
    first = list(plot.curves)
    plot.set_layers(("layer 1", "output"))
    assert plot.curves == first
    plot.set_layers(("layer 1", "layer 2", "output"))
    assert len(plot.curves) == 3 and first[0] not in plot.curve_plot.items


# ---------------------------------------------------------------------- loss


def test_loss_plot_draws_train_and_test_loss_and_accuracy(qtbot, classic):
    plot = LossPlot()
    qtbot.addWidget(plot)
    _, history, _ = trained(classic, 400)
    assert plot.update_from(history)
    assert not plot.update_from(history)  # nothing new: no redraw
    x, train = plot.train_loss_curve.getData()
    assert x[-1] == 400 and len(x) == 40
    assert train[-1] < train[0]
    _, accuracy = plot.test_accuracy_curve.getData()
    assert 0.0 <= accuracy.min() and accuracy.max() <= 1.0


def test_loss_log_scale_draws_log10_values(qtbot, classic):
    plot = LossPlot()
    qtbot.addWidget(plot)
    _, history, _ = trained(classic, 200)
    plot.update_from(history)
    _, linear = plot.train_loss_curve.getData()
    plot.set_log_scale(True)
    _, logged = plot.train_loss_curve.getData()
    np.testing.assert_allclose(logged, np.log10(linear))
    assert plot.loss_plot.getAxis("left").logMode


def test_loss_plot_reset_empties_the_curves(qtbot, classic):
    plot = LossPlot()
    qtbot.addWidget(plot)
    _, history, _ = trained(classic, 100)
    plot.update_from(history)
    plot.reset()
    assert all(len(curve.getData()[0]) == 0 for curve in plot.curves())


# ---------------------------------------------------------------------- unit health


def test_unit_health_shows_fractions_and_not_applicable(qtbot):
    plot = UnitHealthPlot()
    qtbot.addWidget(plot)
    exp = Experiment(network=NetworkConfig(layers=(LayerConfig(units=4, activation="relu"),
                                                   LayerConfig(units=4, activation="tanh"))))
    snap = TrainingSession(exp).snapshot()
    plot.update_from(snap)
    dead, saturated = plot.fractions()
    np.testing.assert_array_equal(np.isnan(dead), [False, True, True])  # relu can die
    np.testing.assert_array_equal(np.isnan(saturated), [True, False, False])
    labels = [[label.textItem.toPlainText() for label in pair] for pair in plot.value_labels]
    assert labels[0][1] == "n/a" and labels[1][0] == "n/a"
    assert labels[0][0].endswith("%")
    np.testing.assert_allclose(plot.dead_bars.opts["height"], np.nan_to_num(dead))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def steady_range(qtbot, **options):
    import pyqtgraph as pg

    from playground.ui.plots.common import SteadyRange

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    clock = FakeClock()
    rng = SteadyRange(widget.getPlotItem(), "y", clock=clock, **options)
    rng.widget = widget  # keeps the plot alive as long as the range
    return rng, clock


def test_steady_range_grows_at_once_and_keeps_the_other_side(qtbot):
    rng, _ = steady_range(qtbot, log=True)
    rng.fit(1e-3, 0.5)
    assert rng.limits == (-3.0, 0.0)
    rng.fit(1e-2, 5.0)  # higher top, but the bottom does not move up
    assert rng.limits == (-3.0, 1.0)
    rng.fit(1e-5, 0.5)
    assert rng.limits == (-5.0, 1.0)


def test_steady_range_does_not_follow_values_flipping_across_a_decade(qtbot):
    from playground.ui.plots.common import SHRINK_AFTER_SECONDS

    rng, clock = steady_range(qtbot, log=True)
    rng.fit(0.09, 0.5)
    assert rng.limits == (-2.0, 0.0)
    for i in range(100):  # noisy values around 0.1, for longer than the shrink delay
        clock.now += SHRINK_AFTER_SECONDS / 20
        rng.fit(0.11 if i % 2 else 0.09, 0.5)
        assert rng.limits == (-2.0, 0.0)


def test_steady_range_shrinks_once_the_data_stays_inside(qtbot):
    from playground.ui.plots.common import SHRINK_AFTER_SECONDS

    rng, clock = steady_range(qtbot, include_zero=True)
    rng.fit(0.0, 0.7)
    assert rng.limits == (0.0, 0.8)
    rng.fit(0.0, 0.25)
    assert rng.limits == (0.0, 0.8)  # not yet
    clock.now += SHRINK_AFTER_SECONDS * 0.9
    rng.fit(0.0, 0.25)
    assert rng.limits == (0.0, 0.8)
    clock.now += SHRINK_AFTER_SECONDS * 0.2
    rng.fit(0.0, 0.25)
    assert rng.limits == pytest.approx((0.0, 0.3))
    low, high = rng.plot.getViewBox().viewRange()[1]
    assert low < 0.0 < 0.3 < high < 0.33


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 300), shape=st.lists(st.integers(0, 9), min_size=1, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_apply_lut_is_indexing_the_table(n, shape, seed):
    """The word-at-a-time lookup gives exactly ``lut[index]``, for any table and shape."""
    rng = np.random.default_rng(seed)
    lut = rng.integers(0, 256, size=(n, 4), dtype=np.uint8)
    index = rng.integers(0, n, size=shape)
    for dtype in (np.intp, np.int32):
        got = style.apply_lut(lut, index.astype(dtype))
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, lut[index])


def test_a_steps_axis_grows_in_coarse_round_jumps(qtbot):
    """An axis of training steps takes only 1-2-5 limits, so a fast run changes it a few
    times a decade instead of at every finer round number."""
    from playground.ui.plots.common import STEP_AXIS_STEPS

    rng, _ = steady_range(qtbot, steps=STEP_AXIS_STEPS)
    seen = []
    for step in range(1000, 1_000_001, 1000):
        rng.fit(0.0, float(step))
        if not seen or seen[-1] != rng.limits[1]:
            seen.append(rng.limits[1])
    assert seen == [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6]
    fine, _ = steady_range(qtbot)
    fine.fit(0.0, 31_000.0)
    assert fine.limits == (0.0, 40_000.0)  # the default keeps finer limits
