"""Data for the playground: toy datasets, input features and CSV files.

Only numpy is imported here; scikit-learn loads on first use of a dataset that needs it,
which keeps it off the GUI start-up path.
"""

from playground.data.csv_io import DataError, load_csv, save_csv
from playground.data.datasets import (
    DATASET_NAMES,
    MAX_CLASSES,
    MAX_SAMPLES,
    MULTICLASS_DATASETS,
    PLANE_EXTENT,
    REGRESSION_DATASETS,
    Dataset,
    dataset_info,
    make_dataset,
    n_classes_range,
    train_test_split,
)
from playground.data.features import (
    FEATURE_NAMES,
    Standardizer,
    check_feature_names,
    compute_features,
    make_grid,
)

__all__ = [
    "DATASET_NAMES",
    "FEATURE_NAMES",
    "MAX_CLASSES",
    "MAX_SAMPLES",
    "MULTICLASS_DATASETS",
    "PLANE_EXTENT",
    "REGRESSION_DATASETS",
    "DataError",
    "Dataset",
    "Standardizer",
    "check_feature_names",
    "compute_features",
    "dataset_info",
    "load_csv",
    "make_dataset",
    "make_grid",
    "n_classes_range",
    "save_csv",
    "train_test_split",
]
