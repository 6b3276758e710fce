"""analysis.nstar's evaluations: early looks decide far from the target; doubling S keeps the draws."""
import numpy as np
import pytest
from scipy import stats

from mdmlab.analysis import nstar

TASK = dict(language="pair-copy:symbols=4", length=32, schedule="linear", policy="random", statistic="ser",
            target=0.5)


def test_far_from_the_target_an_evaluation_stops_at_the_first_look():
    ev = nstar._Evaluations(TASK, 0)
    est, low, high = ev(1, 512)  # N = 1: SER = 1 - 4^-16, far above 1/2
    assert ev.values[1].size == 64 and 1 in ev.decided and low > 0.5
    assert ev.samples == 64
    ev = nstar._Evaluations({**TASK, "schedule": "balanced"}, 0)
    ev(32, 512)  # N = L, one token per step: SER = 0, far below
    assert ev.values[32].size == 64 and 32 in ev.decided


def test_near_the_target_every_look_is_drawn_and_doubling_adds_only_new_batches():
    ev = nstar._Evaluations(TASK, 0)
    ev.draw = lambda N, start, size: (np.arange(start, start + size) % 2).astype(float)  # SER 1/2 exactly
    est, low, high = ev(7, 256)
    assert ev.values[7].size == 256 and 7 not in ev.decided and est == 0.5
    ci = stats.binomtest(128, 256).proportion_ci(confidence_level=0.95, method="exact")
    assert (low, high) == pytest.approx((ci.low, ci.high))
    first = ev.values[7].copy()
    ev(7, 512)
    assert ev.values[7].size == 512 and np.array_equal(ev.values[7][:256], first)


def test_draws_are_seeded_by_their_place_not_by_the_search_path():
    a, b = nstar._Evaluations(TASK, 0), nstar._Evaluations(TASK, 0)
    np.testing.assert_array_equal(a.draw(9, 64, 64), b.draw(9, 64, 64))
    assert not np.array_equal(a.draw(9, 0, 64), a.draw(9, 64, 64))


def test_kl_terms_are_per_token_and_their_interval_is_normal():
    ev = nstar._Evaluations({**TASK, "statistic": "kl_per_token", "target": 0.15}, 0)
    terms = ev.draw(4, 0, 200)
    assert terms.shape == (200,) and np.all(np.isfinite(terms))
    m, lo, hi = nstar._interval("kl_per_token", terms, 0.95)
    half = 1.959964 * terms.std(ddof=1) / np.sqrt(200)
    assert (lo, hi) == pytest.approx((m - half, m + half))
    assert 0.5 * np.log(4) / 4 == pytest.approx(m, rel=0.2)  # log(4) / (2 N) nats per token for pair-copy


@pytest.mark.parametrize("least", [1, 2, 5, 64, 65, 700, 1000, 1024])
def test_least_at_a_resolution_brackets_the_true_least(least):
    calls = []

    def pred(N):
        calls.append(N)
        return N >= least

    assert nstar._least(pred, 1024) == least  # exact without a resolution
    exact_calls, calls[:] = len(calls), []
    hi, lo = nstar._least(pred, 1024, 1 / 64), nstar._least(pred, 1024, 1 / 64, below=True)
    assert lo <= least <= hi and hi - lo <= max(1, least / 64 + 1)
    assert len(calls) <= 2 * exact_calls
    assert nstar._least(lambda N: False, 1024, 1 / 64) is None
