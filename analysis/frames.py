r"""The reveal of one MDM sample, step by step, as text frames (for lectures and the terminal).

Each frame is one sampling step: the tokens revealed so far (``_`` for masked positions), the ones
this step revealed marked by brackets (or colour), and log q of what is revealed so far (the log
marginal of the observed tokens under the language). The first step whose tokens have probability
zero together with the earlier ones, the moment the string left the support, is marked.
"""
from typing import NamedTuple

import numpy as np

from mdmlab.synth import MASK

_SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NEW = "\033[1;38;5;208m"
_RESET = "\033[0m"


class Frame(NamedTuple):
    r"""One step of the reveal.

    Attributes
    ----------
    step : int
        0-based step j.
    tokens : numpy.ndarray (L,)
        Tokens revealed at steps <= j, ``MASK`` elsewhere.
    new : numpy.ndarray (L,) bool
        Positions revealed at step j.
    log_q : float
        log q(x_revealed): the log marginal probability of the revealed tokens (-inf outside the support).
    left_support : bool
        True on the first step at which log_q became -inf.
    """

    step: int
    tokens: np.ndarray
    new: np.ndarray
    log_q: float
    left_support: bool


def reveal_frames(language, tokens, reveal_step):
    r"""The frames of one run: ``tokens`` and ``reveal_step`` of shape (L,) (one row of a SampleResult).

    Returns
    -------
    list of Frame, one per step that revealed at least one token.
    """
    x, steps = np.asarray(tokens), np.asarray(reveal_step)
    if x.shape != steps.shape or x.ndim != 1:
        raise ValueError(f"tokens and reveal_step must be two arrays of shape (L,), got {x.shape} and {steps.shape}")
    frames, was_in = [], True
    for j in np.unique(steps):
        shown = np.where(steps <= j, x, MASK)
        log_q = float(language.log_prob(shown))
        frames.append(Frame(int(j), shown, steps == j, log_q, was_in and log_q == -np.inf))
        was_in = was_in and log_q > -np.inf
    return frames


def render(frames, *, alphabet=None, colour=False):
    r"""The frames as lines of text: ``step  tokens  log q``, new tokens in brackets (or colour).

    ``alphabet`` names the token ids (default digits, then letters); a legend line comes first.
    """
    symbols = alphabet or _SYMBOLS
    lines = ["step  sequence (_ masked, " + ("coloured" if colour else "[x]") + " = revealed this step)  log q(revealed)"]
    for f in frames:
        cells = []
        for tok, new in zip(f.tokens, f.new):
            ch = "_" if tok < 0 else str(symbols[tok])
            cells.append((f"{_NEW}{ch}{_RESET}" if colour else f"[{ch}]") if new else (ch if colour else f" {ch} "))
        mark = "   <- left the support here" if f.left_support else ""
        lines.append(f"{f.step:>4}  {''.join(cells)}  {f.log_q:10.3f}{mark}")
    return "\n".join(lines)
