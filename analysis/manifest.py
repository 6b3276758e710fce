r"""Provenance for every saved table: package versions, git revision, time, and the config."""
import datetime
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("mdmlab", "numpy", "scipy", "numba", "sympy", "pandas", "seaborn", "matplotlib", "torch")


def git_revision():
    """The git revision of the source tree (``-dirty`` if code has uncommitted changes; generated
    files under ``reports/`` do not count), or ``unknown``."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
                                ":(exclude,top)reports"], cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if rev.returncode != 0:
        return "unknown"
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions():
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def manifest(**extra):
    """A dict to store next to results: versions, revision, python, time, plus ``extra``."""
    return {"git_revision": git_revision(), "packages": package_versions(), "python": platform.python_version(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **extra}
