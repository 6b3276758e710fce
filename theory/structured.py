r"""Structured reveal orders on chains: when a fixed order is exact, and the exact KL of a fixed partition.

Derived for this project (provenance :data:`PROVENANCE`, *derived here*; checked by enumeration in
``tests/test_orders.py``):

* **Separation.** In an order-m chain (each token depends on the m before it; an n-gram has m = n - 1)
  the tokens before a run of m consecutive revealed tokens are independent of the tokens after it given
  the run, so masked positions in different *gaps* (maximal masked stretches between runs of >= m
  revealed tokens) are jointly independent given everything revealed.
* **Exact orders.** For a fixed partition M = (S_1, ..., S_N) with R_t = S_1 u ... u S_{t-1},

      KL(q || p_M) = sum_t [ sum_{i in S_t} H(X_i | X_{R_t}) - H(X_{S_t} | X_{R_t}) ]
                   = sum_t sum_{i in S_t} H(X_i | X_{R_t}) - H(X_{1:L})          (chain rule),

  a sum of conditional total correlations, zero iff every step reveals jointly independent tokens. A
  step revealing at most one position per gap is therefore exact: ``"binary-search"`` on order-1
  chains in ceil(log2(L + 1)) steps, ``"runs:m"`` on order-m chains. Languages with more structure
  need fewer steps: pair-copy 2 (one element of each pair, then the other), all-equal 2 (one token,
  then the rest, all determined), block-copy 2, i.i.d. tokens 1. A hidden Markov language whose hidden
  state is not a function of a bounded window of tokens has no such separation (tested: a random HMM
  is inexact under every structured order tried).
* **Exact KL on first-order chains.** H(X_i | X_R) depends only on the nearest revealed neighbours
  l < i < r: with M[t, d] = H(X_{t+d} | X_t) it is M[l, i-l] + M[i, r-i] - M[l, r-l] (both),
  M[l, i-l] (left only), H(X_i) + M[i, r-i] - H(X_r) (right only) or H(X_i) (none), so
  KL(q || p_M) costs O(L^2 V^2) for any fixed partition (:func:`partition_kl`).
"""
import itertools
from typing import NamedTuple

import numpy as np

from mdmlab.synth import MASK, NGramLanguage
from mdmlab.synth import _validation as val
from mdmlab.theory.information import _is_first_order, chain_entropies

PROVENANCE = ("derived here: masked positions of an order-m chain separated by >= m revealed tokens are "
              "conditionally independent, so KL(q || p_M) = sum_t TC(X_{S_t} | X_{R_t}) vanishes for orders "
              "revealing one position per gap; checked by enumeration of all strings on tiny languages")
#: partition_kl enumerates up to this many strings.
MAX_ENUMERATION = 2 ** 16


class ExactOrder(NamedTuple):
    r"""A fixed reveal order under which the sampler's law equals the language's.

    Attributes
    ----------
    order : str or list of list of int
        A ``policy=`` of :func:`models.sample` (with ``schedule="natural"``).
    steps : int
        N, its number of steps at the length asked for.
    reason : str
        Why it is exact (the language's structure).
    """

    order: object
    steps: int
    reason: str


