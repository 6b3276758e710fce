r"""Private numba kernels of the masked-diffusion sampler.

One step of an MDM run on one sequence is shared by the fused path (exact denoiser, posteriors
from ``synth._kernels``) and the generic driver (any denoiser's rows), so both make the same
choices and the same draws from the same uniforms, bit for bit.

A run's randomness, drawn up front by the public layer:
* ``counts[j]``: tokens revealed at step j (the count policy);
* ``rank[i]``: position i's place in a uniform random permutation, the tie-break priority (and,
  for the random policy, the reveal order itself);
* ``token_u[i]``: the uniform that draws position i's token when it is revealed; a negative value
  -(v + 1) reveals the given token v instead (replay: log p_M(x) of a given x, :func:`draw_selected`).

Position policies rank the masked positions by (block ascending, score descending, rank ascending)
and reveal the first ``counts[j]``. Scores are rounded to multiples of 2^-40 (``1 / _INV_QUANTUM``),
so conditionals that differ only by rounding count as ties.

The segment-tree path for static policies lives in :mod:`models._tree` and shares this module's
step helpers (:func:`next_static`, :func:`draw_selected`).
"""
import math

import numba
import numpy as np
from numba import njit, prange

from mdmlab.synth._kernels import SERIAL_WORK, draw_categorical, hmm_posteriors_one, ngram_posteriors_one

RANDOM, LEFT_TO_RIGHT, CONFIDENCE, MARGIN, ENTROPY = 0, 1, 2, 3, 4
_INV_QUANTUM = 2.0 ** 40  # scores are rounded to multiples of the quantum 1 / _INV_QUANTUM = 2^-40


@njit(cache=True, inline="always")
def is_static(policy):
    """Static policies fix the reveal order before any token is drawn."""
    return policy == RANDOM or policy == LEFT_TO_RIGHT


@njit(cache=True)
def _score(row, policy):
    """Higher is revealed first: max prob, top-1 minus top-2, or minus entropy (nats)."""
    V = row.shape[0]
    if policy == CONFIDENCE:
        s = row[0]  # row.max(), NaN propagated as numpy does, without compiling the reduction
        for v in range(1, V):
            if math.isnan(s):
                break
            if math.isnan(row[v]) or row[v] > s:
                s = row[v]
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


@njit(cache=True, inline="always")
def by_rank_of(rank):
    """Positions in rank order: the inverse of the permutation ``rank``, i.e. its argsort in O(L)
    (and one sort specialisation fewer to compile)."""
    out = np.empty(rank.shape[0], dtype=np.int64)
    for i in range(rank.shape[0]):
        out[rank[i]] = i
    return out


@njit(cache=True, inline="always")
def static_order(policy, block_of, rank):
    """Reveal order of a static policy: by (block, rank) for random, by position for left-to-right.

    Random: a stable counting sort by block of the positions in rank order (blocks are 0..L-1).
    Plain loops throughout: no sort or slice-copy specialisation to compile.
    """
    L = rank.shape[0]
    out = np.empty(L, dtype=np.int64)
    if policy == LEFT_TO_RIGHT:
        for i in range(L):
            out[i] = i
        return out
    start = np.zeros(L + 1, dtype=np.int64)  # start[b + 1] counts block b, then prefix sums
    for i in range(L):
        start[block_of[i] + 1] += 1
    for b in range(L):
        start[b + 1] += start[b]
    by_rank = by_rank_of(rank)
    for c in range(L):
        i = by_rank[c]
        out[start[block_of[i]]] = i
        start[block_of[i]] += 1
    return out


@njit(cache=True, inline="always")
def _before(a, b, block_of, neg):
    """Whether candidate a sorts strictly before b by (block ascending, neg ascending, NaN last)."""
    if block_of[a] != block_of[b]:
        return block_of[a] < block_of[b]
    return neg[a] < neg[b] or (math.isnan(neg[b]) and not math.isnan(neg[a]))


@njit(cache=True)
def _sort_candidates(cand, block_of, neg, ws):
    """Stable merge sort of cand by (block, neg): the order of ``np.argsort(kind="mergesort")`` by
    neg, then by block (numpy's NaN-last order). Ties keep their order in cand; ws: (len(cand),) scratch."""
    m = cand.shape[0]
    width = 1
    while width < m:  # bottom-up: merge runs of ``width`` from cand into ws, then copy back
        for lo in range(0, m, 2 * width):
            mid, hi = min(lo + width, m), min(lo + 2 * width, m)
            i, j = lo, mid
            for o in range(lo, hi):
                if i < mid and (j >= hi or not _before(cand[j], cand[i], block_of, neg)):
                    ws[o] = cand[i]
                    i += 1
                else:
                    ws[o] = cand[j]
                    j += 1
        for o in range(m):
            cand[o] = ws[o]
        width *= 2


