"""Linear algebra on CUDA devices: cuSOLVER through NVIDIA's ``nvmath-python`` bindings.

``linalg.py`` sends ``cholesky``, ``det``, ``slogdet``, ``inv``, ``solve``, ``eigh``,
``eigvalsh``, ``svd``, ``svdvals``, ``qr``, ``pinv`` and ``matrix_rank`` of arrays on a
``cuda`` device here (``fft.py`` sends its transforms to ``_cuda_fft.py``, which uses the
cuFFT half of this module); every other device keeps the host fallback. The data never
leaves the GPU: inputs are realized into scratch buffers from zyx's memory pool, cuSOLVER
works on them in place on zyx's stream, and the results are buffer leaves of zyx arrays,
finished with ordinary lazy ops (triangles, transposes, conjugates, sign products) that fuse
into whatever consumes them. Workspaces come from the same pool and return to it.

**Layouts.** zyx buffers are row-major, cuSOLVER's matrices column-major, so a buffer
holding ``A`` is ``A^T`` to cuSOLVER. Each routine is arranged so no transposition is
needed where the algebra allows: Cholesky takes the upper factor of ``A^T`` (= the lower
factor of ``A`` read row-major), LU of ``A^T`` gives ``det(A)`` and (with the transposed
solve) ``A^{-1}`` and ``A^{-1} B``, the SVD of a wide ``A^T`` gives ``U`` and ``Vh`` of ``A``
directly (a tall ``A`` is transposed once), and ``eigh`` of ``A^T = conj(A)`` gives
conjugated eigenvectors. Batches (leading axes) loop over the matrices on the stream.

**Errors** are NumPy's: a singular matrix (``inv``, ``solve``) or one that is not positive
definite (``cholesky``) raises ``numpy.linalg.LinAlgError`` (a ValueError), read from
cuSOLVER's ``info`` (the one device-to-host read of those calls; ``det``/``slogdet``/
``eigh``... do not wait); the scratch buffers are freed and the device stays usable.

Without ``nvmath-python`` (``pip install 'zyx[cuda]'``), ``usable()`` is False and the
host fallback runs. ``why_unavailable()`` says why.
"""
from __future__ import annotations

import ctypes
import math
import threading

import numpy as np

from .. import creation
from .. import dtypes as dt
from .. import graph
from ..device import Buffer, Device
from ..tensor import Tensor

# cuSOLVER / cuBLAS / CUDA enums (stable C ABI values)
_CUDA_TYPE = {"float32": 0, "float64": 1, "complex64": 4, "complex128": 5}  # cudaDataType
UPPER = 1  # cublasFillMode_t
OP_N, OP_T = 0, 1  # cublasOperation_t

_import_error: str | None = "not checked"


def why_unavailable() -> str | None:
    """None when cuSOLVER and cuFFT can be used, else the reason (nvmath-python missing)."""
    global _import_error
    if _import_error == "not checked":
        try:
            import nvmath.bindings.cufft  # noqa: F401
            import nvmath.bindings.cusolverDn  # noqa: F401
            _import_error = None
        except Exception as e:  # ImportError, or its CUDA libraries failing to load
            _import_error = (f"nvmath-python is not usable ({type(e).__name__}: {e}); "
                             "pip install 'zyx[cuda]' for cuSOLVER/cuFFT")
    return _import_error


_broken: dict[Device, str] = {}  # devices whose cuSOLVER/cuFFT could not start, and why


def usable(*xs: Tensor) -> bool:
    """Whether ``xs`` (on one device) take the device path: a ``cuda`` device whose
    cuSOLVER and cuFFT start (nvmath-python and the CUDA libraries present), concrete
    non-empty shapes. Otherwise the caller runs its host fallback."""
    x = xs[0]
    if x.device.type != "cuda" or why_unavailable() is not None or x.device in _broken:
        return False
    if not all(t.size > 0 and all(isinstance(s, int) for s in t.shape) for t in xs):
        return False
    try:
        library("solver", x.device)
        library("fft", x.device)
    except Exception as e:  # e.g. libcusolver missing: say why once, then keep to the host path
        _broken[x.device] = f"{type(e).__name__}: {e}"
        import warnings
        warnings.warn(f"zyx: cuSOLVER/cuFFT unavailable on {x.device} ({_broken[x.device]}); "
                      "linalg and fft run on the host", RuntimeWarning, stacklevel=3)
        return False
    return True


