"""The command line: train headless, exit codes, messages without tracebacks, results files.

Most runs call ``cli.main`` in-process for speed; a few start ``python main.py`` for real.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

import playground
from playground import cli
from playground.experiment.build import build_trainer, prepare_data
from playground.experiment.config import (
    dumps_experiment,
    experiment_to_dict,
    load_experiment,
    save_experiment,
    with_path,
)
from playground.experiment.presets import load_preset, preset_names
from playground.experiment.results import load_model, steps_per_epoch
from playground.experiment.session import TrainingSession

ROOT = Path(__file__).resolve().parents[2]
SMALL = "preset:xor-cross-feature"  # no hidden layer: the quickest preset to train


@pytest.fixture(autouse=True)
def no_thread_left_running():
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"


def _strict_json(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON token {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _train(tmp_path: Path, *args: str, out: str = "run") -> tuple[int, dict | None]:
    code = cli.main(["train", *args, "--out", str(tmp_path / out)])
    metrics = tmp_path / out / "metrics.json"
    return code, _strict_json(metrics) if metrics.exists() else None


def _params(folder: Path) -> np.ndarray:
    with np.load(folder / "model.npz", allow_pickle=False) as npz:
        return npz["params"]


def _write(tmp_path: Path, name: str, experiment) -> str:
    path = tmp_path / name
    save_experiment(experiment, path)
    return str(path)


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------- subprocesses


def _python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_real_process_trains_a_preset(tmp_path):
    out = tmp_path / "spiral"
    done = _python("train", "preset:spiral-relu", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = done.stdout.strip().splitlines()
    assert len(summary) == 1 and summary[0].startswith("spiral-relu: 6000 steps")
    assert str(out) in summary[0]
    metrics = _strict_json(out / "metrics.json")
    assert metrics["steps"] == 6000 and metrics["test_accuracy"] >= 0.95
    assert (out / "model.npz").is_file()


def test_real_process_names_the_bad_field(tmp_path):
    broken = tmp_path / "broken.json"
    d = experiment_to_dict(load_preset("classic"))
    d["network"]["layers"][1]["activation"] = "relux"
    broken.write_text(json.dumps(d), encoding="utf-8")
    done = _python("train", str(broken), "--out", str(tmp_path / "never"))
    assert done.returncode == 2
    line = _one_line_error(done.stderr)
    assert str(broken) in line and "network.layers[1].activation" in line and "relux" in line
    assert done.stdout == ""
    assert not (tmp_path / "never" / "metrics.json").exists()


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_cleanly_and_writes_what_there_is(tmp_path):
    out = tmp_path / "interrupted"
    # A shell may start background jobs with SIGINT ignored; give the child the default.
    child = subprocess.Popen(
        [sys.executable, "main.py", "train", "preset:classic", "--steps", "100000000",
         "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = child.stderr.readline()  # the first progress line: training is under way
        assert "step" in first
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    metrics = _strict_json(out / "metrics.json")
    assert 0 < metrics["steps"] < 100_000_000
    _, network = load_model(out / "model.npz")
    assert network.params.shape == _params(out).shape


# ---------------------------------------------------------------------------- exit codes


def test_exit_0_writes_metrics_and_model(tmp_path, capsys):
    code, metrics = _train(tmp_path, SMALL)
    assert code == 0
    assert metrics["steps"] == load_preset("xor-cross-feature").training.max_steps
    assert metrics["diverged"] is False
    out, err = capsys.readouterr()
    assert out.startswith("xor-cross-feature: 1000 steps (40 epochs)")
    assert "test accuracy" in out and "Traceback" not in err


def test_exit_3_when_the_run_diverges(tmp_path, capsys):
    wild = with_path(load_preset("softmax-blobs"), "training.optimizer.learning_rate", 10.0)
    code, metrics = _train(tmp_path, _write(tmp_path, "wild.json", wild))
    assert code == 3
    assert metrics["diverged"] is True
    assert "diverged" in metrics["diverged_message"]
    assert metrics["steps"] < wild.training.max_steps
    assert (tmp_path / "run" / "model.npz").is_file()
    out, err = capsys.readouterr()
    assert "diverged" in out and metrics["diverged_message"] in err
    assert "Warning" not in err and "Traceback" not in err


@pytest.mark.parametrize("text, expected", [
    ('{"format": "playground-experiment", "version": 1, "seed": -1}', "seed"),
    ('{"format": "playground-experiment", "version": 1, "training": {"batch": 3}}',
     "training.batch"),
    ('{"format": "playground-experiment", "version": 1, "training": {"optimizer": '
     '{"name": "sgd", "beta1": 0.9}}}', "training.optimizer.beta1"),
    ('{"format": "playground-experiment", "version": 7}', "newer"),
    ('{"format": "playground-experiment", "version": 1,', "invalid JSON"),
    ('{"format": "something-else", "version": 1}', "format"),
])
def test_exit_2_for_an_invalid_file(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    code, metrics = _train(tmp_path, str(path))
    assert code == 2 and metrics is None
    line = _one_line_error(capsys.readouterr().err)
    assert line.startswith("error: ")
    assert str(path) in line and expected in line


def test_exit_2_for_missing_files_and_unknown_presets(tmp_path, capsys):
    assert cli.main(["train", str(tmp_path / "nowhere.json")]) == 2
    assert "no such file" in _one_line_error(capsys.readouterr().err)
    assert cli.main(["train", "preset:no-such-thing"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "no-such-thing" in line and "spiral-relu" in line
    assert cli.main(["train", "preset:"]) == 2
    assert "preset name" in _one_line_error(capsys.readouterr().err)


def test_exit_2_without_a_length(tmp_path, capsys):
    endless = with_path(load_preset("classic"), "training.max_steps", None)
    path = _write(tmp_path, "endless.json", endless)
    code, _ = _train(tmp_path, path)
    assert code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "max_steps" in line and "--steps" in line and "--epochs" in line
    code, metrics = _train(tmp_path, path, "--steps", "7")
    assert code == 0 and metrics["steps"] == 7


@pytest.mark.parametrize("args", [
    ["--steps", "0"], ["--steps", "ten"], ["--epochs", "-1"], ["--seed", "-3"],
    ["--seed", str(2**32)], ["--steps", "5", "--epochs", "2"], ["--bogus"],
])
def test_exit_2_for_bad_arguments(args, capsys):
    assert cli.main(["train", SMALL, *args]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_exit_2_when_the_output_folder_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["train", SMALL, "--out", str(blocker)]) == 2
    assert "--out" in _one_line_error(capsys.readouterr().err)


# ---------------------------------------------------------------------------- length, seed


def test_steps_override_the_files_max_steps(tmp_path):
    code, metrics = _train(tmp_path, SMALL, "--steps", "35")
    assert code == 0 and metrics["steps"] == 35
    saved, _ = load_model(tmp_path / "run" / "model.npz")
    assert saved.training.max_steps == 35  # the saved experiment reproduces the run


def test_epochs_count_mini_batches_per_pass(tmp_path):
    # 77 points, test fraction 0.3, batch 7: the passes end with a short batch.
    experiment = with_path(load_preset("xor-cross-feature"), "data.n_samples", 77)
    experiment = with_path(experiment, "data.test_fraction", 0.3)
    experiment = with_path(experiment, "training.batch_size", 7)
    n_train = len(prepare_data(experiment).train.y)
    per_epoch = steps_per_epoch(n_train, 7)
    assert n_train % 7 != 0 and per_epoch == math.ceil(n_train / 7)
    code, metrics = _train(tmp_path, _write(tmp_path, "e.json", experiment), "--epochs", "3")
    assert code == 0
    assert metrics["steps"] == 3 * per_epoch
    assert metrics["epochs"] == 3


def test_seed_changes_the_run_and_reproduces_it_bit_for_bit(tmp_path):
    runs = {}
    for out, seed in [("a", "1"), ("b", "1"), ("c", "2")]:
        code, metrics = _train(tmp_path, "preset:classic", "--steps", "300", "--seed", seed,
                               out=out)
        assert code == 0 and metrics["seed"] == int(seed)
        runs[out] = (_params(tmp_path / out), metrics)
    assert np.array_equal(runs["a"][0], runs["b"][0])
    assert runs["a"][1]["history"] == runs["b"][1]["history"]
    assert not np.array_equal(runs["a"][0], runs["c"][0])
    saved, _ = load_model(tmp_path / "c" / "model.npz")
    assert saved.seed == 2


def test_headless_run_equals_the_same_steps_on_a_trainer(tmp_path):
    """The session's chunking by the clock must not change what is computed."""
    code, metrics = _train(tmp_path, "preset:overfitting-l2", "--steps", "400")
    assert code == 0
    experiment, network = load_model(tmp_path / "run" / "model.npz")
    trainer, data = build_trainer(experiment)
    trainer.run(400)
    assert np.array_equal(network.params, trainer.network.params)
    assert np.array_equal(network.predict(data.x_test), trainer.network.predict(data.x_test))
    assert metrics["test_loss"] == trainer.evaluate().test_loss


