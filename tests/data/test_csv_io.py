"""Tests for reading and writing point sets as CSV."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from playground.data.csv_io import DataError, load_csv, save_csv
from playground.data.datasets import MAX_CLASSES, make_dataset


def write(tmp_path: Path, text: str, name: str = "points.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def load_error(path: Path, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_csv(path, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------- good files


def test_headerless_file(tmp_path):
    ds = load_csv(write(tmp_path, "1,2,0\n-3.5,4e-1,1\n"))
    np.testing.assert_array_equal(ds.x, [[1.0, 2.0], [-3.5, 0.4]])
    np.testing.assert_array_equal(ds.y, [0, 1])
    assert ds.task == "classification" and ds.n_classes == 2 and ds.name == "points.csv"
    assert ds.y.dtype == np.int64


def test_header_in_any_order_and_case(tmp_path):
    ds = load_csv(write(tmp_path, "Label, X2 ,x1\n1,2.0,-1.0\n0,3.0,-4.0\n"))
    np.testing.assert_array_equal(ds.x, [[-1.0, 2.0], [-4.0, 3.0]])
    np.testing.assert_array_equal(ds.y, [1, 0])


def test_quoted_header_crlf_blank_lines_and_bom(tmp_path):
    text = '\ufeff"x1","x2","label"\r\n\r\n1,2,0\r\n   \r\n3,4,1\r\n\r\n'
    ds = load_csv(write(tmp_path, text))
    np.testing.assert_array_equal(ds.x, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ds.y, [0, 1])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab(tmp_path, sep):
    text = f"x1{sep}x2{sep}label\n0.5{sep}1{sep}0\n2{sep}-1{sep}1\n"
    ds = load_csv(write(tmp_path, text))
    np.testing.assert_array_equal(ds.x, [[0.5, 1.0], [2.0, -1.0]])
    np.testing.assert_array_equal(ds.y, [0, 1])


def test_minus_one_plus_one_labels_map_to_zero_one(tmp_path):
    ds = load_csv(write(tmp_path, "0,0,-1\n1,1,1\n2,2,-1\n3,3,1.0\n"))
    np.testing.assert_array_equal(ds.y, [0, 1, 0, 1])
    assert ds.n_classes == 2


def test_sparse_labels_are_renumbered_in_sorted_order(tmp_path):
    ds = load_csv(write(tmp_path, "0,0,7\n1,1,2\n2,2,5\n3,3,2\n"))
    np.testing.assert_array_equal(ds.y, [2, 0, 1, 0])
    assert ds.n_classes == 3


def test_fractional_labels_make_a_regression_set(tmp_path):
    ds = load_csv(write(tmp_path, "0,0,0.25\n1,1,1\n2,2,-0.5\n"))
    assert ds.task == "regression" and ds.n_classes == 0
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, [0.25, 1.0, -0.5])


def test_file_at_the_point_limit_loads(tmp_path):
    rows = "".join(f"{i},{i},{i % 2}\n" for i in range(5))
    assert load_csv(write(tmp_path, rows), max_points=5).n_samples == 5


# ---------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    assert re.match(r"file not found: .*nope\.csv$", load_error(tmp_path / "nope.csv"))


def test_folder_instead_of_file(tmp_path):
    assert "is a folder" in load_error(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    assert load_error(write(tmp_path, text)) == (
        "points.csv is empty: expected rows of x1, x2, label"
    )


def test_header_only(tmp_path):
    assert load_error(write(tmp_path, "x1,x2,label\n\n")) == (
        "points.csv has a header but no data rows"
    )


def test_single_point(tmp_path):
    assert load_error(write(tmp_path, "1,2,0\n")) == "points.csv has 1 point; at least 2 are needed"


def test_row_with_a_missing_field_names_the_editor_row(tmp_path):
    text = "x1,x2,label\n1,2,0\n\n3,4\n"
    assert load_error(write(tmp_path, text)) == (
        "row 4: expected 3 fields (x1, x2, label), found 2"
    )


def test_row_with_an_extra_field(tmp_path):
    assert load_error(write(tmp_path, "1,2,0\n3,4,1,9\n")) == (
        "row 2: expected 3 fields (x1, x2, label), found 4"
    )


def test_non_numeric_cell_names_row_and_column(tmp_path):
    text = "x1,x2,label\n" + "0,0,0\n" * 5 + "1,abc,1\n"
    assert load_error(write(tmp_path, text)) == "row 7, column 'x2': 'abc' is not a number"


def test_non_numeric_cell_column_follows_the_header_order(tmp_path):
    text = "label,x1,x2\n0,1,2\nzero,1,2\n"
    assert load_error(write(tmp_path, text)) == "row 3, column 'label': 'zero' is not a number"


def test_non_numeric_first_row_without_header(tmp_path):
    assert load_error(write(tmp_path, "1,x,0\n1,2,1\n")) == (
        "row 1, column 'x2': 'x' is not a number"
    )


def test_decimal_comma_gets_a_hint(tmp_path):
    message = load_error(write(tmp_path, "1,5;2;0\n1;2;1\n"))
    assert (
        message == "row 1, column 'x1': '1,5' is not a number (use a dot as the decimal separator)"
    )


def test_empty_cell(tmp_path):
    assert load_error(write(tmp_path, "1,2,0\n,2,1\n")) == "row 2, column 'x1' is empty"


@pytest.mark.parametrize(("cell", "column"), [("nan", "x1"), ("inf", "x2"), ("-Infinity", "label")])
def test_nan_and_infinity(tmp_path, cell, column):
    cells = {"x1": "1", "x2": "2", "label": "0"}
    cells[column] = cell
    text = "x1,x2,label\n0,0,1\n" + ",".join(cells.values()) + "\n"
    assert load_error(write(tmp_path, text)) == (
        f"row 3, column '{column}': '{cell}' is not a finite number"
    )


def test_single_class(tmp_path):
    assert load_error(write(tmp_path, "0,0,1\n1,1,1\n2,2,1\n")) == (
        "points.csv has only one class (label 1); classification needs at least two"
    )


def test_too_many_classes(tmp_path):
    rows = "".join(f"{i},{i},{i}\n" for i in range(MAX_CLASSES + 1))
    message = load_error(write(tmp_path, rows))
    assert message.startswith(
        f"points.csv has {MAX_CLASSES + 1} distinct whole-number labels, more than the "
        f"{MAX_CLASSES} classes allowed"
    )


def test_too_many_points(tmp_path):
    rows = "x1,x2,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(12))
    assert load_error(write(tmp_path, rows), max_points=10) == (
        "points.csv has 12 points; the limit is 10"
    )


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x1,x2,label\n1,2,0\n1,2,\xe9\n")
    assert load_error(path) == "latin.csv is not UTF-8 text: undecodable byte 0xe9 on row 3"


def test_binary_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    assert load_error(path) == "model.npz is not a text file (it contains NUL bytes)"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("x1,x2,y", "row 1 (header) has unexpected column(s) 'y'"),
        ("x1,x2,label,weight", "row 1 (header) has unexpected column(s) 'weight'"),
        ("x1,label", "row 1 (header) lacks column(s) 'x2'"),
        ("x1,x1,label", "row 1 (header): column 'x1' appears more than once"),
    ],
)
def test_bad_headers_name_the_columns(tmp_path, header, message):
    got = load_error(write(tmp_path, header + "\n1,2,0\n3,4,1\n"))
    assert got.startswith(message)
    assert got.endswith("it must name exactly x1, x2, label (in any order)")


def test_unbalanced_quote(tmp_path):
    assert load_error(write(tmp_path, '1,2,0\n"3"x,4,1\n')).startswith(
        "row 2: cannot split into fields"
    )


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# ------------------------------------------------------------------------------ saving


def test_saved_file_layout(tmp_path):
    path = tmp_path / "out.csv"
    save_csv(path, np.array([[0.1, -2.0], [1e-300, 3.0]]), np.array([1, 0]), "classification")
    assert path.read_text() == "x1,x2,label\n0.1,-2.0,1\n1e-300,3.0,0\n"


def test_dataset_round_trip(tmp_path):
    for name, k in [("spiral", 3), ("reg_gauss", 2)]:
        ds = make_dataset(name, n_samples=300, noise=0.3, n_classes=k, seed=1)
        path = tmp_path / f"{name}.csv"
        save_csv(path, ds.x, ds.y, ds.task)
        back = load_csv(path)
        assert back.task == ds.task and back.n_classes == ds.n_classes
        assert back.x.tobytes() == ds.x.tobytes()
        assert back.y.tobytes() == ds.y.tobytes()


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, st.tuples(st.integers(2, 40), st.just(2)), elements=finite),
    k=st.integers(2, MAX_CLASSES),
    data=st.data(),
)
def test_round_trip_classification(x, k, data):
    n = x.shape[0]
    assume(n >= k)
    y = np.array(data.draw(st.permutations(list(range(k)) + [0] * (n - k))), dtype=np.int64)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.csv"
        save_csv(path, x, y, "classification")
        back = load_csv(path)
    assert back.x.tobytes() == x.tobytes()
    np.testing.assert_array_equal(back.y, y)
    assert back.n_classes == k


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 40), st.just(3)), elements=finite))
def test_round_trip_regression(values):
    x, y = values[:, :2], values[:, 2]
    assume(np.any(y != np.floor(y)))  # all-whole targets read back as classes, by design
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.csv"
        save_csv(path, x, y, "regression")
        back = load_csv(path)
    assert back.task == "regression"
    assert back.x.tobytes() == np.ascontiguousarray(x).tobytes()
    assert back.y.tobytes() == np.ascontiguousarray(y).tobytes()


@pytest.mark.parametrize(
    ("x", "y", "task", "message"),
    [
        (np.zeros((2, 3)), np.zeros(2), "regression", r"x must have shape \(n, 2\)"),
        (np.zeros((2, 2)), np.zeros(3), "regression", r"y must have shape \(2,\)"),
        (np.zeros((2, 2)), np.zeros(2), "ranking", "task must be one of"),
        (np.array([[np.nan, 0], [0, 0]]), np.zeros(2), "regression", "x must contain only"),
        (np.zeros((2, 2)), np.array([0.5, 1.0]), "classification", "whole numbers"),
        (np.zeros((2, 2)), np.array([np.inf, 1.0]), "regression", "targets must be finite"),
    ],
)
def test_save_rejects_bad_arrays(tmp_path, x, y, task, message):
    with pytest.raises(ValueError, match=message):
        save_csv(tmp_path / "bad.csv", x, y, task)
    assert not (tmp_path / "bad.csv").exists()
