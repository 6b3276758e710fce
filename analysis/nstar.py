r"""N*(L, target) without a grid: stochastic bisection over integer N in [1, L].

For each (language, L, schedule, policy, statistic, target) the least N whose statistic is <= the
target is bracketed by three bisections on the same evaluations (monotone in N assumed):

* the point: least N with the estimate <= target (galloping N = 1, 2, 4, ... then bisection to
  :data:`RESOLUTION`);
* the upper end: least N whose 95% upper bound is <= target (then N* <= N);
* the lower end: least N whose 95% lower bound is <= target (below it the statistic is surely above).

Statistics: ``ser`` (Clopper-Pearson) and ``kl_per_token`` (E_M KL(q || p_M) / L, normal interval;
finite for the exact denoiser when SER > 0). When (high - low) / point exceeds ``rel_width`` the
search is redone with twice the samples, up to ``max_samples`` (keeping the draws made: only new
batches are drawn); each row records the width reached. An evaluation far from the target stops
early, after S/8, S/4 or S/2 samples, once a 99.9% interval excludes the target (:data:`EARLY_CONFIDENCE`).
At N = L the exact denoiser samples q exactly (SER 0, KL 0), so N* <= L; a row whose upper bound never
reaches the target is flagged ``censored = "above"``. Tasks are stored atomically under
``OUT/cells/`` and skipped on rerun; seeds come from a hash of the task, not the worker count.
"""
import dataclasses
import hashlib
import itertools
import json
import math
import os
import time
from concurrent.futures import as_completed

import numpy as np
import pandas as pd

COLUMNS = ["language", "schedule", "policy", "length", "statistic", "target", "n_star", "n_star_low", "n_star_high",
           "censored", "samples", "rel_width", "evaluations", "seconds", "method"]


@dataclasses.dataclass(frozen=True)
class NStarConfig:
    r"""What to search: every (language, L, schedule, policy) for every SER target delta and every
    token-level target eps (nats per token of E_M KL(q || p_M) / L)."""

    languages: tuple
    lengths: tuple
    schedules: tuple = ("linear",)
    policies: tuple = ("random",)
    ser_targets: tuple = (0.5,)
    kl_targets: tuple = ()
    samples: int = 256
    rel_width: float = 0.2
    max_samples: int = 4096
    base_seed: int = 0

    def tasks(self):
        stat = [("ser", t) for t in self.ser_targets] + [("kl_per_token", t) for t in self.kl_targets]
        return [dict(language=lang, length=int(L), schedule=s, policy=p, statistic=st, target=float(t))
                for lang, L, s, p, (st, t) in itertools.product(self.languages, self.lengths, self.schedules,
                                                                self.policies, stat)]


def _key(task):
    return hashlib.sha256(json.dumps(task, sort_keys=True).encode()).hexdigest()[:20]


#: NStarConfig fields that change a task's row (besides the task itself): part of its file's key.
ROW_SETTINGS = ("samples", "rel_width", "max_samples", "base_seed")


