r"""The sampler's exact law against brute-force reasoning, closed forms and the language's law."""
import itertools
import math

import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from tests.conftest import TINY, joint_of


def pair_copy(k):
    r"""HMM: positions in pairs, the first uniform over k symbols, the second a copy of it.

    States (phase, symbol): (0, a) -> (1, a) surely, (1, a) -> (0, b) with probability 1/k.
    """
    K = 2 * k
    initial = np.r_[np.full(k, 1 / k), np.zeros(k)]
    A = np.zeros((K, K))
    A[np.arange(k), k + np.arange(k)] = 1.0
    A[k:, :k] = 1 / k
    E = np.vstack([np.eye(k), np.eye(k)])
    return synth.HMMLanguage(initial, A, E)


POLICIES = ["random", "left-to-right", "confidence", "margin", "entropy"]


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "bigram-sparse"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("block_length", [None, 3])
def test_one_token_per_step_reproduces_the_language(name, policy, block_length):
    lang = TINY[name]()
    law = models.exact_law(lang, 4, 4, schedule="balanced", policy=policy, block_length=block_length)
    np.testing.assert_allclose(law, joint_of(lang, 4), rtol=0, atol=1e-12)


def test_pair_copy_by_hand():
    lang = pair_copy(2)
    # N = 1: both halves drawn independently from the uniform marginals.
    np.testing.assert_allclose(models.exact_law(lang, 2, 1, schedule="linear"), np.full((2, 2), 0.25), atol=1e-15)
    # N = 2, linear: each position is revealed at step 1 with probability 1/2; both at the same step
    # with probability 1/2, and then they differ with probability 1/2: q(0, 1) = 1/8.
    np.testing.assert_allclose(models.exact_law(lang, 2, 2, schedule="linear"),
                               [[0.375, 0.125], [0.125, 0.375]], atol=1e-15)
    np.testing.assert_allclose(models.exact_law(lang, 2, 2, schedule="balanced"), [[0.5, 0], [0, 0.5]], atol=1e-15)


@pytest.mark.parametrize("k,L,N", [(2, 4, 2), (2, 4, 3), (3, 4, 2), (2, 6, 3)])
def test_pair_copy_sequence_error_matches_closed_form(k, L, N):
    # random policy, linear schedule: reveal steps i.i.d. uniform on N steps, so
    # SER = 1 - (1 - (1 - 1/k) / N)^(L/2).
    lang = pair_copy(k)
    law = models.exact_law(lang, L, N, schedule="linear")
    ser = law[joint_of(lang, L) == 0].sum()
    assert ser == pytest.approx(1 - (1 - (1 - 1 / k) / N) ** (L / 2), abs=1e-12)


def _ordered_partitions(counts):
    """Every assignment of positions to steps with the given counts, each equally likely."""
    labels = [j for j, c in enumerate(counts) for _ in range(c)]
    return sorted(set(itertools.permutations(labels)))


@pytest.mark.parametrize("method", ["rows", "auto", "tree", "sweep"])
@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
@pytest.mark.parametrize("counts", [(2, 2), (1, 3), (2, 1, 1)])
def test_law_is_the_mixture_of_p_M_over_partitions(name, counts, method):
    lang = TINY[name]()
    L = sum(counts)
    law = models.exact_law(lang, L, len(counts), schedule=list(counts))
    parts = np.array(_ordered_partitions(counts))
    x = np.array(list(itertools.product(range(lang.vocab_size), repeat=L)))
    total = np.zeros(len(x))
    for part in parts:
        total += np.exp(models.log_prob_given_reveal(lang, x, np.broadcast_to(part, x.shape), method=method))
    np.testing.assert_allclose(total / len(parts), law.reshape(-1), rtol=0, atol=1e-12)
    assert math.isclose(law.sum(), 1.0, abs_tol=1e-12)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("schedule", ["linear", "balanced"])
def test_log_prob_sampler_equals_log_prob_given_reveal(policy, schedule):
    lang = TINY["trigram-sparse"]()
    res = models.sample(lang, 12, 4, size=64, schedule=schedule, policy=policy, rng=5)
    got = models.log_prob_given_reveal(lang, res.tokens, res.reveal_step, method="rows")  # shares no kernel
    np.testing.assert_allclose(res.log_prob_sampler, got, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "bigram-sparse", "hmm-dense"])
def test_replayed_log_prob_given_reveal_equals_the_rows_on_every_string(name):
    # every string of length 5 (most outside the support, so the sampler's uniform fallback is replayed
    # too) under random partitions with gaps in the step labels (7, 2, 9: empty steps change nothing)
    lang = TINY[name]()
    L = 5
    x = np.array(list(itertools.product(range(lang.vocab_size), repeat=L)))
    rng = np.random.default_rng(3)
    steps = np.array([0, 2, 7, 9])[rng.integers(0, 4, size=x.shape)]
    want = models.log_prob_given_reveal(lang, x, steps, method="rows")
    assert np.isfinite(want).any() and (np.isinf(want).any() or name == "hmm-dense")
    for method in ("auto", "tree", "sweep", "generic"):
        got = models.log_prob_given_reveal(lang, x, steps, method=method)
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
        np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-12, atol=1e-12)


def test_log_prob_given_reveal_refuses_an_unknown_method():
    lang = TINY["bigram-sparse"]()
    with pytest.raises(ValueError, match=r"method must be one of .*'rows'\], got 'fast'"):
        models.log_prob_given_reveal(lang, np.zeros((1, 3), dtype=int), np.zeros((1, 3), dtype=int), method="fast")


def test_exact_law_refuses_big_cases():
    with pytest.raises(ValueError, match=r"needs V\^L <= 4096 and L <= 7, got V = 3, L = 8"):
        models.exact_law(TINY["hmm-dense"](), 8, 2, schedule="linear")
