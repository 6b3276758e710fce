r"""Closed-form SERs of the hard languages against the sampler's exact law (enumeration)."""
import numpy as np
import pytest
import sympy as sp

from mdmlab import models
from mdmlab import synth
from mdmlab import theory
from mdmlab.models import schedules
from tests import brute


def exact_ser(lang, L, N, schedule):
    """Mass of the sampler's exact law outside the language's support (synth's support is itself
    checked against enumeration in test_synth_exact)."""
    law = models.exact_law(lang, L, N, schedule=schedule)
    outside = ~lang.in_support(brute.all_strings(lang.vocab_size, L)).reshape(law.shape)
    return law[outside].sum()


def reveal_weights(schedule, L, N):
    """Law of one position's reveal step under an ancestral schedule."""
    return schedules.resolve(schedule, L, N).reveal_weights


@pytest.mark.parametrize("k,L", [(2, 4), (3, 4), (2, 6)])
def test_pair_copy_linear_closed_form(k, L):
    for N in range(1, L + 1):
        got = theory.PAIR_COPY_LINEAR.evaluate(symbols=k, length=L, steps=N)
        assert got == pytest.approx(exact_ser(theory.pair_copy(k), L, N, "linear"), abs=1e-12)


@pytest.mark.parametrize("k,L", [(2, 4), (3, 3), (2, 5)])
def test_all_equal_linear_closed_form(k, L):
    for N in range(1, L + 1):
        got = theory.ALL_EQUAL_LINEAR.evaluate(symbols=k, length=L, steps=N)
        assert got == pytest.approx(exact_ser(theory.all_equal(k), L, N, "linear"), abs=1e-12)


def test_block_copy_linear_closed_form():
    for N in range(1, 7):
        got = theory.BLOCK_COPY_LINEAR.evaluate(symbols=2, length=6, steps=N, block=3)
        assert got == pytest.approx(exact_ser(theory.block_copy(2, 3), 6, N, "linear"), abs=1e-12)


@pytest.mark.parametrize("schedule", ["cosine", "loglinear", "linear"])
@pytest.mark.parametrize("lang,block,L", [("pair", 2, 4), ("block", 3, 6), ("equal", 5, 5)])
def test_weights_form_for_any_ancestral_schedule(schedule, lang, block, L):
    language = {"pair": theory.pair_copy(2), "block": theory.block_copy(2, 3), "equal": theory.all_equal(2)}[lang]
    for N in (2, 3):
        got = theory.block_copy_ser_weights(2, L, block, reveal_weights(schedule, L, N))
        assert got == pytest.approx(exact_ser(language, L, N, schedule), abs=1e-12)


@pytest.mark.parametrize("schedule", ["balanced", "balanced-back", [1, 3], [3, 0, 1], [2, 2, 2]])
def test_fixed_count_forms(schedule):
    L = 6 if schedule == [2, 2, 2] else 4
    N = len(schedule) if isinstance(schedule, list) else 3
    counts = schedules.resolve(schedule, L, N).counts
    assert theory.pair_copy_ser_counts(2, counts) == pytest.approx(
        exact_ser(theory.pair_copy(2), L, N, schedule), abs=1e-12)
    assert theory.all_equal_ser_counts(3, counts) == pytest.approx(
        exact_ser(theory.all_equal(3), L, N, schedule), abs=1e-12)


def test_issue_example_and_steps_needed():
    bound = theory.PAIR_COPY_LINEAR
    assert round(float(bound.evaluate(symbols=4, length=64, steps=8)), 4) == 0.9572
    for delta in (0.5, 0.1, 0.01):
        n_star = bound.steps_needed(delta, symbols=4, length=64)
        assert bound.evaluate(symbols=4, length=64, steps=n_star) <= delta
        assert bound.evaluate(symbols=4, length=64, steps=n_star - 1) > delta
        syms = {s.name: s for s in bound.steps_expr.free_symbols}
        closed = float(bound.steps_expr.subs({syms["k"]: 4, syms["L"]: 64, syms["delta"]: delta}))
        assert n_star == np.ceil(closed)


def test_threshold_is_linear_in_length_with_the_derived_slope():
    bound = theory.PAIR_COPY_LINEAR
    lengths = np.array([1e4, 1e5, 1e6])
    n_star = bound.steps_needed(0.5, symbols=3, length=lengths)
    np.testing.assert_allclose(n_star / lengths, theory.pair_copy_slope(3, 0.5), rtol=1e-3)
    # all-equal is worse: its threshold also grows linearly, with a larger slope
    eq = theory.ALL_EQUAL_LINEAR.steps_needed(0.5, symbols=3, length=np.array([1000, 2000, 4000]))
    slopes = eq / np.array([1000, 2000, 4000])
    assert np.ptp(slopes) < 0.01 and slopes[0] > theory.pair_copy_slope(3, 0.5)


