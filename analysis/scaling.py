r"""Former home of the scaling checks; the rules and claims now live in :mod:`analysis.verdicts`.

The widened ``EXPONENT_TOL`` rule (an exponent interval merely meeting [0.95, 1.05] counted as
"holds") is gone: it let wide intervals and an L / log L law pass, and the failure it papered over
was Monte Carlo noise in N* that the fit did not carry. N* now has an interval
(:func:`~analysis.verdicts.n_star_grid`, :mod:`analysis.nstar`) and the exponent fit uses it.
"""
from mdmlab.analysis.verdicts import (claim_li_cai, exponent_rows, n_star_grid,  # noqa: F401
                                      verdicts)

n_star = n_star_grid
