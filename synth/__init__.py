r"""Exact synthetic languages: n-gram and HMM languages with exact sampling, log-probabilities,
support, masked conditionals (the exact MDM denoiser), leave-one-out conditionals and entropy."""
from mdmlab.synth._language import MASK, EntropyResult, Language
from mdmlab.synth.chain import HMMArrays, HMMChain, NGramArrays, NGramChain, kernel_arrays
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.io import load
from mdmlab.synth.ngram import NGramLanguage
from mdmlab.synth._spec import LanguageSpec
from mdmlab.synth.hard import all_equal, block_copy, pair_copy
from mdmlab.synth.fit import fit_ngram, load_json, save_json
from mdmlab.synth.registry import LANGUAGE_KINDS, describe_kinds, from_spec, parse_spec, register_language

__all__ = ["fit_ngram", "load_json", "save_json", "MASK", "EntropyResult", "Language", "HMMChain", "NGramChain", "HMMArrays", "NGramArrays", "kernel_arrays",
           "HMMLanguage", "NGramLanguage", "load", "LanguageSpec", "LANGUAGE_KINDS", "describe_kinds", "from_spec", "parse_spec",
           "register_language", "pair_copy", "block_copy", "all_equal"]
