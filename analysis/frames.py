r"""The reveal of one MDM sample, step by step, as text frames (for lectures and the terminal).

Each frame is one sampling step: the tokens revealed so far (``_`` for masked positions), the ones
this step revealed marked by brackets (or colour), and log q of what is revealed so far (the log
marginal of the observed tokens under the language). The first step whose tokens have probability
zero together with the earlier ones, the moment the string left the support, is marked, with the first
position (left to right among that step's tokens) at which it left. :func:`render` gives text,
:func:`show` draws one frame on a matplotlib ``ax`` and :func:`animate` the whole reveal (a GIF with
``path=``; in a notebook ``IPython.display.HTML(animate(frames).to_jshtml())``).
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
    left_at : int
        On that step, the first position i (left to right among the step's new tokens) such that the
        earlier tokens and this step's tokens at positions <= i already have probability zero; -1 elsewhere.
    """

    step: int
    tokens: np.ndarray
    new: np.ndarray
    log_q: float
    left_support: bool
    left_at: int = -1


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
        left = was_in and log_q == -np.inf
        at = _first_bad_position(language, x, steps, j) if left else -1
        frames.append(Frame(int(j), shown, steps == j, log_q, left, at))
        was_in = was_in and log_q > -np.inf
    return frames


def _first_bad_position(language, x, steps, j):
    r"""The least new position i of step j with q(earlier tokens, new tokens at positions <= i) = 0."""
    new = np.flatnonzero(steps == j)
    partial = np.where(steps < j, x, MASK)[None, :].repeat(len(new), axis=0)  # (n_new, L)
    for row, i in enumerate(new):
        partial[row:, i] = x[i]  # row r reveals the new tokens at positions new[0..r]
    bad = np.flatnonzero(np.asarray(language.log_prob(partial)) == -np.inf)
    return int(new[bad[0]]) if bad.size else int(new[-1])


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
        mark = f"   <- left the support here (position {f.left_at})" if f.left_support else ""
        lines.append(f"{f.step:>4}  {''.join(cells)}  {f.log_q:10.3f}{mark}")
    return "\n".join(lines)



def _symbol(tok, alphabet):
    return "_" if tok < 0 else str((alphabet or _SYMBOLS)[tok])


def show(frame, ax, *, alphabet=None, width=32, left=None):
    r"""Draw one frame on ``ax``: a cell per position (wrapped every ``width``), the tokens as text,
    this step's tokens highlighted, log q in the title; returns ``ax``.

    ``left`` is the frame at which the string left the support (if any, and not later than ``frame``):
    its position is outlined in red and the title says so.
    """
    from matplotlib.patches import Rectangle

    L = len(frame.tokens)
    rows = -(-L // width)
    ax.clear()
    ax.set(xlim=(-0.1, min(L, width) + 0.1), ylim=(rows + 0.1, -0.1), aspect="equal")
    ax.axis("off")
    for i, (tok, new) in enumerate(zip(frame.tokens, frame.new)):
        r, c = divmod(i, width)
        face = "#e69f00" if new else ("#eeeeee" if tok < 0 else "white")  # Okabe-Ito orange for new tokens
        bad = left is not None and i == left.left_at
        ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, edgecolor="#d55e00" if bad else "#999999",
                               lw=2.5 if bad else 0.5))
        ax.text(c + 0.5, r + 0.55, _symbol(tok, alphabet), ha="center", va="center", fontsize=9,
                color="#999999" if tok < 0 else "black", family="monospace")
    title = f"step {frame.step}: log q(revealed) = {frame.log_q:.3f}"
    if left is not None:
        title += f"\nleft the support at step {left.step}, position {left.left_at}"
    ax.set_title(title, fontsize=9, color="#d55e00" if left is not None else "black")
    return ax


def animate(frames, path=None, *, alphabet=None, fps=2, width=32):
    r"""The reveal as a matplotlib animation, one frame per step (:func:`show`); written to ``path``
    as a GIF with ``matplotlib.animation.PillowWriter`` when given. Returns the ``FuncAnimation``."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    if not frames:
        raise ValueError("frames must hold at least one Frame, got none")
    L = len(frames[0].tokens)
    rows = -(-L // width)
    fig = Figure(figsize=(0.3 * min(L, width) + 0.4, 0.3 * rows + 0.8), dpi=80)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.72 if rows == 1 else 0.8)
    left = [next((f for f in frames[:k + 1] if f.left_support), None) for k in range(len(frames))]

    def draw(k):
        show(frames[k], ax, alphabet=alphabet, width=width, left=left[k])
        return []

    anim = FuncAnimation(fig, draw, frames=len(frames), interval=1000 / fps, blit=False)
    if path is not None:
        anim.save(path, writer=PillowWriter(fps=fps))
    return anim
