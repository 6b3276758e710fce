r"""Adaptive-count rules (entropy-bounded, confidence threshold): the sampler, its exact replay and its
exact law, against an enumeration written here from tests/naive.py's rows (never the code under test)."""
import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
from scipy import stats

from mdmlab import models, synth
from mdmlab.analysis import metrics
from tests import naive
from tests.conftest import TINY, joint_of, naive_of

EB, CT = models.EntropyBounded, models.ConfidenceThreshold


# -- the oracle: the rules written from their definitions, on tests/naive.py's rows ----------------

def _entropy(row):
    s = 0.0
    for p in row:
        if p > 0.0:
            s += p * math.log(p)
    return naive.quantise(-s)


def eb_set(gamma):
    """The entropy-bounded choice: the lowest-entropy prefix whose k - 1 lowest entropies sum to <= gamma."""
    def choose(rows, x, rank):
        masked = sorted((i for i in range(len(x)) if x[i] < 0), key=lambda i: (_entropy(rows[i]), rank[i]))
        k, total = 1, 0.0
        while k < len(masked):
            total += _entropy(rows[masked[k - 1]])
            if total > gamma:
                break
            k += 1
        return masked[:k]
    return choose


def ct_set(tau):
    """The threshold choice: every masked position with quantised confidence > tau, else the most confident."""
    def choose(rows, x, rank):
        masked = [i for i in range(len(x)) if x[i] < 0]
        conf = {i: naive.quantise(max(rows[i])) for i in masked}
        above = [i for i in masked if conf[i] > tau]
        return above or [min(masked, key=lambda i: (-conf[i], rank[i]))]
    return choose


def oracle_law(nl, L, choose, rank):
    """{x: p_rank(x)} of the rule with one tie priority, by enumerating reveal sets and token outcomes."""
    dist, final = {(naive.MASK,) * L: 1.0}, defaultdict(float)
    while dist:
        nxt = defaultdict(float)
        for x, px in dist.items():
            if naive.MASK not in x:
                final[x] += px
                continue
            rows = naive.denoiser_rows(nl, x, [v < 0 for v in x])
            sel = choose(rows, x, rank)
            for combo in itertools.product(range(nl.V), repeat=len(sel)):
                p = math.prod(rows[i][v] for i, v in zip(sel, combo))
                if p > 0.0:
                    y = list(x)
                    for i, v in zip(sel, combo):
                        y[i] = v
                    nxt[tuple(y)] += px * p
        dist = nxt
    return final


def oracle_array(nl, L, choose, ranks):
    law = np.zeros((nl.V,) * L)
    for rank in ranks:
        for x, p in oracle_law(nl, L, choose, list(rank)).items():
            law[x] += p / len(ranks)
    return law


def chi2_pvalue(tokens, law):
    """Pearson chi-square p-value of the sampled strings against ``law`` (cells with expectation < 5 pooled);
    strings of probability zero must not occur."""
    V, L = law.shape[0], law.ndim
    obs = np.bincount(np.ravel_multi_index(tokens.reshape(-1, L).T, (V,) * L), minlength=V ** L)
    p = law.reshape(-1)
    assert obs[p == 0].sum() == 0
    exp = p * obs.sum()
    big = exp >= 5
    o, e = np.r_[obs[big], obs[~big].sum()], np.r_[exp[big], exp[~big].sum()]
    if e[-1] == 0.0:  # every pooled cell has probability zero (and was not observed)
        o, e = o[:-1], e[:-1]
    return stats.chisquare(o, e * o.sum() / e.sum()).pvalue


# -- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,err", [(-0.1, ValueError), (math.nan, ValueError), (True, TypeError), ("1", TypeError)])
def test_entropy_bounded_validates_gamma(bad, err):
    with pytest.raises(err, match="gamma"):
        EB(bad)


@pytest.mark.parametrize("bad,err", [(-0.1, ValueError), (1.5, ValueError), (math.inf, ValueError), (None, TypeError)])
def test_confidence_threshold_validates_threshold(bad, err):
    with pytest.raises(err, match="threshold"):
        CT(bad)


