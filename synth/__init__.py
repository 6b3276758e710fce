r"""Exact synthetic languages: n-gram and HMM languages with exact sampling, log-probabilities,
support, masked conditionals (the exact MDM denoiser), leave-one-out conditionals and entropy."""
from synth._language import MASK, EntropyResult, Language
from synth.hmm import HMMLanguage
from synth.io import load
from synth.ngram import NGramLanguage

__all__ = ["MASK", "EntropyResult", "Language", "HMMLanguage", "NGramLanguage", "load"]
