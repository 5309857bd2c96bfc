"""History buffers: nothing lost between frames, bounded memory, peaks kept."""

from __future__ import annotations

import numpy as np
import pytest

from playground.experiment.session import TrainingSession
from playground.ui.history import GrowingTable, History, PeakHistory, log10_norms


def test_growing_table_doubles_and_keeps_every_row():
    table = GrowingTable(2, capacity=4)
    for i in range(10):
        table.extend(np.array([[i, 10 * i]]))
    assert len(table) == 10 and table.capacity == 16
    np.testing.assert_array_equal(table.view()[:, 0], np.arange(10))


def test_a_view_handed_out_never_changes_when_rows_are_added():
    table = GrowingTable(1, capacity=2)
    table.extend(np.array([[1.0], [2.0]]))
    view = table.view()
    table.extend(np.array([[3.0], [4.0], [5.0]]))  # forces a new buffer
    np.testing.assert_array_equal(view[:, 0], [1.0, 2.0])


def test_peak_history_is_exact_until_it_is_full():
    h = PeakHistory(1, max_buckets=8)
    h.extend(np.arange(1, 7), np.arange(6.0))
    x, y = h.curve(0)
    np.testing.assert_array_equal(x, np.arange(1, 7))
    np.testing.assert_array_equal(y, np.arange(6.0))


def test_peak_history_stays_bounded_and_keeps_the_spikes():
    h = PeakHistory(1, max_buckets=16)
    steps = np.arange(1, 10_001)
    values = np.ones(10_000)
    values[7_777] = 1e6  # one exploding step
    for chunk in range(0, 10_000, 333):  # arriving in uneven pieces, like snapshots
        h.extend(steps[chunk:chunk + 333], values[chunk:chunk + 333])
    assert len(h) <= 16
    x, y = h.curve(0)
    assert y.max() == 1e6 and y.min() == 1.0
    _, mean = h.mean_curve(0)
    assert mean.max() > 1.0  # the spike raises its bucket's mean
    assert x[-1] <= 10_000


def test_bucket_means_are_the_means_of_their_steps():
    h = PeakHistory(1, max_buckets=4)
    h.extend(np.arange(1, 9), np.arange(1.0, 9.0))  # 8 steps -> 4 buckets of 2
    x, mean = h.mean_curve(0)
    np.testing.assert_array_equal(x, [2, 4, 6, 8])
    np.testing.assert_allclose(mean, [1.5, 3.5, 5.5, 7.5])


def test_log_norms_keep_zero_at_the_floor_and_mark_non_finite():
    logs = log10_norms(np.array([0.0, 1e-3, np.inf, np.nan]))
    assert logs[0] == -12 and logs[1] == pytest.approx(-3)
    assert np.isnan(logs[2]) and np.isnan(logs[3])


def test_history_collects_every_snapshot(classic):
    session = TrainingSession(classic)
    history = History()
    history.append(session.snapshot())
    for _ in range(3):
        session.train_for(25)
        history.append(session.snapshot())
    table = history.evaluation_table()
    np.testing.assert_array_equal(table[:, 0], np.arange(10, 80, 10))  # eval_every 10
    names, curves = history.grad_norm_curves()
    assert names == ("layer 1", "layer 2", "output")
    assert all(len(x) == 75 for x, _ in curves)
    assert history.revision == 3
