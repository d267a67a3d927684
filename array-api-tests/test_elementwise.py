"""Elementwise functions: differential tests against array_api_strict.

Every function of the standard's elementwise section is exercised on
hypothesis-generated arrays (0-d, empty and broadcasting shapes included),
on every device, over every dtype the function is defined for.  Input domains
are restricted where the standard leaves behaviour unspecified (integer
overflow, shifts by more than the bit width, negative integer exponents,
division by zero for integers, ...).  The special values (NaN, +-inf, +-0)
are handled in test_special_cases.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from . import _common as C
from ._common import given, ref, xp
from ._strategies import arrays, broadcastable_pair, draw_dtype, elements, shapes, st

# --------------------------------------------------------------------------
# element domains
# --------------------------------------------------------------------------


def _ii(name):
    return np.iinfo(np.dtype(name))


def full(**kw):
    return lambda name: elements(name, **kw)


def rng(lo, hi, clo=None, chi=None, cnonzero=False, **kw):
    """Real range [lo, hi]; complex components in [clo, chi] (default same);
    ``cnonzero``: no complex zero (0+0j)."""

    def f(name):
        if name in C.CFLOAT:
            s = elements(name, lo if clo is None else clo, hi if chi is None else chi, **kw)
            return s.filter(lambda z: z != 0) if cnonzero else s
        if name in C.INT:
            return elements(name, max(lo, _ii(name).min), min(hi, _ii(name).max))
        return elements(name, lo, hi, **kw)

    return f


def int_or(fint: Callable, ffloat: Callable):
    return lambda name: fint(name) if name in C.INT else ffloat(name)


def no_min(name):
    i = _ii(name)
    return elements(name, int(i.min) + 1 if i.min < 0 else 0, int(i.max))


def half(name):
    i = _ii(name)
    return elements(name, int(i.min) // 2, int(i.max) // 2)


def sqrt_range(name):
    i = _ii(name)
    r = math.isqrt(int(i.max))
    return elements(name, -r if i.min < 0 else 0, r)


def sub_x1(name):
    i = _ii(name)
    return elements(name, int(i.max) // 2, int(i.max)) if i.min == 0 else half(name)


def sub_x2(name):
    i = _ii(name)
    return elements(name, 0, int(i.max) // 2) if i.min == 0 else half(name)


def shl_x1(name):
    i = _ii(name)
    k = C.nbytes_bits(name) // 2
    return elements(name, int(i.min) >> k, int(i.max) >> k)


def shl_x2(name):
    return elements(name, 0, C.nbytes_bits(name) // 2 - 1)


def shr_x2(name):
    return elements(name, 0, C.nbytes_bits(name) - 1)


def pow_x1(name):
    if name in C.INT:
        return elements(name, -3 if _ii(name).min < 0 else 0, 3)
    if name in C.CFLOAT:
        return elements(name, -3, 3)
    return elements(name, 0.0625, 16.0)


def pow_x2(name):
    if name in C.INT:
        e = 0
        while 3 ** (e + 1) <= int(_ii(name).max):
            e += 1
        return elements(name, 0, e)
    if name in C.CFLOAT:
        return elements(name, -3, 3)
    return elements(name, -8.0, 8.0)


def div_x1(name):
    if name in C.INT:
        return no_min(name)
    return elements(name, -100.0, 100.0, step=0.25)


def div_x2(name):
    if name in C.INT:
        i = _ii(name)
        return elements(name, max(int(i.min), -100), min(int(i.max), 100), zero=False)
    return elements(name, -100.0, 100.0, step=0.25, zero=False)


def rounding(name):
    if name in C.INT:
        return elements(name)
    return st.one_of(elements(name, -64.0, 64.0, step=0.25), elements(name, -1e9, 1e9))


# --------------------------------------------------------------------------
# the function table
# --------------------------------------------------------------------------


@dataclass
class Fn:
    name: str
    nargs: int
    dtypes: tuple
    args: tuple  # element-strategy factories, one per argument
    tol: str = "exact"  # exact | ieee | trans | trans_loose | sqrt
    signed_zeros: bool = False
    scalar_args: bool = True  # binary: python scalars accepted (2024.12)
    extra: dict = field(default_factory=dict)


ANY_FLOAT = full(nan=True, inf=True)
FIN = rng(-1e6, 1e6)

TABLE = [
    # ---- unary
    Fn("abs", 1, C.NUMERIC, (int_or(no_min, full(nan=True, inf=True)),), tol="ieee", signed_zeros=True),
    Fn("acos", 1, C.FLOAT, (rng(-1.0, 1.0, -5.0, 5.0),), tol="trans"),
    Fn("acosh", 1, C.FLOAT, (rng(1.0, 1e3, -5.0, 5.0),), tol="trans"),
    Fn("asin", 1, C.FLOAT, (rng(-1.0, 1.0, -5.0, 5.0),), tol="trans"),
    Fn("asinh", 1, C.FLOAT, (rng(-1e3, 1e3, -5.0, 5.0),), tol="trans"),
    Fn("atan", 1, C.FLOAT, (rng(-1e3, 1e3, -5.0, 5.0),), tol="trans"),
    Fn("atanh", 1, C.FLOAT, (rng(-0.99, 0.99, -5.0, 5.0),), tol="trans"),
    Fn("bitwise_invert", 1, C.BOOL + C.INT, (full(),)),
    Fn("ceil", 1, C.REAL, (rounding,), signed_zeros=True),
    Fn("conj", 1, C.NUMERIC, (int_or(full(), FIN),), signed_zeros=True),
    Fn("cos", 1, C.FLOAT, (rng(-100.0, 100.0, -5.0, 5.0),), tol="trans"),
    Fn("cosh", 1, C.FLOAT, (rng(-20.0, 20.0, -5.0, 5.0),), tol="trans"),
    Fn("exp", 1, C.FLOAT, (rng(-80.0, 80.0, -10.0, 10.0),), tol="trans"),
    Fn("expm1", 1, C.FLOAT, (rng(-80.0, 80.0, -5.0, 5.0),), tol="trans"),
    Fn("floor", 1, C.REAL, (rounding,), signed_zeros=True),
    Fn("imag", 1, C.CFLOAT, (FIN,), signed_zeros=True),
    Fn("isfinite", 1, C.NUMERIC, (int_or(full(), ANY_FLOAT),)),
    Fn("isinf", 1, C.NUMERIC, (int_or(full(), ANY_FLOAT),)),
    Fn("isnan", 1, C.NUMERIC, (int_or(full(), ANY_FLOAT),)),
    Fn("log", 1, C.FLOAT, (rng(1e-30, 1e30, -10.0, 10.0),), tol="trans"),
    Fn("log1p", 1, C.FLOAT, (rng(-0.99, 1e30, -5.0, 5.0),), tol="trans"),
    Fn("log2", 1, C.FLOAT, (rng(1e-30, 1e30, -10.0, 10.0),), tol="trans"),
    Fn("log10", 1, C.FLOAT, (rng(1e-30, 1e30, -10.0, 10.0),), tol="trans"),
    Fn("logical_not", 1, C.BOOL, (full(),)),
    Fn("negative", 1, C.SINT + C.FLOAT, (int_or(no_min, full(nan=True, inf=True)),), signed_zeros=True),
    Fn("positive", 1, C.NUMERIC, (int_or(full(), full(nan=True, inf=True)),), signed_zeros=True),
    Fn("real", 1, C.FLOAT, (FIN,), signed_zeros=True),
    Fn("reciprocal", 1, C.FLOAT, (rng(-1e6, 1e6, -1e3, 1e3, cnonzero=True),), tol="ieee", signed_zeros=True),
    Fn("round", 1, C.REAL + C.CFLOAT, (rounding,), signed_zeros=True),
    Fn("sign", 1, C.NUMERIC, (int_or(full(), rng(-1e6, 1e6, -10.0, 10.0, nan=True)),), tol="ieee"),
    Fn("signbit", 1, C.RFLOAT, (full(nan=True, inf=True),)),
    Fn("sin", 1, C.FLOAT, (rng(-100.0, 100.0, -5.0, 5.0),), tol="trans"),
    Fn("sinh", 1, C.FLOAT, (rng(-20.0, 20.0, -5.0, 5.0),), tol="trans"),
    Fn("sqrt", 1, C.FLOAT, (rng(0.0, 1e30, -10.0, 10.0),), tol="sqrt", signed_zeros=True),
    Fn("square", 1, C.NUMERIC, (int_or(sqrt_range, rng(-1e6, 1e6, -1e3, 1e3)),), tol="ieee"),
    Fn("tan", 1, C.FLOAT, (rng(-1.4, 1.4, -1.2, 1.2),), tol="trans"),
    Fn("tanh", 1, C.FLOAT, (rng(-20.0, 20.0, -1.2, 1.2),), tol="trans"),
    Fn("trunc", 1, C.REAL, (rounding,), signed_zeros=True),
    # ---- binary
    Fn("add", 2, C.NUMERIC, (int_or(half, FIN), int_or(half, FIN)), tol="ieee", signed_zeros=True),
    Fn("atan2", 2, C.RFLOAT, (rng(-1e3, 1e3), rng(-1e3, 1e3)), tol="trans", signed_zeros=True),
    Fn("bitwise_and", 2, C.BOOL + C.INT, (full(), full())),
    Fn("bitwise_left_shift", 2, C.INT, (shl_x1, shl_x2)),
    Fn("bitwise_or", 2, C.BOOL + C.INT, (full(), full())),
    Fn("bitwise_right_shift", 2, C.INT, (full(), shr_x2)),
    Fn("bitwise_xor", 2, C.BOOL + C.INT, (full(), full())),
    Fn("copysign", 2, C.RFLOAT, (full(inf=True), full(inf=True)), signed_zeros=True),
    Fn("divide", 2, C.FLOAT, (rng(-1e6, 1e6, -100.0, 100.0), rng(-1e6, 1e6, -100.0, 100.0, cnonzero=True)), tol="ieee", signed_zeros=True),
    Fn("equal", 2, C.ALL_DTYPES, (int_or(full(), ANY_FLOAT), int_or(full(), ANY_FLOAT))),
    Fn("floor_divide", 2, C.REAL, (div_x1, div_x2), signed_zeros=True),
    Fn("greater", 2, C.REAL, (int_or(full(), ANY_FLOAT), int_or(full(), ANY_FLOAT))),
    Fn("greater_equal", 2, C.REAL, (int_or(full(), ANY_FLOAT), int_or(full(), ANY_FLOAT))),
    Fn("hypot", 2, C.RFLOAT, (rng(-1e3, 1e3), rng(-1e3, 1e3)), tol="sqrt"),
    Fn("less", 2, C.REAL, (int_or(full(), ANY_FLOAT), int_or(full(), ANY_FLOAT))),
    Fn("less_equal", 2, C.REAL, (int_or(full(), ANY_FLOAT), int_or(full(), ANY_FLOAT))),
    Fn("logaddexp", 2, C.RFLOAT, (rng(-100.0, 100.0), rng(-100.0, 100.0)), tol="trans"),
    Fn("logical_and", 2, C.BOOL, (full(), full())),
    Fn("logical_or", 2, C.BOOL, (full(), full())),
    Fn("logical_xor", 2, C.BOOL, (full(), full())),
    Fn("maximum", 2, C.REAL, (int_or(full(), full(nan=True, inf=True)), int_or(full(), full(nan=True, inf=True)))),
    Fn("minimum", 2, C.REAL, (int_or(full(), full(nan=True, inf=True)), int_or(full(), full(nan=True, inf=True)))),
    Fn("multiply", 2, C.NUMERIC, (int_or(sqrt_range, rng(-1e6, 1e6, -1e3, 1e3)), int_or(sqrt_range, rng(-1e6, 1e6, -1e3, 1e3))), tol="ieee", signed_zeros=True),
    Fn("nextafter", 2, C.RFLOAT, (rng(-1e6, 1e6), rng(-1e6, 1e6)), signed_zeros=True),
    Fn("not_equal", 2, C.ALL_DTYPES, (int_or(full(), ANY_FLOAT), int_or(full(), ANY_FLOAT))),
    Fn("pow", 2, C.INT + C.FLOAT, (pow_x1, pow_x2), tol="trans_loose"),
    Fn("remainder", 2, C.REAL, (div_x1, div_x2), signed_zeros=True),
    Fn("subtract", 2, C.NUMERIC, (int_or(sub_x1, FIN), int_or(sub_x2, FIN)), tol="ieee", signed_zeros=True),
]
FUNCS = {f.name: f for f in TABLE}
UNARY = [f.name for f in TABLE if f.nargs == 1]
BINARY = [f.name for f in TABLE if f.nargs == 2]

_TOL = {"exact": 0.0, "ieee": 0.0, "sqrt": 2.0, "trans": 16.0, "trans_loose": 64.0}


def tolerance(fn: Fn, in_dtype: str, expected: np.ndarray) -> dict:
    """rtol/atol for comparing ``fn`` results computed in ``in_dtype``."""
    res_kind = expected.dtype.kind
    if res_kind in "biu":
        return {}
    eps = C.EPS[C.REAL_OF[expected.dtype.name]]
    complex_in = in_dtype in C.CFLOAT
    if fn.tol == "exact" or (fn.tol == "ieee" and not complex_in):
        return {"rtol": 0.0, "atol": 0.0}
    if fn.tol == "ieee":  # complex arithmetic: not correctly rounded
        factor = 8.0
    else:
        factor = _TOL[fn.tol] * (4.0 if complex_in else 1.0)
    atol = factor * eps
    if complex_in:
        fin = np.abs(expected[np.isfinite(expected)]) if expected.size else np.zeros(0)
        scale = float(fin.max()) if fin.size else 1.0
        atol *= max(1.0, scale)
    return {"rtol": factor * eps, "atol": atol}


def _call(ns, name, *args):
    return getattr(ns, name)(*args)


def _check_result(fn, dt, res, expected_ref, dev, what):
    exp_np = C.to_np(expected_ref)
    C.check(
        res,
        exp_np,
        dtype=C.dtype_name(expected_ref.dtype, ref),
        dev=dev,
        what=what,
        signed_zeros=fn.signed_zeros,
        **tolerance(fn, dt, exp_np),
    )


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary(name, dev, data):
    fn = FUNCS[name]
    dt = draw_dtype(data, dev, fn.dtypes)
    shape = data.draw(shapes(), label="shape")
    a = data.draw(arrays(dt, shape, fn.args[0](dt)), label="x")
    res = _call(xp, name, C.to_xp(a, dev))
    expected = _call(ref, name, C.to_ref(a))
    _check_result(fn, dt, res, expected, dev, f"{name}({dt}{list(shape)})")


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary(name, dev, data):
    fn = FUNCS[name]
    dt = draw_dtype(data, dev, fn.dtypes)
    s1, s2, _ = data.draw(broadcastable_pair(), label="shapes")
    a1 = data.draw(arrays(dt, s1, fn.args[0](dt)), label="x1")
    a2 = data.draw(arrays(dt, s2, fn.args[1](dt)), label="x2")
    res = _call(xp, name, C.to_xp(a1, dev), C.to_xp(a2, dev))
    expected = _call(ref, name, C.to_ref(a1), C.to_ref(a2))
    _check_result(fn, dt, res, expected, dev, f"{name}({dt}{list(s1)}, {dt}{list(s2)})")


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), _weight=0.5)
def test_binary_with_python_scalar(name, dev, data):
    """2024.12: every binary elementwise function accepts a Python scalar for
    either argument (but not both)."""
    fn = FUNCS[name]
    dt = draw_dtype(data, dev, fn.dtypes)
    shape = data.draw(shapes(max_side=4), label="shape")
    scalar_first = data.draw(st.booleans(), label="scalar_first")
    i_arr, i_sc = (1, 0) if scalar_first else (0, 1)
    a = data.draw(arrays(dt, shape, fn.args[i_arr](dt)), label="array")
    s = C.py_scalar_for(dt, data.draw(fn.args[i_sc](dt), label="scalar"))
    if scalar_first:
        res = _call(xp, name, s, C.to_xp(a, dev))
        expected = _call(ref, name, s, C.to_ref(a))
    else:
        res = _call(xp, name, C.to_xp(a, dev), s)
        expected = _call(ref, name, C.to_ref(a), s)
    _check_result(fn, dt, res, expected, dev, f"{name} with scalar {s!r} ({'first' if scalar_first else 'second'}) and {dt}{list(shape)}")


def _fixed_values(fn: Fn, dt: str, n: int) -> list[np.ndarray]:
    """Deterministic in-domain inputs for the edge-shape test."""
    out = []
    for k in range(fn.nargs):
        vals = []
        for v in (1, 2, 3, 0.5, 0.75, 1.5, 0, 5, 7, 100, 0.25):
            cand = C.py_scalar_for(dt, v)
            if _in_domain(fn, k, dt, cand):
                vals.append(cand)
        vals = (vals or [C.py_scalar_for(dt, 1)]) * n
        out.append(np.asarray(vals[:n], dtype=dt))
    return out


def _in_domain(fn: Fn, argi: int, dt: str, v) -> bool:
    name = fn.name
    if dt == "bool":
        return isinstance(v, bool)
    x = complex(v)
    r = x.real
    if name in ("acos", "asin", "atanh") and dt in C.RFLOAT:
        return -0.99 <= r <= 0.99
    if name == "acosh" and dt in C.RFLOAT:
        return r >= 1.0
    if name in ("log", "log2", "log10", "reciprocal") and dt in C.RFLOAT:
        return r > 0
    if name in ("floor_divide", "remainder") and argi == 1:
        return r != 0
    if name == "pow":
        return 0 < r <= 3 if argi == 0 else 0 <= r <= 2
    if name in ("bitwise_left_shift", "bitwise_right_shift") and argi == 1:
        return 0 <= r <= 3
    if name == "bitwise_left_shift":
        return 0 <= r <= 7
    if name == "tan":
        return abs(r) <= 1.4
    if dt in C.INT and name in ("square", "multiply", "add", "subtract", "negative", "abs"):
        return 0 <= r <= 7
    return True


@pytest.mark.parametrize("name", UNARY + BINARY)
def test_zero_dim_and_empty(name, dev):
    """0-d inputs give 0-d outputs, empty inputs give empty outputs, and
    0-d arrays broadcast against empty and non-empty arrays."""
    fn = FUNCS[name]
    cands = C.dtypes_on(dev, [d for d in ("float32", "int32", "bool", "complex64", "uint8") if d in fn.dtypes])
    if not cands:
        cands = C.dtypes_on(dev, fn.dtypes)
    if not cands:
        pytest.skip("no supported dtype on this device")
    dt = cands[0]
    vals = _fixed_values(fn, dt, 6)
    if fn.nargs == 1:
        cases = [((),), ((2, 0),)]
    else:
        cases = [((), ()), ((2, 0), ()), ((), (3,))]
    for shapes_ in cases:
        arrs = [np.resize(v, s) if C.prod(s) else np.zeros(s, dtype=dt) for v, s in zip(vals, shapes_)]
        arrs = [np.asarray(a, dtype=dt) for a in arrs]
        res = _call(xp, name, *[C.to_xp(a, dev) for a in arrs])
        expected = _call(ref, name, *[C.to_ref(a) for a in arrs])
        _check_result(fn, dt, res, expected, dev, f"{name} on shapes {list(shapes_)} ({dt})")


def test_table_covers_the_standard():
    from . import _spec

    std = set(_spec.FUNCTIONS["elementwise"]) - {"clip"}
    assert std == set(FUNCS), f"untested: {sorted(std - set(FUNCS))}, unknown: {sorted(set(FUNCS) - std)}"


# --------------------------------------------------------------------------
# clip
# --------------------------------------------------------------------------


@given(data=st.data())
def test_clip(dev, data):
    dt = draw_dtype(data, dev, C.REAL)
    s, smin, smax = data.draw(
        st.tuples(shapes(max_dims=2), shapes(max_dims=2), shapes(max_dims=2)).filter(
            lambda t: _broadcastable(*t)
        ),
        label="shapes",
    )
    if dt in C.INT:
        i = _ii(dt)
        lo_e, hi_e = elements(dt, int(i.min), int(i.max) // 2), elements(dt, int(i.max) // 2, int(i.max))
    else:
        lo_e, hi_e = elements(dt, -1e3, 0.0), elements(dt, 0.0, 1e3)
    a = data.draw(arrays(dt, s, elements(dt, -2e3, 2e3) if dt in C.RFLOAT else elements(dt)), label="x")
    mode = data.draw(st.sampled_from(["both", "min", "max", "none", "scalars", "keyword"]), label="mode")
    kx = C.to_xp(a, dev)
    kr = C.to_ref(a)
    lo = data.draw(arrays(dt, smin, lo_e), label="min")
    hi = data.draw(arrays(dt, smax, hi_e), label="max")
    # the result shape is the broadcast of all three only if min/max are given
    if mode == "both":
        res = xp.clip(kx, C.to_xp(lo, dev), C.to_xp(hi, dev))
        exp = ref.clip(kr, C.to_ref(lo), C.to_ref(hi))
    elif mode == "min":
        res = xp.clip(kx, min=C.to_xp(lo, dev))
        exp = ref.clip(kr, min=C.to_ref(lo))
    elif mode == "max":
        res = xp.clip(kx, max=C.to_xp(hi, dev))
        exp = ref.clip(kr, max=C.to_ref(hi))
    elif mode == "none":
        res = xp.clip(kx)
        exp = ref.clip(kr)
    elif mode == "keyword":
        res = xp.clip(kx, min=C.to_xp(lo, dev), max=C.to_xp(hi, dev))
        exp = ref.clip(kr, min=C.to_ref(lo), max=C.to_ref(hi))
    else:
        lo_s = C.py_scalar_for(dt, data.draw(lo_e, label="min scalar"))
        hi_s = C.py_scalar_for(dt, data.draw(hi_e, label="max scalar"))
        res = xp.clip(kx, lo_s, hi_s)
        exp = ref.clip(kr, lo_s, hi_s)
    C.check(res, exp, dev=dev, exact=True, what=f"clip[{mode}]")


def _broadcastable(*shapes_):
    try:
        np.broadcast_shapes(*shapes_)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_clip_nan(dt, dev):
    C.require_dtypes(dev, dt)
    nan = float("nan")
    x = C.to_xp(np.asarray([nan, 1.0, 5.0, -5.0], dtype=dt), dev)
    res = C.to_np(xp.clip(x, -2.0, 2.0))
    C.assert_values(res, np.asarray([nan, 1.0, 2.0, -2.0]), exact=True, what="clip(x with NaN)")
    res = C.to_np(xp.clip(x, C.to_xp(np.asarray([nan, 0.0, 0.0, nan], dtype=dt), dev), 3.0))
    C.assert_values(res, np.asarray([nan, 1.0, 3.0, nan]), exact=True, what="clip(min with NaN)")
    res = C.to_np(xp.clip(x, -3.0, C.to_xp(np.asarray([0.0, nan, 0.0, 0.0], dtype=dt), dev)))
    C.assert_values(res, np.asarray([nan, nan, 0.0, -3.0]), exact=True, what="clip(max with NaN)")
