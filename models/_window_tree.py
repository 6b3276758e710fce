r"""Private numba kernels of the sampler's window-tree path: static policies on an n-gram language.

An order-n language is a chain on its K = V^(n-1) windows whose window c emits its first token
c // C (C = K / V = V^(n-2)) and moves to (c % C) V + v with probability table[c, v]. As in
:mod:`models._tree`, leaf t of a segment tree stands for the transfer matrix M_t = A diag(e_t)
(M_0 = diag(e_0)), e_t the evidence of position t (ones while masked). A revealed token x_j keeps
the C windows of block x_j, so diag(e_j) = S_j S_j^T with S_j = I[:, x_j C : x_j C + C] (K x C) and
a segment [l, r] whose first revealed position is j has a transfer matrix of rank <= C:

    M_l ... M_r = (M_l ... M_{j-1} A S_j) (S_j^T M_{j+1} ... M_r) = U W,  U (K, C), W (C, K)

(U = S_j when j = 0). A segment with nothing revealed is M_l ... M_r = A^p, p its positions t >= 1
(M_0 = I while masked, and padding leaves t >= L are I): the same matrix for every such segment of
the same p, so the few distinct powers (a handful per level) are computed once per call and shared.
A node is therefore "masked" (an index into those powers) or factored (U, W), and products are

* factored x factored: U_1 W_1 U_2 W_2 = U_1 ((W_1 U_2) W_2), 2 K C^2 flops instead of K^3;
* masked x factored: (A^p U_2) W_2, K^2 C; factored x masked: U_1 (W_1 A^p), C K^2 (K V C through the
  shift structure when p = 1, the commonest case: a masked leaf beside a revealed one).

Factors shared with a child are referenced, not copied, and U (which depends only on the segment's
first revealed position) is recomputed only when it changes. Revealing x_i refreshes the O(log L)
nodes above leaf i; the conditional of a position is one
root-to-leaf walk on each side, (vec U) W = 2 K C flops per factored node. With C = V^(n-2) this is
O(L log L K C (K + C)) per one-token-per-step run, against the dense tree's O(L log L K^3) and the
sweep's O(L^2 K V). A bigram has C = 1: every factored node is rank one. Each node is scaled by its
largest entry (the scale is irrelevant to conditionals), as :mod:`models._tree` does.

Randomness, step planning and draws are :mod:`models._kernels`'s (:func:`~models._kernels.static_order`,
:func:`~models._kernels.next_static`, :func:`~models._kernels.draw_selected`), so a window-tree run makes
the same choices as a sweep run from the same uniforms; rows agree with the sweep to rounding.
"""
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

from mdmlab.models._kernels import draw_selected, next_static, static_order
from mdmlab.models._tree import _copy
from mdmlab.synth._kernels import _normalise


@njit(cache=True)
def dense_transition(table):
    """A (K, K) with A[c, (c % C) V + v] = table[c, v], C = K // V: the window chain's transition."""
    K, V = table.shape
    C = K // V
    A = np.zeros((K, K))
    for c in range(K):
        for v in range(V):
            A[c, (c % C) * V + v] = table[c, v]
    return A


@njit(cache=True)
def _matmul(a, b, out):
    """out = a @ b, the inner loop contiguous in b and out."""
    n, m = a.shape
    q = b.shape[1]
    for i in range(n):
        for j in range(q):
            out[i, j] = 0.0
        for k in range(m):
            aik = a[i, k]
            if aik != 0.0:
                for j in range(q):
                    out[i, j] += aik * b[k, j]


@njit(cache=True)
def _scale_by_max(mat):
    """Divide ``mat`` by its largest entry in place (a zero matrix stays zero)."""
    big = 0.0
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            if mat[i, j] > big:
                big = mat[i, j]
    if big > 0.0:
        inv = 1.0 / big
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                mat[i, j] *= inv