# ------------------------------------------------------------------ the libraries
class Solver:
    """cuSOLVER (dense) on one device, on zyx's stream. Every method takes device
    addresses (ints) of column-major matrices with leading dimension = rows, and an
    ``info`` address for one int32; workspaces are taken from zyx's pool."""

    def __init__(self, device: Device):
        from nvmath.bindings import cusolverDn
        self.sd, self.device, self.be = cusolverDn, device, device.backend
        self.be._set_ctx()
        self.handle = cusolverDn.create()
        cusolverDn.set_stream(self.handle, self.be.stream_ptr())
        self.params = cusolverDn.create_params()
        self.lock = threading.Lock()

    def _workspace(self, sizes) -> tuple[int, int, object]:
        dev_bytes, host_bytes = (int(v) for v in sizes)
        dbuf = Buffer(self.device, max(dev_bytes, 1), dt.uint8)
        hbuf = np.empty(max(host_bytes, 1), np.uint8)
        return dbuf.handle.ptr, hbuf.ctypes.data, (dbuf, hbuf, dev_bytes, host_bytes)

    def _call(self, name: str, sizes_args: tuple, args_before: tuple, args_after: tuple = ()):
        """``x<name>_bufferSize`` then ``x<name>`` with the workspaces between the
        routine's own arguments and ``info`` (the 64-bit generic API's order)."""
        sd = self.sd
        with self.lock:
            self.be._set_ctx()
            sizes = getattr(sd, f"x{name}_buffer_size")(self.handle, self.params, *sizes_args)
            dptr, hptr, keep = self._workspace(sizes)
            getattr(sd, f"x{name}")(self.handle, self.params, *args_before, dptr, keep[2], hptr, keep[3],
                                    *args_after)

    def potrf(self, d: dt.DType, n: int, a: int, info: int) -> None:
        t = _CUDA_TYPE[d.name]
        self._call("potrf", (UPPER, n, t, a, n, t), (UPPER, n, t, a, n, t), (info,))

    def getrf(self, d: dt.DType, n: int, a: int, ipiv: int, info: int) -> None:
        t = _CUDA_TYPE[d.name]
        self._call("getrf", (n, n, t, a, n, t), (n, n, t, a, n, ipiv, t), (info,))

    def getrs(self, d: dt.DType, trans: int, n: int, nrhs: int, a: int, ipiv: int, b: int, info: int) -> None:
        t = _CUDA_TYPE[d.name]
        with self.lock:
            self.be._set_ctx()
            self.sd.xgetrs(self.handle, self.params, trans, n, nrhs, t, a, n, ipiv, t, b, n, info)

    def syevd(self, d: dt.DType, vectors: bool, n: int, a: int, w: int, info: int) -> None:
        t, tw = _CUDA_TYPE[d.name], _CUDA_TYPE[dt.real_of(d).name]
        jobz = 1 if vectors else 0
        self._call("syevd", (jobz, UPPER, n, t, a, n, tw, w, t), (jobz, UPPER, n, t, a, n, tw, w, t), (info,))

    def gesvd(self, d: dt.DType, job: str, m: int, n: int, a: int, s: int, u: int, vt: int, info: int) -> None:
        """``job`` 'A' (full U and VT), 'S' (reduced) or 'N' (values only); m >= n."""
        t, ts = _CUDA_TYPE[d.name], _CUDA_TYPE[dt.real_of(d).name]
        j = ord(job)
        ldvt = n
        args = (j, j, m, n, t, a, m, ts, s, t, u, m, t, vt, ldvt, t)
        self._call("gesvd", args, args, (info,))

    def geqrf(self, d: dt.DType, m: int, n: int, a: int, tau: int, info: int) -> None:
        t = _CUDA_TYPE[d.name]
        self._call("geqrf", (m, n, t, a, m, t, tau, t), (m, n, t, a, m, t, tau, t), (info,))

    def orgqr(self, d: dt.DType, m: int, n: int, k: int, a: int, tau: int, info: int) -> None:
        name = {"float32": "sorgqr", "float64": "dorgqr", "complex64": "cungqr", "complex128": "zungqr"}[d.name]
        with self.lock:
            self.be._set_ctx()
            lwork = int(getattr(self.sd, f"{name}_buffer_size")(self.handle, m, n, k, a, m, tau))
            work = Buffer(self.device, max(lwork, 1), d)
            getattr(self.sd, name)(self.handle, m, n, k, a, m, tau, work.handle.ptr, lwork, info)


