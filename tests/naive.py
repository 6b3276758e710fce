r"""Slow, plain mirror of every numba kernel of ``synth`` and ``models``, sharing no code with mdmlab.

STYLE 15b: an oracle never calls the code it checks. Nothing here imports mdmlab; every function is
written from the definitions with Python loops, lists and dicts (numpy only to hand arrays back),
so a test can give the library and this module the same inputs and the same pre-drawn uniforms and
demand the same outputs.

* Languages (:class:`HMM`, :class:`NGram`): ``log p(observed tokens)`` by a scaled forward
  recursion, log p = sum_t log c_t (Rabiner 1989, eq. 91-93). Token rows are *ratios of evidences*,
  p(x_t = v | x_s observed, s != t) = p(x_t = v, x_obs\t) / sum_u p(x_t = u, x_obs\t), so no backward
  pass is shared with the kernels' forward-backward. Sampling is ancestral by inverse CDF from given
  uniforms, in the kernels' uniform layout.
* The sampler: scores (quantised to 2^-40), static orders, adaptive selection by (block ascending,
  score descending, rank ascending), one step, a full run from pre-drawn counts, ranks and token
  uniforms, with the exact denoiser's uniform fallback once the revealed tokens are impossible.
* :func:`sampler_law`: the sampler's exact output law for tiny L by enumerating count outcomes, all
  L! tie-break permutations (weight 1/L! each, static policies included), reveal sets and token
  outcomes, scored with :func:`score`, never with the kernel under test.
"""
import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

MASK = -1
QUANTUM = 2.0 ** 40
STATIC = ("random", "left-to-right")
ADAPTIVE = ("confidence", "margin", "entropy")


# ----------------------------------------------------------------------------------------------
# Inverse-CDF draws
# ----------------------------------------------------------------------------------------------

def cumulative(probs):
    """Running sums of ``probs``, added left to right in float64 (a list)."""
    out, acc = [], 0.0
    for p in probs:
        acc += float(p)
        out.append(acc)
    return out


def draw_categorical(cdf, u):
    r"""First j with cdf[j] > u * cdf[-1]; if none (rounding), the last category with positive mass.

    Parameters
    ----------
    cdf : sequence of float
        Running sums of the probabilities.
    u : float
        A uniform in [0, 1).

    Returns
    -------
    int
    """
    target = u * cdf[-1]
    for j, c in enumerate(cdf):
        if c > target:
            return j
    j = len(cdf) - 1
    while j > 0 and cdf[j] == cdf[j - 1]:  # zero-mass categories share their predecessor's sum
        j -= 1
    return j


def _entropy(probs):
    """-sum p log p over p > 0 (nats)."""
    return -sum(p * math.log(p) for p in probs if p > 0.0)


# ----------------------------------------------------------------------------------------------
# Languages
# ----------------------------------------------------------------------------------------------

class HMM:
    r"""z_0 ~ initial, z_{t+1} ~ transition[z_t], x_t ~ emission[z_t], held as nested lists.

    Parameters
    ----------
    initial : (K,) array_like
    transition : (K, K) array_like
    emission : (K, V) array_like
    """

    def __init__(self, initial, transition, emission):
        self.initial = [float(p) for p in initial]
        self.transition = [[float(p) for p in row] for row in transition]
        self.emission = [[float(p) for p in row] for row in emission]
        self.K, self.V = len(self.initial), len(self.emission[0])

    @lru_cache(maxsize=None)
    def log_evidence(self, x):
        r"""log p(observed tokens of the tuple ``x``) by the scaled forward recursion.

        c_t = sum_k pred_t[k] e_t[k] / sum_k pred_t[k], alpha_t = pred_t e_t / (its sum),
        pred_{t+1}[j] = sum_i alpha_t[i] A[i, j]; e_t = ones where x_t is masked.
        """
        pred, lp = list(self.initial), 0.0
        for xt in x:
            alpha = [pred[k] * (1.0 if xt < 0 else self.emission[k][xt]) for k in range(self.K)]
            c = sum(alpha)
            if c <= 0.0:
                return -math.inf
            lp += math.log(c / sum(pred))
            alpha = [a / c for a in alpha]
            pred = [sum(alpha[i] * self.transition[i][j] for i in range(self.K)) for j in range(self.K)]
        return lp

    def sample(self, uniforms):
        r"""Ancestral draw from uniforms (L, 2): z_0 by u[0][1], x_t by u[t][0], z_t (t >= 1) by u[t][1]."""
        cdf_init = cumulative(self.initial)
        cdf_trans = [cumulative(row) for row in self.transition]
        cdf_emit = [cumulative(row) for row in self.emission]
        z = draw_categorical(cdf_init, uniforms[0][1])
        out = []
        for t in range(len(uniforms)):
            out.append(draw_categorical(cdf_emit[z], uniforms[t][0]))
            if t + 1 < len(uniforms):
                z = draw_categorical(cdf_trans[z], uniforms[t + 1][1])
        return out


