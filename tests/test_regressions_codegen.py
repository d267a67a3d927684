"""Regression tests for code generation and numerics defects (issue 11).

Each test reproduces one reported defect on every device it applies to, compared with
NumPy. Kept cheap: few distinct kernels per test.
"""
from __future__ import annotations

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx import dtypes as dt

RNG = np.random.default_rng(11)


def A(a, device, dtype=None):
    return xp.asarray(np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype), device=device)


def f64_or_skip(device):
    if not zyx.get_device(device).supports(dt.float64):
        pytest.skip(f"{device} has no float64")


# ----------------------------------------------------------------- 1. tiled contractions
# A gathered operand's index is the name of a CLAMP statement inside an index expression
# (``in[ix9*192 + r2]``); the tiler followed only ``srcs`` and left the CLAMP undeclared
# (CompileError) or computed it after its use.
def test_take_then_matmul_with_its_transpose(device):
    t = xp.take(A(np.ones((5, 16, 12), np.float32), device), A([3, 2, 0], device), axis=0)
    np.testing.assert_array_equal(xp.matmul(t, xp.matrix_transpose(t)).numpy(), np.full((3, 16, 16), 12.0))


def test_sum_of_take_along_axis_of_concat(device):
    b = RNG.standard_normal((4, 1, 5)).astype(np.float32)
    i = np.zeros((4, 2, 5), np.int64)
    got = xp.sum(xp.take_along_axis(xp.concat([A(b, device), A(b, device)], axis=1), A(i, device), axis=2),
                 axis=(0, 1))
    want = np.sum(np.take_along_axis(np.concatenate([b, b], axis=1), i, axis=2), axis=(0, 1))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_pca_style_sign_flip_gathered_before_the_reduction(device):
    """scikit-learn's PCA transform: X @ (W * sign(u.flat[idx + 12*j])), the gathered signs
    hoisted before the reduction loop (the kernel r_300_1_4 of the report)."""
    f64_or_skip(device)
    x = RNG.standard_normal((300, 12))
    w = RNG.standard_normal((12, 4))
    u = RNG.standard_normal((12, 12))
    idx = RNG.integers(0, 12, 4)
    flat = xp.reshape(A(u, device), (-1,))
    signs = xp.sign(xp.take(flat, A(idx, device) + xp.arange(4, device=device) * 12))
    got = A(x, device) @ (A(w, device) * signs[None, :])
    want = x @ (w * np.sign(u.reshape(-1)[idx + np.arange(4) * 12])[None, :])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["gather_rows_a", "gather_cols_b", "gather_k_both", "flip_gather_bt"])
def test_gathered_and_flipped_operands_in_a_tiled_matmul(device, case):
    a = RNG.standard_normal((33, 40)).astype(np.float32)
    b = RNG.standard_normal((40, 20)).astype(np.float32)
    ia, ib, ik = RNG.integers(0, 33, 33), RNG.integers(0, 20, 20), RNG.integers(0, 40, 40)
    X, W = A(a, device), A(b, device)
    if case == "gather_rows_a":
        got, want = xp.take(X, A(ia, device), axis=0) @ W, a[ia] @ b
    elif case == "gather_cols_b":
        got, want = X @ xp.maximum(xp.take(W, A(ib, device), axis=1), 0.0), a @ np.maximum(b[:, ib], 0)
    elif case == "gather_k_both":
        got = xp.take(X, A(ik, device), axis=1) @ xp.take(W, A(ik, device), axis=0)
        want = a[:, ik] @ b[ik]
    else:
        bt = A(np.ascontiguousarray(b.T), device)
        got = xp.flip(xp.take(X, A(ia, device), axis=0), axis=1) @ xp.matrix_transpose(xp.flip(bt, axis=0))
        want = np.flip(a[ia], 1) @ np.flip(b.T, 0).T
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_gathered_matmul_compiles_for_cuda():
    """The CUDA renderer's tiled matmul reuses the tiler's statement classes: a gathered
    A or B side must stage its CLAMP too (NVRTC + ptxas, no GPU needed)."""
    cuda = pytest.importorskip("zyx.backends.cuda")
    try:
        cuda.nvrtc_version()
    except Exception:
        pytest.skip("NVRTC is not installed")
    from zyx.kernels import schedule as sched
    from zyx.kernels.lower import lower_kernel
    from zyx.kernels.render_cuda import matmul_plan
    a = RNG.standard_normal((5, 32, 48)).astype(np.float32)
    t = xp.take(A(a, "cpu"), A([3, 2, 0], "cpu"), axis=0)
    r = xp.matmul(t, xp.matrix_transpose(t))
    order, _, pos = sched.walk([r._node])
    spec = sched.plan(order, pos, [r._node])[-1]
    k = lower_kernel(order[spec.out], [order[j] for j in spec.inputs], "k_gathered_mm",
                     [order[j] for j in spec.rand])
    assert matmul_plan(k, 90) is not None, "expected the tiled matmul path"
    ptx, _ = cuda.compile_only(k, 90)
    assert ".entry k_gathered_mm" in ptx


