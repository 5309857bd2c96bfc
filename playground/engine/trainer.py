"""The training loop on arrays: mini-batches, optimizer steps and per-step diagnostics.

``Trainer.run(n)`` performs up to ``n`` steps and returns what happened in them: the
batch loss, the learning rate and, for every layer, the norm of its weight gradient, the
norm of its weights and the norm of the update just applied, recorded at every step for
the cost of one pass over the parameter buffer (the norms are taken a block of steps at
a time). Every ``eval_every`` steps it also measures the loss and
accuracy on the whole training and test sets, which drives early stopping and
reduce-on-plateau.

A non-finite loss, gradient or weight stops the run and is reported as divergence; the
trainer then refuses further steps until it is rebuilt.

With ``fast_path=True`` a run goes to the compiled kernels (``playground.engine.compiled``)
whenever they are warmed up and cover the configuration; this loop stays the reference.
``engine_path`` says which path the last run took and ``fallback_reason`` why it was numpy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import compiled, training_pass
from .network import Network
from .optimizers import SGD, Optimizer, check_learning_rate
from .schedules import Constant, EarlyStopping, Schedule
from .training_pass import TrainPass

#: Steps whose diagnostics are gathered before they are reduced to norms, and the most
#: values such a block may hold.
_NORM_BLOCK = 64
_NORM_BLOCK_VALUES = 1 << 20
#: Epoch orders drawn in one go, and the most sample indices such a draw may hold.
_ORDERS_AHEAD = 16
_ORDERS_AHEAD_VALUES = 1 << 16


@dataclass(frozen=True)
class StepLog:
    """Per-step records for a run of consecutive steps."""

    step: np.ndarray  # (n,) step number after the step (1-based)
    loss: np.ndarray  # (n,) batch loss including the L1/L2 penalty
    penalty: np.ndarray  # (n,) the L1/L2 part of it
    learning_rate: np.ndarray  # (n,)
    norms: np.ndarray  # (n, 3, L): weight-gradient, weight and update norm per layer

    @property
    def grad_norm(self) -> np.ndarray:
        return self.norms[:, 1]

    @property
    def weight_norm(self) -> np.ndarray:
        return self.norms[:, 0]

    @property
    def update_ratio(self) -> np.ndarray:
        """Size of each step relative to the weights: around 1e-3 is healthy."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.norms[:, 2] / self.norms[:, 0]

    def __len__(self) -> int:
        return len(self.step)


@dataclass(frozen=True)
class Evaluation:
    """Loss and accuracy over the whole training and test sets at one step."""

    step: int
    epoch: int
    train_loss: float  # data loss plus the L1/L2 penalty
    penalty: float
    test_loss: float  # data loss only; nan without a test set
    train_accuracy: float | None
    test_accuracy: float | None


@dataclass
class RunResult:
    log: StepLog
    evaluations: list[Evaluation] = field(default_factory=list)
    diverged: str | None = None
    stopped: str | None = None


