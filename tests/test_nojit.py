r"""The small exact tests once more with ``NUMBA_DISABLE_JIT=1`` (STYLE 15b).

With the JIT off every ``@njit`` kernel is its plain Python body (``prange`` is ``range``), so the
kernels' lines are traced by Python (coverage can see them) and a numba-only construct that
Python cannot run would fail here. The inner run is a subprocess with the variable set; it skips
this module, so it never recurses.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The naive-oracle tests and the small exact tests; sampling histograms (20,000 draws), the long
#: stability checks, the thread-count test and the L = 200 run are left to the compiled suite.
FILES = ["tests/test_naive_synth.py", "tests/test_naive_sampler.py", "tests/test_naive_law.py",
         "tests/test_synth_exact.py", "tests/test_models_exact.py", "tests/test_synth_crosscheck.py",
         "tests/test_models_sampling.py", "tests/test_rules.py", "tests/test_underflow.py"]
DESELECT = ("not histogram and not thread_count and not long_sequences "
            "and not one_token_per_step_samples_stay_in_support and not matches_samples and not wrong_rule "
            "and not more_steps_than_tokens and not moderate_probabilities and not samples_agree_with_remask_law")
TIMEOUT_S = 300  # about 30 s on 2 busy cores; a hang fails instead of blocking the suite


def nojit_command():
    """The inner pytest command (what a developer runs by hand, with NUMBA_DISABLE_JIT=1)."""
    return [sys.executable, "-m", "pytest", *FILES, "-k", DESELECT, "-q", "-p", "no:cacheprovider"]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="already running with the JIT off")
def test_small_cases_pass_with_the_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(nojit_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"NUMBA_DISABLE_JIT=1 run failed:\n{tail}"
    assert " passed" in tail and " failed" not in tail and "no tests ran" not in tail
