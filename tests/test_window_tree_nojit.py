r"""The window tree's small tests once more with ``NUMBA_DISABLE_JIT=1`` (STYLE 15b), as tests/test_nojit.py
does for the other kernels: every ``@njit`` body of models/_window_tree.py runs as plain Python, so its
lines are traced and a numba-only construct would fail here. The inner run is a subprocess with the
variable set; it skips this module, so it never recurses.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: rows against brute force, masked powers, the uniform fallback and runs on languages with K <= 9
#: (pure-Python matrix products are slow: the K = 16 and 27 runs are left to the compiled suite)
SELECT = ("rows_are or masked_powers or impossible or (runs_agree and (unigram or bigram "
          "or 4gram-custom-initial or trigram-dense))")
TIMEOUT_S = 300


def nojit_command():
    """The inner pytest command (what a developer runs by hand, with NUMBA_DISABLE_JIT=1)."""
    return [sys.executable, "-m", "pytest", "tests/test_window_tree.py", "-k", SELECT, "-q", "-p", "no:cacheprovider"]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="already running with the JIT off")
def test_window_tree_small_cases_pass_with_the_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(nojit_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"NUMBA_DISABLE_JIT=1 run failed:\n{tail}"
    assert " passed" in tail and " failed" not in tail and "no tests ran" not in tail
