"""The ``linalg`` extension of the array API standard (``zyx.array_api.linalg``).

Runs as kernels (compositions of Tensor ops): ``cross``, ``diagonal``, ``matmul``,
``matrix_norm`` (ord 'fro', 1, -1, inf, -inf), ``matrix_power`` (n >= 0, repeated
squaring), ``matrix_transpose``, ``outer``, ``tensordot``, ``trace``, ``vecdot``,
``vector_norm``.

On ``cuda`` devices (with nvmath-python, the ``cuda`` extra) ``cholesky``, ``det``,
``eigh``, ``eigvalsh``, ``inv``, ``matrix_rank``, ``pinv``, ``qr``, ``slogdet``,
``solve``, ``svd``, ``svdvals`` (and so ``matrix_norm`` 2/-2/'nuc' and ``matrix_power``
n < 0) run through cuSOLVER on the device (``_cuda_linalg.py``).

Host fallbacks (the input is realized, LAPACK runs through NumPy on the host - through
SciPy's single-precision routines for a large float32/complex64 matrix where SciPy is
loaded, see ``_Lapack`` - and the result is put back on the input's device; batched over
leading axes): those functions on every other device, and ``eig``/``eigvals`` everywhere.
See docs/array_api.md for the table.
"""
from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np

from .. import _blas
from .. import dtypes as dt
from ..tensor import AxisError, Tensor, broadcast_shapes, normalize_axis
from . import _cuda_linalg
from ._helpers import check_array, dtype_arg, from_host, new_array, same_device
from ._linear_algebra import matmul, matrix_transpose, tensordot, vecdot

__all__ = ["cholesky", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet",
           "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm"]


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class EigResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def _floating(x: Tensor, fname: str, square: bool = False, min_ndim: int = 2) -> Tensor:
    check_array(x, fname)
    if not x.dtype.is_inexact:
        raise TypeError(f"linalg.{fname}: x must have a floating-point dtype (got {x.dtype.name})")
    if x.ndim < min_ndim:
        raise ValueError(f"linalg.{fname}: x must have at least {min_ndim} dimensions (got shape {x.shape})")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.{fname}: x must be a stack of square matrices (got shape {x.shape})")
    return x


class _Lapack:
    """``np.linalg``'s functions, each run with one BLAS thread when its matrices are
    mid-sized or small (see zyx/_blas.py: the host fallbacks run between zyx's kernels,
    where waking OpenBLAS's thread pool cost more than the factorisation).

    NumPy computes every float32 (complex64) factorisation in double precision and rounds
    the result: a single-precision matrix of ``_SCIPY_FROM`` work or more goes to SciPy's
    bindings of LAPACK's single-precision routines instead (``svd``, ``eigh``,
    ``eigvalsh``, ``cholesky``, ``qr``; measured on the 2-core dev machine: a 4000 x 64
    float32 SVD 7.9 -> 4.0 ms, a 256 x 256 QR 6.0 -> 3.4 ms), as PyTorch and CuPy compute
    float32 in float32 - where SciPy is already loaded (scikit-learn and SciPy load it;
    importing it costs ~0.2 s, more than it saves) and for 2-D matrices. A call SciPy
    refuses (non-finite input: its finiteness check) or LAPACK fails (not positive definite,
    no convergence) takes NumPy's way, in double precision, with NumPy's result or error."""

    def __getattr__(self, name: str):
        f = getattr(np.linalg, name)
        single = _SCIPY.get(name)

        def call(a, *args, **kw):
            shape = np.shape(a)
            m, n = shape[-2:] if len(shape) >= 2 else (math.prod(shape), 1)
            work = math.prod(shape[:-2]) * m * n * min(m, n)
            if (single is not None and work >= _SCIPY_FROM and len(shape) == 2 and a.dtype in _SINGLE
                    and (sl := sys.modules.get("scipy.linalg")) is not None):
                with _blas.one_thread(work, scipy=True):
                    try:
                        return single(sl, a, *args, **kw)
                    except ValueError:  # (LinAlgError is one) NumPy's way: its result or its error
                        pass
            with _blas.one_thread(work):
                return f(a, *args, **kw)
        return call


