r"""The first-compile announcement: numba's cache counts as empty only when no kernel module of mdmlab
has an index file (a warm ``mdmlab sample`` has compiled only some modules and must not announce)."""
from mdmlab.analysis import _numba_cache


def _index(root, package, stem):
    folder = root / package.replace(".", "_")  # numba's layout: a mirror of the source path
    folder.mkdir(exist_ok=True)
    (folder / f"{stem}.kernel-12.py311.nbi").write_bytes(b"")


def test_one_compiled_module_makes_the_cache_non_empty(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _numba_cache.cache_is_empty()
    package, stem = _numba_cache.KERNEL_MODULES[-1]  # one module alone: a command compiles only what it runs
    _index(tmp_path, package, stem)
    assert not _numba_cache.cache_is_empty()

