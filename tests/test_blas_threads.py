"""zyx/_blas.py: mid-sized host BLAS/LAPACK calls run with OpenBLAS on one thread, and the
thread count is put back after - also when blocks overlap in several threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import zyx
from zyx import _blas

xp = zyx.array_api


def _api():
    if _blas._api is None:
        _blas._api = _blas._find()
    if _blas._api is False:
        pytest.skip("NumPy's BLAS is not an OpenBLAS found in this process (one_thread is a no-op)")
    return _blas._api


def test_one_thread_inside_restored_after():
    get, put = _api()
    before = get()
    with _blas.one_thread(1000):
        assert get() == 1
        with _blas.one_thread(10):  # nested
            assert get() == 1
        assert get() == 1
    assert get() == before
    with _blas.one_thread(_blas.SMALL_WORK):  # big work keeps the pool
        assert get() == before


def test_overlapping_blocks_in_threads_restore_the_count():
    get, put = _api()
    before = get()
    inside, release = threading.Barrier(3), threading.Event()

    def work():
        with _blas.one_thread(100):
            inside.wait()
            release.wait()
    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    inside.wait()
    assert get() == 1
    release.set()
    for t in ts:
        t.join()
    assert get() == before


def test_an_error_inside_restores_the_count():
    get, _ = _api()
    before = get()
    with pytest.raises(np.linalg.LinAlgError):
        xp.linalg.inv(xp.zeros((3, 3)))
    assert get() == before


def test_host_linalg_and_contractions_still_right():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((300, 40)).astype(np.float32)
    u, s, vt = xp.linalg.svd(xp.asarray(a), full_matrices=False)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-4)
    w = rng.standard_normal((40, 3)).astype(np.float32)
    np.testing.assert_allclose((xp.asarray(a) @ xp.asarray(w)).numpy(), a @ w, rtol=1e-4, atol=1e-4)
