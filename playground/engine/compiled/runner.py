"""The Python side of the compiled path: it prepares K steps, runs them in one kernel call
and hands back the same records as ``Trainer.run``.

The runner keeps no training state of its own. The parameters, gradients and updates live
in the network's buffer and the optimizer's moments in the optimizer, both changed in
place by the kernel; the batch order, the epoch, the step count and the random streams
stay on the trainer. Either path can therefore take over from the other at any step.

Per call the runner, in numpy:

* walks the epochs as the trainer does (``Trainer._draw_order`` gives each epoch's order
  from ``batch_rng``) and lists the sample rows of the steps in order; the kernel cuts
  them into batches (the numpy loop cuts its own from the trainer's order when it takes
  over);
* draws the dropout numbers for all K steps with one ``dropout_rng.random`` call, which
  yields the same numbers, in the same order, as one call per step and layer;
* computes the learning rate of each step from the schedule.

K is the number of steps asked for, at most a few thousand per call (to bound the per-call
arrays), cut at the next evaluation when something listens to evaluations
(reduce-on-plateau, early stopping) and, under a deadline, to the steps that fit in the
time left, judged by the speed of the previous calls.
"""

from __future__ import annotations

import math
import time

import numpy as np

from playground.engine.compiled import kernels
from playground.engine.network import Network
from playground.engine.optimizers import Optimizer
from playground.engine.schedules import Constant, Schedule
from playground.engine.trainer import Evaluation, RunResult, StepLog, Trainer

#: Steps in a call when there is no speed estimate yet, and the least under a deadline
#: (the numpy path also checks the clock every 16 steps).
FIRST_CALL_STEPS = 16
#: Most steps in one call, and most dropout numbers drawn for one call: the per-call
#: arrays (sample rows, rates, dropout numbers) stay a few megabytes at most.
MAX_CALL_STEPS = 4096
#: A call spends about a millisecond in Python around the kernel (planning the batches,
#: reading the records back). With less than this left before a deadline, ``run`` ends
#: rather than make a call that would be mostly that; the next run starts sooner.
MIN_CALL_SECONDS = 0.002
MAX_CALL_DRAWS = 1 << 19


def _offset(view: np.ndarray, base: np.ndarray) -> int:
    """Position of a view's first element in the flat array it looks into."""
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) \
        // base.itemsize


def _float_rows(a: np.ndarray) -> np.ndarray:
    return np.array(a, dtype=np.float64, order="C", copy=True)


def _labels(network: Network, y: np.ndarray) -> np.ndarray:
    """Class labels for the accuracy (zeros for regression, where it is not computed)."""
    if not network.is_classifier:
        return np.zeros(len(y), dtype=np.int64)
    return np.array(y, dtype=np.int64, copy=True)


def network_arguments(network: Network) -> tuple:
    """The network described as the kernels take it (see ``kernels``)."""
    hidden = network.hidden_layers
    base = network.params
    return (
        np.ascontiguousarray(network.spec.sizes, dtype=np.int64),
        np.ascontiguousarray(network.spec.activation_codes, dtype=np.int64),
        np.array([layer.alpha for layer in hidden], dtype=np.float64),
        np.array([-1 if layer.slope is None else _offset(layer.slope, base)
                  for layer in hidden], dtype=np.int64),
        np.array([_offset(layer.Wb, base) for layer in network.layers], dtype=np.int64),
        np.array([1.0 - layer.dropout for layer in hidden], dtype=np.float64),
        kernels.HEAD_CODES[network.spec.head],
    )


