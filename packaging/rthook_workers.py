"""PyInstaller runtime hook: let the bundled executable start joblib's worker processes.

Sweeps run in joblib's loky worker processes. loky starts them, and its resource
tracker, by running ``sys.executable`` as if it were Python::

    playground -m joblib.externals.loky.backend.popen_loky_posix --process-name N --pipe F
    playground -c "from joblib.externals.loky.backend.resource_tracker import main; ..."

In the bundle ``sys.executable`` is the app itself, whose command line knows no ``-m``
or ``-c``, so every worker died with a usage error (loky has no freeze support on
POSIX yet). This hook runs before ``main.py`` and, for exactly those two forms and only
for loky's and multiprocessing's own modules, does what Python would do, then exits.
Any other command line goes on to the app untouched.

A worker also skips re-running the parent's main script, which does not exist as a
file inside the bundle; the work it receives refers to ``playground`` modules only.
"""

import os
import sys

_TRUSTED = ("joblib.externals.loky.", "multiprocessing.")
# Interpreter options that loky may pass on (util._args_from_interpreter_flags).
_FLAGS = {"-B", "-E", "-I", "-O", "-OO", "-S", "-b", "-bb", "-d", "-q", "-s", "-u", "-v"}
_FLAGS_WITH_VALUE = {"-W", "-X"}


def _split(argv):
    """(option, target, rest) for ``[-flags...] -m MODULE ...`` or ``-c CODE ...``."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in _FLAGS or (arg[:2] in _FLAGS_WITH_VALUE and len(arg) > 2):
            i += 1
        elif arg in _FLAGS_WITH_VALUE:
            i += 2
        elif arg in ("-m", "-c") and i + 1 < len(argv):
            return arg, argv[i + 1], argv[i + 2:]
        else:
            return None
    return None


def _skip_missing_main():
    from joblib.externals.loky.backend import spawn

    fixup = spawn._fixup_main_from_path

    def fixup_if_present(main_path):
        if os.path.isfile(main_path):
            fixup(main_path)

    spawn._fixup_main_from_path = fixup_if_present


def _act_as_python():
    found = _split(sys.argv)
    if found is None:
        return
    option, target, rest = found
    if option == "-m" and target.startswith(_TRUSTED):
        import runpy

        _skip_missing_main()
        sys.argv = [sys.argv[0], *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
        sys.exit(0)
    if option == "-c" and target.lstrip().startswith(tuple(f"from {t}" for t in _TRUSTED)):
        sys.argv = ["-c", *rest]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
        sys.exit(0)


_act_as_python()
