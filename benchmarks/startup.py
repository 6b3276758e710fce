r"""Cold start: the first ``mdmlab sample`` on an empty numba cache against the same command warm.

Issue 13's target is a cold first call of at most 8 s on this 2-core machine; the check reports the
measured seconds against it (not met at this revision: about 12-15 s, see the README).
"""
import os
import subprocess
import sys
import tempfile
import time

COMMAND = ["-m", "mdmlab", "sample", "pair-copy:symbols=4", "--length", "24", "--steps", "6", "--no-colour"]


def _seconds(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *COMMAND], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def run():
    with tempfile.TemporaryDirectory() as cache:
        cold = _seconds(cache)
        warm = min(_seconds(cache) for _ in range(2))
    print(f"mdmlab sample pair-copy:symbols=4 --length 24 --steps 6: cold (empty numba cache) {cold:.1f} s, "
          f"warm {warm:.1f} s")
    return [("first mdmlab sample on an empty numba cache (s)", cold, "<=", 8.0)]
