r"""Re-masking samplers (ReMDM, Wang et al. 2025, "Remasking discrete diffusion models with inference-time
scaling", the "cap" schedule), on the generic driver, and their exact law for tiny sizes.

On the grid t_j = 1 - j (1 - eps) / N with alpha(t) the probability that a token is unmasked at t, a
step from t to s (alpha_t <= alpha_s) calls the denoiser once on the current tokens x_t and then,
independently per position:

* a revealed token is re-masked with probability sigma = min(eta, (1 - alpha_s) / alpha_t);
* a masked position is revealed with probability (alpha_s - (1 - sigma) alpha_t) / (1 - alpha_t),
  its token drawn from the denoiser's row at x_t.

Both keep P(unmasked at s) = alpha_s (ReMDM, Prop. 1). ``eta = 0`` is MDLM's ancestral sampler
(:func:`models.sample` with the same ancestral schedule), which :func:`remask_law` checks exactly.
The last step (alpha_s = 1) reveals everything; with ``eps > 0`` use ``final_argmax=True``.
The fused numba path does not take re-masking (a token's row must be recomputed after it is
re-masked, so every step needs every row): this is the generic driver, one call per step.
"""
import itertools
from collections import defaultdict

import numpy as np

from mdmlab.models import schedules as sch
from mdmlab.models.sampler import MASK, ExactDenoiser, SampleResult, _check_denoiser, _rows_of
from mdmlab.synth import Language
from mdmlab.synth import _validation as val


