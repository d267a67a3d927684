"""Small shared helpers of the array API namespace: argument checks and conversions.

Everything here is cheap Python: the namespace's functions are thin wrappers over
``zyx.Tensor`` methods, so a call costs a few microseconds and builds the same lazy
graph the Tensor methods build.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as dt
from ..device import Device, get_device
from ..dtypes import DType
from ..tensor import Tensor

_SCALARS = (bool, int, float, complex)


def check_array(x, fname: str, argname: str = "x") -> Tensor:
    """Raise TypeError unless ``x`` is a zyx Tensor (the standard's array object)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}: {argname} must be a zyx array (zyx.Tensor), not {type(x).__name__}")
    return x


def new_array(out: Tensor, *inputs) -> Tensor:
    """``out``, or a new array with its value when ``out`` is one of the ``inputs`` objects
    (a function with nothing to do, such as ``positive`` or ``clip`` without bounds):
    arrays are mutable, so a result that is not a view must never be its input."""
    for x in inputs:
        if out is x:
            return Tensor._wrap(x._node)
    return out


def is_scalar(v) -> bool:
    return type(v) in _SCALARS


def dtype_arg(dtype, fname: str) -> DType | None:
    """Validate an optional ``dtype=`` argument; accepts zyx dtypes (and their names)."""
    if dtype is None or isinstance(dtype, DType):
        return dtype
    try:
        return dt.to_dtype(dtype)
    except TypeError:
        raise TypeError(f"{fname}: dtype must be a zyx dtype such as zyx.array_api.float32, not {dtype!r}") from None


def device_arg(device) -> Device | None:
    """Validate an optional ``device=`` argument (a zyx Device or a name like 'cpu')."""
    if device is None or isinstance(device, Device):
        return device
    try:
        return get_device(device)
    except TypeError as e:
        raise ValueError(str(e)) from None


def same_device(fname: str, *arrays: Tensor) -> None:
    dev = arrays[0].device
    for a in arrays[1:]:
        if a.device != dev:
            raise ValueError(f"{fname}: arrays are on different devices ({dev} and {a.device}); "
                             "move one with x.to_device(...)")


def as_operand(x, other: Tensor, fname: str) -> Tensor:
    """Turn a Python scalar ``x`` into a 0-d array that combines with ``other`` the way
    the standard's scalar rule says (the scalar takes the array's dtype when its kind
    fits). NumPy scalars are taken as the operators take them (SciPy passes
    ``np.log(finfo.eps)`` to ``where``)."""
    if isinstance(x, Tensor):
        if x.device != other.device:
            raise ValueError(f"{fname}: arrays are on different devices ({other.device} and {x.device}); "
                             "move one with x.to_device(...)")
        return x
    if not is_scalar(x) and not (isinstance(x, np.generic) and x.dtype.kind in "biufc"):
        raise TypeError(f"{fname}: expected a zyx array or a Python scalar, got {type(x).__name__}")
    return other._operand(x, fname)  # (a NumPy scalar as the operators take one: x + np.float64(1))


def binary_operands(x1, x2, fname: str) -> tuple[Tensor, Tensor]:
    """Both operands as arrays; at least one of them must already be an array."""
    if isinstance(x1, Tensor):
        return x1, as_operand(x2, x1, fname)
    if isinstance(x2, Tensor):
        return as_operand(x1, x2, fname), x2
    raise TypeError(f"{fname}: at least one argument must be a zyx array (got {type(x1).__name__} and "
                    f"{type(x2).__name__})")


def axis_tuple(axis, ndim: int):
    """An ``axis=`` argument as the Tensor methods take it (they validate it): None, an
    int or a tuple of ints."""
    if axis is None or type(axis) is int or type(axis) is tuple:
        return axis
    if isinstance(axis, list):
        return tuple(axis)
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"axis must be None, an int or a tuple of ints, not {type(axis).__name__}")
    return int(axis)


def shape_tuple(shape, fname: str) -> tuple[int, ...]:
    if isinstance(shape, bool):
        raise TypeError(f"{fname}: shape must be an int or a tuple of ints")
    if isinstance(shape, int) or hasattr(shape, "__index__") and not isinstance(shape, Tensor):
        shape = (int(shape.__index__() if not isinstance(shape, int) else shape),)
    try:
        out = tuple(int(s.__index__()) if not isinstance(s, int) else s for s in shape)
    except (TypeError, AttributeError):
        raise TypeError(f"{fname}: shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"{fname}: negative dimension in shape {out}")
    return out


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def from_host(arr, like: Tensor) -> Tensor:
    """Put a host NumPy result (of a documented host fallback) on ``like``'s device."""
    import numpy as np
    from ._creation import _wrap_host
    arr = np.asarray(arr)
    if not arr.flags.c_contiguous:
        arr = arr.copy()  # (np.ascontiguousarray would turn 0-d into 1-d)
    if arr.size == 0:
        return Tensor(arr, device=like.device)
    return _wrap_host(arr, like.device, None)
