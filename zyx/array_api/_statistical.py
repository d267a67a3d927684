"""Statistical functions (standard section "Statistical Functions"). All run as
kernels (reductions; scans as blocked triangle reductions)."""
from __future__ import annotations

from .. import _movement
from .. import dtypes as dt
from ..tensor import Tensor, normalize_axis
from ._helpers import axis_tuple, check_array, dtype_arg

__all__ = ["cumulative_prod", "cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var"]


def _numeric(x: Tensor, fname: str) -> None:
    check_array(x, fname)
    if x.dtype is dt.bool_:
        raise TypeError(f"{fname}: boolean arrays are not supported; cast to a numeric dtype first")


# The standard leaves sum, prod, the cumulative sums and max/min of booleans unspecified
# ("should have a numeric data type"); NumPy, PyTorch, CuPy and JAX count (sum/prod in the
# default integer dtype) and take max/min as any/all, and array code relies on it (SciPy's
# nsum sums boolean masks). zyx does the same. mean, std and var keep to the standard.
def _real(x: Tensor, fname: str) -> None:
    check_array(x, fname)
    if x.dtype.is_complex:
        raise TypeError(f"{fname}: complex arrays are not ordered")


def max(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis`` (ValueError on an empty reduction)."""
    _real(x, "max")
    return x.max(axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def min(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis`` (ValueError on an empty reduction)."""
    _real(x, "min")
    return x.min(axis=axis_tuple(axis, x.ndim), keepdims=keepdims)


def mean(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (floating inputs; integers are promoted)."""
    _numeric(x, "mean")
    return x.mean(axis=axis_tuple(axis, x.ndim), keepdims=keepdims)




def prod(x: Tensor, /, *, axis=None, dtype=None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``; integer and boolean inputs accumulate in the default (u)int64."""
    check_array(x, "prod")  # (booleans count: see above)
    return x.prod(axis=axis_tuple(axis, x.ndim), keepdims=keepdims, dtype=dtype_arg(dtype, "prod"))


def sum(x: Tensor, /, *, axis=None, dtype=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis``; integer and boolean inputs accumulate in the default (u)int64."""
    check_array(x, "sum")  # (booleans count: see above)
    return x.sum(axis=axis_tuple(axis, x.ndim), keepdims=keepdims, dtype=dtype_arg(dtype, "sum"))


def _check_correction(correction) -> float:
    if isinstance(correction, bool) or not isinstance(correction, (int, float)):
        raise TypeError("correction must be a Python int or float")
    if correction < 0:
        raise ValueError("correction must be non-negative")
    return correction


def std(x: Tensor, /, *, axis=None, correction: float = 0.0, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis`` with ``correction`` degrees of freedom removed."""
    _numeric(x, "std")
    return x.std(axis=axis_tuple(axis, x.ndim), keepdims=keepdims, correction=_check_correction(correction))


def var(x: Tensor, /, *, axis=None, correction: float = 0.0, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` with ``correction`` degrees of freedom removed."""
    _numeric(x, "var")
    return x.var(axis=axis_tuple(axis, x.ndim), keepdims=keepdims, correction=_check_correction(correction))


def _cumulative(x: Tensor, axis, dtype, include_initial: bool, kind: str) -> Tensor:
    fname = f"cumulative_{kind}"
    check_array(x, fname)  # (booleans count: see above)
    if x.ndim == 0:
        raise ValueError(f"{fname}: x must have at least one dimension")
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{fname}: axis is required for arrays of rank > 1")
        axis = 0
    ax = normalize_axis(axis, x.ndim)
    d = dtype_arg(dtype, fname)
    out = x.cumsum(ax, dtype=d) if kind == "sum" else x.cumprod(ax, dtype=d)
    if include_initial:
        pads = [(0, 0)] * out.ndim
        pads[ax] = (1, 0)
        out = _movement.pad(out, pads, 0 if kind == "sum" else 1)
    return out


def cumulative_sum(x: Tensor, /, *, axis: int | None = None, dtype=None, include_initial: bool = False) -> Tensor:
    """Running sum along ``axis`` (``include_initial``: a leading 0)."""
    return _cumulative(x, axis, dtype, include_initial, "sum")


def cumulative_prod(x: Tensor, /, *, axis: int | None = None, dtype=None, include_initial: bool = False) -> Tensor:
    """Running product along ``axis`` (``include_initial``: a leading 1)."""
    return _cumulative(x, axis, dtype, include_initial, "prod")
