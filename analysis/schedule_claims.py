r"""Verdicts of the schedule engine: the KL identity, the optimal counts and L-free fixed-size steps.

Each claim compares the sampler's *measured* E_M KL(q || p_M) (Monte Carlo over x ~ q and the
partition M, every term log q(x) - log p_M(x) exact: :func:`kl_terms`) with what
:mod:`mdmlab.theory.information` predicts, under the rules of :mod:`analysis.verdicts` (regions fixed
before running; holds only when the whole interval is inside):

* ``kl-identity`` (two-sided): max over cells |measured / identity - 1| <= ``KL_RELATIVE_TOLERANCE``;
  the identity is exact for first-order chains and a Monte Carlo estimate (its error included by the
  delta method) otherwise.
* ``optimal-schedule`` (one-sided): max over the named schedules s of KL(optimal counts) / KL(s) <= 1
  at equal N, both measured on the same strings and orders (paired). A named schedule with exactly
  the optimal counts is the same sampler and is left out (said in ``detail``).
* ``eb-bound`` (one-sided): the entropy-bounded sampler's E KL / (gamma E_q[steps]) <= 1, KL by
  replaying the rule on x ~ q (``models.replay``; derived: KL = sum_t E TC_t <= E sum_t (sum H - max H)
  <= gamma E_q[T]).
* ``structured-order-exact``: under the language's structured order (binary search on order-1 chains,
  runs of n - 1 on n-grams, even/odd on pair-copy; :mod:`mdmlab.theory.structured`, derived here) at its
  natural steps, E KL(q || p_M) = 0 to rounding; on a language with no known exact order (a random HMM)
  KL > 0 under binary search.
* ``kl-L-free`` (two-sided): with s tokens per step (N = L / s), max over L of |KL(L) / KL(L_ref) - 1|
  <= ``KL_RELATIVE_TOLERANCE`` (derived here: E_M KL -> ((s - 1) / 2) Z_L, free of L).

Intervals are simultaneous over a claim's cells (Bonferroni), as in :mod:`analysis.verdicts`.
"""
import dataclasses

import numpy as np
import pandas as pd

from mdmlab import models, synth, theory
from mdmlab.analysis import metrics
from mdmlab.analysis.verdicts import COLUMNS, KL_RELATIVE_TOLERANCE, RATIO_REGION, _bonferroni_z, _max_abs, make_row
from mdmlab.models import schedules

#: the named random-order schedules an optimum is compared with.
NAMED = ("balanced", "linear", "cosine")


def kl_terms(language, length, plans, *, samples, rng, fixed=()):
    r"""Exact terms log q(x) - log p_M(x), (S, len(plans) + len(fixed)), on shared draws.

    The strings x ~ q and the uniformly random reveal order are drawn once and shared by every plan
    (common random numbers: plans differ only in their counts, drawn per string for ancestral plans),
    so differences between plans are measured with far less noise than with independent runs. Each
    column's mean is E_M KL(q || p_M) under random-order sampling with that plan; the last columns are
    KL(q || p_M) of the ``fixed`` partitions (each (L,) reveal steps, e.g. a structured order's), on
    the same strings.
    """
    L, S, rng = length, samples, np.random.default_rng(rng)
    x = language.sample(L, S, rng=rng)
    order = np.argsort(rng.random((S, L)), axis=1)  # order[b, k]: the k-th position revealed
    log_q = language.log_prob(x)
    out = np.empty((S, len(plans) + len(fixed)))
    for c, plan in enumerate(plans):
        cum = np.cumsum(plan.draw(S, rng), axis=1)  # (S, N)
        step_of_rank = (np.arange(L)[None, None, :] >= cum[:, :, None]).sum(axis=1)  # (S, L)
        reveal = np.empty((S, L), dtype=np.int64)
        np.put_along_axis(reveal, order, step_of_rank, axis=1)
        out[:, c] = log_q - models.log_prob_given_reveal(language, x, reveal)
    for c, reveal in enumerate(fixed, start=len(plans)):
        out[:, c] = log_q - models.log_prob_given_reveal(language, x, np.broadcast_to(reveal, (S, L)))
    return out


