"""Set functions (standard section "Set Functions").

Host fallback: the ``unique_*`` functions have data-dependent output shapes, so they
realize their input and run NumPy's ``unique`` on the host (NaNs are distinct, as the
standard asks). ``isin`` runs as kernels (a broadcast comparison reduced with ``any``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..tensor import Tensor
from ._helpers import binary_operands, check_array, from_host

__all__ = ["isin", "unique_all", "unique_counts", "unique_inverse", "unique_values"]


class UniqueAllResult(NamedTuple):
    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    values: Tensor
    inverse_indices: Tensor


def _unique(x: Tensor, fname: str):
    check_array(x, fname)
    a = x.numpy().reshape(-1)
    vals, idx, inv, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True,
                                       equal_nan=False)
    return vals, idx.astype(np.int64), inv.reshape(x.shape).astype(np.int64), counts.astype(np.int64)


def unique_all(x: Tensor, /) -> UniqueAllResult:
    """Unique values with first indices, inverse indices (shaped like ``x``) and counts.
    Host fallback (NumPy)."""
    v, i, inv, c = _unique(x, "unique_all")
    return UniqueAllResult(from_host(v, x), from_host(i, x), from_host(inv, x), from_host(c, x))


def unique_counts(x: Tensor, /) -> UniqueCountsResult:
    """Unique values and their counts. Host fallback (NumPy)."""
    v, _, _, c = _unique(x, "unique_counts")
    return UniqueCountsResult(from_host(v, x), from_host(c, x))


def unique_inverse(x: Tensor, /) -> UniqueInverseResult:
    """Unique values and the inverse indices that rebuild ``x``. Host fallback (NumPy)."""
    v, _, inv, _ = _unique(x, "unique_inverse")
    return UniqueInverseResult(from_host(v, x), from_host(inv, x))


def unique_values(x: Tensor, /) -> Tensor:
    """The unique values of ``x``, sorted. Host fallback (NumPy)."""
    v, _, _, _ = _unique(x, "unique_values")
    return from_host(v, x)


def isin(x1, x2, /, *, invert: bool = False) -> Tensor:
    """Whether each element of ``x1`` occurs in ``x2`` (2025.12). Runs as kernels: the
    comparison ``x1[..., None] == x2.ravel()`` reduced with ``any``."""
    x1, x2 = binary_operands(x1, x2, "isin")
    if x1.dtype.is_complex or x2.dtype.is_complex:
        raise TypeError("isin: complex arrays are not supported")
    flat = x2.reshape(-1)
    if flat.shape[0] == 0:
        return Tensor._const(bool(invert), x1.shape, _bool(), x1.device)
    hit = (x1.reshape(x1.shape + (1,)) == flat.reshape((1,) * x1.ndim + flat.shape)).any(axis=-1)
    return hit.logical_not() if invert else hit


def _bool():
    from .. import dtypes as dt
    return dt.bool_
