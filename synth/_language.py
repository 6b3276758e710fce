r"""The public behaviour shared by every exact synthetic language.

A subclass supplies one public method, ``chain()``, returning an :class:`~synth.HMMChain` or an
:class:`~synth.NGramChain` (see :mod:`synth.chain`). The kernel hooks on flattened ``(B, L)`` int64
tokens (``_log_evidence(x, out)``, ``_posteriors(x, onehot_observed, out, log_ev)``,
``_sample(uniforms, out)``, ``_uniforms_per_token``, ``_message_width``) run the chain's kernels
through its :func:`~synth.kernel_arrays`, computed once and cached; everything else (validation,
batch shapes, ``size=``, ``rng=``, errors for impossible conditioning, entropy by enumeration or
Monte Carlo) lives here once.
"""
import itertools
from typing import NamedTuple

import numpy as np

from mdmlab.synth import _validation as val
from mdmlab.synth.chain import kernel_arrays

MASK = -1


class EntropyResult(NamedTuple):
    r"""Entropy H(X_{1:L}) of a language over sequences of a given length.

    Attributes
    ----------
    nats : float
        H(X_{1:L}) = -E[log q(X_{1:L})] in nats (exact, or the Monte Carlo mean).
    stderr : float
        Standard error of ``nats``: 0 when exact, else std(-log q(X)) / sqrt(samples).
    method : str
        ``"exact"`` (closed recursion or full enumeration) or ``"monte-carlo"``.
    samples : int
        Number of Monte Carlo sequences (0 when exact).
    """

    nats: float
    stderr: float
    method: str
    samples: int


