r"""Structured position orders (models.orders) in the sampler, the exact law and theory.structured.

Oracles: tests/brute.py joints (every string, every hidden path) and a brute-force p_M built from
their conditionals; nothing here calls the code it checks to make its expected values.
"""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from mdmlab import models, synth
from mdmlab.analysis import metrics
from mdmlab.models import orders
from mdmlab.theory import structured
from tests import brute, naive
from tests.conftest import TINY, joint_of, naive_of

DRAWS = 20_000


def _sticky(V, stay):
    T = np.full((V, V), (1 - stay) / (V - 1))
    np.fill_diagonal(T, stay)
    return synth.NGramLanguage(2, T)


ORDER_1 = {
    "bigram": lambda: synth.NGramLanguage.random(2, 3, rng=11),
    "sticky-bigram": lambda: _sticky(3, 0.8),
    "all-equal": lambda: synth.all_equal(3),
    "bigram-sparse": TINY["bigram-sparse"],
}


def _block_copy_joint(k, m, L):
    r"""Joint of block-copy (pair-copy: m = 2) written out: 1/k per block where every block is constant."""
    joint = np.zeros((k,) * L)
    for x in itertools.product(range(k), repeat=L):
        if all(x[i] == x[i - i % m] for i in range(L)):
            joint[x] = float(k) ** -len(range(0, L, m))
    return joint


def _tv(law, joint):
    return 0.5 * float(np.abs(law.reshape(-1) - joint.reshape(-1)).sum())


def _brute_pm(joint, reveal_step):
    r"""p_M(x) = prod_t prod_{i in S_t} q(x_i | x_{R_t}) for every string, from the joint alone (uniform
    rows where x_{R_t} itself has probability zero, the sampler's fallback)."""
    L, V = joint.ndim, joint.shape[0]
    out = np.zeros(V ** L)
    for code, x in enumerate(itertools.product(range(V), repeat=L)):
        p = 1.0
        for t in sorted(set(reveal_step)):
            shown = [v if s < t else -1 for v, s in zip(x, reveal_step)]
            new = [i for i in range(L) if reveal_step[i] == t]
            if joint[tuple(v if v >= 0 else slice(None) for v in shown)].sum() == 0:
                p *= float(V) ** -len(new)
            else:
                rows = brute.conditionals(joint, shown)
                p *= math.prod(rows[i, x[i]] for i in new)
        out[code] = p
    return out


# -- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("order,exc,pattern", [
    ("binary", ValueError, r"policy must be one of .*got 'binary'"),
    ("runs:0", ValueError, r"'runs:m' needs an integer m >= 1, got 'runs:0'"),
    ("runs:x", ValueError, r"'runs:m' needs an integer m >= 1, got 'runs:x'"),
    ("dilated:0", ValueError, r"'dilated:s' needs an integer s >= 1"),
    ([[0, 1], [2, 1], [3, 4]], ValueError, r"position 1 is in step 0 and step 1"),
    ([[0, 1], [2, 3]], ValueError, r"position 4 is in no step \(1 missing\)"),
    ([[0, 1, 5], [2, 3, 4]], ValueError, r"step 0 holds position 5, outside \[0, 5\)"),
    ([[0, 1], [], [2, 3, 4]], ValueError, r"step 1 is empty"),
    ([[0, 1.0], [2, 3, 4]], TypeError, r"step 0 holds float 1.0"),
    ([[0, 1], 2, [3, 4]], TypeError, r"step 1 is int 2"),
])
def test_bad_orders_name_the_problem(order, exc, pattern):
    lang = TINY["bigram-sparse"]()
    with pytest.raises(exc, match=pattern):
        models.sample(lang, 5, 2, schedule="balanced", policy=order)


