r"""Every synth kernel against its plain mirror in tests/naive.py (STYLE 14, 15b).

Exact quantities agree to 1e-12; draws from the same uniforms agree token for token. The naive
token rows are ratios of evidences, so they share no backward pass with the kernels.
"""
import itertools

import numpy as np
import pytest

from mdmlab import synth
from mdmlab.synth import _kernels as skern
from tests import brute, naive
from tests.conftest import TINY, joint_of, naive_of

NAMES = sorted(TINY)
NGRAMS = [name for name in NAMES if isinstance(TINY[name](), synth.NGramLanguage)]


def _random_masked(lang, length, count, seed):
    """``count`` random strings (not all in the support) with random mask rates from 0 to 1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, lang.vocab_size, size=(count, length))
    return np.where(rng.random(x.shape) < rng.random((count, 1)), synth.MASK, x)


def _assert_rows_equal(got, expected):
    """Rows agree to 1e-12, NaN sentinels included."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "4gram-custom-initial"])
def test_naive_evidence_is_the_brute_force_joint(name):
    # the oracle itself, once, against plain enumeration
    nv, L = naive_of(name), 4
    joint = joint_of(TINY[name](), L)
    for x in itertools.product(range(nv.V), repeat=L):
        assert np.exp(nv.log_evidence(x)) == pytest.approx(joint[x], abs=1e-14)


def test_draw_categorical_matches_kernel_with_zero_mass_and_rounding():
    rng = np.random.default_rng(0)
    cdfs = [np.cumsum(p) for p in ([0.5, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [1e-300, 0.0, 0.0])]
    cdfs += [np.cumsum(np.where(rng.random(5) < 0.4, 0.0, rng.random(5))) + 1e-3 for _ in range(20)]
    us = np.r_[0.0, 0.5, np.nextafter(1.0, 0.0), rng.random(50)]
    for cdf in cdfs:
        for u in us:
            assert skern.draw_categorical(cdf, u) == naive.draw_categorical(list(cdf), float(u))
    # u * total rounding up to total: no index has cdf > target, the last positive-mass one is used
    edge = [0.5, 1.0, 1.0, 1.0]
    assert naive.draw_categorical(edge, 1.0) == 1 == skern.draw_categorical(np.array(edge), 1.0)


@pytest.mark.parametrize("name", ["bigram-sparse", "trigram-sparse"])
def test_uniform_precontext_rule_matches(name):
    lang, nv = TINY[name](), naive_of(name)
    expected = np.array([nv.initial[w] for w in nv.windows]).reshape(lang.initial.shape)
    np.testing.assert_allclose(lang.initial, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [1, 2, 5])
def test_log_prob_matches_naive_under_masks(name, length):
    lang, nv = TINY[name](), naive_of(name)
    x = _random_masked(lang, length, 60, seed=length)
    if length <= 3:
        x = np.vstack([brute.all_strings(lang.vocab_size, length), x])
    got = lang.log_prob(x)
    expected = np.array([nv.log_evidence(tuple(int(v) for v in row)) for row in x])
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [1, 3, 5])
def test_conditionals_match_naive_under_random_masks(name, length):
    lang, nv = TINY[name](), naive_of(name)
    x = lang.sample(length, 30, rng=length)
    rng = np.random.default_rng(length)
    xm = np.where(rng.random(x.shape) < rng.random((30, 1)), synth.MASK, x)
    xm[0] = synth.MASK
    got = lang.conditionals(xm)
    for b in range(len(xm)):
        _assert_rows_equal(got[b], naive.conditionals(nv, xm[b]))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("onehot_observed", [False, True])
def test_token_posteriors_kernel_rows_and_nan_sentinel(name, onehot_observed):
    # the kernels' own contract: rows given the *other* observed tokens, NaN where no value has
    # mass, log p(x_obs) = -inf for impossible observations (strings outside the support included)
    lang, nv = TINY[name](), naive_of(name)
    x = _random_masked(lang, 5, 40, seed=9)
    rows, log_ev = lang._run_posteriors(x, onehot_observed=onehot_observed)
    for b in range(len(x)):
        exp_rows, exp_lp = naive.token_posteriors(nv, x[b], onehot_observed)
        _assert_rows_equal(rows[b], exp_rows)
        assert log_ev[b] == pytest.approx(exp_lp, abs=1e-12) or log_ev[b] == exp_lp == -np.inf


@pytest.mark.parametrize("name", NAMES)
def test_leave_one_out_matches_naive(name):
    lang, nv = TINY[name](), naive_of(name)
    x = brute.all_strings(lang.vocab_size, 4)
    x = x[lang.in_support(x)]
    got = lang.leave_one_out(x)
    for b in range(len(x)):
        _assert_rows_equal(got[b], naive.leave_one_out(nv, x[b]))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [1, 2, 7])
def test_sample_matches_naive_given_the_same_uniforms(name, length):
    # the public layout: one rng.random((B, L, 2)) for an HMM (emission, transition), (B, L) for an n-gram
    lang, nv, B = TINY[name](), naive_of(name), 50
    got = lang.sample(length, B, rng=length)
    per_token = (2,) if isinstance(lang, synth.HMMLanguage) else ()
    u = np.random.default_rng(length).random((B, length) + per_token)
    expected = np.array([nv.sample(u[b].tolist()) for b in range(B)])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", NGRAMS)
def test_ngram_entropy_matches_naive_chain_rule(name):
    lang, nv = TINY[name](), naive_of(name)
    for length in (1, 2, 3, 6):
        assert lang.entropy(length).nats == pytest.approx(nv.entropy(length), abs=1e-12)
