"""Tests specific to the OpenCL backend: device listing, every dtype the device claims
against NumPy, random numbers equal to the CPU's, transfers, split reductions, compile
errors and the on-disk program cache. Skipped where no OpenCL device exists."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import warnings

import ml_dtypes
import numpy as np
import pytest

import zyx
from zyx import cache
from zyx.backends import opencl as ocl
from zyx.realize import clear_cache
from zyx.tensor import realize

pytestmark = pytest.mark.skipif(ocl.device_count() == 0,
                                reason="no OpenCL device found. " + ocl.install_hint())

DEV = "opencl"
RNG_SEED = 1234


def _dev():
    return zyx.get_device(DEV)


def _needs(d):
    if d not in _dev().dtypes:
        pytest.skip(f"{_dev()} does not support {d.name}")


# (rtol, atol) per result dtype: OpenCL's built-in math is a few ulp from correctly
# rounded; half types are computed in float and rounded once
TOL = {"float16": (2e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2), "float32": (2e-5, 1e-6),
       "float64": (1e-12, 1e-14), "complex64": (1e-4, 1e-5), "complex128": (1e-10, 1e-12)}


def _check(cases: dict):
    """Realize every case's tensor at once (one program) and compare each with NumPy."""
    realize(*[t for t, _ in cases.values()])
    failures = []
    for name, (t, want) in cases.items():
        got = t.numpy()
        want = np.asarray(want)
        if got.shape != want.shape:
            failures.append(f"{name}: shape {got.shape} != {want.shape}")
        elif t.dtype.is_inexact:
            rtol, atol = TOL[t.dtype.name]
            wide = np.complex128 if t.dtype.is_complex else np.float64
            g, w = got.astype(wide), want.astype(wide)
            bad = ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
            if bad.any():
                failures.append(f"{name} ({t.dtype.name}): got {g[bad][:4]} want {w[bad][:4]}")
        else:
            bad = got != want.astype(got.dtype)
            if bad.any():
                failures.append(f"{name} ({t.dtype.name}): got {got[bad][:4]} want {want[bad][:4]}")
    assert not failures, "\n".join(failures)


def _rounded(a: np.ndarray, d: zyx.DType) -> np.ndarray:
    return a.astype(d.np)


# --------------------------------------------------------------------------- devices
def test_listed_in_available_devices():
    names = [d.name for d in zyx.available_devices()]
    assert "opencl:0" in names
    dev = _dev()
    assert dev.type == "opencl" and dev.index == 0
    assert zyx.float32 in dev.dtypes and zyx.float16 in dev.dtypes and zyx.bfloat16 in dev.dtypes
    assert "OpenCL" in dev.backend.description


def test_device_count_without_pyopencl(monkeypatch):
    monkeypatch.setattr(ocl, "cl", None)
    monkeypatch.setattr(ocl, "_device_list", None)
    assert ocl.device_count() == 0
    assert "pip install zyx[opencl]" in ocl.install_hint()


# --------------------------------------------------------------------------- floats
FLOATS = [zyx.float16, zyx.bfloat16, zyx.float32, zyx.float64]


