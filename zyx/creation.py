"""Creating tensors: constants, ranges, identity, and random numbers.

Random numbers come from a counter-based generator (Philox-2x32-10) evaluated inside
the kernels: ``rand`` of a shape is the generator at counters ``offset .. offset+n``
under the global seed, so it fuses with its consumers and is reproducible on every
device for a given ``zyx.manual_seed``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import dtypes as dt
from . import graph
from .device import get_device
from .tensor import _seq

if TYPE_CHECKING:
    from .tensor import Tensor
else:
    Tensor = None  # bound by zyx.tensor once the class exists (it inherits _CreationMixin)


def _dev_dtype(dtype, device, default=None):
    """(dtype, device) of a creation call; no dtype: ``default``, else the device's default
    floating dtype."""
    dev = get_device(device)
    d = dt.to_dtype(dtype) if dtype is not None else (default or dev.default_float)
    dev.check_dtype(d)
    return d, dev


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, (tuple, list)) and len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return _seq(shape)


def _check_size(shape, dtype, device) -> None:
    """MemoryError / ValueError for an array its device could never hold or index, at the
    call that asks for it (as NumPy), not later in a kernel."""
    device.check_size(math.prod(shape), dtype, f"an array of shape {tuple(shape)}")


def full(shape, fill_value, dtype=None, device=None) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dev = get_device(device)
    if isinstance(fill_value, float) and not isinstance(fill_value, np.generic):
        default = dev.default_float
    elif isinstance(fill_value, complex) and not isinstance(fill_value, np.generic):
        default = dev.default_complex
    elif isinstance(fill_value, (bool, int)) and not isinstance(fill_value, np.generic):
        default = dt.python_scalar_dtype(fill_value)
    else:
        default = dt.from_numpy(np.asarray(fill_value).dtype)
    d, dev = _dev_dtype(dtype, dev, default)
    if d.kind in "iu" and isinstance(fill_value, float):
        raise TypeError(f"cannot fill an integer tensor ({d.name}) with float {fill_value}")
    if d.kind in "iu" and isinstance(fill_value, (int, np.integer)) and not isinstance(fill_value, bool):
        if not dt.min_value(d) <= int(fill_value) <= dt.max_value(d):
            raise OverflowError(f"fill value {fill_value} is out of range for {d.name}")
    if d.kind != "c" and isinstance(fill_value, complex):
        raise TypeError(f"cannot fill a {d.name} tensor with complex {fill_value}")
    v = graph._cast_scalar(fill_value, d) if d.kind != "c" else complex(fill_value)
    shape = _shape(shape)
    _check_size(shape, d, dev)
    return Tensor._const(v, shape, d, dev)


def zeros(*shape, dtype=None, device=None) -> Tensor:
    return full(_shape(shape), 0.0 if dtype is None else 0, dtype=dtype, device=device)


def ones(*shape, dtype=None, device=None) -> Tensor:
    return full(_shape(shape), 1.0 if dtype is None else 1, dtype=dtype, device=device)


def empty(*shape, dtype=None, device=None) -> Tensor:
    return zeros(*shape, dtype=dtype, device=device)


def full_like(x: Tensor, fill_value, dtype=None, device=None) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device)


def zeros_like(x: Tensor, dtype=None, device=None) -> Tensor:
    return full_like(x, 0, dtype, device)


def ones_like(x: Tensor, dtype=None, device=None) -> Tensor:
    return full_like(x, 1, dtype, device)


def empty_like(x: Tensor, dtype=None, device=None) -> Tensor:
    return full_like(x, 0, dtype, device)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange step must not be zero")
    all_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, stop, step))
    d, dev = _dev_dtype(dtype, device, dt.default_int if all_int else dt.default_float)
    n = max(0, math.ceil((stop - start) / step))
    _check_size((n,), d, dev)
    if d.kind in "iu":
        idx_dtype = d
    else:
        idx_dtype = dt.int64 if dev.supports(dt.int64) else dt.int32
    t = Tensor._wrap(graph.iota((n,), 0, idx_dtype, dev))
    if d.kind not in "iu":
        t = t.cast(d)
    if step != 1:
        t = t * step
    if start != 0:
        t = t + start
    return t.cast(d)


def linspace(start, stop, num: int, dtype=None, device=None, endpoint: bool = True) -> Tensor:
    if num < 0:
        raise ValueError("linspace needs num >= 0")
    dev = get_device(device)
    d, dev = _dev_dtype(dtype, dev, dev.default_complex if isinstance(start, complex) or isinstance(stop, complex)
                        else None)
    _check_size((num,), d, dev)
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else 0.0
    work = dt.float64 if dev.supports(dt.float64) and d.kind != "c" else d
    i = Tensor._wrap(graph.iota((num,), 0, dt.int64 if dev.supports(dt.int64) else dt.int32, dev)).cast(work)
    out = i * step + start
    if endpoint and num > 1:
        last = Tensor._wrap(graph.iota((num,), 0, dt.int32, dev)) == num - 1
        out = last.where(Tensor._const(stop, (), work, dev), out)
    return out.cast(d)


def eye(n_rows: int, n_cols: int | None = None, k: int = 0, dtype=None, device=None) -> Tensor:
    n_cols = n_rows if n_cols is None else n_cols
    d, dev = _dev_dtype(dtype, device)
    _check_size((n_rows, n_cols), d, dev)
    if not -n_rows < k < n_cols:  # the diagonal misses the matrix (k may not fit an index dtype)
        return Tensor._const(0, (n_rows, n_cols), d, dev)
    r = Tensor._wrap(graph.iota((n_rows, n_cols), 0, dt.int32 if max(n_rows, n_cols) < 2**30 else dt.int64, dev))
    c = Tensor._wrap(graph.iota((n_rows, n_cols), 1, r.dtype, dev))
    return (c - r == k).cast(d)


def tri_mask(n: int, m: int, k: int, lower: bool, device) -> Tensor:
    r = Tensor._wrap(graph.iota((n, m), 0, dt.int64, device))
    c = Tensor._wrap(graph.iota((n, m), 1, dt.int64, device))
    return (c - r <= k) if lower else (c - r >= k)


# ---------------------------------------------------------------- random
class _RNG:
    seed = 0
    counter = 0


def manual_seed(seed: int) -> None:
    """Seed zyx's random numbers; the same seed gives the same numbers on every device."""
    _RNG.seed = int(seed) & 0xFFFFFFFF
    _RNG.counter = 0


