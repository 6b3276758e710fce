r"""The masked-diffusion sampler: exact denoiser (fused numba paths) or any denoiser (generic driver).

Denoiser protocol: an object with ``conditionals(x) -> (B, L, V)`` taking int64 tokens ``(B, L)``
with ``synth.MASK`` at masked positions and returning, for every masked position, the distribution
of its token given the unmasked ones (rows of observed positions are ignored). Every
``synth.Language`` is exact: its public ``chain()`` (an :class:`~synth.HMMChain` or an
:class:`~synth.NGramChain`) runs on the fused paths (``"sweep"``, ``"tree"``); anything else (e.g. the
torch denoiser) runs through the generic driver, one ``conditionals`` call per step that reveals tokens.

:func:`sample` validates everything and resolves ``method`` (``"auto"`` -> ``"tree"``, ``"sweep"``
or ``"generic"``) before it draws any randomness, then hands the draws to one runner of
:data:`RUNNERS`.
"""
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from mdmlab.models import _kernels as kern
from mdmlab.models import _tree
from mdmlab.models import _window_tree
from mdmlab.models import orders
from mdmlab.models import policies as pol
from mdmlab.models import schedules as sch
from mdmlab.synth import MASK, HMMChain, Language, NGramChain
from mdmlab.synth import _validation as val

_ROW_TOL = 1e-6


@dataclass(frozen=True)
class SampleResult:
    r"""Output of :func:`sample`; ``batch`` is the ``size`` shape (``()`` for ``size=None``).

    Attributes
    ----------
    tokens : (*batch, L) int64
        The generated sequences x.
    reveal_step : (*batch, L) int64
        j such that position i was revealed at step j (0-based); the partition M of the run.
    counts : (*batch, N) int64
        s_j = |M_j|, the number of tokens the run revealed at step j (sums to L); drawn by the
        schedule (fixed, or Binomial for ancestral schedules).
    nfe : (*batch) int64
        Steps that revealed at least one token (denoiser calls a caching sampler needs), #{j : s_j > 0}.
    log_prob_sampler : (*batch) float64
        log p_M(x) = sum_j sum_{i in M_j} log p(x_i | x_{M_<j}): the exact log-probability of x under
        the sampler's law given the realised reveal steps.
    steps, schedule, policy, block_length, method :
        The run's configuration (the schedule as its resolved :class:`~models.schedules.Schedule`;
        ``method`` the path that ran: ``"tree"``, ``"sweep"`` or ``"generic"``; ``policy`` as given, an
        explicit structured order as a tuple of sorted tuples).
    calls : (*batch) int64
        Denoiser calls under the ``calls=`` caching rule: ``"changed"`` (MDLM ``ddpm_cache``: a call
        at the first step and at every step after one that changed x) or ``"every"`` (LLaDA, Dream,
        MDLM ``ddpm``: one per step, revealing or not); a final greedy step adds one call.
    rule : models.policies.Rule
        The validated position and token rule (tie rule, position temperature, token temperature,
        top-k, top-p, final greedy step).

    With ``final_argmax=True`` the greedy step is step N: ``counts`` has N + 1 columns and
    ``reveal_step`` may hold N. With a ``prompt``, its observed positions keep ``reveal_step = -1``.
    For rules whose choice of positions depends on the drawn tokens (``"sampled"`` scores) or with
    token rules, ``log_prob_sampler`` is the sum of log-probabilities of the drawn tokens under the
    rows they were drawn from (greedy tokens count 0): p_M(x) given M only for the other rules.

    For ``size=None``, ``nfe`` and ``log_prob_sampler`` are numpy scalars (``np.int64``,
    ``np.float64``; shape ``()``), as numpy returns for ``size=None``.
    """

    tokens: np.ndarray
    reveal_step: np.ndarray
    counts: np.ndarray
    nfe: np.ndarray
    log_prob_sampler: np.ndarray
    steps: int
    schedule: sch.Schedule
    policy: str
    block_length: int | None
    method: str
    calls: np.ndarray = None
    rule: pol.Rule = None


METHODS = ("auto", "tree", "sweep", "generic")


