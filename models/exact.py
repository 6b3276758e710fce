r"""Exact laws of the exact-denoiser sampler: p_M(x) for a given reveal partition, and the full
output law over all V^L strings for tiny sizes (ground truth for tests and exact metrics)."""
import itertools
from collections import defaultdict

import numpy as np

from mdmlab.models import _kernels as kern
from mdmlab.models import policies as pol
from mdmlab.models import schedules as sch
from mdmlab.models.sampler import ExactDenoiser
from mdmlab.synth import MASK
from mdmlab.synth import _validation as val


#: exact_law enumerates every tie-break permutation and token outcome: keep it tiny.
MAX_STRINGS = 4096
MAX_LENGTH = 7


def log_prob_given_reveal(language, x, reveal_step):
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
    x2, s2 = xs.reshape(-1, xs.shape[-1]), steps.reshape(-1, xs.shape[-1])
    out = np.zeros(x2.shape[0])
    denoiser = ExactDenoiser(language)
    for j in np.unique(s2):
        rows = denoiser.conditionals(np.where(s2 < j, x2, MASK))
        picked = np.take_along_axis(rows, x2[..., None], axis=-1)[..., 0]  # q(x_i | x_{M_<j}) (B, L)
        with np.errstate(divide="ignore"):
            out += np.where(s2 == j, np.log(picked), 0.0).sum(axis=1)
    return out.reshape(xs.shape[:-1])


def exact_law(language, length, steps, *, schedule, policy="random", block_length=None):
    r"""The sampler's full output law over all V^L strings, as a float64 array of shape ``(V,) * L``.

    A forward dynamic programme over sampler states (tokens revealed so far): every count outcome
    of the schedule with its probability, every reveal set with its probability, and every token
    outcome with its product of conditionals. Static policies need no tie-break permutation: under
    ``"random"`` the reveal set is uniform over the admissible subsets (all of the earliest unfinished
    block first); adaptive policies keep one random permutation per run for their ties, so the
    programme is run for each of the L! permutations (weight 1/L! each). Limited to V^L <= 4096 and
    L <= 7.
    """
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    V = language.vocab_size
    if N > L:
        raise ValueError(f"steps must be between 1 and length = {L}, got {N}")
    if V ** L > MAX_STRINGS or L > MAX_LENGTH:
        raise ValueError(f"exact_law enumerates V^L strings and L! orders: needs V^L <= {MAX_STRINGS} and "
                         f"L <= {MAX_LENGTH}, got V = {V}, L = {L}")
    plan = sch.resolve(schedule, L, N)
    code = pol.resolve(policy)
    block_of = pol.blocks(L, block_length)
    denoiser = ExactDenoiser(language)
    rows_memo = {}

    def rows_of(x):
        if x not in rows_memo:
            rows_memo[x] = denoiser.conditionals(np.array(x, dtype=np.int64))
        return rows_memo[x]

    if kern.is_static(code):
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
                for combo in itertools.product(*options):
                    p = px * pk * ps
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
