"""Device linear algebra and FFT (zyx/array_api/_cuda_linalg.py, _cuda_fft.py).

Without a GPU the device path still runs here: ``HostSolver`` and ``HostFFT`` stand in
for cuSOLVER and cuFFT with LAPACK (SciPy) and NumPy's FFT, working in place on the
column-major memory at the addresses the device code passes, exactly as the CUDA
libraries would (1-based pivots, factors left beside untouched triangles, unnormalized
transforms). So the layout arguments - row-major buffers read as transposes, uplo and
transposed solves, which SVD factor is which - are checked against NumPy on the CPU.
``test_nvmath_signatures`` calls the real nvmath bindings with the arguments the device
code builds (they fail only at "no CUDA driver"); ``-m cuda`` runs everything on a GPU.
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx import dtypes as dt
from zyx.array_api import _cuda_linalg as cl

la = pytest.importorskip("scipy.linalg.lapack")
RNG = np.random.default_rng(7)


def _view(addr: int, count: int, d: dt.DType) -> np.ndarray:
    raw = (ctypes.c_char * (count * d.itemsize)).from_address(addr)
    return np.frombuffer(raw, dtype=d.np)


def _colmajor(addr: int, rows: int, cols: int, d: dt.DType) -> np.ndarray:
    """A writable (rows, cols) view of column-major memory (leading dimension rows)."""
    return _view(addr, rows * cols, d).reshape(cols, rows).T


def _lapack(name: str, d: dt.DType):
    prefix = {"float32": "s", "float64": "d", "complex64": "c", "complex128": "z"}[d.name]
    if name in ("orgqr",) and d.is_complex:
        name = "ungqr"
    return getattr(la, prefix + name)


class HostSolver:
    """cuSOLVER's semantics on host memory (the CPU device's buffers)."""

    def __init__(self):
        self.calls = []

    def potrf(self, d, n, a, info):
        self.calls.append("potrf")
        A = _colmajor(a, n, n, d)
        c, inf = _lapack("potrf", d)(A, lower=0, clean=0)
        A[...] = c
        _view(info, 1, dt.int32)[0] = inf

    def getrf(self, d, n, a, ipiv, info):
        self.calls.append("getrf")
        A = _colmajor(a, n, n, d)
        lu, piv, inf = _lapack("getrf", d)(A)
        A[...] = lu
        _view(ipiv, n, dt.int64)[:] = piv + 1  # 1-based, as LAPACK and cuSOLVER
        _view(info, 1, dt.int32)[0] = inf

    def getrs(self, d, trans, n, nrhs, a, ipiv, b, info):
        self.calls.append("getrs")
        A, B = _colmajor(a, n, n, d), _colmajor(b, n, nrhs, d)
        x, inf = _lapack("getrs", d)(A, _view(ipiv, n, dt.int64) - 1, B, trans=trans)
        B[...] = x
        _view(info, 1, dt.int32)[0] = inf

    def syevd(self, d, vectors, n, a, w, info):
        self.calls.append("syevd")
        A = _colmajor(a, n, n, d)
        vals, vecs = np.linalg.eigh(A, UPLO="U")  # cuSOLVER reads the upper triangle (uplo=UPPER)
        if vectors:
            A[...] = vecs
        _view(w, n, dt.real_of(d))[:] = vals
        _view(info, 1, dt.int32)[0] = 0

    def gesvd(self, d, job, m, n, a, s, u, vt, info):
        self.calls.append("gesvd" + job)
        assert m >= n, "cuSOLVER's gesvd needs m >= n"
        A = _colmajor(a, m, n, d).copy()
        k = min(m, n)
        if job == "N":
            _view(s, k, dt.real_of(d))[:] = np.linalg.svd(A, compute_uv=False)
        else:
            U, S, VT = np.linalg.svd(A, full_matrices=job == "A")
            _view(s, k, dt.real_of(d))[:] = S
            _colmajor(u, m, U.shape[1], d)[...] = U
            _colmajor(vt, n, n, d)[...] = VT
        _colmajor(a, m, n, d)[...] = 0  # gesvd destroys its input
        _view(info, 1, dt.int32)[0] = 0

    def geqrf(self, d, m, n, a, tau, info):
        self.calls.append("geqrf")
        A = _colmajor(a, m, n, d)
        qr, t, _work, inf = _lapack("geqrf", d)(A)
        A[...] = qr
        _view(tau, min(m, n), d)[:] = t
        _view(info, 1, dt.int32)[0] = inf

    def orgqr(self, d, m, n, k, a, tau, info):
        self.calls.append("orgqr")
        A = _colmajor(a, m, n, d)
        q, _work, inf = _lapack("orgqr", d)(A.copy(), _view(tau, k, d).copy())
        A[...] = q
        _view(info, 1, dt.int32)[0] = inf


class HostFFT:
    """cuFFT's semantics (unnormalized, batched over the leading axis) on host memory."""

    def __init__(self):
        self.calls = []

    def execute(self, kind, d, dims, batch, src, dst, inverse):
        self.calls.append((kind, d.name, dims, batch, inverse))
        k, n = len(dims), int(np.prod(dims))
        axes = tuple(range(1, k + 1))
        half = dims[:-1] + (dims[-1] // 2 + 1,)
        if kind == "c2c":
            x = _view(src, batch * n, d).reshape((batch,) + dims)
            y = np.fft.ifftn(x, axes=axes) * n if inverse else np.fft.fftn(x, axes=axes)
            _view(dst, batch * n, d)[:] = y.reshape(-1)
        elif kind == "r2c":
            x = _view(src, batch * n, d).reshape((batch,) + dims)
            cd = dt.complex_of(d)
            _view(dst, batch * int(np.prod(half)), cd)[:] = np.fft.rfftn(x, axes=axes).reshape(-1)
        else:
            x = _view(src, batch * int(np.prod(half)), d).reshape((batch,) + half)
            rd = dt.real_of(d)
            _view(dst, batch * n, rd)[:] = (np.fft.irfftn(x, s=dims, axes=axes) * n).reshape(-1)


@pytest.fixture
def emulated(monkeypatch):
    """The device path on the CPU device, with HostSolver/HostFFT as the libraries."""
    solver, fft = HostSolver(), HostFFT()
    monkeypatch.setattr(cl, "usable", lambda *xs: all(x.device.type == "cpu" and x.size > 0 for x in xs))
    monkeypatch.setattr(cl, "library", lambda kind, device: solver if kind == "solver" else fft)
    from zyx.array_api import _cuda_fft
    monkeypatch.setattr(_cuda_fft, "library", cl.library)
    return solver, fft


DTYPES = [dt.float32, dt.float64, dt.complex64, dt.complex128]
SOME = [dt.float32, dt.complex128]  # one real single, one complex double: the code paths that differ
TOL = {dt.float32: 2e-4, dt.float64: 1e-10, dt.complex64: 2e-4, dt.complex128: 1e-10, dt.float16: 2e-2}


def _rand(shape, d: dt.DType) -> np.ndarray:
    a = RNG.standard_normal(shape)
    if d.is_complex:
        a = a + 1j * RNG.standard_normal(shape)
    return a.astype(d.np)


def _hpd(batch, n, d):
    a = _rand(batch + (n, n), d)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(d.np)


def _close(got, want, d, scale=1.0):
    np.testing.assert_allclose(np.asarray(got), want, rtol=TOL[d] * 10, atol=TOL[d] * 10 * scale)


@pytest.mark.parametrize("d", SOME, ids=lambda d: d.name)
def test_cholesky_det_slogdet_inv_solve(emulated, d):
    solver, _ = emulated
    a = _hpd((2,), 5, d)
    x = xp.asarray(a)
    _close(xp.linalg.cholesky(x).numpy(), np.linalg.cholesky(a), d, 5)
    _close(xp.linalg.cholesky(x, upper=True).numpy(), np.conj(np.swapaxes(np.linalg.cholesky(a), -1, -2)), d, 5)
    g = _rand((3, 4, 4), d)
    _close(xp.linalg.det(xp.asarray(g)).numpy(), np.linalg.det(g), d, 10)
    sign, logabs = xp.linalg.slogdet(xp.asarray(g))
    ws, wl = np.linalg.slogdet(g)
    _close(sign.numpy(), ws, d)
    _close(logabs.numpy(), wl, d)
    _close(xp.linalg.inv(xp.asarray(g)).numpy(), np.linalg.inv(g), d, 10)
    b = _rand((3, 4, 2), d)
    _close(xp.linalg.solve(xp.asarray(g), xp.asarray(b)).numpy(), np.linalg.solve(g, b), d, 10)
    v = _rand((4,), d)
    _close(xp.linalg.solve(xp.asarray(g), xp.asarray(v)).numpy(), np.linalg.solve(g, v[..., None])[..., 0], d, 10)
    bb = _rand((2, 1, 4, 3), d)  # broadcast batches
    _close(xp.linalg.solve(xp.asarray(g), xp.asarray(bb)).numpy(), np.linalg.solve(g, bb), d, 10)
    assert {"potrf", "getrf", "getrs"} <= set(solver.calls)


def test_singular_and_indefinite_inputs_raise_numpys_errors(emulated):
    s = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    x = xp.asarray(s)
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        xp.linalg.inv(x)
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        xp.linalg.solve(x, xp.asarray([1.0, 1.0]))
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        xp.linalg.cholesky(xp.asarray(np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)))
    assert float(xp.linalg.det(x)) == 0.0
    sign, logabs = xp.linalg.slogdet(x)
    assert float(sign) == 0.0 and float(logabs) == -np.inf
    with pytest.raises(ValueError):
        xp.linalg.inv(xp.asarray(np.ones((2, 3), np.float32)))
    np.testing.assert_allclose(xp.linalg.inv(xp.asarray(np.eye(2, dtype=np.float32) * 2)).numpy(), np.eye(2) / 2)


