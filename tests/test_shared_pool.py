"""analysis.sweep.shared_pool: the report's sweeps and N* searches on one pool give the rows they give
on their own pools; a rerun that reuses every cell starts no worker."""
import pandas as pd

from mdmlab.analysis import nstar, sweep

CFG = sweep.SweepConfig(languages=("pair-copy:symbols=2",), lengths=(8, 16), steps=(2, 4), samples=32)
NS = nstar.NStarConfig(languages=("pair-copy:symbols=2",), lengths=(8, 16), samples=64, rel_width=0.5,
                       max_samples=64)


def test_one_pool_gives_the_rows_of_separate_pools_and_starts_lazily(tmp_path):
    alone = sweep.run_sweep(CFG, tmp_path / "alone", workers=2, progress=False)
    alone_ns = nstar.run_n_star(NS, tmp_path / "alone_ns", workers=2, progress=False)
    with sweep.shared_pool(2) as lent:
        got = sweep.run_sweep(CFG, tmp_path / "shared", workers=2, progress=False)
        got_ns = nstar.run_n_stars([NS], [tmp_path / "shared_ns"], workers=2, progress=False)[0]
        assert lent.pool is not None and sweep._SHARED is lent
    assert sweep._SHARED is None
    pd.testing.assert_frame_equal(got.drop(columns="seconds"), alone.drop(columns="seconds"))
    pd.testing.assert_frame_equal(got_ns.drop(columns="seconds"), alone_ns.drop(columns="seconds"))
    with sweep.shared_pool(2) as lent:  # every cell on disk: nothing to run, no worker started
        sweep.run_sweep(CFG, tmp_path / "shared", workers=2, progress=False)
        nstar.run_n_stars([NS], [tmp_path / "shared_ns"], workers=2, progress=False)
        assert lent.pool is None
