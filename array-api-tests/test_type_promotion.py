"""Type promotion: the standard's tables for array-array operations
(result_type, binary functions, operators, in-place operators, where,
concat/stack, __setitem__) and for array-Python-scalar operations."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import xp
from ._promotion import DEFINED_PAIRS, promote, scalar_result

NUMERIC_PAIRS = [p for p in DEFINED_PAIRS if p[0] != "bool"]

# on the devices other than the default one only these mixed pairs (and the
# same-dtype pairs) are exercised, to bound the number of compiled kernels
_REPRESENTATIVE = {
    ("int8", "uint8"), ("uint16", "int32"), ("uint8", "uint32"), ("int16", "int64"),
    ("float32", "float64"), ("float32", "complex128"), ("complex64", "float64"), ("uint32", "int8"),
}


def _keep(case):
    a, b = case[0], case[1]
    return a == b or (a, b) in _REPRESENTATIVE


def _cases(pairs):
    return C.device_cases(pairs, _keep, ids=[f"{a}-{b}" for a, b, *_ in pairs])


def _ids(pairs):
    return [f"{a}-{b}" for a, b, *_ in pairs]


def _vals(dt):
    if dt == "bool":
        return np.asarray([True, False, True])
    return np.asarray([1, 2, 3]).astype(dt)


@pytest.mark.parametrize("a, b, r", DEFINED_PAIRS, ids=_ids(DEFINED_PAIRS))
def test_result_type_dtypes(a, b, r):
    got = xp.result_type(C.xdtype(a), C.xdtype(b))
    assert C.dtype_name(got) == r, f"result_type({a}, {b}) = {C.dtype_name(got)}, expected {r}"


@pytest.mark.parametrize(
    "dts",
    [("int8", "uint8", "int16"), ("uint8", "uint16", "uint32"), ("float32", "float32", "complex64"), ("int8", "int8", "int8"), ("float32", "float64", "complex64")],
    ids=repr,
)
def test_result_type_many(dts, dev):
    want = dts[0]
    for d in dts[1:]:
        want = promote(want, d)
    assert C.dtype_name(xp.result_type(*[C.xdtype(d) for d in dts])) == want
    if all(d in C.supported_dtypes(dev) for d in dts):
        arrs = [C.to_xp(_vals(d), dev) for d in dts]
        assert C.dtype_name(xp.result_type(*arrs)) == want, "result_type with arrays"
        assert C.dtype_name(xp.result_type(arrs[0], *[C.xdtype(d) for d in dts[1:]])) == want, "array + dtypes"


@pytest.mark.parametrize(
    "dt, scalar, want",
    [
        ("float32", 1.0, "float32"), ("float32", 1, "float32"), ("int8", 1, "int8"), ("uint16", 7, "uint16"),
        ("bool", True, "bool"), ("float32", 1j, "complex64"), ("float64", 1j, "complex128"),
        ("complex64", 2.0, "complex64"), ("complex64", 1, "complex64"),
    ],
    ids=repr,
)
def test_result_type_python_scalars(dt, scalar, want):
    """2024.12: result_type accepts Python scalars."""
    got = xp.result_type(C.xdtype(dt), scalar)
    assert C.dtype_name(got) == want, f"result_type({dt}, {scalar!r}) = {C.dtype_name(got)}, expected {want}"


@pytest.mark.parametrize("dev, a, b, r", _cases(DEFINED_PAIRS))
def test_binary_promotion(dev, a, b, r):
    """add / x1 + x2 (multiply/logical_and for bool) produce the promoted dtype
    with the right values."""
    C.require_dtypes(dev, a, b, r)
    x1, x2 = C.to_xp(_vals(a), dev), C.to_xp(_vals(b)[::-1].copy(), dev)
    n1, n2 = _vals(a).astype(r), _vals(b)[::-1].astype(r)
    if r == "bool":
        C.check(xp.logical_and(x1, x2), n1 & n2, dev=dev, what=f"logical_and({a}, {b})")
        C.check(x1 & x2, n1 & n2, dev=dev, what=f"{a} & {b}")
        return
    C.check(xp.add(x1, x2), n1 + n2, dev=dev, what=f"add({a}, {b})")
    C.check(x1 * x2, n1 * n2, dev=dev, what=f"{a} * {b}")


@pytest.mark.parametrize("dev, a, b, r", _cases([p for p in NUMERIC_PAIRS if p[2] not in C.CFLOAT]))
def test_comparison_promotion(dev, a, b, r):
    """Comparisons between promotable dtypes give bool results computed in the
    promoted dtype."""
    C.require_dtypes(dev, a, b, r)
    n1, n2 = _vals(a), _vals(b)[::-1].copy()
    x1, x2 = C.to_xp(n1, dev), C.to_xp(n2, dev)
    C.check(x1 < x2, n1.astype(r) < n2.astype(r), dev=dev, what=f"{a} < {b}")
    C.check(xp.equal(x1, x2), n1.astype(r) == n2.astype(r), dev=dev, what=f"equal({a}, {b})")


_SCALARS = {"bool": True, "int": 2, "float": 1.5, "complex": 1.5 - 0.5j}
_SCALAR_CASES = [
    (dt, kind, scalar_result(dt, kind))
    for dt in C.ALL_DTYPES
    for kind in _SCALARS
    if scalar_result(dt, kind) is not None
]


@pytest.mark.parametrize(
    "dev, dt, kind, r",
    C.device_cases(_SCALAR_CASES, lambda c: c[0] in ("int16", "float32"), ids=[f"{d}-{k}" for d, k, _ in _SCALAR_CASES]),
)
def test_python_scalar_promotion(dev, dt, kind, r):
    """array op scalar and scalar op array: the scalar takes the array's dtype
    (complex scalar with real floating array -> complex, 2024.12)."""
    C.require_dtypes(dev, dt, r)
    s = _SCALARS[kind]
    n = _vals(dt)
    x = C.to_xp(n, dev)
    nr = n.astype(r)
    if r == "bool":
        C.check(x & s, nr & s, dev=dev, what=f"{dt} & {s!r}")
        C.check(s | x, nr | s, dev=dev, what=f"{s!r} | {dt}")
        C.check(xp.logical_or(x, s), nr | s, dev=dev, what=f"logical_or({dt}, {s!r})")
        return
    C.check(x * s, nr * np.asarray(s, dtype=r), dev=dev, what=f"{dt} * {s!r}")
    C.check(s + x, np.asarray(s, dtype=r) + nr, dev=dev, what=f"{s!r} + {dt}")
    C.check(xp.add(x, s), nr + np.asarray(s, dtype=r), dev=dev, what=f"add({dt}, {s!r})")
    C.check(xp.subtract(s, x), np.asarray(s, dtype=r) - nr, dev=dev, what=f"subtract({s!r}, {dt})")
    if dt not in C.CFLOAT and kind != "complex":
        C.check(x < s, nr < np.asarray(s, dtype=r), dev=dev, what=f"{dt} < {s!r}")


@pytest.mark.parametrize(
    "big, zero_d",
    [("float64", "float32"), ("float32", "float64"), ("int16", "int8"), ("int8", "int64"), ("uint8", "int16"), ("complex64", "float64")],
    ids=repr,
)
def test_zero_dim_arrays_promote_like_arrays(big, zero_d, dev):
    """No value-based casting: 0-d arrays take part in promotion like any array."""
    r = promote(big, zero_d)
    C.require_dtypes(dev, big, zero_d, r)
    x = C.to_xp(_vals(big), dev)
    y = C.to_xp(np.asarray(1).astype(zero_d), dev)
    C.check(x + y, _vals(big).astype(r) + 1, dev=dev, what=f"{big} array + 0-d {zero_d}")
    C.check(y + x, _vals(big).astype(r) + 1, dev=dev, what=f"0-d {zero_d} + {big} array")


@pytest.mark.parametrize("a, b", [("float64", "float32"), ("int32", "int8"), ("int16", "uint8"), ("complex128", "float32"), ("complex64", "float32"), ("uint32", "uint16")], ids=repr)
def test_inplace_promotion(a, b, dev):
    """x op= y is allowed when promote(x, y) == x.dtype; the dtype of x is kept."""
    C.require_dtypes(dev, a, b)
    assert promote(a, b) == a
    x = C.to_xp(_vals(a), dev)
    x += C.to_xp(_vals(b), dev)
    C.check(x, _vals(a) + _vals(b).astype(a), dev=dev, what=f"{a} += {b}")
    x = C.to_xp(_vals(a), dev)
    x *= C.to_xp(np.asarray(2).astype(b), dev)
    C.check(x, _vals(a) * 2, dev=dev, what=f"{a} *= 0-d {b}")


def test_inplace_with_python_scalars(dev):
    for dt, s in (("float32", 2), ("float32", 0.5), ("int16", 3), ("complex64", 1j)):
        if dt not in C.supported_dtypes(dev):
            continue
        x = C.to_xp(_vals(dt), dev)
        x *= s
        C.check(x, _vals(dt) * np.asarray(s, dtype=dt), dev=dev, what=f"{dt} *= {s!r}")


@pytest.mark.parametrize("a, b", [("int8", "int16"), ("uint8", "int8"), ("float32", "float64"), ("float32", "complex64")], ids=repr)
def test_where_concat_stack_promotion(a, b, dev):
    r = promote(a, b)
    C.require_dtypes(dev, a, b, r)
    n1, n2 = _vals(a), _vals(b)[::-1].copy()
    x1, x2 = C.to_xp(n1, dev), C.to_xp(n2, dev)
    cond = np.asarray([True, False, True])
    C.check(xp.where(C.to_xp(cond, dev), x1, x2), np.where(cond, n1.astype(r), n2.astype(r)), dev=dev, what=f"where({a}, {b})")
    C.check(xp.concat([x1, x2]), np.concatenate([n1.astype(r), n2.astype(r)]), dev=dev, what=f"concat([{a}, {b}])")
    C.check(xp.stack([x1, x2]), np.stack([n1.astype(r), n2.astype(r)]), dev=dev, what=f"stack([{a}, {b}])")


def test_where_python_scalars(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    cond = np.asarray([True, False, True])
    x = C.to_xp(_vals(dt), dev)
    C.check(xp.where(C.to_xp(cond, dev), x, 0.5), np.where(cond, _vals(dt), np.asarray(0.5, dtype=dt)), dev=dev, what="where(c, float array, 0.5)")
    C.check(xp.where(C.to_xp(cond, dev), 2, x), np.where(cond, np.asarray(2, dtype=dt), _vals(dt)), dev=dev, what="where(c, 2, float array)")


@pytest.mark.parametrize("a, b", [("float64", "float32"), ("int32", "int8"), ("complex128", "float64"), ("int16", "uint8")], ids=repr)
def test_setitem_value_promotion(a, b, dev):
    """2025.12: an array value is promoted to the dtype of the target."""
    C.require_dtypes(dev, a, b)
    x = C.to_xp(np.zeros(3, dtype=a), dev)
    x[1:] = C.to_xp(np.asarray([5, 6]).astype(b), dev)
    C.check(x, np.asarray([0, 5, 6]).astype(a), dev=dev, what=f"{a}[1:] = {b} array")
    x[0] = C.to_xp(np.asarray(7).astype(b), dev)
    C.check(x, np.asarray([7, 5, 6]).astype(a), dev=dev, what=f"{a}[0] = 0-d {b} array")


def test_python_int_scalar_into_float_and_complex(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    x = C.to_xp(np.asarray([1.5, 2.5], dtype=dt), dev)
    C.check(x + 1, np.asarray([2.5, 3.5], dtype=dt), dev=dev, what="float array + int")
    C.check(2 ** x, np.asarray([2 ** 1.5, 2 ** 2.5], dtype=dt), dev=dev, what="int ** float array", **C.tol_for(dt, 16))
