"""The fft extension, compared with array_api_strict.fft."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import given, ref, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st

if not hasattr(xp, "fft"):
    pytest.skip(f"{xp.__name__} has no fft extension", allow_module_level=True)

FFT = xp.fft
NORMS = [None, "backward", "ortho", "forward"]


def _tol(dt, n):
    eps = C.EPS[C.REAL_OF[dt]]
    t = 64 * eps * max(1, n)
    return {"rtol": t, "atol": t * 10}


ONE_D = {
    # name: (input kind, output kind)
    "fft": ("complex", "complex"),
    "ifft": ("complex", "complex"),
    "rfft": ("real", "complex"),
    "irfft": ("complex", "real"),
    "hfft": ("complex", "real"),
    "ihfft": ("real", "complex"),
}
N_D = {
    "fftn": ("complex", "complex"),
    "ifftn": ("complex", "complex"),
    "rfftn": ("real", "complex"),
    "irfftn": ("complex", "real"),
}


def _dtype(data, dev, kind):
    return draw_dtype(data, dev, C.CFLOAT if kind == "complex" else C.RFLOAT)


@pytest.mark.parametrize("fname", list(ONE_D))
@given(data=st.data())
def test_fft_1d(fname, dev, data):
    kind_in, _ = ONE_D[fname]
    dt = _dtype(data, dev, kind_in)
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x")
    axis = data.draw(st.sampled_from([None] + list(range(-a.ndim, a.ndim))), label="axis")
    ax = -1 if axis is None else axis
    m = a.shape[ax]
    lo = 2 if fname in ("irfft", "hfft") else 1
    n = data.draw(st.none() | st.integers(lo, 8), label="n")
    if n is None and fname in ("irfft", "hfft") and 2 * (m - 1) < 1:
        n = 2
    norm = data.draw(st.sampled_from(NORMS), label="norm")
    kw = {}
    if n is not None:
        kw["n"] = n
    if axis is not None:
        kw["axis"] = axis
    if norm is not None:
        kw["norm"] = norm
    res = getattr(FFT, fname)(C.to_xp(a, dev), **kw)
    exp = getattr(ref.fft, fname)(C.to_ref(a), **kw)
    C.check(res, exp, dev=dev, what=f"fft.{fname}({kw})", **_tol(dt, max(m, n or 0)))


@pytest.mark.parametrize("fname", list(N_D))
@given(data=st.data())
def test_fft_nd(fname, dev, data):
    kind_in, _ = N_D[fname]
    dt = _dtype(data, dev, kind_in)
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x")
    use_axes = data.draw(st.booleans(), label="axes given")
    kw = {}
    if use_axes:
        axes = data.draw(st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True), label="axes")
        kw["axes"] = axes
        k = len(axes)
    else:
        axes = list(range(a.ndim))
        k = a.ndim
    if data.draw(st.booleans(), label="s given"):
        lo = 2 if fname == "irfftn" else 1
        kw["s"] = data.draw(st.lists(st.integers(lo, 6), min_size=k, max_size=k), label="s")
        if not use_axes:
            kw["axes"] = axes
    elif fname == "irfftn" and a.shape[axes[-1]] < 2:
        kw["s"] = [a.shape[ax] for ax in axes[:-1]] + [2]
        kw["axes"] = axes
    norm = data.draw(st.sampled_from(NORMS), label="norm")
    if norm is not None:
        kw["norm"] = norm
    res = getattr(FFT, fname)(C.to_xp(a, dev), **kw)
    exp = getattr(ref.fft, fname)(C.to_ref(a), **kw)
    C.check(res, exp, dev=dev, what=f"fft.{fname}({kw})", **_tol(dt, a.size + 8))


@pytest.mark.parametrize("fname", ["fftfreq", "rfftfreq"])
@given(data=st.data())
def test_fftfreq(fname, dev, data):
    n = data.draw(st.integers(1, 9), label="n")
    d = data.draw(st.sampled_from([None, 1.0, 0.5, 2.0]), label="d")
    dt = data.draw(st.none() | st.sampled_from(C.dtypes_on(dev, C.RFLOAT)), label="dtype")
    kw = {}
    if d is not None:
        kw["d"] = d
    if dt is not None:
        kw["dtype"] = C.xdtype(dt)
    res = getattr(FFT, fname)(n, **kw, **C.devkw(dev))
    want = dt or C.default_float(dev)
    exp = getattr(np.fft, fname)(n, d=d or 1.0).astype(want)
    C.check(res, exp, dtype=want, dev=dev, what=f"fft.{fname}({n}, {kw})", **C.tol_for(want, 4))


@pytest.mark.parametrize("fname", ["fftshift", "ifftshift"])
@given(data=st.data())
def test_fftshift(fname, dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x")
    axes = data.draw(st.none() | st.integers(-a.ndim, a.ndim - 1) | st.lists(st.integers(0, a.ndim - 1), min_size=1, unique=True).map(tuple), label="axes")
    kw = {} if axes is None else {"axes": axes}
    res = getattr(FFT, fname)(C.to_xp(a, dev), **kw)
    C.check(res, getattr(np.fft, fname)(a, axes=axes), dev=dev, exact=True, what=f"fft.{fname}({kw})")


def test_fft_roundtrip(dev):
    dt = C.dtypes_on(dev, ["complex128", "complex64"])
    if not dt:
        pytest.skip("no complex dtype")
    dt = dt[0]
    a = (np.arange(8) + 1j * np.arange(8)[::-1]).astype(dt)
    x = C.to_xp(a, dev)
    C.check(FFT.ifft(FFT.fft(x)), a, dev=dev, what="ifft(fft(x)) == x", **_tol(dt, 8))
    rdt = C.REAL_OF[dt]
    r = np.arange(6, dtype=rdt)
    C.check(FFT.irfft(FFT.rfft(C.to_xp(r, dev)), n=6), r, dev=dev, what="irfft(rfft(x)) == x", **_tol(dt, 8))
