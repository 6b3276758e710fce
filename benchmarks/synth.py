r"""synth/ throughput: batched log_prob and conditionals against hmmlearn and the machine's GEMM rate,
and the sparse n-gram path against the same language run through the dense HMM path."""
import numpy as np

from mdmlab import synth
from benchmarks._timing import best_time


def _hmmlearn_model(lang):
    from hmmlearn import hmm

    model = hmm.CategoricalHMM(n_components=lang.num_states, n_features=lang.vocab_size,
                               implementation="scaling")
    model.startprob_, model.transmat_, model.emissionprob_ = lang.initial, lang.transition, lang.emission
    return model


def hmm_rows(K=64, V=16, L=1024, B=256, repeat=3):
    """Ratios for the dense HMM path (issue: K = 64, V = 16, L = 1024, batch 256)."""
    rng = np.random.default_rng(0)
    lang = synth.HMMLanguage.random(K, V, rng=rng)
    x = lang.sample(L, B, rng=rng)
    xm = np.where(rng.random(x.shape) < 0.5, synth.MASK, x)
    alpha, A = rng.random((B, K)), lang.transition

    def gemm():
        for _ in range(L):
            alpha @ A

    t_gemm = best_time(gemm, repeat=repeat)
    gemm_rate = 2 * B * K * K * L / t_gemm  # flop/s of numpy's @ on the forward's shapes
    t_lp = best_time(lambda: lang.log_prob(x), repeat=repeat)
    t_cond = best_time(lambda: lang.conditionals(xm), repeat=repeat)
    model = _hmmlearn_model(lang)
    flat, lengths = x.reshape(-1, 1), [L] * B
    t_score = best_time(lambda: model.score(flat, lengths), repeat=1)
    t_proba = best_time(lambda: model.predict_proba(flat, lengths), repeat=1)
    # useful flops: forward (and backward) K^2 mult-adds per position, posteriors K V on masked ones
    lp_rate = 2 * B * L * K * K / t_lp
    cond_rate = 2 * B * L * (2 * K * K + 0.5 * K * V) / t_cond
    print(f"HMM K={K} V={V} L={L} B={B}: numpy @ {t_gemm * 1e3:.1f} ms ({gemm_rate / 1e9:.1f} GFLOP/s), "
          f"log_prob {t_lp * 1e3:.1f} ms, conditionals {t_cond * 1e3:.1f} ms, hmmlearn score "
          f"{t_score * 1e3:.0f} ms, predict_proba {t_proba * 1e3:.0f} ms")
    return [
        ("HMM log_prob throughput / hmmlearn score", t_score / t_lp, ">=", 10.0),
        ("HMM log_prob flop rate / numpy (256,64)@(64,64) rate", lp_rate / gemm_rate, ">=", 0.40),
        ("HMM conditionals (half masked) / hmmlearn predict_proba", t_proba / t_cond, ">=", 5.0),
        ("HMM conditionals flop rate / numpy @ rate", cond_rate / gemm_rate, ">=", 0.30),
    ]


def ngram_rows(order=3, V=32, L=1024, B=16, repeat=3):
    """Sparse shift path vs dense HMM path on the same n-gram language (conditionals, half masked)."""
    rng = np.random.default_rng(1)
    lang = synth.NGramLanguage.random(order, V, sparsity=0.5, rng=rng)
    dense = lang.to_hmm()
    x = lang.sample(L, B, rng=rng)
    xm = np.where(rng.random(x.shape) < 0.5, synth.MASK, x)
    t_sparse = best_time(lambda: lang.conditionals(xm), repeat=repeat)
    t_dense = best_time(lambda: dense.conditionals(xm), repeat=1)
    t_lp_sparse = best_time(lambda: lang.log_prob(x), repeat=repeat)
    t_lp_dense = best_time(lambda: dense.log_prob(x), repeat=1)
    print(f"n-gram order={order} V={V} L={L} B={B}: conditionals sparse {t_sparse * 1e3:.1f} ms, "
          f"dense {t_dense * 1e3:.0f} ms; log_prob sparse {t_lp_sparse * 1e3:.1f} ms, "
          f"dense {t_lp_dense * 1e3:.0f} ms")
    return [
        (f"n-gram (n={order}, V={V}) conditionals: sparse path speed-up over dense", t_dense / t_sparse, ">=", 10.0),
        (f"n-gram (n={order}, V={V}) log_prob: sparse path speed-up over dense", t_lp_dense / t_lp_sparse, ">=", 1.0),
    ]


def run():
    return hmm_rows() + ngram_rows()
