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
largest entry (the scale is irrelevant to conditionals).

The run path (:func:`sample_chunk`) splits W once more: a factored node is U Mid W with
W = S_m^T M_{m+1} ... M_r depending only on the segment's last revealed position m and
Mid = S_j^T M_{j+1} ... M_{m-1} A S_m (C, C), so a factored pair costs Mid_1 (W_1 U_2) Mid_2, 2 C^3
flops per refresh, W_1 U_2 (C K C) being recomputed only when W_1 or U_2 changes (as are
W_1 A^p and A^p U_2 against a masked sibling). A step revealing k tokens sets their k leaves and
recombines each ancestor once, level by level (tests/test_window_tree_batched.py checks its rows
against brute force).

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
def _leaf_factors(transition, P, V):
    """The factors a revealed leaf references, one copy per token x < V: U[P + x] = A S_x,
    U[P + V + x] = S_x (position 0), W[P + x] = S_x^T; slots below P are the nodes' own factors."""
    K = transition.shape[0]
    C = K // V
    U = np.empty((P + 2 * V, K, C))
    W = np.zeros((P + V, C, K))
    for x in range(V):
        for k in range(K):
            for a in range(C):
                U[P + x, k, a] = transition[k, x * C + a]
                U[P + V + x, k, a] = 1.0 if k == x * C + a else 0.0
        for a in range(C):
            W[P + x, a, x * C + a] = 1.0
    return U, W


@njit(cache=True)
def _against_masked(U, W, ref, node, power, slot, mats, table, u_changed, w_changed):
    """Node = left x right child when one of them is all masked (A^p): the other's factors, with
    A^p U_2 or W_1 A^p recomputed only when U_2 or W_1 changed (``ref`` as in :func:`_refresh`)."""
    left, right = 2 * node, 2 * node + 1
    lu, ru = ref[left, 0], ref[right, 0]
    if lu < 0:  # A^p (U_2 Mid_2 W_2)
        ref[node, 1], ref[node, 2] = ref[right, 1], ref[right, 2]
        if power[left] == 0:
            ref[node, 0] = ru
        elif u_changed[right]:
            if power[left] == 1:
                _shift_left(table, U[ru], U[node])
            else:
                _matmul(mats[slot[left]], U[ru], U[node])
            _scale_by_max(U[node])
            ref[node, 0] = node
        u_changed[node], w_changed[node] = u_changed[right], w_changed[right]
        return
    ref[node, 0], ref[node, 1] = lu, ref[left, 1]  # (U_1 Mid_1 W_1) A^p
    if power[right] == 0:
        ref[node, 2] = ref[left, 2]
    elif w_changed[left]:
        if power[right] == 1:
            _shift_right(W[ref[left, 2]], table, W[node])
        else:
            _matmul(W[ref[left, 2]], mats[slot[right]], W[node])
        _scale_by_max(W[node])
        ref[node, 2] = node
    u_changed[node], w_changed[node] = u_changed[left], w_changed[left]


