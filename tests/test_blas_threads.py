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


def test_scipy_openblas_is_set_to_one_thread_and_restored():
    pytest.importorskip("scipy.linalg")
    _api()
    if _blas._sp_api is None:
        _blas._sp_api = _blas._find("scipy")
    if _blas._sp_api is False:
        pytest.skip("SciPy's BLAS is not an OpenBLAS found beside the package")
    get, _ = _blas._sp_api
    np_get, _ = _blas._api
    before, np_before = get(), np_get()
    with _blas.one_thread(1000, scipy=True):
        assert get() == 1 and np_get() == 1
        with _blas.one_thread(10):  # NumPy's only, nested
            assert get() == 1
    assert get() == before and np_get() == np_before


def test_large_single_precision_factorisations_run_in_single_precision_through_scipy(monkeypatch):
    """NumPy computes float32 LAPACK in double; a large float32 matrix goes to SciPy's single
    routines (where SciPy is loaded), with the same results to float32 accuracy; float64,
    small matrices and stacks keep NumPy's; a failing single call falls back to NumPy's error."""
    sl = pytest.importorskip("scipy.linalg")
    calls = []
    for name in ("svd", "eigh", "cholesky", "qr"):
        real = getattr(sl, name)
        monkeypatch.setattr(sl, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    rng = np.random.default_rng(5)
    a = rng.standard_normal((300, 80)).astype(np.float32)
    h = a.T @ a
    A, H = xp.asarray(a), xp.asarray(h)
    u, s, vh = xp.linalg.svd(A, full_matrices=False)
    assert u.dtype == s.dtype == xp.float32 and u.shape == (300, 80) and vh.shape == (80, 80)
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), a, atol=2e-5)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a.astype(np.float64), compute_uv=False), rtol=2e-5)
    assert xp.linalg.svd(A).U.shape == (300, 300)
    np.testing.assert_allclose(xp.linalg.svdvals(A).numpy(), s.numpy(), rtol=1e-5)
    w, v = xp.linalg.eigh(H)
    np.testing.assert_allclose(h @ v.numpy(), v.numpy() * w.numpy(), atol=2e-5 * float(w.numpy().max()))
    np.testing.assert_allclose(xp.linalg.eigvalsh(H).numpy(), np.linalg.eigvalsh(h.astype(np.float64)),
                               rtol=1e-4, atol=1e-4 * float(w.numpy().max()))
    L = xp.linalg.cholesky(H).numpy()
    assert np.all(np.triu(L, 1) == 0)
    np.testing.assert_allclose(L @ L.T, h, atol=1e-5 * float(np.abs(h).max()))
    for mode, qshape in (("reduced", (300, 80)), ("complete", (300, 300))):
        q, r = xp.linalg.qr(A, mode=mode)
        assert q.shape == qshape
        np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=2e-5)
    assert sorted(set(calls)) == ["cholesky", "eigh", "qr", "svd"], calls
    n = len(calls)
    xp.linalg.svd(xp.asarray(a.astype(np.float64)))  # double: NumPy's
    xp.linalg.svd(xp.asarray(a[:20, :20]))  # small: NumPy's
    xp.linalg.svd(xp.asarray(np.stack([a, a])))  # a stack: NumPy's
    assert len(calls) == n
    # complex64 (Hermitian: the lower triangle is read, as NumPy reads it)
    c = (rng.standard_normal((120, 70)) + 1j * rng.standard_normal((120, 70))).astype(np.complex64)
    hc = c.conj().T @ c
    n = len(calls)
    u, s, vh = xp.linalg.svd(xp.asarray(c), full_matrices=False)
    assert u.dtype == xp.complex64 and s.dtype == xp.float32
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), c, atol=3e-5)
    w, v = xp.linalg.eigh(xp.asarray(hc))
    np.testing.assert_allclose(hc @ v.numpy(), v.numpy() * w.numpy(), atol=3e-5 * float(w.numpy().max()))
    L = xp.linalg.cholesky(xp.asarray(hc)).numpy()
    np.testing.assert_allclose(L @ L.conj().T, hc, atol=2e-5 * float(np.abs(hc).max()))
    q, r = xp.linalg.qr(xp.asarray(c))
    np.testing.assert_allclose(q.numpy() @ r.numpy(), c, atol=3e-5)
    assert len(calls) == n + 4
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        xp.linalg.cholesky(xp.asarray(-np.eye(100, dtype=np.float32)))
    with pytest.raises(np.linalg.LinAlgError):
        xp.linalg.svd(xp.asarray(np.full((100, 100), np.nan, np.float32)))