@njit(cache=True)
def masked_powers(transition, L, P):
    r"""The all-masked segments' matrices, shared by every sequence of a run.

    Returns (power (2 P,) int64: p of node n, the positions 1 <= t < L under it; slot (2 P,) int64:
    the index of A^p in ``mats``; mats (S, K, K): the S distinct powers, each the product of its
    first node's children (A^0 = I, A^1 = A)). Node n covers leaves [lo, lo + size) as in a heap.
    """
    K = transition.shape[0]
    power = np.zeros(2 * P, dtype=np.int64)
    for t in range(1, L):
        power[P + t] = 1
    for node in range(P - 1, 0, -1):
        power[node] = power[2 * node] + power[2 * node + 1]
    first = np.full(L + 1, -1, dtype=np.int64)  # first (deepest) node with each power
    for node in range(2 * P - 1, 0, -1):
        if first[power[node]] < 0:
            first[power[node]] = node
    S = 0
    index = np.full(L + 1, -1, dtype=np.int64)
    for p in range(L + 1):
        if first[p] >= 0:
            index[p] = S
            S += 1
    mats = np.zeros((S, K, K))
    for p in range(L + 1):  # increasing p: a node's children have smaller or equal powers, already done
        node = first[p]
        if node < 0:
            continue
        s = index[p]
        if p == 0:
            for k in range(K):
                mats[s, k, k] = 1.0
        elif node >= P:
            for k in range(K):
                for j in range(K):
                    mats[s, k, j] = transition[k, j]
        else:
            _matmul(mats[index[power[2 * node]]], mats[index[power[2 * node + 1]]], mats[s])
    slot = np.empty(2 * P, dtype=np.int64)
    for node in range(1, 2 * P):
        slot[node] = index[power[node]]
    return power, slot, mats


@njit(cache=True)
def _shift_left(table, Ub, out):
    """out = A @ Ub (Ub (K, M)) through the shift structure: out[c] = sum_v table[c, v] Ub[(c % C) V + v]."""
    K, V = table.shape
    C, M = K // V, Ub.shape[1]
    for c in range(K):
        for a in range(M):
            out[c, a] = 0.0
        base = (c % C) * V
        for v in range(V):
            w = table[c, v]
            if w != 0.0:
                for a in range(M):
                    out[c, a] += w * Ub[base + v, a]


@njit(cache=True)
def _shift_right(Wb, table, out):
    """out = Wb @ A (Wb (M, K)) through the shift structure: out[:, (c % C) V + v] += Wb[:, c] table[c, v]."""
    for a in range(Wb.shape[0]):
        _vec_shift(Wb[a], table, out[a])


@njit(cache=True)
def _vec_shift(vec, table, out):
    """out = vec^T A through the shift structure, K V flops."""
    K, V = table.shape
    C = K // V
    for k in range(K):
        out[k] = 0.0
    for c in range(K):
        w = vec[c]
        if w != 0.0:
            base = (c % C) * V
            for v in range(V):
                out[base + v] += w * table[c, v]


@njit(cache=True)
def _shift_vec(table, beta, out):
    """out = A beta through the shift structure, K V flops."""
    K, V = table.shape
    C = K // V
    for c in range(K):
        base = (c % C) * V
        acc = 0.0
        for v in range(V):
            acc += table[c, v] * beta[base + v]
        out[c] = acc


@njit(cache=True)
def _set_leaf(U, W, ref, P, t, x_t, transition, C):
    """Leaf t revealed as x_t: U = (A or, at t = 0, I)[:, x_t C : x_t C + C], W = I[x_t C : x_t C + C, :]."""
    K = transition.shape[0]
    leaf = P + t
    base = x_t * C
    for k in range(K):
        for a in range(C):
            if t > 0:
                U[leaf, k, a] = transition[k, base + a]
            else:
                U[leaf, k, a] = 1.0 if k == base + a else 0.0
    for a in range(C):
        for k in range(K):
            W[leaf, a, k] = 0.0
        W[leaf, a, base + a] = 1.0
    ref[leaf, 0] = leaf
    ref[leaf, 1] = leaf