def sample(denoiser, length, steps, *, size=None, schedule="linear", policy="random", block_length=None,
           method="auto", rng=None, tie="random", position_temperature=0.0, temperature=1.0, top_k=None, top_p=None,
           prompt=None, final_argmax=False, calls="changed", precision="float64"):
    r"""Generate sequences with an MDM sampler: start all-MASK, reveal over ``steps`` steps.

    Tokens revealed in one step are drawn independently from the denoiser's conditionals given
    the tokens revealed before that step.

    Parameters
    ----------
    denoiser : synth.Language or object with ``conditionals(x) -> (B, L, V)``
    length : int
        L >= 1.
    steps : int
        N, 1 <= N <= L (any N >= 1 for ancestral schedules: steps may reveal nothing).
    size : None, int or tuple of int
        Batch shape, as in numpy: None gives one sequence (``tokens`` of shape (L,)), an int B
        gives (B, L), a tuple prepends its dimensions (each >= 1).
    schedule : str, callable or sequence of int
        Count policy, see :mod:`models.schedules`; ``"natural"`` (structured orders only) reveals the
        order's own steps, and ``steps`` must be their number (:func:`models.orders.natural_steps`).
    policy : str or sequence of sequences of int
        Position policy, see :mod:`models.policies`; a structured order (``"binary-search"``,
        ``"runs:m"``, ``"dilated[:s]"`` or a list of position lists, :mod:`models.orders`) is a fixed
        priority for every sequence, on every method, with the default rule only.
    block_length : int, optional
        Semi-autoregressive block length.
    method : {"auto", "tree", "sweep", "generic"}
        ``"sweep"`` (exact languages): one forward-backward per step, O(N L K^2) (n-grams O(N L K V)),
        bit-identical to the generic driver. ``"tree"`` (exact languages, static policies): a
        segment tree of transfer matrices, O(L K^3 log L) whatever N, so one-token-per-step runs cost
        O(L log L) instead of O(L^2); it agrees with the sweep to rounding. On an n-gram language it
        is the window tree (:mod:`models._window_tree`): a node with a revealed position has rank
        <= C = K / V and is kept as K x C and C x K factors, O(L K C (K + C) log L). ``"generic"``: one
        ``conditionals`` call per step (a language runs as :class:`ExactDenoiser`). ``"auto"``:
        the generic driver for a non-language, else the cheaper exact path by those counts.
    rng : None, int or numpy.random.Generator
    tie : {"random", "lowest-index", "highest-index"}
        How adaptive scores break ties (:mod:`models.policies`).
    position_temperature : float
        tau > 0 draws the positions from softmax(score / tau) without replacement (Dream ``alg_temp``).
    temperature, top_k, top_p :
        Token rule applied to each row before drawing and scoring (T = 0: argmax).
    prompt : (L,) int, optional
        Observed tokens (``synth.MASK`` where to generate): generation given a prompt or infilling.
        Counts are over the masked positions; blocks start at the first masked position.
    final_argmax : bool
        After the N steps, set every still-masked position to its argmax (MDLM's noise removal).
    calls : {"changed", "every"}
        Caching rule of ``SampleResult.calls``.
    precision : {"float64", "float32"}
        ``"float32"`` (ancestral schedules, ``policy="random"``, no token rule; generic driver) draws
        each masked position's step as MDLM's ``_sample_categorical`` does: a float32 exponential
        race argmax_v q_v / (1e-10 - log(U_v + 1e-10)) over q = (p * r_j, 1 - r_j) (the tokens, then
        "stay masked"), U float32 uniforms (24 bits, as ``torch.rand``), so its bias against
        tokens of tiny probability can be measured against the float64 inverse-CDF draws. Counts
        then come from the race, not from the schedule's binomial draws.

    Rules beyond today's (a sampled-token score, a tie rule other than random, a position
    temperature, a token rule, a prompt or the final greedy step) run on the rule path: fused numba
    for languages (``"sweep"``; not ``"tree"``) or the generic driver, bit for bit alike.

    Returns
    -------
    SampleResult

    Raises
    ------
    ValueError, TypeError
        Before any randomness is drawn: bad lengths, size, schedule, policy, block length, method
        (or a method the denoiser or policy cannot run), or a denoiser without ``conditionals``.
    """
    rule = pol.resolve_rule(policy, tie, position_temperature, temperature, top_k, top_p, final_argmax)
    if calls not in CALL_RULES:
        raise ValueError(f"calls must be one of {list(CALL_RULES)}, got {calls!r}")
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    if precision == "float32":
        return _sample_race32(denoiser, length, steps, size, schedule, policy, block_length, rule, prompt, calls,
                              rng)
    run = _check_run(denoiser, length, steps, size, schedule, policy, block_length, method, rule, prompt)
    rng = val.check_rng(rng)
    counts, rank = _draw_plan(run.plan, run.B, run.L, rng, run.order)
    token_u = rng.random((run.B, run.L))
    out = _Outputs(np.empty((run.B, run.L), dtype=np.int64), np.full((run.B, run.L), -1, dtype=np.int64),
                   np.zeros(run.B), np.zeros(run.B, dtype=np.int64))
    if run.x0 is None:
        RUNNERS[run.method](run, counts, rank, token_u, out)
    else:
        step_u, pos_u = _draw_rule(run, rng)
        RULE_RUNNERS[run.method](run, counts, rank, token_u, step_u, pos_u, out)
        if rule.final:
            counts = np.concatenate([counts, (out.reveal == run.N).sum(axis=1, keepdims=True)], axis=1)
    shape, n_calls = run.shape, CALL_RULES[calls](counts[:, :run.N]) + rule.final
    return SampleResult(out.tokens.reshape(shape + (run.L,)), out.reveal.reshape(shape + (run.L,)),
                        counts.reshape(shape + (counts.shape[1],)), out.nfe.reshape(shape)[()],
                        out.log_prob.reshape(shape)[()], run.N, run.plan,
                        policy if run.order is None else run.order.name, block_length, run.method,
                        n_calls.reshape(shape)[()], rule)


