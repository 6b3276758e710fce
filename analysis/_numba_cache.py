r"""Is numba's on-disk cache of mdmlab's kernels empty? Then the next kernel call compiles (about
6 s for ``mdmlab sample`` on 2 cores, up to about a minute for commands that use more kernels) and
the command says so once, on stderr, before it starts.

numba keeps a ``*.nbi`` index file per cached function: in ``__pycache__`` next to the kernel module
(the default), under ``NUMBA_CACHE_DIR`` when that is set, or in the user-wide cache when the source
folder is read-only. Nothing here imports numba or the kernel modules.
"""
import glob
import importlib.util
import os
import sys

#: the modules whose functions are ``@njit(cache=True)``: (package, module file stem)
KERNEL_MODULES = (("mdmlab.synth", "_kernels"), ("mdmlab.models", "_kernels"), ("mdmlab.models", "_tree"),
                  ("mdmlab.models", "_window_tree"))
MESSAGE = ("compiling mdmlab's numba kernels once (about 6 s to a minute on 2 cores, by command); later runs start "
           "in seconds")
_announced = False


def _index_files(folder, stem):
    if "NUMBA_CACHE_DIR" in os.environ:  # numba mirrors the source folder's path below it
        root = os.environ["NUMBA_CACHE_DIR"]
        return glob.glob(os.path.join(root, "**", f"{stem}.*.nbi"), recursive=True)
    in_tree = glob.glob(os.path.join(folder, "__pycache__", f"{stem}.*.nbi"))
    if in_tree or os.access(folder, os.W_OK):
        return in_tree
    user = os.path.join(os.path.expanduser("~"), ".cache", "numba")  # numba's fallback for read-only sources
    return glob.glob(os.path.join(user, "**", f"{stem}.*.nbi"), recursive=True)


def cache_is_empty():
    r"""True when no kernel module of mdmlab has an index file in numba's cache (and the JIT is on).

    Each command compiles only the kernels it runs (``mdmlab sample`` never compiles the tree path's
    module, for instance), so "some module has none" would announce a compile on every warm run.
    """
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
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