class Language:
    """Base class: validated public API over the exact kernels of the chain a subclass returns."""

    _spec = None  # set by the constructors that know what they built (registry, hard languages, random)
    #: The symbols of the token ids when known (a language fitted on a text: its characters), else None.
    alphabet = None

    @property
    def spec(self):
        r"""The :class:`~synth.LanguageSpec` this language was built from, or None if built by hand.

        ``synth.from_spec(str(language.spec))`` rebuilds the language; ``save`` stores the spec and
        ``synth.load`` restores it.
        """
        return self._spec

    # -- the contract -----------------------------------------------------------------------
    def chain(self):  # pragma: no cover - abstract
        r"""The language as a hidden Markov chain: an :class:`~synth.HMMChain` or :class:`~synth.NGramChain`.

        The one method a subclass must supply; its arrays must not change afterwards (the kernel
        layout is computed from them once and cached).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement chain()")

    @property
    def vocab_size(self):
        """V, the number of tokens (the chain's, unless a subclass says otherwise)."""
        return self._kernel().vocab_size

    def kernel_arrays(self):
        r"""The validated kernel layout of :meth:`chain` (:func:`~synth.kernel_arrays`), computed once and cached."""
        return self._kernel()

    # -- kernel hooks, all from the cached layout of chain() -----------------------------------
    def _kernel(self):
        """The validated :func:`~synth.kernel_arrays` of ``self.chain()``, computed on first use."""
        arrays = self.__dict__.get("_kernel_arrays")
        if arrays is None:
            arrays = self.__dict__["_kernel_arrays"] = kernel_arrays(self.chain())
            if self.vocab_size != arrays.vocab_size:
                del self.__dict__["_kernel_arrays"]
                raise ValueError(f"{type(self).__name__}.chain() has V = {arrays.vocab_size} tokens but "
                                 f"vocab_size = {self.vocab_size}")
        return arrays

    @property
    def _uniforms_per_token(self):
        return self._kernel().uniforms_per_token

    @property
    def _message_width(self):  # K: length of one forward message, states of the chain the kernels run
        return self._kernel().num_states

    def _log_evidence(self, x, out):
        self._kernel()._log_evidence(x, out)

    def _posteriors(self, x, onehot_observed, out, log_ev):
        self._kernel()._posteriors(x, onehot_observed, out, log_ev)

    def _sample(self, uniforms, out):
        self._kernel()._sample(uniforms, out)

    # -- public API ---------------------------------------------------------------------------
    def sample(self, length, size=None, *, rng=None):
        r"""Draw exact samples X_{1:L} ~ q.

        Parameters
        ----------
        length : int
            Sequence length L >= 1.
        size : None, int or tuple of int
            Batch shape, as in numpy: None gives one sequence of shape (L,).
        rng : None, int, numpy.random.Generator
            Randomness, normalised with ``np.random.default_rng``.

        Returns
        -------
        numpy.ndarray of int64, shape ``(*size, L)``
        """
        L = val.check_int("length", length, low=1)
        shape = val.check_size(size)
        rng = val.check_rng(rng)
        B = int(np.prod(shape, dtype=np.int64))
        out = np.empty((B, L), dtype=np.int64)
        if B:
            u = rng.random((B, L, self._uniforms_per_token)) if self._uniforms_per_token > 1 \
                else rng.random((B, L))
            self._sample(u, out)
        return out.reshape(shape + (L,))

    def log_prob(self, x):
        r"""Exact log q(x) in nats; ``-inf`` outside the support.

        Masked positions (``MASK``) are marginalised, so a partly masked ``x`` gives the log
        marginal probability of its observed tokens.

        Parameters
        ----------
        x : array_like of int, shape ``(*batch, L)``

        Returns
        -------
        numpy.ndarray of float64, shape ``batch``
        """
        x2, batch = self._flatten(x, allow_mask=True)
        out = np.empty(x2.shape[0])
        self._log_evidence(x2, out)
        return out.reshape(batch)

    def in_support(self, x):
        r"""Whether q(x) > 0 (for masked ``x``: whether the observed tokens have positive mass)."""
        return self.log_prob(x) > -np.inf

    def conditionals(self, x, *, impossible="raise"):
        r"""The exact denoiser: q(x_i = v | all unmasked tokens of x) for every position.

        Row ``i`` is that conditional for a masked position and the one-hot of the observed token
        for an unmasked one.

        Parameters
        ----------
        x : array_like of int, shape ``(*batch, L)``, ``MASK`` marks masked positions.
        impossible : {"raise", "uniform"}
            What to do when the unmasked tokens of a sequence have probability zero (its
            conditionals are 0/0): raise, or give its masked positions uniform rows 1/V, the MDM
            sampler's fallback (:class:`models.ExactDenoiser`).

        Returns
        -------
        numpy.ndarray of float64, shape ``(*batch, L, V)``

        Raises
        ------
        ValueError
            If ``impossible="raise"`` and the unmasked tokens of some sequence have probability zero.
        """
        if impossible not in ("raise", "uniform"):
            raise ValueError(f"impossible must be 'raise' or 'uniform', got {impossible!r}")
        x2, batch = self._flatten(x, allow_mask=True)
        out, log_ev = self._run_posteriors(x2, onehot_observed=True)
        dead = log_ev == -np.inf  # (B,)
        if impossible == "uniform":
            out[dead[:, None] & (x2 < 0)] = 1.0 / out.shape[-1]
            return out.reshape(batch + out.shape[1:])
        bad = np.flatnonzero(dead)
        if bad.size:
            raise ValueError(
                f"x{self._index(bad[0], batch)}: its unmasked tokens have probability zero under this "
                f"language, so the conditionals are undefined ({bad.size} such sequences)")
        return out.reshape(batch + out.shape[1:])

    def leave_one_out(self, x):
        r"""q(x_i = v | x_{-i}) for every position of a fully observed ``x``, in one pass.

        Returns
        -------
        numpy.ndarray of float64, shape ``(*batch, L, V)``

        Raises
        ------
        ValueError
            If ``x`` holds ``MASK`` or if some q(x_{-i}) = 0 (the conditional is undefined).
        """
        x2, batch = self._flatten(x, allow_mask=False)
        out, _ = self._run_posteriors(x2, onehot_observed=False)
        bad = np.argwhere(np.isnan(out[..., 0]))
        if bad.size:
            b, i = (int(k) for k in bad[0])
            raise ValueError(
                f"x{self._index(b, batch)}: the other tokens x_(-{i}) have probability zero, so "
                f"q(x_{i} | x_(-{i})) is undefined ({len(bad)} such positions)")
        return out.reshape(batch + out.shape[1:])

    def save(self, path):
        r"""Write the language to one ``.npz`` file at ``path``; ``synth.load(path)`` reads it back exactly.

        A path ending in ``.json`` gets a plain JSON file instead (n-gram and HMM languages).

        The file holds the arrays of ``_state()`` bit for bit and, when the language has one, its
        ``spec`` as a JSON string (no pickles). Exactly ``path``: no suffix is added.
        """
        if str(path).endswith(".json"):  # a plain JSON file instead (synth.fit.save_json)
            from mdmlab.synth.fit import save_json

            return save_json(self, path)
        state = dict(self._state())
        if self.spec is not None:
            state["spec"] = np.array(self.spec.to_json())
        with open(path, "wb") as fh:
            np.savez(fh, **state)

    def entropy(self, length, *, samples=10_000, rng=None, max_enumeration=2 ** 16):
        r"""H(X_{1:L}) in nats: exact by enumeration when V^L <= ``max_enumeration``, else Monte Carlo.

        The Monte Carlo estimate is the mean of -log q(X) over ``samples`` exact draws, with its
        standard error. Subclasses with a closed recursion override this and are always exact.

        Returns
        -------
        EntropyResult
        """
        L = val.check_int("length", length, low=1)
        V = self.vocab_size
        if V ** L <= val.check_int("max_enumeration", max_enumeration, low=1):
            x = np.array(list(itertools.product(range(V), repeat=L)), dtype=np.int64)
            lp = self.log_prob(x)
            p = np.exp(lp)
            nats = -float(np.sum(p[p > 0] * lp[p > 0]))
            return EntropyResult(nats, 0.0, "exact", 0)
        S = val.check_int("samples", samples, low=2)
        nll = -self.log_prob(self.sample(L, S, rng=rng))
        return EntropyResult(float(nll.mean()), float(nll.std(ddof=1) / np.sqrt(S)), "monte-carlo", S)

    # -- helpers ----------------------------------------------------------------------------
    def _flatten(self, x, *, allow_mask):
        arr = val.check_tokens("x", x, self.vocab_size, allow_mask=allow_mask)
        return arr.reshape(-1, arr.shape[-1]), arr.shape[:-1]

    def _run_posteriors(self, x2, *, onehot_observed):
        B, L = x2.shape
        val.check_entries("the conditionals output (B, L, V)", (B, L, self.vocab_size))
        val.check_entries("the forward messages (L, K) kept per sequence in flight", (L, self._message_width))
        out = np.empty((B, L, self.vocab_size))
        log_ev = np.empty(B)
        self._posteriors(x2, onehot_observed, out, log_ev)
        return out, log_ev

    @staticmethod
    def _index(flat, batch):
        """Render a flat batch index as ``[i, j]`` in the caller's batch shape."""
        if not batch:
            return ""
        return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, batch)) + "]"
