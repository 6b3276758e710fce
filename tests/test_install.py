r"""The package as a user gets it: a wheel installed into a fresh virtual environment outside the
repository, used from a folder whose own ``models.py`` (and friends) would once have shadowed it."""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "mdmlab", "synth", "models", "theory", "analysis")
SHADOWS = ("models", "synth", "theory", "analysis")

SMOKE = r"""
import numpy as np
import mdmlab
from mdmlab import models, synth

assert "site-packages" in mdmlab.__file__, mdmlab.__file__
lang = synth.HMMLanguage.random(2, 2, rng=0)
res = models.sample(lang, 4, 2, size=3, rng=0)
assert res.tokens.shape == (3, 4) and np.isfinite(res.log_prob_sampler).all()
print("smoke ok", mdmlab.__version__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of the sources (so no build folder lands in the repository)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True, text=True)
    (path,) = glob.glob(str(out / "*.whl"))
    return Path(path)


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory):
    """A new virtual environment holding only the wheel; its dependencies come from this one's
    site-packages through a path file (no download), which runs no ``.pth`` hook of this environment."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True)
    return home


def _run(env_home, args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NUMBA_DISABLE_JIT"] = "1"  # packaging is under test here, not the compiler
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_wheel_installs_only_the_mdmlab_namespace(wheel):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"mdmlab", wheel.name.split("-py3")[0] + ".dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    for pkg in ("synth", "models", "theory", "analysis"):
        assert f"mdmlab/{pkg}/__init__.py" in names


def test_smoke_in_fresh_env_next_to_shadowing_modules(fresh_env, tmp_path):
    for name in SHADOWS:  # a course folder with files of these common names
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the local {name}.py was imported')\n")
    python, script = str(fresh_env / "bin" / "python"), str(fresh_env / "bin" / "mdmlab")
    res = _run(fresh_env, [python, "-c", SMOKE], tmp_path)
    assert res.returncode == 0 and "smoke ok" in res.stdout, res.stderr
    res = _run(fresh_env, [python, "-m", "mdmlab", "bounds", "ter", "--order", "3", "--vocab", "8", "--steps", "64"],
               tmp_path)
    assert res.returncode == 0 and "2.6199" in res.stdout, res.stderr
    res = _run(fresh_env, [script, "--version"], tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("mdmlab "), res.stderr


def test_no_top_level_packages_in_fresh_env(fresh_env, tmp_path):
    probe = "import importlib.util as u; print([n for n in ('synth', 'models', 'theory', 'analysis') if u.find_spec(n)])"
    res = _run(fresh_env, [str(fresh_env / "bin" / "python"), "-c", probe], tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


def test_help_imports_nothing_heavy():
    r"""``mdmlab --help`` answers without numpy, numba, torch or scipy (they cost seconds cold)."""
    code = ("import sys; from mdmlab.analysis import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'numba', 'torch', 'scipy', 'sympy') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert res.stdout.strip().splitlines()[-1] == "[]", res.stdout
    assert "languages" in res.stdout
