r"""Private numba kernels of the sampler's segment-tree path for static policies.

A dense hidden Markov model (an n-gram is run as its dense window chain) and a static reveal order:
leaf t of a segment tree holds the transfer matrix M_t = A diag(e_t) (M_0 = diag(e_0)), where e_t is
the evidence of position t (E[:, x_t] once revealed, ones while masked). Revealing x_i replaces
leaf i and the O(log L) products above it (K^3 each); the conditional of a position is one
root-to-leaf walk on each side (K^2 per node). That is O(K^3 log L) per revealed token instead of
the sweep's O(L K^2) per step, so one-token-per-step runs cost O(L log L) instead of O(L^2).

The all-masked tree is the same for every sequence: :func:`sample_tree` builds it once per call and
each run starts from a copy. Revealing a token replaces its leaf and only flags the nodes above it
stale (:func:`_mark`); before a row is read off the tree, the nodes its walks read are brought up to
date (:func:`_fresh_path`). A node is thus recomputed at most once per read, however
many of its leaves changed in between (all k tokens of a step, or several steps' when nothing read
it), and never when nothing reads it again: the same values as refreshing after every reveal, from
fewer products (counted at L = 256, one token per step: a sixth fewer for a random order, four times
fewer for left-to-right). A node whose largest entry leaves [2^-32, 2^32] is scaled by the power of
two that brings it into [1/2, 1) (the scale is irrelevant to conditionals, and a power-of-two scaling
rounds nothing).

Randomness, step planning and draws are :mod:`models._kernels`'s (:func:`~models._kernels.static_order`,
:func:`~models._kernels.next_static`, :func:`~models._kernels.draw_selected`), so a tree run makes the
same choices as a sweep run from the same uniforms; rows agree with the sweep to rounding.
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

from mdmlab.models._kernels import draw_selected, next_static, static_order
from mdmlab.synth._kernels import _normalise as _normalise_vec
from mdmlab.synth._kernels import _vecmat as vecmat


#: a node whose largest entry leaves [_LOW, _HIGH] is rescaled by a power of two (exactly): the product of
#: two nodes inside it (K <= 2^32 terms) can neither overflow nor push an entry above 2^-900 of the largest
#: into the subnormals
_LOW, _HIGH = 2.0 ** -32, 2.0 ** 32
#: from this many states on, :func:`_product` runs row by row through ``_vecmat`` (faster there, timed by hand)
_ROWS_K = 24


@njit(cache=True)
def _product(tree, a, b, out, nz):
    """tree[out] = tree[a] @ tree[b], rescaled (by a power of two, into [1/2, 1)) when its largest entry leaves
    [_LOW, _HIGH]. K < 4: plain sums. 4 <= K < _ROWS_K: two rows by four columns at a time, summed over m
    in order in registers, over the m where either row's weight is nonzero only (listed in the workspace
    ``nz`` (K,); revealed leaves A diag(E[:, x]) and the products above them have many zero columns).
    K >= _ROWS_K: rows by ``_vecmat``, faster there."""
    K = tree.shape[1]
    big = 0.0
    if K >= _ROWS_K:
        for i in range(K):
            vecmat(tree[a, i], tree[b], tree[out, i])
        for i in range(K):
            for j in range(K):
                big = max(big, tree[out, i, j])
    elif K < 4:
        for i in range(K):
            for j in range(K):
                c0 = 0.0
                for m in range(K):
                    c0 += tree[a, i, m] * tree[b, m, j]
                tree[out, i, j] = c0
                big = max(big, c0)
    else:
        for i0 in range(0, K, 2):
            i1 = min(i0 + 1, K - 1)  # odd K: the last row twice
            n = 0
            for m in range(K):  # the nonzero weights of rows i0, i1
                if tree[a, i0, m] != 0.0 or tree[a, i1, m] != 0.0:
                    nz[n] = m
                    n += 1
            j = 0
            while j < K:
                if j + 4 > K:  # the last K mod 4 columns
                    j = K - 4
                c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = 0.0
                for q in range(n):
                    m = nz[q]
                    w, u = tree[a, i0, m], tree[a, i1, m]
                    b0, b1, b2, b3 = tree[b, m, j], tree[b, m, j + 1], tree[b, m, j + 2], tree[b, m, j + 3]
                    c0 += w * b0
                    c1 += w * b1
                    c2 += w * b2
                    c3 += w * b3
                    d0 += u * b0
                    d1 += u * b1
                    d2 += u * b2
                    d3 += u * b3
                tree[out, i0, j], tree[out, i0, j + 1], tree[out, i0, j + 2], tree[out, i0, j + 3] = c0, c1, c2, c3
                tree[out, i1, j], tree[out, i1, j + 1], tree[out, i1, j + 2], tree[out, i1, j + 3] = d0, d1, d2, d3
                big = max(big, c0, c1, c2, c3, d0, d1, d2, d3)
                j += 4
    if big > 0.0 and (big < _LOW or big > _HIGH):
        scale = math.ldexp(1.0, -math.frexp(big)[1])  # exact: 2^-e with big = f 2^e, f in [1/2, 1)
        for i in range(K):
            for j in range(K):
                tree[out, i, j] *= scale


@njit(cache=True)
def _matmul_normalised(a, b, out):
    """out = a @ b scaled as :func:`_product` scales it (for tests that build a tree by hand)."""
    K = a.shape[0]
    work = np.empty((3, K, K))
    for i in range(K):
        for j in range(K):
            work[0, i, j], work[1, i, j] = a[i, j], b[i, j]
    _product(work, 0, 1, 2, np.empty(K, dtype=np.int64))
    for i in range(K):
        for j in range(K):
            out[i, j] = work[2, i, j]


@njit(cache=True)
def _set_leaf(tree, P, t, x_t, transition, emission):
    """Leaf t holds M_t = A diag(e_t) (t >= 1) or diag(e_0) (t = 0); e_t = E[:, x_t] or ones."""
    K = transition.shape[0]
    node = P + t
    for i in range(K):
        for j in range(K):
            base = transition[i, j] if t > 0 else (1.0 if i == j else 0.0)
            tree[node, i, j] = base if x_t < 0 else base * emission[j, x_t]


@njit(cache=True)
def masked_tree(transition, emission, L):
    """The all-masked tree (2 P, K, K), P = 2^ceil(log2 L): leaves A (I at t = 0 and t >= L), products above."""
    K = transition.shape[0]
    P = 1
    while P < L:
        P *= 2
    tree = np.zeros((2 * P, K, K))
    for t in range(P):
        for i in range(K):
            if 1 <= t < L:
                for j in range(K):
                    tree[P + t, i, j] = transition[i, j]
            else:
                tree[P + t, i, i] = 1.0
    nz = np.empty(K, dtype=np.int64)
    for node in range(P - 1, 0, -1):
        _product(tree, 2 * node, 2 * node + 1, node, nz)
    return tree


@njit(cache=True)
def _mark(P, t, dirty):
    """Leaf t changed: flag its ancestors stale, stopping at one already stale (its own are, too)."""
    node = (P + t) >> 1
    while node >= 1 and not dirty[node]:
        dirty[node] = True
        node >>= 1


@njit(cache=True)
def _fresh_path(tree, P, i, dirty, stack, nz):
    """Bring up to date every node :func:`_row` reads for position i: the siblings of leaf i's ancestors.

    A stale sibling is recomputed after its stale descendants, children first (``stack``, >= log2(P) + 1
    entries, holds the nodes in progress); a fresh node has no stale descendant (a stale node's ancestors
    are stale). Each node so recomputed is the product of its up-to-date children: the value an eager
    refresh after every reveal would hold."""
    node = P + i
    while node > 1:
        if (node ^ 1) < P and dirty[node ^ 1]:
            stack[0], sp = node ^ 1, 1
            while sp > 0:
                n = stack[sp - 1]
                if 2 * n < P and dirty[2 * n]:
                    stack[sp], sp = 2 * n, sp + 1
                elif 2 * n + 1 < P and dirty[2 * n + 1]:
                    stack[sp], sp = 2 * n + 1, sp + 1
                else:
                    _product(tree, 2 * n, 2 * n + 1, n, nz)
                    dirty[n] = False
                    sp -= 1
        node >>= 1


@njit(cache=True)
def _vec_node(vec, tree, node, out):
    """out = vec @ tree[node]: column sums for K < 4, else rows added with zero weights skipped."""
    K = vec.shape[0]
    if K < 4:
        for j in range(K):
            acc = 0.0
            for m in range(K):
                acc += vec[m] * tree[node, m, j]
            out[j] = acc
        return
    for j in range(K):
        out[j] = 0.0
    for m in range(K):
        w = vec[m]
        if w != 0.0:
            for j in range(K):
                out[j] += w * tree[node, m, j]


@njit(cache=True)
def _node_vec(tree, node, vec, out):
    """out = tree[node] @ vec."""
    K = vec.shape[0]
    for i in range(K):
        acc = 0.0
        for j in range(K):
            acc += tree[node, i, j] * vec[j]
        out[i] = acc


@njit(cache=True)
def _row(tree, P, i, initial, transition, emission, vec, beta, tmp, row):
    r"""row ∝ sum_k pred_i[k] beta_i[k] E[k, .] with pred_i = pi^T M_0..M_{i-1} (A if i > 0) and
    beta_i = M_{i+1}..M_{L-1} 1, each a walk down the tree over O(log L) nodes: the siblings of the nodes
    on leaf i's path to the root (left ones for the prefix, right ones for the suffix; :func:`_fresh_path`)."""
    K, V = emission.shape
    _copy(initial, vec)
    node, lo, size = 1, 0, P
    while i > lo:  # prefix [0, i): multiply left children, left to right
        half = size // 2
        if i >= lo + half:
            _vec_node(vec, tree, 2 * node, tmp)
            _copy(tmp, vec)
            _normalise_vec(vec)
            lo += half
            node = 2 * node + 1
        else:
            node = 2 * node
        size = half
    if i > 0:
        for j in range(K):
            tmp[j] = 0.0
        for m in range(K):
            w = vec[m]
            if w != 0.0:
                for j in range(K):
                    tmp[j] += w * transition[m, j]
        _copy(tmp, vec)
    for k in range(K):
        beta[k] = 1.0
    node, lo, size, j = 1, 0, P, i + 1
    while j < P:  # suffix [i+1, P): right children, right to left
        if j == lo:
            _node_vec(tree, node, beta, tmp)
            _copy(tmp, beta)
            _normalise_vec(beta)
            break
        half = size // 2
        if j < lo + half:
            _node_vec(tree, 2 * node + 1, beta, tmp)
            _copy(tmp, beta)
            _normalise_vec(beta)
            node = 2 * node
        else:
            lo += half
            node = 2 * node + 1
        size = half
    for v in range(V):
        row[v] = 0.0
    for k in range(K):
        w = vec[k] * beta[k]
        if w != 0.0:
            for v in range(V):
                row[v] += w * emission[k, v]
    if _normalise_vec(row) <= 0.0:
        row[:] = 1.0 / V  # the revealed tokens are impossible: the sampler's uniform fallback


