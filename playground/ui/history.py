"""What happened so far in one training session, kept for the history plots.

The worker thread folds every snapshot's records in here, so a frame the window never
draws loses nothing; the window reads the buffers when it draws. Two kinds of buffer:

* :class:`GrowingTable` keeps every row (the whole-data-set evaluations, one every
  ``eval_every`` steps) in an array that doubles when full, so appending costs O(1)
  amortized and no list of small arrays piles up.
* :class:`PeakHistory` keeps per-step values (batch loss, gradient norms) at a bounded
  resolution: each bucket of consecutive steps keeps its minimum, maximum and mean, and
  when the buckets run out two neighbours merge. Memory stays flat over millions of steps and
  the spikes that matter (an exploding gradient) survive the merging, as in pyqtgraph's
  "peak" downsampling.

* :class:`RecentRows` keeps the last few hundred per-step rows exactly (gradient norms,
  update ratios), for the plain-language hints, which judge the recent typical value.

Thread safety: the worker appends, the window reads. Appending only writes rows past the
current length and merging builds new arrays, so a view handed to a reader never changes
under it; a lock keeps (array, length) pairs consistent.
"""

from __future__ import annotations

import threading

import numpy as np

from playground.experiment.session import Snapshot

#: Columns of the evaluation table.
EVAL_COLUMNS = ("step", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
#: log10 of the smallest norm kept: a zero gradient has no logarithm.
LOG_NORM_FLOOR = -12.0
#: Per-step rows kept exactly for the hints ("the recent ~200 steps").
RECENT_STEPS = 200


def log10_norms(norms: np.ndarray) -> np.ndarray:
    """log10 of norms, with zero at LOG_NORM_FLOOR and non-finite values kept as nan."""
    norms = np.asarray(norms, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(norms)
    logs[norms <= 10.0 ** LOG_NORM_FLOOR] = LOG_NORM_FLOOR
    logs[~np.isfinite(norms)] = np.nan
    return logs


class GrowingTable:
    """Rows of ``width`` float64 columns in a buffer that doubles when it is full."""

    def __init__(self, width: int, capacity: int = 256) -> None:
        self._rows = np.empty((max(1, capacity), width))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return len(self._rows)

    def extend(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self._rows.shape[1])
        need = self._n + len(rows)
        if need > len(self._rows):
            size = len(self._rows)
            while size < need:
                size *= 2
            grown = np.empty((size, self._rows.shape[1]))
            grown[: self._n] = self._rows[: self._n]
            self._rows = grown
        self._rows[self._n : need] = rows
        self._n = need

    def view(self) -> np.ndarray:
        """The filled rows (a read-only view that later appends never change)."""
        v = self._rows[: self._n]
        v.flags.writeable = False
        return v


class RecentRows:
    """The last ``capacity`` rows of ``width`` columns, oldest first (a ring buffer)."""

    def __init__(self, width: int, capacity: int = RECENT_STEPS) -> None:
        self._rows = np.full((max(1, capacity), width), np.nan)
        self._next = 0
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, rows: np.ndarray) -> None:
        cap = len(self._rows)
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self._rows.shape[1])[-cap:]
        k = len(rows)
        first = min(k, cap - self._next)
        self._rows[self._next : self._next + first] = rows[:first]
        self._rows[: k - first] = rows[first:]
        self._next = (self._next + k) % cap
        self._n = min(cap, self._n + k)

    def rows(self) -> np.ndarray:
        """A new ``(n, width)`` array of the kept rows, oldest first."""
        if self._n < len(self._rows):
            return self._rows[: self._n].copy()
        return np.roll(self._rows, -self._next, axis=0)