# ----------------------------------------------------------------- 2. bit-identical math
# A value recomputed in two places (a max reduction and the compare against it) must give
# the same bits: on the cpu device vector loops called glibc's libmvec, scalar code libm
# (float32 now runs one libmvec variant everywhere, float64 scalar libm: see render_c._MVEC).
_MATH = {  # Tensor method -> (low, high) of its test inputs
    "exp": (-5.0, 5.0), "log": (0.1, 9.0), "sin": (-6.0, 6.0), "cos": (-6.0, 6.0), "tanh": (-3.0, 3.0),
    "erf": (-2.0, 2.0), "expm1": (-2.0, 2.0), "log1p": (-0.5, 4.0), "pow": (0.1, 3.0),
}


@pytest.mark.parametrize("dtype", [dt.float32, dt.float64], ids=lambda d: d.name)
def test_recomputed_math_functions_are_bit_identical(device, dtype):
    if not zyx.get_device(device).supports(dtype):
        pytest.skip(f"{device} has no {dtype.name}")
    # every function on cpu (where the defect was); two elsewhere, where each new kernel
    # costs a slow compile
    names = list(_MATH) if device == "cpu" else ["exp", "tanh"]
    checks = []
    for shape in ((4000, 2), (67, 19)) if device == "cpu" else ((4000, 2),):
        for name in names:
            lo, hi = _MATH[name]
            a = RNG.uniform(lo, hi, shape).astype(dtype.np)
            x = xp.asarray(a, device=device)
            c = x ** x if name == "pow" else getattr(x, name)()
            # the row max is a kernel of its own; the compare recomputes c beside it
            checks.append((name, shape, xp.all(xp.any(c == xp.max(c, axis=1, keepdims=True), axis=1))))
            # c stored by one kernel, recomputed inside a reduction by another
            stored = (x ** x if name == "pow" else getattr(x, name)()).realize()
            checks.append((name, shape, xp.all(stored == c)))
    zyx.realize(*[t for _, _, t in checks])
    bad = [(n, s) for n, s, t in checks if not bool(t)]
    assert not bad, f"values recomputed with different bits: {bad}"


# ----------------------------------------------------------------- 3. precision
def _ulps(got, want, dtype):
    got, want = np.asarray(got, dtype), np.asarray(want, dtype)
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / np.spacing(np.abs(want).astype(dtype))