@njit(cache=True)
def select_adaptive(x, rows, k, policy, block_of, by_rank, sel):
    """Write into sel[:k] the k masked positions first by (block, -score, rank)."""
    L = x.shape[0]
    cand = np.empty(L, dtype=np.int64)
    neg = np.empty(L)  # indexed by position
    m = 0
    for i in by_rank:  # candidates in rank order, so the stable sort breaks ties by rank
        if x[i] < 0:
            cand[m] = i
            neg[i] = -_score(rows[i], policy)
            m += 1
    _sort_candidates(cand[:m], block_of, neg, np.empty(m, dtype=np.int64))
    for c in range(k):
        sel[c] = cand[c]


@njit(cache=True, inline="always")
def draw_selected(x, rows, sel, k, step, token_u, reveal, cdf):
    """Draw x_i ~ rows[i] for i in sel[:k] independently; return sum of log rows[i, x_i].

    A negative ``token_u[i] = -(v + 1)`` sets x_i = v instead of drawing it (its log row entry still
    counts, -inf where the row gives v no mass): the sampler's log p_M(x) of a given x."""
    lp = 0.0
    V = rows.shape[1]
    for c in range(k):
        i = sel[c]
        acc = 0.0
        for v in range(V):
            acc += rows[i, v]
            cdf[v] = acc
        u = token_u[i]
        v = draw_categorical(cdf, u) if u >= 0.0 else np.int64(-u) - 1  # u < 0: replay token -u - 1
        x[i] = v
        reveal[i] = step
        lp += math.log(rows[i, v]) if rows[i, v] > 0.0 else -math.inf  # only a replayed token can have none
    return lp


@njit(cache=True, inline="always")
def next_static(order, ptr, k, sel):
    """sel[:k] = order[ptr:ptr + k], the next k positions of a static reveal order; return ptr + k."""
    for c in range(k):
        sel[c] = order[ptr + c]
    return ptr + k


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def hmm_rows(x, params, want, pred, rows):
    """Exact-denoiser rows of a dense HMM (see synth._kernels.hmm_posteriors_one)."""
    initial, transition, transition_t, emission, emission_t = params
    return hmm_posteriors_one(x, initial, transition, transition_t, emission, emission_t, want, pred, rows)


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def fused_begin(K, V, policy, block_of, rank):
    """A run's buffers: x (all masked), pred (L, K), rows (L, V), want, sel, cdf, order, by_rank."""
    L = rank.shape[0]
    return (np.full(L, -1, dtype=np.int64), np.empty((L, K)), np.zeros((L, V)), np.zeros(L, dtype=np.bool_),
            np.empty(L, dtype=np.int64), np.empty(V), static_order(policy, block_of, rank), by_rank_of(rank))


@njit(cache=True)
def fused_hmm_one(params, K, V, counts, policy, adaptive, block_of, rank, token_u, tokens, reveal, first_rows):
    r"""One MDM run with the exact HMM denoiser (counts (N,), rank, token_u, tokens, reveal (L,));
    return (log p_M(x), nfe). One kernel per family so a run compiles only the family it uses, and
    ``adaptive`` (None for a static policy, else True) picks the specialisation: a static run never
    compiles the adaptive selection (its scores and sort). ``first_rows`` (L, V): the rows with nothing
    revealed (:func:`marginal_rows`), which the first revealing step copies instead of recomputing."""
    x, pred, rows, want, sel, cdf, order, by_rank = fused_begin(K, V, policy, block_of, rank)
    ptr, lp, nfe = np.int64(0), 0.0, 0  # ptr typed int64 from the start: no Literal[int](0) specialisation
    for j in range(counts.shape[0]):
        k = counts[j]
        if k == 0:
            continue
        ptr = plan_step(x, k, policy, order, ptr, want, sel)
        if nfe == 0:  # nothing revealed yet: the marginals, the same for every run
            copy_wanted(first_rows, want, rows)
        elif hmm_rows(x, params, want, pred, rows) == -np.inf:
            uniform_rows(want, rows)
        if adaptive is not None:  # pruned when None (static policies): select_adaptive is not compiled
            select_adaptive(x, rows, k, policy, block_of, by_rank, sel)
        lp += draw_selected(x, rows, sel, k, j, token_u, reveal, cdf)
        nfe += 1
    for i in range(x.shape[0]):
        tokens[i] = x[i]
    return lp, nfe


