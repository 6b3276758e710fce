r"""The presets against torch re-implementations of the peers' loops (tests/peers.py), in law.

Each case draws S = 40,000 strings from a peer loop driven by the exact denoiser of a tiny dense HMM
(V = 3, K = 3: no exact ties between positions, so ``torch.topk``'s CPU tie order never matters) and
compares their histogram with ``models.exact_law(**preset)`` by Pearson's chi-square (cells expected
below 5 pooled). Agreement: p > 1e-3 (a false alarm once in a thousand per case). Disagreement (the
rule mdmlab had before, e.g. max-probability instead of sampled-token scores): p < 1e-9, and the two
exact laws differ by a total variation well above the sampling noise
0.5 sum_x sqrt(p(x) (1 - p(x)) / S), the expected empirical TV of S draws.
"""
import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from mdmlab import models  # noqa: E402
from mdmlab.models import presets  # noqa: E402
from mdmlab.synth import MASK  # noqa: E402
from tests import peers  # noqa: E402
from tests.conftest import TINY  # noqa: E402

S = 40_000
LANG = "hmm-dense"


def compare(law, tokens):
    """(chi-square p-value, empirical TV, noise scale 0.5 sum sqrt(p (1 - p) / S)) of ``tokens`` against ``law``."""
    V, L = law.shape[0], law.ndim
    obs = np.bincount(np.ravel_multi_index(np.asarray(tokens).T, (V,) * L), minlength=V ** L).astype(float)
    p = law.ravel()
    n = obs.sum()
    if obs[p == 0].sum() > 0:
        return 0.0, 0.5 * np.abs(obs / n - p).sum(), 0.5 * np.sqrt(p * (1 - p) / n).sum()
    exp = p * n
    big = exp >= 5
    o, e = np.append(obs[big], obs[~big].sum()), np.append(exp[big], exp[~big].sum())
    keep = e > 0
    if keep.sum() < 2:  # a deterministic law (greedy rules): every draw in its one string
        return 1.0, float(0.5 * np.abs(obs / n - p).sum()), 0.0
    pval = stats.chisquare(o[keep], e[keep] * o[keep].sum() / e[keep].sum()).pvalue
    return float(pval), float(0.5 * np.abs(obs / n - p).sum()), float(0.5 * np.sqrt(p * (1 - p) / n).sum())


def _mdlm(cache, steps, L):
    def peer(lang, gen):
        return peers.mdlm_sample(peers.ExactLogits(lang), S, L, steps, gen, cache=cache)
    return peer, dict(presets.mdlm(steps, cache=cache)), L


def _llada(steps, block, remasking, temperature, L, prompt=()):
    """LLaDA generating L - len(prompt) tokens after ``prompt``; its blocks start where generation starts."""
    P = len(prompt)

    def peer(lang, gen):
        x0 = torch.tensor([list(prompt)] * S, dtype=torch.long).reshape(S, P)
        return peers.llada_generate(peers.ExactLogits(lang), x0, steps, L - P, block, temperature, remasking, gen)
    kw = dict(presets.llada(steps, block, remasking, temperature))
    if P:
        kw["prompt"] = list(prompt) + [MASK] * (L - P)
    return peer, kw, L


def _dream(steps, L, first=1, **kw):
    def peer(lang, gen):
        x = torch.full((S, L), lang.vocab_size, dtype=torch.long)
        x[:, 0] = first
        return peers.dream_sample(peers.ExactLogits(lang, shift=True), x, steps, gen, **kw)
    return peer, dict(presets.dream(steps, **kw), prompt=[first] + [MASK] * (L - 1)), L


