r"""The hard languages of the sequence-error lower bounds, as exact ``synth`` languages.

* :func:`block_copy` (k symbols, blocks of m): positions come in consecutive blocks of m; the
  first token of a block is uniform, the others copy it. An HMM with states (phase, symbol).
* :func:`pair_copy`: ``block_copy(k, 2)``, the language of Feng et al. (2025)'s SER argument: a
  pair breaks exactly when both halves are revealed in one step and drawn differently.
* :func:`all_equal`: a bigram whose first token is uniform and every later token repeats it; the
  constraint ties every position to every other (long range), the worst case for parallel reveals.
"""
import numpy as np

from mdmlab.synth import HMMLanguage, NGramLanguage
from mdmlab.synth._validation import check_int


def block_copy(symbols, block):
    r"""HMM over k symbols whose consecutive blocks of m tokens are constant, uniform per block.

    States (p, a), p in [0, m) the phase, a the symbol: (p, a) -> (p + 1, a) surely for p < m - 1,
    (m - 1, a) -> (0, b) with probability 1/k; state (p, a) emits a; z_1 = (0, a) with a uniform.
    """
    k = check_int("symbols", symbols, low=1)
    m = check_int("block", block, low=1)
    K = m * k
    state = np.arange(K).reshape(m, k)  # state[p, a]
    initial = np.zeros(K)
    initial[state[0]] = 1.0 / k
    A = np.zeros((K, K))
    for p in range(m - 1):
        A[state[p], state[p + 1]] = 1.0
    A[state[m - 1][:, None], state[0][None, :]] = 1.0 / k
    E = np.tile(np.eye(k), (m, 1))
    return HMMLanguage(initial, A, E)


def pair_copy(symbols):
    r"""``block_copy(symbols, 2)``: the second token of each pair repeats the first."""
    return block_copy(symbols, 2)


def all_equal(symbols):
    r"""Bigram over k symbols: x_1 uniform, x_t = x_1 for all t (identity transitions)."""
    k = check_int("symbols", symbols, low=1)
    return NGramLanguage(2, np.eye(k), initial=np.full(k, 1.0 / k))


LANGUAGES = {"pair-copy": pair_copy, "all-equal": all_equal, "block-copy": block_copy}
