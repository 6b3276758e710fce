r"""Position policies: which masked positions a step reveals.

Each policy ranks the masked positions and the step reveals the first ``count`` of them:

* ``"random"``: uniformly at random (the theory's choice);
* ``"left-to-right"``: by position (autoregressive order);
* ``"confidence"``: highest max_v p(x_i = v | revealed) first;
* ``"margin"``: largest top-1 minus top-2 probability first;
* ``"entropy"``: lowest entropy of the conditional first;
* ``"sampled"``: highest probability of the token *just drawn* at the position, under the row it
  was drawn from (Dream's ``maskgit_plus``); every masked position draws a candidate token each
  step, the chosen ones keep theirs and the rest are discarded, so the choice depends on the draws;
* ``"sampled-raw"``: the same draws, scored by the denoiser's own row before the token rule
  (LLaDA's ``low_confidence``: ``softmax(logits)[x0]`` with x0 drawn at the temperature).

With ``block_length=b`` (semi-autoregressive), positions are split into consecutive blocks of b
(the last block is shorter when b does not divide L) and the ranking is by block first, so a step
reveals from the earliest block that still has masked positions, spilling into the next block
when the count asks for more. Ties are broken by a uniform random permutation drawn once per run
with the run's rng (for ``"random"`` that permutation *is* the order). None of these policies
peeks at the tokens it is about to draw, so with one token per step and the exact denoiser the
output law is the language's (the sampled-token scores do peek, and change the law).

Structured orders (:mod:`models.orders`): ``"binary-search"``, ``"runs:m"``, ``"dilated"`` /
``"dilated:s"`` or an explicit list of position lists: a fixed reveal order used as the priority of the
static ``"random"`` policy (every sequence the same order); ``schedule="natural"`` runs its own steps.

Tie rules ``tie=`` (adaptive scores): ``"random"`` (the permutation above), ``"lowest-index"``
(CUDA ``torch.topk``'s order) or ``"highest-index"``. ``position_temperature=tau > 0`` instead
draws the positions, k without replacement, from softmax(score / tau) (Dream's ``alg_temp``).
Token rules (:class:`Rule`): ``temperature`` (0 = greedy argmax), ``top_k``, ``top_p`` reshape each
row before its token is drawn and before it is scored (:func:`models._kernels.token_row`).
"""
from typing import NamedTuple

import numpy as np

from mdmlab.models import _kernels as kern
from mdmlab.models import orders

POLICIES = {"random": kern.RANDOM, "left-to-right": kern.LEFT_TO_RIGHT, "confidence": kern.CONFIDENCE,
            "margin": kern.MARGIN, "entropy": kern.ENTROPY, "sampled": kern.SAMPLED,
            "sampled-raw": kern.SAMPLED_RAW}
TIES = {"random": kern.TIE_RANDOM, "lowest-index": kern.TIE_LOWEST, "highest-index": kern.TIE_HIGHEST}


class Rule(NamedTuple):
    r"""A validated position and token rule, as the kernels take it.

    code, tie : kernel codes of the policy and the tie rule; pos_temp : tau of softmax(score / tau)
    position draws (0: top-k by score); temp : token temperature T (0: argmax); top_k : 0 for none;
    top_p : 1.0 for none; final : 1 for a last greedy step on the positions still masked.
    """

    code: int
    tie: int
    pos_temp: float
    temp: float
    top_k: int
    top_p: float
    final: int

    @property
    def default(self):
        """True when the run is today's sampler (the original kernels run it, bit for bit)."""
        return (self.code < kern.SAMPLED and self.tie == kern.TIE_RANDOM and self.pos_temp == 0.0
                and self.temp == 1.0 and self.top_k == 0 and self.top_p == 1.0 and self.final == 0)


def resolve_rule(policy, tie="random", position_temperature=0.0, temperature=1.0, top_k=None, top_p=None,
                 final_argmax=False):
    """Validate the rule arguments of :func:`models.sample` into a :class:`Rule`."""
    code = resolve(policy)
    if tie not in TIES:
        raise ValueError(f"tie must be one of {list(TIES)}, got {tie!r}")
    tau = _check_float("position_temperature", position_temperature)
    temp = _check_float("temperature", temperature)
    if top_k is not None:
        from mdmlab.synth._validation import check_int

        top_k = check_int("top_k", top_k, low=1)
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0.0 < float(top_p) <= 1.0):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    if not isinstance(final_argmax, bool):
        raise TypeError(f"final_argmax must be a bool, got {type(final_argmax).__name__}")
    return Rule(code, TIES[tie], tau, temp, 0 if top_k is None else top_k, 1.0 if top_p is None else float(top_p),
                int(final_argmax))


def _check_float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0.0 and value < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def resolve(policy):
    """The kernel code of a policy name (``RANDOM`` for a structured order, whose fixed priority then
    replaces the uniform permutation); unknown names list the valid ones."""
    if orders.is_structured(policy):
        return kern.RANDOM
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r} (or a structured order: "
                         f"{list(orders.NAMES)} or a list of position lists)")
    return POLICIES[policy]


def blocks(length, block_length, start=0):
    """block_of[i] = (i - start) // block_length for i >= start (blocks start where generation
    starts, LLaDA's rule after a prompt; positions before ``start`` are in block 0), all zeros
    without blocks, int64 (L,)."""
    if block_length is None:
        return np.zeros(length, dtype=np.int64)
    from mdmlab.synth._validation import check_int

    b = check_int("block_length", block_length, low=1)
    if b > length:
        raise ValueError(f"block_length must be <= length = {length}, got {b}")
    return np.maximum(np.arange(length, dtype=np.int64) - start, 0) // b