@pytest.mark.parametrize("d", SOME + [dt.float16], ids=lambda d: d.name)
def test_eigh(emulated, d):
    a = _hpd((3,), 6, dt.float32 if d is dt.float16 else d)
    lower_only = np.tril(a) + np.triu(RNG.standard_normal(a.shape), 1).astype(a.dtype)  # numpy reads 'L'
    x = xp.asarray(lower_only.astype(d.np))
    w, v = xp.linalg.eigh(x)
    ww = np.linalg.eigvalsh(lower_only.astype(np.complex128 if d.is_complex else np.float64))
    assert w.dtype is dt.real_of(d) and v.dtype is d
    _close(w.numpy().astype(np.float64), ww, d, 10)
    _close(xp.linalg.eigvalsh(x).numpy().astype(np.float64), ww, d, 10)
    vv = v.numpy().astype(np.complex128)
    _close(np.abs(np.conj(np.swapaxes(vv, -1, -2)) @ vv), np.broadcast_to(np.eye(6), vv.shape), d)
    a64 = lower_only.astype(np.complex128)
    herm = np.tril(a64) + np.conj(np.swapaxes(np.tril(a64, -1), -1, -2))
    _close(herm @ vv, vv * w.numpy()[..., None, :], d, 20)  # A v = v diag(w)


