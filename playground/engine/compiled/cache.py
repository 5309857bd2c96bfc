"""Where numba keeps the compiled kernels between runs.

Compiling the kernels takes seconds; loading them from numba's on-disk cache takes a
fraction of that. The cache goes to, in order of preference:

1. ``$NUMBA_CACHE_DIR`` when the user has set it;
2. the user's cache folder (``platformdirs.user_cache_dir("playground")/numba``);
3. a private folder in the system's temporary directory;

whichever is first writable. When none is, or when the cache could never be found again
(a one-file PyInstaller bundle unpacks itself to a new folder at every launch, and numba
keys the cache on the kernels' path), the kernels are compiled afresh in every process.

In a PyInstaller bundle numba finds the cache by the kernels' source file: with
``playground/engine/compiled/kernels.py`` shipped as source next to the bytecode (the
``pyz+py`` collection mode) the cache goes to the folder above; without it numba falls back
to its own user-wide cache folder, keyed on a hash of the executable. Either way a
one-folder bundle reuses the cache from the second launch on.
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import tempfile
from pathlib import Path

import numba
import platformdirs

APP_NAME = "playground"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _private(folder: Path) -> bool:
    """True unless another user could have planted files there (POSIX only): numba loads
    pickled code from its cache, so a shared temporary folder must be ours alone."""
    if not hasattr(os, "getuid"):
        return True
    info = folder.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def candidate_folders() -> list[Path]:
    """Cache folders to try, best first."""
    folders = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    folders.append(Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "numba")
    user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    folders.append(Path(tempfile.gettempdir()) / f"{APP_NAME}-numba-{user}")
    return folders


def choose_folder(folders: list[Path]) -> Path | None:
    """The first folder of ``folders`` that is writable (and private, if temporary)."""
    temp = Path(tempfile.gettempdir())
    for folder in folders:
        if _writable(folder) and (folder.parent != temp or _private(folder)):
            return folder
    return None


def unpacked_per_launch() -> bool:
    """True inside a one-file PyInstaller bundle, which unpacks to a new ``_MEI...``
    folder at every launch."""
    base = getattr(sys, "_MEIPASS", None)
    return bool(getattr(sys, "frozen", False) and base and Path(base).name.startswith("_MEI"))


@functools.cache
def cache_folder() -> Path | None:
    """Set numba's cache folder (once per process) and return it; None: no caching."""
    if unpacked_per_launch():
        return None
    folder = choose_folder(candidate_folders())
    if folder is not None:
        numba.config.CACHE_DIR = str(folder)
    return folder


def load_quickly(dispatcher):
    """Let ``dispatcher`` load its cached machine code without numba's full start-up.

    Before every load from the disk cache numba refreshes its compiler's registries of
    typing and lowering rules, importing some forty modules: about 0.2 s, most of a warm
    start, spent on rules that only compiling uses. Loading needs just numba's runtime
    (which the kernels' code links against), so this loads after starting only that. A
    cache miss, or any error on the quick way, takes numba's usual way, which refreshes
    and compiles as before; and the warm-up's self-check runs the loaded code either way.
    Returns ``dispatcher``.
    """
    cache = getattr(dispatcher, "_cache", None)
    quick, usual = getattr(cache, "_load_overload", None), getattr(cache, "load_overload", None)
    if quick is None or usual is None:  # not the numba this was written for
        return dispatcher
    try:
        from numba.core.runtime.nrt import rtsys
    except ImportError:
        return dispatcher

    def load_overload(sig, target_context):
        try:
            rtsys.initialize(target_context)
            loaded = quick(sig, target_context)
        except Exception:  # noqa: BLE001 - numba's own way below reports real problems
            loaded = None
        return loaded if loaded is not None else usual(sig, target_context)

    cache.load_overload = load_overload
    return dispatcher


def caching_enabled() -> bool:
    return cache_folder() is not None


def describe() -> str:
    """Where compiled kernels are cached, in words (for logs and benchmark reports)."""
    folder = cache_folder()
    if folder is not None:
        return str(folder)
    if unpacked_per_launch():
        return "not cached: one-file bundle, unpacked to a new folder at each launch"
    return "not cached: no writable cache folder"
