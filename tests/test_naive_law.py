r"""``models.exact_law`` against a law enumerated from scratch in tests/naive.py (issue 9).

``models.exact_law`` builds the law of the adaptive policies with ``select_adaptive``, the kernel it
is meant to check. :func:`tests.naive.sampler_law` never calls it: it enumerates count outcomes, all
L! tie-break permutations (static policies included, where exact_law uses uniform subsets instead),
reveal sets chosen with :func:`tests.naive.score`, and token outcomes with naive rows. The last
tests feed the comparison a deliberately wrong policy (scores with the sign flipped) and watch it
fail (STYLE 18a), so a sign error in a kernel score could not pass.
"""
import numpy as np
import pytest

from mdmlab import models
from tests import naive
from tests.conftest import TINY, joint_of, naive_of

POLICIES = ["random", "left-to-right", "confidence", "margin", "entropy"]
ADAPTIVE = ["confidence", "margin", "entropy"]
CASES = [(4, 2, "linear", None), (4, 2, "balanced", 3), (4, 3, "cosine", 2)]  # (L, N, schedule, block_length)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
@pytest.mark.parametrize("policy", ["random", "confidence"])
def test_naive_law_with_one_token_per_step_is_the_language(name, policy):
    # the oracle itself against brute-force enumeration: N = L reproduces q for any such policy
    law = naive.sampler_law(naive_of(name), 4, 4, "balanced", policy, block_length=3)
    np.testing.assert_allclose(law, joint_of(TINY[name](), 4), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "4gram-custom-initial"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_exact_law_matches_naive_law(name, policy, case):
    L, N, schedule, block_length = case
    got = models.exact_law(TINY[name](), L, N, schedule=schedule, policy=policy, block_length=block_length)
    expected = naive.sampler_law(naive_of(name), L, N, schedule, policy, block_length)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert abs(expected.sum() - 1.0) < 1e-12


@pytest.mark.parametrize("policy", ADAPTIVE)
def test_exact_law_matches_naive_law_at_length_five(policy):
    name = "4gram-custom-initial"
    got = models.exact_law(TINY[name](), 5, 2, schedule=[3, 2], policy=policy, block_length=2)
    np.testing.assert_allclose(got, naive.sampler_law(naive_of(name), 5, 2, [3, 2], policy, 2), rtol=0, atol=1e-12)


@pytest.mark.parametrize("policy", ADAPTIVE)
@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
def test_flipped_score_sign_is_caught_by_the_law(policy, name):
    # a wrong policy (lowest score first) must be far outside the 1e-12 tolerance
    got = models.exact_law(TINY[name](), 4, 2, schedule="balanced", policy=policy)
    right = naive.sampler_law(naive_of(name), 4, 2, "balanced", policy)
    wrong = naive.sampler_law(naive_of(name), 4, 2, "balanced", policy, sign=-1.0)
    assert np.abs(got - right).max() < 1e-12
    assert np.abs(got - wrong).max() > 1e-3


@pytest.mark.parametrize("policy", ADAPTIVE)
def test_flipped_score_sign_is_caught_by_the_runs(policy):
    # the same mutation on the run oracle: some sequence reveals in another order or draws other tokens
    name, L, N, B, seed = "trigram-sparse", 7, 3, 12, 5
    res = models.sample(TINY[name](), L, N, size=B, schedule="balanced", policy=policy, rng=seed)
    rng = np.random.default_rng(seed)
    counts = res.schedule.draw(B, rng)
    rank = [naive.ranks(row) for row in rng.random((B, L)).tolist()]
    token_u = rng.random((B, L)).tolist()
    wrong = [naive.run(naive_of(name), counts[b].tolist(), policy, naive.blocks(L, None), rank[b], token_u[b],
                       sign=-1.0) for b in range(B)]
    assert not np.array_equal(res.reveal_step, np.array([s.reveal for s in wrong]))