# ---------------------------------------------------------------------------- results files


def test_metrics_json_fields(tmp_path):
    code, metrics = _train(tmp_path, "preset:spiral-relu", "--steps", "200")
    assert code == 0
    assert {"train_loss", "test_loss", "train_accuracy", "test_accuracy", "steps", "epochs",
            "diverged", "diverged_message", "stopped_message", "engine", "layers", "history",
            "title", "seed", "seconds", "steps_per_second"} <= set(metrics)
    assert metrics["title"] == load_preset("spiral-relu").title
    assert metrics["seconds"] > 0 and metrics["steps_per_second"] > 0
    assert metrics["epochs"] == pytest.approx(200 / 25)
    assert [layer["name"] for layer in metrics["layers"]] == [
        "layer 1", "layer 2", "layer 3", "output"]
    for layer in metrics["layers"]:
        assert set(layer) == {"name", "units", "activation", "grad_norm", "weight_norm",
                              "dead_fraction", "saturated_fraction"}
    assert [p["step"] for p in metrics["history"]] == list(range(10, 201, 10))
    assert all(p["train_loss"] > 0 and p["test_loss"] > 0 for p in metrics["history"])


def test_regression_accuracy_is_null(tmp_path):
    experiment = with_path(load_preset("classic"), "network.output", "auto")
    experiment = with_path(experiment, "data.dataset", "reg_plane")
    code, metrics = _train(tmp_path, _write(tmp_path, "reg.json", experiment), "--steps", "50")
    assert code == 0
    assert metrics["train_accuracy"] is None and metrics["test_accuracy"] is None
    assert metrics["layers"][-1]["activation"] == "linear"


