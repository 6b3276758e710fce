r"""The information curve of a language and the exact expected KL of random-order MDM sampling.

Derived for this project (provenance: *derived here*; re-derived and tested against enumeration of
every order on tiny languages, ``tests/test_theory_information.py``):

* h_k = E_{A, i} H(X_i | X_A), the conditional entropy of a uniformly random position i given a
  uniformly random k-subset A of the other positions (k = 0..L-1; h_0 is the mean marginal
  entropy, h is non-increasing). Z_{k+1} = h_0 - h_k is the *information curve*: the mean mutual
  information of a fresh token with k revealed ones.
* **The identity.** With a random position order and fixed counts s_1..s_N (r_t = s_1 + ... +
  s_{t-1} tokens revealed before step t), KL(q || p_M) = sum_t TC(X_{S_t} | X_{R_t}) for each
  partition M, and averaging the total correlation over random orders gives

      E_M KL(q || p_M) = sum_t c(r_t, s_t),  c(r, s) = s h_r - (H_{r+s} - H_r),  H_m = h_0 + ... + h_{m-1},

  i.e. sum_t sum_{j < s_t} (h_{r_t} - h_{r_t + j}): s h_r from the independent draws' marginals,
  H_{r+s} - H_r from the chain rule of the joint draw. N = L gives 0; N = 1 gives the total
  correlation L h_0 - H(X). For an ancestral schedule (random binomial counts) E KL is the
  expectation of the same sum over the counts: a forward programme over (step, revealed).
* **Optimal counts.** c(r, s) depends only on where a step starts and how many it reveals, so
  the counts minimising E_M KL for N steps are a shortest path over compositions of L into N
  positive parts, found exactly in O(N L^2) (:func:`optimal_counts`).

h is computed exactly for first-order chains (an order-2 n-gram language, homogeneous: given X_A
the token X_i depends only on its nearest revealed neighbours, whose distances have a
hypergeometric law), by enumeration of V^L strings for tiny languages, and otherwise by Monte
Carlo over (x ~ q, A) with exact inner entropies from one forward-backward, with standard errors.
"""
import itertools
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from mdmlab.synth import MASK, NGramChain
from mdmlab.synth import _validation as val

PROVENANCE = ("derived here: the identity E_M KL = sum_t c(r_t, s_t) and the nearest-neighbour form of h_k "
              "for first-order chains; checked against enumeration of every order on tiny languages")
#: enumeration of V^L strings and 2^L subsets is used up to this many (string, subset) pairs.
MAX_ENUMERATION = 2 ** 18


class InformationCurve(NamedTuple):
    r"""h_k = E_{A, i} H(X_i | X_A) for k = 0..L-1 revealed tokens, in nats.

    Attributes
    ----------
    h : numpy.ndarray (L,)
        h[k]: mean conditional entropy of a random position given k random other positions.
    stderr : numpy.ndarray (L,)
        Standard error of each h[k] (0 when exact; independent across k for Monte Carlo).
    method : str
        ``"chain"`` (exact, first-order chain), ``"enumeration"`` (exact) or ``"monte-carlo"``.
    samples : int
        Monte Carlo strings (0 when exact).
    per_sample : numpy.ndarray (S, L) or None
        Monte Carlo: each string's curve (one string x ~ q and one random order per row, the first k
        positions of the order revealed for h_k), so a linear functional of h, such as E_M KL, gets
        its standard error from the rows themselves.
    """

    h: np.ndarray
    stderr: np.ndarray
    method: str
    samples: int
    per_sample: np.ndarray = None

    @property
    def information(self):
        r"""Z_{k+1} = h_0 - h_k (k = 0..L-1): mean mutual information of a token with k revealed ones."""
        return self.h[0] - self.h


class ExpectedKL(NamedTuple):
    r"""E_M KL(q || p_M) of random-order sampling, in nats for the whole sequence.

    Attributes
    ----------
    nats : float
        sum_t c(r_t, s_t) (fixed counts) or its expectation over the counts (ancestral).
    stderr : float
        Its standard error, carried from the information curve's (0 when exact).
    """

    nats: float
    stderr: float


