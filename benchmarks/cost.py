r"""The sweep cost model (``mdmlab sweep --dry-run``): calibrate it, then predict and time held-out cells.

Calibration times :func:`analysis.cost.calibration_cells` (into a temporary file, so the user's cache
is left alone: ``mdmlab sweep --calibrate`` stores it there); the held-out cells use other languages,
lengths and step counts. Each cell is timed as the calibration times it (best of two CPU times on one
numba thread, caches cleared), and once more as wall time. The targets are ours (the issue sets none):
the worst held-out cell within a factor 2 of its prediction, the median within a factor 1.3.
"""
import os
import tempfile
import time

import numpy as np

from mdmlab import synth
from mdmlab.analysis import cost
from mdmlab.analysis.sweep import Cell, SweepConfig, clear_caches, run_cell

PLAIN = SweepConfig(languages=(), lengths=(), samples=128)
HELD_OUT = [(Cell("pair-copy:symbols=4", 256, N, "linear", "random", 0), PLAIN) for N in (16, 64, 256)] + [
    (Cell("hmm:states=16,vocab=4,seed=3", 192, 48, "linear", "confidence", 0), PLAIN),
    (Cell("hmm:states=16,vocab=4,seed=3", 384, 8, "cosine", "random", 0), PLAIN),
    (Cell("ngram:order=2,vocab=16,sparsity=0.3,seed=2", 512, 32, "linear", "random", 0), PLAIN),
    (Cell("ngram:order=2,vocab=16,sparsity=0.3,seed=2", 512, 512, "linear", "random", 0), PLAIN),
    (Cell("ngram:order=3,vocab=6,sparsity=0.5,seed=4", 384, 96, "linear", "margin", 0), PLAIN),
    (Cell("ngram:order=3,vocab=6,sparsity=0.5,seed=4", 384, 384, "balanced", "random", 0), PLAIN),
    (Cell("pair-copy:symbols=4", 96, 24, "linear", "random", 0), SweepConfig(languages=(), lengths=(), samples=128,
                                                                             kl=True))]


def held_out(model, pairs=HELD_OUT):
    r"""(predicted, cpu, wall) seconds of each held-out ``(cell, config)``."""
    predicted = [model.predict(c, cfg) for c, cfg in pairs]
    cpu = cost.time_cells(pairs)
    wall = []
    for c, cfg in pairs:
        clear_caches()
        t0 = time.perf_counter()
        run_cell(c, cfg)
        wall.append(time.perf_counter() - t0)
    return np.array(predicted), np.array(cpu), np.array(wall)


def run():
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model, fit = cost.calibrate(os.path.join(tmp, "cost.json"), progress=False)
        t_cal = time.perf_counter() - t0
    coef = ", ".join(f"{t} {model.coefficients[t]:.3g}" for t in cost.TERMS)
    print(f"cost model calibrated in {t_cal:.0f} s ({len(fit)} cells; fit ratios {min(fit):.2f}..{max(fit):.2f}): "
          f"{coef}")
    pred, cpu, wall = held_out(model)
    for (c, cfg), p, t, w in zip(HELD_OUT, pred, cpu, wall):
        print(f"  {c.language:<42} L={c.length:<4} N={c.steps:<4} {c.schedule:<8} {c.policy:<10} kl={cfg.kl!s:<5} "
              f"{cost.path_of(c, synth.from_spec(c.language)):<6} predicted {p:6.3f} s, "
              f"cpu {t:6.3f} s, wall {w:6.3f} s, ratio {p / t:.2f}")
    ratio, ratio_wall = pred / cpu, pred / wall
    off = np.maximum(ratio, 1 / ratio)
    print(f"held-out cells: predicted / measured CPU median {np.median(ratio):.2f}, range {ratio.min():.2f}.."
          f"{ratio.max():.2f}; predicted / wall median {np.median(ratio_wall):.2f} (wall includes the shared "
          f"machine's other load); sums: predicted {pred.sum():.1f} s, cpu {cpu.sum():.1f} s, wall {wall.sum():.1f} s")
    shipped = np.array([cost.CostModel(cost.DEFAULT_COEFFICIENTS, cost.DEFAULT_SOURCE).predict(c, cfg)
                        for c, cfg in HELD_OUT]) / cpu  # the defaults a user without --calibrate gets
    off_shipped = np.maximum(shipped, 1 / shipped)
    print(f"shipped defaults on the same cells: predicted / measured CPU median {np.median(shipped):.2f}, range "
          f"{shipped.min():.2f}..{shipped.max():.2f}")
    return [(f"cost model, {len(HELD_OUT)} held-out cells: worst max(pred/cpu, cpu/pred)", float(off.max()), "<=", 2.0),
            (f"cost model, {len(HELD_OUT)} held-out cells: median max(pred/cpu, cpu/pred)", float(np.median(off)),
             "<=", 1.3),
            (f"cost model shipped defaults, {len(HELD_OUT)} held-out cells: worst max(pred/cpu, cpu/pred)",
             float(off_shipped.max()), "<=", 2.0),
            (f"cost model shipped defaults, {len(HELD_OUT)} held-out cells: median max(pred/cpu, cpu/pred)",
             float(np.median(off_shipped)), "<=", 1.3)]
