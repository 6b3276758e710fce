r"""Exact E_M KL(q || p_M) of the hard languages, and where Li & Cai's bound is tight.

Provenance: derived here (the languages are this project's constructions, not Feng et al.'s).
For the exact-denoiser sampler with random positions, p_M factorises over steps: the tokens of one
step are drawn independently from their conditionals given the earlier steps.

* pair-copy (k symbols): a pair whose halves share a step contributes k^-2 instead of k^-1, every
  other pair k^-1, so log q(x) - log p_M(x) = S log k with S the number of same-step pairs, for
  every x in the support; E_M KL = E[S] log k. Fixed counts s_1..s_N (uniform ordered partition):
  P(a given pair shares a step) = sum_j s_j (s_j - 1) / (L (L - 1)), so
  E_M KL = (L/2) sum_j s_j (s_j - 1) / (L (L - 1)) log k, and (L/2)(s - 1)/(L - 1) log k for s per step.
  Ancestral (reveal step i.i.d. with law w): E_M KL = (L/2) sum_j w_j^2 log k.
* all-equal (k symbols): the first non-empty step draws its s_first tokens independently,
  everything later is determined: KL = (s_first - 1) log k for every x and M. sum_i I(X_i; X_-i)
  = L log k (L >= 2), so Li & Cai's bound is (2^ceil(log2 s_max) - 1) log k: attained exactly when
  s_first = s_max is a power of two (balanced counts put the larger steps first).
"""
import numpy as np
import sympy as sp

from mdmlab.theory.bound import Bound

k, L, N, s = sp.symbols("k L N s", positive=True)
_DERIVED = "derived here (the language is this project's construction; checked by enumeration in the tests)"

PAIR_COPY_KL_COUNTS = Bound(
    name="kl-pair-copy-counts", lhs="E_M KL(q || p_M)", relation="=",
    expr=(L / 2) * (L / N - 1) / (L - 1) * sp.log(k),
    symbols={"symbols": k, "length": L, "steps": N},
    statement="Exact E_M KL(q || p_M) of pair-copy (k symbols) under N fixed steps of s = L/N tokens each "
              "(N divides L): (L/2)(s-1)/(L-1) log k.",
    assumptions=("random position policy", "fixed counts, all equal to L/N", "exact denoiser", "L even"),
    reference="this project (pair-copy is mdmlab's construction)", provenance=_DERIVED)

ALL_EQUAL_KL_COUNTS = Bound(
    name="kl-all-equal-counts", lhs="E_M KL(q || p_M)", relation="=", expr=(s - 1) * sp.log(k),
    symbols={"symbols": k, "s_first": s},
    statement="Exact KL(q || p_M) of all-equal (k symbols) when the first step reveals s_first tokens: "
              "(s_first - 1) log k for every x and M; equals Li & Cai's bound when s_first = s_max is a power "
              "of two.",
    assumptions=("random position policy", "any counts", "exact denoiser", "L >= 2"),
    reference="this project", provenance=_DERIVED)


def pair_copy_kl_counts(symbols, counts):
    r"""E_M KL = (L/2) sum_j s_j (s_j - 1) / (L (L - 1)) log k for fixed counts (L = sum s_j, even)."""
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    if total < 2:
        return 0.0
    return float(total / 2 * np.sum(c * (c - 1)) / (total * (total - 1)) * np.log(symbols))


def pair_copy_kl_weights(symbols, length, weights):
    r"""E_M KL = (L/2) sum_j w_j^2 log k when each position's reveal step is i.i.d. with law w."""
    w = np.asarray(weights, dtype=float)
    return float(length / 2 * np.sum(w ** 2) * np.log(symbols))


def all_equal_kl_counts(symbols, counts):
    r"""KL = (s_first - 1) log k, s_first the first non-zero count."""
    first = next(int(c) for c in counts if c > 0)
    return float((first - 1) * np.log(symbols))


def closed_form_kl(language, schedule, *, policy="random"):
    r"""Exact E_M KL(q || p_M) for pair-copy (fixed counts or ancestral) and all-equal (fixed counts).

    ``language`` is read through its ``spec``; ``schedule`` is a resolved ``models.Schedule``.
    Returns None where no form is derived (other languages, policies, or all-equal under ancestral
    counts, whose first-step size is random).
    """
    spec = getattr(language, "spec", None)
    if policy != "random" or spec is None:
        return None
    kind = getattr(schedule, "kind", None)
    sym = spec.params.get("symbols") if spec.kind in ("pair-copy", "all-equal") else None
    if sym is None:
        return None
    if spec.kind == "pair-copy" and int(schedule.length) % 2 == 0:
        if kind == "fixed":
            return pair_copy_kl_counts(sym, schedule.counts)
        return pair_copy_kl_weights(sym, schedule.length, schedule.reveal_weights)
    if spec.kind == "all-equal" and kind == "fixed" and int(schedule.length) >= 2:
        return all_equal_kl_counts(sym, schedule.counts)
    return None