class FFT:
    """cuFFT plans for one device, cached by layout (at most ``MAX_PLANS``), executed on
    zyx's stream with work areas taken from zyx's pool (auto-allocation off, so cuFFT
    holds no memory of its own between calls)."""

    MAX_PLANS = 32
    TYPES = {("c2c", "complex64"): 0x29, ("c2c", "complex128"): 0x69, ("r2c", "float32"): 0x2A,
             ("r2c", "float64"): 0x6A, ("c2r", "complex64"): 0x2C, ("c2r", "complex128"): 0x6C}

    def __init__(self, device: Device):
        from nvmath.bindings import cufft
        self.cf, self.device, self.be = cufft, device, device.backend
        self.plans: dict[tuple, tuple[int, int]] = {}
        self.lock = threading.Lock()

    def _plan(self, kind: str, d: dt.DType, dims: tuple[int, ...], batch: int) -> tuple[int, int]:
        key = (kind, d.name, dims, batch)
        got = self.plans.pop(key, None)
        if got is None:
            cf = self.cf
            plan = cf.create()
            try:
                cf.set_auto_allocation(plan, 0)
                work = int(cf.make_plan_many64(plan, len(dims), list(dims), 0, 1, 0, 0, 1, 0,
                                               self.TYPES[(kind, d.name)], batch))
            except BaseException:
                cf.destroy(plan)
                raise
            got = (plan, work)
            if len(self.plans) >= self.MAX_PLANS:  # drop the least recently used
                old = next(iter(self.plans))
                cf.destroy(self.plans.pop(old)[0])
        self.plans[key] = got  # most recently used last
        return got

    def execute(self, kind: str, d: dt.DType, dims: tuple[int, ...], batch: int, src: int, dst: int,
                inverse: bool) -> None:
        """One batched transform over the last ``len(dims)`` axes (unnormalized; ``d`` is
        the input dtype: complex for c2c/c2r, real for r2c)."""
        cf = self.cf
        with self.lock:
            self.be._set_ctx()
            plan, work = self._plan(kind, d, dims, batch)
            area = Buffer(self.device, max(work, 1), dt.uint8)
            cf.set_stream(plan, self.be.stream_ptr())
            cf.set_work_area(plan, area.handle.ptr)
            double = d in (dt.float64, dt.complex128)
            if kind == "c2c":
                (cf.exec_z2z if double else cf.exec_c2c)(plan, src, dst, 1 if inverse else -1)
            elif kind == "r2c":
                (cf.exec_d2z if double else cf.exec_r2c)(plan, src, dst)
            else:
                (cf.exec_z2d if double else cf.exec_c2r)(plan, src, dst)


_libs: dict[tuple[str, Device], object] = {}
_libs_lock = threading.Lock()


def library(kind: str, device: Device):
    """The device's ``Solver`` (kind "solver") or ``FFT`` (kind "fft"), made once."""
    with _libs_lock:
        lib = _libs.get((kind, device))
        if lib is None:
            lib = _libs[(kind, device)] = (Solver if kind == "solver" else FFT)(device)
        return lib


# ------------------------------------------------------------------ buffers
def address(buf: Buffer) -> int:
    """Device address of a buffer (host address on the CPU, for the tests' emulation)."""
    h = buf.handle
    return h.ptr if buf.device.type == "cuda" else h.ctypes.data


def _copy(dst: Buffer, src: Buffer, nbytes: int) -> None:
    if dst.device.type == "cuda":
        dst.device.backend.copy_device(dst.handle, src.handle, nbytes)
    else:
        ctypes.memmove(address(dst), address(src), nbytes)


def scratch(t: Tensor, dtype: dt.DType | None = None) -> Buffer:
    """A new buffer holding ``t`` (cast to ``dtype``), contiguous, that nothing else sees:
    cuSOLVER overwrites its input."""
    if dtype is not None and dtype is not t.dtype:
        t = t.cast(dtype)
    t.realize()
    src = t._node.buffer
    out = Buffer(t.device, src.size, src.dtype)
    _copy(out, src, src.nbytes)
    return out


def leaf(buf: Buffer, shape: tuple[int, ...]) -> Tensor:
    """A zyx array over ``buf`` (its first prod(shape) elements)."""
    n = math.prod(shape)
    node = graph.buffer_node(buf, (buf.size,), buf.dtype, buf.device)
    t = Tensor._wrap(node)
    if buf.size != n:
        t = t.shrink(((0, n, 1),))
    return t.reshape(shape)


