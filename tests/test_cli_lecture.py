r"""The CLI for lectures (issue 12): ``sample --frames`` / ``--gif``, help texts with defaults, kinds,
keys and a metric glossary, the first-compile announcement, and the sweep's warnings."""
import argparse

import pytest
from PIL import Image

from mdmlab import synth
from mdmlab.analysis import _numba_cache, cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# pair-copy with two symbols, two steps of four tokens: seed 3 leaves the support on step 0
BROKEN = ("sample", "pair-copy:symbols=2", "--length", "8", "--steps", "2", "--schedule", "balanced", "--seed", "3")


def test_frames_print_the_reveal_with_legend_and_marker(capsys):
    code, out, _ = run(capsys, *BROKEN, "--size", "2", "--frames", "--no-colour")
    assert code == 0
    assert out.count("step  sequence (_ masked, [x] = revealed this step)") == 2  # the legend, per sample
    assert "<- left the support here (position 1)" in out and "outside the support" in out
    assert "\033[" not in out


def test_gif_has_one_frame_per_step(capsys, tmp_path):
    gif = tmp_path / "reveal.gif"
    code, out, _ = run(capsys, *BROKEN, "--size", "1", "--gif", str(gif))
    assert code == 0 and "wrote" in out and "step  sequence" not in out  # --gif alone prints no frames
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 2


def test_gif_refuses_long_samples(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(["sample", "pair-copy:symbols=2", "--length", "80", "--gif", str(tmp_path / "x.gif")])
    assert exc.value.code == 2 and "--length must be <= 64" in capsys.readouterr().err


def _parsers(parser, name="mdmlab"):
    r"""(name, parser) for ``parser`` and every sub-command below it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _parsers(child, f"{name} {sub}")


def test_every_option_has_help_showing_its_default():
    missing, no_default = [], []
    for name, parser in _parsers(cli.build_parser("all")):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, (argparse._SubParsersAction, argparse._HelpAction, argparse._VersionAction)):
                continue
            if not action.help:
                missing.append(f"{name} {action.dest}")
            elif (action.option_strings and not action.required and action.nargs != 0
                  and "default" not in formatter._get_help_string(action)):
                no_default.append(f"{name} {action.dest}")
    assert not missing and not no_default, (missing, no_default)


@pytest.mark.parametrize("command", ["languages", "sample", "sweep"])
def test_help_lists_kinds_keys_and_glossary(capsys, command):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for kind in synth.LANGUAGE_KINDS:
        assert f"  {kind}: " in out
    assert "order (int)" in out and "sparsity (float, default 0.0)" in out and "symbols (int)" in out
    for term in ("TER", "ter_gap", "SER", "N*", "NFE", "s_max", "kl_q_pm", "kl_pm_q"):
        assert f"\n  {term} " in out, term
    assert "nats per token" in out and "nats per sequence" in out
    if command != "languages":
        flat = " ".join(out.split())  # help lines wrap
        assert "(default: linear)" in flat and "(default: random)" in flat


def test_top_level_help_still_lists_commands(capsys):
    assert cli.main([]) == 0 and "n-star" in capsys.readouterr().out


def test_compile_announcement_follows_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _numba_cache.cache_is_empty()
    for package, stem in _numba_cache.KERNEL_MODULES:  # numba's layout: a mirror of the source path
        folder = tmp_path / package.replace(".", "_")
        folder.mkdir(exist_ok=True)
        (folder / f"{stem}.kernel-12.py311.nbi").write_bytes(b"")
    assert not _numba_cache.cache_is_empty()
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty"))
    assert not _numba_cache.cache_is_empty()  # nothing compiles without the JIT


@pytest.mark.parametrize("empty", [True, False])
def test_compile_announced_once_and_only_when_cache_empty(capsys, monkeypatch, empty):
    monkeypatch.setattr(_numba_cache, "cache_is_empty", lambda: empty)
    monkeypatch.setattr(_numba_cache, "_announced", False)
    argv = ["languages", "pair-copy:symbols=2", "--length", "4"]
    assert cli.main(argv) == 0 and cli.main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("compiling mdmlab's numba kernels once") == (1 if empty else 0)
    cli.main(["bounds", "ter", "--order", "2", "--vocab", "2", "--steps", "4"])  # compiles nothing: says nothing
    assert "compiling" not in capsys.readouterr().err


SWEEP = ["sweep", "--language", "pair-copy:symbols=2", "--length", "4", "--samples", "4", "--workers", "1"]


def test_sweep_kl_warns_once_where_it_measures_nothing(capsys, tmp_path):
    code, _, err = run(capsys, *SWEEP, "--steps", "2", "--kl", "--policy", "random", "left-to-right",
                       "--schedule", "linear", "balanced", "--out", str(tmp_path / "a"))
    assert code == 0
    assert err.count("--kl measures E_M KL(q || p_M) for the random policy only") == 1 and "left-to-right" in err
    assert err.count("no Li & Cai bound under schedule linear") == 1 and "balanced," not in err
    code, _, err = run(capsys, *SWEEP, "--steps", "2", "--kl", "--schedule", "balanced", "--out", str(tmp_path / "b"))
    assert code == 0 and "warning" not in err  # random policy, fixed counts: both defined


def test_sweep_warns_when_results_hold_fewer_cells_than_cells_dir(capsys, tmp_path):
    out = str(tmp_path / "s")
    code, _, err = run(capsys, *SWEEP, "--steps", "1", "2", "--out", out)
    assert code == 0 and "warning" not in err
    code, _, err = run(capsys, *SWEEP, "--steps", "2", "--out", out)  # a smaller grid into the same --out
    assert code == 0 and "results.csv now holds 1 cells, but" in err and "holds 2" in err
