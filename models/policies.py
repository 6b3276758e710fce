r"""Position policies: which masked positions a step reveals.

Each policy ranks the masked positions and the step reveals the first ``count`` of them:

* ``"random"``: uniformly at random (the theory's choice);
* ``"left-to-right"``: by position (autoregressive order);
* ``"confidence"``: highest max_v p(x_i = v | revealed) first;
* ``"margin"``: largest top-1 minus top-2 probability first;
* ``"entropy"``: lowest entropy of the conditional first.

With ``block_length=b`` (semi-autoregressive), positions are split into consecutive blocks of b
(the last block is shorter when b does not divide L) and the ranking is by block first, so a step
reveals from the earliest block that still has masked positions, spilling into the next block
when the count asks for more. Ties are broken by a uniform random permutation drawn once per run
with the run's rng (for ``"random"`` that permutation *is* the order). None of these policies
peeks at the tokens it is about to draw, so with one token per step and the exact denoiser the
output law is the language's.
"""
import numpy as np

from mdmlab.models import _kernels as kern

POLICIES = {"random": kern.RANDOM, "left-to-right": kern.LEFT_TO_RIGHT, "confidence": kern.CONFIDENCE,
            "margin": kern.MARGIN, "entropy": kern.ENTROPY}


def resolve(policy):
    """The kernel code of a policy name; unknown names list the valid ones."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    return POLICIES[policy]


def blocks(length, block_length):
    """block_of[i] = i // block_length (all zeros without blocks), int64 (L,)."""
    if block_length is None:
        return np.zeros(length, dtype=np.int64)
    from mdmlab.synth._validation import check_int

    b = check_int("block_length", block_length, low=1)
    if b > length:
        raise ValueError(f"block_length must be <= length = {length}, got {b}")
    return np.arange(length, dtype=np.int64) // b