class NGram:
    r"""Order-n language: the first n-1 tokens ~ ``initial``, then x_t ~ table[x_{t-n+1}..x_{t-1}, .].

    Parameters
    ----------
    order : int
        n >= 1; order 1 draws every token i.i.d. from ``table``.
    table : (V,) * n array_like
    initial : (V,) * (n - 1) array_like, optional
        Joint law of the first n-1 tokens. None: the uniform pre-context rule (n-1 hidden tokens
        drawn uniformly, then n-1 tokens generated by ``table``).
    """

    def __init__(self, order, table, initial=None):
        table = np.asarray(table, dtype=float)
        self.order, self.V = order, table.shape[0]
        self.width = max(order - 1, 1)  # tokens per window
        self.windows = list(itertools.product(range(self.V), repeat=self.width))  # C order
        self.rows = {}  # window -> next-token law
        for w in self.windows:
            self.rows[w] = [float(p) for p in (table if order == 1 else table[w])]
        if order == 1:
            self.initial = {w: float(table[w[0]]) for w in self.windows}
        elif initial is None:
            self.initial = self._uniform_precontext()
        else:
            initial = np.asarray(initial, dtype=float)
            self.initial = {w: float(initial[w]) for w in self.windows}

    def _uniform_precontext(self):
        r"""p(x_1..x_{n-1}) = V^-(n-1) sum_pre prod_i table[(pre + x)[i : i + n]]."""
        law = {}
        for w in self.windows:
            total = 0.0
            for pre in self.windows:
                seq, p = pre + w, 1.0 / len(self.windows)
                for i in range(self.width):
                    p *= self.rows[seq[i:i + self.width]][seq[i + self.width]]
                total += p
            law[w] = total
        return law

    @lru_cache(maxsize=None)
    def log_evidence(self, x):
        r"""log p(observed tokens of the tuple ``x``): scaled forward over windows of n-1 tokens.

        The sequence is padded with masked tokens to n-1 so short sequences marginalise ``initial``;
        the window (x_{t-n+1}, ..., x_{t-1}) moves to (x_{t-n+2}, ..., x_t) with table[window, x_t].
        """
        xs = list(x) + [MASK] * max(0, self.width - len(x))

        def fits(v, t):
            return xs[t] < 0 or xs[t] == v

        alpha = {w: p for w, p in self.initial.items() if all(fits(w[i], i) for i in range(self.width))}
        lp = 0.0
        for t in range(self.width, len(xs) + 1):
            c = sum(alpha.values())
            if c <= 0.0:
                return -math.inf
            lp += math.log(c)
            if t == len(xs):
                return lp
            nxt = defaultdict(float)
            for w, a in alpha.items():
                for v in range(self.V):
                    if fits(v, t):
                        nxt[w[1:] + (v,)] += a / c * self.rows[w][v]
            alpha = nxt
        return lp

    def sample(self, uniforms):
        r"""Draw from uniforms (L,): u[0] draws the first window (C order), u[t] the token entering at t."""
        window = self.windows[draw_categorical(cumulative(self.initial[w] for w in self.windows), uniforms[0])]
        out = []
        for t in range(len(uniforms)):
            out.append(window[0])
            if t + 1 < len(uniforms):
                v = draw_categorical(cumulative(self.rows[window]), uniforms[t + 1])
                window = window[1:] + (v,)
        return out

    def entropy(self, length):
        r"""H(X_{1:L}) by the chain rule: H(first window) + sum_t E_{window law}[H(next-token row)]."""
        if length < self.width:
            marg = defaultdict(float)
            for w, p in self.initial.items():
                marg[w[:length]] += p
            return _entropy(marg.values())
        law, total = dict(self.initial), _entropy(self.initial.values())
        for _ in range(length - self.width):
            total += sum(p * _entropy(self.rows[w]) for w, p in law.items())
            nxt = defaultdict(float)
            for w, p in law.items():
                for v in range(self.V):
                    nxt[w[1:] + (v,)] += p * self.rows[w][v]
            law = nxt
        return total


