"""Data type functions (standard section "Data Type Functions").

The dtype objects are zyx's own ``DType`` singletons. Promotion is zyx's lattice
(``zyx.dtypes.promote_types``): exactly the standard's table where the standard
defines a result, NumPy's answer where it leaves the case open (integer with floating,
int64 with uint64). Wherever a dtype is expected, NumPy's dtype-likes are accepted too
(``np.float32``, ``np.dtype("int8")``, ``"f4"``), as code written against NumPy passes
them (Cubed, Dask and xarray do).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes as dt
from ..dtypes import DType
from ..tensor import Tensor
from ._helpers import check_array, device_arg, dtype_arg, is_scalar

__all__ = ["astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type"]

_STANDARD = (dt.bool_, dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8, dt.uint16, dt.uint32, dt.uint64,
             dt.float32, dt.float64, dt.complex64, dt.complex128)


def astype(x: Tensor, dtype: DType, /, *, copy: bool = True, device=None) -> Tensor:
    """Copy of ``x`` cast to ``dtype`` (and moved to ``device``).

    With ``copy=False`` and nothing to change, ``x`` itself is returned. zyx arrays are
    values (in-place operators rebind the array's graph), so a new handle on the same
    lazy graph *is* a copy: no memory is duplicated until something differs."""
    check_array(x, "astype")
    d = dtype_arg(dtype, "astype")
    if d is None:
        raise TypeError("astype: dtype is required")
    dev = device_arg(device)
    out = x
    if dev is not None and dev != x.device:
        out = out.to(dev)
    if d is not out.dtype:
        out = out.cast(d)
    if out is x and copy:
        out = Tensor._wrap(x._node)
    return out


def _standard_kind(d: DType) -> str:
    return {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}[d.kind]


def can_cast(from_, to: DType, /) -> bool:
    """Whether ``from_`` (a dtype or an array) casts to ``to`` under the standard's
    promotion rules: same kind (or real floating to complex floating) and no loss."""
    if isinstance(from_, Tensor):
        from_ = from_.dtype
    f, t = dt.dtype_like(from_), dt.dtype_like(to)
    if f is None:
        raise TypeError(f"can_cast: from_ must be a dtype or an array, not {type(from_).__name__}")
    if t is None:
        raise TypeError(f"can_cast: to must be a dtype, not {type(to).__name__}")
    from_, to = f, t
    kf, kt = _standard_kind(from_), _standard_kind(to)
    if kf != kt and not (kf == "float" and kt == "complex"):
        return False
    return dt.promote_types(from_, to) is to


@dataclass(frozen=True)
class finfo_object:
    """Machine limits of a floating-point dtype (the standard's ``finfo`` result)."""
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: DType


@dataclass(frozen=True)
class iinfo_object:
    """Machine limits of an integer dtype (the standard's ``iinfo`` result)."""
    bits: int
    max: int
    min: int
    dtype: DType


def _dtype_of(type_, fname: str) -> DType:
    if isinstance(type_, Tensor):
        return type_.dtype
    d = dt.dtype_like(type_)
    if d is not None:
        return d
    raise TypeError(f"{fname}: expected a dtype or an array, not {type_!r}")


def finfo(type, /) -> finfo_object:  # noqa: A002 - the standard's parameter name
    """Limits of a real or complex floating dtype (for complex: of its real part)."""
    d = _dtype_of(type, "finfo")
    if not d.is_inexact:
        raise ValueError(f"finfo: {d.name} is not a floating-point dtype; use iinfo")
    real = dt.real_of(d)
    fi = np.finfo(real.np)
    return finfo_object(int(fi.bits), float(fi.eps), float(fi.max), float(fi.min), float(fi.smallest_normal), real)


def iinfo(type, /) -> iinfo_object:  # noqa: A002
    """Limits of an integer dtype."""
    d = _dtype_of(type, "iinfo")
    if not d.is_int:
        raise ValueError(f"iinfo: {d.name} is not an integer dtype; use finfo")
    ii = np.iinfo(d.np)
    return iinfo_object(int(ii.bits), int(ii.max), int(ii.min), d)


_KINDS = {
    "bool": lambda d: d.kind == "b",
    "signed integer": lambda d: d.kind == "i",
    "unsigned integer": lambda d: d.kind == "u",
    "integral": lambda d: d.kind in "iu",
    "real floating": lambda d: d.kind == "f",
    "complex floating": lambda d: d.kind == "c",
    "numeric": lambda d: d.kind in "iufc",
}


def isdtype(dtype: DType, kind) -> bool:
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name ('bool', 'signed integer',
    'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric') or a
    tuple of those."""
    d = dt.dtype_like(dtype) if not isinstance(dtype, str) else None
    if d is None:
        raise TypeError(f"isdtype: dtype must be a dtype (zyx's or NumPy's), not {type(dtype).__name__}")
    dtype = d
    if isinstance(kind, tuple):
        if any(isinstance(k, tuple) for k in kind):
            raise TypeError("isdtype: kind tuples cannot be nested")
        return any(isdtype(dtype, k) for k in kind)
    if not isinstance(kind, str) and (k := dt.dtype_like(kind)) is not None:
        return dtype is k
    if isinstance(kind, str):
        test = _KINDS.get(kind)
        if test is None:
            raise ValueError(f"isdtype: unknown kind {kind!r}; use one of {', '.join(_KINDS)}")
        return test(dtype)
    raise TypeError(f"isdtype: kind must be a dtype, a kind name or a tuple, not {type(kind).__name__}")


def result_type(*arrays_and_dtypes) -> DType:
    """The dtype of an operation over the given arrays, dtypes and Python scalars.
    Arrays and dtypes are promoted together first; Python scalars then join with the
    standard's weak-scalar rule."""
    dtypes, scalars = [], []
    for a in arrays_and_dtypes:
        d = dt.dtype_like(a)
        if d is not None:
            dtypes.append(d)
        elif isinstance(a, Tensor):
            dtypes.append(a.dtype)
        elif is_scalar(a):
            scalars.append(a)
        else:
            raise TypeError(f"result_type: expected arrays, dtypes or Python scalars, got {type(a).__name__}")
    if not dtypes:
        raise ValueError("result_type: at least one array or dtype is required")
    out = dt.result_type(*dtypes)
    for s in scalars:
        sd = dt.scalar_dtype_for(s, out)
        if isinstance(s, float) and sd.kind in "iub":
            sd = dt.default_float
        out = dt.promote_types(out, sd)
    return out
