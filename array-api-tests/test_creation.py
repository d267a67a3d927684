"""Creation functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from . import _common as C
from ._common import given, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st


def _shape_arg(draw):
    shape = draw(shapes(max_dims=3, max_side=4), label="shape")
    if len(shape) == 1 and draw(st.booleans(), label="int shape"):
        return shape, shape[0]
    return shape, shape


# --------------------------------------------------------------------------
# arange / linspace
# --------------------------------------------------------------------------


@given(data=st.data())
def test_arange_int(dev, data):
    start = data.draw(st.integers(-20, 20), label="start")
    stop = data.draw(st.none() | st.integers(-20, 20), label="stop")
    step = data.draw(st.sampled_from([1, 2, 3, -1, -2, -5]), label="step")
    explicit = data.draw(st.none() | st.sampled_from(["int8", "int16", "int32", "int64", "float32", "float64"]), label="dtype")
    if explicit is not None:
        C.require_dtypes(dev, explicit)
    if stop is None:
        args, step = (start,), 1
        py = list(range(start))
    else:
        args = (start, stop, step)
        py = list(range(start, stop, step))
    kw = {} if explicit is None else {"dtype": C.xdtype(explicit)}
    res = xp.arange(*args, **kw, **C.devkw(dev))
    want = explicit or C.default_int(dev)
    C.check(res, np.asarray(py, dtype=want), dtype=want, dev=dev, what=f"arange{args}")


@given(data=st.data())
def test_arange_float(dev, data):
    dt = draw_dtype(data, dev, C.RFLOAT)
    start = data.draw(st.sampled_from([0.0, -1.5, 2.25, 10.0]), label="start")
    stop = data.draw(st.sampled_from([5.0, -3.0, 0.5, 12.75]), label="stop")
    step = data.draw(st.sampled_from([0.5, 0.25, 1.5, -0.5, -1.25]), label="step")
    use_default = data.draw(st.booleans(), label="default dtype")
    if use_default:
        dt = C.default_float(dev)
        res = xp.arange(start, stop, step, **C.devkw(dev))
    else:
        res = xp.arange(start, stop, step, dtype=C.xdtype(dt), **C.devkw(dev))
    n = max(0, math.ceil((stop - start) / step))
    expected = np.asarray([start + i * step for i in range(n)], dtype=dt)
    C.check(res, expected, dtype=dt, dev=dev, what=f"arange({start}, {stop}, {step})", **C.tol_for(dt, 4))


@given(data=st.data())
def test_linspace(dev, data):
    kind = data.draw(st.sampled_from(["real", "complex", "default"]), label="kind")
    num = data.draw(st.integers(0, 7), label="num")
    endpoint = data.draw(st.booleans(), label="endpoint")
    start = data.draw(st.sampled_from([0.0, -2.0, 1.5, 3.0]), label="start")
    stop = data.draw(st.sampled_from([1.0, -4.0, 10.0, 3.0]), label="stop")
    kw = {}
    if kind == "complex":
        dt = draw_dtype(data, dev, C.CFLOAT)
        start, stop = complex(start, 1.0), complex(stop, -2.0)
        kw["dtype"] = C.xdtype(dt)
    elif kind == "real":
        dt = draw_dtype(data, dev, C.RFLOAT)
        kw["dtype"] = C.xdtype(dt)
    else:
        dt = C.default_float(dev)
    res = xp.linspace(start, stop, num, endpoint=endpoint, **kw, **C.devkw(dev))
    expected = np.linspace(start, stop, num, endpoint=endpoint).astype(dt)
    C.check(res, expected, dtype=dt, dev=dev, what=f"linspace({start}, {stop}, {num}, endpoint={endpoint})", **C.tol_for(dt, 8))


def test_linspace_complex_default(dev):
    res = xp.linspace(0j, 1 + 1j, 3, **C.devkw(dev))
    dt = C.default_complex(dev)
    C.check(res, np.asarray([0, 0.5 + 0.5j, 1 + 1j], dtype=dt), dtype=dt, dev=dev, what="linspace(0j, 1+1j, 3)")


# --------------------------------------------------------------------------
# asarray
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, kind",
    [
        (True, "bool"),
        ([True, False], "bool"),
        (3, "integral"),
        ([[1, 2], [3, 4]], "integral"),
        (2.5, "real floating"),
        ([1.0, 2.0, -3.5], "real floating"),
        ([[1.5], [2.0]], "real floating"),
        (1 + 2j, "complex floating"),
        ([1j, 2.0 + 0j], "complex floating"),
    ],
    ids=repr,
)
def test_asarray_python_objects(obj, kind, dev):
    res = xp.asarray(obj, **C.devkw(dev))
    want = "bool" if kind == "bool" else C.default_dtypes(dev)[kind]
    C.check(res, np.asarray(obj, dtype=want), dtype=want, dev=dev, what=f"asarray({obj!r})")


@pytest.mark.parametrize("dt", C.ALL_DTYPES)
def test_asarray_dtype_argument(dt, dev):
    C.require_dtypes(dev, dt)
    obj = [[1, 0, 3], [0, 2, 1]] if dt != "bool" else [[True, False, True], [False, True, True]]
    res = xp.asarray(obj, dtype=C.xdtype(dt), **C.devkw(dev))
    C.check(res, np.asarray(obj, dtype=dt), dev=dev, what=f"asarray(list, dtype={dt})")


@pytest.mark.parametrize("dt", C.ALL_DTYPES)
def test_asarray_from_buffer(dt, dev):
    """A NumPy array (buffer protocol / DLPack) keeps its dtype."""
    C.require_dtypes(dev, dt)
    a = np.asarray([[1, 0], [2, 3], [0, 1]]).astype(dt)
    res = xp.asarray(a, **C.devkw(dev))
    C.check(res, a, dev=dev, what=f"asarray(numpy {dt} array)")


def test_asarray_from_array_and_copy(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    a = np.asarray([1.0, 2.0, 3.0], dtype=dt)
    x = C.to_xp(a, dev)
    y = xp.asarray(x)
    C.check(y, a, dev=dev, what="asarray(x)")
    z = xp.asarray(x, copy=True)
    x[0] = -7.0
    C.check(z, a, dev=dev, what="asarray(x, copy=True) after modifying x")
    # dtype change
    i = C.dtypes_on(dev, ["int32", "int64"])[0]
    w = xp.asarray(C.to_xp(np.asarray([1, 2], dtype=i), dev), dtype=C.xdtype(dt))
    C.check(w, np.asarray([1, 2], dtype=dt), dev=dev, what="asarray(int array, dtype=float)")


def test_asarray_copy_false_raises_when_copy_needed(dev):
    x = xp.asarray([1, 2, 3], dtype=xp.int32, **C.devkw(dev))
    with pytest.raises(ValueError):
        xp.asarray(x, dtype=xp.float32 if "float32" in C.supported_dtypes(dev) else xp.int16, copy=False)


def test_asarray_nested_scalar_types(dev):
    res = xp.asarray([[1, 2.5], [3, 4]], **C.devkw(dev))
    C.assert_dtype(res, C.default_float(dev), "asarray of mixed int/float list")
    C.assert_shape(res, (2, 2))


# --------------------------------------------------------------------------
# empty / zeros / ones / full (+ _like)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fname", ["empty", "zeros", "ones"])
@given(data=st.data())
def test_empty_zeros_ones(fname, dev, data):
    shape, arg = _shape_arg(data.draw)
    dt = data.draw(st.none() | st.sampled_from(C.supported_dtypes(dev)), label="dtype")
    kw = {} if dt is None else {"dtype": C.xdtype(dt)}
    res = getattr(xp, fname)(arg, **kw, **C.devkw(dev))
    want = dt or C.default_float(dev)
    C.assert_shape(res, shape)
    C.assert_dtype(res, want)
    C.assert_device(res, dev)
    if fname != "empty":
        C.assert_values(C.to_np(res), np.full(shape, 0 if fname == "zeros" else 1, dtype=want), what=fname)


@given(data=st.data())
def test_full(dev, data):
    shape, arg = _shape_arg(data.draw)
    kind = data.draw(st.sampled_from(["bool", "int", "float", "complex", "explicit"]), label="fill kind")
    if kind == "explicit":
        dt = draw_dtype(data, dev, C.ALL_DTYPES)
        fill = C.py_scalar_for(dt, data.draw(elements(dt, -100, 100) if dt != "bool" else st.booleans(), label="fill"))
        res = xp.full(arg, fill, dtype=C.xdtype(dt), **C.devkw(dev))
    else:
        fill = {"bool": True, "int": -7, "float": 2.5, "complex": 1.5 - 2j}[kind]
        dt = {"bool": "bool", "int": C.default_int(dev), "float": C.default_float(dev), "complex": C.default_complex(dev)}[kind]
        res = xp.full(arg, fill, **C.devkw(dev))
    C.check(res, np.full(shape, fill, dtype=dt), dtype=dt, dev=dev, what=f"full({arg!r}, {fill!r})")


@pytest.mark.parametrize("fname", ["empty_like", "zeros_like", "ones_like", "full_like"])
@given(data=st.data())
def test_like(fname, dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(max_side=4), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    out_dt = data.draw(st.none() | st.sampled_from(C.supported_dtypes(dev)), label="dtype")
    kw = {} if out_dt is None else {"dtype": C.xdtype(out_dt)}
    want = out_dt or dt
    x = C.to_xp(a, dev)
    if fname == "full_like":
        fill = C.py_scalar_for(want, 1 if want == "bool" else 3)
        res = xp.full_like(x, fill, **kw)
        expected = np.full(shape, fill, dtype=want)
    else:
        res = getattr(xp, fname)(x, **kw)
        expected = None if fname == "empty_like" else np.full(shape, 0 if fname == "zeros_like" else 1, dtype=want)
    C.assert_shape(res, shape)
    C.assert_dtype(res, want)
    C.assert_device(res, dev, f"{fname} keeps the device of x")
    if expected is not None:
        C.assert_values(C.to_np(res), expected, what=fname)


def test_like_device_argument(dev):
    x = xp.asarray([1, 2], **C.devkw(dev))
    for d in C.DEVICES:
        if "int32" not in C.supported_dtypes(d):
            continue
        res = xp.zeros_like(x, dtype=xp.int32, **C.devkw(d))
        C.assert_device(res, d, "zeros_like(x, device=d)")


# --------------------------------------------------------------------------
# eye / tril / triu / meshgrid
# --------------------------------------------------------------------------


@given(data=st.data())
def test_eye(dev, data):
    n_rows = data.draw(st.integers(0, 5), label="n_rows")
    n_cols = data.draw(st.none() | st.integers(0, 5), label="n_cols")
    k = data.draw(st.integers(-6, 6), label="k")
    dt = data.draw(st.none() | st.sampled_from(C.supported_dtypes(dev)), label="dtype")
    kw = {} if dt is None else {"dtype": C.xdtype(dt)}
    args = (n_rows,) if n_cols is None else (n_rows, n_cols)
    res = xp.eye(*args, k=k, **kw, **C.devkw(dev))
    want = dt or C.default_float(dev)
    C.check(res, np.eye(n_rows, n_cols, k=k, dtype=want), dtype=want, dev=dev, what=f"eye{args}, k={k}")


@pytest.mark.parametrize("fname", ["tril", "triu"])
@given(data=st.data())
def test_tril_triu(fname, dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(min_dims=2, max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    k = data.draw(st.none() | st.integers(-5, 5), label="k")
    kw = {} if k is None else {"k": k}
    res = getattr(xp, fname)(C.to_xp(a, dev), **kw)
    C.check(res, getattr(np, fname)(a, **kw), dev=dev, exact=True, what=f"{fname}(k={k})")


@given(data=st.data())
def test_meshgrid(dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    n = data.draw(st.integers(0, 3), label="n arrays")
    arrs = [data.draw(arrays(dt, (data.draw(st.integers(1, 4)),)), label=f"x{i}") for i in range(n)]
    indexing = data.draw(st.sampled_from([None, "xy", "ij"]), label="indexing")
    kw = {} if indexing is None else {"indexing": indexing}
    res = xp.meshgrid(*[C.to_xp(a, dev) for a in arrs], **kw)
    expected = np.meshgrid(*arrs, **kw)
    assert isinstance(res, tuple), f"meshgrid must return a tuple (2025.12), got {type(res).__name__}"
    assert len(res) == n
    for i, (r, e) in enumerate(zip(res, expected)):
        C.check(r, e, dtype=dt, dev=dev, exact=True, what=f"meshgrid(...)[{i}] indexing={indexing}")
