"""Utility functions: all, any, diff."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st


def _axes(ndim):
    opts = [st.just("omit"), st.none()]
    if ndim:
        opts.append(st.integers(-ndim, ndim - 1))
        opts.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple))
    return st.one_of(*opts)


@pytest.mark.parametrize("fname", ["all", "any"])
@given(data=st.data())
def test_all_any(fname, dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -1, 1) if dt != "bool" else None), label="x")
    axis = data.draw(_axes(a.ndim), label="axis")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    kw = {}
    if axis != "omit":
        kw["axis"] = axis
    if keepdims is not None:
        kw["keepdims"] = keepdims
    res = getattr(xp, fname)(C.to_xp(a, dev), **kw)
    expected = getattr(np, fname)(a, axis=None if axis == "omit" else axis, keepdims=bool(keepdims))
    C.check(res, np.asarray(expected), dtype="bool", dev=dev, what=f"{fname}({kw})")


def test_all_any_empty_and_nan(dev):
    e = xp.zeros((0,), dtype=xp.bool, **C.devkw(dev))
    assert bool(xp.all(e)) is True and bool(xp.any(e)) is False
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    x = C.to_xp(np.asarray([np.nan, 0.0], dtype=dt), dev)
    C.check(xp.any(x), np.asarray(True), dev=dev, what="any([nan, 0]) (NaN is truthy)")
    C.check(xp.all(x), np.asarray(False), dev=dev, what="all([nan, 0])")


@given(data=st.data())
def test_diff(dev, data):
    dt = draw_dtype(data, dev, C.REAL)
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=5), label="shape")
    lo = 0 if dt in C.UINT else -20
    a = data.draw(arrays(dt, shape, elements(dt, lo, 20)), label="x")
    if dt in C.UINT:
        a = np.sort(a, axis=-1)  # keep unsigned differences non-negative along the last axis
    axis = data.draw(st.sampled_from([None] + list(range(-a.ndim, a.ndim))), label="axis")
    ax = -1 if axis is None else axis
    n = data.draw(st.sampled_from([None, 1, 2]), label="n")
    use_pre = data.draw(st.booleans(), label="prepend") and dt not in C.UINT
    use_app = data.draw(st.booleans(), label="append") and dt not in C.UINT
    kw = {}
    if axis is not None:
        kw["axis"] = axis
    if n is not None:
        kw["n"] = n
    npkw = {"axis": ax, "n": 1 if n is None else n}
    if use_pre:
        ps = list(a.shape)
        ps[ax] = data.draw(st.integers(1, 2))
        pre = data.draw(arrays(dt, tuple(ps), elements(dt, lo, 20)), label="prepend")
        kw["prepend"], npkw["prepend"] = C.to_xp(pre, dev), pre
    if use_app:
        ps = list(a.shape)
        ps[ax] = data.draw(st.integers(1, 2))
        app = data.draw(arrays(dt, tuple(ps), elements(dt, lo, 20)), label="append")
        kw["append"], npkw["append"] = C.to_xp(app, dev), app
    if dt in C.UINT and (n or 1) > 1:
        kw["n"] = npkw["n"] = 1
    if (npkw["axis"] % a.ndim) != a.ndim - 1 and dt in C.UINT:
        kw["axis"] = npkw["axis"] = -1
    res = xp.diff(C.to_xp(a, dev), **kw)
    C.check(res, np.diff(a, **npkw), dtype=dt, dev=dev, exact=True, what=f"diff({ {k: v for k, v in kw.items() if k in ('axis', 'n')} })")