def new_buffer(device: Device, count: int, dtype: dt.DType) -> Buffer:
    return Buffer(device, max(count, 1), dtype)


def work_dtype(d: dt.DType) -> dt.DType:
    """LAPACK's precision for ``d`` (half precision runs in float32, as the host path)."""
    return dt.float32 if d in (dt.float16, dt.bfloat16) else d


def read_info(info: Buffer, count: int) -> np.ndarray:
    return info.to_numpy()[:count]


def _batch(x: Tensor) -> tuple[tuple[int, ...], int]:
    b = x.shape[:-2]
    return b, math.prod(b)


def _check(info: np.ndarray, message: str) -> None:
    if (info < 0).any():
        raise RuntimeError(f"cuSOLVER rejected argument {-int(info[info < 0][0])} (a zyx bug)")
    if (info > 0).any():
        raise np.linalg.LinAlgError(message)


def _solver(device: Device):
    return library("solver", device)


def _tril(t: Tensor, k: int = 0) -> Tensor:
    from ._creation import tril
    return tril(t, k=k)


def _triu(t: Tensor, k: int = 0) -> Tensor:
    from ._creation import triu
    return triu(t, k=k)


# ------------------------------------------------------------------ decompositions
def cholesky(x: Tensor, upper: bool) -> Tensor:
    w = work_dtype(x.dtype)
    batch, nb = _batch(x)
    n = x.shape[-1]
    a, info = scratch(x, w), new_buffer(x.device, nb, dt.int32)
    lib, item = _solver(x.device), w.itemsize
    for b in range(nb):  # the upper factor of A^T (column-major) is A's lower factor, row-major
        lib.potrf(w, n, address(a) + b * n * n * item, address(info) + 4 * b)
    _check(read_info(info, nb), "Matrix is not positive definite")
    L = _tril(leaf(a, batch + (n, n)))  # above the diagonal the input's values remain
    if upper:
        L = L.conj().mT if w.is_complex else L.mT
    return L.cast(x.dtype)


def _lu(x: Tensor, w: dt.DType):
    """LU of each A^T in place: (factors buffer, ipiv buffer, info buffer)."""
    batch, nb = _batch(x)
    n = x.shape[-1]
    a, ipiv, info = scratch(x, w), new_buffer(x.device, nb * n, dt.int64), new_buffer(x.device, nb, dt.int32)
    lib, item = _solver(x.device), w.itemsize
    for b in range(nb):
        lib.getrf(w, n, address(a) + b * n * n * item, address(ipiv) + 8 * b * n, address(info) + 4 * b)
    return a, ipiv, info


def _lu_parts(x: Tensor, w: dt.DType):
    """diag(U) and the pivots' sign (+-1) of each matrix, as lazy arrays (no wait)."""
    batch, _ = _batch(x)
    n = x.shape[-1]
    a, ipiv, _info = _lu(x, w)
    from .linalg import diagonal
    diag = diagonal(leaf(a, batch + (n, n)))
    piv = leaf(ipiv, batch + (n,))
    swaps = (piv != creation.arange(1, n + 1, 1, dtype=dt.int64, device=x.device)).cast(dt.int64).sum(axis=-1)
    sign = 1 - 2 * (swaps % 2)
    return diag, sign


def det(x: Tensor) -> Tensor:
    w = work_dtype(x.dtype)
    diag, sign = _lu_parts(x, w)  # det(A^T) = det(A); a singular A gives a zero pivot, det 0
    return (diag.prod(axis=-1) * sign.cast(w)).cast(x.dtype)


def slogdet(x: Tensor) -> tuple[Tensor, Tensor]:
    w = work_dtype(x.dtype)
    rd = dt.real_of(w)
    diag, sign = _lu_parts(x, w)
    mag = diag.abs()
    if w.is_complex:
        unit = (mag == 0).where(Tensor._const(0, (), w, x.device), diag / mag.cast(w))
    else:
        unit = diag.sign()
    s = unit.prod(axis=-1) * sign.cast(w)
    logabs = mag.cast(rd).log().sum(axis=-1)
    return s.cast(x.dtype), logabs.cast(dt.real_of(x.dtype))


def _eye_batch(n: int, batch: tuple[int, ...], w: dt.DType, device: Device) -> Tensor:
    return creation.eye(n, None, 0, dtype=w, device=device).broadcast_to(batch + (n, n))