def _counts_text(counts):
    return " ".join(str(int(c)) for c in counts)


def _predicted(curve, plan):
    """The identity's E_M KL for a resolved schedule (fixed counts or ancestral)."""
    if plan.kind == "fixed":
        return theory.expected_kl(curve, plan.counts)
    return theory.expected_kl(curve, schedule=plan)


def _paired_ratio(a, b):
    r"""mean(a) / mean(b) for paired samples with its delta-method standard error."""
    r = a.mean() / b.mean()
    d = a - r * b  # var(r) ~ var(a - r b) / (n mean(b)^2)
    return float(r), float(d.std(ddof=1) / (np.sqrt(a.size) * abs(b.mean())))


def kl_cells(languages, length, steps, *, samples, seed=0, curves=None, curve_samples=512):
    r"""Tidy frame, one row per (language, N, schedule): measured and predicted E_M KL.

    Columns: language, length, steps, schedule (a name or ``optimal``), counts (fixed counts or
    empty), kl, kl_se, samples, predicted, predicted_se, curve (its method), and for the named
    schedules ``optimal_ratio`` = KL(optimal) / KL(schedule) with its paired standard error
    ``optimal_ratio_se`` (:func:`kl_terms`). ``curves`` maps a spec to (curve for choosing the optimum,
    independent curve for predicting) as :func:`analysis.schedules_report.information_curves` returns;
    missing ones are computed here.
    """
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        choose, judge = (curves or {}).get(spec) or _curves(lang, length, curve_samples, seed, i)
        for N in steps:
            opt, _ = theory.optimal_counts(choose, N)
            plans = {"optimal": schedules.resolve([int(c) for c in opt], length, N)}
            plans.update({name: schedules.resolve(name, length, N) for name in NAMED})
            terms = kl_terms(lang, length, list(plans.values()), samples=samples,
                             rng=np.random.default_rng(np.random.SeedSequence([seed, i, N])))
            for j, (name, plan) in enumerate(plans.items()):
                t, pred = terms[:, j], _predicted(judge, plan)
                ratio, ratio_se = _paired_ratio(terms[:, 0], t) if j else (1.0, 0.0)
                rows.append({"language": spec, "length": length, "steps": N, "schedule": name,
                             "counts": _counts_text(plan.counts) if plan.kind == "fixed" else "",
                             "kl": float(t.mean()), "kl_se": float(t.std(ddof=1) / np.sqrt(t.size)),
                             "samples": t.size, "predicted": pred.nats, "predicted_se": pred.stderr,
                             "curve": judge.method, "optimal_ratio": ratio, "optimal_ratio_se": ratio_se})
    return pd.DataFrame(rows)


def _curves(lang, length, curve_samples, seed, i):
    choose_seed, judge_seed = np.random.SeedSequence([seed, i, 1]).spawn(2)
    choose = theory.information_curve(lang, length, samples=curve_samples, rng=np.random.default_rng(choose_seed))
    if choose.method != "monte-carlo":
        return choose, choose
    return choose, theory.information_curve(lang, length, samples=curve_samples,
                                            rng=np.random.default_rng(judge_seed))


def _ratio_interval(a, a_se, b, b_se, z):
    r"""a / b with a delta-method interval a/b (1 +- z sqrt((se_a/a)^2 + (se_b/b)^2)), independent a, b."""
    a, a_se, b, b_se = (np.asarray(v, float) for v in (a, a_se, b, b_se))
    r = a / b
    rel = np.sqrt((np.nan_to_num(a_se) / np.abs(a)) ** 2 + (np.nan_to_num(b_se) / np.abs(b)) ** 2)
    return r, r * (1 - z * rel), r * (1 + z * rel)


