"""Saving to Numba's disk cache takes turns between processes (`course._jit._LockedCacheFile`): two
specialisations of one kernel saved at the same moment both stay in its index, each naming its own file."""

from __future__ import annotations

import threading
import time

from numba.core.caching import IndexDataCacheFile

from course import _jit
from course.kernels import activation, conv, pool


def _save_both_at_once(cache_class, folder, monkeypatch) -> IndexDataCacheFile:
    """Two cache files of one kernel (two processes, here two threads: flock locks one open file, not
    one process) save a float32 and a float64 entry; each reads the index, then waits 0.2 s, long enough
    for the other to read it too unless the save holds a lock. Returns a fresh reader of the cache."""
    read_index = IndexDataCacheFile._load_index

    def slow_read(self):
        index = read_index(self)
        time.sleep(0.2)
        return index

    monkeypatch.setattr(IndexDataCacheFile, "_load_index", slow_read)
    savers = [
        threading.Thread(target=cache_class(str(folder), "kernel", "stamp").save, args=(key, f"code {key}"))
        for key in ("float32", "float64")
    ]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()
    monkeypatch.setattr(IndexDataCacheFile, "_load_index", read_index)
    return IndexDataCacheFile(str(folder), "kernel", "stamp")


def test_two_saves_at_once_keep_both_entries_each_with_its_own_file(tmp_path, monkeypatch):
    reader = _save_both_at_once(_jit._LockedCacheFile, tmp_path, monkeypatch)
    assert reader.load("float32") == "code float32"
    assert reader.load("float64") == "code float64"


def test_without_the_lock_the_same_saves_lose_an_entry(tmp_path, monkeypatch):
    """What the lock prevents, shown with Numba's own cache file: both saves take the first data file
    name, and the index keeps one entry, which may name the other one's code."""
    reader = _save_both_at_once(IndexDataCacheFile, tmp_path, monkeypatch)
    loaded = [reader.load("float32"), reader.load("float64")]
    assert None in loaded


def test_every_kernel_saves_through_the_lock():
    kernels = [getattr(module, name) for module in (activation, conv, pool) for name in module.__all__]
    kernels = [kernel for kernel in kernels if hasattr(kernel, "py_func")] + [_jit._spin_until_changed]
    assert kernels
    assert all(type(kernel._cache._cache_file) is _jit._LockedCacheFile for kernel in kernels)