@pytest.mark.parametrize("d", FLOATS, ids=lambda d: d.name)
def test_float_ops_match_numpy(d):
    _needs(d)
    rng = np.random.default_rng(RNG_SEED)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5])
    xs = _rounded(np.concatenate([rng.normal(0, 3, 56), special]), d)
    ys = _rounded(np.concatenate([rng.normal(0, 3, 56) + 0.1, [1.5, -2.0, 3.0, 2.5, -0.75, 4.0, 0.25, -8.0]]), d)
    x64, y64 = xs.astype(np.float64), ys.astype(np.float64)
    x, y = zyx.Tensor(xs, device=DEV), zyx.Tensor(ys, device=DEV)
    fin = slice(0, 56)  # finite inputs only
    xf, yf = x[fin], y[fin]
    m = np.abs(x64[fin]) + 0.5
    with np.errstate(all="ignore"):
        cases = {
            "neg": (-x, -x64), "abs": (x.abs(), np.abs(x64)), "exp": (x.exp(), np.exp(x64)),
            "log": ((xf.abs() + 0.5).log(), np.log(m)), "sqrt": ((xf.abs() + 0.5).sqrt(), np.sqrt(m)),
            "sin": (xf.sin(), np.sin(x64[fin])), "cos": (xf.cos(), np.cos(x64[fin])),
            "tanh": (x.tanh(), np.tanh(x64)), "atan": (x.atan(), np.arctan(x64)),
            "asinh": (x.asinh(), np.arcsinh(x64)), "expm1": (xf.expm1(), np.expm1(x64[fin])),
            "log1p": ((xf.abs()).log1p(), np.log1p(np.abs(x64[fin]))),
            "erf": (xf.erf(), np.vectorize(math.erf)(x64[fin])),
            "floor": (x.floor(), np.floor(x64)), "ceil": (x.ceil(), np.ceil(x64)),
            "round": (x.round(), np.round(x64)), "trunc": (x.trunc(), np.trunc(x64)),
            "sign": (x.sign(), np.sign(x64)), "recip": (yf.reciprocal(), 1 / y64[fin]),
            "isnan": (x.isnan(), np.isnan(x64)), "isinf": (x.isinf(), np.isinf(x64)),
            "signbit": (x.signbit(), np.signbit(x64)),
            "add": (x + y, x64 + y64), "sub": (x - y, x64 - y64), "mul": (x * y, x64 * y64),
            "div": (xf / yf, x64[fin] / y64[fin]), "floordiv": (xf // yf, x64[fin] // y64[fin]),
            "mod": (xf % yf, np.mod(x64[fin], y64[fin])),
            "pow": ((xf.abs() + 0.5) ** yf, np.power(m, y64[fin])),
            "maximum": (x.maximum(y), np.maximum(x64, y64)), "minimum": (x.minimum(y), np.minimum(x64, y64)),
            "atan2": (xf.atan2(yf), np.arctan2(x64[fin], y64[fin])),
            "lt": (x < y, x64 < y64), "eq": (x == y, x64 == y64),
            "where": (zyx.where(x > 0, x, y), np.where(x64 > 0, x64, y64)),
            "sum": (xf.reshape(7, 8).sum(axis=1), x64[fin].reshape(7, 8).sum(axis=1)),
            "max": (x.reshape(8, 8).max(axis=1), x64.reshape(8, 8).max(axis=1)),
            "min": (x.reshape(8, 8).min(axis=0), x64.reshape(8, 8).min(axis=0)),
            "prod": ((xf.reshape(7, 8) * 0.25).prod(axis=0), (x64[fin].reshape(7, 8) * 0.25).prod(axis=0)),
            "mean": (xf.reshape(7, 8).mean(axis=0), x64[fin].reshape(7, 8).mean(axis=0)),
            "to_int32": ((xf * 10).cast(zyx.int32), (x64[fin] * 10).astype(np.int32)),
            "to_bool": (x.cast(zyx.bool_), x64.astype(bool)),
        }
    cases = {k: (t, _rounded(np.asarray(w), t.dtype) if t.dtype.is_float else w) for k, (t, w) in cases.items()}
    _check(cases)


# --------------------------------------------------------------------------- integers
INTS = [zyx.int8, zyx.int16, zyx.int32, zyx.int64, zyx.uint8, zyx.uint16, zyx.uint32, zyx.uint64]


@pytest.mark.parametrize("d", INTS, ids=lambda d: d.name)
def test_int_ops_match_numpy(d):
    _needs(d)
    rng = np.random.default_rng(RNG_SEED)
    info = np.iinfo(d.np)
    lo, hi = max(info.min, -1000), min(info.max, 1000)
    xs = rng.integers(lo, hi, 64, endpoint=True).astype(d.np)
    ys = rng.integers(lo, hi, 64, endpoint=True).astype(d.np)
    ys[:6] = 0  # division by zero gives 0, as in NumPy
    xs[-2:] = [info.min, info.max]
    sh = rng.integers(0, d.itemsize * 8, 64).astype(d.np)
    x, y, s = (zyx.Tensor(a, device=DEV) for a in (xs, ys, sh))
    small = zyx.Tensor((xs % 5).astype(d.np), device=DEV)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = {
            "add": (x + y, xs + ys), "sub": (x - y, xs - ys), "mul": (x * y, xs * ys),
            "floordiv": (x // y, xs // ys), "mod": (x % y, xs % ys),
            "and": (x & y, xs & ys), "or": (x | y, xs | ys), "xor": (x ^ y, xs ^ ys),
            "invert": (~x, ~xs), "shl": (x << s, xs << sh), "shr": (x >> s, xs >> sh),
            "maximum": (x.maximum(y), np.maximum(xs, ys)), "minimum": (x.minimum(y), np.minimum(xs, ys)),
            "lt": (x < y, xs < ys), "eq": (x == y, xs == ys),
            "pow": (small ** (small % 3), (xs % 5) ** ((xs % 5) % 3)),
            "sum": (x.reshape(8, 8).sum(axis=1), xs.reshape(8, 8).sum(axis=1, dtype=np.int64 if d.kind == "i" else np.uint64)),
            "max": (x.reshape(8, 8).max(axis=0), xs.reshape(8, 8).max(axis=0)),
            "prod": (small.reshape(8, 8).prod(axis=1), (xs % 5).reshape(8, 8).prod(axis=1, dtype=np.int64 if d.kind == "i" else np.uint64)),
            "where": (zyx.where(x > y, x, y), np.where(xs > ys, xs, ys)),
            "to_float32": (x.cast(zyx.float32), xs.astype(np.float32)),
        }
        if d.kind == "i":
            cases["neg"] = (-x[:-2], -xs[:-2])
            cases["abs"] = (x[:-2].abs(), np.abs(xs[:-2]))
    _check(cases)


def test_bool_ops_match_numpy():
    rng = np.random.default_rng(RNG_SEED)
    xs, ys = rng.random(64) > 0.5, rng.random(64) > 0.3
    x, y = zyx.Tensor(xs, device=DEV), zyx.Tensor(ys, device=DEV)
    cases = {"and": (x & y, xs & ys), "or": (x | y, xs | ys), "xor": (x ^ y, xs ^ ys), "not": (~x, ~xs),
             "eq": (x == y, xs == ys), "sum": (x.reshape(8, 8).sum(axis=1), xs.reshape(8, 8).sum(axis=1)),
             "to_int32": (x.cast(zyx.int32), xs.astype(np.int32)), "to_f32": (x.cast(zyx.float32), xs.astype(np.float32)),
             "where": (zyx.where(x, y, x), np.where(xs, ys, xs))}
    _check(cases)


# --------------------------------------------------------------------------- complex
@pytest.mark.parametrize("d", [zyx.complex64, zyx.complex128], ids=lambda d: d.name)
def test_complex_ops_match_numpy(d):
    _needs(d)
    rng = np.random.default_rng(RNG_SEED)
    zs = (rng.normal(0, 1.5, 48) + 1j * rng.normal(0, 1.5, 48)).astype(d.np)
    ws = (rng.normal(0, 1.5, 48) + 1j * rng.normal(0, 1.5, 48)).astype(d.np)
    z128, w128 = zs.astype(np.complex128), ws.astype(np.complex128)
    z, w = zyx.Tensor(zs, device=DEV), zyx.Tensor(ws, device=DEV)
    r = np.zeros(0, d.np).real.dtype
    cases = {
        "add": (z + w, z128 + w128), "sub": (z - w, z128 - w128), "mul": (z * w, z128 * w128),
        "div": (z / w, z128 / w128), "neg": (-z, -z128), "recip": (z.reciprocal(), 1 / z128),
        "exp": (z.exp(), np.exp(z128)), "expm1": (z.expm1(), np.expm1(z128)), "log": (z.log(), np.log(z128)),
        "log1p": (z.log1p(), np.log1p(z128)), "log2": (z.log2(), np.log2(z128)),
        "log10": (z.log10(), np.log10(z128)), "sqrt": (z.sqrt(), np.sqrt(z128)),
        "sin": (z.sin(), np.sin(z128)), "cos": (z.cos(), np.cos(z128)), "tan": (z.tan(), np.tan(z128)),
        "sinh": (z.sinh(), np.sinh(z128)), "cosh": (z.cosh(), np.cosh(z128)), "tanh": (z.tanh(), np.tanh(z128)),
        "asin": (z.asin(), np.arcsin(z128)), "acos": (z.acos(), np.arccos(z128)),
        "atan": (z.atan(), np.arctan(z128)), "asinh": (z.asinh(), np.arcsinh(z128)),
        "acosh": (z.acosh(), np.arccosh(z128)), "atanh": (z.atanh(), np.arctanh(z128)),
        "pow": (z ** w, z128 ** w128), "pow_int": (z ** 3, z128 ** 3),
        "abs": (z.abs(), np.abs(z128).astype(r)), "angle": (z.angle(), np.angle(z128).astype(r)),
        "conj": (z.conj(), np.conj(z128)), "real": (z.real, z128.real.astype(r)), "imag": (z.imag, z128.imag.astype(r)),
        "eq": (z == w, z128 == w128), "isnan": (z.isnan(), np.isnan(z128)),
        "sum": (z.reshape(6, 8).sum(axis=1), z128.reshape(6, 8).sum(axis=1)),
        "prod": (z.reshape(6, 8).prod(axis=0), z128.reshape(6, 8).prod(axis=0)),
        "complex": (zyx._math.complex_(z.real, w.imag), z128.real + 1j * w128.imag),
    }
    cases = {k: (t, np.asarray(v).astype(t.dtype.np) if t.dtype.is_inexact else v) for k, (t, v) in cases.items()}
    _check(cases)


# --------------------------------------------------------------------------- casts, bits
def test_casts_match_numpy():
    dev = _dev()
    dts = [d for d in zyx.dtypes.ALL if d in dev.dtypes]
    vals = np.array([0, 1, 2, 3, 7, 100, 126, 5])
    cases = {}
    for i, src in enumerate(dts):
        a = (vals + (0.5 if src.is_inexact and src.kind == "f" else 0)).astype(src.np)
        t = zyx.Tensor(a, device=DEV)
        for dst in {dts[(i + 1) % len(dts)], dts[(i + 5) % len(dts)], zyx.float32, zyx.bool_}:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = a.astype(dst.np)
            cases[f"{src.name}->{dst.name}"] = (t.cast(dst), want)
    _check(cases)


def test_half_rounding_on_store_and_cast():
    # values that are not representable: the result must be rounded to nearest even
    xs = np.array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519.0, 65520.0, 1e-8, 3.14159265, -2.71828], np.float32)
    x = zyx.Tensor(xs, device=DEV)
    with np.errstate(over="ignore"):
        _check_half(x, xs)