def test_bad_arguments_name_themselves():
    lang = TINY["bigram-sparse"]()
    with pytest.raises(TypeError, match="rule"):
        models.sample_adaptive(lang, 4, "confidence")
    with pytest.raises(ValueError, match="tie"):
        models.sample_adaptive(lang, 4, EB(1.0), tie="first")
    with pytest.raises(ValueError, match="max_steps"):
        models.sample_adaptive(lang, 4, EB(1.0), max_steps=0)
    with pytest.raises(ValueError, match="size"):
        models.sample_adaptive(lang, 4, EB(1.0), size=0)
    x = lang.sample(4, 3, rng=0)
    with pytest.raises(ValueError, match="rank"):
        models.replay(lang, x, EB(1.0))
    with pytest.raises(ValueError, match="permutation"):
        models.replay(lang, x, EB(1.0), rank=[0, 0, 1, 2])
    with pytest.raises(ValueError, match="counts"):
        models.replay(lang, x, "confidence", tie="lowest-index", counts=[1, 1, 1])
    with pytest.raises(ValueError, match="counts"):
        models.replay(lang, x, EB(1.0), tie="lowest-index", counts=[4])
    with pytest.raises(ValueError, match="rule"):
        models.replay(lang, x, "random", tie="lowest-index", counts=[4])
    with pytest.raises(ValueError, match="steps"):
        metrics.kl_q_pm(lang, 4, 2, samples=10, policy=EB(1.0))
    with pytest.raises(ValueError, match="V\\^L"):
        models.adaptive_law(lang, 8, EB(1.0))


def test_rules_are_frozen_and_normalised():
    r = EB(1)
    assert r.gamma == 1.0 and isinstance(r.gamma, float) and EB(math.inf).gamma == math.inf
    with pytest.raises(Exception):
        r.gamma = 2.0


# -- limiting cases ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [EB(0.0), CT(1.0)])
def test_one_token_per_step_is_the_language(rule):
    lang = TINY["hmm-dense"]()  # dense rows: no zero entropies, no confidence of one
    res = models.sample_adaptive(lang, 5, rule, size=200, rng=0)
    assert (res.nfe == 5).all() and (res.counts == 1).all()
    law = models.adaptive_law(lang, 4, rule)
    np.testing.assert_allclose(law.law, joint_of(lang, 4), rtol=0, atol=1e-12)
    assert abs(law.kl) < 1e-12 and law.ser == 0.0 and law.nfe == pytest.approx(4.0, abs=1e-12)


@pytest.mark.parametrize("rule", [EB(math.inf), CT(0.0)])
def test_all_at_once_is_the_product_of_marginals(rule):
    lang = TINY["bigram-sparse"]()
    res = models.sample_adaptive(lang, 5, rule, size=50, rng=0)
    assert (res.nfe == 1).all() and (res.counts[:, 0] == 5).all() and res.counts.shape == (50, 1)
    law = models.adaptive_law(lang, 4, rule)
    joint = joint_of(lang, 4)
    marg = [joint.sum(axis=tuple(j for j in range(4) if j != i)) for i in range(4)]
    np.testing.assert_allclose(law.law, np.einsum("a,b,c,d->abcd", *marg), rtol=0, atol=1e-12)
    assert law.nfe == pytest.approx(1.0) and law.steps_q == pytest.approx(1.0)


def test_max_steps_reveals_the_rest():
    lang = TINY["hmm-dense"]()
    res = models.sample_adaptive(lang, 6, EB(0.0), size=20, rng=1, max_steps=3)
    assert (res.nfe == 3).all() and (res.counts[:, 2] == 4).all()
    rep = models.replay(lang, res.tokens, EB(0.0), rank=res.rank, max_steps=3)
    assert np.array_equal(rep.log_prob, res.log_prob_sampler)


# -- the exact law against the oracle, and the sampler against the exact law ---------------------------

CASES = [("hmm-dense", 4, EB(0.7)), ("bigram-sparse", 4, EB(1.0)), ("trigram-sparse", 4, EB(0.4)),
         ("hmm-sparse", 4, CT(0.6)), ("bigram-sparse", 4, CT(0.5))]


