r"""Private numba kernels of the masked-diffusion sampler.

One step of an MDM run on one sequence is shared by the fused path (exact denoiser, posteriors
from ``synth._kernels``) and the generic driver (any denoiser's rows), so both make the same
choices and the same draws from the same uniforms, bit for bit.

A run's randomness, drawn up front by the public layer:
* ``counts[j]``: tokens revealed at step j (the count policy);
* ``rank[i]``: position i's place in a uniform random permutation, the tie-break priority (and,
  for the random policy, the reveal order itself);
* ``token_u[i]``: the uniform that draws position i's token when it is revealed.

Position policies rank the masked positions by (block ascending, score descending, rank ascending)
and reveal the first ``counts[j]``. Scores are rounded to multiples of 2^-40 (``1 / _INV_QUANTUM``),
so conditionals that differ only by rounding count as ties.

The segment-tree path for static policies lives in :mod:`models._tree` and shares this module's
step helpers (:func:`next_static`, :func:`draw_selected`).
"""
import math

import numpy as np
from numba import njit, prange

from mdmlab.synth._kernels import draw_categorical, hmm_posteriors_one, ngram_posteriors_one

RANDOM, LEFT_TO_RIGHT, CONFIDENCE, MARGIN, ENTROPY = 0, 1, 2, 3, 4
_INV_QUANTUM = 2.0 ** 40  # scores are rounded to multiples of the quantum 1 / _INV_QUANTUM = 2^-40


@njit(cache=True)
def is_static(policy):
    """Static policies fix the reveal order before any token is drawn."""
    return policy == RANDOM or policy == LEFT_TO_RIGHT


@njit(cache=True)
def _score(row, policy):
    """Higher is revealed first: max prob, top-1 minus top-2, or minus entropy (nats)."""
    V = row.shape[0]
    if policy == CONFIDENCE:
        s = row.max()
    elif policy == MARGIN:
        top1, top2 = 0.0, 0.0
        for v in range(V):
            p = row[v]
            if p > top1:
                top1, top2 = p, top1
            elif p > top2:
                top2 = p
        s = top1 - top2
    else:
        s = 0.0
        for v in range(V):
            if row[v] > 0.0:
                s += row[v] * math.log(row[v])
    return math.floor(s * _INV_QUANTUM + 0.5) / _INV_QUANTUM


@njit(cache=True)
def static_order(policy, block_of, rank):
    """Reveal order of a static policy: by (block, rank) for random, by position for left-to-right."""
    L = rank.shape[0]
    if policy == LEFT_TO_RIGHT:
        return np.arange(L)
    by_rank = np.argsort(rank)
    return by_rank[np.argsort(block_of[by_rank], kind="mergesort")]


@njit(cache=True)
def select_adaptive(x, rows, k, policy, block_of, by_rank, sel):
    """Write into sel[:k] the k masked positions first by (block, -score, rank)."""
    L = x.shape[0]
    cand = np.empty(L, dtype=np.int64)
    m = 0
    for i in by_rank:  # candidates in rank order, so stable sorts break ties by rank
        if x[i] < 0:
            cand[m] = i
            m += 1
    cand = cand[:m]
    neg = np.empty(m)
    for c in range(m):
        neg[c] = -_score(rows[cand[c]], policy)
    cand = cand[np.argsort(neg, kind="mergesort")]
    cand = cand[np.argsort(block_of[cand], kind="mergesort")]
    sel[:k] = cand[:k]


@njit(cache=True)
def draw_selected(x, rows, sel, k, step, token_u, reveal, cdf):
    """Draw x_i ~ rows[i] for i in sel[:k] independently; return sum of log rows[i, x_i]."""
    lp = 0.0
    V = rows.shape[1]
    for c in range(k):
        i = sel[c]
        acc = 0.0
        for v in range(V):
            acc += rows[i, v]
            cdf[v] = acc
        v = draw_categorical(cdf, token_u[i])
        x[i] = v
        reveal[i] = step
        lp += math.log(rows[i, v])
    return lp


@njit(cache=True)
def next_static(order, ptr, k, sel):
    """sel[:k] = order[ptr:ptr + k], the next k positions of a static reveal order; return ptr + k."""
    for c in range(k):
        sel[c] = order[ptr + c]
    return ptr + k


@njit(cache=True)
def plan_step(x, k, policy, order, ptr, want, sel):
    """For a static policy put the next k positions of ``order`` in sel and want; return new ptr.

    For an adaptive policy mark every masked position in ``want`` (their rows decide)."""
    want[:] = False
    if is_static(policy):
        ptr = next_static(order, ptr, k, sel)
        for c in range(k):
            want[sel[c]] = True
        return ptr
    for i in range(x.shape[0]):
        want[i] = x[i] < 0
    return ptr


