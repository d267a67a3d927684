"""One BLAS thread for the host's mid-sized BLAS and LAPACK calls.

The host tier's contractions (``kernels/host_eval.py``) and the host linear-algebra
fallbacks (``array_api/linalg.py``) call NumPy's BLAS between zyx's own kernels. NumPy's
OpenBLAS runs every call on its thread pool; for mid-sized work met between other work,
handing it to the pool costs more than the call (measured on the 2-core dev machine:
scikit-learn's LinearDiscriminantAnalysis on 4000 x 64 took 208 ms with OpenBLAS's 2
threads, 20 ms with one; LogisticRegression's 4000 x 64 by 64 x 3 products took 0.1 to 11 ms
each on 2 threads, 35 us on one). So calls below ``SMALL_WORK`` multiply-adds run with
OpenBLAS set to one thread, and the setting is put back after.

OpenBLAS's thread count is one per process (its ``openblas_set_num_threads_local`` sets it
too, in the builds NumPy ships): while such a call runs, other threads' BLAS calls - the
user's NumPy code in another thread - run on one thread too. Where NumPy's BLAS is not
OpenBLAS, or is not found (not Linux), calls run as NumPy runs them.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import re
import threading

SMALL_WORK = 1 << 25  # multiply-adds (or the m n min(m, n) of a factorisation) below which one thread runs

_api = None  # (get, set) of NumPy's OpenBLAS thread count; False where there is none
_lock = threading.Lock()
_depth = 0  # blocks open in all threads (the count is restored when the last closes)
_saved = 0


def _find():
    """(get_num_threads, set_num_threads) of the OpenBLAS NumPy loaded, or False."""
    import numpy  # its BLAS must be loaded to be found
    # NumPy's wheels carry their OpenBLAS beside the package; other builds link one the
    # process maps (Linux: /proc/self/maps, read whole - thousands of lines with scikit-learn)
    paths = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs",
                                          "lib*openblas*")))
    if not paths:
        try:
            with open("/proc/self/maps") as f:
                maps = f.read()
        except OSError:
            return False
        paths = sorted(set(re.findall(r"(/\S*/lib\S*openblas\S*)$", maps, re.M | re.I)))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):  # (symbol names as threadpoolctl looks them up)
            for suffix in ("64_", ""):
                try:
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                except AttributeError:
                    continue
                get.argtypes, get.restype = [], ctypes.c_int
                put.argtypes, put.restype = [ctypes.c_int], None
                return get, put
    return False


@contextlib.contextmanager
def one_thread(work: int = 0):
    """Inside the block, BLAS calls run on one thread when ``work`` is below ``SMALL_WORK``
    (a no-op where NumPy's BLAS is not a found OpenBLAS)."""
    global _api, _depth, _saved
    if work >= SMALL_WORK:
        yield
        return
    if _api is None:
        _api = _find()
    if _api is False:
        yield
        return
    get, put = _api
    with _lock:
        if _depth == 0:
            _saved = get()
            put(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                put(_saved)


def _after_fork_in_child() -> None:
    global _lock, _depth
    _lock, _depth = threading.Lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
