r"""models/ sampler throughput: fused sampling against N batched conditionals calls, and the growth
of one-token-per-step sampling cost with L (tree path against the per-step sweep)."""
import numpy as np

from mdmlab import models
from mdmlab import synth
from benchmarks._timing import best_time


def fused_rows(K=64, V=16, L=1024, B=256, N=64):
    """Random policy, exact HMM denoiser: total sampling time against N conditionals calls."""
    rng = np.random.default_rng(0)
    lang = synth.HMMLanguage.random(K, V, rng=rng)
    xm = np.where(rng.random((B, L)) < 0.5, synth.MASK, lang.sample(L, B, rng=rng))
    models.sample(lang, 32, 4, size=2, rng=0)  # compile outside the timing
    t_cond = best_time(lambda: lang.conditionals(xm), repeat=2)
    t_sample = best_time(lambda: models.sample(lang, L, N, size=B, rng=1), repeat=1, warmup=0)
    print(f"sampler HMM K={K} V={V} L={L} B={B} N={N}: sample {t_sample:.2f} s, one conditionals call "
          f"{t_cond * 1e3:.0f} ms (N calls {N * t_cond:.2f} s)")
    return [(f"HMM sampling time / time of N = {N} batched conditionals calls", t_sample / (N * t_cond), "<=", 1.5)]


def scaling_rows(K=8, V=4, B=8, lengths=(256, 512, 1024, 2048, 4096), sweep_max=1024):
    """One token per step (N = L): fitted exponent of per-sequence time in L, tree vs sweep."""
    lang = synth.HMMLanguage.random(K, V, sparsity=0.3, rng=2)
    for method in ("tree", "sweep"):
        models.sample(lang, 16, 16, size=2, schedule="balanced", method=method, rng=0)  # compile
    fits = {}
    for method, Ls in (("tree", lengths), ("sweep", [L for L in lengths if L <= sweep_max])):
        times = [best_time(lambda: models.sample(lang, L, L, size=B, schedule="balanced", method=method, rng=3),
                           repeat=2, warmup=0) / B for L in Ls]
        fits[method] = np.polyfit(np.log(Ls), np.log(times), 1)[0]
        print(f"N = L, HMM K={K}, {method}: " + ", ".join(f"L={L}: {t * 1e3:.2f} ms/seq" for L, t in zip(Ls, times))
              + f"; fitted exponent {fits[method]:.2f}")
    return [(f"N = L, HMM K = {K}: fitted exponent of per-sequence cost in L = {lengths[0]}..{lengths[-1]}",
             fits["tree"], "<=", 1.3)]


def rule_rows(K=64, V=16, L=1024, B=256, N=64):
    """The peers' rules on the fused path (issue 11): LLaDA low_confidence and Dream maskgit_plus at T = 1
    (every masked row each step, a candidate token drawn at each) against N conditionals calls."""
    from mdmlab.models import presets

    rng = np.random.default_rng(0)
    lang = synth.HMMLanguage.random(K, V, rng=rng)
    xm = np.where(rng.random((B, L)) < 0.5, synth.MASK, lang.sample(L, B, rng=rng))
    named = {"LLaDA low_confidence T=1": presets.llada(N, None, "low_confidence", 1.0),
             "Dream maskgit_plus T=1 top_p=0.9": presets.dream(N, "maskgit_plus", 1.0, top_p=0.9)}
    for kw in named.values():
        models.sample(lang, 32, size=2, rng=0, **dict(kw, steps=4))  # compile outside the timing
    t_cond = best_time(lambda: lang.conditionals(xm), repeat=2)
    rows = []
    for name, kw in named.items():
        t = best_time(lambda: models.sample(lang, L, size=B, rng=1, **kw), repeat=1, warmup=0)
        print(f"{name}, HMM K={K} V={V} L={L} B={B} N={N}: sample {t:.2f} s (N calls {N * t_cond:.2f} s)")
        rows.append((f"{name}: sampling time / N = {N} conditionals calls", t / (N * t_cond), "<=", 1.5))
    return rows


def run():
    return scaling_rows() + fused_rows() + rule_rows()
