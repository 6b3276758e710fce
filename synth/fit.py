r"""Languages from data: an n-gram estimated from a text or token sequences, HMMs from hmmlearn, and
plain JSON language files.

* :func:`fit_ngram` (``NGramLanguage.fit``): maximum likelihood n-gram counts, with optional additive
  smoothing. Without smoothing, transitions never seen stay forbidden (probability exactly 0), so
  the fitted language has a real support and a non-zero SER under parallel sampling.
* :func:`hmm_from_hmmlearn` / :func:`hmm_to_hmmlearn` (``HMMLanguage.from_hmmlearn``,
  ``HMMLanguage.to_hmmlearn``): a ``hmmlearn.hmm.CategoricalHMM`` and back (hmmlearn is optional).
* :func:`load_json` / :func:`save_json`: ``{"kind": "ngram", "order": 2, "table": [...], "initial":
  [...]}``, ``{"kind": "hmm", "initial": ..., "transition": ..., "emission": ...}`` or a registered
  kind with its keys, ``{"kind": "pair-copy", "symbols": 4}``. ``synth.load`` and every spec accept
  a ``.json`` path.
"""
import json
import os

import numpy as np

from mdmlab.synth import _validation as val
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.ngram import NGramLanguage


def fit_ngram(data, order, *, smoothing=0.0, vocab_size=None):
    r"""Estimate an order-n language from a text or from token sequences.

    q(v | c) = (count(c, v) + smoothing) / (count(c) + smoothing V) over the (n-1)-token contexts c
    seen in the data; a context never seen gets the uniform row (it is only reachable through
    transitions that compose unseen contexts). The first n-1 tokens follow the empirical law of the
    (n-1)-grams (smoothed alike).

    Parameters
    ----------
    data : str, sequence of int, or sequence of sequences of int
        A text (its characters are the tokens: ``language.alphabet`` lists them in id order), one
        token sequence, or several (n-grams never span two sequences).
    order : int
        n >= 1.
    smoothing : float
        Additive (Laplace/Lidstone) pseudo-count >= 0; 0 keeps unseen transitions forbidden.
    vocab_size : int, optional
        V for token data (default: largest token + 1); ignored for a text.

    Returns
    -------
    NGramLanguage
        With ``alphabet`` set to the tuple of characters for a text, else None.
    """
    n = val.check_int("order", order, low=1)
    alpha = val.check_real("smoothing", smoothing, low=0.0)
    seqs, alphabet, V = _sequences(data, vocab_size)
    if not any(len(s) >= n for s in seqs):
        raise ValueError(f"data must hold a sequence of at least order = {n} tokens, got lengths "
                         f"{[len(s) for s in seqs][:5]}")
    val.check_entries(f"an order-{n} table over V = {V} tokens (V^n)", (V,) * n)
    grams = _counts(seqs, n, V)  # (V,) * n
    table = _normalise(grams.reshape(-1, V) + alpha).reshape((V,) * n)
    initial = None
    if n > 1:
        initial = _normalise((_counts(seqs, n - 1, V).reshape(1, -1) + alpha))[0].reshape((V,) * (n - 1))
    lang = NGramLanguage(n, table, initial)
    lang.alphabet = alphabet
    return lang


def hmm_from_hmmlearn(model):
    r"""The :class:`HMMLanguage` of a fitted ``hmmlearn.hmm.CategoricalHMM`` (startprob_, transmat_,
    emissionprob_)."""
    missing = [a for a in ("startprob_", "transmat_", "emissionprob_") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"model must be a fitted hmmlearn CategoricalHMM with startprob_, transmat_ and "
                        f"emissionprob_, got {type(model).__name__} without {missing}")
    return HMMLanguage(model.startprob_, model.transmat_, model.emissionprob_)


def hmm_to_hmmlearn(language):
    r"""A ``hmmlearn.hmm.CategoricalHMM`` holding the language's parameters (needs hmmlearn)."""
    try:
        from hmmlearn.hmm import CategoricalHMM
    except ImportError:
        raise ImportError("hmm_to_hmmlearn needs hmmlearn: pip install 'mdmlab[test]' or pip install hmmlearn") from None
    model = CategoricalHMM(n_components=language.num_states, n_features=language.vocab_size, init_params="",
                           params="ste")
    model.startprob_ = np.array(language.initial)
    model.transmat_ = np.array(language.transition)
    model.emissionprob_ = np.array(language.emission)
    return model