def test_natural_schedule_checks_steps_policy_blocks_and_rules():
    lang = TINY["bigram-sparse"]()
    with pytest.raises(ValueError, match=r"policy 'binary-search' at length 7 takes steps = 3 .*got 4"):
        models.sample(lang, 7, 4, schedule="natural", policy="binary-search")
    with pytest.raises(ValueError, match=r"schedule='natural' needs a structured order policy"):
        models.sample(lang, 7, 3, schedule="natural", policy="random")
    with pytest.raises(ValueError, match=r"block_length must be None, got 2"):
        models.sample(lang, 7, 3, schedule="natural", policy="binary-search", block_length=2)
    with pytest.raises(ValueError, match=r"runs the default rule only"):
        models.sample(lang, 7, 3, schedule="natural", policy="binary-search", temperature=0.5)
    with pytest.raises(ValueError, match=r"runs the default rule only"):
        models.exact_law(lang, 4, 3, schedule="natural", policy="binary-search", prompt=[0, -1, -1, -1])
    with pytest.raises(ValueError, match=r"takes steps = 2"):
        models.reveal_partitions(5, 3, schedule="natural", policy="dilated")


# -- the orders by hand ------------------------------------------------------------------------------

@pytest.mark.parametrize("order,L,steps", [
    ("binary-search", 5, [[2], [0, 3], [1, 4]]),
    ("binary-search", 6, [[2], [0, 4], [1, 3, 5]]),
    ("binary-search", 7, [[3], [1, 5], [0, 2, 4, 6]]),
    ("runs:2", 7, [[2], [3], [0, 4], [1, 5], [6]]),
    ("runs:3", 4, [[0], [1], [2], [3]]),
    ("dilated", 5, [[0, 2, 4], [1, 3]]),
    ("dilated:4", 6, [[0, 4], [2], [1, 5], [3]]),
    ("dilated:3", 7, [[0, 3, 6], [2, 5], [1, 4]]),
    ("dilated:8", 3, [[0], [2], [1]]),
    ([[4, 1], [0], [2, 3]], 5, [[1, 4], [0], [2, 3]]),
])
def test_natural_steps_and_ranks_by_hand(order, L, steps):
    plan = orders.structured_plan(order, L)
    assert [list(np.flatnonzero(plan.reveal_step == t)) for t in range(plan.steps)] == steps
    assert plan.counts.tolist() == [len(s) for s in steps]
    assert plan.rank.tolist() == np.argsort(np.concatenate(steps), kind="stable").tolist()
    assert orders.natural_steps(order, L) == len(steps)


def test_natural_steps_formulas_two_implementations():
    for L in range(1, 300):
        assert orders.natural_steps("binary-search", L) == math.ceil(math.log2(L + 1))
        assert orders.natural_steps("dilated:5", L) == min(5, L)
        np.testing.assert_array_equal(orders.structured_plan("runs:1", L).rank,
                                      orders.structured_plan("binary-search", L).rank)
    for m in range(1, 5):
        for L in range(1, 120):
            assert orders.natural_steps(f"runs:{m}", L) == structured.runs_steps(m, L)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_runs_reveal_at_most_one_position_per_gap_per_step(m):
    for L in range(1, 60):
        step = orders.structured_plan(f"runs:{m}", L).reveal_step
        for t in range(step.max() + 1):
            revealed, gap, run, started, seen = step < t, 0, 0, False, set()
            for i in range(L):
                if revealed[i]:
                    run += 1
                    continue
                if started and run >= m:  # a run of >= m revealed tokens closed the previous gap
                    gap += 1
                run, started = 0, True
                if step[i] == t:
                    assert gap not in seen, (m, L, t, i)
                    seen.add(gap)


# -- exactness against the brute-force joint ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ORDER_1))
@pytest.mark.parametrize("L", [5, 6, 7])
def test_binary_search_is_exact_on_order_1_languages(name, L):
    lang = ORDER_1[name]()
    N = orders.natural_steps("binary-search", L)
    law = models.exact_law(lang, L, N, schedule="natural", policy="binary-search")
    np.testing.assert_allclose(law, joint_of(lang, L), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name,order,L", [("hmm-dense", "binary-search", 5), ("hmm-sparse", "binary-search", 5),
                                          ("trigram-sparse", "binary-search", 5), ("hmm-dense", "runs:2", 6),
                                          ("4gram-custom-initial", "runs:2", 6)])
def test_inexact_orders_differ_from_the_language(name, order, L):
    lang = TINY[name]()
    N = orders.natural_steps(order, L)
    law = models.exact_law(lang, L, N, schedule="natural", policy=order)
    reveal = orders.structured_plan(order, L).reveal_step
    np.testing.assert_allclose(law.reshape(-1), _brute_pm(joint_of(lang, L), reveal.tolist()), rtol=0, atol=1e-12)
    assert _tv(law, joint_of(lang, L)) > 1e-5  # rounding gives ~1e-16


