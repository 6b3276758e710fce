r"""Figures from tidy sweep frames: each function takes a DataFrame and a matplotlib ``ax``, draws, and
returns ``ax``; nothing here computes a measurement or a theory curve (:mod:`analysis.sweep_report`
builds the theory frames from the languages and schedules in the data).

Conventions shared by every panel:

* one colour per **actual** L value (:func:`length_colours`: seaborn's colour-blind palette keyed by
  the sorted L values in the frame, never a continuous norm);
* schedules, policies and languages that vary in the frame get distinct line styles and markers,
  named in the legend by short names (:func:`analysis.tables.short_name`);
* the intervals in the data are drawn: SER's Clopper-Pearson interval as a band, a ``*_se`` column as
  95% error bars (1.96 s.e.); replicates (``seed``) are pooled per point (mean, the widest interval);
* N and L axes are base-2 logarithmic with integer (or ``1/16``-style) tick labels at the values in
  the data, no minor ticks;
* theory is drawn over the data (``zorder``) in black and greys, dashed, and named in the legend:
  closed forms (``kind="closed form"``), bounds (``"bound"``), a bound with a constant chosen to lie on
  or above every point (``"fitted bound"``) and the trivial bound (``"trivial"``).

Usable in a notebook::

    import matplotlib.pyplot as plt, pandas as pd
    from mdmlab.analysis import figures, sweep_report
    df = pd.read_csv("runs/pair/results.csv")
    fig, ax = plt.subplots()
    figures.ser_vs_steps(df, ax, theory=sweep_report.closed_form_curves(df))
"""
import math
import os

import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

PALETTE = "colorblind"
#: (linestyle, marker) per variant (schedule / policy / language that varies), in order of appearance.
STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (3, 1, 1, 1, 1, 1)), "P")]
#: how each kind of theory curve is drawn: above the data, black or grey, never a data colour.
THEORY_STYLE = {
    "closed form": dict(color="black", ls="--", lw=1.4, zorder=6),
    "bound": dict(color="0.1", ls=(0, (6, 2, 1, 2)), lw=1.8, zorder=5),
    "fitted bound": dict(color="0.45", ls=":", lw=2.0, zorder=5),
    "trivial": dict(color="0.65", ls=(0, (1, 1)), lw=1.4, zorder=4),
}
VARIANT_COLUMNS = ("language", "schedule", "policy")
#: columns that tell theory curves apart (one line each), besides the x column
CURVE_COLUMNS = (*VARIANT_COLUMNS, "statistic", "target", "length")
MAX_LOG2_TICKS = 9
#: a TER gap at or below this (nats/token) is float64 round-off of an exact zero (e.g. pair-copy, whose
#: in-support strings are equally likely): not drawn on a log axis
GAP_FLOOR = 1e-9


def language_name(spec):
    r"""A short legend name for a language spec (:func:`analysis.tables.short_name`); a file path gives
    its base name (a saved language has no spec text to shorten)."""
    from mdmlab.analysis.tables import short_name

    name = short_name(spec)
    return os.path.basename(name) if name == spec and os.sep in str(spec) else name


def length_colours(lengths):
    r"""{L: colour} for the sorted distinct values of ``lengths`` (colour-blind palette; one per L)."""
    Ls = sorted({int(L) for L in lengths})
    colours = sns.color_palette(PALETTE if len(Ls) <= 10 else "cividis", len(Ls))
    return dict(zip(Ls, colours))


def variant_labels(df, columns=VARIANT_COLUMNS):
    r"""One label per row naming the values of ``columns`` that vary in ``df`` ("" when none varies)."""
    vary = [c for c in columns if c in df.columns and df[c].nunique() > 1]
    if not vary:
        return np.full(len(df), "", dtype=object)
    parts = [df[c].map(language_name) if c == "language" else df[c].astype(str) for c in vary]
    out = parts[0]
    for p in parts[1:]:
        out = out + ", " + p
    return out.values


