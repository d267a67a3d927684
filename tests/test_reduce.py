"""Reductions against NumPy: sum/prod/max/min/mean/var/std/any/all over any axes with
keepdims, argmax/argmin (first occurrence, NaN like NumPy), cumsum/cumprod on short and
blocked (> 512) axes, logsumexp/softmax/log_softmax, and empty-axis behaviour."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zyx
from zyx import dtypes as dt

from _util import T, arrays, assert_close, hyp, ids, require, tol, warm

SHAPES = [(), (0,), (5,), (3, 4), (2, 0, 3), (2, 3, 4), (1, 7, 1)]
RED_DTYPES = [dt.float32, dt.float64, dt.float16, dt.int32, dt.int8, dt.uint8, dt.bool_]


@st.composite
def shape_and_axis(draw, shapes=SHAPES, allow_tuple: bool = True):
    shape = draw(st.sampled_from(shapes))
    nd = len(shape)
    options = [None]
    if nd:
        options += list(range(-nd, nd))
    if nd >= 2 and allow_tuple:
        options += [(0, nd - 1), (-1, 0), tuple(range(nd))]
    if nd == 0:
        options += [0, -1, ()]
    axis = draw(st.sampled_from(options))
    return shape, axis, draw(st.booleans())


def _values(d: dt.DType, shape):
    if d.kind == "f":
        return arrays(d, shape, lo=-10.0, hi=10.0, special=False)
    if d.kind in "iu":
        return arrays(d, shape, lo=-20, hi=20)
    return arrays(d, shape)


def _sum_dtype(d: dt.DType) -> np.dtype:
    return np.dtype(np.int64) if d.kind in "ib" else (np.dtype(np.uint64) if d.kind == "u" else d.np)


@pytest.mark.parametrize("d", RED_DTYPES, ids=ids(RED_DTYPES))
def test_reductions(device, d):
    require(device, d)

    @hyp(8)
    @given(sak=shape_and_axis(), data=st.data())
    def check(sak, data):
        shape, axis, kd = sak
        a = data.draw(_values(d, shape))
        x = T(a, device)
        nd = len(shape)
        if nd == 0 and axis in (0, -1):
            axis = None  # zyx accepts axis 0/-1 on a 0-d tensor (as torch); NumPy wants None
        axes = range(nd) if axis is None else [a % nd for a in (axis if isinstance(axis, tuple) else (axis,))]
        empty = any(shape[a] == 0 for a in axes)
        outs = {}
        for name in ("sum", "prod", "mean", "var", "std", "any", "all", "max", "min"):
            if name in ("max", "min") and empty:
                with pytest.raises(ValueError):
                    getattr(x, name)(axis=axis, keepdims=kd)
                continue
            outs[name] = getattr(x, name)(axis=axis, keepdims=kd)
        warm(*outs.values())
        w = a.astype(np.float64) if d.kind == "f" else a
        with np.errstate(all="ignore"):
            for name, got in outs.items():
                if name in ("sum", "prod"):
                    want = getattr(np, name)(w, axis=axis, keepdims=kd, dtype=_sum_dtype(d) if d.kind != "f" else None)
                    want = want.astype(_sum_dtype(d))
                    mag = np.sum(np.abs(w), axis=axis, keepdims=kd) if name == "sum" else np.abs(want)
                    r, at = tol(d, 8)
                    assert_close(got, want, rtol=r, atol=np.asarray(mag) * r + at, dtype=dt.from_numpy(want.dtype),
                                 msg=f"{name} axis={axis} keepdims={kd}")
                elif name in ("any", "all"):
                    assert_close(got, getattr(np, name)(a, axis=axis, keepdims=kd), dtype=dt.bool_, msg=name)
                elif name in ("max", "min"):
                    assert_close(got, getattr(np, name)(a, axis=axis, keepdims=kd), dtype=d, msg=name)
                else:
                    want = getattr(np, name)(w.astype(np.float64), axis=axis, keepdims=kd)
                    out_d = d if d.kind == "f" else got.dtype
                    assert out_d.is_float
                    r, at = tol(out_d, 16)
                    assert_close(got, np.asarray(want).astype(out_d.np), rtol=r, atol=max(at, r * 10),
                                 dtype=out_d, msg=f"{name} axis={axis} keepdims={kd}")
    check()


@pytest.mark.parametrize("correction", [0, 1, 2.5])
def test_var_std_correction(device, correction):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    x = T(a, device)
    for axis in (None, 0, 1, (0, 1)):
        assert_close(x.var(axis=axis, correction=correction), np.var(a.astype(np.float64), axis=axis,
                                                                      ddof=correction).astype(np.float32),
                     rtol=1e-5, atol=1e-6, msg=f"var {axis}")
        assert_close(x.std(axis=axis, correction=correction, keepdims=True),
                     np.std(a.astype(np.float64), axis=axis, ddof=correction, keepdims=True).astype(np.float32),
                     rtol=1e-5, atol=1e-6, msg=f"std {axis}")


def test_reductions_propagate_nan_and_inf(device):
    a = np.array([[1.0, np.nan, 3.0], [np.inf, 1.0, -np.inf], [np.inf, 2.0, 5.0], [-0.0, 0.0, -1.0]], np.float32)
    x = T(a, device)
    with np.errstate(all="ignore"):
        for name in ("sum", "prod", "max", "min", "mean"):
            for axis in (None, 0, 1):
                assert_close(getattr(x, name)(axis=axis), getattr(np, name)(a, axis=axis), rtol=1e-6,
                             msg=f"{name} {axis}")


@pytest.mark.parametrize("d", [dt.float32, dt.float64, dt.int32, dt.uint8, dt.bool_, dt.float16], ids=str)
def test_argmax_argmin(device, d):
    require(device, d)

    @hyp(8)
    @given(sak=shape_and_axis(shapes=[(1,), (6,), (3, 4), (2, 3, 4)], allow_tuple=False), data=st.data())
    def check(sak, data):
        shape, axis, kd = sak
        if d.kind == "f":
            el = arrays(d, shape, lo=-3.0, hi=3.0)  # small range: many ties, and nan/inf
            a = data.draw(el)
            a = np.round(a.astype(np.float64)).astype(d.np)
        else:
            a = data.draw(arrays(d, shape, lo=-2, hi=2) if d.kind in "iu" else arrays(d, shape))
        x = T(a, device)
        for name in ("argmax", "argmin"):
            got = getattr(x, name)(axis=axis, keepdims=kd)
            want = getattr(np, name)(a, axis=axis, keepdims=kd)
            assert_close(got, want, msg=f"{name} axis={axis} keepdims={kd}")
    check()


def test_argmax_first_nan_and_first_tie(device):
    a = np.array([[1.0, 5.0, 5.0, np.nan, np.nan], [-np.inf, -np.inf, 0.0, 0.0, -1.0]], np.float32)
    x = T(a, device)
    for name in ("argmax", "argmin"):
        for axis in (None, 0, 1, -1):
            assert_close(getattr(x, name)(axis=axis), getattr(np, name)(a, axis=axis), msg=f"{name} {axis}")


CUM_CASES = [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 600), 1), ((1030,), 0), ((513, 2), 0), ((2, 3, 4), -2)]


@pytest.mark.parametrize("shape,axis", CUM_CASES, ids=[f"{s}-{a}" for s, a in CUM_CASES])
@pytest.mark.parametrize("d", [dt.float64, dt.int32, dt.float32], ids=str)
def test_cumsum_cumprod(device, shape, axis, d):
    require(device, d)
    rng = np.random.default_rng(2)
    if d.kind == "f":
        a = rng.standard_normal(shape).astype(d.np)
        p = (1 + (rng.random(shape) - 0.5) * 0.01).astype(d.np)
    else:
        a = rng.integers(-50, 50, shape).astype(d.np)
        p = rng.choice(np.array([1, -1, 1, 2], d.np), shape)
    x, y = T(a, device), T(p, device)
    cs, cp = x.cumsum(axis), y.cumprod(axis)
    zyx.realize(cs, cp)
    ws = np.cumsum(a.astype(np.float64) if d.kind == "f" else a, axis=axis)
    wp = np.cumprod(p.astype(np.float64) if d.kind == "f" else p, axis=axis)
    out = dt.int64 if d.kind == "i" else d
    r = 1e-12 if d is dt.float64 else 2e-5
    n = shape[axis]
    mag = np.cumsum(np.abs(a.astype(np.float64)), axis=axis)
    assert_close(cs, ws.astype(out.np), rtol=r, atol=mag * r * (n ** 0.5 if d.kind == "f" else 0), dtype=out,
                 msg="cumsum")
    with np.errstate(over="ignore"):
        assert_close(cp, wp.astype(out.np), rtol=r * (10 if n > 512 else 1), dtype=out, msg="cumprod")


def test_cumsum_bool_and_dtype(device):
    a = np.array([True, False, True, True])
    assert_close(T(a, device).cumsum(), np.cumsum(a), dtype=dt.int64)
    assert_close(T(np.arange(5, dtype=np.int8), device).cumsum(dtype=dt.float32), np.cumsum(np.arange(5)).astype(
        np.float32), dtype=dt.float32)
    with pytest.raises(ValueError):
        T(np.float32(1), device).cumsum()


def _np_logsumexp(a, axis, keepdims):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isinf(m), 0, m)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis if axis is not None else tuple(range(a.ndim)))


@hyp(15)
@given(sak=shape_and_axis(shapes=[(5,), (3, 4), (2, 3, 4)]), data=st.data())
def test_logsumexp_softmax(device, sak, data):
    shape, axis, kd = sak
    a = data.draw(arrays(dt.float32, shape, lo=-30.0, hi=30.0, special=False))
    x = T(a, device)
    w = a.astype(np.float64)
    assert_close(x.logsumexp(axis=axis, keepdims=kd), _np_logsumexp(w, axis, kd).astype(np.float32), rtol=1e-5,
                 atol=1e-5, msg=f"logsumexp {axis} {kd}")
    if isinstance(axis, int) and not isinstance(axis, bool):
        e = np.exp(w - w.max(axis=axis, keepdims=True))
        sm = e / e.sum(axis=axis, keepdims=True)
        assert_close(x.softmax(axis), sm.astype(np.float32), rtol=1e-5, atol=1e-7, msg=f"softmax {axis}")
        assert_close(x.log_softmax(axis), np.log(sm).astype(np.float32), rtol=1e-5, atol=1e-5,
                     msg=f"log_softmax {axis}")


def test_logsumexp_infinities(device):
    a = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, -np.inf]], np.float32)
    x = T(a, device)
    assert_close(x.logsumexp(axis=1), np.array([-np.inf, np.inf, 0.0], np.float32), msg="logsumexp inf")
    sm = x[1:].softmax(-1).numpy()
    assert np.isnan(sm[0]).all() or np.allclose(sm[0], [1, 0])  # inf - inf: nan (NumPy/torch agree on nan)
    assert_close(x[2:].softmax(-1), np.array([[1.0, 0.0]], np.float32), msg="softmax -inf")


def test_empty_axis_behaviour(device):
    x = T(np.zeros((2, 0), np.float32), device)
    assert_close(x.sum(1), np.zeros(2, np.float32), msg="sum of empty")
    assert_close(x.prod(1), np.ones(2, np.float32), msg="prod of empty")
    assert_close(x.sum(), np.float32(0), msg="sum of all empty")
    assert_close(x.any(1), np.zeros(2, bool), msg="any of empty")
    assert_close(x.all(1), np.ones(2, bool), msg="all of empty")
    assert_close(x.sum(0), np.zeros(0, np.float32), msg="sum over the non-empty axis")
    assert_close(x.max(0), np.zeros(0, np.float32), msg="max over a non-empty axis of an empty tensor")
    assert np.isnan(x.mean(1).numpy()).all()
    for f in (lambda: x.max(1), lambda: x.min(), lambda: x.argmax(1), lambda: x.argmin(axis=1)):
        with pytest.raises(ValueError):
            f()


def test_reduce_bad_axes(device):
    x = T(np.zeros((2, 3), np.float32), device)
    for bad in (2, -3, (0, 0), (0, 5)):
        with pytest.raises((ValueError, IndexError)):
            x.sum(axis=bad)
    with pytest.raises(TypeError):
        x.sum(axis=1.5)


def test_sum_dtype_argument(device):
    a = np.array([200, 100, 50], np.uint8)
    x = T(a, device)
    assert_close(x.sum(), np.uint64(350), dtype=dt.uint64)
    assert_close(x.sum(dtype=dt.uint8), np.sum(a, dtype=np.uint8), dtype=dt.uint8)
    assert_close(x.sum(dtype=dt.float32), np.float32(350), dtype=dt.float32)


@pytest.mark.parametrize("n", [4095, 4096, 100_003])
def test_large_full_reduction(device, n):
    """Big full reductions take the thread-split path on the CPU."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(np.float32)
    a[n // 3] = 50.0
    x = T(a, device)
    s, m, am = x.sum(), x.max(), x.argmax()
    zyx.realize(s, m, am)
    assert_close(s, np.float32(a.astype(np.float64).sum()), rtol=1e-4, atol=1e-2, msg="sum")
    assert_close(m, a.max(), msg="max")
    assert_close(am, np.argmax(a), msg="argmax")
    a[7] = np.nan
    assert np.isnan(T(a, device).max().item())


def test_reduce_over_size_one_axes_keeps_nan(device):
    """A reduction whose axes all have size 1 has nothing to combine: NaN must survive
    (regression: the CPU's max/min NaN flag was only applied after a loop)."""
    a = np.array([[np.nan, 1.0, -np.inf]], np.float32)
    x = T(a, device)
    for name in ("max", "min", "sum", "prod"):
        assert_close(getattr(x, name)(0), getattr(np, name)(a, 0), msg=f"{name} over a size-1 axis")
        assert_close(getattr(x[:, :1], name)(), getattr(np, name)(a[:, :1]), msg=f"{name} of one element")
    assert_close(x.argmax(0), np.argmax(a, 0), msg="argmax over a size-1 axis")
    assert_close(x[:, :1].argmin(), np.argmin(a[:, :1]), msg="argmin of one NaN")
