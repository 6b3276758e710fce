r"""Exact laws of the exact-denoiser sampler: p_M(x) for a given reveal partition, and the full
output law over all V^L strings for tiny sizes (ground truth for tests and exact metrics)."""
import itertools
import math
from collections import defaultdict

import numpy as np

from mdmlab.models import _kernels as kern
from mdmlab.models import orders
from mdmlab.models import policies as pol
from mdmlab.models import schedules as sch
from mdmlab.models.sampler import METHODS, ExactDenoiser, replay_static
from mdmlab.synth import MASK
from mdmlab.synth import _validation as val


#: exact_law enumerates every tie-break permutation and token outcome: keep it tiny.
MAX_STRINGS = 4096
MAX_LENGTH = 7


def log_prob_given_reveal(language, x, reveal_step, *, method="auto"):
    r"""log p_M(x): the probability that the exact-denoiser sampler with reveal partition M outputs x.

    p_M(x) = prod_j prod_{i in M_j} q(x_i | x_{M_<j}) where M_j = {i : reveal_step[i] = j}
    (independent draws within a step, Li & Cai 2025, eq. 5), with the sampler's uniform fallback
    where x_{M_<j} itself has probability zero (:class:`models.sampler.ExactDenoiser`). For x ~ q,
    E[log q(x) - log p_M(x)] = KL(q || p_M), the left side of the Li & Cai bound.

    Parameters
    ----------
    language : synth language
    x : (*batch, L) int, fully observed
    reveal_step : (*batch, L) int >= 0, the step at which each position is revealed
    method : {"auto", "tree", "sweep", "generic", "rows"}
        ``"rows"``: one :class:`~models.sampler.ExactDenoiser` call per distinct step, O(N L K^2) (n-grams
        O(N L K V)) per sequence. The others replay x on the sampler's own paths (:func:`models.sample`'s
        ``method``; each position's token given instead of drawn), so ``"auto"`` costs what sampling
        costs: the (window) tree's O(L log L) where it is cheaper. All agree to rounding.

    Returns
    -------
    (*batch,) float64; ``-inf`` where the sampler cannot produce x.
    """
    xs = val.check_tokens("x", x, language.vocab_size, allow_mask=False)
    steps = np.asarray(reveal_step)
    if steps.shape != xs.shape or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(f"reveal_step must be an integer array of the shape of x {xs.shape}, got "
                         f"{steps.dtype} {steps.shape}")
    if np.any(steps < 0):
        raise ValueError(f"reveal_step must be >= 0, got min {int(steps.min())}")
    if method not in (*METHODS, "rows"):
        raise ValueError(f"method must be one of {[*METHODS, 'rows']}, got {method!r}")
    x2, s2 = xs.reshape(-1, xs.shape[-1]), steps.reshape(-1, xs.shape[-1])
    if x2.shape[0] == 0:
        return np.zeros(xs.shape[:-1])
    if method != "rows":
        return replay_static(language, x2, s2, method).reshape(xs.shape[:-1])
    out = np.zeros(x2.shape[0])
    denoiser = ExactDenoiser(language)
    for j in np.unique(s2):
        rows = denoiser.conditionals(np.where(s2 < j, x2, MASK))
        picked = np.take_along_axis(rows, x2[..., None], axis=-1)[..., 0]  # q(x_i | x_{M_<j}) (B, L)
        with np.errstate(divide="ignore"):
            out += np.where(s2 == j, np.log(picked), 0.0).sum(axis=1)
    return out.reshape(xs.shape[:-1])