#: name -> (peer loop, preset keyword arguments, L)
AGREE = {
    "MDLM ddpm_cache N=3": _mdlm(True, 3, 4),
    "MDLM ddpm_cache N=10 > L": _mdlm(True, 10, 4),
    "MDLM ddpm N=4": _mdlm(False, 4, 4),
    "LLaDA low_confidence T=0 b=2 N=4": _llada(4, 2, "low_confidence", 0.0, 4),
    "LLaDA low_confidence T=1 b=4 N=3": _llada(3, 4, "low_confidence", 1.0, 4),
    "LLaDA low_confidence T=0.5 b=5 N=3": _llada(3, 5, "low_confidence", 0.5, 5),
    "LLaDA random T=0.7 b=3 N=4": _llada(4, 3, "random", 0.7, 6),
    "LLaDA low_confidence T=1 b=2 N=4 prompt [2]": _llada(4, 2, "low_confidence", 1.0, 5, prompt=(2,)),
    "Dream origin T=1": _dream(3, 5, temperature=1.0),
    "Dream origin T=0.5 top_p=0.9": _dream(4, 5, temperature=0.5, top_p=0.9),
    "Dream maskgit_plus T=0": _dream(3, 6, alg="maskgit_plus"),
    "Dream maskgit_plus T=1 top_k=2": _dream(3, 6, alg="maskgit_plus", temperature=1.0, top_k=2),
    "Dream topk_margin T=0.7 top_p=0.8": _dream(2, 5, alg="topk_margin", temperature=0.7, top_p=0.8),
    "Dream entropy T=1 alg_temp=0.5": _dream(3, 5, alg="entropy", temperature=1.0, alg_temp=0.5),
}


def _wrong_score(kw):
    return dict(kw, policy="confidence")


def _global_balanced(kw):
    return dict(kw, schedule="balanced")


#: name -> (peer loop case, what mdmlab could express before issue 11)
DISAGREE = {
    "LLaDA low_confidence T=1 vs confidence": (AGREE["LLaDA low_confidence T=1 b=4 N=3"], _wrong_score),
    "Dream maskgit_plus T=1 top_k=2 vs confidence": (AGREE["Dream maskgit_plus T=1 top_k=2"], _wrong_score),
    "LLaDA per-block split (T=1 b=3 N=4) vs global balanced": (_llada(4, 3, "low_confidence", 1.0, 6),
                                                                _global_balanced),
}


def agreement(name, seed=0, case=None):
    """(peer tokens, exact law of the preset) for one AGREE case (or the given (peer, kwargs, L))."""
    peer, kw, L = AGREE[name] if case is None else case
    lang = TINY[LANG]()
    gen = torch.Generator().manual_seed(seed)
    tokens = peer(lang, gen).numpy()
    return tokens, models.exact_law(lang, L, **kw)


@pytest.mark.parametrize("name", sorted(AGREE))
def test_preset_agrees_with_peer_loop(name):
    tokens, law = agreement(name, seed=sorted(AGREE).index(name))
    pval, tv, noise = compare(law, tokens)
    assert pval > 1e-3, (name, pval, tv, noise)
    assert tv <= 3 * noise


@pytest.mark.parametrize("name", sorted(DISAGREE))
def test_old_rule_disagrees_with_peer_loop(name):
    case, wrong = DISAGREE[name]
    _, kw, L = case
    lang = TINY[LANG]()
    tokens, law = agreement(name, seed=7, case=case)
    bad = models.exact_law(lang, L, **wrong(kw))
    pval, tv, noise = compare(bad, tokens)
    assert pval < 1e-9, (name, pval)
    assert 0.5 * np.abs(bad - law).sum() > 3 * noise


def test_samples_of_the_preset_agree_with_its_law():
    """The fused path under each preset family draws from exact_law (chi-square, p > 1e-3)."""
    lang = TINY[LANG]()
    for i, name in enumerate(["MDLM ddpm_cache N=10 > L", "LLaDA low_confidence T=1 b=4 N=3",
                              "Dream entropy T=1 alg_temp=0.5"]):
        _, kw, L = AGREE[name]
        res = models.sample(lang, L, size=S, rng=i, **kw)
        pval, _, _ = compare(models.exact_law(lang, L, **kw), res.tokens)
        assert pval > 1e-3, name


def test_mdlm_cache_calls_the_model_as_counted():
    """The peer's calls (B = 1: its cache is batch-wide) equal SampleResult.calls' rule on its own run."""
    lang = TINY[LANG]()
    gen = torch.Generator().manual_seed(3)
    for _ in range(30):
        model = peers.ExactLogits(lang)
        trace = []

        class Spy:
            V = model.V

            def __call__(self, x):
                trace.append(int((x == model.V).sum()))
                return model(x)

        peers.mdlm_sample(Spy(), 1, 5, 8, gen, cache=True)
        masked = trace[:-1]  # masked count at each call of the loop; the last call is the noise removal
        # calls happen at step 0 and after each step that changed x: a strictly decreasing masked count
        assert len(masked) == 1 + sum(1 for a, b in zip(masked, masked[1:]) if b < a) == len(set(masked))