def inv(x: Tensor) -> Tensor:
    w = work_dtype(x.dtype)
    batch, nb = _batch(x)
    n = x.shape[-1]
    a, ipiv, info = _lu(x, w)
    rhs, info2 = scratch(_eye_batch(n, batch, w, x.device)), new_buffer(x.device, nb, dt.int32)
    lib, item = _solver(x.device), w.itemsize
    for b in range(nb):  # (A^T) Y = I: Y = (A^-1)^T column-major, i.e. A^-1 row-major
        lib.getrs(w, OP_N, n, n, address(a) + b * n * n * item, address(ipiv) + 8 * b * n,
                  address(rhs) + b * n * n * item, address(info2) + 4 * b)
    _check(read_info(info, nb), "Singular matrix")
    _check(read_info(info2, nb), "Singular matrix")
    return leaf(rhs, batch + (n, n)).cast(x.dtype)


def solve(x1: Tensor, x2: Tensor, out_dtype: dt.DType) -> Tensor:
    """``x1 @ out = x2``; ``x2`` 1-d is one vector (the caller checked the shapes)."""
    from ..tensor import broadcast_shapes
    w = work_dtype(out_dtype)
    vector = x2.ndim == 1
    b2 = x2.reshape(x2.shape + (1,)) if vector else x2
    n, k = x1.shape[-1], b2.shape[-1]
    batch = broadcast_shapes(x1.shape[:-2], b2.shape[:-2])
    nb = math.prod(batch)
    a1 = x1.broadcast_to(batch + (n, n))
    a, ipiv, info = _lu(a1, w)
    rhs = scratch(b2.cast(w).broadcast_to(batch + (n, k)).mT)  # B column-major: rows (k, n)
    info2 = new_buffer(x1.device, nb, dt.int32)
    lib, item = _solver(x1.device), w.itemsize
    for b in range(nb):  # (A^T)^T Z = A Z = B
        lib.getrs(w, OP_T, n, k, address(a) + b * n * n * item, address(ipiv) + 8 * b * n,
                  address(rhs) + b * n * k * item, address(info2) + 4 * b)
    _check(read_info(info, nb), "Singular matrix")
    _check(read_info(info2, nb), "Singular matrix")
    out = leaf(rhs, batch + (k, n)).mT
    return (out[..., 0] if vector else out).cast(out_dtype)


def eigh(x: Tensor, vectors: bool = True):
    w = work_dtype(x.dtype)
    rd = dt.real_of(w)
    batch, nb = _batch(x)
    n = x.shape[-1]
    a, vals, info = scratch(x, w), new_buffer(x.device, nb * n, rd), new_buffer(x.device, nb, dt.int32)
    lib, item = _solver(x.device), w.itemsize
    for b in range(nb):  # A^T = conj(A): same eigenvalues, conjugated eigenvectors
        lib.syevd(w, vectors, n, address(a) + b * n * n * item, address(vals) + b * n * rd.itemsize,
                  address(info) + 4 * b)
    _check(read_info(info, nb), "Eigenvalues did not converge")
    ev = leaf(vals, batch + (n,)).cast(dt.real_of(x.dtype))
    if not vectors:
        return ev
    v = leaf(a, batch + (n, n))  # row-major reading of V (column-major) is V^T
    v = v.conj().mT if w.is_complex else v.mT
    return ev, v.cast(x.dtype)


