"""Reading and writing point sets as small CSV files.

File format: three columns ``x1, x2, label``, one point per line.

* A header row is optional. The first non-blank row is a header when none of its cells is
  a number; it must then name exactly ``x1``, ``x2`` and ``label`` (any order, any letter
  case, optional double quotes). Any other column is an error that names it: silently
  dropping a column would hide a file that is not what the user thinks it is.
* The delimiter is taken from the first non-blank row: tab if it has one, else semicolon,
  else comma. Blank lines are skipped. Use a dot as the decimal separator.
* If every label is a whole number (``1`` or ``1.0``) the file is a classification set:
  the distinct labels, sorted, become classes ``0..k-1`` (so ``-1/1`` becomes ``0/1``).
  Otherwise the labels are float regression targets, used as they are.
* Points outside the playground's plane are accepted as they are.

Every problem is reported as a :class:`DataError` whose message says what is wrong and
where; rows are counted from 1 as a text editor shows them, header and blank lines
included.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from playground.data.datasets import (
    CLASSIFICATION,
    MAX_CLASSES,
    MAX_SAMPLES,
    REGRESSION,
    TASKS,
    Dataset,
)

COLUMNS = ("x1", "x2", "label")


class DataError(ValueError):
    """A data file that cannot be used; the message names what is wrong (row/column when
    it applies) so the UI can show it to the user as is."""


def load_csv(path: str | os.PathLike[str], max_points: int = MAX_SAMPLES) -> Dataset:
    """Read a point set written by hand, by a spreadsheet or by :func:`save_csv`.

    Returns a :class:`Dataset` named after the file (e.g. ``"points.csv"``).

    Raises:
        DataError: the file is missing, unreadable, not UTF-8 text, empty, malformed, has
            more than ``max_points`` points, or a classification file has one class only
            or more than ``MAX_CLASSES``.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
    text = _read_text(Path(path))
    lines = text.splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise DataError(f"{Path(path).name} is empty: expected rows of x1, x2, label")

    delimiter = _detect_delimiter(numbered[0][1])
    first_number, first_line = numbered[0]
    first_cells = _split(first_line, delimiter, first_number)
    if any(_is_number(cell) for cell in first_cells):
        order = [0, 1, 2]
        ncols = 3
        rows = numbered
    else:
        order = _header_order(first_cells, first_number)
        ncols = len(first_cells)
        rows = numbered[1:]
    if not rows:
        raise DataError(f"{Path(path).name} has a header but no data rows")
    if len(rows) > max_points:
        raise DataError(f"{Path(path).name} has {len(rows)} points; the limit is {max_points}")
    if len(rows) < 2:
        raise DataError(f"{Path(path).name} has 1 point; at least 2 are needed")

    values = np.empty((len(rows), 3), dtype=np.float64)
    for r, (line_number, line) in enumerate(rows):
        cells = _split(line, delimiter, line_number)
        if len(cells) != ncols:
            raise DataError(
                f"row {line_number}: expected {ncols} fields ({', '.join(COLUMNS)}), "
                f"found {len(cells)}"
            )
        for c, name in enumerate(COLUMNS):
            values[r, c] = _parse_cell(cells[order[c]], line_number, name)

    x = values[:, :2]
    labels = values[:, 2]
    name = Path(path).name
    if np.all(labels == np.floor(labels)):
        classes, y = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise DataError(
                f"{name} has only one class (label {_format_label(classes[0])}); "
                "classification needs at least two"
            )
        if classes.size > MAX_CLASSES:
            raise DataError(
                f"{name} has {classes.size} distinct whole-number labels, more than the "
                f"{MAX_CLASSES} classes allowed (whole-number labels are read as classes; "
                "write regression targets with a fractional part)"
            )
        return Dataset(
            x=x, y=y.astype(np.int64), task=CLASSIFICATION, n_classes=int(classes.size), name=name
        )
    return Dataset(x=x, y=labels, task=REGRESSION, n_classes=0, name=name)


def save_csv(path: str | os.PathLike[str], x: np.ndarray, y: np.ndarray, task: str) -> None:
    """Write points so that :func:`load_csv` reads back the same float64 values.

    Coordinates and regression targets are written with ``repr`` (the shortest text that
    parses back to the same double). Classification labels are written as integers.
    Round trips are exact for classification labels ``0..k-1`` with every class present,
    and for regression targets unless all of them are whole numbers (those read back as
    classes, by the format's rule).

    Raises:
        ValueError: the arrays have the wrong shapes, hold non-finite values, or
            classification labels that are not whole numbers.
        OSError: the file cannot be written.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},), got {y.shape}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must contain only finite numbers")
    if task == CLASSIFICATION:
        if y.size and not np.issubdtype(y.dtype, np.integer):
            as_float = y.astype(np.float64)
            if not np.all(as_float == np.floor(as_float)):
                raise ValueError("classification labels must be whole numbers")
        labels = [str(int(v)) for v in y.tolist()]
    else:
        targets = y.astype(np.float64)
        if not np.all(np.isfinite(targets)):
            raise ValueError("regression targets must be finite numbers")
        labels = [repr(v) for v in targets.tolist()]
    lines = [",".join(COLUMNS)]
    lines.extend(f"{a!r},{b!r},{label}" for (a, b), label in zip(x.tolist(), labels, strict=True))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


# ------------------------------------------------------------------------------ helpers


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not a data file") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise DataError(f"{path.name} is not a text file (it contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path.name} is not UTF-8 text: undecodable byte 0x{raw[exc.start]:02x} on row {line}"
        ) from None


def _detect_delimiter(line: str) -> str:
    for delimiter in ("\t", ";", ","):
        if delimiter in line:
            return delimiter
    return ","


def _split(line: str, delimiter: str, line_number: int) -> list[str]:
    """Split one line, honouring double quotes as spreadsheets write them."""
    try:
        cells = next(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise DataError(f"row {line_number}: cannot split into fields ({exc})") from None
    return [cell.strip() for cell in cells]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_cell(cell: str, line_number: int, column: str) -> float:
    where = f"row {line_number}, column '{column}'"
    if not cell:
        raise DataError(f"{where} is empty")
    try:
        value = float(cell)
    except ValueError:
        hint = " (use a dot as the decimal separator)" if "," in cell else ""
        raise DataError(f"{where}: {cell!r} is not a number{hint}") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {cell!r} is not a finite number")
    return value


def _header_order(cells: list[str], line_number: int) -> list[int]:
    """Positions of x1, x2 and label in a header row."""
    where = f"row {line_number} (header)"
    rule = f"it must name exactly {', '.join(COLUMNS)} (in any order)"
    names = [cell.lower() for cell in cells]
    for name in names:
        if names.count(name) > 1:
            raise DataError(f"{where}: column {name!r} appears more than once; {rule}")
    unknown = [cell for cell in cells if cell.lower() not in COLUMNS]
    if unknown:
        listed = ", ".join(repr(cell) for cell in unknown)
        raise DataError(f"{where} has unexpected column(s) {listed}; {rule}")
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise DataError(f"{where} lacks column(s) {listed}; {rule}")
    return [names.index(name) for name in COLUMNS]


def _format_label(value: float) -> str:
    return str(int(value)) if value == math.floor(value) else repr(value)