@njit(cache=True)
def _tree_row(tree, P, i, initial, transition, emission, vec, tmp, row):
    """:func:`_row` on an up-to-date tree, with its own workspaces (for tests that read rows off a tree by hand)."""
    _row(tree, P, i, initial, transition, emission, vec, np.empty(vec.shape[0]), tmp, row)


@njit(cache=True, inline="always")
def _copy(src, dst):
    """dst[:] = src as a loop (a slice copy would compile numba's shape-mismatch error formatting)."""
    for k in range(src.shape[0]):
        dst[k] = src[k]


@njit(cache=True, nogil=True)
def sample_chunk(initial, transition, emission, base, counts, policy, block_of, rank, token_u, tokens, reveal, lp_out,
                 nfe_out):
    r"""Static-policy MDM runs on the segment tree, one per row of counts (B, N), rank, token_u, tokens,
    reveal (B, L), each starting from a copy of ``base`` (:func:`masked_tree`); writes lp_out[b] = log p_M(x)
    and nfe_out[b]. One kernel for the whole chunk (workspaces allocated once, one compilation)."""
    (B, N), L = counts.shape, rank.shape[1]
    K, V = emission.shape
    P = base.shape[0] // 2
    tree, x, rows = np.empty_like(base), np.empty(L, dtype=np.int64), np.empty((L, V))
    vec, beta, tmp, cdf = np.empty(K), np.empty(K), np.empty(K), np.empty(V)
    sel, nz = np.empty(L, dtype=np.int64), np.empty(K, dtype=np.int64)
    dirty, stack = np.empty(P, dtype=np.bool_), np.empty(2 + int(np.log2(P)), dtype=np.int64)
    for b in range(B):
        _restart(base, tree, x, dirty)
        order = static_order(policy, block_of, rank[b])
        ptr, lp, nfe = np.int64(0), 0.0, 0  # ptr typed int64 from the start (one next_static specialisation)
        for j in range(N):
            k = counts[b, j]
            if k == 0:
                continue
            ptr = next_static(order, ptr, k, sel)
            for c in range(k):
                _fresh_path(tree, P, sel[c], dirty, stack, nz)
                _row(tree, P, sel[c], initial, transition, emission, vec, beta, tmp, rows[sel[c]])
            lp += draw_selected(x, rows, sel, k, j, token_u[b], reveal[b], cdf)
            for c in range(k):
                _set_leaf(tree, P, sel[c], x[sel[c]], transition, emission)
                _mark(P, sel[c], dirty)
            nfe += 1
        for i in range(L):
            tokens[b, i] = x[i]
        lp_out[b], nfe_out[b] = lp, nfe


