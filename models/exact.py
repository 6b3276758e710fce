r"""Exact laws of the exact-denoiser sampler: p_M(x) for a given reveal partition, and the full
output law over all V^L strings for tiny sizes (ground truth for tests and exact metrics)."""
import itertools
import math

import numpy as np

from models import _kernels as kern
from models import policies as pol
from models import schedules as sch
from models.sampler import ExactDenoiser
from synth import MASK
from synth import _validation as val


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

    Enumerates every tie-break permutation (L! of them, each 1/L!), every count outcome of the
    schedule with its probability, and every token outcome of each step with its product of
    conditionals. Limited to V^L <= 4096 and L <= 7.
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
    law = np.zeros((V,) * L)
    memo = {}
    denoiser = ExactDenoiser(language)

    def rows_of(x):
        if x not in memo:
            memo[x] = denoiser.conditionals(np.array(x, dtype=np.int64))
        return memo[x]

    perms = list(itertools.permutations(range(L)))
    for perm in perms:
        rank = np.array(perm, dtype=np.int64)
        order, by_rank = kern.static_order(code, block_of, rank), np.argsort(rank)
        _recurse(law, rows_of, plan, code, block_of, order, by_rank, (MASK,) * L, 0, 0, 1.0 / len(perms))
    return law


def _recurse(law, rows_of, plan, code, block_of, order, by_rank, x, j, ptr, weight):
    if j == plan.steps:
        law[x] += weight
        return
    remaining = sum(v < 0 for v in x)
    for k, pk in plan.step_law(j, remaining):
        if k == 0:
            _recurse(law, rows_of, plan, code, block_of, order, by_rank, x, j + 1, ptr, weight * pk)
            continue
        rows = rows_of(x)
        if kern.is_static(code):
            sel, nptr = order[ptr:ptr + k], ptr + k
        else:
            sel, nptr = np.empty(len(x), dtype=np.int64), ptr
            kern.select_adaptive(np.array(x, dtype=np.int64), rows, k, code, block_of, by_rank, sel)
            sel = sel[:k]
        for tokens in itertools.product(*(np.flatnonzero(rows[i] > 0) for i in sel)):
            p = math.prod(rows[i, v] for i, v in zip(sel, tokens))
            nx = list(x)
            for i, v in zip(sel, tokens):
                nx[i] = int(v)
            _recurse(law, rows_of, plan, code, block_of, order, by_rank, tuple(nx), j + 1, nptr, weight * pk * p)
