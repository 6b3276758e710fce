r"""Exact sequence error rates of the hard languages under the exact-denoiser MDM sampler.

Setting: random position policy, exact conditionals. Feng et al. 2025 (arXiv 2502.09622) prove
(paper, recalled and unverified in its details: the verified abstract says only that SER needs steps
linear in L "in the worst case") that some HMM needs N >= C L; pair-copy, block-copy and all-equal are
this project's constructions and every closed form here is derived here.

* Ancestral schedules reveal every position at an independent step with law w_j = alpha(t_j) -
  alpha(t_{j-1}); ``linear`` has w_j = 1/N.
* Fixed counts s_1..s_N reveal a uniformly random ordered partition with those sizes.

A block of the copy languages fails only at the first step that reveals any of its positions: the
tokens revealed there are drawn independently and uniformly (the block's other positions are still
masked), and everything revealed later is determined. With M tokens at that step it survives with
probability k^{-(M-1)}.
"""
import math
from fractions import Fraction

import numpy as np
import sympy as sp

from mdmlab.theory.bound import Bound

k, L, N, m, j, delta = sp.symbols("k L N m j delta", positive=True)
FENG = "Feng et al. 2025, 'Theoretical Benefit and Limitation of Diffusion Language Model', arXiv 2502.09622"
_ANCESTRAL = "random position policy, linear ancestral schedule (reveal steps i.i.d. uniform on N steps)"


def _block_survival_linear(block):
    r"""P(a block of ``block`` copies survives), linear schedule: sum over the first step j it is hit.

    P(first hit at j with M tokens) = C(m, M) (1/N)^M ((N-j)/N)^(m-M); survival k^{1-M}; the sum over
    M >= 1 is k [((N-j)/N + 1/(kN))^m - ((N-j)/N)^m] (binomial theorem).
    """
    later = (N - j) / N
    return k * sp.Sum((later + 1 / (k * N)) ** block - later ** block, (j, 1, N))


def _pair_copy_linear():
    r"""Derivation: a pair fails iff both halves share a step (prob sum_j (1/N)^2) and differ (1 - 1/k).

    The block-copy formula at m = 2 reduces to it (checked symbolically in the tests)."""
    p_same = sp.summation((1 / N) ** 2, (j, 1, N))
    per_pair = 1 - p_same * (1 - 1 / k)
    return 1 - per_pair ** (L / 2)


PAIR_COPY_LINEAR = Bound(
    name="ser-pair-copy-linear", lhs="SER(p)", relation="=", expr=_pair_copy_linear(),
    symbols={"symbols": k, "length": L, "steps": N},
    statement="Exact SER of pair-copy (k symbols, L/2 pairs) sampled in N steps.",
    assumptions=(_ANCESTRAL, "exact denoiser", "L even"),
    reference="this project (pair-copy is mdmlab's construction); the linear-in-L SER claim it illustrates: "
              + FENG,
    provenance="Derived here: the language, this closed form, its inverse and slope. Paper, verified (abstract): "
               "SER needs steps linear in L in the worst case; the paper's own hard case (an HMM) is not this.",
    steps_expr=(1 - 1 / k) / (1 - (1 - delta) ** (2 / L)))


def _block_survival_numeric(kk, NN, mm):
    r"""sum_{j=1}^{N} k [((N-j)/N + 1/(kN))^m - ((N-j)/N)^m], summed from the largest terms (i = N - j
    near N) down in chunks until the rest cannot change a float64 result: O(N / m) terms, not O(N)."""
    total, top = 0.0, NN - 1
    while top >= 0:
        i = np.arange(top, max(top - 65536, -1), -1, dtype=float)
        terms = ((i + 1.0 / kk) / NN) ** mm - (i / NN) ** mm
        total += terms.sum()
        top -= i.size
        if terms[-1] * (top + 1) < 1e-17 * total:  # terms decrease as i falls: bound the remainder
            break
    return kk * total


def _all_equal_numeric(symbols, length, steps):
    return 1.0 - _block_survival_numeric(float(symbols), int(steps), float(length))


ALL_EQUAL_LINEAR = Bound(
    name="ser-all-equal-linear", lhs="SER(p)", relation="=", expr=1 - _block_survival_linear(L),
    symbols={"symbols": k, "length": L, "steps": N},
    statement="Exact SER of all-equal (one uniform symbol repeated L times) sampled in N steps: the first "
              "step that reveals anything must reveal a single token.",
    assumptions=(_ANCESTRAL, "exact denoiser"),
    reference="this project (all-equal is mdmlab's construction)",
    provenance="Language and closed form derived here.",
    numeric=_all_equal_numeric, max_steps_per_length=64.0)


