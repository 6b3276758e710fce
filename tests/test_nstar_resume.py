"""analysis.nstar: finished tasks are reused only when everything that determines their row is the same."""
import os

import pandas as pd

from mdmlab.analysis import nstar

CONFIG = nstar.NStarConfig(languages=("pair-copy:symbols=2",), lengths=(8,), samples=64, rel_width=0.5,
                           max_samples=64)


def _mtimes(out):
    cells = os.path.join(out, "cells")
    return {f: os.stat(os.path.join(cells, f)).st_mtime_ns for f in os.listdir(cells)}


def test_rerun_reuses_and_other_settings_recompute(tmp_path):
    out = str(tmp_path / "n")
    first = nstar.run_n_star(CONFIG, out, workers=1, progress=False)
    before = _mtimes(out)
    again = nstar.run_n_star(CONFIG, out, workers=1, progress=False)
    assert _mtimes(out) == before and again.equals(first)  # same settings: nothing recomputed
    other = nstar.NStarConfig(**{**CONFIG.__dict__, "samples": 32, "max_samples": 32})
    nstar.run_n_star(other, out, workers=1, progress=False)
    assert len(_mtimes(out)) == 2 * len(before)  # other --samples: its own cells, the old rows not reused
    assert nstar.file_key(CONFIG.tasks()[0], CONFIG) != nstar.file_key(other.tasks()[0], other)


def test_an_unreadable_cell_is_recomputed(tmp_path, capsys):
    out = str(tmp_path / "n")
    nstar.run_n_star(CONFIG, out, workers=1, progress=False)
    (name,) = _mtimes(out)
    open(os.path.join(out, "cells", name), "w").close()  # a zero-length file (a crash mid-write)
    table = nstar.run_n_star(CONFIG, out, workers=1, progress=True)
    assert len(table) == 1 and "recomputing" in capsys.readouterr().err


def test_several_configs_on_one_pool_give_the_rows_of_each_alone(tmp_path):
    other = nstar.NStarConfig(languages=("all-equal:symbols=2",), lengths=(8, 4), samples=64, rel_width=0.5,
                              max_samples=64)
    alone = [nstar.run_n_star(c, tmp_path / f"alone{i}", workers=1, progress=False)
             for i, c in enumerate((CONFIG, other))]
    both = nstar.run_n_stars([CONFIG, other], [tmp_path / "a", tmp_path / "b"], workers=2, progress=False)
    for got, want in zip(both, alone):
        assert list(got["length"]) == list(want["length"])  # each table in its config's task order
        pd.testing.assert_frame_equal(got.drop(columns="seconds"), want.drop(columns="seconds"))
    assert (tmp_path / "b" / "nstar.csv").exists() and (tmp_path / "a" / "nstar_config.json").exists()
