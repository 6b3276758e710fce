r"""``mdmlab sweep --config`` / ``--from``, the deprecated option names, and ``results.parquet``."""
import dataclasses
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from mdmlab import synth
from mdmlab.analysis import cli
from mdmlab.analysis.sweep import SweepConfig, run_sweep
from mdmlab.analysis.sweep_config import DEFAULTS, FIELDS

LANG = "pair-copy:symbols=2"


def _sweep(capsys, *argv):
    code = cli.main(["sweep", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _error(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(["sweep", *map(str, argv)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exc.value.code == 2 and err.startswith("mdmlab sweep: error: "), err
    return err


def _config(path):
    with open(os.path.join(path, "manifest.json")) as fh:
        return json.load(fh)["config"]


def _write(path, text):
    path.write_text(text)
    return path


def test_defaults_are_sweepconfigs():
    cfg = SweepConfig(languages=(), lengths=())
    for opt, field in FIELDS.items():
        if opt in DEFAULTS:
            assert DEFAULTS[opt] == getattr(cfg, field), opt


def test_config_file_runs_and_the_command_line_overrides_it(tmp_path, capsys):
    toml = _write(tmp_path / "sweep.toml", f'language = "{LANG}"\nlength = [4, 6]\nsteps = [2]\n'
                                           f'replicates = 2\nsamples = 8\nbase-seed = 3\nout = "{tmp_path / "a"}"\n')
    code, out, _ = _sweep(capsys, "--config", toml, "--workers", 1)
    assert code == 0 and "4 cells" in out
    cfg = _config(tmp_path / "a")
    assert cfg["languages"] == [LANG] and cfg["lengths"] == [4, 6] and cfg["seeds"] == 2
    assert cfg["samples"] == 8 and cfg["base_seed"] == 3 and cfg["schedules"] == ["linear"]
    code, out, _ = _sweep(capsys, "--config", toml, "--samples", 16, "--length", 5, "--out", tmp_path / "b",
                          "--workers", 1)
    cfg = _config(tmp_path / "b")
    assert code == 0 and cfg["samples"] == 16 and cfg["lengths"] == [5] and cfg["base_seed"] == 3


@pytest.mark.parametrize("text, pattern", [
    ("colour = 1", r"unknown key 'colour'; valid keys: language, length, steps, .*replicates"),
    ("seeds = 2", r"unknown key 'seeds'"),
    ("length = [0]", r"length: must be an integer >= 1, got '0'"),
    ("length = [4.5]", r"length: must be an integer, got '4.5'"),
    ("length = [true]", r"length must hold numbers, got True"),
    ("replicates = [1, 2]", r"replicates must be one value, got \[1, 2\]"),
    ("schedule = 'bogus'", r"schedule: 'bogus' is not one of linear"),
    ("kl = 'yes'", r"kl must be true or false, got 'yes'"),
    ("language = 3", r"language must hold text, got 3"),
    ("length = [", r"is not valid TOML"),
])
def test_bad_config_files_name_the_key(tmp_path, capsys, text, pattern):
    toml = _write(tmp_path / "bad.toml", text + "\n")
    err = _error(capsys, "--config", toml, "--language", LANG, "--length", 4, "--steps", 1, "--out", tmp_path / "o")
    assert re.search(pattern, err), err
    assert not (tmp_path / "o").exists()


def test_required_after_merging(tmp_path, capsys):
    assert "give --language" in _error(capsys, "--length", 4, "--steps", 1, "--out", tmp_path / "o")
    assert "give --length" in _error(capsys, "--language", LANG, "--steps", 1, "--out", tmp_path / "o")
    assert "give --out" in _error(capsys, "--language", LANG, "--length", 4, "--steps", 1)
    toml = _write(tmp_path / "s.toml", "length = [4]\n")
    assert "give --language" in _error(capsys, "--config", toml, "--steps", 1, "--out", tmp_path / "o")
    assert "not both" in _error(capsys, "--config", toml, "--from", tmp_path / "m.json")
    assert "missing" in _error(capsys, "--config", tmp_path / "none.toml")
    assert not (tmp_path / "o").exists()


def test_kl_from_a_file_and_no_kl_on_the_command_line(tmp_path, capsys):
    toml = _write(tmp_path / "s.toml", f'language = ["{LANG}"]\nlength = 4\nsteps = [2]\nsamples = 4\nkl = true\n')
    _sweep(capsys, "--config", toml, "--out", tmp_path / "kl", "--workers", 1)
    _sweep(capsys, "--config", toml, "--no-kl", "--out", tmp_path / "nokl", "--workers", 1)
    assert _config(tmp_path / "kl")["kl"] is True and _config(tmp_path / "nokl")["kl"] is False


def test_language_file_beside_the_config(tmp_path, capsys, monkeypatch):
    (tmp_path / "cfg").mkdir()
    synth.from_spec("ngram:order=2,vocab=3,seed=1").save(tmp_path / "cfg" / "bigram.json")
    toml = _write(tmp_path / "cfg" / "s.toml", 'language = "bigram.json"\nlength = [4]\nsteps = [2]\n')
    monkeypatch.chdir(tmp_path)  # bigram.json is not here: it is read beside the config
    code, out, _ = _sweep(capsys, "--config", toml, "--dry-run")
    assert code == 0 and "bigram.json" in out


def test_replay_from_a_manifest(tmp_path, capsys):
    code, _, _ = _sweep(capsys, "--language", LANG, "ngram:order=2,vocab=3,seed=1", "--length", 4, 6, "--steps", 2,
                        "--steps-per-length", 0.5, "--schedule", "linear", "balanced", "--samples", 8, "--kl",
                        "--base-seed", 7, "--out", tmp_path / "a", "--workers", 1)
    assert code == 0
    man = tmp_path / "a" / "manifest.json"
    assert set(_config(tmp_path / "a")) == {f.name for f in dataclasses.fields(SweepConfig)}
    code, _, err = _sweep(capsys, "--from", man, "--out", tmp_path / "b", "--workers", 1)
    assert code == 0 and _config(tmp_path / "b") == _config(tmp_path / "a")
    a, b = (pd.read_csv(tmp_path / d / "results.csv").drop(columns="seconds") for d in "ab")
    pd.testing.assert_frame_equal(a, b)
    code, _, err = _sweep(capsys, "--from", man, "--workers", 1)  # into its own folder: every cell reused
    assert code == 0 and f"{len(a)} reused" in err


def test_replay_refuses_an_incomplete_manifest(tmp_path, capsys):
    man = _write(tmp_path / "manifest.json", json.dumps({"config": {"languages": [LANG], "lengths": [4]}}))
    assert "does not record a whole sweep config" in _error(capsys, "--from", man)
    assert "not readable JSON" in _error(capsys, "--from", _write(tmp_path / "x.json", "{"))


def test_deprecated_names_still_work_and_warn(tmp_path, capsys):
    code, new, _ = _sweep(capsys, "--language", LANG, "--length", 4, "--steps", 2, "--replicates", 3, "--dry-run")
    code_old, old, err = _sweep(capsys, "--language", LANG, "--length", 4, "--steps", 2, "--seeds", 3, "--dry-run")
    assert code == code_old == 0 and "x 3 replicates" in new
    assert new.splitlines()[0] == old.splitlines()[0]
    assert "--seeds is deprecated" in err and "--replicates" in err
    assert cli.main(["sample", LANG, "--length", "4", "--steps", "2", "--size", "3", "--no-colour"]) == 0
    out = capsys.readouterr()
    assert "--size is deprecated" in out.err and "of 3 outside the support" in out.out
    args = cli.build_parser("train").parse_args(["train", "--language", LANG, "--steps", "3", "--out", "x"])
    assert args.steps == 3 and "--steps is deprecated" in capsys.readouterr().err
    args = cli.build_parser("train").parse_args(["train", "--language", LANG, "--train-steps", "5", "--out", "x"])
    assert args.steps == 5 and capsys.readouterr().err == ""


def test_parquet_round_trips_equal_to_the_csv(tmp_path):
    pytest.importorskip("pyarrow")
    # pair-copy at N < L leaves the support (log_ter = inf); balanced has no closed-form SER here (NaN)
    cfg = SweepConfig(languages=(LANG, "ngram:order=2,vocab=3,sparsity=0.3,seed=1"), lengths=(4, 6), steps=(1, 2),
                      schedules=("linear", "cosine"), samples=16, kl=True)
    run_sweep(cfg, tmp_path, workers=1, progress=False)
    csv = pd.read_csv(tmp_path / "results.csv")
    pq = pd.read_parquet(tmp_path / "results.parquet")
    assert np.isinf(csv["log_ter"]).any() and csv.isna().any().any()  # the case is not vacuous
    pd.testing.assert_frame_equal(pq, csv, check_exact=True)


def test_a_stale_parquet_is_removed_without_pyarrow(tmp_path, monkeypatch, capsys):
    import sys

    cfg = SweepConfig(languages=(LANG,), lengths=(4,), steps=(2,), samples=4)
    (tmp_path / "results.parquet").write_text("stale")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    run_sweep(cfg, tmp_path, workers=1, progress=False)
    assert not (tmp_path / "results.parquet").exists() and "removed" in capsys.readouterr().err
