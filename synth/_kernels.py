r"""Private numba kernels for exact inference and sampling in synthetic languages.

Two families share one contract (STYLE 1-3): contiguous float64/int64 arrays in, pre-drawn uniforms
in, preallocated outputs written; no validation, no RNG objects, no Python objects.

* ``hmm_*``: a dense hidden Markov model with ``K`` states, ``initial (K,)``, ``transition (K, K)``,
  ``emission (K, V)`` (``emission_t`` is its contiguous transpose ``(V, K)``).
* ``ngram_*``: an order-``n`` language written as a Markov chain on *look-ahead windows*
  ``s_t = (x_t, ..., x_{t+n-2})`` with ``K = V**(n-1)`` states, flat index
  ``s = x_t V^(n-2) + ... + x_{t+n-2}``. The emission is deterministic (``x_t = s // C`` with
  ``C = K // V``) and the transition is a shift: ``s -> (s % C) V + v`` with probability
  ``table[s, v]``. One step costs ``O(K V) = O(V^n)`` instead of the dense ``O(K^2)``. Windows that run
  past the end of the sequence hold tokens nobody observes, so they are marginalised for free and
  ``L < n - 1`` needs no special case.

Masking is evidence: a token id ``< 0`` (``synth.MASK``) is an unobserved position, i.e. a row of
ones in the evidence; it is never used as an index.

Every recursion is scaled: forward messages are normalised at each position and the normalisers
accumulate into the log-evidence, ``log p(x_obs) = sum_t log c_t`` (Rabiner 1989, eq. 91-93), so
``L = 100,000`` neither underflows nor overflows. A zero normaliser means the observed tokens have
probability zero: the log-evidence becomes ``-inf`` and the messages stay zero from then on. A token
posterior whose normaliser is zero is written as NaN, a sentinel the public layer turns into an error.

Scaling alone is not enough where two small factors meet in one message entry before any
normalisation: across a masked step (p(z_{t+1} | x_t) A[z_{t+1}, z_{t+2}]), or a tiny transition
times a tiny emission. A product below 1e-308 underflows to zero and the string would score -inf. A
sequence whose scaled pass hits a zero or subnormal normaliser is therefore checked exactly for
positive mass by a boolean reachability pass (``*_possible``, no rounding, about the cost of the
scaled pass) and, if it has mass, recomputed by an exact log-space recursion (``*_log_forward``,
``*_posteriors_log``: log-sum-exp over states, O(L K^2) exp and log, only for those sequences).
"""
import numba
import numpy as np
from numba import njit, prange

from mdmlab.synth import _cache

_cache.invalidate_stale()  # numba checks only a function's own file; kernels inline across files


@njit(cache=True, inline="always")
def draw_categorical(cdf, u):
    r"""Inverse-CDF draw: the first ``j`` with ``cdf[j] > u * cdf[-1]`` for ``u`` in [0, 1).

    ``cdf`` is the float64 running sum of the probabilities. Zero-mass categories share their
    predecessor's running sum and can never be chosen; if rounding leaves no index (``u * total``
    rounded up to ``total``), the last category with positive mass is returned.
    """
    n = cdf.shape[0]
    target = u * cdf[n - 1]
    lo, hi = 0, n
    while lo < hi:  # first index with cdf > target
        mid = (lo + hi) // 2
        if cdf[mid] > target:
            hi = mid
        else:
            lo = mid + 1
    if lo < n:
        return lo
    j = n - 1
    while j > 0 and cdf[j] == cdf[j - 1]:
        j -= 1
    return j


@njit(cache=True, inline="always")
def _normalise(vec):
    """Divide ``vec`` by its sum in place; return the sum (0 leaves ``vec`` untouched)."""
    c = 0.0
    for k in range(vec.shape[0]):
        c += vec[k]
    if c > 0.0:
        inv = 1.0 / c
        for k in range(vec.shape[0]):
            vec[k] *= inv
    return c


