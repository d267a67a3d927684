"""The array object: attributes, operators (plain, reflected, in-place),
indexing (__getitem__/__setitem__), device transfer, conversion to Python
scalars and DLPack interchange."""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

from . import _common as C
from ._common import given, ref, xp
from ._strategies import arrays, broadcastable_pair, draw_dtype, elements, shapes, st
from .test_elementwise import FUNCS, _check_result

# --------------------------------------------------------------------------
# attributes
# --------------------------------------------------------------------------


@given(data=st.data(), _weight=0.5)
def test_attributes(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    x = C.to_xp(a, dev)
    assert isinstance(x.shape, tuple) and x.shape == shape, f"shape {x.shape!r}, expected {shape}"
    assert all(type(n) is int for n in x.shape), f"shape entries must be ints: {x.shape!r}"
    assert x.ndim == len(shape) and type(x.ndim) is int
    assert x.size == C.prod(shape), f"size {x.size}, expected {C.prod(shape)}"
    C.assert_dtype(x, dt)
    C.assert_device(x, dev)
    if x.ndim >= 2:
        mt = x.mT
        C.check(mt, np.swapaxes(a, -1, -2), dev=dev, exact=True, what="x.mT")
    if x.ndim == 2:
        C.check(x.T, a.T, dev=dev, exact=True, what="x.T")


def test_array_namespace(dev):
    x = xp.asarray([1, 2], **C.devkw(dev))
    ns = x.__array_namespace__()
    assert ns is xp or getattr(ns, "__name__", None) == xp.__name__, f"__array_namespace__() returned {ns!r}"
    # only the namespace's own version is requested: asking for another one
    # may legitimately switch global behaviour (array_api_strict does)
    v = getattr(xp, "__array_api_version__", None)
    if v is not None:
        ns2 = x.__array_namespace__(api_version=v)
        assert hasattr(ns2, "asarray")
    assert hasattr(x.__array_namespace__(api_version=None), "asarray")
    with pytest.raises(ValueError):
        x.__array_namespace__(api_version="1999.01")


# --------------------------------------------------------------------------
# operators
# --------------------------------------------------------------------------

BINOPS = {
    "add": (operator.add, operator.iadd),
    "subtract": (operator.sub, operator.isub),
    "multiply": (operator.mul, operator.imul),
    "divide": (operator.truediv, operator.itruediv),
    "floor_divide": (operator.floordiv, operator.ifloordiv),
    "remainder": (operator.mod, operator.imod),
    "pow": (operator.pow, operator.ipow),
    "bitwise_and": (operator.and_, operator.iand),
    "bitwise_or": (operator.or_, operator.ior),
    "bitwise_xor": (operator.xor, operator.ixor),
    "bitwise_left_shift": (operator.lshift, operator.ilshift),
    "bitwise_right_shift": (operator.rshift, operator.irshift),
    "equal": (operator.eq, None),
    "not_equal": (operator.ne, None),
    "less": (operator.lt, None),
    "less_equal": (operator.le, None),
    "greater": (operator.gt, None),
    "greater_equal": (operator.ge, None),
}
REFLECTED = {
    "add": "__radd__", "subtract": "__rsub__", "multiply": "__rmul__", "divide": "__rtruediv__",
    "floor_divide": "__rfloordiv__", "remainder": "__rmod__", "pow": "__rpow__",
    "bitwise_and": "__rand__", "bitwise_or": "__ror__", "bitwise_xor": "__rxor__",
    "bitwise_left_shift": "__rlshift__", "bitwise_right_shift": "__rrshift__",
}


@pytest.mark.parametrize("name", list(BINOPS))
@given(data=st.data(), _weight=0.4)
def test_binary_operator(name, dev, data):
    fn = FUNCS[name]
    op = BINOPS[name][0]
    dt = draw_dtype(data, dev, fn.dtypes)
    s1, s2, _ = data.draw(broadcastable_pair(), label="shapes")
    a1 = data.draw(arrays(dt, s1, fn.args[0](dt)), label="x1")
    a2 = data.draw(arrays(dt, s2, fn.args[1](dt)), label="x2")
    res = op(C.to_xp(a1, dev), C.to_xp(a2, dev))
    expected = getattr(ref, name)(C.to_ref(a1), C.to_ref(a2))
    _check_result(fn, dt, res, expected, dev, f"x1 {name} x2 ({dt}{list(s1)}, {dt}{list(s2)})")


@pytest.mark.parametrize("name", list(BINOPS))
@given(data=st.data(), _weight=0.4)
def test_binary_operator_with_scalar(name, dev, data):
    """``x op s`` (forward) and ``s op x`` (reflected operator) with a Python
    scalar of the array's kind."""
    fn = FUNCS[name]
    op = BINOPS[name][0]
    dt = draw_dtype(data, dev, fn.dtypes)
    shape = data.draw(shapes(max_side=4), label="shape")
    reflected = data.draw(st.booleans(), label="reflected")
    ia, isc = (1, 0) if reflected else (0, 1)
    a = data.draw(arrays(dt, shape, fn.args[ia](dt)), label="array")
    s = C.py_scalar_for(dt, data.draw(fn.args[isc](dt), label="scalar"))
    x, r = C.to_xp(a, dev), C.to_ref(a)
    if reflected:
        res, expected = op(s, x), getattr(ref, name)(s, r)
    else:
        res, expected = op(x, s), getattr(ref, name)(r, s)
    _check_result(fn, dt, res, expected, dev, f"{'scalar op x' if reflected else 'x op scalar'} {name}, scalar={s!r}")


@pytest.mark.parametrize("name", list(REFLECTED))
def test_reflected_dunder_with_arrays(name, dev):
    """``x1.__rop__(x2)`` computes ``x2 op x1``."""
    fn = FUNCS[name]
    dt = C.dtypes_on(dev, [d for d in ("int16", "float32", "int32") if d in fn.dtypes])
    if not dt:
        pytest.skip("no suitable dtype")
    dt = dt[0]
    a1 = np.asarray([1, 2, 3], dtype=dt)
    a2 = np.asarray([3, 2, 1], dtype=dt)
    res = getattr(C.to_xp(a1, dev), REFLECTED[name])(C.to_xp(a2, dev))
    expected = getattr(ref, name)(C.to_ref(a2), C.to_ref(a1))
    _check_result(fn, dt, res, expected, dev, f"x1.{REFLECTED[name]}(x2)")


def _suffix_broadcast(shape, draw):
    """A shape that broadcasts *to* ``shape``."""
    k = draw(st.integers(0, len(shape)), label="ndim of other")
    tail = shape[len(shape) - k:]
    return tuple(draw(st.sampled_from([n, 1]), label="dim") for n in tail)


INPLACE = [n for n, (_, iop) in BINOPS.items() if iop is not None]


@pytest.mark.parametrize("name", INPLACE)
@given(data=st.data(), _weight=0.5)
def test_inplace_operator(name, dev, data):
    """``x op= y`` keeps x's dtype and shape and gives the same values as
    ``op(x, y)`` (y: array broadcasting to x, or Python scalar)."""
    fn = FUNCS[name]
    iop = BINOPS[name][1]
    dt = draw_dtype(data, dev, [d for d in fn.dtypes if not (name == "divide" and d in C.INT)])
    shape = data.draw(shapes(max_side=4), label="shape")
    a1 = data.draw(arrays(dt, shape, fn.args[0](dt)), label="x")
    use_scalar = data.draw(st.booleans(), label="scalar")
    x = C.to_xp(a1, dev)
    if use_scalar:
        other = C.py_scalar_for(dt, data.draw(fn.args[1](dt), label="scalar"))
        other_ref = other
    else:
        s2 = _suffix_broadcast(shape, data.draw)
        a2 = data.draw(arrays(dt, s2, fn.args[1](dt)), label="y")
        other, other_ref = C.to_xp(a2, dev), C.to_ref(a2)
    expected = getattr(ref, name)(C.to_ref(a1), other_ref)
    x = iop(x, other)
    _check_result(fn, dt, x, expected, dev, f"x {name}= {'scalar' if use_scalar else 'array'}")


UNOPS = {"negative": operator.neg, "positive": operator.pos, "abs": abs, "bitwise_invert": operator.invert}


@pytest.mark.parametrize("name", list(UNOPS))
@given(data=st.data(), _weight=0.4)
def test_unary_operator(name, dev, data):
    fn = FUNCS[name]
    dt = draw_dtype(data, dev, fn.dtypes)
    shape = data.draw(shapes(), label="shape")
    a = data.draw(arrays(dt, shape, fn.args[0](dt)), label="x")
    res = UNOPS[name](C.to_xp(a, dev))
    expected = getattr(ref, name)(C.to_ref(a))
    _check_result(fn, dt, res, expected, dev, f"operator {name}")


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["mm", "vm", "mv", "vv", "batched"]))
    if kind == "mm":
        return (n, k), (k, m)
    if kind == "vm":
        return (k,), (k, m)
    if kind == "mv":
        return (n, k), (k,)
    if kind == "vv":
        return (k,), (k,)
    b1, b2, _ = draw(broadcastable_pair(min_dims=1, max_dims=1, min_side=1, max_side=3))
    return b1 + (n, k), b2 + (k, m)


