r"""Where numba caches mdmlab's kernels, and a stamp that drops the cache when any kernel source changes.

Four modules hold ``@njit(cache=True)`` functions (:data:`KERNEL_MODULES`). numba decides that a
cached function is stale by hashing *its own* source file only, yet a cached function carries the
machine code of every kernel it inlines or calls. The kernels use one another across files:
``models/_window_tree.py`` and ``models/_tree.py`` inline ``draw_selected``, ``next_static`` and
``static_order`` from ``models/_kernels.py``, which inlines ``draw_categorical`` and calls the
posterior kernels of ``synth/_kernels.py``. After an edit of ``models/_kernels.py`` (or a
``git pull`` of an editable install) numba would keep loading the old machine code of
``_window_tree``'s kernels, silently computing with the old ``draw_selected``.

:func:`invalidate_stale` closes that gap. It hashes the bytes of the four source files into one
fingerprint (sha256) and keeps it in a stamp file in each folder where numba caches these modules.
When the stamp is missing or differs, it deletes the index and data files (``<stem>.*.nbi``,
``<stem>.*.nbc``) of the modules in that folder and then writes the new stamp, so every kernel
recompiles against the current sources once. ``synth/_kernels.py`` calls it at import time, before
any kernel runs (numba loads a cache on a function's first call); every other kernel module imports
``synth/_kernels.py``, so the stamp is checked before any cache is read.

numba caches a module's functions in exactly one folder: below ``NUMBA_CACHE_DIR`` when that is set
(in ``<source folder name>_<sha1 of the source folder's absolute path>``), else in ``__pycache__``
next to the source when it is writable, else in a sub-folder of that name in the user-wide cache
(``~/.cache/numba`` on Linux). This module imports neither numba nor any other part of mdmlab.
"""
import glob
import hashlib
import importlib.util
import os
import sys
import tempfile

#: the modules whose functions are ``@njit(cache=True)``: (package, module file stem)
KERNEL_MODULES = (("mdmlab.synth", "_kernels"), ("mdmlab.models", "_kernels"), ("mdmlab.models", "_tree"),
                  ("mdmlab.models", "_window_tree"))
#: the stamp's file name in each cache folder; it holds the sha256 of the four kernel sources
STAMP = "mdmlab-kernels.sha256"


def jit_disabled():
    r"""True when ``NUMBA_DISABLE_JIT`` turns numba off (nothing is compiled or cached then)."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")


def _user_cache_dir():
    r"""numba's user-wide cache folder (``numba.misc.appdirs.user_cache_dir('numba', False)``)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", os.path.expanduser("~"))
        return os.path.join(base, "numba", "Cache")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~/Library/Caches"), "numba")
    return os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "numba")


def index_files(folder, stem):
    r"""The ``<stem>.*.nbi`` index files numba may have written for module ``stem`` in ``folder``."""
    if "NUMBA_CACHE_DIR" in os.environ:  # numba mirrors the source folder's path below it
        root = os.environ["NUMBA_CACHE_DIR"]
        return glob.glob(os.path.join(root, "**", f"{stem}.*.nbi"), recursive=True)
    in_tree = glob.glob(os.path.join(folder, "__pycache__", f"{stem}.*.nbi"))
    if in_tree or os.access(folder, os.W_OK):
        return in_tree
    return glob.glob(os.path.join(_user_cache_dir(), "**", f"{stem}.*.nbi"), recursive=True)


def cache_folder(folder):
    r"""The one folder where numba caches the functions of modules that live in ``folder``.

    Mirrors numba's locators, tried in order: ``UserProvidedCacheLocator`` (``NUMBA_CACHE_DIR``),
    ``InTreeCacheLocator`` (a writable ``__pycache__``), ``UserWideCacheLocator``; the last two
    share ``_CacheLocator.get_suitable_cache_subpath``'s name for the sub-folder.
    """
    source = os.path.abspath(folder)
    subpath = f"{os.path.basename(source)}_{hashlib.sha1(source.encode()).hexdigest()}"
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.path.join(os.environ["NUMBA_CACHE_DIR"], subpath)
    in_tree = os.path.join(source, "__pycache__")
    if os.access(in_tree if os.path.isdir(in_tree) else source, os.W_OK):
        return in_tree
    return os.path.join(_user_cache_dir(), subpath)


def _source_folders():
    r"""{source folder: stems of the kernel modules in it}, in :data:`KERNEL_MODULES` order."""
    folders = {}
    for package, stem in KERNEL_MODULES:
        spec = importlib.util.find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            return {}
        folders.setdefault(locations[0], []).append(stem)
    return folders


def fingerprint(folders):
    r"""sha256 (hex) of the kernel sources' bytes, each prefixed by its length; None if one is unreadable."""
    digest = hashlib.sha256()
    try:
        for folder, stems in folders.items():
            for stem in stems:
                with open(os.path.join(folder, f"{stem}.py"), "rb") as source:
                    data = source.read()
                digest.update(len(data).to_bytes(8, "little") + data)
    except OSError:
        return None
    return digest.hexdigest()


def _refresh(location, stems, stamp):
    r"""Make ``location`` match ``stamp``: delete the cache files of ``stems`` there if its stamp differs,
    then write the stamp (temp file + ``os.replace``). Returns the deleted paths; OSError propagates."""
    path = os.path.join(location, STAMP)
    try:
        with open(path) as old:
            if old.read().strip() == stamp:
                return []
    except OSError:  # no stamp (or unreadable): stale
        pass
    os.makedirs(location, exist_ok=True)  # numba would create it on the first compile anyway
    removed = []
    for stem in stems:
        for name in glob.glob(os.path.join(glob.escape(location), f"{stem}.*.nb[ic]")):
            try:
                os.remove(name)
            except FileNotFoundError:  # another process removed it first
                continue
            removed.append(name)
    handle, temp = tempfile.mkstemp(dir=location, prefix=f".{STAMP}.")
    try:
        with os.fdopen(handle, "w") as new:
            new.write(stamp + "\n")
        os.replace(temp, path)  # stamp only after every stale file is gone
    except OSError:
        os.unlink(temp)
        raise
    return removed


def invalidate_stale():
    r"""Delete numba's cached kernels of mdmlab wherever the stamp says the kernel sources changed.

    One fingerprint (sha256 of the bytes of the four :data:`KERNEL_MODULES` sources) is compared with
    the :data:`STAMP` file in each :func:`cache_folder`; a missing or different stamp deletes the
    ``<stem>.*.nbi`` and ``<stem>.*.nbc`` files of the kernel modules cached there and writes the new
    stamp. A folder that cannot be read or written is skipped silently; with ``NUMBA_DISABLE_JIT``
    set nothing happens.

    Returns
    -------
    removed : list of str
        The deleted cache files (empty when every stamp matched).
    """
    if jit_disabled():
        return []
    folders = _source_folders()
    stamp = fingerprint(folders)
    removed = []
    if stamp is None:
        return removed
    for folder, stems in folders.items():
        try:
            removed += _refresh(cache_folder(folder), stems, stamp)
        except OSError:  # read-only or missing cache folder: numba cannot cache there either
            continue
    return removed