class Trainer:
    """Mini-batch training of one network on fixed training and test arrays."""

    #: Fold the learning rate of plain SGD into the training pass (see ``run``); off only
    #: to check that folding changes nothing.
    fold_plain_sgd = True

    def __init__(
        self,
        network: Network,
        optimizer: Optimizer,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        *,
        learning_rate: float = 0.03,
        batch_size: int = 10,
        l1: float = 0.0,
        l2: float = 0.0,
        schedule: Schedule | None = None,
        early_stopping: EarlyStopping | None = None,
        eval_every: int | None = 10,
        batch_rng: np.random.Generator | None = None,
        dropout_rng: np.random.Generator | None = None,
        shuffle: bool = True,
        fast_path: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size: must be an integer >= 1, got {batch_size!r}")
        for name, value in (("l1", l1), ("l2", l2)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
        if eval_every is not None and eval_every < 1:
            raise ValueError(f"eval_every: must be >= 1 or None, got {eval_every!r}")
        x_train = np.ascontiguousarray(x_train, dtype=np.float64)
        if x_train.ndim != 2 or x_train.shape[1] != network.spec.n_inputs:
            raise ValueError(
                f"x_train: expected shape (n, {network.spec.n_inputs}), got {x_train.shape}"
            )
        if len(x_train) == 0:
            raise ValueError("x_train: the training set is empty")
        self.network = network
        self.optimizer = optimizer
        self.x_train, self.y_train = x_train, np.asarray(y_train)
        self.t_train = network.encode_targets(self.y_train)
        self._x_train_aug = network.augment(x_train)
        if x_test is None or len(x_test) == 0:
            self.x_test = np.empty((0, network.spec.n_inputs))
            self.y_test = np.empty(0, dtype=self.y_train.dtype)
        else:
            self.x_test = np.ascontiguousarray(x_test, dtype=np.float64)
            self.y_test = np.asarray(y_test)
        self.t_test = network.encode_targets(self.y_test)
        self.base_lr = check_learning_rate(learning_rate)
        self.batch_size = int(min(batch_size, len(x_train)))
        self.l1, self.l2 = float(l1), float(l2)
        self.schedule = schedule or Constant()
        self.early_stopping = early_stopping
        self.eval_every = eval_every
        self.batch_rng = batch_rng or np.random.default_rng(0)
        self.dropout_rng = dropout_rng or np.random.default_rng(1)
        self.shuffle = shuffle
        #: Allow the compiled kernels (they still need to be warmed up and to cover the
        #: configuration; see ``engine_path`` and ``fallback_reason``).
        self.fast_path = bool(fast_path)

        self.step = 0
        self.epoch = 0
        self.diverged: str | None = None
        self.stopped: str | None = None
        self._best_state: dict[str, np.ndarray] | None = None
        self._pos = len(x_train)  # forces a fresh epoch order on the first step
        self._order = np.arange(len(x_train))  # the epoch's sample order (for the kernels)
        self._orders_ahead: list[np.ndarray] = []  # the next epochs' orders, drawn early
        self._epoch_started = False
        # Each sample's inputs (with the 1 of the bias) and targets in one row, so that
        # one gather cuts both for an epoch.
        self._samples = np.concatenate([self._x_train_aug, self.t_train], axis=1)
        self._batch_cache: tuple | None = None
        self._epoch_store: tuple | None = None
        self._steps_key: tuple | None = None
        self._steps: dict[int, TrainPass] = {}
        self._step_scales: dict[int, np.ndarray] = {}
        layers = len(network.layers)
        # Each step writes the squares of the buffer (parameters, gradients, update) into
        # a block of rows, in one pass like a copy; a full block is turned into per-layer
        # norms in a few vectorized calls.
        rows = max(1, min(_NORM_BLOCK, _NORM_BLOCK_VALUES // (3 * network.n_params)))
        self._history = np.empty((rows, 3, network.n_params))
        self._history_rows = list(self._history)
        self.last_norms = np.zeros((3, layers))
        self._runner: compiled.CompiledRunner | None = None
        self.engine_path = "numpy"
        self.fallback_reason: str | None = None
        self._choose_engine()

    # ----------------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The rate the next step will use: the base rate times the schedule's factor."""
        return self.base_lr * self.schedule.factor(self.step)

    def set_learning_rate(self, lr: float) -> None:
        self.base_lr = check_learning_rate(lr)

    def _new_epoch(self) -> None:
        if self._pos < len(self.x_train):
            return
        if self._epoch_started:
            self.epoch += 1
        self._epoch_started = True
        if self.shuffle:
            self._order = self._draw_order()
        self._pos = 0

    def _draw_order(self) -> np.ndarray:
        """A fresh sample order for the next epoch: the batch generator's next
        permutation. Orders are drawn several epochs ahead in one call of ``permuted``,
        which gives the very orders that as many calls of ``permutation`` would (the
        same shuffle of each row in turn) at less cost per epoch; the compiled runner
        takes its orders here too, so both paths see one sequence."""
        if not self._orders_ahead:
            n = len(self.x_train)
            ahead = max(1, min(_ORDERS_AHEAD, _ORDERS_AHEAD_VALUES // n))
            block = self.batch_rng.permuted(np.tile(np.arange(n), (ahead, 1)), axis=1)
            self._orders_ahead = list(block[::-1])
        return self._orders_ahead.pop()

    def _choose_engine(self) -> compiled.CompiledRunner | None:
        """The compiled runner if it may run the next steps, else None (and why not)."""
        self.fallback_reason = compiled.why_not(self)
        if self.fallback_reason is not None:
            self.engine_path = "numpy"
            return None
        if self._runner is None:
            self._runner = compiled.make_runner(self)
        self.engine_path = "compiled"
        return self._runner

    def predict(self, x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """The network's output for the rows of ``x``; on the compiled path through the
        compiled forward pass where that is the faster one (see ``CompiledRunner``)."""
        if self.engine_path == "compiled" and self._runner.predicts_faster(x, dtype):
            return self._runner.predict(x, dtype)
        return self.network.predict(x, dtype=dtype)

    def run(self, n_steps: int, deadline: float | None = None) -> RunResult:
        """Train up to ``n_steps`` steps (fewer if it diverges, stops early, or the
        ``time.perf_counter()`` deadline passes) and return their records."""
        runner = self._choose_engine()
        if runner is not None:
            return runner.run(n_steps, deadline)
        n_steps = max(0, int(n_steps))
        net, opt = self.network, self.optimizer
        L = len(net.layers)
        steps = np.empty(n_steps, dtype=np.int64)
        losses = np.empty(n_steps)
        penalties = np.zeros(n_steps)
        rates = np.empty(n_steps)
        norms = np.empty((n_steps, 3, L))
        evaluations: list[Evaluation] = []
        result = RunResult(StepLog(steps, losses, penalties, rates, norms), evaluations)
        if self.diverged or self.stopped:
            result.diverged, result.stopped = self.diverged, self.stopped
            return self._trim(result, 0)

        update, grad = net.update, net.grad
        rows, n_rows = self._history_rows, len(self._history_rows)
        row = first = 0  # the next history row, and the step that filled the first one
        l1, l2 = self.l1, self.l2
        schedule, drop_rng = self.schedule, self.dropout_rng
        constant_rate = type(schedule) is Constant
        eval_every = self.eval_every or 0
        isfinite = math.isfinite
        start = self.step
        done = 0
        lr = self.base_lr
        # Each step is one generated function (see ``_step_function``).
        # Plain SGD (no momentum, no L1/L2): the step is -lr times the gradient, so the
        # training pass scales the output's dL/dz by -lr / n instead of 1 / n and the
        # gradient row comes out as the step itself, which saves the optimizer's pass
        # over the parameters. The norms and, at the end, the gradient and update rows
        # are given their usual meaning back.
        fold = self.fold_plain_sgd and type(opt) is SGD and not opt.hyper["momentum"] \
            and not (l1 or l2)
        folded = rates if fold else None
        if constant_rate:
            rates.fill(lr)

        def check_after(k: int) -> int:
            """The first step index after k at which to evaluate or look at the clock
            (every 16 steps)."""
            later = [n_steps]
            if eval_every:
                later.append(k + eval_every - (start + k + 1) % eval_every)
            if deadline is not None:
                later.append((k + 1) | 15)
            return min(later)

        next_check = check_after(-1)
        batches, j = self._batches()
        if fold:
            self._set_step_scales(lr)
        step_fns = self._step_functions(fold)
        n_batches = len(batches)
        pos = self._pos
        with np.errstate(all="ignore"):  # a non-finite value is reported as divergence
            for k in range(n_steps):
                if j == n_batches:
                    self._pos = len(self.x_train)
                    self._new_epoch()
                    batches, j = self._batches()
                    n_batches = len(batches)
                    if fold:
                        self._set_step_scales(lr)
                x_t, t_flat, pos, n, scale, step_scale = batches[j]
                j += 1
                if not constant_rate:
                    lr = self.base_lr * schedule.factor(start + k)
                    rates[k] = lr
                    if fold:
                        self._set_step_scales(lr)
                train_step = step_fns.get(n) or self._step_function(n, fold)
                loss, penalty = train_step(x_t, t_flat, drop_rng, None, l1, l2,
                                           step_scale if fold else scale, lr, rows[row])
                row += 1
                if row == n_rows:
                    self._reduce_norms(norms[first : first + row], folded, first)
                    first, row = first + row, 0
                if penalty:
                    penalties[k] = penalty
                    loss += penalty
                losses[k] = loss
                if not isfinite(loss):
                    done = k + 1
                    break
                if k == next_check:
                    self._pos = pos
                    step = start + k + 1
                    if eval_every and step % eval_every == 0:
                        self.step = step
                        ev = self.evaluate()
                        evaluations.append(ev)
                        if self._after_evaluation(ev):
                            result.stopped = self.stopped
                            done = k + 1
                            break
                    if deadline is not None and (k & 15) == 15 \
                            and time.perf_counter() > deadline:
                        done = k + 1
                        break
                    next_check = check_after(k)
            else:
                done = n_steps
        self._pos = pos
        if row:
            self._reduce_norms(norms[first : first + row], folded, first)
        if fold and done:
            opt.steps += done
            update[...] = grad  # the last step
            np.divide(grad, -lr, out=grad)  # and its gradient (to the last bit or so)
        self.step = start + done
        steps[:done] = np.arange(start + 1, start + done + 1)
        if done:
            self.last_norms[...] = norms[done - 1]
            bad = ~np.isfinite(losses[:done]) | ~np.all(np.isfinite(norms[:done]), axis=(1, 2))
            if bad.any():
                first = int(np.argmax(bad))
                self.diverged = self._divergence_message(start + first + 1, losses[first],
                                                         norms[first])
                result.diverged = self.diverged
        return self._trim(result, done)

    def _batches(self) -> tuple[list[tuple], int]:
        """The current epoch's batches from ``_pos`` on, and the index of the next one.

        Each batch is ``(x^T, t, end, n, scale, step_scale)``: the inputs with their row
        of ones, laid out units x samples as a contiguous array; the targets, that
        (outputs, n) array laid out flat, output by output, as the training step takes
        them; the position in the epoch after the batch, its size and the two scales its
        training step may take (``_size_and_scales``). They are cut once per epoch order and
        batch size (the compiled runner may have moved ``_pos`` or drawn a new order in
        between, and the batch size may change between runs).
        """
        pos, b, order = self._pos, self.batch_size, self._order
        kept = self._batch_cache
        if kept is not None and kept[0] is order and kept[1] == b \
                and kept[2] <= pos < len(order) and (pos - kept[2]) % b == 0:
            return kept[3], (pos - kept[2]) // b
        if pos >= len(order):
            self._new_epoch()
            pos, order = self._pos, self._order
        batches = self._cut(order[pos:], pos, b)
        self._batch_cache = (order, b, pos, batches)
        return batches, 0

    def _cut(self, rest: np.ndarray, pos: int, b: int) -> list[tuple]:
        """The batches of the samples ``rest`` (the epoch's order from ``pos`` on).

        Batch j, units x samples, holds sample ``rest[j b + i]`` in its column i; a short
        last batch takes what is left. A whole epoch (``pos`` 0) is gathered into arrays
        kept from one epoch to the next, so that its batches are the same objects every
        epoch and only their contents change: building fresh arrays and tuples for each
        epoch cost several times the gather itself."""
        samples = self._samples
        n_full, short = divmod(len(rest), b)
        kept = self._epoch_store if pos == 0 else None
        if kept is None or kept[0] != b:
            rows = np.empty((n_full, samples.shape[1], b))
            last = np.empty((samples.shape[1], short))
            batches = self._batch_list(rows, last, pos, b)
            kept = (b, rows, last, batches)
            if pos == 0:
                self._epoch_store = kept
        _, rows, last, batches = kept
        full = n_full * b
        np.copyto(rows, samples.take(rest[:full], axis=0)
                  .reshape(n_full, b, samples.shape[1]).transpose(0, 2, 1))
        if short:
            np.copyto(last, samples.take(rest[full:], axis=0).T)
        return batches

    def _batch_list(self, rows: np.ndarray, last: np.ndarray, pos: int, b: int) -> list:
        """The batch tuples (see ``_batches``) over the arrays ``rows`` (whole batches)
        and ``last`` (a short last one, if it has columns)."""
        n_x, n_full = self._x_train_aug.shape[1], len(rows)
        # The targets as the training step takes them, each batch's as one flat row
        # (views: the gathers write through them).
        n_t = (rows.shape[1] - n_x) * rows.shape[2]
        targets = np.reshape(rows[:, n_x:], (n_full, n_t), copy=False)
        batches = list(zip(rows[:, :n_x], targets,
                           range(pos + b, pos + n_full * b + 1, b),
                           *([x] * n_full for x in self._size_and_scales(b))))
        if last.shape[1]:
            # (like the compiled runner, a short last batch leaves the position past
            # the end of the epoch)
            batches.append((last[:n_x], np.reshape(last[n_x:], -1, copy=False),
                            pos + n_full * b + b, *self._size_and_scales(last.shape[1])))
        return batches

    def _size_and_scales(self, n: int) -> tuple:
        """For batches of n: n, 1 / n, and the 0-d array that holds -lr / n for plain
        SGD (see ``run``)."""
        scale = self._step_scales.get(n)
        if scale is None:
            scale = self._step_scales[n] = np.zeros(())
        return n, self.network.head.batch_constants(n)[1], scale

    def _step_functions(self, fold: bool) -> dict[int, TrainPass]:
        """The training steps made so far for the optimizer as it is now (its
        hyper-parameters are written into them) and for ``fold``, by batch size."""
        key = (self.optimizer, self.optimizer.version, fold)
        if self._steps_key != key:
            self._steps_key, self._steps = key, {}
        return self._steps

    def _step_function(self, n: int, fold: bool) -> TrainPass:
        """The training step for batches of n: the network's pass, the optimizer's step
        (or with ``fold`` the step of plain SGD that the pass leaves in the gradient
        row), the move of the parameters and the squares for the history, as one
        generated function (``training_pass.build_step``)."""
        net = self.network
        step, _ = training_pass.build_step(net, net._work_for(n),
                                           None if fold else self.optimizer)
        self._step_functions(fold)[n] = step
        return step

    def _reduce_norms(self, out: np.ndarray, folded: np.ndarray | None = None,
                      first: int = 0) -> None:
        """Per-layer norms (see ``StepLog.norms``) of the first ``len(out)`` history rows.

        With ``folded`` (the run's learning rates, for plain SGD folded into the pass)
        the gradient rows hold the steps: the update norm is theirs, and the gradient
        norm theirs divided by the step's rate (``first`` is the index of the block's
        first step in the run)."""
        sums = np.add.reduceat(self._history[: len(out)], self.network.diag_bounds, axis=2)
        np.sqrt(sums[:, :, ::2], out=out)
        if folded is not None:
            out[:, 2] = out[:, 1]
            out[:, 1] /= folded[first : first + len(out), None]

    def _set_step_scales(self, lr: float) -> None:
        """-lr / n for every batch size of the epoch under way (see ``run``)."""
        for n, scale in self._step_scales.items():
            scale[()] = -lr / n

    @staticmethod
    def _trim(result: RunResult, n: int) -> RunResult:
        log = result.log
        result.log = StepLog(log.step[:n], log.loss[:n], log.penalty[:n],
                             log.learning_rate[:n], log.norms[:n])
        return result

    def _divergence_message(self, step: int, loss: float, norms: np.ndarray) -> str:
        if not np.all(np.isfinite(norms[1])):
            what = "gradients"
        elif not np.all(np.isfinite(norms[0])):
            what = "weights"
        else:
            what = "loss"
        return (f"Training diverged at step {step}: the {what} became infinite or "
                f"not a number (learning rate {self.learning_rate:.3g}).")

    def _after_evaluation(self, ev: Evaluation) -> bool:
        monitored = ev.test_loss if len(self.x_test) else ev.train_loss
        self.schedule.observe(monitored)
        es = self.early_stopping
        if es is None:
            return False
        improved, stop = es.observe(self.step, monitored)
        if improved and es.restore_best:
            self._best_state = self.network.state()
        if stop:
            restored = ""
            if es.restore_best and self._best_state is not None:
                self.network.load_state(self._best_state)
                restored = f"; restored the weights of step {es.best_step}"
            which = "test" if len(self.x_test) else "training"
            self.stopped = (f"Stopped early at step {self.step}: the {which} loss has not "
                            f"improved for {es.patience} steps (best {es.best:.4g} at step "
                            f"{es.best_step}{restored}).")
            return True
        return False

    # ----------------------------------------------------------------------------------
    def penalty(self) -> float:
        return self.network.penalty(self.l1, self.l2)

    def evaluate(self) -> Evaluation:
        """Loss and accuracy over the whole training and test sets (evaluation mode)."""
        net = self.network
        train_loss, train_acc = net.evaluate(self.x_train, self.y_train, self.t_train)
        if len(self.x_test):
            test_loss, test_acc = net.evaluate(self.x_test, self.y_test, self.t_test)
        else:
            test_loss, test_acc = float("nan"), None
        pen = self.penalty()
        return Evaluation(self.step, self.epoch, train_loss + pen, pen, test_loss,
                          train_acc, test_acc)
