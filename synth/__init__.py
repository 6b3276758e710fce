r"""Exact synthetic languages: n-gram and HMM languages with exact sampling, log-probabilities,
support, masked conditionals (the exact MDM denoiser), leave-one-out conditionals and entropy."""
from mdmlab.synth._language import MASK, EntropyResult, Language
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.io import load
from mdmlab.synth.ngram import NGramLanguage

__all__ = ["MASK", "EntropyResult", "Language", "HMMLanguage", "NGramLanguage", "load"]