def _check_half(x, xs):
    _check({"f16": (x.cast(zyx.float16), xs.astype(np.float16)),
            "bf16": (x.cast(zyx.bfloat16), xs.astype(ml_dtypes.bfloat16)),
            "f16+": (x.cast(zyx.float16) + 1, (xs.astype(np.float16).astype(np.float32) + 1).astype(np.float16))})


def test_bitcast_matches_numpy_view():
    pairs = [(np.float32, zyx.int32), (np.int32, zyx.float32), (np.float16, zyx.int16), (np.uint16, zyx.float16),
             (ml_dtypes.bfloat16, zyx.uint16), (np.int8, zyx.uint8), (np.float64, zyx.int64)]
    rng = np.random.default_rng(RNG_SEED)
    cases = {}
    for src, dst in pairs:
        if dst not in _dev().dtypes or zyx.dtypes.to_dtype(np.dtype(src)) not in _dev().dtypes:
            continue
        a = (rng.normal(0, 100, 16)).astype(src) if np.dtype(src).kind == "f" else \
            rng.integers(-100 if np.dtype(src).kind == "i" else 0, 100, 16).astype(src)
        cases[f"{np.dtype(src).name}->{dst.name}"] = (zyx.Tensor(a, device=DEV).bitcast(dst), a.view(dst.np))
    _check(cases)