def test_float64_exp_log_sin_cos_are_within_an_ulp():
    """float64 is chosen for accuracy: the cpu device's exp, log, sin and cos are glibc's
    scalar ones (within an ulp, as NumPy's), not libmvec's double variants (up to 3 ulp off;
    cos(1e-9) gave 1 - 2**-53, and SciPy checks cos(x) == 1 for tiny x)."""
    rng = np.random.default_rng(3)
    for name, lo, hi in (("exp", -40.0, 40.0), ("log", 1e-3, 1e3), ("sin", -10.0, 10.0), ("cos", -10.0, 10.0)):
        a = rng.uniform(lo, hi, 20000)
        want = getattr(np, name)(a.astype(np.longdouble))
        got = getattr(xp, name)(xp.asarray(a, device="cpu")).numpy()
        ulps = np.abs((got - want.astype(np.float64)) / np.spacing(np.abs(want.astype(np.float64))))
        assert ulps.max() <= 1.0 and (ulps > 0.5).mean() < 0.01, (name, ulps.max(), (ulps > 0.5).mean())
    tiny = np.linspace(1e-9, 6e-9, 50)
    assert (xp.cos(xp.asarray(tiny, device="cpu")).numpy() == 1.0).all()
    assert (xp.sin(xp.asarray(tiny, device="cpu")).numpy() == tiny).all()


def test_float32_exp_of_masked_lanes_is_zero_beside_unchanged_lanes():
    """libmvec's float32 exp takes a slow path (scalar expf for the vector's special lanes)
    whenever a lane is below ~-87.3 - -inf in a masked softmax, logsumexp's ``x - max`` - and
    the cpu device's exp sends lanes <= -104 (where expf is +0 exactly) through the fast path
    as zeros instead (render_c._GUARDED). Their results must be +0, every other lane must
    keep the bits it has without them, and the edge must stay where expf's is (just above
    -104: a subnormal from libmvec's own slow path)."""
    rng = np.random.default_rng(5)
    base = rng.uniform(-20, 20, (257, 37)).astype(np.float32)  # odd sizes: vector bodies and tails
    masked = base.copy()
    mask = rng.random(base.shape) < 0.3
    fills = np.array([-np.inf, -104.0, -104.5, -1e30, -np.finfo(np.float32).max], np.float32)
    masked[mask] = fills[rng.integers(0, len(fills), int(mask.sum()))]
    masked[0, :] = -np.inf  # whole vectors of them too
    mask[0, :] = True
    plain = xp.exp(A(base, "cpu")).numpy()
    got = xp.exp(A(masked, "cpu")).numpy()
    assert (got[mask] == 0).all() and not np.signbit(got[mask]).any()
    np.testing.assert_array_equal(got[~mask], plain[~mask])
    # one vector each (the scalar variant broadcasts a value to a whole vector too)
    edge = np.array([-103.0, -103.9, -103.97, -103.98, -104.0, -104.1, -87.0, -87.5, 88.0, 89.0, np.inf, np.nan],
                    np.float32)
    got = xp.exp(A(np.repeat(edge, 16), "cpu")).numpy()[::16]
    with np.errstate(over="ignore", invalid="ignore"):
        want = np.exp(edge.astype(np.float64)).astype(np.float32)  # (correctly rounded; expf within an ulp)
        close = (got == want) | (np.abs(got.astype(np.float64) - want) <= np.spacing(np.abs(want)))
    assert (close | (np.isnan(got) & np.isnan(want))).all(), list(zip(edge, got, want))
    assert got[2] > 0 and got[3] == 0 and got[4] == 0  # e^-103.97 is the smallest subnormal; e^-103.98 rounds to 0



def test_float32_log_of_zero_and_negative_lanes_beside_unchanged_lanes():
    """libmvec's float32 log takes its slow path for a vector with a lane <= 0 (log of a zero
    probability); the cpu device's log sends such lanes through as ones and writes -inf (for
    +-0) or NaN into their results (render_c._GUARDED). The other lanes keep their bits."""
    rng = np.random.default_rng(6)
    base = rng.uniform(1e-3, 50, (257, 37)).astype(np.float32)
    masked = base.copy()
    mask = rng.random(base.shape) < 0.3
    fills = np.array([0.0, -0.0, -1.0, -np.inf, -1e-30, -np.finfo(np.float32).max], np.float32)
    masked[mask] = fills[rng.integers(0, len(fills), int(mask.sum()))]
    plain = xp.log(A(base, "cpu")).numpy()
    got = xp.log(A(masked, "cpu")).numpy()
    zero = mask & (masked == 0)
    assert (got[zero] == -np.inf).all() and np.isnan(got[mask & ~zero]).all()
    np.testing.assert_array_equal(got[~mask], plain[~mask])
    edge = np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, 1.0, 1e-38, 1e-45, 3.4e38], np.float32)
    got = xp.log(A(np.repeat(edge, 16), "cpu")).numpy()[::16]
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.log(edge.astype(np.float64)).astype(np.float32)
        close = (got == want) | (np.abs(got.astype(np.float64) - want) <= np.spacing(np.abs(want)))
    assert (close | (np.isnan(got) & np.isnan(want))).all(), list(zip(edge, got, want))