def exact_law(language, length, steps, *, schedule, policy="random", block_length=None, tie="random",
              position_temperature=0.0, temperature=1.0, top_k=None, top_p=None, prompt=None, final_argmax=False,
              calls=None):
    r"""The sampler's full output law over all V^L strings, as a float64 array of shape ``(V,) * L``.

    A forward dynamic programme over sampler states (tokens revealed so far): every count outcome
    of the schedule with its probability, every reveal set with its probability, and every token
    outcome with its product of conditionals. Static policies need no tie-break permutation: under
    ``"random"`` the reveal set is uniform over the admissible subsets (all of the earliest unfinished
    block first); adaptive policies keep one random permutation per run for their ties, so the
    programme is run for each of the L! permutations (weight 1/L! each); a structured order
    (:mod:`models.orders`) reveals the next k positions of its fixed order. Limited to V^L <= 4096 and
    L <= 7.

    The rule arguments of :func:`models.sample` (``tie``, ``position_temperature``, ``temperature``,
    ``top_k``, ``top_p``, ``prompt``, ``final_argmax``) are accounted for by :class:`_RuleProgramme`:
    a sampled-token score enumerates the joint candidate draws of every masked position (V^m per
    state) and keeps the chosen positions' tokens; a position temperature gives each reveal set its
    Plackett-Luce probability (a sum over the set's orderings); the token rule reshapes the rows
    (greedy tokens with probability one). A ``"random"`` tie rule with an adaptive score enumerates
    the L! permutations as above. ``calls`` (a caching rule) does not change the law and is
    accepted so that a preset's keyword arguments serve both functions.
    """
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    V = language.vocab_size
    if N > L and not sch.takes_more_steps(schedule):
        raise ValueError(f"steps must be between 1 and length = {L}, got {N}")
    if V ** L > MAX_STRINGS or L > MAX_LENGTH:
        raise ValueError(f"exact_law enumerates V^L strings and L! orders: needs V^L <= {MAX_STRINGS} and "
                         f"L <= {MAX_LENGTH}, got V = {V}, L = {L}")
    rule = pol.resolve_rule(policy, tie, position_temperature, temperature, top_k, top_p, final_argmax)
    order = orders.resolve(policy, L)
    orders.check_run(order, schedule, block_length, rule.default and prompt is None)
    if isinstance(schedule, sch.TimeGrid) and not schedule.reveal_rest and not rule.final:
        raise ValueError("a schedule that can leave positions masked (TimeGrid(reveal_rest=False)) needs "
                         "final_argmax=True")
    if not (rule.default and prompt is None):
        return _rule_law(language, L, N, schedule, rule, block_length, prompt)
    plan = orders.resolve_schedule(schedule, order, L, N)
    code = pol.resolve(policy)
    block_of = pol.blocks(L, block_length)
    denoiser = ExactDenoiser(language)
    rows_memo = {}

    def rows_of(x):
        if x not in rows_memo:
            rows_memo[x] = denoiser.conditionals(np.array(x, dtype=np.int64))
        return rows_memo[x]

    if order is not None:
        fixed = [int(i) for i in kern.static_order(code, block_of, order.rank)]  # by (block, priority)
        law = _Programme(rows_of, plan, V, lambda x, rows, k: [(tuple(i for i in fixed if x[i] < 0)[:k], 1.0)])
        law = law.run(L)
    elif kern.is_static(code):
        law = _Programme(rows_of, plan, V, lambda x, rows, k: _static_sets(x, k, code, block_of)).run(L)
    else:
        perms = list(itertools.permutations(range(L)))
        law = np.zeros(V ** L)
        for perm in perms:
            by_rank = np.argsort(np.array(perm, dtype=np.int64))
            choose = _adaptive_chooser(code, block_of, by_rank)
            law += _Programme(rows_of, plan, V, choose).run(L) / len(perms)
    return law.reshape((V,) * L)


class _Programme:
    """Forward dynamic programme over sampler states: {tokens revealed so far: probability}.

    States reached by different paths merge, so the work is the number of distinct (state,
    step, reveal set, token outcome) transitions, each a dictionary update on Python floats.
    """

    def __init__(self, rows_of, plan, V, choose):
        self.rows_of, self.plan, self.V, self.choose = rows_of, plan, V, choose

    def run(self, L):
        dist = {(MASK,) * L: 1.0}
        for j in range(self.plan.steps):
            nxt = defaultdict(float)
            for x, px in dist.items():
                self._expand(x, px, j, nxt)
            dist = nxt
        law = np.zeros(self.V ** L)
        for x, p in dist.items():
            law[np.ravel_multi_index(x, (self.V,) * L)] += p
        return law

    def _expand(self, x, px, j, nxt):
        remaining = sum(v < 0 for v in x)
        for k, pk in self.plan.step_law(j, remaining):
            if k == 0:
                nxt[x] += px * pk
                continue
            rows = self.rows_of(x)
            table = rows.tolist()
            for sel, ps in self.choose(x, rows, k):
                options = [[(v, p) for v, p in enumerate(table[i]) if p > 0.0] for i in sel]
                _add_outcomes(nxt, x, px * pk * ps, sel, options)


