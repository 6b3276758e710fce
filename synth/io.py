r"""Saving and loading languages: one ``.npz`` file, float64 arrays stored bit for bit."""
import numpy as np


def save(language, path):
    """Write ``language`` to ``path`` (exactly that path; no suffix is added)."""
    with open(path, "wb") as fh:
        np.savez(fh, **language._state())


def load(path):
    r"""Read a language written by ``save``; returns an :class:`NGramLanguage` or :class:`HMMLanguage`."""
    from mdmlab.synth.hmm import HMMLanguage
    from mdmlab.synth.ngram import NGramLanguage

    with np.load(path, allow_pickle=False) as data:
        kind = str(data["kind"]) if "kind" in data else None
        if kind == "ngram":
            return NGramLanguage(int(data["order"]), data["table"], data["initial"] if int(data["order"]) > 1 else None)
        if kind == "hmm":
            return HMMLanguage(data["initial"], data["transition"], data["emission"])
    raise ValueError(f"path {str(path)!r} is not a saved mdmlab language (kind {kind!r}; expected 'ngram' or 'hmm')")
