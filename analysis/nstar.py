r"""N*(L, target) without a grid: stochastic bisection over integer N in [1, L].

For each (language, L, schedule, policy, statistic, target) the least N whose statistic is <= the
target is bracketed by three bisections on the same evaluations (monotone in N assumed):

* the point: least N with the estimate <= target (galloping N = 1, 2, 4, ... then bisection);
* the upper end: least N whose 95% upper bound is <= target (then N* <= N);
* the lower end: least N whose 95% lower bound is <= target (below it the statistic is surely above).

Statistics: ``ser`` (Clopper-Pearson) and ``kl_per_token`` (E_M KL(q || p_M) / L, normal interval;
finite for the exact denoiser when SER > 0). When (high - low) / point exceeds ``rel_width`` the
search is redone with twice the samples, up to ``max_samples``; each row records the width reached.
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
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

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


def _evaluator(task, base_seed):
    from mdmlab import models, synth
    from mdmlab.analysis import metrics

    lang = synth.from_spec(task["language"])
    L, kw = task["length"], dict(schedule=task["schedule"], policy=task["policy"])

    def evaluate(N, S):
        rng = np.random.default_rng(np.random.SeedSequence([base_seed, int(_key(task)[:15], 16), N, S]))
        if task["statistic"] == "ser":
            est = metrics.ser(lang, models.sample(lang, L, N, size=S, rng=rng, **kw).tokens)
            return est.value, est.low, est.high
        est = metrics.kl_q_pm(lang, L, N, samples=S, rng=rng, **kw)
        lo, hi = (est.low, est.high) if np.isfinite(est.stderr) else (est.value, est.value)
        return est.value / L, lo / L, hi / L

    return evaluate


def _least(pred, L):
    """Least N in [1, L] with pred(N) (pred monotone), or None when pred(L) is false.

    Galloping from N = 1 (1, 2, 4, ...) then bisection, so the cost stays near N* (evaluations at
    large N are the expensive ones)."""
    lo, hi = 1, 1
    while not pred(hi):
        if hi == L:
            return None
        lo, hi = hi + 1, min(2 * hi, L)
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def search(task, *, samples, rel_width, max_samples, base_seed=0):
    r"""One N* by stochastic bisection; returns the row (dict with :data:`COLUMNS`)."""
    t0 = time.perf_counter()
    evaluate = _evaluator(task, base_seed)
    L, t, S = task["length"], task["target"], samples
    while True:
        cache = {}

        def ev(N):
            if N not in cache:
                cache[N] = evaluate(N, S)
            return cache[N]

        point = _least(lambda N: ev(N)[0] <= t, L)
        upper = _least(lambda N: ev(N)[2] <= t, L)
        lower = _least(lambda N: ev(N)[1] <= t, L) or L
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
    return {**task, **row, "samples": S * len(cache), "rel_width": width, "evaluations": len(cache),
            "seconds": round(time.perf_counter() - t0, 2), "method": "bisection"}


def run_n_star(config, out_dir, *, workers=None, progress=True):
    r"""Run every unfinished task of ``config`` into ``out_dir``; return the N* table (and write
    ``nstar.csv``)."""
    from tqdm.auto import tqdm

    from mdmlab.analysis.sweep import _read_cell, _store, _worker_init

    cells = os.path.join(out_dir, "cells")
    os.makedirs(cells, exist_ok=True)
    tasks = config.tasks()
    keys = [file_key(t, config) for t in tasks]
    rows = {k: _read_cell(cells, k, progress) for k in keys}  # None: to run (missing or unreadable)
    todo = [(t, k) for t, k in zip(tasks, keys) if rows[k] is None]
    kw = dict(samples=config.samples, rel_width=config.rel_width, max_samples=config.max_samples,
              base_seed=config.base_seed)
    workers = workers or os.cpu_count() or 1
    with tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="N*", desc="n-star",
              disable=not progress) as bar:
        if workers == 1 or len(todo) <= 1:
            for t, k in todo:
                rows[k] = search(t, **kw)
                _store(cells, k, rows[k])
                bar.update()
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                                     initargs=(os.getpid(),)) as pool:
                futs = {pool.submit(search, t, **kw): k for t, k in todo}
                for f in as_completed(futs):
                    rows[futs[f]] = f.result()
                    _store(cells, futs[f], rows[futs[f]])
                    bar.update()
    rows = [rows[k] for k in keys]
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.to_csv(os.path.join(out_dir, "nstar.csv"), index=False)
    with open(os.path.join(out_dir, "nstar_config.json"), "w") as fh:
        json.dump(dataclasses.asdict(config), fh, indent=1)
    return table