def remask_probs(schedule, steps, eta):
    r"""(sigma_j, reveal_j) (N,) each for the N steps of ``schedule`` (a name in ``schedules.ALPHAS`` or a
    :class:`~models.schedules.TimeGrid`) with re-masking cap ``eta`` in [0, 1]."""
    if not (isinstance(eta, (int, float)) and not isinstance(eta, bool) and 0.0 <= eta <= 1.0):
        raise ValueError(f"eta must be a number in [0, 1], got {eta!r}")
    grid = schedule if isinstance(schedule, sch.TimeGrid) else sch.TimeGrid(schedule)
    if not isinstance(grid.alpha, str) or grid.alpha not in sch.ALPHAS:
        raise ValueError(f"re-masking needs a named alpha ({list(sch.ALPHAS)}) or a TimeGrid of one, got {schedule!r}")
    alpha = sch.ALPHAS[grid.alpha]
    t = 1.0 - np.arange(steps + 1) * (1.0 - grid.eps) / steps
    a = np.clip(np.array([float(alpha(v)) for v in t]), 0.0, 1.0)
    a_t, a_s = a[:-1], a[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(a_t > 0, np.minimum(eta, (1.0 - a_s) / np.where(a_t > 0, a_t, 1.0)), 0.0)
        reveal = np.where(a_t < 1, (a_s - (1.0 - sigma) * a_t) / np.where(a_t < 1, 1.0 - a_t, 1.0), 1.0)
    if grid.reveal_rest:
        sigma[-1], reveal[-1] = 0.0, 1.0
    return sigma, np.clip(reveal, 0.0, 1.0)


def sample_remask(denoiser, length, steps, *, eta, size=None, schedule="linear", final_argmax=False, rng=None):
    r"""Draw sequences with ReMDM re-masking (generic driver).

    Randomness per step j, in order: re-mask uniforms (B, L), reveal uniforms (B, L), token uniforms
    (B, L) (inverse CDF). Returns a :class:`models.SampleResult` whose ``reveal_step`` is each
    position's *last* reveal, ``counts`` the reveals of each step (re-masked tokens are revealed
    again later, so they may sum to more than L), ``nfe`` = ``calls`` the steps that called the
    denoiser, and ``log_prob_sampler`` NaN (the law is a sum over re-masking paths: :func:`remask_law`).
    """
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    shape = val.check_size(size)
    B = int(np.prod(shape, dtype=np.int64))
    sigma, reveal_p = remask_probs(schedule, N, eta)
    if reveal_p[-1] < 1.0 and not final_argmax:
        raise ValueError("this schedule can leave positions masked: pass final_argmax=True")
    den = ExactDenoiser(denoiser) if isinstance(denoiser, Language) else _check_denoiser(denoiser)
    rng = val.check_rng(rng)
    x = np.full((B, L), MASK, dtype=np.int64)
    reveal = np.full((B, L), -1, dtype=np.int64)
    counts = np.zeros((B, N + int(final_argmax)), dtype=np.int64)
    calls = np.zeros(B, dtype=np.int64)
    for j in range(N):
        rows = _rows_of(den, x)  # (B, L, V), at x_t
        u_rm, u_rev, u_tok = rng.random((B, L)), rng.random((B, L)), rng.random((B, L))
        masked = x < 0
        new = masked & (u_rev < reveal_p[j])
        back = ~masked & (u_rm < sigma[j])
        tok = _inverse_cdf(rows, u_tok)
        x = np.where(new, tok, np.where(back, MASK, x))
        reveal[new] = j
        counts[:, j] = new.sum(axis=1)
        calls += 1
    if final_argmax:
        rows = _rows_of(den, x)
        rest = x < 0
        x = np.where(rest, rows.argmax(axis=-1), x)
        reveal[rest] = N
        counts[:, N] = rest.sum(axis=1)
        calls += 1
    plan = sch.Schedule("remask", "ancestral", L, N, reveal_prob=reveal_p)
    return SampleResult(x.reshape(shape + (L,)), reveal.reshape(shape + (L,)), counts.reshape(shape + (-1,)),
                        calls.reshape(shape)[()], np.full(B, np.nan).reshape(shape)[()], N, plan, "random", None,
                        "generic", calls.reshape(shape)[()], None)


def _inverse_cdf(rows, u):
    """x ~ rows by inverse CDF with u (B, L); the last positive-mass token if rounding leaves none."""
    cdf = np.cumsum(rows, axis=-1)
    hit = cdf > u[..., None] * cdf[..., -1:]
    last = rows.shape[-1] - 1 - np.argmax((rows > 0)[..., ::-1], axis=-1)
    return np.where(hit.any(axis=-1), np.argmax(hit, axis=-1), last)


def remask_law(language, length, steps, *, eta, schedule="linear", final_argmax=False):
    r"""The exact output law of :func:`sample_remask` over all V^L strings, shape ``(V,) * L``: a forward
    programme over states, each position's outcome independent given the state."""
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    V = language.vocab_size
    if V ** L > 4096:
        raise ValueError(f"remask_law enumerates V^L <= 4096 strings, got V = {V}, L = {L}")
    sigma, reveal_p = remask_probs(schedule, N, eta)
    den = ExactDenoiser(language)
    dist = {(MASK,) * L: 1.0}
    for j in range(N):
        nxt = defaultdict(float)
        for x, px in dist.items():
            rows = den.conditionals(np.array(x, dtype=np.int64)).tolist()
            options = []
            for i, v in enumerate(x):
                if v >= 0:
                    options.append([(v, 1.0 - sigma[j]), (MASK, sigma[j])])
                else:
                    options.append([(MASK, 1.0 - reveal_p[j])] + [(w, reveal_p[j] * p) for w, p in enumerate(rows[i])
                                                                  if p > 0])
            for combo in itertools.product(*options):
                p = px
                for _, q in combo:
                    p *= q
                if p > 0:
                    nxt[tuple(v for v, _ in combo)] += p
        dist = nxt
    law = np.zeros(V ** L)
    for x, p in dist.items():
        if final_argmax and any(v < 0 for v in x):
            rows = den.conditionals(np.array(x, dtype=np.int64))
            x = tuple(int(np.argmax(rows[i])) if v < 0 else v for i, v in enumerate(x))
        law[np.ravel_multi_index(x, (V,) * L)] += p
    return law.reshape((V,) * L)