#: caching rule -> counts (B, N) -> denoiser calls (B,) over the N steps.
CALL_RULES = {
    "every": lambda counts: np.full(counts.shape[0], counts.shape[1], dtype=np.int64),
    "changed": lambda counts: 1 + (counts[:, :-1] > 0).sum(axis=1).astype(np.int64),
}


class ExactDenoiser:
    r"""A synth language as a denoiser with the sampler's fallback: q(x_i | revealed) where the
    revealed tokens have positive probability, uniform rows where they have none
    (``language.conditionals(x, impossible="uniform")``).

    This is what the fused paths compute; wrapping a language in it sends it through the generic
    driver instead (used to check that both paths agree bit for bit).
    """

    def __init__(self, language):
        if not isinstance(language, Language):
            raise TypeError(f"language must be a synth.Language, got {type(language).__name__}")
        self.language = language

    @property
    def vocab_size(self):
        """V, the language's number of tokens."""
        return self.language.vocab_size

    def conditionals(self, x):
        """(*batch, L, V) rows; see the class docstring for the fallback."""
        return self.language.conditionals(x, impossible="uniform")


def reveal_partitions(length, steps, *, size=None, schedule="linear", policy="random", block_length=None,
                      rng=None):
    r"""Draw reveal partitions M (the ``reveal_step`` of a run) without drawing tokens.

    Only static policies (``"random"``, ``"left-to-right"``, structured orders) fix M before the tokens
    (a structured order with fixed counts gives one M for every sequence); the draws use
    the same randomness layout as :func:`sample`, so ``sample(...).reveal_step`` with the same rng
    is the same partition. Used to estimate E_M KL(q || p_M) on samples of the language.

    Returns
    -------
    (*size, L) int64, the 0-based step at which each position is revealed; ``size=None`` gives (L,).
    """
    L, N, shape, B = _check_lengths(length, steps, size)
    code = pol.resolve(policy)
    if not kern.is_static(code):
        raise ValueError(f"reveal_partitions needs a static policy ('random', 'left-to-right' or a structured "
                         f"order), got {policy!r}")
    order = orders.resolve(policy, L)
    orders.check_run(order, schedule, block_length, True)
    plan, block_of = orders.resolve_schedule(schedule, order, L, N), pol.blocks(L, block_length)
    rng = val.check_rng(rng)
    counts, rank = _draw_plan(plan, B, L, rng, order)
    out = np.empty((B, L), dtype=np.int64)
    for b in range(B):
        out[b, kern.static_order(code, block_of, rank[b])] = np.repeat(np.arange(N), counts[b])
    return out.reshape(shape + (L,))