# ----------------------------------------------------------------------------------------------
# Token rows: conditionals, leave-one-out, the kernels' posterior output
# ----------------------------------------------------------------------------------------------

def token_row(lang, x, t):
    r"""p(x_t = . | x_s observed, s != t) as a list; all NaN where no value of x_t has mass."""
    logs = [lang.log_evidence(tuple(x[:t]) + (v,) + tuple(x[t + 1:])) for v in range(lang.V)]
    top = max(logs)
    if top == -math.inf:
        return [math.nan] * lang.V
    w = [math.exp(lv - top) for lv in logs]
    total = sum(w)
    return [wi / total for wi in w]


def token_posteriors(lang, x, onehot_observed):
    r"""Mirror of ``*_token_posteriors`` on one sequence: (rows (L, V), log p(x_obs)).

    Every row is :func:`token_row`; with ``onehot_observed`` the rows of observed positions are the
    one-hot of their token instead.
    """
    x = tuple(int(v) for v in x)
    rows = np.empty((len(x), lang.V))
    for t, xt in enumerate(x):
        if onehot_observed and xt >= 0:
            rows[t] = np.eye(lang.V)[xt]
        else:
            rows[t] = token_row(lang, x, t)
    return rows, lang.log_evidence(x)


def conditionals(lang, x):
    """Masked rows: q(x_i | observed tokens); observed rows one-hot (the exact MDM denoiser)."""
    return token_posteriors(lang, x, onehot_observed=True)[0]


def leave_one_out(lang, x):
    """q(x_i = . | x_{-i}) for a fully observed x; NaN rows where q(x_{-i}) = 0."""
    return token_posteriors(lang, x, onehot_observed=False)[0]


def denoiser_rows(lang, x, want):
    r"""The sampler's rows for the wanted positions: q(x_i | revealed), uniform if the revealed are impossible.

    Returns
    -------
    dict position -> list of V probabilities.
    """
    x = tuple(int(v) for v in x)
    if lang.log_evidence(x) == -math.inf:
        return uniform_rows(want, lang.V)
    return {i: token_row(lang, x, i) for i in range(len(x)) if want[i]}


def uniform_rows(want, V):
    """The fallback rows: 1 / V for every wanted position."""
    return {i: [1.0 / V] * V for i in range(len(want)) if want[i]}


# ----------------------------------------------------------------------------------------------
# The sampler
# ----------------------------------------------------------------------------------------------

def quantise(s):
    """Round to the nearest multiple of 2^-40 (halves up), so rounding-level differences tie."""
    return math.floor(s * QUANTUM + 0.5) / QUANTUM


def score(row, policy):
    r"""Higher is revealed first: max_v p (confidence), top-1 minus top-2 (margin), sum p log p (entropy)."""
    if policy == "confidence":
        s = max(row)
    elif policy == "margin":
        ranked = sorted(row, reverse=True) + [0.0]
        s = ranked[0] - ranked[1]
    elif policy == "entropy":
        s = 0.0
        for p in row:  # left to right, as the kernel adds (builtin sum may compensate)
            if p > 0.0:
                s += p * math.log(p)
    else:
        raise ValueError(f"no score for policy {policy!r}")
    return quantise(s)