def claim_kl_identity(cells):
    r"""``kl-identity``: max over a language's cells |measured E_M KL / identity - 1| (two-sided)."""
    rows = []
    for lang, g in cells.groupby("language", sort=False):
        g = g[g["predicted"] > 0]
        z = _bonferroni_z(len(g))
        r, lo, hi = _ratio_interval(g["kl"], g["kl_se"], g["predicted"], g["predicted_se"], z)
        val, low, high = _max_abs(lo - 1, hi - 1, r - 1)
        rows.append(make_row("kl-identity", language=lang, schedule=", ".join(g["schedule"].unique()),
                             policy="random", statistic="max over cells |measured E_M KL / identity - 1| (two-sided)",
                             measured=val, low=low, high=high, region=(0.0, KL_RELATIVE_TOLERANCE), cells=len(g),
                             samples=int(g["samples"].sum()),
                             detail=f"identity from the {g['curve'].iloc[0]} information curve; N in "
                                    f"{sorted(int(n) for n in g['steps'].unique())}, L = {int(g['length'].iloc[0])}"))
    return rows


def claim_optimal_schedule(cells):
    r"""``optimal-schedule``: at each (language, N), max over named schedules of KL(optimal) / KL(s) <= 1
    (paired measurements, :func:`kl_terms`)."""
    rows = []
    for (lang, N), g in cells.groupby(["language", "steps"], sort=False):
        opt = g[g["schedule"] == "optimal"].iloc[0]
        others = g[(g["schedule"] != "optimal") & (g["counts"] != opt["counts"])]
        same = sorted(set(g["schedule"]) - set(others["schedule"]) - {"optimal"})
        z = _bonferroni_z(len(others))
        r, se = others["optimal_ratio"].to_numpy(), others["optimal_ratio_se"].to_numpy()
        k = int(np.argmax(r + z * se))
        rows.append(make_row("optimal-schedule", language=lang, schedule="optimal vs " + ", ".join(others["schedule"]),
                             policy="random", statistic=f"max over named schedules KL(optimal) / KL(s) at N = {N}",
                             measured=float(np.max(r)), low=float(np.max(r - z * se)), high=float(np.max(r + z * se)),
                             region=RATIO_REGION, cells=len(others) + 1, samples=int(opt["samples"]),
                             detail=f"optimal counts [{opt['counts']}]; closest: {others['schedule'].iloc[k]}; "
                                    "paired draws (same strings and orders)"
                                    + (f"; left out (identical counts): {', '.join(same)}" if same else "")))
    return rows


def kl_l_free_cells(languages, lengths, size, *, samples, seed=0):
    r"""Tidy frame (language, length, steps, size, kl, kl_se, samples): fixed ``size`` tokens per step."""
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        for L in lengths:
            N = L // size
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, L, size]))
            t = kl_terms(lang, L, [schedules.resolve([size] * N, L, N)], samples=samples, rng=rng)[:, 0]
            rows.append({"language": spec, "length": L, "steps": N, "size": size, "kl": float(t.mean()),
                         "kl_se": float(t.std(ddof=1) / np.sqrt(t.size)), "samples": t.size})
    return pd.DataFrame(rows)