def file_key(task, config):
    r"""The name of ``task``'s file under ``cells/``: a hash of the task, the row-changing settings of
    ``config`` (:data:`ROW_SETTINGS`), the language's content and the mdmlab version, as
    :func:`analysis.sweep.cache_key` does for sweep cells (``_key(task)`` alone seeds the draws)."""
    from mdmlab.analysis.sweep import _mdmlab_version, language_digest

    payload = {"task": task, "settings": {f: getattr(config, f) for f in ROW_SETTINGS},
               "language": language_digest(task["language"]), "mdmlab": _mdmlab_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


#: An evaluation at N draws its S samples in looks of S/8, S/4, S/2 and S, and stops at a look before
#: S once the interval at EARLY_CONFIDENCE lies wholly on one side of the target: every bisection
#: predicate (estimate, 95% bounds <= target) is then decided there (at most three early looks at
#: 99.9% each: a wrong side with probability < 0.3%, where the 95% intervals are wrong 5% of the time).
EARLY_CONFIDENCE = 0.999
LOOKS = 4


def _evaluator(task, base_seed):
    r"""draw(N, start, size): the per-sample terms of the task's statistic (SER: 1 where the sample is
    outside the support; KL: (log q(x) - log p_M(x)) / L), seeded by the task, N and the batch's place."""
    from mdmlab import models, synth
    from mdmlab.analysis import metrics

    lang = synth.from_spec(task["language"])
    L, kw = task["length"], dict(schedule=task["schedule"], policy=task["policy"])
    key = int(_key(task)[:15], 16)

    def draw(N, start, size):
        rng = np.random.default_rng(np.random.SeedSequence([base_seed, key, N, start, size]))
        if task["statistic"] == "ser":
            return (~lang.in_support(models.sample(lang, L, N, size=size, rng=rng, **kw).tokens)).astype(float)
        return metrics.kl_q_pm_terms(lang, L, N, samples=size, rng=rng, **kw) / L

    return draw


def _interval(statistic, values, confidence):
    """(estimate, low, high): Clopper-Pearson for SER, mean +- z s.e. for KL (the point alone when a
    term is not finite or there is one sample, as :func:`analysis.metrics.kl_q_pm` reports it)."""
    from scipy import stats

    n = values.size
    if statistic == "ser":
        k = int(values.sum())
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
        return k / n, float(ci.low), float(ci.high)
    if not np.all(np.isfinite(values)):
        m = float(np.inf if np.any(values == np.inf) else np.nan)
        return m, m, m
    m = float(values.mean())
    if n < 2:
        return m, m, m
    half = float(stats.norm.ppf(0.5 + confidence / 2) * values.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half


class _Evaluations:
    """The draws of one search by N, kept when the search doubles S (only the new batches are drawn)."""

    def __init__(self, task, base_seed):
        self.draw, self.statistic, self.target = _evaluator(task, base_seed), task["statistic"], task["target"]
        self.values, self.decided = {}, set()

    def __call__(self, N, S):
        """(estimate, low, high) at N with up to S samples (95% interval)."""
        values = self.values.setdefault(N, np.empty(0))
        if N not in self.decided:
            for n in sorted({max(1, S >> k) for k in range(LOOKS)}):
                if n > values.size:
                    values = np.concatenate([values, self.draw(N, values.size, n - values.size)])
                if n < S:
                    _, low, high = _interval(self.statistic, values, EARLY_CONFIDENCE)
                    if low > self.target or high <= self.target:
                        self.decided.add(N)
                        break
            self.values[N] = values
        return _interval(self.statistic, values, 0.95)

    @property
    def samples(self):
        return int(sum(v.size for v in self.values.values()))


#: The bisections stop once N's bracket is narrower than this fraction of N (1 at small N): N* is
#: located to about 1.6%, well inside the ``rel_width`` (0.25 in the presets) its interval must reach.
RESOLUTION = 1 / 64


def _least(pred, L, resolution=0.0, below=False):
    """Least N in [1, L] with pred(N) (pred monotone), or None when pred(L) is false.

    Galloping from N = 1 (1, 2, 4, ...) then bisection, so the cost stays near N* (evaluations at
    large N are the expensive ones). The bisection stops when the bracket [lo, hi] has hi - lo <=
    ``resolution`` lo and returns hi (pred(hi) holds: the least is <= hi), or with ``below`` lo (every
    N < lo fails: the least is >= lo, the conservative end for a lower bound)."""
    lo, hi = 1, 1
    while not pred(hi):
        if hi == L:
            return None
        lo, hi = hi + 1, min(2 * hi, L)
    while lo < hi and hi - lo > resolution * lo:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo if below else hi


def search(task, *, samples, rel_width, max_samples, base_seed=0):
    r"""One N* by stochastic bisection; returns the row (dict with :data:`COLUMNS`; ``samples`` counts
    every draw of the search)."""
    t0 = time.perf_counter()
    ev = _Evaluations(task, base_seed)
    L, t, S = task["length"], task["target"], samples
    while True:
        point = _least(lambda N: ev(N, S)[0] <= t, L, RESOLUTION)
        upper = _least(lambda N: ev(N, S)[2] <= t, L, RESOLUTION)
        lower = _least(lambda N: ev(N, S)[1] <= t, L, RESOLUTION, below=True) or L
        if point is None or upper is None:
            row = dict(n_star=math.nan if point is None else float(point), n_star_low=float(lower),
                       n_star_high=math.inf, censored="above", width=math.inf)
        else:
            lo, hi = min(lower, point), max(upper, point)
            row = dict(n_star=float(point), n_star_low=float(lo), n_star_high=float(hi), censored="",
                       width=(hi - lo) / point)
        if row["width"] <= rel_width or 2 * S > max_samples:
            break
        S *= 2
    width = row.pop("width")
    return {**task, **row, "samples": ev.samples, "rel_width": width, "evaluations": len(ev.values),
            "seconds": round(time.perf_counter() - t0, 2), "method": "bisection"}


def run_n_star(config, out_dir, *, workers=None, progress=True):
    r"""Run every unfinished task of ``config`` into ``out_dir``; return the N* table (and write
    ``nstar.csv``)."""
    return run_n_stars([config], [out_dir], workers=workers, progress=progress)[0]


def run_n_stars(configs, out_dirs, *, workers=None, progress=True):
    r""":func:`run_n_star` of several configs (each into its own folder) on one pool of ``workers``:
    the unfinished tasks of all of them, longest first (larger L, SER before KL), so one long search
    never runs alone at the end while the other cores idle. Returns one table per config."""
    from tqdm.auto import tqdm

    from mdmlab.analysis import sweep
    from mdmlab.analysis.sweep import _read_cell, _store

    plans, todo = [], []
    for config, out_dir in zip(configs, out_dirs, strict=True):
        cells = os.path.join(out_dir, "cells")
        os.makedirs(cells, exist_ok=True)
        tasks = config.tasks()
        keys = [file_key(t, config) for t in tasks]
        rows = {k: _read_cell(cells, k, progress) for k in keys}  # None: to run (missing or unreadable)
        kw = dict(samples=config.samples, rel_width=config.rel_width, max_samples=config.max_samples,
                  base_seed=config.base_seed)
        todo += [(t, k, kw, cells, rows) for t, k in zip(tasks, keys) if rows[k] is None]
        plans.append((config, out_dir, keys, rows))
    todo.sort(key=lambda item: (-item[0]["length"], item[0]["statistic"] != "ser"))
    total = sum(len(keys) for _, _, keys, _ in plans)
    workers = min(workers or os.cpu_count() or 1, max(1, len(todo)))
    with tqdm(total=total, initial=total - len(todo), unit="N*", desc="n-star", disable=not progress) as bar:
        if workers == 1:
            for t, k, kw, cells, rows in todo:
                rows[k] = search(t, **kw)
                _store(cells, k, rows[k])
                bar.update()
        else:
            pool, lent = sweep.pool_for(workers)  # the report's pool when it lends one
            try:
                futs = {pool.submit(search, t, **kw): (k, cells, rows) for t, k, kw, cells, rows in todo}
                for f in as_completed(futs):
                    k, cells, rows = futs[f]
                    rows[k] = f.result()
                    _store(cells, k, rows[k])
                    bar.update()
            except BaseException:
                sweep.kill_pool(pool)  # searches in flight are lost; finished ones are on disk
                raise
            if not lent:
                pool.shutdown()
    tables = []
    for config, out_dir, keys, rows in plans:
        table = pd.DataFrame([rows[k] for k in keys], columns=COLUMNS)
        table.to_csv(os.path.join(out_dir, "nstar.csv"), index=False)
        with open(os.path.join(out_dir, "nstar_config.json"), "w") as fh:
            json.dump(dataclasses.asdict(config), fh, indent=1)
        tables.append(table)
    return tables
