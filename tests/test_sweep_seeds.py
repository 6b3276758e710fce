"""analysis.sweep: the Monte Carlo entropy and mutual information of an HMM are one estimate per
(language, L), shared by every cell of that length and seeded by it (not by the worker or the cell)."""
from mdmlab.analysis import sweep

SPEC = "hmm:states=3,vocab=3,seed=1"  # 3^40 strings: Monte Carlo, not enumeration


def _row(N, L=40, base_seed=0):
    sweep.clear_caches()  # as a fresh worker: nothing cached
    config = sweep.SweepConfig(languages=(SPEC,), lengths=(L,), samples=8, kl=True, base_seed=base_seed)
    return sweep.run_cell(sweep.Cell(SPEC, L, N, "balanced", "random", 0), config)


def test_cells_of_one_length_share_the_estimates_and_other_lengths_or_seeds_do_not():
    a, b = _row(4), _row(10)
    assert a["entropy_per_token"] == b["entropy_per_token"] and a["mutual_information"] == b["mutual_information"]
    assert a["ser"] != b["ser"] or a["log_ter"] != b["log_ter"]  # the cells' own draws differ
    other = _row(4, base_seed=1)
    assert other["entropy_per_token"] != a["entropy_per_token"]
    assert _row(4, L=41)["mutual_information"] != a["mutual_information"]
