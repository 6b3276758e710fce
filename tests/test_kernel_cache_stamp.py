r"""The kernel-source stamp: numba invalidates a cached function only when its own file changes, but
mdmlab's kernels inline one another across files, so a change to any of the four kernel sources must
drop the cached code of all four (mdmlab.synth._cache.invalidate_stale)."""
import hashlib
import os
import subprocess
import sys

import pytest

from mdmlab.synth import _cache

SOURCES = {package: os.path.dirname(__import__(f"{package}.{stem}", fromlist=["x"]).__file__)
           for package, stem in _cache.KERNEL_MODULES}
STALE = "0" * 64


def _numba_folder(root, source_folder):
    r"""numba's layout below NUMBA_CACHE_DIR: '<folder name>_<sha1 of its absolute path>'."""
    folder = os.path.abspath(source_folder)
    return root / f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"


def _current_stamp():
    r"""sha256 of the four sources, each prefixed by its length (8 bytes, little-endian)."""
    digest = hashlib.sha256()
    for package, stem in _cache.KERNEL_MODULES:
        data = open(os.path.join(SOURCES[package], f"{stem}.py"), "rb").read()
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def _fill(root, stamp):
    r"""Fake cache files of the four modules (and bystanders) below ``root``; returns (kernel files, others)."""
    kernel, others = set(), set()
    for package, stem in _cache.KERNEL_MODULES:
        folder = _numba_folder(root, SOURCES[package])
        folder.mkdir(exist_ok=True)
        for name in (f"{stem}.f-12.py311.nbi", f"{stem}.f-12.py311.1.nbc", f"{stem}.g-40.py311.2.nbc"):
            kernel.add(folder / name)
        others.update({folder / "other.f-12.py311.nbi", folder / f"{stem}.cpython-311.pyc",
                       folder / f"{stem}_x.f-1.py311.nbi"})
        if stamp is not None:
            (folder / _cache.STAMP).write_text(stamp + "\n")
    elsewhere = root / "elsewhere_0123"  # another package's module of the same name
    elsewhere.mkdir(exist_ok=True)
    others.add(elsewhere / "_kernels.f-12.py311.nbi")
    for path in kernel | others:
        path.write_bytes(b"x")
    return kernel, others


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    return tmp_path


def _stamps(root):
    return {(_numba_folder(root, folder) / _cache.STAMP).read_text().strip() for folder in set(SOURCES.values())}


@pytest.mark.parametrize("old", [STALE, None], ids=["different", "missing"])
def test_a_stale_or_missing_stamp_drops_the_four_modules_only(cache_dir, old):
    kernel, others = _fill(cache_dir, old)
    removed = _cache.invalidate_stale()
    assert sorted(removed) == sorted(map(str, kernel)) and len(kernel) == 12
    assert not any(path.exists() for path in kernel)
    assert all(path.exists() for path in others)
    assert _stamps(cache_dir) == {_current_stamp()}
    assert _cache.invalidate_stale() == []  # the fresh stamp now matches


def test_a_matching_stamp_keeps_everything(cache_dir):
    kernel, others = _fill(cache_dir, _current_stamp())
    assert _cache.invalidate_stale() == []
    assert all(path.exists() for path in kernel | others)


def test_any_source_byte_changes_the_fingerprint(tmp_path):
    folders = {}
    for package, stem in _cache.KERNEL_MODULES:
        folder = tmp_path / package.rsplit(".", 1)[-1]
        folder.mkdir(exist_ok=True)
        (folder / f"{stem}.py").write_bytes(open(os.path.join(SOURCES[package], f"{stem}.py"), "rb").read())
        folders.setdefault(str(folder), []).append(stem)
    assert _cache.fingerprint(folders) == _current_stamp()
    for folder, stems in folders.items():
        for stem in stems:
            source = tmp_path / folder / f"{stem}.py"
            original = source.read_bytes()
            source.write_bytes(original + b"\n")
            assert _cache.fingerprint(folders) != _current_stamp(), stem
            source.write_bytes(original)
    os.remove(tmp_path / folder / f"{stem}.py")
    assert _cache.fingerprint(folders) is None  # unreadable source: invalidate_stale does nothing


def test_disabled_jit_does_nothing(cache_dir, monkeypatch):
    kernel, _ = _fill(cache_dir, STALE)
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert _cache.invalidate_stale() == []
    assert all(path.exists() for path in kernel) and _stamps(cache_dir) == {STALE}


def test_unwritable_cache_folders_are_skipped(cache_dir, monkeypatch):
    not_a_folder = cache_dir / "file"
    not_a_folder.write_bytes(b"")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(not_a_folder))  # makedirs fails, even for root
    assert _cache.invalidate_stale() == []
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache_dir))
    kernel, _ = _fill(cache_dir, STALE)

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "remove", refuse)  # a read-only folder, as root sees one
    assert _cache.invalidate_stale() == []
    assert all(path.exists() for path in kernel) and _stamps(cache_dir) == {STALE}  # retried next time


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_cache_folders_are_skipped(cache_dir):
    kernel, _ = _fill(cache_dir, STALE)
    folders = [_numba_folder(cache_dir, folder) for folder in set(SOURCES.values())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        assert _cache.invalidate_stale() == []
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert all(path.exists() for path in kernel) and _stamps(cache_dir) == {STALE}


def test_cache_folders_are_numbas_own(tmp_path, monkeypatch):
    numba = pytest.importorskip("numba")
    from numba.core import caching
    from numba.misc.appdirs import AppDirs

    from mdmlab.models import _window_tree

    kernel = _window_tree._matmul
    folder = os.path.dirname(_window_tree.__file__)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    if kernel._cache._cache_path == os.path.join(folder, "__pycache__"):  # writable source folder
        assert _cache.cache_folder(folder) == kernel._cache._cache_path
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    located = caching.UserProvidedCacheLocator(kernel.py_func, _window_tree.__file__).get_cache_path()
    assert _cache.cache_folder(folder) == located == str(_numba_folder(tmp_path, folder))
    wide = caching.UserWideCacheLocator(kernel.py_func, _window_tree.__file__).get_cache_path()
    assert wide == os.path.join(_cache._user_cache_dir(), os.path.basename(located))
    assert _cache._user_cache_dir() == AppDirs(appname="numba", appauthor=False).user_cache_dir


def test_importing_the_kernels_drops_a_stale_cache(cache_dir):
    kernel, others = _fill(cache_dir, STALE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    subprocess.run([sys.executable, "-c", "import mdmlab.synth._kernels"], env=env, check=True, timeout=120)
    assert not any(path.exists() for path in kernel) and all(path.exists() for path in others)
    assert _stamps(cache_dir) == {_current_stamp()}
