r"""``mdmlab report --preset samplers``: the peers' samplers (``models.presets``) on exact languages.

Tables (tidy, one row per cell) and figures:

* ``samplers_ser``: SER (Clopper-Pearson 95 %), the in-support TER gap (nats per token, mean with a
  1.96-standard-error interval; H(q)/L from ``language.entropy``), steps that revealed a token and
  denoiser calls under each peer's caching rule, for each preset and N, on pair-copy, the sparse
  trigram and a random sparse HMM at one length;
* ``samplers_ties``: LLaDA's low-confidence rule at T = 1 on pair-copy with each tie rule
  (``torch.topk`` on CUDA takes the lowest index first): ties between equally confident positions
  decide which pairs are revealed together;
* ``samplers_float32``: the exact probability that MDLM's float32 race (``_sample_categorical``)
  draws a token of probability 1e-6 at one step of N, over its true probability (every float32
  uniform enumerated), against float64's 1.

Nothing here changes the ``quick`` / ``full`` reports; this preset writes its own ``REPORT.md``.
"""
import json
import os
import time

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mdmlab import models
from mdmlab import synth
from mdmlab.analysis import metrics
from mdmlab.analysis.manifest import manifest
from mdmlab.models import presets

LANGUAGES = ("pair-copy:symbols=4", "ngram:order=3,vocab=8,sparsity=0.5,seed=1",
             "hmm:states=8,vocab=8,sparsity=0.75,seed=1")
LENGTH = 64
STEPS = (8, 16, 32, 64)
#: name -> N -> keyword arguments of models.sample (LLaDA with blocks of 32, as its README suggests)
PRESETS = {
    "MDLM ddpm_cache": lambda N: presets.mdlm(N),
    "LLaDA low_confidence T=0": lambda N: presets.llada(N, _block(), "low_confidence", 0.0),
    "LLaDA low_confidence T=1": lambda N: presets.llada(N, _block(), "low_confidence", 1.0),
    "LLaDA random T=1": lambda N: presets.llada(N, _block(), "random", 1.0),
    "Dream origin T=1": lambda N: presets.dream(N, "origin", 1.0),
    "Dream maskgit_plus T=1": lambda N: presets.dream(N, "maskgit_plus", 1.0),
    "Dream entropy T=1": lambda N: presets.dream(N, "entropy", 1.0),
    "Dream maskgit_plus T=1 alg_temp=0.1": lambda N: presets.dream(N, "maskgit_plus", 1.0, alg_temp=0.1),
}
TIES = ("lowest-index", "random", "highest-index")


def _block():
    """LLaDA's block length here: 32 (its README's choice), or L if shorter."""
    return min(32, LENGTH)
FLOAT32_STEPS = (8, 32, 100, 1000)
RARE = 1e-6


def preset_table(samples=1000, seed=0):
    """Tidy rows (language, preset, N, ser, ser_low, ser_high, ter_gap, ..., nfe, calls)."""
    rows = []
    for spec in LANGUAGES:
        lang = synth.from_spec(spec)
        h = lang.entropy(LENGTH, rng=[seed, LANGUAGES.index(spec)]).nats / LENGTH  # Monte Carlo for HMMs: seeded
        for name, make in PRESETS.items():
            for N in STEPS:
                res = models.sample(lang, LENGTH, size=samples, rng=[seed, N, LANGUAGES.index(spec)], **make(N))
                rows.append(_row(lang, res, h, language=spec, preset=name, N=N))
    return pd.DataFrame(rows)


def tie_table(samples=1000, seed=0):
    """LLaDA low_confidence T = 1 on pair-copy by tie rule (tidy)."""
    lang = synth.from_spec(LANGUAGES[0])
    h = lang.entropy(LENGTH, rng=[seed, 0]).nats / LENGTH
    rows = []
    for tie in TIES:
        for N in STEPS:
            kw = dict(presets.llada(N, _block(), "low_confidence", 1.0), tie=tie)
            res = models.sample(lang, LENGTH, size=samples, rng=[seed, N, TIES.index(tie)], **kw)
            rows.append(_row(lang, res, h, language=LANGUAGES[0], preset="LLaDA low_confidence T=1", tie=tie, N=N))
    return pd.DataFrame(rows)


def float32_table():
    r"""The exact float32 race probability of a token of probability 1e-6 at a step revealing with
    r = 1 / N (q = (1e-6 r, (1 - 1e-6) r, 1 - r), the mask last), over its float64 value."""
    u = (np.arange(2 ** 24, dtype=np.float64) * 2.0 ** -24).astype(np.float32)  # every torch.rand float32
    e = np.float32(1e-10) - np.log(u + np.float32(1e-10))
    rows = []
    for N in FLOAT32_STEPS:
        r = 1.0 / N
        qs, qb, qm = np.float32(RARE) * np.float32(r), np.float32(1 - RARE) * np.float32(r), np.float32(1 - r)
        rs = qs / e
        p = np.searchsorted(np.sort(qb / e), rs, side="left") / e.size  # the frequent token wins ties (earlier)
        p = p * np.searchsorted(np.sort(qm / e), rs, side="right") / e.size
        exact = float(qs) / (float(qs) + float(qb) + float(qm))
        rows.append(dict(N=N, token_prob=RARE, p_float64=exact, p_float32=float(p.mean()),
                         ratio=float(p.mean()) / exact))
    return pd.DataFrame(rows)


