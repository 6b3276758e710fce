r"""From any sweep directories to tables, figures and a report (``mdmlab report --sweep``, ``table``, ``plot``).

Everything shown is read from the data: the languages (``synth.from_spec`` of each row's spec, a
language file resolved as given or next to its sweep), schedules, policies, L and N values. Theory
curves are built from those languages and schedules only where theory has them:

* closed-form SER (:func:`theory.closed_form_ser`: pair-copy, block-copy, all-equal) on a dense N grid
  (:func:`closed_form_curves`) and the exact N*(L) it implies (:func:`exact_n_star_curves`);
* Feng et al.'s TER rate for n-gram languages (:func:`feng_curves`): the unit-constant bound, the
  trivial bound log V, and the rate scaled by A = max over the data of gap / rate, which lies on or
  above every point by construction (a bound through the worst point, never a least-squares line);
* the Li & Cai bound, already a column of a ``--kl`` sweep.

The preset reports (:mod:`analysis.report`) draw and write through the same functions
(:func:`write_figures`, :func:`write_table`).
"""
import json
import math
import os
import shlex
import sys
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mdmlab.analysis import figures, tables
from mdmlab.analysis.manifest import manifest

#: table name -> (quantities of :data:`analysis.tables.QUANTITIES`, caption head)
TABLE_KINDS = {
    "ter": (("ter_gap", "log_ter", "entropy_per_token", "nfe"), "Token error rate gap against N"),
    "ser": (("ser", "ser_closed_form", "nfe"), "Sequence error rate against N"),
    "kl": (("kl_q_pm", "li_cai_bound"), r"Measured E_M KL(q || p_M) and the Li & Cai bound"),
    "n_star": (("n_star",), "Least N reaching the target, N*(L), with its 95% interval"),
    "verdicts": ((), "Verdicts of the claims (holds: the whole 95% interval inside the acceptance region)"),
}
VERDICT_COLUMNS = ["claim", "language", "schedule", "statistic", "measured", "acceptance", "verdict", "cells",
                   "censored"]
DELTA = 0.5
_LANGS = {}


# ---- reading sweeps and their languages -----------------------------------------------------

def load_sweeps(dirs, *, delta=DELTA):
    r"""(rows, nstar) of sweep and n-star directories: ``results.csv`` rows concatenated, and the
    ``nstar.csv`` rows, or without any, N*(L, ``delta``) from the SER grid with its interval."""
    from mdmlab.analysis import verdicts as vd
    from mdmlab.analysis.verdicts_cli import load_dirs

    df, nstar = load_dirs(dirs)
    if nstar is None and not df.empty and "ser_low" in df:
        nstar = vd.n_star_grid(df, delta)
    return df, nstar


def language_of(spec, dirs=()):
    r"""The language of ``spec`` (a spec, or a file path as given or relative to one of ``dirs``), or
    None when it cannot be read (a file moved since the sweep): its rows are then shown without theory."""
    return _resolve(spec, tuple(map(str, dirs)))[1]


def _resolve(spec, dirs):
    r"""(the spec or path that reads, its language), or (None, None); cached per (spec, dirs) and the
    file's modification time (an edited language file is read again)."""
    from mdmlab import synth

    key = (spec, dirs, os.stat(spec).st_mtime_ns if os.path.isfile(spec) else None)
    if key not in _LANGS:
        _LANGS[key] = (None, None)
        for candidate in [spec, *(os.path.join(d, spec) for d in dirs)]:
            try:
                _LANGS[key] = (candidate, synth.from_spec(candidate))
                break
            except (ValueError, TypeError, KeyError, OSError):
                continue
    return _LANGS[key]


def language_label(spec, dirs=()):
    r"""A short name: ``trigram V=8, 50% sparse`` for a spec; for a file, the same read from the language
    itself (``bigram V=3, 33% zeros (lang.json)``), or the file's base name when it cannot be read."""
    name = tables.short_name(spec)
    if name != spec:
        return name
    lang = language_of(spec, dirs)
    base = os.path.basename(str(spec))
    if lang is None:
        return base
    if getattr(lang, "spec", None) is not None:
        return f"{tables.short_name(str(lang.spec))} ({base})"
    return f"{_describe(lang)} ({base})"


