r"""models/ sampler throughput: fused sampling against N batched conditionals calls, and the growth
of one-token-per-step sampling cost with L (tree paths, the HMM's and the n-gram window tree, against
the per-step sweep)."""
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


def window_tree_rows(spec="ngram:order=3,vocab=8,sparsity=0.5,seed=1", B=4, lengths=(256, 512, 1024, 2048, 4096),
                     sweep_L=1024):
    """One token per step (N = L) on the sparse trigram (K = 64 windows, C = 8): the window tree's
    fitted exponent of per-sequence time in L, and the sweep's time over the window tree's at L = sweep_L."""
    lang = synth.from_spec(spec)
    for method in ("tree", "sweep"):
        models.sample(lang, 16, 16, size=2, schedule="balanced", method=method, rng=0)  # compile
    run = {m: (lambda L, m=m: models.sample(lang, L, L, size=B, schedule="balanced", method=m, rng=3))
           for m in ("tree", "sweep")}
    times = [best_time(lambda: run["tree"](L), repeat=2, warmup=0) / B for L in lengths]
    fit = np.polyfit(np.log(lengths), np.log(times), 1)[0]
    t_sweep = best_time(lambda: run["sweep"](sweep_L), repeat=1, warmup=0) / B
    t_tree = times[list(lengths).index(sweep_L)]
    print(f"N = L, {spec} (window tree): " + ", ".join(f"L={L}: {t * 1e3:.1f} ms/seq" for L, t in zip(lengths, times))
          + f"; fitted exponent {fit:.2f}; sweep at L={sweep_L}: {t_sweep * 1e3:.0f} ms/seq")
    return [(f"N = L, trigram K = 64: fitted exponent of per-sequence cost in L = {lengths[0]}..{lengths[-1]}",
             fit, "<=", 1.3),
            (f"N = L = {sweep_L}, trigram K = 64: sweep time / window-tree time", t_sweep / t_tree, ">=", 5.0)]


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


def replay_rows(spec="ngram:order=3,vocab=8,seed=1", L=1024, N=512, B=16):
    """log p_M(x) of given strings: the replay on the sampler's path against one conditionals call per step."""
    lang = synth.from_spec(spec)
    x = lang.sample(L, B, rng=0)
    M = models.reveal_partitions(L, N, size=B, schedule="balanced", rng=1)
    models.log_prob_given_reveal(lang, x[:2, :64], M[:2, :64] % 8)  # compile outside the timing
    t_rows = best_time(lambda: models.log_prob_given_reveal(lang, x, M, method="rows"), repeat=1, warmup=0)
    t_replay = best_time(lambda: models.log_prob_given_reveal(lang, x, M), repeat=2, warmup=0)
    print(f"log_prob_given_reveal {spec} L={L} N={N} B={B}: rows {t_rows:.2f} s, replay {t_replay:.2f} s")
    return [(f"log p_M(x), trigram K = 64, L = {L}, N = {N}: per-step rows / replay on the sampler's path",
             t_rows / t_replay, ">=", 5.0)]


def run():
    return scaling_rows() + window_tree_rows() + fused_rows() + rule_rows() + replay_rows()