@given(data=st.data(), _weight=0.6)
def test_matmul_operator(dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    s1, s2 = data.draw(matmul_shapes(), label="shapes")
    el = elements(dt, -10, 10)
    a1 = data.draw(arrays(dt, s1, el), label="x1")
    a2 = data.draw(arrays(dt, s2, el), label="x2")
    x1, x2 = C.to_xp(a1, dev), C.to_xp(a2, dev)
    expected = ref.matmul(C.to_ref(a1), C.to_ref(a2))
    tol = C.tol_for(dt, 16 * max(s1[-1], 1))
    C.check(x1 @ x2, expected, dev=dev, what="x1 @ x2", **tol)
    C.check(x2.__rmatmul__(x1), expected, dev=dev, what="x2.__rmatmul__(x1)", **tol)
    C.check(xp.matmul(x1, x2), expected, dev=dev, what="matmul(x1, x2)", **tol)


def test_matmul_inplace(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[:1] or pytest.skip("no float dtype")
    dt = dt[0]
    a = np.arange(9, dtype=dt).reshape(3, 3)
    b = (np.eye(3, dtype=dt) * 2 + 1).astype(dt)
    x = C.to_xp(a, dev)
    x @= C.to_xp(b, dev)
    C.check(x, a @ b, dev=dev, what="x @= y")


# --------------------------------------------------------------------------
# __getitem__
# --------------------------------------------------------------------------


def _axis_index(draw, n):
    kinds = ["slice", "int"] if n > 0 else ["slice"]
    if draw(st.sampled_from(kinds)) == "int":
        return draw(st.integers(-n, n - 1))
    # in-bounds starts/stops only (out-of-bounds ones are unspecified):
    # -n <= start <= max(0, n-1); stop in [-n, n] (step > 0) or
    # [-n, max(0, n-1)] (step < 0)
    step = draw(st.sampled_from([None, 1, 2, 3, -1, -2, -3]))
    start = draw(st.none() | st.integers(-n, max(0, n - 1)))
    if n == 0:
        stop = draw(st.none() | st.just(0))
    elif step is not None and step < 0:
        stop = draw(st.none() | st.integers(-n, max(0, n - 1)))
    else:
        stop = draw(st.none() | st.integers(-n, n))
    return slice(start, stop, step)


@st.composite
def basic_keys(draw, shape, allow_none=True):
    """int / slice / None / Ellipsis keys (single or tuple) valid for shape.

    Without an Ellipsis every axis gets an index (the standard only
    recommends implicit trailing full slices, so they are not relied on)."""
    ndim = len(shape)
    use_ellipsis = draw(st.booleans(), label="ellipsis")
    if use_ellipsis:
        n_lead = draw(st.integers(0, ndim), label="leading")
        n_trail = draw(st.integers(0, ndim - n_lead), label="trailing")
        parts = [_axis_index(draw, shape[i]) for i in range(n_lead)]
        parts.append(Ellipsis)
        parts += [_axis_index(draw, shape[i]) for i in range(ndim - n_trail, ndim)]
    else:
        parts = [_axis_index(draw, n) for n in shape]
    if allow_none:
        for _ in range(draw(st.integers(0, 2), label="n None")):
            parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans(), label="bare"):
        return parts[0]
    return tuple(parts)


@given(data=st.data())
def test_getitem_basic(dev, data):
    """Integers (incl. negative), slices (incl. negative steps and empty
    results), Ellipsis and None, alone or in tuples."""
    dt = draw_dtype(data, dev, ["int32", "float32", "bool", "int64", "float64", "uint8"])
    shape = data.draw(shapes(min_dims=0, max_dims=3), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    key = data.draw(basic_keys(shape), label="key")
    expected = np.asarray(a[key])
    res = C.to_xp(a, dev)[key]
    C.check(res, expected, dev=dev, exact=True, what=f"x[{key!r}]")


@pytest.mark.parametrize(
    "key",
    [
        (slice(None, None, -1), Ellipsis),
        (slice(3, 0, -2), 1, slice(None)),
        (Ellipsis, slice(None, None, -1)),
        (None, 1, Ellipsis, None),
        (-1, -1, -1),
        (slice(-2, None), slice(None, -1), slice(None, None, 2)),
        (slice(3, 1), Ellipsis),
        (slice(-1, -4, -1), Ellipsis),
        (Ellipsis,),
    ],
    ids=repr,
)
def test_getitem_fixed_keys(key, dev):
    a = np.arange(4 * 3 * 2, dtype="int32").reshape(4, 3, 2)
    res = C.to_xp(a, dev)[key]
    C.check(res, np.asarray(a[key]), dev=dev, what=f"x[{key!r}]")


def test_getitem_0d(dev):
    a = np.asarray(7.5, dtype="float32")
    x = C.to_xp(a, dev)
    C.check(x[()], a, dev=dev, what="x0d[()]")
    C.check(x[...], a, dev=dev, what="x0d[...]")
    C.check(x[None], a[None], dev=dev, what="x0d[None]")
    a1 = np.asarray([1, 2, 3], dtype="int32")
    C.check(C.to_xp(a1, dev)[1], np.asarray(2, dtype="int32"), dev=dev, what="x[1] is a 0-d array")


def _bool_indexing_supported():
    if C.INFO is None:
        return True
    try:
        return bool(C.INFO.capabilities().get("boolean indexing", True))
    except Exception:
        return True


@given(data=st.data())
def test_getitem_boolean_mask(dev, data):
    """A sole boolean index whose shape matches the leading dims (0-d too)."""
    if not _bool_indexing_supported():
        pytest.skip("capabilities()['boolean indexing'] is False")
    dt = draw_dtype(data, dev, ["float32", "int16", "int64", "float64", "bool"])
    shape = data.draw(shapes(min_dims=0, max_dims=3), label="shape")
    k = data.draw(st.integers(0, len(shape)), label="mask ndim")
    a = data.draw(arrays(dt, shape), label="x")
    mask = data.draw(arrays("bool", shape[:k]), label="mask")
    res = C.to_xp(a, dev)[C.to_xp(mask, dev)]
    C.check(res, a[mask], dev=dev, exact=True, what=f"x[mask{list(mask.shape)}]")


@given(data=st.data())
def test_getitem_integer_arrays(dev, data):
    """2024.12 integer array indexing: a tuple with one entry per dimension,
    each an integer or an integer array (arrays broadcast together);
    negative indices allowed."""
    dt = draw_dtype(data, dev, ["float32", "int32", "float64", "int64"])
    it = draw_dtype(data, dev, ["int64", "int32", "int16", "int8"], label="index dtype")
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    ishapes = data.draw(
        st.lists(shapes(min_dims=0, max_dims=2, max_side=3), min_size=len(shape), max_size=len(shape)), label="index shapes"
    )
    bshape = None
    key_np, key_xp = [], []
    n_arrays = 0
    for ax, n in enumerate(shape):
        use_array = data.draw(st.booleans(), label=f"array for axis {ax}")
        if use_array:
            idx = data.draw(arrays(it, ishapes[ax], elements(it, max(-n, int(np.iinfo(it).min)), min(n - 1, int(np.iinfo(it).max)))), label=f"index {ax}")
            try:
                bshape = np.broadcast_shapes(bshape, idx.shape) if bshape is not None else idx.shape
            except ValueError:
                idx = np.resize(idx, bshape) if bshape is not None else idx
            key_np.append(idx)
            key_xp.append(C.to_xp(idx, dev))
            n_arrays += 1
        else:
            i = data.draw(st.integers(-n, n - 1), label=f"int for axis {ax}")
            key_np.append(i)
            key_xp.append(i)
    if n_arrays == 0:
        idx = np.asarray([0, -1], dtype=it)
        key_np[0], key_xp[0] = idx, C.to_xp(idx, dev)
    expected = a[tuple(key_np)]
    res = C.to_xp(a, dev)[tuple(key_xp)]
    C.check(res, expected, dev=dev, exact=True, what="x[integer arrays]")


@given(data=st.data())
def test_getitem_single_integer_array(dev, data):
    """A 1-D array indexed by an integer array of any (small) shape."""
    dt = draw_dtype(data, dev, ["float32", "int32", "bool", "float64"])
    n = data.draw(st.integers(1, 6), label="n")
    a = data.draw(arrays(dt, (n,)), label="x")
    ishape = data.draw(shapes(max_dims=2, max_side=4), label="index shape")
    idx = data.draw(arrays(C.default_index(dev), ishape, elements(C.default_index(dev), -n, n - 1)), label="idx")
    res = C.to_xp(a, dev)[C.to_xp(idx, dev)]
    C.check(res, a[idx], dev=dev, exact=True, what="x[idx]")


def test_iteration_over_1d(dev):
    a = np.asarray([3, 1, 4], dtype="int32")
    x = C.to_xp(a, dev)
    items = [e for e in x]
    assert len(items) == 3
    for i, e in enumerate(items):
        C.check(e, a[i], dev=dev, what=f"element {i} of iter(x)")


def test_getitem_out_of_bounds_raises(dev):
    x = xp.asarray([1, 2, 3], **C.devkw(dev))
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(IndexError):
        x[-4]
    with pytest.raises(IndexError):
        x[0, 0]


# --------------------------------------------------------------------------
# __setitem__
# --------------------------------------------------------------------------


@given(data=st.data())
def test_setitem_basic(dev, data):
    dt = draw_dtype(data, dev, ["float32", "int32", "bool", "float64", "int8", "complex64"])
    shape = data.draw(shapes(min_dims=0, max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -100, 100) if dt != "bool" else None), label="x")
    key = data.draw(basic_keys(shape, allow_none=False), label="key")
    target_shape = np.asarray(a[key]).shape
    as_scalar = data.draw(st.booleans(), label="scalar value")
    x = C.to_xp(a, dev)
    b = a.copy()
    if as_scalar:
        v = C.py_scalar_for(dt, data.draw(elements(dt, -100, 100) if dt != "bool" else elements(dt), label="value"))
        x[key] = v
        b[key] = v
    else:
        k = data.draw(st.integers(0, len(target_shape)), label="value ndim")
        vshape = tuple(data.draw(st.sampled_from([n, 1])) for n in target_shape[len(target_shape) - k:])
        v = data.draw(arrays(dt, vshape, elements(dt, -100, 100) if dt != "bool" else None), label="value")
        x[key] = C.to_xp(v, dev)
        b[key] = v
    C.check(x, b, dev=dev, exact=True, what=f"x[{key!r}] = value")


@given(data=st.data())
def test_setitem_boolean_mask(dev, data):
    if not _bool_indexing_supported():
        pytest.skip("capabilities()['boolean indexing'] is False")
    dt = draw_dtype(data, dev, ["float32", "int32", "float64", "int64"])
    shape = data.draw(shapes(min_dims=0, max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -100, 100)), label="x")
    mask = data.draw(arrays("bool", shape), label="mask")
    v = C.py_scalar_for(dt, data.draw(elements(dt, -100, 100), label="value"))
    x = C.to_xp(a, dev)
    x[C.to_xp(mask, dev)] = v
    b = a.copy()
    b[mask] = v
    C.check(x, b, dev=dev, exact=True, what="x[mask] = scalar")
    # a 0-d array value
    x = C.to_xp(a, dev)
    x[C.to_xp(mask, dev)] = C.to_xp(np.asarray(v, dtype=dt), dev)
    C.check(x, b, dev=dev, exact=True, what="x[mask] = 0-d array")


