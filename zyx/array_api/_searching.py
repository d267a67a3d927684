"""Searching functions (standard section "Searching Functions").

``argmax``, ``argmin``, ``count_nonzero``, ``where`` and ``searchsorted`` run as kernels.
Host fallback: ``nonzero`` (data-dependent output shape: realizes its input and runs
NumPy's ``nonzero``), and ``searchsorted`` when ``x1.size * x2.size`` exceeds 2**26
elements of comparisons (then NumPy's binary search).
"""
from __future__ import annotations

import numpy as np

from .. import _math
from .. import dtypes as dt
from ..tensor import Tensor
from ._helpers import as_operand, axis_tuple, check_array, from_host, is_scalar, same_device

__all__ = ["argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where"]

_SEARCH_KERNEL_LIMIT = 1 << 26


def _arg(kind: str):
    def f(x: Tensor, /, *, axis: int | None = None, keepdims: bool = False) -> Tensor:
        check_array(x, kind)
        if x.dtype.is_complex:
            raise TypeError(f"{kind}: complex arrays are not ordered")
        if x.size == 0 and axis is None:  # (an empty axis is refused by the method; other axes may be empty)
            raise ValueError(f"{kind}: attempt to get {kind} of an empty array")
        if x.ndim == 0:
            return Tensor._const(0, (), dt.int64, x.device)
        return getattr(x, kind)(axis=axis, keepdims=keepdims)
    f.__name__ = f.__qualname__ = kind
    f.__doc__ = (f"Index (int64) of the first {'maximum' if kind == 'argmax' else 'minimum'} along ``axis`` "
                 "(the flattened array when ``axis`` is None). Runs as kernels.")
    return f


argmax = _arg("argmax")
argmin = _arg("argmin")


def count_nonzero(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """Number of non-zero elements (int64) over ``axis``."""
    check_array(x, "count_nonzero")
    axes = axis_tuple(axis, x.ndim)
    nz = x != 0 if x.dtype is not dt.bool_ else x
    return nz.sum(axis=axes, keepdims=keepdims, dtype=dt.int64)


def nonzero(x: Tensor, /) -> tuple[Tensor, ...]:
    """Indices of the non-zero elements, one int64 array per axis. Host fallback: the
    output size depends on the data, so ``x`` is realized and NumPy finds them."""
    check_array(x, "nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero: 0-d arrays are not supported; use nonzero(reshape(x, (1,)))")
    return tuple(from_host(i.astype(np.int64), x) for i in np.nonzero(x.numpy()))


def where(condition: Tensor, x1, x2, /) -> Tensor:
    """``x1`` where ``condition`` is true, else ``x2`` (broadcast; ``x1``/``x2`` may be
    Python scalars, which take the other operand's dtype)."""
    check_array(condition, "where", "condition")
    if isinstance(x1, Tensor):
        same_device("where", condition, x1)
        x2 = as_operand(x2, x1, "where")
    elif isinstance(x2, Tensor):
        same_device("where", condition, x2)
        x1 = as_operand(x1, x2, "where")
    elif not (is_scalar(x1) and is_scalar(x2)):
        raise TypeError("where: x1 and x2 must be arrays or Python scalars")
    if isinstance(x2, Tensor):
        same_device("where", condition, x2)
    return _math.where(condition, x1, x2)


def _less(a: Tensor, v: Tensor, right: bool) -> Tensor:
    """a < v (left) or a <= v (right), with NaN sorting after every number."""
    base = a <= v if right else a < v
    if not (a.dtype.is_float or v.dtype.is_float):
        return base
    vnan = v.isnan()
    if right:
        return base.logical_or(vnan)
    return base.logical_or(vnan.logical_and(a.isnan().logical_not()))


def searchsorted(x1: Tensor, x2, /, *, side: str = "left", sorter: Tensor | None = None) -> Tensor:
    """Insertion indices (int64) of ``x2`` into the sorted 1-d ``x1``. Runs as one
    counting kernel (``sum(x1 < v)``); falls back to NumPy on the host above 2**26
    comparisons."""
    check_array(x1, "searchsorted", "x1")
    if is_scalar(x2):
        x2 = as_operand(x2, x1, "searchsorted")
    check_array(x2, "searchsorted", "x2")
    same_device("searchsorted", x1, x2)
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', not {side!r}")
    if x1.ndim != 1:
        raise ValueError(f"searchsorted: x1 must be 1-d (got shape {x1.shape})")
    if x1.dtype.kind not in "iuf" or x2.dtype.kind not in "iuf":
        raise TypeError("searchsorted: only real numeric arrays are supported")
    if sorter is not None:
        check_array(sorter, "searchsorted", "sorter")
        same_device("searchsorted", x1, sorter)
        x1 = x1.take(sorter, 0)
    n = x1.shape[0]
    if n == 0 or x2.size == 0:
        return Tensor._const(0, x2.shape, dt.int64, x1.device)
    if n * x2.size > _SEARCH_KERNEL_LIMIT:
        res = np.searchsorted(x1.numpy(), x2.numpy(), side=side)
        return from_host(res.astype(np.int64), x1)
    d = dt.promote_types(x1.dtype, x2.dtype)
    a = x1.cast(d).reshape((1,) * x2.ndim + (n,))
    v = x2.cast(d).reshape(x2.shape + (1,))
    return _less(a, v, side == "right").sum(axis=-1, dtype=dt.int64)
