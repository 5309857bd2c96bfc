"""The data panel: which points to learn from and which input features the network sees."""

from __future__ import annotations

import html
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.data import (
    DATASET_NAMES,
    DataError,
    dataset_info,
    load_csv,
    n_classes_range,
    save_csv,
)
from playground.experiment.build import prepare_data
from playground.experiment.config import (
    FEATURES,
    REGRESSION_DATASETS,
    ConfigError,
    DataConfig,
    Experiment,
    is_regression,
    with_path,
)
from playground.ui.panels.dataset_previews import (
    BACKGROUND,
    THUMBNAIL_SIZE,
    PreviewLoader,
    render_custom,
)
from playground.ui.panels.widgets import (
    ExperimentPanel,
    NumberEdit,
    SliderSpin,
    make_form,
    make_spin,
    set_value_quietly,
)

CUSTOM = "custom"
#: The generated datasets in picker order: the classification sets, then regression.
GENERATED = DATASET_NAMES
LABELS = {
    "circle": "Circle",
    "xor": "XOR",
    "gauss": "Gauss",
    "spiral": "Spiral",
    "moons": "Moons",
    "blobs": "Blobs",
    "gaussian_quantiles": "Quantiles",
    "checkerboard": "Checkers",
    "classification": "Clusters",
    "reg_plane": "Reg. plane",
    "reg_gauss": "Reg. gauss",
    CUSTOM: "Imported",
}
FEATURE_LABELS = {
    "x1": "x\u2081",
    "x2": "x\u2082",
    "x1^2": "x\u2081\u00b2",
    "x2^2": "x\u2082\u00b2",
    "x1*x2": "x\u2081\u00b7x\u2082",
    "sin(x1)": "sin x\u2081",
    "sin(x2)": "sin x\u2082",
}
# x1-things on the left, x2-things on the right, the product last.
_FEATURE_CELLS = {
    "x1": (0, 0), "x2": (0, 1), "x1^2": (1, 0), "x2^2": (1, 1),
    "sin(x1)": (2, 0), "sin(x2)": (2, 1), "x1*x2": (3, 0),
}
# numpy-only sets first, so most thumbnails appear before scikit-learn has loaded.
_PREVIEW_ORDER = (
    "circle", "xor", "gauss", "spiral", "checkerboard", "reg_plane", "reg_gauss",
    "moons", "blobs", "gaussian_quantiles", "classification",
)
_COLUMNS = 3
_MAX_SEED = 2**32 - 1
_CSV_FILTER = "CSV files (*.csv *.txt *.tsv);;All files (*)"


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    pixmap.fill(QColor(BACKGROUND))
    return QIcon(pixmap)