@pytest.mark.parametrize("d", SOME, ids=lambda d: d.name)
@pytest.mark.parametrize("shape,full", [((5, 3), True), ((5, 3), False), ((3, 5), True), ((3, 5), False),
                                        ((2, 4, 4), False)])
def test_svd(emulated, d, shape, full):
    a = _rand(shape, d)
    U, S, Vh = xp.linalg.svd(xp.asarray(a), full_matrices=full)
    wu, ws, wvh = np.linalg.svd(a, full_matrices=full)
    assert U.shape == wu.shape and S.shape == ws.shape and Vh.shape == wvh.shape
    _close(S.numpy(), ws, d)
    k = min(shape[-2:])
    u, vh = U.numpy()[..., :, :k], Vh.numpy()[..., :k, :]
    _close(u @ (S.numpy()[..., :, None] * vh), a, d, 5)  # reconstructs A
    uu = U.numpy()
    _close(np.conj(np.swapaxes(uu, -1, -2)) @ uu, np.broadcast_to(np.eye(uu.shape[-1]), uu.shape[:-2] + (uu.shape[-1],) * 2), d)
    _close(xp.linalg.svdvals(xp.asarray(a)).numpy(), ws, d)


@pytest.mark.parametrize("d", SOME, ids=lambda d: d.name)
@pytest.mark.parametrize("shape,mode", [((6, 4), "reduced"), ((6, 4), "complete"), ((4, 6), "reduced"),
                                        ((3, 5, 5), "complete")])
