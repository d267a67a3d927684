"""Shared helpers for the array API conformance suite.

Everything that talks to "the namespace under test" (``xp``) or to the
reference implementation (``ref`` = ``array_api_strict``) goes through this
module so that the individual test modules stay short.

Conventions used throughout the suite:

* dtypes are handled by *name* ("float32", "int8", "bool", ...); the
  namespace under test and the reference are bridged with ``getattr(ns, name)``;
* inputs are generated as NumPy arrays (hypothesis.extra.numpy) and then put
  into the namespace under test with ``xp.asarray(arr, dtype=..., device=dev)``
  and into the reference with ``ref.asarray(arr)``;
* results are compared as NumPy arrays: shape, dtype name, device, values.
"""

from __future__ import annotations

import importlib
import math
import os
from typing import Any, Iterable, Sequence

import numpy as np
import pytest
from hypothesis import given as _hyp_given
from hypothesis import settings as _hyp_settings

# --------------------------------------------------------------------------
# The namespace under test
# --------------------------------------------------------------------------

MODULE_NAME = os.environ.get("ARRAY_API_TESTS_MODULE", "zyx.array_api")


def _import_under_test(name: str):
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only "the module itself (or one of its parents) does not exist" is a
        # reason to skip.  A module that exists but is broken inside must make
        # the suite fail loudly, not silently skip it.
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            pytest.skip(
                f"array API namespace {name!r} (ARRAY_API_TESTS_MODULE) cannot be "
                f"imported: {exc}",
                allow_module_level=True,
            )
        raise
    if getattr(mod, "__file__", None) is None and hasattr(mod, "__path__"):
        # a bare directory without __init__.py imports as an empty namespace
        # package: there is no namespace to test (yet)
        pytest.skip(
            f"array API namespace {name!r} (ARRAY_API_TESTS_MODULE) is an empty "
            f"namespace package (no __init__.py in {list(mod.__path__)})",
            allow_module_level=True,
        )
    return mod


xp = _import_under_test(MODULE_NAME)

import array_api_strict as ref  # noqa: E402  (the reference implementation)

IS_NUMPY = MODULE_NAME == "numpy"
IS_STRICT = MODULE_NAME == "array_api_strict"

# --------------------------------------------------------------------------
# Hypothesis settings: the profile is registered in conftest.py; tests use the
# ``given`` defined here, which applies that profile explicitly (hypothesis
# captures ``settings.default`` when @given is applied, i.e. at import time,
# so loading a profile globally would be fragile and would also leak into
# other test directories of the same pytest session).
# --------------------------------------------------------------------------

PROFILE_NAME = "array-api-tests"


def _profile():
    try:
        return _hyp_settings.get_profile(PROFILE_NAME)
    except Exception:  # pragma: no cover - conftest not loaded
        return _hyp_settings(max_examples=10, deadline=None)


SETTINGS = _profile()


def given(*args, _weight: float = 1.0, **kwargs):
    """``hypothesis.given`` with the suite's settings profile applied.

    ``_weight`` scales the number of examples of this test (tests that
    re-check what another test already covers use fewer).  The per-device
    number of examples is set in conftest.py (``examples_for``)."""

    def deco(fn):
        wrapped = _hyp_settings(SETTINGS)(_hyp_given(*args, **kwargs)(fn))
        wrapped._aat_weight = _weight
        return wrapped

    return deco


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

BOOL = ("bool",)
SINT = ("int8", "int16", "int32", "int64")
UINT = ("uint8", "uint16", "uint32", "uint64")
INT = SINT + UINT
RFLOAT = ("float32", "float64")
CFLOAT = ("complex64", "complex128")
FLOAT = RFLOAT + CFLOAT
REAL = INT + RFLOAT
NUMERIC = INT + FLOAT
ALL_DTYPES = BOOL + NUMERIC

KIND_TO_NAMES = {
    "bool": BOOL,
    "signed integer": SINT,
    "unsigned integer": UINT,
    "integral": INT,
    "real floating": RFLOAT,
    "complex floating": CFLOAT,
    "numeric": NUMERIC,
}

EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
REAL_OF = {"complex64": "float32", "complex128": "float64", "float32": "float32", "float64": "float64"}
COMPLEX_OF = {"float32": "complex64", "float64": "complex128", "complex64": "complex64", "complex128": "complex128"}