def identity_l_free_cells(languages, lengths, size, *, chain_lengths=None, curve_samples=256, seed=0):
    r"""The same frame as :func:`kl_l_free_cells` from the identity (exact curve or Monte Carlo with its
    standard error), plus ``limit`` = ((s - 1) / 2) Z_L, the large-L value derived here. Languages
    with an exact (first-order chain) curve use ``chain_lengths`` when given (cheap: O(L^3))."""
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        exact = theory.information_curve(lang, 2, method="auto").method == "chain"
        for L in (chain_lengths or lengths) if exact else lengths:
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, L, size, 2]))
            curve = theory.information_curve(lang, L, samples=curve_samples, rng=rng)
            kl = theory.expected_kl(curve, [size] * (L // size))
            rows.append({"language": spec, "length": L, "steps": L // size, "size": size, "kl": kl.nats,
                         "kl_se": kl.stderr, "samples": curve.samples, "curve": curve.method,
                         "limit": (size - 1) / 2 * float(curve.h[0] - curve.h[-1])})
    return pd.DataFrame(rows)


def claim_kl_l_free(cells, source="sampler"):
    r"""``kl-L-free``: max over L > L_ref of |KL(L) / KL(L_ref) - 1| with s tokens per step (two-sided);
    ``source`` names where the KL values come from (``"sampler"`` or ``"identity"``)."""
    rows = []
    for (lang, s), g in cells.groupby(["language", "size"], sort=False):
        g = g.sort_values("length")
        ref, rest = g.iloc[0], g.iloc[1:]
        z = _bonferroni_z(len(rest))
        r, lo, hi = _ratio_interval(rest["kl"], rest["kl_se"], ref["kl"], ref["kl_se"], z)
        val, low, high = _max_abs(lo - 1, hi - 1, r - 1)
        rows.append(make_row("kl-L-free", language=lang, schedule=f"{s} tokens per step", policy="random",
                             statistic=f"max over L of |E_M KL(L) / E_M KL(L_ref = {int(ref['length'])}) - 1| "
                                       f"({source})",
                             measured=val, low=low, high=high, region=(0.0, KL_RELATIVE_TOLERANCE), cells=len(g),
                             samples=int(g["samples"].sum()),
                             detail="KL by L: " + ", ".join(f"{int(L)}: {k:.4g}" for L, k in zip(g["length"], g["kl"]))
                                    + (f"; large-L limit ((s-1)/2) Z_L = {g['limit'].iloc[-1]:.4g}" if "limit" in g
                                       else "")))
    return rows


def _rule_label(rule):
    if isinstance(rule, models.EntropyBounded):
        return f"entropy-bounded gamma={rule.gamma:g} nats"
    return f"confidence > {rule.threshold:g}"


def adaptive_cells(languages, length, rules, *, samples, seed=0):
    r"""Tidy frame, one row per (language, rule) of the adaptive-count rules (``models.EntropyBounded``,
    ``models.ConfidenceThreshold``) at length L.

    Columns: kl, kl_se (E KL(q || p_M) by replay on x ~ q with a tie order per string), steps and
    excess (means of the replayed run's steps T(x) and of sum_t (sum H - max H)), ``bound_ratio`` =
    KL / (gamma E_q[T]) with its paired standard error (EB only), and from the sampler's own runs:
    ser with its Clopper-Pearson interval and the mean NFE.
    """
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        for j, rule in enumerate(rules):
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, j, 3]))
            x = lang.sample(length, samples, rng=rng)
            rank = np.argsort(rng.random((samples, length)), axis=1).argsort(axis=1)
            rep = models.replay(lang, x, rule, rank=rank)
            terms = lang.log_prob(x) - rep.log_prob
            run = models.sample_adaptive(lang, length, rule, size=samples, rng=rng)
            ser = metrics.ser(lang, run.tokens)
            row = {"language": spec, "length": length, "rule": _rule_label(rule), "kl": float(terms.mean()),
                   "kl_se": float(terms.std(ddof=1) / np.sqrt(samples)), "steps": float(rep.steps.mean()),
                   "excess": float(rep.excess.mean()), "samples": samples, "ser": ser.value, "ser_low": ser.low,
                   "ser_high": ser.high, "nfe": float(np.mean(run.nfe)), "gamma": np.nan, "bound_ratio": np.nan,
                   "bound_ratio_se": np.nan}
            if isinstance(rule, models.EntropyBounded) and rule.gamma > 0 and np.isfinite(rule.gamma):
                row["gamma"] = rule.gamma
                row["bound_ratio"], row["bound_ratio_se"] = _paired_ratio(terms, rule.gamma * rep.steps.astype(float))
            rows.append(row)
    return pd.DataFrame(rows)


