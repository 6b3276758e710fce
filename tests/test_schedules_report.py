r"""analysis.schedules_report: tidy tables of the information curve and of E_M KL per schedule."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mdmlab.analysis import schedules_report as sr  # noqa: E402


def test_tables_and_figures_on_an_exact_and_a_monte_carlo_language():
    specs = ("ngram:order=2,vocab=3,concentration=0.2,seed=1", "hmm:states=3,vocab=3,seed=1")
    curves_df, curves = sr.information_curves(specs, 12, samples=64)
    assert set(curves_df["method"]) == {"chain", "monte-carlo"} and len(curves_df) == 24
    kl = sr.kl_table(curves, 12, (2, 4))
    assert len(kl) == 2 * 2 * (1 + len(sr.NAMED))
    exact = kl[kl["language"] == specs[0]].set_index(["steps", "schedule"])["kl"]
    for N in (2, 4):  # the exact optimum beats every named schedule
        assert all(exact[(N, "optimal")] <= exact[(N, s)] + 1e-12 for s in sr.NAMED)
    mc = kl[kl["language"] == specs[1]]
    assert (mc["kl_se"] > 0).all() and (kl[kl["language"] == specs[0]]["kl_se"] == 0).all()
    wide = sr.wide_table(kl)
    assert list(wide.columns) == ["language", "steps", "optimal", *sr.NAMED]
    assert wide[wide["language"] == specs[1]]["optimal"].str.contains("±").all()
    assert not wide[wide["language"] == specs[0]]["optimal"].str.contains("±").any()
    fig, axes = plt.subplots(1, 2)
    sr.plot_curves(curves_df, axes[0])
    sr.plot_kl(kl, axes[1], specs[0])
    assert len(axes[0].get_lines()) == 2 and np.isfinite(axes[1].get_ylim()).all()
    plt.close(fig)


def test_schedules_report_writes_tables_figures_and_latex(tmp_path):
    from mdmlab.analysis.schedule_claims import ClaimSettings

    tiny = ClaimSettings(steps=(2, 5), samples=64, sampler_lengths=(8, 10), identity_lengths=(8, 10),
                         chain_lengths=(8, 16), curve_samples=32, adaptive_length=8,
                         adaptive_samples=64, structured_samples=64, ser_steps=(2, 4),
                         ser_languages=("pair-copy:symbols=2",))
    out = sr.make_schedules_report(str(tmp_path), length=10, steps=(2, 5), samples=32, claims=tiny)
    assert len(out["kl"]) == len(sr.LANGUAGES) * 2 * (1 + len(sr.NAMED))
    for name in ("tables/kl.csv", "tables/kl_wide.tex", "tables/information_curves.csv", "figures/schedules.png",
                 "figures/schedules.pdf", "REPORT.md", "manifest.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    verdicts = out["verdicts"]
    claims = {"kl-identity", "optimal-schedule", "kl-L-free", "eb-bound", "structured-order-exact"}
    assert claims <= set(verdicts["claim"])
    assert "structured" in out["kl_wide"].columns
    assert (tmp_path / "figures" / "structured_ser.png").stat().st_size > 0
    assert (tmp_path / "tables" / "verdicts.csv").stat().st_size > 0
    assert "## Verdicts" in (tmp_path / "REPORT.md").read_text()
    tex = (tmp_path / "tables" / "kl_wide.tex").read_text()
    assert "\\label{tab:schedules}" in tex and "Dirichlet 0.1" in tex and "||" not in tex
