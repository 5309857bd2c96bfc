"""How much faster a sweep runs on two worker processes than one run after another.

24 runs of the spiral-relu preset (4 learning rates x 3 activations x 2 repeats), with
the steps per run sized so that one run takes about 0.7 s on whichever engine path the
preset gets here (the compiled one when numba is installed). ``jobs=1`` trains
them one after another in this process; ``jobs=2`` sends them to two loky worker
processes, started and warmed up (imports done, a first run trained) before any timing.
The two are timed alternately for several rounds, so that other load on a shared
machine slows both alike, and the fastest round of each is reported along with every
round. Both must give identical rows.

Other work on a shared machine caps what any program can gain from a second process, so
each round also measures that cap: the speed-up of two plain Python loops in the same two
workers over the same loops one after another ("machine ceiling"). A sweep speed-up close
to the ceiling means the sweep itself adds little overhead. Last, a load-independent
check: the CPU time a run takes in this process and in a worker (8 runs each); if they
match, two idle cores would give close to twice the speed.

The target on the 2-core reference machine is a speed-up of at least 1.7.

Usage: python benchmarks/sweep_scaling.py [--rounds 3] [--steps N (default: sized)]
The last line is machine-readable:
``sweep_scaling: runs=24 t1_s=<x> t2_s=<x> speedup=<x>``.
"""

from __future__ import annotations

import argparse
import os
import time

from joblib import Parallel, delayed, parallel_config

from playground.experiment.config import Experiment
from playground.experiment.presets import load_preset
from playground.experiment.sweep import SweepSpec, run_one, run_sweep

PRESET = "spiral-relu"
AXES = {
    "training.optimizer.learning_rate": [0.001, 0.003, 0.01, 0.03],
    "network.layers[*].activation": ["relu", "tanh", "elu"],
}
REPEATS = 2
TARGET_RUN_SECONDS = 0.7
CALIBRATION_STEPS = 4000


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def machine_ceiling(n: int = 4_000_000) -> float:
    """Speed-up of two CPU-bound loops on two loky workers over one after another here."""
    start = time.perf_counter()
    _burn(n)
    _burn(n)
    serial = time.perf_counter() - start
    with parallel_config(backend="loky", inner_max_num_threads=1):
        start = time.perf_counter()
        Parallel(n_jobs=2, batch_size=1)(delayed(_burn)(n) for _ in range(2))
        parallel = time.perf_counter() - start
    return serial / parallel


def _cpu_seconds(experiment: Experiment, steps: int) -> float:
    start = time.process_time()
    run_one(experiment, steps)
    return time.process_time() - start


def cpu_per_run(spec: SweepSpec) -> tuple[float, float]:
    """Mean CPU seconds of the spec's first 8 runs here and in the two loky workers."""
    runs = [r.experiment for r in spec.runs[:8]]
    here = [_cpu_seconds(e, spec.steps_per_run) for e in runs]
    with parallel_config(backend="loky", inner_max_num_threads=1):
        there = Parallel(n_jobs=2, batch_size=1)(
            delayed(_cpu_seconds)(e, spec.steps_per_run) for e in runs)
    return sum(here) / len(here), sum(there) / len(there)


def timed_sweep(spec: SweepSpec, jobs: int) -> tuple[float, list]:
    start = time.perf_counter()
    records = run_sweep(spec, jobs=jobs)
    return time.perf_counter() - start, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--steps", type=int,
                        help=f"steps per run (default: about {TARGET_RUN_SECONDS} s a run)")
    args = parser.parse_args()

    base = load_preset(PRESET)
    # Warm up this process (imports, compiled kernels) and size the runs.
    calibration = run_one(base, CALIBRATION_STEPS)
    steps = args.steps or max(1000, int(round(
        CALIBRATION_STEPS * TARGET_RUN_SECONDS / calibration.seconds, -3)))
    spec = SweepSpec(base, AXES, repeats=REPEATS, steps=steps)
    runs = len(spec.runs)
    # Warm up both workers: spawned, modules imported, kernels loaded. The first run in a
    # worker waits for its kernels, so the second worker takes the next run.
    warm = SweepSpec(base, {"training.batch_size": [8, 9, 10, 11]}, steps=200)
    run_sweep(warm, jobs=2)
    single = run_one(spec.runs[0].experiment)
    print(f"{runs} runs of {PRESET}, {steps} steps each on the {single.engine} engine; "
          f"one run alone: {single.seconds:.2f} s; load average before: {_load()}")

    t1s, t2s = [], []
    reference = None
    for r in range(args.rounds):
        print(f"round {r + 1}: machine ceiling {machine_ceiling():.2f}x")
        order = (1, 2) if r % 2 == 0 else (2, 1)
        for jobs in order:
            seconds, records = timed_sweep(spec, jobs)
            (t1s if jobs == 1 else t2s).append(seconds)
            if reference is None:
                reference = records
            elif records != reference:
                raise SystemExit("jobs=1 and jobs=2 gave different rows")
            print(f"round {r + 1}: jobs={jobs}  {seconds:6.2f} s  "
                  f"({seconds / runs * 1000:.0f} ms per run)")
    print(f"load average after: {_load()} (other work on the machine skews the figures)")
    cpu_here, cpu_worker = cpu_per_run(spec)
    projected = min(2.0, 2 * cpu_here / cpu_worker)
    print(f"CPU seconds per run: {cpu_here:.3f} in this process, {cpu_worker:.3f} in a "
          f"worker; two idle cores would give about {projected:.2f}x")
    t1, t2 = min(t1s), min(t2s)
    print(f"identical rows for jobs=1 and jobs=2: yes ({runs} runs)")
    print(f"fastest: jobs=1 {t1:.2f} s, jobs=2 {t2:.2f} s, speed-up {t1 / t2:.2f}x "
          "(target >= 1.7 on 2 cores)")
    print(f"sweep_scaling: runs={runs} t1_s={t1:.2f} t2_s={t2:.2f} speedup={t1 / t2:.2f}")


if __name__ == "__main__":
    main()
