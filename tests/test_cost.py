r"""The sweep cost model (analysis.cost) and ``mdmlab sweep --dry-run``: structure, fit, fallbacks, no writes.

No timed assertion: the model's accuracy is ``python -m benchmarks cost``'s business.
"""
import json
import os

import numpy as np
import pytest

from mdmlab import models, synth
from mdmlab.analysis import cli, cost
from mdmlab.analysis.sweep import Cell, SweepConfig

HMM, NGRAM = "hmm:states=8,vocab=4,seed=1", "ngram:order=3,vocab=4,sparsity=0.5,seed=1"
CFG = SweepConfig(languages=(HMM, NGRAM), lengths=(16, 64), samples=32)
POSITIVE = cost.CostModel({t: 1e-9 * (i + 1) for i, t in enumerate(cost.TERMS)}, "test")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the user's cache


@pytest.mark.parametrize("spec", [HMM, NGRAM, "pair-copy:symbols=3", "ngram:order=2,vocab=6,seed=2"])
@pytest.mark.parametrize("policy", ["random", "left-to-right", "confidence"])
def test_path_is_the_samplers(spec, policy):
    lang = synth.from_spec(spec)
    for L, N in ((8, 2), (32, 32), (64, 8), (64, 64)):
        cell = Cell(spec, L, N, "linear", policy, 0)
        assert cost.path_of(cell, lang) == models.sample(lang, L, N, size=1, policy=policy, rng=0).method


def _same_path_pairs(spec, policy, vary):
    """Pairs of cells on the same path where ``vary`` (length, steps or samples) grows."""
    lang = synth.from_spec(spec)
    base = dict(length=128, steps=16, samples=32)
    for lo, hi in ((16, 32), (32, 64), (64, 128)):  # L >= 16: a Monte Carlo entropy throughout (V^L > 2^16)
        a, b = dict(base, **{vary: lo}), dict(base, **{vary: hi})
        cells = [Cell(spec, d["length"], min(d["steps"], d["length"]), "linear", policy, 0) for d in (a, b)]
        cfgs = [SweepConfig(languages=(spec,), lengths=(), samples=d["samples"]) for d in (a, b)]
        if cost.path_of(cells[0], lang) == cost.path_of(cells[1], lang):
            yield lang, cells, cfgs


@pytest.mark.parametrize("spec", [HMM, NGRAM])
@pytest.mark.parametrize("policy", ["random", "confidence"])
@pytest.mark.parametrize("vary", ["length", "steps", "samples"])
def test_prediction_grows_with_L_N_and_B_on_one_path(spec, policy, vary):
    pairs = list(_same_path_pairs(spec, policy, vary))
    assert pairs
    for lang, (a, b), (ca, cb) in pairs:
        ua, ub = cost.work(a, ca, lang), cost.work(b, cb, lang)
        assert all(ub[t] >= ua[t] for t in cost.TERMS), (vary, ua, ub)
        grows = POSITIVE.predict(b, cb, lang) > POSITIVE.predict(a, ca, lang)
        assert grows or (vary == "steps" and cost.path_of(a, lang) == "tree"), (vary, a, b)  # the tree: whatever N


def test_prediction_grows_with_the_states():
    small, big = (synth.from_spec(f"hmm:states={K},vocab=4,seed=1") for K in (4, 16))
    cell = Cell("x", 64, 8, "linear", "confidence", 0)
    assert POSITIVE.predict(cell, CFG, big) > POSITIVE.predict(cell, CFG, small)
    ratio = models.sampler.unit_times(big)[0] / models.sampler.unit_times(small)[0]  # the sampler's time model
    assert ratio > 1 and cost.work(cell, CFG, big)["sweep"] == pytest.approx(ratio * cost.work(cell, CFG, small)["sweep"])


def test_kl_adds_work_only_where_it_is_measured():
    lang = synth.from_spec(HMM)
    kl = SweepConfig(languages=(HMM,), lengths=(), samples=32, kl=True)
    assert cost.work(Cell(HMM, 32, 4, "linear", "random", 0), kl, lang)["kl"] > 0
    assert cost.work(Cell(HMM, 32, 4, "linear", "confidence", 0), kl, lang)["kl"] == 0
    assert cost.work(Cell(HMM, 32, 4, "linear", "random", 0), CFG, lang)["kl"] == 0