def optimizer_arguments(opt: Optimizer) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(code, hyper-parameters, first state array, second state array) of an optimizer.

    Optimizers with one state array pass it twice; the kernel leaves the second alone.
    """
    h = opt.hyper
    if opt.name == "sgd":
        hyper, s1, s2 = (h["momentum"], float(h["nesterov"]), 0.0, 0.0), opt.velocity, None
    elif opt.name == "rmsprop":
        hyper, s1, s2 = (h["rho"], h["momentum"], h["epsilon"], 0.0), opt.square_avg, opt.buf
    elif opt.name == "adagrad":
        hyper, s1, s2 = (h["epsilon"], 0.0, 0.0, 0.0), opt.sum_sq, None
    else:
        wd = h.get("weight_decay", 0.0)
        hyper, s1, s2 = (h["beta1"], h["beta2"], h["epsilon"], wd), *opt.sums
    return (kernels.OPTIMIZER_CODES[opt.name], np.array(hyper, dtype=np.float64), s1,
            s1 if s2 is None else s2)


def _listens(schedule: Schedule) -> bool:
    return type(schedule).observe is not Schedule.observe


class CompiledRunner:
    """Runs a trainer's steps through ``kernels.train_steps``; see the module docstring."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        net = trainer.network
        self.net_args = network_arguments(net)
        self.drop_units = sum(layer.units for layer in net.hidden_layers if layer.dropout)
        self.x, self.t = _float_rows(trainer.x_train), _float_rows(trainer.t_train)
        self.y = _labels(net, trainer.y_train)
        self.x_test, self.t_test = _float_rows(trainer.x_test), _float_rows(trainer.t_test)
        self.y_test = _labels(net, trainer.y_test)
        self._no_dropout = np.empty(0)
        self._seconds_per_step: float | None = None
        self._predicts_faster: dict[tuple[int, np.dtype], bool] = {}

    # ---------------------------------------------------------------- the run
    def run(self, n_steps: int, deadline: float | None = None) -> RunResult:
        """Same contract as ``Trainer.run``."""
        tr = self.trainer
        n_steps = max(0, int(n_steps))
        L = len(tr.network.layers)
        log = StepLog(np.empty(n_steps, dtype=np.int64), np.empty(n_steps), np.empty(n_steps),
                      np.empty(n_steps), np.empty((n_steps, 3, L)))
        result = RunResult(log)
        if tr.diverged or tr.stopped:
            result.diverged, result.stopped = tr.diverged, tr.stopped
            return Trainer._trim(result, 0)
        done = 0
        while done < n_steps:
            # After the first call, one is made only while enough time is left for it.
            if done and deadline is not None \
                    and deadline - time.perf_counter() < MIN_CALL_SECONDS:
                break
            k = min(n_steps - done, self._call_limit())
            every = tr.eval_every or 0
            if every and self._listening():
                k = min(k, every - tr.step % every)
            if deadline is not None:
                k = min(k, self._steps_that_fit(deadline))
            ran, ended = self._call(k, done, result)
            done += ran
            if ended:
                break
        return Trainer._trim(result, done)

    def _listening(self) -> bool:
        """True when evaluations can change the training (early stopping, a schedule
        that observes the loss): then each call ends at the next evaluation, which the
        trainer handles before the next step, as on the numpy path."""
        tr = self.trainer
        return tr.early_stopping is not None or _listens(tr.schedule)

    def _call_limit(self) -> int:
        draws_per_step = self.trainer.batch_size * self.drop_units
        if draws_per_step == 0:
            return MAX_CALL_STEPS
        return max(FIRST_CALL_STEPS, min(MAX_CALL_STEPS, MAX_CALL_DRAWS // draws_per_step))

    def _steps_that_fit(self, deadline: float) -> int:
        if self._seconds_per_step is None:
            return FIRST_CALL_STEPS
        left = deadline - time.perf_counter()
        return max(FIRST_CALL_STEPS, int(left / self._seconds_per_step))

    def _call(self, k: int, at: int, result: RunResult) -> tuple[int, bool]:
        """Run k steps into the records from index ``at``; returns (steps run, ended)."""
        tr = self.trainer
        opt = tr.optimizer
        log = result.log
        start = tr.step
        rows, left, epochs = self._plan(k)
        rates = log.learning_rate[at : at + k]
        if type(tr.schedule) is Constant:
            rates.fill(tr.base_lr)
        else:
            factor = tr.schedule.factor
            rates[:] = [tr.base_lr * factor(step) for step in range(start, start + k)]
        drop = self._no_dropout
        if self.drop_units:
            drop = tr.dropout_rng.random(len(rows) * self.drop_units)
        every = tr.eval_every or 0
        evals = np.empty((k // every + 1 if every else 0, len(kernels.EVAL_FIELDS)))
        code, hyper, s1, s2 = optimizer_arguments(opt)
        losses, norms = log.loss[at : at + k], log.norms[at : at + k]

        clock = time.perf_counter()
        ran, n_evals = kernels.train_steps(
            *self.net_args, tr.network.buffer, code, hyper, s1, s2, opt.steps,
            self.x, self.t, rows, int(left), len(self.x), int(tr.batch_size), rates,
            float(tr.l1), float(tr.l2), drop, every, start,
            self.y, self.x_test, self.t_test, self.y_test,
            losses, log.penalty[at : at + k], norms, evals)
        self._measured(time.perf_counter() - clock, k)

        tr.step = start + ran
        opt.steps += ran
        if ran == 0:
            return 0, True
        tr.epoch = int(epochs[ran - 1])
        log.step[at : at + ran] = np.arange(start + 1, start + ran + 1)
        tr.last_norms[...] = norms[ran - 1]
        if not (np.isfinite(losses[ran - 1]) and np.all(np.isfinite(norms[ran - 1]))):
            tr.diverged = tr._divergence_message(start + ran, losses[ran - 1], norms[ran - 1])
            result.diverged = tr.diverged
            return ran, True
        listening = self._listening()
        for ev in self._evaluations(evals[:n_evals], start, epochs):
            result.evaluations.append(ev)
            if listening and tr._after_evaluation(ev):
                result.stopped = tr.stopped
                return ran, True
        return ran, False

    def _measured(self, seconds: float, k: int) -> None:
        per_step = seconds / max(k, 1)
        old = self._seconds_per_step
        self._seconds_per_step = per_step if old is None else 0.5 * (old + per_step)

    def _evaluations(self, records: np.ndarray, start: int,
                     epochs: np.ndarray) -> list[Evaluation]:
        """The kernel's evaluation records (``kernels.EVAL_FIELDS``) as Evaluations;
        there can be hundreds per call, so they are read as Python numbers at once."""
        if not len(records):
            return []
        classifier = self.trainer.network.is_classifier
        has_test = len(self.x_test) > 0
        epoch_of = epochs.tolist()
        out = []
        for index, train, train_acc, test, test_acc, penalty in records.tolist():
            index = int(index)
            out.append(Evaluation(
                step=start + index + 1,
                epoch=epoch_of[index],
                train_loss=train + penalty,
                penalty=penalty,
                test_loss=test if has_test else math.nan,
                train_accuracy=train_acc if classifier else None,
                test_accuracy=test_acc if classifier and has_test else None,
            ))
        return out

    # ---------------------------------------------------------------- batches
    def _plan(self, k: int) -> tuple[np.ndarray, int, np.ndarray]:
        """The sample rows of the next k steps in order, the samples left in the epoch
        under way before them, and the epoch of each step; advances the trainer's
        position in its epoch order as ``Trainer._new_epoch`` and its loop would."""
        tr = self.trainer
        n_train, b = len(tr.x_train), tr.batch_size
        epochs = np.empty(k, dtype=np.int64)
        pos, epoch, started, order = tr._pos, tr.epoch, tr._epoch_started, tr._order
        left = n_train - pos
        new_order = False
        parts = []
        planned = 0
        while planned < k:
            if pos >= n_train:  # a new epoch, as Trainer._new_epoch starts it
                if started:
                    epoch += 1
                started = True
                if tr.shuffle:
                    order = tr._draw_order()
                    new_order = True
                pos = 0
            m = min(k - planned, -(-(n_train - pos) // b))  # steps left in this epoch
            parts.append(order[pos : min(pos + m * b, n_train)])
            epochs[planned : planned + m] = epoch
            pos += m * b
            planned += m
        tr._pos, tr.epoch, tr._epoch_started = pos, epoch, started
        if new_order:
            tr._order = order
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return np.ascontiguousarray(rows, dtype=np.int64), left, epochs

    # ---------------------------------------------------------------- prediction
    def predicts_faster(self, x: np.ndarray, dtype: type) -> bool:
        """True when ``predict`` beats ``Network.predict`` on inputs like ``x``. Which one
        wins depends on the layers (numpy's SIMD tanh and exp against the kernel's loops,
        numpy's BLAS products against the kernel's sums) and on the input size, so the
        two are timed against each other once per input size and dtype."""
        key = (len(x), np.dtype(dtype))
        faster = self._predicts_faster.get(key)
        if faster is None:
            network = self.trainer.network
            compiled_s = _best_time(lambda: self.predict(x, dtype))
            numpy_s = _best_time(lambda: network.predict(x, dtype=dtype))
            faster = self._predicts_faster[key] = compiled_s < numpy_s
        return faster

    def predict(self, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """Network output for each row of ``x`` (evaluation mode), like ``Network.predict``."""
        x = np.ascontiguousarray(x, dtype=dtype)
        sizes, codes, alphas, slope_at, block_at, _, head = self.net_args
        out = np.empty((len(x), int(sizes[-1])), dtype=dtype)
        kernels.predict(sizes, codes, alphas, slope_at, block_at, head,
                        self.trainer.network.params, x, out)
        return out


def _best_time(call, repeats: int = 3) -> float:
    """The shortest of ``repeats`` timed calls, after one untimed call."""
    call()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best