def test_qr(emulated, d, shape, mode):
    a = _rand(shape, d)
    Q, R = xp.linalg.qr(xp.asarray(a), mode=mode)
    wq, wr = np.linalg.qr(a, mode=mode)
    assert Q.shape == wq.shape and R.shape == wr.shape
    q, r = Q.numpy(), R.numpy()
    _close(q @ r, a, d, 5)
    np.testing.assert_array_equal(np.tril(r, -1), 0)
    _close(np.abs(r), np.abs(wr), d, 5)  # unique up to the signs of R's rows
    _close(np.conj(np.swapaxes(q, -1, -2)) @ q, np.broadcast_to(np.eye(q.shape[-1]), q.shape[:-2] + (q.shape[-1],) * 2), d)


def test_pinv_matrix_rank_norms(emulated):
    a = _rand((6, 4), dt.float64)
    a[:, 3] = a[:, 0] + a[:, 1]  # rank 3
    x = xp.asarray(a)
    _close(xp.linalg.pinv(x).numpy(), np.linalg.pinv(a), dt.float64, 10)
    _close(xp.linalg.pinv(x, rtol=0.5).numpy(), np.linalg.pinv(a, rtol=0.5), dt.float64, 10)
    assert int(xp.linalg.matrix_rank(x)) == 3 == np.linalg.matrix_rank(a)
    assert xp.linalg.matrix_rank(xp.asarray(np.stack([a, a[:, [0, 1, 2, 2]]])), rtol=1e-6).tolist() == [3, 3]
    _close(xp.linalg.matrix_norm(x, ord=2).numpy(), np.linalg.norm(a, 2), dt.float64)
    _close(xp.linalg.matrix_norm(x, ord="nuc").numpy(), np.linalg.norm(a, "nuc"), dt.float64)
    c = _rand((3, 3), dt.complex64)
    _close(xp.linalg.pinv(xp.asarray(c)).numpy(), np.linalg.pinv(c), dt.complex64, 10)
    h = _hpd((), 3, dt.float64)
    _close(xp.linalg.matrix_power(xp.asarray(h), -2).numpy(), np.linalg.matrix_power(h, -2), dt.float64)


def test_inputs_are_not_overwritten(emulated):
    a = _hpd((), 4, dt.float32)
    x = xp.asarray(a) * 1  # a lazy array the user keeps
    xp.linalg.cholesky(x), xp.linalg.inv(x), xp.linalg.eigh(x), xp.linalg.svd(x), xp.linalg.qr(x)
    np.testing.assert_array_equal(x.numpy(), a)
    y = xp.asarray(a)  # and a realized one
    xp.linalg.det(y), xp.linalg.solve(y, y)
    np.testing.assert_array_equal(y.numpy(), a)


# ------------------------------------------------------------------ FFT
ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]


@pytest.mark.parametrize("name", ONE_D)
def test_fft_one_dim(emulated, name):
    _, fft = emulated
    real_in = name in ("rfft", "ihfft")
    for d, norm, n, axis in [(dt.float64 if real_in else dt.complex128, "backward", None, -1),
                             (dt.float32, "ortho", 7, 1), (dt.float64 if real_in else dt.complex64, "forward", 14, 0),
                             (dt.float32 if real_in else dt.complex128, "backward", 4, 0)]:
        a = _rand((3, 10), d)
        got = getattr(xp.fft, name)(xp.asarray(a), n=n, axis=axis, norm=norm)
        want = getattr(np.fft, name)(a, n=n, axis=axis, norm=norm)
        single = dt.real_of(d) is dt.float32
        assert got.dtype is (dt.from_numpy(want.dtype) if not single else
                             (dt.complex64 if want.dtype.kind == "c" else dt.float32))
        _close(got.numpy(), want, dt.float32 if single else dt.float64, max(1, np.abs(want).max()))
    assert fft.calls


