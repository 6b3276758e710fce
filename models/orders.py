r"""Structured position orders: fixed reveal orders, given as static position priorities.

A structured order is a sequence of position sets S_0, S_1, ..., S_{N-1} partitioning range(L): its
*natural* run reveals S_t at step t. The sampler runs it as the static policy ``"random"`` with a fixed
priority ``rank`` instead of a uniform permutation (the kernels reveal the next ``counts[j]`` positions
of the order at step j), so every path (``"tree"``, ``"sweep"``, ``"generic"``) runs it unchanged:
``rank`` lists S_0 first, then S_1, ..., each set by position, and the natural counts are |S_t|.
With ``schedule="natural"`` a run uses those counts (``steps`` must equal their number); with any
other count schedule the order is only a priority and the schedule gives the counts.

Orders (names as ``policy=`` takes them; definitions of this project):

* ``"binary-search"``: every step reveals the midpoint of every current gap (maximal run of masked
  positions), the lower midpoint a + (g - 1) // 2 of a gap [a, a + g); ceil(log2(L + 1)) steps.
* ``"runs:m"`` (m >= 1): a gap of g > m positions reveals the run of m consecutive positions
  starting at a + (g - m) // 2, one position per step from left to right, then both sides recurse in
  parallel; a gap of g <= m positions reveals its positions one per step from left to right. Natural
  steps T(L) with T(g) = g for g <= m and T(g) = m + T(ceil((g - m) / 2)) otherwise;
  ``"runs:1"`` is ``"binary-search"``.
* ``"dilated:s"`` (s >= 1): step t reveals the residue class {i : i = r_t mod s}, the residues taken
  in bit-reversal order (r sorted by the reversal of its ceil(log2 s)-bit binary digits: 0, s/2, s/4,
  3s/4, ... for s a power of 2), empty classes skipped; min(s, L) steps. ``"dilated"`` is
  ``"dilated:2"``, the even/odd order (even positions, then odd ones).
* an explicit sequence of position sets (a list of lists), a partition of range(L) into non-empty
  steps.

Why these (derived here; ``theory.structured`` and ``tests/test_orders.py`` check them by
enumeration): masked positions of an order-m chain (each token depends on the m before it) that are
separated by >= m consecutive revealed tokens are conditionally independent given the revealed
tokens, so a step that reveals at most one position per such component draws exactly from the
joint conditional. ``"binary-search"`` does that for m = 1, ``"runs:m"`` for order m.
"""
import math
from typing import NamedTuple

import numpy as np

from mdmlab.models import schedules as sch

#: the count schedule that runs a structured order's own steps.
NATURAL = "natural"
#: the order names (``"runs:m"`` and ``"dilated:s"`` take their parameter after the colon).
NAMES = ("binary-search", "runs:m", "dilated", "dilated:s")


class StructuredPlan(NamedTuple):
    r"""A structured order resolved for length L.

    Attributes
    ----------
    name : str or tuple of tuple of int
        The order as given (an explicit partition as a tuple of tuples).
    rank : (L,) int64
        rank[i]: the priority of position i (0 first): S_0 by position, then S_1, ...
    counts : (N,) int64
        |S_t|, the natural counts (sum L).
    """

    name: object
    rank: np.ndarray
    counts: np.ndarray

    @property
    def steps(self):
        """N, the number of natural steps."""
        return int(self.counts.shape[0])

    @property
    def reveal_step(self):
        """(L,) int64: the natural step of each position (the partition of a natural run)."""
        return np.repeat(np.arange(self.steps), self.counts)[self.rank]


def is_structured(policy):
    """Whether ``policy`` names a structured order (a name of :data:`NAMES`, or a list or tuple of steps)."""
    if isinstance(policy, str):
        return policy in ("binary-search", "dilated") or policy.startswith(("runs:", "dilated:"))
    return isinstance(policy, (list, tuple))


def structured_plan(order, length):
    r"""The priority ``rank`` (L,) and natural ``counts`` (N,) of a structured order at length L.

    Parameters
    ----------
    order : str or sequence of sequences of int
        ``"binary-search"``, ``"runs:m"``, ``"dilated"``, ``"dilated:s"`` or an explicit partition.
    length : int
        L >= 1.

    Returns
    -------
    StructuredPlan

    Raises
    ------
    ValueError, TypeError
        An unknown name, a bad parameter, or an explicit partition that is not one of range(L) (the
        first bad position is named).
    """
    from mdmlab.synth._validation import check_int

    L = check_int("length", length, low=1)
    groups, name = _groups(order, L)
    rank = np.empty(L, dtype=np.int64)
    rank[np.concatenate(groups)] = np.arange(L)
    return StructuredPlan(name, rank, np.array([len(g) for g in groups], dtype=np.int64))


def natural_steps(order, length):
    """N, the number of steps of the order's natural counts at length L (e.g. ceil(log2(L + 1)) for
    ``"binary-search"``)."""
    return structured_plan(order, length).steps


