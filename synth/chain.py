r"""The public contract between a language and the exact kernels: a hidden Markov chain.

A :class:`~mdmlab.synth.Language` subclass says what it is by returning one of two chains from
``chain()``; the base class derives everything else (sampling, log-probabilities, conditionals,
leave-one-out, entropy) from it, and the MDM sampler runs its exact paths on it.

* :class:`HMMChain`: a dense hidden Markov model, O(K^2) per position.
* :class:`NGramChain`: an order-n language as a Markov chain on windows of n-1 tokens whose
  transitions are shifts, O(K V) = O(V^n) per position instead of the dense O(K^2).

:func:`kernel_arrays` turns a chain into the contiguous, read-only float64 layouts the numba kernels
take (transposes, per-group tables, CDFs), validated once; languages cache it.
"""
from typing import NamedTuple

import numpy as np

from mdmlab.synth import _kernels as kern
from mdmlab.synth import _validation as val


class HMMChain(NamedTuple):
    r"""A dense hidden Markov model with K states over V tokens.

    q(x_{1:L}) = sum_z pi[z_1] E[z_1, x_1] prod_{t>1} A[z_{t-1}, z_t] E[z_t, x_t].

    Attributes
    ----------
    initial : numpy.ndarray, shape (K,)
        pi[k] = p(z_1 = k).
    transition : numpy.ndarray, shape (K, K)
        A[i, j] = p(z_{t+1} = j | z_t = i); rows sum to one.
    emission : numpy.ndarray, shape (K, V)
        E[k, v] = p(x_t = v | z_t = k); rows sum to one.
    """

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    @property
    def num_states(self):
        """K, the number of hidden states."""
        return np.shape(self.emission)[0]

    @property
    def vocab_size(self):
        """V, the number of tokens."""
        return np.shape(self.emission)[1]