@pytest.mark.parametrize("name,order", [("trigram-sparse", "runs:2"), ("4gram-custom-initial", "runs:3"),
                                        ("trigram-sparse", "runs:3")])
def test_runs_of_the_chain_order_are_exact(name, order):
    lang = TINY[name]()
    L = 6 if lang.vocab_size == 3 else 7
    law = models.exact_law(lang, L, orders.natural_steps(order, L), schedule="natural", policy=order)
    np.testing.assert_allclose(law, joint_of(lang, L), rtol=0, atol=1e-12)


def test_pair_copy_is_exact_in_two_steps_even_then_odd():
    lang = synth.pair_copy(3)
    joint = _block_copy_joint(3, 2, 6)  # (brute.hmm_joint would sum K^L = 6^6 hidden paths per string)
    for order in ("dilated", [[0, 2, 4], [1, 3, 5]], [[1, 2, 5], [0, 3, 4]]):
        law = models.exact_law(lang, 6, 2, schedule="natural", policy=order)
        np.testing.assert_allclose(law, joint, rtol=0, atol=1e-12)
    assert _tv(models.exact_law(lang, 4, 2, schedule="balanced"), _block_copy_joint(3, 2, 4)) > 0.1  # pairs break
    bad = models.exact_law(lang, 6, 2, schedule="natural", policy=[[0, 1, 2], [3, 4, 5]])  # pair (0, 1) together
    assert _tv(bad, joint) > 0.1


def test_log_prob_given_reveal_of_binary_search_is_the_language_on_every_string():
    for name, make in ORDER_1.items():
        lang, L = make(), 7
        x = brute.all_strings(lang.vocab_size, L)
        reveal = np.broadcast_to(orders.structured_plan("binary-search", L).reveal_step, x.shape)
        with np.errstate(divide="ignore"):
            want = np.log(joint_of(lang, L).reshape(-1))
        got = models.log_prob_given_reveal(lang, x, reveal)
        inside = np.isfinite(want)
        np.testing.assert_allclose(got[inside], want[inside], rtol=0, atol=1e-12, err_msg=name)
        assert np.all(got[~inside] == -np.inf), name


def test_ser_is_zero_with_binary_search_and_positive_with_random_order():
    lang, L = TINY["bigram-sparse"](), 6
    outside = joint_of(lang, L) == 0
    assert outside.any()
    law = models.exact_law(lang, L, 3, schedule="natural", policy="binary-search")
    assert law[outside].sum() == 0.0
    assert models.exact_law(lang, L, 3, schedule="balanced")[outside].sum() > 0.01


# -- the sampler ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
@pytest.mark.parametrize("order,schedule,steps", [("binary-search", "natural", 5), ("runs:2", "balanced", 4),
                                                  ([list(range(0, 16, 3)), list(range(1, 16, 3)),
                                                    list(range(2, 16, 3))], "cosine", 6)])
def test_sweep_tree_and_generic_paths_agree(name, order, schedule, steps):
    lang = TINY[name]()
    kw = dict(size=40, schedule=schedule, policy=order, rng=3)
    sweep = models.sample(lang, 16, steps, method="sweep", **kw)
    generic = models.sample(models.ExactDenoiser(lang), 16, steps, method="generic", **kw)
    tree = models.sample(lang, 16, steps, method="tree", **kw)
    for field in ("tokens", "reveal_step", "nfe", "log_prob_sampler", "counts"):
        np.testing.assert_array_equal(getattr(sweep, field), getattr(generic, field))
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)  # differs only if a uniform hits a CDF edge
    np.testing.assert_array_equal(tree.reveal_step, sweep.reveal_step)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-12)
    want = orders.structured_plan(order, 16).name
    assert sweep.policy == want and tree.policy == want


