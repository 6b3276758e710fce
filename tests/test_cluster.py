r"""Sweeps on Dask: identical rows to the local pool, a killed worker loses only its cells in flight."""
import os
import signal

import pandas as pd
import pytest

from mdmlab.analysis import cluster
from mdmlab.analysis.sweep import SweepConfig, run_sweep

distributed = pytest.importorskip("distributed")

CONFIG = SweepConfig(languages=("pair-copy:symbols=2", "ngram:order=2,vocab=3,sparsity=0.3,seed=1"), lengths=(6, 8),
                     steps=(2, 3), samples=64, seeds=2)


def _rows(table):
    return table.drop(columns=["seconds"]).sort_values(["language", "length", "steps", "seed"]).reset_index(drop=True)


def test_dask_rows_equal_local_rows(tmp_path):
    local = run_sweep(CONFIG, tmp_path / "local", workers=1, progress=False)
    dask = run_sweep(CONFIG, tmp_path / "dask", scheduler="local:2", progress=False)
    assert len(dask) == len(CONFIG.cells()) == 16
    pd.testing.assert_frame_equal(_rows(local), _rows(dask))
    again = run_sweep(CONFIG, tmp_path / "dask", scheduler="local:2", progress=False)  # all reused
    pd.testing.assert_frame_equal(_rows(again), _rows(dask))


def _slow_square(i):
    import time

    time.sleep(0.2)
    return i * i


def test_a_killed_worker_loses_only_its_cells_in_flight():
    out, killed = {}, []
    with cluster.client_for("local:2") as client:
        pids = client.run(os.getpid)  # {worker address: pid}

        def on_result(i, r):
            out[i] = r
            if not killed:  # after the first result, kill a worker while it holds cells in flight
                killed.append(sorted(pids.values())[0])
                os.kill(killed[0], signal.SIGKILL)

        cluster.run_on_client(client, _slow_square, range(16), (), on_result)
    assert killed and out == {i: i * i for i in range(16)}


@pytest.mark.parametrize("text,match", [("local:0", "N >= 1"), ("local:x", "whole number"), ("nowhere", "scheduler")])
def test_bad_scheduler_refused_before_work(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(CONFIG, tmp_path / "x", scheduler=text, progress=False)
    assert not list((tmp_path / "x" / "cells").glob("*.json"))
