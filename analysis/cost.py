r"""A cost model of sweep cells, so a user can size a run before making it (``mdmlab sweep --dry-run``).

The CPU time of one cell (one worker, one numba thread, warm cache) is modelled as a non-negative
sum of work terms, most counted in flops of the kernels on the cell's path (the path that
``models.sample`` picks with ``method="auto"``, asked of the sampler):

    seconds = c_overhead
            + c_sweep * B N L t_s      (per-step sweep: N forward-backward passes of L positions)
            + c_scored * B N L t_s     (adaptive policies: every masked row scored at each step)
            + c_tree  * B L t_t l      (segment tree, static policies; l = (log2 L + log2 N) / 2 levels
                                        per token, the step's tokens sharing their upper refreshes)
            + c_nodes * B L l          (the tree's per-node work that does not grow with K)
            + c_tokens * (B + s S_H) L   (per-token work: drawing, metrics, the entropy's S_H draws)
            + c_eval  * (B + s S_H) L w  (log q of the B draws, and of the S_H draws of the entropy)
            + c_kl    * s S_H L w V      (``kl``: the mutual information)

with B draws per cell, t_s and t_t the sampler's own time models of a sweep position-step and a tree
token-level (``models.sampler.unit_times``, ns: what ``method="auto"`` compares), w = K^2 for an HMM
chain and K V for an n-gram chain (K windows: the flops of evaluating log q per position), S_H the
draws of a Monte Carlo entropy and mutual information of an HMM (10,000, or the V^L strings when they
are enumerated; 0 for an n-gram, whose entropy and mutual information are exact recursions). With
``kl`` the B draws of q are replayed on the same path (log p_M, ``models.log_prob_given_reveal``): the
path's sweep or tree terms count twice. The entropy and mutual information of a (language, L) are one
estimate shared by the cells of that length, computed once per worker: ``s`` is the share of one
cell (1 for a lone cell; :func:`predict_sweep` spreads min(workers, cells) computations over the
cells of each (language, L)). The
coefficients come from :func:`calibrate` (``mdmlab sweep --calibrate``, ``python -m benchmarks cost``):
it times small cells on this machine, fits the coefficients by non-negative least squares on relative
error and stores them in ``$XDG_CACHE_HOME/mdmlab/cost.json`` (``~/.cache/mdmlab``). Without that
file, :func:`load` returns :data:`DEFAULT_COEFFICIENTS`, measured on the project's 2-core machine and
labelled as such. Predictions ignore compile time (a cold numba cache adds tens of seconds once) and,
with ``target_ci``, count ``samples`` draws per cell (a lower bound).
"""
import dataclasses
import datetime
import json
import math
import os
import platform
import time

import numpy as np

from mdmlab import synth

#: the terms of the model, in the order of a feature vector
TERMS = ("overhead", "tokens", "sweep", "scored", "tree", "nodes", "eval", "kl")
#: policies whose order is fixed in advance (models.policies); the others score every masked row each step
STATIC_POLICIES = ("random", "left-to-right")
#: draws of the Monte Carlo entropy and mutual information (Language.entropy, theory.total_mutual_information)
ENTROPY_DRAWS = 10_000
#: enumeration limit of the exact entropy (V^L strings)
ENUMERATION = 2 ** 16
#: coefficients (seconds of CPU per unit) measured by ``python -m benchmarks cost`` on the project's machine
DEFAULT_COEFFICIENTS = {"overhead": 2.8e-3, "tokens": 6.87e-8, "sweep": 4.1e-10, "scored": 2.8e-10, "tree": 7.88e-10,
                        "nodes": 0.0, "eval": 8.89e-11, "kl": 4.84e-10}
DEFAULT_SOURCE = "shipped defaults measured on the project's 2-core machine (run mdmlab sweep --calibrate)"


@dataclasses.dataclass(frozen=True)
class CostModel:
    r"""Seconds per unit of each term of :data:`TERMS`; ``source`` says where they come from."""

    coefficients: dict
    source: str

    def predict(self, cell, config, language=None, entropy_share=1.0):
        r"""Predicted seconds of ``cell`` (an ``analysis.sweep.Cell``) under ``config``, paying
        ``entropy_share`` of its length's entropy and mutual information (see :func:`work`)."""
        units = work(cell, config, language, entropy_share)
        return float(sum(self.coefficients[t] * units[t] for t in TERMS))


