r"""The window tree's run path (models/_window_tree.py: U Mid W nodes, one batched refresh per step,
storage reused across the sequences of a chunk).

Rows read off a tree refreshed in batches of several leaves are checked against brute-force
conditionals (tests/brute.py) and against the same tree refreshed one leaf at a time; long runs
revealing several tokens per step against the sweep path from the same uniforms (shorter ones:
tests/test_window_tree.py); a chunk of sequences against the same sequences run one at a time. The
small cases run once more with ``NUMBA_DISABLE_JIT=1`` (STYLE 15b), as tests/test_window_tree_nojit.py does.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab.models import _kernels as kern
from mdmlab.models import _window_tree as wt
from tests import brute
from tests.conftest import TINY, joint_of

#: n-gram languages of every order the window tree handles: C = K / V = 1 (unigram, bigrams) to V^2 (order 4)
LANGS = {
    "unigram": TINY["unigram"],
    "bigram-dense": lambda: synth.NGramLanguage.random(2, 4, rng=20),
    "bigram-sparse": TINY["bigram-sparse"],
    "trigram-dense": lambda: synth.NGramLanguage.random(3, 3, rng=21),
    "trigram-sparse": lambda: synth.NGramLanguage.random(3, 4, sparsity=0.5, rng=22),
    "4gram-custom-initial": TINY["4gram-custom-initial"],
    "4gram-v3": lambda: synth.NGramLanguage.random(4, 3, sparsity=0.3, rng=23),
}


class _Tree:
    """A window tree as ``sample_chunk`` keeps it, for one string of ``length`` positions."""

    def __init__(self, lang, length):
        a = lang.kernel_arrays()
        self.initial, self.table = np.asarray(a.initial), np.asarray(a.table)
        (K, V), L = self.table.shape, length
        C = K // V
        self.P = P = 1 << (L - 1).bit_length()
        self.A = wt.dense_transition(self.table)
        self.power, self.slot, self.mats = wt.masked_powers(self.A, L, P)
        self.U, self.W = wt._leaf_factors(self.A, P, V)
        self.Mid, self.G, self.T = np.empty((P, C, C)), np.empty((P, C, C)), np.empty((C, C))
        self.ref = np.full((2 * P, 3), -1, dtype=np.int64)
        self.flags = [np.zeros(2 * P, dtype=np.bool_), np.zeros(2 * P, dtype=np.bool_), np.zeros(P, dtype=np.bool_)]
        self.lists = [np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64)]
        self.x = np.full(L, -1, dtype=np.int64)

    def reveal(self, positions, tokens):
        """Set x at ``positions`` and refresh the tree once for all of them."""
        sel = np.asarray(positions, dtype=np.int64)
        self.x[sel] = tokens
        wt._refresh(sel, len(sel), self.x, self.P, self.table, self.U, self.W, self.Mid, self.G, self.T,
                    self.ref, self.power, self.slot, self.mats, *self.flags, *self.lists)

    def rows(self):
        """{i: the row of masked position i}."""
        K, V = self.table.shape
        vec, beta, tmp, tc, td = np.empty(K), np.empty(K), np.empty(K), np.empty(K // V), np.empty(K // V)
        sel = np.flatnonzero(self.x < 0)
        rows = np.full((len(self.x), V), np.nan)
        wt._conditionals(sel, len(sel), self.P, self.initial, self.table, self.U, self.W, self.Mid, self.ref,
                         self.power, self.slot, self.mats, vec, beta, tc, td, tmp, rows)
        assert np.isnan(np.delete(rows, sel, axis=0)).all()  # only the selected rows are written
        return {int(i): rows[i] for i in sel}


def _reveal_in_batches(tree, x, rng):
    """Reveal the non-masked positions of x in random order, in batches of 1 to 4."""
    todo = rng.permutation(np.flatnonzero(x >= 0))
    while len(todo):
        k = min(len(todo), int(rng.integers(1, 5)))
        tree.reveal(todo[:k], x[todo[:k]])
        todo = todo[k:]


@pytest.mark.parametrize("name", ["unigram", "bigram-sparse", "trigram-sparse", "4gram-custom-initial"])
@pytest.mark.parametrize("length", [1, 5, 7])
def test_rows_after_batched_refreshes_are_the_brute_force_conditionals(name, length):
    lang = LANGS[name]()
    V = lang.vocab_size
    length = min(length, 6) if V > 2 else length
    joint = joint_of(lang, length)
    rng = np.random.default_rng(100 + length)
    x = rng.integers(0, V, size=(30, length))
    x = np.where(rng.random(x.shape) < rng.random((30, 1)), synth.MASK, x)
    x[0] = synth.MASK  # nothing revealed: the marginals
    dead = 0
    for row_x in x:
        tree = _Tree(lang, length)
        _reveal_in_batches(tree, row_x, rng)
        got = tree.rows()
        assert sorted(got) == np.flatnonzero(row_x < 0).tolist()
        possible = np.exp(brute.log_prob(joint, row_x)) > 0
        expected = brute.conditionals(joint, row_x) if possible else np.full((length, V), 1.0 / V)
        for i in got:
            np.testing.assert_allclose(got[i], expected[i], rtol=0, atol=1e-12)
        dead += not possible and bool(got)
    if name in ("bigram-sparse", "trigram-sparse") and length > 1:
        assert dead > 0  # the fallback was exercised


@pytest.mark.parametrize("name", ["bigram-dense", "trigram-sparse", "4gram-v3"])
def test_a_batched_refresh_gives_the_rows_of_one_leaf_at_a_time(name):
    # L = 45 (P = 64, padding leaves), half the positions revealed in batches of 1..4 or one by one
    lang, L = LANGS[name](), 45
    x = models.sample(lang, L, L, rng=3).tokens
    rng = np.random.default_rng(4)
    x = np.where(rng.random(L) < 0.5, synth.MASK, x)
    batched, single = _Tree(lang, L), _Tree(lang, L)
    _reveal_in_batches(batched, x, rng)
    for i in rng.permutation(np.flatnonzero(x >= 0)):
        single.reveal([i], x[[i]])
    got, expected = batched.rows(), single.rows()
    assert sorted(got) == sorted(expected) == np.flatnonzero(x < 0).tolist()
    for i in got:
        np.testing.assert_allclose(got[i], expected[i], rtol=1e-12, atol=1e-15)


def test_long_runs_with_about_three_tokens_per_step_agree_with_the_sweep():
    # L = 700 (P = 1024): the benchmarked regime N = L / 3 on a sparse trigram and a dense 4-gram
    for lang in (synth.NGramLanguage.random(3, 4, sparsity=0.5, rng=1), synth.NGramLanguage.random(4, 3, rng=2)):
        kw = dict(size=3, schedule="balanced", rng=8)
        tree = models.sample(lang, 700, 233, method="tree", **kw)
        sweep = models.sample(lang, 700, 233, method="sweep", **kw)
        np.testing.assert_array_equal(tree.tokens, sweep.tokens)
        np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-9)


def test_a_chunk_gives_each_sequence_what_it_gives_alone():
    # the storage is reused across a chunk's sequences: a sequence's result must not depend on its neighbours
    lang = LANGS["trigram-sparse"]()
    a = lang.kernel_arrays()
    initial, table = np.asarray(a.initial), np.asarray(a.table)
    B, L, N = 6, 37, 9
    rng = np.random.default_rng(9)
    counts = np.zeros((B, N), dtype=np.int64)
    for b in range(B):
        counts[b] = np.bincount(rng.integers(0, N, L), minlength=N)
    rank = np.argsort(rng.random((B, L)), axis=1).astype(np.int64)
    token_u = rng.random((B, L))
    block_of = np.zeros(L, dtype=np.int64)

    def run(sl):
        n = len(range(B)[sl])
        out = (np.empty((n, L), dtype=np.int64), np.empty((n, L), dtype=np.int64), np.empty(n),
               np.empty(n, dtype=np.int64))
        wt.sample_window_tree(initial, table, counts[sl], kern.RANDOM, block_of, rank[sl], token_u[sl], *out)
        return out

    together = run(slice(None))
    for b in range(B):
        alone = run(slice(b, b + 1))
        for got, expected in zip(together, alone):
            np.testing.assert_array_equal(got[b], expected[0])


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="already running with the JIT off")
def test_small_cases_pass_with_the_jit_disabled():
    # every @njit body of the run path traced as plain Python; the inner run skips this test and the long one
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pytest", "tests/test_window_tree_batched.py", "-q", "-p", "no:cacheprovider",
           "-k", "not long_runs and not jit_disabled"]
    proc = subprocess.run(cmd, cwd=root, env=dict(os.environ, NUMBA_DISABLE_JIT="1"), capture_output=True, text=True,
                          timeout=300)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"NUMBA_DISABLE_JIT=1 run failed:\n{tail}"
    assert " passed" in tail and " failed" not in tail and "no tests ran" not in tail
