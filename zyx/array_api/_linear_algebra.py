"""Linear algebra functions of the main namespace (standard section "Linear Algebra
Functions"): matmul, matrix_transpose, tensordot, vecdot. All are compositions of
Tensor ops (broadcast multiply + sum reductions) that run as kernels."""
from __future__ import annotations

from .. import _reduce
from .. import dtypes as dt
from ..tensor import Tensor, broadcast_shapes, normalize_axis
from ._helpers import check_array, same_device

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]


def _pair(x1, x2, fname: str) -> tuple[Tensor, Tensor]:
    check_array(x1, fname, "x1")
    check_array(x2, fname, "x2")
    same_device(fname, x1, x2)
    if x1.dtype is dt.bool_ or x2.dtype is dt.bool_:
        raise TypeError(f"{fname}: boolean arrays are not supported")
    d = dt.promote_types(x1.dtype, x2.dtype)
    return x1.cast(d), x2.cast(d)


def matmul(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Matrix product with broadcasting of batch dimensions; 1-d operands are treated as
    vectors (NumPy's rules). ValueError for 0-d operands or mismatched inner sizes."""
    a, b = _pair(x1, x2, "matmul")
    return _reduce.matmul(a, b)


def matrix_transpose(x: Tensor, /) -> Tensor:
    """Swap the last two axes (a view)."""
    check_array(x, "matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: x must have at least 2 dimensions (got shape {x.shape})")
    return x.mT


def tensordot(x1: Tensor, x2: Tensor, /, *, axes=2) -> Tensor:
    """Contract the last ``axes`` axes of ``x1`` with the first ``axes`` of ``x2`` (or the
    axis lists in ``axes = (axes1, axes2)``), as one matrix product."""
    a, b = _pair(x1, x2, "tensordot")
    if isinstance(axes, int) and not isinstance(axes, bool):
        if axes < 0 or axes > a.ndim or axes > b.ndim:
            raise ValueError(f"tensordot: axes={axes} is out of range for ranks {a.ndim} and {b.ndim}")
        ax1 = list(range(a.ndim - axes, a.ndim))
        ax2 = list(range(axes))
    else:
        try:
            ax1, ax2 = (list(axes[0]), list(axes[1]))
        except (TypeError, IndexError):
            raise TypeError("tensordot: axes must be an int or a pair of axis sequences") from None
        if len(ax1) != len(ax2):
            raise ValueError("tensordot: the two axis sequences need the same length")
        ax1 = [normalize_axis(i, a.ndim) for i in ax1]
        ax2 = [normalize_axis(i, b.ndim) for i in ax2]
    sizes = []
    for i, j in zip(ax1, ax2):
        si, sj = a.shape[i], b.shape[j]
        if si != sj and 1 not in (si, sj):
            raise ValueError(f"tensordot: contracted axes differ in size ({si} vs {sj})")
        sizes.append(max(si, sj))
    free1 = [i for i in range(a.ndim) if i not in ax1]
    free2 = [j for j in range(b.ndim) if j not in ax2]
    k = 1
    for s in sizes:
        k *= s
    pa = a.permute(*free1, *ax1) if a.ndim else a
    pb = b.permute(*ax2, *free2) if b.ndim else b
    pa = pa.broadcast_to(tuple(a.shape[i] for i in free1) + tuple(sizes))
    pb = pb.broadcast_to(tuple(sizes) + tuple(b.shape[j] for j in free2))
    m = 1
    for i in free1:
        m *= a.shape[i]
    n = 1
    for j in free2:
        n *= b.shape[j]
    out = _reduce.matmul(pa.reshape(m, k), pb.reshape(k, n))
    return out.reshape(tuple(a.shape[i] for i in free1) + tuple(b.shape[j] for j in free2))


def vecdot(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """``sum(conj(x1) * x2, axis)`` with broadcasting of the other axes."""
    a, b = _pair(x1, x2, "vecdot")
    shape = broadcast_shapes(a.shape, b.shape)
    if not shape:
        raise ValueError("vecdot: inputs must have at least one dimension")
    ax = normalize_axis(axis, len(shape))
    na = a.shape[ax - len(shape) + a.ndim] if ax - len(shape) + a.ndim >= 0 else 1
    nb = b.shape[ax - len(shape) + b.ndim] if ax - len(shape) + b.ndim >= 0 else 1
    if na != nb:
        raise ValueError(f"vecdot: the contracted axis differs in size ({na} vs {nb})")
    if a.dtype.is_complex:
        a = a.conj()
    return (a * b).sum(axis=ax, dtype=a.dtype)
