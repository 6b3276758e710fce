r"""Li & Cai's bound on the sampler's KL divergence, and the total mutual information it needs."""
import itertools
from typing import NamedTuple

import numpy as np
import sympy as sp

from mdmlab.synth import Language, NGramChain
from mdmlab.synth._validation import check_int
from mdmlab.theory.bound import Bound

s_max, L, I_total, eps_train = sp.symbols("s_max L I epsilon_train", positive=True)
LI_CAI = "Li and Cai 2025, arXiv 2505.21400 (main theorem)"

LI_CAI_KL = Bound(
    name="kl-li-cai", lhs="E_M KL(q || p_M)", relation="<=",
    expr=(2 ** sp.ceiling(sp.log(s_max, 2)) - 1) / L * I_total + eps_train,
    symbols={"s_max": s_max, "length": L, "mutual_information": I_total, "eps_train": eps_train},
    defaults={"eps_train": 0.0},
    statement="For a reveal schedule revealing at most s_max tokens per step at uniformly random positions, the "
              "expected KL from the language to the sampler's law given its mask schedule is at most "
              "(2^ceil(log2 s_max) - 1)/L times the total mutual information sum_i I(X_i; X_-i), plus the "
              "training error.",
    assumptions=("random position policy", "at most s_max tokens per step", "eps_train: the denoiser's error"),
    reference=LI_CAI,
    provenance="Paper, verified (Theorem 1 of arXiv 2505.21400): the statement. Derived here: "
               "total_mutual_information computes its I exactly; exact_kl gives the left side in closed form for "
               "pair-copy and all-equal (tight for all-equal when s_max is a power of two).")


class MutualInformation(NamedTuple):
    r"""sum_i I(X_i; X_{-i}) in nats.

    Attributes
    ----------
    nats : float
        The total (exact, or the Monte Carlo mean).
    stderr : float
        Its standard error (0 when exact).
    method : str
        ``"exact"`` or ``"monte-carlo"``.
    per_position : numpy.ndarray (L,) or None
        I(X_i; X_{-i}) for each i when exact.
    """

    nats: float
    stderr: float
    method: str
    per_position: np.ndarray


def total_mutual_information(language, length, *, samples=10_000, rng=None, max_enumeration=2 ** 16):
    r"""sum_i I(X_i; X_{-i}) = sum_i [H(X_i) - H(X_i | X_{-i})] in nats.

    Languages whose ``chain()`` is an :class:`~synth.NGramChain`: exact, from the law of each
    position's Markov blanket (the n-1 tokens either side), O(L V^(2n-1)). Other languages: exact
    by enumeration when V^L <= ``max_enumeration``, else Monte Carlo: the mean over x ~ q of
    sum_i [log q(x_i | x_{-i}) - log q(x_i)].
    """
    length = check_int("length", length, low=1)
    chain = language.chain() if isinstance(language, Language) else None
    if isinstance(chain, NGramChain):
        per = _ngram_mi(chain, length)
        return MutualInformation(float(per.sum()), 0.0, "exact", per)
    V = language.vocab_size
    marg = language.conditionals(np.full(length, -1))  # q(x_i = .) (L, V)
    if V ** length <= max_enumeration:
        x = np.array(list(itertools.product(range(V), repeat=length)), dtype=np.int64)
        q = np.exp(language.log_prob(x))
        x = x[q > 0]
        terms = _pointwise_mi(language, x, marg)  # (S, L)
        per = (q[q > 0][:, None] * terms).sum(axis=0)
        return MutualInformation(float(per.sum()), 0.0, "exact", per)
    S = check_int("samples", samples, low=2)
    totals = _pointwise_mi(language, language.sample(length, S, rng=rng), marg).sum(axis=1)
    return MutualInformation(float(totals.mean()), float(totals.std(ddof=1) / np.sqrt(S)), "monte-carlo", None)


def _pointwise_mi(language, x, marg):
    loo = np.take_along_axis(language.leave_one_out(x), x[..., None], -1)[..., 0]
    return np.log(loo) - np.log(marg[np.arange(x.shape[1]), x])


def _entropy(p):
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def _ngram_mi(chain, length):
    r"""Exact I(X_i; X_{-i}) per position: H(X_i) + H(blanket) - H(blanket with X_i).

    A bigram chain with identical rows (an order-1 language) has independent tokens: exactly zero.
    """
    n = chain.order
    table = np.asarray(chain.table)
    if n == 2 and np.all(table == table[0]):
        return np.zeros(length)
    span = min(length, 2 * n - 1)
    window = _window_laws(chain, length, span)  # law of (x_a, ..., x_{a+span-1}) for each start a
    out = np.empty(length)
    for i in range(length):
        a = min(max(0, i - (n - 1)), length - span)
        w = window(a)  # (V,) * span
        lo, hi = max(0, i - (n - 1)) - a, min(length - 1, i + n - 1) - a  # blanket within the window
        w = w.sum(axis=tuple(t for t in range(span) if t < lo or t > hi))
        pos = i - a - lo
        out[i] = (_entropy(w.sum(axis=tuple(t for t in range(w.ndim) if t != pos)).ravel())
                  + _entropy(w.sum(axis=pos).ravel()) - _entropy(w.ravel()))
    return np.maximum(out, 0.0)


def _window_laws(chain, length, span):
    r"""Return a function a -> joint law of x_a..x_{a+span-1}, built from the window-state marginals."""
    table = np.asarray(chain.table)
    K, V = table.shape
    n1 = chain.order - 1  # tokens per window state
    mus = [np.asarray(chain.initial)]
    for _ in range(max(0, length - 1)):
        mus.append((mus[-1][:, None] * table).reshape(V, K).sum(axis=0))

    def law(a):
        joint = mus[a].reshape((V,) * n1)
        for _ in range(span - n1):  # extend by the next token: p(..., v) = p(...) table[last n-1, v]
            ctx = joint.reshape(-1, K)  # (prefix, last n-1 tokens)
            joint = (ctx[:, :, None] * table[None, :, :]).reshape(joint.shape + (V,))
        if span < n1:  # shorter than one window: marginalise the look-ahead tokens
            joint = joint.reshape((V,) * span + (-1,)).sum(axis=-1)
        return joint

    return law


