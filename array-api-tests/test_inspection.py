"""The inspection API: ``__array_namespace_info__()``."""

from __future__ import annotations

import pytest

from . import _common as C
from ._common import xp

KINDS = ("bool", "signed integer", "unsigned integer", "integral", "real floating", "complex floating", "numeric")


@pytest.fixture(scope="module")
def info():
    assert hasattr(xp, "__array_namespace_info__"), "__array_namespace_info__ is missing"
    return xp.__array_namespace_info__()


def test_array_api_version():
    v = getattr(xp, "__array_api_version__", None)
    assert v == "2025.12", f"__array_api_version__ = {v!r}: this suite checks the 2025.12 standard"


def test_capabilities(info):
    caps = info.capabilities()
    assert isinstance(caps, dict)
    for key in ("boolean indexing", "data-dependent shapes"):
        assert key in caps, f"capabilities() lacks {key!r}"
        assert isinstance(caps[key], bool)
    assert "max dimensions" in caps, "capabilities() lacks 'max dimensions' (2024.12)"
    md = caps["max dimensions"]
    assert md is None or (isinstance(md, int) and md >= 8), f"max dimensions = {md!r} (the standard requires at least 8)"


def test_max_dimensions_are_usable(info):
    md = info.capabilities()["max dimensions"]
    n = 8 if md is None else min(md, 8)
    x = xp.ones((1,) * n, dtype=xp.int8)
    assert x.ndim == n
    assert int(xp.sum(x)) == 1


def test_devices(info):
    devs = info.devices()
    assert isinstance(devs, tuple), f"devices() must return a tuple (2025.12), got {type(devs).__name__}"
    assert len(devs) >= 1
    d0 = info.default_device()
    assert d0 is None or d0 in devs, f"default_device() {d0!r} not in devices()"


def test_default_device_is_used():
    info = xp.__array_namespace_info__()
    d0 = info.default_device()
    if d0 is None:
        pytest.skip("default device is not predictable (None)")
    assert xp.asarray([1, 2]).device == d0
    assert xp.zeros(3).device == d0


def test_default_dtypes(info, dev):
    for d in (info.default_dtypes(), info.default_dtypes(device=dev)):
        assert set(d) == {"real floating", "complex floating", "integral", "indexing"}, f"keys {sorted(d)}"
        assert C.dtype_name(d["real floating"]) in C.RFLOAT
        assert C.dtype_name(d["complex floating"]) in C.CFLOAT
        assert C.dtype_name(d["integral"]) in C.INT
        assert C.dtype_name(d["indexing"]) in C.INT
        # the defaults of one device have matching precision
        rf, cf = C.dtype_name(d["real floating"]), C.dtype_name(d["complex floating"])
        assert C.REAL_OF[cf] == rf, f"default complex {cf} does not match default real {rf}"
    sup = C.supported_dtypes(dev)
    d = info.default_dtypes(device=dev)
    for v in d.values():
        assert C.dtype_name(v) in sup, f"default dtype {C.dtype_name(v)} unsupported on {dev!r}"


def test_dtypes(info, dev):
    all_d = info.dtypes(device=dev)
    assert isinstance(all_d, dict)
    names = set(all_d)
    assert names <= set(C.ALL_DTYPES), f"unknown dtype names {names - set(C.ALL_DTYPES)}"
    assert "bool" in names
    for n, d in all_d.items():
        assert d == C.xdtype(n), f"dtypes()[{n!r}] is {d!r}, not xp.{n}"
    for kind in KINDS:
        sub = info.dtypes(kind=kind, device=dev)
        want = {n for n in C.KIND_TO_NAMES[kind] if n in names}
        assert set(sub) == want, f"dtypes(kind={kind!r}) = {sorted(sub)}, expected {sorted(want)}"
        for n, d in sub.items():
            assert xp.isdtype(d, kind)
    both = info.dtypes(kind=("bool", "real floating"), device=dev)
    assert set(both) == {n for n in ("bool",) + C.RFLOAT if n in names}
    with pytest.raises(ValueError):
        info.dtypes(kind="no such kind", device=dev)


def test_dtypes_without_device(info):
    d = info.dtypes()
    assert set(d) <= set(C.ALL_DTYPES) and "bool" in d


def test_every_device_can_hold_its_dtypes(info, dev):
    for n in C.supported_dtypes(dev):
        x = xp.zeros((2,), dtype=C.xdtype(n), **C.devkw(dev))
        C.assert_dtype(x, n)
        C.assert_device(x, dev)