def _oracle_choose(rule):
    return eb_set(rule.gamma) if isinstance(rule, EB) else ct_set(rule.threshold)


@pytest.mark.parametrize("name,L,rule", CASES)
@pytest.mark.parametrize("tie", ["random", "highest-index"])
def test_exact_law_matches_the_oracle(name, L, rule, tie):
    lang, nl = TINY[name](), naive_of(name)
    ranks = list(itertools.permutations(range(L))) if tie == "random" else [tuple(range(L - 1, -1, -1))]
    law = models.adaptive_law(lang, L, rule, tie=tie)
    np.testing.assert_allclose(law.law, oracle_array(nl, L, _oracle_choose(rule), ranks), rtol=0, atol=1e-12)
    joint = joint_of(lang, L)
    assert law.ser == pytest.approx(law.law[joint == 0].sum(), abs=1e-15)
    assert law.kl == pytest.approx(law.tc, abs=1e-12)  # E KL = sum_t E TC_t
    assert law.kl_mixture <= law.kl + 1e-12


@pytest.mark.parametrize("name,L,rule", CASES)
def test_replay_is_the_exact_law_of_one_priority(name, L, rule):
    # exp(replayed log p_M) over all V^L strings is the oracle's law for that priority (so it sums to one).
    lang, nl = TINY[name](), naive_of(name)
    rank = np.array([2, 0, 3, 1])
    xs = np.array(list(itertools.product(range(lang.vocab_size), repeat=L)), dtype=np.int64)
    got = np.exp(models.replay_log_prob(lang, xs, rule, rank=rank)).reshape((lang.vocab_size,) * L)
    want = oracle_array(nl, L, _oracle_choose(rule), [tuple(rank)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name,rule", [("hmm-sparse", EB(0.8)), ("bigram-sparse", EB(1.0)),
                                       ("hmm-sparse", CT(0.6)), ("bigram-sparse", CT(0.5))])
def test_sampler_law_matches_the_exact_law(name, rule):
    lang, L, S = TINY[name](), 4, 40_000
    law = models.adaptive_law(lang, L, rule)
    assert law.law.size <= 81
    res = models.sample_adaptive(lang, L, rule, size=S, rng=11)
    assert chi2_pvalue(res.tokens, law.law) > 1e-3
    se = res.nfe.std() / math.sqrt(S)
    assert abs(res.nfe.mean() - law.nfe) < 5 * se + 1e-12
    ser = (~lang.in_support(res.tokens)).mean()
    assert abs(ser - law.ser) < 5 * math.sqrt(law.ser * (1 - law.ser) / S) + 1e-12


def test_chi_square_has_power():
    # the same test rejects the language's own law when the rule's KL is far from zero.
    lang, L = TINY["bigram-sparse"](), 4
    law = models.adaptive_law(lang, L, EB(1.0))
    assert law.kl > 0.1
    res = models.sample_adaptive(lang, L, EB(1.0), size=40_000, rng=11)
    joint = joint_of(lang, L)
    with pytest.raises(AssertionError):  # outputs outside the support
        chi2_pvalue(res.tokens, joint)
    inside = lang.in_support(res.tokens)
    assert chi2_pvalue(res.tokens[inside], law.law * (joint > 0) / law.law[joint > 0].sum()) > 1e-3
    assert chi2_pvalue(res.tokens[inside], joint) < 1e-6


# -- replay against the sampler and the brute-force partition ------------------------------------------

@pytest.mark.parametrize("rule", [EB(0.5), EB(2.0), CT(0.3), CT(0.8)])
@pytest.mark.parametrize("tie", ["random", "lowest-index", "highest-index"])
@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
def test_replay_reproduces_the_sampler_bit_for_bit(rule, tie, name):
    lang = TINY[name]()
    res = models.sample_adaptive(lang, 7, rule, size=150, rng=5, tie=tie)
    rep = models.replay(lang, res.tokens, rule, rank=res.rank, tie=tie)
    assert np.array_equal(rep.log_prob, res.log_prob_sampler)
    assert np.array_equal(rep.reveal_step, res.reveal_step) and np.array_equal(rep.steps, res.nfe)
    if name == "trigram-sparse" and tie == "random":  # impossible reveals: the uniform fallback is replayed too
        assert (~lang.in_support(res.tokens)).any() and np.isfinite(rep.log_prob).all()
    # through the generic denoiser protocol as well
    rep2 = models.replay(models.ExactDenoiser(lang), res.tokens[:50], rule, rank=res.rank[:50], tie=tie)
    assert np.array_equal(rep2.log_prob, res.log_prob_sampler[:50])


