r"""Adaptive-count samplers: rules that choose, from the current rows, how many and which masked
positions a step reveals; their exact replay (teacher forcing) and their exact law on tiny cases.

Rules (frozen dataclasses, validated on construction):

* :class:`EntropyBounded` ``(gamma)``: sort the masked positions by the entropy H_i of their row
  (lowest first, ties by the run's tie priority) and reveal the longest prefix S with
  sum_{i in S} H_i - max_{i in S} H_i <= gamma (nats), at least one position (the EB-Sampler of
  Ben-Hamu et al., arXiv 2505.24857, as recalled, not read). Sorted ascending, max_{i in S} H_i is the
  last one's, so the prefix of length k qualifies iff the k - 1 lowest entropies sum to at most gamma.
* :class:`ConfidenceThreshold` ``(threshold)``: reveal every masked position whose confidence
  max_v p(x_i = v | revealed) exceeds ``threshold`` (strictly), or else the single most confident one
  (the threshold rule of Fast-dLLM's parallel decoding, arXiv 2505.22618, as recalled).

Scores (entropies, confidences) are rounded to multiples of 2^-40 as in :mod:`models.policies`, so
rows that differ only by rounding tie; ties go by a priority ``rank`` (a uniform random permutation
drawn once per run, or the lowest/highest index first).

Replay (derived for this project; checked by enumeration in tests/test_adaptive.py). The reveal set
S_t of every rule here (and of the fixed-count policies ``"confidence"``, ``"margin"``, ``"entropy"``)
is a deterministic function of the tokens revealed before step t and of the tie priority. Given a full
string x, the run that outputs x is therefore unique: R_1 = {}, S_t the rule's choice on the rows
p(. | x_{R_t}), R_{t+1} = R_t + S_t, and

    log p_M(x) = sum_t sum_{i in S_t} log p(x_i | x_{R_t})                       (teacher forcing)

exactly, whatever the law of x. For x ~ q with the exact denoiser, q(x) = prod_t q(x_{S_t} | x_{R_t})
by the chain rule along the same path, so

    E_x KL(q || p_M) = E_{x ~ q}[log q(x) - log p_M(x)] = sum_t E_{x ~ q}[TC(X_{S_t} | x_{R_t})],

TC(X_S | x_R) = sum_{i in S} H(X_i | x_R) - H(X_S | x_R) the total correlation of the step's joint
conditional, zero for a step that reveals one position. Since H(X_S | x_R) >= max_{i in S} H(X_i | x_R),
TC <= sum_{i in S} H_i - max_{i in S} H_i (:attr:`Replay.excess` sums these bounds along the path), which
the entropy-bounded rule keeps <= gamma. Hence, per tie priority,

    KL(q || p_M) <= E_{x ~ q}[excess(x)] <= gamma * E_{x ~ q}[T(x)],

T(x) the number of steps of the rule *replayed on x ~ q* (not the sampler's own expected NFE, which is
an expectation under p_M); steps that reveal one position add to T but not to the excess, and the
first inequality is an equality when, within each step, one revealed token determines the others. The
constant is attained: on ``all-equal`` (L copies of one fair bit) with gamma just above (L - 1) log 2
one step reveals every copy and KL = (L - 1) log 2 = gamma * E[T] up to that slack. The rounding of
the entropies to 2^-40 can move the bound by at most L 2^-41 nats per step.
"""
import itertools
import math
import numbers
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mdmlab.models import _kernels as kern
from mdmlab.models import policies as pol
from mdmlab.models.sampler import ExactDenoiser, _check_denoiser, _rows_of
from mdmlab.synth import MASK, Language
from mdmlab.synth import _validation as val

_INV_QUANTUM = 2.0 ** 40
#: the fixed-count policies :func:`replay` re-runs (their choice depends on the rows, not the draws).
REPLAY_POLICIES = ("confidence", "margin", "entropy")
TIES = ("random", "lowest-index", "highest-index")
#: adaptive_law enumerates every tie priority and token outcome: keep it tiny (as models.exact_law).
MAX_STRINGS = 4096
MAX_LENGTH = 7


def _quantise(s):
    return np.floor(s * _INV_QUANTUM + 0.5) / _INV_QUANTUM