@njit(cache=True)
def fused_ngram_one(params, K, V, counts, policy, adaptive, block_of, rank, token_u, tokens, reveal, first_rows):
    r""":func:`fused_hmm_one` for an n-gram shift chain."""
    x, pred, rows, want, sel, cdf, order, by_rank = fused_begin(K, V, policy, block_of, rank)
    ptr, lp, nfe = np.int64(0), 0.0, 0  # ptr typed int64 from the start: no Literal[int](0) specialisation
    for j in range(counts.shape[0]):
        k = counts[j]
        if k == 0:
            continue
        ptr = plan_step(x, k, policy, order, ptr, want, sel)
        if nfe == 0:  # nothing revealed yet: the marginals, the same for every run
            copy_wanted(first_rows, want, rows)
        elif ngram_rows(x, params, want, pred, rows) == -np.inf:
            uniform_rows(want, rows)
        if adaptive is not None:  # pruned when None (static policies): select_adaptive is not compiled
            select_adaptive(x, rows, k, policy, block_of, by_rank, sel)
        lp += draw_selected(x, rows, sel, k, j, token_u, reveal, cdf)
        nfe += 1
    for i in range(x.shape[0]):
        tokens[i] = x[i]
    return lp, nfe


@njit(cache=True, parallel=True)
def sample_fused_hmm(params, K, V, counts, policy, adaptive, block_of, rank, token_u, tokens, reveal, lp_out,
                     nfe_out, first_rows):
    """B runs of :func:`fused_hmm_one` in parallel, each writing its own rows."""
    for b in prange(counts.shape[0]):
        lp_out[b], nfe_out[b] = fused_hmm_one(params, K, V, counts[b], policy, adaptive, block_of, rank[b],
                                              token_u[b], tokens[b], reveal[b], first_rows)


@njit(cache=True, parallel=True)
def sample_fused_ngram(params, K, V, counts, policy, adaptive, block_of, rank, token_u, tokens, reveal, lp_out,
                       nfe_out, first_rows):
    """B runs of :func:`fused_ngram_one` in parallel, each writing its own rows."""
    for b in prange(counts.shape[0]):
        lp_out[b], nfe_out[b] = fused_ngram_one(params, K, V, counts[b], policy, adaptive, block_of, rank[b],
                                                token_u[b], tokens[b], reveal[b], first_rows)


@njit(cache=True, inline="always")
def copy_wanted(src, want, rows):
    """rows[i] = src[i] for the wanted positions i."""
    for i in range(want.shape[0]):
        if want[i]:
            for v in range(rows.shape[1]):
                rows[i, v] = src[i, v]


@njit(cache=True)
def _hmm_marginals(params, K, V, L):
    rows = np.zeros((L, V))
    hmm_rows(np.full(L, -1, dtype=np.int64), params, np.ones(L, dtype=np.bool_), np.empty((L, K)), rows)
    return rows


@njit(cache=True)
def _ngram_marginals(params, K, V, L):
    rows = np.zeros((L, V))
    ngram_rows(np.full(L, -1, dtype=np.int64), params, np.ones(L, dtype=np.bool_), np.empty((L, K)), rows)
    return rows


def marginal_rows(family, hmm_params, ngram_params, K, V, L):
    r"""(L, V): every position's row with nothing revealed, by the kernel each run would call (so the
    copy a run makes at its first revealing step is bit for bit what it would have computed); one
    small kernel per family, so a run compiles only its own."""
    if family == HMM:
        return _hmm_marginals(hmm_params, K, V, L)
    return _ngram_marginals(ngram_params, K, V, L)


#: family code -> (per-run kernel, parallel batch kernel) of the fused path
_FUSED = {HMM: (fused_hmm_one, sample_fused_hmm), NGRAM: (fused_ngram_one, sample_fused_ngram)}


