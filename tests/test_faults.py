r"""Faults and stale state (issue 14): the sweep cache key, torn cell files, concurrent sweeps into one
folder, orphaned workers after the parent is killed, Ctrl-C, and training that diverges or resumes
on something else."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from mdmlab import synth
from mdmlab.analysis import sweep as sw
from mdmlab.analysis.sweep import SweepConfig, cache_key, run_sweep

CFG = SweepConfig(languages=("pair-copy:symbols=2",), lengths=(4, 8), steps=(2,), samples=16)


def _cells(out):
    return sorted(os.listdir(os.path.join(out, "cells")))


def _mtimes(out):
    return {n: os.stat(os.path.join(out, "cells", n)).st_mtime_ns for n in _cells(out)}


def test_cache_key_changes_with_every_setting_that_changes_a_row(tmp_path):
    cell = CFG.cells()[0]
    base = cache_key(cell, CFG)
    for change in (dict(samples=17), dict(kl=True), dict(target_ci=0.1), dict(base_seed=1), dict(max_samples=99)):
        assert cache_key(cell, SweepConfig(**{**CFG.__dict__, **change})) != base, change
    assert cache_key(cell, SweepConfig(**CFG.__dict__)) == base
    path = tmp_path / "lang.npz"
    synth.NGramLanguage.random(2, 3, rng=1).save(path)
    file_cell = sw.Cell(str(path), 4, 2, "linear", "random", 0)
    before = cache_key(file_cell, CFG)
    synth.NGramLanguage.random(2, 3, rng=2).save(path)  # the file edited in place: same name, other bytes
    assert cache_key(file_cell, CFG) != before


def test_rerun_with_other_settings_recomputes_and_reuse_is_said(tmp_path, capsys):
    out = str(tmp_path / "s")
    first = run_sweep(CFG, out, workers=1)
    assert "0 reused" in capsys.readouterr().err
    other = run_sweep(SweepConfig(**{**CFG.__dict__, "samples": 32}), out, workers=1)
    assert "0 reused" in capsys.readouterr().err
    assert (first["samples"] == 16).all() and (other["samples"] == 32).all()  # never the stale rows
    stamps = _mtimes(out)
    again = run_sweep(CFG, out, workers=1)
    assert f"{len(CFG.cells())} reused" in capsys.readouterr().err and _mtimes(out) == stamps
    pd.testing.assert_frame_equal(first, again)
    manifest = json.loads(open(os.path.join(out, "manifest.json")).read())
    assert manifest["config"]["samples"] == 16 and len(manifest["cells"]) == len(again)  # the cells in the table
    assert sorted(k + ".json" for k in manifest["cells"]) == sorted(
        cache_key(c, CFG) + ".json" for c in CFG.cells())
    run_sweep(CFG, out, workers=1, fresh=True)
    assert all(_mtimes(out)[n] != t for n, t in stamps.items() if n in
               {cache_key(c, CFG) + ".json" for c in CFG.cells()})


def test_edited_language_file_is_not_served_stale(tmp_path):
    path = str(tmp_path / "lang.npz")
    synth.NGramLanguage.random(2, 3, rng=1).save(path)
    cfg = SweepConfig(languages=(path,), lengths=(6,), steps=(3,), samples=64)
    one = run_sweep(cfg, tmp_path / "s", workers=1, progress=False)
    synth.NGramLanguage.random(2, 3, rng=7).save(path)
    two = run_sweep(cfg, tmp_path / "s", workers=1, progress=False)
    assert one["entropy_per_token"].iloc[0] != two["entropy_per_token"].iloc[0]


def test_zero_length_and_torn_cell_files_are_recomputed(tmp_path, capsys):
    out = str(tmp_path / "s")
    full = run_sweep(CFG, out, workers=1, progress=False)
    names = _cells(out)
    open(os.path.join(out, "cells", names[0]), "w").close()  # power loss: a zero-length file
    with open(os.path.join(out, "cells", names[1]), "w") as fh:
        fh.write('{"language": "pair')  # torn
    again = run_sweep(CFG, out, workers=1)
    err = capsys.readouterr().err
    assert err.count("unreadable") == 2 and "recomputing" in err and "2 to run" in err
    pd.testing.assert_frame_equal(full.drop(columns="seconds"), again.drop(columns="seconds"))


def test_workers_are_capped_at_cells_and_cores(capsys):
    assert sw._cap_workers(1000, 12, True) == min(12, os.cpu_count())
    assert "not 1000" in capsys.readouterr().err
    assert sw._cap_workers(None, 0, True) == 1 and sw._cap_workers(1, 5, True) == 1
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        sw._cap_workers(0, 5, True)


def _mdmlab(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "mdmlab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_two_concurrent_sweeps_with_different_settings_share_one_folder(tmp_path):
    out = str(tmp_path / "s")
    common = ["sweep", "--language", "pair-copy:symbols=2", "ngram:order=2,vocab=3,seed=1", "--length", "4", "8",
              "--steps", "2", "4", "--workers", "1", "--out", out]
    procs = [_mdmlab(*common, "--samples", str(n)) for n in (16, 24)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    for n in (16, 24):
        cfg = SweepConfig(languages=("pair-copy:symbols=2", "ngram:order=2,vocab=3,seed=1"), lengths=(4, 8),
                          steps=(2, 4), samples=n)
        table = sw.load_table(cfg, out)
        assert len(table) == len(cfg.cells()) == 8 and (table["samples"] == n).all()
    assert len(_cells(out)) == 16 and not [n for n in _cells(out) if n.endswith(".tmp")]
    manifest = json.loads(open(os.path.join(out, "manifest.json")).read())
    results = pd.read_csv(os.path.join(out, "results.csv"))
    assert (results["samples"] == manifest["config"]["samples"]).all()  # results and manifest from one run


def _children(pid):
    """Pids whose parent is ``pid``, from /proc (psutil is not a dependency)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(name))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