# --------------------------------------------------------------------------- rng, transfers
def test_rand_equals_cpu_bit_for_bit():
    zyx.manual_seed(1)
    a = zyx.rand(1000, device=DEV).numpy()
    zyx.manual_seed(1)
    b = zyx.rand(1000, device="cpu").numpy()
    assert a.dtype == b.dtype and np.array_equal(a.view(np.uint32), b.view(np.uint32))
    zyx.manual_seed(7)
    c = zyx.randint(0, 1 << 30, (5000,), device=DEV).numpy()
    zyx.manual_seed(7)
    e = zyx.randint(0, 1 << 30, (5000,), device="cpu").numpy()
    assert np.array_equal(c, e)
    assert len(np.unique(c)) > 4900  # random bits, not a constant


@pytest.mark.parametrize("d", [zyx.float32, zyx.float16, zyx.bfloat16, zyx.bool_, zyx.int64, zyx.uint8,
                               zyx.complex64, zyx.complex128], ids=lambda d: d.name)
def test_transfers_round_trip(d):
    _needs(d)
    rng = np.random.default_rng(RNG_SEED)
    a = rng.normal(0, 10, (3, 5)).astype(np.float64)
    a = (a + 1j * a[::-1]).astype(d.np) if d.is_complex else a.astype(d.np)
    t = zyx.Tensor(a, device="cpu")
    g = t.to(DEV)
    assert g.device == _dev()
    back = (g * 1 if d is not zyx.bool_ else g).to("cpu")
    assert str(back.device) == "cpu"
    assert back.dtype == d and np.array_equal(back.numpy(), a)
    assert np.array_equal(zyx.Tensor(a, device=DEV).numpy(), a)


