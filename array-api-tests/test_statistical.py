"""Statistical functions: max, min, mean, prod, std, sum, var,
cumulative_sum, cumulative_prod (incl. dtype rules and special cases)."""

from __future__ import annotations

import math

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


def _kw(axis, keepdims):
    kw = {}
    if axis != "omit":
        kw["axis"] = axis
    if keepdims is not None:
        kw["keepdims"] = keepdims
    return kw


def _np_axis(axis):
    return None if axis in ("omit", None) else axis


acc_dtype = C.acc_dtype


def _reduced_count(shape, axis):
    if axis in ("omit", None):
        return C.prod(shape)
    axs = (axis,) if isinstance(axis, int) else axis
    return C.prod([shape[a] for a in axs])


@pytest.mark.parametrize("fname", ["max", "min"])
@given(data=st.data())
def test_max_min(fname, dev, data):
    dt = draw_dtype(data, dev, C.REAL)
    shape = data.draw(shapes(max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -1e6, 1e6) if dt in C.RFLOAT else None), label="x")
    axis = data.draw(_axes(a.ndim), label="axis")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    res = getattr(xp, fname)(C.to_xp(a, dev), **_kw(axis, keepdims))
    expected = getattr(np, "amax" if fname == "max" else "amin")(a, axis=_np_axis(axis), keepdims=bool(keepdims))
    C.check(res, np.asarray(expected), dtype=dt, dev=dev, exact=True, what=f"{fname}(axis={axis}, keepdims={keepdims})")


@pytest.mark.parametrize("fname", ["sum", "prod"])
@given(data=st.data())
def test_sum_prod(fname, dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    shape = data.draw(shapes(max_dims=3, max_side=4 if fname == "sum" else 3), label="shape")
    if fname == "prod" and C.prod(shape) > 12:
        shape = shape[:1]
    lo, hi = (-5, 5) if fname == "sum" else (-2, 2)
    if dt in C.UINT:
        lo = 0
    a = data.draw(arrays(dt, shape, elements(dt, lo, hi)), label="x")
    axis = data.draw(_axes(a.ndim), label="axis")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    explicit = data.draw(st.none() | st.sampled_from(C.dtypes_on(dev, [d for d in C.NUMERIC if _castable(dt, d)])), label="dtype")
    kw = _kw(axis, keepdims)
    if explicit is not None:
        kw["dtype"] = C.xdtype(explicit)
    want = explicit or acc_dtype(dt, dev)
    if want not in C.supported_dtypes(dev):
        pytest.skip(f"{want} unsupported on this device")
    res = getattr(xp, fname)(C.to_xp(a, dev), **kw)
    expected = getattr(np, fname)(a.astype(want), axis=_np_axis(axis), keepdims=bool(keepdims))
    n = max(1, _reduced_count(shape, axis))
    C.check(res, np.asarray(expected, dtype=want), dtype=want, dev=dev, what=f"{fname}({dt}, {kw})", **C.tol_for(want, 4 * n))


def _castable(src, dst):
    """dtype argument choices that keep values exact: same kind, not narrower."""
    if src in C.SINT:
        return dst in C.SINT and C.nbytes_bits(dst) >= C.nbytes_bits(src)
    if src in C.UINT:
        return dst in C.UINT and C.nbytes_bits(dst) >= C.nbytes_bits(src)
    if src in C.RFLOAT:
        return dst in C.RFLOAT + C.CFLOAT and C.nbytes_bits(C.REAL_OF[dst]) >= C.nbytes_bits(src)
    return dst in C.CFLOAT and C.nbytes_bits(dst) >= C.nbytes_bits(src)


@given(data=st.data())
def test_mean(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)  # complex: 2024.12
    shape = data.draw(shapes(max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -100, 100)), label="x")
    axis = data.draw(_axes(a.ndim), label="axis")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    res = xp.mean(C.to_xp(a, dev), **_kw(axis, keepdims))
    expected = np.mean(a.astype(np.complex128 if dt in C.CFLOAT else np.float64), axis=_np_axis(axis), keepdims=bool(keepdims))
    C.check(res, np.asarray(expected).astype(dt), dtype=dt, dev=dev, what=f"mean(axis={axis})", rtol=64 * C.EPS[C.REAL_OF[dt]], atol=64 * C.EPS[C.REAL_OF[dt]] * 100)


@pytest.mark.parametrize("fname", ["std", "var"])
@given(data=st.data())
def test_std_var(fname, dev, data):
    dt = draw_dtype(data, dev, C.RFLOAT)
    shape = data.draw(shapes(max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -100, 100)), label="x")
    axis = data.draw(_axes(a.ndim), label="axis")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    correction = data.draw(st.sampled_from([None, 0, 1, 0.5, 1.0]), label="correction")
    kw = _kw(axis, keepdims)
    if correction is not None:
        kw["correction"] = correction
    n = _reduced_count(shape, axis)
    c = correction or 0
    with np.errstate(all="ignore"):
        expected = getattr(np, fname)(a.astype(np.float64), axis=_np_axis(axis), keepdims=bool(keepdims), ddof=c)
    expected = np.asarray(expected)
    if n - c <= 0:
        expected = np.full(expected.shape, np.nan)
    res = getattr(xp, fname)(C.to_xp(a, dev), **kw)
    eps = C.EPS[dt]
    scale = 100.0 if fname == "std" else 1e4
    C.check(res, expected.astype(dt), dtype=dt, dev=dev, what=f"{fname}({kw})", rtol=256 * eps, atol=256 * eps * scale)


