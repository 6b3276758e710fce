r"""analysis.tables: paper tables with uncertainties in the cells, LaTeX through Styler."""
import numpy as np
import pandas as pd
import pytest

from mdmlab.analysis import tables


def _frame():
    return pd.DataFrame({
        "language": ["pair-copy:symbols=4"] * 4, "length": [16, 16, 64, 64], "steps": [4, 8, 4, 8],
        "schedule": ["linear", "balanced"] * 2, "policy": ["random"] * 4, "seed": [0] * 4, "samples": [512] * 4,
        "ser": [0.6734, 0.5, 1.0, 0.25], "ser_low": [0.63, 0.45, 0.9928, 0.2], "ser_high": [0.71, 0.55, 1.0, 0.3],
        "ter_gap": [np.inf, 0.241234, 0.1, np.nan], "ter_gap_se": [np.nan, 0.00612, 0.0, np.nan],
    })


def test_cells_carry_value_and_uncertainty_with_matching_digits():
    tab = tables.paper_table(_frame(), ["ser", "ter_gap"])
    assert list(tab.columns) == ["language", "L", "N", "schedule", "SER", "TER gap (nats/token)"]
    row = tab[(tab["L"] == 16) & (tab["N"] == 4)].iloc[0]
    assert row["SER"] == "0.673 [0.630, 0.710]"
    assert row["TER gap (nats/token)"] == "∞"
    assert tab[(tab["L"] == 16) & (tab["N"] == 8)].iloc[0]["TER gap (nats/token)"] == "0.2412 ± 0.0061"
    assert tab[(tab["L"] == 64) & (tab["N"] == 8)].iloc[0]["TER gap (nats/token)"] == "--"  # NaN shown, not dropped


def test_latex_is_a_captioned_booktabs_table():
    df = _frame()
    tex = tables.to_latex(tables.paper_table(df, ["ser", "ter_gap"]),
                          caption=tables.caption_for(df, "Sequence error rate"), label="tab:ser")
    assert tex.startswith("\\begin{table}") and "\\label{tab:ser}" in tex and "\\toprule" in tex
    assert "$\\pm$" in tex and "$\\infty$" in tex and "±" not in tex
    assert "schedules: balanced, linear" in tex and "512 samples per cell" in tex
    assert "{lrrlrr}" in tex


def test_short_names_and_bad_quantities():
    assert tables.short_name("ngram:order=3,vocab=8,sparsity=0.5,seed=1") == "trigram V=8, 50% sparse"
    assert tables.short_name("hmm:states=8,vocab=4,seed=2") == "HMM K=8, V=4"
    assert tables.short_name("pair-copy:symbols=4") == "pair-copy k=4"
    assert tables.short_name("runs/lang.npz") == "runs/lang.npz"
    with pytest.raises(ValueError, match="quantities must be columns"):
        tables.paper_table(_frame(), ["nope"])


def test_latex_bars_are_textbar_in_headers_and_cells():
    t = pd.DataFrame({"language": ["a|b"], "E_M KL(q || p_M)": ["0.5 ± 0.1"]})
    tex = tables.to_latex(t, caption="c", label="l")
    assert r"E\_M KL(q \textbar{}\textbar{} p\_M)" in tex and r"a\textbar{}b" in tex and "||" not in tex
