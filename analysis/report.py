r"""``mdmlab report``: run the preset sweeps, check them against theory, write tables and figures.

Writes into ``OUT``: ``REPORT.md`` (what ran, the verdicts, the tables, the figures), every table as
``.csv``, ``.tex`` (booktabs) and Markdown, figures as PNG and PDF, the sweeps' raw cells and
manifests under ``sweeps/``, and ``manifest.json``. Rerunning the same command reuses finished cells.
The verdicts are :func:`analysis.verdicts.verdicts` on the sweeps and on the N*(L) searches of the
preset's ``"nstar"`` configs (:mod:`analysis.nstar`), the same function ``mdmlab verdicts`` runs.
"""
import contextlib
import dataclasses
import json
import os
import shlex
import sys
import time

import pandas as pd
from matplotlib.figure import Figure

from mdmlab.analysis import figures, sweep_report
from mdmlab.analysis import verdicts as vd
from mdmlab.analysis.manifest import manifest
from mdmlab.analysis.nstar import NStarConfig, run_n_stars
from mdmlab.analysis.sweep import SweepConfig, run_sweep, shared_pool

TER_LANG = "ngram:order=3,vocab=8,seed=1"
SER_LANGS = ("pair-copy:symbols=4", "all-equal:symbols=2", "ngram:order=3,vocab=8,sparsity=0.5,seed=1")
#: The three languages of claim 1 (N_TER and N_SER on the same language): pair-copy, a sparse trigram
#: and a random sparse HMM. The trigram of claim 1 has V = 4 (K = 16 window states, 26 ms per sequence
#: at L = 4096 on the window tree) so that its bisections reach L = 4096 within the time budgets; the
#: SER sweep of the full preset keeps the V = 8 one (K = 64) up to L = 512.
HMM_LANG = "hmm:states=8,vocab=8,sparsity=0.75,seed=1"
CLAIM1_QUICK = ("pair-copy:symbols=4", "ngram:order=3,vocab=4,sparsity=0.5,seed=1", HMM_LANG)
CLAIM1_FULL = CLAIM1_QUICK
RATIOS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
#: Pre-registered targets: N_SER at SER <= 1/2; N_TER at E_M KL(q || p_M) / L <= eps nats per token,
#: eps chosen so that N_TER (about 5 for pair-copy at 0.15, 7 at 0.1) sits well below the smallest L.
DELTA = 0.5
EPS_QUICK, EPS_FULL = 0.15, 0.1
ANY_SCHEDULES = ("linear", "cosine", "loglinear", "balanced")

PRESETS = {
    "quick": {  # <= 5 minutes on 2 cores: claim 1 spans L = 8..256 (32x) here, 16..1024 (64x) in "full"
        "ter": SweepConfig(languages=(TER_LANG,), lengths=(16, 32, 64, 128, 256), steps=(2, 4, 8, 16),
                           samples=512),
        "ser": SweepConfig(languages=SER_LANGS[:2], lengths=(16, 64, 256), steps_per_length=RATIOS,
                           schedules=("linear", "cosine", "balanced"), samples=512),
        "kl": SweepConfig(languages=(TER_LANG, "pair-copy:symbols=4", "all-equal:symbols=2"), lengths=(16, 64, 256),
                          schedules=("balanced",), steps_per_length=(1 / 8, 1 / 4, 1 / 2), samples=256, kl=True),
        "nstar": (NStarConfig(languages=CLAIM1_QUICK, lengths=(8, 16, 64, 256), schedules=("linear",),
                              ser_targets=(DELTA,), kl_targets=(EPS_QUICK,), samples=512, rel_width=0.3,
                              max_samples=512),
                  NStarConfig(languages=("pair-copy:symbols=4",), lengths=(8, 16, 64, 256),
                              schedules=("cosine", "balanced"), ser_targets=(DELTA,), samples=512, rel_width=0.3,
                              max_samples=512)),
    },
    "full": {  # the V = 8 sparse trigram's SER sweep stops at L = 512; its V = 4 sibling's N* reaches 4096
        "ter": SweepConfig(languages=(TER_LANG,), lengths=(64, 256, 1024, 4096), steps=(2, 4, 8, 16, 32, 64),
                           samples=512, seeds=2),
        "ser": (SweepConfig(languages=SER_LANGS[:2], lengths=(64, 128, 256, 512, 1024, 2048, 4096),
                            steps_per_length=RATIOS, schedules=("linear", "cosine"), samples=1024),
                SweepConfig(languages=SER_LANGS[2:], lengths=(64, 128, 256, 512), steps_per_length=RATIOS,
                            samples=1024)),
        "kl": SweepConfig(languages=(TER_LANG, "pair-copy:symbols=4", "all-equal:symbols=2"), lengths=(64, 256, 1024),
                          schedules=("balanced", "linear"), steps_per_length=(1 / 16, 1 / 8, 1 / 4, 1 / 2),
                          samples=256, kl=True),
        "nstar": (NStarConfig(languages=CLAIM1_FULL[::2], lengths=(16, 64, 256, 1024), schedules=("linear", "cosine"),
                              ser_targets=(DELTA,), kl_targets=(EPS_FULL,), samples=512, rel_width=0.25,
                              max_samples=1024),
                  NStarConfig(languages=CLAIM1_FULL[1:2], lengths=(16, 64, 256, 1024, 4096), schedules=("linear",),
                              ser_targets=(DELTA,), kl_targets=(EPS_FULL,), samples=512, rel_width=0.25,
                              max_samples=512),
                  NStarConfig(languages=("pair-copy:symbols=4",), lengths=(16, 64, 256, 1024),
                              schedules=("loglinear", "balanced"), ser_targets=(DELTA,), samples=512, rel_width=0.25,
                              max_samples=512)),
    },
}


