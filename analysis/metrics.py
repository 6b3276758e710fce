r"""Metrics of MDM samples against the true language (nats unless a name says otherwise).

Each estimator returns a :class:`Estimate` (value with its uncertainty); :func:`exact_metrics`
computes the same quantities exactly from ``models.exact_law`` on tiny cases.

* ``log_ter``: E_{x ~ p}[-log q(x)] / L, token-level log perplexity scored by the true language
  (``inf`` as soon as one sample is outside the support).
* ``ter_gap``: log_ter(p) - H(q)/L, the excess over the language's own optimum.
* ``ser``: P_{x ~ p}[q(x) = 0] with an exact Clopper-Pearson interval.
* ``kl_q_pm``: E_M KL(q || p_M) from ``models.log_prob_given_reveal`` on samples of q and partitions
  drawn from the schedule (Li & Cai's left side; adaptive choices by ``models.replay``); ``kl_pm_q``:
  E[log p_M(x) - log q(x)] on the sampler's own outputs (``log_prob_sampler``).
* ``diversity``: the entropy of each sample's unigram histogram (nats), so that a low perplexity
  bought with repetitive output shows.
"""
import itertools
import math
from typing import NamedTuple

import numpy as np
from scipy import stats

from mdmlab import models
from mdmlab.models import adaptive, orders, schedules


class Estimate(NamedTuple):
    r"""A measured value with its uncertainty.

    Attributes
    ----------
    value : float
        The estimate (sample mean or proportion; exact values have zero width).
    stderr : float
        Standard error of ``value`` (NaN for proportions: see ``low``, ``high``).
    low, high : float
        A 95% interval: mean +- 1.96 stderr, or Clopper-Pearson for proportions.
    n : int
        Number of samples (0 when exact).
    """

    value: float
    stderr: float
    low: float
    high: float
    n: int


def _mean(values):
    v = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(v)):
        return Estimate(float(np.inf if np.any(v == np.inf) else np.nan), np.nan, np.nan, np.nan, v.size)
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan
    m = float(v.mean())
    return Estimate(m, se, m - 1.96 * se, m + 1.96 * se, v.size)


def _log_q(language, tokens, log_q):
    """log q of the samples: ``log_q`` when the caller has it (one evaluation for every metric)."""
    return language.log_prob(tokens) if log_q is None else np.asarray(log_q, dtype=float)


def log_ter(language, tokens, *, log_q=None):
    r"""E[-log q(x)] / L over the samples (nats per token); ``log_q``: ``language.log_prob(tokens)``
    if already computed (as for every metric here taking it)."""
    return _mean(-_log_q(language, tokens, log_q) / tokens.shape[-1])


def ter_gap(language, tokens, entropy_per_token, *, log_q=None):
    r"""log_ter - H(q)/L; ``entropy_per_token`` is H(X_{1:L})/L (exact for n-grams)."""
    est = log_ter(language, tokens, log_q=log_q)
    return est._replace(value=est.value - entropy_per_token, low=est.low - entropy_per_token,
                        high=est.high - entropy_per_token)


def ser(language, tokens, *, confidence=0.95, log_q=None):
    r"""Fraction of samples outside the support, with the exact (Clopper-Pearson) interval."""
    out = int(np.count_nonzero(~(_log_q(language, tokens, log_q) > -np.inf)))
    n = int(np.prod(tokens.shape[:-1]))
    ci = stats.binomtest(out, n).proportion_ci(confidence_level=confidence, method="exact")
    return Estimate(out / n, np.nan, float(ci.low), float(ci.high), n)


def kl_q_pm(language, length, steps, *, samples, schedule="balanced", policy="random", block_length=None, rng=None,
            tie="random"):
    r"""E_M KL(q || p_M): mean of log q(x) - log p_M(x) over x ~ q and M from the schedule.

    A static ``policy`` draws M independently of x (``models.reveal_partitions``). An adaptive one,
    ``"confidence"``, ``"margin"`` or ``"entropy"`` (counts drawn from the schedule), or an
    adaptive-count rule (``models.EntropyBounded``, ``models.ConfidenceThreshold``; then ``steps`` must
    be None and ``schedule`` is unused) chooses M from the revealed values and a tie permutation drawn
    per sample: log p_M(x) is then exact by replaying the choice on x (``models.replay``).
    """
    return _mean(kl_q_pm_terms(language, length, steps, samples=samples, schedule=schedule, policy=policy,
                               block_length=block_length, rng=rng, tie=tie))