def test_only_specialised_kernels_with_math_calls_ask_for_wide_vectors():
    """A kernel version specialised for big work that calls a math function is built for
    512-bit vectors where the backend found it worth it (``ZYX_WIDE_FN``: each libmvec call
    computes 16 floats, an 8-lane loop used half); generic kernels (small work: a launch of
    512-bit code cost ~1-3 us more) and plain arithmetic keep the compiler's width."""
    import contextlib
    import io
    import sys
    a = A(RNG.standard_normal((64, 33)).astype(np.float32), "cpu")

    def source(mode, fn):
        zyx.realize.clear_cache()
        buf, old, err = io.StringIO(), zyx.debug.level, sys.stderr
        sys.stderr = buf
        zyx.debug.set_level(16)
        try:
            with zyx.realize.specialization(mode):
                got = fn().numpy()
        finally:
            zyx.debug.set_level(old)
            sys.stderr = err
        return buf.getvalue(), got
    src, got = source("always", lambda: xp.exp(a) * 2)
    assert "ZYX_WIDE_FN void" in src
    np.testing.assert_allclose(got, np.exp(a.numpy()) * 2, rtol=1e-6)  # (libmvec: within 2 ulp)
    for mode, fn in (("never", lambda: xp.exp(a) * 2), ("always", lambda: a * 2 + 1)):
        src, _ = source(mode, fn)
        assert "void " in src and "ZYX_WIDE_FN void" not in src, mode

def test_logaddexp_keeps_the_small_term(device):
    got = xp.logaddexp(A(np.float32(0), device), A(np.float32(-40), device)).numpy()
    assert got.dtype == np.float32 and got > 0
    assert _ulps(got, np.float32(4.248354e-18), np.float32) <= 1  # libmvec's expf may be 1 ulp off
    if zyx.get_device(device).supports(dt.float64):
        got = xp.logaddexp(A(0.0, device, np.float64), A(-244.0, device, np.float64)).numpy()
        np.testing.assert_allclose(got, np.logaddexp(0.0, -244.0), rtol=1e-15)
        assert got > 0


def test_logaddexp_special_values_match_numpy(device):
    v = np.array([0.0, 1.0, -40.0, 3.5, -np.inf, np.inf, np.nan], np.float32)
    a, b = np.meshgrid(v, v)
    got = xp.logaddexp(A(a, device), A(b, device)).numpy()
    with np.errstate(all="ignore"):
        want = np.logaddexp(a, b)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)  # nan == nan, inf == inf


def test_logsumexp_keeps_the_small_terms(device):
    x = zyx.Tensor(np.array([[0.0, -40.0, -41.0], [2.0, 2.0, -50.0], [-np.inf, -np.inf, -np.inf],
                             [np.inf, 1.0, 0.0], [np.nan, 0.0, 1.0]], np.float32), device=device)
    got = x.logsumexp(axis=1).numpy()
    want = np.array([np.log1p(np.exp(-40.0) + np.exp(-41.0)), 2 + np.log(2.0), -np.inf, np.inf, np.nan], np.float32)
    np.testing.assert_allclose(got, want, rtol=3e-7)