def sample_fused(family, hmm_params, ngram_params, K, V, counts, policy, block_of, rank, token_u, tokens, reveal,
                 lp_out, nfe_out):
    r"""Run B MDM chains with the exact denoiser: only the rows a step needs are computed.

    counts (B, N), rank (B, L), token_u (B, L) in; tokens (B, L), reveal (B, L), lp_out (B,)
    (= sum over steps of log q(x_i | tokens revealed before), the sampler's log p_M(x)) and
    nfe_out (B,) (steps that revealed at least one token) out. Only the family's kernels are
    compiled (the unused family's params are placeholders); each run is the same kernel whether
    the batch runs in parallel or serially, so results agree bit for bit.
    """
    one, batch = _FUSED[family]
    params = hmm_params if family == HMM else ngram_params
    adaptive = None if policy in (RANDOM, LEFT_TO_RIGHT) else True  # the kernels' static / adaptive specialisation
    first_rows = marginal_rows(family, hmm_params, ngram_params, K, V, rank.shape[1])
    if counts.size * rank.shape[1] > SERIAL_WORK and numba.get_num_threads() > 1:
        batch(params, K, V, counts, policy, adaptive, block_of, rank, token_u, tokens, reveal, lp_out, nfe_out,
              first_rows)
        return
    for b in range(counts.shape[0]):
        lp_out[b], nfe_out[b] = one(params, K, V, counts[b], policy, adaptive, block_of, rank[b], token_u[b],
                                    tokens[b], reveal[b], first_rows)


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
            select_adaptive(x[b], rows[b], k, policy, block_of, by_rank_of(rank[b]), sel)
        lp[b] += draw_selected(x[b], rows[b], sel, k, j, token_u[b], reveal[b], cdf)
        nfe[b] += 1


# -- the rule path: sampled-token scores, tie rules, position temperature, token rules, prompts ----
#
# A run with any rule beyond the defaults above runs these kernels (the default path above is left
# bit for bit as it was). Extra randomness, drawn by the public layer after ``token_u``:
# * ``step_u[j, i]`` (sampled-token scores only): the uniform that draws position i's *candidate*
#   token at step j; every masked candidate draws one each step (LLaDA ``low_confidence``, Dream
#   ``maskgit_plus``), and the tokens of the positions not chosen are discarded;
# * ``pos_u[j, i]`` (position temperature only): the uniform of position i's Gumbel key at step j.

SAMPLED, SAMPLED_RAW = 5, 6
TIE_RANDOM, TIE_LOWEST, TIE_HIGHEST = 0, 1, 2


@njit(cache=True)
def is_sampled(policy):
    """Sampled-token scores draw a token at every candidate before choosing positions."""
    return policy == SAMPLED or policy == SAMPLED_RAW


@njit(cache=True)
def token_row(raw, temp, top_k, top_p, out):
    r"""The row tokens are drawn from and scored on: softmax(filter(log raw / T)).

    T = ``temp`` (T = 0 means greedy: the row is built at T = 1 and the token is its argmax); then
    top-p (Dream's ``top_p_logits``: in decreasing order keep a token while the mass before it is
    <= top_p, so the first is always kept) and top-k (keep tokens >= the k-th largest, ties kept),
    applied when ``top_p < 1`` and ``0 < top_k < V``; renormalised. T = 1 without filters copies
    ``raw`` exactly.
    """
    V = raw.shape[0]
    for v in range(V):  # out[:] = raw
        out[v] = raw[v]
    t = temp if temp > 0.0 else 1.0
    if t != 1.0:
        lbig = math.log(raw.max())
        for v in range(V):
            out[v] = math.exp((math.log(raw[v]) - lbig) / t) if raw[v] > 0.0 else 0.0
        out /= out.sum()
    filtered = False
    if top_p < 1.0:
        order = np.argsort(-out, kind="mergesort")  # decreasing, ties by lower index first
        acc = 0.0
        for r in range(V):
            v = order[r]
            p = out[v]
            if r > 0 and acc > top_p:  # the mass before it already exceeds top_p
                out[v] = 0.0
                filtered = True
            acc += p
    if 0 < top_k < V:
        kth = np.sort(out)[V - top_k]
        for v in range(V):
            if out[v] < kth:
                out[v] = 0.0
                filtered = True
    if filtered:
        out /= out.sum()


@njit(cache=True)
def draw_token(row, u, temp, cdf):
    """x ~ row by inverse CDF with ``u``; T = 0: the argmax (lowest index among ties)."""
    V = row.shape[0]
    if temp == 0.0:
        best = 0
        for v in range(1, V):
            if row[v] > row[best]:
                best = v
        return best
    acc = 0.0
    for v in range(V):
        acc += row[v]
        cdf[v] = acc
    return draw_categorical(cdf, u)


@njit(cache=True)
def gumbel(u):
    """-log(-log u), the Gumbel(0, 1) quantile (-inf at u = 0)."""
    if u <= 0.0:
        return -np.inf
    return -math.log(-math.log(u))