def counts_for_steps(order, length, steps):
    r"""Counts (N,) for running ``order`` in ``steps`` steps while keeping its grouping where possible.

    N >= the natural steps N0: natural groups are split (largest first, into consecutive halves of the
    priority), and a subset of a step that was exact stays exact; N < N0: the first N0 - N + 1 natural
    groups are merged into the first step (the fewest, farthest-apart tokens), the rest kept.
    """
    from mdmlab.synth._validation import check_int

    plan = structured_plan(order, length)
    N = check_int("steps", steps, low=1)
    L = int(plan.counts.sum())
    if N > L:
        raise ValueError(f"steps must be <= length = {L}, got {N}")
    counts = [int(c) for c in plan.counts]
    if N < len(counts):
        return np.array([sum(counts[:len(counts) - N + 1])] + counts[len(counts) - N + 1:], dtype=np.int64)
    while len(counts) < N:
        i = int(np.argmax(counts))
        counts[i:i + 1] = [counts[i] - counts[i] // 2, counts[i] // 2]
    return np.array(counts, dtype=np.int64)


def resolve(policy, length):
    """The :class:`StructuredPlan` of a structured ``policy``, None for any other policy."""
    return structured_plan(policy, length) if is_structured(policy) else None


def resolve_schedule(schedule, order, length, steps):
    r"""The run's :class:`~models.schedules.Schedule`: ``"natural"`` gives the order's own counts
    (``steps`` must be their number), anything else goes to :func:`models.schedules.resolve`."""
    if not (isinstance(schedule, str) and schedule == NATURAL):
        return sch.resolve(schedule, length, steps)
    if order is None:
        raise ValueError("schedule='natural' needs a structured order policy ('binary-search', 'runs:m', "
                         "'dilated[:s]' or a list of position lists)")
    if steps != order.steps:
        raise ValueError(f"schedule='natural' with policy {order.name!r} at length {length} takes steps = "
                         f"{order.steps} (its natural steps), got {steps}")
    return sch.Schedule(NATURAL, "fixed", length, steps, counts=order.counts.copy())


def check_run(order, schedule, block_length, default_rule):
    """A structured order runs the default rule only, and its natural counts need no blocks."""
    if order is None:
        return
    if not default_rule:
        raise ValueError(f"policy {order.name!r} (a structured order) runs the default rule only: no tie rule, "
                         "position temperature, token rule, prompt or final_argmax")
    if block_length is not None and isinstance(schedule, str) and schedule == NATURAL:
        raise ValueError(f"schedule='natural' reveals the steps of policy {order.name!r} itself: "
                         f"block_length must be None, got {block_length!r}")


# -- the orders as lists of position sets --------------------------------------------------------

def _groups(order, L):
    """([S_0, S_1, ...] as sorted int64 arrays, normalised name)."""
    if isinstance(order, str):
        kind, _, param = order.partition(":")
        if order == "binary-search":
            return _runs(L, 1), order
        if kind == "runs" and param:
            return _runs(L, _parameter(order, param, "runs:m", "m")), order
        if order == "dilated":
            return _dilated(L, 2), order
        if kind == "dilated" and param:
            return _dilated(L, _parameter(order, param, "dilated:s", "s")), order
        raise ValueError(f"a structured order must be one of {list(NAMES)} (m, s >= 1) or a list of position "
                         f"lists, got {order!r}")
    return _explicit(order, L)


def _parameter(order, text, form, letter):
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"policy {form!r} needs an integer {letter} >= 1, got {order!r}")
    return int(text)


def _runs(L, m):
    """Step of each position under ``runs:m``, grouped: a centred run of m per gap, one per step."""
    step = np.empty(L, dtype=np.int64)
    stack = [(0, L, 0)]  # (gap start a, gap end b, first step t0)
    while stack:
        a, b, t0 = stack.pop()
        g = b - a
        if g <= m:
            step[a:b] = t0 + np.arange(g)
            continue
        c = a + (g - m) // 2  # the run [c, c + m), revealed c, c + 1, ... at steps t0, t0 + 1, ...
        step[c:c + m] = t0 + np.arange(m)
        stack += [(a, c, t0 + m), (c + m, b, t0 + m)]
    return _by_step(step)


def _dilated(L, s):
    """Residue classes mod s in bit-reversal order of the residues, empty ones skipped."""
    bits = max(1, math.ceil(math.log2(s))) if s > 1 else 0
    residues = sorted(range(s), key=lambda r: int(format(r, f"0{bits}b")[::-1], 2) if bits else 0)
    return [np.arange(r, L, s, dtype=np.int64) for r in residues if r < L]


def _by_step(step):
    return [np.flatnonzero(step == t) for t in range(int(step.max()) + 1)]


def _explicit(order, L):
    """Validate an explicit partition of range(L) into non-empty steps; the first bad position is named."""
    seen = {}
    groups = []
    for t, group in enumerate(order):
        if isinstance(group, (str, bytes)) or not hasattr(group, "__iter__"):
            raise TypeError(f"policy as a partition must be a list of lists of positions; step {t} is "
                            f"{type(group).__name__} {group!r}")
        members = list(group)
        if not members:
            raise ValueError(f"policy as a partition needs non-empty steps; step {t} is empty")
        for i in members:
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
                raise TypeError(f"policy as a partition holds integer positions; step {t} holds "
                                f"{type(i).__name__} {i!r}")
            if not 0 <= i < L:
                raise ValueError(f"policy as a partition must cover range(length = {L}); step {t} holds "
                                 f"position {int(i)}, outside [0, {L})")
            if int(i) in seen:
                raise ValueError(f"policy as a partition must hold every position once; position {int(i)} is "
                                 f"in step {seen[int(i)]} and step {t}")
            seen[int(i)] = t
        groups.append(np.array(sorted(int(i) for i in members), dtype=np.int64))
    missing = [i for i in range(L) if i not in seen]
    if missing:
        raise ValueError(f"policy as a partition must cover range(length = {L}); position {missing[0]} is in no "
                         f"step ({len(missing)} missing)")
    return groups, tuple(tuple(int(i) for i in g) for g in groups)