ENDLESS = textwrap.dedent("""
    from mdmlab.analysis.sweep import SweepConfig, run_sweep
    # cells that never finish: a target interval no sample size reaches
    cfg = SweepConfig(languages=("pair-copy:symbols=2",), lengths=(16, 32), steps=(4,), samples=64,
                      target_ci=1e-9, max_samples=10 ** 9)
    run_sweep(cfg, {out!r}, workers=2, progress=False)
""")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", ENDLESS.format(out=str(tmp_path / "s"))])
    try:
        deadline = time.monotonic() + 120
        while len(_children(parent.pid)) < 2 and time.monotonic() < deadline:  # two workers (+ resource tracker)
            time.sleep(0.2)
        time.sleep(1.0)
        workers = _children(parent.pid)
        assert len(workers) >= 2
    finally:
        parent.kill()  # kill -9: no cleanup code of the parent runs
        parent.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)  # do not leak them into the rest of the suite
    assert not survivors, f"workers {survivors} outlived their parent"


def test_ctrl_c_in_a_sweep_keeps_finished_cells_and_says_how_to_resume(tmp_path):
    out = str(tmp_path / "s")
    p = _mdmlab("sweep", "--language", "pair-copy:symbols=2", "--length", "4", "8", "16", "32", "64", "--steps", "2",
                "3", "4", "--samples", "4000", "--workers", "2", "--out", out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (os.path.isdir(os.path.join(out, "cells")) and _cells(out)):
        time.sleep(0.1)
    kids = _children(p.pid)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted:" in err and "rerun the same command to resume" in err and "Traceback" not in err
    assert _cells(out) and not [n for n in _cells(out) if n.endswith(".tmp")]
    time.sleep(0.5)
    assert not [k for k in kids if _alive(k)]


def test_non_finite_training_loss_stops_with_the_step(monkeypatch, tmp_path):
    from mdmlab.models import training
    from mdmlab.models.denoiser import DenoiserConfig

    real = training.Denoiser.forward
    calls = {"n": 0}

    def forward(self, x, targets=None, weights=None):
        logits, loss = real(self, x, targets, weights)
        if targets is not None:
            calls["n"] += 1
            if calls["n"] == 3:
                loss = loss * float("nan")
        return logits, loss

    monkeypatch.setattr(training.Denoiser, "forward", forward)
    cfg = training.TrainConfig(language="ngram:order=2,vocab=3,seed=1", length=8, max_steps=5, eval_every=1,
                               model=DenoiserConfig(vocab_size=3, length=8, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(FloatingPointError, match=r"training loss is nan at step 2 .*lower the learning rate"):
        training.train(cfg, out_dir=str(tmp_path), progress=False)


def test_resume_refuses_an_edited_language_file(tmp_path):
    from mdmlab.models import training
    from mdmlab.models.denoiser import DenoiserConfig

    path = str(tmp_path / "lang.npz")
    synth.NGramLanguage.random(2, 3, rng=1).save(path)
    cfg = training.TrainConfig(language=path, length=8, max_steps=2, eval_every=1,
                               model=DenoiserConfig(vocab_size=3, length=8, n_layer=1, n_head=2, n_embd=8))
    training.train(cfg, out_dir=str(tmp_path / "run"), progress=False, stop_at=1)
    synth.NGramLanguage.random(2, 3, rng=2).save(path)
    with pytest.raises(ValueError, match=r"the bytes of language file .*: checkpoint sha256:"):
        training.train(cfg, out_dir=str(tmp_path / "run"), resume=True, progress=False)
    synth.NGramLanguage.random(2, 3, rng=1).save(path)  # the same bytes again: resumes
    res = training.train(cfg, out_dir=str(tmp_path / "run"), resume=True, progress=False)
    assert int(res.history["step"].iloc[-1]) == 2 and np.isfinite(res.eps_learning)


def test_ctrl_c_in_training_checkpoints_and_resumes_exactly(monkeypatch, tmp_path):
    import torch

    from mdmlab.models import training
    from mdmlab.models.denoiser import DenoiserConfig

    cfg = training.TrainConfig(language="ngram:order=2,vocab=3,seed=1", length=8, max_steps=6, eval_every=2,
                               model=DenoiserConfig(vocab_size=3, length=8, n_layer=1, n_head=2, n_embd=8))
    whole = training.train(cfg, progress=False)
    real, calls = training._batch, {"n": 0}

    def batch(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of step 2
        return real(*args)

    monkeypatch.setattr(training, "_batch", batch)
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 3"):
        training.train(cfg, out_dir=str(tmp_path), progress=False)
    monkeypatch.setattr(training, "_batch", real)
    assert training.read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3  # the step in progress finished
    resumed = training.train(cfg, out_dir=str(tmp_path), resume=True, progress=False)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