def replay_static(language, x, reveal_step, method="auto"):
    r"""log p_M(x) of given sequences x (B, L) under reveal steps (B, L) >= 0 (validated by the caller):
    the fused paths run the random policy with the partition's order and each token given instead of
    drawn (negative ``token_u``, :func:`models._kernels.draw_selected`). Steps are relabelled 0, 1, ...
    per sequence (empty steps change nothing), so N <= L and ``method="auto"`` picks the cheaper path."""
    B, L = x.shape
    order = np.argsort(reveal_step, axis=1, kind="stable")
    ordered = np.take_along_axis(reveal_step, order, axis=1)
    dense = np.zeros((B, L), dtype=np.int64)  # dense step label of the i-th revealed position
    dense[:, 1:] = np.cumsum(ordered[:, 1:] != ordered[:, :-1], axis=1)
    N = int(dense[:, -1].max()) + 1
    counts = np.bincount((dense + N * np.arange(B)[:, None]).ravel(), minlength=B * N).reshape(B, N)
    rank = np.empty((B, L), dtype=np.int64)
    np.put_along_axis(rank, order, np.arange(L)[None, :], axis=1)  # revealed in step order: the random policy
    run = _check_run(language, L, N, B, "balanced", "random", None, method)
    out = _Outputs(np.empty((B, L), dtype=np.int64), np.full((B, L), -1, dtype=np.int64), np.zeros(B),
                   np.zeros(B, dtype=np.int64))
    RUNNERS[run.method](run, counts, rank, -(x.astype(np.float64) + 1.0), out)
    return out.log_prob


def planned_method(denoiser, length, steps, *, schedule="linear", policy="random", block_length=None):
    r"""The path ``sample(..., method="auto")`` takes for these arguments: ``"tree"``, ``"sweep"`` or
    ``"generic"``. Validates like :func:`sample` and draws nothing (a cost model asks it per cell)."""
    return _check_run(denoiser, length, steps, 1, schedule, policy, block_length, "auto").method


# -- validation: everything a run needs, resolved before the first draw --------------------------

class _Run(NamedTuple):
    """A validated run: what to call (``method``, the denoiser or the chain's kernel arrays) and the plan."""

    method: str
    denoiser: object  # the generic path's denoiser (a language wrapped in ExactDenoiser); else None
    arrays: object  # the exact paths' synth.HMMArrays / NGramArrays (the tree runs on them too); else None
    family: object  # the chain type's _Family; None for a non-language
    shape: tuple
    B: int
    L: int
    N: int
    plan: sch.Schedule
    code: int
    block_of: np.ndarray
    rule: pol.Rule = None
    x0: np.ndarray = None  # the rule path's starting tokens (L,) (MASK to generate); None: the default path
    order: object = None  # a structured order's models.orders.StructuredPlan (its fixed priority); else None


class _Outputs(NamedTuple):
    """Preallocated kernel outputs, flat batch: tokens (B, L), reveal (B, L), log_prob (B,), nfe (B,)."""

    tokens: np.ndarray
    reveal: np.ndarray
    log_prob: np.ndarray
    nfe: np.ndarray


def _check_lengths(length, steps, size, ancestral=False):
    """(L, N, batch shape, B) with 1 <= N <= L (any N for ancestral) and every batch dimension >= 1."""
    L = val.check_int("length", length, low=1)
    N = val.check_int("steps", steps, low=1)
    if N > L and not ancestral:
        raise ValueError(f"steps must be between 1 and length = {L} (each step reveals at least one token "
                         f"on average), got {N}")
    shape = val.check_size(size)
    if any(d < 1 for d in shape):
        raise ValueError(f"size must be None, an int >= 1 or a tuple of ints >= 1, got {size!r}")
    return L, N, shape, int(np.prod(shape, dtype=np.int64))


