r"""The sampler's kernels and its three paths against the plain mirror in tests/naive.py (STYLE 14, 15b).

Each kernel is checked on its own (scores, static order, adaptive selection, planning, drawing, the
uniform fallback), then whole runs: the library's ``models.sample`` and a naive run that consumes
the same randomness, reproduced here from the seed in the documented layout (counts from the
schedule's draw, then one ``rng.random((B, L))`` whose argsort ranks are the tie-break permutation,
then the token uniforms ``rng.random((B, L))``), must give the same tokens and reveal steps bit for
bit and the same log p_M(x) to 1e-12.
"""
import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab.models import _kernels as mkern
from mdmlab.models import _tree as tkern
from tests import naive
from tests.conftest import TINY, naive_of

POLICIES = ["random", "left-to-right", "confidence", "margin", "entropy"]
L, N, B = 7, 3, 12


def _rows(rng, count, V):
    """``count`` >= 4 random rows with exact zeros, exact ties (rows i and i + 1 for i = 0, 4, ...),
    a uniform row and a one-hot row."""
    rows = rng.dirichlet(np.ones(V), size=count) * (rng.random((count, V)) > 0.3)
    rows[rows.sum(axis=1) == 0, 0] = 1.0
    rows /= rows.sum(axis=1, keepdims=True)
    for i in range(0, count - 1, 4):
        rows[i] = rows[i + 1]
    rows[2], rows[3] = np.full(V, 1.0 / V), np.eye(V)[V - 1]
    return rows


def _drawn_randomness(schedule, batch, length, seed):
    """(counts, rank, token_u) of ``models.sample(..., rng=seed)``, drawn here in its layout."""
    rng = np.random.default_rng(seed)
    counts = schedule.draw(batch, rng)
    rank = np.array([naive.ranks(row) for row in rng.random((batch, length)).tolist()])
    return counts, rank, rng.random((batch, length))


def _assert_same_run(res, name, policy, block_length, seed):
    """The library's run ``res`` equals the naive run on the same randomness."""
    batch, length = res.tokens.shape
    counts, rank, token_u = _drawn_randomness(res.schedule, batch, length, seed)
    tokens, reveal, lp, nfe, fallbacks = naive.run_batch(naive_of(name), counts, policy,
                                                         naive.blocks(length, block_length), rank, token_u)
    np.testing.assert_array_equal(res.tokens, tokens)
    np.testing.assert_array_equal(res.reveal_step, reveal)
    np.testing.assert_array_equal(res.nfe, nfe)
    np.testing.assert_allclose(res.log_prob_sampler, lp, rtol=1e-12, atol=0)
    return fallbacks


@pytest.mark.parametrize("policy", ["confidence", "margin", "entropy"])
def test_score_matches_kernel_bit_for_bit(policy):
    rng = np.random.default_rng(1)
    code = models.POLICIES[policy]
    rows = [r for V in (1, 2, 3, 5) for r in _rows(rng, 40, V)]
    rows += [np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.5, 0.25]), np.array([1 / 3, 1 / 3, 1 / 3])]
    for row in rows:
        assert mkern._score(np.ascontiguousarray(row), code) == naive.score(row.tolist(), policy)


def test_score_quantisation_ties_rounding_level_differences():
    # two rows equal up to rounding get the same score: the tie is broken by rank, not by noise
    row = np.array([0.1, 0.2, 0.7])
    noisy = row + np.array([1e-16, -1e-16, 0.0])
    for policy in ("confidence", "margin", "entropy"):
        assert naive.score(row.tolist(), policy) == naive.score(noisy.tolist(), policy)
        assert mkern._score(row, models.POLICIES[policy]) == mkern._score(noisy, models.POLICIES[policy])


@pytest.mark.parametrize("block_length", [None, 1, 3, 7])
def test_static_order_matches_kernel(block_length):
    rng = np.random.default_rng(2)
    block_of = np.array(naive.blocks(L, block_length), dtype=np.int64)
    for _ in range(20):
        rank = rng.permutation(L).astype(np.int64)
        for policy in ("random", "left-to-right"):
            got = mkern.static_order(models.POLICIES[policy], block_of, rank)
            assert got.tolist() == naive.static_order(policy, block_of.tolist(), rank.tolist())