@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn"])
def test_fft_n_dim(emulated, name):
    d = dt.float64 if name == "rfftn" else dt.complex128
    a = _rand((3, 4, 5, 6), d)
    cases = [dict(axes=(0, 2)), dict(s=(4, 8), axes=(-1, 1)), dict(axes=(0, 1, 2, 3))]
    for kw in cases:
        got = getattr(xp.fft, name)(xp.asarray(a), **kw)
        want = getattr(np.fft, name)(a, **kw)
        assert got.shape == want.shape, kw
        _close(got.numpy(), want, dt.float64, max(1, np.abs(want).max()))


def test_irfft_ignores_imaginary_dc_and_nyquist(emulated):
    a = _rand((8,), dt.complex128) * 3
    for n in (14, 15):
        _close(xp.fft.irfft(xp.asarray(a), n=n).numpy(), np.fft.irfft(a, n=n), dt.float64, 10)


# ------------------------------------------------------------------ the bindings' signatures
def test_nvmath_signatures(monkeypatch):
    """Run the real Solver/FFT classes against nvmath's bindings with a proxy that checks
    each call's arguments against the binding (which then stops at 'no CUDA driver')."""
    nvm = pytest.importorskip("nvmath.bindings.cusolverDn")
    cufft = pytest.importorskip("nvmath.bindings.cufft")

    class Proxy:
        def __init__(self, mod):
            self.mod, self.seen = mod, []

        def __getattr__(self, name):
            real = getattr(self.mod, name)

            def call(*args):
                self.seen.append(name)
                try:
                    real(*args)
                except (TypeError, OverflowError, ValueError) as e:
                    raise AssertionError(f"{name}{args}: {e}") from None
                except Exception:  # no driver / library here: the arguments parsed
                    pass
                if name.endswith("_buffer_size"):
                    return (256, 0) if name.startswith("x") else 64
                if name in ("make_plan_many64",):
                    return 4096
                return 1 if name.startswith("create") else None
            return call

    class Dev:  # just what Solver/FFT use of a device and its backend
        type = "cuda"

        def __init__(self):
            self.backend = self

        def _set_ctx(self):
            pass

        def stream_ptr(self):
            return 0x7000

    monkeypatch.setattr(cl, "Buffer", lambda device, n, d: type("B", (), {"handle": type("H", (), {"ptr": 0x9000})()})())
    s = object.__new__(cl.Solver)
    s.sd, s.device, s.be, s.handle, s.params = Proxy(nvm), Dev(), Dev(), 1, 2
    import threading
    s.lock = threading.Lock()
    for d in (dt.float32, dt.float64, dt.complex64, dt.complex128):
        s.potrf(d, 8, 0x1000, 0x2000)
        s.getrf(d, 8, 0x1000, 0x3000, 0x2000)
        s.getrs(d, cl.OP_T, 8, 3, 0x1000, 0x3000, 0x4000, 0x2000)
        s.syevd(d, True, 8, 0x1000, 0x5000, 0x2000)
        s.gesvd(d, "S", 9, 8, 0x1000, 0x5000, 0x6000, 0x7000, 0x2000)
        s.gesvd(d, "N", 9, 8, 0x1000, 0x5000, 0x6000, 0x7000, 0x2000)
        s.geqrf(d, 9, 8, 0x1000, 0x5000, 0x2000)
        s.orgqr(d, 9, 8, 8, 0x1000, 0x5000, 0x2000)
    assert {"xpotrf", "xgetrf", "xgetrs", "xsyevd", "xgesvd", "xgeqrf", "sorgqr", "zungqr"} <= set(s.sd.seen)
    f = object.__new__(cl.FFT)
    f.cf, f.device, f.be, f.plans = Proxy(cufft), Dev(), Dev(), {}
    f.lock = threading.Lock()
    for kind, d in [("c2c", dt.complex64), ("c2c", dt.complex128), ("r2c", dt.float32), ("r2c", dt.float64),
                    ("c2r", dt.complex64), ("c2r", dt.complex128)]:
        f.execute(kind, d, (8, 6), 5, 0x1000, 0x2000, kind == "c2r")
    assert {"make_plan_many64", "set_work_area", "exec_c2c", "exec_z2z", "exec_r2c", "exec_d2z", "exec_c2r",
            "exec_z2d"} <= set(f.cf.seen)


