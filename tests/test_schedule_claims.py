"""The schedule-engine verdicts: known answers in, the right verdict out; measured terms exact."""
import itertools

import numpy as np
import pandas as pd
import pytest

from mdmlab import models, synth
from mdmlab.analysis import schedule_claims as sc
from mdmlab.models import schedules
from tests import brute
from tests.conftest import joint_of


def _identity_frame(ratio, rel_se, n_cells=3):
    pred = np.array([2.0, 1.0, 0.5][:n_cells])
    return pd.DataFrame({"language": "lang", "length": 64, "steps": [4, 8, 16][:n_cells], "schedule": "balanced",
                         "kl": pred * ratio, "kl_se": pred * ratio * rel_se, "samples": 1000, "predicted": pred,
                         "predicted_se": 0.0, "curve": "chain"})


@pytest.mark.parametrize("ratio, rel_se, verdict", [(1.0, 0.005, "holds"), (1.5, 0.005, "violated"),
                                                    (1.05, 0.2, "inconclusive"), (0.8, 0.01, "violated")])
def test_kl_identity_verdicts(ratio, rel_se, verdict):
    (row,) = sc.claim_kl_identity(_identity_frame(ratio, rel_se))
    assert row["verdict"] == verdict
    assert row["measured"] == pytest.approx(abs(ratio - 1))


def _optimal_frame(ratios, se, same=()):
    rows = [{"language": "lang", "steps": 8, "schedule": "optimal", "counts": "1 2 5", "samples": 500,
             "optimal_ratio": 1.0, "optimal_ratio_se": 0.0}]
    for name, r in zip(sc.NAMED, ratios):
        rows.append({"language": "lang", "steps": 8, "schedule": name, "counts": "1 2 5" if name in same else "3 3 2",
                     "samples": 500, "optimal_ratio": r, "optimal_ratio_se": se})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("ratios, se, verdict", [((0.5, 0.6, 0.4), 0.01, "holds"), ((0.5, 1.3, 0.4), 0.01, "violated"),
                                                 ((0.5, 0.99, 0.4), 0.05, "inconclusive")])
def test_optimal_schedule_verdicts(ratios, se, verdict):
    (row,) = sc.claim_optimal_schedule(_optimal_frame(ratios, se))
    assert row["verdict"] == verdict
    assert row["measured"] == pytest.approx(max(ratios))


def test_optimal_schedule_leaves_out_a_schedule_with_the_optimal_counts():
    (row,) = sc.claim_optimal_schedule(_optimal_frame((1.0, 0.6, 0.4), 0.01, same=("balanced",)))
    assert row["verdict"] == "holds" and "balanced" not in row["schedule"]
    assert "identical counts): balanced" in row["detail"]


@pytest.mark.parametrize("kls, se, verdict", [((0.5, 0.5, 0.5), 0.005, "holds"), ((0.5, 1.0, 2.0), 0.005, "violated"),
                                              ((0.5, 0.52, 0.55), 0.02, "inconclusive")])
def test_kl_l_free_verdicts(kls, se, verdict):
    frame = pd.DataFrame({"language": "lang", "length": [32, 64, 128], "steps": [16, 32, 64], "size": 2,
                          "kl": kls, "kl_se": se, "samples": 1000})
    (row,) = sc.claim_kl_l_free(frame)
    assert row["verdict"] == verdict


def _tiny_bigram():
    return synth.NGramLanguage.random(2, 3, rng=np.random.default_rng(5))


