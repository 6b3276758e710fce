r"""analysis.verdicts: each rule fed data with a known answer, right and wrong (STYLE 18a)."""
import math

import numpy as np
import pandas as pd
import pytest

from mdmlab.analysis import verdicts as vd

LENGTHS = np.array([16, 64, 256, 1024])


def _nstar(values, statistic="ser", rel=0.05, language="pair-copy:symbols=4", schedule="linear"):
    v = np.asarray(values, float)
    return pd.DataFrame({"language": language, "schedule": schedule, "policy": "random", "length": LENGTHS,
                         "statistic": statistic, "target": 0.5, "n_star": v, "n_star_low": v * (1 - rel),
                         "n_star_high": v * (1 + rel), "censored": "", "samples": 1000, "method": "bisection"})


def _claim(rows, claim):
    (row,) = [r for r in rows if r["claim"] == claim]
    return row


def test_classify_reaches_every_outcome():
    assert vd.classify(0.95, 1.05, (0.9, 1.1)) == "holds"
    assert vd.classify(0.5, 0.8, (0.9, 1.1)) == "violated"
    assert vd.classify(0.5, 1.0, (0.9, 1.1)) == "inconclusive"
    assert vd.classify(np.nan, np.nan, (0.9, 1.1)) == "inconclusive"
    assert vd.make_row("x", statistic="s", measured=3, low=3, high=3, region=(-math.inf, 2), cells=1,
                       verdict="vacuous")["verdict"] == "vacuous"
    with pytest.raises(ValueError, match="only be forced to 'vacuous'"):
        vd.make_row("x", statistic="s", measured=3, low=3, high=3, region=(0, 1), cells=1, verdict="holds")


def test_linear_n_star_holds_and_wrong_laws_do_not():
    ok = vd.claim_linear_and_constant_steps(_nstar(0.54 * LENGTHS + 1))
    assert _claim(ok, "ser-steps-linear-in-L")["verdict"] == "holds"
    for wrong in (np.full(4, 12.0), LENGTHS / np.log(LENGTHS), 2 * LENGTHS ** 0.8):  # constant, L/log L, L^0.8
        row = _claim(vd.claim_linear_and_constant_steps(_nstar(wrong)), "ser-steps-linear-in-L")
        assert row["verdict"] != "holds", row
        assert row["verdict"] == "violated"
    noisy = _claim(vd.claim_linear_and_constant_steps(_nstar(0.54 * LENGTHS, rel=0.6)), "ser-steps-linear-in-L")
    assert noisy["verdict"] == "inconclusive" and noisy["detectable"] > 0.1  # N* noise carried into the fit


def test_one_step_everywhere_is_vacuous_not_violated():
    """A full-support language meets the SER target at N = 1 for every L: nothing for the claim to test."""
    nstar = _nstar(np.ones(4), rel=0.0)
    row = _claim(vd.claim_linear_and_constant_steps(nstar), "ser-steps-linear-in-L")
    assert row["verdict"] == "vacuous" and "met in one step" in row["detail"]
    nstar.loc[3, ["n_star", "n_star_high"]] = 2.0  # one L needs two steps: the rule applies again
    assert _claim(vd.claim_linear_and_constant_steps(nstar), "ser-steps-linear-in-L")["verdict"] == "violated"


def test_constant_ter_steps_hold_and_growing_ones_do_not():
    ok = _claim(vd.claim_linear_and_constant_steps(_nstar(np.full(4, 12.0), "kl_per_token")),
                "ter-steps-independent-of-L")
    assert ok["verdict"] == "holds"
    grow = _claim(vd.claim_linear_and_constant_steps(_nstar(3 * np.log(LENGTHS), "kl_per_token")),
                  "ter-steps-independent-of-L")
    assert grow["verdict"] != "holds"