def load_json(path):
    r"""Read a plain JSON language file (see the module docstring); returns the language."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as err:
        raise ValueError(f"language file {os.fspath(path)!r} is not valid JSON: {err}") from None
    if not isinstance(doc, dict) or "kind" not in doc:
        raise ValueError(f"language file {os.fspath(path)!r} must hold a JSON object with a 'kind', got "
                         f"{type(doc).__name__}")
    kind, rest = doc["kind"], {k: v for k, v in doc.items() if k != "kind"}
    readers = {"ngram": _json_ngram, "hmm": _json_hmm}
    try:
        if kind in readers:
            return readers[kind](rest)
        from mdmlab.synth.registry import LanguageSpec, from_spec

        return from_spec(LanguageSpec(kind, rest))
    except (TypeError, KeyError) as err:
        raise ValueError(f"language file {os.fspath(path)!r} (kind {kind!r}): {err}") from None


def save_json(language, path):
    r"""Write a plain JSON file for an n-gram or HMM language (probabilities as decimal floats, which
    round-trip float64 exactly through Python's repr)."""
    state = dict(language._state())
    doc = {"kind": str(state.pop("kind"))}
    doc.update({k: np.asarray(v).tolist() for k, v in state.items()})  # numpy scalars and arrays -> JSON
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)


def _json_ngram(doc):
    _check_keys("ngram", doc, {"order", "table"}, {"initial"})
    order = doc["order"]
    return NGramLanguage(order, np.asarray(doc["table"], dtype=np.float64),
                         None if doc.get("initial") is None or order == 1 else np.asarray(doc["initial"]))


def _json_hmm(doc):
    _check_keys("hmm", doc, {"initial", "transition", "emission"}, set())
    return HMMLanguage(doc["initial"], doc["transition"], doc["emission"])


def _check_keys(kind, doc, required, optional):
    unknown, missing = set(doc) - required - optional, required - set(doc)
    if unknown or missing:
        raise KeyError(f"kind {kind!r} needs keys {sorted(required)} (optional {sorted(optional)}); "
                       f"missing {sorted(missing)}, unknown {sorted(unknown)}")


def _sequences(data, vocab_size):
    """(list of int64 arrays, alphabet or None, V) from a text, a sequence or sequences of tokens."""
    if isinstance(data, str):
        alphabet = tuple(sorted(set(data)))
        index = {ch: i for i, ch in enumerate(alphabet)}
        return [np.array([index[ch] for ch in data], dtype=np.int64)], alphabet, len(alphabet)
    items = list(data)
    nested = bool(items) and not np.isscalar(items[0])
    seqs = [np.asarray(s) for s in (items if nested else [items])]
    for s in seqs:
        if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)) or (s < 0).any():
            raise ValueError(f"data must be a text or sequences of non-negative integer tokens, got an array of "
                             f"dtype {s.dtype} and shape {s.shape}")
    top = max((int(s.max()) + 1 for s in seqs if s.size), default=0)
    V = top if vocab_size is None else val.check_int("vocab_size", vocab_size, low=1)
    if top > V:
        raise ValueError(f"vocab_size must exceed every token, got vocab_size = {V} and a token {top - 1}")
    return [s.astype(np.int64) for s in seqs], None, V


def _counts(seqs, m, V):
    """Counts of every m-gram (V,) * m (m = 0: an empty shape, the number of sequences)."""
    counts = np.zeros(V ** m)
    for s in seqs:
        if len(s) < m:
            continue
        idx = np.zeros(len(s) - m + 1, dtype=np.int64)
        for j in range(m):
            idx = idx * V + s[j:len(s) - m + 1 + j]
        np.add.at(counts, idx, 1.0)
    return counts.reshape((V,) * m)


def _normalise(rows):
    """Rows divided by their sums; all-zero rows (unseen contexts) become uniform."""
    sums = rows.sum(axis=1, keepdims=True)
    return np.where(sums > 0, rows / np.where(sums > 0, sums, 1.0), 1.0 / rows.shape[1])
