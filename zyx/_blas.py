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

SciPy's wheels carry an OpenBLAS of their own (the single-precision host fallbacks call it:
see ``array_api/linalg.py``); ``one_thread(work, scipy=True)`` sets both.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import re
import threading

SMALL_WORK = 1 << 25  # multiply-adds (or the m n min(m, n) of a factorisation) below which one thread runs

_api = None  # (get, set) of NumPy's OpenBLAS thread count; False where there is none
_sp_api = None  # the same of SciPy's OpenBLAS
_lock = threading.Lock()
_depth = [0, 0]  # blocks open in all threads, NumPy's and SciPy's (a count is restored when its last closes)
_saved = [0, 0]


def _find(package: str = "numpy"):
    """(get_num_threads, set_num_threads) of the OpenBLAS ``package`` (numpy, or a loaded
    scipy) loaded, or False."""
    mod = importlib.import_module(package)  # (its BLAS must be loaded to be found)
    # the wheels carry their OpenBLAS beside the package; other NumPy builds link one the
    # process maps (Linux: /proc/self/maps, read whole - thousands of lines with scikit-learn)
    # (a directory listing: glob's first call compiled its pattern, ~0.5 ms of a warm fit)
    libs = os.path.join(os.path.dirname(os.path.dirname(mod.__file__)), f"{package}.libs")
    try:
        paths = sorted(os.path.join(libs, n) for n in os.listdir(libs) if n.startswith("lib") and "openblas" in n[3:])
    except OSError:
        paths = []
    if not paths and package == "numpy":
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
def one_thread(work: int = 0, scipy: bool = False):
    """Inside the block, BLAS calls run on one thread when ``work`` is below ``SMALL_WORK``
    (a no-op where NumPy's BLAS is not a found OpenBLAS); with ``scipy``, SciPy's (loaded)
    OpenBLAS too."""
    global _api, _sp_api
    if work >= SMALL_WORK:
        yield
        return
    if _api is None:
        _api = _find()
    if scipy and _sp_api is None:
        _sp_api = _find("scipy")
    apis = [(0, _api)] + ([(1, _sp_api)] if scipy else [])
    apis = [(i, a) for i, a in apis if a is not False]
    with _lock:
        for i, (get, put) in apis:
            if _depth[i] == 0:
                _saved[i] = get()
                put(1)
            _depth[i] += 1
    try:
        yield
    finally:
        with _lock:
            for i, (get, put) in apis:
                _depth[i] -= 1
                if _depth[i] == 0:
                    put(_saved[i])


def _after_fork_in_child() -> None:
    global _lock, _depth
    _lock, _depth = threading.Lock(), [0, 0]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