def test_natural_partition_is_the_order_and_rng_layout_is_that_of_random():
    lang = TINY["unigram"]()  # i.i.d. tokens: each position's draw uses only its own uniform
    a = models.sample(lang, 9, 4, size=30, schedule="natural", policy="binary-search", rng=5)
    b = models.sample(lang, 9, 4, size=30, schedule="balanced", policy="random", rng=5)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_array_equal(a.reveal_step, np.broadcast_to([2, 1, 2, 3, 0, 2, 1, 2, 3], (30, 9)))
    np.testing.assert_array_equal(a.reveal_step, models.reveal_partitions(9, 4, size=30, schedule="natural",
                                                                          policy="binary-search", rng=5))
    assert a.policy == "binary-search" and a.schedule.name == "natural"


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse"])
def test_sampler_matches_the_naive_mirror_run_with_the_order_as_ranks(name):
    steps = [[3], [1, 5], [0, 2, 4, 6]]  # binary search at L = 7, by hand
    rank = np.broadcast_to(np.argsort(np.concatenate(steps), kind="stable"), (6, 7))
    res = models.sample(TINY[name](), 7, 3, size=6, schedule="natural", policy="binary-search", rng=9)
    rng = np.random.default_rng(9)  # the layout: counts (fixed: no draws), the permutation's uniforms, tokens
    counts = res.schedule.draw(6, rng)
    rng.random((6, 7))
    tokens, reveal, lp, nfe, _ = naive.run_batch(naive_of(name), counts, "random", naive.blocks(7, None), rank,
                                                 rng.random((6, 7)))
    np.testing.assert_array_equal(res.tokens, tokens)
    np.testing.assert_array_equal(res.reveal_step, reveal)
    np.testing.assert_array_equal(res.nfe, nfe)
    np.testing.assert_allclose(res.log_prob_sampler, lp, rtol=1e-12, atol=0)


def _chi_square_p(law, tokens):
    codes = np.ravel_multi_index(tuple(tokens.T), law.shape)
    counts = np.bincount(codes, minlength=law.size)
    p = law.reshape(-1)
    assert counts[p == 0].sum() == 0, "sampled a string the law gives probability zero"
    keep = p > 0
    assert keep.sum() <= 81  # small support: every cell expects many draws
    return stats.chisquare(counts[keep], DRAWS * p[keep] / p[keep].sum()).pvalue


@pytest.mark.parametrize("name,order,schedule,steps", [("hmm-sparse", "binary-search", "natural", 3),
                                                       ("trigram-sparse", "dilated", "natural", 2),
                                                       ("hmm-dense", "runs:2", "cosine", 2)])
def test_sample_histogram_matches_exact_law(name, order, schedule, steps):
    lang = TINY[name]()
    law = models.exact_law(lang, 4, steps, schedule=schedule, policy=order)
    res = models.sample(lang, 4, steps, size=DRAWS, schedule=schedule, policy=order, rng=21)
    assert _chi_square_p(law, res.tokens) > 1e-3


def test_chi_square_detects_an_inexact_order():
    lang = synth.NGramLanguage.random(3, 3, rng=7)  # every string possible; law TV 0.17 from the language
    res = models.sample(lang, 4, 2, size=DRAWS, schedule="natural", policy="dilated", rng=22)
    assert _chi_square_p(joint_of(lang, 4), res.tokens) < 1e-6


# -- theory.structured --------------------------------------------------------------------------------

def _ordered_partitions(L, N):
    for labels in itertools.product(range(N), repeat=L):
        if len(set(labels)) == N:
            yield np.array(labels)


def test_partition_kl_chain_form_equals_enumeration_and_brute_force():
    lang, L = synth.NGramLanguage.random(2, 3, rng=12), 6
    joint = joint_of(lang, L).reshape(-1)
    rng = np.random.default_rng(0)
    for _ in range(6):
        reveal = rng.integers(0, 3, size=L)
        pm = _brute_pm(joint.reshape((3,) * L), reveal.tolist())
        keep = joint > 0
        want = float(joint[keep] @ (np.log(joint[keep]) - np.log(pm[keep])))
        assert structured.partition_kl(lang, reveal, method="chain") == pytest.approx(want, abs=1e-12)
        assert structured.partition_kl(lang, reveal, method="enumeration") == pytest.approx(want, abs=1e-12)