@njit(cache=True)
def rule_candidates(x, tie, by_rank):
    """Masked positions in tie order: by rank (random), by index, or by decreasing index."""
    L = x.shape[0]
    cand = np.empty(L, dtype=np.int64)
    m = 0
    for c in range(L):
        i = by_rank[c] if tie == TIE_RANDOM else (c if tie == TIE_LOWEST else L - 1 - c)
        if x[i] < 0:
            cand[m] = i
            m += 1
    return cand[:m]


@njit(cache=True)
def rule_select(x, raw, trow, k, policy, tie, pos_temp, temp, block_of, by_rank, step_u, pos_u, drawn, sel, cdf):
    r"""Write into sel[:k] the k masked positions first by (block, -key, tie order).

    key = score (quantised as :func:`_score`), or score / pos_temp + Gumbel(pos_u[i]) when
    ``pos_temp > 0`` (Gumbel-top-k: the positions are k draws without replacement from
    softmax(score / pos_temp), Dream's ``alg_temp`` multinomial). Sampled-token scores first draw
    drawn[i] ~ trow[i] with step_u[i] at every candidate and score trow[i, drawn[i]] (``SAMPLED``)
    or raw[i, drawn[i]] (``SAMPLED_RAW``); random scores 0 (its order is the tie order), and
    left-to-right scores -i.
    """
    cand = rule_candidates(x, tie, by_rank)
    m = cand.shape[0]
    neg = np.empty(m)
    for c in range(m):
        i = cand[c]
        if is_sampled(policy):
            v = draw_token(trow[i], step_u[i], temp, cdf)
            drawn[i] = v
            s = trow[i, v] if policy == SAMPLED else raw[i, v]
            s = math.floor(s * _INV_QUANTUM + 0.5) / _INV_QUANTUM
        elif policy == RANDOM:
            s = 0.0
        elif policy == LEFT_TO_RIGHT:
            s = -float(i)
        else:
            s = _score(trow[i], policy)
        if pos_temp > 0.0:
            s = s / pos_temp + gumbel(pos_u[i])
        neg[c] = -s
    cand = cand[np.argsort(neg, kind="mergesort")]
    cand = cand[np.argsort(block_of[cand], kind="mergesort")]
    sel[:k] = cand[:k]


@njit(cache=True)
def rule_draw(x, trow, sel, k, step, policy, temp, token_u, drawn, reveal, cdf):
    """Reveal sel[:k]: the candidate tokens already drawn (sampled scores) or x_i ~ trow[i] with
    token_u[i]; return sum of log trow[i, x_i] (0 per greedy token, which is certain)."""
    lp = 0.0
    for c in range(k):
        i = sel[c]
        v = drawn[i] if is_sampled(policy) else draw_token(trow[i], token_u[i], temp, cdf)
        x[i] = v
        reveal[i] = step
        if temp > 0.0:
            lp += math.log(trow[i, v])
    return lp


@njit(cache=True)
def rule_plan(x, k, policy, pos_temp, order, ptr, want, sel):
    """Static policy without position temperature: the next k of ``order`` (rows only there);
    otherwise every masked position wants its row. Return the new ptr."""
    if is_static(policy) and pos_temp == 0.0:
        return plan_step(x, k, policy, order, ptr, want, sel)
    for i in range(x.shape[0]):
        want[i] = x[i] < 0
    return ptr


@njit(cache=True)
def rule_order(policy, block_of, rank, x0):
    """The static reveal order restricted to the positions masked at the start (the prompt's gaps)."""
    order = static_order(policy, block_of, rank)
    out = np.empty(order.shape[0], dtype=np.int64)
    m = 0
    for i in order:
        if x0[i] < 0:
            out[m] = i
            m += 1
    return out[:m]


@njit(cache=True)
def rule_step(x, raw, trow, want, k, j, policy, tie, pos_temp, temp, top_k, top_p, block_of, by_rank, sel,
              step_u, pos_u, token_u, drawn, reveal, cdf):
    """One step of the rule path on one sequence given the rows of the ``want`` positions; return
    the log-probability of the drawn tokens."""
    for i in range(x.shape[0]):
        if want[i]:
            token_row(raw[i], temp, top_k, top_p, trow[i])
    if not (is_static(policy) and pos_temp == 0.0):
        rule_select(x, raw, trow, k, policy, tie, pos_temp, temp, block_of, by_rank, step_u, pos_u, drawn, sel, cdf)
    return rule_draw(x, trow, sel, k, j, policy, temp, token_u, drawn, reveal, cdf)


