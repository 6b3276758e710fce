r"""Token error rate: the Feng et al. n-gram bound, the language's own optimum, and a rate fit."""
from typing import NamedTuple

import numpy as np
import sympy as sp
from scipy import stats

from mdmlab.theory.bound import Bound
from mdmlab.theory.ser import FENG

n, V, N, eps_l, c_N, c_E, delta = sp.symbols("n V N epsilon_learning c_N c_E delta", positive=True)


def _ter_excess():
    r"""eps solves N = c_N (n - 1) / eps^n; the excess is eps_learning + c_E 4 eps log V."""
    eps = sp.Symbol("epsilon", positive=True)
    eps_of_n = sp.solve(sp.Eq(N, c_N * (n - 1) / eps ** n), eps)[0]
    return eps_l + c_E * 4 * eps_of_n * sp.log(V)


FENG_TER = Bound(
    name="ter-ngram", lhs="log TER(p) - log TER(q)", relation="<=", expr=_ter_excess(),
    symbols={"order": n, "vocab": V, "steps": N, "eps_learning": eps_l, "c_steps": c_N, "c_excess": c_E},
    defaults={"eps_learning": 0.0, "c_steps": 1.0, "c_excess": 1.0},
    statement="For an n-gram language, N = O((n-1)/eps^n) sampling steps give log TER(p) <= log TER(q) + "
              "eps_learning + 4 eps log|V|, whatever L: the excess per-token log-perplexity decays like "
              "((n-1)/N)^(1/n) log|V|. c_steps and c_excess stand for the O(.) constants the paper does not "
              "publish (default 1); fit_ter_rate estimates their product from measurements.",
    assumptions=("n-gram language of order n", "random position policy", "L large enough",
                 "denoiser with per-token learning error eps_learning (KL, nats)"),
    reference=FENG + " (TER theorem)",
    provenance="Paper, verified (restated in two independent notes on Li & Cai): the rate "
               "O(((n-1)/N)^(1/n) log|V|). Paper, recalled and unverified: the constant 4, the additive "
               "eps_learning and the condition on L. Derived here: the explicit constants c_steps and c_excess "
               "(this project's parametrisation of O(.)).",
    steps_expr=c_N * (n - 1) / ((delta - eps_l) / (4 * c_E * sp.log(V))) ** n)


def optimal_log_ter(language, length, **entropy_kwargs):
    r"""log TER(q) = H(X_{1:L}) / L in nats: the best achievable token error rate, and its std. error."""
    h = language.entropy(length, **entropy_kwargs)
    return h.nats / length, h.stderr / length


class TerFit(NamedTuple):
    r"""Fit of measured TER gaps to the Feng rate gap - eps_learning = A 4 log V ((n-1)/N)^(1/n).

    Attributes
    ----------
    constant : float
        A = c_excess c_steps^(1/n), least squares in log space with the theory's exponent.
    constant_ci : (float, float)
        95% interval of A.
    exponent : float
        Free fit of d log(gap - eps_learning) / d log N (theory: -1/n).
    exponent_ci : (float, float)
        95% interval of the free exponent.
    theory_exponent : float
        -1/n.
    """

    constant: float
    constant_ci: tuple
    exponent: float
    exponent_ci: tuple
    theory_exponent: float


def fit_ter_rate(steps, gap, *, order, vocab, eps_learning=0.0):
    r"""Fit the hidden constant and the exponent of the Feng TER rate to measured gaps.

    Parameters
    ----------
    steps, gap : array_like (M,)
        Sampling steps N and measured ter_gap = log TER(p) - log TER(q) (nats); at least 3 points with
        gap > eps_learning.
    """
    N_ = np.asarray(steps, dtype=float)
    excess = np.asarray(gap, dtype=float) - eps_learning
    keep = excess > 0
    if keep.sum() < 3:
        raise ValueError(f"fit_ter_rate needs at least 3 points with gap > eps_learning, got {int(keep.sum())}")
    x, y = np.log(N_[keep]), np.log(excess[keep])
    base = np.log(4 * np.log(vocab)) + np.log(order - 1) / order - x / order  # log of the rate at A = 1
    resid = y - base
    t = stats.t.ppf(0.975, resid.size - 1)
    log_a, se = resid.mean(), resid.std(ddof=1) / np.sqrt(resid.size)
    free = stats.linregress(x, y)
    tf = stats.t.ppf(0.975, resid.size - 2) if resid.size > 2 else np.inf
    return TerFit(float(np.exp(log_a)), (float(np.exp(log_a - t * se)), float(np.exp(log_a + t * se))),
                  float(free.slope), (float(free.slope - tf * free.stderr), float(free.slope + tf * free.stderr)),
                  -1.0 / order)