def test_without_nvmath_cuda_arrays_keep_the_host_path(monkeypatch):
    monkeypatch.setattr(cl, "_import_error", "nvmath-python is not usable (test)")
    assert cl.why_unavailable().startswith("nvmath-python")
    x = xp.asarray(np.eye(2, dtype=np.float32))
    assert not cl.usable(x)  # (a cpu array never takes it either)
    np.testing.assert_array_equal(xp.linalg.inv(x).numpy(), np.eye(2))


# ------------------------------------------------------------------ on a real GPU (-m cuda)
def _gpu():
    from zyx.backends import cuda
    if cuda.device_count() == 0:
        pytest.skip("no CUDA GPU")
    if cl.why_unavailable():
        pytest.skip(cl.why_unavailable())
    return "cuda:0"


@pytest.mark.cuda
@pytest.mark.parametrize("d", DTYPES, ids=lambda d: d.name)
def test_gpu_linalg_matches_numpy(d):
    dev = _gpu()
    be = zyx.get_device(dev).backend
    a, g = _hpd((2,), 33, d), _rand((3, 17, 17), d)
    x, y = xp.asarray(a, device=dev), xp.asarray(g, device=dev)
    _close(xp.linalg.cholesky(x).numpy(), np.linalg.cholesky(a), d, 30)
    _close(xp.linalg.det(y).numpy(), np.linalg.det(g), d, np.abs(np.linalg.det(g)).max())
    _close(xp.linalg.inv(y).numpy(), np.linalg.inv(g), d, 100)
    b = _rand((3, 17, 4), d)
    _close(xp.linalg.solve(y, xp.asarray(b, device=dev)).numpy(), np.linalg.solve(g, b), d, 100)
    _close(xp.linalg.eigvalsh(x).numpy(), np.linalg.eigvalsh(a), d, 100)
    w, v = xp.linalg.eigh(x)
    vv = v.numpy()
    _close(a @ vv, vv * w.numpy()[..., None, :], d, 100)
    for shape in [(40, 7), (7, 40)]:
        m = _rand(shape, d)
        U, S, Vh = xp.linalg.svd(xp.asarray(m, device=dev), full_matrices=False)
        _close(U.numpy() @ (S.numpy()[:, None] * Vh.numpy()), m, d, 10)
        Q, R = xp.linalg.qr(xp.asarray(m, device=dev))
        _close(Q.numpy() @ R.numpy(), m, d, 10)
    _close(xp.linalg.pinv(xp.asarray(g[0], device=dev)).numpy(), np.linalg.pinv(g[0]), d, 100)
    xp.linalg.svd(y)[1].numpy()
    pooled = sum(len(v) for v in be._free.values())
    for _ in range(3):
        xp.linalg.svd(y)[1].numpy()
    assert sum(len(v) for v in be._free.values()) <= pooled + 2  # workspaces come back to the pool


@pytest.mark.cuda
def test_gpu_linalg_errors_leave_the_device_usable():
    dev = _gpu()
    s = xp.asarray(np.array([[1.0, 2.0], [2.0, 4.0]], np.float32), device=dev)
    with pytest.raises(np.linalg.LinAlgError):
        xp.linalg.inv(s)
    with pytest.raises(np.linalg.LinAlgError):
        xp.linalg.cholesky(xp.asarray(np.array([[1.0, 2.0], [2.0, 1.0]], np.float32), device=dev))
    assert float(xp.linalg.det(s)) == 0.0
    assert (xp.linalg.inv(s + xp.eye(2, device=dev)) @ (s + xp.eye(2, device=dev))).numpy().round(5).tolist() == \
        [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.cuda
@pytest.mark.parametrize("name", ONE_D + ["fftn", "ifftn", "rfftn", "irfftn"])
def test_gpu_fft_matches_numpy(name):
    dev = _gpu()
    real_in = name in ("rfft", "ihfft", "rfftn")
    for d in ([dt.float32, dt.float64] if real_in else [dt.complex64, dt.complex128]):
        a = _rand((4, 6, 10), d)
        got = getattr(xp.fft, name)(xp.asarray(a, device=dev))
        want = getattr(np.fft, name)(a)
        single = d in (dt.float32, dt.complex64)
        _close(got.numpy(), want, dt.float32 if single else dt.float64, max(1, np.abs(want).max()))