def _naive_policy_replay(nl, x, policy, counts, block_of, rank):
    """(reveal steps, log p_M(x)) by re-running naive.select_adaptive on the rows given x's revealed tokens."""
    state, reveal, lp = [naive.MASK] * len(x), [-1] * len(x), 0.0
    for j, k in enumerate(counts):
        if k == 0:
            continue
        rows = naive.denoiser_rows(nl, state, [v < 0 for v in state])
        for i in naive.select_adaptive(state, rows, k, policy, block_of, rank):
            reveal[i] = j
            lp += math.log(rows[i][x[i]])
        for i in range(len(x)):
            if reveal[i] == j:
                state[i] = int(x[i])
    return reveal, lp


@pytest.mark.parametrize("policy", ["confidence", "margin", "entropy"])
@pytest.mark.parametrize("block_length", [None, 3])
def test_policy_replay_matches_brute_force_partition(policy, block_length):
    name, L = "hmm-sparse", 6
    lang, nl = TINY[name](), naive_of(name)
    rng = np.random.default_rng(3)
    x = lang.sample(L, 40, rng=rng)
    rank = np.argsort(rng.random((40, L)), axis=1).argsort(axis=1)
    counts = np.array([2, 1, 3])
    rep = models.replay(lang, x, policy, rank=rank, counts=counts, block_length=block_length)
    block_of = naive.blocks(L, block_length)
    for b in range(40):
        reveal, lp = _naive_policy_replay(nl, x[b].tolist(), policy, counts.tolist(), block_of, rank[b].tolist())
        assert rep.reveal_step[b].tolist() == reveal
        assert rep.log_prob[b] == pytest.approx(lp, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("policy", ["confidence", "margin", "entropy"])
def test_policy_replay_matches_models_sample(policy):
    lang, L, B = TINY["bigram-sparse"](), 7, 200
    res = models.sample(lang, L, 3, size=B, schedule="balanced", policy=policy, rng=9)
    rng = np.random.default_rng(9)  # sample's draws: fixed counts draw nothing, then the rank uniforms
    rank = np.argsort(rng.random((B, L)), axis=1).argsort(axis=1)
    rep = models.replay(lang, res.tokens, policy, rank=rank, counts=res.counts)
    assert np.array_equal(rep.reveal_step, res.reveal_step)
    np.testing.assert_allclose(rep.log_prob, res.log_prob_sampler, rtol=1e-12, atol=1e-12)


# -- KL: Monte Carlo by replay against the enumeration; the entropy bound ------------------------------

@pytest.mark.parametrize("rule", [EB(1.0), CT(0.6)])
def test_kl_by_replay_agrees_with_the_exact_kl(rule):
    lang, L = TINY["bigram-sparse"](), 5
    exact = models.adaptive_law(lang, L, rule)
    est = metrics.kl_q_pm(lang, L, None, samples=20_000, policy=rule, rng=4)
    assert exact.kl > 0.05
    assert abs(est.value - exact.kl) < 4 * est.stderr


@pytest.mark.parametrize("policy", ["confidence", "entropy"])
def test_kl_q_pm_of_a_policy_agrees_with_exact_law(policy):
    lang, L, N = TINY["hmm-sparse"](), 5, 2
    law = models.exact_law(lang, L, N, schedule="balanced", policy=policy, tie="lowest-index").reshape(-1)
    xs = np.array(list(itertools.product(range(lang.vocab_size), repeat=L)), dtype=np.int64)
    lq = lang.log_prob(xs)
    inside = lq > -np.inf
    exact = float(np.exp(lq[inside]) @ (lq[inside] - np.log(law[inside])))
    est = metrics.kl_q_pm(lang, L, N, samples=20_000, schedule="balanced", policy=policy, rng=2,
                          tie="lowest-index")
    assert abs(est.value - exact) < 4 * est.stderr


def test_kl_q_pm_random_policy_unchanged():
    lang, L, N = TINY["bigram-sparse"](), 6, 3
    est = metrics.kl_q_pm(lang, L, N, samples=500, schedule="balanced", rng=7)
    rng = np.random.default_rng(7)
    x = lang.sample(L, 500, rng=rng)
    M = models.reveal_partitions(L, N, size=500, schedule="balanced", rng=rng)
    d = lang.log_prob(x) - models.log_prob_given_reveal(lang, x, M)
    assert est.value == float(d.mean())


BOUND_CHAINS = {"bigram-sparse": (TINY["bigram-sparse"], 5), "hmm-dense": (TINY["hmm-dense"], 4),
                "pair-copy:2": (lambda: synth.pair_copy(2), 4), "all-equal:2": (lambda: synth.all_equal(2), 5)}


@pytest.mark.parametrize("chain", sorted(BOUND_CHAINS))
@pytest.mark.parametrize("gamma", [0.3, 1.0, 3.0])
def test_entropy_bound_holds_exactly(chain, gamma):
    factory, L = BOUND_CHAINS[chain]
    law = models.adaptive_law(factory(), L, EB(gamma))
    assert law.kl == pytest.approx(law.tc, abs=1e-12)
    assert law.kl <= law.excess + 1e-12
    assert law.excess <= gamma * law.steps_q + 1e-12


def test_entropy_bound_is_tight_on_copies():
    # all-equal: the first step reveals 1 + floor(gamma / log 2) copies of one fair bit and TC = (s - 1) log 2
    # equals its entropy bound; the second step (entropies zero) reveals the rest.
    for gamma in (0.3, 1.0, 3.0):
        s = min(6, 1 + math.floor(gamma / math.log(2)))
        law = models.adaptive_law(synth.all_equal(2), 6, EB(gamma), tie="lowest-index")
        assert law.kl == pytest.approx((s - 1) * math.log(2), abs=1e-12)
        assert law.excess == pytest.approx(law.kl, abs=1e-12)
        assert law.steps_q == pytest.approx(1.0 if s == 6 else 2.0, abs=1e-12)


def test_entropy_bound_attains_gamma_times_steps():
    # all-equal with gamma just above 3 log 2 at L = 4: one step reveals the four copies, KL = 3 log 2 = gamma * 1
    # (up to the 1e-9 slack), so the constant in KL <= gamma E_q[T] cannot be improved.
    gamma = 3 * math.log(2) + 1e-9
    law = models.adaptive_law(synth.all_equal(2), 4, EB(gamma), tie="lowest-index")
    assert law.steps_q == 1.0 and law.nfe == 1.0
    assert law.kl / (gamma * law.steps_q) == pytest.approx(1.0, abs=1e-8)


def test_generic_denoiser_and_shapes():
    lang = TINY["hmm-sparse"]()
    a = models.sample_adaptive(lang, 5, EB(0.6), size=(4, 3), rng=2)
    b = models.sample_adaptive(models.ExactDenoiser(lang), 5, EB(0.6), size=(4, 3), rng=2)
    assert a.tokens.shape == (4, 3, 5) and a.counts.shape[:2] == (4, 3) and a.nfe.shape == (4, 3)
    assert (a.counts.sum(axis=-1) == 5).all() and ((a.counts > 0).sum(axis=-1) == a.nfe).all()
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.log_prob_sampler, b.log_prob_sampler)
    one = models.sample_adaptive(lang, 5, CT(0.5), rng=2)
    assert one.tokens.shape == (5,) and one.nfe.shape == () and one.log_prob_sampler.shape == ()
    rep = models.replay(lang, one.tokens, CT(0.5), rank=one.rank)
    assert rep.log_prob == one.log_prob_sampler and rep.reveal_step.shape == (5,)