def information_curve(language, length, *, samples=2048, rng=None, method="auto"):
    r"""The curve h_k = E_{A, i} H(X_i | X_A), k = 0..L-1, of ``language`` at length L.

    Parameters
    ----------
    language : synth.Language
    length : int
        L >= 1.
    samples : int
        Monte Carlo strings per k (ignored by the exact methods).
    rng : None, int or numpy.random.Generator
    method : {"auto", "chain", "enumeration", "monte-carlo"}
        ``"auto"``: exact for first-order chains, enumeration when V^L 2^L is small, else Monte Carlo.

    Returns
    -------
    InformationCurve
    """
    L = val.check_int("length", length, low=1)
    chosen = _choose_method(language, L, method)
    if chosen == "chain":
        return InformationCurve(_chain_curve(language.chain(), L), np.zeros(L), "chain", 0)
    if chosen == "enumeration":
        return InformationCurve(_enumerated_curve(language, L), np.zeros(L), "enumeration", 0)
    S = val.check_int("samples", samples, low=2)
    rows = _monte_carlo_curve(language, L, S, np.random.default_rng(rng))
    return InformationCurve(rows.mean(axis=0), rows.std(axis=0, ddof=1) / np.sqrt(S), "monte-carlo", S, rows)


def step_costs(curve):
    r"""c[r, s] = s h_r - (H_{r+s} - H_r) for 0 <= r, 1 <= s, r + s <= L (inf elsewhere), (L+1, L+1)."""
    h = np.asarray(curve.h, dtype=np.float64)
    L = h.shape[0]
    H = np.concatenate([[0.0], np.cumsum(h)])
    r, s = np.meshgrid(np.arange(L + 1), np.arange(L + 1), indexing="ij")
    ok = (s >= 1) & (r + s <= L)
    cost = np.full((L + 1, L + 1), np.inf)
    cost[ok] = s[ok] * h[r[ok]] - (H[(r + s)[ok]] - H[r[ok]])
    return cost


def expected_kl(curve, counts=None, *, schedule=None):
    r"""E_M KL(q || p_M) of random-order sampling from the identity, for fixed counts or a schedule.

    Parameters
    ----------
    curve : InformationCurve
        Of the language at length L (:func:`information_curve`).
    counts : sequence of int, optional
        Fixed counts s_1..s_N >= 0 summing to L (zeros are steps that reveal nothing).
    schedule : object, optional
        A resolved count policy with ``steps`` and ``step_law(j, remaining) -> [(k, P(k))]`` (e.g.
        ``models.schedules.resolve(name, L, N)``): the expectation over its random counts.

    Returns
    -------
    ExpectedKL
    """
    L = curve.h.shape[0]
    cost = step_costs(curve)
    cost[~np.isfinite(cost)] = 0.0  # only reachable (r, s) carry weight; s = 0 steps cost nothing
    weight = _count_weights(L, counts, schedule)  # (L+1, L+1): expected number of steps (r, s)
    if curve.per_sample is not None:  # the same functional of each string's curve: mean and its error
        per = curve.per_sample @ _coefficients(L, weight)
        return ExpectedKL(float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.shape[0])))
    return ExpectedKL(float(np.sum(weight * cost)), 0.0)


def optimal_counts(curve, steps):
    r"""Counts s_1..s_N >= 1 summing to L that minimise E_M KL under a random order, exactly.

    Shortest path D[t, r] = min_s D[t-1, r-s] + c(r-s, s) over compositions of L into N parts.

    Returns
    -------
    (numpy.ndarray (N,) int64, ExpectedKL)
        The optimal counts (ties broken towards the smaller earlier total) and their E_M KL. On a
        Monte Carlo curve the minimum is taken over noisy values, so its KL is optimistic: evaluate
        the counts on an independent estimate (``expected_kl(fresh_curve, counts)``).
    """
    L = curve.h.shape[0]
    N = val.check_int("steps", steps, low=1)
    if N > L:
        raise ValueError(f"steps must be <= length = {L} (every step reveals at least one token), got {N}")
    cost = step_costs(curve)
    D = np.full((N + 1, L + 1), np.inf)
    D[0, 0] = 0.0
    arg = np.zeros((N + 1, L + 1), dtype=np.int64)
    for t in range(1, N + 1):
        for r in range(t, L + 1):
            cand = D[t - 1, :r] + cost[np.arange(r), r - np.arange(r)]  # previous end q, step size r - q
            q = int(np.argmin(cand))
            D[t, r], arg[t, r] = cand[q], q
    counts, r = np.empty(N, dtype=np.int64), L
    for t in range(N, 0, -1):
        counts[t - 1] = r - arg[t, r]
        r = arg[t, r]
    return counts, expected_kl(curve, counts)