def _check_prompt(prompt, denoiser, L):
    """The starting tokens (L,) int64 of the rule path (all MASK without a prompt) and their masked count."""
    if prompt is None:
        return np.full(L, MASK, dtype=np.int64), L
    V = denoiser.vocab_size if hasattr(denoiser, "vocab_size") else np.iinfo(np.int64).max
    x0 = val.check_tokens("prompt", prompt, V)
    if x0.shape != (L,):
        raise ValueError(f"prompt must have shape (length,) = ({L},), got {x0.shape}")
    M = int((x0 < 0).sum())
    if M == 0:
        raise ValueError("prompt must leave at least one position masked (synth.MASK) to generate")
    return x0, M


def _check_run(denoiser, length, steps, size, schedule, policy, block_length, method, rule=None, prompt=None,
               rule_path=False):
    L, N, shape, B = _check_lengths(length, steps, size, ancestral=sch.takes_more_steps(schedule))
    code = pol.resolve(policy)
    order = orders.resolve(policy, L)
    orders.check_run(order, schedule, block_length, rule is None or (rule.default and prompt is None))
    x0 = None
    if rule_path or (rule is not None and not (rule.default and prompt is None)):
        x0, M = _check_prompt(prompt, denoiser, L)
        start = int(np.argmax(x0 < 0))
        plan, block_of = sch.resolve(schedule, M, N), pol.blocks(L, block_length, start)
    else:
        plan, block_of = orders.resolve_schedule(schedule, order, L, N), pol.blocks(L, block_length)
    if plan.kind == "ancestral" and not (rule is not None and rule.final) and plan.reveal_prob[-1] < 1.0:
        raise ValueError("a schedule that can leave positions masked (TimeGrid(reveal_rest=False)) needs "
                         "final_argmax=True")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    chain = denoiser.chain() if isinstance(denoiser, Language) else None
    arrays = None if chain is None else denoiser.kernel_arrays()  # validated once per language, then cached
    family = None if chain is None else _FAMILIES[type(chain)]
    ran = _resolve_method(method, arrays, family, L, N, code if x0 is None else kern.CONFIDENCE)
    if ran in ("tree", "sweep") and (chain is None or (ran == "tree" and not kern.is_static(code))):
        need = "a synth language" + (" and a static policy ('random' or 'left-to-right')" if ran == "tree" else "")
        raise ValueError(f"method={ran!r} needs {need}, got {type(denoiser).__name__} with policy {policy!r}")
    if ran == "tree" and x0 is not None:
        raise ValueError("method='tree' runs today's rules only; a tie rule, position temperature, token rule, "
                         "prompt or final_argmax needs method='sweep' or 'generic'")
    if x0 is not None and (kern.is_sampled(code) or rule.pos_temp > 0):
        val.check_entries("the per-step uniforms (B, N, L) of a sampled-token score or position temperature",
                          (B, N, L))
    if ran == "generic":
        generic = ExactDenoiser(denoiser) if chain is not None else _check_denoiser(denoiser)
        return _Run(ran, generic, None, None, shape, B, L, N, plan, code, block_of, rule, x0, order)
    K = arrays.num_states
    val.check_entries("the forward messages (L, K) kept per sequence in flight", (L, K))
    if ran == "tree":
        val.check_entries(*family.tree_storage(_tree_leaves(L), K, arrays.vocab_size))
    return _Run(ran, None, arrays, family, shape, B, L, N, plan, code, block_of, rule, x0, order)


def _resolve_method(method, arrays, family, L, N, code):
    """``"auto"``: generic without a chain; else the tree when static and its time beats the sweep's, N L
    sweep_cost. A tree run walks log2 L nodes per row, and the L / N tokens of a step share the upper
    ancestors they refresh (about log2 N products per token): L tree_cost (log2 L + log2 N) / 2, which
    is L tree_cost log2 L at N = L, where tree_cost was fitted."""
    if method != "auto":
        return method
    if arrays is None:
        return "generic"
    if not kern.is_static(code):
        return "sweep"
    K, V = arrays.num_states, arrays.vocab_size  # the tree runs on the same K states
    sweep = N * L * family.sweep_cost(K, V)
    tree = L * family.tree_cost(K, V) * tree_levels(L, N)
    fits = np.prod(family.tree_storage(_tree_leaves(L), K, V)[1], dtype=float) <= val.MAX_ENTRIES
    return "tree" if tree < sweep and fits else "sweep"