def _bits(shape, device) -> Tensor:
    n = math.prod(shape)
    _check_size(shape, dt.uint32, device)
    node = graph.rand_bits(shape, _RNG.seed, _RNG.counter & 0xFFFFFFFF, device, dt.uint32)
    _RNG.counter += max(n, 1)
    return Tensor._wrap(node)


def _unit(shape, device, dtype) -> Tensor:
    """Uniform in [0, 1) with 24 random bits."""
    b = _bits(shape, device)
    return (b >> 8).cast(dt.float32) * (1.0 / (1 << 24))


def rand(*shape, dtype=None, device=None) -> Tensor:
    d, dev = _dev_dtype(dtype, device)
    return _unit(_shape(shape), dev, d).cast(d)


def uniform(shape, low: float = 0.0, high: float = 1.0, dtype=None, device=None) -> Tensor:
    d, dev = _dev_dtype(dtype, device)
    return (_unit(_shape(shape), dev, d) * (high - low) + low).cast(d)


def randn(*shape, dtype=None, device=None) -> Tensor:
    """Standard normal numbers (Box-Muller on two independent uniform streams)."""
    d, dev = _dev_dtype(dtype, device)
    s = _shape(shape)
    u1 = 1.0 - _unit(s, dev, d)  # (0, 1]
    u2 = _unit(s, dev, d)
    z = (u1.log() * -2.0).sqrt() * (u2 * (2 * math.pi)).cos()
    return z.cast(d)


def normal(shape, mean: float = 0.0, std: float = 1.0, dtype=None, device=None) -> Tensor:
    return randn(_shape(shape), dtype=dtype, device=device) * std + mean


def randint(low: int, high: int | None = None, shape=(), dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint needs low < high (got {low}, {high})")
    d, dev = _dev_dtype(dtype, device, dt.default_int)
    span = high - low
    if span > 2 ** 32:
        raise ValueError("randint range wider than 2**32 is not supported")
    b = _bits(_shape(shape), dev).cast(dt.uint64 if dev.supports(dt.uint64) else dt.uint32)
    if b.dtype is dt.uint64:
        v = (b * span) >> 32
    else:
        v = (b.cast(dt.float32) * (span / 2 ** 32)).floor().cast(dt.uint32)
    return (v.cast(d) + low).cast(d)


def from_numpy(a: np.ndarray, device=None) -> Tensor:
    return Tensor(a, device=device)


class _CreationMixin:
    """The static constructors of ``Tensor`` (``Tensor.randn((2, 3))``), which inherits
    this class: the module functions above."""

    __slots__ = ()

    zeros = staticmethod(zeros)
    ones = staticmethod(ones)
    full = staticmethod(full)
    empty = staticmethod(empty)
    arange = staticmethod(arange)
    linspace = staticmethod(linspace)
    eye = staticmethod(eye)
    rand = staticmethod(rand)
    randn = staticmethod(randn)
    uniform = staticmethod(uniform)
    normal = staticmethod(normal)
    randint = staticmethod(randint)
