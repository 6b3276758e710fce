r"""The window tree (models/_window_tree.py): n-gram static-policy runs on rank-C factored tree nodes.

Its runs are checked against the sweep path from the same uniforms (same tokens, log p_M to rounding)
and its output law against ``models.exact_law``; its rows against brute-force conditionals on every
evidence pattern of tiny strings in tests/test_window_tree_batched.py.
"""
import numba
import numpy as np
import pytest
from scipy import stats

from mdmlab import models
from mdmlab import synth
from mdmlab.models import _window_tree as wt
from tests.conftest import TINY

#: n-gram languages of every order the window tree handles: C = K / V = 1 (unigram, bigrams) to V^2 (order 4)
LANGS = {
    "unigram": TINY["unigram"],
    "bigram-dense": lambda: synth.NGramLanguage.random(2, 4, rng=10),
    "bigram-sparse": TINY["bigram-sparse"],
    "trigram-dense": lambda: synth.NGramLanguage.random(3, 3, rng=11),
    "trigram-sparse": lambda: synth.NGramLanguage.random(3, 4, sparsity=0.5, rng=12),
    "4gram-custom-initial": TINY["4gram-custom-initial"],
    "4gram-v3": lambda: synth.NGramLanguage.random(4, 3, sparsity=0.3, rng=13),
}
DRAWS = 20_000


def test_masked_powers_are_the_powers_of_the_window_chain():
    lang = LANGS["trigram-sparse"]()
    A = wt.dense_transition(np.asarray(lang.kernel_arrays().table))
    np.testing.assert_array_equal(A, lang.chain().dense().transition)
    for L, P in ((1, 1), (5, 8), (8, 8), (13, 16)):
        power, slot, mats = wt.masked_powers(A, L, P)
        assert len(mats) == len(set(power[1:].tolist()))  # one matrix per distinct power
        leaves = (np.arange(P) >= 1) & (np.arange(P) < L)  # M_0 = I and padding leaves are I while masked
        for node in range(1, 2 * P):
            lo = node << (P.bit_length() - node.bit_length())  # first leaf of node's segment
            span = P >> (node.bit_length() - 1)
            assert power[node] == leaves[lo - P:lo - P + span].sum()
            np.testing.assert_allclose(mats[slot[node]], np.linalg.matrix_power(A, power[node]), rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", sorted(LANGS))
@pytest.mark.parametrize("policy,block_length", [("random", None), ("random", 3), ("left-to-right", None)])
@pytest.mark.parametrize("length,steps,schedule", [(13, 13, "balanced"), (16, 5, "cosine"), (9, 3, [4, 0, 5]),
                                                   (1, 1, "linear"), (12, 1, "linear"), (23, 7, "balanced"),
                                                   (32, 5, "cosine"), (17, 4, [6, 0, 2, 9])])
def test_runs_agree_with_the_sweep_to_rounding(name, policy, block_length, length, steps, schedule):
    lang = LANGS[name]()
    block_length = None if block_length is None else min(block_length, length)
    kw = dict(size=20, schedule=schedule, policy=policy, block_length=block_length, rng=length + steps)
    tree = models.sample(lang, length, steps, method="tree", **kw)
    sweep = models.sample(lang, length, steps, method="sweep", **kw)
    assert (tree.method, sweep.method) == ("tree", "sweep")
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)  # differs only if a uniform hits a CDF edge
    np.testing.assert_array_equal(tree.reveal_step, sweep.reveal_step)
    np.testing.assert_array_equal(tree.nfe, sweep.nfe)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-9, atol=1e-12)


def test_impossible_reveals_fall_back_to_uniform_rows_as_the_sweep_does():
    # a bigram with forbidden pairs revealed three at a time: many runs reveal an impossible combination
    lang = LANGS["bigram-sparse"]()
    kw = dict(size=200, schedule="balanced", rng=7)
    tree = models.sample(lang, 9, 3, method="tree", **kw)
    sweep = models.sample(lang, 9, 3, method="sweep", **kw)
    assert (~lang.in_support(tree.tokens)).sum() >= 10
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-9, atol=1e-12)


def test_long_one_token_per_step_runs_agree_with_the_sweep():
    # L = 300 (P = 512, padding leaves): deep trees, many distinct masked powers
    lang = synth.NGramLanguage.random(3, 4, sparsity=0.5, rng=1)
    kw = dict(size=4, schedule="balanced", rng=5)
    tree = models.sample(lang, 300, 300, method="tree", **kw)
    sweep = models.sample(lang, 300, 300, method="sweep", **kw)
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-9)
    assert lang.in_support(tree.tokens).all()


@pytest.mark.parametrize("steps,schedule", [(2, "linear"), (4, "balanced")])
@pytest.mark.parametrize("policy", ["random", "left-to-right"])
def test_histogram_matches_exact_law(steps, schedule, policy):
    lang = LANGS["trigram-dense"]()
    law = models.exact_law(lang, 4, steps, schedule=schedule, policy=policy)
    res = models.sample(lang, 4, steps, size=DRAWS, schedule=schedule, policy=policy, method="tree", rng=6)
    codes = np.ravel_multi_index(tuple(res.tokens.T), law.shape)
    counts, p = np.bincount(codes, minlength=law.size), law.reshape(-1)
    assert counts[p == 0].sum() == 0
    keep = p > 0
    assert keep.sum() <= 81  # small support: every cell expects many draws
    # a correct sampler fails with probability 1e-4
    assert stats.chisquare(counts[keep], DRAWS * p[keep] / p[keep].sum()).pvalue > 1e-4


def test_histogram_check_fails_on_a_wrong_law():
    # the check above can fail: the same draws against the law of another policy are rejected
    lang = LANGS["trigram-dense"]()
    law = models.exact_law(lang, 4, 2, schedule="linear", policy="left-to-right")
    res = models.sample(lang, 4, 2, size=DRAWS, schedule="linear", policy="random", method="tree", rng=6)
    counts, p = np.bincount(np.ravel_multi_index(tuple(res.tokens.T), law.shape), minlength=law.size), law.ravel()
    keep = p > 0
    assert stats.chisquare(counts[keep], DRAWS * p[keep] / p[keep].sum()).pvalue < 1e-4


def test_thread_count_invariance():
    lang = LANGS["trigram-sparse"]()
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            runs.append(models.sample(lang, 40, 40, size=8, schedule="balanced", method="tree", rng=3))
    finally:
        numba.set_num_threads(before)
    for field in ("tokens", "reveal_step", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))


def test_auto_picks_the_window_tree_for_one_token_per_step_on_a_large_trigram():
    lang = synth.NGramLanguage.random(3, 8, sparsity=0.5, rng=1)  # K = 64 windows, C = 8
    assert models.sample(lang, 1024, 1024, schedule="balanced", rng=0).method == "tree"
    assert models.sample(lang, 1024, 4, rng=0).method == "sweep"


def test_window_tree_memory_is_checked_before_any_draw():
    lang = synth.NGramLanguage.random(3, 8, rng=1)
    with pytest.raises(ValueError, match=r"window tree's factors.*GiB"):
        models.sample(lang, 2 ** 21, 2 ** 21, method="tree", rng=0)