def _add_outcomes(nxt, x, p0, sel, options):
    r"""nxt[x with sel revealed as one combination] += p0 * prod of its probabilities, for every
    combination of the independent draws at the positions ``sel`` (``options[c]``: [(token, p)])."""
    for combo in itertools.product(*options):
        p = p0
        nx = list(x)
        for i, (v, pv) in zip(sel, combo):
            p *= pv
            nx[i] = v
        nxt[tuple(nx)] += p


def _static_sets(x, k, code, block_of):
    """[(reveal set, probability)] of a static policy: earliest blocks first, uniform within a block."""
    masked = [i for i in range(len(x)) if x[i] < 0]
    if code == kern.LEFT_TO_RIGHT:
        return [(tuple(masked[:k]), 1.0)]
    fixed, left = [], k
    for b in sorted({int(block_of[i]) for i in masked}):
        members = [i for i in masked if block_of[i] == b]
        if len(members) <= left:
            fixed += members
            left -= len(members)
        else:
            subsets = list(itertools.combinations(members, left))
            return [(tuple(fixed) + sub, 1.0 / len(subsets)) for sub in subsets]
        if left == 0:
            break
    return [(tuple(fixed), 1.0)]


def _adaptive_chooser(code, block_of, by_rank):
    def choose(x, rows, k):
        sel = np.empty(len(x), dtype=np.int64)
        kern.select_adaptive(np.array(x, dtype=np.int64), rows, k, code, block_of, by_rank, sel)
        return [(tuple(int(i) for i in sel[:k]), 1.0)]
    return choose


# -- the rule path's exact law --------------------------------------------------------------------

def _rule_law(language, L, N, schedule, rule, block_length, prompt):
    """exact_law for the rule path: one :class:`_RuleProgramme` per tie permutation where ties are random."""
    V = language.vocab_size
    if prompt is None:
        x0 = (MASK,) * L
    else:
        arr = val.check_tokens("prompt", prompt, V)
        if arr.shape != (L,) or not (arr < 0).any():
            raise ValueError(f"prompt must have shape ({L},) with at least one MASK, got {arr.tolist()!r}")
        x0 = tuple(int(v) for v in arr)
    M = sum(v < 0 for v in x0)
    plan = sch.resolve(schedule, M, N)
    block_of = pol.blocks(L, block_length, x0.index(MASK))
    denoiser = ExactDenoiser(language)
    memo = {}

    def rows_of(x):
        if x not in memo:
            raw = denoiser.conditionals(np.array(x, dtype=np.int64))
            trow = np.zeros_like(raw)
            for i in range(L):
                if x[i] < 0:
                    kern.token_row(raw[i], rule.temp, rule.top_k, rule.top_p, trow[i])
            memo[x] = (raw, trow)
        return memo[x]

    random_ties = (rule.tie == kern.TIE_RANDOM and not kern.is_static(rule.code) and rule.pos_temp == 0.0)
    perms = list(itertools.permutations(range(L))) if random_ties else [tuple(range(L))]
    law = np.zeros(V ** L)
    for perm in perms:
        by_rank = np.argsort(np.array(perm, dtype=np.int64))
        law += _RuleProgramme(rows_of, plan, V, rule, block_of, by_rank).run_from(x0) / len(perms)
    return law.reshape((V,) * L)