def unit_times(language):
    r"""``(sweep_ns, tree_ns)`` of ``language``'s exact paths by the time models above: ns per position and
    step of the sweep, per revealed token and tree level of the (window) tree (what ``method="auto"``
    compares; :mod:`analysis.cost` uses them as work units)."""
    arrays, family = language.kernel_arrays(), _FAMILIES[type(language.chain())]
    K, V = arrays.num_states, arrays.vocab_size
    return family.sweep_cost(K, V), family.tree_cost(K, V)


def tree_levels(L, N):
    r"""The tree levels a token costs on average, as :func:`_resolve_method` counts them."""
    return max(1.0, (np.log2(L) + np.log2(N)) / 2)


def _tree_leaves(L):
    """P = 2^ceil(log2 L), the leaves of the segment tree."""
    return 1 << (L - 1).bit_length()


def _check_denoiser(denoiser):
    if not callable(getattr(denoiser, "conditionals", None)):
        raise TypeError(f"denoiser must be a synth language or have a conditionals(x) method, got "
                        f"{type(denoiser).__name__}")
    return denoiser


# -- randomness ----------------------------------------------------------------------------------

def _draw_plan(plan, B, L, rng, order=None):
    """A run's reveal randomness, in the order every path consumes it: counts (B, N), then the ranks
    (B, L) of a uniform permutation per sequence (tie-break priority and random-policy order). A
    structured ``order`` replaces the ranks by its fixed priority after they are drawn, so the token
    uniforms that follow are those of ``policy="random"`` with the same rng."""
    counts = plan.draw(B, rng)
    rank = np.argsort(rng.random((B, L)), axis=1).argsort(axis=1)
    if order is not None:
        rank = np.ascontiguousarray(np.broadcast_to(order.rank, (B, L)))
    return counts, rank


# -- runners: one per method, all with the same draws and outputs --------------------------------

def _frozen_zeros(shape):
    a = np.zeros(shape)
    a.flags.writeable = False  # the same numba type as the (read-only) kernel arrays
    return a


_NO_HMM = tuple(_frozen_zeros(s) for s in ((1,), (1, 1), (1, 1), (1, 1), (1, 1)))
_NO_NGRAM = tuple(_frozen_zeros(s) for s in ((1,), (1, 1, 1), (1, 1, 1)))


class _Family(NamedTuple):
    """What the sampler needs to know about one chain type."""

    sweep_cost: Callable  # (K, V) -> ns per position of one forward-backward step (time model below)
    sweep_args: Callable  # kernel arrays -> (family code, HMM params, n-gram params) of kern.sample_fused
    tree_cost: Callable  # (K, V) -> ns per revealed token and tree level
    tree_storage: Callable  # (P, K, V) -> (what, shape) of the tree kept per sequence in flight
    tree_kernel: Callable  # (kernel arrays, counts, policy, block_of, rank, token_u, tokens, reveal, lp, nfe)


# Time models of the exact paths (ns, one thread of the project's 2-core machine), fitted by relative least
# squares to one-off timings of the current kernels (L = 256 and 1024; HMMs K = 2..32, n-grams n = 2..5 with
# K = 2..256, C = K / V window states left by a revealed token): within a factor 1.3 of those timings, 2 for
# the n-gram sweep (sparse tables run faster). Not re-measured by a benchmark. Either path is exact; the
# choice only costs time.
def _hmm_sweep_ns(K, V):
    return 75 + 0.092 * K * K


def _hmm_tree_ns(K, V):
    return 60 + 0.9 * K * K + 0.063 * K ** 3