@njit(cache=True)
def _combine(U, W, ref, node, power, slot, mats, table, G, changed, from_left):
    r"""Node = left child x right child in the masked / factored representation (module docstring);
    return whether the node's U changed.

    ``ref[n] = (u, w)``: node n is factored as U[u] W[w] (u = -1: all masked, A^power[n] = mats[slot[n]]).
    A factor a node shares with a child is referenced, not copied: only the node's ancestors read
    its storage, and a refresh recomputes them after it. ``changed``: whether the U of the child on
    the refreshed path (the left one if ``from_left``) changed. U depends only on the segment's first
    revealed position, so A^p U_2 is recomputed only when U_2 changed (about log s times over a run
    for a segment of s positions in random order, instead of at every reveal below it).
    """
    left, right = 2 * node, 2 * node + 1
    if ref[left, 0] < 0 and ref[right, 0] < 0:
        return False  # still all masked
    if ref[left, 0] < 0:  # (A^p U_2) W_2; the refreshed child is the right one
        ref[node, 1] = ref[right, 1]
        if power[left] == 0:
            ref[node, 0] = ref[right, 0]
        elif changed:
            if power[left] == 1:
                _shift_left(table, U[ref[right, 0]], U[node])
            else:
                _matmul(mats[slot[left]], U[ref[right, 0]], U[node])
            _scale_by_max(U[node])
            ref[node, 0] = node
        return changed
    ref[node, 0] = ref[left, 0]
    changed = changed and from_left
    if ref[right, 0] < 0:  # U_1 (W_1 A^p)
        if power[right] == 0:
            ref[node, 1] = ref[left, 1]
            return changed
        if power[right] == 1:
            _shift_right(W[ref[left, 1]], table, W[node])
        else:
            _matmul(W[ref[left, 1]], mats[slot[right]], W[node])
    else:  # U_1 ((W_1 U_2) W_2)
        _matmul(W[ref[left, 1]], U[ref[right, 0]], G)
        _matmul(G, W[ref[right, 1]], W[node])
    _scale_by_max(W[node])
    ref[node, 1] = node
    return changed


@njit(cache=True)
def _vec_node(vec, node, U, W, ref, power, slot, mats, table, tc, tmp):
    """vec <- vec^T M_node, normalised to sum one."""
    K = vec.shape[0]
    if ref[node, 0] >= 0:
        Un, Wn = U[ref[node, 0]], W[ref[node, 1]]
        C = Wn.shape[0]
        for a in range(C):
            tc[a] = 0.0
        for k in range(K):
            vk = vec[k]
            if vk != 0.0:
                for a in range(C):
                    tc[a] += vk * Un[k, a]
        for k in range(K):
            tmp[k] = 0.0
        for a in range(C):
            ta = tc[a]
            if ta != 0.0:
                for k in range(K):
                    tmp[k] += ta * Wn[a, k]
    elif power[node] == 1:
        _vec_shift(vec, table, tmp)
    elif power[node] > 1:
        m = mats[slot[node]]
        for k in range(K):
            tmp[k] = 0.0
        for k in range(K):
            vk = vec[k]
            if vk != 0.0:
                for j in range(K):
                    tmp[j] += vk * m[k, j]
    else:
        return
    _copy(tmp, vec)
    _normalise(vec)


@njit(cache=True)
def _node_vec(beta, node, U, W, ref, power, slot, mats, table, tc, tmp):
    """beta <- M_node beta, normalised to sum one."""
    K = beta.shape[0]
    if ref[node, 0] >= 0:
        Un, Wn = U[ref[node, 0]], W[ref[node, 1]]
        C = Wn.shape[0]
        for a in range(C):
            acc = 0.0
            for k in range(K):
                acc += Wn[a, k] * beta[k]
            tc[a] = acc
        for k in range(K):
            acc = 0.0
            for a in range(C):
                acc += Un[k, a] * tc[a]
            beta[k] = acc
    elif power[node] == 1:
        _shift_vec(table, beta, tmp)
        _copy(tmp, beta)
    elif power[node] > 1:
        m = mats[slot[node]]
        for k in range(K):
            acc = 0.0
            for j in range(K):
                acc += m[k, j] * beta[j]
            tmp[k] = acc
        _copy(tmp, beta)
    _normalise(beta)


@njit(cache=True)
def _row(i, P, initial, table, U, W, ref, power, slot, mats, vec, beta, tc, tmp, row):
    r"""row[v] ∝ sum_{c in block v} pred_i[c] beta_i[c]: pred_i = pi^T M_0..M_{i-1} (A if i > 0) and
    beta_i = M_{i+1}..M_{P-1} 1, each a walk down the tree over O(log L) nodes (as in :mod:`models._tree`)."""
    K, V = table.shape
    C = K // V
    _copy(initial, vec)
    node, lo, size = 1, 0, P
    while i > lo:  # prefix [0, i): left children, left to right
        half = size // 2
        if i >= lo + half:
            _vec_node(vec, 2 * node, U, W, ref, power, slot, mats, table, tc, tmp)
            lo += half
            node = 2 * node + 1
        else:
            node = 2 * node
        size = half
    if i > 0:  # vec^T A through the shift structure, K V flops
        _vec_shift(vec, table, tmp)
        _copy(tmp, vec)
    for k in range(K):
        beta[k] = 1.0
    ones = True  # A^p 1 = 1: masked nodes right of every revealed position are skipped
    node, lo, size, j = 1, 0, P, i + 1
    while j < P:  # suffix [i+1, P): right children, right to left
        done = j == lo
        target = node if done else 0
        if not done:
            half = size // 2
            if j < lo + half:
                target = 2 * node + 1
                node = 2 * node
            else:
                lo += half
                node = 2 * node + 1
            size = half
        if target > 0 and (not ones or ref[target, 0] >= 0):
            _node_vec(beta, target, U, W, ref, power, slot, mats, table, tc, tmp)
            ones = False
        if done:
            break
    for v in range(V):
        acc = 0.0
        for a in range(C):
            acc += vec[v * C + a] * beta[v * C + a]
        row[v] = acc
    if _normalise(row) <= 0.0:
        for v in range(V):  # the revealed tokens are impossible: the sampler's uniform fallback
            row[v] = 1.0 / V