def test_empty_and_scalar_tensors():
    e = zyx.Tensor(np.zeros((0, 3), np.float32), device=DEV)
    assert (e + 1).numpy().shape == (0, 3)
    assert float(zyx.Tensor(np.float32(2.5), device=DEV) * 2) == 5.0


def test_movement_and_gather():
    rng = np.random.default_rng(RNG_SEED)
    a = rng.normal(0, 1, (6, 8)).astype(np.float32)
    x = zyx.Tensor(a, device=DEV)
    idx = np.array([5, 0, 3, 3, 1])
    _check({"T": (x.T + 1, a.T + 1), "slice": (x[::2, 1::3] * 2, a[::2, 1::3] * 2), "flip": (x.flip(0), a[::-1]),
            "pad": (x.pad(((1, 2), (0, 1)), 7.0), np.pad(a, ((1, 2), (0, 1)), constant_values=7.0)),
            "cat": (zyx.cat([x, x * 2], axis=1), np.concatenate([a, a * 2], axis=1)),
            "take": (x.take(zyx.Tensor(idx, device=DEV), axis=0), a[idx]),
            "matmul": (x @ x.T, a @ a.T)})


# --------------------------------------------------------------------------- reductions
def _work_items_of(fn, n: int, monkeypatch) -> list[int]:
    """Global work sizes of the launches running ``fn`` whose kernel reads an n-element
    buffer (``fn`` realizes one tensor)."""
    sizes = []
    real = ocl.cl.enqueue_nd_range_kernel
    reading = []

    def record(queue, kernel, glob, local, *a, **k):
        if any(b is not None and getattr(b, "size", 0) == 4 * n for b in reading):
            sizes.append(glob[0])
        return real(queue, kernel, glob, local, *a, **k)

    real_launch = ocl.OpenCLBackend.launch

    def launch(self, prog, buffers, scalars, args=()):
        reading[:] = buffers[1:]
        return real_launch(self, prog, buffers, scalars, args)
    monkeypatch.setattr(ocl.cl, "enqueue_nd_range_kernel", record)
    monkeypatch.setattr(ocl.OpenCLBackend, "launch", launch)
    fn()
    monkeypatch.undo()
    return sizes


