"""Reductions, scans, matmul and softmax on Tensor, composed from primitives.

The functions take the tensor first; ``_ReduceMixin`` at the bottom makes them Tensor's
methods (``Tensor`` inherits it)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import dtypes as dt
from . import graph
from . import tensor as _tensor
from ._movement import _broadcast, pad as _pad
from .tensor import broadcast_shapes, normalize_axes, normalize_axis

if TYPE_CHECKING:
    from typing import TypeAlias

    from .tensor import Tensor, TensorLike

    # an axis argument: one axis, several, or None for all of them
    Axis: TypeAlias = "int | tuple[int, ...] | list[int] | None"
else:
    Tensor = None  # bound by zyx.tensor once the class exists (it inherits _ReduceMixin)


def _keep(x: Tensor, axes, keepdims: bool) -> Tensor:
    if keepdims:
        return x
    return x._movement("RESHAPE", tuple(s for i, s in enumerate(x.shape) if i not in axes))


def _new(out: Tensor, x: Tensor) -> Tensor:
    """``out``, or a new array with its value when it is the input ``x`` itself (a
    reduction over no axes): a result is never its input object, which may be mutated."""
    return out if out is not x else Tensor._wrap(x._node)


def _sum_dtype(d: dt.DType) -> dt.DType:
    if d is dt.bool_ or d.kind == "i":
        return dt.int64
    if d.kind == "u":
        return dt.uint64
    return d


def _fold(self: Tensor, x: Tensor, kind: str, identity, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """``x`` (``self`` in the result dtype) reduced by ``kind`` over ``axes``; an empty
    axis gives ``identity``."""
    if any(self.shape[a] == 0 for a in axes):
        shape = tuple(1 if i in axes else s for i, s in enumerate(self.shape))
        return _keep(Tensor._const(identity, shape, x.dtype, self.device), axes, keepdims)
    return _new(_keep(x._reduce(kind, axes), axes, keepdims), self)


def _accumulate(self: Tensor, kind: str, identity: int, axis: Axis, keepdims: bool, dtype: Any) -> Tensor:
    """``sum`` / ``prod``: integers and booleans accumulate in 64 bits unless ``dtype``
    says otherwise."""
    axes = normalize_axes(axis, self.ndim)
    d = dt.to_dtype(dtype) if dtype is not None else _sum_dtype(self.dtype)
    return _fold(self, self.cast(d), kind, identity, axes, keepdims)


def sum(self: Tensor, axis: Axis = None, keepdims: bool = False, dtype: Any = None) -> Tensor:
    return _accumulate(self, "SUM", 0, axis, keepdims, dtype)


def prod(self: Tensor, axis: Axis = None, keepdims: bool = False, dtype: Any = None) -> Tensor:
    return _accumulate(self, "PROD", 1, axis, keepdims, dtype)


def _extreme(self: Tensor, kind: str, axis: Axis, keepdims: bool) -> Tensor:
    axes = normalize_axes(axis, self.ndim)
    if self.dtype.is_complex:
        raise TypeError(f"{kind.lower()} is not defined for complex tensors")
    if any(self.shape[a] == 0 for a in axes):
        raise ValueError(f"{kind.lower()} of an empty axis has no identity (shape {self.shape}, axis {axis})")
    return _new(_keep(self._reduce(kind, axes), axes, keepdims), self)


def max_(self: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return _extreme(self, "MAX", axis, keepdims)


def min_(self: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return _extreme(self, "MIN", axis, keepdims)


_HALF = (dt.float16, dt.bfloat16)


def mean(self: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    if self.dtype in _HALF:  # in float32, rounded once (a stored half sum lost the digits)
        return mean(self.cast(dt.float32), axis, keepdims).cast(self.dtype)
    axes = normalize_axes(axis, self.ndim)
    n = math.prod(self.shape[a] for a in axes)
    x = self if self.dtype.is_inexact else self.cast(dt.float64 if self.device.supports(dt.float64) else dt.float32)
    s = sum(x, axes, keepdims)
    # s / n, not s * (1 / n): two roundings made the mean of [x, x, x] differ from x, and the
    # variance of a constant array nonzero. Not s * nan when empty: fast-math backends give 0
    return s / n if n else Tensor._const(_nan(s.dtype), s.shape, s.dtype, s.device)


def var(self: Tensor, axis: Axis = None, keepdims: bool = False, correction: float = 0.0) -> Tensor:
    if self.dtype in _HALF:  # as NumPy: float32 intermediates (var of a constant half array was not 0)
        return var(self.cast(dt.float32), axis, keepdims, correction).cast(self.dtype)
    axes = normalize_axes(axis, self.ndim)
    n = math.prod(self.shape[a] for a in axes)
    x = self if self.dtype.is_inexact else self.cast(dt.float64 if self.device.supports(dt.float64) else dt.float32)
    m = mean(x, axes, keepdims=True)
    d = x - m
    sq = (d * d.conj()).real if x.dtype.is_complex else d * d
    denom = n - correction
    s = sum(sq, axes, keepdims)
    return s / denom if denom > 0 else Tensor._const(_nan(s.dtype), s.shape, s.dtype, s.device)


def _nan(d: "dt.DType"):
    """NaN of dtype d: nan + nan j for complex (NumPy's mean of an empty complex array)."""
    return complex("nan+nanj") if d.is_complex else float("nan")


def std(self: Tensor, axis: Axis = None, keepdims: bool = False, correction: float = 0.0) -> Tensor:
    return var(self, axis, keepdims, correction).sqrt()


def any_(self: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return _fold(self, _truth(self), "MAX", False, normalize_axes(axis, self.ndim), keepdims)


def all_(self: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return _fold(self, _truth(self), "MIN", True, normalize_axes(axis, self.ndim), keepdims)


def _truth(x: Tensor) -> Tensor:
    return x.cast(dt.bool_) if x.dtype is not dt.bool_ else x


def _arg_extreme(self: Tensor, kind: str, axis: int | None, keepdims: bool) -> Tensor:
    from .creation import arange
    if self.dtype.is_complex:
        raise TypeError(f"arg{kind.lower()} is not defined for complex tensors")
    if axis is None:
        flat = self._movement("RESHAPE", (self.size,))
        out = _arg_extreme(flat, kind, 0, False)
        return out._movement("RESHAPE", (1,) * self.ndim) if keepdims else out
    ax = normalize_axis(axis, self.ndim)
    n = self.shape[ax]
    if n == 0:
        raise ValueError(f"arg{kind.lower()} of an empty axis")
    m = self._reduce(kind, (ax,))
    hit = self == m
    if self.dtype.is_float:
        hit = hit.logical_or(self.isnan().logical_and(m.isnan()))
    shape = [1] * self.ndim
    shape[ax] = n
    pos = arange(n, dtype=dt.int64, device=self.device)._movement("RESHAPE", tuple(shape))
    cand = hit.where(pos, n)
    return _keep(cand._reduce("MIN", (ax,)), (ax,), keepdims)


def argmax(self: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _arg_extreme(self, "MAX", axis, keepdims)


def argmin(self: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _arg_extreme(self, "MIN", axis, keepdims)


def logsumexp(self: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """m + log1p(sum of exp(x - m) over the elements below the maximum m, + ties - 1): the
    maximum's own 1 is left out of the sum, so a small rest keeps its digits (as SciPy does:
    logsumexp([0, -40]) is 4.2e-18 in float32, where log(1 + 4.2e-18) is 0)."""
    axes = normalize_axes(axis, self.ndim)
    x = self if self.dtype.is_inexact else self.cast(self.device.default_float)
    mx = x._reduce("MAX", axes)
    m = mx.isinf().where(0.0, mx)
    top = x == mx
    rest = top.where(0.0, (x - m).exp())._reduce("SUM", axes)
    ties = top.cast(rest.dtype)._reduce("SUM", axes)
    s = mx.isinf().where(mx, m + (rest + (ties - 1)).log1p())
    return _keep(s, axes, keepdims)


def softmax(self: Tensor, axis: int = -1) -> Tensor:
    x = self if self.dtype.is_inexact else self.cast(self.device.default_float)
    ax = (normalize_axis(axis, x.ndim),) if x.ndim else ()
    if not ax:
        return (x - x).exp()
    e = (x - x._reduce("MAX", ax)).exp()
    return e / e._reduce("SUM", ax)


def log_softmax(self: Tensor, axis: int = -1) -> Tensor:
    x = self if self.dtype.is_inexact else self.cast(self.device.default_float)
    ax = (normalize_axis(axis, x.ndim),) if x.ndim else ()
    if not ax:
        return x - x
    sh = x - x._reduce("MAX", ax)
    return sh - sh.exp()._reduce("SUM", ax).log()


# ---------------------------------------------------------------- scans
_SCAN_DIRECT = 512


def _scan(x: Tensor, axis: int, kind: str) -> Tensor:
    """Inclusive scan along ``axis``: small axes as one masked reduction over a
    triangle, long ones in blocks (scan within blocks, scan of block totals, combine)."""
    n = x.shape[axis]
    if n <= 1:
        return Tensor._wrap(x._node)  # a new array, never the input object
    identity = 0 if kind == "SUM" else 1
    if n <= _SCAN_DIRECT:
        from .creation import arange
        xe = x._movement("RESHAPE", x.shape[:axis] + (1,) + x.shape[axis:])  # j axis at axis+1
        shape_i = [1] * (x.ndim + 1)
        shape_i[axis] = n
        shape_j = [1] * (x.ndim + 1)
        shape_j[axis + 1] = n
        i = arange(n, dtype=dt.int32, device=x.device)._movement("RESHAPE", tuple(shape_i))
        j = arange(n, dtype=dt.int32, device=x.device)._movement("RESHAPE", tuple(shape_j))
        full = list(x.shape)
        full.insert(axis, n)
        tri = (j <= i).broadcast_to(tuple(full))
        vals = tri.where(xe.broadcast_to(tuple(full)), Tensor._const(identity, (), x.dtype, x.device))
        red = vals._reduce(kind, (axis + 1,))
        return red._movement("RESHAPE", red.shape[:axis + 1] + red.shape[axis + 2:])
    b = int(math.ceil(math.sqrt(n)))
    nb = -(-n // b)
    p = [(0, 0)] * x.ndim
    p[axis] = (0, nb * b - n)
    xp = _pad(x, p, identity)
    blocked = xp._movement("RESHAPE", x.shape[:axis] + (nb, b) + x.shape[axis + 1:])
    inner = _scan(blocked, axis + 1, kind)
    totals = inner._movement("SHRINK", tuple((b - 1, 1, 1) if i == axis + 1 else (0, s, 1) for i, s in enumerate(inner.shape)))
    carry = _scan(totals, axis, kind)
    # exclusive carry: shift by one block
    q = [(0, 0)] * carry.ndim
    q[axis] = (1, -1)
    ex = _pad(carry, q, identity)
    out = inner + ex if kind == "SUM" else inner * ex
    out = out._movement("RESHAPE", x.shape[:axis] + (nb * b,) + x.shape[axis + 1:])
    return out._movement("SHRINK", tuple((0, n, 1) if i == axis else (0, s, 1) for i, s in enumerate(out.shape)))


def _cumulate(self: Tensor, kind: str, axis: int, dtype: Any) -> Tensor:
    """``cumsum`` / ``cumprod``, in ``sum``'s accumulation dtype unless ``dtype`` says."""
    if self.ndim == 0:
        raise ValueError(f"cum{kind.lower()} needs at least one dimension")
    ax = normalize_axis(axis, self.ndim)
    d = dt.to_dtype(dtype) if dtype is not None else _sum_dtype(self.dtype)
    return _scan(self.cast(d), ax, kind)


def cumsum(self: Tensor, axis: int = 0, dtype: Any = None) -> Tensor:
    return _cumulate(self, "SUM", axis, dtype)


def cumprod(self: Tensor, axis: int = 0, dtype: Any = None) -> Tensor:
    return _cumulate(self, "PROD", axis, dtype)


# ---------------------------------------------------------------- matmul
def matmul(self: Tensor, other: TensorLike, /) -> Tensor:
    """Batched matrix product with NumPy's rules for 1-d operands."""
    b = other = self._operand(other, "@")  # `other` may be a list: keep the tensor for messages
    a = self
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not take 0-d operands; use *")
    d = dt.promote_types(a.dtype, b.dtype)
    if d is dt.bool_:
        raise TypeError("matmul of boolean tensors is not supported")
    a, b = a.cast(d), b.cast(d)
    a1, b1 = a.ndim == 1, b.ndim == 1
    if a1:
        a = a._movement("RESHAPE", (1, a.shape[0]))
    if b1:
        b = b._movement("RESHAPE", (b.shape[0], 1))
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: contracted dimensions differ: {self.shape} @ {tuple(other.shape)} "
                         f"({a.shape[-1]} vs {b.shape[-2]})")
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if k and a.ndim == b.ndim and a.shape[:-2] == b.shape[:-2] and not _tensor._recorders:
        # no tape records and no batch axes to broadcast: the same nodes as below, built on
        # the graph directly (the taped steps were ~25 us of a ~30 us matmul)
        batch = a.shape[:-2]
        left = graph.expand(graph.reshape(a._node, batch + (m, k, 1)), batch + (m, k, n))
        right = graph.expand(graph.reshape(b._node, batch + (1, k, n)), batch + (m, k, n))
        prod = graph.elementwise("MUL", (left, right), d)
        out = Tensor._wrap(graph.reshape(graph.reduce(prod, "SUM", (len(batch) + 1,)), batch + (m, n)))
    else:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        if k == 0:
            out = Tensor._const(0, batch + (m, n), d, a.device)
        else:
            ae = _broadcast(a, batch + (m, k))._movement("RESHAPE", batch + (m, k, 1))
            be = _broadcast(b, batch + (k, n))._movement("RESHAPE", batch + (1, k, n))
            prodt = _broadcast(ae, batch + (m, k, n)) * _broadcast(be, batch + (m, k, n))
            out = prodt._reduce("SUM", (len(batch) + 1,))._movement("RESHAPE", batch + (m, n))
    if a1:
        out = out._movement("RESHAPE", out.shape[:-2] + (out.shape[-1],))
    if b1:
        out = out._movement("RESHAPE", out.shape[:-1])
    return out


def rmatmul(self: Tensor, other: TensorLike, /) -> Tensor:
    return matmul(self._operand(other, "@"), self)


def dot(self: Tensor, other: TensorLike) -> Tensor:
    return matmul(self, other)


class _ReduceMixin:
    """Reductions, scans, softmax and matmul: methods of ``Tensor``, which inherits this
    class. Each entry is one of the functions above (they take the tensor first)."""

    __slots__ = ()

    # ------------------------------------------------------------ reductions
    sum = sum
    prod = prod
    max = max_
    min = min_
    mean = mean
    var = var
    std = std
    any = any_
    all = all_
    argmax = argmax
    argmin = argmin
    logsumexp = logsumexp

    # ------------------------------------------------------------ softmax and scans
    softmax = softmax
    log_softmax = log_softmax
    cumsum = cumsum
    cumprod = cumprod

    # ------------------------------------------------------------ matrix product
    __matmul__ = matmul
    __rmatmul__ = rmatmul
    matmul = matmul
    dot = dot
