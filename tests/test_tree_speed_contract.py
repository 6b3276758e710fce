r"""The segment-tree path's speed-ups keep its contract: products, stale-node bookkeeping, sweep agreement."""
import numba
import numpy as np
import pytest

from mdmlab import models
from mdmlab import synth
from mdmlab.models import _tree as tkern


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 6, 7, 8, 11, 23, 24, 25])  # every branch of _product
@pytest.mark.parametrize("shift", [0, -60, 60])  # inside, below and above the unscaled range
def test_product_is_the_matrix_product_up_to_a_power_of_two(K, shift):
    rng = np.random.default_rng(K)
    a, b = rng.random((2, K, K)) * np.exp2(shift / 2)
    a[rng.random((K, K)) < 0.4] = 0.0  # zero weights are skipped: the zeros must stay exact
    b[:, rng.random(K) < 0.3] = 0.0
    expected = a @ b
    out = np.empty((K, K))
    tkern._matmul_normalised(a, b, out)
    np.testing.assert_array_equal(out == 0.0, expected == 0.0)
    if not expected.any():
        return
    scale = np.exp2(np.round(np.log2(out.max() / expected.max())))  # a power of two, not just any factor:
    np.testing.assert_allclose(out, scale * expected, rtol=1e-13, atol=0.0)
    if shift:  # out of [2^-32, 2^32]: rescaled into [1/2, 1)
        assert 0.5 <= out.max() < 1.0
    else:
        assert scale == 1.0


def _leaf_product(tree, P, node):
    """Oracle: the product of the leaves under ``node``, left to right, in numpy."""
    lo, size = node, 1
    while lo < P:
        lo, size = 2 * lo, 2 * size
    out = np.eye(tree.shape[1])
    for t in range(lo, lo + size):
        out = out @ tree[t]
    return out


def _rebuilt(tree, P):
    """Every internal node recomputed from the leaves bottom-up with the kernel's own product."""
    full = tree.copy()
    nz = np.empty(tree.shape[1], dtype=np.int64)
    for node in range(P - 1, 0, -1):
        tkern._product(full, 2 * node, 2 * node + 1, node, nz)
    return full


@pytest.mark.parametrize("L", [1, 2, 5, 16, 29])
def test_fresh_nodes_equal_a_full_rebuild_after_lazy_updates(L):
    rng = np.random.default_rng(L)
    lang = synth.HMMLanguage.random(3, 4, sparsity=0.4, rng=L)
    pi, A, E = (np.ascontiguousarray(m) for m in (lang.initial, lang.transition, lang.emission))
    K = A.shape[0]
    tree = tkern.masked_tree(A, E, L)
    P = tree.shape[0] // 2
    dirty, stack, nz = np.zeros(P, dtype=np.bool_), np.empty(P.bit_length() + 1, dtype=np.int64), np.empty(K, np.int64)
    for t in rng.permutation(L):
        tkern._set_leaf(tree, P, t, np.int64(rng.integers(4)), A, E)
        tkern._mark(P, t, dirty)
        full = _rebuilt(tree, P)
        i = rng.integers(L)  # the row of a position, read off the lazy tree once its path is fresh
        tkern._fresh_path(tree, P, i, dirty, stack, nz)
        got, want = np.empty(4), np.empty(4)
        tkern._tree_row(tree, P, i, pi, A, E, np.empty(K), np.empty(K), got)
        tkern._tree_row(full, P, i, pi, A, E, np.empty(K), np.empty(K), want)
        np.testing.assert_array_equal(got, want)
        for node in range(1, P):
            if not dirty[node]:  # fresh: exactly what an eager refresh would hold
                np.testing.assert_array_equal(tree[node], full[node])
                assert not any(_stale_below(dirty, node, P))  # so it has no stale descendant
            else:
                assert all(dirty[n] for n in _ancestors(node))  # a stale node's ancestors are stale
        for node in range(1, P):  # and the rebuild is the leaves' product (up to scale)
            exact = _leaf_product(tree, P, node)
            if exact.any():
                np.testing.assert_allclose(full[node] * exact.max() / full[node].max(), exact, rtol=1e-12)


def _ancestors(node):
    while node > 1:
        node //= 2
        yield node


def _stale_below(dirty, node, P):
    todo = [2 * node, 2 * node + 1]
    while todo:
        n = todo.pop()
        if n < P:
            yield dirty[n]
            todo += [2 * n, 2 * n + 1]


HMMS = [dict(K=1, V=3), dict(K=2, V=2), dict(K=3, V=4, sparsity=0.5), dict(K=5, V=3, sparsity=0.4),
        dict(K=8, V=8, sparsity=0.75), dict(K=25, V=5, sparsity=0.6)]


@pytest.mark.parametrize("hmm", HMMS, ids=lambda h: f"K{h['K']}")
@pytest.mark.parametrize("policy,schedule,steps,block_length", [
    ("random", "cosine", 6, None), ("random", [5, 0, 20, 1, 14], 5, 9), ("left-to-right", "linear", 4, None),
    ("left-to-right", "cosine", 40, None), ("random", "linear", 40, None)])
def test_tree_matches_the_sweep_with_several_tokens_per_step(hmm, policy, schedule, steps, block_length):
    lang = synth.HMMLanguage.random(hmm["K"], hmm["V"], sparsity=hmm.get("sparsity", 0.0), rng=hmm["K"])
    kw = dict(size=12, schedule=schedule, policy=policy, block_length=block_length, rng=7)
    tree = models.sample(lang, 40, steps, method="tree", **kw)
    sweep = models.sample(lang, 40, steps, method="sweep", **kw)
    assert (tree.method, sweep.method) == ("tree", "sweep")
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)  # differs only if a uniform hits a CDF edge
    np.testing.assert_array_equal(tree.reveal_step, sweep.reveal_step)
    np.testing.assert_array_equal(tree.nfe, sweep.nfe)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-9)


@pytest.mark.parametrize("length", [1, 2, 3])
def test_tree_handles_the_smallest_trees(length):
    lang = synth.HMMLanguage.random(3, 2, rng=0)
    kw = dict(size=50, rng=3)
    tree = models.sample(lang, length, length, method="tree", **kw)
    sweep = models.sample(lang, length, length, method="sweep", **kw)
    np.testing.assert_array_equal(tree.tokens, sweep.tokens)
    np.testing.assert_allclose(tree.log_prob_sampler, sweep.log_prob_sampler, rtol=1e-9)


def test_tree_results_do_not_depend_on_the_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread available")
    lang = synth.HMMLanguage.random(4, 3, sparsity=0.3, rng=5)
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            runs.append(models.sample(lang, 33, 33, size=7, method="tree", rng=11))
    finally:
        numba.set_num_threads(before)
    for field in ("tokens", "reveal_step", "nfe", "log_prob_sampler"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))