# ----------------------------------------------------------------------------------------------
# Dense hidden Markov model
# ----------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _hmm_absorb(pred, emission_t, xt, alpha):
    """alpha = normalise(pred * evidence_t); return c_t = sum(pred * e_t) / sum(pred).

    Dividing by sum(pred), one up to rounding, makes c_t exactly 1 when the evidence is certain
    (masked positions, V = 1), so certain events get log-probability exactly 0.
    """
    K = pred.shape[0]
    total = 0.0
    for k in range(K):
        total += pred[k]
    if xt < 0:
        for k in range(K):
            alpha[k] = pred[k]
    else:
        for k in range(K):
            alpha[k] = pred[k] * emission_t[xt, k]
    c = _normalise(alpha)
    return c / total if c > 0.0 else 0.0


@njit(cache=True)
def _vecmat(vec, mat, out):
    """out = vec @ mat for vec (K,), mat (K, M): rows accumulated eight at a time.

    The inner loop is contiguous in ``mat`` and ``out`` (it vectorises without fastmath), and
    taking eight rows per pass (a block of eight zero weights is skipped) divides the loads and
    stores of ``out`` by eight; the K mod 8 remaining rows are added one at a time.
    """
    K, M = mat.shape
    for j in range(M):
        out[j] = 0.0
    i = 0
    while i + 8 <= K:
        a0, a1, a2, a3 = vec[i], vec[i + 1], vec[i + 2], vec[i + 3]
        a4, a5, a6, a7 = vec[i + 4], vec[i + 5], vec[i + 6], vec[i + 7]
        if a0 != 0.0 or a1 != 0.0 or a2 != 0.0 or a3 != 0.0 or a4 != 0.0 or a5 != 0.0 or a6 != 0.0 or a7 != 0.0:
            for j in range(M):
                out[j] += ((a0 * mat[i, j] + a1 * mat[i + 1, j]) + (a2 * mat[i + 2, j] + a3 * mat[i + 3, j])) + ((a4 * mat[i + 4, j] + a5 * mat[i + 5, j]) + (a6 * mat[i + 6, j] + a7 * mat[i + 7, j]))
        i += 8
    while i < K:
        a = vec[i]
        if a != 0.0:
            for j in range(M):
                out[j] += a * mat[i, j]
        i += 1


#: Smallest normal float64: a normaliser below it has lost precision (or underflowed to zero).
TINY = 2.2250738585072014e-308
#: batches of at most this many positions (B L, or B N L for the sampler), and every batch when numba
#: has one thread (sweep workers), run serially, one kernel call per sequence from Python: compiling
#: a parallel kernel costs seconds on a cold cache, more than such a batch takes on one core; each
#: sequence is the same kernel either way (bit for bit)
SERIAL_WORK = 1 << 15


@njit(cache=True)
def _logsumexp(vec):
    """log(sum(exp(vec))), -inf for an all -inf vector."""
    m = -np.inf
    for k in range(vec.shape[0]):
        if vec[k] > m:
            m = vec[k]
    if m == -np.inf:
        return -np.inf
    acc = 0.0
    for k in range(vec.shape[0]):
        acc += np.exp(vec[k] - m)
    return m + np.log(acc)


@njit(cache=True)
def hmm_possible(x, initial, transition, emission_t):
    r"""Whether p(x_obs) > 0 exactly: the reachable hidden states, propagated as booleans (no rounding)."""
    K = initial.shape[0]
    reach = np.empty(K, dtype=np.bool_)
    nxt = np.empty(K, dtype=np.bool_)
    for k in range(K):
        reach[k] = initial[k] > 0.0
    for t in range(x.shape[0]):
        alive = False
        for k in range(K):
            reach[k] = reach[k] and (x[t] < 0 or emission_t[x[t], k] > 0.0)
            alive = alive or reach[k]
        if not alive:
            return False
        if t + 1 < x.shape[0]:
            for j in range(K):
                nxt[j] = False
                for i in range(K):
                    if reach[i] and transition[i, j] > 0.0:
                        nxt[j] = True
                        break
            for k in range(K):  # a loop, not reach[:] = nxt: no slice-copy specialisation to compile
                reach[k] = nxt[k]
    return True


