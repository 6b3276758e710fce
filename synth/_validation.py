r"""Validation helpers called once at the public boundary (STYLE 7).

Each raises ``ValueError`` or ``TypeError`` naming the argument, what was expected and what was
given. Nothing here is called from a kernel.
"""
import numbers

import numpy as np

#: Largest float64 array (in entries) a language may allocate: 2**27 entries = 1 GiB.
MAX_ENTRIES = 2 ** 27
#: Row sums within this distance of one are accepted (then renormalised exactly).
ROW_SUM_TOL = 1e-8


def check_int(name, value, *, low=None):
    """Return ``value`` as a Python int; it must be an integer (not bool) and >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float within the given (open or closed) bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or bad_low or bad_high:
        lo = "" if low is None else f"{'(' if low_open else '['}{low}, "
        hi = "" if high is None else f"{high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a finite number in {lo or '(-inf, '}{hi or 'inf)'}, got {value}")
    return value


def check_entries(what, shape):
    """Refuse to allocate an array of ``shape`` larger than :data:`MAX_ENTRIES`, saying how big."""
    entries = int(np.prod(np.asarray(shape, dtype=object)))
    if entries > MAX_ENTRIES:
        gib = entries * 8 / 2 ** 30
        raise ValueError(
            f"{what} would need {entries:,} float64 entries ({gib:,.1f} GiB), more than the "
            f"limit of {MAX_ENTRIES:,} entries ({MAX_ENTRIES * 8 / 2 ** 30:.0f} GiB)")


def check_distribution(name, array, *, shape=None, axis=-1):
    r"""Validate probabilities along ``axis`` and return a float64 copy with exact-as-possible sums.

    Sums within :data:`ROW_SUM_TOL` of one are accepted; those further than rounding error
    (``width * 2**-50``) are divided by their sum, others are left bit for bit, so validating an
    already validated array is the identity (saved languages round-trip exactly).

    Raises if ``array`` has the wrong shape, is not finite, has negative entries, or has sums along
    ``axis`` further than :data:`ROW_SUM_TOL` from one (the offending sums are printed).
    """
    raw = np.asarray(array)
    if np.iscomplexobj(raw):
        raise TypeError(f"{name} must be real-valued probabilities, got complex dtype {raw.dtype}")
    if raw.dtype == object or raw.dtype.kind in "SUVMm":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {raw.dtype}")
    arr = np.array(raw, dtype=np.float64)
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, found {np.count_nonzero(~np.isfinite(arr))} NaN/inf entries")
    if np.any(arr < 0):
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative, got {name}[{idx}] = {float(arr[idx])!r}")
    sums = arr.sum(axis=axis, keepdims=True)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOL
    if np.any(bad):
        where = np.argwhere(np.squeeze(bad, axis=axis) if arr.ndim > 1 else bad)[:5]
        flat = np.squeeze(sums, axis=axis) if arr.ndim > 1 else sums
        shown = ", ".join(f"row {tuple(int(i) for i in w)}: {float(flat[tuple(w)])!r}" for w in where)
        raise ValueError(
            f"{name} must sum to one along axis {axis} (tolerance {ROW_SUM_TOL}); "
            f"{int(np.count_nonzero(bad))} sums are off, e.g. {shown}")
    width = arr.size // sums.size
    return np.where(np.abs(sums - 1.0) > width * 2.0 ** -50, arr / sums, arr)


def check_tokens(name, x, vocab_size, *, allow_mask=True):
    r"""Return ``x`` as a C-contiguous int64 array of shape ``(*batch, L)`` with ``L >= 1``.

    Token ids must lie in ``[0, V)``, or equal ``synth.MASK = -1`` when ``allow_mask``.
    """
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array of token ids, got dtype {arr.dtype}")
    if arr.ndim < 1:
        raise ValueError(f"{name} must have at least one dimension (..., L), got a scalar")
    if arr.shape[-1] < 1:
        raise ValueError(f"{name} must have length L >= 1 in its last axis, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape} has a zero batch dimension")
    low = -1 if allow_mask else 0
    bad = (arr < low) | (arr >= vocab_size)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        allowed = f"[0, {vocab_size})" + (" or MASK = -1" if allow_mask else " (no MASK allowed here)")
        raise ValueError(f"{name} must hold token ids in {allowed}, got {name}[{idx}] = {int(arr[idx])}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_size(size):
    """Normalise a numpy-style ``size`` (None, an int or a tuple of ints >= 0) to a tuple."""
    if size is None:
        return ()
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size,)
    try:
        dims = tuple(check_int("size", s, low=0) for s in size)
    except TypeError:
        raise TypeError(f"size must be None, an int or a tuple of ints, got {size!r}") from None
    return dims


def check_rng(rng):
    r"""``np.random.default_rng(rng)``, with a ``TypeError`` naming ``rng`` for what it cannot take."""
    if isinstance(rng, bool):
        raise TypeError(f"rng must be None, an int >= 0, a SeedSequence or a numpy Generator, got bool {rng!r}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        kind = ValueError if isinstance(rng, numbers.Integral) else TypeError
        raise kind(f"rng must be None, an int >= 0, a SeedSequence or a numpy Generator, got "
                   f"{type(rng).__name__} {rng!r}") from None