def test_complex_reciprocal_as_numpy(device):
    v = np.array([0 - 1j, 0 + 1j, 1 + 0j, -1 + 0j, 3 + 4j, complex(-0.0, 2), 1e-30 + 1e30j, 0j,
                  complex(np.inf, 1), complex(np.nan, 0)], np.complex128)
    for d in (np.complex64, np.complex128):
        if not zyx.get_device(device).supports(dt.from_numpy(np.dtype(d))):
            continue
        got = xp.reciprocal(A(v.astype(d), device)).numpy()
        with np.errstate(all="ignore"):
            want = np.reciprocal(v.astype(d))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
        finite = np.isfinite(want)
        np.testing.assert_array_equal(np.signbit(got.real[finite]), np.signbit(want.real[finite]))
        np.testing.assert_array_equal(np.signbit(got.imag[finite]), np.signbit(want.imag[finite]))


def test_complex_power_of_zero_as_numpy(device):
    exps = np.array([1 + 1j, 1 - 5j, 0.5 + 0j, 2 + 0j, complex(1, np.nan), -1 + 1j, 1j, -2 + 0j, 0j])
    for d in (np.complex64, np.complex128):
        if not zyx.get_device(device).supports(dt.from_numpy(np.dtype(d))):
            continue
        got = xp.pow(A(np.zeros(len(exps), d), device), A(exps.astype(d), device)).numpy()
        with np.errstate(all="ignore"):
            want = np.power(np.zeros(len(exps), d), exps.astype(d))
        np.testing.assert_array_equal(got, want)
    got = xp.pow(A(0.0, device), 1 + 1j).numpy()
    assert got == 0 and not np.isnan(got)


def test_complex_expm1_and_log1p_without_cancellation(device):
    if not zyx.get_device(device).supports(dt.complex128):
        pytest.skip(f"{device} has no complex128")
    z = np.array([1e-10 + 1e-10j, 1e-10 + 0j, -3e-9 + 2e-9j, -0.3 + 0.2j, 2 + 1j], np.complex128)
    x, y = z.real, z.imag
    want_expm1 = np.expm1(z)  # NumPy's is accurate: expm1(x) cos(y) - 2 sin(y/2)^2 + i exp(x) sin(y)
    want_log1p = 0.5 * np.log1p(x * (2 + x) + y * y) + 1j * np.arctan2(y, 1 + x)  # NumPy's log1p cancels
    np.testing.assert_allclose(xp.expm1(A(z, device)).numpy(), want_expm1, rtol=1e-14)
    np.testing.assert_allclose(xp.log1p(A(z, device)).numpy(), want_log1p, rtol=1e-14)


# ----------------------------------------------------------------- 4. promotion
_INT_DTYPES = [dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8, dt.uint16, dt.uint32, dt.uint64]


def test_integer_true_division_gives_the_default_float(monkeypatch):
    for a, b in [(dt.int8, dt.int8), (dt.int16, dt.int16), (dt.uint8, dt.int64), (dt.int32, dt.uint16),
                 (dt.bool_, dt.bool_), (dt.uint64, dt.int64)]:
        x = zyx.Tensor(np.array([100, 7], a.np))
        y = zyx.Tensor(np.array([3, 2], b.np))
        assert (x / y).dtype is dt.float32, (a, b)
        assert (x / 3).dtype is dt.float32
    got = (zyx.Tensor(np.array([100], np.int8)) / zyx.Tensor(np.array([3], np.int8))).numpy()
    assert got[0] == np.float32(100 / 3)  # not float16's 33.34
    # the float64 default (another switch sets it): read at call time
    monkeypatch.setattr(dt, "default_float", dt.float64)
    assert (zyx.Tensor(np.array([1], np.int16)) / zyx.Tensor(np.array([3], np.int16))).dtype is dt.float64
    assert xp.divide(xp.asarray(np.array([1], np.uint8)), xp.asarray(np.array([3], np.uint8))).dtype is dt.float64
    # integer with floating operands: the table
    assert (zyx.Tensor(np.array([1], np.int16)) / zyx.Tensor(np.array([3], np.float16))).dtype is dt.float32