def test_fit_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    true = {t: float(c) for t, c in zip(cost.TERMS, rng.uniform(1e-10, 1e-8, len(cost.TERMS)))}
    true["overhead"] = 0.01
    units = [{t: (1.0 if t == "overhead" else float(rng.uniform(1e5, 1e8))) for t in cost.TERMS} for _ in range(40)]
    seconds = [sum(true[t] * u[t] for t in cost.TERMS) for u in units]
    got = cost.fit(units, seconds)
    np.testing.assert_allclose([got[t] for t in cost.TERMS], [true[t] for t in cost.TERMS], rtol=1e-6)
    assert min(cost.fit(units, [-s + 2 * max(seconds) for s in seconds]).values()) >= 0  # never negative


def test_load_falls_back_to_the_shipped_defaults(tmp_path):
    model = cost.load()
    assert model.coefficients == cost.DEFAULT_COEFFICIENTS and "shipped defaults" in model.source
    bad = tmp_path / "bad.json"
    bad.write_text('{"coefficients": {"overhead": 1}}')
    assert cost.load(str(bad)).source == cost.DEFAULT_SOURCE
    assert cost.cache_path() == str(tmp_path / "cache" / "mdmlab" / "cost.json")


def test_calibrate_writes_what_load_reads():
    pairs = [(Cell(HMM, L, N, "linear", "random", 0), SweepConfig(languages=(), lengths=(), samples=8))
             for L, N in ((8, 2), (16, 4), (16, 16))]
    model, ratios = cost.calibrate(pairs=pairs, progress=False)
    assert len(ratios) == 3 and all(r > 0 for r in ratios)
    again = cost.load()
    assert again.coefficients == pytest.approx(model.coefficients) and again.source.startswith("calibrated")
    with open(cost.cache_path()) as fh:
        assert json.load(fh)["cells"] == 3


def test_wall_time_on_workers():
    cfg = SweepConfig(languages=(HMM,), lengths=(16, 32, 64), steps=(2, 8))
    cells = cfg.cells()
    per, total, wall1 = cost.predict_sweep(POSITIVE, cells, cfg, 1)
    _, _, wall2 = cost.predict_sweep(POSITIVE, cells, cfg, 2)
    assert wall1 == pytest.approx(total) and total / 2 <= wall2 < total and wall2 >= max(per)
    assert cost.predict_sweep(POSITIVE, cells, cfg, None)[2] == pytest.approx(total)


def test_kl_replays_on_the_path_and_lengths_share_their_entropy():
    lang = synth.from_spec(HMM)
    kl = SweepConfig(languages=(HMM,), lengths=(), samples=32, kl=True)
    for L, N in ((64, 4), (64, 64)):  # the sweep path, then the tree
        cell = Cell(HMM, L, N, "linear", "random", 0)
        plain, with_kl = cost.work(cell, CFG, lang), cost.work(cell, kl, lang)
        for term in ("sweep", "tree", "nodes"):
            assert with_kl[term] == 2 * plain[term]
    cfg = SweepConfig(languages=(HMM,), lengths=(64,), steps=(2, 4, 8, 16))  # four cells of one length
    lone = cost.work(Cell(HMM, 64, 2, "linear", "random", 0), cfg, lang)
    per1, _, _ = cost.predict_sweep(POSITIVE, cfg.cells(), cfg, 1)
    shared = cost.work(Cell(HMM, 64, 2, "linear", "random", 0), cfg, lang, entropy_share=0.25)
    assert shared["eval"] < lone["eval"] and per1[0] == pytest.approx(POSITIVE.predict(cfg.cells()[0], cfg, lang, 0.25))
    per2, _, _ = cost.predict_sweep(POSITIVE, cfg.cells(), cfg, 2)
    assert per2[0] == pytest.approx(POSITIVE.predict(cfg.cells()[0], cfg, lang, 0.5))  # one estimate per worker


def _tree(path):
    return sorted((p, os.path.getmtime(p)) for p in map(str, path.rglob("*")))


def test_dry_run_prints_and_writes_nothing(tmp_path, capsys):
    argv = ["sweep", "--language", HMM, NGRAM, "--length", "6", "8", "--steps", "2", "4", "--samples", "8",
            "--out", str(tmp_path / "out")]
    assert cli.main(argv + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 8 cells" in out and "0 reused" in out and "8 to run" in out and "64 draws" in out
    assert "predicted time" in out and "shipped defaults" in out and "nothing was run or written" in out
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    assert cli.main(argv + ["--length", "6", "--workers", "1"]) == 0  # run half the grid
    capsys.readouterr()
    before = _tree(tmp_path)
    assert cli.main(argv + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 8 cells" in out and "4 reused" in out and "4 to run" in out and "32 draws" in out
    assert _tree(tmp_path) == before
    assert cli.main(argv + ["--dry-run", "--fresh"]) == 0 and "0 reused" in capsys.readouterr().out