def runs_steps(m, length):
    r"""Steps of ``"runs:m"`` at length L: T(g) = g for g <= m, T(g) = m + T(ceil((g - m) / 2)) otherwise
    (m = 1: ceil(log2(L + 1)), binary search)."""
    m = val.check_int("m", m, low=1)
    g = val.check_int("length", length, low=0)
    steps = 0
    while g > m:
        steps, g = steps + m, -(-(g - m) // 2)
    return steps + g


def structured_steps(language, length):
    r"""A structured order that is exact for ``language`` at length L and its number of steps, or None.

    By the language's structure (derived here, :data:`PROVENANCE`): the hard languages by their spec
    (pair-copy: even then odd positions; all-equal: position 0, then the rest; block-copy: the first
    token of each block, then the rest), i.i.d. n-grams in one step, order-2 n-grams by binary search in
    ceil(log2(L + 1)) steps, order-n n-grams by ``"runs:(n-1)"`` in :func:`runs_steps` steps. Any other
    language (an HMM without one of those specs) gives None: no fixed order is known to be exact for it.
    The counts are not claimed minimal in general; for a bigram with every transition allowed no order with fewer steps is exact
    (a step can reveal one token per gap, and a gap of g leaves one of >= ceil((g - 1) / 2)), checked
    by enumerating every partition at L = 5.
    """
    L = val.check_int("length", length, low=1)
    spec = getattr(language, "spec", None)
    kind = None if spec is None else spec.kind
    if kind in ("pair-copy", "all-equal", "block-copy"):
        width = {"pair-copy": 2, "all-equal": L, "block-copy": spec.params.get("block", 2)}[kind]
        first = list(range(0, L, width))
        rest = [i for i in range(L) if i % width]
        order = [first, rest] if rest else [first]
        return ExactOrder("dilated" if kind == "pair-copy" else order, len(order),
                          f"{kind}: the first token of each block is independent of the others; the rest copy it")
    if not isinstance(language, NGramLanguage):
        return None
    m = language.order - 1
    if m == 0:
        return ExactOrder([list(range(L))], 1, "i.i.d. tokens")
    if m == 1:
        return ExactOrder("binary-search", runs_steps(1, L), "order-1 chain: one token per gap per step")
    return ExactOrder(f"runs:{m}", runs_steps(m, L), f"order-{m} chain: gaps split by runs of {m} revealed tokens")


def partition_kl(language, reveal_step, *, method="auto"):
    r"""KL(q || p_M) in nats for one fixed partition M (``reveal_step[i]`` = the step of position i), exactly.

    Parameters
    ----------
    language : synth.Language
    reveal_step : (L,) int >= 0
    method : {"auto", "chain", "enumeration"}
        ``"chain"``: first-order chains (order-1 and order-2 n-grams), the nearest-neighbour form,
        O(L^2 V^2); ``"enumeration"``: every string, V^L <= :data:`MAX_ENUMERATION`. For other
        languages estimate it by Monte Carlo (``analysis.metrics.kl_q_pm``).

    Returns
    -------
    float
        sum_t sum_{i in S_t} H(X_i | X_{R_t}) - H(X_{1:L}) (>= 0 up to rounding).
    """
    steps = np.asarray(reveal_step)
    if steps.ndim != 1 or steps.shape[0] < 1 or not np.issubdtype(steps.dtype, np.integer) or (steps < 0).any():
        raise ValueError(f"reveal_step must be a non-empty 1-D array of integers >= 0, got {reveal_step!r}")
    chain = language.chain()
    first_order = _is_first_order(chain)
    if method not in ("auto", "chain", "enumeration"):
        raise ValueError(f"method must be one of ['auto', 'chain', 'enumeration'], got {method!r}")
    if method == "chain" and not first_order:
        raise ValueError(f"method='chain' needs a first-order chain (an order-1 or order-2 n-gram), got {language!r}")
    if method == "chain" or (method == "auto" and first_order):
        return _chain_kl(chain, steps.astype(np.int64))
    V, L = language.vocab_size, steps.shape[0]
    if V ** L > MAX_ENUMERATION:
        raise ValueError(f"partition_kl enumerates V^L strings: needs V^L <= {MAX_ENUMERATION}, got V = {V}, L = {L}; "
                         "use analysis.metrics.kl_q_pm (Monte Carlo) instead")
    return _enumerated_kl(language, steps)


def _chain_kl(chain, steps):
    r"""sum_t sum_{i in S_t} H(X_i | X_{l_i}, X_{r_i}) - H(X), nearest revealed neighbours l_i, r_i."""
    L = steps.shape[0]
    M, Hmu = chain_entropies(chain, L)
    total = -(Hmu[0] + sum(M[t - 1, 1] for t in range(1, L)))  # -H(X) by the chain rule
    pos = np.arange(L)
    for t in np.unique(steps):
        revealed = steps < t
        left = np.maximum.accumulate(np.where(revealed, pos, -1))  # nearest revealed at or before i
        right = np.minimum.accumulate(np.where(revealed, pos, L)[::-1])[::-1]
        for i in np.flatnonzero(steps == t):
            lo, hi = int(left[i]), int(right[i])
            h = Hmu[i] if lo < 0 else M[lo, i - lo]
            if hi < L:
                h += M[i, hi - i] - (Hmu[hi] if lo < 0 else M[lo, hi - lo])
            total += h
    return float(total)


def _enumerated_kl(language, steps):
    r"""sum_x q(x) (log q(x) - log p_M(x)) over every string in the support."""
    V, L = language.vocab_size, steps.shape[0]
    x = np.array(list(itertools.product(range(V), repeat=L)), dtype=np.int64)
    with np.errstate(divide="ignore"):
        lq = language.log_prob(x)
    keep = np.isfinite(lq)
    x, lq = x[keep], lq[keep]
    lpm = np.zeros(x.shape[0])
    for t in np.unique(steps):
        rows = language.conditionals(np.where(steps < t, x, MASK))  # q(. | x_{R_t}) (S, L, V)
        picked = np.take_along_axis(rows, x[..., None], axis=-1)[..., 0]
        lpm += np.log(picked[:, steps == t]).sum(axis=1)
    return float(np.exp(lq) @ (lq - lpm))