class NGramChain(NamedTuple):
    r"""An order-n language as a Markov chain on windows of n-1 tokens with shift transitions.

    The hidden state at position t is the window s_t = (x_t, ..., x_{t+n-2}) with flat index
    c = x_t V^(n-2) + ... + x_{t+n-2} in [0, K), K = V^(n-1). With C = K // V:

    * window c emits its first token, x_t = c // C (deterministic emission);
    * window c moves to (c % C) V + v with probability table[c, v] (drop the first token, append v);
    * s_1 ~ initial, so q(x_{1:L}) = initial[s_1] prod_{t>1} table[s_{t-1}, x_{t+n-2}], with the
      tokens past x_L marginalised (they are in no observed position).

    This is the chain of :meth:`NGramLanguage.to_hmm` written without its dense K x K matrix. An
    order-1 (i.i.d.) language is the order-2 chain (K = V) whose rows all equal the unigram.

    Attributes
    ----------
    initial : numpy.ndarray, shape (K,)
        initial[c] = p(s_1 = c) = p(x_1, ..., x_{n-1} = the tokens of window c).
    table : numpy.ndarray, shape (K, V)
        table[c, v] = q(x_{t+n-1} = v | x_{t:t+n-2} = the tokens of window c); rows sum to one.
    """

    initial: np.ndarray
    table: np.ndarray

    @property
    def num_states(self):
        """K = V^(n-1), the number of windows."""
        return np.shape(self.table)[0]

    @property
    def vocab_size(self):
        """V, the number of tokens."""
        return np.shape(self.table)[1]

    @property
    def order(self):
        """n >= 2, from K = V^(n-1) (an order-1 language is its order-2 chain; V = 1 gives 2)."""
        return _window_tokens(*np.shape(self.table)) + 1

    def dense(self):
        r"""The same chain as a dense :class:`HMMChain` on the K windows (validated), O(K^2) memory.

        A[c, (c % C) V + v] = table[c, v], E[c, c // C] = 1, pi = initial.
        """
        table = np.asarray(self.table, dtype=np.float64)
        K, V = table.shape
        val.check_entries(f"the dense transition matrix (K, K) with K = {K}", (K, K))
        C = K // V
        c = np.arange(K)
        A = np.zeros((K, K))
        A[c[:, None], (c % C)[:, None] * V + np.arange(V)] = table
        E = np.zeros((K, V))
        E[c, c // C] = 1.0
        return HMMChain(val.check_distribution("initial", self.initial, shape=(K,)),
                        val.check_distribution("transition", A, shape=(K, K)),
                        val.check_distribution("emission", E, shape=(K, V)))


class HMMArrays(NamedTuple):
    r"""Kernel layout of an :class:`HMMChain`: contiguous read-only float64 arrays.

    ``initial`` pi (K,), ``transition`` A (K, K), ``transition_t`` A^T (K, K), ``emission`` E (K, V),
    ``emission_t`` E^T (V, K), and the running sums along the last axis ``cum_initial`` (K,),
    ``cum_transition`` (K, K), ``cum_emission`` (K, V) for inverse-CDF draws.
    """

    initial: np.ndarray
    transition: np.ndarray
    transition_t: np.ndarray
    emission: np.ndarray
    emission_t: np.ndarray
    cum_initial: np.ndarray
    cum_transition: np.ndarray
    cum_emission: np.ndarray

    #: uniforms per token of ancestral sampling: one for x_t ~ E[z_t], one for z_{t+1} ~ A[z_t]
    uniforms_per_token = 2

    @property
    def num_states(self):
        return self.initial.shape[0]

    @property
    def vocab_size(self):
        return self.emission.shape[1]

    def _log_evidence(self, x, out):
        kern.hmm_log_evidence(x, self.initial, self.transition, self.emission_t, out)

    def _posteriors(self, x, onehot_observed, out, log_ev):
        kern.hmm_token_posteriors(x, self.initial, self.transition, self.transition_t, self.emission,
                                  self.emission_t, onehot_observed, out, log_ev)

    def _sample(self, uniforms, out):
        kern.hmm_sample(self.cum_initial, self.cum_transition, self.cum_emission, uniforms, out)


class NGramArrays(NamedTuple):
    r"""Kernel layout of an :class:`NGramChain`: contiguous read-only float64 arrays.

    ``initial`` (K,), ``table`` (K, V), the table grouped by successor block (C = K // V, window
    c = u C + grp): ``table_fw[grp, u, v] = table_bw[grp, v, u] = table[u C + grp, v]``, and the
    running sums ``cum_initial`` (K,), ``cum_table`` (K, V) for inverse-CDF draws.
    """

    initial: np.ndarray
    table: np.ndarray
    table_fw: np.ndarray
    table_bw: np.ndarray
    cum_initial: np.ndarray
    cum_table: np.ndarray

    #: uniforms per token of ancestral sampling: one for the token entering the window
    uniforms_per_token = 1

    @property
    def num_states(self):
        return self.initial.shape[0]

    @property
    def vocab_size(self):
        return self.table.shape[1]

    def _log_evidence(self, x, out):
        kern.ngram_log_evidence(x, self.initial, self.table_fw, out)

    def _posteriors(self, x, onehot_observed, out, log_ev):
        kern.ngram_token_posteriors(x, self.initial, self.table_fw, self.table_bw, onehot_observed, out, log_ev)

    def _sample(self, uniforms, out):
        kern.ngram_sample(self.cum_initial, self.cum_table, uniforms, out)


def kernel_arrays(chain):
    r"""Validate ``chain`` and lay it out for the numba kernels (every array read-only).

    Parameters
    ----------
    chain : HMMChain or NGramChain

    Returns
    -------
    HMMArrays or NGramArrays
        Arrays equal to the chain's own bit for bit when they are valid float64 distributions
        (rows within rounding of one); rows further off are renormalised as the constructors do.

    Raises
    ------
    TypeError
        If ``chain`` is neither chain type.
    ValueError
        Wrong shapes, K not a power V^(n-1) of V (n-gram), or rows that are not distributions.
    """
    if type(chain) not in _LAYOUTS:
        raise TypeError(f"chain must be an HMMChain or an NGramChain, got {type(chain).__name__}")
    return _LAYOUTS[type(chain)](chain)


def _hmm_arrays(chain):
    emission = np.asarray(chain.emission)
    if emission.ndim != 2:
        raise ValueError(f"HMMChain.emission must have shape (K, V), got {emission.shape}")
    K, V = emission.shape
    initial = _checked("HMMChain.initial", chain.initial, (K,))
    transition = _checked("HMMChain.transition", chain.transition, (K, K))
    emission = _checked("HMMChain.emission", emission, (K, V))
    return HMMArrays(initial, transition, _frozen(transition.T), emission, _frozen(emission.T),
                     *(_frozen(np.cumsum(a, axis=-1)) for a in (initial, transition, emission)))


def _ngram_arrays(chain):
    table = np.asarray(chain.table)
    if table.ndim != 2:
        raise ValueError(f"NGramChain.table must have shape (K, V), got {table.shape}")
    K, V = table.shape
    if K < V or V ** _window_tokens(K, V) != K:
        raise ValueError(f"NGramChain.table must have K = V^(n-1) rows for some n >= 2, got shape {table.shape}")
    initial = _checked("NGramChain.initial", chain.initial, (K,))
    table = _checked("NGramChain.table", table, (K, V))
    by_group = table.reshape(V, K // V, V)  # [u, grp, v] = table[u C + grp, v]
    return NGramArrays(initial, table, _frozen(by_group.transpose(1, 0, 2)), _frozen(by_group.transpose(1, 2, 0)),
                       _frozen(np.cumsum(initial)), _frozen(np.cumsum(table, axis=1)))


_LAYOUTS = {HMMChain: _hmm_arrays, NGramChain: _ngram_arrays}


def _window_tokens(K, V):
    """n - 1 >= 1: the smallest m >= 1 with V^m >= K (exact when K = V^(n-1))."""
    m, width = 1, V
    while width < K and V > 1:
        m, width = m + 1, width * V
    return m


def _checked(name, given, shape):
    """The validated distribution: ``given`` itself (as contiguous float64) when validation leaves it unchanged."""
    arr = np.ascontiguousarray(given, dtype=np.float64)
    valid = val.check_distribution(name, arr, shape=shape)
    return _frozen(arr if np.array_equal(valid, arr) else valid)


def _frozen(a):
    """A C-contiguous read-only view (or copy) of ``a``; the caller's array keeps its own flags."""
    out = np.ascontiguousarray(a, dtype=np.float64).view()
    out.flags.writeable = False
    return out