def _block_copy_numeric(symbols, length, steps, block):
    return 1.0 - _block_survival_numeric(float(symbols), int(steps), float(block)) ** (float(length) / block)


BLOCK_COPY_LINEAR = Bound(
    name="ser-block-copy-linear", lhs="SER(p)", relation="=", expr=1 - _block_survival_linear(m) ** (L / m),
    symbols={"symbols": k, "length": L, "steps": N, "block": m},
    statement="Exact SER of block-copy (L/m independent blocks of m equal tokens) sampled in N steps.",
    assumptions=(_ANCESTRAL, "exact denoiser", "m divides L"),
    reference="this project (block-copy generalises pair-copy, m = 2)",
    provenance="Language and closed form derived here; m = 2 is checked symbolically against pair-copy.",
    numeric=_block_copy_numeric, max_steps_per_length=64.0)

PAIR_COPY_ANY_ANCESTRAL = Bound(
    name="ser-pair-copy-any-ancestral", lhs="SER(p)", relation=">=", expr=_pair_copy_linear(),
    symbols={"symbols": k, "length": L, "steps": N},
    statement="Every ancestral schedule with N steps gives pair-copy an SER at least the linear schedule's: "
              "a pair fails with probability (1 - 1/k) sum_j w_j^2 and sum_j w_j^2 >= 1/N (Cauchy-Schwarz, "
              "sum_j w_j = 1), equality iff w_j = 1/N; pairs are independent, so SER = 1 - prod (1 - that) is "
              "smallest for the linear schedule and N*(L, delta) is at least the linear one's for every "
              "ancestral schedule.",
    assumptions=("random position policy", "ancestral schedule (reveal steps i.i.d. with any law w on N steps)",
                 "exact denoiser", "L even"),
    reference="this project",
    provenance="Derived here (pair-copy and this bound are this project's); tested against the sampler.",
    steps_expr=(1 - 1 / k) / (1 - (1 - delta) ** (2 / L)))


def pair_copy_same_step_probability(weights):
    r"""sum_j w_j^2 (>= 1/N by Cauchy-Schwarz): the chance that a pair's halves share a step."""
    w = _check_weights(weights)
    return float(np.sum(w ** 2))


BOUNDS = {"pair-copy": PAIR_COPY_LINEAR, "all-equal": ALL_EQUAL_LINEAR, "block-copy": BLOCK_COPY_LINEAR}


def pair_copy_slope(symbols, delta_):
    r"""lim_{L->inf} N*(L, delta) / L = (1 - 1/k) / (2 log(1 / (1 - delta))) for the linear schedule.

    From N* = (1 - 1/k) / (1 - (1 - delta)^(2/L)) and 1 - (1 - delta)^(2/L) ~ (2/L) log(1/(1 - delta)).
    """
    expr = sp.limit(PAIR_COPY_LINEAR.steps_expr / L, L, sp.oo)
    return float(expr.subs({k: symbols, delta: delta_}))


# ---- any ancestral schedule, given the reveal-step law w -------------------------------------

def _check_weights(weights):
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
        raise ValueError(f"weights must be a 1-D law of the reveal step (non-negative, sum 1), got {w!r}")
    return w


def block_copy_ser_weights(symbols, length, block, weights):
    r"""SER of block-copy when each position's reveal step is i.i.d. with law ``weights`` (w_j).

    P(block survives) = sum_j k [(W_{>j} + w_j / k)^m - W_{>j}^m], W_{>j} = sum_{i>j} w_i;
    SER = 1 - P(block survives)^(L/m). pair-copy: m = 2; all-equal: m = L. (For m not dividing L
    the exact value, with a shorter last block, is :func:`closed_form_ser`'s.)
    """
    ok = _block_survival_weights(symbols, block, _check_weights(weights))
    return float(1.0 - ok ** (length / block))


def _block_survival_weights(symbols, block, w):
    r"""P(a block of m copies survives) = sum_j k [(W_{>j} + w_j / k)^m - W_{>j}^m] (w checked)."""
    later = np.concatenate([np.cumsum(w[::-1])[::-1][1:], [0.0]])  # W_{>j}
    return float(symbols * np.sum((later + w / symbols) ** block - later ** block))


# ---- fixed counts ------------------------------------------------------------------------------