@njit(cache=True)
def argmax_rest(x, raw, step, reveal):
    """The final greedy step (MDLM's noise removal): every masked x_i = argmax raw[i] (lowest index)."""
    n = 0
    for i in range(x.shape[0]):
        if x[i] < 0:
            best = 0
            for v in range(1, raw.shape[1]):
                if raw[i, v] > raw[i, best]:
                    best = v
            x[i] = best
            reveal[i] = step
            n += 1
    return n


@njit(cache=True, parallel=True)
def sample_fused_rule(family, hmm_params, ngram_params, K, V, counts, policy, tie, pos_temp, temp, top_k, top_p,
                      final, x0, block_of, rank, token_u, step_u, pos_u, tokens, reveal, lp_out, nfe_out):
    r"""The rule path of :func:`sample_fused`: B runs from the prompt ``x0`` (L,), step_u / pos_u
    (B, N, L) (or (B, 1, 1) placeholders), ``final`` = 1 for a last greedy step on what is left."""
    B, N = counts.shape
    L = rank.shape[1]
    for b in prange(B):
        x = x0.copy()
        pred = np.empty((L, K))
        raw = np.zeros((L, V))
        trow = np.zeros((L, V))
        want = np.zeros(L, dtype=np.bool_)
        sel = np.empty(L, dtype=np.int64)
        drawn = np.zeros(L, dtype=np.int64)
        cdf = np.empty(V)
        order = rule_order(policy, block_of, rank[b], x0)
        by_rank = by_rank_of(rank[b])
        ptr, lp, nfe = np.int64(0), 0.0, 0  # ptr typed int64 from the start: no Literal[int](0) specialisation
        for j in range(N):
            k = counts[b, j]
            if k == 0:
                continue
            ptr = rule_plan(x, k, policy, pos_temp, order, ptr, want, sel)
            if exact_rows(family, hmm_params, ngram_params, x, want, pred, raw) == -np.inf:
                uniform_rows(want, raw)
            su = step_u[b, j] if is_sampled(policy) else step_u[0, 0]
            pu = pos_u[b, j] if pos_temp > 0.0 else pos_u[0, 0]
            lp += rule_step(x, raw, trow, want, k, j, policy, tie, pos_temp, temp, top_k, top_p, block_of, by_rank,
                            sel, su, pu, token_u[b], drawn, reveal[b], cdf)
            nfe += 1
        if final == 1:
            for i in range(L):
                want[i] = x[i] < 0
            if exact_rows(family, hmm_params, ngram_params, x, want, pred, raw) == -np.inf:
                uniform_rows(want, raw)
            if argmax_rest(x, raw, N, reveal[b]) > 0:
                nfe += 1
        for i in range(L):
            tokens[b, i] = x[i]
        lp_out[b] = lp
        nfe_out[b] = nfe


@njit(cache=True, parallel=True)
def generic_rule_step(x, rows, j, counts, policy, tie, pos_temp, temp, top_k, top_p, block_of, rank, ptrs, x0,
                      token_u, step_u, pos_u, reveal, lp, nfe):
    r"""One step of the generic driver on the rule path, given the denoiser's rows (B, L, V)."""
    B, L = x.shape
    V = rows.shape[2]
    for b in prange(B):
        k = counts[b, j]
        if k == 0:
            continue
        want = np.empty(L, dtype=np.bool_)
        sel = np.empty(L, dtype=np.int64)
        drawn = np.zeros(L, dtype=np.int64)
        trow = np.zeros((L, V))
        cdf = np.empty(V)
        order = rule_order(policy, block_of, rank[b], x0)
        ptrs[b] = rule_plan(x[b], k, policy, pos_temp, order, ptrs[b], want, sel)
        su = step_u[b, j] if is_sampled(policy) else step_u[0, 0]
        pu = pos_u[b, j] if pos_temp > 0.0 else pos_u[0, 0]
        lp[b] += rule_step(x[b], rows[b], trow, want, k, j, policy, tie, pos_temp, temp, top_k, top_p, block_of,
                           by_rank_of(rank[b]), sel, su, pu, token_u[b], drawn, reveal[b], cdf)
        nfe[b] += 1


@njit(cache=True, parallel=True)
def generic_argmax(x, rows, step, reveal, nfe):
    """The final greedy step of the generic driver for the whole batch."""
    for b in prange(x.shape[0]):
        if argmax_rest(x[b], rows[b], step, reveal[b]) > 0:
            nfe[b] += 1