def make_report(preset, out_dir, *, workers=None, progress=True, command=None, configs=None, denoiser=None):
    r"""Run ``preset`` into ``out_dir`` and write the report; returns the verdict DataFrame.

    ``configs`` replaces the preset's sweeps ({"ter", "ser", "kl"} -> SweepConfig, optional "nstar" ->
    NStarConfig or a tuple of them; without it N* comes from the SER grid), e.g. in tests.
    ``denoiser`` (a checkpoint of ``mdmlab train``) adds the learned-vs-exact section, run on the
    language and length the checkpoint was trained on.
    """
    if preset == "schedules" and configs is None:  # issue 15: exact KL of schedules, its own report
        from mdmlab.analysis.schedules_report import make_schedules_report

        return make_schedules_report(out_dir, command=command)["kl"]
    if preset == "samplers" and configs is None:  # issue 11: the peers' samplers, its own report
        from mdmlab.analysis.samplers_report import make_samplers_report

        return make_samplers_report(out_dir, command=command)["samplers_ser"]
    if configs is None and preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    configs = configs or PRESETS[preset]
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workers != 1:  # one pool for every sweep and search: workers start and load kernels once
            stack.enter_context(shared_pool(workers))
        tables = {name: _run(cfgs, os.path.join(out_dir, "sweeps", name), workers, progress)
                  for name, cfgs in configs.items() if name != "nstar"}
        if "nstar" in configs:
            nstar_configs = _as_tuple(configs["nstar"])
            nstar = pd.concat(run_n_stars(nstar_configs, [os.path.join(out_dir, "sweeps", f"nstar_{i}")
                                                          for i in range(len(nstar_configs))],
                                          workers=workers, progress=progress), ignore_index=True)
        else:  # no search configured: N* from the SER grid, with its interval and censoring
            nstar = vd.n_star_grid(tables["ser"], DELTA)
    verdicts = vd.verdicts(pd.concat(list(tables.values()), ignore_index=True), nstar)
    figs = _figures(tables, nstar, out_dir)
    written = {"verdicts": verdicts, "ter": tables["ter"], "ser": tables["ser"], "n_star": nstar, "kl": tables["kl"]}
    if denoiser is not None:
        written["learned"] = _learned(denoiser, preset, out_dir, figs)
    shown = sweep_report.write_tables(out_dir, written)  # the generic path of ``mdmlab report --sweep``
    command = command or "mdmlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    info = manifest(preset=preset, command=command, seconds=round(time.perf_counter() - t0, 1),
                    configs={k: [dataclasses.asdict(c) for c in _as_tuple(v)] for k, v in configs.items()})
    with open(os.path.join(out_dir, "REPORT.md"), "w") as fh:
        fh.write(_markdown(preset, info, {**shown, "verdicts": verdicts}, figs))
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    return verdicts