class DataPanel(ExperimentPanel):
    """Dataset picker with thumbnails, noise, size, split, classes, seed, features, CSV.

    Changing anything here changes the data, so the controller restarts training; the
    sliders therefore emit when released (or after a short pause), not while dragged.
    ``choose_csv_path`` is the one place that opens a file dialog, so tests replace it.
    """

    def __init__(self, experiment: Experiment | None = None, parent: QWidget | None = None):
        super().__init__(experiment, parent)
        self._custom_points: tuple[tuple[float, float, float], ...] = ()
        self._previews = PreviewLoader(_PREVIEW_ORDER, self)
        self._previews.previewReady.connect(self._set_preview)
        self._previews.previewFailed.connect(self._preview_failed)
        self._build_dataset_group()
        self._build_sampling_group()
        self._build_features_group()
        self._build_file_buttons()
        self.body_layout.addStretch(1)
        self._align_forms()
        self._remember(self._experiment)
        self._refresh_widgets()

    # -- construction ------------------------------------------------------------------

    def _build_dataset_group(self) -> None:
        group = self._add_group("Dataset")
        grid = QGridLayout(group)
        grid.setSpacing(4)
        grid.setContentsMargins(6, 6, 6, 6)
        self.dataset_buttons: dict[str, QToolButton] = {}
        self._dataset_group = QButtonGroup(self)
        self._dataset_group.setExclusive(True)
        placeholder = _placeholder_icon()
        for i, name in enumerate((*GENERATED, CUSTOM)):
            button = QToolButton()
            button.setCheckable(True)
            button.setText(LABELS[name])
            button.setIcon(placeholder)
            button.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(THUMBNAIL_SIZE + 10)
            button.setAutoRaise(True)
            button.setToolTip(self._dataset_tooltip(name))
            button.clicked.connect(lambda _checked=False, n=name: self._choose_dataset(n))
            self._dataset_group.addButton(button)
            self.dataset_buttons[name] = button
            grid.addWidget(button, i // _COLUMNS, i % _COLUMNS)
        self.dataset_buttons[CUSTOM].hide()

    def _build_sampling_group(self) -> None:
        group = self._add_group("Sampling")
        form = make_form(group)
        self.noise = SliderSpin(0, 50, 100, decimals=0, suffix=" %")
        self.noise.setToolTip(
            "How much the labels are blurred (TensorFlow Playground's 0..50). The box "
            "also takes up to 100 %."
        )
        self.noise.valueEdited.connect(lambda v: self._set_path("data.noise", v / 100.0))
        self._track_slider(self.noise)
        form.addRow("Noise", self.noise)

        self.test_share = SliderSpin(0, 90, 90, decimals=0, suffix=" %")
        self.test_share.setToolTip("Share of the points held out to measure the test loss.")
        self.test_share.valueEdited.connect(
            lambda v: self._set_path("data.test_fraction", round(v) / 100.0)
        )
        self._track_slider(self.test_share)
        form.addRow("Test share", self.test_share)

        self.n_samples = make_spin(2, 10000, step=50)
        self.n_samples.setToolTip("Number of points, training and test together.")
        self._samples_debounce = self._debouncer(self._commit_samples)
        self.n_samples.valueChanged.connect(lambda _v: self._samples_debounce.trigger())
        form.addRow("Points", self.n_samples)

        self.n_classes = make_spin(2, 8)
        self.n_classes.setToolTip("Number of classes (spiral, blobs, quantiles, clusters).")
        self._classes_debounce = self._debouncer(self._commit_classes)
        self.n_classes.valueChanged.connect(lambda _v: self._classes_debounce.trigger())
        form.addRow("Classes", self.n_classes)

        seed_row = QWidget()
        seed_layout = QHBoxLayout(seed_row)
        seed_layout.setContentsMargins(0, 0, 0, 0)
        self.seed = NumberEdit(integer=True)
        self.seed.setToolTip(
            f"0..{_MAX_SEED}. The seed fixes the points, the test split, the initial "
            "weights and the batch order: the same seed gives the same run."
        )
        self.seed.valueEdited.connect(lambda v: self._set_path("seed", v))
        self.seed.textRejected.connect(
            lambda t: self._reject_text("seed", t, f"a whole number 0..{_MAX_SEED}")
        )
        self.regenerate = QPushButton("Regenerate")
        self.regenerate.setToolTip("Draw new points (and initial weights) with a new seed.")
        self.regenerate.clicked.connect(self._new_seed)
        seed_layout.addWidget(self.seed, 1)
        seed_layout.addWidget(self.regenerate)
        form.addRow("Seed", seed_row)

    def _build_features_group(self) -> None:
        group = self._add_group("Input features")
        layout = QVBoxLayout(group)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self.feature_boxes: dict[str, QCheckBox] = {}
        for name, (row, column) in _FEATURE_CELLS.items():
            box = QCheckBox(FEATURE_LABELS[name])
            box.setToolTip(f"Feed {name} to the network as an input.")
            box.clicked.connect(lambda checked, n=name: self._toggle_feature(n, checked))
            self.feature_boxes[name] = box
            grid.addWidget(box, row, column)
        layout.addLayout(grid)
        self.standardize = QCheckBox("Standardize features")
        self.standardize.setToolTip(
            "Shift and scale every input feature to mean 0 and standard deviation 1 "
            "(measured on the training points)."
        )
        self.standardize.clicked.connect(lambda c: self._set_path("data.standardize", c))
        layout.addWidget(self.standardize)

    def _build_file_buttons(self) -> None:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.import_button = QPushButton("Import CSV\u2026")
        self.import_button.setToolTip(
            "Load your own points: a CSV file with columns x1, x2, label. Whole-number "
            "labels are classes; other labels are regression targets."
        )
        self.import_button.clicked.connect(lambda: self.import_csv())
        self.export_button = QPushButton("Export CSV\u2026")
        self.export_button.setToolTip("Save the points in use (training and test) as CSV.")
        self.export_button.clicked.connect(lambda: self.export_csv())
        layout.addWidget(self.import_button)
        layout.addWidget(self.export_button)
        self.body_layout.addWidget(row)

    @staticmethod
    def _dataset_tooltip(name: str) -> str:
        if name == CUSTOM:
            return "Imported points (from a CSV file or the experiment file)."
        kind = "Regression" if name in REGRESSION_DATASETS else "Classification"
        info = html.escape(dataset_info(name))
        return f"<b>{LABELS[name]}</b> ({name}, {kind.lower()})<br>{info}"

    # -- thumbnails --------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._previews.start()

    def start_thumbnails(self) -> None:
        """Generate the thumbnails now (they otherwise start when the panel is shown)."""
        self._previews.start()

    def thumbnails_ready(self) -> bool:
        return self._previews.is_finished()

    def wait_for_thumbnail_thread(self, timeout: float = 10.0) -> bool:
        return self._previews.wait(timeout)

    def _set_preview(self, name: str, image: QImage) -> None:
        self.dataset_buttons[name].setIcon(QIcon(QPixmap.fromImage(image)))

    def _preview_failed(self, name: str, message: str) -> None:
        button = self.dataset_buttons[name]
        button.setToolTip(f"{self._dataset_tooltip(name)}<br><i>No preview: {message}</i>")

    # -- refresh -----------------------------------------------------------------------

    def _remember(self, experiment: Experiment) -> None:
        if experiment.data.dataset == CUSTOM and experiment.data.points != self._custom_points:
            self._custom_points = experiment.data.points
            self.dataset_buttons[CUSTOM].setIcon(
                QIcon(QPixmap.fromImage(render_custom(self._custom_points)))
            )

    def _refresh(self, experiment: Experiment) -> None:
        data = experiment.data
        custom = data.dataset == CUSTOM
        self.dataset_buttons[CUSTOM].setVisible(bool(self._custom_points))
        button = self.dataset_buttons[data.dataset]
        button.setChecked(True)

        self.noise.setValue(data.noise * 100.0)
        self.noise.setEnabled(not custom)
        self.test_share.setValue(data.test_fraction * 100.0)
        set_value_quietly(self.n_samples, data.n_samples)
        self.n_samples.setEnabled(not custom)
        self._refresh_classes(data)
        self.seed.setValue(experiment.seed)
        for name, box in self.feature_boxes.items():
            set_value_quietly(box, name in data.features)
        set_value_quietly(self.standardize, data.standardize)

    def _refresh_classes(self, data: DataConfig) -> None:
        spin: QSpinBox = self.n_classes
        regression = is_regression(data)
        if regression:
            low, high = 0, 0
        elif data.dataset == CUSTOM:
            low = high = data.n_classes
        else:
            low, high = n_classes_range(data.dataset)
        spin.blockSignals(True)
        try:
            spin.setSpecialValueText("\u2014" if regression else "")
            spin.setRange(low, high)
            spin.setValue(0 if regression else data.n_classes)
        finally:
            spin.blockSignals(False)
        spin.setEnabled(high > low)
        if regression:
            spin.setToolTip("Regression data has targets, not classes.")
        elif high > low:
            spin.setToolTip(f"Number of classes, {low}..{high} for this dataset.")
        else:
            spin.setToolTip("This dataset has a fixed number of classes.")

    # -- edits -------------------------------------------------------------------------

    def _choose_dataset(self, name: str) -> None:
        data = self._experiment.data
        if name == data.dataset:
            return
        if name == CUSTOM:
            new_data = DataConfig(
                dataset=CUSTOM,
                points=self._custom_points,
                test_fraction=data.test_fraction,
                features=data.features,
                standardize=data.standardize,
            )
        else:
            low, high = n_classes_range(name)
            classes = min(max(data.n_classes, low), high) if high >= 2 else 2
            new_data = replace(
                data,
                dataset=name,
                n_classes=classes,
                n_samples=max(data.n_samples, classes),
                points=(),
            )
        self._commit_data(new_data)

    def _with_data(self, new_data: DataConfig) -> tuple[Experiment, str]:
        """The experiment with ``new_data``, plus a note when the output had to change.

        An output chosen for the old data ("sigmoid", "classic", "linear") may not fit
        the new data; it then falls back to "auto" rather than blocking the switch.
        """
        try:
            return with_path(self._experiment, "data", new_data), ""
        except ConfigError as err:
            if err.path != "network.output":
                raise
            old_output = self._experiment.network.output
            switched = with_path(self._experiment, "network.output", "auto")
            note = (
                f"Output set to <b>auto</b>: '{html.escape(old_output)}' does not fit the "
                f"new data ({html.escape(err.message.split(' (')[0])})."
            )
            return with_path(switched, "data", new_data), note

    def _commit_data(self, new_data: DataConfig) -> bool:
        try:
            new, note = self._with_data(new_data)
        except ConfigError as err:
            self.show_error(err)
            self._refresh_widgets()
            return False
        done = self._commit(lambda _e: new)
        if done and note:
            self.message_label.show_note(note)
        return done

    def _commit_samples(self) -> None:
        value = self.n_samples.value()

        def change(e: Experiment) -> Experiment:
            if value < e.data.n_classes:
                raise ConfigError(
                    "data.n_samples",
                    f"must be at least the number of classes ({e.data.n_classes}), "
                    f"got {value}",
                )
            return with_path(e, "data.n_samples", value)

        self._commit(change)

    def _commit_classes(self) -> None:
        value = self.n_classes.value()

        def change(e: Experiment) -> Experiment:
            if value > e.data.n_samples:
                raise ConfigError(
                    "data.n_classes",
                    f"{value} classes need at least {value} points (there are "
                    f"{e.data.n_samples})",
                )
            return with_path(e, "data.n_classes", value)

        self._commit(change)

    def _new_seed(self) -> None:
        current = self._experiment.seed
        seed = current
        rng = random.SystemRandom()
        while seed == current:
            seed = rng.randint(0, _MAX_SEED)
        self._set_path("seed", seed)

    def _toggle_feature(self, name: str, checked: bool) -> None:
        chosen = set(self._experiment.data.features)
        if checked:
            chosen.add(name)
        else:
            chosen.discard(name)
        if not chosen:
            self.show_error(
                ConfigError("data.features", "at least one input feature must stay on")
            )
            self._refresh_widgets()
            return
        features = tuple(f for f in FEATURES if f in chosen)
        self._set_path("data.features", features)

    # -- files -------------------------------------------------------------------------

    def choose_csv_path(self, save: bool = False) -> str | None:
        """Ask the user for a CSV file to read (or, with ``save``, to write)."""
        if save:
            suggested = f"{self._experiment.data.dataset}.csv"
            path, _ = QFileDialog.getSaveFileName(self, "Export points", suggested, _CSV_FILTER)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Import points", "", _CSV_FILTER)
        return path or None

    def import_csv(self, path: str | Path | None = None) -> bool:
        """Load points from a CSV file and switch to them; a bad file changes nothing."""
        if path is None:
            path = self.choose_csv_path(save=False)
            if path is None:
                return False
        try:
            ds = load_csv(path)
            rows = np.column_stack([ds.x, ds.y.astype(np.float64)])
            points = tuple(tuple(row) for row in rows.tolist())
            data = self._experiment.data
            new_data = DataConfig(
                dataset=CUSTOM,
                points=points,
                test_fraction=data.test_fraction,
                features=data.features,
                standardize=data.standardize,
            )
            new, note = self._with_data(new_data)
        except (DataError, ConfigError) as err:
            QMessageBox.warning(self, "Import CSV", f"Could not import {Path(path).name}:\n{err}")
            return False
        self._custom_points = points
        self.dataset_buttons[CUSTOM].setIcon(QIcon(QPixmap.fromImage(render_custom(points))))
        self._commit(lambda _e: new)
        self.message_label.show_note(
            f"Imported {len(points)} points from {html.escape(Path(path).name)}"
            + (f"<br>{note}" if note else "")
        )
        return True

    def export_csv(self, path: str | Path | None = None) -> bool:
        """Save the points of the current experiment (training and test) as CSV."""
        if path is None:
            path = self.choose_csv_path(save=True)
            if path is None:
                return False
        try:
            prepared = prepare_data(self._experiment)
            x = np.concatenate([prepared.train.x, prepared.test.x])
            y = np.concatenate([prepared.train.y, prepared.test.y])
            save_csv(path, x, y, prepared.train.task)
        except (OSError, ValueError) as err:
            QMessageBox.warning(self, "Export CSV", f"Could not save {Path(path).name}:\n{err}")
            return False
        self.message_label.show_note(
            f"Saved {len(x)} points to {html.escape(Path(path).name)}."
        )
        return True