@njit(cache=True)
def uniform_rows(want, rows):
    """The exact denoiser's fallback once the revealed tokens have probability zero: uniform rows.

    Tokens drawn in one step are independent, so a run can reveal an impossible combination; the
    true conditionals are then undefined (0/0) and the final string is outside the support
    whatever comes next. Drawing the rest uniformly keeps every run well-defined and p_M exact.
    """
    V = rows.shape[1]
    for i in range(want.shape[0]):
        if want[i]:
            rows[i, :] = 1.0 / V


@njit(cache=True)
def hmm_rows(x, params, want, pred, rows):
    """Exact-denoiser rows of a dense HMM (see synth._kernels.hmm_posteriors_one)."""
    initial, transition, transition_t, emission, emission_t = params
    return hmm_posteriors_one(x, initial, transition, transition_t, emission, emission_t, want, pred, rows)


@njit(cache=True)
def ngram_rows(x, params, want, pred, rows):
    """Exact-denoiser rows of an n-gram shift chain (see synth._kernels.ngram_posteriors_one)."""
    initial, table_fw, table_bw = params
    return ngram_posteriors_one(x, initial, table_fw, table_bw, want, pred, rows)


HMM, NGRAM = 0, 1


@njit(cache=True)
def exact_rows(family, hmm_params, ngram_params, x, want, pred, rows):
    """Rows of the exact denoiser of either family (the unused family's params are placeholders).

    One kernel with a branch, rather than a function-typed argument, keeps numba's on-disk cache
    working (dispatcher-typed signatures are never cache hits).
    """
    if family == HMM:
        return hmm_rows(x, hmm_params, want, pred, rows)
    return ngram_rows(x, ngram_params, want, pred, rows)


@njit(cache=True, parallel=True)
def sample_fused(family, hmm_params, ngram_params, K, V, counts, policy, block_of, rank, token_u, tokens, reveal,
                 lp_out, nfe_out):
    r"""Run B MDM chains with the exact denoiser: only the rows a step needs are computed.

    counts (B, N), rank (B, L), token_u (B, L) in; tokens (B, L), reveal (B, L), lp_out (B,)
    (= sum over steps of log q(x_i | tokens revealed before), the sampler's log p_M(x)) and
    nfe_out (B,) (steps that revealed at least one token) out.
    """
    B, N = counts.shape
    L = rank.shape[1]
    for b in prange(B):
        x = np.full(L, -1, dtype=np.int64)
        pred = np.empty((L, K))
        rows = np.zeros((L, V))
        want = np.zeros(L, dtype=np.bool_)
        sel = np.empty(L, dtype=np.int64)
        cdf = np.empty(V)
        order = static_order(policy, block_of, rank[b])
        by_rank = np.argsort(rank[b])
        ptr, lp, nfe = 0, 0.0, 0
        for j in range(N):
            k = counts[b, j]
            if k == 0:
                continue
            ptr = plan_step(x, k, policy, order, ptr, want, sel)
            if exact_rows(family, hmm_params, ngram_params, x, want, pred, rows) == -np.inf:
                uniform_rows(want, rows)
            if not is_static(policy):
                select_adaptive(x, rows, k, policy, block_of, by_rank, sel)
            lp += draw_selected(x, rows, sel, k, j, token_u[b], reveal[b], cdf)
            nfe += 1
        tokens[b] = x
        lp_out[b] = lp
        nfe_out[b] = nfe


@njit(cache=True, parallel=True)
def generic_step(x, rows, j, counts, policy, block_of, rank, ptrs, token_u, reveal, lp, nfe):
    r"""One step of the generic driver for the whole batch, given the denoiser's rows (B, L, V)."""
    B, L = x.shape
    V = rows.shape[2]
    for b in prange(B):
        k = counts[b, j]
        if k == 0:
            continue
        want = np.empty(L, dtype=np.bool_)
        sel = np.empty(L, dtype=np.int64)
        cdf = np.empty(V)
        order = static_order(policy, block_of, rank[b])
        ptrs[b] = plan_step(x[b], k, policy, order, ptrs[b], want, sel)
        if not is_static(policy):
            select_adaptive(x[b], rows[b], k, policy, block_of, np.argsort(rank[b]), sel)
        lp[b] += draw_selected(x[b], rows[b], sel, k, j, token_u[b], reveal[b], cdf)
        nfe[b] += 1
