"""The CLI takes structured orders (models.orders) wherever it takes a position policy."""
import pytest

from mdmlab.analysis.cli import main


def test_sample_runs_a_structured_order_at_its_natural_steps(capsys):
    assert main(["sample", "ngram:order=2,vocab=3,sparsity=0.3,seed=2", "--length", "7", "--steps", "3",
                 "--policy", "binary-search", "--schedule", "natural", "--samples", "3", "--no-colour"]) == 0
    out = capsys.readouterr().out
    assert "0 of 3 outside the support" in out and "policy binary-search" in out


@pytest.mark.parametrize("argv, message", [
    (["--policy", "runs:x"], "argument --policy: must be one of random"),
    (["--policy", "binary-search", "--schedule", "natural"], "takes steps = 4 (its natural steps), got 3"),
])
def test_bad_structured_orders_exit_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sample", "pair-copy:symbols=2", "--length", "8", "--steps", "3", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sweep_accepts_a_structured_order(tmp_path):
    assert main(["sweep", "--language", "pair-copy:symbols=2", "--length", "8", "--steps", "2", "4",
                 "--policy", "random", "dilated", "--samples", "64", "--out", str(tmp_path / "s"),
                 "--workers", "1"]) == 0
    text = (tmp_path / "s" / "results.csv").read_text()
    assert "dilated" in text
