r"""The masked-diffusion sampler: exact denoiser (fused numba path) or any denoiser (generic driver).

Denoiser protocol: an object with ``conditionals(x) -> (B, L, V)`` taking int64 tokens ``(B, L)``
with ``synth.MASK`` at masked positions and returning, for every masked position, the distribution
of its token given the unmasked ones (rows of observed positions are ignored). Every
``synth`` language implements it exactly and runs on the fused path; anything else (e.g. the torch
denoiser) runs through the generic driver, one ``conditionals`` call per step that reveals tokens.
"""
from dataclasses import dataclass

import numpy as np

from mdmlab.models import _kernels as kern
from mdmlab.models import policies as pol
from mdmlab.models import schedules as sch
from mdmlab.synth import MASK
from mdmlab.synth import _validation as val
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.ngram import NGramLanguage

_ROW_TOL = 1e-6


@dataclass(frozen=True)
class SampleResult:
    r"""Output of :func:`sample`.

    Attributes
    ----------
    tokens : (B, L) int64
        The generated sequences x.
    reveal_step : (B, L) int64
        j such that position i was revealed at step j (0-based); the partition M of the run.
    nfe : (B,) int64
        Steps that revealed at least one token (denoiser calls a caching sampler needs).
    log_prob_sampler : (B,) float64
        log p_M(x) = sum_j sum_{i in M_j} log p(x_i | x_{M_<j}): the exact log-probability of x under
        the sampler's law given the realised reveal steps.
    steps, schedule, policy, block_length, method :
        The run's configuration (the schedule as its resolved :class:`~models.schedules.Schedule`;
        ``method`` the path that ran: ``"tree"``, ``"sweep"`` or ``"generic"``).
    """

    tokens: np.ndarray
    reveal_step: np.ndarray
    nfe: np.ndarray
    log_prob_sampler: np.ndarray
    steps: int
    schedule: sch.Schedule
    policy: str
    block_length: int | None
    method: str


METHODS = ("auto", "sweep", "tree")


def sample(denoiser, length, steps, *, size=None, schedule="linear", policy="random", block_length=None,
           method="auto", rng=None):
    r"""Generate sequences with an MDM sampler: start all-MASK, reveal over ``steps`` steps.

    Tokens revealed in one step are drawn independently from the denoiser's conditionals given
    the tokens revealed before that step.

    Parameters
    ----------
    denoiser : synth language or object with ``conditionals(x) -> (B, L, V)``
    length : int
        L >= 1.
    steps : int
        N, 1 <= N <= L.
    size : None or int
        Batch size B (None gives B = 1; the result keeps the batch axis).
    schedule : str, callable or sequence of int
        Count policy, see :mod:`models.schedules`.
    policy : str
        Position policy, see :mod:`models.policies`.
    block_length : int, optional
        Semi-autoregressive block length.
    method : {"auto", "sweep", "tree"}
        Exact-denoiser path. ``"sweep"``: one forward-backward per step, O(N L K^2), bit-identical
        to the generic driver. ``"tree"`` (static policies only): a segment tree of transfer
        matrices, O(L K^3 log L) whatever N, so one-token-per-step runs cost O(L log L) instead of
        O(L^2); it agrees with the sweep to rounding. ``"auto"`` picks the cheaper by that count.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    SampleResult
    """
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    if N > L:
        raise ValueError(f"steps must be between 1 and length = {L} (each step reveals at least one token "
                         f"on average), got {N}")
    B = 1 if size is None else val.check_int("size", size, low=1)
    plan = sch.resolve(schedule, L, N)
    code = pol.resolve(policy)
    block_of = pol.blocks(L, block_length)
    rng = np.random.default_rng(rng)
    counts, rank = _draw_plan(plan, B, L, rng)
    token_u = rng.random((B, L))
    tokens = np.empty((B, L), dtype=np.int64)
    reveal = np.full((B, L), -1, dtype=np.int64)
    lp, nfe = np.zeros(B), np.zeros(B, dtype=np.int64)
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    exact = isinstance(denoiser, (HMMLanguage, NGramLanguage))
    if method == "tree" and not (exact and kern.is_static(code)):
        raise ValueError(f"method='tree' needs a synth language and a static policy ('random' or "
                         f"'left-to-right'), got {type(denoiser).__name__} with policy {policy!r}")
    ran = "generic"
    if exact and _use_tree(denoiser, L, N, code, method):
        ran = "tree"
        initial, transition, emission = _dense(denoiser)
        kern.sample_tree(initial, transition, emission, counts, code, block_of, rank, token_u, tokens, reveal, lp,
                         nfe)
    else:
        run, ran = (_fused, "sweep") if exact else (_generic, "generic")
        run(denoiser, counts, code, block_of, rank, token_u, tokens, reveal, lp, nfe)
    return SampleResult(tokens, reveal, nfe, lp, N, plan, policy, block_length, ran)


class ExactDenoiser:
    r"""A synth language as a denoiser with the sampler's fallback: q(x_i | revealed) where the
    revealed tokens have positive probability, uniform rows where they have none.

    This is what the fused path computes; wrapping a language in it sends it through the generic
    driver instead (used to check that both paths agree bit for bit).
    """

    def __init__(self, language):
        self.language = language

    def conditionals(self, x):
        """(B, L, V) rows; see the class docstring for the fallback."""
        x2 = val.check_tokens("x", x, self.language.vocab_size, allow_mask=True)
        rows, log_ev = self.language._run_posteriors(x2.reshape(-1, x2.shape[-1]), onehot_observed=True)
        dead = (log_ev == -np.inf)[:, None] & (x2.reshape(-1, x2.shape[-1]) < 0)  # (B, L)
        rows[dead] = 1.0 / self.language.vocab_size
        return rows.reshape(x2.shape + (self.language.vocab_size,))