def _describe(lang):
    from mdmlab import synth

    if isinstance(lang, synth.NGramLanguage):
        names = {1: "unigram", 2: "bigram", 3: "trigram"}
        zeros = float(np.mean(np.asarray(lang.table) == 0))
        return (f"{names.get(lang.order, f'{lang.order}-gram')} V={lang.vocab_size}"
                + (f", {zeros:.0%} zeros" if zeros else ""))
    if isinstance(lang, synth.HMMLanguage):
        return f"HMM K={lang.num_states}, V={lang.vocab_size}"
    return type(lang).__name__


def labelled(df, dirs=()):
    r"""``df`` with its ``language`` column replaced by :func:`language_label` (for display only)."""
    if df is None or df.empty or "language" not in df:
        return df
    names = {spec: language_label(spec, dirs) for spec in df["language"].unique()}
    return df.assign(language=df["language"].map(names))


# ---- theory curves from the languages and schedules in the data -----------------------------

def closed_form_curves(df, *, points=48, dirs=()):
    r"""Closed-form SER on a dense N grid for every (language, schedule, policy, L) of ``df`` that has one
    (at the data's N only for fixed-count schedules, whose SER jumps between neighbouring N).

    Returns
    -------
    pandas.DataFrame
        Columns ``language``, ``schedule``, ``policy``, ``length``, ``steps``, ``value`` (exact SER),
        ``label``, ``kind`` ("closed form"); empty where no language of ``df`` has a closed form.
    """
    from mdmlab import theory
    from mdmlab.models import schedules

    rows = []
    for (spec, sched, pol, L), g in df.groupby(["language", "schedule", "policy", "length"]):
        lang = language_of(spec, dirs)
        lo, hi = int(g["steps"].min()), int(g["steps"].max())
        grid = np.unique(np.concatenate([np.rint(np.geomspace(lo, hi, points)), g["steps"].values]).astype(int))
        try:
            if schedules.resolve(sched, int(L), hi).kind == "fixed":  # a staircase in N: at the data's N only
                grid = np.unique(g["steps"].values.astype(int))
            values = [theory.closed_form_ser(lang, schedules.resolve(sched, int(L), int(N)), policy=pol)
                      for N in grid] if lang is not None else [None]
        except (ValueError, TypeError):
            continue
        if any(v is None for v in values):
            continue
        rows += [{"language": spec, "schedule": sched, "policy": pol, "length": int(L), "steps": int(N), "value": v}
                 for N, v in zip(grid, values)]
    out = pd.DataFrame(rows, columns=["language", "schedule", "policy", "length", "steps", "value"])
    return out.assign(label="closed form (theory)", kind="closed form")


def feng_curves(df, *, points=50, dirs=()):
    r"""Feng et al.'s TER rate for each n-gram language of ``df`` (order n >= 2), over its N range.

    Three curves per language (``kind`` in parentheses): the bound with unit constants
    4 log V ((n-1)/N)^(1/n) ("bound"); the trivial bound log V ("trivial"); and A times the rate with
    A = max over the finite positive gaps of gap / rate ("fitted bound"), the smallest constant for
    which the rate lies on or above every measured point.

    Returns
    -------
    pandas.DataFrame with columns ``language``, ``steps``, ``value``, ``label``, ``kind``.
    """
    from mdmlab import synth, theory

    rows = []
    several = df["language"].nunique() > 1
    for spec, g in df.groupby("language"):
        lang = language_of(spec, dirs)
        g = g[np.isfinite(g["ter_gap"]) & (g["ter_gap"] > figures.GAP_FLOOR)]
        if not isinstance(lang, synth.NGramLanguage) or lang.order < 2 or g.empty:
            continue
        n, V = lang.order, lang.vocab_size
        N = np.geomspace(g["steps"].min(), g["steps"].max(), points)
        rate = theory.FENG_TER.evaluate(order=n, vocab=V, steps=N)  # c_steps = c_excess = 1
        A = float(np.max(g["ter_gap"] / theory.FENG_TER.evaluate(order=n, vocab=V, steps=g["steps"].values)))
        who = f"{language_label(spec, dirs)}: " if several else ""
        feng = rf"{who}Feng rate, unit constants (unverified): $4\log V\,(\frac{{n-1}}{{N}})^{{1/n}}$"
        curves = [(rate, feng, "bound"),
                  (np.full_like(N, math.log(V)), rf"{who}trivial bound $\log V$", "trivial"),
                  (A * rate, rf"{who}$A\times$rate, $A = \max\,$gap/rate$\,= {A:.3g}$", "fitted bound")]
        rows += [{"language": spec, "steps": x, "value": y, "label": label, "kind": kind}
                 for values, label, kind in curves for x, y in zip(N, values)]
    return pd.DataFrame(rows, columns=["language", "steps", "value", "label", "kind"])


