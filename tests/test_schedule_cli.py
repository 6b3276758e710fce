r"""``mdmlab schedule``: optimal counts and the exact KL of the named schedules."""
import pytest

from mdmlab.analysis import cli


def test_schedule_prints_the_optimum_and_the_named_schedules(capsys):
    assert cli.main(["schedule", "all-equal:symbols=3", "--length", "16", "--steps", "2", "4"]) == 0
    out = capsys.readouterr().out
    assert "h_k by chain (exact)" in out
    assert "N = 2: optimal counts [1, 15]" in out  # all-equal is exact once one token is known
    assert out.count("optimal            0.0000") == 2 and "balanced" in out and "cosine" in out


def test_schedule_monte_carlo_reports_intervals(capsys):
    assert cli.main(["schedule", "hmm:states=3,vocab=2,seed=1", "--length", "12", "--steps", "3",
                     "--samples", "64"]) == 0
    out = capsys.readouterr().out
    assert "monte-carlo" in out and "(95%)" in out


def test_schedule_refuses_steps_beyond_length(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["schedule", "all-equal:symbols=3", "--length", "4", "--steps", "5"])
    assert exc.value.code == 2 and "--steps in [1, length = 4]" in capsys.readouterr().err