def reveal_partitions(length, steps, *, size=None, schedule="linear", policy="random", block_length=None,
                      rng=None):
    r"""Draw reveal partitions M (the ``reveal_step`` of a run) without drawing tokens.

    Only static policies (``"random"``, ``"left-to-right"``) fix M before the tokens; the draws use
    the same randomness layout as :func:`sample`, so ``sample(...).reveal_step`` with the same rng
    is the same partition. Used to estimate E_M KL(q || p_M) on samples of the language.

    Returns
    -------
    (B, L) int64, the 0-based step at which each position is revealed.
    """
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    if N > L:
        raise ValueError(f"steps must be between 1 and length = {L}, got {N}")
    code = pol.resolve(policy)
    if not kern.is_static(code):
        raise ValueError(f"reveal_partitions needs a static policy ('random' or 'left-to-right'), got {policy!r}")
    B = 1 if size is None else val.check_int("size", size, low=1)
    plan, block_of = sch.resolve(schedule, L, N), pol.blocks(L, block_length)
    rng = np.random.default_rng(rng)
    counts, rank = _draw_plan(plan, B, L, rng)
    out = np.empty((B, L), dtype=np.int64)
    for b in range(B):
        out[b, kern.static_order(code, block_of, rank[b])] = np.repeat(np.arange(N), counts[b])
    return out


def _draw_plan(plan, B, L, rng):
    """A run's reveal randomness, in the order every path consumes it: counts (B, N), then the ranks
    (B, L) of a uniform permutation per sequence (tie-break priority and random-policy order)."""
    counts = plan.draw(B, rng)
    return counts, np.argsort(rng.random((B, L)), axis=1).argsort(axis=1)


def _use_tree(language, L, N, code, method):
    """Tree when asked, or (auto) when L K^3 log L beats the sweep's N L (K^2 or K V) flops."""
    if method != "auto":
        return method == "tree"
    if not kern.is_static(code):
        return False
    K, V = language._message_width, language.vocab_size
    sweep = N * L * (K * K if isinstance(language, HMMLanguage) else K * V)
    tree = L * K ** 3 * max(1.0, np.log2(L))
    return tree < sweep and 2 * L * K * K <= val.MAX_ENTRIES


def _dense(language):
    """(initial, transition, emission) of the language as a dense HMM (n-grams: window states)."""
    hmm = language if isinstance(language, HMMLanguage) else language.to_hmm()
    return hmm.initial, hmm.transition, hmm.emission


_NO_VEC, _NO_MAT, _NO_CUBE = np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1, 1))


def _kernel_args(language):
    """(family, HMM params, n-gram params, K) of a language's exact denoiser; placeholders for the other."""
    if isinstance(language, HMMLanguage):
        params = (language.initial, language.transition, language._transition_t, language.emission,
                  language._emission_t)
        return kern.HMM, params, (_NO_VEC, _NO_CUBE, _NO_CUBE), language.num_states
    params = (language._initial_flat, language._table_fw, language._table_bw)
    return kern.NGRAM, (_NO_VEC, _NO_MAT, _NO_MAT, _NO_MAT, _NO_MAT), params, language._message_width


def _fused(language, counts, code, block_of, rank, token_u, tokens, reveal, lp, nfe):
    family, hmm_params, ngram_params, K = _kernel_args(language)
    val.check_entries("the forward messages (L, K) kept per sequence in flight", (rank.shape[1], K))
    kern.sample_fused(family, hmm_params, ngram_params, K, language.vocab_size, counts, code, block_of, rank, token_u,
                      tokens, reveal, lp, nfe)


def _generic(denoiser, counts, code, block_of, rank, token_u, tokens, reveal, lp, nfe):
    if not callable(getattr(denoiser, "conditionals", None)):
        raise TypeError(f"denoiser must be a synth language or have a conditionals(x) method, got "
                        f"{type(denoiser).__name__}")
    B, N = counts.shape
    x = np.full(rank.shape, MASK, dtype=np.int64)
    ptrs = np.zeros(B, dtype=np.int64)
    for j in range(N):
        if not counts[:, j].any():
            continue
        rows = np.ascontiguousarray(denoiser.conditionals(x), dtype=np.float64)
        _check_rows(rows, x)
        kern.generic_step(x, rows, j, counts, code, block_of, rank, ptrs, token_u, reveal, lp, nfe)
    tokens[:] = x


def _check_rows(rows, x):
    """The denoiser's rows at masked positions must be distributions (the position is named)."""
    B, L = x.shape
    if rows.ndim != 3 or rows.shape[:2] != (B, L):
        raise ValueError(f"denoiser.conditionals must return shape (B, L, V) = ({B}, {L}, V), got {rows.shape}")
    masked = x < 0
    r = rows[masked]
    bad = ~np.isfinite(r).all(axis=1) | (r < 0).any(axis=1) | (np.abs(r.sum(axis=1) - 1.0) > _ROW_TOL)
    if bad.any():
        b, i = np.argwhere(masked)[np.flatnonzero(bad)[0]]
        raise ValueError(f"denoiser.conditionals returned a row that is not a distribution at batch {b}, "
                         f"position {i} (sum {float(rows[b, i].sum())!r}, min {float(rows[b, i].min())!r})")