def exact_n_star_curves(nstar, *, dirs=()):
    r"""Exact N*(L) (least N with closed-form SER <= the target) at the L of each SER curve of ``nstar``
    whose language and schedule have a closed form (:func:`analysis.verdicts.exact_n_star`)."""
    from mdmlab.analysis import verdicts as vd

    rows = []
    cols = ["language", "schedule", "policy", "statistic", "target"]
    if nstar is not None and len(nstar):
        for (spec, sched, pol, stat, t), g in nstar[nstar["statistic"] == "ser"].groupby(cols):
            lang = language_of(spec, dirs)
            for L in sorted(g["length"].unique()):
                try:
                    e = vd.exact_n_star(lang, sched, int(L), t, pol) if lang is not None else None
                except (ValueError, TypeError):
                    e = None
                if e is not None and math.isfinite(e):
                    rows.append({"language": spec, "schedule": sched, "policy": pol, "statistic": stat, "target": t,
                                 "length": int(L), "value": float(e)})
    out = pd.DataFrame(rows, columns=[*cols, "length", "value"])
    return out.assign(label=r"exact $N^*(L)$ (closed form)", kind="closed form")


# ---- figures ------------------------------------------------------------------------------------

def _panels(n, *, width=6.6, height=4.2):
    cols = min(n, 3)
    fig = Figure(figsize=(width * cols, height * math.ceil(n / cols)), layout="constrained")
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _title(fig, axes, title, labels=None):
    r"""``title`` over the figure, wrapped to its width; with several panels each gets its ``labels``."""
    fig.suptitle(textwrap.fill(title, int(fig.get_figwidth() * 12)), fontsize="medium")
    for ax, label in zip(axes, labels if len(axes) > 1 else ()):
        ax.set_title(label, fontsize="small")


def _names(df, col):
    return ", ".join(sorted(map(str, df[col].unique()))) if col in df and len(df) else ""


def _setting(df):
    r"""``schedules: linear, cosine; policy: random`` for the title."""
    parts = []
    for col, word in (("schedule", "schedule"), ("policy", "policy")):
        if col in df and len(df):
            vals = _names(df, col)
            parts.append(f"{word}{'s' if df[col].nunique() > 1 else ''}: {vals}")
    return "; ".join(parts)


def _by_language(df, dirs):
    return [(spec, language_label(spec, dirs), g) for spec, g in df.groupby("language")]


def plot_ter_gap(df, *, dirs=()):
    r"""TER gap against N, one panel per language with a finite gap, Feng's rate where it applies."""
    if df is None or "ter_gap" not in df:
        return None
    d = df[np.isfinite(df["ter_gap"]) & (df["ter_gap"] > figures.GAP_FLOOR)]
    if d.empty:
        return None
    groups = _by_language(d, dirs)
    fig, axes = _panels(len(groups))
    for ax, (spec, label, g) in zip(axes, groups):
        figures.ter_gap_vs_steps(labelled(g, dirs), ax, bounds=feng_curves(g, dirs=dirs))
    title = f"TER gap vs $N$: {', '.join(label for _, label, _ in groups)} ({_setting(d)})"
    _title(fig, axes, title, [label for _, label, _ in groups])
    return fig, title


