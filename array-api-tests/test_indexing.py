"""Indexing functions: take, take_along_axis.  (Indexing via
__getitem__/__setitem__ is covered in test_array_object.py.)"""

from __future__ import annotations

import numpy as np

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st


@given(data=st.data())
def test_take(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    if a.ndim == 1 and data.draw(st.booleans(), label="omit axis"):
        axis = None
        n = a.shape[0]
    else:
        axis = data.draw(st.integers(-a.ndim, a.ndim - 1), label="axis")
        n = a.shape[axis]
    it = draw_dtype(data, dev, ["int64", "int32", "int16", "int8", "uint8"], label="index dtype")
    lo = 0 if it in C.UINT else -n  # negative indices: 2024.12
    idx = data.draw(arrays(it, (data.draw(st.integers(0, 5), label="k"),), elements(it, lo, n - 1)), label="indices")
    kw = {} if axis is None else {"axis": axis}
    res = xp.take(C.to_xp(a, dev), C.to_xp(idx, dev), **kw)
    C.check(res, np.take(a, idx, axis=0 if axis is None else axis), dtype=dt, dev=dev, exact=True, what=f"take(axis={axis})")


@given(data=st.data())
def test_take_along_axis(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    axis = data.draw(st.sampled_from([None] + list(range(-a.ndim, a.ndim))), label="axis")
    ax = -1 if axis is None else axis
    n = a.shape[ax]
    ishape = list(a.shape)
    ishape[ax] = data.draw(st.integers(0, 4), label="k")
    # other dims: equal or 1 (broadcast)
    for i in range(a.ndim):
        if i != ax % a.ndim and data.draw(st.booleans(), label=f"broadcast dim {i}"):
            ishape[i] = 1
    it = C.default_index(dev)
    idx = data.draw(arrays(it, tuple(ishape), elements(it, -n, n - 1)), label="indices")
    kw = {} if axis is None else {"axis": axis}
    res = xp.take_along_axis(C.to_xp(a, dev), C.to_xp(idx, dev), **kw)
    C.check(res, np.take_along_axis(a, idx, axis=ax), dtype=dt, dev=dev, exact=True, what=f"take_along_axis(axis={axis})")