_SINGLE = (np.dtype(np.float32), np.dtype(np.complex64))
_SCIPY_FROM = 64 ** 3  # m n min(m, n): from here SciPy's single-precision call beats NumPy's (its wrapper costs ~50 us)
# SciPy's spellings of NumPy's calls (the same LAPACK drivers, in single precision)
_SCIPY = {
    "svd": lambda sl, a, full_matrices=True, compute_uv=True: sl.svd(
        a, full_matrices=full_matrices, compute_uv=compute_uv, lapack_driver="gesdd"),
    "eigh": lambda sl, a: sl.eigh(a, lower=True, driver="evd"),
    "eigvalsh": lambda sl, a: sl.eigh(a, lower=True, eigvals_only=True, driver="evd"),
    "cholesky": lambda sl, a: sl.cholesky(a, lower=True),
    "qr": lambda sl, a, mode="reduced": sl.qr(a, mode="economic" if mode == "reduced" else "full"),
}


_lapack = _Lapack()


def _host(x: Tensor) -> np.ndarray:
    """Realize ``x`` and return it as a host array (the start of every host fallback)."""
    a = x.numpy()
    return a if x.dtype is not dt.float16 else a.astype(np.float32)


def _back(arr: np.ndarray, like: Tensor, dtype: dt.DType | None = None) -> Tensor:
    d = dtype or like.dtype
    return from_host(np.asarray(arr).astype(d.np, copy=False), like)


def _real_dtype(x: Tensor) -> dt.DType:
    return dt.real_of(x.dtype)


# ------------------------------------------------------------------ host fallbacks
def cholesky(x: Tensor, /, *, upper: bool = False) -> Tensor:
    """Cholesky factor of Hermitian positive-definite matrices (lower, or upper with
    ``upper=True``). Host fallback (LAPACK via NumPy)."""
    _floating(x, "cholesky", square=True)
    if _cuda_linalg.usable(x):
        return _cuda_linalg.cholesky(x, upper)
    L = _lapack.cholesky(_host(x))
    if upper:
        L = np.conj(np.swapaxes(L, -1, -2))
    return _back(L, x)


def det(x: Tensor, /) -> Tensor:
    """Determinants of square matrices. Host fallback (LAPACK via NumPy)."""
    _floating(x, "det", square=True)
    if _cuda_linalg.usable(x):
        return _cuda_linalg.det(x)
    return _back(_lapack.det(_host(x)), x)


def slogdet(x: Tensor, /) -> SlogdetResult:
    """Sign and log of the absolute determinant. Host fallback (LAPACK via NumPy)."""
    _floating(x, "slogdet", square=True)
    if _cuda_linalg.usable(x):
        return SlogdetResult(*_cuda_linalg.slogdet(x))
    sign, logabs = _lapack.slogdet(_host(x))
    return SlogdetResult(_back(sign, x), _back(logabs, x, _real_dtype(x)))