@pytest.mark.parametrize("policy", ["confidence", "margin", "entropy"])
@pytest.mark.parametrize("block_length", [None, 2])
def test_select_adaptive_matches_kernel(policy, block_length):
    rng = np.random.default_rng(3)
    block_of = np.array(naive.blocks(L, block_length), dtype=np.int64)
    for _ in range(30):
        rows = _rows(rng, L, 3)
        x = np.where(rng.random(L) < 0.6, synth.MASK, rng.integers(0, 3, L)).astype(np.int64)
        if not (x < 0).any():
            continue
        rank = rng.permutation(L).astype(np.int64)
        k = int(rng.integers(1, (x < 0).sum() + 1))
        sel = np.empty(L, dtype=np.int64)
        mkern.select_adaptive(x, rows, k, models.POLICIES[policy], block_of, np.argsort(rank), sel)
        expected = naive.select_adaptive(x.tolist(), rows.tolist(), k, policy, block_of.tolist(), rank.tolist())
        assert sel[:k].tolist() == expected


@pytest.mark.parametrize("policy", POLICIES)
def test_plan_step_and_draw_selected_match_kernels(policy):
    rng = np.random.default_rng(4)
    code = models.POLICIES[policy]
    for _ in range(20):
        x = np.where(rng.random(L) < 0.7, synth.MASK, rng.integers(0, 3, L)).astype(np.int64)
        masked = int((x < 0).sum())
        if masked == 0:
            continue
        k, order = int(rng.integers(1, masked + 1)), rng.permutation(L).astype(np.int64)
        ptr = int(rng.integers(0, L - k + 1))
        want, sel = np.zeros(L, dtype=np.bool_), np.empty(L, dtype=np.int64)
        new_ptr = mkern.plan_step(x, k, code, order, ptr, want, sel)
        exp_sel, exp_want, exp_ptr = naive.plan_step(x.tolist(), k, policy, order.tolist(), ptr)
        assert (new_ptr, want.tolist()) == (exp_ptr, exp_want)
        if exp_sel is None:  # adaptive: the selection is select_adaptive's job
            exp_sel = [int(i) for i in np.flatnonzero(x < 0)[:k]]
            sel[:k] = exp_sel
        assert sel[:k].tolist() == exp_sel
        _check_draw_selected(x, sel, exp_sel, k, rng)


def _check_draw_selected(x, sel, exp_sel, k, rng):
    rows, token_u = _rows(rng, L, 3), rng.random(L)
    token_u[0] = np.nextafter(1.0, 0.0)  # the CDF's top edge
    got_x, reveal, cdf = x.copy(), np.full(L, -1, dtype=np.int64), np.empty(3)
    lp = mkern.draw_selected(got_x, rows, sel, k, 5, token_u, reveal, cdf)
    exp_x, exp_reveal = x.tolist(), [-1] * L
    exp_lp = naive.draw_selected(exp_x, rows.tolist(), exp_sel, 5, token_u.tolist(), exp_reveal)
    assert (got_x.tolist(), reveal.tolist(), lp) == (exp_x, exp_reveal, exp_lp)


