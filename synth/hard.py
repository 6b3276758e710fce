r"""The hard languages of the sequence-error lower bounds, as exact languages.

* :func:`block_copy` (k symbols, blocks of m): positions come in consecutive blocks of m; the
  first token of a block is uniform, the others copy it. An HMM with states (phase, symbol).
* :func:`pair_copy`: ``block_copy(k, 2)``, this project's construction (not Feng et al.'s, whose hard
  case is an HMM we do not know): a pair breaks exactly when both halves are revealed in one step and
  drawn differently.
* :func:`all_equal`: a bigram whose first token is uniform and every later token repeats it; the
  constraint ties every position to every other (long range), the worst case for parallel reveals.

Each carries its :class:`~synth.LanguageSpec` (``pair-copy:symbols=k`` ...), so a saved copy
still names the closed forms of ``theory.closed_form_ser``.
"""
import numpy as np

from mdmlab.synth import _validation as val
from mdmlab.synth._spec import LanguageSpec
from mdmlab.synth.hmm import HMMLanguage
from mdmlab.synth.ngram import NGramLanguage


def block_copy(symbols: int, block: int):
    r"""HMM over k symbols whose consecutive blocks of m tokens are constant, uniform per block.

    States (p, a), p in [0, m) the phase, a the symbol: (p, a) -> (p + 1, a) surely for p < m - 1,
    (m - 1, a) -> (0, b) with probability 1/k; state (p, a) emits a; z_1 = (0, a) with a uniform.
    A length that m does not divide ends in a shorter block.

    Parameters
    ----------
    symbols : int
        k >= 1, the vocabulary size V.
    block : int
        m >= 1, the block length.

    Returns
    -------
    HMMLanguage
        With K = m k states and ``spec`` ``block-copy:symbols=k,block=m``.
    """
    k = val.check_int("symbols", symbols, low=1)
    m = val.check_int("block", block, low=1)
    lang = _block_hmm(k, m)
    lang._spec = LanguageSpec("block-copy", {"symbols": k, "block": m})
    return lang


def pair_copy(symbols: int):
    r"""``block_copy(symbols, 2)``: the second token of each pair repeats the first.

    Returns
    -------
    HMMLanguage
        With ``spec`` ``pair-copy:symbols=k``.
    """
    k = val.check_int("symbols", symbols, low=1)
    lang = _block_hmm(k, 2)
    lang._spec = LanguageSpec("pair-copy", {"symbols": k})
    return lang


def all_equal(symbols: int):
    r"""Bigram over k symbols: x_1 uniform, x_t = x_1 for all t (identity transitions).

    Returns
    -------
    NGramLanguage
        Order 2, V = k, with ``spec`` ``all-equal:symbols=k``.
    """
    k = val.check_int("symbols", symbols, low=1)
    lang = NGramLanguage(2, np.eye(k), initial=np.full(k, 1.0 / k))
    lang._spec = LanguageSpec("all-equal", {"symbols": k})
    return lang


def _block_hmm(k, m):
    """The block-copy HMM (validated k, m), without a spec."""
    K = m * k
    state = np.arange(K).reshape(m, k)  # state[p, a]
    initial = np.zeros(K)
    initial[state[0]] = 1.0 / k
    A = np.zeros((K, K))
    for p in range(m - 1):
        A[state[p], state[p + 1]] = 1.0
    A[state[m - 1][:, None], state[0][None, :]] = 1.0 / k
    E = np.tile(np.eye(k), (m, 1))  # (K, V): state (p, a) emits a
    return HMMLanguage(initial, A, E)
