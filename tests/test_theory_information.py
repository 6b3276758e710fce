r"""The information curve and the KL identity against brute-force enumeration of every order."""
import itertools

import numpy as np
import pytest

from mdmlab import synth, theory
from mdmlab.models import schedules
from tests import brute
from tests.conftest import joint_of


def _languages():
    sticky = 0.9 * np.eye(3) + 0.1 / 3
    return {
        "bigram": synth.NGramLanguage.random(2, 3, sparsity=0.4, rng=4),
        "sticky-bigram": synth.NGramLanguage(2, sticky, initial=np.array([0.5, 0.3, 0.2])),
        "unigram": synth.NGramLanguage.random(1, 3, rng=3),
        "trigram": synth.NGramLanguage.random(3, 2, sparsity=0.5, rng=5),
        "hmm": synth.HMMLanguage.random(3, 2, sparsity=0.3, rng=2),
        "pair-copy": synth.pair_copy(2),
    }


def _brute_h(joint):
    r"""h_k from the joint law: mean over i and k-subsets A of the others of H(X_i | X_A)."""
    L = joint.ndim
    h = np.zeros(L)
    for k in range(L):
        vals = []
        for i in range(L):
            for A in itertools.combinations([j for j in range(L) if j != i], k):
                keep = sorted(A + (i,))
                marg = joint.sum(axis=tuple(j for j in range(L) if j not in keep))  # axes in position order
                pos = keep.index(i)
                pxa = marg.sum(axis=pos, keepdims=True)
                with np.errstate(divide="ignore", invalid="ignore"):
                    cond = np.where(marg > 0, marg / pxa, 1.0)
                vals.append(float(-np.sum(np.where(marg > 0, marg * np.log(cond), 0.0))))
        h[k] = np.mean(vals)
    return h


def _brute_expected_kl(joint, counts):
    r"""Mean over every ordered partition with these step sizes of KL(q || p_M), from the joint alone."""
    L, V = joint.ndim, joint.shape[0]
    xs = brute.all_strings(V, L)
    q = joint.reshape(-1)
    seen, kls = set(), []
    for perm in itertools.permutations(range(L)):
        step = np.empty(L, dtype=int)
        start = 0
        for t, s in enumerate(counts):
            step[list(perm[start:start + s])] = t
            start += s
        if tuple(step) in seen:
            continue
        seen.add(tuple(step))
        kl = 0.0
        for x, qx in zip(xs, q):
            if qx == 0:
                continue
            lp = 0.0
            for t in range(len(counts)):
                rows = brute.conditionals(joint, np.where(step < t, x, -1))
                lp += sum(np.log(rows[i, x[i]]) for i in range(L) if step[i] == t)
            kl += qx * (np.log(qx) - lp)
        kls.append(kl)
    return float(np.mean(kls))


@pytest.mark.parametrize("name", ["bigram", "sticky-bigram", "unigram", "trigram", "hmm", "pair-copy"])
def test_curve_matches_enumeration_of_subsets(name):
    lang = _languages()[name]
    L = 5 if name not in ("trigram", "hmm") else 4
    curve = theory.information_curve(lang, L)
    assert curve.method == ("chain" if "gram" in name and name != "trigram" else "enumeration")
    np.testing.assert_allclose(curve.h, _brute_h(joint_of(lang, L)), atol=1e-12)
    assert np.all(np.diff(curve.h) <= 1e-12)  # more revealed tokens never raise the mean entropy


def test_chain_and_enumeration_agree_at_larger_length():
    lang = _languages()["bigram"]
    chain = theory.information_curve(lang, 7, method="chain")
    enum = theory.information_curve(lang, 7, method="enumeration")
    np.testing.assert_allclose(chain.h, enum.h, atol=1e-12)


@pytest.mark.parametrize("name", ["bigram", "sticky-bigram", "hmm", "pair-copy"])
@pytest.mark.parametrize("counts", [(2, 2, 1), (1, 2, 2), (3, 2), (1, 1, 3), (5,), (1, 1, 1, 1, 1)])
def test_identity_equals_mean_kl_over_every_order(name, counts):
    lang, L = _languages()[name], 5
    curve = theory.information_curve(lang, L)
    got = theory.expected_kl(curve, counts)
    assert got.stderr == 0.0
    assert got.nats == pytest.approx(_brute_expected_kl(joint_of(lang, L), counts), abs=1e-12)


def test_identity_extremes_one_step_is_total_correlation_and_L_steps_is_exact():
    lang, L = _languages()["sticky-bigram"], 6
    curve = theory.information_curve(lang, L)
    tc = L * curve.h[0] - lang.entropy(L).nats
    assert theory.expected_kl(curve, [L]).nats == pytest.approx(tc, abs=1e-12)
    assert theory.expected_kl(curve, [1] * L).nats == pytest.approx(0.0, abs=1e-12)


def test_order_of_the_counts_matters():
    curve = theory.information_curve(_languages()["sticky-bigram"], 5)
    assert theory.expected_kl(curve, (1, 2, 2)).nats < theory.expected_kl(curve, (2, 2, 1)).nats


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_ancestral_schedule_is_the_expectation_over_counts(schedule):
    lang, L, N = _languages()["bigram"], 4, 2
    plan = schedules.resolve(schedule, L, N)
    joint = joint_of(lang, L)
    expected = 0.0
    for k1, p1 in plan.step_law(0, L):  # every count outcome, each averaged over its orders by brute force
        counts = [k1, L - k1]
        expected += p1 * _brute_expected_kl(joint, [c for c in counts if c > 0])
    got = theory.expected_kl(theory.information_curve(lang, L), schedule=plan)
    assert got.nats == pytest.approx(expected, abs=1e-12)


