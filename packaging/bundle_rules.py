"""What goes into the packaged app and what stays out; used by ``playground.spec``.

PyInstaller follows every import it can see, including imports inside functions and
optional ones, so left alone it bundles far more than the app runs: an unrestricted build pulls in
torch through pyqtgraph -> scipy and comes out near 1 GB. The lists here were made by
comparing what PyInstaller collects with what the app actually loads while it opens the
window, trains, draws, generates every data set and compiles the fast path (the bundle
test runs all of that inside the bundle, so an exclusion too many shows up there).

What is left out:

* ``EXCLUDED_MODULES``: Python packages and subpackages never imported by the app, and
  ``NUMBA_MODULES`` unless the spec is given ``--with-numba``.
* ``dropped_qt_file``: Qt plugins and translations a desktop teaching app does not need
  (remote-display and framebuffer back-ends, network and TLS plugins, image formats it
  never reads, the GTK theme plugin with its GTK/cairo/pango stack).
* ``unreachable_libraries``: shared libraries PyInstaller collected only because a
  dropped plugin or module needed them (Linux; found from the ELF ``NEEDED`` entries).

What is made smaller (Linux): ``stripped_copy`` removes symbol tables where that leaves
the library loadable, ``duplicate_libraries`` finds libraries two wheels ship byte for
byte (the spec keeps one and links the other), and ``trimmed_icu_data`` rebuilds Qt's ICU
data library with only what Qt uses it for.

Almost every library that remains is loaded when the app runs (checked by tracing the
files the bundle opens during its self-test, a headless training and a sweep):
scikit-learn's data generators import most of scipy, and pyqtgraph imports QtOpenGL.

Nothing here imports PyInstaller, so the rules can be checked without building.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shutil
import struct
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
    # scipy.io's Matrix Market reader (4 MB), loaded only when such a file is read.
    "scipy.io._fast_matrix_market._fmm_core",
)

#: Extension modules imported only from other extension modules, where PyInstaller cannot
#: see the import; the excluded subpackages used to bring them in by chance.
HIDDEN_IMPORTS = (
    "sklearn.utils._vector_sentinel",  # cimported by sklearn's Cython utilities
    "numba._devicearray",  # loaded through the C API of numba._dispatcher
)

#: The compiled fast path, left out unless the spec is given ``--with-numba``: llvmlite's
#: library holds every LLVM back-end (AMDGPU, RISC-V, Hexagon, ...) and is 160 MB even
#: without its symbols, which no trimming here can change (README: the size budget).
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


# ------------------------------------------------------------------------------ ELF files


def _elf64(data: bytes) -> dict[str, int] | None:
    """The fields of a little-endian 64-bit ELF header that the helpers below use; None for
    anything else (those files are left as they are)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    return dict(phoff=phoff, phentsize=phentsize, phnum=phnum, shoff=shoff,
                shentsize=shentsize, shnum=shnum, shstrndx=shstrndx)


def segments_aligned(path: str | Path) -> bool:
    """True when every loadable segment of an ELF file sits at a file offset congruent to
    its address modulo its alignment, as the dynamic loader requires ("ELF load command
    address/offset not page-aligned" otherwise). Files that are not 64-bit ELF pass."""
    with open(path, "rb") as f:
        header = _elf64(f.read(64))
        if header is None:
            return True
        f.seek(header["phoff"])
        table = f.read(header["phentsize"] * header["phnum"])
    for i in range(header["phnum"]):
        p_type, _flags, offset, vaddr, _paddr, _filesz, _memsz, align = struct.unpack_from(
            "<IIQQQQQQ", table, i * header["phentsize"])
        if p_type == 1 and align > 1 and (offset - vaddr) % align:  # PT_LOAD
            return False
    return True