def test_setitem_does_not_change_dtype(dev):
    dt = C.dtypes_on(dev, ["float32"]) or pytest.skip("no float32")
    x = xp.zeros((3,), dtype=xp.float32, **C.devkw(dev))
    x[0] = 1
    x[1:] = 2.5
    C.check(x, np.asarray([1.0, 2.5, 2.5], dtype="float32"), dev=dev, what="float32 array after setitem")


# --------------------------------------------------------------------------
# devices
# --------------------------------------------------------------------------


@pytest.mark.parametrize("target", C.DEVICES, ids=C.DEVICE_IDS)
def test_to_device(dev, target):
    dts = [d for d in C.dtypes_on(dev, ["float32", "int64", "int32", "bool"]) if d in C.supported_dtypes(target)]
    if not dts:
        pytest.skip("no common dtype")
    for dt in dts[:2]:
        a = np.asarray([[1, 0, 3], [4, 5, 0]], dtype=dt)
        x = C.to_xp(a, dev)
        y = x.to_device(target)
        C.check(y, a, dev=target, what=f"to_device({C.device_id(target)}) of a {dt} array")
        C.check(x, a, dev=dev, what="source after to_device")


def test_device_attribute_and_propagation(dev):
    x = xp.asarray([1.0, 2.0], **C.devkw(dev))
    y = xp.asarray([3.0, 4.0], **C.devkw(dev))
    C.assert_device(x, dev)
    C.assert_device(x + y, dev, "x + y")
    C.assert_device(xp.sin(x), dev, "sin(x)")
    C.assert_device(xp.sum(x), dev, "sum(x)")
    C.assert_device(x[0], dev, "x[0]")
    C.assert_device(xp.zeros_like(x), dev, "zeros_like(x)")
    C.assert_device(xp.asarray(x), dev, "asarray(x)")
    C.assert_device(xp.stack([x, y]), dev, "stack")
    if C.INFO is not None and dev is not None:
        assert dev in list(C.INFO.devices())