def blocks(length, block_length):
    """block_of[i] = i // block_length, all zeros without blocks."""
    return [0 if block_length is None else i // block_length for i in range(length)]


def ranks(uniforms):
    """rank[i] = place of position i when the uniforms are sorted ascending."""
    rank = [0] * len(uniforms)
    for r, i in enumerate(sorted(range(len(uniforms)), key=lambda i: uniforms[i])):
        rank[i] = r
    return rank


def static_order(policy, block_of, rank):
    """Reveal order of a static policy: by position (left-to-right) or by (block, rank) (random)."""
    L = len(rank)
    if policy == "left-to-right":
        return list(range(L))
    return sorted(range(L), key=lambda i: (block_of[i], rank[i]))


def select_adaptive(x, rows, k, policy, block_of, rank, sign=1.0):
    r"""The k masked positions first by (block ascending, score descending, rank ascending).

    ``sign = -1`` reverses the score order: a deliberately wrong policy, to show a test has power.
    """
    masked = [i for i in range(len(x)) if x[i] < 0]
    return sorted(masked, key=lambda i: (block_of[i], -sign * score(rows[i], policy), rank[i]))[:k]


def plan_step(x, k, policy, order, ptr):
    r"""(sel, want, new ptr): a static policy takes order[ptr:ptr+k]; an adaptive one wants every
    masked position's row and selects later (sel None)."""
    if policy in STATIC:
        sel = list(order[ptr:ptr + k])
        return sel, [i in sel for i in range(len(x))], ptr + k
    return None, [xi < 0 for xi in x], ptr


def draw_selected(x, rows, sel, step, token_u, reveal):
    r"""x_i ~ rows[i] by inverse CDF with token_u[i], for i in sel in order; return sum log rows[i][x_i]."""
    lp = 0.0
    for i in sel:
        v = draw_categorical(cumulative(rows[i]), token_u[i])
        x[i], reveal[i] = v, step
        lp += math.log(rows[i][v])
    return lp


@dataclass
class RunState:
    """One sequence mid-run: tokens x (MASK = unrevealed), reveal steps, log p_M so far, NFE, pointer."""

    x: list
    reveal: list
    lp: float = 0.0
    nfe: int = 0
    ptr: int = 0
    fallbacks: int = 0
    order: list = field(default_factory=list)


def sampler_step(state, rows_of, j, k, policy, block_of, rank, token_u, sign=1.0):
    r"""Step j revealing k tokens: plan, the rows it wants (fallback included), select, draw."""
    sel, want, state.ptr = plan_step(state.x, k, policy, state.order, state.ptr)
    rows = rows_of(state.x, want)
    if policy not in STATIC:
        sel = select_adaptive(state.x, rows, k, policy, block_of, rank, sign)
    state.lp += draw_selected(state.x, rows, sel, j, token_u, state.reveal)
    state.nfe += 1


def run(lang, counts, policy, block_of, rank, token_u, sign=1.0):
    r"""A full run of one sequence from its pre-drawn counts (N,), ranks (L,) and token uniforms (L,).

    Returns
    -------
    RunState
        ``x`` the tokens, ``reveal`` the step of each position, ``lp`` = log p_M(x), ``nfe``, and
        ``fallbacks`` the steps that used the uniform fallback.
    """
    L = len(rank)
    state = RunState([MASK] * L, [-1] * L)
    state.order = static_order(policy, block_of, rank) if policy in STATIC else []

    def rows_of(x, want):
        if lang.log_evidence(tuple(x)) == -math.inf:
            state.fallbacks += 1
        return denoiser_rows(lang, x, want)

    for j, k in enumerate(counts):
        if k > 0:
            sampler_step(state, rows_of, j, int(k), policy, block_of, rank, token_u, sign)
    return state


def run_batch(lang, counts, policy, block_of, rank, token_u):
    """:func:`run` per sequence: (tokens (B, L), reveal (B, L), lp (B,), nfe (B,), fallbacks (B,))."""
    states = [run(lang, [int(k) for k in counts[b]], policy, block_of, [int(r) for r in rank[b]],
                  [float(u) for u in token_u[b]]) for b in range(len(counts))]
    return (np.array([s.x for s in states]), np.array([s.reveal for s in states]),
            np.array([s.lp for s in states]), np.array([s.nfe for s in states]),
            np.array([s.fallbacks for s in states]))


# ----------------------------------------------------------------------------------------------
# Count policies and the exact output law
# ----------------------------------------------------------------------------------------------

ALPHAS = {"linear": lambda t: 1.0 - t, "cosine": lambda t: math.cos(0.5 * math.pi * t)}


def count_law(schedule, length, steps):
    r"""step_law(j, remaining) -> [(k, P(k revealed at step j))] with positive probability.

    ``schedule``: ``"linear"``/``"cosine"`` (each masked token revealed at step j with probability
    p_j = (alpha(t_j) - alpha(t_{j-1})) / (1 - alpha(t_{j-1})), t_j = 1 - j / N, p_N = 1: binomial
    counts), ``"balanced"``/``"balanced-back"`` (L // N per step, the extras first or last) or a list.
    """
    if isinstance(schedule, str) and schedule in ALPHAS:
        a = [ALPHAS[schedule](1.0 - j / steps) for j in range(steps + 1)]
        p = [(a[j + 1] - a[j]) / (1.0 - a[j]) for j in range(steps - 1)] + [1.0]
        return lambda j, m: [(m, 1.0)] if p[j] >= 1.0 else [
            (k, math.comb(m, k) * p[j] ** k * (1.0 - p[j]) ** (m - k)) for k in range(m + 1)]
    if isinstance(schedule, str):
        base, extra = divmod(length, steps)
        first = schedule == "balanced"
        counts = [base + (j < extra if first else j >= steps - extra) for j in range(steps)]
    else:
        counts = list(schedule)
    return lambda j, m: [(counts[j], 1.0)]


def sampler_law(lang, length, steps, schedule, policy, block_length=None, sign=1.0):
    r"""The sampler's exact output law, an array (V,) * L, enumerated from scratch.

    Average over all L! rank permutations (weight 1/L!) of the law given the ranks: every count
    outcome with its probability, the reveal set the policy picks (static order pointer or
    :func:`select_adaptive` on :func:`score`), and every token outcome with its product of rows.
    """
    step_law = count_law(schedule, length, steps)
    block_of = blocks(length, block_length)
    perms = list(itertools.permutations(range(length)))
    law = np.zeros((lang.V,) * length)
    for rank in perms:
        for x, p in _law_given_rank(lang, steps, step_law, policy, block_of, list(rank), sign).items():
            law[x] += p / len(perms)
    return law


def _law_given_rank(lang, steps, step_law, policy, block_of, rank, sign):
    """{final tokens: probability} for one tie-break permutation (a dict over sampler states)."""
    L = len(rank)
    order = static_order(policy, block_of, rank) if policy in STATIC else None
    dist = {(MASK,) * L: 1.0}
    for j in range(steps):
        nxt = defaultdict(float)
        for x, px in dist.items():
            masked = sum(v < 0 for v in x)
            for k, pk in step_law(j, masked):
                for y, py in _reveal_outcomes(lang, x, k, policy, order, L - masked, block_of, rank, sign):
                    nxt[y] += px * pk * py
        dist = nxt
    return dist


def _reveal_outcomes(lang, x, k, policy, order, ptr, block_of, rank, sign):
    """[(next state, probability)] of revealing k tokens of state x."""
    if k == 0:
        return [(x, 1.0)]
    rows = denoiser_rows(lang, x, [v < 0 for v in x])
    sel = order[ptr:ptr + k] if order is not None else select_adaptive(x, rows, k, policy, block_of, rank, sign)
    out = []
    for combo in itertools.product(*[range(lang.V)] * k):
        p = math.prod(rows[i][v] for i, v in zip(sel, combo))
        if p > 0.0:
            y = list(x)
            for i, v in zip(sel, combo):
                y[i] = v
            out.append((tuple(y), p))
    return out


# ----------------------------------------------------------------------------------------------
# The rule path (issue 11): token rules, sampled-token scores, tie rules, position temperature,
# prompts and the final greedy step
# ----------------------------------------------------------------------------------------------

SAMPLED = ("sampled", "sampled-raw")


def rule_row(row, temp, top_k, top_p):
    r"""softmax(filter(log row / T)) as a list; T = 0 builds it at T = 1. top-p keeps, in decreasing
    order (ties: lower index first), a token while the mass before it is <= top_p; top-k keeps the
    tokens >= the k-th largest; both renormalise. T = 1 without filters returns the row unchanged."""
    V = len(row)
    out = [float(p) for p in row]
    t = temp if temp > 0.0 else 1.0
    if t != 1.0:
        lbig = math.log(max(out))
        out = [math.exp((math.log(p) - lbig) / t) if p > 0.0 else 0.0 for p in out]
        z = 0.0
        for p in out:
            z += p
        out = [p / z for p in out]
    removed = False
    if top_p < 1.0:
        before = 0.0
        for r, v in enumerate(sorted(range(V), key=lambda v: (-out[v], v))):
            p = out[v]
            if r > 0 and before > top_p:
                out[v], removed = 0.0, True
            before += p
    if 0 < top_k < V:
        kth = sorted(out)[V - top_k]
        for v in range(V):
            if out[v] < kth:
                out[v], removed = 0.0, True
    if removed:
        z = 0.0
        for p in out:
            z += p
        out = [p / z for p in out]
    return out


def rule_draw(row, u, temp):
    """Inverse CDF with ``u``; T = 0: the first maximum."""
    if temp == 0.0:
        return max(range(len(row)), key=lambda v: (row[v], -v))
    return draw_categorical(cumulative(row), u)


def rule_key(i, policy, raw, trow, drawn, pos_temp, pos_u):
    r"""Position i's key: quantised score (sampled-token probability under trow or raw, 0 for random,
    -i for left-to-right, :func:`score` of trow otherwise), then / tau + Gumbel(pos_u[i]) if tau > 0."""
    if policy in SAMPLED:
        s = quantise((trow if policy == "sampled" else raw)[i][drawn[i]])
    elif policy == "random":
        s = 0.0
    elif policy == "left-to-right":
        s = -float(i)
    else:
        s = score(trow[i], policy)
    if pos_temp > 0.0:
        g = -math.inf if pos_u[i] <= 0.0 else -math.log(-math.log(pos_u[i]))
        s = s / pos_temp + g
    return s


def run_rule(lang, counts, policy, rule, x0, block_of, rank, token_u, step_u, pos_u):
    r"""One sequence on the rule path. ``rule`` = dict(tie, pos_temp, temp, top_k, top_p, final);
    step_u / pos_u are (N, L) lists (or None). Returns (x, reveal, lp, nfe)."""
    L = len(x0)
    x, reveal, lp, nfe, ptr = list(x0), [-1] * L, 0.0, 0, 0
    tie_place = {"random": lambda i: rank[i], "lowest-index": lambda i: i, "highest-index": lambda i: -i}[rule["tie"]]
    order = [i for i in static_order(policy, block_of, rank) if x0[i] < 0]
    static = policy in STATIC and rule["pos_temp"] == 0.0
    for j, k in enumerate(counts):
        if k == 0:
            continue
        masked = [i for i in range(L) if x[i] < 0]
        sel = order[ptr:ptr + k] if static else None
        ptr += k if static else 0
        raw = denoiser_rows(lang, x, [i in (sel if static else masked) for i in range(L)])
        trow = {i: rule_row(r, rule["temp"], rule["top_k"], rule["top_p"]) for i, r in raw.items()}
        drawn = {}
        if not static:
            if policy in SAMPLED:
                drawn = {i: rule_draw(trow[i], step_u[j][i], rule["temp"]) for i in masked}
            key = {i: rule_key(i, policy, raw, trow, drawn, rule["pos_temp"], pos_u[j] if pos_u else None)
                   for i in masked}
            sel = sorted(masked, key=lambda i: (block_of[i], -key[i], tie_place(i)))[:k]
        for i in sel:
            v = drawn[i] if policy in SAMPLED else rule_draw(trow[i], token_u[i], rule["temp"])
            x[i], reveal[i] = v, j
            if rule["temp"] > 0.0:
                lp += math.log(trow[i][v])
        nfe += 1
    if rule["final"] and any(v < 0 for v in x):
        raw = denoiser_rows(lang, x, [v < 0 for v in x])
        for i, r in raw.items():
            x[i], reveal[i] = max(range(len(r)), key=lambda v: (r[v], -v)), len(counts)
        nfe += 1
    return x, reveal, lp, nfe


def rule_blocks(length, block_length, start):
    """block_of[i] = (i - start) // block_length for i >= start, 0 before (blocks start at the first gap)."""
    return [0 if block_length is None else max(i - start, 0) // block_length for i in range(length)]
