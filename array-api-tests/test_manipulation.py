"""Manipulation functions (differential against array_api_strict/NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, broadcastable_pair, draw_dtype, hnp, shapes, st

DTS = C.ALL_DTYPES


def _x(data, dev, *, min_dims=0, max_dims=3, min_side=0, max_side=4, names=DTS):
    dt = draw_dtype(data, dev, names)
    shape = data.draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    return dt, a


@given(data=st.data())
def test_broadcast_arrays(dev, data):
    dt1 = draw_dtype(data, dev, DTS)
    dt2 = draw_dtype(data, dev, DTS, label="dtype2")
    s1, s2, rs = data.draw(broadcastable_pair(), label="shapes")
    a1, a2 = data.draw(arrays(dt1, s1), label="x1"), data.draw(arrays(dt2, s2), label="x2")
    res = xp.broadcast_arrays(C.to_xp(a1, dev), C.to_xp(a2, dev))
    assert isinstance(res, tuple), f"broadcast_arrays must return a tuple (2025.12), got {type(res).__name__}"
    e1, e2 = np.broadcast_arrays(a1, a2)
    C.check(res[0], e1, dev=dev, exact=True, what="broadcast_arrays[0]")
    C.check(res[1], e2, dev=dev, exact=True, what="broadcast_arrays[1]")


@given(data=st.data())
def test_broadcast_shapes(data):
    n = data.draw(st.integers(0, 3), label="n")
    r = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=max(n, 1), max_dims=4, max_side=5), label="shapes")
    shapes_ = r.input_shapes[:n]
    got = xp.broadcast_shapes(*shapes_)
    want = np.broadcast_shapes(*shapes_) if n else ()
    assert tuple(got) == tuple(want) and isinstance(got, tuple), f"broadcast_shapes{shapes_} = {got!r}, expected {want}"


def test_broadcast_shapes_incompatible():
    with pytest.raises(ValueError):
        xp.broadcast_shapes((2, 3), (4, 3))


@given(data=st.data())
def test_broadcast_to(dev, data):
    dt, a = _x(data, dev)
    target = data.draw(hnp.array_shapes(min_dims=a.ndim, max_dims=a.ndim + 1, min_side=0, max_side=4).filter(
        lambda s: _bto(a.shape, s)), label="target")
    res = xp.broadcast_to(C.to_xp(a, dev), target)
    C.check(res, np.broadcast_to(a, target), dev=dev, exact=True, what=f"broadcast_to({a.shape} -> {target})")


def _bto(src, dst):
    try:
        return np.broadcast_shapes(src, dst) == tuple(dst)
    except ValueError:
        return False


def test_broadcast_to_incompatible_raises(dev):
    x = xp.zeros((3,), **C.devkw(dev))
    with pytest.raises(Exception):
        xp.broadcast_to(x, (2,))


@given(data=st.data())
def test_concat(dev, data):
    dt = draw_dtype(data, dev, DTS)
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1), label="axis")
    n = data.draw(st.integers(1, 3), label="n arrays")
    arrs = []
    for i in range(n):
        s = list(shape)
        if axis is not None:
            s[axis] = data.draw(st.integers(0, 3))
        else:
            s = data.draw(shapes(max_dims=2, max_side=3))
        arrs.append(data.draw(arrays(dt, tuple(s)), label=f"x{i}"))
    kw = {} if (axis == 0 and data.draw(st.booleans(), label="default axis")) else {"axis": axis}
    res = xp.concat([C.to_xp(a, dev) for a in arrs], **kw)
    expected = np.concatenate([a.reshape(-1) for a in arrs]) if axis is None else np.concatenate(arrs, axis=axis)
    C.check(res, expected, dtype=dt, dev=dev, exact=True, what=f"concat(axis={axis})")
    res_t = xp.concat(tuple(C.to_xp(a, dev) for a in arrs), **kw)
    C.check(res_t, expected, dtype=dt, dev=dev, exact=True, what="concat(tuple)")


@given(data=st.data())
def test_expand_dims(dev, data):
    dt, a = _x(data, dev)
    mode = data.draw(st.sampled_from(["int", "tuple"]), label="mode")
    if mode == "int":
        axis = data.draw(st.integers(-a.ndim - 1, a.ndim), label="axis")
        expected = np.expand_dims(a, axis)
    else:
        k = data.draw(st.integers(1, 2), label="k")
        m = a.ndim + k
        pos = data.draw(st.lists(st.integers(0, m - 1), min_size=k, max_size=k, unique=True), label="positions")
        axis = tuple(data.draw(st.sampled_from([p, p - m])) for p in pos)
        expected = np.expand_dims(a, tuple(p for p in pos))
    res = xp.expand_dims(C.to_xp(a, dev), axis=axis)
    C.check(res, expected, dev=dev, exact=True, what=f"expand_dims(axis={axis})")


def test_expand_dims_positional_axis(dev):
    x = C.to_xp(np.asarray([1, 2], dtype="int32"), dev)
    C.assert_shape(xp.expand_dims(x, 0), (1, 2), "expand_dims(x, 0)")
    C.assert_shape(xp.expand_dims(x, (0, -1)), (1, 2, 1), "expand_dims(x, (0, -1))")


@given(data=st.data())
def test_flip(dev, data):
    dt, a = _x(data, dev)
    axis = data.draw(_axes(a.ndim), label="axis")
    kw = {} if axis == "omit" else {"axis": axis}
    res = xp.flip(C.to_xp(a, dev), **kw)
    expected = np.flip(a, axis=None if axis == "omit" else axis)
    C.check(res, expected, dev=dev, exact=True, what=f"flip(axis={axis})")


def _axes(ndim):
    opts = [st.just("omit"), st.none()]
    if ndim:
        opts.append(st.integers(-ndim, ndim - 1))
        opts.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple))
    return st.one_of(*opts)


@given(data=st.data())
def test_moveaxis(dev, data):
    dt, a = _x(data, dev, min_dims=1)
    n = a.ndim
    k = data.draw(st.integers(1, n), label="k")
    src = data.draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k, unique_by=lambda v: v % n), label="source")
    dst = data.draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k, unique_by=lambda v: v % n), label="destination")
    if k == 1 and data.draw(st.booleans(), label="ints"):
        src, dst = src[0], dst[0]
    else:
        src, dst = tuple(src), tuple(dst)
    res = xp.moveaxis(C.to_xp(a, dev), src, dst)
    C.check(res, np.moveaxis(a, src, dst), dev=dev, exact=True, what=f"moveaxis({src}, {dst})")


@given(data=st.data())
def test_permute_dims(dev, data):
    dt, a = _x(data, dev)
    perm = data.draw(st.permutations(range(a.ndim)), label="perm")
    axes = tuple(data.draw(st.sampled_from([p, p - a.ndim])) for p in perm)  # negative axes: 2025.12
    res = xp.permute_dims(C.to_xp(a, dev), axes)
    C.check(res, np.transpose(a, perm), dev=dev, exact=True, what=f"permute_dims({axes})")


@given(data=st.data())
def test_repeat(dev, data):
    dt, a = _x(data, dev, max_side=3)
    axis = data.draw(st.none() | (st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none()), label="axis")
    size = a.size if axis is None else a.shape[axis]
    kind = data.draw(st.sampled_from(["int", "array", "array1"]), label="repeats kind")
    if axis is None and a.ndim == 0:
        kind = "int"
    if kind == "int":
        reps = data.draw(st.integers(0, 3), label="repeats")
        rx = reps
    else:
        n = 1 if kind == "array1" else size
        it = C.default_index(dev)
        reps = data.draw(arrays(it, (n,), st.integers(0, 3)), label="repeats")
        rx = C.to_xp(reps, dev)
    kw = {} if axis is None else {"axis": axis}
    res = xp.repeat(C.to_xp(a, dev), rx, **kw)
    expected = np.repeat(a, reps, axis=axis)
    C.check(res, expected, dev=dev, exact=True, what=f"repeat({kind}, axis={axis})")


def _factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def _same_size_shapes(draw, size):
    ndim = draw(st.integers(0 if size == 1 else 1, 4))
    if size == 0:
        dims = [draw(st.integers(0, 3)) for _ in range(ndim)]
        dims[draw(st.integers(0, ndim - 1))] = 0
        return tuple(dims)
    dims = [1] * ndim
    for f in _factors(size):
        dims[draw(st.integers(0, ndim - 1))] *= f
    return tuple(dims)


@given(data=st.data())
def test_reshape(dev, data):
    dt, a = _x(data, dev)
    # choose a target shape with the same size
    target = data.draw(_same_size_shapes(a.size), label="target")
    t = list(target)
    if t and a.size and data.draw(st.booleans(), label="use -1"):
        t[data.draw(st.integers(0, len(t) - 1))] = -1
    res = xp.reshape(C.to_xp(a, dev), tuple(t))
    C.check(res, a.reshape(target), dev=dev, exact=True, what=f"reshape({tuple(t)})")
    res2 = xp.reshape(C.to_xp(a, dev), shape=tuple(t), copy=True)
    C.check(res2, a.reshape(target), dev=dev, exact=True, what="reshape(copy=True)")


def test_reshape_copy_true_is_independent(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    a = np.arange(6, dtype=dt)
    x = C.to_xp(a, dev)
    y = xp.reshape(x, (2, 3), copy=True)
    x[0] = 100
    C.check(y, a.reshape(2, 3), dev=dev, what="reshape(copy=True) after modifying x")


@given(data=st.data())
def test_roll(dev, data):
    dt, a = _x(data, dev)
    mode = data.draw(st.sampled_from(["none", "int", "tuple"]) if a.ndim else st.just("none"), label="mode")
    if mode == "none":
        shift = data.draw(st.integers(-7, 7), label="shift")
        axis = None
    elif mode == "int":
        shift = data.draw(st.integers(-7, 7), label="shift")
        axis = data.draw(st.integers(-a.ndim, a.ndim - 1), label="axis")
    else:
        k = data.draw(st.integers(1, a.ndim), label="k")
        axis = tuple(data.draw(st.lists(st.integers(0, a.ndim - 1), min_size=k, max_size=k, unique=True)))
        shift = tuple(data.draw(st.lists(st.integers(-5, 5), min_size=k, max_size=k)))
        if data.draw(st.booleans(), label="int shift"):
            shift = shift[0]
    kw = {} if axis is None else {"axis": axis}
    res = xp.roll(C.to_xp(a, dev), shift, **kw)
    C.check(res, np.roll(a, shift, axis=axis), dev=dev, exact=True, what=f"roll({shift}, axis={axis})")


@given(data=st.data())
def test_squeeze(dev, data):
    dt, a0 = _x(data, dev, min_dims=1)
    # insert singleton axes to squeeze
    shape = list(a0.shape)
    k = data.draw(st.integers(1, 2), label="n singletons")
    for _ in range(k):
        shape.insert(data.draw(st.integers(0, len(shape))), 1)
    a = a0.reshape(shape)
    ones = [i for i, n in enumerate(shape) if n == 1]
    sel = data.draw(st.lists(st.sampled_from(ones), min_size=1, max_size=len(ones), unique=True), label="axes")
    axis = tuple(data.draw(st.sampled_from([i, i - len(shape)])) for i in sel)
    if len(axis) == 1 and data.draw(st.booleans(), label="int axis"):
        axis = axis[0]
    res = xp.squeeze(C.to_xp(a, dev), axis)
    C.check(res, np.squeeze(a, axis=axis), dev=dev, exact=True, what=f"squeeze(axis={axis})")


def test_squeeze_non_singleton_raises(dev):
    x = xp.zeros((2, 1), **C.devkw(dev))
    with pytest.raises(ValueError):
        xp.squeeze(x, axis=0)


@given(data=st.data())
def test_stack(dev, data):
    dt, a = _x(data, dev, max_dims=2)
    n = data.draw(st.integers(1, 3), label="n")
    arrs = [a] + [data.draw(arrays(dt, a.shape), label=f"x{i}") for i in range(1, n)]
    axis = data.draw(st.integers(-a.ndim - 1, a.ndim), label="axis")
    res = xp.stack([C.to_xp(x, dev) for x in arrs], axis=axis)
    C.check(res, np.stack(arrs, axis=axis), dev=dev, exact=True, what=f"stack(axis={axis})")


@given(data=st.data())
def test_tile(dev, data):
    dt, a = _x(data, dev, max_side=3)
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=3), label="repetitions"))
    res = xp.tile(C.to_xp(a, dev), reps)
    C.check(res, np.tile(a, reps), dev=dev, exact=True, what=f"tile({reps})")


@given(data=st.data())
def test_unstack(dev, data):
    dt, a = _x(data, dev, min_dims=1)
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1), label="axis")
    kw = {} if axis == 0 else {"axis": axis}
    res = xp.unstack(C.to_xp(a, dev), **kw)
    assert isinstance(res, tuple), f"unstack must return a tuple, got {type(res).__name__}"
    expected = [np.take(a, i, axis=axis) for i in range(a.shape[axis])]
    assert len(res) == len(expected)
    for i, (r, e) in enumerate(zip(res, expected)):
        C.check(r, e, dev=dev, exact=True, what=f"unstack(axis={axis})[{i}]")


def test_matrix_transpose(dev):
    a = np.arange(24, dtype="int32").reshape(2, 3, 4)
    C.check(xp.matrix_transpose(C.to_xp(a, dev)), np.swapaxes(a, -1, -2), dev=dev, what="matrix_transpose")
