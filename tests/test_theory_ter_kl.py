r"""The TER bound and its fit, the Li & Cai bound, and exact total mutual information."""
import itertools

import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab import theory
from tests import brute
from tests.conftest import TINY, joint_of


def test_feng_ter_bound_values_and_inverse():
    b = theory.FENG_TER
    eps = (2 / 64) ** (1 / 3)
    assert b.evaluate(order=3, vocab=8, steps=64) == pytest.approx(4 * eps * np.log(8), rel=1e-14)
    assert b.evaluate(order=3, vocab=8, steps=64, eps_learning=0.05, c_steps=2, c_excess=0.5) == pytest.approx(
        0.05 + 0.5 * 4 * (2 * 2 / 64) ** (1 / 3) * np.log(8), rel=1e-14)
    n_star = b.steps_needed(1.0, order=3, vocab=8)
    assert b.evaluate(order=3, vocab=8, steps=n_star) <= 1.0 < b.evaluate(order=3, vocab=8, steps=n_star - 1)
    syms = {s.name: s for s in b.steps_expr.free_symbols}
    closed = b.steps_expr.subs({syms["n"]: 3, syms["V"]: 8, syms["delta"]: 1.0, syms["epsilon_learning"]: 0,
                                syms["c_N"]: 1, syms["c_E"]: 1})
    assert n_star == np.ceil(float(closed))
    assert "arXiv 2502.09622" in b.reference and r"\le" in b.latex()


def test_fit_recovers_constant_and_rate():
    rng = np.random.default_rng(0)
    N = np.array([8, 16, 32, 64, 128, 256])
    gap = 0.02 + 0.3 * 4 * np.log(8) * (2 / N) ** (1 / 3) * np.exp(rng.normal(0, 0.02, N.size))
    fit = theory.fit_ter_rate(N, gap, order=3, vocab=8, eps_learning=0.02)
    assert fit.constant_ci[0] < 0.3 < fit.constant_ci[1]
    assert fit.exponent_ci[0] < -1 / 3 < fit.exponent_ci[1] and fit.theory_exponent == -1 / 3
    with pytest.raises(ValueError, match=r"at least 3 points with gap > eps_learning, got 2"):
        theory.fit_ter_rate([1, 2, 3], [1.0, 1.0, 0.0], order=2, vocab=4, eps_learning=0.5)


def test_optimal_log_ter_is_entropy_per_token():
    lang = TINY["trigram-sparse"]()
    value, se = theory.optimal_log_ter(lang, 5)
    assert value == pytest.approx(brute.entropy(joint_of(lang, 5)) / 5, abs=1e-13) and se == 0


def _mi_by_enumeration(joint):
    L = joint.ndim
    total = 0.0
    for i in range(L):
        marg = joint.sum(axis=tuple(t for t in range(L) if t != i))
        rest = joint.sum(axis=i)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = joint / (np.expand_dims(rest, i) * marg.reshape([-1 if t == i else 1 for t in range(L)]))
            total += np.sum(np.where(joint > 0, joint * np.log(ratio), 0.0))
    return total


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_total_mutual_information_matches_enumeration(name, length):
    lang = TINY[name]()
    got = theory.total_mutual_information(lang, length)
    assert got.method == "exact" and got.stderr == 0
    assert got.nats == pytest.approx(_mi_by_enumeration(joint_of(lang, length)), abs=1e-12)


def test_mutual_information_long_ngram_and_monte_carlo():
    lang = synth.NGramLanguage.random(3, 3, sparsity=0.3, rng=0)
    exact = theory.total_mutual_information(lang, 9)
    dense = theory.total_mutual_information(lang.to_hmm(), 9)  # enumerates 3^9 strings
    assert exact.nats == pytest.approx(dense.nats, rel=1e-10)
    mc = theory.total_mutual_information(lang.to_hmm(), 9, samples=4000, rng=1, max_enumeration=1)
    assert mc.method == "monte-carlo" and abs(mc.nats - exact.nats) < 4 * mc.stderr


def test_li_cai_bound_formula():
    b = theory.LI_CAI_KL
    got = b.evaluate(s_max=[1, 2, 3, 4, 5, 8, 9], length=64, mutual_information=6.4)
    np.testing.assert_allclose(got, np.array([0, 1, 3, 3, 7, 7, 15]) * 0.1, rtol=1e-14)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "bigram-sparse"])
@pytest.mark.parametrize("counts", [(2, 2), (3, 1), (2, 1, 1)])
def test_li_cai_bound_holds_exactly_on_tiny_languages(name, counts):
    lang = TINY[name]()
    L = sum(counts)
    joint = joint_of(lang, L).reshape(-1)
    x = np.array(list(itertools.product(range(lang.vocab_size), repeat=L)))[joint > 0]
    q = joint[joint > 0]
    labels = [j for j, c in enumerate(counts) for _ in range(c)]
    parts = sorted(set(itertools.permutations(labels)))  # random policy: uniform over these
    kl = np.mean([np.sum(q * (np.log(q) - models.log_prob_given_reveal(lang, x, np.broadcast_to(p, x.shape))))
                  for p in parts])
    mi = theory.total_mutual_information(lang, L).nats
    bound = float(theory.LI_CAI_KL.evaluate(s_max=max(counts), length=L, mutual_information=mi))
    assert 0 <= kl <= bound + 1e-12