@njit(cache=True)
def _refresh(sel, k, x, P, table, U, W, Mid, G, T, ref, power, slot, mats, u_changed, w_changed,
             queued, level, parents):
    r"""Set the leaves of the k positions sel[:k] just revealed, then recombine each of their ancestors
    once, level by level (the union of the k root paths), bottom up.

    ``ref[n] = (u, m, w)``: node n is U[u] Mid[m] W[w] (u = -1: all masked, A^power[n]; m >= P: a
    leaf's Mid = I; u, w >= P: a leaf's factors, kept once per token by :func:`_leaf_factors`).
    ``u_changed[n]`` / ``w_changed[n]``: whether n's U / W changed in this refresh (False off the
    refreshed paths). A factored pair is U_1 (Mid_1 G Mid_2) W_2 with G = W_1 U_2 (C, C) recomputed
    only when W_1 or U_2 changed, Mid (2 C^3) at every refresh, scaled by its largest entry. The
    pair's products are written out here (as helper calls they cost numba a reference-count update
    per array argument and node); a masked sibling goes to :func:`_against_masked`.
    """
    V = table.shape[1]
    C = G.shape[1]
    K = U.shape[1]
    for c in range(k):
        t = sel[c]
        ref[P + t, 0] = P + x[t] if t > 0 else P + V + x[t]  # A S_x, or S_x at t = 0
        ref[P + t, 1], ref[P + t, 2] = P, P + x[t]  # Mid = I, W = S_x^T
        u_changed[P + t], w_changed[P + t] = True, True
        level[c] = P + t
    m = k
    while level[0] > 1:
        n = 0
        for c in range(m):
            parent = level[c] // 2
            if not queued[parent]:
                queued[parent] = True
                parents[n] = parent
                n += 1
        for c in range(n):
            node = parents[c]
            left, right = 2 * node, 2 * node + 1
            lu, ru = ref[left, 0], ref[right, 0]
            if lu < 0 and ru < 0:
                continue  # still all masked
            if lu < 0 or ru < 0:
                _against_masked(U, W, ref, node, power, slot, mats, table, u_changed, w_changed)
                continue
            wl, ml, mr = ref[left, 2], ref[left, 1], ref[right, 1]
            if w_changed[left] or u_changed[right]:  # G = W_1 U_2; a leaf's W_1 = S_x^T picks C rows
                if wl >= P:
                    base = (wl - P) * C
                    for a in range(C):
                        for b in range(C):
                            G[node, a, b] = U[ru, base + a, b]
                else:
                    for a in range(C):
                        for b in range(C):
                            acc = 0.0
                            for j in range(K):
                                acc += W[wl, a, j] * U[ru, j, b]
                            G[node, a, b] = acc
            for a in range(C):  # T = Mid_1 G
                for b in range(C):
                    if ml < P:
                        acc = 0.0
                        for j in range(C):
                            acc += Mid[ml, a, j] * G[node, j, b]
                    else:
                        acc = G[node, a, b]
                    T[a, b] = acc
            big = 0.0
            for a in range(C):  # Mid = T Mid_2
                for b in range(C):
                    if mr < P:
                        acc = 0.0
                        for j in range(C):
                            acc += T[a, j] * Mid[mr, j, b]
                    else:
                        acc = T[a, b]
                    Mid[node, a, b] = acc
                    if acc > big:
                        big = acc
            if big > 0.0:
                inv = 1.0 / big
                for a in range(C):
                    for b in range(C):
                        Mid[node, a, b] *= inv
            ref[node, 0], ref[node, 1], ref[node, 2] = lu, node, ref[right, 2]
            u_changed[node], w_changed[node] = u_changed[left], w_changed[right]
        for c in range(m):
            u_changed[level[c]], w_changed[level[c]] = False, False
        for c in range(n):
            queued[parents[c]] = False
            level[c] = parents[c]
        m = n
    u_changed[1], w_changed[1] = False, False