def cache_path():
    r"""Where :func:`calibrate` writes and :func:`load` reads: ``$XDG_CACHE_HOME/mdmlab/cost.json``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "mdmlab", "cost.json")


def load(path=None):
    r"""The calibrated model at ``path`` (default :func:`cache_path`), else the shipped defaults."""
    path = path or cache_path()
    try:
        with open(path) as fh:
            stored = json.load(fh)
        coef = {t: float(stored["coefficients"][t]) for t in TERMS}
    except (OSError, ValueError, KeyError, TypeError):
        return CostModel(dict(DEFAULT_COEFFICIENTS), DEFAULT_SOURCE)
    return CostModel(coef, f"calibrated on this machine {stored.get('created', '')} ({path})")


def path_of(cell, language):
    r"""``"tree"`` or ``"sweep"``: the path ``models.sample(method="auto")`` takes for ``cell``.

    Asked of the sampler itself (:func:`models.planned_method`: validation only, nothing drawn), so
    the model follows the sampler when its rule changes.
    """
    from mdmlab import models

    return models.planned_method(language, cell.length, cell.steps, schedule=cell.schedule, policy=cell.policy)


def work(cell, config, language=None, entropy_share=1.0):
    r"""The units of each term of :data:`TERMS` for ``cell`` (see the module docstring); ``entropy_share``
    is the part of its length's entropy and mutual information that this cell pays (``s``)."""
    from mdmlab.models import sampler

    lang = language if language is not None else synth.from_spec(cell.language)
    K, w = _shape(lang)
    t_sweep, t_tree = sampler.unit_times(lang)
    V = lang.vocab_size
    B, L, N = config.samples, cell.length, cell.steps
    on_tree = path_of(cell, lang) == "tree"
    hmm = not isinstance(lang, synth.NGramLanguage)  # n-gram entropy and mutual information are exact recursions
    s_h = 0.0 if not hmm else entropy_share * (V ** L if V ** L <= ENUMERATION else ENTROPY_DRAWS)
    kl = config.kl and cell.policy == "random"
    runs = 2.0 if kl else 1.0  # kl replays the B draws of q on the sampler's path
    return {"overhead": 1.0, "tokens": float(B + s_h) * L,
            "sweep": 0.0 if on_tree else runs * B * N * L * t_sweep,
            "scored": 0.0 if cell.policy in STATIC_POLICIES else float(B) * N * L * t_sweep,
            "tree": runs * B * L * t_tree * sampler.tree_levels(L, N) if on_tree else 0.0,
            "nodes": runs * B * L * sampler.tree_levels(L, N) if on_tree else 0.0,
            "eval": float(B + s_h) * L * w,
            "kl": s_h * L * w * V if kl else 0.0}


def predict_sweep(model, cells, config, workers):
    r"""``(per_cell, total, wall)``: predicted seconds of each cell, their sum, and the wall time on
    ``workers`` (longest cells first onto the least loaded worker; ``None``: unknown, wall = total).
    Each (language, L) pays its entropy and mutual information min(workers, its cells) times, spread
    over its cells."""
    langs = {spec: synth.from_spec(spec) for spec in config.languages}
    group = {}
    for c in cells:
        group[c.language, c.length] = group.get((c.language, c.length), 0) + 1
    share = {g: min(workers or 1, n) / n for g, n in group.items()}
    per = [model.predict(c, config, langs[c.language], share[c.language, c.length]) for c in cells]
    if not workers:
        return per, float(sum(per)), float(sum(per))
    loads = [0.0] * workers
    for t in sorted(per, reverse=True):
        loads[loads.index(min(loads))] += t
    return per, float(sum(per)), max(loads)


def fit(units, seconds):
    r"""Non-negative coefficients minimising the squared *relative* error of the predictions.

    Parameters
    ----------
    units : list of dict
        :func:`work` of each timed cell.
    seconds : array (C,)
        Their measured times.
    """
    from scipy.optimize import nnls

    seconds = np.asarray(seconds, dtype=float)
    A = np.array([[u[t] for t in TERMS] for u in units]) / seconds[:, None]  # rows scaled: relative error
    scale = A.max(axis=0)
    scale[scale == 0] = 1.0
    x, _ = nnls(A / scale, np.ones(len(seconds)))
    return dict(zip(TERMS, (x / scale).tolist()))


