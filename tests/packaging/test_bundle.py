"""The packaged app: build the one-folder bundle with PyInstaller, then run it.

One build serves every test here. It takes one to three minutes on two cores, and the
self-test then compiles the fast path from nothing (about a minute), so the module is
marked slow; CI runs it all the same. Without PyInstaller (the ``package`` extra) the
tests are skipped, except under CI, where that is a failure.

There is deliberately no ``__init__.py`` in this folder: pytest would import it as a
top-level package named ``packaging`` and hide the real ``packaging`` library.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: A guard against whole frameworks sneaking in (torch alone makes a build near 1 GB), not the
#: size budget: the issue asks for <= 350 MB, which the bundle meets without numba; with
#: it, llvmlite alone takes ~150 MB (see packaging/bundle_rules.py).
MAX_FOLDER_MB = 450
#: Seconds the self-test may wait for the fast path to compile from nothing.
COMPILE_WAIT = 600
NEVER_BUNDLED = ("torch", "torchgen", "functorch", "tensorflow", "matplotlib", "IPython",
                 "PyQt5", "PyQt6", "tkinter", "dask", "distributed", "pytest")


def _build_module():
    spec = importlib.util.spec_from_file_location("playground_build",
                                                  ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build():
    return _build_module()


@pytest.fixture(scope="module")
def program(build, tmp_path_factory) -> Path:
    """The bundled executable, built into a temporary folder."""
    if importlib.util.find_spec("PyInstaller") is None:
        message = 'PyInstaller is not installed (pip install -e ".[package]")'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("bundle")
    path, seconds = build.build(out / "dist", out / "work")
    size = build.size_on_disk(path.parent)
    print(f"\nbuilt {path.parent} in {seconds:.0f} s: {size / 1e6:.0f} MB")
    assert path.is_file()
    return path


@pytest.fixture
def app_env(tmp_path) -> dict[str, str]:
    """The environment of a fresh user on a machine without a display: an empty home
    and cache, nothing pointing back into the checkout."""
    env = {key: value for key, value in os.environ.items() if key not in (
        "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "PLAYGROUND_RESOURCES",
        "PLAYGROUND_FAST_PATH", "NUMBA_CACHE_DIR", "PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


def _run(program: Path, *args: str, env: dict[str, str], cwd: Path,
         timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(program), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


def test_bundle_leaves_out_what_the_app_does_not_use(program, build):
    internal = program.parent / "_internal"
    present = [name for name in NEVER_BUNDLED if (internal / name).exists()]
    assert not present
    assert not list(internal.glob("**/libtorch*"))
    assert not list(internal.glob("PySide6/Qt/translations/*"))
    size_mb = build.size_on_disk(program.parent) / 1e6
    assert size_mb <= MAX_FOLDER_MB, f"the bundle grew to {size_mb:.0f} MB"


def test_bundle_prints_its_version(program, app_env, tmp_path):
    from playground import __version__

    done = _run(program, "--version", env=app_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"playground {__version__}"


def test_bundle_finds_its_presets_inside_itself(program, app_env, tmp_path):
    done = _run(program, "presets", env=app_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "classic" in done.stdout.split()


def test_bundle_trains_headless(program, app_env, tmp_path):
    done = _run(program, "train", "preset:classic", "--steps", "300", "--out",
                str(tmp_path / "run"), env=app_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert (tmp_path / "run" / "model.npz").is_file()


def test_bundle_runs_a_sweep_in_worker_processes(program, app_env, tmp_path):
    """Sweeps start joblib's workers by running the executable as Python (the runtime
    hook packaging/rthook_workers.py makes that work)."""
    import csv

    app_env["PLAYGROUND_FAST_PATH"] = "0"  # the workers are under test, not the compiler
    done = _run(program, "sweep", "preset:classic", "--grid",
                "training.optimizer.learning_rate=0.01,0.03", "--jobs", "2", "--steps", "100",
                "--out", str(tmp_path / "sweep"), env=app_env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    with open(tmp_path / "sweep" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert all(not row["error"] and row["steps"] == "100" for row in rows), rows


def test_bundle_self_test_passes_offscreen_and_leaves_the_bundle_alone(
        program, build, app_env, tmp_path):
    """The window opens offscreen by itself (no DISPLAY, no QT_QPA_PLATFORM), trains,
    draws, generates every data set and, once compiled, trains on the fast path; numba's
    cache goes to the user's cache folder, and nothing inside the bundle is written."""
    before = _snapshot(program.parent)
    app_env["PLAYGROUND_SELF_TEST_COMPILED_WAIT"] = str(COMPILE_WAIT)
    done = build.run_self_test(program, env=app_env, timeout=COMPILE_WAIT + 180)
    lines = [line for line in done.stdout.splitlines() if line.startswith("self-test")]
    print("\n" + "\n".join(lines))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("self-test: ok"), done.stdout
    assert "11 data sets generated" in lines[0]
    if "compiled engine ready" in lines[0]:
        assert list((tmp_path / "cache" / "playground" / "numba").rglob("*.nbi"))
    assert _snapshot(program.parent) == before


def test_packaging_rules_keep_what_the_window_needs():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import bundle_rules
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    assert "torch" in bundle_rules.EXCLUDED_MODULES
    dropped = bundle_rules.dropped_qt_file
    for kept in ("PySide6/Qt/plugins/platforms/libqxcb.so",
                 "PySide6/Qt/plugins/platforms/libqwayland.so",
                 "PySide6/Qt/plugins/platforms/libqoffscreen.so",
                 "PySide6/Qt/plugins/imageformats/libqsvg.so",
                 "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
                 "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
                 "PySide6/Qt/lib/libQt6Core.so.6"):
        assert not dropped(kept, platform="linux"), kept
    for gone in ("PySide6/Qt/translations/qtbase_de.qm",
                 "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
                 "PySide6/Qt/plugins/platforms/libqvnc.so",
                 "PySide6/Qt/plugins/tls/libqopensslbackend.so",
                 "PySide6/Qt/plugins/imageformats/libqtiff.so"):
        assert dropped(gone, platform="linux"), gone
    assert not dropped("PySide6/Qt/plugins/imageformats/libqicns.dylib", platform="darwin")
