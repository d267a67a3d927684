"""Utility functions (standard section "Utility Functions"). All run as kernels."""
from __future__ import annotations

from .. import _movement
from .. import dtypes as dt
from ..tensor import Tensor, normalize_axis
from ._helpers import axis_tuple, check_array, same_device

__all__ = ["all", "any", "diff"]


def all(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether every element over ``axis`` is truthy (True for empty reductions)."""
    check_array(x, "all")
    return x.all(axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def any(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether any element over ``axis`` is truthy (False for empty reductions)."""
    check_array(x, "any")
    return x.any(axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def diff(x: Tensor, /, *, axis: int = -1, n: int = 1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """``n``-th discrete difference along ``axis``, after joining ``prepend`` and
    ``append`` (boolean arrays: ``!=``, as NumPy)."""
    check_array(x, "diff")
    if x.ndim == 0:
        raise ValueError("diff: x must have at least one dimension")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"diff: n must be a non-negative int, not {n!r}")
    ax = normalize_axis(axis, x.ndim)
    if n == 0:  # x, without prepend/append (as a new array: NumPy returns x itself)
        return Tensor._wrap(x._node)
    parts = [x]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        check_array(extra, "diff", name)
        same_device("diff", x, extra)
        if extra.ndim != x.ndim:
            raise ValueError(f"diff: {name} must have the rank of x ({x.ndim})")
        if name == "prepend":
            parts.insert(0, extra)
        else:
            parts.append(extra)
    if len(parts) > 1:
        x = _movement.cat(parts, ax)
    for _ in range(n):
        m = x.shape[ax]
        if m == 0:
            break
        hi = x.shrink(tuple((1, m - 1, 1) if i == ax else (0, s, 1) for i, s in enumerate(x.shape)))
        lo = x.shrink(tuple((0, m - 1, 1) if i == ax else (0, s, 1) for i, s in enumerate(x.shape)))
        x = hi != lo if x.dtype is dt.bool_ else hi - lo
    return x