@njit(cache=True)
def hmm_log_forward(x, initial, transition, emission_t, lpred):
    r"""Exact log-space forward pass of one sequence; returns log p(x_obs).

    lpred[t, k] = log p(z_t = k, observed x_{<t}) (unnormalised), the log-sum-exp recursion
    lpred[t+1, j] = logsumexp_i(lpred[t, i] + log e_t[i] + log A[i, j]), e_t the evidence at t.
    lpred: (L, K) scratch written here.
    """
    L = x.shape[0]
    K = initial.shape[0]
    la = np.empty(K)
    tmp = np.empty(K)
    for k in range(K):
        lpred[0, k] = np.log(initial[k])
    for t in range(L):
        for k in range(K):
            la[k] = lpred[t, k] if x[t] < 0 else lpred[t, k] + np.log(emission_t[x[t], k])
        if t + 1 < L:
            for j in range(K):
                for i in range(K):
                    tmp[i] = la[i] + np.log(transition[i, j])
                lpred[t + 1, j] = _logsumexp(tmp)
    return _logsumexp(la)


@njit(cache=True)
def hmm_posteriors_log(x, initial, transition, emission, emission_t, want, lpred, out):
    r"""Log-space :func:`hmm_posteriors_one` (same contract), for sequences whose scaled pass underflowed.

    out[t] ∝ sum_k exp(lpred[t, k] + lbeta_t[k] - m) E[k, :], lbeta_t[k] = log p(observed x_{>t} | z_t = k).
    """
    L = x.shape[0]
    K = initial.shape[0]
    lp = hmm_log_forward(x, initial, transition, emission_t, lpred)
    lbeta = np.zeros(K)
    nxt = np.empty(K)
    w = np.empty(K)
    tmp = np.empty(K)
    for t in range(L - 1, -1, -1):
        if want[t]:
            for k in range(K):
                w[k] = lpred[t, k] + lbeta[k]
            m = -np.inf
            for k in range(K):
                m = max(m, w[k])
            for k in range(K):
                w[k] = np.exp(w[k] - m) if m > -np.inf else 0.0
            _vecmat(w, emission, out[t])
            if _normalise(out[t]) <= 0.0:
                out[t, :] = np.nan
        if t > 0:  # lbeta_{t-1}[i] = logsumexp_j(log A[i, j] + log e_t[j] + lbeta_t[j])
            for j in range(K):
                nxt[j] = lbeta[j] if x[t] < 0 else lbeta[j] + np.log(emission_t[x[t], j])
            for i in range(K):
                for j in range(K):
                    tmp[j] = np.log(transition[i, j]) + nxt[j]
                w[i] = _logsumexp(tmp)
            for i in range(K):
                lbeta[i] = w[i]
    return lp


@njit(cache=True)
def hmm_log_evidence_one(x, initial, transition, emission_t):
    r"""(log p(x observed tokens), weak) of one sequence x (L,) by the scaled forward recursion.

    alpha_t = normalise((alpha_{t-1} A) * e_t), log p = sum_t log c_t. ``weak``: some c_t < TINY, so
    the result may have underflowed and must be redone exactly (done by :func:`hmm_log_evidence`,
    so the rare exact passes are compiled only when a sequence needs them).
    """
    L = x.shape[0]
    K = initial.shape[0]
    pred = initial.copy()
    alpha = np.empty(K)
    lp = 0.0
    weak = False
    for t in range(L):
        c = _hmm_absorb(pred, emission_t, x[t], alpha)
        weak = weak or c < TINY
        if c <= 0.0:
            lp = -np.inf
            break
        lp += np.log(c)
        _vecmat(alpha, transition, pred)
    return lp, weak


@njit(cache=True, parallel=True)
def hmm_log_evidence_batch(x, initial, transition, emission_t, out, weak):
    """out[b], weak[b] = :func:`hmm_log_evidence_one` of x[b], in parallel over b."""
    for b in prange(x.shape[0]):
        out[b], weak[b] = hmm_log_evidence_one(x[b], initial, transition, emission_t)


@njit(cache=True, parallel=True)
def hmm_log_evidence_exact_batch(x, initial, transition, emission_t, rows, out):
    """For b in rows, in parallel: the exact redo of a weak scaled pass (see :func:`_exact_redo`)."""
    L, K = x.shape[1], initial.shape[0]
    for c in prange(rows.shape[0]):
        b = rows[c]
        if out[b] > -np.inf or hmm_possible(x[b], initial, transition, emission_t):
            out[b] = hmm_log_forward(x[b], initial, transition, emission_t, np.empty((L, K)))


