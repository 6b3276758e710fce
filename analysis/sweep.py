r"""Sweeps: a grid of (language, L, N, schedule, policy, seed) cells, one tidy row per cell.

Each finished cell is written atomically to ``OUT/cells/<key>.json`` (temporary file, then
``os.replace``), so a run killed at any moment loses at most the cells in flight and a rerun of
the same command skips finished cells. Cells draw their randomness from
``SeedSequence([base_seed, hash(cell)])``, so results do not depend on the worker count or order.
"""
import dataclasses
import hashlib
import itertools
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from multiprocessing import get_context

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mdmlab import models
from mdmlab import synth
from mdmlab import theory
from mdmlab.analysis import metrics
from mdmlab.analysis.manifest import manifest
from mdmlab.models import schedules


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the grid; ``key`` names it stably across runs."""

    language: str
    length: int
    steps: int
    schedule: str
    policy: str
    seed: int

    @property
    def key(self):
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    r"""What to run.

    ``steps`` are absolute N; ``steps_per_length`` are fractions f with N = max(1, round(f L)); cells
    with N > L are skipped. ``samples`` draws per cell, or with ``target_ci`` batches of ``samples``
    until the SER interval half-width and the TER standard error are both <= ``target_ci`` (at most
    ``max_samples``). ``kl`` adds E_M KL(q || p_M) and the Li & Cai bound (random policy only).
    """

    languages: tuple
    lengths: tuple
    steps: tuple = ()
    steps_per_length: tuple = ()
    schedules: tuple = ("linear",)
    policies: tuple = ("random",)
    seeds: int = 1
    samples: int = 256
    target_ci: float = None
    max_samples: int = 16384
    kl: bool = False
    base_seed: int = 0

    def cells(self):
        out = []
        for lang, L, sched, pol, seed in itertools.product(self.languages, self.lengths, self.schedules,
                                                           self.policies, range(self.seeds)):
            grid = sorted({*self.steps, *(max(1, round(f * L)) for f in self.steps_per_length)})
            out += [Cell(lang, L, N, sched, pol, seed) for N in grid if N <= L]
        return out


def run_sweep(config, out_dir, *, workers=None, progress=True):
    r"""Run every unfinished cell of ``config`` into ``out_dir``; return the tidy table (DataFrame).

    Writes ``cells/*.json``, ``results.csv`` (and ``results.parquet`` when pyarrow is installed) and
    ``manifest.json`` (config, seeds, package versions, git revision).
    """
    cells_dir = os.path.join(out_dir, "cells")
    os.makedirs(cells_dir, exist_ok=True)
    todo = [c for c in config.cells() if not os.path.exists(os.path.join(cells_dir, c.key + ".json"))]
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(config.cells()), initial=len(config.cells()) - len(todo), unit="cell",
               desc="sweep", disable=not progress)
    with bar:
        if workers == 1 or len(todo) <= 1:
            for cell in todo:
                _store(cells_dir, cell, run_cell(cell, config))
                bar.update()
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
                futures = {pool.submit(run_cell, c, config): c for c in todo}
                try:
                    for fut in as_completed(futures):
                        _store(cells_dir, futures[fut], fut.result())
                        bar.update()
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    table = load_table(config, out_dir)
    table.to_csv(os.path.join(out_dir, "results.csv"), index=False)
    _maybe_parquet(table, out_dir)
    _write_json(os.path.join(out_dir, "manifest.json"), manifest(config=dataclasses.asdict(config)))
    return table


def load_table(config, out_dir):
    """The rows of ``config``'s finished cells, in grid order."""
    rows = []
    for cell in config.cells():
        path = os.path.join(out_dir, "cells", cell.key + ".json")
        if os.path.exists(path):
            with open(path) as fh:
                rows.append(json.load(fh))
    return pd.DataFrame(rows)


def _one_thread():
    import numba

    numba.set_num_threads(1)  # parallelism comes from the process pool


def _store(cells_dir, cell, row):
    _write_json(os.path.join(cells_dir, cell.key + ".json"), row)


def _write_json(path, obj):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=1, default=_jsonable)
    os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _maybe_parquet(table, out_dir):
    try:
        table.to_parquet(os.path.join(out_dir, "results.parquet"), index=False)
    except ImportError:
        pass  # pyarrow is optional: the CSV is the table of record


@lru_cache(maxsize=64)
def _language(spec):
    return synth.from_spec(spec)


@lru_cache(maxsize=256)
def _entropy_per_token(spec, L, seed):
    h = _language(spec).entropy(L, rng=seed)
    return h.nats / L, h.stderr / L


@lru_cache(maxsize=256)
def _mutual_information(spec, L, seed):
    return theory.total_mutual_information(_language(spec), L, rng=seed).nats


def run_cell(cell, config):
    r"""Sample one cell and measure every metric; returns the row as a dict."""
    t0 = time.perf_counter()
    lang = _language(cell.language)
    seq = np.random.SeedSequence([config.base_seed, int(cell.key[:15], 16)])
    rng_sample, rng_kl, rng_entropy = (np.random.default_rng(s) for s in seq.spawn(3))
    L, N = cell.length, cell.steps
    res = _draw(lang, cell, config, rng_sample)
    h, h_se = _entropy_per_token(cell.language, L, int(rng_entropy.integers(2 ** 31)))
    row = {**dataclasses.asdict(cell), "samples": int(res.tokens.shape[0]), "entropy_per_token": h}
    _put(row, "ser", metrics.ser(lang, res.tokens))
    _put(row, "log_ter", metrics.log_ter(lang, res.tokens))
    gap = metrics.ter_gap(lang, res.tokens, h)
    _put(row, "ter_gap", gap._replace(stderr=float(np.hypot(gap.stderr, h_se))))
    _put(row, "kl_pm_q", metrics.kl_pm_q(lang, res))
    _put(row, "diversity", metrics.diversity(res.tokens, lang.vocab_size))
    row["nfe"] = float(res.nfe.mean())
    plan = schedules.resolve(cell.schedule, L, N)
    row["s_max"] = plan.max_per_step if plan.kind == "fixed" else int(res.counts.max())
    ser_exact = theory.closed_form_ser(lang, plan, policy=cell.policy)
    row["ser_closed_form"] = float("nan") if ser_exact is None else ser_exact
    if config.kl and cell.policy == "random":
        _put(row, "kl_q_pm", metrics.kl_q_pm(lang, L, N, samples=row["samples"], schedule=cell.schedule, rng=rng_kl))
        mi = _mutual_information(cell.language, L, int(rng_entropy.integers(2 ** 31)))
        row["mutual_information"] = mi
        # the bound needs a deterministic s_max: fixed counts only (ancestral counts are random)
        row["li_cai_bound"] = (float(theory.LI_CAI_KL.evaluate(s_max=row["s_max"], length=L, mutual_information=mi))
                               if plan.kind == "fixed" else float("nan"))
    row["seconds"] = time.perf_counter() - t0
    return row


def _draw(lang, cell, config, rng):
    """Sample ``samples`` sequences, or batches until the target interval widths are met."""
    kw = dict(schedule=cell.schedule, policy=cell.policy, rng=rng)
    res = models.sample(lang, cell.length, cell.steps, size=config.samples, **kw)
    if config.target_ci is None:
        return res
    parts = [res]
    while sum(p.tokens.shape[0] for p in parts) < config.max_samples:
        tokens = np.concatenate([p.tokens for p in parts])
        s, t = metrics.ser(lang, tokens), metrics.log_ter(lang, tokens)
        if (s.high - s.low) / 2 <= config.target_ci and not (np.isfinite(t.stderr) and t.stderr > config.target_ci):
            break
        parts.append(models.sample(lang, cell.length, cell.steps, size=config.samples, **kw))
    cat = {f: np.concatenate([getattr(p, f) for p in parts]) for f in ("tokens", "reveal_step", "counts",
                                                                         "nfe", "log_prob_sampler")}
    return dataclasses.replace(res, **cat)


def _put(row, name, est):
    row[name] = est.value
    if np.isfinite(est.stderr) or name != "ser":
        row[name + "_se"] = est.stderr
    row[name + "_low"], row[name + "_high"] = est.low, est.high

