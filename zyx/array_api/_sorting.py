"""Sorting functions (standard section "Sorting Functions").

Host fallback: ``sort`` and ``argsort`` realize their input and sort on the host with
NumPy's stable sort (NaNs last in ascending order), then put the result back on the
input's device. Listed in docs/array_api.md.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, normalize_axis
from ._helpers import check_array, from_host

__all__ = ["argsort", "sort"]


def _check(x: Tensor, axis: int, fname: str) -> int:
    check_array(x, fname)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{fname}: only real numeric arrays can be sorted (got {x.dtype.name})")
    if x.ndim == 0:
        raise ValueError(f"{fname}: x must have at least one dimension")
    return normalize_axis(axis, x.ndim)


def argsort(x: Tensor, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (int64). Stable: equal elements keep their
    order, also when ``descending``. Host fallback (NumPy)."""
    ax = _check(x, axis, "argsort")
    a = x.numpy()
    if not descending:
        res = np.argsort(a, axis=ax, kind="stable")
    else:
        res = np.flip(np.argsort(np.flip(a, axis=ax), axis=ax, kind="stable"), axis=ax)
        res = (a.shape[ax] - 1) - res
    return from_host(res.astype(np.int64), x)


def sort(x: Tensor, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    """``x`` sorted along ``axis``. Host fallback (NumPy)."""
    ax = _check(x, axis, "sort")
    res = np.sort(x.numpy(), axis=ax, kind="stable")
    if descending:
        res = np.flip(res, axis=ax)
    return from_host(res, x)
