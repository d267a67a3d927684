"""Sorting functions: sort and argsort (axis, descending, stable)."""

from __future__ import annotations

import numpy as np

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st


def _stable_argsort_1d(v, descending):
    idx = list(range(len(v)))
    # Python's sort is stable also with reverse=True
    return sorted(idx, key=lambda i: v[i], reverse=descending)


def _expected_argsort(a, axis, descending):
    moved = np.moveaxis(a, axis, -1)
    out = np.empty(moved.shape, dtype=np.int64)
    for ix in np.ndindex(moved.shape[:-1]):
        out[ix] = _stable_argsort_1d(list(moved[ix]), descending)
    return np.moveaxis(out, -1, axis)


def _draw(data, dev):
    dt = draw_dtype(data, dev, C.REAL)
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=5), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -3, 3)), label="x")  # small range: ties
    axis = data.draw(st.sampled_from([None] + list(range(-a.ndim, a.ndim))), label="axis")
    descending = data.draw(st.sampled_from([None, False, True]), label="descending")
    stable = data.draw(st.sampled_from([None, True, False]), label="stable")
    kw = {}
    if axis is not None:
        kw["axis"] = axis
    if descending is not None:
        kw["descending"] = descending
    if stable is not None:
        kw["stable"] = stable
    return dt, a, (-1 if axis is None else axis), bool(descending), stable is not False, kw


@given(data=st.data())
def test_sort(dev, data):
    dt, a, axis, desc, stable, kw = _draw(data, dev)
    res = xp.sort(C.to_xp(a, dev), **kw)
    expected = np.sort(a, axis=axis)
    if desc:
        expected = np.flip(expected, axis=axis)
    C.check(res, expected, dev=dev, exact=True, what=f"sort({kw})")


@given(data=st.data())
def test_argsort(dev, data):
    dt, a, axis, desc, stable, kw = _draw(data, dev)
    res = xp.argsort(C.to_xp(a, dev), **kw)
    C.assert_dtype(res, C.default_index(dev), "argsort")
    C.assert_shape(res, a.shape, "argsort")
    C.assert_device(res, dev, "argsort")
    got = C.to_np(res)
    if stable:
        C.assert_values(got, _expected_argsort(a, axis, desc), exact=True, what=f"argsort({kw}) (stable)")
    else:
        # any permutation that sorts
        srt = np.take_along_axis(a, got, axis=axis)
        expected = np.sort(a, axis=axis)
        if desc:
            expected = np.flip(expected, axis=axis)
        C.assert_values(srt, expected, exact=True, what=f"take_along_axis(x, argsort({kw}))")
        C.assert_values(np.sort(got, axis=axis), np.broadcast_to(
            np.expand_dims(np.arange(a.shape[axis]), tuple(i for i in range(a.ndim) if i != axis % a.ndim)), a.shape),
            exact=True, what="argsort result is a permutation")
