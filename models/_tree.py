r"""Private numba kernels of the sampler's segment-tree path for static policies.

A dense hidden Markov model (an n-gram is run as its dense window chain) and a static reveal order:
leaf t of a segment tree holds the transfer matrix M_t = A diag(e_t) (M_0 = diag(e_0)), where e_t is
the evidence of position t (E[:, x_t] once revealed, ones while masked). Revealing x_i replaces
leaf i and the O(log L) products above it (K^3 each); the conditional of a position is one
root-to-leaf walk on each side (K^2 per node). That is O(K^3 log L) per revealed token instead of
the sweep's O(L K^2) per step, so one-token-per-step runs cost O(L log L) instead of O(L^2).

Randomness, step planning and draws are :mod:`models._kernels`'s (:func:`~models._kernels.static_order`,
:func:`~models._kernels.next_static`, :func:`~models._kernels.draw_selected`), so a tree run makes the
same choices as a sweep run from the same uniforms; rows agree with the sweep to rounding.
"""
import numba
import numpy as np
from numba import njit, prange

from mdmlab.models._kernels import draw_selected, next_static, static_order
from mdmlab.synth._kernels import SERIAL_WORK
from mdmlab.synth._kernels import _normalise as _normalise_vec
from mdmlab.synth._kernels import _vecmat as vecmat


@njit(cache=True)
def _matmul_normalised(a, b, out):
    """out = a @ b divided by its largest entry (the scale is irrelevant to conditionals)."""
    K = a.shape[0]
    big = 0.0
    for i in range(K):
        vecmat(a[i], b, out[i])
        for j in range(K):
            if out[i, j] > big:
                big = out[i, j]
    if big > 0.0:
        out /= big


@njit(cache=True)
def _set_leaf(tree, P, t, x_t, transition, emission):
    """Leaf t holds M_t = A diag(e_t) (t >= 1) or diag(e_0) (t = 0); e_t = E[:, x_t] or ones."""
    K = transition.shape[0]
    leaf = tree[P + t]
    for i in range(K):
        for j in range(K):
            base = transition[i, j] if t > 0 else (1.0 if i == j else 0.0)
            leaf[i, j] = base if x_t < 0 else base * emission[j, x_t]


@njit(cache=True)
def _refresh(tree, P, t):
    node = (P + t) // 2
    while node >= 1:
        _matmul_normalised(tree[2 * node], tree[2 * node + 1], tree[node])
        node //= 2


@njit(cache=True)
def _tree_row(tree, P, i, initial, transition, emission, vec, tmp, row):
    r"""row ∝ sum_k pred_i[k] beta_i[k] E[k, .] with pred_i = pi^T M_0..M_{i-1} (A if i > 0) and
    beta_i = M_{i+1}..M_{L-1} 1, each a walk down the tree over O(log L) nodes."""
    K, V = emission.shape
    _copy(initial, vec)
    node, lo, size = 1, 0, P
    while i > lo:  # prefix [0, i): multiply left children, left to right
        half = size // 2
        if i >= lo + half:
            vecmat(vec, tree[2 * node], tmp)
            _copy(tmp, vec)
            _normalise_vec(vec)
            lo += half
            node = 2 * node + 1
        else:
            node = 2 * node
        size = half
    if i > 0:
        vecmat(vec, transition, tmp)
        _copy(tmp, vec)
    beta = np.ones(K)
    node, lo, size, j = 1, 0, P, i + 1
    while j < P:  # suffix [i+1, P): right children, right to left
        if j == lo:
            _matvec(tree[node], beta, tmp)
            _copy(tmp, beta)
            _normalise_vec(beta)
            break
        half = size // 2
        if j < lo + half:
            _matvec(tree[2 * node + 1], beta, tmp)
            _copy(tmp, beta)
            _normalise_vec(beta)
            node = 2 * node
        else:
            lo += half
            node = 2 * node + 1
        size = half
    for k in range(K):
        vec[k] *= beta[k]
    vecmat(vec, emission, row)
    if _normalise_vec(row) <= 0.0:
        row[:] = 1.0 / V  # the revealed tokens are impossible: the sampler's uniform fallback


