import functools

import numpy as np
import pytest

from mdmlab import synth
from tests import brute, naive

# (name, factory) pairs: tiny languages whose every string can be enumerated.
TINY = {
    "hmm-dense": lambda: synth.HMMLanguage.random(3, 3, rng=1),
    "hmm-sparse": lambda: synth.HMMLanguage.random(3, 3, sparsity=0.4, concentration=0.5, rng=2),
    "unigram": lambda: synth.NGramLanguage.random(1, 3, sparsity=0.4, rng=3),
    "bigram-sparse": lambda: synth.NGramLanguage.random(2, 3, sparsity=0.4, rng=4),
    "trigram-sparse": lambda: synth.NGramLanguage.random(3, 3, sparsity=0.5, rng=5),
    "4gram-custom-initial": lambda: synth.NGramLanguage(
        4, np.random.default_rng(6).dirichlet(np.ones(2), size=(2, 2, 2)),
        initial=np.random.default_rng(7).dirichlet(np.ones(8)).reshape(2, 2, 2)),
}


def joint_of(lang, length):
    """The brute-force joint law of ``lang`` over strings of ``length``."""
    if isinstance(lang, synth.HMMLanguage):
        return brute.hmm_joint(lang.initial, lang.transition, lang.emission, length)
    init = lang.initial if lang.order > 1 else None
    return brute.ngram_joint(lang.order, lang.table, init, length)


@pytest.fixture(params=sorted(TINY))
def tiny_language(request):
    return TINY[request.param]()


@functools.cache
def naive_of(name):
    """The tests/naive.py mirror of ``TINY[name]``, built from its public parameters (cached: its
    evidences are memoised)."""
    lang = TINY[name]()
    if isinstance(lang, synth.HMMLanguage):
        return naive.HMM(lang.initial, lang.transition, lang.emission)
    custom = lang.initial if name.endswith("custom-initial") else None  # else the uniform pre-context rule
    return naive.NGram(lang.order, lang.table, custom)
