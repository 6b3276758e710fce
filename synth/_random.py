r"""Random stochastic matrices with exact zeros, shared by the random language constructors."""
import numpy as np

from mdmlab.synth import _validation as val


def dirichlet_rows(rows, width, concentration, sparsity, rng):
    r"""A (rows, width) stochastic matrix with Dirichlet(concentration) rows and exact zeros.

    Each row forbids ``floor(sparsity * width)`` entries (at most ``width - 1``), chosen uniformly,
    and spreads a Dirichlet draw over the rest.
    """
    concentration = val.check_real("concentration", concentration, low=0.0, low_open=True)
    sparsity = val.check_real("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
    forbidden = min(int(np.floor(sparsity * width)), width - 1)
    allowed = width - forbidden
    out = np.zeros((rows, width))
    weights = rng.dirichlet(np.full(allowed, concentration), size=rows)  # (rows, allowed)
    if forbidden == 0:
        return weights
    keep = np.argsort(rng.random((rows, width)), axis=1)[:, :allowed]  # uniform subsets
    np.put_along_axis(out, keep, weights, axis=1)
    return out