def test_censored_curves_are_rows_not_dropped():
    # a language whose SER never reaches delta on the grid, and one already below it at the smallest N
    rows = []
    for L in (64, 128, 256):
        for N in (L // 16, L // 4, L):
            rows.append(dict(language="pair-copy:symbols=4", schedule="linear", policy="random", length=L, steps=N,
                             samples=100, ser=0.9, ser_low=0.8, ser_high=0.95))
            rows.append(dict(language="all-equal:symbols=2", schedule="linear", policy="random", length=L, steps=N,
                             samples=100, ser=0.1, ser_low=0.05, ser_high=0.2))
    ns = vd.n_star_grid(pd.DataFrame(rows), 0.5)
    assert len(ns) == 6 and set(ns["censored"]) == {"above", "below"}
    out = vd.claim_linear_and_constant_steps(ns)
    assert len(out) == 2 and all(r["verdict"] == "inconclusive" for r in out)
    texts = " ".join(r["censored"] for r in out)
    assert "censored: N* > largest N tried in 3" in texts and "censored: N* < smallest N tried in 3" in texts


def test_grid_n_star_interval_inverts_the_band():
    steps = [8, 16, 32, 64]
    point, lo, hi, cens = vd.n_star_from_points(steps, [0.9, 0.7, 0.4, 0.1], [0.85, 0.55, 0.3, 0.05],
                                                [0.95, 0.8, 0.52, 0.2], 0.5)
    assert cens == "" and lo == 17 and hi == 64 and 16 < point < 32


def _ter_table(gap_of_L):
    return pd.DataFrame([dict(language="ngram:order=3,vocab=8,seed=1", schedule="linear", policy="random", length=L,
                              steps=N, samples=512, ter_gap=gap_of_L(L) * 8 / N, ter_gap_se=0.002)
                         for L in LENGTHS for N in (4, 8, 16)])


def test_ter_gap_fixed_n_one_sided():
    falling = vd.claim_ter_fixed_n(_ter_table(lambda L: 0.1 + 0.5 / L))  # the O(1/L) boundary effect
    assert all(r["verdict"] == "holds" for r in falling)
    growing = vd.claim_ter_fixed_n(_ter_table(lambda L: 0.05 * np.log(L)))  # grows like log L
    assert all(r["verdict"] != "holds" for r in growing) and any(r["verdict"] == "violated" for r in growing)
    inf = _ter_table(lambda L: 0.1).assign(ter_gap=np.inf)
    (row, *_) = vd.claim_ter_fixed_n(inf)
    assert row["verdict"] == "inconclusive" and row["censored"].startswith("infinite TER in")


def test_feng_rows_vacuous_held_out_and_rate():
    tab = _ter_table(lambda L: 0.05)
    rows = vd.claim_feng_rate(tab)
    unit = [r for r in rows if "trivial" in r["statistic"]]
    assert unit and unit[0]["verdict"] == "vacuous"  # 4 log 8 (2/N)^(1/3) > log 8 for N <= 16
    held = [r for r in rows if "held-out" in r["statistic"]][0]
    assert held["verdict"] == "holds"
    rate = [r for r in rows if "decay exponent" in r["statistic"]][0]
    assert rate["verdict"] == "holds" and rate["measured"] == pytest.approx(-1.0)
    slow = vd.claim_feng_rate(_ter_table(lambda L: 0.05).assign(ter_gap=lambda d: 0.05 * d["length"] / 16))
    assert [r for r in slow if "held-out" in r["statistic"]][0]["verdict"] == "violated"
    flat = [r for r in vd.claim_feng_rate(tab.assign(ter_gap=0.1)) if "decay" in r["statistic"]][0]
    assert flat["verdict"] != "holds"  # a gap that does not decay in N is not the rate
    zero = vd.claim_feng_rate(tab.assign(ter_gap=0.0, ter_gap_se=0.0))  # e.g. all-equal: nothing to fit
    assert [r["verdict"] for r in zero] == ["vacuous"] and "cannot fail" in zero[0]["detail"]


def test_closed_form_ser_two_sided():
    from mdmlab import synth, theory
    from mdmlab.models import schedules

    lang = synth.from_spec("pair-copy:symbols=4")
    rows = []
    for L in (16, 64):
        for N in (L // 4, L // 2):
            exact = theory.closed_form_ser(lang, schedules.resolve("linear", L, N))
            rows.append(dict(language="pair-copy:symbols=4", schedule="linear", policy="random", length=L, steps=N,
                             samples=4000, ser=round(exact * 4000) / 4000, ser_closed_form=exact))
    df = pd.DataFrame(rows)
    (ok,) = vd.claim_closed_form_ser(df)
    assert ok["verdict"] == "holds" and ok["detectable"] < 0.05
    (bad,) = vd.claim_closed_form_ser(df.assign(ser=np.clip(df["ser"] + 0.3, 0, 1)))
    assert bad["verdict"] == "violated"


def test_closed_form_n_star_and_any_schedule():
    from mdmlab import theory

    exact = np.array([vd.exact_n_star(theory.pair_copy(4), "linear", int(L), 0.5) for L in LENGTHS], float)
    assert np.all(exact == theory.PAIR_COPY_LINEAR.steps_needed(0.5, symbols=4, length=LENGTHS))
    (ok,) = vd.claim_closed_form_n_star(_nstar(exact))
    assert ok["verdict"] == "holds"
    (bad,) = vd.claim_closed_form_n_star(_nstar(exact / 2))
    assert bad["verdict"] == "violated"
    both = pd.concat([_nstar(exact), _nstar(exact * 1.3, schedule="cosine")])
    rows = vd.claim_any_schedule(both)
    per = {r["schedule"]: r for r in rows}
    assert per["cosine"]["verdict"] == "holds" and per["linear"]["verdict"] == "holds"
    below = vd.claim_any_schedule(_nstar(exact * 0.5, schedule="cosine"))
    assert below[0]["verdict"] == "violated"


def test_li_cai_one_and_two_sided():
    df = pd.DataFrame([dict(language="all-equal:symbols=2", schedule="balanced", policy="random", length=8, steps=2,
                            samples=100, kl_q_pm=3 * np.log(2), kl_q_pm_se=0.0, li_cai_bound=3 * np.log(2)),
                       dict(language="all-equal:symbols=2", schedule="balanced", policy="random", length=8, steps=4,
                            samples=100, kl_q_pm=np.log(2), kl_q_pm_se=0.0, li_cai_bound=np.log(2))])
    rows = vd.claim_li_cai(df)
    two = [r for r in rows if "two-sided" in r["statistic"]][0]
    assert two["verdict"] == "holds" and "tight) in 2 of 2" in two["detail"]
    one = [r for r in rows if "Li-Cai bound" in r["statistic"]][0]
    assert one["verdict"] == "holds"  # exactly on the boundary: the region is closed
    over = vd.claim_li_cai(df.assign(kl_q_pm=df["kl_q_pm"] * 2, kl_q_pm_se=0.01))
    assert [r for r in over if "Li-Cai bound" in r["statistic"]][0]["verdict"] == "violated"
    assert [r for r in over if "two-sided" in r["statistic"]][0]["verdict"] == "violated"


def test_verdicts_table_has_the_columns():
    out = vd.verdicts(_ter_table(lambda L: 0.05), _nstar(0.54 * LENGTHS))
    assert list(out.columns) == vd.COLUMNS and len(out) > 3
    assert set(out["verdict"]) <= {"holds", "violated", "inconclusive", "vacuous"}


def test_bisection_brackets_the_exact_n_star_and_cli(tmp_path, capsys):
    from mdmlab import theory
    from mdmlab.analysis import cli, nstar

    task = dict(language="pair-copy:symbols=4", length=32, schedule="linear", policy="random", statistic="ser",
                target=0.5)
    row = nstar.search(task, samples=2000, rel_width=0.3, max_samples=2000)
    exact = float(theory.PAIR_COPY_LINEAR.steps_needed(0.5, symbols=4, length=32))
    assert row["censored"] == "" and row["n_star_low"] <= exact <= row["n_star_high"]
    assert row["rel_width"] == pytest.approx((row["n_star_high"] - row["n_star_low"]) / row["n_star"])
    kl = nstar.search({**task, "statistic": "kl_per_token", "target": 0.15}, samples=500, rel_width=0.5,
                      max_samples=500)
    assert kl["n_star_low"] <= 5 <= kl["n_star_high"]  # log(4) / (2 N) <= 0.15 first at N = 5
    never = nstar.search({**task, "target": -0.1}, samples=50, rel_width=0.5, max_samples=50)
    assert never["censored"] == "above" and never["n_star_high"] == math.inf
    out = tmp_path / "ns"
    assert cli.main(["n-star", "--language", "pair-copy:symbols=4", "--length", "8", "16", "32", "--samples", "200",
                     "--max-samples", "200", "--rel-width", "0.5", "--workers", "1", "--out", str(out)]) == 0
    assert cli.main(["verdicts", str(out), "--out", str(tmp_path / "v.csv")]) == 0
    text = capsys.readouterr().out
    assert "ser-steps-linear-in-L" in text and "closed-form-n-star" in text
    table = pd.read_csv(tmp_path / "v.csv")
    assert list(table.columns) == vd.COLUMNS
    with pytest.raises(SystemExit):
        cli.main(["verdicts", str(tmp_path / "missing")])


def test_pair_copy_exact_n_star_slope_quoted_for_the_ser_region():
    """SER_EXPONENT_REGION's comment: pair-copy's exact N*(L, 1/2) fits a log-log slope of 0.993 over L = 64..4096."""
    from mdmlab import synth

    lang = synth.from_spec("pair-copy:symbols=4")
    lengths = 64 * 2 ** np.arange(7)
    n_star = [vd.exact_n_star(lang, "linear", int(L), 0.5) for L in lengths]
    assert n_star[0] == 36 and n_star[-1] == 2217
    assert np.polyfit(np.log(lengths), np.log(n_star), 1)[0] == pytest.approx(0.993, abs=5e-4)