def _exact_redo(possible, log_forward, exact_batch, x, params, weak, out):
    r"""Redo the weak rows of a scaled pass exactly: out[b] = log_forward(x[b], *params) where the scaled
    pass gave a finite value or where ``possible`` finds positive mass (an underflow); -inf stays.

    Serially, the log-space pass is called (and compiled) only for a string that has mass: an
    impossible string (a sampler's output outside the support) costs only the boolean pass.
    """
    rows = np.flatnonzero(weak)
    if rows.size * x.shape[1] > SERIAL_WORK and numba.get_num_threads() > 1:
        exact_batch(x, *params, rows, out)
        return
    for b in rows:
        if out[b] > -np.inf or possible(x[b], *params):
            out[b] = log_forward(x[b], *params, np.empty((x.shape[1], params[0].shape[0])))


def hmm_log_evidence(x, initial, transition, emission_t, out):
    r"""out[b] = log p(x_b observed tokens); x: (B, L) int64, negative = masked. out: (B,) float64.

    Small batches run serially (see :data:`SERIAL_WORK`): compiling a parallel kernel costs seconds.
    Sequences whose scaled pass may have underflowed are redone exactly afterwards.
    """
    weak = np.zeros(x.shape[0], dtype=np.bool_)
    if x.size > SERIAL_WORK and numba.get_num_threads() > 1:
        hmm_log_evidence_batch(x, initial, transition, emission_t, out, weak)
    else:
        for b in range(x.shape[0]):
            out[b], weak[b] = hmm_log_evidence_one(x[b], initial, transition, emission_t)
    _exact_redo(hmm_possible, hmm_log_forward, hmm_log_evidence_exact_batch, x, (initial, transition, emission_t),
                weak, out)


@njit(cache=True)
def hmm_posteriors_one(x, initial, transition, transition_t, emission, emission_t, want, pred, out):
    r"""Token posteriors of one sequence given its *other* observed positions; returns log p(x_obs).

    out[t, v] = p(x_t = v | x_s for all observed s != t) ∝ sum_k pred_t[k] beta_t[k] E[k, v], written
    only where ``want[t]``; pred_t = p(z_t | observed x_{<t}) and beta_t ∝ p(observed x_{>t} | z_t).
    For a masked ``t`` this is the MDM denoiser's conditional, for an observed one the leave-one-out
    conditional. A row with zero normaliser is NaN. ``pred`` is (L, K) scratch.
    """
    L = x.shape[0]
    K = initial.shape[0]
    alpha = np.empty(K)
    for k in range(initial.shape[0]):  # pred[0] = initial
        pred[0, k] = initial[k]
    lp = 0.0
    for t in range(L):
        c = _hmm_absorb(pred[t], emission_t, x[t], alpha)
        lp = lp + np.log(c) if c > 0.0 else -np.inf
        if t + 1 < L:
            _vecmat(alpha, transition, pred[t + 1])
    beta = np.ones(K)
    g = np.empty(K)
    for t in range(L - 1, -1, -1):
        if want[t]:
            for k in range(K):
                g[k] = pred[t, k] * beta[k]
            _vecmat(g, emission, out[t])
            if _normalise(out[t]) <= 0.0:
                out[t, :] = np.nan
        if t > 0:  # beta_{t-1} = A (e_t * beta_t) = (e_t * beta_t) @ A^T, rescaled to sum one
            xt = x[t]
            for k in range(K):
                g[k] = beta[k] if xt < 0 else beta[k] * emission_t[xt, k]
            _vecmat(g, transition_t, beta)
            _normalise(beta)
    return lp


@njit(cache=True)
def _onehot_observed(x, out):
    """Overwrite the rows of observed positions with the one-hot of their token."""
    for t in range(x.shape[0]):
        if x[t] >= 0:
            out[t, :] = 0.0
            out[t, x[t]] = 1.0