# ---- the three ways to h ----------------------------------------------------------------------

def _choose_method(language, L, method):
    methods = ("auto", "chain", "enumeration", "monte-carlo")
    if method not in methods:
        raise ValueError(f"method must be one of {list(methods)}, got {method!r}")
    first_order = _is_first_order(language.chain())
    if method == "chain" and not first_order:
        raise ValueError("method='chain' needs a first-order chain (an order-1 or order-2 n-gram language), got "
                         f"{language!r}")
    if method != "auto":
        return method
    if first_order:
        return "chain"
    return "enumeration" if language.vocab_size ** L * 2 ** L <= MAX_ENUMERATION else "monte-carlo"


def _is_first_order(chain):
    return isinstance(chain, NGramChain) and chain.num_states == chain.vocab_size


def _entropy_rows(p):
    """H of each row of p (..., V), nats, 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


def _log_binom(n, k):
    n, k = np.asarray(n, dtype=np.float64), np.asarray(k, dtype=np.float64)
    n, k = np.broadcast_arrays(n, k)
    ok = (k >= 0) & (k <= n)
    out = np.full(n.shape, -np.inf)
    out[ok] = gammaln(n[ok] + 1) - gammaln(k[ok] + 1) - gammaln(n[ok] - k[ok] + 1)
    return out


def _chain_curve(chain, L):
    r"""Exact h_k of a first-order chain x_1 ~ mu_0, x_{t+1} ~ T[x_t] from nearest revealed neighbours.

    With M[t, d] = mu_t . g_d, g_d[u] = H(T^d[u, .]), and the nearest revealed tokens at distance a
    (left) and b (right) of position i:
    both: H(X_i | X_{i-a}, X_{i+b}) = M[i-a, a] + M[i, b] - M[i-a, a+b];
    left only: M[i-a, a]; right only: H(mu_i) + M[i, b] - H(mu_{i+b}); none: H(mu_i).
    Among the other L-1 positions a uniform k-subset puts them there with probability
    C(L-1-a-b, k-2), C(i-a, k-1), C(L-1-i-b, k-1) or [k = 0], over C(L-1, k).
    """
    M, Hmu = chain_entropies(chain, L)
    terms = _grouped_terms(M, Hmu, L)  # {weight family: (index m, summed entropy)} grouped by shape
    k = np.arange(L)[:, None]
    log_total = _log_binom(L - 1, np.arange(L))
    m = np.arange(L + 1)[None, :]
    both = np.exp(_log_binom(L - 1 - m, k - 2) - log_total[:, None]) @ terms["both"]
    side = np.exp(_log_binom(m, k - 1) - log_total[:, None]) @ (terms["left"] + terms["right"])
    none = np.where(np.arange(L) == 0, Hmu.sum(), 0.0)
    return (both + side + none) / L


def chain_entropies(chain, L):
    r"""(M (L, L), Hmu (L,)) of a first-order chain x_1 ~ mu_0, x_{t+1} ~ T[x_t]: M[t, d] = H(X_{t+d} | X_t)
    = mu_t . g_d with g_d[u] = H(T^d[u, .]) (the chain continued where t + d >= L), Hmu[t] = H(X_t)."""
    T = np.asarray(chain.table, dtype=np.float64)
    V = T.shape[0]
    mu, g = np.empty((L, V)), np.zeros((L, V))  # mu[t]: law of x_t; g[d]: row entropies of T^d
    mu[0] = chain.initial
    power = np.eye(V)
    for t in range(1, L):
        mu[t] = mu[t - 1] @ T
        power = power @ T
        g[t] = _entropy_rows(power)
    return mu @ g.T, _entropy_rows(mu)


def _grouped_terms(M, Hmu, L):
    r"""Entropy sums grouped by the argument of their binomial weight (index 0..L).

    both[s] = sum over (i, a, b), a + b = s, of M[i-a, a] + M[i, b] - M[i-a, s] (weight C(L-1-s, k-2));
    left[l] = sum_a M[l, a] (weight C(l, k-1)); right[m] = sum over i + b = L-1-m of
    H(mu_i) + M[i, b] - H(mu_{i+b}) (weight C(m, k-1)).
    """
    both, left, right = np.zeros(L + 1), np.zeros(L + 1), np.zeros(L + 1)
    for s in range(2, L):
        l = np.arange(L - s)  # left neighbour at l, right one at l + s
        a = np.arange(1, s)
        both[s] = (M[l[:, None], a[None, :]].sum() + M[(l[:, None] + a[None, :]), s - a[None, :]].sum()
                   - (s - 1) * M[l, s].sum())
    for l in range(L - 1):
        left[l] = M[l, 1:L - l].sum()
    for i in range(L - 1):
        b = np.arange(1, L - i)
        np.add.at(right, L - 1 - i - b, Hmu[i] + M[i, b] - Hmu[i + b])
    return {"both": both, "left": left, "right": right}


def _enumerated_curve(language, L):
    r"""Exact h_k by enumeration: h_k = mean over k-subsets A and i not in A of sum_x q(x) (-log q(x_i | x_A))."""
    V = language.vocab_size
    x = np.array(list(itertools.product(range(V), repeat=L)), dtype=np.int64)  # (V^L, L)
    with np.errstate(divide="ignore"):
        q = np.exp(language.log_prob(x))
    x, q = x[q > 0], q[q > 0]
    h = np.zeros(L)
    for k in range(L):
        subsets = list(itertools.combinations(range(L), k))
        total = 0.0
        for A in subsets:
            revealed = np.zeros(L, dtype=bool)
            revealed[list(A)] = True
            rows = language.conditionals(np.where(revealed, x, MASK))  # (S, L, V)
            picked = np.take_along_axis(rows, x[..., None], axis=-1)[..., 0]  # q(x_i | x_A)
            total += float(np.sum(q[:, None] * -np.log(picked[:, ~revealed])))
        h[k] = total / (len(subsets) * (L - k))
    return h


def _monte_carlo_curve(language, L, S, rng):
    r"""(S, L) unbiased per-string curves: x ~ q and a uniform order per string; row k is the mean of
    H(q(X_i | x_A)) over the L - k masked i, A the first k positions of the order.

    (i uniform outside a uniform k-subset of all L positions has the law of (i, A) in the
    definition.) Nested subsets of one order reuse each string for every k, so differences
    h_r - h_{r+j}, which the KL is made of, are estimated with far less noise than from
    independent strings per k."""
    x = language.sample(L, S, rng=rng)
    rank = np.argsort(rng.random((S, L)), axis=1).argsort(axis=1)
    rows = np.empty((S, L))
    for k in range(L):
        masked = rank >= k  # (S, L): the k lowest ranks are revealed
        ent = _entropy_rows(language.conditionals(np.where(masked, MASK, x)))  # (S, L)
        rows[:, k] = np.sum(np.where(masked, ent, 0.0), axis=1) / (L - k)
    return rows


# ---- counts -> expected number of steps at each (start, size) ----------------------------------

def _count_weights(L, counts, schedule):
    r"""W[r, s] = E #{steps starting with r revealed that reveal s}: 0/1 for fixed counts, a forward
    programme over P(r revealed before step j) for an ancestral schedule."""
    if (counts is None) == (schedule is None):
        raise ValueError("give exactly one of counts (fixed) or schedule (a resolved count policy)")
    W = np.zeros((L + 1, L + 1))
    if counts is not None:
        s = np.asarray(counts)
        if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer) or (s < 0).any() or s.sum() != L:
            raise ValueError(f"counts must be non-negative integers summing to length = {L}, got {list(counts)}")
        r = np.concatenate([[0], np.cumsum(s)[:-1]])
        np.add.at(W, (r, s), 1.0)
        return W
    p = np.zeros(L + 1)
    p[0] = 1.0  # law of the number revealed before the step
    for j in range(schedule.steps):
        nxt = np.zeros(L + 1)
        for r in np.flatnonzero(p):
            for k, pk in schedule.step_law(j, L - r):
                W[r, k] += p[r] * pk
                nxt[r + k] += p[r] * pk
        p = nxt
    return W


def _coefficients(L, weight):
    r"""beta with E_M KL = sum_k beta_k h_k: each step (r, s) adds s to beta_r and -1 to beta_r..beta_{r+s-1}."""
    beta = np.zeros(L)
    for r, s in zip(*np.nonzero(weight)):
        if s == 0:
            continue
        beta[r] += weight[r, s] * s  # s h_r
        beta[r:r + s] -= weight[r, s]  # - (h_r + ... + h_{r+s-1})
    return beta