def plot_ser(df, *, dirs=()):
    r"""SER against N/L (N when one L), one panel per language, closed forms where theory has them."""
    if df is None or "ser" not in df or df.empty:
        return None
    x = "steps_per_length" if df["length"].nunique() > 1 else "steps"
    zero = [label for _, label, g in _by_language(df, dirs) if (g["ser"] == 0).all()]
    df = df[df.groupby("language")["ser"].transform("max") > 0]
    if df.empty:
        return None
    theory = closed_form_curves(df, dirs=dirs)
    groups = _by_language(df, dirs)
    fig, axes = _panels(len(groups))
    for ax, (spec, label, g) in zip(axes, groups):
        figures.ser_vs_steps(labelled(g, dirs), ax, x=x, theory=labelled(theory[theory["language"] == spec], dirs))
    what = "$N/L$" if x == "steps_per_length" else "$N$"
    title = f"SER vs {what}: {', '.join(label for _, label, _ in groups)} ({_setting(df)})" + (
        f"; SER = 0 in every cell of {', '.join(zero)}" if zero else "")
    _title(fig, axes, title, [label for _, label, _ in groups])
    return fig, title


def plot_ser_heatmap(df, *, delta=DELTA, dirs=(), max_panels=9):
    r"""Mean SER over (L, N/L), one panel per (language, schedule, policy) with at least two L and two
    N/L values (the first ``max_panels``), with the exact N*(L, ``delta``)/L where a closed form exists."""
    from mdmlab.analysis import verdicts as vd

    if df is None or "ser" not in df or df.empty:
        return None
    ok = [(key, g) for key, g in df.groupby(["language", "schedule", "policy"])
          if g["length"].nunique() >= 2 and (g["steps"] / g["length"]).round(6).nunique() >= 2 and g["ser"].max() > 0]
    if not ok:
        return None
    shown = ok[:max_panels]
    fig, axes = _panels(len(shown))
    names = []
    for ax, ((spec, sched, pol), g) in zip(axes, shown):
        lang, Ls = language_of(spec, dirs), np.array(sorted(g["length"].unique()))
        exact = [vd.exact_n_star(lang, sched, int(L), delta, pol) if lang is not None else None for L in Ls]
        line = None if any(e is None for e in exact) else (Ls, np.array(exact, dtype=float) / Ls)
        figures.ser_heatmap(g, ax, n_star_line=line)
        names.append(f"{language_label(spec, dirs)}, {sched}" + (f", {pol}" if pol != "random" else ""))
    more = f" (first {len(shown)} of {len(ok)})" if len(ok) > len(shown) else ""
    title = f"SER over ($L$, $N/L$){more}: {'; '.join(names)}" if len(shown) == 1 else \
        f"SER over ($L$, $N/L$){more}; line: exact $N^*$ at SER $= {delta:g}$"
    _title(fig, axes, title, names)
    return fig, title


def plot_n_star(nstar, *, dirs=()):
    r"""N*(L) with its interval for every curve of ``nstar``, exact N* dashed where a closed form exists."""
    if nstar is None or nstar.empty:
        return None
    fig, (ax,) = _panels(1, width=8.0, height=4.6)
    exact = exact_n_star_curves(nstar, dirs=dirs)
    figures.n_star_vs_length(labelled(nstar, dirs), ax, exact=labelled(exact, dirs))
    langs = ", ".join(language_label(s, dirs) for s in sorted(nstar["language"].unique()))
    title = f"$N^*(L)$ with its 95% interval: {langs}"
    _title(fig, [ax], title)
    return fig, title