def test_kl_terms_are_exact_per_string():
    """One step of L tokens: log q(x) - sum_i log q(x_i); L steps of one: 0; by brute force."""
    lang, L = _tiny_bigram(), 4
    joint = joint_of(lang, L)
    plans = [schedules.resolve([L], L, 1), schedules.resolve([1] * L, L, L)]
    terms = sc.kl_terms(lang, L, plans, samples=64, rng=0)
    x = lang.sample(L, 64, rng=np.random.default_rng(0))  # the same first draws as kl_terms
    marg = [joint.sum(axis=tuple(j for j in range(L) if j != i)) for i in range(L)]
    want = np.array([np.log(joint[tuple(s)]) - sum(np.log(marg[i][s[i]]) for i in range(L)) for s in x])
    np.testing.assert_allclose(terms[:, 0], want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(terms[:, 1], 0.0, atol=1e-12)


def test_kl_terms_mean_is_the_kl_of_random_order_sampling():
    """Mean of the terms over many draws vs E_M KL by enumeration of every order (counts (2, 1, 1))."""
    lang, L, counts = _tiny_bigram(), 4, [2, 1, 1]
    joint = joint_of(lang, L)
    strings = list(itertools.product(range(3), repeat=L))
    p = np.array([joint[s] for s in strings])
    exact = 0.0
    orders = list(itertools.permutations(range(L)))
    for order in orders:
        first = order[:2]  # revealed together at step 1; the rest one at a time given them (exact)
        pair = joint.sum(axis=tuple(j for j in range(L) if j not in first))
        mi = [np.log(pair[s[min(first)], s[max(first)]]) - np.log(pair.sum(1)[s[min(first)]])
              - np.log(pair.sum(0)[s[max(first)]]) for s in strings]
        exact += float(p @ np.array(mi)) / len(orders)
    terms = sc.kl_terms(lang, L, [schedules.resolve(counts, L, 3)], samples=20000, rng=1)[:, 0]
    se = terms.std(ddof=1) / np.sqrt(terms.size)
    assert abs(terms.mean() - exact) < 4 * se
    assert exact > 10 * se  # the check can fail: the value is far from zero


def test_kl_cells_measure_what_the_identity_predicts():
    frame = sc.kl_cells(["ngram:order=2,vocab=3,seed=2"], 12, (2, 4), samples=3000, seed=0)
    assert set(frame["schedule"]) == {"optimal", *sc.NAMED}
    assert (frame["curve"] == "chain").all() and (frame["predicted_se"] == 0).all()
    z = np.abs(frame["kl"] - frame["predicted"]) / frame["kl_se"]
    assert z.max() < 4.5
    named = frame[frame["schedule"] != "optimal"]
    assert (named["optimal_ratio"] - 3 * named["optimal_ratio_se"] <= 1.0).all()  # equal counts: ratio 1, se 0


def test_identity_l_free_is_flat_on_a_fast_bigram_and_has_the_limit():
    frame = sc.identity_l_free_cells(["ngram:order=2,vocab=4,seed=1"], (32,), 2, chain_lengths=(64, 128))
    assert list(frame["length"]) == [64, 128]
    (row,) = sc.claim_kl_l_free(frame, "identity")
    assert row["verdict"] == "holds" and "identity" in row["statistic"]
    assert frame["kl"].iloc[-1] == pytest.approx(frame["limit"].iloc[-1], rel=0.02)


@pytest.mark.parametrize("ratios, se, verdict", [((0.1, 0.4), 0.01, "holds"), ((0.5, 1.4), 0.01, "violated"),
                                                 ((0.5, 0.98), 0.05, "inconclusive")])
def test_eb_bound_verdicts(ratios, se, verdict):
    frame = pd.DataFrame({"language": "lang", "gamma": [0.3, 1.0, np.nan], "bound_ratio": [*ratios, np.nan],
                          "bound_ratio_se": [se, se, np.nan], "kl": 0.1, "steps": 10.0, "ser": 0.0, "samples": 100})
    (row,) = sc.claim_eb_bound(frame)
    assert row["verdict"] == verdict


def test_adaptive_cells_replay_and_sampler_agree_on_a_tiny_chain():
    rules = [models.EntropyBounded(0.0), models.EntropyBounded(2.0), models.ConfidenceThreshold(0.6)]
    frame = sc.adaptive_cells(["pair-copy:symbols=2"], 6, rules, samples=400, seed=1)
    zero = frame.iloc[0]  # gamma = 0: one token per step, the language's law, KL exactly 0
    assert zero["kl"] == pytest.approx(0.0, abs=1e-12) and np.isnan(zero["bound_ratio"])  # zero-entropy positions group
    eb = frame.iloc[1]
    assert eb["kl"] > 0 and 0 < eb["bound_ratio"] < 1 and eb["nfe"] < 6
    assert frame["rule"].tolist()[2] == "confidence > 0.6"


@pytest.mark.parametrize("expected, kl, se, verdict", [(True, 3e-14, 1e-15, "holds"), (True, 0.4, 0.01, "violated"),
                                                       (False, 1.2, 0.1, "holds"), (False, 0.0, 0.0, "violated")])
def test_structured_exact_verdicts(expected, kl, se, verdict):
    frame = pd.DataFrame([{"language": "lang", "order": "binary-search", "steps": 8, "expected_exact": expected,
                           "kl": kl, "kl_se": se, "kl_max_abs": kl, "kl_exact": np.nan, "samples": 100, "ser": 0.0,
                           "ser_low": 0.0, "ser_high": 0.03, "random_kl": 2.0, "random_ser": 0.5}])
    (row,) = sc.claim_structured_exact(frame)
    assert row["verdict"] == verdict


def test_structured_cells_exact_on_chains_and_not_on_an_hmm():
    specs = ["ngram:order=2,vocab=3,sparsity=0.3,seed=2", "ngram:order=3,vocab=2,seed=1",
             "hmm:states=8,vocab=8,sparsity=0.5,seed=1"]
    frame = sc.structured_cells(specs, 16, samples=200, seed=0)
    assert list(frame["order"]) == ["binary-search", "runs:2", "binary-search"]
    assert list(frame["expected_exact"]) == [True, True, False]
    assert (frame["kl_max_abs"][:2] < 1e-10).all() and frame["kl"].iloc[2] > 0.05
    assert frame["kl_exact"].iloc[0] == pytest.approx(0.0, abs=1e-12)  # nearest-neighbour form, exact
    assert [r["verdict"] for r in sc.claim_structured_exact(frame)] == ["holds", "holds", "holds"]
    assert frame["random_kl"].iloc[0] > 10 * frame["kl_max_abs"].iloc[0] + 0.01  # random order at that N: not exact


def test_structured_kl_is_zero_from_natural_steps_up_and_positive_below():
    frame = sc.structured_kl(["ngram:order=2,vocab=4,concentration=0.1,seed=1"], 16, (2, 5, 8), samples=200)
    two, five, eight = frame["kl"]
    assert list(frame["counts"]) == ["15 1", "1 2 4 8 1", "1 2 2 2 2 2 4 1"]  # merged, natural, split
    assert two > 1.0 and abs(five) < 1e-10 and abs(eight) < 1e-10
    exact = frame["kl_exact"].to_numpy()
    assert exact[1:] == pytest.approx(0.0, abs=1e-12)
    assert abs(two - exact[0]) < 4 * frame["kl_se"].iloc[0]  # Monte Carlo on exact terms vs nearest-neighbour form


def test_counts_for_steps_merges_and_splits_natural_groups():
    from mdmlab.models import orders

    assert list(orders.counts_for_steps("binary-search", 7, 3)) == [1, 2, 4]
    assert list(orders.counts_for_steps("binary-search", 7, 2)) == [3, 4]
    assert list(orders.counts_for_steps("binary-search", 7, 4)) == [1, 2, 2, 2]
    with pytest.raises(ValueError, match="steps must be <= length = 7, got 8"):
        orders.counts_for_steps("binary-search", 7, 8)
