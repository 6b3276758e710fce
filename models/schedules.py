r"""Count policies: how many tokens each of the N sampling steps reveals.

Two families, both recorded with every result:

* **ancestral** (``"linear"``, ``"cosine"``, ``"loglinear"`` or a callable alpha): on the uniform
  grid t_j = 1 - j / N (j = 0..N), alpha(t) is the probability that a token is unmasked at time t
  (alpha(0) = 1, alpha(1) = 0). At step j (1-based) each still-masked token is revealed
  independently with probability p_j = (alpha(t_j) - alpha(t_{j-1})) / (1 - alpha(t_{j-1}))
  (MDLM's reverse process, Sahoo et al. 2024, eq. 7), so the counts are Binomial(m_j, p_j) with m_j
  the number still masked; p_N = 1 reveals whatever remains.
* **fixed** counts: ``"balanced"`` (= ``"balanced-front"``: L // N per step, the L mod N extra
  tokens on the *first* steps), ``"balanced-back"`` (extras on the *last* steps), or an explicit
  sequence of N non-negative counts summing to L.
* :class:`TimeGrid`: an ancestral schedule on the peers' grid t_i = 1 - i (1 - eps) / N
  (``torch.linspace(1, eps, N + 1)``), optionally without the forced last reveal (MDLM: whatever is
  still masked at t = eps is left to a final greedy step, ``final_argmax=True``).
* Peer count rules as explicit lists: :func:`llada_counts` (LLaDA's ``get_num_transfer_tokens`` per
  block) and :func:`dream_counts` (Dream's ``int(m * (1 - s / t))`` in float32).

Ancestral schedules allow N > L (steps that reveal nothing); named fixed schedules need N <= L,
while an explicit list may hold zeros.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

LOGLINEAR_EPS = 1e-3

#: alpha(t) of the named ancestral schedules. loglinear is MDLM's: sigma(t) = -log(1 - (1-eps) t).
ALPHAS = {
    "linear": lambda t: 1.0 - t,
    "cosine": lambda t: np.cos(0.5 * np.pi * t),
    "loglinear": lambda t: 1.0 - (1.0 - LOGLINEAR_EPS) * t,
}
FIXED = ("balanced", "balanced-front", "balanced-back")
NAMES = tuple(ALPHAS) + FIXED


@dataclass(frozen=True)
class Schedule:
    r"""A resolved count policy for L tokens in N steps.

    Attributes
    ----------
    name : str
        The schedule's name (``"custom"`` for a callable or an explicit list).
    kind : str
        ``"ancestral"`` (random binomial counts) or ``"fixed"``.
    reveal_prob : numpy.ndarray (N,) or None
        Ancestral: p_j, the probability that a token still masked before step j is revealed at j.
    counts : numpy.ndarray (N,) int64 or None
        Fixed: s_j, the number of tokens revealed at step j (sum L).
    """

    name: str
    kind: str
    length: int
    steps: int
    reveal_prob: np.ndarray = None
    counts: np.ndarray = None

    @property
    def reveal_weights(self):
        r"""Ancestral: law of one position's reveal step, w_j = p_j prod_{i<j} (1 - p_i) (N,)."""
        if self.kind != "ancestral":
            raise ValueError(f"reveal_weights exist for ancestral schedules only, not {self.name!r} (fixed counts)")
        p = self.reveal_prob
        return p * np.concatenate([[1.0], np.cumprod(1 - p)[:-1]])

    @property
    def max_per_step(self):
        """s_max for fixed counts; None for ancestral schedules (it is random)."""
        return int(self.counts.max()) if self.kind == "fixed" else None

    def draw(self, batch, rng):
        r"""Counts (batch, N) int64: the fixed counts repeated, or sequential binomial draws."""
        if self.kind == "fixed":
            return np.broadcast_to(self.counts, (batch, self.steps)).copy()
        out = np.empty((batch, self.steps), dtype=np.int64)
        remaining = np.full(batch, self.length, dtype=np.int64)
        for j, p in enumerate(self.reveal_prob):
            out[:, j] = remaining if p >= 1.0 else rng.binomial(remaining, p)
            remaining -= out[:, j]
        return out

    def step_law(self, j, remaining):
        r"""[(k, P(k tokens revealed at step j | ``remaining`` masked))] with positive probability."""
        if self.kind == "fixed":
            return [(int(self.counts[j]), 1.0)]
        p = float(self.reveal_prob[j])
        if p >= 1.0:
            return [(remaining, 1.0)]
        pmf = stats.binom.pmf(np.arange(remaining + 1), remaining, p)
        return [(k, float(q)) for k, q in enumerate(pmf) if q > 0]