def test_result_type_of_several_dtypes_is_numpys():
    import itertools
    names = [d.name for d in dt.ALL if d is not dt.bfloat16]
    bad = [c for k in (2, 3) for c in itertools.product(names, repeat=k)
           if dt.result_type(*[dt.to_dtype(n) for n in c]).name != np.result_type(*c).name]
    assert not bad, f"{len(bad)} combinations differ from NumPy, e.g. {bad[:5]}"
    assert xp.result_type(xp.int16, xp.uint16, xp.float32) is dt.float32


def test_concat_and_stack_promote_as_numpy(device):
    parts = [np.array([1, -2], np.int16), np.array([3, 60000], np.uint16), np.array([0.5, 1.5], np.float32)]
    xs = [A(p, device) for p in parts]
    got = xp.concat(xs)
    assert got.dtype is dt.float32
    np.testing.assert_array_equal(got.numpy(), np.concatenate(parts))
    assert xp.stack(xs).dtype is dt.float32


def test_matmul_accumulates_in_the_promoted_dtype(device):
    f64_or_skip(device)
    a = np.ones((2, 3), np.float32)
    b = np.array([[16777217, 1], [1, 1], [1, 1]], np.uint32)  # 2**24 + 1: a float32 sum loses the ones
    got = A(a, device) @ A(b, device)
    assert got.dtype is dt.float64
    np.testing.assert_array_equal(got.numpy(), a @ b)
    assert got.numpy()[0, 0] == 16777219.0


# ----------------------------------------------------------------- 5. wgpu integers and folding
def test_integer_conversions_widen_as_numpy(device):
    cases = [(np.array([-26, 7, -32768], np.int16), np.uint64), (np.array([4294967288, 5], np.uint32), np.int64),
             (np.array([-5, 2147483647, -2147483648], np.int32), np.uint64),
             (np.array([4294967295, 0], np.uint32), np.int64), (np.array([-1, 300], np.int64), np.uint32),
             (np.array([2 ** 63 + 5, 7], np.uint64), np.int32), (np.array([-3, 255], np.int64), np.uint8)]
    if not zyx.get_device(device).supports(dt.int64):
        pytest.skip(f"{device} has no 64-bit integers")
    outs = [xp.astype(A(a, device), dt.from_numpy(np.dtype(t))) for a, t in cases]
    zyx.realize(*outs)
    for (a, t), o in zip(cases, outs):
        np.testing.assert_array_equal(o.numpy(), a.astype(t), err_msg=f"{a.dtype} -> {np.dtype(t)}")


def test_mixed_integer_arithmetic_and_shifts_by_unsigned_counts(device):
    if not zyx.get_device(device).supports(dt.int64):
        pytest.skip(f"{device} has no 64-bit integers")
    u = np.array([4294967288, 3], np.uint32)
    i = np.array([0, -7], np.int64)
    np.testing.assert_array_equal((A(u, device) + A(i, device)).numpy(), u + i)
    a, c = np.array([1, 5, -16], np.int64), np.array([1, 2, 3], np.uint8)
    np.testing.assert_array_equal((A(a, device) << A(c, device)).numpy(), a << c)
    np.testing.assert_array_equal((A(a, device) >> A(c, device)).numpy(), a >> c)
    c32 = np.array([1, 2, 3], np.uint32)
    np.testing.assert_array_equal((A(a, device) << A(c32, device)).numpy(), a << c32)


def test_no_algebraic_folding_that_changes_ieee_results(device):
    """y - y, y * 0, (y + y) - y, y + 0 and 0 - y on inf, nan, -0 and huge values: NumPy's
    answers (wgpu's driver folded them with fast-math rules)."""
    v = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 3.0, -2.0, 3e38], np.float32)
    y = A(v, device)
    got = [y - y, y * 0, 0 * y, y * -0.0, y + 0.0, 0.0 - y, y + (-y), (y + y) - y, y * 0.0 + 1, -(y - y)]
    zyx.realize(*got)
    with np.errstate(all="ignore"):
        want = [v - v, v * np.float32(0), np.float32(0) * v, v * np.float32(-0.0), v + np.float32(0),
                np.float32(0) - v, v + (-v), (v + v) - v, v * np.float32(0) + 1, -(v - v)]
    for k, (g, w) in enumerate(zip(got, want)):
        g = g.numpy()
        np.testing.assert_array_equal(g, w, err_msg=f"case {k}")
        fin = ~np.isnan(w)
        np.testing.assert_array_equal(np.signbit(g[fin]), np.signbit(w[fin]), err_msg=f"case {k}: sign of zero")


