r"""mdmlab: exact numerical checks of what theory says about masked diffusion language models.

Four packages, imported on demand so ``import mdmlab`` stays cheap:

* :mod:`mdmlab.synth` — exact n-gram and HMM languages and the language registry;
* :mod:`mdmlab.models` — the exact MDM sampler, its schedules and policies, the torch denoiser;
* :mod:`mdmlab.theory` — closed-form bounds and exact results, with provenance;
* :mod:`mdmlab.analysis` — metrics, sweeps, verdicts, tables, figures, reports and the CLI.

The command line is ``mdmlab`` or ``python -m mdmlab``.
"""
import importlib

_PACKAGES = ("synth", "models", "theory", "analysis")

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("mdmlab")
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "unknown"


def __getattr__(name):
    if name in _PACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mdmlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_PACKAGES))


__all__ = list(_PACKAGES)
