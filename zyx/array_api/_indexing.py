"""Indexing functions (standard section "Indexing Functions"). Both are gathers that
run in kernels; negative indices count from the end."""
from __future__ import annotations

from ..tensor import Tensor, normalize_axis
from ._helpers import check_array, same_device

__all__ = ["take", "take_along_axis"]


def _check_indices(x: Tensor, indices, fname: str) -> Tensor:
    check_array(x, fname)
    check_array(indices, fname, "indices")
    same_device(fname, x, indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{fname}: indices must have an integer dtype (got {indices.dtype.name})")
    return indices


def take(x: Tensor, indices: Tensor, /, *, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at ``indices`` along ``axis`` (optional for 1-d ``x``)."""
    _check_indices(x, indices, "take")
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take: axis is required for a {x.ndim}-d array")
        axis = 0
    if x.ndim == 0:
        raise ValueError("take: x must have at least one dimension")
    return x.take(indices, normalize_axis(axis, x.ndim))


def take_along_axis(x: Tensor, indices: Tensor, /, *, axis: int = -1) -> Tensor:
    """``out[..., i, ...] = x[..., indices[..., i, ...], ...]`` along ``axis``; ``indices``
    broadcasts against ``x`` on the other axes."""
    _check_indices(x, indices, "take_along_axis")
    if x.ndim == 0:
        raise ValueError("take_along_axis: x must have at least one dimension")
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices has rank {indices.ndim}, x has rank {x.ndim}")
    return x.take_along_axis(indices, normalize_axis(axis, x.ndim))