# ----------------------------------------------------------------- 6. special constants
def test_nan_and_inf_constants_through_math_functions(device):
    """A NaN or infinity *constant* (xp.full) fed to floor, exp, tanh...: PoCL folded those
    at compile time to garbage ([1e-45, 0, 0, 0])."""
    fns = ["floor", "ceil", "trunc", "round", "exp", "expm1", "sinh", "tanh", "sqrt", "log"]
    outs = []
    for d in (dt.float32, dt.float64):
        if not zyx.get_device(device).supports(d):
            continue
        for v in (np.nan, np.inf, -np.inf):
            for f in fns:
                outs.append((f, d, v, getattr(xp, f)(xp.full((4,), v, dtype=d, device=device))))
    zyx.realize(*[o for *_, o in outs])
    with np.errstate(all="ignore"):
        for f, d, v, o in outs:
            want = {"round": np.rint}.get(f, getattr(np, f, None))(np.full(4, v, d.np))
            np.testing.assert_array_equal(o.numpy(), want, err_msg=f"{f}({v}) {d.name}")


# ----------------------------------------------------------------- 7. found by the fuzzer
def test_float_functions_of_two_integers_promote_as_numpy():
    """hypot/atan2/copysign/nextafter of integers: each integer takes NumPy's float type
    first (hypot(uint16, int16) is float32; the float of their promoted int32 was float64)."""
    import itertools
    names = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
             "float64"]
    bad = []
    for a, b in itertools.product(names, repeat=2):
        x, y = np.ones(1, a), np.ones(1, b)
        for f in ("hypot", "atan2", "copysign", "nextafter", "logaddexp"):
            want = getattr(np, f)(x, y).dtype.name
            got = getattr(xp, f)(xp.asarray(x), xp.asarray(y)).dtype.name
            if want != got:
                bad.append((f, a, b, want, got))
    assert not bad, bad[:5]


def test_complex_multiply_and_divide_special_values_as_numpy(device):
    """NumPy's schoolbook product and Smith's quotient (C's operators recover infinities by
    C99 Annex G: inf where NumPy gives nan)."""
    if not zyx.get_device(device).supports(dt.complex128):
        pytest.skip(f"{device} has no complex128")
    v = np.array([complex(np.inf, 0), complex(np.inf, np.nan), 1 + 2j, complex(0, np.inf), complex(np.nan, 1),
                  3 - 4j, 1e-300 + 1e300j, 0j, complex(-0.0, 2)], np.complex128)
    a, b = np.meshgrid(v, v)
    with np.errstate(all="ignore"):
        for f in ("multiply", "divide"):
            want = getattr(np, f)(a, b)
            got = getattr(xp, f)(A(a, device), A(b, device)).numpy()
            np.testing.assert_array_equal(np.isnan(got.real), np.isnan(want.real), err_msg=f)
            np.testing.assert_array_equal(np.isnan(got.imag), np.isnan(want.imag), err_msg=f)
            fin = np.isfinite(want)
            np.testing.assert_allclose(got[fin], want[fin], rtol=1e-15, err_msg=f)
            np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)], err_msg=f)


