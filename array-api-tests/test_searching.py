"""Searching functions: argmax, argmin, count_nonzero, nonzero, searchsorted, where."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, broadcastable_pair, draw_dtype, elements, shapes, st


@pytest.mark.parametrize("fname", ["argmax", "argmin"])
@given(data=st.data())
def test_argmax_argmin(fname, dev, data):
    """Ties resolve to the first occurrence; result has the default index dtype."""
    dt = draw_dtype(data, dev, C.REAL)
    shape = data.draw(shapes(max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -3, 3)), label="x")  # small range: many ties
    axis = data.draw(st.none() | (st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none()), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    kw = {"keepdims": keepdims}
    if axis is not None:
        kw["axis"] = axis
    res = getattr(xp, fname)(C.to_xp(a, dev), **kw)
    expected = np.asarray(getattr(np, fname)(a, axis=axis, keepdims=keepdims))
    C.check(res, expected, dtype=C.default_index(dev), dev=dev, what=f"{fname}(axis={axis}, keepdims={keepdims})")


@given(data=st.data())
def test_count_nonzero(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -2, 2) if dt != "bool" else None), label="x")
    axis = data.draw(_axes(a.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    kw = {"keepdims": keepdims}
    if axis != "omit":
        kw["axis"] = axis
    res = xp.count_nonzero(C.to_xp(a, dev), **kw)
    expected = np.asarray(np.count_nonzero(a, axis=None if axis == "omit" else axis, keepdims=keepdims))
    C.check(res, expected, dtype=C.default_index(dev), dev=dev, what=f"count_nonzero(axis={axis})")


def _axes(ndim):
    opts = [st.just("omit"), st.none()]
    if ndim:
        opts.append(st.integers(-ndim, ndim - 1))
        opts.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple))
    return st.one_of(*opts)


@given(data=st.data())
def test_nonzero(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -1, 1) if dt != "bool" else None), label="x")
    res = xp.nonzero(C.to_xp(a, dev))
    assert isinstance(res, tuple), f"nonzero must return a tuple, got {type(res).__name__}"
    expected = np.nonzero(a)
    assert len(res) == a.ndim
    for i, (r, e) in enumerate(zip(res, expected)):
        C.check(r, e, dtype=C.default_index(dev), dev=dev, what=f"nonzero(x)[{i}]")


def test_nonzero_0d_raises(dev):
    with pytest.raises(Exception):
        xp.nonzero(xp.asarray(1, **C.devkw(dev)))


@given(data=st.data())
def test_searchsorted(dev, data):
    dt = draw_dtype(data, dev, C.REAL)
    n = data.draw(st.integers(0, 6), label="n")
    a = np.sort(data.draw(arrays(dt, (n,), elements(dt, -5, 5)), label="x1"))
    vshape = data.draw(shapes(max_dims=2, max_side=4), label="x2 shape")
    v = data.draw(arrays(dt, vshape, elements(dt, -6, 6)), label="x2")
    side = data.draw(st.sampled_from([None, "left", "right"]), label="side")
    use_sorter = data.draw(st.booleans(), label="sorter")
    kw = {} if side is None else {"side": side}
    x1 = C.to_xp(a, dev)
    expected = np.searchsorted(a, v, side=side or "left")
    if use_sorter:
        perm = np.asarray(data.draw(st.permutations(range(n)), label="perm"), dtype=C.default_index(dev))
        shuffled = a[np.argsort(perm, kind="stable")] if n else a
        # shuffled[perm] == a, so perm sorts shuffled
        x1 = C.to_xp(shuffled, dev)
        kw["sorter"] = C.to_xp(perm, dev)
    res = xp.searchsorted(x1, C.to_xp(v, dev), **kw)
    C.check(res, np.asarray(expected), dtype=C.default_index(dev), dev=dev, what=f"searchsorted(side={side}, sorter={use_sorter})")


def test_searchsorted_scalar(dev):
    """2025.12: x2 may be a Python scalar."""
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    x1 = C.to_xp(np.asarray([1.0, 2.0, 2.0, 5.0], dtype=dt), dev)
    C.check(xp.searchsorted(x1, 2.0), np.asarray(1), dtype=C.default_index(dev), dev=dev, what="searchsorted(x1, 2.0)")
    C.check(xp.searchsorted(x1, 2.0, side="right"), np.asarray(3), dtype=C.default_index(dev), dev=dev, what="searchsorted(x1, 2.0, side='right')")


@given(data=st.data())
def test_where(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    (s1, s2, _), sc = data.draw(broadcastable_pair(), label="shapes"), data.draw(shapes(max_dims=2, max_side=3), label="cond shape")
    try:
        np.broadcast_shapes(s1, s2, sc)
    except ValueError:
        sc = ()
    cond = data.draw(arrays("bool", sc), label="cond")
    a1 = data.draw(arrays(dt, s1), label="x1")
    a2 = data.draw(arrays(dt, s2), label="x2")
    res = xp.where(C.to_xp(cond, dev), C.to_xp(a1, dev), C.to_xp(a2, dev))
    C.check(res, np.where(cond, a1, a2), dtype=dt, dev=dev, exact=True, what="where(cond, x1, x2)")


@pytest.mark.parametrize("dt", ["bool", "int16", "float32", "complex64"])
def test_where_scalars(dt, dev):
    """2024.12: x1 or x2 may be a Python scalar (not both)."""
    C.require_dtypes(dev, dt)
    cond = np.asarray([True, False, True])
    a = np.asarray([1, 0, 1]).astype(dt)
    s = C.py_scalar_for(dt, 0 if dt == "bool" else 5)
    c, x = C.to_xp(cond, dev), C.to_xp(a, dev)
    C.check(xp.where(c, x, s), np.where(cond, a, np.asarray(s, dtype=dt)), dtype=dt, dev=dev, exact=True, what="where(c, x, scalar)")
    C.check(xp.where(c, s, x), np.where(cond, np.asarray(s, dtype=dt), a), dtype=dt, dev=dev, exact=True, what="where(c, scalar, x)")