def claim_eb_bound(cells):
    r"""``eb-bound``: per language, max over gamma of E KL / (gamma E_q[#steps]) <= 1 (one-sided)."""
    rows = []
    for lang, g in cells.dropna(subset=["bound_ratio"]).groupby("language", sort=False):
        z = _bonferroni_z(len(g))
        r, se = g["bound_ratio"].to_numpy(), g["bound_ratio_se"].to_numpy()
        rows.append(make_row("eb-bound", language=lang, schedule="entropy-bounded", policy="entropy-sorted prefix",
                             statistic="max over gamma of E KL(q || p_M) / (gamma E_q[steps]) (replay)",
                             measured=float(np.max(r)), low=float(np.max(r - z * se)), high=float(np.max(r + z * se)),
                             region=RATIO_REGION, cells=len(g), samples=int(g["samples"].sum()),
                             detail="; ".join(f"gamma {gm:g}: KL {k:.4g}, E steps {t:.4g}, SER {sr:.3g}"
                                              for gm, k, t, sr in zip(g["gamma"], g["kl"], g["steps"], g["ser"]))))
    return rows


#: the order a language without a known exact order is run with (binary search: exact on order-1 chains).
FALLBACK_ORDER = "binary-search"
#: KL = 0 "to rounding": each exact term is a difference of two sums of L logs (|error| ~ L 1e-16).
ZERO_KL = 1e-9


def structured_order(language, length):
    r"""(order, natural steps, expected exact) for ``language``: :func:`theory.structured.structured_steps`'s
    exact order, or :data:`FALLBACK_ORDER` (not expected exact) when none is known."""
    from mdmlab.theory import structured

    found = structured.structured_steps(language, length)
    if found is None:
        return FALLBACK_ORDER, models.orders.natural_steps(FALLBACK_ORDER, length), False
    return found.order, found.steps, True


def _order_text(order):
    return order if isinstance(order, str) else f"explicit ({len(order)} steps)"


def _partition_kl(language, reveal):
    """The exact KL(q || p_M) of one partition where cheap (first-order chains), else NaN."""
    from mdmlab.theory import structured

    try:
        return float(structured.partition_kl(language, reveal, method="chain"))
    except ValueError:
        return np.nan


def structured_cells(languages, length, *, samples, seed=0):
    r"""Tidy frame, one row per language: its structured order at its natural steps N0 against random
    order with balanced counts at the same N0.

    Columns: order, steps (N0), expected_exact, kl, kl_se (exact terms on x ~ q, fixed partition),
    kl_max_abs (largest |log q(x) - log p_M(x)| over the strings), kl_exact (first-order chains, else
    NaN), ser with its interval from the sampler's own runs, and random_kl, random_ser at N0.
    """
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        order, N0, expected = structured_order(lang, length)
        rng = np.random.default_rng(np.random.SeedSequence([seed, i, 4]))
        fixed = models.reveal_partitions(length, N0, schedule="natural", policy=order)
        terms = kl_terms(lang, length, [schedules.resolve("balanced", length, N0)], samples=samples, rng=rng,
                         fixed=[fixed])
        structured_run = models.sample(lang, length, N0, size=samples, schedule="natural", policy=order, rng=rng)
        random_run = models.sample(lang, length, N0, size=samples, schedule="balanced", rng=rng)
        ser, ser_random = metrics.ser(lang, structured_run.tokens), metrics.ser(lang, random_run.tokens)
        t = terms[:, 1]
        rows.append({"language": spec, "length": length, "order": _order_text(order), "steps": N0,
                     "expected_exact": expected, "kl": float(t.mean()), "kl_se": float(t.std(ddof=1) / np.sqrt(t.size)),
                     "kl_max_abs": float(np.max(np.abs(t))), "kl_exact": _partition_kl(lang, fixed),
                     "samples": samples, "ser": ser.value, "ser_low": ser.low, "ser_high": ser.high,
                     "random_kl": float(terms[:, 0].mean()), "random_ser": ser_random.value})
    return pd.DataFrame(rows)


