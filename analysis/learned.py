r"""Learned vs exact denoiser on the same language and grid: the sampler's own error plus the
learning error.

For each denoiser (``exact``: the language's conditionals; ``learned``: a trained checkpoint) and
each N: SER (Clopper-Pearson), the TER gap, and the TER gap over in-support samples only
(``ter_gap_in_support``: finite when a sparse language makes some samples impossible, which makes
the plain TER infinite). The Feng bound is shown with and without the measured eps_learning.
"""
import numpy as np
import pandas as pd
import torch

from mdmlab import models
from mdmlab import synth
from mdmlab.analysis import metrics
from mdmlab.models.training import load_denoiser


def compare(language_spec, checkpoint, *, length, steps, samples=512, schedule="linear", seed=0):
    r"""Tidy DataFrame, one row per (denoiser, N), plus the checkpoint's eps_learning in every row."""
    lang = synth.from_spec(language_spec)
    model = load_denoiser(checkpoint)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    eps = float(state["eps_learning"])  # mean KL over masked held-out positions
    hist = state.get("history") or [{}]
    eps_max = float(hist[-1].get("eps_learning_max", np.nan))  # the largest single-position KL
    h = lang.entropy(length).nats / length
    rows = []
    for name, denoiser in (("exact", lang), ("learned", model)):
        for N in steps:
            res = models.sample(denoiser, length, N, size=samples, schedule=schedule, rng=seed)
            inside = lang.in_support(res.tokens)
            s, gap = metrics.ser(lang, res.tokens), metrics.ter_gap(lang, res.tokens, h)
            gin = metrics.ter_gap(lang, res.tokens[inside], h) if inside.any() else gap
            rows.append({"denoiser": name, "language": language_spec, "length": length, "steps": N,
                         "samples": samples, "ser": s.value, "ser_low": s.low, "ser_high": s.high,
                         "ter_gap": gap.value, "ter_gap_in_support": gin.value, "ter_gap_in_support_se": gin.stderr,
                         "eps_learning": eps, "eps_learning_max": eps_max})
    return pd.DataFrame(rows)


def feng_curves(df):
    r"""(N, Feng bound with unit constants, the same plus eps_learning) for the compared language.

    eps_learning is the mean KL over masked positions; the bound's assumption (recalled, unverified)
    is a per-token learning error, for which the maximum (``eps_learning_max`` in ``df``) is the safe
    reading: the report's table shows both.

    Raises
    ------
    ValueError
        If the compared language (a spec or a saved file) is not an n-gram language.
    """
    from mdmlab import theory

    lang = synth.from_spec(df["language"].iloc[0])
    if not isinstance(lang, synth.NGramLanguage):
        raise ValueError(f"Feng's TER bound is for n-gram languages; {df['language'].iloc[0]!r} is {lang!r}")
    N = np.geomspace(df["steps"].min(), df["steps"].max(), 50)
    bound = theory.FENG_TER.evaluate(order=lang.order, vocab=lang.vocab_size, steps=N)
    return N, bound, bound + df["eps_learning"].iloc[0]