@njit(cache=True, parallel=True)
def hmm_token_posteriors(x, initial, transition, transition_t, emission, emission_t, onehot_observed, out,
                         log_ev):
    r"""Batched :func:`hmm_posteriors_one` over x (B, L): every row, or (``onehot_observed``) the
    conditionals of masked positions with one-hot rows for observed ones. log_ev[b] = log p(x_b obs)."""
    B, L = x.shape
    K = initial.shape[0]
    for b in prange(B):
        want = x[b] < 0 if onehot_observed else np.ones(L, dtype=np.bool_)
        pred = np.empty((L, K))
        log_ev[b] = hmm_posteriors_one(x[b], initial, transition, transition_t, emission, emission_t, want,
                                       pred, out[b])
        if log_ev[b] == -np.inf and hmm_possible(x[b], initial, transition, emission_t):  # an underflow
            log_ev[b] = hmm_posteriors_log(x[b], initial, transition, emission, emission_t, want, pred, out[b])
        if onehot_observed:
            _onehot_observed(x[b], out[b])


@njit(cache=True, parallel=True)
def hmm_sample(cum_initial, cum_transition, cum_emission, uniforms, out):
    r"""Ancestral sampling z_0 ~ pi, x_t ~ E[z_t], z_{t+1} ~ A[z_t] from uniforms (B, L, 2)."""
    B, L = out.shape
    for b in prange(B):
        z = draw_categorical(cum_initial, uniforms[b, 0, 1])
        for t in range(L):
            out[b, t] = draw_categorical(cum_emission[z], uniforms[b, t, 0])
            if t + 1 < L:
                z = draw_categorical(cum_transition[z], uniforms[b, t + 1, 1])


# ----------------------------------------------------------------------------------------------
# n-gram language: Markov chain on look-ahead windows with shift transitions
# ----------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _ngram_absorb(pred, xt, C, alpha, restricted):
    """alpha = normalised pred restricted to windows whose first token is x_t; returns (c_t, lo, hi).

    Only ``alpha[lo:hi]`` can be non-zero afterwards (the block of x_t, or everything if masked).
    c_t is divided by sum(pred), one up to rounding (see :func:`_hmm_absorb`), unless ``pred`` was
    only computed on the block of x_t (``restricted``), where that sum is one by construction.
    """
    K = pred.shape[0]
    if xt < 0:
        lo, hi = 0, K
    else:
        lo, hi = xt * C, (xt + 1) * C
    total = 1.0
    if not restricted:
        total = 0.0
        for s in range(K):
            total += pred[s]
    for s in range(lo, hi):
        alpha[s] = pred[s]
    c = 0.0
    for s in range(lo, hi):
        c += alpha[s]
    if c > 0.0:
        inv = 1.0 / c
        for s in range(lo, hi):
            alpha[s] *= inv
        c /= total  # exactly 1 for a masked position (see _hmm_absorb)
    return c, lo, hi


@njit(cache=True)
def _ngram_propagate(alpha, lo, hi, table_fw, out, next_token):
    r"""out[(s % C) V + v] = sum_s alpha[s] table[s, v], one V x V product per group.

    The windows ``s = u C + grp`` (u = first token) share the successor block
    ``[grp V, grp V + V)``, so group ``grp`` is ``out_block = alpha[grp::C] @ table_fw[grp]`` with
    ``table_fw[grp, u, v] = table[u C + grp, v]``. When x_t is observed (``hi - lo < C V``) only
    ``u = x_t`` is alive and each block is one scaled row. ``[lo, hi)`` is the active range from
    :func:`_ngram_absorb`. With ``next_token >= 0`` only the successors whose first token is
    ``next_token`` are computed (the rest are left zero): all a caller needs before absorbing an
    observed token, O(K) instead of O(K V).
    """
    C, V, _ = table_fw.shape
    g_lo, g_hi = 0, C
    if next_token >= 0:
        for j in range(out.shape[0]):
            out[j] = 0.0
        g_lo, g_hi = (next_token * C) // V, ((next_token + 1) * C - 1) // V + 1
    if hi - lo < C * V:
        w = lo // C
        for grp in range(g_lo, g_hi):
            a = alpha[lo + grp]
            base = grp * V
            for v in range(V):
                out[base + v] = a * table_fw[grp, w, v]
        return
    vec = np.empty(V)
    for grp in range(g_lo, g_hi):
        for u in range(V):
            vec[u] = alpha[u * C + grp]
        _vecmat(vec, table_fw[grp], out[grp * V:(grp + 1) * V])