def plot_kl(df, *, dirs=()):
    r"""Measured E_M KL(q || p_M) against the Li & Cai bound (a ``--kl`` sweep), one colour per L."""
    if df is None or "kl_q_pm" not in df or df["kl_q_pm"].isna().all():
        return None
    d = df.dropna(subset=["kl_q_pm"])
    d = d if "li_cai_bound" in d else d.assign(li_cai_bound=np.nan)
    fig, (ax,) = _panels(1, width=8.0, height=4.6)
    figures.kl_vs_bound(labelled(d, dirs), ax)
    langs = ", ".join(language_label(s, dirs) for s in sorted(d["language"].unique()))
    title = f"Measured KL vs the Li & Cai bound: {langs} ({_setting(d)})"
    _title(fig, [ax], title)
    return fig, title


#: figure kind -> (file stem, builder); a builder takes ({"ter", "ser", "kl", "nstar"} -> frame, the sweep
#: folders, the SER target) and returns (Figure, title), or None when the data hold nothing to draw.
PLOTS = {"ter-gap": ("fig1_ter_gap", lambda data, dirs, delta: plot_ter_gap(data["ter"], dirs=dirs)),
         "ser": ("fig2_ser_collapse", lambda data, dirs, delta: plot_ser(data["ser"], dirs=dirs)),
         "ser-heatmap": ("fig3_ser_heatmap",
                         lambda data, dirs, delta: plot_ser_heatmap(data["ser"], delta=delta, dirs=dirs)),
         "n-star": ("fig4_n_star", lambda data, dirs, delta: plot_n_star(data["nstar"], dirs=dirs)),
         "kl": ("fig5_kl_bound", lambda data, dirs, delta: plot_kl(data["kl"], dirs=dirs))}


def save_figure(fig, path):
    r"""Write ``fig`` as PNG and PDF at ``path`` (its extension, if any, is replaced); returns both paths."""
    base = os.path.splitext(os.fspath(path))[0]
    os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        fig.savefig(f"{base}.{ext}", dpi=130)
        out.append(f"{base}.{ext}")
    return out


def write_figures(out_dir, *, ter=None, ser=None, kl=None, nstar=None, dirs=(), delta=DELTA):
    r"""Every figure of :data:`PLOTS` the data allow, into ``out_dir/figures`` (PNG and PDF).

    Returns
    -------
    (drawn, skipped) : list of (file stem, title), list of figure kinds with nothing to draw
    """
    data = {"ter": ter, "ser": ser, "kl": kl, "nstar": nstar}
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    drawn, skipped = [], []
    for kind, (stem, build) in PLOTS.items():
        made = build(data, tuple(dirs), delta)
        if made is None:
            skipped.append(kind)
            continue
        fig, title = made
        save_figure(fig, os.path.join(out_dir, "figures", stem))
        drawn.append((stem, title))
    return drawn, skipped


# ---- tables -------------------------------------------------------------------------------------

def table_views(name, df, *, dirs=()):
    r"""(tidy rows, display frame, caption) of table ``name`` (a key of :data:`TABLE_KINDS`), or None
    when ``df`` holds nothing for it. The display has one ``value ± error`` cell per quantity
    (:func:`analysis.tables.paper_table`) and short language names."""
    if df is None or df.empty:
        return None
    quantities, what = TABLE_KINDS[name]
    if name == "verdicts":
        shown = labelled(df, dirs).drop(columns=["samples"], errors="ignore")  # per verdict, not per cell
        return df, _verdict_display(shown), tables.caption_for(shown, what)
    if name == "kl":
        df = df.dropna(subset=["kl_q_pm"]) if "kl_q_pm" in df else df.iloc[:0]
    if name == "n_star":
        return _n_star_views(df, what, dirs)
    qs = [q for q in quantities if q in df.columns and not df[q].isna().all()]
    if df.empty or not qs or qs[0] not in quantities[:1]:
        return None
    shown = labelled(df, dirs)
    return df, tables.paper_table(shown, qs), tables.caption_for(shown, what)


