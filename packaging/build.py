"""Build the packaged app with PyInstaller and report its size and the build time.

    python packaging/build.py                  # one folder:  dist/playground/playground
    python packaging/build.py --onefile        # one file:    dist/playground
    python packaging/build.py --with-numba     # ... with the compiled fast path
    python packaging/build.py --self-test      # ... then run the result's --self-test
    python packaging/build.py --startup 5      # ... and time start to window five times

Needs PyInstaller (``pip install -e ".[package]"``) and builds for the platform it runs
on. Intermediate files go to ``build/``, the result to ``dist/`` (both ignored by git);
``--dist`` and ``--work`` put them elsewhere. Exit code 0 when the build (and the
self-test, if asked for) succeeded.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "playground.spec"
NAME = "playground"
#: Set for the app by ``run_self_test``: when it was launched (``time.time()``), so that the
#: self-test can report the time from launch to the window's first paint.
LAUNCHED_AT_ENV = "PLAYGROUND_LAUNCHED_AT"
#: How the self-test's line reports the time from launch to the window's first paint.
WINDOW_SHOWN = re.compile(r"window shown (\d+(?:\.\d+)?) s after start")


def executable(dist: Path, *, onefile: bool) -> Path:
    """Where the build puts the program."""
    suffix = ".exe" if sys.platform == "win32" else ""
    if onefile:
        return dist / f"{NAME}{suffix}"
    return dist / NAME / f"{NAME}{suffix}"


def size_on_disk(path: Path) -> int:
    """Bytes in a file, or in all files under a folder (symbolic links counted once)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(dist: Path, work: Path, *, onefile: bool = False, numba: bool = False,
          clean: bool = False, log_level: str = "WARN") -> tuple[Path, float]:
    """Run PyInstaller on the spec; returns the program's path and the seconds it took.
    ``numba`` includes the compiled fast path (over the size budget, so off by default).
    Raises ``subprocess.CalledProcessError`` when PyInstaller fails."""
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", log_level,
               "--distpath", str(dist), "--workpath", str(work)]
    if clean:
        command.append("--clean")
    command += [str(SPEC), "--"]
    if onefile:
        command.append("--onefile")
    command.append("--with-numba" if numba else "--without-numba")
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    return executable(dist, onefile=onefile), time.perf_counter() - start


def run_self_test(program: Path, *, env: dict[str, str] | None = None,
                  timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run ``program --self-test`` (offscreen when there is no display); output captured."""
    env = dict(os.environ if env is None else env)
    env[LAUNCHED_AT_ENV] = repr(time.time())
    return subprocess.run([str(program), "--self-test"], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def startup_seconds(program: Path, runs: int) -> list[float]:
    """Seconds from launch to the window's first paint in ``runs`` self-tests of
    ``program`` (offscreen without a display; the compiled engine is left alone)."""
    env = {key: value for key, value in os.environ.items()
           if key != "PLAYGROUND_SELF_TEST_COMPILED_WAIT"}
    found = []
    for _ in range(runs):
        outcome = run_self_test(program, env=env)
        match = WINDOW_SHOWN.search(outcome.stdout)
        if outcome.returncode != 0 or match is None:
            raise RuntimeError("the self-test failed: " + (outcome.stdout + outcome.stderr)[-2000:])
        found.append(float(match.group(1)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onefile", action="store_true",
                        help="build one self-unpacking executable instead of a folder")
    numba = parser.add_mutually_exclusive_group()
    numba.add_argument("--with-numba", dest="numba", action="store_true",
                       help="include the compiled fast path (numba and llvmlite, ~165 MB)")
    numba.add_argument("--without-numba", dest="numba", action="store_false",
                       help="leave the compiled fast path out (the default)")
    parser.set_defaults(numba=False)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="where the result goes (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build",
                        help="where PyInstaller keeps intermediate files (default: build/)")
    parser.add_argument("--clean", action="store_true",
                        help="empty PyInstaller's caches first (a build from scratch)")
    parser.add_argument("--self-test", action="store_true",
                        help="run the built program's --self-test afterwards")
    parser.add_argument("--startup", type=int, default=0, metavar="N",
                        help="time start to window shown in N self-tests, print the median")
    parser.add_argument("--log-level", default="WARN",
                        help="PyInstaller's log level (default: WARN)")
    args = parser.parse_args(argv)

    try:
        program, seconds = build(args.dist.resolve(), args.work.resolve(),
                                 onefile=args.onefile, numba=args.numba,
                                 clean=args.clean, log_level=args.log_level)
    except subprocess.CalledProcessError as err:
        print(f"build failed: PyInstaller exited with {err.returncode}", file=sys.stderr)
        return 1
    result = program if args.onefile else program.parent
    kind = "one file" if args.onefile else "one folder"
    print(f"built {result} ({kind}) in {seconds:.0f} s: "
          f"{size_on_disk(result) / 1e6:.0f} MB")
    if args.self_test:
        outcome = run_self_test(program)
        lines = (outcome.stdout + outcome.stderr).strip().splitlines()
        print("\n".join(line for line in lines if line.startswith("self-test")) or
              "\n".join(lines[-20:]))
        if outcome.returncode != 0:
            return 1
    if args.startup > 0:
        try:
            times = startup_seconds(program, args.startup)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"start to window shown: median {statistics.median(times):.2f} s of "
              f"{', '.join(f'{t:.2f}' for t in times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