def test_monte_carlo_curve_within_its_interval():
    lang, L = synth.HMMLanguage.random(3, 3, rng=1), 5
    exact = theory.information_curve(lang, L, method="enumeration")
    mc = theory.information_curve(lang, L, method="monte-carlo", samples=4000, rng=0)
    assert mc.method == "monte-carlo" and np.all(mc.stderr > 0)
    z = np.abs(mc.h - exact.h) / np.maximum(mc.stderr, 1e-300)
    assert np.all((z < 4.0) | (np.abs(mc.h - exact.h) < 1e-12))  # 4 standard errors, 6 values
    kl = theory.expected_kl(mc, (2, 2, 1))
    assert kl.stderr > 0 and abs(kl.nats - theory.expected_kl(exact, (2, 2, 1)).nats) < 4 * kl.stderr


def test_optimal_counts_is_the_minimum_over_every_composition():
    lang, L, N = _languages()["sticky-bigram"], 8, 3
    curve = theory.information_curve(lang, L)
    counts, kl = theory.optimal_counts(curve, N)
    assert counts.sum() == L and len(counts) == N and (counts >= 1).all()
    best = min(theory.expected_kl(curve, [b - a for a, b in zip((0,) + cut, cut + (L,))]).nats
               for cut in itertools.combinations(range(1, L), N - 1))
    assert kl.nats == pytest.approx(best, abs=1e-12)
    assert kl.nats <= theory.expected_kl(curve, schedules.resolve("balanced", L, N).counts).nats + 1e-12


def test_all_equal_is_exact_in_two_steps():
    curve = theory.information_curve(synth.all_equal(3), 16)
    counts, kl = theory.optimal_counts(curve, 2)
    assert list(counts) == [1, 15] and kl.nats == pytest.approx(0.0, abs=1e-12)


def test_identity_respects_li_cai_bound():
    lang, L = _languages()["bigram"], 12
    curve = theory.information_curve(lang, L)
    mi = theory.total_mutual_information(lang, L).nats
    for N in (2, 3, 4, 6):
        plan = schedules.resolve("balanced", L, N)
        bound = theory.LI_CAI_KL.evaluate(s_max=plan.max_per_step, length=L, mutual_information=mi)
        assert theory.expected_kl(curve, plan.counts).nats <= float(bound) + 1e-12


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "nope"}, "method must be one of"),
    ({"method": "chain", "lang": "hmm"}, "first-order chain"),
])
def test_bad_arguments(kwargs, match):
    lang = _languages()[kwargs.pop("lang", "bigram")]
    with pytest.raises(ValueError, match=match):
        theory.information_curve(lang, 4, **kwargs)


def test_bad_counts_and_steps():
    curve = theory.information_curve(_languages()["bigram"], 4)
    with pytest.raises(ValueError, match="summing to length = 4"):
        theory.expected_kl(curve, [2, 1])
    with pytest.raises(ValueError, match="exactly one of"):
        theory.expected_kl(curve)
    with pytest.raises(ValueError, match="steps must be <= length"):
        theory.optimal_counts(curve, 5)


@pytest.mark.parametrize("schedule", ["balanced", "cosine"])
def test_identity_matches_the_samplers_kl_at_scale(schedule):
    r"""At L = 64 the exact identity and the sampler's Monte Carlo E_M KL (log p_M by replay) agree."""
    from mdmlab.analysis import metrics

    lang, L, N = _languages()["sticky-bigram"], 64, 8
    exact = theory.expected_kl(theory.information_curve(lang, L), **(
        {"counts": schedules.resolve(schedule, L, N).counts} if schedule == "balanced"
        else {"schedule": schedules.resolve(schedule, L, N)}))
    est = metrics.kl_q_pm(lang, L, N, samples=2000, schedule=schedule, rng=0)
    assert abs(est.value - exact.nats) < 4 * est.stderr


def test_figures_quoted_in_the_readme_and_notes():
    r"""The numbers the README and the closing notes quote, recomputed (exact first-order chains, L = 128)."""
    V = 4
    sticky = synth.NGramLanguage(2, 0.95 * np.eye(V) + 0.05 / V, initial=np.full(V, 1.0 / V))
    curve = theory.information_curve(sticky, 128)
    counts, best = theory.optimal_counts(curve, 8)
    assert counts.tolist() == [3, 4, 6, 9, 13, 19, 29, 45] and best.nats == pytest.approx(5.1368, abs=5e-5)
    assert theory.expected_kl(curve, schedules.resolve("balanced", 128, 8).counts).nats == pytest.approx(13.2111,
                                                                                                        abs=5e-5)
    assert theory.expected_kl(curve, schedule=schedules.resolve("cosine", 128, 8)).nats == pytest.approx(22.7043,
                                                                                                         abs=5e-5)
    slow = synth.from_spec("ngram:order=2,vocab=4,concentration=0.1,seed=1")
    curve = theory.information_curve(slow, 128)
    counts, best = theory.optimal_counts(curve, 4)
    assert counts.tolist() == [1, 12, 54, 61] and best.nats == pytest.approx(4.556, abs=5e-4)
    assert theory.expected_kl(curve, schedules.resolve("balanced", 128, 4).counts).nats == pytest.approx(23.322,
                                                                                                        abs=5e-4)
