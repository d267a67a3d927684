"""Set functions: isin (2025.12), unique_all, unique_counts, unique_inverse,
unique_values.  The order of unique values is unspecified, so results are
compared after sorting and checked for internal consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st

UDTS = C.INT + C.RFLOAT + ("bool",)


def _x(data, dev):
    dt = draw_dtype(data, dev, UDTS)
    shape = data.draw(shapes(max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -3, 3) if dt != "bool" else None), label="x")
    return dt, a


def _sorted_values(res_values):
    v = C.to_np(res_values)
    assert v.ndim == 1, "unique values must be a 1-D array"
    return v


@given(data=st.data())
def test_unique_values(dev, data):
    dt, a = _x(data, dev)
    res = xp.unique_values(C.to_xp(a, dev))
    C.assert_dtype(res, dt, "unique_values")
    C.assert_device(res, dev, "unique_values")
    v = _sorted_values(res)
    C.assert_values(np.sort(v), np.unique(a), exact=True, what="sorted(unique_values)")


@given(data=st.data())
def test_unique_counts(dev, data):
    dt, a = _x(data, dev)
    res = xp.unique_counts(C.to_xp(a, dev))
    assert hasattr(res, "values") and hasattr(res, "counts"), "unique_counts must return a namedtuple (values, counts)"
    values, counts = res
    C.assert_dtype(values, dt, "values")
    C.assert_dtype(counts, C.default_index(dev), "counts")
    v, c = C.to_np(values), C.to_np(counts)
    assert v.shape == c.shape
    order = np.argsort(v, kind="stable")
    ev, ec = np.unique(a, return_counts=True)
    C.assert_values(v[order], ev, exact=True, what="values")
    C.assert_values(c[order], ec, exact=True, what="counts (in the order of values)")


@given(data=st.data())
def test_unique_inverse(dev, data):
    dt, a = _x(data, dev)
    res = xp.unique_inverse(C.to_xp(a, dev))
    assert hasattr(res, "values") and hasattr(res, "inverse_indices")
    values, inv = res
    C.assert_dtype(values, dt, "values")
    C.assert_dtype(inv, C.default_index(dev), "inverse_indices")
    C.assert_shape(inv, a.shape, "inverse_indices")
    v, i = C.to_np(values), C.to_np(inv)
    C.assert_values(np.sort(v), np.unique(a), exact=True, what="values")
    if a.size:
        C.assert_values(v[i], a, exact=True, what="values[inverse_indices] reconstructs x")


@given(data=st.data())
def test_unique_all(dev, data):
    dt, a = _x(data, dev)
    res = xp.unique_all(C.to_xp(a, dev))
    for f in ("values", "indices", "inverse_indices", "counts"):
        assert hasattr(res, f), f"unique_all result lacks field {f!r}"
    values, indices, inv, counts = res
    for name, arr in (("indices", indices), ("inverse_indices", inv), ("counts", counts)):
        C.assert_dtype(arr, C.default_index(dev), name)
    C.assert_dtype(values, dt, "values")
    v, idx, i, c = (C.to_np(t) for t in (values, indices, inv, counts))
    flat = a.reshape(-1)
    C.assert_values(np.sort(v), np.unique(a), exact=True, what="values")
    assert idx.shape == v.shape and c.shape == v.shape
    if a.size:
        C.assert_values(flat[idx], v, exact=True, what="x.flat[indices] == values")
        first = np.asarray([np.flatnonzero(flat == val)[0] for val in v])
        C.assert_values(idx, first, exact=True, what="indices are first occurrences")
        C.assert_values(v[i], a, exact=True, what="values[inverse_indices]")
        C.assert_values(c, np.asarray([np.count_nonzero(flat == val) for val in v]), exact=True, what="counts")


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_unique_nan_and_signed_zero(dt, dev):
    """NaNs are distinct; -0 and +0 are the same value."""
    C.require_dtypes(dev, dt)
    a = np.asarray([math.nan, 1.0, math.nan, -0.0, 0.0, 1.0], dtype=dt)
    v = C.to_np(xp.unique_values(C.to_xp(a, dev)))
    assert v.shape == (4,), f"unique_values({a}) = {v} (expected 2 NaNs, one zero, one 1.0)"
    assert int(np.isnan(v).sum()) == 2
    vals, counts = xp.unique_counts(C.to_xp(a, dev))
    vals, counts = C.to_np(vals), C.to_np(counts)
    assert int(counts[np.isnan(vals)].sum()) == 2 and all(counts[np.isnan(vals)] == 1)
    assert int(counts[vals == 0][0]) == 2


@given(data=st.data())
def test_isin(dev, data):
    dt = draw_dtype(data, dev, C.INT)
    a1 = data.draw(arrays(dt, data.draw(shapes(max_dims=3, max_side=4)), elements(dt, -5, 5)), label="x1")
    a2 = data.draw(arrays(dt, data.draw(shapes(max_dims=2, max_side=4)), elements(dt, -5, 5)), label="x2")
    invert = data.draw(st.sampled_from([None, False, True]), label="invert")
    kw = {} if invert is None else {"invert": invert}
    res = xp.isin(C.to_xp(a1, dev), C.to_xp(a2, dev), **kw)
    C.check(res, np.isin(a1, a2, invert=bool(invert)), dtype="bool", dev=dev, what=f"isin(invert={invert})")


def test_isin_scalars(dev):
    dt = C.dtypes_on(dev, ["int32", "int64", "int16"])[0]
    a = np.asarray([1, 2, 3, 2], dtype=dt)
    x = C.to_xp(a, dev)
    C.check(xp.isin(x, 2), np.asarray([False, True, False, True]), dev=dev, what="isin(x, 2)")
    C.check(xp.isin(2, x), np.asarray(True), dev=dev, what="isin(2, x)")
    C.check(xp.isin(7, x, invert=True), np.asarray(True), dev=dev, what="isin(7, x, invert=True)")