class PeakHistory:
    """Per-step values of ``width`` columns at a resolution of at most ``max_buckets``
    buckets, each holding the min, max and mean of its steps."""

    def __init__(self, width: int, max_buckets: int = 256) -> None:
        if max_buckets < 2:
            raise ValueError("max_buckets: must be >= 2")
        self.width = width
        self.max_buckets = max_buckets
        self.bucket_steps = 1  # steps folded into one full bucket
        self._x = np.empty(64)  # last step of each bucket
        self._lo = np.empty((64, width))
        self._hi = np.empty((64, width))
        self._sum = np.empty((64, width))
        self._count = np.empty(64)
        self._n = 0
        self._pending_x = np.empty(0)
        self._pending_v = np.empty((0, width))

    def __len__(self) -> int:
        return self._n

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        steps = np.asarray(steps, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64).reshape(len(steps), self.width)
        if len(steps) == 0:
            return
        if len(self._pending_x):
            steps = np.concatenate([self._pending_x, steps])
            values = np.concatenate([self._pending_v, values])
        w = self.bucket_steps
        full = len(steps) // w
        used = full * w
        self._pending_x, self._pending_v = steps[used:].copy(), values[used:].copy()
        if full == 0:
            return
        chunk = values[:used].reshape(full, w, self.width)
        with np.errstate(invalid="ignore"):
            self._append(steps[w - 1 : used : w], chunk.min(axis=1), chunk.max(axis=1),
                         chunk.sum(axis=1), np.full(full, float(w)))
        while self._n > self.max_buckets:
            self._merge()

    def _append(self, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: np.ndarray,
                count: np.ndarray) -> None:
        need = self._n + len(x)
        if need > len(self._x):
            size = len(self._x)
            while size < need:
                size *= 2
            self._x, self._lo, self._hi, self._sum, self._count = (
                _grown(a, size, self._n) for a in (self._x, self._lo, self._hi, self._sum,
                                                   self._count))
        sl = slice(self._n, need)
        self._x[sl], self._lo[sl], self._hi[sl], self._sum[sl], self._count[sl] = (
            x, lo, hi, total, count)
        self._n = need

    def _merge(self) -> None:
        """Halve the resolution: neighbouring buckets become one (into new arrays)."""
        n, pairs = self._n, self._n // 2
        even, odd = slice(0, 2 * pairs, 2), slice(1, 2 * pairs, 2)
        merged = [
            (self._x, lambda a: a[odd]),
            (self._lo, lambda a: np.fmin(a[even], a[odd])),
            (self._hi, lambda a: np.fmax(a[even], a[odd])),
            (self._sum, lambda a: a[even] + a[odd]),
            (self._count, lambda a: a[even] + a[odd]),
        ]
        fresh = []
        for a, combine in merged:
            b = np.empty_like(a)
            b[:pairs] = combine(a)
            if n % 2:
                b[pairs] = a[n - 1]
            fresh.append(b)
        self._x, self._lo, self._hi, self._sum, self._count = fresh
        self._n = pairs + n % 2
        self.bucket_steps *= 2

    def curve(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` that keeps every peak: the values themselves while every step has a
        bucket of its own, afterwards a min/max zig-zag."""
        n = self._n
        x, lo, hi = self._x[:n], self._lo[:n, column], self._hi[:n, column]
        if self.bucket_steps == 1:
            return x.copy(), lo.copy()
        return np.repeat(x, 2), np.stack([lo, hi], axis=1).ravel()

    def mean_curve(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """``(x, mean of each bucket)``: one point per bucket."""
        n = self._n
        return self._x[:n].copy(), self._sum[:n, column] / self._count[:n]


def _grown(a: np.ndarray, size: int, n: int) -> np.ndarray:
    b = np.empty((size,) + a.shape[1:], dtype=a.dtype)
    b[:n] = a[:n]
    return b


class History:
    """Everything a session reported, for the loss and gradient plots."""

    def __init__(self, max_buckets: int = 256) -> None:
        self._lock = threading.Lock()
        self._max_buckets = max_buckets
        self.layer_names: tuple[str, ...] = ()
        self.evaluations = GrowingTable(len(EVAL_COLUMNS))
        #: The evaluations at bounded resolution, for drawing (columns after "step").
        self.evaluation_buckets = PeakHistory(len(EVAL_COLUMNS) - 1, max_buckets)
        self.batch_loss = PeakHistory(1, max_buckets)
        #: log10 of the per-step gradient norms (zero norms at LOG_NORM_FLOOR).
        self.log_grad_norm = PeakHistory(1, max_buckets)
        #: The last RECENT_STEPS steps' gradient norms and update ratios, per layer.
        self.recent_grad_norm = RecentRows(0)
        self.recent_update_ratio = RecentRows(0)
        #: Goes up by one each time new records arrive, so a plot can skip a redraw.
        self.revision = 0

    def append(self, snap: Snapshot) -> None:
        """Fold one snapshot's records in (called from the worker thread)."""
        with self._lock:
            if snap.layer_names != self.layer_names:
                self.layer_names = snap.layer_names
                self.log_grad_norm = PeakHistory(len(snap.layer_names), self._max_buckets)
                self.recent_grad_norm = RecentRows(len(snap.layer_names))
                self.recent_update_ratio = RecentRows(len(snap.layer_names))
            changed = False
            if len(snap.steps):
                self.batch_loss.extend(snap.steps, snap.loss)
                self.log_grad_norm.extend(snap.steps, log10_norms(snap.grad_norm))
                self.recent_grad_norm.extend(snap.grad_norm)
                self.recent_update_ratio.extend(snap.update_ratio)
                changed = True
            if len(snap.eval_step):
                rows = np.column_stack([
                    snap.eval_step, snap.eval_train_loss, snap.eval_test_loss,
                    snap.eval_train_accuracy, snap.eval_test_accuracy,
                ])
                self.evaluations.extend(rows)
                self.evaluation_buckets.extend(rows[:, 0], rows[:, 1:])
                changed = True
            if changed:
                self.revision += 1

    def evaluation_table(self) -> np.ndarray:
        """``(m, 5)`` rows of EVAL_COLUMNS: every evaluation."""
        with self._lock:
            return self.evaluations.view()

    def evaluation_curves(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` with one row per bucket of evaluations (their mean) and the
        columns of EVAL_COLUMNS after "step": at most ``max_buckets`` rows to draw."""
        with self._lock:
            b = self.evaluation_buckets
            x, _ = b.mean_curve(0)
            return x, np.column_stack([b.mean_curve(i)[1] for i in range(b.width)])

    def batch_loss_curve(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self.batch_loss.curve(0)

    def recent_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """``(grad_norm, update_ratio)``: the last RECENT_STEPS steps, ``(n, L)`` each."""
        with self._lock:
            return self.recent_grad_norm.rows(), self.recent_update_ratio.rows()

    def grad_norm_heat(self) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """Layer names, the last step of each bucket ``(b,)`` and log10 of the gradient
        norm per bucket and layer ``(b, L)`` (each bucket's mean of the logs)."""
        with self._lock:
            g = self.log_grad_norm
            n = len(g)
            x = g.mean_curve(0)[0] if g.width else np.empty(0)
            logs = (np.column_stack([g.mean_curve(i)[1] for i in range(g.width)])
                    if g.width else np.empty((n, 0)))
            return self.layer_names, x, logs

    def grad_norm_curves(self) -> tuple[tuple[str, ...], list[tuple[np.ndarray, np.ndarray]]]:
        """Layer names and, per layer, ``(steps, log10 of the gradient norm)`` averaged
        over each bucket (the geometric mean of the norms)."""
        with self._lock:
            g = self.log_grad_norm
            return self.layer_names, [g.mean_curve(i) for i in range(g.width)]
