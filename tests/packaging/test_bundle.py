"""The packaged app: build the one-folder bundle with PyInstaller, then run it.

Two builds serve the tests here: the default one, which must meet the size budget and
leaves the compiled fast path out, and the ``--with-numba`` one, whose self-test compiles
the fast path from nothing inside the bundle (about a minute) and trains on it. Each build
takes one to two minutes on two cores, so the module is marked slow; CI runs it all the
same. Without PyInstaller (the ``package`` extra) the tests are skipped, except under CI,
where that is a failure.

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
#: The size budget of the one-folder bundle, which the default build (without numba) meets.
MAX_FOLDER_MB = 350
#: A guard for the ``--with-numba`` build, which does not fit the budget (llvmlite alone is
#: 160 MB; README: "Building the executable"): it catches frameworks sneaking in.
MAX_FOLDER_WITH_NUMBA_MB = 400
#: Qt's ICU data library once trimmed (32 MB as the wheel ships it).
MAX_ICU_DATA_MB = 8
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


def _build_bundle(build, tmp_path_factory, *, numba: bool) -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        message = 'PyInstaller is not installed (pip install -e ".[package]")'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("bundle-numba" if numba else "bundle")
    path, seconds = build.build(out / "dist", out / "work", numba=numba)
    size = build.size_on_disk(path.parent)
    print(f"\nbuilt {path.parent} in {seconds:.0f} s: {size / 1e6:.0f} MB")
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def program(build, tmp_path_factory) -> Path:
    """The bundled executable of the default build, built into a temporary folder."""
    return _build_bundle(build, tmp_path_factory, numba=False)


@pytest.fixture(scope="module")
def numba_program(build, tmp_path_factory) -> Path:
    """The bundled executable of the ``--with-numba`` build."""
    return _build_bundle(build, tmp_path_factory, numba=True)


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


def _rules():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import bundle_rules
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    return bundle_rules


def _check_contents(program: Path) -> None:
    internal = program.parent / "_internal"
    present = [name for name in NEVER_BUNDLED if (internal / name).exists()]
    assert not present
    assert not list(internal.glob("**/libtorch*"))
    assert not list(internal.glob("PySide6/Qt/translations/*"))
    if sys.platform.startswith("linux"):
        # Every library still loads after stripping (the loader refuses misaligned ones).
        rules = _rules()
        libraries = [p for p in internal.rglob("*.so*") if p.is_file() and not p.is_symlink()]
        assert libraries
        assert [str(p) for p in libraries if not rules.segments_aligned(p)] == []
        icu = list(internal.glob("PySide6/Qt/lib/libicudata.so.*"))
        assert icu and all(p.stat().st_size <= MAX_ICU_DATA_MB * 1e6 for p in icu)


def test_bundle_meets_the_size_budget_and_leaves_out_what_the_app_does_not_use(
        program, build):
    _check_contents(program)
    internal = program.parent / "_internal"
    assert not (internal / "numba").exists() and not (internal / "llvmlite").exists()
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


def _self_test(program: Path, build, app_env: dict[str, str]) -> str:
    """Run the self-test with the wait for the compiled engine; its one line."""
    before = _snapshot(program.parent)
    app_env["PLAYGROUND_SELF_TEST_COMPILED_WAIT"] = str(COMPILE_WAIT)
    done = build.run_self_test(program, env=app_env, timeout=COMPILE_WAIT + 180)
    lines = [line for line in done.stdout.splitlines() if line.startswith("self-test")]
    print("\n" + "\n".join(lines))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("self-test: ok"), done.stdout
    assert "11 data sets generated" in lines[0]
    assert _snapshot(program.parent) == before  # nothing inside the bundle was written
    return lines[0]


def test_bundle_self_test_passes_offscreen_and_leaves_the_bundle_alone(
        program, build, app_env):
    """The window opens offscreen by itself (no DISPLAY, no QT_QPA_PLATFORM), trains,
    draws and generates every data set; the default build has no compiled engine."""
    line = _self_test(program, build, app_env)
    assert "on the numpy engine" in line
    assert "compiled engine not installed" in line


def test_bundle_with_numba_compiles_and_trains_on_the_fast_path(
        numba_program, build, app_env, tmp_path):
    """Inside the --with-numba bundle, with its stripped llvmlite, numba compiles the
    kernels from nothing, the window switches to them and trains on; numba's cache goes
    to the user's cache folder, and nothing inside the bundle is written."""
    _check_contents(numba_program)
    size_mb = build.size_on_disk(numba_program.parent) / 1e6
    assert size_mb <= MAX_FOLDER_WITH_NUMBA_MB, f"the bundle grew to {size_mb:.0f} MB"
    line = _self_test(numba_program, build, app_env)
    assert "compiled engine ready" in line, line
    assert list((tmp_path / "cache" / "playground" / "numba").rglob("*.nbi"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ICU is trimmed on Linux")
def test_bundled_icu_data_still_serves_qt(program, tmp_path):
    """Qt (the checkout's PySide6) loads the bundle's trimmed ICU data in place of the
    wheel's and still collates with it: accents and case sort as in the root collation,
    where Qt without ICU would sort by code point ("B" before "a"). Locales whose own rules
    were left out (Swedish puts "ä" after "z") fall back to the root order, as documented."""
    bundled = next((program.parent / "_internal").glob("PySide6/Qt/lib/libicudata.so.*"))
    folder = tmp_path / "icu"
    folder.mkdir()
    (folder / bundled.name).write_bytes(bundled.read_bytes())
    code = (
        "import functools\n"
        "from PySide6.QtCore import QCollator, QCoreApplication, QLocale\n"
        "app = QCoreApplication([])\n"
        "maps = open('/proc/self/maps').read()\n"
        "print(sorted({l.split()[-1] for l in maps.splitlines() if 'libicudata' in l}))\n"
        "for name in ('en_US', 'de_DE', 'sv_SE', 'zh_CN'):\n"
        "    c = QCollator(QLocale(name))\n"
        "    print(name, sorted(['B', 'z', 'a', 'Zebra', 'é', 'ä'],"
        " key=functools.cmp_to_key(c.compare)))\n"
        "print(QLocale('tr_TR').toUpper('istanbul'))\n")
    env = dict(os.environ, LD_LIBRARY_PATH=str(folder), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == repr([str(folder / bundled.name)])
    for line in lines[1:5]:
        assert line.split(" ", 1)[1] == repr(["a", "ä", "B", "é", "z", "Zebra"]), line
    assert lines[5] == "İSTANBUL"


def test_packaging_rules_keep_what_the_window_needs():
    bundle_rules = _rules()
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


def test_packaging_rules_trim_icu_data_to_what_qt_uses():
    rules = _rules()
    keep = rules.keep_icu_item
    for kept in ("icudt73l/uprops.icu", "icudt73l/ucase.icu", "icudt73l/nfc.nrm",
                 "icudt73l/cnvalias.icu", "icudt73l/root.res", "icudt73l/en.res",
                 "icudt73l/en_GB.res", "icudt73l/res_index.res", "icudt73l/pool.res",
                 "icudt73l/zoneinfo64.res", "icudt73l/supplementalData.res",
                 "icudt73l/coll/root.res", "icudt73l/coll/ucadata.icu",
                 "icudt73l/coll/res_index.res", "icudt73l/zone/en.res",
                 "icudt73l/zone/root.res", "icudt73l/zone/pool.res"):
        assert keep(kept), kept
    for gone in ("icudt73l/de.res", "icudt73l/zh_Hant_TW.res", "icudt73l/coll/zh.res",
                 "icudt73l/coll/sv.res", "icudt73l/zone/de.res", "icudt73l/brkitr/cjdict.dict",
                 "icudt73l/translit/root.res", "icudt73l/lang/en.res", "icudt73l/curr/en.res",
                 "icudt73l/ibm-943_P15A-2003.cnv", "icudt73l/windows-1252-2000.cnv"):
        assert not keep(gone), gone
    try:
        from PySide6 import __file__ as pyside
    except ImportError:
        pytest.skip("PySide6 is not installed")
    wheel = sorted(Path(pyside).parent.glob("Qt/lib/libicudata.so.*"))
    if not wheel:
        pytest.skip("this PySide6 has no ICU data library of its own")
    found = rules._exported_object(wheel[0].read_bytes(), rules._ICU_DATA_SYMBOL)
    assert found is not None
    _symbol, blob = found
    items = rules.icu_items(blob)
    # Rewriting with everything kept gives the same items; trimming keeps the chosen ones,
    # each at a 16-byte boundary.
    assert rules.icu_items(rules.trim_icu_data(blob, keep=lambda name: True)) == items
    trimmed = rules.trim_icu_data(blob)
    assert rules.icu_items(trimmed) == [(n, d) for n, d in items if keep(n)]
    assert len(trimmed) <= MAX_ICU_DATA_MB * 1e6 < len(blob)


def test_packaging_rules_link_libraries_collected_twice(tmp_path):
    rules = _rules()
    for folder in ("numpy.libs", "scipy.libs", "other"):
        (tmp_path / folder).mkdir()
    (tmp_path / "numpy.libs" / "libgfortran-1.so.5").write_bytes(b"same" * 100)
    (tmp_path / "scipy.libs" / "libgfortran-1.so.5").write_bytes(b"same" * 100)
    (tmp_path / "other" / "libgfortran-1.so.5").write_bytes(b"diff" * 100)
    (tmp_path / "scipy.libs" / "libquadmath.so.0").write_bytes(b"only" * 100)
    binaries = [(f"{folder}/{name}", str(tmp_path / folder / name), "BINARY")
                for folder, name in (("scipy.libs", "libgfortran-1.so.5"),
                                     ("numpy.libs", "libgfortran-1.so.5"),
                                     ("other", "libgfortran-1.so.5"),
                                     ("scipy.libs", "libquadmath.so.0"))]
    links = rules.duplicate_libraries(binaries)
    assert links == {"scipy.libs/libgfortran-1.so.5": "numpy.libs/libgfortran-1.so.5"}
    assert (rules.relative_link("scipy.libs/libgfortran-1.so.5", "numpy.libs/libgfortran-1.so.5")
            == "../numpy.libs/libgfortran-1.so.5")
    assert rules.relative_link("libx.so", "PySide6/Qt/lib/libx.so") == "PySide6/Qt/lib/libx.so"