def eigh(x: Tensor, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices. Host fallback."""
    _floating(x, "eigh", square=True)
    if _cuda_linalg.usable(x):
        return EighResult(*_cuda_linalg.eigh(x))
    w, v = _lapack.eigh(_host(x))
    return EighResult(_back(w, x, _real_dtype(x)), _back(v, x))


def eigvalsh(x: Tensor, /) -> Tensor:
    """Eigenvalues (ascending) of Hermitian matrices. Host fallback."""
    _floating(x, "eigvalsh", square=True)
    if _cuda_linalg.usable(x):
        return _cuda_linalg.eigh(x, vectors=False)
    return _back(_lapack.eigvalsh(_host(x)), x, _real_dtype(x))


def eig(x: Tensor, /) -> EigResult:
    """Eigenvalues and right eigenvectors of general square matrices, always complex
    (2025.12). Host fallback."""
    _floating(x, "eig", square=True)
    w, v = _lapack.eig(_host(x))
    cd = dt.complex_of(_real_dtype(x))
    return EigResult(_back(w, x, cd), _back(v, x, cd))


def eigvals(x: Tensor, /) -> Tensor:
    """Eigenvalues of general square matrices, always complex (2025.12). Host fallback."""
    _floating(x, "eigvals", square=True)
    return _back(_lapack.eigvals(_host(x)), x, dt.complex_of(_real_dtype(x)))


def inv(x: Tensor, /) -> Tensor:
    """Inverses of square matrices. Host fallback (LAPACK via NumPy)."""
    _floating(x, "inv", square=True)
    if _cuda_linalg.usable(x):
        return _cuda_linalg.inv(x)
    return _back(_lapack.inv(_host(x)), x)


def solve(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Solve ``x1 @ out = x2`` (``x2`` 1-d: one right-hand-side vector). Host fallback."""
    _floating(x1, "solve", square=True)
    check_array(x2, "solve", "x2")
    same_device("solve", x1, x2)
    d = dt.promote_types(x1.dtype, x2.dtype)
    if not d.is_inexact:
        raise TypeError("linalg.solve: needs floating-point arrays")
    if _cuda_linalg.usable(x1, x2) and x1.shape[-1] == x2.shape[0 if x2.ndim == 1 else -2]:
        return _cuda_linalg.solve(x1, x2, d)
    a, b = _host(x1), _host(x2)
    if b.ndim == 1:
        if b.shape[0] != a.shape[-1]:
            raise ValueError(f"linalg.solve: shapes {x1.shape} and {x2.shape} do not match")
        out = _lapack.solve(a, b[..., None])[..., 0] if a.ndim > 2 else _lapack.solve(a, b)
    else:
        if b.shape[-2] != a.shape[-1]:
            raise ValueError(f"linalg.solve: shapes {x1.shape} and {x2.shape} do not match")
        out = _lapack.solve(a, b)
    return _back(out, x1, d)


def qr(x: Tensor, /, *, mode: str = "reduced") -> QRResult:
    """QR decomposition ('reduced' or 'complete'). Host fallback (LAPACK via NumPy)."""
    _floating(x, "qr")
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', not {mode!r}")
    if _cuda_linalg.usable(x):
        return QRResult(*_cuda_linalg.qr(x, mode))
    q, r = _lapack.qr(_host(x), mode=mode)
    return QRResult(_back(q, x), _back(r, x))


def svd(x: Tensor, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition ``x = U @ diag(S) @ Vh``. Host fallback."""
    _floating(x, "svd")
    if _cuda_linalg.usable(x):
        return SVDResult(*_cuda_linalg.svd(x, full_matrices))
    u, s, vh = _lapack.svd(_host(x), full_matrices=full_matrices)
    return SVDResult(_back(u, x), _back(s, x, _real_dtype(x)), _back(vh, x))


def svdvals(x: Tensor, /) -> Tensor:
    """Singular values, descending. Host fallback."""
    _floating(x, "svdvals")
    if _cuda_linalg.usable(x):
        return _cuda_linalg.svd(x, compute_uv=False)
    return _back(_lapack.svd(_host(x), compute_uv=False), x, _real_dtype(x))


def _default_rtol(x: Tensor):
    return max(x.shape[-2:]) * float(np.finfo(_real_dtype(x).np).eps)


def matrix_rank(x: Tensor, /, *, rtol=None) -> Tensor:
    """Number of singular values above ``rtol * largest`` (int64). Host fallback for the
    singular values."""
    _floating(x, "matrix_rank")
    if _cuda_linalg.usable(x):
        return _cuda_linalg.matrix_rank(x, rtol, _default_rtol(x))
    s = _lapack.svd(_host(x), compute_uv=False)
    if rtol is None:
        tol = s.max(axis=-1, keepdims=True, initial=0.0) * _default_rtol(x)
    else:
        r = _host(rtol)[..., None] if isinstance(rtol, Tensor) else rtol
        tol = s.max(axis=-1, keepdims=True, initial=0.0) * r
    return _back((s > tol).sum(axis=-1), x, dt.int64)


def pinv(x: Tensor, /, *, rtol=None) -> Tensor:
    """Moore-Penrose pseudo-inverse (singular values below ``rtol * largest`` dropped).
    Host fallback."""
    _floating(x, "pinv")
    if _cuda_linalg.usable(x):
        return _cuda_linalg.pinv(x, _default_rtol(x) if rtol is None else rtol)
    r = _default_rtol(x) if rtol is None else (_host(rtol) if isinstance(rtol, Tensor) else rtol)
    return _back(_lapack.pinv(_host(x), rtol=r), x)


# ------------------------------------------------------------------ kernels
def diagonal(x: Tensor, /, *, offset: int = 0) -> Tensor:
    """The ``offset``-th diagonal of the last two axes (a strided view)."""
    check_array(x, "diagonal")
    if x.ndim < 2:
        raise ValueError(f"linalg.diagonal: x must have at least 2 dimensions (got shape {x.shape})")
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    if offset >= 0:
        count, start = max(0, min(m, n - offset)), offset
    else:
        count, start = max(0, min(m + offset, n)), -offset * n
    flat = x.reshape(batch + (m * n,))
    if count == 0:
        return Tensor._const(0, batch + (0,), x.dtype, x.device)
    bounds = tuple((0, s, 1) for s in batch) + ((start, count, n + 1),)
    return flat.shrink(bounds)


def trace(x: Tensor, /, *, offset: int = 0, dtype=None) -> Tensor:
    """Sum of the ``offset``-th diagonal of the last two axes (integers accumulate in the
    default (u)int64, as ``sum``)."""
    return diagonal(x, offset=offset).sum(axis=-1, dtype=dtype_arg(dtype, "trace"))


def outer(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Outer product of two 1-d arrays."""
    check_array(x1, "outer", "x1")
    check_array(x2, "outer", "x2")
    same_device("outer", x1, x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError("linalg.outer: both inputs must be 1-d")
    if x1.dtype is dt.bool_ and x2.dtype is dt.bool_:
        raise TypeError("linalg.outer: boolean arrays are not supported")
    return x1.reshape(x1.shape[0], 1) * x2.reshape(1, x2.shape[0])


def cross(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``axis``; the other axes broadcast, so the operands
    may differ in rank. ``axis`` counts from the end, in ``[-min(x1.ndim, x2.ndim), -1]``
    (a non-negative axis is accepted when the ranks are equal)."""
    check_array(x1, "cross", "x1")
    check_array(x2, "cross", "x2")
    same_device("cross", x1, x2)
    if x1.dtype is dt.bool_ or x2.dtype is dt.bool_:
        raise TypeError("linalg.cross: boolean arrays are not supported")
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("linalg.cross: x1 and x2 must have at least one dimension")
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"linalg.cross: axis must be an int, not {type(axis).__name__}")
    n = min(x1.ndim, x2.ndim)
    if axis >= 0 and x1.ndim == x2.ndim:
        axis -= x1.ndim
    if not -n <= axis <= -1:
        raise AxisError(f"linalg.cross: axis {axis} is out of bounds: it must count from the end, in "
                        f"[-{n}, -1], for operands of ranks {x1.ndim} and {x2.ndim}")
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError(f"linalg.cross: axis {axis} must have size 3 (shapes {x1.shape}, {x2.shape})")
    shape = broadcast_shapes(x1.shape, x2.shape)
    ax = len(shape) + axis
    d = dt.promote_types(x1.dtype, x2.dtype)
    a, b = x1.cast(d).broadcast_to(shape), x2.cast(d).broadcast_to(shape)

    def comp(t: Tensor, i: int) -> Tensor:
        return t.shrink(tuple((i, 1, 1) if j == ax else (0, s, 1) for j, s in enumerate(t.shape)))

    a0, a1, a2 = comp(a, 0), comp(a, 1), comp(a, 2)
    b0, b1, b2 = comp(b, 0), comp(b, 1), comp(b, 2)
    from .. import _movement
    c = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    return _movement.cat(c, ax)


def vector_norm(x: Tensor, /, *, axis=None, keepdims: bool = False, ord=2) -> Tensor:  # noqa: A002
    """p-norm over ``axis`` (``inf``: max abs, ``-inf``: min abs, 0: count of non-zeros);
    the result has ``x``'s real floating dtype."""
    check_array(x, "vector_norm")
    if not x.dtype.is_inexact:
        raise TypeError(f"linalg.vector_norm: x must have a floating-point dtype (got {x.dtype.name})")
    if axis is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axis, int):
        axes = (normalize_axis(axis, x.ndim),)
    else:
        axes = tuple(normalize_axis(a, x.ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError("linalg.vector_norm: repeated axis")
    a = x.abs() if x.dtype.is_complex or ord != 2 else x
    rd = _real_dtype(x)
    if ord == math.inf:
        out = a.max(axis=axes, keepdims=keepdims) if x.size else Tensor._const(0, (), rd, x.device)
    elif ord == -math.inf:
        out = a.min(axis=axes, keepdims=keepdims)
    elif ord == 0:
        out = (a != 0).sum(axis=axes, keepdims=keepdims).cast(rd)
    elif ord == 2:
        out = (a * a).sum(axis=axes, keepdims=keepdims).sqrt()
    elif ord == 1:
        out = a.sum(axis=axes, keepdims=keepdims)
    else:
        p = float(ord)
        out = (a ** p).sum(axis=axes, keepdims=keepdims) ** (1.0 / p)
    return out.cast(rd) if out.dtype is not rd else out


def matrix_norm(x: Tensor, /, *, keepdims: bool = False, ord="fro") -> Tensor:  # noqa: A002
    """Matrix norm over the last two axes: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf. The
    2/-2/'nuc' norms need singular values (host fallback); the others run as kernels."""
    _floating(x, "matrix_norm")
    rd = _real_dtype(x)
    if ord == "fro":
        a = x.abs() if x.dtype.is_complex else x
        out = (a * a).sum(axis=(-2, -1), keepdims=keepdims).sqrt()
    elif ord in (1, -1, math.inf, -math.inf):
        a = x.abs()
        sum_axis, pick_axis = (-2, -1) if ord in (1, -1) else (-1, -2)
        s = a.sum(axis=sum_axis, keepdims=True)
        out = s.max(axis=pick_axis, keepdims=True) if ord > 0 else s.min(axis=pick_axis, keepdims=True)
        if not keepdims:
            out = out.reshape(x.shape[:-2])
    elif ord in (2, -2, "nuc"):
        s = svdvals(x)
        out = s.sum(axis=-1) if ord == "nuc" else (s.max(axis=-1) if ord == 2 else s.min(axis=-1))
        if keepdims:
            out = out.reshape(x.shape[:-2] + (1, 1))
    else:
        raise ValueError(f"linalg.matrix_norm: unsupported ord {ord!r}")
    return out.cast(rd) if out.dtype is not rd else out


def matrix_power(x: Tensor, n: int, /) -> Tensor:
    """``x`` multiplied by itself ``n`` times (repeated squaring, as kernels; n < 0 takes
    one host ``inv`` first; n == 0 gives identities)."""
    check_array(x, "matrix_power")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("linalg.matrix_power: n must be an int")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.matrix_power: x must be a stack of square matrices (got shape {x.shape})")
    if n == 0:
        from .. import creation
        return creation.eye(x.shape[-1], dtype=x.dtype, device=x.device).broadcast_to(x.shape)
    if n < 0:
        x, n = inv(x), -n
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return new_array(result, x)