@pytest.mark.parametrize("fname", ["cumulative_sum", "cumulative_prod"])
@given(data=st.data())
def test_cumulative(fname, dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    lo, hi = (-5, 5) if fname == "cumulative_sum" else (-2, 2)
    if dt in C.UINT:
        lo = 0
    a = data.draw(arrays(dt, shape, elements(dt, lo, hi)), label="x")
    if a.ndim == 1 and data.draw(st.booleans(), label="omit axis"):
        axis = None
    else:
        axis = data.draw(st.integers(-a.ndim, a.ndim - 1), label="axis")
    include_initial = data.draw(st.sampled_from([None, False, True]), label="include_initial")
    explicit = data.draw(st.none() | st.sampled_from(C.dtypes_on(dev, [d for d in C.NUMERIC if _castable(dt, d)])), label="dtype")
    kw = {}
    if axis is not None:
        kw["axis"] = axis
    if include_initial is not None:
        kw["include_initial"] = include_initial
    if explicit is not None:
        kw["dtype"] = C.xdtype(explicit)
    want = explicit or acc_dtype(dt, dev)
    if want not in C.supported_dtypes(dev):
        pytest.skip(f"{want} unsupported on this device")
    ax = 0 if axis is None else axis
    b = a.astype(want)
    expected = (np.cumsum if fname == "cumulative_sum" else np.cumprod)(b, axis=ax)
    if include_initial:
        init_shape = list(b.shape)
        init_shape[ax] = 1
        init = np.full(init_shape, 0 if fname == "cumulative_sum" else 1, dtype=want)
        expected = np.concatenate([init, expected], axis=ax)
    res = getattr(xp, fname)(C.to_xp(a, dev), **kw)
    C.check(res, expected, dtype=want, dev=dev, what=f"{fname}({dt}, {kw})", **C.tol_for(want, 4 * a.shape[ax] + 4))


# --------------------------------------------------------------------------
# special cases
# --------------------------------------------------------------------------


def _f(dev):
    return C.dtypes_on(dev, ["float32", "float64"])[0]


def test_empty_reductions(dev):
    dt = _f(dev)
    e = xp.zeros((0,), dtype=C.xdtype(dt), **C.devkw(dev))
    C.check(xp.sum(e), np.asarray(0, dtype=dt), dev=dev, what="sum(empty) = 0")
    C.check(xp.prod(e), np.asarray(1, dtype=dt), dev=dev, what="prod(empty) = 1")
    C.check(xp.mean(e), np.asarray(np.nan, dtype=dt), dev=dev, what="mean(empty) = NaN")
    e2 = xp.zeros((2, 0), dtype=C.xdtype(dt), **C.devkw(dev))
    C.check(xp.sum(e2, axis=1), np.zeros(2, dtype=dt), dev=dev, what="sum over an empty axis")
    C.check(xp.prod(e2, axis=1), np.ones(2, dtype=dt), dev=dev, what="prod over an empty axis")
    C.check(xp.sum(e2, axis=0), np.zeros(0, dtype=dt), dev=dev, what="sum giving an empty result")


def test_nan_propagation(dev):
    dt = _f(dev)
    a = np.asarray([[1.0, math.nan, 3.0], [4.0, 5.0, 6.0]], dtype=dt)
    x = C.to_xp(a, dev)
    for fname in ("max", "min", "sum", "prod", "mean", "std", "var"):
        res = C.to_np(getattr(xp, fname)(x, axis=1))
        assert np.isnan(res[0]) and not np.isnan(res[1]), f"{fname}: NaN must propagate ({res})"
    for fname in ("cumulative_sum", "cumulative_prod"):
        res = C.to_np(getattr(xp, fname)(x, axis=1))
        assert np.isnan(res[0, 1]) and np.isnan(res[0, 2]) and not np.isnan(res[0, 0])


def test_std_var_correction_too_large(dev):
    dt = _f(dev)
    x = C.to_xp(np.asarray([1.0, 2.0], dtype=dt), dev)
    for fname in ("std", "var"):
        res = C.to_np(getattr(xp, fname)(x, correction=2))
        assert np.isnan(res), f"{fname}(correction >= N) must be NaN, got {res}"


def test_sum_prod_dtype_defaults_for_small_ints(dev):
    for dt in C.dtypes_on(dev, ["int8", "uint8", "int16", "uint32", "float32", "complex64", "int64"]):
        x = C.to_xp(np.asarray([1, 2, 3], dtype=dt), dev)
        for f in ("sum", "prod", "cumulative_sum", "cumulative_prod"):
            want = acc_dtype(dt, dev)
            if want not in C.supported_dtypes(dev):
                continue
            C.assert_dtype(getattr(xp, f)(x), want, f"{f}({dt})")