def xdtype(name: str, ns=None):
    """The dtype object called ``name`` in namespace ``ns`` (default: xp)."""
    return getattr(xp if ns is None else ns, name)


def dtype_name(dt, ns=None) -> str:
    """Name of a dtype object of namespace ``ns`` (default: xp)."""
    ns = xp if ns is None else ns
    for n in ALL_DTYPES:
        try:
            if dt == getattr(ns, n):
                return n
        except AttributeError:
            continue
    raise AssertionError(f"{dt!r} is not one of the standard dtypes of {ns.__name__}")


# --------------------------------------------------------------------------
# Devices and per-device dtype support
# --------------------------------------------------------------------------


def _info():
    f = getattr(xp, "__array_namespace_info__", None)
    if f is None:
        return None
    try:
        return f()
    except Exception:  # pragma: no cover
        return None


INFO = _info()


def _devices():
    if INFO is None:
        return [None]
    try:
        devs = list(INFO.devices())
    except Exception:
        return [None]
    return devs or [None]


DEVICES = _devices()


def device_id(dev) -> str:
    s = str(dev)
    for junk in ("array_api_strict.Device(", ")", "'", '"'):
        s = s.replace(junk, "")
    return s or "default"


DEVICE_IDS = [device_id(d) for d in DEVICES]


def _primary_device():
    if INFO is not None:
        try:
            d = INFO.default_device()
            if d is not None and d in DEVICES:
                return d
        except Exception:
            pass
    return DEVICES[0]


PRIMARY_DEVICE = _primary_device()


def is_primary(dev) -> bool:
    """The default device gets the full number of examples and all table
    cases; the other devices get fewer examples / representative cases (time
    budget: a lazy library compiles a kernel per shape/dtype/op)."""
    return dev is PRIMARY_DEVICE or dev == PRIMARY_DEVICE