def _as_tuple(cfgs):
    return cfgs if isinstance(cfgs, tuple) else (cfgs,)


def _run(cfgs, out_dir, workers, progress):
    """One table from one SweepConfig or a tuple of them (each into its own folder)."""
    parts = [run_sweep(c, out_dir if len(_as_tuple(cfgs)) == 1 else f"{out_dir}_{i}", workers=workers,
                       progress=progress) for i, c in enumerate(_as_tuple(cfgs))]
    return pd.concat(parts, ignore_index=True)


def _learned(checkpoint, preset, out_dir, figs):
    import torch

    from mdmlab.analysis import learned

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg, history = state["config"], pd.DataFrame(state["history"])
    L = cfg["length"]
    steps = [n for n in (2, 4, 8, 16, 32, 64, 128, 256) if n <= L]
    df = learned.compare(cfg["language"], checkpoint, length=L, steps=steps, samples=512 if preset == "quick" else 2048)
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.add_subplot()
    figures.learned_vs_exact(df, ax, feng=learned.feng_curves(df))
    title = f"Learned vs exact denoiser ({cfg['language']}, L = {L})"
    ax.set_title(title, fontsize="small")
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out_dir, "figures", f"fig6_learned_vs_exact.{ext}"), dpi=130)
    figs.append(("fig6_learned_vs_exact", title))
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.add_subplot()
    figures.learning_curve(history, ax)
    ax.set_title(f"Exact learning error during training ({state['step']} steps)", fontsize="small")
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out_dir, "figures", f"fig7_learning_curve.{ext}"), dpi=130)
    figs.append(("fig7_learning_curve", "Exact learning error during training"))
    return df


def _figures(tables, nstar, out_dir):
    r"""The figures of ``mdmlab report --sweep`` (:func:`analysis.sweep_report.write_figures`) on the
    preset's tables: titles and theory come from the languages and schedules in them."""
    figs, _ = sweep_report.write_figures(out_dir, ter=tables["ter"], ser=tables["ser"], kl=tables["kl"], nstar=nstar,
                                         delta=DELTA)
    return figs


def _markdown(preset, info, tables, figs):
    v = tables["verdicts"]
    lines = [f"# mdmlab report: preset `{preset}`", "",
             f"Regenerate with `{info['command']}` (this invocation: {info['seconds']} s, reusing any cells "
             f"already finished under `sweeps/`; git {info['git_revision']}; created {info['created']}).", "",
             "Exact-denoiser MDM sampling of synthetic languages: how many steps N the token error rate (TER) "
             "and the sequence error rate (SER) need as the length L grows, held against Feng et al. "
             "(arXiv 2502.09622) and Li & Cai (arXiv 2505.21400). Random position policy; the schedules of "
             "each row are named in it.", "",
             f"**Verdicts**: {int((v['verdict'] == 'holds').sum())} hold, {int((v['verdict'] == 'violated').sum())} "
             f"violated, {int((v['verdict'] == 'inconclusive').sum())} inconclusive, "
             f"{int((v['verdict'] == 'vacuous').sum())} vacuous. Rules and pre-registered acceptance regions: "
             "`mdmlab.analysis.verdicts` (holds: the whole 95% interval inside the region; violated: wholly "
             "outside; inconclusive: otherwise; vacuous: the bound is no better than the trivial one). "
             "`detectable` is the interval's half-width in the statistic's units; `censored` counts the cells "
             "that could not be used. The token-level statistic of `ter-steps-independent-of-L` is "
             "E_M KL(q || p_M) / L: finite for the exact denoiser when SER > 0, where log TER is infinite.", "",
             v.to_markdown(index=False, floatfmt=".4g"), ""]
    for name, title in figs:
        lines += [f"## {title}", "", f"![{title}](figures/{name}.png)", ""]
    for name in [n for n in ("ter", "ser", "n_star", "kl", "learned") if n in tables]:
        lines += [f"## Table: {name}", "", f"(also `tables/{name}.csv` and `tables/{name}.tex`)", "",
                  tables[name].to_markdown(index=False, floatfmt=".4g"), ""]
    lines += ["## Provenance", "", "```", *(f"{k}: {val}" for k, val in info["packages"].items()), "```", ""]
    return "\n".join(lines)
