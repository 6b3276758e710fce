r"""Sampling histograms against the exact law, and the fused path against the generic driver."""
import numba
import numpy as np
import pytest
from scipy import stats

from mdmlab import models
from mdmlab import synth
from tests.conftest import TINY

DRAWS = 20_000
L, N = 4, 2
SCHEDULES = ["linear", "cosine", "loglinear", "balanced", "balanced-back", [3, 1], lambda t: 1 - t ** 2]
POLICIES = ["random", "left-to-right", "confidence", "margin", "entropy"]


def _chi_square_p(lang, law, res):
    codes = np.ravel_multi_index(tuple(res.tokens.T), law.shape)
    counts = np.bincount(codes, minlength=law.size)
    p = law.reshape(-1)
    assert counts[p == 0].sum() == 0, "sampled a string the exact law gives probability zero"
    keep = p > 0
    assert keep.sum() <= 81  # small support: every cell expects many draws
    return stats.chisquare(counts[keep], DRAWS * p[keep] / p[keep].sum()).pvalue


@pytest.mark.parametrize("schedule", SCHEDULES, ids=str)
def test_histogram_matches_exact_law_for_every_count_policy(schedule):
    lang = TINY["bigram-sparse"]()
    law = models.exact_law(lang, L, N, schedule=schedule)
    res = models.sample(lang, L, N, size=DRAWS, schedule=schedule, rng=1)
    assert _chi_square_p(lang, law, res) > 1e-4  # a correct sampler fails with probability 1e-4


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("block_length", [None, 3])
def test_histogram_matches_exact_law_for_every_position_policy(policy, block_length):
    lang = TINY["hmm-sparse"]()
    law = models.exact_law(lang, L, N, schedule="linear", policy=policy, block_length=block_length)
    res = models.sample(lang, L, N, size=DRAWS, schedule="linear", policy=policy, block_length=block_length, rng=2)
    assert _chi_square_p(lang, law, res) > 1e-4


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("schedule", ["cosine", "balanced-back"])
def test_fused_path_and_generic_driver_agree_bit_for_bit(name, policy, schedule):
    lang = TINY[name]()
    kw = dict(size=50, schedule=schedule, policy=policy, block_length=5, rng=3)
    a = models.sample(lang, 16, 5, method="sweep", **kw)  # the fused path ("auto" may take the tree)
    b = models.sample(models.ExactDenoiser(lang), 16, 5, **kw)
    for field in ("tokens", "reveal_step", "nfe", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_one_token_per_step_samples_stay_in_support_and_reveal_once():
    lang = synth.NGramLanguage.random(3, 4, sparsity=0.6, rng=0)
    res = models.sample(lang, 200, 200, size=20, schedule="balanced", rng=1)
    assert lang.in_support(res.tokens).all()
    assert (np.sort(res.reveal_step, axis=1) == np.arange(200)).all()
    assert (res.nfe == 200).all()
    np.testing.assert_allclose(res.log_prob_sampler, lang.log_prob(res.tokens), rtol=1e-10)


def test_reveal_counts_follow_the_schedule():
    lang = TINY["unigram"]()
    res = models.sample(lang, 10, 4, size=5, schedule="balanced-back", rng=0)
    per_step = np.stack([(res.reveal_step == j).sum(axis=1) for j in range(4)], axis=1)
    assert (per_step == [2, 2, 3, 3]).all()
    assert res.schedule.counts.tolist() == [2, 2, 3, 3] and res.schedule.max_per_step == 3
    res = models.sample(lang, 10, 4, size=5, schedule=[0, 4, 0, 6], rng=0)
    assert (res.nfe == 2).all()


def test_left_to_right_and_blocks_reveal_in_order():
    lang = TINY["hmm-dense"]()
    res = models.sample(lang, 6, 6, size=3, schedule="balanced", policy="left-to-right", rng=0)
    assert (res.reveal_step == np.arange(6)).all()
    res = models.sample(lang, 7, 7, size=50, schedule="balanced", policy="confidence", block_length=3, rng=0)
    block = np.arange(7) // 3
    for b in range(50):  # a later block is never started before an earlier one is finished
        assert (np.diff(block[np.argsort(res.reveal_step[b])]) >= 0).all()


def test_same_seed_same_run_and_thread_count_invariance():
    lang = TINY["trigram-sparse"]()
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            runs.append(models.sample(lang, 30, 7, size=40, policy="margin", rng=11))
    finally:
        numba.set_num_threads(before)
    for field in ("tokens", "reveal_step", "nfe", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))
    assert not np.array_equal(runs[0].tokens, models.sample(lang, 30, 7, size=40, policy="margin", rng=12).tokens)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "unigram"])
@pytest.mark.parametrize("policy,schedule,steps", [("random", "balanced", 40), ("left-to-right", "cosine", 9),
                                                   ("random", [10, 0, 30], 3)])
def test_tree_path_agrees_with_the_sweep_to_rounding(name, policy, schedule, steps):
    lang = TINY[name]()
    kw = dict(size=30, schedule=schedule, policy=policy, block_length=7, rng=4)
    tree = models.sample(lang, 40, steps, method="tree", **kw)
    sweep = models.sample(lang, 40, steps, method="sweep", **kw)
    assert (tree.method, sweep.method) == ("tree", "sweep")
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)  # differs only if a uniform hits a CDF edge
    np.testing.assert_array_equal(tree.reveal_step, sweep.reveal_step)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-12)


def test_tree_path_histogram_matches_exact_law():
    lang = TINY["hmm-sparse"]()
    law = models.exact_law(lang, L, N, schedule="linear")
    res = models.sample(lang, L, N, size=DRAWS, schedule="linear", method="tree", rng=6)
    assert _chi_square_p(lang, law, res) > 1e-4


def test_auto_method_picks_the_tree_for_one_token_per_step():
    lang = synth.HMMLanguage.random(4, 3, rng=0)
    assert models.sample(lang, 256, 256, schedule="balanced", rng=0).method == "tree"
    assert models.sample(lang, 256, 2, rng=0).method == "sweep"
    assert models.sample(lang, 256, 256, schedule="balanced", policy="margin", rng=0).method == "sweep"
    assert models.sample(models.ExactDenoiser(lang), 8, 2, rng=0).method == "generic"


@pytest.mark.parametrize("policy,block_length", [("random", None), ("random", 3), ("left-to-right", None)])
def test_reveal_partitions_match_the_sampler_partitions(policy, block_length):
    lang = TINY["hmm-dense"]()
    kw = dict(size=20, schedule="cosine", policy=policy, block_length=block_length, rng=8)
    np.testing.assert_array_equal(models.reveal_partitions(10, 4, **kw), models.sample(lang, 10, 4, **kw).reveal_step)
    with pytest.raises(ValueError, match=r"needs a static policy"):
        models.reveal_partitions(10, 4, policy="entropy")