def tick_text(x):
    r"""``16`` for an integer, ``1/8`` for the inverse of one, else ``%g``."""
    if x >= 1 and float(x).is_integer():
        return str(int(x))
    if 0 < x < 1 and float(1 / x).is_integer():
        return f"1/{int(round(1 / x))}"
    return f"{x:g}"


def log2_axis(ax, which, values):
    r"""Base-2 log scale on ``which`` ("x" or "y") with ticks at the distinct ``values`` (or at the powers
    of two spanning them when there are more than :data:`MAX_LOG2_TICKS`), labelled as integers."""
    v = np.unique(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    getattr(ax, f"set_{which}scale")("log", base=2)
    axis = ax.xaxis if which == "x" else ax.yaxis
    if v.size == 0:
        return ax
    if v.size > MAX_LOG2_TICKS:
        v = 2.0 ** np.arange(math.floor(np.log2(v.min())), math.ceil(np.log2(v.max())) + 1)
        v = v[:: max(1, math.ceil(v.size / MAX_LOG2_TICKS))]
    axis.set_major_locator(FixedLocator(v))
    axis.set_major_formatter(FuncFormatter(lambda x, _: tick_text(x)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
    return ax


def log10_axis(ax, which):
    r"""Log scale with plain decimal labels at 1, 2 and 5 times powers of ten (no ``4x10^-1``)."""
    getattr(ax, f"set_{which}scale")("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
    return ax


def _check_columns(df, name, needed):
    r"""``ValueError`` naming ``name`` and the columns it lacks (a frame that is not a sweep's)."""
    missing = [c for c in needed if c not in getattr(df, "columns", ())]
    if missing:
        raise ValueError(f"{name} must be a tidy frame with columns {list(needed)}; missing {missing} "
                         f"(got {list(getattr(df, 'columns', []))[:12]})")


def _pooled(df, keys, value, kind):
    r"""One row per ``keys``: the mean of ``value`` and its interval (``kind`` "interval": the widest
    [low, high] of the replicates; "se": mean +- 1.96 sqrt(sum se^2) / n)."""
    d = df.copy()
    if kind == "se" and f"{value}_se" in d:
        se = d[f"{value}_se"].astype(float).fillna(0.0)
        d["_lo"], d["_hi"], d["_se2"] = d[value], d[value], se ** 2
        g = d.groupby(keys, sort=True).agg(v=(value, "mean"), se2=("_se2", "sum"), n=(value, "size")).reset_index()
        half = 1.96 * np.sqrt(g["se2"]) / g["n"]
        return g.assign(lo=g["v"] - half, hi=g["v"] + half)
    lo, hi = (f"{value}_low", f"{value}_high") if f"{value}_low" in d else (value, value)
    return d.groupby(keys, sort=True).agg(v=(value, "mean"), lo=(lo, "min"), hi=(hi, "max")).reset_index()


def _legend(ax, colours, variants, theory_labels, *, title=None, lines=True):
    r"""One legend, right of the panel: an entry per L (its colour), per variant (its style, grey) and
    per theory curve (``lines=False``: data entries are markers only, for scatter panels)."""
    lw = 1.5 if lines else 0
    handles = [Line2D([], [], color=c, marker="o", lw=lw, label=f"$L = {L}$") for L, c in colours.items()]
    handles += [Line2D([], [], color="0.35", ls=ls if lines else "none", marker=mk, lw=lw, label=name)
                for name, (ls, mk) in variants.items() if name]
    handles += [Line2D([], [], label=label, **{k: v for k, v in THEORY_STYLE[kind].items() if k != "zorder"})
                for label, kind in theory_labels.items()]
    if handles:
        ax.legend(handles=handles, fontsize="x-small", title=title, title_fontsize="x-small", loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax


def _styles(labels):
    return {name: STYLES[i % len(STYLES)] for i, name in enumerate(dict.fromkeys(labels))}


def _theory(ax, theory, x, labels):
    r"""Draw each ``label`` curve of a theory frame (columns x, value, label, kind); remember its label."""
    if theory is None or len(theory) == 0:
        return
    curve = [c for c in CURVE_COLUMNS if c in theory.columns and c != x]
    for (label, kind), g in theory.groupby(["label", "kind"], sort=False):
        for _, part in (g.groupby(curve) if curve else [(None, g)]):
            part = part.sort_values(x)
            ax.plot(part[x], part["value"], **THEORY_STYLE[kind])
        labels[label] = kind


def ter_gap_vs_steps(df, ax, *, bounds=None):
    r"""TER gap (nats/token) against N, one colour per L, with 95% error bars; ``bounds`` overlays theory.

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep rows with ``steps``, ``length``, ``ter_gap`` and ``ter_gap_se``; rows with an infinite or
        non-positive gap are not drawn (they are counted in the verdicts).
    ax : matplotlib.axes.Axes
    bounds : pandas.DataFrame, optional
        Theory curves with columns ``steps``, ``value``, ``label``, ``kind`` (a key of
        :data:`THEORY_STYLE`), e.g. :func:`analysis.sweep_report.feng_curves`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(df, "df", ("length", "steps", "ter_gap"))
    d = df[np.isfinite(df["ter_gap"]) & (df["ter_gap"] > GAP_FLOOR)].copy()
    d["variant"] = variant_labels(d)
    colours, styles, labels = length_colours(d["length"]), _styles(d["variant"]), {}
    p = _pooled(d, ["variant", "length", "steps"], "ter_gap", "se")
    floor = 0.3 * float(p["v"].min()) if len(p) else 1e-3  # a bar reaching 0 runs off the log axis
    for (var, L), g in p.groupby(["variant", "length"]):
        ls, mk = styles[var]
        ax.errorbar(g["steps"], g["v"], yerr=[g["v"] - g["lo"].clip(lower=floor), g["hi"] - g["v"]],
                    color=colours[L], ls=ls, marker=mk, ms=4, capsize=2, lw=1.2, zorder=3)
    _theory(ax, bounds, "steps", labels)
    log2_axis(ax, "x", d["steps"])
    log10_axis(ax, "y")
    if len(p):
        ax.set_ylim(bottom=floor)
    ax.set(xlabel="sampling steps $N$", ylabel=r"TER gap $\log\mathrm{TER} - H/L$ (nats/token)")
    if d.empty:
        ax.text(0.5, 0.5, "no finite TER gap in these data", transform=ax.transAxes, ha="center")
    return _legend(ax, colours, styles, labels, title="bars: 95% interval")


def ser_vs_steps(df, ax, *, x="steps_per_length", theory=None):
    r"""SER against N/L (or N), one colour per L with its 95% Clopper-Pearson band; closed forms dashed.

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep rows with ``steps``, ``length``, ``ser``, ``ser_low``, ``ser_high`` (and, optionally,
        ``ser_closed_form``).
    ax : matplotlib.axes.Axes
    x : {"steps_per_length", "steps"}
        N/L (curves of different L should collapse when N grows linearly in L) or N.
    theory : pandas.DataFrame, optional
        Closed-form curves with columns ``length``, ``steps``, ``value``, ``label``, ``kind`` and the
        variant columns (e.g. :func:`analysis.sweep_report.closed_form_curves`); by default the
        ``ser_closed_form`` values of ``df`` at its own N.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if x not in ("steps_per_length", "steps"):
        raise ValueError(f"x must be 'steps_per_length' or 'steps', got {x!r}")
    _check_columns(df, "df", ("length", "steps", "ser", "ser_low", "ser_high"))
    d = df.assign(variant=variant_labels(df), steps_per_length=df["steps"] / df["length"])
    colours, styles, labels = length_colours(d["length"]), _styles(d["variant"]), {}
    p = _pooled(d, ["variant", "length", "steps"], "ser", "interval")
    p["steps_per_length"] = p["steps"] / p["length"]
    for (var, L), g in p.groupby(["variant", "length"]):
        ls, mk = styles[var]
        ax.fill_between(g[x], g["lo"], g["hi"], color=colours[L], alpha=0.18, lw=0, zorder=1)
        ax.plot(g[x], g["v"], color=colours[L], ls=ls, marker=mk, ms=4, lw=1.2, zorder=3)
    if theory is None and "ser_closed_form" in d:
        cf = d.dropna(subset=["ser_closed_form"])
        theory = cf.assign(value=cf["ser_closed_form"], label="closed form (theory)", kind="closed form")
    elif theory is not None and len(theory):
        theory = theory.assign(steps_per_length=theory["steps"] / theory["length"])
    _theory(ax, theory, x, labels)
    log2_axis(ax, "x", p[x])
    ax.set(xlabel="$N / L$" if x == "steps_per_length" else "sampling steps $N$",
           ylabel=r"$\mathrm{SER}$ (fraction outside the support)", ylim=(-0.02, 1.02))
    return _legend(ax, colours, styles, labels, title="bands: 95% interval")


def ser_heatmap(df, ax, *, n_star_line=None):
    r"""Mean SER over (L, N/L) with each cell's value; ``n_star_line`` (L, N*/L) draws a threshold.

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep rows of one language, schedule and policy (``length``, ``steps``, ``ser``).
    ax : matplotlib.axes.Axes
    n_star_line : (array_like, array_like), optional
        L values and N*(L)/L (e.g. the exact N* of a closed form); points outside the grid's N/L range
        are left out.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(df, "df", ("length", "steps", "ser"))
    d = df.assign(steps_per_length=(df["steps"] / df["length"]).round(6))
    grid = d.pivot_table(index="length", columns="steps_per_length", values="ser", aggfunc="mean")
    sns.heatmap(grid, ax=ax, cmap="magma_r", vmin=0, vmax=1, annot=grid.size <= 64, fmt=".2f",
                cbar_kws={"label": r"$\mathrm{SER}$"})
    ax.set_xticklabels([tick_text(float(c)) for c in grid.columns], rotation=0)
    ax.set_yticklabels([str(int(L)) for L in grid.index], rotation=0)
    if n_star_line is not None and grid.shape[1] >= 2:
        cols = np.log(grid.columns.values.astype(float))
        Ls, ratio = (np.asarray(a, dtype=float) for a in n_star_line)
        log_ratio = np.log(np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan))
        keep = np.isin(Ls, grid.index.values) & (log_ratio >= cols.min()) & (log_ratio <= cols.max())
        if keep.any():
            xs = np.interp(log_ratio[keep], cols, np.arange(len(cols))) + 0.5
            ys = [list(grid.index).index(L) + 0.5 for L in Ls[keep]]
            ax.plot(xs, ys, color="#56B4E9", marker="o", lw=2, zorder=6, label=r"exact $N^*(L)/L$ (closed form)")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="x-small", frameon=False)
    ax.set(xlabel="$N / L$", ylabel="$L$")
    return ax


def n_star_vs_length(nstar, ax, *, exact=None):
    r"""N*(L) with its interval on base-2 log axes, one colour per curve; censored points as triangles.

    Parameters
    ----------
    nstar : pandas.DataFrame
        Rows of :func:`analysis.verdicts.n_star_grid` or :func:`analysis.nstar.run_n_star`
        (``language``, ``schedule``, ``statistic``, ``target``, ``length``, ``n_star``, ``n_star_low``,
        ``n_star_high``, ``censored``). A point censored above (N* beyond the largest N tried) is an
        upward triangle at its lower end, one censored below a downward triangle at its upper end.
    ax : matplotlib.axes.Axes
    exact : pandas.DataFrame, optional
        Exact N*(L) (columns ``length``, ``value``, ``label`` and the curve columns), drawn dashed
        (e.g. :func:`analysis.sweep_report.exact_n_star_curves`).

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(nstar, "nstar", ("length", "n_star", "n_star_low", "n_star_high", "censored"))
    keys = [c for c in ("language", "schedule", "policy", "statistic", "target") if c in nstar.columns]
    hue = [c for c in keys if c in VARIANT_COLUMNS]  # colour: language and schedule; style: the target
    groups = list(nstar.groupby(keys)) if len(nstar) else []
    whose = [tuple(_as_tuple(k)[keys.index(c)] for c in hue) for k, _ in groups]
    colours = dict(zip(dict.fromkeys(whose), sns.color_palette(PALETTE, max(len(set(whose)), 1))))
    styles = _styles([tuple(_as_tuple(k)[i] for i, c in enumerate(keys) if c not in hue) for k, _ in groups])
    labels = {}
    for (key, g), who in zip(groups, whose):
        key = _as_tuple(key)
        colour, (ls, mk) = colours[who], styles[tuple(k for k, c in zip(key, keys) if c not in hue)]
        g = g.sort_values("length")
        ok = g[(g["censored"].fillna("") == "") & np.isfinite(g["n_star"]) & np.isfinite(g["n_star_high"])]
        name = _curve_name(dict(zip(keys, key)))
        err = [ok["n_star"] - ok["n_star_low"], ok["n_star_high"] - ok["n_star"]]
        ax.errorbar(ok["length"], ok["n_star"], yerr=err, color=colour, ls=ls, marker=mk, ms=4, capsize=2, lw=1.2,
                    label=name, zorder=3)
        for flag, col, tri in (("above", "n_star_low", "^"), ("below", "n_star_high", "v")):
            c = g[g["censored"] == flag]
            if len(c):
                ax.plot(c["length"], c[col], ls="none", marker=tri, mfc="none", color=colour, ms=7, zorder=3)
    _theory(ax, exact, "length", labels)
    for label, kind in labels.items():
        ax.plot([], [], label=label, **THEORY_STYLE[kind])
    shown = nstar[np.isfinite(nstar["n_star"])] if len(nstar) else nstar
    log2_axis(ax, "x", nstar["length"] if len(nstar) else [])
    log2_axis(ax, "y", np.concatenate([shown["n_star"].values if len(shown) else [],
                                       exact["value"].values if exact is not None and len(exact) else []]))
    ax.set(xlabel="length $L$", ylabel="$N^*(L)$ (sampling steps)")
    if not ax.get_legend_handles_labels()[0]:  # say so on the figure instead of an empty legend
        ax.text(0.5, 0.5, "no N*(L) in these data", transform=ax.transAxes, ha="center")
    else:
        if (nstar["censored"].fillna("") != "").any():
            ax.plot([], [], ls="none", marker="^", mfc="none", color="0.3",
                    label="open triangle: censored, $N^*$ beyond the $N$ tried")
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax


def _as_tuple(key):
    return key if isinstance(key, tuple) else (key,)


def _curve_name(key):
    stat = {"ser": r"$\mathrm{SER} \leq$", "kl_per_token": r"$\mathrm{KL}/L \leq$"}.get(key.get("statistic"), "")
    parts = [language_name(key["language"])] if "language" in key else []
    parts += [str(key[c]) for c in ("schedule", "policy") if c in key and key[c] not in ("", "random")]
    if "target" in key:
        parts.append(f"{stat} {key['target']:g}".strip())
    return ", ".join(parts)


def kl_vs_bound(df, ax):
    r"""Measured E_M KL(q || p_M) (95% bars) against the Li & Cai bound, one colour per L; the dashed
    diagonal is equality (points below it: the bound holds there).

    Parameters
    ----------
    df : pandas.DataFrame
        Sweep rows with ``kl_q_pm``, ``kl_q_pm_se``, ``li_cai_bound`` and ``length`` (a ``--kl`` sweep);
        cells without a bound (random counts) cannot be placed and are counted on the panel.
    ax : matplotlib.axes.Axes

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(df, "df", ("length", "kl_q_pm", "li_cai_bound"))
    d = df.dropna(subset=["kl_q_pm"])
    missing = int(d["li_cai_bound"].isna().sum())
    d = d.dropna(subset=["li_cai_bound"])
    d = d.assign(variant=variant_labels(d))
    colours, styles = length_colours(d["length"]), _styles(d["variant"])
    for (var, L), g in d.groupby(["variant", "length"]):
        ls, mk = styles[var]
        se = g["kl_q_pm_se"].fillna(0) if "kl_q_pm_se" in g else 0 * g["kl_q_pm"]
        ax.errorbar(g["li_cai_bound"], g["kl_q_pm"], yerr=1.96 * se, color=colours[L], ls="none", marker=mk, ms=5,
                    capsize=2, zorder=3)
    vals = np.concatenate([d["li_cai_bound"].values, d["kl_q_pm"].values]) if len(d) else np.array([1.0])
    positive = vals[vals > 0]
    lo, hi = (positive.min() / 1.5, positive.max() * 1.5) if positive.size else (1e-3, 1.0)
    log = positive.size == vals.size  # a zero (e.g. KL at N = L) keeps linear axes, from 0
    ax.plot([lo if log else 0.0, hi], [lo if log else 0.0, hi], **THEORY_STYLE["bound"])
    if log:
        log10_axis(ax, "x")
        log10_axis(ax, "y")
    ax.set(xlabel="Li & Cai bound (nats)", ylabel=r"measured $\mathbb{E}_M\,\mathrm{KL}(q\,\|\,p_M)$ (nats)")
    if missing:
        ax.text(0.02, 0.98, f"{missing} cells without a bound (random counts) not shown", transform=ax.transAxes,
                va="top", fontsize="x-small")
    return _legend(ax, colours, styles, {"KL = bound (below: the bound holds)": "bound"}, lines=False)


def learned_vs_exact(df, ax, *, feng=None):
    r"""In-support TER gap (solid) and SER (dashed, right axis) against N for each denoiser;
    ``feng`` (N, bound, bound + eps_learning) overlays the Feng bound without and with the learning error."""
    sns.lineplot(data=df, x="steps", y="ter_gap_in_support", hue="denoiser", marker="o", ax=ax, errorbar=None,
                 palette=PALETTE)
    if feng is not None:
        N, bound, with_eps = feng
        ax.plot(N, bound, label="Feng rate, unit constants (unverified)", **THEORY_STYLE["bound"])
        ax.plot(N, with_eps, label=r"Feng bound + $\varepsilon_\mathrm{learning}$", **THEORY_STYLE["fitted bound"])
    log2_axis(ax, "x", df["steps"])
    log10_axis(ax, "y")
    ax.set(xlabel="sampling steps $N$", ylabel="TER gap over in-support samples (nats/token)")
    ax.legend(fontsize="x-small", loc="lower left")
    twin = ax.twinx()
    for name, g in df.groupby("denoiser"):
        twin.plot(g["steps"], g["ser"], "--", marker="s", alpha=0.6, label=rf"$\mathrm{{SER}}$ {name}")
    twin.set(ylabel=r"$\mathrm{SER}$ (dashed)", ylim=(-0.02, 1.02))
    twin.legend(fontsize="x-small", loc="upper right")
    return ax


def learning_curve(history, ax):
    r"""eps_learning (mean and max KL over masked held-out positions) against training time."""
    ax.plot(history["seconds"] / 60, history["eps_learning"], "o-", label=r"mean KL ($\varepsilon_\mathrm{learning}$)")
    ax.plot(history["seconds"] / 60, history["eps_learning_max"], "s--", alpha=0.6, label="max KL")
    ax.axhline(0.05, color="k", lw=0.8, ls=":", label="0.05 nats")
    ax.set(yscale="log", xlabel="training time (minutes)",
           ylabel=r"$\mathrm{KL}(q\,\|\,p_\theta)$ per masked token (nats)")
    ax.legend(fontsize="small")
    return ax