def sample_window_tree(initial, table, counts, policy, block_of, rank, token_u, tokens, reveal, lp_out, nfe_out):
    r"""Static-policy MDM runs on an n-gram language with a segment tree of rank-C window factors.

    Same contract and randomness as :func:`models._tree.sample_tree`, on the n-gram layout
    (``initial`` (K,), ``table`` (K, V), K = V^(n-1)). Revealing x_i refreshes the O(log L) nodes above
    leaf i (2 K C^2 flops per factored pair, K^2 C against a masked sibling); the conditional of a
    position is one root-to-leaf walk on each side. Rows agree with the sweep path to rounding.

    The masked powers are computed once; the batch is cut into ``numba.get_num_threads()`` contiguous
    chunks run by :func:`sample_chunk` (serial, ``nogil``) on Python threads: each sequence is
    independent, so the results do not depend on the thread count, and the kernel compiles in about
    half the time of a ``parallel=True`` one.
    """
    B = counts.shape[0]
    L = rank.shape[1]
    P = 1 << (L - 1).bit_length()
    transition = dense_transition(table)
    power, slot, mats = masked_powers(transition, L, P)
    shared = (initial, table, transition, power, slot, mats, policy, block_of)
    per_seq = (counts, rank, token_u, tokens, reveal, lp_out, nfe_out)
    workers = max(1, min(numba.get_num_threads(), B))
    if workers == 1:
        sample_chunk(*shared, *per_seq)
        return
    edges = np.linspace(0, B, workers + 1).astype(np.int64)
    with ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(sample_chunk, *shared, *(a[lo:hi] for a in per_seq)) for lo, hi in zip(edges, edges[1:])]
        for job in jobs:
            job.result()


@njit(cache=True, nogil=True)
def sample_chunk(initial, table, transition, power, slot, mats, policy, block_of, counts, rank, token_u, tokens,
                 reveal, lp_out, nfe_out):
    """:func:`sample_window_tree` on the sequences of one chunk, given the window chain's masked powers."""
    B, N = counts.shape
    L = rank.shape[1]
    K, V = table.shape
    C = K // V
    P = power.shape[0] // 2
    for b in range(B):
        U = np.empty((2 * P, K, C))
        W = np.empty((2 * P, C, K))
        ref = np.full((2 * P, 2), -1, dtype=np.int64)
        G = np.empty((C, C))
        x = np.full(L, -1, dtype=np.int64)
        rows = np.zeros((L, V))
        vec, beta, tmp, tc, cdf = np.empty(K), np.empty(K), np.empty(K), np.empty(C), np.empty(V)
        sel = np.empty(L, dtype=np.int64)
        order = static_order(policy, block_of, rank[b])
        ptr, lp, nfe = 0, 0.0, 0
        for j in range(N):
            k = counts[b, j]
            if k == 0:
                continue
            ptr = next_static(order, ptr, k, sel)
            for c in range(k):
                _row(sel[c], P, initial, table, U, W, ref, power, slot, mats, vec, beta, tc, tmp, rows[sel[c]])
            lp += draw_selected(x, rows, sel, k, j, token_u[b], reveal[b], cdf)
            for c in range(k):
                t = sel[c]
                _set_leaf(U, W, ref, P, t, x[t], transition, C)
                changed, child = True, P + t
                while child > 1:
                    changed = _combine(U, W, ref, child // 2, power, slot, mats, table, G, changed, child % 2 == 0)
                    child //= 2
            nfe += 1
        for i in range(L):
            tokens[b, i] = x[i]
        lp_out[b] = lp
        nfe_out[b] = nfe