@njit(cache=True, inline="always")
def _copy(src, dst):
    """dst[:] = src as a loop (a slice copy would compile numba's shape-mismatch error formatting)."""
    for k in range(src.shape[0]):
        dst[k] = src[k]


@njit(cache=True)
def _matvec(mat, vec, out):
    K = mat.shape[0]
    for i in range(K):
        acc = 0.0
        for j in range(mat.shape[1]):
            acc += mat[i, j] * vec[j]
        out[i] = acc


@njit(cache=True)
def tree_one(initial, transition, emission, counts, policy, block_of, rank, token_u, tokens, reveal):
    r"""One static-policy MDM run on the segment tree (counts (N,), rank, token_u, tokens, reveal (L,));
    return (log p_M(x), nfe). :func:`sample_tree` runs it per sequence, serially or in parallel."""
    N, L = counts.shape[0], rank.shape[0]
    K, V = emission.shape
    P = 1
    while P < L:
        P *= 2
    tree = np.zeros((2 * P, K, K))
    for t in range(P):
        if t < L:
            _set_leaf(tree, P, t, np.int64(-1), transition, emission)  # int64: one specialisation
        else:
            for k in range(K):
                tree[P + t, k, k] = 1.0
    for node in range(P - 1, 0, -1):
        _matmul_normalised(tree[2 * node], tree[2 * node + 1], tree[node])
    x = np.full(L, -1, dtype=np.int64)
    rows = np.zeros((L, V))
    vec, tmp, cdf = np.empty(K), np.empty(K), np.empty(V)
    sel = np.empty(L, dtype=np.int64)
    order = static_order(policy, block_of, rank)
    ptr, lp, nfe = np.int64(0), 0.0, 0  # ptr typed int64 from the start (one next_static specialisation)
    for j in range(N):
        k = counts[j]
        if k == 0:
            continue
        ptr = next_static(order, ptr, k, sel)
        for c in range(k):
            _tree_row(tree, P, sel[c], initial, transition, emission, vec, tmp, rows[sel[c]])
        lp += draw_selected(x, rows, sel, k, j, token_u, reveal, cdf)
        for c in range(k):
            _set_leaf(tree, P, sel[c], x[sel[c]], transition, emission)
            _refresh(tree, P, sel[c])
        nfe += 1
    for i in range(L):
        tokens[i] = x[i]
    return lp, nfe


@njit(cache=True, parallel=True)
def sample_tree_batch(initial, transition, emission, counts, policy, block_of, rank, token_u, tokens, reveal, lp_out,
                      nfe_out):
    """B runs of :func:`tree_one` in parallel, each writing its own rows."""
    for b in prange(counts.shape[0]):
        lp_out[b], nfe_out[b] = tree_one(initial, transition, emission, counts[b], policy, block_of, rank[b],
                                         token_u[b], tokens[b], reveal[b])


def sample_tree(initial, transition, emission, counts, policy, block_of, rank, token_u, tokens, reveal, lp_out,
                nfe_out):
    r"""Static-policy MDM runs on a dense HMM with a segment tree of transfer matrices.

    Same contract and randomness as :func:`models._kernels.sample_fused`. Revealing x_i replaces leaf i and the
    O(log L) products above it (K^3 each); the conditional of a position is one root-to-leaf walk
    on each side (K^2 per node). Rows agree with the sweep path to rounding, not bit for bit.
    Small batches run serially (see ``synth._kernels.SERIAL_WORK``: a parallel kernel costs seconds
    to compile); each run is the same kernel either way, so results agree bit for bit.
    """
    if counts.size * rank.shape[1] > SERIAL_WORK and numba.get_num_threads() > 1:
        sample_tree_batch(initial, transition, emission, counts, policy, block_of, rank, token_u, tokens, reveal,
                          lp_out, nfe_out)
        return
    for b in range(counts.shape[0]):
        lp_out[b], nfe_out[b] = tree_one(initial, transition, emission, counts[b], policy, block_of, rank[b],
                                         token_u[b], tokens[b], reveal[b])
