"""Hypothesis strategies producing NumPy inputs for the suite.

Inputs are generated as NumPy arrays with ``hypothesis.extra.numpy`` and then
converted into the namespace under test / the reference.  Shapes are kept
small (at most 3 dimensions, side at most 5) so that a lazy library which
compiles one kernel per distinct shape/dtype/op stays within the time budget.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from . import _common as C

MAX_DIMS = 3
MAX_SIDE = 5


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_pair(min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE):
    """(shape1, shape2, result_shape) of two mutually broadcastable shapes."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda r: (r.input_shapes[0], r.input_shapes[1], r.result_shape))


def real_floats(name, lo=None, hi=None, *, nan=False, inf=False, zero=True, integral=False, step=None):
    """Python floats representable in dtype ``name`` (float32/float64).

    ``integral``: only integer values;  ``step``: only multiples of ``step``
    (a power of two so that values are exact)."""
    width = 32 if name in ("float32", "complex64") else 64
    if integral or step is not None:
        s = 1.0 if step is None else float(step)
        lo_i = int(np.ceil((-1e6 if lo is None else lo) / s))
        hi_i = int(np.floor((1e6 if hi is None else hi) / s))
        base = st.integers(lo_i, hi_i).map(lambda k: float(k) * s)
        if not zero:
            base = base.filter(lambda v: v != 0)
        else:
            base = base | st.just(-0.0) if (lo is None or lo <= 0) and (hi is None or hi >= 0) else base
        extra = []
        if nan:
            extra.append(st.just(float("nan")))
        if inf:
            extra += [st.just(float("inf")), st.just(float("-inf"))]
        return st.one_of(base, *extra) if extra else base
    if width == 32:
        if lo is not None:
            f = np.float32(lo)
            if float(f) < lo:
                f = np.nextafter(f, np.float32(np.inf))
            lo = float(f)
        if hi is not None:
            f = np.float32(hi)
            if float(f) > hi:
                f = np.nextafter(f, np.float32(-np.inf))
            hi = float(f)
    bounded = lo is not None or hi is not None
    s = st.floats(
        min_value=lo,
        max_value=hi,
        width=width,
        allow_nan=nan and not bounded,
        allow_infinity=inf and not bounded,
        allow_subnormal=False,
    )
    if bounded:
        extra = []
        if nan:
            extra.append(st.just(float("nan")))
        if inf:
            extra += [st.just(float("inf")), st.just(float("-inf"))]
        if extra:
            s = st.one_of(s, *extra)
    if not zero:
        s = s.filter(lambda v: v != 0)
    return s


def elements(name, lo=None, hi=None, **kw):
    """Strategy of Python scalars for dtype ``name`` within [lo, hi].

    For complex dtypes lo/hi bound each component."""
    if name == "bool":
        return st.booleans()
    if name in C.INT:
        info = np.iinfo(np.dtype(name))
        lo_ = info.min if lo is None else max(int(np.ceil(lo)), int(info.min))
        hi_ = info.max if hi is None else min(int(np.floor(hi)), int(info.max))
        s = st.integers(lo_, hi_)
        if not kw.get("zero", True):
            s = s.filter(lambda v: v != 0)
        return s
    if name in C.RFLOAT:
        return real_floats(name, lo, hi, **kw)
    comp = real_floats(C.REAL_OF[name], lo, hi, **kw)
    return st.builds(complex, comp, comp)


def arrays(name, shape, elems=None, **kw):
    """NumPy arrays of dtype ``name`` and ``shape``."""
    if elems is None:
        elems = elements(name, **kw)
    return hnp.arrays(dtype=np.dtype(name), shape=shape, elements=elems)


def draw_dtype(data, dev, names, label="dtype"):
    """Draw a dtype name among ``names`` supported by ``dev`` (skip if none)."""
    names = C.dtypes_on(dev, names)
    if not names:
        pytest.skip(f"device {C.device_id(dev)} supports none of the dtypes needed here")
    return data.draw(st.sampled_from(names), label=label)


def axis_for(ndim, *, allow_none=False, negative=True):
    """A valid axis for an array of ``ndim`` dims."""
    if ndim == 0:
        return st.none() if allow_none else st.nothing()
    lo = -ndim if negative else 0
    s = st.integers(lo, ndim - 1)
    return (st.none() | s) if allow_none else s


def axes_for(ndim, *, allow_none=True, allow_int=True):
    """None, an int axis or a tuple of unique axes (possibly negative)."""
    opts = []
    if allow_none:
        opts.append(st.none())
    if ndim > 0:
        if allow_int:
            opts.append(st.integers(-ndim, ndim - 1))
        opts.append(
            st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
                lambda axs: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axs])
            )
        )
    else:
        opts.append(st.just(()))
    return st.one_of(*opts)


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


__all__ = [
    "assume",
    "st",
    "hnp",
    "shapes",
    "broadcastable_pair",
    "elements",
    "arrays",
    "draw_dtype",
    "axis_for",
    "axes_for",
    "normalize_axes",
    "real_floats",
]
