"""DataPanel: each control emits a new experiment differing in exactly its own field."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QMessageBox

from playground.data import dataset_info, load_csv
from playground.experiment.config import DataConfig, Experiment, NetworkConfig
from playground.ui.panels import DataPanel
from playground.ui.panels.dataset_previews import (
    BACKGROUND,
    THUMBNAIL_SIZE,
    plane_to_pixel,
    preview_dataset,
    render_dataset,
    render_points,
)
from playground.ui.style import CLASS_COLORS

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BASE = Experiment(seed=7, data=DataConfig(dataset="circle", noise=0.1, n_samples=300))


@pytest.fixture
def panel(qtbot):
    p = DataPanel(BASE)
    qtbot.addWidget(p)
    yield p
    # A shown panel generates its thumbnails on a helper thread: let it end in the test.
    assert p.wait_for_thumbnail_thread(30.0)


def edited(qtbot, panel, action):
    """Run ``action`` and return the experiment the panel emits because of it."""
    with qtbot.waitSignal(panel.experimentEdited, timeout=3000) as blocker:
        action()
    return blocker.args[0]


def data_changed(exp: Experiment, **changes) -> Experiment:
    return replace(exp, data=replace(exp.data, **changes))


def type_into(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def shown_error(panel) -> str:
    label = panel.message_label
    return label.plain_text() if label.kind == "error" and not label.isHidden() else ""


# -- dataset picker --------------------------------------------------------------------


def test_all_datasets_have_a_button_with_the_description_as_tooltip(panel):
    names = (
        "circle", "xor", "gauss", "spiral", "moons", "blobs", "gaussian_quantiles",
        "checkerboard", "classification", "reg_plane", "reg_gauss",
    )
    for name in names:
        button = panel.dataset_buttons[name]
        assert not button.isHidden()
        assert dataset_info(name) in button.toolTip()
    assert "regression" in panel.dataset_buttons["reg_plane"].toolTip().lower()
    assert panel.dataset_buttons["reg_gauss"].text().startswith("Reg.")
    assert panel.dataset_buttons["circle"].isChecked()
    assert panel.dataset_buttons["custom"].isHidden()  # no imported points yet


def test_choosing_a_dataset_changes_only_the_dataset(qtbot, panel):
    new = edited(qtbot, panel, panel.dataset_buttons["xor"].click)
    assert new == data_changed(BASE, dataset="xor")
    assert panel.experiment() == new
    assert panel.dataset_buttons["xor"].isChecked()


def test_leaving_a_multiclass_set_for_a_two_class_set_resets_the_classes(qtbot):
    start = Experiment(data=DataConfig(dataset="spiral", n_classes=4))
    p = DataPanel(start)
    qtbot.addWidget(p)
    new = edited(qtbot, p, p.dataset_buttons["moons"].click)
    assert new == data_changed(start, dataset="moons", n_classes=2)


def test_switching_to_regression_resets_an_output_that_no_longer_fits(qtbot):
    start = Experiment(network=NetworkConfig(output="classic"))
    p = DataPanel(start)
    qtbot.addWidget(p)
    new = edited(qtbot, p, p.dataset_buttons["reg_plane"].click)
    assert new.data.dataset == "reg_plane"
    assert new.network == replace(start.network, output="auto")
    assert p.message_label.kind == "note"
    assert "auto" in p.message_label.text()


# -- sliders and spin boxes ------------------------------------------------------------


def test_noise_slider_emits_once_on_release_not_while_dragging(qtbot, panel):
    slider = panel.noise.slider
    slider.setSliderDown(True)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        for position in (5, 10, 20, 30):
            slider.setValue(position)
    assert panel.noise.spin.value() == 30  # the box follows the drag
    new = edited(qtbot, panel, lambda: slider.setSliderDown(False))
    assert new == data_changed(BASE, noise=0.3)


def test_keyboard_changes_of_a_slider_are_debounced_into_one_edit(qtbot, panel):
    received = []
    panel.experimentEdited.connect(received.append)
    for position in (12, 14, 16):
        panel.noise.slider.setValue(position)
        qtbot.wait(40)  # a burst with short gaps, as when an arrow key is held
    qtbot.waitUntil(lambda: len(received) == 1, timeout=2000)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        pass
    assert received == [data_changed(BASE, noise=0.16)]


def test_noise_box_accepts_more_than_the_slider_range(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.noise.spin.setValue(80))
    assert new == data_changed(BASE, noise=0.8)
    assert panel.noise.slider.value() == panel.noise.slider.maximum()


def test_test_share(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.test_share.spin.setValue(30))
    assert new == data_changed(BASE, test_fraction=0.3)


def test_number_of_points(qtbot, panel):
    new = edited(qtbot, panel, lambda: panel.n_samples.setValue(1200))
    assert new == data_changed(BASE, n_samples=1200)


def test_classes_spin_follows_the_dataset(qtbot):
    start = Experiment(data=DataConfig(dataset="spiral", n_classes=3))
    p = DataPanel(start)
    qtbot.addWidget(p)
    assert p.n_classes.isEnabled()
    assert (p.n_classes.minimum(), p.n_classes.maximum()) == (2, 8)
    new = edited(qtbot, p, lambda: p.n_classes.setValue(5))
    assert new == data_changed(start, n_classes=5)

    p.set_experiment(Experiment(data=DataConfig(dataset="classification")))
    assert p.n_classes.maximum() == 4  # scikit-learn's plane allows at most 4
    p.set_experiment(Experiment(data=DataConfig(dataset="xor")))
    assert not p.n_classes.isEnabled()
    p.set_experiment(Experiment(data=DataConfig(dataset="reg_gauss")))
    assert not p.n_classes.isEnabled()
    assert p.n_classes.text() == "\u2014"


def test_fewer_points_than_classes_is_refused_inline(qtbot):
    start = Experiment(data=DataConfig(dataset="spiral", n_classes=8, n_samples=100))
    p = DataPanel(start)
    qtbot.addWidget(p)
    with qtbot.assertNotEmitted(p.experimentEdited, wait=500):
        p.n_samples.setValue(5)
    assert "Number of points" in shown_error(p)
    assert p.n_samples.value() == 100  # back to the last valid value
    assert p.experiment() == start


# -- seed ------------------------------------------------------------------------------


def test_seed_entry(qtbot, panel):
    new = edited(qtbot, panel, lambda: type_into(qtbot, panel.seed, "4000000000"))
    assert new == replace(BASE, seed=4_000_000_000)  # beyond QSpinBox's 2**31 limit


def test_seed_out_of_range_is_refused_inline(qtbot, panel):
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        type_into(qtbot, panel.seed, "9999999999")
    assert "Seed" in shown_error(panel)
    assert "seed" in shown_error(panel)
    assert panel.seed.text() == "7"
    assert panel.experiment() == BASE


def test_empty_seed_is_refused_inline(qtbot, panel):
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        panel.seed.clear()
        qtbot.keyClick(panel.seed, Qt.Key.Key_Return)
    assert "whole number" in shown_error(panel)
    assert panel.seed.text() == "7"


def test_regenerate_draws_a_new_seed_only(qtbot, panel):
    new = edited(qtbot, panel, panel.regenerate.click)
    assert new.seed != BASE.seed
    assert new == replace(BASE, seed=new.seed)
    assert panel.seed.text() == str(new.seed)


# -- features --------------------------------------------------------------------------


def test_feature_toggles(qtbot, panel):
    new = edited(qtbot, panel, panel.feature_boxes["sin(x1)"].click)
    assert new == data_changed(BASE, features=("x1", "x2", "sin(x1)"))
    new = edited(qtbot, panel, panel.feature_boxes["x1"].click)
    assert new == data_changed(BASE, features=("x2", "sin(x1)"))


def test_the_last_feature_cannot_be_switched_off(qtbot):
    start = Experiment(data=DataConfig(features=("x1*x2",)))
    p = DataPanel(start)
    qtbot.addWidget(p)
    box = p.feature_boxes["x1*x2"]
    with qtbot.assertNotEmitted(p.experimentEdited, wait=300):
        box.click()
    assert box.isChecked()  # checked again
    assert "Input features" in shown_error(p)
    assert p.experiment() == start


def test_standardize(qtbot, panel):
    new = edited(qtbot, panel, panel.standardize.click)
    assert new == data_changed(BASE, standardize=True)


# -- set_experiment --------------------------------------------------------------------


def test_set_experiment_refreshes_every_widget_without_emitting(qtbot, panel):
    other = Experiment(
        seed=123456789,
        data=DataConfig(
            dataset="blobs", n_classes=5, noise=0.35, n_samples=777, test_fraction=0.2,
            features=("x1^2", "x1*x2"), standardize=True,
        ),
    )
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=400):
        panel.set_experiment(other)
    assert panel.experiment() == other
    assert panel.dataset_buttons["blobs"].isChecked()
    assert panel.n_classes.value() == 5
    assert panel.noise.spin.value() == 35
    assert panel.noise.slider.value() == 35
    assert panel.n_samples.value() == 777
    assert panel.test_share.spin.value() == 20
    assert panel.seed.text() == "123456789"
    checked = {name for name, box in panel.feature_boxes.items() if box.isChecked()}
    assert checked == {"x1^2", "x1*x2"}
    assert panel.standardize.isChecked()


def test_set_experiment_with_custom_points_offers_the_custom_set(qtbot, panel):
    points = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (2.0, -1.0, 1.0), (-2.0, 3.0, 0.0))
    custom = Experiment(data=DataConfig(dataset="custom", points=points))
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=300):
        panel.set_experiment(custom)
    button = panel.dataset_buttons["custom"]
    assert not button.isHidden() and button.isChecked()
    assert not panel.noise.isEnabled() and not panel.n_classes.isEnabled()
    assert panel.n_samples.value() == 4
    # Its thumbnail shows the points (class 1 blue in the upper half).
    image = button.icon().pixmap(THUMBNAIL_SIZE).toImage()
    assert _share_near(image, CLASS_COLORS[1], range(THUMBNAIL_SIZE), range(THUMBNAIL_SIZE)) > 0


def test_set_experiment_cancels_a_pending_slider_edit(qtbot, panel):
    panel.noise.slider.setValue(40)  # starts the debounce
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=500):
        panel.set_experiment(BASE)
    assert panel.noise.spin.value() == 10


# -- CSV import and export -------------------------------------------------------------


def _write(tmp_path, text: str, name: str = "points.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_csv_switches_to_the_custom_points(qtbot, panel, tmp_path):
    path = _write(tmp_path, "x1,x2,label\n0,1,0\n1,2,1\n-1,-2,2\n2.5,0.5,2\n-3,1,1\n")
    panel.choose_csv_path = lambda save=False: str(path)
    new = edited(qtbot, panel, panel.import_button.click)
    assert new.data.dataset == "custom"
    assert new.data.points == (
        (0.0, 1.0, 0.0), (1.0, 2.0, 1.0), (-1.0, -2.0, 2.0), (2.5, 0.5, 2.0), (-3.0, 1.0, 1.0),
    )
    assert new.data.n_classes == 3
    assert new.data.features == BASE.data.features
    assert (new.seed, new.network, new.training) == (BASE.seed, BASE.network, BASE.training)
    assert not panel.dataset_buttons["custom"].isHidden()
    assert panel.dataset_buttons["custom"].isChecked()
    assert not panel.noise.isEnabled() and not panel.n_samples.isEnabled()
    assert panel.n_classes.value() == 3


def test_imported_labels_become_class_indices_and_regression_stays_real(qtbot, panel, tmp_path):
    path = _write(tmp_path, "1,1,-1\n2,2,1\n3,3,-1\n")
    new = edited(qtbot, panel, lambda: panel.import_csv(path))
    assert [p[2] for p in new.data.points] == [0.0, 1.0, 0.0]

    path = _write(tmp_path, "1,1,0.5\n2,2,-0.25\n3,3,1\n", "reg.csv")
    new = edited(qtbot, panel, lambda: panel.import_csv(path))
    assert [p[2] for p in new.data.points] == [0.5, -0.25, 1.0]
    assert not panel.n_classes.isEnabled()


def test_switching_away_from_custom_and_back_keeps_the_imported_points(qtbot, panel, tmp_path):
    path = _write(tmp_path, "1,1,0\n2,2,1\n3,3,0\n")
    imported = edited(qtbot, panel, lambda: panel.import_csv(path))
    edited(qtbot, panel, panel.dataset_buttons["gauss"].click)
    assert not panel.dataset_buttons["custom"].isHidden()
    back = edited(qtbot, panel, panel.dataset_buttons["custom"].click)
    assert back.data.points == imported.data.points


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("missing.csv", None, "missing.csv"),
        ("bad_row.csv", "x1,x2,label\n1,2,0\n3,oops,1\n", "row 3"),
        ("one_class.csv", "1,2,0\n3,4,0\n", "one class"),
        ("nine.csv", "".join(f"{i},{i},{i}\n" for i in range(9)), "9 distinct"),
        ("columns.csv", "x1,x2,colour\n1,2,0\n3,4,1\n", "colour"),
        ("empty.csv", "", "empty"),
    ],
)
def test_import_failures_show_a_message_box_and_change_nothing(
    qtbot, panel, tmp_path, monkeypatch, name, text, expected
):
    warnings = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, message, *a, **k: warnings.append(message)
    )
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    panel.choose_csv_path = lambda save=False: str(path)
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=200):
        panel.import_button.click()
    assert len(warnings) == 1
    assert expected in warnings[0]
    assert panel.experiment() == BASE
    assert panel.dataset_buttons["circle"].isChecked()
    assert panel.dataset_buttons["custom"].isHidden()


def test_cancelled_import_dialog_does_nothing(qtbot, panel):
    panel.choose_csv_path = lambda save=False: None
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=200):
        panel.import_button.click()
    assert panel.experiment() == BASE


def test_export_csv_writes_the_points_in_use(qtbot, panel, tmp_path):
    path = tmp_path / "out.csv"
    panel.choose_csv_path = lambda save=False: str(path) if save else None
    with qtbot.assertNotEmitted(panel.experimentEdited, wait=100):
        panel.export_button.click()
    ds = load_csv(path)
    assert ds.n_samples == BASE.data.n_samples
    assert ds.n_classes == 2
    assert panel.message_label.kind == "note"


def test_export_failure_shows_a_message_box(qtbot, panel, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, message, *a, **k: warnings.append(message)
    )
    assert not panel.export_csv(tmp_path / "no_such_folder" / "out.csv")
    assert len(warnings) == 1 and "out.csv" in warnings[0]


# -- thumbnails ------------------------------------------------------------------------


def _share_near(image: QImage, color: str, rows: range, cols: range) -> float:
    """Fraction of pixels in the block that are close to ``color``."""
    target = QColor(color)
    hits = total = 0
    for r in rows:
        for c in cols:
            pixel = image.pixelColor(c, r)
            total += 1
            hits += (
                abs(pixel.red() - target.red()) + abs(pixel.green() - target.green())
                + abs(pixel.blue() - target.blue()) < 60
            )
    return hits / total


def test_plane_to_pixel_puts_positive_y_at_the_top():
    pixels = plane_to_pixel(np.array([[-6.0, 6.0], [6.0, -6.0], [0.0, 0.0]]), 60)
    np.testing.assert_allclose(pixels, [[0, 0], [60, 60], [30, 30]])


def test_thumbnail_is_drawn_the_right_way_up(qapp):
    rng = np.random.default_rng(0)
    upper = np.column_stack([rng.uniform(-5, 5, 150), rng.uniform(0.5, 5.5, 150)])
    lower = upper * np.array([1.0, -1.0])
    image = render_points(np.vstack([upper, lower]), np.r_[np.ones(150), np.zeros(150)], False)
    half = THUMBNAIL_SIZE // 2
    cols = range(2, THUMBNAIL_SIZE - 2)
    top, bottom = range(2, half - 2), range(half + 2, THUMBNAIL_SIZE - 2)
    assert _share_near(image, CLASS_COLORS[1], top, cols) > 0.2
    assert _share_near(image, CLASS_COLORS[1], bottom, cols) == 0
    assert _share_near(image, CLASS_COLORS[0], bottom, cols) > 0.2
    assert _share_near(image, CLASS_COLORS[0], top, cols) == 0


def test_gauss_thumbnail_has_class_one_at_the_top_right(qapp):
    # The gauss set puts class 1 around (2, 2) and class 0 around (-2, -2).
    image = render_dataset(preview_dataset("gauss"))
    half = THUMBNAIL_SIZE // 2
    top_right = (range(2, half), range(half, THUMBNAIL_SIZE - 2))
    bottom_left = (range(half, THUMBNAIL_SIZE - 2), range(2, half))
    assert _share_near(image, CLASS_COLORS[1], *top_right) > 0.1
    assert _share_near(image, CLASS_COLORS[1], *top_right) > 5 * _share_near(
        image, CLASS_COLORS[1], *bottom_left
    )
    assert _share_near(image, CLASS_COLORS[0], *bottom_left) > 0.1


def test_thumbnails_are_generated_after_the_panel_is_shown(qtbot, panel):
    placeholder = panel.dataset_buttons["moons"].icon().pixmap(THUMBNAIL_SIZE).toImage()
    assert not panel._previews.started()  # nothing happens before the panel is shown
    panel.show()
    qtbot.waitUntil(panel.thumbnails_ready, timeout=30000)
    for name in ("circle", "moons", "reg_gauss"):
        image = panel.dataset_buttons[name].icon().pixmap(THUMBNAIL_SIZE).toImage()
        assert image != placeholder
        assert _share_near(image, BACKGROUND, range(THUMBNAIL_SIZE), range(THUMBNAIL_SIZE)) < 0.99