@njit(cache=True)
def _conditionals(sel, count, P, initial, table, U, W, Mid, ref, power, slot, mats, vec, beta, tc, td, tmp, rows):
    r"""rows[i, v] ∝ sum_{c in block v} pred_i[c] beta_i[c] for i in sel[:count] on the U Mid W tree of
    :func:`sample_chunk` (:func:`_row`'s walks: pred_i = pi^T M_0..M_{i-1} (A if i > 0),
    beta_i = M_{i+1}..M_{P-1} 1), one call per step.

    A factored node maps vec to ((vec^T U) Mid) W on the left, U (Mid (W beta)) on the right, the
    C-vector in between normalised to sum one (a leaf's W = S_x^T, w = P + x, picks a block; a leaf's
    Mid = I is skipped); a masked one is A^p, vec normalised after it. The node products are written
    out in the two walks: as helper calls they cost numba a reference-count update per array
    argument and node, more than the products themselves at K = 16.
    """
    K, V = table.shape
    C = K // V
    for r in range(count):
        i = sel[r]
        row = rows[i]
        _copy(initial, vec)
        node, lo, size = 1, 0, P
        while i > lo:  # prefix [0, i): left children, left to right
            half = size // 2
            if i >= lo + half:
                n = 2 * node
                u, m, w = ref[n, 0], ref[n, 1], ref[n, 2]
                if u >= 0:  # vec <- ((vec^T U) Mid) W
                    for a in range(C):
                        acc = 0.0
                        for k in range(K):
                            acc += vec[k] * U[u, k, a]
                        tc[a] = acc
                    if m < P:
                        for a in range(C):
                            acc = 0.0
                            for b in range(C):
                                acc += tc[b] * Mid[m, b, a]
                            td[a] = acc
                        _copy(td, tc)
                    _normalise(tc)  # vec = tc^T W then sums to at most K
                    for k in range(K):
                        vec[k] = 0.0
                    if w >= P:
                        base = (w - P) * C
                        for a in range(C):
                            vec[base + a] = tc[a]
                    else:
                        for a in range(C):
                            ta = tc[a]
                            if ta != 0.0:
                                for k in range(K):
                                    vec[k] += ta * W[w, a, k]
                elif power[n] > 0:  # vec <- vec^T A^p
                    if power[n] == 1:
                        _vec_shift(vec, table, tmp)
                    else:
                        s = slot[n]
                        for k in range(K):
                            tmp[k] = 0.0
                        for k in range(K):
                            vk = vec[k]
                            if vk != 0.0:
                                for j in range(K):
                                    tmp[j] += vk * mats[s, k, j]
                    _copy(tmp, vec)
                    _normalise(vec)
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
            n = node if done else 0
            if not done:
                half = size // 2
                if j < lo + half:
                    n = 2 * node + 1
                    node = 2 * node
                else:
                    lo += half
                    node = 2 * node + 1
                size = half
            if n > 0 and (not ones or ref[n, 0] >= 0):
                ones = False
                u, m, w = ref[n, 0], ref[n, 1], ref[n, 2]
                if u >= 0:  # beta <- U (Mid (W beta))
                    if w >= P:
                        base = (w - P) * C
                        for a in range(C):
                            tc[a] = beta[base + a]
                    else:
                        for a in range(C):
                            acc = 0.0
                            for k in range(K):
                                acc += W[w, a, k] * beta[k]
                            tc[a] = acc
                    if m < P:
                        for a in range(C):
                            acc = 0.0
                            for b in range(C):
                                acc += Mid[m, a, b] * tc[b]
                            td[a] = acc
                        _copy(td, tc)
                    _normalise(tc)
                    for k in range(K):
                        acc = 0.0
                        for a in range(C):
                            acc += U[u, k, a] * tc[a]
                        beta[k] = acc
                elif power[n] > 0:  # beta <- A^p beta
                    if power[n] == 1:
                        _shift_vec(table, beta, tmp)
                    else:
                        s = slot[n]
                        for k in range(K):
                            acc = 0.0
                            for k2 in range(K):
                                acc += mats[s, k, k2] * beta[k2]
                            tmp[k] = acc
                    _copy(tmp, beta)
                    _normalise(beta)
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
    (``initial`` (K,), ``table`` (K, V), K = V^(n-1)). A step revealing k tokens refreshes the union of
    their O(log L) root paths once (2 C^3 flops per factored pair, :func:`sample_chunk`); the conditional
    of a position is one root-to-leaf walk on each side. Rows agree with the sweep path to rounding.

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
    r""":func:`sample_window_tree` on the sequences of one chunk, given the window chain's masked powers.

    A factored node is kept as U Mid W: U = M_l..M_{j-1} A S_j (K, C) depends only on the segment's
    first revealed position j, W = S_m^T M_{m+1}..M_r (C, K) only on its last one m, and
    Mid = S_j^T M_{j+1}..M_{m-1} A S_m (C, C) (I for a leaf). A parent of two factored children
    has Mid = Mid_1 (W_1 U_2) Mid_2: 2 C^3 flops per refresh once G = W_1 U_2 (C K C) is known, and
    G, like A^p U_2 and W_1 A^p against a masked sibling, changes only when U_2 or W_1 does. The
    storage is allocated once per chunk, with one copy of a revealed leaf's factors per token value
    (:func:`_leaf_factors`): U (P + 2 V, K, C), W (P + V, C, K), Mid and G (P, C, C), within the
    (2, 2 P, K, C) the sampler budgets. A sequence resets only ``ref``.
    """
    B, N = counts.shape
    L = rank.shape[1]
    K, V = table.shape
    C = K // V
    P = power.shape[0] // 2
    U, W = _leaf_factors(transition, P, V)
    Mid = np.empty((P, C, C))
    G = np.empty((P, C, C))
    T = np.empty((C, C))
    ref = np.empty((2 * P, 3), dtype=np.int64)
    u_changed = np.zeros(2 * P, dtype=np.bool_)
    w_changed = np.zeros(2 * P, dtype=np.bool_)
    queued = np.zeros(P, dtype=np.bool_)
    level, parents = np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64)
    x = np.empty(L, dtype=np.int64)
    rows = np.empty((L, V))
    vec, beta, tmp, tc, td, cdf = np.empty(K), np.empty(K), np.empty(K), np.empty(C), np.empty(C), np.empty(V)
    sel = np.empty(L, dtype=np.int64)
    for b in range(B):
        for n in range(2 * P):
            ref[n, 0], ref[n, 1], ref[n, 2] = -1, -1, -1
        for i in range(L):
            x[i] = -1
        order = static_order(policy, block_of, rank[b])
        ptr, lp, nfe = 0, 0.0, 0
        for j in range(N):
            k = counts[b, j]
            if k == 0:
                continue
            ptr = next_static(order, ptr, k, sel)
            _conditionals(sel, k, P, initial, table, U, W, Mid, ref, power, slot, mats, vec, beta, tc, td, tmp, rows)
            lp += draw_selected(x, rows, sel, k, j, token_u[b], reveal[b], cdf)
            _refresh(sel, k, x, P, table, U, W, Mid, G, T, ref, power, slot, mats, u_changed, w_changed,
                     queued, level, parents)
            nfe += 1
        for i in range(L):
            tokens[b, i] = x[i]
        lp_out[b] = lp
        nfe_out[b] = nfe
