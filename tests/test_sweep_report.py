r"""analysis.sweep_report and analysis.figures: any sweep -> tables, figures and a report (issue 12).

The sweeps are tiny and run here: two user-written bigram JSON files (one with forbidden transitions,
so SER > 0; one dense, so the TER gap is finite) under two schedules, and a pair-copy sweep for the
closed forms. Titles, legends, ticks and theory curves are read back from the matplotlib objects.
"""
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from mdmlab import theory
from mdmlab.analysis import cli, figures, sweep_report
from mdmlab.analysis.sweep import SweepConfig, run_sweep

SPARSE = {"kind": "ngram", "order": 2, "table": [[0.0, 0.7, 0.3], [0.5, 0.0, 0.5], [0.6, 0.4, 0.0]],
          "initial": [0.4, 0.3, 0.3]}
DENSE = {"kind": "ngram", "order": 2, "table": [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.45, 0.45, 0.1]],
         "initial": [0.4, 0.3, 0.3]}
LENGTHS = (8, 16)


@pytest.fixture(scope="module")
def bigram_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("bigram")
    paths = []
    for name, doc in (("sparse.json", SPARSE), ("dense.json", DENSE)):
        (root / name).write_text(json.dumps(doc))
        paths.append(str(root / name))
    cfg = SweepConfig(languages=tuple(paths), lengths=LENGTHS, steps=(1, 2, 4, 8), schedules=("linear", "cosine"),
                      samples=64)
    run_sweep(cfg, root / "sweep", workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def pair_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("pair") / "sweep"
    cfg = SweepConfig(languages=("pair-copy:symbols=4",), lengths=LENGTHS, steps_per_length=(0.25, 0.5, 1),
                      schedules=("linear", "balanced"), samples=64)
    run_sweep(cfg, out, workers=1, progress=False)
    return out


def _rows(root):
    return pd.read_csv(root / "sweep" / "results.csv")


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _lengths_in_legend(ax):
    return sorted(int(m) for t in _legend_texts(ax) for m in re.findall(r"^\$L = (\d+)\$$", t))


def test_report_sweep_writes_tables_figures_and_verdicts(bigram_sweep, capsys):
    out = bigram_sweep / "report"
    assert cli.main(["report", "--sweep", str(bigram_sweep / "sweep"), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    text = (out / "REPORT.md").read_text()
    assert "bigram V=3, 33% zeros (sparse.json)" in text and "trigram" not in text
    assert "| claim" in text and "Not drawn (nothing in these data for them): kl" in text
    for stem in ("fig1_ter_gap", "fig2_ser_collapse", "fig3_ser_heatmap", "fig4_n_star"):
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    for name in ("verdicts", "ter", "ser", "n_star"):
        tex = (out / "tables" / f"{name}.tex").read_text()
        assert tex.startswith("\\begin{table}") and "\\toprule" in tex and "\\bottomrule" in tex
        assert "\\caption{" in tex and f"\\label{{tab:{name}}}" in tex
        assert (out / "tables" / f"{name}.csv").exists() and (out / "tables" / f"{name}.md").exists()
    assert "33\\% zeros" in (out / "tables" / "ser.tex").read_text()  # the caption is escaped LaTeX
    assert json.loads((out / "manifest.json").read_text())["cells"] == 2 * 2 * 2 * 4


def test_table_and_plot_commands(bigram_sweep, capsys):
    d, out = str(bigram_sweep / "sweep"), bigram_sweep / "cli"
    assert cli.main(["table", d, "--what", "ser", "--out", str(out / "ser.tex")]) == 0
    tex = (out / "ser.tex").read_text()
    assert "\\toprule" in tex and "\\label{tab:ser}" in tex and "schedules: cosine, linear" in tex
    assert re.search(r"0\.\d+ \[0\.\d+, 0\.\d+\]", tex)  # value and interval in one cell
    assert cli.main(["table", d, "--what", "ter", "--out", str(out / "ter.md")]) == 0
    assert "TER gap (nats/token)" in (out / "ter.md").read_text()
    assert cli.main(["table", d, "--what", "n-star", "--out", str(out / "nstar.csv")]) == 0
    assert set(pd.read_csv(out / "nstar.csv")["length"]) == set(LENGTHS)
    assert cli.main(["plot", d, "--what", "ter-gap", "--out", str(out / "ter.png")]) == 0
    assert (out / "ter.png").stat().st_size > 1000 and (out / "ter.pdf").stat().st_size > 1000
    capsys.readouterr()
    for argv, message in ((["table", d, "--out", str(out / "x.txt")], "--out must end in one of .tex"),
                          (["plot", d, "--what", "kl", "--out", str(out / "kl.png")], "hold nothing to draw"),
                          (["plot", str(out / "nope"), "--out", str(out / "a.png")], "SWEEP_DIR must be a folder")):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err


def test_titles_legends_and_ticks_come_from_the_data(bigram_sweep):
    df = _rows(bigram_sweep)
    fig, title = sweep_report.plot_ser(df)
    assert "bigram V=3, 33% zeros (sparse.json)" in title and "trigram" not in title
    assert "SER = 0 in every cell of bigram V=3 (dense.json)" in title  # said, not drawn as a flat panel
    (ax,) = [a for a in fig.axes if a.get_legend() is not None]
    assert _lengths_in_legend(ax) == list(LENGTHS)  # the actual L values, nothing invented
    assert {"linear", "cosine"} <= set(_legend_texts(ax))  # the two schedules, told apart
    colours = [h.get_color() for h in ax.get_legend().legend_handles[:len(LENGTHS)]]
    assert len(set(map(str, colours))) == len(LENGTHS)
    fig.draw_without_rendering()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1/16", "1/8", "1/4", "1/2", "1"]
    fig, title = sweep_report.plot_ter_gap(df)
    assert "dense.json" in title and "sparse.json" not in title  # no finite gap for the sparse bigram
    fig.draw_without_rendering()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8"]  # integers, no 3x10^0
    assert all(re.fullmatch(r"\d+(\.\d+)?", t.get_text()) for t in ax.get_yticklabels() if t.get_text())
    fig, _ = sweep_report.plot_n_star(sweep_report.load_sweeps([bigram_sweep / "sweep"])[1])
    fig.draw_without_rendering()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["8", "16"]


def test_feng_curves_bound_every_point_and_only_for_ngrams(bigram_sweep, pair_sweep):
    df = _rows(bigram_sweep)
    curves = sweep_report.feng_curves(df)
    assert set(curves["kind"]) == {"bound", "trivial", "fitted bound"}
    fitted = curves[curves["kind"] == "fitted bound"]
    assert "A = \\max" in fitted["label"].iloc[0]
    d = df[np.isfinite(df["ter_gap"]) & (df["ter_gap"] > 0)]
    # the drawn curve is a power law in N: interpolate it in log-log at the measured N
    at = np.exp(np.interp(np.log(d["steps"]), np.log(fitted["steps"]), np.log(fitted["value"])))
    assert np.all(at * (1 + 1e-9) >= d["ter_gap"].values)  # on or above every point: drawn as a bound
    assert np.isclose(np.max(d["ter_gap"].values / at), 1.0, rtol=1e-9)  # and touching the worst one
    unit = curves[curves["kind"] == "bound"]
    assert np.allclose(unit["value"], 4 * np.log(3) * (1 / unit["steps"]) ** 0.5)
    assert sweep_report.feng_curves(pd.read_csv(pair_sweep / "results.csv")).empty  # not an n-gram


def test_closed_forms_drawn_over_the_data_and_named(pair_sweep):
    df = pd.read_csv(pair_sweep / "results.csv")
    curves = sweep_report.closed_form_curves(df)
    assert set(curves["schedule"]) == {"linear", "balanced"} and curves["steps"].nunique() > 3
    got = curves.merge(df, on=["language", "schedule", "policy", "length", "steps"])
    np.testing.assert_allclose(got["value"], got["ser_closed_form"], rtol=1e-12)  # the theory the cells carry
    fig, title = sweep_report.plot_ser(df)
    ax = fig.axes[0]
    assert "pair-copy k=4" in title and "closed form (theory)" in _legend_texts(ax)
    data_z = max(line.get_zorder() for line in ax.get_lines() if line.get_color() != "black")
    theory_z = min(line.get_zorder() for line in ax.get_lines() if line.get_color() == "black")
    assert theory_z > data_z
    exact = sweep_report.exact_n_star_curves(sweep_report.load_sweeps([pair_sweep])[1])
    assert set(exact["schedule"]) == {"linear", "balanced"} and (exact["value"] >= 1).all()
    assert sweep_report.plot_ser_heatmap(df) is not None


def test_figures_api_on_a_hand_built_frame():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [{"language": "ngram:order=3,vocab=8,sparsity=0.5,seed=1", "schedule": s, "policy": "random", "seed": 0,
             "length": L, "steps": N, "samples": 100, "ser": 0.5, "ser_low": 0.4, "ser_high": 0.6,
             "ter_gap": 0.1 / N, "ter_gap_se": 0.01 / N}
            for s in ("linear", "cosine") for L in (100, 400) for N in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)]
    df = pd.DataFrame(rows)
    fig, (a, b) = plt.subplots(1, 2)
    assert figures.ser_vs_steps(df, a, x="steps") is a
    assert _lengths_in_legend(a) == [100, 400]  # no L = 200, 800 from a continuous norm
    assert "schedule" not in " ".join(_legend_texts(a)) and {"linear", "cosine"} <= set(_legend_texts(a))
    figures.ter_gap_vs_steps(df, b)
    fig.canvas.draw()
    ticks = [t.get_text() for t in b.get_xticklabels() if t.get_text()]
    assert ticks and all(t.isdigit() for t in ticks) and len(ticks) <= figures.MAX_LOG2_TICKS
    assert figures.language_name(df["language"][0]) == "trigram V=8, 50% sparse"
    with pytest.raises(ValueError, match="x must be"):
        figures.ser_vs_steps(df, a, x="length")
    with pytest.raises(ValueError, match=r"df must be a tidy frame.*missing \['kl_q_pm', 'li_cai_bound'\]"):
        figures.kl_vs_bound(df, a)
    plt.close(fig)


def test_a_moved_language_file_is_named_and_drawn_without_theory(tmp_path):
    d = tmp_path / "moved"
    d.mkdir()
    rows = [{"language": "gone/lang.json", "schedule": "linear", "policy": "random", "seed": 0, "length": L,
             "steps": N, "samples": 10, "ser": 0.5, "ser_low": 0.2, "ser_high": 0.8, "ter_gap": math.inf,
             "ter_gap_se": math.nan, "ser_closed_form": math.nan} for L in (8, 16) for N in (2, 4)]
    pd.DataFrame(rows).to_csv(d / "results.csv", index=False)
    fig, title = sweep_report.plot_ser(pd.read_csv(d / "results.csv"))
    assert "lang.json" in title and "gone/" not in title
    assert sweep_report.plot_ter_gap(pd.read_csv(d / "results.csv")) is None  # infinite gaps: nothing to draw
    assert sweep_report.make_sweep_report([d], tmp_path / "rep", command="pytest").empty
    assert "No verdicts and no theory for `gone/lang.json`" in (tmp_path / "rep" / "REPORT.md").read_text()
    assert (tmp_path / "rep" / "figures" / "fig2_ser_collapse.pdf").exists()


def test_the_readme_notebook_example_runs(pair_sweep):
    import os

    import matplotlib

    matplotlib.use("Agg")
    readme = open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md")).read()
    section = readme[readme.index("## Any sweep to tables, figures and a report"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[:code.index("```")].replace('"runs/pair', '"' + str(pair_sweep))
    scope = {}
    exec(code, scope)
    legend = [t.get_text() for t in scope["a"].get_legend().get_texts()]
    assert "closed form (theory)" in legend and "$L = 8$" in legend
    assert scope["ax"].get_legend() is not None
    import matplotlib.pyplot as plt

    plt.close("all")