# --------------------------------------------------------------------------
# Python scalars
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dt", C.ALL_DTYPES)
def test_python_scalar_conversions(dt, dev):
    C.require_dtypes(dev, dt)
    vals = {"bool": [True, False]}.get(dt) or ([0, 5, -3] if dt in C.SINT else [0, 5, 200] if dt in C.UINT else [0.0, -2.75, 1e10] if dt in C.RFLOAT else [0j, 1.5 - 2j])
    for v in vals:
        x = xp.asarray(v, dtype=C.xdtype(dt), **C.devkw(dev))
        assert x.ndim == 0
        b = bool(x)
        assert type(b) is bool and b == bool(v), f"bool({dt} {v!r}) = {b!r}"
        c = complex(x)
        assert type(c) is complex and c == complex(v), f"complex({dt} {v!r}) = {c!r}"
        if dt not in C.CFLOAT:
            f = float(x)
            assert type(f) is float and f == float(v), f"float({dt} {v!r}) = {f!r}"
            i = int(x)
            assert type(i) is int and i == int(v), f"int({dt} {v!r}) = {i!r}"
        if dt in C.INT:
            idx = operator.index(x)
            assert type(idx) is int and idx == v, f"__index__({dt} {v!r}) = {idx!r}"
            assert [10, 20, 30, 40, 50, 60][x if v >= 0 and v < 6 else 0] is not None


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_python_scalar_special_values(dt, dev):
    C.require_dtypes(dev, dt)

    def x(v):
        return xp.asarray(v, dtype=C.xdtype(dt), **C.devkw(dev))

    assert bool(x(math.nan)) is True
    assert bool(x(-0.0)) is False
    assert bool(x(math.inf)) is True
    assert int(x(-2.75)) == -2 and int(x(2.75)) == 2, "__int__ must truncate toward zero"
    f = float(x(-0.0))
    assert f == 0 and math.copysign(1, f) < 0, "float(-0.0 array) must keep the sign"
    assert math.isnan(float(x(math.nan)))
    assert float(x(-math.inf)) == -math.inf
    with pytest.raises(OverflowError):
        int(x(math.inf))
    with pytest.raises(ValueError):
        int(x(math.nan))
    with pytest.raises(TypeError):
        operator.index(x(1.0))


