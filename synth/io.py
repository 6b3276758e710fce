r"""Loading languages: one ``.npz`` file, float64 arrays stored bit for bit, no pickles.

``Language.save`` writes the arrays of its ``_state()`` (a ``kind`` entry naming its class) and its
``spec`` as a JSON string; :func:`load` reads them back through :data:`READERS`, a table
kind -> reader. This module sits above the language classes, which never import it.
"""
import zipfile

import numpy as np

from mdmlab.synth._spec import LanguageSpec
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.ngram import NGramLanguage


def _read_ngram(data):
    order = int(data["order"])
    return NGramLanguage(order, data["table"], data["initial"] if order > 1 else None)


def _read_hmm(data):
    return HMMLanguage(data["initial"], data["transition"], data["emission"])


#: The ``kind`` entry of a saved file -> the function that rebuilds the language from its arrays.
READERS = {"ngram": _read_ngram, "hmm": _read_hmm}


def save(language, path):
    """Write ``language`` to ``path``: the same as ``language.save(path)``."""
    language.save(path)


def load(path):
    r"""Read a language written by ``Language.save``, with its ``spec`` (None in files without one).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    NGramLanguage or HMMLanguage

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a saved language (not an ``.npz`` archive, an unknown ``kind``, a missing
        array or an unreadable spec).
    """
    if str(path).endswith(".json"):
        from mdmlab.synth.fit import load_json

        return load_json(path)
    try:
        with np.load(path, allow_pickle=False) as data:  # a plain .npy array has no 'with': TypeError
            return _read(data)
    except (ValueError, KeyError, EOFError, AttributeError, TypeError, zipfile.BadZipFile) as err:
        raise ValueError(f"path {str(path)!r} is not a saved mdmlab language ({err})") from None


def _read(data):
    kind = str(data["kind"]) if "kind" in data else None
    if kind not in READERS:
        raise ValueError(f"kind {kind!r}; expected one of {sorted(READERS)}")
    lang = READERS[kind](data)
    if "spec" in data:
        lang._spec = LanguageSpec.from_json(str(data["spec"]))
    return lang
