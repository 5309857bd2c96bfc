"""Sweeps: the spec and its validation, headless runs, parallel and dask backends that agree
bit for bit, cancelling, the command, results.csv and the summaries."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from playground.experiment.config import (
    DataConfig,
    Experiment,
    LayerConfig,
    NetworkConfig,
    OptimizerConfig,
    TrainingConfig,
    save_experiment,
)
from playground.experiment.sweep import (
    RunRecord,
    SweepError,
    SweepInterrupted,
    SweepSpec,
    format_value,
    parse_axis,
    parse_value,
    pivot,
    rank,
    read_results_csv,
    run_one,
    run_sweep,
    summarize,
    write_results_csv,
)
from playground.experiment.sweep_cli import add_sweep_parser, run_sweep_command

LR = "training.optimizer.learning_rate"
ACT = "network.layers[*].activation"


def tiny(steps: int = 120, activation: str = "tanh", **data: object) -> Experiment:
    """A run of a few milliseconds: 100 points, one hidden layer of 4 units."""
    return Experiment(
        seed=3,
        data=DataConfig(**{"dataset": "circle", "n_samples": 100, "noise": 0.1, **data}),
        network=NetworkConfig(layers=(LayerConfig(4, activation),)),
        training=TrainingConfig(max_steps=steps, eval_every=20),
    )


def outcome(r: RunRecord) -> tuple:
    """Everything a run produced, floats by their exact bits."""

    def bits(x: float | None) -> str | None:
        return None if x is None else float(x).hex()

    return (dict(r.values), r.seed, bits(r.train_loss), bits(r.test_loss),
            bits(r.train_accuracy), bits(r.test_accuracy), r.steps, bits(r.epochs),
            r.diverged, r.error, r.message, r.engine,
            None if r.boundary is None else r.boundary.tobytes())


# ---------------------------------------------------------------------------- the spec


def test_grid_runs_every_combination_setting_by_setting_with_seeds_per_repeat() -> None:
    spec = SweepSpec(tiny(), {LR: [0.01, 0.1], ACT: ["tanh", "relu", "elu"]}, repeats=2)
    assert len(spec.runs) == 12 and spec.n_settings == 6
    assert [r.index for r in spec.runs] == list(range(12))
    assert [r.values[LR] for r in spec.runs[::2]] == [0.01] * 3 + [0.1] * 3
    assert [r.values[ACT] for r in spec.runs[:6:2]] == ["tanh", "relu", "elu"]
    assert [(r.repeat, r.experiment.seed) for r in spec.runs[:2]] == [(0, 3), (1, 4)]
    run = spec.runs[5]  # lr 0.01, elu, second repeat
    assert run.experiment.training.optimizer.learning_rate == 0.01
    assert [layer.activation for layer in run.experiment.network.layers] == ["elu"]
    assert run.experiment.training.max_steps == 120


def test_values_are_normalized_and_each_repeat_changes_only_the_seed() -> None:
    spec = SweepSpec(tiny(), {LR: [1]}, repeats=3, steps=7)
    assert spec.runs[0].values[LR] == 1.0 and isinstance(spec.runs[0].values[LR], float)
    first = spec.runs[0].experiment
    for run in spec.runs[1:]:
        assert run.experiment == dataclasses.replace(first, seed=run.experiment.seed)
    assert spec.steps_per_run == 7 and spec.runs[0].experiment.training.max_steps == 7


def test_random_search_picks_distinct_settings_reproducibly() -> None:
    axes = {LR: [0.001, 0.003, 0.01, 0.03, 0.1], "training.batch_size": [1, 5, 10, 20]}
    a = SweepSpec(tiny(), axes, random=6)
    b = SweepSpec(tiny(), axes, random=6)
    picked = [tuple(r.values.values()) for r in a.runs]
    assert picked == [tuple(r.values.values()) for r in b.runs]
    assert len(set(picked)) == 6
    other = SweepSpec(tiny(), axes, random=6, random_seed=99)
    assert [tuple(r.values.values()) for r in other.runs] != picked
    everything = SweepSpec(tiny(), axes, random=20)
    assert len({tuple(r.values.values()) for r in everything.runs}) == 20


def test_selector_axes_apply_first_so_their_fields_can_be_swept_together() -> None:
    base = dataclasses.replace(tiny(), training=TrainingConfig(
        optimizer=OptimizerConfig(name="adam"), max_steps=10))
    spec = SweepSpec(base, {"training.optimizer.momentum": [0.0, 0.9],
                            "training.optimizer.name": ["sgd", "rmsprop"]})
    assert {(r.experiment.training.optimizer.name, r.experiment.training.optimizer.momentum)
            for r in spec.runs} == {("sgd", 0.0), ("sgd", 0.9), ("rmsprop", 0.0),
                                    ("rmsprop", 0.9)}


@pytest.mark.parametrize(
    ("axes", "kwargs", "path", "words"),
    [
        ({"training.optimizer.learning_rat": [0.1]}, {}, "training.optimizer.learning_rat",
         "unknown field"),
        ({"network.layers[*].activaton": ["relu"]}, {}, "network.layers[0].activaton",
         "unknown field"),
        ({LR: [0.1, "fast"]}, {}, LR, "must be a number"),
        ({LR: [0.1, 50]}, {}, LR, "(0, 10]"),
        ({ACT: ["relu", "sigmoidal"]}, {}, "network.layers[0].activation", "'sigmoidal'"),
        ({"training.batch_size": [2.5]}, {}, "training.batch_size", "integer"),
        ({"data.standardize": ["yes"]}, {}, "data.standardize", "true or false"),
        ({"training.optimizer.beta1": [0.8]}, {}, "training.optimizer.beta1",
         "does not apply to sgd"),
        ({LR: []}, {}, LR, "non-empty"),
        ({LR: [0.1, 0.1]}, {}, LR, "listed twice"),
        ({"seed": [1, 2]}, {}, "seed", "repeats"),
        ({LR: [0.1, 0.2]}, {"random": 3}, "random", "only 2"),
        ({LR: [0.1]}, {"repeats": 0}, "repeats", ">= 1"),
        ({LR: [0.1]}, {"steps": -4}, "steps", ">= 1"),
        ({"training.batch_size": list(range(1, 101)), LR: [0.01 * i for i in range(1, 101)]},
         {"repeats": 2}, "", "at most"),
    ],
)
def test_bad_axes_are_refused_up_front_naming_the_path(axes, kwargs, path, words) -> None:
    with pytest.raises(SweepError) as info:
        SweepSpec(tiny(), axes, **kwargs)
    assert info.value.path == path
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_run_length_is_needed() -> None:
    base = Experiment(data=DataConfig(dataset="circle", n_samples=100))
    with pytest.raises(SweepError, match="steps: not set"):
        SweepSpec(base, {LR: [0.1]})
    assert len(SweepSpec(base, {LR: [0.1]}, steps=5).runs) == 1


def test_an_invalid_combination_names_the_setting() -> None:
    base = tiny()
    with pytest.raises(SweepError) as info:
        SweepSpec(base, {"data.dataset": ["spiral", "xor"], "data.n_classes": [3]})
    assert "in the setting" in str(info.value) and "xor" in str(info.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.1", 0.1), ("1e-3", 0.001), ("10", 10), ("-2", -2), ("true", True),
     ("False", False), ("null", None), ("relu", "relu"), ("x1*x2", "x1*x2"),
     ('["x1", "x2"]', ("x1", "x2")), ('"0.5"', "0.5")],
)
def test_parse_value(text: str, value: object) -> None:
    got = parse_value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("value", [0.1, 1e-07, 3, True, None, "tanh", ("x1", "x2*x2")])
def test_format_value_reads_back(value: object) -> None:
    assert parse_value(format_value(value)) == value


def test_parse_axis() -> None:
    assert parse_axis(f"{LR}=0.01, 0.1 ,1") == (LR, (0.01, 0.1, 1))
    assert parse_axis('data.features=[["x1","x2"],["x1","x2","x1*x2"]]') == (
        "data.features", (("x1", "x2"), ("x1", "x2", "x1*x2")))
    for bad in ("lr", "=0.1", f"{LR}=", f"{LR}=0.1,,0.2", f"{LR}=0.1,", "a=[1,"):
        with pytest.raises(SweepError):
            parse_axis(bad)


# ---------------------------------------------------------------------------- one run


def test_run_one_reports_the_final_state() -> None:
    r = run_one(tiny(), boundary_size=8, values={LR: 0.03})
    assert r.error is None and not r.diverged and r.steps == 120
    assert r.values == {LR: 0.03} and r.seed == 3
    assert 0 < r.test_loss < 2 and 0 <= r.test_accuracy <= 1
    assert r.epochs == pytest.approx(120 / 5)  # 50 training points, batches of 10
    assert r.boundary.shape == (8, 8) and r.boundary.dtype == np.float32
    assert run_one(tiny()) == dataclasses.replace(r, values={})
    reference = dataclasses.replace(tiny(), training=TrainingConfig(
        max_steps=120, eval_every=20, fast_path=False))
    assert run_one(reference).engine == "numpy"


def test_run_one_marks_divergence_and_never_raises() -> None:
    exploding = dataclasses.replace(
        tiny(activation="relu", dataset="reg_plane"),
        training=TrainingConfig(optimizer=OptimizerConfig(learning_rate=10.0), max_steps=200),
    )
    r = run_one(exploding)
    assert r.diverged and r.error is None and r.steps < 200
    assert r.test_loss is None and "diverged" in r.message
    failed = run_one(tiny(), steps=0)
    assert failed.failed and "steps" in failed.error and failed.test_loss is None


# ---------------------------------------------------------------------------- many runs


def test_sweep_rows_equal_single_runs_bit_for_bit_for_any_number_of_jobs() -> None:
    spec = SweepSpec(tiny(), {LR: [0.01, 0.3], ACT: ["tanh", "relu"]}, repeats=2)
    seen: list[tuple[int, int]] = []
    serial = run_sweep(spec, jobs=1, boundary_size=16)
    parallel = run_sweep(spec, jobs=2, boundary_size=16,
                         progress=lambda done, total, r: seen.append((done, total)))
    assert seen == [(i, 8) for i in range(1, 9)]
    assert [r.index for r in parallel] == list(range(8))
    assert [outcome(r) for r in parallel] == [outcome(r) for r in serial]
    for run, row in zip(spec.runs, parallel):
        single = run_one(run.experiment, boundary_size=16, values=run.values)
        assert outcome(row) == outcome(single)
        assert (row.index, row.repeat) == (run.index, run.repeat)
    assert len({r.test_loss for r in parallel}) == 8  # the settings really differ


def test_a_diverging_setting_is_a_row_not_a_failure() -> None:
    base = tiny(activation="relu", dataset="reg_plane")
    spec = SweepSpec(base, {LR: [0.01, 10.0]})
    records = run_sweep(spec, jobs=2)
    assert [r.diverged for r in records] == [False, True]
    assert all(r.error is None for r in records)


def test_cancel_stops_the_sweep_promptly() -> None:
    spec = SweepSpec(tiny(steps=10_000), {"training.batch_size": list(range(1, 41))})
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def progress(done: int, total: int, record: RunRecord) -> None:
        if not cancel.is_set():
            cancel.set()
            cancelled_at.append(time.perf_counter())

    records = run_sweep(spec, jobs=2, progress=progress, cancel=cancel)
    waited = time.perf_counter() - cancelled_at[0]
    assert 1 <= len(records) <= 4 < len(spec.runs)
    assert waited < 5.0
    # The pool is usable again afterwards.
    assert len(run_sweep(SweepSpec(tiny(steps=5), {LR: [0.1, 0.2]}), jobs=2)) == 2


def _counting_chunks(monkeypatch, cancel: threading.Event) -> tuple[threading.Event, list[int]]:
    """Watch ``Trainer.run`` in this process: an event set once training has begun, and
    the steps at which a chunk started after ``cancel`` was set. A run that keeps going
    after the cancel fails (run_one records the error), so a broken cancel makes the
    test fail rather than train for hours."""
    from playground.engine import Trainer

    started = threading.Event()
    late: list[int] = []
    run = Trainer.run

    def watched(self, n_steps, deadline=None):
        if cancel.is_set():
            late.append(self.step)
            if len(late) > 3:
                raise AssertionError("the run went on training after the cancel")
        result = run(self, n_steps, deadline)
        started.set()
        return result

    monkeypatch.setattr(Trainer, "run", watched)
    return started, late


def test_cancel_stops_the_run_in_progress_with_one_job(monkeypatch) -> None:
    base = tiny(steps=50_000_000)  # hours per run
    # The numpy path only: the compiled path's warm-up trains too and would be counted.
    base = dataclasses.replace(base, training=dataclasses.replace(base.training,
                                                                  fast_path=False))
    spec = SweepSpec(base, {"training.batch_size": [1, 2, 3]})
    cancel = threading.Event()
    started, late = _counting_chunks(monkeypatch, cancel)
    canceller = threading.Thread(target=lambda: started.wait(30) and cancel.set())
    canceller.start()
    seen: list[RunRecord] = []
    records = run_sweep(spec, jobs=1, cancel=cancel,
                        progress=lambda done, total, r: seen.append(r))
    canceller.join()
    assert started.is_set() and cancel.is_set()
    assert records == [] and seen == []  # the cancelled run is left out, none follows
    assert len(late) <= 1  # at most the chunk that began as the cancel came


def test_a_run_cut_into_many_short_chunks_ends_as_in_one_go(monkeypatch) -> None:
    from playground.experiment import sweep
    from playground.experiment.build import build_trainer

    monkeypatch.setattr(sweep, "CHUNK_SECONDS", 0.0)  # the fewest steps per chunk
    chunked = run_one(tiny(steps=300))
    trainer, _ = build_trainer(tiny(steps=300))
    trainer.run(300)
    whole = trainer.evaluate()
    assert chunked.steps == trainer.step == 300
    assert (chunked.train_loss, chunked.test_loss) == (whole.train_loss, whole.test_loss)


def test_cancel_from_another_thread_stops_the_workers_mid_run() -> None:
    spec = SweepSpec(tiny(steps=50_000_000), {"training.batch_size": [1, 2, 3, 4]})  # hours
    cancel = threading.Event()
    out: list[list[RunRecord]] = []
    sweeper = threading.Thread(target=lambda: out.append(run_sweep(spec, jobs=2,
                                                                   cancel=cancel)),
                               daemon=True)
    sweeper.start()
    sweeper.join(1.5)  # the workers start their first runs meanwhile
    assert sweeper.is_alive()
    cancel.set()
    sweeper.join(60.0)  # against hours per run: the workers stopped, not finished
    assert not sweeper.is_alive()
    assert out == [[]]
    # The pool is usable again afterwards.
    assert len(run_sweep(SweepSpec(tiny(steps=5), {LR: [0.1, 0.2]}), jobs=2)) == 2


def test_ctrl_c_raises_with_the_runs_that_finished() -> None:
    spec = SweepSpec(tiny(steps=20), {"training.batch_size": list(range(1, 21))})

    def progress(done: int, total: int, record: RunRecord) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as info:
        run_sweep(spec, jobs=2, progress=progress)
    assert len(info.value.records) == 3
    assert isinstance(info.value, KeyboardInterrupt)


def test_dask_backend_without_distributed_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    spec = SweepSpec(tiny(steps=5), {LR: [0.1]})
    with pytest.raises(SweepError, match=r"pip install 'playground\[distributed\]'"):
        run_sweep(spec, backend="dask", scheduler="tcp://127.0.0.1:1")


@pytest.mark.slow
def test_dask_backend_gives_the_same_rows_as_local_processes() -> None:
    distributed = pytest.importorskip("distributed")
    spec = SweepSpec(tiny(), {LR: [0.01, 0.3], ACT: ["tanh", "relu"]}, repeats=2)
    local = run_sweep(spec, jobs=2, boundary_size=8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        seen: list[int] = []
        remote = run_sweep(spec, backend="dask", scheduler=cluster.scheduler_address,
                           boundary_size=8, progress=lambda done, total, r: seen.append(done))
    assert seen == list(range(1, 9))
    assert [outcome(r) for r in remote] == [outcome(r) for r in local]


# ---------------------------------------------------------------------------- results.csv


def test_results_csv_round_trip(tmp_path: Path) -> None:
    spec = SweepSpec(tiny(dataset="reg_plane"),
                     {LR: [0.01, 10.0], "data.features": [("x1", "x2"), ("x1", "x1*x2")]})
    records = run_sweep(spec, jobs=1)
    records.append(RunRecord(values={LR: 0.5, "data.features": ("x2",)}, seed=9,
                             error='ValueError: bad, "quoted"\nand two lines', index=4))
    path = tmp_path / "results.csv"
    write_results_csv(records, path)
    with path.open(newline="") as f:
        header = next(csv.reader(f))
    assert header[:4] == ["run", "repeat", LR, "data.features"]
    assert {"seed", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "steps",
            "epochs", "diverged", "error", "seconds"} <= set(header)
    back = read_results_csv(path)
    assert back == records
    assert [outcome(r)[:-1] for r in back] == [outcome(r)[:-1] for r in records]
    assert [(r.index, r.repeat) for r in back] == [(r.index, r.repeat) for r in records]
    assert [r.seconds for r in back] == pytest.approx([r.seconds for r in records], abs=1e-4)


def test_reading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="no such file"):
        read_results_csv(tmp_path / "missing.csv")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(SweepError, match="not a sweep results file"):
        read_results_csv(other)


# ---------------------------------------------------------------------------- summaries


def _record(lr: float, act: str, loss: float | None, acc: float | None = None, *,
            diverged: bool = False, repeat: int = 0) -> RunRecord:
    return RunRecord(values={LR: lr, ACT: act}, seed=repeat, test_loss=loss,
                     test_accuracy=acc, train_loss=loss, steps=10, diverged=diverged,
                     repeat=repeat)


RECORDS = [
    _record(0.1, "tanh", 1.0, 0.5), _record(0.1, "tanh", 3.0, 0.7, repeat=1),
    _record(0.1, "relu", 2.0, 0.9), _record(0.1, "relu", None, 0.2, diverged=True, repeat=1),
    _record(1.0, "tanh", 0.5, 0.8), _record(1.0, "tanh", 0.25, 1.0, repeat=1),
    _record(1.0, "relu", None, None, diverged=True),
    _record(1.0, "relu", None, None, diverged=True, repeat=1),
]


def test_summarize_pools_repeats_per_setting() -> None:
    summaries = summarize(RECORDS)
    assert [(s.values[LR], s.values[ACT]) for s in summaries] == [
        (0.1, "tanh"), (0.1, "relu"), (1.0, "tanh"), (1.0, "relu")]
    first, second, third, fourth = summaries
    assert (first.runs, first.diverged, first.failed) == (2, 0, 0)
    assert first.stats["test_loss"].mean == 2.0
    assert first.stats["test_loss"].std == pytest.approx(math.sqrt(2.0))  # ddof 1
    assert first.stats["test_accuracy"].mean == pytest.approx(0.6)
    # A diverged run is counted but its numbers are not averaged.
    assert (second.diverged, second.stats["test_loss"].n) == (1, 1)
    assert second.stats["test_accuracy"].mean == 0.9 and math.isnan(
        second.stats["test_loss"].std)
    assert third.stats["test_loss"].mean == 0.375
    assert fourth.stats["test_loss"].n == 0 and math.isnan(fourth.stats["test_loss"].mean)
    assert [s.values[ACT] + str(s.values[LR]) for s in rank(summaries, "test_loss")] == [
        "tanh1.0", "tanh0.1", "relu0.1", "relu1.0"]
    assert [s.values[ACT] + str(s.values[LR]) for s in rank(summaries, "test_accuracy")] == [
        "relu0.1", "tanh1.0", "tanh0.1", "relu1.0"]


def test_pivot_gives_a_heatmap_table() -> None:
    table = pivot(RECORDS, LR, ACT, "test_loss")
    assert table.x_values == (0.1, 1.0) and table.y_values == ("tanh", "relu")
    np.testing.assert_array_equal(table.mean, [[2.0, 0.375], [2.0, np.nan]])
    np.testing.assert_allclose(table.std, [[math.sqrt(2), math.sqrt(2) * 0.125],
                                           [np.nan, np.nan]])
    np.testing.assert_array_equal(table.count, [[2, 2], [1, 0]])
    np.testing.assert_array_equal(table.runs, [[2, 2], [2, 2]])
    with pytest.raises(ValueError, match="not a swept path"):
        pivot(RECORDS, LR, "training.batch_size", "test_loss")
    with pytest.raises(ValueError, match="unknown metric"):
        pivot(RECORDS, LR, ACT, "loss")


# ---------------------------------------------------------------------------- the command


def _command(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py")
    add_sweep_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *argv])


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    save_experiment(tiny(dataset="reg_plane"), path)
    return path


def test_the_command_writes_results_and_prints_the_best_settings(
        base_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = run_sweep_command(_command(
        str(base_file), "--grid", f"{LR}=0.01,0.1,10", "--grid", f"{ACT}=tanh,relu",
        "--repeats", "2", "--jobs", "2", "--steps", "60", "--out", str(out)))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    records = read_results_csv(out / "results.csv")
    assert len(records) == 12 and any(r.diverged for r in records)
    assert (out / "base.json").is_file()
    assert "12/12 runs" in captured.err and "Traceback" not in captured.err
    table = captured.out.splitlines()
    assert table[0].startswith("best 6 of 6 settings by mean test loss")
    assert LR in table[1] and ACT in table[1] and "diverged" in table[1]
    assert table[-1].split()[1] == "10.0"  # the diverging rate comes last


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--grid", "training.optimizer.learning_rat=0.1"],
         "--grid training.optimizer.learning_rat: unknown field"),
        (["--grid", f"{LR}=0.1,quick"], f"--grid {LR}: must be a number"),
        (["--grid", "learning_rate"], "--grid 'learning_rate': expected PATH=V1,V2"),
        (["--grid", f"{LR}=0.1,,1"], "empty value"),
        (["--grid", f"{LR}=0.1", "--grid", f"{LR}=0.2"], "given twice"),
        (["--grid", f"{LR}=0.1,0.2", "--random", "5"], "--random: asks for 5"),
        (["--grid", f"{LR}=0.1", "--scheduler", "tcp://127.0.0.1:1"],
         "--scheduler: only applies with --backend dask"),
        (["--grid", f"{LR}=0.1", "--backend", "dask"], "--scheduler ADDRESS"),
    ],
)
def test_bad_arguments_exit_2_naming_them(base_file: Path, tmp_path: Path, capsys,
                                          argv: list[str], words: str) -> None:
    code = run_sweep_command(_command(str(base_file), "--steps", "5",
                                      "--out", str(tmp_path / "o"), *argv))
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and err.startswith("error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("source", "words"),
    [("missing.json", "missing.json: no such file"), ("preset:nope", "unknown preset 'nope'")],
)
def test_a_missing_config_exits_2(source: str, tmp_path: Path, capsys, words: str) -> None:
    code = run_sweep_command(_command(source, "--steps", "5", "--out", str(tmp_path / "o")))
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err


def test_no_steps_anywhere_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "open-ended.json"
    save_experiment(Experiment(data=DataConfig(dataset="circle", n_samples=100)), path)
    code = run_sweep_command(_command(str(path), "--grid", f"{LR}=0.1"))
    assert code == 2 and "--steps" in capsys.readouterr().err


def _batch_sizes_sweep(base_file: Path, out: Path, steps: int) -> argparse.Namespace:
    sizes = ",".join(str(b) for b in range(1, 41))
    return _command(str(base_file), "--grid", f"training.batch_size={sizes}",
                    "--steps", str(steps), "--jobs", "2", "--out", str(out))


def test_ctrl_c_exits_130_and_keeps_the_finished_rows(base_file: Path, tmp_path: Path,
                                                      capsys, monkeypatch) -> None:
    from playground.experiment import sweep_cli

    update = sweep_cli.Progress.update

    def interrupt_after_three(self, done: int, total: int, record: RunRecord) -> None:
        update(self, done, total, record)
        if done == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C would, in this thread

    monkeypatch.setattr(sweep_cli.Progress, "update", interrupt_after_three)
    out = tmp_path / "out"
    code = run_sweep_command(_batch_sizes_sweep(base_file, out, steps=200))
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert len(read_results_csv(out / "results.csv")) == 3


def test_ctrl_c_during_long_runs_stops_at_once(base_file: Path, tmp_path: Path,
                                               capsys) -> None:
    out = tmp_path / "out"
    args = _batch_sizes_sweep(base_file, out, steps=1_000_000)  # minutes per run
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    try:
        code = run_sweep_command(args)
    finally:
        timer.cancel()
    assert code == 130
    assert time.perf_counter() - started < 10.0
    assert read_results_csv(out / "results.csv") == []
    assert "interrupted" in capsys.readouterr().err


def test_the_sweep_modules_load_no_qt() -> None:
    code = ("import sys, playground.experiment.sweep, playground.experiment.sweep_cli; "
            "print([m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'pyqtgraph')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