def _exported_object(data: bytes, pattern: re.Pattern[str]) -> tuple[str, bytes] | None:
    """Name and contents of the first exported data symbol whose name matches
    ``pattern`` in an ELF shared library (read from its ``.dynsym``)."""
    header = _elf64(data)
    if header is None or not header["shoff"]:
        return None
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, header["shoff"] + i * header["shentsize"])
                for i in range(header["shnum"])]
    for _name, sh_type, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if sh_type != 11 or not entsize:  # SHT_DYNSYM
            continue
        strtab = sections[link][4]
        for k in range(size // entsize):
            st_name, _st_info, _other, shndx, value, st_size = struct.unpack_from(
                "<IBBHQQ", data, offset + k * entsize)
            end = data.index(b"\0", strtab + st_name)
            name = data[strtab + st_name:end].decode("ascii", "replace")
            if pattern.fullmatch(name) and 0 < shndx < len(sections):
                home = sections[shndx]
                start = home[4] + value - home[3]
                return name, data[start:start + st_size]
    return None


# ------------------------------------------------------------------------------ stripping

# PyInstaller's own strip=True strips every library, which breaks the ones auditwheel has
# patched (numpy's and scipy's OpenBLAS and gfortran): strip moves their segments off the
# page alignment that the loader needs. So each library is stripped on a copy, and the copy
# is used only when its loadable segments are still aligned; the others keep their symbols
# (about 4 MB). The big winners are libllvmlite (~19 MB of symbols) and libpython.


def should_strip(dest: str) -> bool:
    """True for a collected shared library or extension module (Linux)."""
    return sys.platform.startswith("linux") and ".so" in PurePosixPath(dest).name


def stripped_copy(source: str, dest: str, folder: str) -> str:
    """A copy of ``source`` without its symbol table, kept under ``folder`` and made again
    only when the source is newer; ``source`` itself when ``strip`` is missing, fails, or
    would leave a library that no longer loads."""
    strip = shutil.which("strip")
    if strip is None:
        return source
    target = Path(folder) / dest
    refused = target.with_name(target.name + ".unstrippable")
    src = Path(source)
    mtime = src.stat().st_mtime
    for path, result in ((target, str(target)), (refused, source)):
        if path.is_file() and path.stat().st_mtime >= mtime:
            return result
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    shutil.copymode(src, target)
    done = subprocess.run([strip, "--strip-unneeded", str(target)], capture_output=True,
                          check=False)
    if done.returncode == 0 and segments_aligned(target):
        return str(target)
    target.unlink()
    refused.touch()
    return source


# ---------------------------------------------------------------- libraries collected twice


def duplicate_libraries(binaries: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Libraries collected twice, in different folders under the same name with the same
    bytes (scipy's wheel ships the very libgfortran and libquadmath that numpy's does):
    maps each extra copy's destination to the destination of the copy that is kept (the
    first in sorted order), so that the spec can make the extra one a symbolic link."""
    groups: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for dest, src, _kind in binaries:
        if ".so" not in PurePosixPath(dest).name:
            continue
        try:
            size = Path(src).stat().st_size
        except OSError:
            continue
        groups.setdefault((PurePosixPath(dest).name, size), []).append((dest, src))
    links: dict[str, str] = {}
    for entries in groups.values():
        if len(entries) < 2:
            continue
        by_content: dict[str, str] = {}
        for dest, src in sorted(entries):
            digest = hashlib.sha256(Path(src).read_bytes()).hexdigest()
            if digest in by_content:
                links[dest] = by_content[digest]
            else:
                by_content[digest] = dest
    return links


def relative_link(dest: str, target: str) -> str:
    """The text of a symbolic link at ``dest`` that points to ``target`` (both paths
    inside the bundle)."""
    return posixpath.relpath(target, posixpath.dirname(dest) or ".")


# ----------------------------------------------------------------------------- ICU's data

# Qt's ICU data library is the largest file of Qt (32 MB): the data of every locale for
# every ICU service. Qt calls ICU for four things only (its own CLDR tables, Unicode tables
# and UTF codecs do the rest; see the ICU symbols libQt6Core imports): case mapping,
# collation (QCollator), time-zone names and legacy text codecs. The data library is
# rebuilt with what those need for an English app, ~2.5 MB:
#
# * kept: Unicode properties and normalization, the root collation (CLDR's default order,
#   which sorts Latin, Greek and Cyrillic text sensibly for most languages), root and
#   English locale data (time-zone names among them), the supplemental tables;
# * dropped: break iteration, transliteration, number spelling and display names of
#   languages, regions, currencies and units (Qt never asks ICU for them), every other
#   locale's tailorings (a collator for "sv" or "zh" falls back to the root order, as ICU
#   does for any locale it lacks), and the tables of legacy codecs such as Shift-JIS or
#   Windows-1252 (ucnv_open then fails and Qt reports the codec as unavailable; the app
#   reads and writes UTF-8 only).
#
# The test (tests/packaging) loads the trimmed library under Qt and checks collation.

_ICU_DATA_LIBRARY = re.compile(r"^PySide6/Qt/lib/libicudata\.so\.\d+$")
_ICU_DATA_SYMBOL = re.compile(r"icudt\d+_dat")
_ICU_UNUSED_TREES = frozenset({"brkitr", "translit", "rbnf", "unit", "curr", "lang", "region"})
_ICU_LOCALE_BUNDLE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z0-9]+)*\.res$")


def is_icu_data(dest: str) -> bool:
    """True for Qt's ICU data library (Linux wheels)."""
    return bool(_ICU_DATA_LIBRARY.match(dest))


def keep_icu_item(name: str) -> bool:
    """Whether an item of ICU's common data (``icudt73l/coll/root.res``) stays."""
    parts = name.split("/")[1:] or [name]
    if len(parts) > 1 and parts[0] in _ICU_UNUSED_TREES:
        return False
    leaf = parts[-1]
    if leaf.endswith(".cnv"):
        return False
    if leaf != "res_index.res" and _ICU_LOCALE_BUNDLE.match(leaf):
        return leaf == "en.res" or leaf.startswith("en_")
    return True


def icu_items(blob: bytes) -> list[tuple[str, bytes]]:
    """The items of an ICU common data package ("CmnD", little-endian), in order."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", blob, 0)
    if (magic1, magic2) != (0xDA, 0x27) or blob[12:16] != b"CmnD" or blob[8] != 0:
        raise ValueError("not a little-endian ICU common data package")
    count = struct.unpack_from("<I", blob, header_size)[0]
    entries = [struct.unpack_from("<II", blob, header_size + 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_at, data_at) in enumerate(entries):
        name_start = header_size + name_at
        name = blob[name_start:blob.index(b"\0", name_start)].decode("ascii")
        end = entries[i + 1][1] if i + 1 < count else len(blob) - header_size
        items.append((name, blob[header_size + data_at:header_size + end]))
    return items


def trim_icu_data(blob: bytes, keep=keep_icu_item) -> bytes:
    """The package ``blob`` with only the items ``keep`` accepts: same header, a new table
    of contents (still sorted by name, as ICU's binary search needs) and the kept items,
    each at a 16-byte boundary as ICU's own tools place them."""
    header_size = struct.unpack_from("<H", blob, 0)[0]
    items = [(name, data) for name, data in icu_items(blob) if keep(name)]
    names = b"".join(name.encode("ascii") + b"\0" for name, _data in items)
    toc_size = 4 + 8 * len(items)
    data_at = toc_size + len(names)
    data_at += -(header_size + data_at) % 16
    toc = [struct.pack("<I", len(items))]
    body = []
    name_at = toc_size
    for name, data in items:
        toc.append(struct.pack("<II", name_at, data_at))
        name_at += len(name) + 1
        padded = data + b"\0" * (-len(data) % 16)
        body.append(padded)
        data_at += len(padded)
    head = blob[:header_size] + b"".join(toc) + names
    return head + b"\0" * (-len(head) % 16) + b"".join(body)


def trimmed_icu_data(source: str, dest: str, folder: str) -> str:
    """A rebuilt ICU data library with the items Qt does not use left out, made under
    ``folder`` with the GNU assembler and linker (binutils, which PyInstaller needs on
    Linux anyway); ``source`` itself when anything is missing or does not check out."""
    assembler, linker = shutil.which("as"), shutil.which("ld")
    if assembler is None or linker is None:
        return source
    target = Path(folder) / dest
    if target.is_file() and target.stat().st_mtime >= Path(source).stat().st_mtime:
        return str(target)
    found = _exported_object(Path(source).read_bytes(), _ICU_DATA_SYMBOL)
    if found is None:
        return source
    symbol, blob = found
    try:
        trimmed = trim_icu_data(blob)
        kept = [name for name, _data in icu_items(trimmed)]
    except (ValueError, struct.error, IndexError):
        return source
    if kept != [name for name, _data in icu_items(blob) if keep_icu_item(name)]:
        return source
    work = target.parent / (target.name + ".build")
    work.mkdir(parents=True, exist_ok=True)
    (work / "data.bin").write_bytes(trimmed)
    (work / "data.s").write_text(
        f'\t.section .rodata\n\t.balign 16\n\t.globl {symbol}\n'
        f'\t.type {symbol}, @object\n\t.size {symbol}, {len(trimmed)}\n'
        f'{symbol}:\n\t.incbin "data.bin"\n'
        '\t.section .note.GNU-stack,"",@progbits\n')
    steps = ([assembler, "-o", "data.o", "data.s"],
             [linker, "-shared", "-s", "-soname", target.name, "--hash-style=both",
              "-z", "noexecstack", "-o", "lib.so", "data.o"])
    for step in steps:
        if subprocess.run(step, cwd=work, capture_output=True, check=False).returncode:
            return source
    built = _exported_object((work / "lib.so").read_bytes(), _ICU_DATA_SYMBOL)
    if built != (symbol, trimmed) or not segments_aligned(work / "lib.so"):
        return source
    shutil.move(work / "lib.so", target)
    shutil.rmtree(work, ignore_errors=True)
    return str(target)