@njit(cache=True)
def _restart(base, tree, x, dirty):
    """A new run: the all-masked tree, nothing revealed, nothing stale."""
    for node in range(base.shape[0]):
        for i in range(base.shape[1]):
            for j in range(base.shape[2]):
                tree[node, i, j] = base[node, i, j]
    for i in range(x.shape[0]):
        x[i] = -1
    for node in range(dirty.shape[0]):
        dirty[node] = False


def sample_tree(initial, transition, emission, counts, policy, block_of, rank, token_u, tokens, reveal, lp_out,
                nfe_out):
    r"""Static-policy MDM runs on a dense HMM with a segment tree of transfer matrices.

    Same contract and randomness as :func:`models._kernels.sample_fused`. Revealing x_i replaces leaf i and the
    O(log L) products above it (K^3 each); the conditional of a position is one root-to-leaf walk
    on each side (K^2 per node). Rows agree with the sweep path to rounding, not bit for bit.
    The all-masked tree is built once; the batch is cut into ``numba.get_num_threads()`` contiguous
    chunks run by :func:`sample_chunk` (serial, ``nogil``) on Python threads: each sequence is the same
    kernel whatever the chunking, so the results do not depend on the thread count.
    """
    B = counts.shape[0]
    base = masked_tree(transition, emission, rank.shape[1])
    per_seq = (counts, rank, token_u, tokens, reveal, lp_out, nfe_out)

    def run(lo, hi):
        chunk = [a[lo:hi] for a in per_seq]
        sample_chunk(initial, transition, emission, base, chunk[0], policy, block_of, *chunk[1:])

    workers = max(1, min(numba.get_num_threads(), B))
    if workers == 1:
        run(0, B)
        return
    edges = np.linspace(0, B, workers + 1).astype(np.int64)
    with ThreadPoolExecutor(workers) as pool:
        for job in [pool.submit(run, lo, hi) for lo, hi in zip(edges, edges[1:])]:
            job.result()