def _ngram_sweep_ns(K, V):
    return 57 + 34 * (K // V) + 0.25 * K * V


def _ngram_tree_ns(K, V):
    return 160 + 0.56 * (K // V) ** 3 + 0.2 * K * K


_FAMILIES = {
    HMMChain: _Family(_hmm_sweep_ns,
                      lambda a: (kern.HMM, (a.initial, a.transition, a.transition_t, a.emission, a.emission_t),
                                 _NO_NGRAM),
                      _hmm_tree_ns,
                      lambda P, K, V: ("the segment tree (2 P, K, K) kept per sequence in flight, P = 2^ceil(log2 L)",
                                       (2 * P, K, K)),
                      lambda a, *args: _tree.sample_tree(a.initial, a.transition, a.emission, *args)),
    NGramChain: _Family(_ngram_sweep_ns,
                        lambda a: (kern.NGRAM, _NO_HMM, (a.initial, a.table_fw, a.table_bw)),
                        _ngram_tree_ns,
                        lambda P, K, V: ("the window tree's factors U, W (2, 2 P, K, C) kept per sequence in "
                                         "flight, P = 2^ceil(log2 L), C = K / V", (2, 2 * P, K, K // V)),
                        lambda a, *args: _window_tree.sample_window_tree(a.initial, a.table, *args)),
}


def _run_tree(run, counts, rank, token_u, out):
    run.family.tree_kernel(run.arrays, counts, run.code, run.block_of, rank, token_u, out.tokens, out.reveal,
                           out.log_prob, out.nfe)


def _run_sweep(run, counts, rank, token_u, out):
    family, hmm_params, ngram_params = run.family.sweep_args(run.arrays)
    kern.sample_fused(family, hmm_params, ngram_params, run.arrays.num_states, run.arrays.vocab_size, counts,
                      run.code, run.block_of, rank, token_u, out.tokens, out.reveal, out.log_prob, out.nfe)


def _run_generic(run, counts, rank, token_u, out):
    B, N = counts.shape
    x = np.full(rank.shape, MASK, dtype=np.int64)
    ptrs = np.zeros(B, dtype=np.int64)
    for j in range(N):
        if not counts[:, j].any():
            continue
        rows = _rows_of(run.denoiser, x)
        kern.generic_step(x, rows, j, counts, run.code, run.block_of, rank, ptrs, token_u, out.reveal, out.log_prob,
                          out.nfe)
    out.tokens[:] = x


#: method name -> runner(run, counts, rank, token_u, out); "auto" is resolved before this table.
RUNNERS = {"tree": _run_tree, "sweep": _run_sweep, "generic": _run_generic}

_NO_STEP_U = np.zeros((1, 1, 1))


def _draw_rule(run, rng):
    """The rule path's extra randomness, after ``token_u``: step_u (B, N, L) for a sampled-token score,
    then pos_u (B, N, L) for a position temperature (placeholders (1, 1, 1) otherwise)."""
    shape = (run.B, run.N, run.L)
    step_u = rng.random(shape) if kern.is_sampled(run.code) else _NO_STEP_U
    pos_u = rng.random(shape) if run.rule.pos_temp > 0.0 else _NO_STEP_U
    return step_u, pos_u


def _run_sweep_rule(run, counts, rank, token_u, step_u, pos_u, out):
    family, hmm_params, ngram_params = run.family.sweep_args(run.arrays)
    r = run.rule
    kern.sample_fused_rule(family, hmm_params, ngram_params, run.arrays.num_states, run.arrays.vocab_size, counts,
                           run.code, r.tie, r.pos_temp, r.temp, r.top_k, r.top_p, r.final, run.x0, run.block_of, rank,
                           token_u, step_u, pos_u, out.tokens, out.reveal, out.log_prob, out.nfe)


def _run_generic_rule(run, counts, rank, token_u, step_u, pos_u, out):
    B, N = counts.shape
    r = run.rule
    x = np.repeat(run.x0[None], B, axis=0)
    ptrs = np.zeros(B, dtype=np.int64)
    for j in range(N):
        if not counts[:, j].any():
            continue
        rows = _rows_of(run.denoiser, x)
        kern.generic_rule_step(x, rows, j, counts, run.code, r.tie, r.pos_temp, r.temp, r.top_k, r.top_p,
                               run.block_of, rank, ptrs, run.x0, token_u, step_u, pos_u, out.reveal, out.log_prob,
                               out.nfe)
    if r.final:
        kern.generic_argmax(x, _rows_of(run.denoiser, x), N, out.reveal, out.nfe)
    out.tokens[:] = x


def _rows_of(denoiser, x):
    rows = np.ascontiguousarray(denoiser.conditionals(x), dtype=np.float64)
    _check_rows(rows, x)
    return rows


def _sample_race32(denoiser, length, steps, size, schedule, policy, block_length, rule, prompt, calls, rng):
    """``precision="float32"``: the float32 race of MDLM's ``_sample_categorical``, generic driver."""
    if policy != "random" or rule.temp != 1.0 or rule.top_k or rule.top_p < 1.0 or rule.pos_temp > 0.0:
        raise ValueError("precision='float32' reproduces MDLM's race: it needs policy='random' and no token rule")
    if not sch.is_ancestral(schedule):
        raise ValueError(f"precision='float32' needs an ancestral schedule (a reveal probability per step), got "
                         f"{schedule!r}")
    run = _check_run(denoiser, length, steps, size, schedule, policy, block_length, "generic", rule, prompt,
                     rule_path=True)
    rng = val.check_rng(rng)
    B, L, N = run.B, run.L, run.N
    x = np.repeat(run.x0[None], B, axis=0)
    reveal, counts = np.full((B, L), -1, dtype=np.int64), np.zeros((B, N + rule.final), dtype=np.int64)
    lp, nfe = np.zeros(B), np.zeros(B, dtype=np.int64)
    for j, r in enumerate(run.plan.reveal_prob):
        masked = x < 0
        if not masked.any():
            continue
        rows = _rows_of(run.denoiser, x)  # (B, L, V) float64
        new, tok = race32(rows, float(r), rng)
        new &= masked
        x[new], reveal[new], counts[:, j] = tok[new], j, new.sum(axis=1)
        with np.errstate(divide="ignore"):
            lp += np.where(new, np.log(np.take_along_axis(rows, tok[..., None], axis=-1)[..., 0]), 0.0).sum(axis=1)
        nfe += new.any(axis=1)
    if rule.final:
        kern.generic_argmax(x, _rows_of(run.denoiser, x), N, reveal, nfe)
        counts[:, N] = (reveal == N).sum(axis=1)
    if (x < 0).any():
        raise ValueError("precision='float32' left positions masked: use final_argmax=True with a schedule that "
                         "can leave them (TimeGrid(reveal_rest=False))")
    shape, n_calls = run.shape, CALL_RULES[calls](counts[:, :N]) + rule.final
    return SampleResult(x.reshape(shape + (L,)), reveal.reshape(shape + (L,)),
                        counts.reshape(shape + (counts.shape[1],)),
                        nfe.reshape(shape)[()], lp.reshape(shape)[()], N, run.plan, policy, block_length, "generic",
                        n_calls.reshape(shape)[()], rule)


def race32(rows, r, rng):
    r"""One step of MDLM's float32 race for every position: (revealed (B, L) bool, token (B, L) int64).

    q = (float32(rows) * float32(r), float32(1 - r)) over V + 1 categories, U ~ float32 uniforms
    (B, L, V + 1), winner = argmax q / (1e-10 - log(U + 1e-10)) in float32 (``_sample_categorical``);
    the last category means "stays masked".
    """
    B, L, V = rows.shape
    q = np.empty((B, L, V + 1), dtype=np.float32)
    q[..., :V] = rows.astype(np.float32) * np.float32(r)
    q[..., V] = np.float32(1.0 - r)
    u = rng.random((B, L, V + 1), dtype=np.float32)
    gumbel_norm = np.float32(1e-10) - np.log(u + np.float32(1e-10))
    win = (q / gumbel_norm).argmax(axis=-1)
    return win < V, np.minimum(win, V - 1).astype(np.int64)


#: the rule path's runners: runner(run, counts, rank, token_u, step_u, pos_u, out).
RULE_RUNNERS = {"sweep": _run_sweep_rule, "generic": _run_generic_rule}


def _check_rows(rows, x):
    """The denoiser's rows at masked positions must be distributions (the position is named)."""
    B, L = x.shape
    if rows.ndim != 3 or rows.shape[:2] != (B, L):
        raise ValueError(f"denoiser.conditionals must return shape (B, L, V) = ({B}, {L}, V), got {rows.shape}")
    masked = x < 0
    r = rows[masked]
    bad = ~np.isfinite(r).all(axis=1) | (r < 0).any(axis=1) | (np.abs(r.sum(axis=1) - 1.0) > _ROW_TOL)
    if bad.any():
        b, i = np.argwhere(masked)[np.flatnonzero(bad)[0]]
        raise ValueError(f"denoiser.conditionals returned a row that is not a distribution at batch {b}, "
                         f"position {i} (sum {float(rows[b, i].sum())!r}, min {float(rows[b, i].min())!r})")