def structured_kl(languages, length, steps, *, samples, seed=0):
    r"""Tidy frame (language, steps, schedule="structured", order, counts, kl, kl_se, kl_exact, samples):
    KL(q || p_M) of the language's structured order in N steps (:func:`models.orders.counts_for_steps`:
    its natural groups, split or merged; exact terms on x ~ q; ``kl_exact`` for first-order chains), the
    "structured" column of the schedules table."""
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        order, _, _ = structured_order(lang, length)
        for N in steps:
            counts = [int(c) for c in models.orders.counts_for_steps(order, length, N)]
            fixed = models.reveal_partitions(length, N, schedule=counts, policy=order)
            t = kl_terms(lang, length, [], samples=samples, fixed=[fixed],
                         rng=np.random.default_rng(np.random.SeedSequence([seed, i, N, 6])))[:, 0]
            rows.append({"language": spec, "steps": N, "schedule": "structured", "order": _order_text(order),
                         "counts": _counts_text(np.bincount(fixed, minlength=N)), "kl": float(t.mean()),
                         "kl_se": float(t.std(ddof=1) / np.sqrt(t.size)), "kl_exact": _partition_kl(lang, fixed),
                         "samples": t.size})
    return pd.DataFrame(rows)


def claim_structured_exact(cells):
    r"""``structured-order-exact``: KL(q || p_M) = 0 to rounding (|E KL| <= :data:`ZERO_KL`, two-sided)
    under the language's exact order at its natural steps; for a language with no known exact order
    (an HMM) the claim is the opposite, KL > :data:`ZERO_KL` under the fallback order."""
    rows = []
    for r in cells.itertuples():
        half = 1.96 * r.kl_se
        region = (-ZERO_KL, ZERO_KL) if r.expected_exact else (ZERO_KL, np.inf)
        claim = "KL = 0 (exact order)" if r.expected_exact else "KL > 0 (no exact order known)"
        rows.append(make_row("structured-order-exact", language=r.language, schedule=f"natural ({r.steps} steps)",
                             policy=r.order, statistic=f"E KL(q || p_M) in nats, fixed partition: {claim}",
                             measured=r.kl, low=r.kl - half, high=r.kl + half, region=region, cells=1,
                             samples=r.samples,
                             detail=f"max |log q - log p_M| over strings {r.kl_max_abs:.3g}; SER {r.ser:.3g} "
                                    f"[{r.ser_low:.3g}, {r.ser_high:.3g}]"
                                    + (f"; exact partition KL {r.kl_exact:.3g}" if np.isfinite(r.kl_exact) else "")
                                    + f"; random order, balanced, same N: KL {r.random_kl:.4g}, SER {r.random_ser:.3g}"))
    return rows


def structured_ser_curves(languages, length, steps, *, samples, seed=0):
    r"""Tidy frame (language, order, steps, ser, ser_low, ser_high): SER of the sampler against N for the
    random order and for the language's structured order, both with balanced counts, plus the structured
    order at its natural counts (``order`` suffixed ``, natural``)."""
    rows = []
    for i, spec in enumerate(languages):
        lang = synth.from_spec(spec)
        order, N0, _ = structured_order(lang, length)
        runs = [("random", "random", "balanced", N) for N in steps if N <= length]
        runs += [(_order_text(order), order, "balanced", N) for N in steps if N <= length]
        runs.append((_order_text(order) + ", natural", order, "natural", N0))
        for j, (label, policy, schedule, N) in enumerate(runs):
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, j, 5]))
            run = models.sample(lang, length, N, size=samples, schedule=schedule, policy=policy, rng=rng)
            est = metrics.ser(lang, run.tokens)
            rows.append({"language": spec, "length": length, "order": label, "steps": N, "ser": est.value,
                         "ser_low": est.low, "ser_high": est.high, "samples": samples})
    return pd.DataFrame(rows)


