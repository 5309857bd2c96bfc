"""What goes into the packaged app and what stays out; used by ``playground.spec``.

PyInstaller follows every import it can see, including imports inside functions and
optional ones, so left alone it bundles far more than the app runs: an unrestricted build pulls in
torch through pyqtgraph -> scipy and comes out near 1 GB. The lists here were made by
comparing what PyInstaller collects with what the app actually loads while it opens the
window, trains, draws, generates every data set and compiles the fast path (the bundle
test runs all of that inside the bundle, so an exclusion too many shows up there).

Three kinds of trimming:

* ``EXCLUDED_MODULES``: Python packages and subpackages never imported by the app.
* ``dropped_qt_file``: Qt plugins and translations a desktop teaching app does not need
  (remote-display and framebuffer back-ends, network and TLS plugins, image formats it
  never reads, the GTK theme plugin with its GTK/cairo/pango stack).
* ``unreachable_libraries``: shared libraries PyInstaller collected only because a
  dropped plugin or module needed them (Linux; found from the ELF ``NEEDED`` entries).

Nothing here imports PyInstaller, so the rules can be checked without building.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

#: Never bundled, whatever is installed: the parity extra puts torch in the same venv.
NEVER = ("torch", "torchvision", "torchaudio", "functorch", "triton", "tensorflow", "jax",
         "jaxlib")

EXCLUDED_MODULES = (
    *NEVER,
    # Tests, notebooks, other Qt bindings and GUI toolkits.
    "pytest", "_pytest", "pytestqt", "pluggy", "hypothesis", "IPython", "ipykernel",
    "jupyter_client", "jupyter_core", "notebook", "matplotlib", "tkinter", "_tkinter",
    "PyQt5", "PyQt6", "PySide2", "OpenGL",
    # The optional dask/distributed sweep back-end and what only it uses.
    "dask", "distributed", "tornado", "msgpack", "partd", "toolz", "locket", "zict",
    "tblib", "sortedcontainers", "click", "fsspec",
    # Optional imports of the dependencies that the app never takes.
    "pandas", "pyarrow", "polars", "sympy", "mpmath", "networkx", "jinja2", "markupsafe",
    "pygments", "PIL", "cupy", "h5py", "setuptools", "pkg_resources", "pip", "docutils",
    "sphinx", "pydoc_data", "lib2to3", "idlelib", "turtledemo", "ensurepip", "venv",
    "curses", "readline",
    # Qt modules the window does not use (pyqtgraph only tries QtTest).
    "PySide6.QtNetwork", "PySide6.QtDBus", "PySide6.QtTest",
    # pyqtgraph: 3-D (needs PyOpenGL), notebooks, examples and unused widget families.
    "pyqtgraph.opengl", "pyqtgraph.jupyter", "pyqtgraph.examples", "pyqtgraph.flowchart",
    "pyqtgraph.canvas", "pyqtgraph.console", "pyqtgraph.dockarea",
    # numba: GPU target, ahead-of-time compiler and its own test suite.
    "numba.cuda", "numba.pycc", "numba.tests", "numba.testing", "llvmlite.tests",
    # scikit-learn: the app only uses the toy-data generators of sklearn.datasets.
    *(f"sklearn.{name}" for name in (
        "calibration", "cluster", "compose", "covariance", "cross_decomposition",
        "decomposition", "discriminant_analysis", "dummy", "ensemble", "experimental",
        "feature_selection", "frozen", "gaussian_process", "impute", "inspection",
        "isotonic", "kernel_approximation", "kernel_ridge", "linear_model", "manifold",
        "metrics", "mixture", "model_selection", "multiclass", "multioutput",
        "naive_bayes", "neighbors", "neural_network", "pipeline", "random_projection",
        "semi_supervised", "svm", "tests", "tree",
    )),
    # scipy: subpackages that nothing on the generators' import path loads.
    "scipy.cluster", "scipy.datasets", "scipy.differentiate", "scipy.fftpack",
    "scipy.misc", "scipy.odr", "scipy.signal",
)

#: Extension modules imported only from other extension modules, where PyInstaller cannot
#: see the import; the excluded subpackages used to bring them in by chance.
HIDDEN_IMPORTS = (
    "sklearn.utils._vector_sentinel",  # cimported by sklearn's Cython utilities
    "numba._devicearray",  # loaded through the C API of numba._dispatcher
)

#: Numba-related packages, left out by the spec's ``--without-numba`` option.
NUMBA_MODULES = ("numba", "llvmlite")

# Qt plugin folders dropped whole, and single plugins (by name, any platform's suffix).
_DROPPED_PLUGIN_TYPES = frozenset({
    "egldeviceintegrations", "generic", "networkinformation", "tls", "sqldrivers",
    "printsupport", "multimedia", "position", "sensors", "webview", "qmltooling",
})
_DROPPED_PLUGINS = frozenset({
    # platforms: framebuffer, VNC, KMS and Vulkan displays are not classroom desktops
    "qlinuxfb", "qvnc", "qeglfs", "qminimalegl", "qvkkhrdisplay",
    # platform themes: GTK drags in the whole GTK/cairo/pango stack; Qt's own dialogs work
    "qgtk3",
    # image formats: the app reads PNG (built in), SVG and ICO icons only
    "qgif", "qjpeg", "qtga", "qtiff", "qwbmp", "qwebp", "qpdf",
})
_PLUGIN_NAME = re.compile(r"^(?:lib)?(?P<name>[^.]+)")


def dropped_qt_file(dest: str, *, platform: str = sys.platform) -> bool:
    """True for a collected file (its path inside the bundle) that the app does not need:
    Qt translations (the app is in English) and the plugins listed above."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    if not parts or parts[0] not in ("PySide6", "shiboken6"):
        return False
    if "translations" in parts:
        return True
    if "plugins" not in parts:
        return False
    inside = parts[parts.index("plugins") + 1:]
    if len(inside) < 2:
        return False
    if inside[0] in _DROPPED_PLUGIN_TYPES:
        return True
    match = _PLUGIN_NAME.match(inside[-1])
    name = match.group("name") if match else ""
    if name == "qicns":  # the macOS icon format: needed only on macOS
        return platform != "darwin"
    return name in _DROPPED_PLUGINS