def _n_star_views(nstar, what, dirs):
    shown, parts = labelled(nstar, dirs), []
    for (stat, t), g in shown.groupby(["statistic", "target"]):
        crit = {"ser": "SER", "kl_per_token": "KL/L"}.get(stat, stat)
        part = tables.paper_table(g, ["n_star"])
        part.insert(0, "target", f"{crit} <= {t:g}")
        parts.append(part)
    return nstar, pd.concat(parts, ignore_index=True), tables.caption_for(shown, what)


def _verdict_display(v):
    d = v.copy()
    d["measured"] = [f"{m:.3g} [{lo:.3g}, {hi:.3g}]" if np.isfinite(m) or np.isfinite(lo) else "--"
                     for m, lo, hi in zip(v["measured"], v["low"], v["high"])]
    return d[[c for c in VERDICT_COLUMNS if c in d]].fillna("")


def write_table(out_dir, name, tidy, display, caption):
    r"""``out_dir/tables/NAME.csv`` (the tidy rows), ``.tex`` (booktabs table with caption and label
    ``tab:NAME``) and ``.md`` (the display frame); returns the three paths."""
    base = os.path.join(out_dir, "tables", name)
    os.makedirs(os.path.dirname(base), exist_ok=True)
    tidy.to_csv(base + ".csv", index=False)
    with open(base + ".tex", "w") as fh:
        fh.write(latex(display, caption=caption, label=f"tab:{name}"))
    with open(base + ".md", "w") as fh:
        fh.write(display.to_markdown(index=False))
    return [base + ext for ext in (".csv", ".tex", ".md")]


def latex(display, *, caption, label):
    r"""A booktabs ``table``: :func:`analysis.tables.to_latex`, except for the verdict table, whose prose
    columns (statistic, censored) are wrapped paragraph columns."""
    caption = tables.latex_text(caption)
    if "statistic" not in display.columns:
        return tables.to_latex(display, caption=caption, label=label)
    wide = {"statistic": "p{5cm}", "censored": "p{3cm}", "cells": "r"}
    align = "".join(wide.get(c, "l") for c in display.columns)
    styler = (display.style.hide(axis="index")
              .format(lambda t: str(t).replace("<=", r"$\le$").replace(">=", r"$\ge$").replace("|", r"\textbar{}"),
                      escape="latex")
              .format_index(escape="latex", axis=1))
    return styler.to_latex(caption=caption, label=label, hrules=True, column_format=align, position="htbp",
                           position_float="centering")


def _formatted(df):
    return df.map(lambda v: f"{v:.4g}" if isinstance(v, float) else v)


def write_tables(out_dir, frames, *, dirs=()):
    r"""Every table of ``frames`` ({name: tidy frame}) that has rows; returns {name: display frame}."""
    shown = {}
    for name, df in frames.items():
        views = table_views(name, df, dirs=dirs) if name in TABLE_KINDS else (
            (df, _formatted(df), f"Table {name}") if df is not None and len(df) else None)
        if views is None:
            continue
        tidy, display, caption = views
        write_table(out_dir, name, tidy, display, caption)
        shown[name] = display
    return shown


# ---- the report ---------------------------------------------------------------------------------

def make_sweep_report(dirs, out_dir, *, delta=DELTA, command=None):
    r"""REPORT.md, tables (CSV, booktabs LaTeX, Markdown), figures (PNG, PDF), the verdicts and
    manifest.json in ``out_dir`` for the sweep and n-star directories ``dirs``; returns the verdicts."""
    dirs = [os.fspath(d) for d in dirs]
    df, nstar = load_sweeps(dirs, delta=delta)
    verdicts, unread = _verdicts(df, nstar, dirs)
    figs, skipped = write_figures(out_dir, ter=df, ser=df, kl=df, nstar=nstar, dirs=dirs, delta=delta)
    shown = write_tables(out_dir, {"verdicts": verdicts, "ter": df, "ser": df, "n_star": nstar, "kl": df}, dirs=dirs)
    command = command or "mdmlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    info = manifest(command=command, sweeps=dirs, delta=delta, cells=int(len(df)),
                    languages=sorted(df["language"].unique().tolist()) if len(df) else [],
                    sweep_manifests={d: _read_manifest(d) for d in dirs})
    with open(os.path.join(out_dir, "REPORT.md"), "w") as fh:
        fh.write(_markdown(dirs, df, info, verdicts, shown, figs, skipped, unread))
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(info, fh, indent=1, default=str)
    return verdicts