def _entropy(rows):
    r"""H_i = -sum_v p log p (nats) of rows (..., V) -> (...), summed over v left to right."""
    s = np.zeros(rows.shape[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        for v in range(rows.shape[-1]):
            p = rows[..., v]
            s += np.where(p > 0.0, p * np.log(p), 0.0)
    return -s


def _places(order):
    """place[b, order[b, c]] = c: each position's place in its row's order (B, L)."""
    place = np.empty_like(order)
    np.put_along_axis(place, order, np.broadcast_to(np.arange(order.shape[1]), order.shape), axis=1)
    return place


def _check_number(name, value, low, high, allow_inf=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not (low <= v <= high) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return v


@dataclass(frozen=True)
class EntropyBounded:
    r"""Reveal the lowest-entropy prefix S of the masked positions with sum_S H - max_S H <= gamma.

    Attributes
    ----------
    gamma : float
        The budget in nats, 0 <= gamma <= inf (``math.inf`` reveals everything at the first step;
        0 reveals one position per step unless the lowest entropies are zero).
    """

    gamma: float

    def __post_init__(self):
        object.__setattr__(self, "gamma", _check_number("gamma", self.gamma, 0.0, math.inf, allow_inf=True))

    def reveal(self, rows, masked, rank):
        r"""The step's reveal set (B, L) bool, from rows (B, L, V), masked (B, L) and priorities rank (B, L)."""
        h = np.where(masked, _quantise(_entropy(rows)), np.inf)
        order = np.lexsort((rank, h), axis=-1)  # masked by (H ascending, rank); observed (inf) last
        cum = np.cumsum(np.take_along_axis(h, order, axis=1), axis=1)  # sum of the c + 1 lowest
        m = masked.sum(axis=1, keepdims=True)
        k = 1 + ((cum <= self.gamma) & (np.arange(h.shape[1]) < m - 1)).sum(axis=1)  # prefix length, >= 1
        return masked & (_places(order) < k[:, None])


@dataclass(frozen=True)
class ConfidenceThreshold:
    r"""Reveal every masked position with max_v p(x_i = v | revealed) > threshold, at least the most
    confident one.

    Attributes
    ----------
    threshold : float
        In [0, 1]: 1 reveals one position per step, 0 everything at the first step.
    """

    threshold: float

    def __post_init__(self):
        object.__setattr__(self, "threshold", _check_number("threshold", self.threshold, 0.0, 1.0))

    def reveal(self, rows, masked, rank):
        r"""The step's reveal set (B, L) bool (see :meth:`EntropyBounded.reveal`)."""
        conf = np.where(masked, _quantise(rows.max(axis=-1)), -np.inf)
        sel = masked & (conf > self.threshold)
        first = np.lexsort((rank, -conf), axis=-1)[:, 0]  # the most confident masked position
        none = ~sel.any(axis=1)
        sel[none, first[none]] = True
        return sel


RULES = (EntropyBounded, ConfidenceThreshold)


def is_rule(obj):
    """Whether ``obj`` is an adaptive-count rule of this module."""
    return isinstance(obj, RULES)


# -- results --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AdaptiveResult:
    r"""Output of :func:`sample_adaptive`; ``batch`` is the ``size`` shape (``()`` for ``size=None``).

    Attributes
    ----------
    tokens : (*batch, L) int64
        The generated sequences x.
    reveal_step : (*batch, L) int64
        t such that position i was revealed at step t (0-based): the realised partition.
    counts : (*batch, T) int64
        |S_t|, the tokens revealed at step t; T is the largest number of steps in the batch and the
        columns after a run's last step are zero (each row sums to L).
    nfe : (*batch) int64
        The run's number of steps (each reveals at least one token): its denoiser calls.
    log_prob_sampler : (*batch) float64
        log p_M(x) = sum_t sum_{i in S_t} log p(x_i | x_{R_t}); exact, since the partition is a function
        of x and the tie priority (:func:`replay` recomputes it bit for bit).
    rank : (*batch, L) int64
        The tie priority (lower first): the run's random permutation, or the index order of the tie rule.
    rule, tie, max_steps :
        The run's configuration.
    """

    tokens: np.ndarray
    reveal_step: np.ndarray
    counts: np.ndarray
    nfe: np.ndarray
    log_prob_sampler: np.ndarray
    rank: np.ndarray
    rule: object
    tie: str
    max_steps: int | None


class Replay(NamedTuple):
    r"""Output of :func:`replay` (each field of shape ``batch`` unless said).

    log_prob : log p_M(x) = sum_t sum_{i in S_t} log p(x_i | x_{R_t}), ``-inf`` where the run cannot output x.
    reveal_step : (*batch, L) int64, the step at which the replayed run reveals each position.
    steps : int64, the run's steps that revealed at least one token (its NFE).
    excess : sum_t (sum_{i in S_t} H(X_i | x_{R_t}) - max_{i in S_t} H(X_i | x_{R_t})) in nats, the sum along
        the path of the per-step upper bounds on the total correlation TC(X_{S_t} | x_{R_t}).
    """

    log_prob: np.ndarray
    reveal_step: np.ndarray
    steps: np.ndarray
    excess: np.ndarray


# -- the driver shared by the sampler and the replay ----------------------------------------------

class _Choice(NamedTuple):
    """How a run chooses: ``pick(rows, x, idx, j) -> sel`` for the active sequences ``idx`` at step j,
    ``active(x, j) -> idx`` and the number of steps to loop over."""

    pick: object
    active: object
    steps: int


def _rule_choice(rule, rank, max_steps, L):
    """A rule's choice; at step max_steps - 1 every masked position is revealed."""
    def pick(rows, x, idx, j):
        masked = x < 0
        return masked if j == (max_steps or 0) - 1 else rule.reveal(rows, masked, rank[idx])
    return _Choice(pick, lambda x, j: np.flatnonzero((x < 0).any(axis=1)), L if max_steps is None else max_steps)


def _count_choice(code, counts, block_of, rank):
    """A fixed-count adaptive policy: ``counts[b, j]`` positions by (block, -score, rank) (the kernels')."""
    by_rank = _places(rank)  # by_rank[b, c]: the position of rank c (the kernels' by_rank_of, batched)

    def pick(rows, x, idx, j):
        sel = np.zeros(x.shape, dtype=bool)
        buf = np.empty(x.shape[1], dtype=np.int64)
        for c, b in enumerate(idx):
            k = counts[b, j]
            kern.select_adaptive(x[c], np.ascontiguousarray(rows[c]), k, code, block_of, by_rank[b], buf)
            sel[c, buf[:k]] = True
        return sel
    return _Choice(pick, lambda x, j: np.flatnonzero((counts[:, j] > 0) & (x < 0).any(axis=1)), counts.shape[1])


class _Trace(NamedTuple):
    """A driven batch: tokens x (B, L), reveal steps (B, L), log p_M (B,), steps (B,), excess (B,), counts (B, N)."""

    x: np.ndarray
    reveal: np.ndarray
    lp: np.ndarray
    steps: np.ndarray
    excess: np.ndarray
    counts: np.ndarray


def _drive(denoiser, B, L, choice, tokens_of, with_excess=True):
    r"""Run the choice from all-MASK; ``tokens_of(rows, idx)`` gives the tokens (b, L) of the active
    sequences (drawn, or the replayed string's). Returns a :class:`_Trace`."""
    x = np.full((B, L), MASK, dtype=np.int64)
    reveal = np.full((B, L), -1, dtype=np.int64)
    lp, excess = np.zeros(B), np.zeros(B)
    steps = np.zeros(B, dtype=np.int64)
    counts = np.zeros((B, choice.steps), dtype=np.int64)
    for j in range(choice.steps):
        idx = choice.active(x, j)
        if idx.size == 0:
            continue
        xs = x[idx]
        rows = _rows_of(denoiser, xs)  # (b, L, V), checked
        sel = choice.pick(rows, xs, idx, j)
        tok = tokens_of(rows, idx)
        picked = np.take_along_axis(rows, tok[..., None], axis=-1)[..., 0]
        with np.errstate(divide="ignore"):
            lp[idx] += np.where(sel, np.log(picked), 0.0).sum(axis=1)
        if with_excess:  # only replay reports it: the sampler would compute the entropies for nothing
            h = np.where(sel, _entropy(rows), 0.0)
            excess[idx] += h.sum(axis=1) - h.max(axis=1)
        x[idx] = np.where(sel, tok, xs)
        reveal[idx] = np.where(sel, j, reveal[idx])
        steps[idx] += 1
        counts[idx, j] = sel.sum(axis=1)
    return _Trace(x, reveal, lp, steps, excess, counts)


def _draw_tokens(rows, u):
    r"""x_i ~ rows[i] by inverse CDF: first v with cdf[v] > u cdf[-1], else the last category with mass."""
    cdf = np.cumsum(rows, axis=-1)
    v = (cdf <= (u * cdf[..., -1])[..., None]).sum(axis=-1)
    last = rows.shape[-1] - 1 - np.argmax(rows[..., ::-1] > 0.0, axis=-1)
    return np.where(v >= rows.shape[-1], last, v)


def _ranks(tie, B, L, u=None):
    """Tie priorities (B, L): the ranks of the uniforms ``u`` (random) or the index order."""
    if tie not in TIES:
        raise ValueError(f"tie must be one of {list(TIES)}, got {tie!r}")
    if tie == "random":
        return np.argsort(u, axis=1).argsort(axis=1)
    idx = np.arange(L, dtype=np.int64)
    return np.broadcast_to(idx if tie == "lowest-index" else L - 1 - idx, (B, L)).copy()


def _check_max_steps(max_steps):
    return None if max_steps is None else val.check_int("max_steps", max_steps, low=1)


def _as_denoiser(denoiser):
    return ExactDenoiser(denoiser) if isinstance(denoiser, Language) else _check_denoiser(denoiser)


def _check_rule(rule):
    if not is_rule(rule):
        raise TypeError(f"rule must be models.EntropyBounded or models.ConfidenceThreshold, got "
                        f"{type(rule).__name__} {rule!r}")
    return rule


def sample_adaptive(denoiser, length, rule, *, size=None, rng=None, tie="random", max_steps=None):
    r"""Generate sequences with an adaptive-count rule: start all-MASK, each step reveal the set the rule
    picks from the current rows (tokens drawn independently given the tokens revealed before), until
    every position is revealed.

    Parameters
    ----------
    denoiser : synth.Language (run as :class:`models.ExactDenoiser`) or object with ``conditionals``
    length : int
        L >= 1.
    rule : EntropyBounded or ConfidenceThreshold
    size : None, int or tuple of int
        Batch shape, as in numpy.
    rng : None, int or numpy.random.Generator
        Draws, in order: uniforms (B, L) whose ranks are the tie permutation (drawn for every tie
        rule), then one uniform (B, L) per position for its token.
    tie : {"random", "lowest-index", "highest-index"}
    max_steps : int, optional
        Cap on the steps: step ``max_steps - 1`` reveals every position still masked.

    Returns
    -------
    AdaptiveResult

    Raises
    ------
    ValueError, TypeError
        Before any draw: a bad length, size, rule, tie rule, step cap or denoiser.
    """
    _check_rule(rule)
    L = val.check_int("length", length, low=1)
    shape = val.check_size(size)
    if any(d < 1 for d in shape):
        raise ValueError(f"size must be None, an int >= 1 or a tuple of ints >= 1, got {size!r}")
    B = int(np.prod(shape, dtype=np.int64))
    max_steps = _check_max_steps(max_steps)
    den = _as_denoiser(denoiser)
    if tie not in TIES:
        raise ValueError(f"tie must be one of {list(TIES)}, got {tie!r}")
    rng = val.check_rng(rng)
    rank = _ranks(tie, B, L, rng.random((B, L)))
    token_u = rng.random((B, L))
    t = _drive(den, B, L, _rule_choice(rule, rank, max_steps, L), lambda rows, idx: _draw_tokens(rows, token_u[idx]),
               with_excess=False)
    counts = t.counts[:, :max(1, int(t.steps.max()))]
    return AdaptiveResult(t.x.reshape(shape + (L,)), t.reveal.reshape(shape + (L,)),
                          counts.reshape(shape + (counts.shape[1],)), t.steps.reshape(shape)[()],
                          t.lp.reshape(shape)[()], rank.reshape(shape + (L,)), rule, tie, max_steps)


def replay(denoiser, x, rule, *, rank=None, tie="random", counts=None, block_length=None, max_steps=None):
    r"""Re-run a deterministic adaptive choice on given strings (teacher forcing): the partition it makes
    when the revealed tokens are x's, and log p_M(x) = sum_t sum_{i in S_t} log p(x_i | x_{R_t}) exactly.

    Parameters
    ----------
    denoiser : synth.Language (run as :class:`models.ExactDenoiser`) or object with ``conditionals``
    x : (*batch, L) int, fully observed
    rule : EntropyBounded, ConfidenceThreshold, or one of ``"confidence"``, ``"margin"``, ``"entropy"``
        (a policy of :func:`models.sample` with fixed ``counts``).
    rank : (*batch, L) or (L,) int, a permutation per sequence
        The tie priority of ``tie="random"`` (:attr:`AdaptiveResult.rank`; for :func:`models.sample`,
        the ranks of its second draw); required then, ignored for the index tie rules.
    counts : (N,) or (*batch, N) int >= 0, each row summing to L
        The policies' counts per step (a schedule's draw); only with a policy.
    block_length : int, optional
        Semi-autoregressive blocks, policies only.
    max_steps : int, optional
        The rules' step cap, as in :func:`sample_adaptive`.

    Returns
    -------
    Replay

    Raises
    ------
    ValueError, TypeError
        Bad strings, rule, ranks, counts, tie rule or step cap.
    """
    den = _as_denoiser(denoiser)
    V = getattr(den, "vocab_size", np.iinfo(np.int64).max)
    xs = val.check_tokens("x", x, V, allow_mask=False)
    batch, L = xs.shape[:-1], xs.shape[-1]
    x2 = xs.reshape(-1, L)
    B = x2.shape[0]
    rank2 = _check_rank(rank, tie, batch, B, L)
    if isinstance(rule, str):
        if rule not in REPLAY_POLICIES:
            raise ValueError(f"rule must be a models rule or one of {list(REPLAY_POLICIES)} (policies whose "
                             f"choice depends on the rows only), got {rule!r}")
        if max_steps is not None:
            raise ValueError("max_steps applies to the rules; a policy's steps are its counts")
        choice = _count_choice(pol.resolve(rule), _check_counts(counts, batch, B, L), pol.blocks(L, block_length),
                               rank2)
    else:
        _check_rule(rule)
        if counts is not None or block_length is not None:
            raise ValueError("counts and block_length apply to the policies; a rule chooses its own counts")
        choice = _rule_choice(rule, rank2, _check_max_steps(max_steps), L)
    t = _drive(den, B, L, choice, lambda rows, idx: x2[idx])
    return Replay(t.lp.reshape(batch), t.reveal.reshape(batch + (L,)), t.steps.reshape(batch), t.excess.reshape(batch))


def replay_log_prob(denoiser, x, rule, **kwargs):
    r"""log p_M(x) by :func:`replay` (same arguments): shape ``x.shape[:-1]``."""
    return replay(denoiser, x, rule, **kwargs).log_prob


def _check_rank(rank, tie, batch, B, L):
    if tie not in TIES:
        raise ValueError(f"tie must be one of {list(TIES)}, got {tie!r}")
    if tie != "random":
        return _ranks(tie, B, L)
    if rank is None:
        raise ValueError("rank (the tie permutation of each run, AdaptiveResult.rank) is required for tie='random'")
    r = np.asarray(rank)
    if not np.issubdtype(r.dtype, np.integer) or r.shape not in ((L,), batch + (L,)):
        raise ValueError(f"rank must be an integer array of shape (L,) or {batch + (L,)}, got {r.dtype} {r.shape}")
    r = np.broadcast_to(r, batch + (L,)).reshape(B, L).astype(np.int64)
    if not (np.sort(r, axis=1) == np.arange(L)).all():
        raise ValueError("rank must hold a permutation of 0..L-1 in every row")
    return r


def _check_counts(counts, batch, B, L):
    if counts is None:
        raise ValueError("counts (the tokens revealed per step) are required to replay a policy")
    c = np.asarray(counts)
    if not np.issubdtype(c.dtype, np.integer) or c.ndim < 1 or c.shape[:-1] not in ((), batch):
        raise ValueError(f"counts must be an integer array of shape (N,) or {batch + ('N',)}, got {c.dtype} "
                         f"{c.shape}")
    c = np.broadcast_to(c, batch + c.shape[-1:]).reshape(B, -1).astype(np.int64)
    if (c < 0).any() or (c.sum(axis=1) != L).any():
        raise ValueError(f"counts must be >= 0 and sum to L = {L} in every row, got sums "
                         f"{sorted(set(c.sum(axis=1).tolist()))[:5]}")
    return c


# -- the exact law on tiny cases ------------------------------------------------------------------

@dataclass(frozen=True)
class AdaptiveLaw:
    r"""Output of :func:`adaptive_law`: the rule's exact sampler law and its exact metrics (nats).

    Attributes
    ----------
    law : (V,) * L float64
        p(x) = E_rank p_rank(x), the sampler's output law (averaged over the tie priorities).
    kl : float
        E_rank KL(q || p_rank) = E_{x ~ q, rank}[log q(x) - log p_rank(x)], what :func:`replay` estimates.
    kl_mixture : float
        KL(q || p) to the averaged law (<= ``kl`` by convexity; equal when no tie ever matters).
    tc : float
        sum_t E_{x ~ q, rank}[TC(X_{S_t} | x_{R_t})] from the steps' joint conditionals (equals ``kl``).
    excess : float
        E_{x ~ q, rank}[sum_t (sum_{S_t} H - max_{S_t} H)], the bound on ``tc`` (:attr:`Replay.excess`).
    steps_q : float
        E_{x ~ q, rank}[T(x)], the steps of the rule replayed on x ~ q (the entropy-bounded rule has
        kl <= excess <= gamma * steps_q).
    ser : float
        P_{x ~ p}[q(x) = 0], the fraction of sampler outputs outside the support.
    nfe : float
        E_{x ~ p}[steps], the sampler's expected number of steps (denoiser calls).
    """

    law: np.ndarray
    kl: float
    kl_mixture: float
    tc: float
    excess: float
    steps_q: float
    ser: float
    nfe: float


def adaptive_law(language, length, rule, *, tie="random", max_steps=None):
    r"""The exact law and metrics of :func:`sample_adaptive` with an exact language, by enumeration.

    Two forward programmes over states (tokens revealed so far) run every tie priority at once (a
    weight vector over the L! permutations, or the one index order): the sampler's (tokens drawn
    independently from the rows) gives the law, the SER and the NFE; the language's (the step's
    tokens drawn jointly from q(x_S | x_R)) gives E_q of the steps, of the per-step total correlation
    and of its entropy bound. Limited to V^L <= 4096 and L <= 7.

    Returns
    -------
    AdaptiveLaw
    """
    _check_rule(rule)
    L = val.check_int("length", length, low=1)
    max_steps = _check_max_steps(max_steps)
    if not isinstance(language, Language):
        raise TypeError(f"language must be a synth.Language, got {type(language).__name__}")
    V = language.vocab_size
    if V ** L > MAX_STRINGS or L > MAX_LENGTH:
        raise ValueError(f"adaptive_law enumerates V^L strings and L! tie orders: needs V^L <= {MAX_STRINGS} and "
                         f"L <= {MAX_LENGTH}, got V = {V}, L = {L}")
    perms = np.array(list(itertools.permutations(range(L))), dtype=np.int64) if tie == "random" else None
    rank = _ranks(tie, 1, L) if perms is None else perms
    states = _States(language, rule, rank, max_steps)
    law_r, nfe = states.sampler()
    steps_q, tc, excess = states.language()
    xs = np.array(list(itertools.product(range(V), repeat=L)), dtype=np.int64)
    lq = language.log_prob(xs)
    inside = lq > -np.inf
    law = law_r.mean(axis=0)
    with np.errstate(divide="ignore"):
        kl = float(np.mean((lq[inside] - np.log(law_r[:, inside])) @ np.exp(lq[inside])))
        kl_mix = float((lq[inside] - np.log(law[inside])) @ np.exp(lq[inside]))
    return AdaptiveLaw(law.reshape((V,) * L), kl, kl_mix, tc, excess, steps_q, float(law[~inside].sum()), nfe)


class _States:
    """The two forward programmes of :func:`adaptive_law`; weights are vectors over the P tie priorities."""

    def __init__(self, language, rule, rank, max_steps):
        self.lang, self.rule, self.rank, self.max_steps = language, rule, rank, max_steps
        self.den = ExactDenoiser(language)
        self.V, self.L, self.P = language.vocab_size, rank.shape[1], rank.shape[0]
        self.memo, self.qmemo = {}, {}

    def choices(self, x, j):
        """(rows (L, V), [(reveal set, priorities mask (P,))]) of state x at step j."""
        key = (x, j == (self.max_steps or 0) - 1)
        if key not in self.memo:
            rows = self.den.conditionals(np.array(x, dtype=np.int64))
            masked = np.broadcast_to(np.array(x) < 0, (self.P, self.L))
            if key[1]:
                sel = masked.copy()
            else:
                sel = self.rule.reveal(np.broadcast_to(rows, (self.P,) + rows.shape), masked, self.rank)
            uniq, inv = np.unique(sel, axis=0, return_inverse=True)
            groups = [(tuple(np.flatnonzero(u).tolist()), inv.reshape(-1) == g) for g, u in enumerate(uniq)]
            self.memo[key] = (rows, groups)
        return self.memo[key]

    def q(self, x):
        """q(the revealed tokens of x), a marginal of the language."""
        if x not in self.qmemo:
            self.qmemo[x] = float(np.exp(self.lang.log_prob(np.array(x, dtype=np.int64))))
        return self.qmemo[x]

    def _rounds(self, expand):
        dist = {(MASK,) * self.L: np.ones(self.P)}
        for j in range(self.L if self.max_steps is None else self.max_steps):
            nxt = defaultdict(lambda: np.zeros(self.P))
            for x, w in dist.items():
                if MASK in x:
                    expand(x, w, j, nxt)
                else:
                    nxt[x] += w
            dist = nxt
        return dist

    def sampler(self):
        """(law per priority (P, V^L), E[steps]) of the sampler."""
        nfe = np.zeros(self.P)

        def expand(x, w, j, nxt):
            nonlocal nfe
            nfe = nfe + w
            rows, groups = self.choices(x, j)
            for sel, mask in groups:
                for y, p in _outcomes(x, sel, [[(v, float(rows[i, v])) for v in range(self.V) if rows[i, v] > 0]
                                               for i in sel]):
                    nxt[y] += np.where(mask, w * p, 0.0)

        dist = self._rounds(expand)
        law = np.zeros((self.P, self.V ** self.L))
        for x, w in dist.items():
            law[:, np.ravel_multi_index(x, (self.V,) * self.L)] += w
        return law, float(nfe.mean())

    def language(self):
        """(E_q[steps], E_q[sum_t TC_t], E_q[sum_t (sum H - max H)_t]), averaged over the priorities."""
        acc = np.zeros((3, self.P))

        def expand(x, w, j, nxt):
            rows, groups = self.choices(x, j)
            h = _entropy(rows)
            qx = self.q(x)
            acc[0] += w
            for sel, mask in groups:
                hs = h[list(sel)]
                joint = [(y, self.q(y) / qx) for y, _ in _outcomes(x, sel, [[(v, 1.0) for v in range(self.V)]
                                                                             for _ in sel])]
                joint = [(y, p) for y, p in joint if p > 0.0]
                hj = -sum(p * math.log(p) for _, p in joint)
                acc[1] += np.where(mask, w * (hs.sum() - hj), 0.0)
                acc[2] += np.where(mask, w * (hs.sum() - hs.max()), 0.0)
                for y, p in joint:
                    nxt[y] += np.where(mask, w * p, 0.0)

        self._rounds(expand)
        return tuple(float(a) for a in acc.mean(axis=1))


def _outcomes(x, sel, options):
    """[(x with sel revealed, product of the options' weights)] over every combination."""
    out = []
    for combo in itertools.product(*options):
        p, y = 1.0, list(x)
        for i, (v, pv) in zip(sel, combo):
            p *= pv
            y[i] = v
        out.append((tuple(y), p))
    return out