@dataclasses.dataclass(frozen=True)
class ClaimSettings:
    r"""The section's settings, pre-registered with the regions above.

    Claims 1-2 at the report's L on N in ``steps`` with ``samples`` paired strings; kl-L-free with
    ``size`` tokens per step by the sampler at ``sampler_lengths`` and by the identity at
    ``identity_lengths`` (first-order chains, exact and cheap: ``chain_lengths``). A fast-mixing random
    bigram (``fast_bigram``) joins kl-L-free, since the slow one's mixing time exceeds every L here.
    The adaptive rules run at ``adaptive_length``; the structured orders with ``structured_samples``
    strings, and SER against N (``ser_steps``) on ``ser_languages``: languages with forbidden strings
    (the sparse trigram, pair-copy, and the random HMM of the verdicts whose SER is not 0).
    """

    steps: tuple = (4, 8, 16)
    samples: int = 2048
    size: int = 2
    sampler_lengths: tuple = (32, 64, 128)
    identity_lengths: tuple = (64, 128, 256)
    chain_lengths: tuple = (64, 128, 256, 512, 1024)
    curve_samples: int = 256
    fast_bigram: str = "ngram:order=2,vocab=4,seed=1"
    adaptive_length: int = 64
    adaptive_samples: int = 512
    gammas: tuple = (0.3, 1.0, 3.0)
    thresholds: tuple = (0.5, 0.9)
    structured_samples: int = 512
    ser_steps: tuple = (2, 4, 8, 16, 32, 64)
    ser_languages: tuple = ("ngram:order=3,vocab=8,sparsity=0.5,seed=1", "pair-copy:symbols=4",
                            "hmm:states=8,vocab=8,sparsity=0.75,seed=1")


def schedule_verdicts(languages, length, curves, *, settings=ClaimSettings(), seed=0, progress=None):
    r"""The claims of this module on ``languages``: (verdict frame, {name: measured cells frame}).

    ``curves`` as in :func:`kl_cells`; ``progress(text)`` is called before each part when given."""
    say, cfg = progress or (lambda text: None), settings
    say("kl-identity and optimal-schedule: paired sampler runs")
    cells = kl_cells(languages, length, cfg.steps, samples=cfg.samples, seed=seed, curves=curves)
    l_free_langs = tuple(languages) + ((cfg.fast_bigram,) if cfg.fast_bigram not in languages else ())
    say("kl-L-free: the sampler")
    by_sampler = kl_l_free_cells(l_free_langs, cfg.sampler_lengths, cfg.size, samples=cfg.samples, seed=seed)
    say("kl-L-free: the identity")
    by_identity = identity_l_free_cells(l_free_langs, cfg.identity_lengths, cfg.size, chain_lengths=cfg.chain_lengths,
                                        curve_samples=cfg.curve_samples, seed=seed)
    say("eb-bound: the entropy-bounded and confidence-threshold rules by replay")
    rules = [models.EntropyBounded(g) for g in cfg.gammas] + [models.ConfidenceThreshold(t) for t in cfg.thresholds]
    rules_cells = adaptive_cells(languages, cfg.adaptive_length, rules, samples=cfg.adaptive_samples, seed=seed)
    say("structured-order-exact: structured orders against random order")
    structured = structured_cells(l_free_langs, length, samples=cfg.structured_samples, seed=seed)
    ser_curves = structured_ser_curves(cfg.ser_languages, length, cfg.ser_steps, samples=cfg.structured_samples,
                                       seed=seed)
    rows = (claim_kl_identity(cells) + claim_optimal_schedule(cells) + claim_kl_l_free(by_sampler, "sampler")
            + claim_kl_l_free(by_identity, "identity") + claim_eb_bound(rules_cells)
            + claim_structured_exact(structured))
    return pd.DataFrame(rows, columns=COLUMNS), {"kl_cells": cells, "l_free_sampler": by_sampler,
                                                 "l_free_identity": by_identity, "adaptive_rules": rules_cells,
                                                 "structured": structured, "structured_ser": ser_curves}