def test_uniform_rows_matches_kernel():
    want = np.array([True, False, True, True, False])
    rows = np.zeros((5, 3))
    mkern.uniform_rows(want, rows)
    expected = naive.uniform_rows(want.tolist(), 3)
    for i in range(5):
        assert rows[i].tolist() == expected.get(i, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "unigram"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("block_length", [None, 3])
@pytest.mark.parametrize("schedule", ["linear", "balanced-back"])
def test_fused_path_matches_naive_run(name, policy, block_length, schedule):
    seed = 100 + POLICIES.index(policy)
    res = models.sample(TINY[name](), L, N, size=B, schedule=schedule, policy=policy, block_length=block_length,
                        rng=seed, method="sweep")  # the fused path ("auto" may take the tree at this size)
    assert res.method == "sweep"
    _assert_same_run(res, name, policy, block_length, seed)


@pytest.mark.parametrize("name", ["hmm-sparse", "4gram-custom-initial"])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("block_length", [None, 2])
def test_generic_path_matches_naive_run(name, policy, block_length):
    seed = 200 + POLICIES.index(policy)
    res = models.sample(models.ExactDenoiser(TINY[name]()), L, N, size=B, schedule="cosine", policy=policy,
                        block_length=block_length, rng=seed)
    assert res.method == "generic"
    _assert_same_run(res, name, policy, block_length, seed)


@pytest.mark.parametrize("name", ["hmm-sparse", "trigram-sparse", "unigram", "4gram-custom-initial"])
@pytest.mark.parametrize("policy", ["random", "left-to-right"])
@pytest.mark.parametrize("block_length", [None, 3])
@pytest.mark.parametrize("length", [7, 8])  # 8 = a full tree: the last leaf has no right neighbour
def test_tree_path_matches_naive_run(name, policy, block_length, length):
    # the segment tree's rows are the exact conditionals (to rounding): same tokens, same log p_M
    seed = 300 + len(name)
    res = models.sample(TINY[name](), length, N, size=B, schedule=[3, 0, length - 3], policy=policy,
                        block_length=block_length, method="tree", rng=seed)
    assert res.method == "tree"
    _assert_same_run(res, name, policy, block_length, seed)


def _tree_rows(hmm, x):
    """Rows of the masked positions of x read off a segment tree built as ``sample_tree`` builds it."""
    initial, transition, emission = (np.ascontiguousarray(a) for a in (hmm.initial, hmm.transition, hmm.emission))
    (K, V), length, P = emission.shape, len(x), 1
    while P < length:
        P *= 2
    tree = np.zeros((2 * P, K, K))
    for t in range(P):
        if t < length:
            tkern._set_leaf(tree, P, t, x[t], transition, emission)
        else:
            tree[P + t] = np.eye(K)
    for node in range(P - 1, 0, -1):
        tkern._matmul_normalised(tree[2 * node], tree[2 * node + 1], tree[node])
    rows, vec, tmp = {}, np.empty(K), np.empty(K)
    for i in np.flatnonzero(x < 0):
        rows[int(i)] = np.empty(V)
        tkern._tree_row(tree, P, i, initial, transition, emission, vec, tmp, rows[int(i)])
    return rows


@pytest.mark.parametrize("name", ["hmm-sparse", "bigram-sparse", "trigram-sparse"])
@pytest.mark.parametrize("length", [5, 8])
def test_tree_rows_are_the_exact_conditionals(name, length):
    # every masked row of the tree, uniform fallback included, against the naive rows
    lang = TINY[name]()
    hmm = lang if isinstance(lang, synth.HMMLanguage) else lang.to_hmm()
    rng = np.random.default_rng(length)
    x = rng.integers(0, lang.vocab_size, size=(60, length))
    x = np.where(rng.random(x.shape) < rng.random((60, 1)), synth.MASK, x)
    dead = 0
    for row_x in x:
        expected = naive.denoiser_rows(naive_of(name), row_x, (row_x < 0).tolist())
        got = _tree_rows(hmm, row_x)
        assert sorted(got) == sorted(expected)
        for i in got:
            np.testing.assert_allclose(got[i], expected[i], rtol=0, atol=1e-12)
        dead += not lang.in_support(row_x) and bool(got)
    assert dead > 0  # the fallback was exercised


@pytest.mark.parametrize("method", ["sweep", "tree", "generic"])
def test_uniform_fallback_runs_match_naive(method):
    # a bigram with forbidden pairs revealed two and three at a time: many runs reveal an
    # impossible combination and continue on uniform rows
    name = "bigram-sparse"
    lang = TINY[name]()
    denoiser = models.ExactDenoiser(lang) if method == "generic" else lang
    kw = {} if method == "generic" else {"method": method}
    res = models.sample(denoiser, 6, 3, size=40, schedule="balanced", policy="random", rng=7, **kw)
    fallbacks = _assert_same_run(res, name, "random", None, 7)
    assert (fallbacks > 0).sum() >= 5 and not lang.in_support(res.tokens).all()