def calibration_cells():
    r"""The small grid :func:`calibrate` times (about 20 s of CPU, timed twice): both paths, both chain kinds."""
    from mdmlab.analysis.sweep import Cell, SweepConfig

    grid = []
    for spec, lengths in (("hmm:states=8,vocab=4,seed=1", (32, 128, 512)), ("hmm:states=24,vocab=6,seed=2", (32, 128)),
                          ("ngram:order=3,vocab=8,sparsity=0.5,seed=1", (32, 128, 256)),
                          ("ngram:order=2,vocab=12,sparsity=0.3,seed=1", (64, 512))):
        for L in lengths:
            for N, policy in ((4, "random"), (L // 4, "random"), (L, "random"), (L // 4, "confidence")):
                grid.append(Cell(spec, L, N, "linear", policy, 0))
    plain = SweepConfig(languages=(), lengths=(), samples=64)
    kl = dataclasses.replace(plain, kl=True)
    pairs = [(c, plain) for c in grid]
    pairs += [(Cell("hmm:states=8,vocab=4,seed=1", 64, 16, "linear", "random", 0), kl),
              (Cell("ngram:order=3,vocab=8,sparsity=0.5,seed=1", 64, 16, "linear", "random", 0), kl)]
    return pairs


def time_cells(pairs, *, repeat=2):
    r"""Best of ``repeat`` CPU times (seconds) of each ``(cell, config)`` on one numba thread, after an
    untimed warm-up run of every path. CPU time, not wall time: a shared machine's other load would
    otherwise inflate the coefficients; the model predicts a cell's time on a core of its own."""
    import numba

    from mdmlab.analysis.sweep import clear_caches, run_cell

    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # as a sweep worker runs
    try:
        for cell, config in pairs:  # compile every path once, outside the timing
            run_cell(dataclasses.replace(cell, length=min(cell.length, 16), steps=min(cell.steps, 16)),
                     dataclasses.replace(config, samples=2))
        out = []
        for cell, config in pairs:
            best = math.inf
            for _ in range(repeat):  # the best of a few
                clear_caches()  # each cell of a sweep computes its own entropy: so does each timing
                t0 = time.process_time()
                run_cell(cell, config)
                best = min(best, time.process_time() - t0)
            out.append(best)
        return out
    finally:
        numba.set_num_threads(threads)


def calibrate(path=None, *, pairs=None, progress=True):
    r"""Time :func:`calibration_cells` (or ``pairs``), fit the model and write it to ``path``
    (default :func:`cache_path`); returns the :class:`CostModel` and the fit's ratios predicted / measured."""
    pairs = pairs or calibration_cells()
    if progress:
        print(f"cost model: timing {len(pairs)} calibration cells on one thread ...", flush=True)
    seconds = time_cells(pairs)
    units = [work(c, cfg) for c, cfg in pairs]
    coef = fit(units, seconds)
    ratios = [sum(coef[t] * u[t] for t in TERMS) / s for u, s in zip(units, seconds)]
    path = path or cache_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with open(path, "w") as fh:
        json.dump({"coefficients": coef, "created": created, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "cells": len(pairs), "seconds": float(sum(seconds)),
                   "fit_ratio_median": float(np.median(ratios)), "fit_ratio_max": float(max(ratios, key=_off))}, fh,
                  indent=1)
    return CostModel(coef, f"calibrated on this machine {created} ({path})"), ratios


def _off(ratio):
    """How far a ratio predicted / measured is from 1, either way."""
    return max(ratio, 1 / ratio)


def _shape(language):
    r"""(K, w): the chain's states and the flops per position of evaluating log q (K^2 for an HMM, K V
    for an n-gram's K windows)."""
    arrays = language.kernel_arrays()
    K, V = arrays.num_states, arrays.vocab_size
    return K, (K * V if isinstance(language, synth.NGramLanguage) else K * K)
