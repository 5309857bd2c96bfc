"""Turn an experiment description into data, a network and a trainer.

Everything random is derived from ``experiment.seed``: the data set and its split from the
"data" stream, the initial weights, the batch order and the dropout masks from streams of
their own (see ``playground.engine.make_streams``). Building twice from the same
experiment therefore gives the same run, bit for bit, as long as both runs stay on the same
engine path (the compiled one agrees with numpy to rounding, about 1e-12, not bit for bit).

``training.fast_path`` lets the trainer use the compiled kernels once they are warmed up
(``playground.engine.compiled.warm_up_in_background``); the environment variable
``PLAYGROUND_FAST_PATH=0`` overrides it for every trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.data import (
    Dataset,
    Standardizer,
    compute_features,
    make_dataset,
    train_test_split,
)
from playground.engine import (
    EarlyStopping,
    LayerSpec,
    Network,
    NetworkSpec,
    Schedule,
    Trainer,
    data_seed,
    make_optimizer,
    make_schedule,
    make_streams,
)
from playground.engine.heads import n_outputs_for
from playground.experiment.config import (
    OPTIMIZER_FIELDS,
    SCHEDULE_FIELDS,
    Experiment,
    OptimizerConfig,
    ScheduleConfig,
    TrainingConfig,
    resolved_output,
)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """The data of an experiment: raw points for drawing, features for training."""

    train: Dataset
    test: Dataset
    features: tuple[str, ...]
    standardizer: Standardizer | None
    x_train: np.ndarray  # (n, k) network inputs
    x_test: np.ndarray

    @property
    def task(self) -> str:
        return self.train.task

    @property
    def n_classes(self) -> int:
        return self.train.n_classes

    @property
    def is_classification(self) -> bool:
        return self.train.task == "classification"

    def inputs(self, points: np.ndarray) -> np.ndarray:
        """Network inputs for raw 2-D points, computed exactly as for the training data."""
        f = compute_features(points, self.features)
        return self.standardizer.transform(f) if self.standardizer is not None else f


def _custom_dataset(points: tuple[tuple[float, float, float], ...]) -> Dataset:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    x = np.ascontiguousarray(arr[:, :2])
    labels = arr[:, 2]
    if np.all(labels == np.round(labels)):
        classes, y = np.unique(labels, return_inverse=True)
        return Dataset(x=x, y=y.astype(np.int64), task="classification",
                       n_classes=len(classes), name="custom")
    return Dataset(x=x, y=labels.copy(), task="regression", n_classes=0, name="custom")


def prepare_data(experiment: Experiment) -> PreparedData:
    """Generate (or read from the file's points) the data set, split it, compute features."""
    d = experiment.data
    seed = data_seed(experiment.seed)
    if d.dataset == "custom":
        full = _custom_dataset(d.points)
    else:
        full = make_dataset(d.dataset, n_samples=d.n_samples, noise=d.noise,
                            n_classes=d.n_classes, seed=seed)
    train, test = train_test_split(full, d.test_fraction, seed=(seed + 1) % 2**32)
    f_train = compute_features(train.x, d.features)
    f_test = compute_features(test.x, d.features)
    scaler = None
    if d.standardize:
        scaler = Standardizer.fit(f_train)
        f_train, f_test = scaler.transform(f_train), scaler.transform(f_test)
    return PreparedData(train, test, tuple(d.features), scaler, f_train, f_test)


def network_spec(experiment: Experiment, data: PreparedData) -> NetworkSpec:
    head = resolved_output(experiment, data.n_classes if data.is_classification else None)
    hidden = tuple(
        LayerSpec(units=layer.units, activation=layer.activation, alpha=layer.alpha,
                  dropout=layer.dropout, batch_norm=layer.batch_norm)
        for layer in experiment.network.layers
    )
    return NetworkSpec(
        n_inputs=len(data.features),
        hidden=hidden,
        n_outputs=n_outputs_for(head, data.n_classes),
        head=head,
        init=experiment.network.init,
    )


def optimizer_hyper(opt: OptimizerConfig) -> dict[str, float | bool]:
    """The hyper-parameters that apply to the chosen optimizer, learning rate aside."""
    return {name: getattr(opt, name) for name in OPTIMIZER_FIELDS[opt.name]
            if name != "learning_rate"}


def build_schedule(cfg: ScheduleConfig) -> Schedule:
    params = {name: getattr(cfg, name) for name in SCHEDULE_FIELDS[cfg.name]}
    return make_schedule(cfg.name, **params)


def build_early_stopping(training: TrainingConfig) -> EarlyStopping | None:
    es = training.early_stopping
    if es is None:
        return None
    return EarlyStopping(patience=es.patience, min_delta=es.min_delta, restore_best=es.restore_best)


def build_trainer(experiment: Experiment, data: PreparedData | None = None) -> tuple[
        Trainer, PreparedData]:
    """A ready-to-run trainer for the experiment (and the data it trains on)."""
    if data is None:
        data = prepare_data(experiment)
    streams = make_streams(experiment.seed)
    net = Network(network_spec(experiment, data), streams["init"])
    tr = experiment.training
    optimizer = make_optimizer(tr.optimizer.name, net.n_params, **optimizer_hyper(tr.optimizer))
    trainer = Trainer(
        net,
        optimizer,
        data.x_train,
        data.train.y,
        data.x_test,
        data.test.y,
        learning_rate=tr.optimizer.learning_rate,
        batch_size=tr.batch_size,
        l1=tr.l1,
        l2=tr.l2,
        schedule=build_schedule(tr.schedule),
        early_stopping=build_early_stopping(tr),
        eval_every=tr.eval_every,
        batch_rng=streams["batches"],
        dropout_rng=streams["dropout"],
        fast_path=tr.fast_path,
    )
    return trainer, data


def needs_reset(old: Experiment, new: Experiment) -> bool:
    """True when going from ``old`` to ``new`` needs fresh weights (data, network or seed
    changed); training settings alone can be applied to a running trainer."""
    return (old.seed, old.data, old.network) != (new.seed, new.data, new.network)


def apply_training(trainer: Trainer, old: TrainingConfig, new: TrainingConfig) -> None:
    """Apply changed training settings to a live trainer, keeping weights and, where the
    optimizer stays the same, its state."""
    if new.optimizer.name != old.optimizer.name:
        trainer.optimizer = make_optimizer(new.optimizer.name, trainer.network.n_params,
                                           **optimizer_hyper(new.optimizer))
    elif new.optimizer != old.optimizer:
        trainer.optimizer.set(**optimizer_hyper(new.optimizer))
    trainer.set_learning_rate(new.optimizer.learning_rate)
    trainer.l1, trainer.l2 = new.l1, new.l2
    if new.batch_size != old.batch_size:
        trainer.batch_size = int(min(new.batch_size, len(trainer.x_train)))
    if new.schedule != old.schedule:
        trainer.schedule = build_schedule(new.schedule)
    if new.early_stopping != old.early_stopping:
        trainer.early_stopping = build_early_stopping(new)
        trainer.stopped = None
    trainer.eval_every = new.eval_every
    trainer.fast_path = new.fast_path
