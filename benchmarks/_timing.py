r"""Timing helpers shared by the benchmark suites."""
import os
import platform
import time

import numba
import numpy as np


def best_time(fn, *, repeat=5, warmup=1):
    """Best wall time in seconds of ``fn()`` over ``repeat`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def machine():
    """One line naming the machine the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, numba {numba.__version__} with {numba.get_num_threads()} "
            f"threads, numpy {np.__version__}")


def report(rows):
    """Print rows of (check, measured, op, target) with op ">=" or "<="; return whether all pass."""
    ok = True
    print(f"{'check':<76} {'measured':>9} {'target':>10}  verdict")
    for name, value, op, target in rows:
        passed = value >= target if op == ">=" else value <= target
        ok &= passed
        print(f"{name:<76} {value:>9.2f} {op + ' ' + format(target, '.2f'):>10}  {'PASS' if passed else 'FAIL'}")
    return ok