def _verdicts(df, nstar, dirs):
    r"""The verdicts on the rows whose language can be read (a file path resolved as given or next to
    its sweep; rows keep the spec they were run with), and the specs that could not be read."""
    from mdmlab.analysis import verdicts as vd

    specs = set(df["language"]) if len(df) else set()
    specs |= set(nstar["language"]) if nstar is not None and len(nstar) else set()
    where = {s: _resolve(s, tuple(dirs))[0] for s in specs}
    unread = sorted(s for s, w in where.items() if w is None)

    def readable(t):
        if t is None or t.empty:
            return t
        t = t[~t["language"].isin(unread)]
        return t.assign(language=t["language"].map(where))

    v = vd.verdicts(readable(df), readable(nstar))
    back = {w: s for s, w in where.items() if w is not None}
    return v.assign(language=v["language"].map(lambda w: back.get(w, w))), unread


def _read_manifest(d):
    path = os.path.join(d, "manifest.json")
    if not os.path.isfile(path):
        return None
    with open(path) as fh:
        m = json.load(fh)
    return {k: m.get(k) for k in ("config", "git_revision", "created", "languages")}


def data_summary(df, dirs=()):
    r"""Lines of Markdown naming what the rows hold: languages, schedules, policies, L, N, samples."""
    if df.empty:
        return ["No sweep rows (only N* searches)."]
    langs = ", ".join(f"{language_label(s, dirs)} (`{s}`)" for s in sorted(df["language"].unique()))
    Ls = ", ".join(map(str, sorted(df["length"].unique())))
    Ns = ", ".join(map(str, sorted(df["steps"].unique())))
    lo, hi = int(df["samples"].min()), int(df["samples"].max())
    reps = f"; replicates: {df['seed'].nunique()}" if "seed" in df else ""
    return [f"- {len(df)} cells; languages: {langs}", f"- {_setting(df)}{reps}",
            f"- L = {Ls}; N = {Ns}", f"- samples per cell: {lo if lo == hi else f'{lo}-{hi}'}"]


def _markdown(dirs, df, info, v, shown, figs, skipped, unread=()):
    counts = ", ".join(f"{int((v['verdict'] == k).sum())} {k}" for k in ("holds", "violated", "inconclusive",
                                                                          "vacuous"))
    lines = [f"# mdmlab report: {', '.join(f'`{d}`' for d in dirs)}", "",
             f"Regenerate with `{info['command']}` (git {info['git_revision']}; created {info['created']}).", "",
             *data_summary(df, dirs), "",
             f"**Verdicts** ({counts}): rules and acceptance regions in `mdmlab.analysis.verdicts`; "
             "holds only when the whole 95% interval lies inside the region.", ""]
    if unread:
        lines += [f"No verdicts and no theory for {', '.join(f'`{s}`' for s in unread)}: the language could not "
                  "be read (a file moved since the sweep?); its rows are shown without theory.", ""]
    if "verdicts" in shown:
        lines += [shown["verdicts"].to_markdown(index=False), ""]
    for stem, title in figs:
        lines += [f"## {title}", "", f"![{title}](figures/{stem}.png)", ""]
    if skipped:
        lines += [f"Not drawn (nothing in these data for them): {', '.join(skipped)}.", ""]
    for name in [n for n in ("ter", "ser", "n_star", "kl") if n in shown]:
        lines += [f"## Table: {name}", "", f"(also `tables/{name}.csv`, `tables/{name}.tex`)", "",
                  shown[name].to_markdown(index=False), ""]
    lines += ["## Provenance", "", "```", *(f"{k}: {val}" for k, val in info["packages"].items()), "```", ""]
    return "\n".join(lines)