def svd(x: Tensor, full_matrices: bool = True, compute_uv: bool = True):
    """(U, S, Vh) or S. cuSOLVER's gesvd needs rows >= columns: a wide A is factored as
    its own A^T (no transpose), a tall one is transposed once."""
    w = work_dtype(x.dtype)
    rd = dt.real_of(w)
    batch, nb = _batch(x)
    m, n = x.shape[-2:]
    k = min(m, n)
    wide = n >= m
    rows, cols = (n, m) if wide else (m, n)  # the column-major matrix cuSOLVER factors
    a = scratch(x if wide else x.mT, w)
    job = "N" if not compute_uv else ("A" if full_matrices else "S")
    ucols = rows if job == "A" else k
    s = new_buffer(x.device, nb * k, rd)
    u = new_buffer(x.device, nb * rows * ucols if compute_uv else 1, w)
    vt = new_buffer(x.device, nb * cols * cols if compute_uv else 1, w)
    info = new_buffer(x.device, nb, dt.int32)
    lib, item = _solver(x.device), w.itemsize
    for b in range(nb):
        lib.gesvd(w, job, rows, cols, address(a) + b * m * n * item, address(s) + b * k * rd.itemsize,
                  address(u) + (b * rows * ucols * item if compute_uv else 0),
                  address(vt) + (b * cols * cols * item if compute_uv else 0), address(info) + 4 * b)
    _check(read_info(info, nb), "SVD did not converge")
    S = leaf(s, batch + (k,)).cast(dt.real_of(x.dtype))
    if not compute_uv:
        return S
    ur = leaf(u, batch + (ucols, rows))  # row-major readings: U_c^T and (V_c^H)^T
    vr = leaf(vt, batch + (cols, cols))
    if wide:  # A = (A^T)^T = conj(V_c) S U_c^T: U = conj(V_c) = vr, Vh = U_c^T = ur
        U, Vh = vr, ur
    else:  # A = U_c S V_c^H: U = ur^T, Vh = vr^T
        U, Vh = ur.mT, vr.mT
    return U.cast(x.dtype), S, Vh.cast(x.dtype)


def qr(x: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    w = work_dtype(x.dtype)
    batch, nb = _batch(x)
    m, n = x.shape[-2:]
    k = min(m, n)
    a = scratch(x.mT, w)  # rows (n, m): A column-major
    tau, info = new_buffer(x.device, nb * k, w), new_buffer(x.device, nb, dt.int32)
    lib, item = _solver(x.device), w.itemsize
    for b in range(nb):
        lib.geqrf(w, m, n, address(a) + b * m * n * item, address(tau) + b * k * item, address(info) + 4 * b)
    qcols = m if mode == "complete" else k
    q = new_buffer(x.device, nb * m * qcols, w)
    for b in range(nb):  # Q from the reflectors, in a copy (R is read from the factored buffer)
        ncopy = min(n, qcols)
        src_off, dst_off = b * m * n * item, b * m * qcols * item
        _copy_range(q, dst_off, a, src_off, m * ncopy * item)
        lib.orgqr(w, m, qcols, k, address(q) + dst_off, address(tau) + b * k * item, address(info) + 4 * b)
    _check(read_info(info, nb), "QR failed")
    reading = leaf(a, batch + (n, m))  # [j, i] = A_c(i, j)
    R = _triu(reading.mT if mode == "complete" else reading.shrink(
        tuple((0, s, 1) for s in batch) + ((0, n, 1), (0, k, 1))).mT)
    Q = leaf(q, batch + (qcols, m)).mT
    return Q.cast(x.dtype), R.cast(x.dtype)


def _copy_range(dst: Buffer, dst_off: int, src: Buffer, src_off: int, nbytes: int) -> None:
    if dst.device.type == "cuda":
        be = dst.device.backend
        be._set_ctx()
        from ..backends.cuda import _check as cucheck
        cucheck("cuMemcpyDtoDAsync", be.drv.cuMemcpyDtoDAsync(dst.handle.ptr + dst_off, src.handle.ptr + src_off,
                                                              nbytes, be.stream))
    else:
        ctypes.memmove(address(dst) + dst_off, address(src) + src_off, nbytes)


def pinv(x: Tensor, rtol) -> Tensor:
    """V diag(1/s) U^H over the singular values above ``rtol * max(s)``."""
    U, S, Vh = svd(x, full_matrices=False)
    rd = S.dtype
    r = rtol if not isinstance(rtol, Tensor) else rtol.cast(rd).reshape(rtol.shape + (1,))
    cutoff = S.max(axis=-1, keepdims=True) * r
    inv_s = (S > cutoff).where(1 / S, Tensor._const(0, (), rd, x.device))
    uh = U.conj().mT if U.dtype.is_complex else U.mT
    vh = Vh.conj().mT if Vh.dtype.is_complex else Vh.mT
    return vh @ (inv_s.cast(uh.dtype).reshape(inv_s.shape + (1,)) * uh)


def matrix_rank(x: Tensor, rtol, default_rtol: float) -> Tensor:
    s = svd(x, compute_uv=False)
    top = s.max(axis=-1, keepdims=True)
    if rtol is None:
        tol = top * default_rtol
    else:
        r = rtol.cast(s.dtype).reshape(rtol.shape + (1,)) if isinstance(rtol, Tensor) else rtol
        tol = top * r
    return (s > tol).cast(dt.int64).sum(axis=-1)
