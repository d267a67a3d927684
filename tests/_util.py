"""Helpers for the core-engine tests: dtype tables, NumPy references, tolerant
comparison, hypothesis strategies and settings.

The reference for a floating-point op is NumPy evaluated in float64 (complex128) on the
very values the tensor holds, rounded once to the tensor's dtype; zyx must be within a
few ulp of it. Half-precision dtypes are computed in float32 inside kernels, so their
tolerance is one or two ulp of the half type.
"""
from __future__ import annotations

import contextlib
import os
import warnings

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zyx
from zyx import dtypes as dt

# ----------------------------------------------------------------- hypothesis settings
settings.register_profile(
    "zyx-core", max_examples=20, deadline=None, derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def hyp(max_examples: int | None = None):
    """Decorator: the core suite's hypothesis settings (derandomized when $CI is set)."""
    base = settings.get_profile("zyx-core")
    return settings(base, max_examples=max_examples or base.max_examples)


# ----------------------------------------------------------------- dtypes
BOOL = [dt.bool_]
SINTS = [dt.int8, dt.int16, dt.int32, dt.int64]
UINTS = [dt.uint8, dt.uint16, dt.uint32, dt.uint64]
INTS = SINTS + UINTS
HALFS = [dt.float16, dt.bfloat16]
FLOATS = [dt.float16, dt.bfloat16, dt.float32, dt.float64]
COMPLEX = [dt.complex64, dt.complex128]
NUMERIC = INTS + FLOATS + COMPLEX
ALL = list(dt.ALL)


def ids(dtypes) -> list[str]:
    return [d.name for d in dtypes]


def npdt(d: dt.DType) -> np.dtype:
    return d.np


def require(device: str, *dtypes: dt.DType) -> None:
    """Skip (with the reason shown) when ``device`` lacks one of ``dtypes``."""
    dev = zyx.get_device(device)
    for d in dtypes:
        if not dev.supports(d):
            pytest.skip(f"device {device} does not support {d.name}")


def T(a, device: str, dtype=None) -> zyx.Tensor:
    """A tensor on ``device`` from host data."""
    return zyx.Tensor(a, dtype=dtype, device=device)


# ----------------------------------------------------------------- references
def wide(d: dt.DType) -> np.dtype:
    """The NumPy dtype a reference is computed in."""
    if d.kind == "c":
        return np.dtype(np.complex128)
    if d.kind == "f":
        return np.dtype(np.float64)
    return d.np


def ref(fn, *arrays: np.ndarray, out: dt.DType) -> np.ndarray:
    """fn evaluated on the widened inputs, rounded once to ``out``."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = np.asarray(fn(*[np.asarray(a).astype(wide(_dt_of(a))) for a in arrays]))
        if r.dtype == np.bool_:
            return r
        return r.astype(out.np)


def _dt_of(a) -> dt.DType:
    return dt.from_numpy(np.asarray(a).dtype)


_TOL = {  # (rtol, atol) per dtype for one correctly-rounded-ish elementwise op
    "float16": (2e-3, 1.2e-7), "bfloat16": (1.6e-2, 1e-38), "float32": (8e-6, 1e-40),
    "float64": (1e-13, 1e-300), "complex64": (8e-6, 1e-6), "complex128": (1e-13, 1e-13),
}


def tol(d: dt.DType, scale: float = 1.0) -> tuple[float, float]:
    r, a = _TOL.get(d.name, (0.0, 0.0))
    return r * scale, a * scale


def as_f64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind == "f" or a.dtype == ml_dtypes.bfloat16:
        return a.astype(np.float64)
    return a


def assert_close(got, want, *, rtol: float = 0.0, atol: float = 0.0, dtype=None,
                 signed_zeros: bool = False, msg: str = "") -> None:
    """got == want elementwise within ``atol + rtol*|want|``; NaNs must match NaNs, infs
    must match infs (a result within rtol of the largest finite value of the dtype counts
    as overflowing), and with ``signed_zeros`` the sign of every zero must match."""
    if isinstance(got, zyx.Tensor):
        dtype = dtype or got.dtype
        got = got.numpy()
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{msg}: shape {got.shape} != expected {want.shape}"
    if dtype is not None:
        assert got.dtype == dtype.np, f"{msg}: dtype {got.dtype} != expected {dtype.np}"
    if want.dtype.kind in "biu" and got.dtype.kind in "biu":
        bad = got != want
        assert not bad.any(), _report(msg, got, want, bad)
        return
    g, w = as_f64(got), as_f64(want)
    if g.dtype.kind == "c" or w.dtype.kind == "c":
        g, w = g.astype(np.complex128), w.astype(np.complex128)
        with np.errstate(all="ignore"):
            scale = atol + rtol * np.abs(w)  # each part within a tolerance of the whole value
        for part in (np.real, np.imag):
            assert_close(part(g), part(w), rtol=rtol, atol=scale, msg=msg + " (complex part)")
        return
    with np.errstate(all="ignore"):
        nan_g, nan_w = np.isnan(g), np.isnan(w)
        bad = nan_g != nan_w
        big = np.finfo(got.dtype).max if got.dtype.kind == "f" else np.inf
        inf_ok = (g == w) | (np.isinf(w) & (np.abs(g) >= big * (1 - rtol)) & (np.sign(g) == np.sign(w))) | \
                 (np.isinf(g) & (np.abs(w) >= big * (1 - rtol)) & (np.sign(g) == np.sign(w)))
        finite = ~nan_w & ~nan_g
        diff = np.abs(g - w)
        close = (diff <= atol + rtol * np.abs(w)) | inf_ok
        bad |= finite & ~close
        if signed_zeros:
            bad |= finite & (w == 0) & (g == 0) & (np.signbit(g) != np.signbit(w))
    assert not bad.any(), _report(msg, got, want, bad)


def _report(msg: str, got, want, bad) -> str:
    idx = np.argwhere(bad)[:6]
    lines = [f"{msg}: {int(bad.sum())} of {bad.size} elements differ"]
    for i in idx:
        i = tuple(i)
        lines.append(f"  at {i}: got {got[i]!r}, expected {want[i]!r}")
    return "\n".join(lines)


# ----------------------------------------------------------------- strategies
SPECIAL_FLOATS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.5, -2.5, np.nan, np.inf, -np.inf]


def float_elements(d: dt.DType, lo: float | None = None, hi: float | None = None,
                   special: bool = True) -> st.SearchStrategy:
    """Values exactly representable in ``d``, including nan/inf/-0.0 when ``special``."""
    width = {"float16": 16, "bfloat16": 32, "float32": 32, "float64": 64}[d.name]
    lim = {"float16": 6e4, "bfloat16": 1e30, "float32": 1e30, "float64": 1e300}[d.name]
    lo = -lim if lo is None else lo
    hi = lim if hi is None else hi
    as_width = {16: np.float16, 32: np.float32, 64: np.float64}[width]
    lo, hi = float(as_width(lo)), float(as_width(hi))
    base = st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False)
    if special:
        base = st.one_of(base, st.sampled_from(SPECIAL_FLOATS))
    if d is dt.bfloat16:
        base = base.map(lambda v: float(np.asarray(v, dtype=np.float32).astype(ml_dtypes.bfloat16)))
    return base


def float_arrays(d: dt.DType, shape, **kw) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shape, elements=float_elements(d, **kw)).map(lambda a: a.astype(d.np))


def int_arrays(d: dt.DType, shape, lo: int | None = None, hi: int | None = None) -> st.SearchStrategy:
    info = np.iinfo(d.np)
    lo = info.min if lo is None else max(lo, int(info.min))
    hi = info.max if hi is None else min(hi, int(info.max))
    edges = [v for v in (info.min, info.max, 0, 1, -1, 2, -2) if lo <= v <= hi]
    el = st.one_of(st.integers(lo, hi), st.sampled_from(edges))
    return hnp.arrays(d.np, shape, elements=el)


def arrays(d: dt.DType, shape, **kw) -> st.SearchStrategy:
    """Arrays of any zyx dtype with edge values."""
    if d is dt.bool_:
        return hnp.arrays(np.bool_, shape)
    if d.kind in "iu":
        return int_arrays(d, shape, **kw)
    if d.kind == "c":
        r = dt.real_of(d)
        return st.tuples(float_arrays(r, shape, **kw), float_arrays(r, shape, **kw)).map(
            lambda p: _complex_from(p[0], p[1], d))
    return float_arrays(d, shape, **kw)


def _complex_from(re: np.ndarray, im: np.ndarray, d: dt.DType) -> np.ndarray:
    out = np.empty(re.shape, d.np)
    out.real, out.imag = re, im  # no arithmetic: inf * 1j would make NaNs
    return out


# ----------------------------------------------------------------- compile batching
def warm(*tensors: zyx.Tensor) -> None:
    """Realize many tensors in one schedule so their kernels compile in one compiler run;
    a failure here is ignored (the individual tests then report it precisely)."""
    with contextlib.suppress(Exception):
        zyx.realize(*tensors)
