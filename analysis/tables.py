r"""Tables for a paper from tidy sweep frames: one cell per quantity with its uncertainty.

:func:`paper_table` turns the long-format rows of a sweep (``ser``, ``ser_low``, ``ser_high``,
``ter_gap``, ``ter_gap_se``, ...) into a display frame whose cells read ``0.241 ± 0.006`` or
``0.67 [0.63, 0.71]``, with readable headers and units, infinity as a symbol, and the columns that
vary (schedule, policy, replicate) kept; :func:`to_latex` writes it as a booktabs ``table`` with a
caption and a label through pandas' ``Styler.to_latex`` (no string surgery on the output).
"""
import math

import numpy as np
import pandas as pd

#: quantity -> (header with unit, how its uncertainty is stored: "se" column suffix or "interval").
QUANTITIES = {
    "ser": ("SER", "interval"),
    "ter_gap": ("TER gap (nats/token)", "se"),
    "log_ter": ("log TER (nats/token)", "se"),
    "kl_q_pm": (r"E_M KL(q || p_M) (nats)", "se"),
    "kl_pm_q": ("KL(p || q) (nats)", "se"),
    "diversity": ("unigram entropy (nats)", "se"),
    "n_star": ("N*", "interval"),
    "ser_closed_form": ("SER, closed form", None),
    "li_cai_bound": ("Li & Cai bound (nats)", None),
    "nfe": ("NFE (steps)", None),
    "entropy_per_token": ("entropy rate (nats/token)", None),
}
#: identifying columns and their headers, kept when they vary (language, L and N always).
KEYS = {"language": "language", "length": "L", "steps": "N", "schedule": "schedule", "policy": "policy",
        "seed": "replicate", "samples": "samples"}
ALWAYS = ("language", "length", "steps")


def paper_table(df, quantities, *, digits=2):
    r"""A display frame: key columns that vary, then one ``value ± error`` cell per quantity.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy sweep rows.
    quantities : sequence of str
        Keys of :data:`QUANTITIES` present in ``df``.
    digits : int
        Significant digits of the uncertainty; the value is rounded to the same decimal place
        (an exact value, with no uncertainty, gets 4 significant digits).

    Returns
    -------
    pandas.DataFrame of strings, rows sorted by the key columns.
    """
    unknown = [q for q in quantities if q not in QUANTITIES or q not in df.columns]
    if unknown:
        raise ValueError(f"quantities must be columns of the table among {sorted(QUANTITIES)}, got {unknown}")
    keys = [k for k in KEYS if k in df.columns and (k in ALWAYS or df[k].nunique() > 1)]
    rows = df.sort_values(keys).reset_index(drop=True)
    out = rows[keys].rename(columns=KEYS)
    for q in quantities:
        header, kind = QUANTITIES[q]
        out[header] = [_cell(r, q, kind, digits) for _, r in rows.iterrows()]
    return out


def to_latex(table, *, caption, label):
    r"""A booktabs ``table`` environment with caption and label; numbers right-aligned, text left.

    Cells and headers are LaTeX-escaped first; then ``±`` and ``∞`` become ``$\pm$`` and ``$\infty$``,
    and ``|`` (as in ``KL(q || p_M)``) ``\textbar{}``, which the default OT1 font encoding would print as a dash."""
    align = "".join("l" if c in ("language", "schedule", "policy") else "r" for c in table.columns)
    styler = (table.style.hide(axis="index").format(_latex_symbols, escape="latex")
              .format_index(_latex_symbols, escape="latex", axis=1))
    return styler.to_latex(caption=caption, label=label, hrules=True, column_format=align,
                           position="htbp", position_float="centering")


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_", "$": r"\$",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def latex_text(text):
    r"""``text`` with LaTeX's special characters escaped, for a caption (pandas escapes cells, not captions)."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def _latex_symbols(text):
    return (str(text).replace("±", r"$\pm$").replace("−∞", r"$-\infty$").replace("∞", r"$\infty$")
            .replace("|", r"\textbar{}"))


def short_name(spec):
    r"""A legend name from a language spec: ``trigram V=8, 50% sparse``, ``pair-copy k=4``, ``HMM K=8, V=8``.

    Specs of unknown kinds (and saved files) are returned unchanged."""
    from mdmlab import synth

    try:
        parsed = synth.parse_spec(spec)
    except (ValueError, TypeError):
        return spec
    p = parsed.params
    sparse = f", {p['sparsity']:.0%} sparse" if p.get("sparsity") else ""
    if p.get("concentration", 1.0) != 1.0:
        sparse += f", Dirichlet {p['concentration']:g}"
    if parsed.kind == "ngram":
        names = {1: "unigram", 2: "bigram", 3: "trigram"}
        return f"{names.get(p['order'], str(p['order']) + '-gram')} V={p['vocab']}{sparse}"
    if parsed.kind == "hmm":
        return f"HMM K={p['states']}, V={p['vocab']}{sparse}"
    if parsed.kind in ("pair-copy", "all-equal"):
        return f"{parsed.kind} k={p['symbols']}"
    if parsed.kind == "block-copy":
        return f"block-copy k={p['symbols']}, m={p['block']}"
    return spec


def caption_for(df, what):
    r"""``what`` for the language(s), schedule(s), policy and samples in ``df`` (a caption)."""
    parts = [what]
    for col, name in (("language", "language"), ("schedule", "schedule"), ("policy", "positions")):
        if col in df.columns:
            vals = sorted(map(str, df[col].unique()))
            parts.append(f"{name}{'s' if len(vals) > 1 else ''}: {', '.join(vals)}")
    if "samples" in df.columns:
        lo, hi = int(df["samples"].min()), int(df["samples"].max())
        parts.append(f"{lo} samples per cell" if lo == hi else f"{lo}--{hi} samples per cell")
    return "; ".join(parts) + "."


def _cell(row, q, kind, digits):
    value = row[q]
    if kind == "se" and f"{q}_se" in row.index:
        return _with_error(value, row[f"{q}_se"], digits)
    if kind == "interval" and f"{q}_low" in row.index:
        return _with_interval(value, row[f"{q}_low"], row[f"{q}_high"], digits)
    return _number(value, None)


def _decimals(error, digits):
    """Decimal places that show ``digits`` significant digits of ``error`` (>= 0)."""
    if not np.isfinite(error) or error <= 0:
        return None
    return max(0, digits - 1 - int(math.floor(math.log10(error))))


def _number(value, decimals):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if np.isinf(value):
        return "∞" if value > 0 else "−∞"
    if decimals is None:
        return f"{value:.4g}"
    return f"{value:.{decimals}f}"


def _with_error(value, error, digits):
    d = _decimals(error, digits)
    if d is None or not np.isfinite(value):
        return _number(value, None)
    return f"{_number(value, d)} ± {_number(error, d)}"


def _with_interval(value, low, high, digits):
    width = min(abs(value - low), abs(high - value)) if np.isfinite(low) and np.isfinite(high) else np.nan
    d = _decimals(width if width > 0 else max(abs(high - low), 0.0), digits)
    if d is None:
        return _number(value, None)
    return f"{_number(value, d)} [{_number(low, d)}, {_number(high, d)}]"