def test_model_npz_loads_without_pickles_and_predicts_identically(tmp_path):
    code, _ = _train(tmp_path, "preset:softmax-blobs", "--steps", "150")
    assert code == 0
    path = tmp_path / "run" / "model.npz"
    with np.load(path, allow_pickle=False) as npz:
        assert str(npz["head"]) == "softmax"
        saved_text = str(npz["experiment"])
    experiment, network = load_model(path)
    assert dumps_experiment(experiment) == saved_text
    trainer, data = build_trainer(experiment)
    trainer.run(150)
    grid = np.random.default_rng(1).uniform(-6, 6, (500, 2))
    assert np.array_equal(network.predict(data.inputs(grid)),
                          trainer.network.predict(data.inputs(grid)))


def test_default_output_folder_is_runs_slash_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment_file = tmp_path / "my-experiment.json"
    save_experiment(with_path(load_preset("xor-cross-feature"), "training.max_steps", 20),
                    experiment_file)
    assert cli.main(["train", str(experiment_file)]) == 0
    assert cli.main(["train", SMALL, "--steps", "5"]) == 0
    assert (tmp_path / "runs" / "my-experiment" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "xor-cross-feature" / "model.npz").is_file()
    assert load_experiment(experiment_file).training.max_steps == 20  # input untouched


# ---------------------------------------------------------------------------- progress


def _snapshot():
    session = TrainingSession(load_preset("classic"), grid_size=2)
    session.trainer.run(30)
    return session.snapshot()


def test_progress_bar_redraws_one_line_on_a_terminal():
    stream = io.StringIO()
    progress = cli.Progress(stream, "classic", 120, interactive=True)
    progress.interval = 0.0
    snap = _snapshot()
    progress.update(snap)
    progress.update(snap)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.count("\n") == 1
    assert "30/120" in text and "loss" in text and "steps/s" in text and "acc" in text
    assert "[#####-----" in text  # a quarter of the way


def test_plain_progress_writes_whole_lines():
    stream = io.StringIO()
    progress = cli.Progress(stream, "classic", 120, interactive=False)
    progress.interval = 0.0
    progress.update(_snapshot())
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in stream.getvalue()
    assert lines[0].startswith("classic: step 30/120")


# ---------------------------------------------------------------------------- other commands


def test_presets_lists_every_name_with_its_title(capsys):
    assert cli.main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = preset_names()
    assert len(names) == 10 and len(lines) == 10
    width = max(len(n) for n in names)
    for line, name in zip(lines, names):
        assert line.startswith(name.ljust(width) + "  ")
        assert line[width + 2:] == load_preset(name).title


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"playground {playground.__version__}"


@pytest.mark.parametrize("command", ["train", "presets"])
def test_help_for_each_command(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    if command == "train":
        assert "--steps" in out and "--epochs" in out and "--seed" in out and "--out" in out


def _fake_app(monkeypatch, **functions) -> list:
    calls: list = []
    module = types.ModuleType("playground.ui.app")
    for name, result in functions.items():
        def function(*args, _name=name, _result=result, **kwargs):
            calls.append((_name, args, kwargs))
            return _result
        setattr(module, name, function)
    monkeypatch.setitem(sys.modules, "playground.ui.app", module)
    return calls


def test_no_command_opens_the_window(monkeypatch):
    calls = _fake_app(monkeypatch, run_app=0)
    assert cli.main([]) == 0
    assert calls == [("run_app", (), {"experiment": None})]


def test_self_test_is_forwarded(monkeypatch):
    calls = _fake_app(monkeypatch, self_test=1)
    assert cli.main(["--self-test"]) == 1
    assert [c[0] for c in calls] == ["self_test"]
    _fake_app(monkeypatch, self_test=0)
    assert cli.main(["--self-test"]) == 0


def test_missing_window_module_is_a_clear_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "playground.ui.app", None)  # import fails
    assert cli.main(["--self-test"]) == 1
    assert "self-test" in _one_line_error(capsys.readouterr().err)
    assert cli.main([]) == 1
    assert "window" in _one_line_error(capsys.readouterr().err)


def test_command_line_does_not_load_qt():
    code = ("import sys, playground.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'pyqtgraph', 'sklearn')]; print(bad)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
