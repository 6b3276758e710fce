r"""``Bound``: a closed-form statement users can print, evaluate and invert."""
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp


@dataclass(frozen=True)
class Bound:
    r"""A bound or closed form as a first-class object.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"ser-pair-copy-linear"``.
    lhs : str
        What the expression bounds or equals, in words (e.g. ``"SER(p)"``).
    relation : str
        ``"<="``, ``">="`` or ``"="``.
    expr : sympy.Expr
        The right-hand side in the values of ``symbols``.
    symbols : dict of str to sympy.Symbol
        Parameter names (as :meth:`evaluate` takes them) and their symbols (as LaTeX prints them);
        ``steps`` (N) is the one :meth:`steps_needed` solves for.
    defaults : dict
        Default values of parameters (e.g. the hidden constants, 1 by default).
    statement : str
        The statement in words.
    assumptions : tuple of str
    reference : str
        Where the statement comes from.
    provenance : str
        Which parts are the paper's statement and which are this project's derivation.
    numeric : callable, optional
        A numpy evaluator ``f(**params)`` used instead of ``lambdify(expr)`` (for sums over steps).
    max_steps_per_length : float, optional
        Default search limit of :meth:`steps_needed` as a multiple of ``length`` (for bounds whose
        numeric evaluation costs grow with N).
    steps_expr : sympy.Expr, optional
        Closed-form least real N with value <= target (in the symbol ``delta`` for the target),
        printed by :meth:`describe`; :meth:`steps_needed` always solves numerically.
    """

    name: str
    lhs: str
    relation: str
    expr: sp.Expr
    symbols: dict
    statement: str
    reference: str
    provenance: str
    assumptions: tuple = ()
    defaults: dict = field(default_factory=dict)
    numeric: object = None
    steps_expr: sp.Expr = None
    max_steps_per_length: float = None

    @property
    def params(self):
        """Parameter names in call order."""
        return tuple(self.symbols)

    def latex(self):
        """``lhs relation expr`` as LaTeX."""
        rel = {"<=": r"\le", ">=": r"\ge", "=": "="}[self.relation]
        return f"{_latex_lhs(self.lhs)} {rel} {sp.latex(self.expr)}"

    def evaluate(self, **params):
        r"""The right-hand side at ``params`` (numpy broadcasting over array arguments)."""
        values = self._values(params)
        if self.numeric is not None:
            return np.vectorize(self.numeric, otypes=[float])(**values)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self._compiled(*(values[p] for p in self.params)), dtype=float)

    @cached_property
    def _compiled(self):
        return sp.lambdify(list(self.symbols.values()), self.expr, modules="numpy")

    def steps_needed(self, target, *, max_steps=None, **params):
        r"""Least integer N (``steps``) with value <= ``target``; the value must decrease in N.

        Solved by integer bisection on :meth:`evaluate` over [1, ``max_steps``] (default 2**40, or
        ``max_steps_per_length * length``: ancestral schedules allow N > L, whose extra steps reveal
        nothing); NaN where no N in range reaches it.
        """
        if "steps" not in self.params:
            raise ValueError(f"bound {self.name!r} has no steps parameter to solve for")
        values = self._values({**params, "steps": 1}, check=False)
        if max_steps is None:
            max_steps = (self.max_steps_per_length * values["length"] if self.max_steps_per_length
                         else 2.0 ** 40)
        hi = np.asarray(max_steps, dtype=float)
        shape = np.broadcast_shapes(np.shape(target), *(np.shape(v) for v in values.values()), hi.shape)
        lo = np.ones(shape)
        hi = np.broadcast_to(hi, shape).astype(float)
        ok_hi = self.evaluate(**{**values, "steps": hi}) <= target
        for _ in range(64):  # least N in [lo, hi] with value(N) <= target
            mid = np.floor((lo + hi) / 2)
            good = self.evaluate(**{**values, "steps": mid}) <= target
            hi = np.where(good, mid, hi)
            lo = np.where(good, lo, mid + 1)
            if np.all(lo >= hi):
                break
        return np.where(ok_hi, hi, np.nan)

    def describe(self):
        """A multi-line plain-text description: statement, formula, assumptions, reference."""
        lines = [f"{self.name}: {self.lhs} {self.relation} {sp.sstr(self.expr)}", f"  {self.statement}"]
        if self.steps_expr is not None:
            lines.append(f"  least N with value <= delta: N* = ceil({sp.sstr(self.steps_expr)})")
        lines += [f"  assumes: {a}" for a in self.assumptions]
        lines += [f"  reference: {self.reference}", f"  provenance: {self.provenance}"]
        return "\n".join(lines)

    def _values(self, params, check=True):
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"bound {self.name!r} takes parameters {list(self.params)}, got unknown {sorted(unknown)}")
        values = {**self.defaults, **params}
        missing = [p for p in self.params if p not in values]
        if check and missing:
            raise ValueError(f"bound {self.name!r} needs parameters {missing}")
        return {k: np.asarray(v, dtype=float) for k, v in values.items()}


_LATEX = {"E_M KL(q || p_M)": r"\mathbb{E}_M \mathrm{KL}(q \,\|\, p_M)", "log TER": r"\log \mathrm{TER}",
          "SER": r"\mathrm{SER}"}


def _latex_lhs(lhs):
    for text, tex in _LATEX.items():
        lhs = lhs.replace(text, tex)
    return lhs