@njit(cache=True)
def ngram_possible(x, initial, table_fw):
    r"""Whether p(x_obs) > 0 exactly on the shift chain (reachable windows as booleans, no rounding).

    Only the windows of the block of an observed x_t can be alive, and only the successors whose first
    token is an observed x_{t+1} are needed: O(C) per observed step, like the scaled pass.
    """
    C, V, _ = table_fw.shape
    K = C * V
    L = x.shape[0]
    reach = np.empty(K, dtype=np.bool_)
    nxt = np.empty(K, dtype=np.bool_)
    for s in range(K):
        reach[s] = initial[s] > 0.0
    for t in range(L):
        u_lo, u_hi = (0, V) if x[t] < 0 else (x[t], x[t] + 1)  # first tokens alive at t
        alive = False
        for s in range(u_lo * C, u_hi * C):
            if reach[s]:
                alive = True
                break
        if not alive:
            return False
        if t + 1 == L:
            break
        lo, hi = (0, K) if x[t + 1] < 0 else (x[t + 1] * C, (x[t + 1] + 1) * C)  # successors needed
        for j in range(lo, hi):
            nxt[j] = False
        for grp in range(lo // V, (hi - 1) // V + 1):  # successor grp V + v comes from windows u C + grp
            for u in range(u_lo, u_hi):
                if reach[u * C + grp]:
                    for v in range(V):
                        j = grp * V + v
                        if lo <= j < hi and table_fw[grp, u, v] > 0.0:
                            nxt[j] = True
        reach, nxt = nxt, reach
    return True


@njit(cache=True)
def ngram_log_forward(x, initial, table_fw, lpred):
    r"""Exact log-space forward pass of one sequence on the shift chain; returns log p(x_obs).

    lpred[t, s] = log p(s_t = s, observed x_{<t}); the successor (grp V + v) of the windows
    u C + grp (u = 0..V-1) gets logsumexp_u(la[u C + grp] + log table_fw[grp, u, v]).
    """
    L = x.shape[0]
    C, V, _ = table_fw.shape
    K = C * V
    la = np.empty(K)
    tmp = np.empty(V)
    for s in range(K):
        lpred[0, s] = np.log(initial[s])
    for t in range(L):
        for s in range(K):
            la[s] = lpred[t, s] if (x[t] < 0 or s // C == x[t]) else -np.inf
        if t + 1 < L:
            for grp in range(C):
                for v in range(V):
                    for u in range(V):
                        tmp[u] = la[u * C + grp] + np.log(table_fw[grp, u, v])
                    lpred[t + 1, grp * V + v] = _logsumexp(tmp)
    return _logsumexp(la)


@njit(cache=True)
def ngram_posteriors_log(x, initial, table_fw, want, lpred, out):
    r"""Log-space :func:`ngram_posteriors_one` (same contract), for sequences whose scaled pass underflowed."""
    L = x.shape[0]
    C, V, _ = table_fw.shape
    K = C * V
    lp = ngram_log_forward(x, initial, table_fw, lpred)
    lbeta = np.zeros(K)
    lg = np.empty(K)
    w = np.empty(K)
    tmp = np.empty(V)
    for t in range(L - 1, -1, -1):
        if want[t]:
            m = -np.inf
            for s in range(K):
                w[s] = lpred[t, s] + lbeta[s]
                m = max(m, w[s])
            for v in range(V):
                acc = 0.0
                if m > -np.inf:
                    for s in range(v * C, (v + 1) * C):
                        acc += np.exp(w[s] - m)
                out[t, v] = acc
            if _normalise(out[t]) <= 0.0:
                out[t, :] = np.nan
        if t > 0:  # lbeta_{t-1}[s] = logsumexp_v(log table[s, v] + lg[(s % C) V + v]), lg = evidence * beta
            for s in range(K):
                lg[s] = lbeta[s] if (x[t] < 0 or s // C == x[t]) else -np.inf
            for grp in range(C):
                for u in range(V):
                    for v in range(V):
                        tmp[v] = np.log(table_fw[grp, u, v]) + lg[grp * V + v]
                    lbeta[u * C + grp] = _logsumexp(tmp)
    return lp


@njit(cache=True)
def ngram_log_evidence_one(x, initial, table_fw):
    r"""(log p(x observed tokens), weak) of one sequence x (L,) for the shift chain (scaled forward
    recursion); contract of :func:`hmm_log_evidence_one`."""
    L = x.shape[0]
    C, V, _ = table_fw.shape
    K = C * V
    pred = initial.copy()
    alpha = np.empty(K)
    lp = 0.0
    restricted = np.bool_(False)  # typed bool from the start: no Literal[bool] specialisation of _ngram_absorb
    weak = False
    for t in range(L):
        c, lo, hi = _ngram_absorb(pred, x[t], C, alpha, restricted)
        weak = weak or c < TINY
        if c <= 0.0:
            lp = -np.inf
            break
        lp += np.log(c)
        nxt = x[t + 1] if t + 1 < L else -1
        _ngram_propagate(alpha, lo, hi, table_fw, pred, nxt)
        restricted = nxt >= 0
    return lp, weak


@njit(cache=True, parallel=True)
def ngram_log_evidence_batch(x, initial, table_fw, out, weak):
    """out[b], weak[b] = :func:`ngram_log_evidence_one` of x[b], in parallel over b."""
    for b in prange(x.shape[0]):
        out[b], weak[b] = ngram_log_evidence_one(x[b], initial, table_fw)


@njit(cache=True, parallel=True)
def ngram_log_evidence_exact_batch(x, initial, table_fw, rows, out):
    """:func:`hmm_log_evidence_exact_batch` on the shift chain."""
    L, K = x.shape[1], initial.shape[0]
    for c in prange(rows.shape[0]):
        b = rows[c]
        if out[b] > -np.inf or ngram_possible(x[b], initial, table_fw):
            out[b] = ngram_log_forward(x[b], initial, table_fw, np.empty((L, K)))


def ngram_log_evidence(x, initial, table_fw, out):
    r"""out[b] = log p(x_b observed tokens) for the shift chain; small batches run serially, weak
    rows are redone exactly afterwards (see :func:`hmm_log_evidence`)."""
    weak = np.zeros(x.shape[0], dtype=np.bool_)
    if x.size > SERIAL_WORK and numba.get_num_threads() > 1:
        ngram_log_evidence_batch(x, initial, table_fw, out, weak)
    else:
        for b in range(x.shape[0]):
            out[b], weak[b] = ngram_log_evidence_one(x[b], initial, table_fw)
    _exact_redo(ngram_possible, ngram_log_forward, ngram_log_evidence_exact_batch, x, (initial, table_fw), weak, out)


@njit(cache=True, inline="always")
def _ngram_backstep(beta, xt, table_bw, g, tmp):
    r"""beta <- normalise(sum_v table[s, v] (e_t beta)[(s % C) V + v]), e_t the evidence at t.

    Per group: ``beta[grp::C] = g[grp V : grp V + V] @ table_bw[grp]`` with
    ``table_bw[grp, v, u] = table[u C + grp, v]``; groups whose block of g is zero are skipped.
    """
    C, V, _ = table_bw.shape
    K = C * V
    for s in range(K):
        g[s] = beta[s] if (xt < 0 or s // C == xt) else 0.0
    for grp in range(C):
        live = False
        for v in range(grp * V, (grp + 1) * V):
            if g[v] != 0.0:
                live = True
                break
        if live:
            _vecmat(g[grp * V:(grp + 1) * V], table_bw[grp], tmp)
            for u in range(V):
                beta[u * C + grp] = tmp[u]
        else:  # an observed x_t leaves about C / V + 1 live groups: the product of zeros is zero
            for u in range(V):
                beta[u * C + grp] = 0.0
    _normalise(beta)


@njit(cache=True)
def ngram_posteriors_one(x, initial, table_fw, table_bw, want, pred, out):
    r"""Token posteriors of one sequence for the shift chain; contract of :func:`hmm_posteriors_one`.

    p(x_t = v | other observed) ∝ sum over windows s with first token v of pred_t[s] beta_t[s].
    """
    L = x.shape[0]
    C, V, _ = table_fw.shape
    K = C * V
    alpha = np.empty(K)
    for k in range(initial.shape[0]):  # pred[0] = initial
        pred[0, k] = initial[k]
    lp = 0.0
    restricted = np.bool_(False)  # typed bool from the start: no Literal[bool] specialisation of _ngram_absorb
    for t in range(L):
        c, lo, hi = _ngram_absorb(pred[t], x[t], C, alpha, restricted)
        lp = lp + np.log(c) if c > 0.0 else -np.inf
        if t + 1 < L:
            # an observed next token whose row nobody wants needs only its own block of pred
            nxt = x[t + 1] if (x[t + 1] >= 0 and not want[t + 1]) else -1
            if c > 0.0:
                _ngram_propagate(alpha, lo, hi, table_fw, pred[t + 1], nxt)
            else:
                pred[t + 1, :] = 0.0
            restricted = nxt >= 0
    beta = np.ones(K)
    g = np.empty(K)
    tmp = np.empty(V)
    for t in range(L - 1, -1, -1):
        if want[t]:
            for v in range(V):
                acc = 0.0
                for s in range(v * C, (v + 1) * C):
                    acc += pred[t, s] * beta[s]
                out[t, v] = acc
            if _normalise(out[t]) <= 0.0:
                out[t, :] = np.nan
        if t > 0:
            _ngram_backstep(beta, x[t], table_bw, g, tmp)
    return lp


@njit(cache=True, parallel=True)
def ngram_token_posteriors(x, initial, table_fw, table_bw, onehot_observed, out, log_ev):
    r"""Batched :func:`ngram_posteriors_one`; same contract as :func:`hmm_token_posteriors`."""
    B, L = x.shape
    K = initial.shape[0]
    for b in prange(B):
        want = x[b] < 0 if onehot_observed else np.ones(L, dtype=np.bool_)
        pred = np.empty((L, K))
        log_ev[b] = ngram_posteriors_one(x[b], initial, table_fw, table_bw, want, pred, out[b])
        if log_ev[b] == -np.inf and ngram_possible(x[b], initial, table_fw):  # an underflow
            log_ev[b] = ngram_posteriors_log(x[b], initial, table_fw, want, pred, out[b])
        if onehot_observed:
            _onehot_observed(x[b], out[b])


@njit(cache=True, parallel=True)
def ngram_sample(cum_initial, cum_table, uniforms, out):
    r"""s_0 ~ initial, then s_{t+1} = (s_t % C) V + v with v ~ table[s_t]; x_t = s_t // C.

    uniforms: (B, L); uniforms[b, 0] draws the first window, uniforms[b, t] the token entering
    the window at step t.
    """
    B, L = out.shape
    K, V = cum_table.shape
    C = K // V
    for b in prange(B):
        s = draw_categorical(cum_initial, uniforms[b, 0])
        for t in range(L):
            out[b, t] = s // C
            if t + 1 < L:
                v = draw_categorical(cum_table[s], uniforms[b, t + 1])
                s = (s % C) * V + v


@njit(cache=True)
def ngram_transition_entropy(initial, table, table_fw, steps):
    r"""sum_{t=0}^{steps-1} E_{s ~ mu_t}[H(table[s])] with mu_0 = initial, mu_{t+1} = mu_t shifted.

    The chain rule gives H(X_{0:L}) = H(s_0) + this sum with ``steps = L - (n - 1)`` (nats).
    """
    K, V = table.shape
    C = K // V
    h = np.zeros(K)
    for s in range(K):
        for v in range(V):
            p = table[s, v]
            if p > 0.0:
                h[s] -= p * np.log(p)
    mu = initial.copy()
    nxt = np.empty(K)
    total = 0.0
    for _ in range(steps):
        for s in range(K):
            total += mu[s] * h[s]
        _ngram_propagate(mu, 0, K, table_fw, nxt, -1)
        mu, nxt = nxt, mu
    return total