@pytest.mark.parametrize("mode", ["never", "always"])
def test_full_sum_of_4m_elements_is_parallel(mode, monkeypatch):
    """Generic kernels (the graph's two-stage split) and specialised ones (the renderer's
    work-group split) both spread a 4M-element sum over hundreds of work-items."""
    rng = np.random.default_rng(RNG_SEED)
    a = rng.random(2 ** 22, dtype=np.float32)
    with zyx.realize.specialization(mode):
        s = zyx.Tensor(a, device=DEV).sum()
        items = _work_items_of(lambda: zyx.realize(s), 2 ** 22, monkeypatch)
        assert math.isclose(float(s), float(a.astype(np.float64).sum()), rel_tol=1e-5)
        assert items and min(items) >= 256, f"the full sum ran on {items} work-item(s)"
        ints = rng.integers(-1000, 1000, 2 ** 22).astype(np.int32)
        assert int(zyx.Tensor(ints, device=DEV).sum()) == int(ints.astype(np.int64).sum())


def test_renderer_splits_a_long_reduction_across_work_groups():
    """Without the scheduler's two-stage split, the renderer itself spreads one long
    reduction over work-groups (a partial kernel and a combining kernel)."""
    from zyx.kernels.ir import Acc, AccUpdate, Assign, Kernel, Loop, Param, Store
    from zyx.kernels import symbolic as sym
    n = 1 << 20
    r = sym.var("r1", 0, n - 1)
    body = [Acc("acc", zyx.float32, "SUM"),
            Loop(r, n, [Assign("v", zyx.float32, "LOAD", (), (1, r, ())), AccUpdate("acc", "SUM", "v", zyx.float32)]),
            Store(0, sym.num(0), "acc", zyx.float32)]
    k = Kernel("long_sum", [Param("out0", zyx.float32, 1, True), Param("in1", zyx.float32, n, False)], [], body)
    be = _dev().backend
    prog = be.compile(k, be.render(k))
    assert [st.grouped for st in prog.plan.stages] == [True, False] and prog.plan.stages[0].work > 1
    a = np.random.default_rng(RNG_SEED).random(n, dtype=np.float32)
    out, inp = be.alloc(1, zyx.float32), be.alloc(n, zyx.float32)
    be.copy_in(inp, a)
    be.launch(prog, [out, inp], [])
    got = be.copy_out(out, 1, zyx.float32)[0]
    assert math.isclose(float(got), float(a.astype(np.float64).sum()), rel_tol=1e-5)


def test_reductions_with_few_outputs():
    rng = np.random.default_rng(RNG_SEED)
    a = rng.normal(0, 1, (4, 1 << 16)).astype(np.float32)
    a[2, 12345] = np.nan
    x = zyx.Tensor(a, device=DEV)
    b = rng.integers(0, 3, 1 << 15).astype(np.uint8)
    c = (rng.normal(0, 1, 4096) + 1j * rng.normal(0, 1, 4096)).astype(np.complex64)
    _check({"sum1": (x.sum(axis=1), a.astype(np.float64).sum(axis=1)),
            "max1": (x.max(axis=1), a.max(axis=1)), "min1": (x.min(axis=1), a.min(axis=1)),
            "mean_all": (x[:2].mean(), a[:2].astype(np.float64).mean()),
            "sum_t": (x.T.sum(axis=0), a.astype(np.float64).sum(axis=1)),
            "u8": (zyx.Tensor(b, device=DEV).sum(), b.sum(dtype=np.uint64)),
            "bool_any": ((zyx.Tensor(b, device=DEV) == 3).any(), np.any(b == 3)),
            "c64": (zyx.Tensor(c, device=DEV).sum(), c.astype(np.complex128).sum().astype(np.complex64)),
            "max_all": (zyx.Tensor(np.abs(a[0]), device=DEV).max(), np.abs(a[0]).max())})


