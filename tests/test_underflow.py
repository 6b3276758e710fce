r"""Masked marginals as underflow-safe as observed strings (issue 14), against an exact log-space oracle.

With transitions of 1e-300 a masked step multiplies two of them inside one message entry (1e-600
underflows to 0) while the observed string absorbs them one step at a time; the kernels redo such
sequences in log space. The oracle enumerates every hidden path and every completion of the masked
positions in log space, with no recursion.
"""
import itertools

import numpy as np
import pytest

from mdmlab import synth

TINY = 1e-300


def _logsumexp(a):
    a = np.asarray(a, dtype=float)
    m = a.max()
    return m if m == -np.inf else m + np.log(np.exp(a - m).sum())


def brute_hmm_log_prob(lang, x):
    r"""log sum_z pi[z_1] prod A[z_{t-1}, z_t] prod_{observed t} E[z_t, x_t], every path enumerated."""
    with np.errstate(divide="ignore"):
        lpi, lA, lE = np.log(lang.initial), np.log(lang.transition), np.log(lang.emission)
    terms = []
    for z in itertools.product(range(lang.num_states), repeat=len(x)):
        terms.append(lpi[z[0]] + sum(lA[z[t - 1], z[t]] for t in range(1, len(x)))
                     + sum(lE[z[t], x[t]] for t in range(len(x)) if x[t] >= 0))
    return _logsumexp(terms)


def brute_bigram_log_prob(lang, x):
    r"""log sum over completions y of the masked positions of initial[y_1] prod table[y_{t-1}, y_t]."""
    with np.errstate(divide="ignore"):
        lt, li = np.log(lang.table), np.log(lang.initial)
    masked = [t for t in range(len(x)) if x[t] < 0]
    terms = []
    for fill in itertools.product(range(lang.vocab_size), repeat=len(masked)):
        y = list(x)
        for t, v in zip(masked, fill):
            y[t] = v
        terms.append(li[y[0]] + sum(lt[y[t - 1], y[t]] for t in range(1, len(y))))
    return _logsumexp(terms)


def _cycle(K):
    """Stay with probability 1 - 1e-300, move to the next state with 1e-300: two moves need 1e-600."""
    A = np.eye(K) * (1 - TINY)
    for i in range(K):
        A[i, (i + 1) % K] = TINY
    return A


def test_the_issue_case_masked_is_finite_and_exact():
    A = _cycle(3)
    hmm = synth.HMMLanguage(np.ones(3) / 3, A, np.eye(3))
    bigram = synth.NGramLanguage(2, A)
    for lang, brute in ((hmm, brute_hmm_log_prob), (bigram, brute_bigram_log_prob)):
        observed = lang.log_prob([0, 1, 2])
        masked = lang.log_prob([0, -1, 2])  # was -inf: only 0 -> 1 -> 2, 1e-600 within one step
        assert np.isfinite(observed) and np.isfinite(masked)
        assert masked == pytest.approx(brute(lang, [0, -1, 2]), rel=1e-13)
        assert lang.log_prob([0, -1, -1, 2]) == pytest.approx(brute(lang, [0, -1, -1, 2]), rel=1e-13)
        assert lang.log_prob([0, 2, -1]) == -np.inf  # a true zero stays -inf
        rows = lang.conditionals([0, -1, 2])  # was an error (the observed tokens seemed impossible)
        np.testing.assert_array_equal(rows[1], [0.0, 1.0, 0.0])


def _near_deterministic_hmm(rng, K, V):
    def rows(n, m):
        out = rng.choice([0.0, TINY, 1e-200, 1e-150], size=(n, m), p=[0.4, 0.3, 0.2, 0.1])
        out[np.arange(n), rng.integers(m, size=n)] = 1.0
        return out / out.sum(axis=1, keepdims=True)

    return synth.HMMLanguage(rows(1, K)[0] * 0 + 1.0 / K, rows(K, K), rows(K, V))


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_near_deterministic_hmm_matches_log_space_brute_force(seed):
    rng = np.random.default_rng(seed)
    lang = _near_deterministic_hmm(rng, 3, 3)
    strings = np.array(list(itertools.product(range(-1, 3), repeat=4)))  # every string over {MASK, 0, 1, 2}
    got = lang.log_prob(strings)
    want = np.array([brute_hmm_log_prob(lang, x) for x in strings])
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12)
    # the conditionals of a masked position: exact ratios of the brute-force marginals
    for x in strings[fin & (strings < 0).any(axis=1)][:20]:
        i = int(np.flatnonzero(x < 0)[0])
        logs = []
        for v in range(3):
            y = x.copy()
            y[i] = v
            logs.append(brute_hmm_log_prob(lang, y))
        np.testing.assert_allclose(lang.conditionals(x)[i], np.exp(np.array(logs) - _logsumexp(logs)), atol=1e-12)


def test_fuzzed_near_deterministic_bigram_matches_log_space_brute_force():
    rng = np.random.default_rng(9)
    table = rng.choice([0.0, TINY, 1e-200], size=(3, 3), p=[0.3, 0.5, 0.2])
    table[np.arange(3), rng.permutation(3)] = 1.0
    lang = synth.NGramLanguage(2, table / table.sum(axis=1, keepdims=True))
    strings = np.array(list(itertools.product(range(-1, 3), repeat=4)))
    got = lang.log_prob(strings)
    want = np.array([brute_bigram_log_prob(lang, x) for x in strings])
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-12)