class _RuleProgramme(_Programme):
    """The forward programme of the rule path: choices of positions may depend on candidate draws."""

    def __init__(self, rows_of, plan, V, rule, block_of, by_rank):
        super().__init__(rows_of, plan, V, None)
        self.rule, self.block_of, self.by_rank = rule, block_of, by_rank

    def run_from(self, x0):
        dist = {x0: 1.0}
        for j in range(self.plan.steps):
            nxt = defaultdict(float)
            for x, px in dist.items():
                self._expand(x, px, j, nxt)
            dist = nxt
        law = np.zeros(self.V ** len(x0))
        for x, p in dist.items():
            if self.rule.final:
                x = self._argmax_rest(x)
            law[np.ravel_multi_index(x, (self.V,) * len(x0))] += p
        return law

    def _argmax_rest(self, x):
        if all(v >= 0 for v in x):
            return x
        raw = self.rows_of(x)[0]
        return tuple(int(np.argmax(raw[i])) if v < 0 else v for i, v in enumerate(x))

    def _options(self, trow, i):
        """[(token, probability)] of position i's draw (the argmax alone when greedy)."""
        if self.rule.temp == 0.0:
            return [(int(np.argmax(trow[i])), 1.0)]
        return [(v, float(p)) for v, p in enumerate(trow[i]) if p > 0.0]

    def _expand(self, x, px, j, nxt):
        masked = [i for i in range(len(x)) if x[i] < 0]
        for k, pk in self.plan.step_law(j, len(masked)):
            if k == 0:
                nxt[x] += px * pk
                continue
            raw, trow = self.rows_of(x)
            r = self.rule
            if kern.is_sampled(r.code):
                for combo in itertools.product(*(self._options(trow, i) for i in masked)):
                    drawn = dict(zip(masked, (v for v, _ in combo)))
                    pc = math.prod(p for _, p in combo)
                    row = trow if r.code == kern.SAMPLED else raw
                    scores = {i: _quantise(row[i, drawn[i]]) for i in masked}
                    for sel, ps in self._sets(masked, scores, k):
                        nx = list(x)
                        for i in sel:
                            nx[i] = drawn[i]
                        nxt[tuple(nx)] += px * pk * pc * ps
                continue
            if kern.is_static(r.code) and r.pos_temp == 0.0:
                sets = _static_sets(x, k, r.code, self.block_of)
            else:
                scores = {i: _rule_score(trow[i], r.code, i) for i in masked}
                sets = self._sets(masked, scores, k)
            for sel, ps in sets:
                _add_outcomes(nxt, x, px * pk * ps, sel, [self._options(trow, i) for i in sel])

    def _sets(self, masked, scores, k):
        """[(reveal set, probability)]: whole earliest blocks, then the top (or Plackett-Luce draws) of the
        partial block by score, ties in the rule's order."""
        fixed, left = [], k
        for b in sorted({int(self.block_of[i]) for i in masked}):
            members = [i for i in masked if self.block_of[i] == b]
            if len(members) <= left:
                fixed += members
                left -= len(members)
                if left == 0:
                    return [(tuple(fixed), 1.0)]
                continue
            if self.rule.pos_temp > 0.0:
                return [(tuple(fixed) + sub, p) for sub, p in _plackett_luce(members, scores, left, self.rule.pos_temp)]
            tie = {kern.TIE_RANDOM: lambda i: int(np.flatnonzero(self.by_rank == i)[0]),
                   kern.TIE_LOWEST: lambda i: i, kern.TIE_HIGHEST: lambda i: -i}[self.rule.tie]
            top = sorted(members, key=lambda i: (-scores[i], tie(i)))[:left]
            return [(tuple(fixed) + tuple(top), 1.0)]
        return [(tuple(fixed), 1.0)]


def _quantise(s):
    return math.floor(s * 2.0 ** 40 + 0.5) / 2.0 ** 40


def _rule_score(row, code, i):
    if code == kern.RANDOM:
        return 0.0
    if code == kern.LEFT_TO_RIGHT:
        return -float(i)
    return float(kern._score(row, code))


def _plackett_luce(members, scores, r, tau):
    """[(subset, P)] of r draws without replacement from softmax(score / tau) over ``members``."""
    top = max(scores[i] for i in members)
    w = {i: math.exp((scores[i] - top) / tau) for i in members}
    out = []
    for sub in itertools.combinations(members, r):
        total = 0.0
        for order in itertools.permutations(sub):
            p, left = 1.0, sum(w.values())
            for i in order:
                p *= w[i] / left
                left -= w[i]
            total += p
        out.append((sub, total))
    return out
