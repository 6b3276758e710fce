r"""theory.exact_kl and the any-ancestral-schedule SER bound, against enumeration and the sampler."""
import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab import theory
from mdmlab.analysis import metrics
from mdmlab.models import schedules


@pytest.mark.parametrize("L,N,schedule", [(6, 3, "balanced"), (6, 2, "balanced"), (6, 4, "balanced"),
                                          (4, 2, "linear"), (4, 3, "cosine"), (6, 2, [1, 5])])
def test_pair_copy_kl_matches_enumeration(L, N, schedule):
    lang = synth.pair_copy(2)
    exact = metrics.exact_metrics(lang, L, N, schedule=schedule)["kl_q_pm"]
    plan = schedules.resolve(schedule, L, N)
    assert theory.closed_form_kl(lang, plan) == pytest.approx(exact, rel=1e-12, abs=1e-14)
    if schedule == "balanced" and L % N == 0:
        assert theory.PAIR_COPY_KL_COUNTS.evaluate(symbols=2, length=L, steps=N) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("L,N", [(4, 1), (4, 2), (5, 2), (6, 3), (7, 2)])
def test_all_equal_kl_matches_enumeration_and_attains_li_cai_at_powers_of_two(L, N):
    lang = synth.all_equal(2)
    plan = schedules.resolve("balanced", L, N)
    exact = metrics.exact_metrics(lang, L, N, schedule="balanced")["kl_q_pm"]
    assert theory.closed_form_kl(lang, plan) == pytest.approx(exact, rel=1e-12, abs=1e-14)
    mi = theory.total_mutual_information(lang, L).nats
    assert mi == pytest.approx(L * np.log(2), rel=1e-12)
    bound = float(theory.LI_CAI_KL.evaluate(s_max=plan.max_per_step, length=L, mutual_information=mi))
    s = plan.max_per_step
    if s & (s - 1) == 0:  # a power of two: tight
        assert exact == pytest.approx(bound, rel=1e-12)
    else:
        assert exact < bound - 1e-9


def test_linear_minimises_pair_copy_ser_among_ancestral_schedules():
    for L, N in [(16, 4), (64, 16), (256, 100)]:
        lin = float(theory.PAIR_COPY_LINEAR.evaluate(symbols=4, length=L, steps=N))
        lang = synth.pair_copy(4)
        for name in ("linear", "cosine", "loglinear"):
            plan = schedules.resolve(name, L, N)
            assert theory.pair_copy_same_step_probability(plan.reveal_weights) >= 1 / N - 1e-15
            assert theory.closed_form_ser(lang, plan) >= lin - 1e-12
        assert theory.PAIR_COPY_ANY_ANCESTRAL.relation == ">="
    # the sampler agrees with the closed form of a non-linear schedule, which lies above the bound
    lang, L, N, S = synth.pair_copy(4), 32, 8, 4000
    res = models.sample(lang, L, N, size=S, schedule="cosine", rng=5)
    s = metrics.ser(lang, res.tokens)
    closed = theory.closed_form_ser(lang, schedules.resolve("cosine", L, N))
    assert s.low <= closed <= s.high
    assert s.low > float(theory.PAIR_COPY_LINEAR.evaluate(symbols=4, length=L, steps=N))


def test_provenance_marks_feng_parts_and_pair_copy_is_ours():
    prov = theory.FENG_TER.provenance
    assert "recalled and unverified" in prov and "constant 4" in prov and "verified" in prov
    for b in (theory.PAIR_COPY_LINEAR, theory.ALL_EQUAL_LINEAR, theory.BLOCK_COPY_LINEAR,
              theory.PAIR_COPY_KL_COUNTS, theory.PAIR_COPY_ANY_ANCESTRAL):
        assert b.reference.startswith("this project") and "Derived here" in b.provenance or "derived here" in \
            b.provenance
