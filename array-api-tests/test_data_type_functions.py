"""Data type functions: astype, can_cast, finfo, iinfo, isdtype, result_type
(the promotion table itself is in test_type_promotion.py) and the dtype
objects."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import xp
from ._promotion import promote

KINDS = ("bool", "signed integer", "unsigned integer", "integral", "real floating", "complex floating", "numeric")


def _cast_values(src: str, dst: str) -> np.ndarray:
    """Values of dtype ``src`` whose cast to ``dst`` is fully specified."""
    if src == "bool":
        return np.asarray([True, False, True])
    if dst == "bool":
        return np.asarray([0, 1, 2, 0]).astype(src)
    vals = [0, 1, 7, 100]
    if src in C.SINT and dst in C.SINT + C.FLOAT:
        vals += [-1, -100]
    if src in C.FLOAT and dst in C.FLOAT:
        vals += [-2.5, 0.5]
    return np.asarray(vals).astype(src)


@pytest.mark.parametrize("src", C.ALL_DTYPES)
def test_astype_all_pairs(src, dev):
    """astype between every pair of supported dtypes (complex -> real is
    unspecified and skipped)."""
    C.require_dtypes(dev, src)
    targets = C.supported_dtypes(dev)
    if not C.is_primary(dev):  # representative targets on the other devices
        targets = [d for d in targets if d in ("bool", "int32", "float32", src)]
    for dst in targets:
        if src in C.CFLOAT and dst not in C.CFLOAT:
            continue
        a = _cast_values(src, dst)
        res = xp.astype(C.to_xp(a, dev), C.xdtype(dst))
        C.check(res, a.astype(dst), dev=dev, exact=True, what=f"astype({src} -> {dst})")


def test_astype_copy(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    a = np.asarray([1.0, 2.0], dtype=dt)
    x = C.to_xp(a, dev)
    y = xp.astype(x, C.xdtype(dt))  # copy=True is the default
    x[0] = 5.0
    C.check(y, a, dev=dev, what="astype(x, same dtype) must copy by default")
    z = xp.astype(x, C.xdtype(dt), copy=False)
    C.check(z, np.asarray([5.0, 2.0], dtype=dt), dev=dev, what="astype(copy=False)")


def test_astype_device(dev):
    dt = "float32" if "float32" in C.supported_dtypes(dev) else C.supported_dtypes(dev)[0]
    x = C.to_xp(np.asarray([1, 2], dtype="int32"), dev)
    for target in C.DEVICES:
        if dt not in C.supported_dtypes(target):
            continue
        res = xp.astype(x, C.xdtype(dt), **C.devkw(target))
        C.check(res, np.asarray([1, 2], dtype=dt), dev=target, what=f"astype(device={C.device_id(target)})")


@pytest.mark.parametrize("src", C.ALL_DTYPES)
def test_can_cast(src):
    """can_cast follows the promotion table; pairs whose promotion is
    unspecified (cross-kind, uint64/signed) are not checked."""
    for dst in C.ALL_DTYPES:
        p = promote(src, dst)
        if p is None:
            continue
        want = p == dst
        got = xp.can_cast(C.xdtype(src), C.xdtype(dst))
        assert isinstance(got, bool), f"can_cast must return a bool, got {type(got).__name__}"
        assert got == want, f"can_cast({src}, {dst}) = {got}, expected {want}"


def test_can_cast_array(dev):
    x = C.to_xp(np.asarray([1, 2], dtype="int8"), dev)
    assert xp.can_cast(x, xp.int16) is True
    assert xp.can_cast(x, xp.uint8) is False


_FINFO = {
    "float32": np.finfo(np.float32),
    "float64": np.finfo(np.float64),
    "complex64": np.finfo(np.float32),
    "complex128": np.finfo(np.float64),
}


@pytest.mark.parametrize("dt", C.FLOAT)
def test_finfo(dt, dev):
    ref_info = _FINFO[dt]
    infos = [xp.finfo(C.xdtype(dt))]
    if dt in C.supported_dtypes(dev):
        infos.append(xp.finfo(C.to_xp(np.asarray([1], dtype=dt), dev)))
    for fi in infos:
        assert fi.bits == ref_info.bits, f"finfo({dt}).bits = {fi.bits}"
        for attr in ("eps", "max", "min", "smallest_normal"):
            v = getattr(fi, attr)
            assert isinstance(v, float), f"finfo({dt}).{attr} must be a Python float, got {type(v).__name__}"
            assert v == float(getattr(ref_info, attr)), f"finfo({dt}).{attr} = {v!r}, expected {float(getattr(ref_info, attr))!r}"
        assert C.dtype_name(fi.dtype) == C.REAL_OF[dt], f"finfo({dt}).dtype = {fi.dtype!r}"


@pytest.mark.parametrize("dt", C.INT)
def test_iinfo(dt, dev):
    ii = np.iinfo(np.dtype(dt))
    infos = [xp.iinfo(C.xdtype(dt))]
    if dt in C.supported_dtypes(dev):
        infos.append(xp.iinfo(C.to_xp(np.asarray([1], dtype=dt), dev)))
    for info in infos:
        assert info.bits == ii.bits and info.max == int(ii.max) and info.min == int(ii.min), f"iinfo({dt})"
        assert type(info.max) is int and type(info.min) is int
        assert C.dtype_name(info.dtype) == dt


@pytest.mark.parametrize("dt", C.ALL_DTYPES)
def test_isdtype(dt):
    d = C.xdtype(dt)
    for kind in KINDS:
        want = dt in C.KIND_TO_NAMES[kind]
        assert xp.isdtype(d, kind) is want, f"isdtype({dt}, {kind!r}) should be {want}"
    assert xp.isdtype(d, d) is True
    other = "float32" if dt != "float32" else "int8"
    assert xp.isdtype(d, C.xdtype(other)) is False
    assert xp.isdtype(d, (C.xdtype(other), d)) is True
    assert xp.isdtype(d, ("bool", "numeric")) is True
    assert xp.isdtype(d, (C.xdtype(other),)) is False


def test_isdtype_invalid_kind():
    with pytest.raises((ValueError, TypeError)):
        xp.isdtype(xp.float32, "not a kind")


def test_dtype_objects():
    for a in C.ALL_DTYPES:
        for b in C.ALL_DTYPES:
            eq = C.xdtype(a) == C.xdtype(b)
            assert bool(eq) == (a == b), f"({a} == {b}) is {eq}"


@pytest.mark.parametrize("dt", C.ALL_DTYPES)
def test_result_type_single(dt, dev):
    assert C.dtype_name(xp.result_type(C.xdtype(dt))) == dt
    if dt in C.supported_dtypes(dev):
        assert C.dtype_name(xp.result_type(C.to_xp(np.asarray([1]).astype(dt), dev))) == dt