def test_ser_at_or_above_one_half_below_the_threshold():
    # the paper's statement: SER stays >= 1/2 unless N grows linearly in L
    bound = theory.PAIR_COPY_LINEAR
    for L in (64, 1024, 16384):
        n_half = bound.steps_needed(0.5, symbols=4, length=L)
        assert bound.evaluate(symbols=4, length=L, steps=n_half - 1) > 0.5
        assert n_half / L == pytest.approx(theory.pair_copy_slope(4, 0.5), rel=0.05)


def test_block_copy_formula_at_two_is_the_pair_copy_formula():
    r"""Two derivations, one per language, agree symbolically at m = 2 (and differ at m = 3)."""
    sym, pair = theory.BLOCK_COPY_LINEAR.symbols, theory.PAIR_COPY_LINEAR
    one_pair = pair.expr.subs(pair.symbols["length"], 2)  # one block: the survival probabilities themselves

    def one_block(m):
        return theory.BLOCK_COPY_LINEAR.expr.subs({sym["block"]: m, sym["length"]: m}).doit()

    assert sp.simplify(one_block(2) - one_pair) == 0
    assert sp.simplify(one_block(3) - one_pair) != 0


# ---- theory.closed_form_ser: the one entry point -------------------------------------------------

@pytest.mark.parametrize("schedule", ["linear", "cosine", "balanced", "balanced-back", "explicit"])
@pytest.mark.parametrize("make,L", [(lambda: theory.pair_copy(2), 4), (lambda: theory.pair_copy(2), 5),
                                    (lambda: theory.block_copy(2, 3), 5), (lambda: theory.block_copy(2, 2), 4),
                                    (lambda: theory.all_equal(3), 5), (lambda: theory.block_copy(3, 1), 3)])
def test_closed_form_ser_is_the_exact_law(make, L, schedule):
    r"""SER = 1 - sum of the sampler's exact law over in-support strings, or no form at all (None);
    odd L and m not dividing L included (a shorter last block)."""
    lang = make()
    schedule = [L - 2, 0, 2] if schedule == "explicit" else schedule  # counts with an empty step
    N = 3
    plan = schedules.resolve(schedule, L, N)
    got = theory.closed_form_ser(lang, plan)
    # fixed counts have forms for blocks of 1, 2 (L even) and L only: blocks of 3 in 5, pairs in 5 have none
    no_form = plan.kind == "fixed" and (lang.spec.params.get("block") == 3 or
                                        (lang.spec.kind == "pair-copy" and L % 2 == 1))
    if no_form:
        assert got is None
    else:
        assert got == pytest.approx(exact_ser(lang, L, N, schedule), abs=1e-12)


def test_closed_form_ser_agrees_with_each_form():
    lin = schedules.resolve("linear", 64, 8)
    assert theory.closed_form_ser(theory.pair_copy(4), lin) == pytest.approx(
        float(theory.PAIR_COPY_LINEAR.evaluate(symbols=4, length=64, steps=8)), abs=1e-12)
    assert theory.closed_form_ser(theory.block_copy(3, 4), lin) == pytest.approx(
        theory.block_copy_ser_weights(3, 64, 4, lin.reveal_weights), abs=1e-12)
    assert theory.closed_form_ser(theory.all_equal(2), lin) == pytest.approx(
        float(theory.ALL_EQUAL_LINEAR.evaluate(symbols=2, length=64, steps=8)), abs=1e-12)
    bal = schedules.resolve("balanced", 64, 8)
    assert theory.closed_form_ser(theory.pair_copy(4), bal) == theory.pair_copy_ser_counts(4, bal.counts)
    assert theory.closed_form_ser(theory.all_equal(2), bal) == theory.all_equal_ser_counts(2, bal.counts)


def test_closed_form_ser_is_none_without_a_form():
    lin = schedules.resolve("linear", 4, 2)
    assert theory.closed_form_ser(theory.pair_copy(2), lin, policy="confidence") is None
    assert theory.closed_form_ser(synth.NGramLanguage.random(2, 3, rng=0), lin) is None  # spec ngram
    hand_built = synth.HMMLanguage(theory.pair_copy(2).initial, theory.pair_copy(2).transition,
                                   theory.pair_copy(2).emission)
    assert hand_built.spec is None and theory.closed_form_ser(hand_built, lin) is None
    with pytest.raises(TypeError, match="resolved models.Schedule"):
        theory.closed_form_ser(theory.pair_copy(2), "linear")
