r"""The mdmlab command line: help, version, and ``bounds`` end to end."""
import pytest

from mdmlab import synth
from mdmlab.analysis import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_help_and_version(capsys):
    code, out = run(capsys)
    assert code == 0 and "bounds" in out
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and "mdmlab" in capsys.readouterr().out


def test_bounds_ser_issue_example(capsys, tmp_path):
    tex = tmp_path / "ser.tex"
    code, out = run(capsys, "bounds", "ser", "--language", "pair-copy:symbols=4", "--length", "64",
                    "--steps", "8", "--latex", str(tex))
    assert code == 0
    assert "SER(N=8, L=64, k=4, linear) = 0.9572" in out
    assert "N*(L, delta=0.5) = 36" in out and "slope" in out
    assert r"\begin{equation}" in tex.read_text() and r"\mathrm{SER}" in tex.read_text()


def test_bounds_ser_balanced_and_other_languages(capsys):
    code, out = run(capsys, "bounds", "ser", "--language", "all-equal:symbols=2", "--length", "64",
                    "--steps", "8", "--schedule", "balanced")
    assert code == 0 and "SER(N=8, L=64, k=2, balanced) = 0.9922" in out  # 1 - 2^-7
    code, out = run(capsys, "bounds", "ser", "--language", "block-copy:symbols=2,block=3", "--length", "12",
                    "--steps", "4")
    assert code == 0 and "SER(N=4, L=12" in out


def test_bounds_ser_reads_a_saved_hard_language(capsys, tmp_path):
    path = tmp_path / "pair:4.npz"  # a file name holding ':' is still read as a file
    synth.pair_copy(4).save(path)
    code, out = run(capsys, "bounds", "ser", "--language", str(path), "--length", "64", "--steps", "8")
    assert code == 0 and "SER(N=8, L=64, k=4, linear) = 0.9572" in out and "N*(L, delta=0.5) = 36" in out


def test_bounds_ter_and_kl(capsys):
    code, out = run(capsys, "bounds", "ter", "--order", "3", "--vocab", "8", "--steps", "64")
    assert code == 0 and "2.6199 nats/token" in out and "c_steps=1" in out
    code, out = run(capsys, "bounds", "kl", "--s-max", "3", "--length", "64", "--mutual-information", "6.4")
    assert code == 0 and "<= 0.300000 nats" in out
    code, out = run(capsys, "bounds", "kl", "--s-max", "2", "--length", "5", "--language", "pair-copy:symbols=2")
    assert code == 0 and "(exact)" in out


def test_bad_values_name_the_argument(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bounds", "kl", "--s-max", "2", "--length", "5", "--language", "zipf:order=2"])
    assert exc.value.code == 2 and "unknown kind 'zipf'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["bounds", "ser", "--language", "nope", "--length", "4", "--steps", "2"])
    assert exc.value.code == 2 and "unknown kind 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a language without a closed form
        cli.main(["bounds", "ser", "--language", "ngram:order=2,vocab=3", "--length", "4", "--steps", "2"])
    assert exc.value.code == 2 and "must name a hard language" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a hard language without a fixed-count form
        cli.main(["bounds", "ser", "--language", "block-copy:symbols=2,block=3", "--length", "12", "--steps", "4",
                  "--schedule", "balanced"])
    assert exc.value.code == 2 and "no closed-form SER" in capsys.readouterr().err


def test_language_specs(tmp_path):
    lang = synth.from_spec("ngram:order=3,vocab=4,sparsity=0.5,seed=2")
    assert (lang.order, lang.vocab_size) == (3, 4)
    assert synth.from_spec("hmm:states=5,vocab=3,concentration=0.5").num_states == 5
    path = tmp_path / "lang.npz"
    lang.save(path)
    assert synth.from_spec(str(path)).order == 3
    with pytest.raises(ValueError, match=r"missing required key 'vocab'"):
        synth.from_spec("ngram:order=3")
    with pytest.raises(ValueError, match=r"sparsity must be a number, got 'x'"):
        synth.from_spec("ngram:order=3,vocab=4,sparsity=x")