def _row(lang, res, h, **keys):
    s = metrics.ser(lang, res.tokens)
    ok = lang.in_support(res.tokens)
    gap = metrics.log_ter(lang, res.tokens[ok]) if ok.any() else None
    return dict(keys, ser=s.value, ser_low=s.low, ser_high=s.high,
                ter_gap=np.nan if gap is None else gap.value - h,
                ter_gap_low=np.nan if gap is None else gap.low - h,
                ter_gap_high=np.nan if gap is None else gap.high - h,
                nfe=float(np.mean(res.nfe)), calls=float(np.mean(res.calls)), samples=int(ok.size))


def ser_figure(df, ax):
    """SER vs N, one line per preset (takes a tidy table, computes nothing)."""
    for name, g in df.groupby("preset", sort=False):
        ax.errorbar(g["N"], g["ser"], yerr=[g["ser"] - g["ser_low"], g["ser_high"] - g["ser"]], marker="o",
                    label=name, capsize=2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("steps N")
    ax.set_ylabel("SER")
    return ax


def float32_figure(df, ax):
    """float32 / float64 probability of a rare token vs N."""
    ax.plot(df["N"], df["ratio"], marker="o")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("steps N (one step reveals with r = 1/N)")
    ax.set_ylabel("P_float32 / P (token of probability 1e-6)")
    return ax


def make_samplers_report(out_dir, *, samples=1000, seed=0, command=None):
    """Write REPORT.md, the three tables (CSV, Markdown) and two figures into ``out_dir``; return the tables."""
    t0 = time.perf_counter()
    tables = {"samplers_ser": preset_table(samples, seed), "samplers_ties": tie_table(samples, seed),
              "samplers_float32": float32_table()}
    os.makedirs(os.path.join(out_dir, "tables"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    for name, table in tables.items():
        table.to_csv(os.path.join(out_dir, "tables", name + ".csv"), index=False)
        with open(os.path.join(out_dir, "tables", name + ".md"), "w") as fh:
            fh.write(table.to_markdown(index=False, floatfmt=".4g"))
    figs = _figures(tables, out_dir)
    info = manifest(preset="samplers", command=command or "mdmlab report --preset samplers",
                    seconds=round(time.perf_counter() - t0, 1), samples=samples, seed=seed, length=LENGTH)
    with open(os.path.join(out_dir, "REPORT.md"), "w") as fh:
        fh.write(_markdown(info, tables, figs))
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    return tables


def _figures(tables, out_dir):
    out = []
    df = tables["samplers_ser"]
    fig = Figure(figsize=(5 * len(LANGUAGES), 4))
    axes = fig.subplots(1, len(LANGUAGES), sharey=True, squeeze=False)[0]
    for ax, spec in zip(axes, LANGUAGES):
        ser_figure(df[df["language"] == spec], ax).set_title(spec, fontsize=8)
    axes[-1].legend(fontsize=6)
    out.append(_save(fig, out_dir, "samplers_ser", f"SER of the peers' samplers, L = {LENGTH}"))
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    for tie, g in tables["samplers_ties"].groupby("tie", sort=False):
        ax.errorbar(g["N"], g["ser"], yerr=[g["ser"] - g["ser_low"], g["ser_high"] - g["ser"]], marker="o",
                    label=f"tie {tie}", capsize=2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("steps N")
    ax.set_ylabel("SER (pair-copy)")
    ax.legend(fontsize=7)
    out.append(_save(fig, out_dir, "samplers_ties", "LLaDA low_confidence (T = 1): tie order"))
    fig = Figure(figsize=(5, 4))
    float32_figure(tables["samplers_float32"], fig.subplots())
    out.append(_save(fig, out_dir, "samplers_float32", "MDLM's float32 race: a rare token's probability"))
    return out


def _save(fig, out_dir, name, title):
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out_dir, "figures", f"{name}.{ext}"), dpi=120)
    return name, title


def _markdown(info, tables, figs):
    lines = ["# mdmlab report: preset `samplers`", "",
             f"Regenerate with `{info['command']}` ({info['seconds']} s; git {info['git_revision']}; "
             f"created {info['created']}).", "",
             "The public sampling loops of MDLM, LLaDA and Dream as `models.presets`, each checked equal in law to a "
             "torch re-implementation of the peer's loop on tiny languages (`tests/test_presets_peers.py`), run "
             f"here with the exact denoiser at L = {LENGTH}, {info['samples']} samples per cell. SER intervals are "
             "Clopper-Pearson 95 %; the TER gap is over in-support samples only.", ""]
    for name, title in figs:
        lines += [f"## {title}", "", f"![{title}](figures/{name}.png)", ""]
    for name, table in tables.items():
        lines += [f"## Table: {name}", "", f"(also `tables/{name}.csv`)", "",
                  table.to_markdown(index=False, floatfmt=".4g"), ""]
    lines += ["## Provenance", "", "```", *(f"{k}: {v}" for k, v in info["packages"].items()), "```", ""]
    return "\n".join(lines)
