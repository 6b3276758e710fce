r"""Is numba's on-disk cache of mdmlab's kernels empty? Then the next kernel call compiles (about
6 s for ``mdmlab sample`` on 2 cores, up to about a minute for commands that use more kernels) and
the command says so once, on stderr, before it starts.

numba keeps a ``*.nbi`` index file per cached function: in ``__pycache__`` next to the kernel module
(the default), under ``NUMBA_CACHE_DIR`` when that is set, or in the user-wide cache when the source
folder is read-only. The module list and the cache locations live in :mod:`mdmlab.synth._cache`;
importing it imports :mod:`mdmlab.synth` (and numba), whose kernel module first drops a cache made
from older kernel sources, so a stale cache counts as empty here.
"""
import importlib.util
import sys

from mdmlab.synth._cache import KERNEL_MODULES, jit_disabled
from mdmlab.synth._cache import index_files as _index_files

MESSAGE = ("compiling mdmlab's numba kernels once (about 6 s to a minute on 2 cores, by command); later runs start "
           "in seconds")
_announced = False


def cache_is_empty():
    r"""True when no kernel module of mdmlab has an index file in numba's cache (and the JIT is on).

    Each command compiles only the kernels it runs (``mdmlab sample`` never compiles the tree path's
    module, for instance), so "some module has none" would announce a compile on every warm run.
    """
    if jit_disabled():
        return False
    for package, stem in KERNEL_MODULES:
        spec = importlib.util.find_spec(package)
        folders = list(spec.submodule_search_locations or []) if spec else []
        if folders and _index_files(folders[0], stem):
            return False
    return True


def announce_first_compile(stream=None):
    r"""Print :data:`MESSAGE` to ``stream`` (stderr) once per process, if :func:`cache_is_empty`."""
    global _announced
    if not _announced and cache_is_empty():
        print(MESSAGE, file=stream or sys.stderr, flush=True)
        _announced = True