def pair_copy_ser_counts(symbols, counts):
    r"""Exact SER of pair-copy under fixed counts s_1..s_N (a uniform ordered partition), in rationals.

    With S the number of pairs whose halves share a step, P(no error) = E[k^{-S}]
    = sum_m C(P, m) (1/k - 1)^m p_m (inclusion-exclusion, P = L/2 pairs), where p_m, the chance that
    m given pairs each share a step, is m! (L - 2m)! / L! [u^m] prod_j G_{s_j}(u) with
    G_s(u) = sum_a s! / (a! (s - 2a)!) u^a (place a whole pairs in a step of size s).
    """
    s = [int(c) for c in counts]
    total = sum(s)
    if total % 2:
        raise ValueError(f"pair-copy needs an even length, got counts summing to {total}")
    P = total // 2
    poly = [1]
    for size in s:
        g = [math.factorial(size) // (math.factorial(a) * math.factorial(size - 2 * a)) for a in range(size // 2 + 1)]
        poly = _polymul(poly, g)[:P + 1]
    z1 = Fraction(1, symbols) - 1
    ok = sum(math.comb(P, mm) * z1 ** mm * Fraction(math.factorial(mm) * math.factorial(total - 2 * mm) * poly[mm],
                                                     math.factorial(total))
             for mm in range(min(P, len(poly) - 1) + 1))
    return float(1 - ok)


def all_equal_ser_counts(symbols, counts):
    r"""SER of all-equal under fixed counts: the first non-empty step must reveal one token,
    SER = 1 - k^{-(s_first - 1)}."""
    first = next(int(c) for c in counts if c > 0)
    return 1.0 - float(symbols) ** -(first - 1)


def _polymul(a, b):
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for jj, y in enumerate(b):
                out[i + jj] += x * y
    return out


# ---- one entry point: a language and a schedule -> the exact SER, or None -------------------

#: Block length m of each hard language, as a block-copy of its spec's params at length L.
_BLOCK = {"pair-copy": lambda params, length: 2, "block-copy": lambda params, length: params["block"],
          "all-equal": lambda params, length: length}


def closed_form_ser(language, schedule, *, policy="random"):
    r"""The exact SER of ``language`` sampled by the exact-denoiser MDM, or None without a closed form.

    Every hard language is block-copy with blocks of m = 2 (pair-copy), ``block`` (block-copy) or
    L (all-equal) copies; blocks are independent, so SER = 1 - S_m^(L // m) S_(L mod m), S_0 = 1.

    * ancestral schedule (reveal step i.i.d. with law w): S_m from :func:`block_copy_ser_weights`'s
      sum, exact for any m and L (a shorter last block included);
    * fixed counts: m = 1 gives 0, m >= L :func:`all_equal_ser_counts`, m = 2 with L even
      :func:`pair_copy_ser_counts`; other block lengths have no derived form (None).

    Parameters
    ----------
    language : synth Language
        Read through ``language.spec`` only (so a saved and reloaded copy gets the same value);
        pair-copy, block-copy and all-equal have closed forms, any other spec or None gives None.
    schedule : models.Schedule
        A resolved count policy (``models.schedules.resolve(name, L, N)``): its ``kind``
        (``"ancestral"`` or ``"fixed"``), ``length`` L, ``reveal_weights`` or ``counts``. theory
        reads the schedule's law; building it from a name is the sampler's business.
    policy : str
        The position policy; the closed forms are derived for ``"random"`` (over the whole sequence,
        no ``block_length``) only, any other gives None.

    Returns
    -------
    float or None
    """
    spec = getattr(language, "spec", None)
    if policy != "random" or spec is None or spec.kind not in _BLOCK:
        return None
    kind = _check_schedule(schedule)
    k, L = spec.params["symbols"], int(schedule.length)
    m = min(_BLOCK[spec.kind](spec.params, L), L)
    return _SER_BY_KIND[kind](k, L, m, schedule)


def _ser_ancestral(k, L, m, schedule):
    w = _check_weights(schedule.reveal_weights)
    full, rest = divmod(L, m)
    tail = _block_survival_weights(k, rest, w) if rest else 1.0
    return float(1.0 - _block_survival_weights(k, m, w) ** full * tail)


def _ser_fixed(k, L, m, schedule):
    if m == 1:
        return 0.0
    if m == L:
        return all_equal_ser_counts(k, schedule.counts)
    if m == 2 and L % 2 == 0:
        return pair_copy_ser_counts(k, schedule.counts)
    return None  # no derived fixed-count form for these blocks


_SER_BY_KIND = {"ancestral": _ser_ancestral, "fixed": _ser_fixed}


def _check_schedule(schedule):
    kind = getattr(schedule, "kind", None)
    if kind not in _SER_BY_KIND or not hasattr(schedule, "length"):
        raise TypeError(f"schedule must be a resolved models.Schedule (kind 'ancestral' or 'fixed', with length; "
                        f"models.schedules.resolve(name, L, N) makes one), got {type(schedule).__name__} "
                        f"{schedule!r}")
    return kind