def kl_q_pm_terms(language, length, steps, *, samples, schedule="balanced", policy="random", block_length=None,
                  rng=None, tie="random"):
    r"""The ``samples`` terms log q(x) - log p_M(x) whose mean :func:`kl_q_pm` reports (same draws)."""
    if adaptive.is_rule(policy) or (isinstance(policy, str) and policy in adaptive.REPLAY_POLICIES):
        return _kl_q_pm_replay(language, length, steps, samples, schedule, policy, block_length, rng, tie)
    rng = np.random.default_rng(rng)
    x = language.sample(length, samples, rng=rng)
    M = models.reveal_partitions(length, steps, size=samples, schedule=schedule, policy=policy,
                                 block_length=block_length, rng=rng)
    return language.log_prob(x) - models.log_prob_given_reveal(language, x, M)


def _kl_q_pm_replay(language, length, steps, samples, schedule, policy, block_length, rng, tie):
    """kl_q_pm of an adaptive choice: x ~ q, then (counts), then the tie permutation, per sample."""
    if adaptive.is_rule(policy) and steps is not None:
        raise ValueError(f"steps must be None for an adaptive-count rule (it chooses its own counts), got {steps!r}")
    rng = np.random.default_rng(rng)
    x = language.sample(length, samples, rng=rng)
    counts = None
    if not adaptive.is_rule(policy):
        counts = schedules.resolve(schedule, length, steps).draw(samples, rng)
    rank = np.argsort(rng.random((samples, length)), axis=1).argsort(axis=1)
    lp = models.replay_log_prob(language, x, policy, rank=rank, tie=tie, counts=counts, block_length=block_length)
    return language.log_prob(x) - lp


def kl_pm_q(language, result, *, log_q=None):
    r"""E[log p_M(x) - log q(x)] over the sampler's own outputs (``inf`` if one is outside the support)."""
    return _mean(result.log_prob_sampler - _log_q(language, result.tokens, log_q))


def unigram_entropy(tokens, vocab_size):
    r"""Entropy (nats) of each sequence's token histogram, shape ``tokens.shape[:-1]``."""
    counts = np.apply_along_axis(np.bincount, -1, tokens, minlength=vocab_size) / tokens.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(counts > 0, counts * np.log(counts), 0.0), axis=-1)


def diversity(tokens, vocab_size):
    r"""Mean per-sample unigram entropy (nats) with its standard error."""
    return _mean(unigram_entropy(tokens, vocab_size))


def _partitions(plan, L, policy="random", schedule=None):
    """(partition, probability) of the random policy: uniform ordered partitions or i.i.d. steps; of
    another static policy with fixed counts (a structured order, left-to-right): its one partition."""
    N = plan.steps
    if not (isinstance(policy, str) and policy == "random"):
        if plan.kind != "fixed":
            raise ValueError(f"exact_metrics takes policy {policy!r} with fixed counts only, got schedule "
                             f"{plan.name!r} ({plan.kind})")
        return [(models.reveal_partitions(L, N, schedule=schedule, policy=policy), 1.0)]
    if plan.kind == "fixed":
        labels = [j for j, c in enumerate(plan.counts) for _ in range(c)]
        parts = sorted(set(itertools.permutations(labels)))
        return [(np.array(p), 1.0 / len(parts)) for p in parts]
    w = plan.reveal_weights
    return [(np.array(p), math.prod(w[list(p)])) for p in itertools.product(range(N), repeat=L) if
            math.prod(w[list(p)]) > 0]


def exact_metrics(language, length, steps, *, schedule="linear", policy="random", entropy_per_token=None):
    r"""Every metric exactly from the sampler's law, tiny sizes (V^L <= 4096, L <= 7): the random policy,
    or a static policy with fixed counts (a structured order of ``models.orders``, ``schedule="natural"``).

    Returns a dict with ``ser``, ``log_ter``, ``ter_gap``, ``diversity``, ``kl_q_pm`` and ``kl_pm_q``.
    """
    V, L = language.vocab_size, length
    p = models.exact_law(language, L, steps, schedule=schedule, policy=policy).reshape(-1)
    x = np.array(list(itertools.product(range(V), repeat=L)), dtype=np.int64)
    lq = language.log_prob(x)
    q = np.exp(lq)
    h = entropy_per_token if entropy_per_token is not None else language.entropy(L).nats / L
    inside = q > 0
    out = {"ser": float(p[~inside].sum()), "diversity": float(p @ unigram_entropy(x, V))}
    out["log_ter"] = float(p[inside] @ (-lq[inside]) / L) if out["ser"] == 0 else math.inf
    out["ter_gap"] = out["log_ter"] - h
    kl_q, kl_p = 0.0, 0.0
    plan = orders.resolve_schedule(schedule, orders.resolve(policy, L), L, steps)
    for part, w in _partitions(plan, L, policy, schedule):
        lpm = models.log_prob_given_reveal(language, x, np.broadcast_to(part, x.shape))
        kl_q += w * float(q[inside] @ (lq[inside] - lpm[inside]))
        pm = np.exp(lpm)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p += w * float(np.sum(np.where(pm > 0, pm * (lpm - lq), 0.0)))
    out["kl_q_pm"], out["kl_pm_q"] = kl_q, kl_p
    return out