def test_complex_sign_of_infinite_and_nan_values(device):
    zs = np.array([complex(np.inf, 0.5), complex(-np.inf, 2), complex(3, np.inf), complex(3, -np.inf),
                   complex(np.inf, np.inf), complex(np.nan, 1), complex(np.inf, np.nan), 3 + 4j, 0j], np.complex128)
    d = dt.complex128 if zyx.get_device(device).supports(dt.complex128) else dt.complex64
    got = xp.sign(A(zs.astype(d.np), device)).numpy()
    want = np.array([1, -1, 1j, -1j, np.nan, np.nan, np.nan, 0.6 + 0.8j, 0], np.complex128)  # NaN in: NaN out
    np.testing.assert_allclose(got, want.astype(d.np), rtol=1e-6)


def test_mean_of_an_empty_complex_axis_is_nan_nan(device):
    x = zyx.Tensor(np.zeros((0, 3), np.complex64), device=device)
    got = x.mean(axis=0).numpy()
    assert np.isnan(got.real).all() and np.isnan(got.imag).all()


def test_argmax_along_a_full_axis_of_an_array_with_an_empty_one(device):
    a = np.zeros((4, 0, 3), np.float32)
    got = xp.argmax(A(a, device), axis=2)
    assert got.shape == (4, 0)
    with pytest.raises(ValueError):
        xp.argmax(A(a, device))


def test_tril_and_triu_of_one_row(device):
    """wgpu: an int64 index value (i64(g)) compared in a kernel miscompiled on lavapipe."""
    for d in (np.bool_, np.float32, np.int32):
        a = np.ones((1, 4), d)
        np.testing.assert_array_equal(xp.tril(A(a, device), k=1).numpy(), np.tril(a, k=1))
        np.testing.assert_array_equal(xp.triu(A(a, device), k=-1).numpy(), np.triu(a, k=-1))


def test_variance_of_a_constant_array_is_zero(device):
    """mean is s / n, not s * (1 / n): the two roundings made mean([x, x, x]) != x."""
    x = np.full(3, 8989307674585246620, np.uint64) if zyx.get_device(device).supports(dt.uint64) else \
        np.full(3, 3.3e9, np.float32)
    got = xp.var(A(x, device)).numpy()
    assert got == 0, got
    assert xp.mean(A(np.full(7, 0.7, np.float32), device)).numpy() == np.mean(np.full(7, 0.7, np.float32))


def test_inf_times_zero_in_a_reduction_is_nan(device):
    """wgpu: the driver factored acc + a*b + a*c into a*(b + c) (-inf*0 + -inf*1 gave -inf)."""
    a = np.full(2, -np.inf, np.float32)
    w = np.array([[0, 1], [1, 0]], np.float32)
    np.testing.assert_array_equal(xp.matmul(A(a, device), A(w, device)).numpy(), np.full(2, np.nan, np.float32))
    np.testing.assert_array_equal(xp.sum(A(a, device) * A(np.array([0, 1], np.float32), device)).numpy(), np.nan)


def test_mean_and_var_of_half_precision_use_float32_intermediates(device):
    """The half-precision sum was stored rounded (299.8125 -> 299.75), so the mean of a
    constant array was not the constant and its variance not 0 (NumPy: float32 inside)."""
    a = np.full((3, 3), 99.9375, np.float16)
    assert (xp.var(A(a, device), axis=1).numpy() == 0).all()
    assert xp.mean(A(a, device)).numpy() == np.float16(99.9375)
    assert xp.mean(A(a, device)).dtype is dt.float16


def test_all_and_any_over_a_leading_axis(device):
    """gcc 12 (AVX512VL/BW) miscompiled the vectorized bool MIN update of this kernel."""
    a = np.array([[[7, 7, 0, -2, 3, 9, -3, 2], [3, -6, 4, -9, 3, -6, -4, 7], [2, -2, 1, 8, -7, 8, 6, -3]],
                  [[8, -5, 2, 6, 1, 5, -9, -8], [5, 3, -8, 6, 7, 7, -3, 1], [-7, -3, -6, -3, 4, 8, -8, -5]]], np.int16)
    np.testing.assert_array_equal(xp.all(A(a, device), axis=0).numpy(), np.all(a, axis=0))
    np.testing.assert_array_equal(xp.any(A(a == 4, device), axis=0).numpy(), np.any(a == 4, axis=0))