def test_partition_kl_of_exact_orders_is_zero_at_scale():
    lang = synth.NGramLanguage.random(2, 5, rng=13)
    for L in (1, 2, 200):
        assert abs(structured.partition_kl(lang, orders.structured_plan("binary-search", L).reveal_step)) < 1e-10
    assert structured.partition_kl(lang, orders.structured_plan("dilated", 200).reveal_step) > 1.0
    tri = TINY["trigram-sparse"]()
    assert structured.partition_kl(tri, orders.structured_plan("binary-search", 7).reveal_step) > 0.01
    assert abs(structured.partition_kl(tri, orders.structured_plan("runs:2", 7).reveal_step)) < 1e-12


def test_fewer_steps_are_never_exact_at_length_5():
    bigram = synth.NGramLanguage.random(2, 2, rng=14)
    assert min(structured.partition_kl(bigram, r) for r in _ordered_partitions(5, 2)) > 1e-4
    assert structured.runs_steps(1, 5) == 3
    trigram = synth.NGramLanguage.random(3, 2, rng=15)
    assert min(structured.partition_kl(trigram, r) for r in _ordered_partitions(5, 3)) > 1e-4
    assert structured.runs_steps(2, 5) == 4


@pytest.mark.parametrize("make,order,steps", [
    (lambda: synth.NGramLanguage.random(2, 3, rng=1), "binary-search", 3),
    (lambda: synth.NGramLanguage.random(3, 2, rng=2), "runs:2", 4),
    (lambda: synth.NGramLanguage.random(4, 2, rng=3), "runs:3", 5),
    (lambda: synth.NGramLanguage.random(1, 3, rng=4), [[0, 1, 2, 3, 4, 5]], 1),
    (lambda: synth.pair_copy(3), "dilated", 2),
    (lambda: synth.all_equal(3), [[0], [1, 2, 3, 4, 5]], 2),
    (lambda: synth.block_copy(2, 3), [[0, 3], [1, 2, 4, 5]], 2),
    (lambda: synth.HMMLanguage.random(2, 2, rng=5), None, None),
])
def test_structured_steps_names_an_exact_order(make, order, steps):
    lang, L = make(), 6
    got = structured.structured_steps(lang, L)
    if order is None:
        assert got is None
        return
    assert (got.order, got.steps) == (order, steps)
    law = models.exact_law(lang, L, steps, schedule="natural", policy=got.order)
    spec = lang.spec
    m = {"pair-copy": 2, "block-copy": spec.params.get("block")}.get(spec.kind) if spec is not None else None
    joint = joint_of(lang, L) if m is None else _block_copy_joint(lang.vocab_size, m, L)
    np.testing.assert_allclose(law, joint, rtol=0, atol=1e-12)


def test_kl_q_pm_takes_a_structured_order():
    bigram = synth.NGramLanguage.random(2, 3, rng=16)
    est = metrics.kl_q_pm(bigram, 12, 4, samples=200, schedule="natural", policy="binary-search", rng=1)
    assert abs(est.value) < 1e-12
    tri = TINY["trigram-sparse"]()
    est = metrics.kl_q_pm(tri, 7, 3, samples=4000, schedule="natural", policy="binary-search", rng=2)
    exact = structured.partition_kl(tri, orders.structured_plan("binary-search", 7).reveal_step)
    assert abs(est.value - exact) < 4 * est.stderr


def test_exact_metrics_take_a_structured_order():
    bigram = TINY["bigram-sparse"]()
    got = metrics.exact_metrics(bigram, 6, 3, schedule="natural", policy="binary-search")
    assert got["ser"] == 0.0 and abs(got["kl_q_pm"]) < 1e-12 and abs(got["kl_pm_q"]) < 1e-12
    assert metrics.exact_metrics(bigram, 6, 3, schedule="balanced")["ser"] > 0.01
    tri = TINY["trigram-sparse"]()
    got = metrics.exact_metrics(tri, 6, 3, schedule="natural", policy="binary-search")
    want = structured.partition_kl(tri, orders.structured_plan("binary-search", 6).reveal_step)
    assert got["kl_q_pm"] == pytest.approx(want, abs=1e-12) and want > 0.01
    with pytest.raises(ValueError, match=r"fixed counts only"):
        metrics.exact_metrics(tri, 5, 2, schedule="linear", policy="dilated")