def dropped_data_file(dest: str) -> bool:
    """True for data files that the hooks collect but that the app never reads: sources
    and build files shipped in wheels, scikit-learn's sample images and data sets."""
    path = PurePosixPath(dest.replace("\\", "/"))
    parts = path.parts
    if parts and parts[0] in ("sklearn", "scipy", "numba", "llvmlite"):
        if path.suffix in (".pyx", ".pxd", ".pxi", ".tp", ".c", ".h", ".cpp", ".pyi"):
            return True
        if path.name == "meson.build" or "tests" in parts:
            return True
        if parts[:2] == ("sklearn", "datasets") and len(parts) > 2 and parts[2] in (
                "images", "data", "descr"):
            return True
    return False


# ------------------------------------------------------------- unreachable libraries


_HEADER = re.compile(r"^(?P<path>.+):\s+file format \S+$")


def _needed(paths: list[str]) -> dict[str, list[str]]:
    """The ``NEEDED`` entries of each ELF file, read with ``objdump -p`` (which
    PyInstaller itself requires on Linux). Files objdump cannot read get no entry."""
    objdump = shutil.which("objdump")
    if objdump is None:
        return {}
    result: dict[str, list[str]] = {}
    for start in range(0, len(paths), 200):
        chunk = paths[start:start + 200]
        out = subprocess.run([objdump, "-p", *chunk], capture_output=True, text=True,
                             check=False).stdout
        current = None
        for line in out.splitlines():
            header = _HEADER.match(line)
            if header:
                current = header.group("path")
                result[current] = []
            elif current is not None and line.strip().startswith("NEEDED"):
                result[current].append(line.split()[-1])
    return result


def _prunable(dest: str) -> bool:
    """Libraries that are only there as someone's dependency: system libraries copied to
    the bundle's top level, and Qt's own libraries (not Python extension modules)."""
    path = PurePosixPath(dest)
    name = path.name
    if ".cpython-" in name or ".abi3." in name or name.startswith("libpython"):
        return False
    if len(path.parts) == 1:
        return name.startswith("lib") and ".so" in name
    return path.parts[:3] == ("PySide6", "Qt", "lib") and ".so" in name


def unreachable_libraries(binaries: Iterable[tuple[str, str, str]],
                          symlinks: Iterable[tuple[str, str, str]] = ()) -> set[str]:
    """Destinations of collected libraries that no kept binary needs, directly or
    through other libraries (Linux only; elsewhere nothing is reported).

    ``binaries`` are PyInstaller TOC entries ``(dest, source, kind)``; ``symlinks`` are
    the ``SYMLINK`` entries, which give a library a second name that ``NEEDED`` may use.
    Every binary that is not a prunable library is a root: Python extension modules,
    Qt plugins, numba's and the wheels' private libraries, the Python library.
    """
    if not sys.platform.startswith("linux"):
        return set()
    entries = [(dest, src) for dest, src, _kind in binaries]
    by_name: dict[str, str] = {}
    for dest, _src in entries:
        by_name.setdefault(PurePosixPath(dest).name, dest)
    collected = {dest for dest, _src in entries}
    for dest, target, _kind in symlinks:
        if target in collected:
            by_name.setdefault(PurePosixPath(dest).name, target)
    needed = _needed([src for _dest, src in entries])
    if not needed:  # objdump missing or unreadable output: prune nothing
        return set()
    graph = {dest: needed.get(src, []) for dest, src in entries}
    seen: set[str] = set()
    todo = [dest for dest, _src in entries if not _prunable(dest)]
    while todo:
        dest = todo.pop()
        if dest in seen:
            continue
        seen.add(dest)
        for lib in graph.get(dest, []):
            target = by_name.get(lib)
            if target is not None and target not in seen:
                todo.append(target)
    return {dest for dest, _src in entries if _prunable(dest) and dest not in seen}


# ------------------------------------------------------------------------- stripping

# Stripping every library (PyInstaller's strip=True) breaks the ones that auditwheel has
# patched, numpy's OpenBLAS first ("ELF load command address/offset not page-aligned").
# These are built without patching and carry their full symbol tables: about 45 MB.
_STRIP = (
    re.compile(r"^libpython[\d.]+\.so"),
    re.compile(r"^python[\d.]+/lib-dynload/"),
    re.compile(r"^llvmlite/binding/libllvmlite\.so$"),
    re.compile(r"^numba/.+\.so$"),
    re.compile(r"^yaml/.+\.so$"),
)


def should_strip(dest: str) -> bool:
    """True for a collected library whose symbol table is safe to strip (Linux)."""
    return sys.platform.startswith("linux") and any(p.search(dest) for p in _STRIP)


def stripped_copy(source: str, dest: str, folder: str) -> str:
    """A copy of ``source`` with its symbol table removed, kept under ``folder`` and made
    again only when the source is newer; ``source`` itself when ``strip`` is missing or
    fails."""
    strip = shutil.which("strip")
    if strip is None:
        return source
    target = Path(folder) / dest
    src = Path(source)
    if target.is_file() and target.stat().st_mtime >= src.stat().st_mtime:
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    shutil.copymode(src, target)
    done = subprocess.run([strip, "--strip-unneeded", str(target)], capture_output=True,
                          check=False)
    return str(target) if done.returncode == 0 else source