# --------------------------------------------------------------------------- programs
def test_compile_error_carries_source_and_log():
    from zyx.kernels.ir import Kernel
    be = _dev().backend
    bad = "__kernel void broken(__global float* out0) { out0[0] = undefined_name_xyz; }"
    with pytest.raises(ocl.CompileError) as ei:
        be.compile(Kernel("broken", [], [], []), bad)
    assert ei.value.source == bad
    assert "undefined_name_xyz" in ei.value.log
    assert "undefined_name_xyz" in str(ei.value)


def test_programs_are_reused_in_process():
    be = _dev().backend
    x = zyx.Tensor(np.arange(10, dtype=np.float32), device=DEV)
    (x * 3.0625 + 1).numpy()
    n = be.compiles
    clear_cache()  # the schedule cache too: only the program cache is left
    assert np.array_equal((x * 3.0625 + 1).numpy(), np.arange(10, dtype=np.float32) * 3.0625 + 1)
    assert be.compiles == n


_CHILD = textwrap.dedent("""
    import numpy as np, zyx
    dev = zyx.default_device()
    x = zyx.Tensor(np.arange(6, dtype=np.float32))
    y = (x * 1.8125 - 2).sum()
    print(dev.type, x.device.type, float(y), dev.backend.compiles)
""")


def test_second_process_compiles_nothing(tmp_path):
    env = dict(os.environ, ZYX_CACHE_DIR=str(tmp_path), ZYX_DEVICE="opencl")
    env.pop("ZYX_DISABLE_DISK_CACHE", None)
    runs = [subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    first, second = (r.stdout.split() for r in runs)
    assert first[:2] == ["opencl", "opencl"] and second[:2] == ["opencl", "opencl"]
    want = float((np.arange(6, dtype=np.float32) * 1.8125 - 2).sum())
    assert float(first[2]) == want and float(second[2]) == want
    assert int(first[3]) > 0
    assert int(second[3]) == 0
    assert list((tmp_path / "opencl").glob("*.bin"))


@pytest.mark.parametrize("how", ["bytes", "bytes_and_digest"])
def test_corrupt_cache_entry_is_rebuilt(tmp_path, monkeypatch, how):
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ZYX_DISABLE_DISK_CACHE", raising=False)
    be = _dev().backend
    be._mem.clear()  # built now, into this empty cache dir
    clear_cache()
    c = {"bytes": 5.4375, "bytes_and_digest": 6.8125}[how]
    x = zyx.Tensor(np.arange(8, dtype=np.float32), device=DEV)
    want = np.arange(8, dtype=np.float32) * c + 0.5
    assert np.array_equal((x * c + 0.5).numpy(), want)
    bins = list((tmp_path / "opencl").glob("*.bin"))
    assert bins
    for b in bins:
        junk = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
        b.write_bytes(junk)
        if how == "bytes_and_digest":  # a matching digest: the driver itself must refuse it
            import hashlib
            b.with_name(b.name + ".sha256").write_text(hashlib.sha256(junk).hexdigest())
    if how == "bytes":
        assert all(cache.read("opencl", b.stem, ".bin") is None for b in bins)
    be._mem.clear()
    clear_cache()
    n = be.compiles
    assert np.array_equal((x * c + 0.5).numpy(), want)
    assert be.compiles == n + 1
    for b in bins:  # rewritten with a good binary
        assert cache.read("opencl", b.stem, ".bin") is not None


def test_pocl_binary_without_bitcode_is_not_trusted(tmp_path, monkeypatch):
    """PoCL aborts the process when asked to load a binary that lacks its program
    bitcode; the backend must refuse such a binary (and rebuild) instead."""
    be = _dev().backend
    if "Portable Computing Language" not in be.platform.name:
        pytest.skip("PoCL-specific guard")
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    be._mem.clear()  # built now, into this empty cache dir
    clear_cache()
    x = zyx.Tensor(np.arange(4, dtype=np.float32), device=DEV)
    (x * 9.0625).numpy()
    good = next((tmp_path / "opencl").glob("*.bin"))
    data = good.read_bytes()
    assert be._binary_ok(data)
    assert not be._binary_ok(data.replace(b"program.bc", b"program.xx"))
    assert not be._binary_ok(b"junk" * 100)