MAX_EXAMPLES = int(os.environ.get("ARRAY_API_TESTS_MAX_EXAMPLES", "10"))
OTHER_DEVICE_EXAMPLES = int(
    os.environ.get("ARRAY_API_TESTS_OTHER_DEVICE_EXAMPLES", str(max(1, MAX_EXAMPLES // 5)))
)


def examples_for(dev, weight: float = 1.0) -> int:
    base = MAX_EXAMPLES if is_primary(dev) else OTHER_DEVICE_EXAMPLES
    return max(1, int(round(base * weight)))


def device_cases(cases, keep_on_other_devices=lambda case: True, ids=None):
    """Joint ``dev`` parametrization: every case on the primary device, the
    cases accepted by ``keep_on_other_devices`` on the other devices."""
    import pytest as _pytest

    out = []
    for dev, did in zip(DEVICES, DEVICE_IDS):
        for i, case in enumerate(cases):
            if is_primary(dev) or keep_on_other_devices(case):
                cid = ids[i] if ids is not None else "-".join(map(str, case))
                out.append(_pytest.param(dev, *case, id=f"{did}-{cid}"))
    return out

_SUPPORTED_CACHE: dict = {}


def supported_dtypes(dev) -> tuple[str, ...]:
    """Names of the standard dtypes the device supports (per the info API)."""
    key = device_id(dev)
    if key in _SUPPORTED_CACHE:
        return _SUPPORTED_CACHE[key]
    names = None
    if INFO is not None:
        try:
            d = INFO.dtypes(device=dev)
            names = tuple(n for n in ALL_DTYPES if n in d)
        except Exception:
            names = None
    if names is None:
        names = tuple(n for n in ALL_DTYPES if hasattr(xp, n))
    _SUPPORTED_CACHE[key] = names
    return names


def dtypes_on(dev, names: Iterable[str]) -> list[str]:
    sup = supported_dtypes(dev)
    return [n for n in names if n in sup]


def require_dtypes(dev, *names: str) -> None:
    """Skip (not fail) when ``dev`` lacks one of the dtypes."""
    sup = supported_dtypes(dev)
    missing = [n for n in names if n not in sup]
    if missing:
        pytest.skip(f"device {device_id(dev)} does not support {', '.join(missing)}")


_DEFAULTS_CACHE: dict = {}


def default_dtypes(dev) -> dict[str, str]:
    """Default dtype names of ``dev``: keys 'real floating', 'complex floating',
    'integral', 'indexing'."""
    key = device_id(dev)
    if key in _DEFAULTS_CACHE:
        return _DEFAULTS_CACHE[key]
    res = {"real floating": "float64", "complex floating": "complex128", "integral": "int64", "indexing": "int64"}
    if INFO is not None:
        try:
            d = INFO.default_dtypes(device=dev)
            res = {k: dtype_name(v) for k, v in d.items()}
        except Exception:
            pass
    _DEFAULTS_CACHE[key] = res
    return res


def default_float(dev) -> str:
    return default_dtypes(dev)["real floating"]


def default_complex(dev) -> str:
    return default_dtypes(dev)["complex floating"]


def default_int(dev) -> str:
    return default_dtypes(dev)["integral"]


def default_index(dev) -> str:
    return default_dtypes(dev)["indexing"]


def acc_dtype(dt: str, dev) -> str:
    """Result dtype of sum/prod/cumulative_*/trace with dtype=None: integer
    dtypes narrower than the device's default integer are widened to it
    (unsigned ones to the unsigned integer of the same width)."""
    dflt = default_int(dev)
    bits = np.dtype(dflt).itemsize * 8
    if dt in SINT and np.dtype(dt).itemsize * 8 < bits:
        return dflt
    if dt in UINT and np.dtype(dt).itemsize * 8 < bits:
        return f"uint{bits}"
    return dt


def devkw(dev) -> dict:
    """``device=`` keyword for creation functions (omitted when dev is None)."""
    return {} if dev is None else {"device": dev}


# --------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------


def to_xp(a, dev, dtype: str | None = None):
    """Put a NumPy array (or scalar) into the namespace under test on ``dev``."""
    # always hand over a private copy: asarray may alias NumPy memory, and the
    # tests mutate arrays of the tested namespace (setitem, in-place ops)
    a = np.array(a, copy=True)
    name = dtype or a.dtype.name
    return xp.asarray(a, dtype=xdtype(name), **devkw(dev))


def to_ref(a, dtype: str | None = None):
    a = np.array(a, copy=True)
    name = dtype or a.dtype.name
    return ref.asarray(a, dtype=getattr(ref, name))


_HOST_DEVICE = []


def to_np(x) -> np.ndarray:
    """Convert an array of the tested namespace (or of the reference) to NumPy."""
    if isinstance(x, np.ndarray):
        return x
    errors = []
    try:
        a = np.asarray(x)
        if a.dtype != object:
            return a
        errors.append("np.asarray gave an object array")
    except Exception as e:  # e.g. array not on a host device
        errors.append(f"np.asarray: {e!r}")
    try:
        return np.from_dlpack(x)
    except Exception as e:
        errors.append(f"np.from_dlpack: {e!r}")
    candidates = list(_HOST_DEVICE)
    if INFO is not None:
        try:
            candidates.append(INFO.default_device())
        except Exception:
            pass
    candidates += [d for d in DEVICES if d is not None]
    for d in candidates:
        try:
            a = np.asarray(x.to_device(d))
            if a.dtype != object:
                if not _HOST_DEVICE:
                    _HOST_DEVICE.append(d)
                return a
        except Exception as e:
            errors.append(f"to_device({d!r}): {e!r}")
    raise AssertionError("cannot convert result to NumPy: " + "; ".join(errors))


def is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__array_namespace__")


# --------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------


def _fmt_idx(idx) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def assert_shape(res, shape, what="result"):
    got = tuple(res.shape)
    assert got == tuple(shape), f"{what}: shape {got}, expected {tuple(shape)}"


def assert_dtype(res, name: str, what="result"):
    got = dtype_name(res.dtype)
    assert got == name, f"{what}: dtype {got}, expected {name}"


def assert_device(res, dev, what="result"):
    if dev is None:
        return
    assert res.device == dev, f"{what}: device {res.device!r}, expected {dev!r}"


def _close_real(a, e, rtol, atol, signed_zeros, what, name):
    a = np.asarray(a, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    an, en = np.isnan(a), np.isnan(e)
    bad = an != en
    both = ~(an | en)
    ainf, einf = np.isinf(a), np.isinf(e)
    bad |= both & (einf | ainf) & (a != e)
    fin = both & ~einf & ~ainf
    with np.errstate(all="ignore"):
        bad |= fin & (np.abs(a - e) > atol + rtol * np.abs(e))
    if signed_zeros:
        z = both & (e == 0)
        bad |= z & (np.signbit(a) != np.signbit(e))
    if bad.any():
        idx = np.argwhere(bad)[:5]
        lines = [
            f"  at {_fmt_idx(i)}: got {a[tuple(i)]!r}, expected {e[tuple(i)]!r}" for i in idx
        ]
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} {name} values differ "
            f"(rtol={rtol:g}, atol={atol:g}, signed zeros {'checked' if signed_zeros else 'ignored'}):\n"
            + "\n".join(lines)
        )


def assert_values(actual, expected, *, rtol=None, atol=None, exact=False, signed_zeros=False, what="result"):
    """Compare two NumPy arrays of the same shape value-wise.

    ints and bools are always compared exactly.  Floats: NaN positions must
    match, infinities must match, finite values within ``atol + rtol*|e|``.
    Complex numbers are compared componentwise.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    kind = expected.dtype.kind
    if kind in "biu" and actual.dtype.kind in "biu":
        if not np.array_equal(actual.astype(object), expected.astype(object)):
            bad = np.argwhere(actual.astype(object) != expected.astype(object))[:5]
            lines = [f"  at {_fmt_idx(i)}: got {actual[tuple(i)]!r}, expected {expected[tuple(i)]!r}" for i in bad]
            raise AssertionError(f"{what}: values differ:\n" + "\n".join(lines))
        return
    if exact:
        rtol, atol = 0.0, 0.0
    if rtol is None or atol is None:
        ename = REAL_OF.get(expected.dtype.name, "float64")
        eps = EPS.get(ename, EPS["float64"])
        rtol = 8 * eps if rtol is None else rtol
        atol = 8 * eps if atol is None else atol
    if kind == "c" or actual.dtype.kind == "c":
        _close_real(np.real(actual), np.real(expected), rtol, atol, signed_zeros, what, "real-part")
        _close_real(np.imag(actual), np.imag(expected), rtol, atol, signed_zeros, what, "imag-part")
    else:
        _close_real(actual, expected, rtol, atol, signed_zeros, what, "")


def check(res, expected, *, dtype: str | None = None, dev=None, check_device=True, what="result", **kw):
    """Full comparison of an array of the tested namespace against ``expected``
    (a reference-namespace array or a NumPy array): type, shape, dtype name,
    device and values.  ``dtype`` overrides the expected dtype name (otherwise
    it is taken from ``expected``)."""
    assert is_array(res), f"{what}: expected an array object, got {type(res).__name__}"
    if isinstance(expected, np.generic):
        expected = np.asarray(expected)
    if not isinstance(expected, np.ndarray):
        if type(expected).__module__.startswith("array_api_strict"):
            exp_name = dtype_name(expected.dtype, ref) if dtype is None else dtype
            expected = to_np(expected)
        else:
            expected = np.asarray(expected)
            exp_name = dtype or expected.dtype.name
    else:
        exp_name = dtype or expected.dtype.name
    assert_shape(res, expected.shape, what)
    assert_dtype(res, exp_name, what)
    if check_device:
        assert_device(res, dev, what)
    assert_values(to_np(res), expected, what=what, **kw)


def tol_for(name: str, factor: float = 8.0) -> dict:
    """rtol/atol dictionary for a dtype name (ints: exact)."""
    if name in EPS or name in REAL_OF:
        eps = EPS[REAL_OF[name]]
        return {"rtol": factor * eps, "atol": factor * eps}
    return {}


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------


def iinfo(name: str):
    return np.iinfo(np.dtype(name))


def finfo(name: str):
    return np.finfo(np.dtype(name))


def is_int(name: str) -> bool:
    return name in INT


def is_float(name: str) -> bool:
    return name in RFLOAT


def is_complex(name: str) -> bool:
    return name in CFLOAT


def py_scalar_for(name: str, value) -> Any:
    """A Python scalar of the kind matching dtype ``name``."""
    if name == "bool":
        return bool(value)
    if name in INT:
        return int(value)
    if name in RFLOAT:
        return float(value)
    return complex(value)


def nbytes_bits(name: str) -> int:
    return np.dtype(name).itemsize * 8


def prod(shape: Sequence[int]) -> int:
    return math.prod(shape)