@dataclass(frozen=True)
class TimeGrid:
    r"""An ancestral schedule on the grid t_i = 1 - i (1 - eps) / N, i = 0..N.

    p_j = (alpha(t_j) - alpha(t_{j-1})) / (1 - alpha(t_{j-1})); with ``alpha="linear"`` this is
    1 - t_j / t_{j-1}, the reveal probability of MDLM's ``_ddpm_update`` (its log-linear noise
    gives move chance (1 - eps') t, whose ratio s / t is free of eps') and of Dream's ``origin``.
    ``reveal_rest=True`` forces p_N = 1 (Dream); False leaves a token masked with probability
    1 - alpha(eps) (MDLM, whose ``noise_removal`` argmax step then fills it: ``final_argmax=True``).
    """

    alpha: object = "linear"
    eps: float = 0.0
    reveal_rest: bool = True

    def resolve(self, L, N):
        alpha = ALPHAS[self.alpha] if isinstance(self.alpha, str) else self.alpha
        if not callable(alpha):
            raise ValueError(f"TimeGrid.alpha must be one of {list(ALPHAS)} or a callable, got {self.alpha!r}")
        if not (isinstance(self.eps, (int, float)) and 0.0 <= self.eps < 1.0):
            raise ValueError(f"TimeGrid.eps must be in [0, 1), got {self.eps!r}")
        grid = 1.0 - np.arange(N + 1) * (1.0 - self.eps) / N
        a = np.array([float(alpha(t)) for t in grid])
        if not np.all(np.isfinite(a)) or np.any(np.diff(a) < -1e-12) or not 0.0 <= a[0] <= a[-1] <= 1.0 + 1e-12:
            raise ValueError(f"TimeGrid alpha must be finite in [0, 1] and non-increasing in t, got {a.tolist()!r}")
        prev = a[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.nan_to_num(np.clip((a[1:] - prev) / (1.0 - prev), 0.0, 1.0), nan=1.0)
        if self.reveal_rest:
            p[-1] = 1.0
        return Schedule("grid", "ancestral", L, N, reveal_prob=p)


def is_ancestral(schedule):
    """Whether ``schedule`` (unresolved) is ancestral, so that it may take N > L steps."""
    return (isinstance(schedule, str) and schedule in ALPHAS) or callable(schedule) or isinstance(schedule, TimeGrid)


def takes_more_steps(schedule):
    """Whether ``schedule`` (unresolved) may run N > L steps: ancestral schedules and the peers' count
    rules (LLaDA and Dream call the model at steps that reveal nothing)."""
    return is_ancestral(schedule) or isinstance(schedule, (LLaDACounts, DreamCounts))


def llada_counts(length, steps, block_length=None):
    r"""LLaDA's counts (``generate.py``): the N steps split evenly over the L / b blocks and each block's
    b tokens evenly over its N b / L steps, the remainder on a block's first steps
    (``get_num_transfer_tokens``). Needs b | L and (L / b) | N, as LLaDA asserts."""
    b = length if block_length is None else block_length
    if length % b or steps % (length // b):
        raise ValueError(f"LLaDA needs block_length | length and (length / block_length) | steps, got length = "
                         f"{length}, block_length = {b}, steps = {steps}")
    per = steps // (length // b)
    base, extra = divmod(b, per)
    block = np.full(per, base, dtype=np.int64)
    block[:extra] += 1
    return np.tile(block, length // b)


def dream_counts(length, steps, eps=1e-3):
    r"""Dream's counts for its non-``origin`` algorithms (``generation_utils.py`` ``_sample``): on
    t = linspace(1, eps, N + 1) in float32, step i reveals int(m (1 - t_{i+1} / t_i)) of the m still
    masked (float32 arithmetic, truncated), the last step all that remain."""
    t = np.linspace(1.0, eps, steps + 1, dtype=np.float32)  # torch.linspace(1, eps, steps + 1)
    out, m = np.zeros(steps, dtype=np.int64), length
    for i in range(steps):
        k = m if i == steps - 1 else int(np.float32(m) * (np.float32(1.0) - t[i + 1] / t[i]))
        out[i], m = k, m - k
    return out


@dataclass(frozen=True)
class LLaDACounts:
    """LLaDA's count rule as a schedule: :func:`llada_counts` for the length being generated."""

    block_length: int = None

    def resolve(self, L, N):
        return Schedule("llada", "fixed", L, N, counts=llada_counts(L, N, self.block_length))


@dataclass(frozen=True)
class DreamCounts:
    """Dream's count rule as a schedule: :func:`dream_counts` for the length being generated."""

    eps: float = 1e-3

    def resolve(self, L, N):
        return Schedule("dream", "fixed", L, N, counts=dream_counts(L, N, self.eps))


def resolve(schedule, length, steps):
    r"""Turn ``schedule`` (a name, a callable alpha, or a list of counts) into a :class:`Schedule`.

    Raises
    ------
    ValueError
        Unknown names (the valid ones are listed), counts of the wrong length, negative or not
        summing to L, or a callable whose alpha is not 1 at t = 0, 0 at t = 1 and non-increasing.
    """
    if isinstance(schedule, str):
        if schedule in ALPHAS:
            return _ancestral(schedule, ALPHAS[schedule], length, steps)
        if schedule in FIXED:
            return Schedule(schedule, "fixed", length, steps, counts=_balanced(length, steps, schedule))
        raise ValueError(f"schedule must be one of {list(NAMES)}, a callable alpha(t) or a list of "
                         f"counts, got {schedule!r}")
    if isinstance(schedule, (TimeGrid, LLaDACounts, DreamCounts)):
        return schedule.resolve(length, steps)
    if callable(schedule):
        return _ancestral("custom", schedule, length, steps)
    return Schedule("custom", "fixed", length, steps, counts=_explicit(schedule, length, steps))


def _balanced(L, N, name):
    base, extra = divmod(L, N)
    counts = np.full(N, base, dtype=np.int64)
    if name == "balanced-back":
        counts[N - extra:] += 1
    else:
        counts[:extra] += 1
    return counts


def _explicit(counts, L, N):
    arr = np.asarray(counts)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"schedule given as counts must be a 1-D sequence of integers, got {counts!r}")
    if arr.shape[0] != N:
        raise ValueError(f"schedule has {arr.shape[0]} counts but steps = {N}; give one count per step")
    if np.any(arr < 0) or arr.sum() != L:
        raise ValueError(f"schedule counts must be >= 0 and sum to length = {L}, got sum {int(arr.sum())} "
                         f"(min {int(arr.min())})")
    return arr.astype(np.int64)


def _ancestral(name, alpha, L, N):
    grid = 1.0 - np.arange(N + 1) / N  # t_0 = 1 > t_1 > ... > t_N = 0
    a = np.array([float(alpha(t)) for t in grid])
    if not (math.isclose(a[0], 0.0, abs_tol=1e-2 if name == "loglinear" else 1e-12)
            and math.isclose(a[-1], 1.0, abs_tol=1e-12)) or np.any(np.diff(a) < -1e-12) or not np.all(np.isfinite(a)):
        raise ValueError(f"schedule alpha(t) must be finite, non-increasing in t, with alpha(1) = 0 and "
                         f"alpha(0) = 1; got alpha(1) = {float(a[0])!r}, alpha(0) = {float(a[-1])!r}")
    prev = a[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.nan_to_num(np.clip((a[1:] - prev) / (1.0 - prev), 0.0, 1.0), nan=1.0)
    p[-1] = 1.0  # the last step reveals all that remain
    return Schedule(name, "ancestral", L, N, reveal_prob=p)