# --------------------------------------------------------------------------
# DLPack
# --------------------------------------------------------------------------


def test_dlpack_device(dev):
    x = xp.asarray([1, 2, 3], **C.devkw(dev))
    d = x.__dlpack_device__()
    assert isinstance(d, tuple) and len(d) == 2, f"__dlpack_device__() = {d!r}"
    assert int(d[0]) >= 1 and int(d[1]) >= 0, f"__dlpack_device__() = {d!r}"


@pytest.mark.parametrize("dt", C.ALL_DTYPES)
def test_from_dlpack_roundtrip(dt, dev):
    C.require_dtypes(dev, dt)
    a = np.asarray([[1, 0, 2], [3, 4, 0]]).astype(dt)
    x = C.to_xp(a, dev)
    y = xp.from_dlpack(x)
    # the result lives on the same DLPack device as the source
    C.check(y, a, check_device=False, what=f"from_dlpack(x) ({dt})")
    assert tuple(map(int, y.__dlpack_device__())) == tuple(map(int, x.__dlpack_device__()))
    cap = x.__dlpack__()
    assert cap is not None
    cap2 = x.__dlpack__(max_version=(1, 0))
    assert cap2 is not None
    # interchange with NumPy for host arrays
    if int(x.__dlpack_device__()[0]) == 1:  # kDLCPU
        C.assert_values(np.from_dlpack(x), a, exact=True, what="np.from_dlpack(x)")


@pytest.mark.parametrize("dt", ["float32", "int64", "bool", "complex64", "uint16"])
def test_from_dlpack_numpy_producer(dt, dev):
    C.require_dtypes(dev, dt)
    a = np.asarray([1, 0, 3, 2]).astype(dt)
    y = xp.from_dlpack(a)
    C.check(y, a, check_device=False, what=f"from_dlpack(numpy {dt} array)")
    if dev is not None:
        z = xp.from_dlpack(a, device=dev) if _cpu_like(dev) else None
        if z is not None:
            C.check(z, a, dev=dev, what="from_dlpack(numpy array, device=dev)")


def _cpu_like(dev):
    try:
        return int(xp.asarray([1], **C.devkw(dev)).__dlpack_device__()[0]) == 1
    except Exception:
        return False


def test_from_dlpack_copy(dev):
    a = np.asarray([1.0, 2.0, 3.0], dtype=C.dtypes_on(dev, ["float32", "float64"])[0])
    x = C.to_xp(a, dev)
    y = xp.from_dlpack(x, copy=True)
    x[0] = 10.0
    C.check(y, a, check_device=False, what="from_dlpack(x, copy=True) after modifying x")
