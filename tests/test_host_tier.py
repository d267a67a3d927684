"""The host tier (zyx/kernels/host_eval.py) evaluates first-seen kernels of exact ops with
NumPy while they compile. It must give the compiled kernels' bits - both run, on the same
graphs, and are compared bit for bit (float sums, whose order differs, to a tolerance)."""
from __future__ import annotations

import importlib
import math
import os
import time
from concurrent.futures import Future

import numpy as np
import pytest

import zyx
from zyx import dtypes as dt
from zyx.kernels import host_eval
from zyx.kernels import schedule as sched

R = np.random.default_rng(5)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.75, 1e30, -1e-30, 7.0, -7.0,
                    2.5, -0.5], np.float64)


def _ints(d, n=16):
    info = np.iinfo(d.np)
    base = np.array([info.min, info.max, 0, 1, -1, 2, -2, 3, 7, -7, 100, -100, 5, -5, 64, 13])
    return np.clip(base[:n], info.min, info.max).astype(d.np)


def _compiled_and_host(t: zyx.Tensor, funcs=None):
    """(compiled result, host-tier result) of every kernel of t's schedule, the last one's
    (``funcs``: the device's math functions, for transcendental ops)."""
    nodes = [t._node]
    order, _, pos = sched.walk(nodes)
    specs = sched.plan(order, pos, nodes)
    for spec in specs[:-1]:  # realize what the last kernel reads
        zyx.realize(zyx.Tensor._wrap(order[spec.out]))
    last = specs[-1]
    root, inputs = order[last.out], [order[i] for i in last.inputs]
    want = host_eval.EXACT if funcs is None else host_eval.WITH_FUNCTIONS
    assert host_eval.host_ok(root, inputs, funcs) == want, "expected a kernel the host tier computes"
    host = host_eval.evaluate(root, inputs, funcs).reshape(root.shape)
    with zyx.realize.specialization("never"):
        compiled = t.numpy()
    return compiled, host


def _host_functions() -> dict:
    """The cpu device's math functions for the host tier (built in the background the first
    time: waited for here)."""
    be = zyx.get_device("cpu").backend
    for _ in range(1200):
        f = be.host_functions()
        if f is not None:
            return f
        if be._host_fns is False:
            pytest.fail("the host tier's math library did not build")
        time.sleep(0.05)
    pytest.fail("the host tier's math library took over a minute to build")


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    if a.dtype.kind in "fc":
        av, bv = a.view(np.uint8).reshape(a.shape + (-1,)), b.view(np.uint8).reshape(b.shape + (-1,))
        nan = np.isnan(a) & np.isnan(b)
        diff = ~(av == bv).all(-1) & ~nan
        assert not diff.any(), f"differ at {np.argwhere(diff)[:5].tolist()}: {a[diff][:5]} vs {b[diff][:5]}"
    else:
        np.testing.assert_array_equal(a, b)


FLOAT_OPS = [
    lambda x, y: x + y, lambda x, y: x - y * 2, lambda x, y: x * y, lambda x, y: x / y,
    lambda x, y: x // y, lambda x, y: x % y, lambda x, y: x.maximum(y), lambda x, y: x.minimum(y),
    lambda x, y: (x.abs() + 1).sqrt(), lambda x, y: x.floor() + x.ceil(), lambda x, y: x.round() - x.trunc(),
    lambda x, y: x.reciprocal(), lambda x, y: (x < y).where(x, -y), lambda x, y: (x == y) | (x != x),
    lambda x, y: x.copysign(y), lambda x, y: x.nextafter(y), lambda x, y: x.isinf() & ~y.isnan(),
    lambda x, y: x.signbit(), lambda x, y: -x, lambda x, y: (x >= y).astype(x.dtype) * 3,
]


@pytest.mark.parametrize("d", [dt.float32, dt.float64, dt.float16, dt.bfloat16], ids=lambda d: d.name)
@pytest.mark.parametrize("k", range(len(FLOAT_OPS)))
def test_float_ops_match_compiled_bits(d, k):
    a = SPECIAL.reshape(4, 4)
    b = np.roll(SPECIAL, 5).reshape(4, 4)
    fn = FLOAT_OPS[k]
    try:
        t = fn(zyx.Tensor(a.astype(d.np)), zyx.Tensor(b.astype(d.np)))
    except (AttributeError, TypeError) as e:
        pytest.skip(f"not defined here: {e}")
    _same_bits(*_compiled_and_host(t))


INT_OPS = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x // y, lambda x, y: x % y,
           lambda x, y: x << (y % 70), lambda x, y: x >> (y % 70), lambda x, y: -x, lambda x, y: x.abs(),
           lambda x, y: x & y ^ ~x | y, lambda x, y: x.maximum(y) - x.minimum(y), lambda x, y: (x < y).where(x, y),
           lambda x, y: x ** (y % 5)]


@pytest.mark.parametrize("d", [dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8, dt.uint32, dt.uint64],
                         ids=lambda d: d.name)
@pytest.mark.parametrize("k", range(len(INT_OPS)))
def test_int_ops_match_compiled_bits(d, k):
    a = _ints(d)
    b = np.roll(a, 3)
    try:
        t = INT_OPS[k](zyx.Tensor(a), zyx.Tensor(b))
    except (TypeError, ValueError) as e:
        pytest.skip(f"not defined here: {e}")
    _same_bits(*_compiled_and_host(t))


@pytest.mark.parametrize("src,dst", [(dt.float32, dt.int32), (dt.float64, dt.uint8), (dt.float32, dt.uint32),
                                     (dt.float64, dt.float16), (dt.float32, dt.bfloat16), (dt.int64, dt.float32),
                                     (dt.bool_, dt.float32), (dt.float32, dt.bool_), (dt.int32, dt.int8),
                                     (dt.complex64, dt.float32), (dt.float32, dt.complex128)],
                         ids=lambda d: d.name)
def test_casts_match_compiled_bits(src, dst):
    v = np.array([0.0, -0.0, 1.5, -1.5, 2.5, 250.0, -3.0, 65504.0, 70000.0, 1e-8, 123.456, -77.7])
    a = (v != 0) if src is dt.bool_ else (v + 1j * v[::-1] if src.kind == "c" else
                                         np.clip(v, -100, 100) if src.kind in "iu" else v).astype(src.np)
    _same_bits(*_compiled_and_host(zyx.Tensor(a).astype(dst)))


def test_movement_gather_and_random_match_compiled_bits():
    a = R.standard_normal((5, 6)).astype(np.float32)
    x = zyx.Tensor(a)
    idx = zyx.Tensor(R.integers(-9, 9, size=(5, 4)))
    cases = [
        x.pad(((1, 2), (0, 3)), value=-1.5)[::-2, 1:7:2].permute(1, 0) * 2,
        x.reshape(3, 10).flip(1)[:, None, :].broadcast_to((3, 4, 10)) + 1,
        x._gather(idx.clip(0, 5), 1) - 1 if hasattr(x, "_gather") else x,
        zyx.rand(7, 3) * 2,
    ]
    for t in cases:
        _same_bits(*_compiled_and_host(t))


def test_reductions_and_contractions_match_compiled():
    a = R.standard_normal((6, 7)).astype(np.float32)
    i = R.integers(-1000, 1000, size=(6, 7)).astype(np.int32)
    x, xi = zyx.Tensor(a), zyx.Tensor(i)
    _same_bits(*_compiled_and_host(xi.sum(1) * 3 - xi.max(0).sum()))
    _same_bits(*_compiled_and_host(x.max(1) - x.min(0).max()))
    c, h = _compiled_and_host(x.sum(0) / 7)
    np.testing.assert_allclose(c, h, rtol=1e-6)
    w = zyx.Tensor(R.standard_normal((7, 5)).astype(np.float32))
    c, h = _compiled_and_host(x @ w + 1)
    np.testing.assert_allclose(c, h, rtol=1e-5, atol=1e-5)
    c, h = _compiled_and_host((xi @ zyx.Tensor(i.T.copy()))[:, ::2])
    np.testing.assert_array_equal(c, h)


@pytest.mark.parametrize("case", range(9))
def test_contraction_layouts_match_compiled(case):
    """The host tier's contraction is one batched matmul over the operands' own axes: batch,
    transposed, broadcast-batch, vector and row-dot layouts, and sums it cannot hand to
    matmul (an axis only one operand has), against the compiled kernel."""
    f = R.standard_normal
    t = zyx.Tensor
    a, b = t(f((4, 6, 5)).astype(np.float32)), t(f((4, 5, 3)).astype(np.float32))
    m, v = t(f((6, 5)).astype(np.float32)), t(f((5,)).astype(np.float32))
    graphs = [
        lambda: a @ b,  # batched
        lambda: m.T @ m,  # transposed operand (covariance)
        lambda: a @ t(f((5, 3)).astype(np.float32)),  # a batch broadcast on one side
        lambda: m @ v,  # matrix-vector
        lambda: v @ m.T,  # vector-matrix
        lambda: (m * m).sum(1),  # row dot products
        lambda: (a * a).sum((1, 2)) * 0.5,  # two summed axes, batch kept
        lambda: (m.reshape(6, 5, 1) * v.reshape(1, 5, 1)).sum(0),  # summed axis only one side owns
        lambda: (t(f((3, 1)).astype(np.float64)) * t(f((1, 4)).astype(np.float64))).sum(1) + 1,  # outer, summed
    ]
    g = graphs[case]()
    c, h = _compiled_and_host(g)
    np.testing.assert_allclose(c, h, rtol=1e-5, atol=1e-5)
    assert c.shape == h.shape == tuple(g.shape)


@pytest.mark.parametrize("k", [8192, 10000])
def test_split_contractions_form_no_product(k, monkeypatch):
    """A long contraction is summed in chunks (the product permuted, reshaped - padded where
    the chunks do not divide it - then summed): the host tier hands the moved operands to
    one batched matmul and never computes the product, whose broadcast would be outputs x k
    values (a 20 x 1e6 covariance: 3.2 GB, 10 s)."""
    a = R.standard_normal((4, k))
    x = zyx.Tensor(a)
    centred = x - x.mean(1, keepdims=True)
    t = centred @ centred.T
    nodes = [t._node]
    order, _, pos = sched.walk(nodes)
    specs = sched.plan(order, pos, nodes)
    split = [i for i, sp in enumerate(specs)
             if (c := host_eval._contraction(order[sp.out], {order[j] for j in sp.inputs})) is not None and c[1]]
    assert split, "expected a contraction summed in chunks"
    for sp in specs[:split[0]]:
        zyx.realize(zyx.Tensor._wrap(order[sp.out]))
    root, inputs = order[specs[split[0]].out], [order[j] for j in specs[split[0]].inputs]
    moves = [m.op for m in host_eval._contraction(root, set(inputs))[1]]
    assert ("PAD" in moves) == (k % 32 != 0), moves
    products = []
    pointwise = host_eval._pointwise

    def watch(n, args, funcs=None):
        if n.op == "MUL":
            products.append(n.shape)
        return pointwise(n, args, funcs)
    monkeypatch.setattr(host_eval, "_pointwise", watch)
    host = host_eval.evaluate(root, inputs).reshape(root.shape)
    assert products == [], f"the host tier formed products of shapes {products}"
    with zyx.realize.specialization("never"):
        compiled = zyx.Tensor._wrap(root).numpy()
        got = t.numpy()
    np.testing.assert_allclose(host, compiled, rtol=1e-9, atol=1e-9)
    ac = a - a.mean(1, keepdims=True)
    np.testing.assert_allclose(got, ac @ ac.T, rtol=1e-9)


def test_elementwise_ops_on_shared_broadcast_axes_run_once(monkeypatch):
    """An op whose operands are all broadcast along an axis is computed once along it (a
    matmul's operands are expanded before they are multiplied)."""
    sizes = []
    pointwise = host_eval._pointwise

    def watch(n, args, funcs=None):
        out = pointwise(n, args, funcs)
        sizes.append(out.size)
        return out
    monkeypatch.setattr(host_eval, "_pointwise", watch)
    a = np.arange(6.0).reshape(2, 3)
    x = zyx.Tensor(a)
    g = (x.reshape(2, 1, 3).expand(2, 1000, 3) * 2 + 1).sum(1)
    c, h = _compiled_and_host(g)
    assert sizes and max(sizes) == 6, sizes
    np.testing.assert_allclose(h.reshape(2, 3), (a * 2 + 1) * 1000)
    np.testing.assert_allclose(c.reshape(2, 3), h.reshape(2, 3))


def _last_kernel(t: zyx.Tensor):
    nodes = [t._node]
    order, _, pos = sched.walk(nodes)
    spec = sched.plan(order, pos, nodes)[-1]
    return order[spec.out], [order[j] for j in spec.inputs]


def test_transcendental_kernels_need_the_devices_own_functions():
    """NumPy's exp, log, ... are not the kernels' (libmvec, glibc): a kernel calling one runs on
    the host tier only through the device's own functions; a transcendental of constants
    alone (which gcc may fold while it builds, correctly rounded) and complex ones never."""
    funcs = _host_functions()
    x = zyx.Tensor(np.arange(4, dtype=np.float32))
    for t in (x.exp(), x.log() + 1, x.sin().sum(), x ** 2.5, x.tanh() * x.atan2(x + 1)):
        root, inputs = _last_kernel(t)
        assert host_eval.host_ok(root, inputs) == 0
        assert host_eval.host_ok(root, inputs, funcs) == host_eval.WITH_FUNCTIONS
    assert host_eval.host_ok(*_last_kernel(x * 2 + 1), funcs) == host_eval.EXACT
    assert host_eval.host_ok(*_last_kernel(zyx.full((4,), 2.0).exp() + x), funcs) == 0
    z = zyx.Tensor(np.arange(4, dtype=np.complex64))
    assert host_eval.host_ok(*_last_kernel(z.exp()), funcs) == 0


def _math_inputs(d, n: int, seed: int) -> np.ndarray:
    """Values where math libraries differ: specials, tiny and huge magnitudes, near the
    domain edges (+-1, 0) and a wide spread."""
    rng = np.random.default_rng(seed)
    parts = [SPECIAL, rng.uniform(-1.2, 1.2, n // 4), rng.uniform(-30, 30, n // 4),
             np.sign(rng.standard_normal(n // 4)) * 10.0 ** rng.uniform(-40, 40, n // 4),
             1 + rng.standard_normal(n // 8) * 1e-4, rng.standard_normal(n // 8) * 1e-6]
    x = np.concatenate(parts)[:n]
    with np.errstate(over="ignore"):
        return x.astype(d.np)


MATH_UNARY = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos", "atan",
              "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf"]
MATH_BINARY = ["pow", "atan2", "hypot", "logaddexp"]


@pytest.mark.parametrize("d", [dt.float32, dt.float64, dt.float16, dt.bfloat16], ids=lambda d: d.name)
@pytest.mark.parametrize("name", MATH_UNARY + MATH_BINARY)
def test_transcendental_ops_match_compiled_bits(d, name):
    """The host tier's transcendental ops are the kernels' bits, element for element, over
    4099 values (vector loops and their scalar remainders), fused with arithmetic."""
    funcs = _host_functions()
    a = _math_inputs(d, 4099, 1)
    b = np.roll(_math_inputs(d, 4099, 2), 7)
    x, y = zyx.Tensor(a), zyx.Tensor(b)
    t = getattr(x, name)(y) * 2 - x if name in MATH_BINARY else getattr(x, name)() * 2 - y
    _same_bits(*_compiled_and_host(t, funcs))


def test_transcendental_chains_and_reductions_on_the_host_tier():
    funcs = _host_functions()
    xp = zyx.array_api
    a = R.standard_normal((64, 33)).astype(np.float32)
    x = zyx.Tensor(a)
    _same_bits(*_compiled_and_host(xp.exp(xp.sin(x) * 3) + xp.log1p(xp.abs(x)), funcs))
    _same_bits(*_compiled_and_host(xp.tanh(x[:, :1] - x[:1, :]) ** 2.5, funcs))  # broadcast operands
    c, h = _compiled_and_host(xp.sum(xp.exp(x - xp.max(x, axis=1, keepdims=True)), axis=1), funcs)
    np.testing.assert_allclose(c, h, rtol=1e-6)


def test_first_sight_runs_on_the_host_then_compiled(tmp_path, monkeypatch):
    """A new structure runs on the host tier at once and compiled from the next call."""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))  # nothing compiled yet
    from zyx.realize import stats
    be = zyx.get_device("cpu").backend
    be._mem.clear()
    zyx.realize.clear_cache()
    a = np.arange(10, dtype=np.float32)
    stats.reset()
    first = (zyx.Tensor(a) * 3 - 1).maximum(2.0).numpy()
    assert stats.host_launches == 1
    zyx.realize.wait_compiles()
    second = (zyx.Tensor(a) * 3 - 1).maximum(2.0).numpy()
    assert stats.host_launches == 1 and stats.launches == 2
    _same_bits(first, second)
    np.testing.assert_array_equal(second, np.maximum(a * 3 - 1, 2))


def test_first_sight_of_a_transcendental_kernel_runs_on_the_host(tmp_path, monkeypatch):
    """With the device's math functions built, a first-seen kernel calling exp and log runs
    at once on the host tier (no compile waited for) and compiled from the next call, with
    the same bits."""
    _host_functions()
    zyx.realize.wait_compiles()  # (earlier tests' background builds would count as this one's)
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))  # nothing compiled yet
    from zyx.realize import stats
    be = zyx.get_device("cpu").backend
    be._mem.clear()
    zyx.realize.clear_cache()
    a = R.standard_normal(1000).astype(np.float32)
    stats.reset()
    c0 = be.compiles
    with zyx.realize.specialization("auto"):
        first = (zyx.Tensor(a).exp() * 2 - zyx.Tensor(a).abs().log1p()).numpy()
        assert stats.host_launches == 1 and stats.quick_builds == 0  # (its build: in the background)
        zyx.realize.wait_compiles()
        second = (zyx.Tensor(a).exp() * 2 - zyx.Tensor(a).abs().log1p()).numpy()
    assert stats.host_launches == 1 and stats.launches == 2 and be.compiles == c0 + 1
    _same_bits(first, second)
    np.testing.assert_allclose(second, np.exp(a) * 2 - np.log1p(np.abs(a)), rtol=1e-5, atol=1e-6)


def test_a_process_first_new_plan_starts_the_math_library(tmp_path):
    """The device's math library is asked for at a process's first new plan (its build
    starts in the background where the disk cache lacks it), not at the first transcendental
    kernel - which would otherwise wait for a quick build of its own."""
    import subprocess
    import sys
    code = ("import numpy as np, zyx, importlib, time\n"
            "be = zyx.get_device('cpu').backend\n"
            "assert be._host_fns is None\n"
            "import sys\n"
            "x = zyx.Tensor(np.arange(5, dtype=np.float32))\n"
            "(x * 2 if sys.argv[1] == '0' else x - 2).numpy()  # (a new plan in each process)\n"
            "state = be._host_fns\n"
            "while be.host_functions() is None: time.sleep(0.02)\n"
            "print(state)\n")
    env = {**os.environ, "ZYX_CACHE_DIR": str(tmp_path)}
    env.pop("ZYX_DISABLE_DISK_CACHE", None)
    env.pop("ZYX_HOST_TIER", None)
    runs = [subprocess.run([sys.executable, "-c", code, str(i)], env=env, capture_output=True, text=True, timeout=300)
            for i in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    assert runs[0].stdout.strip() == "building"  # a cold cache: built in the background
    assert runs[1].stdout.strip().startswith("<zyx.backends.cpu._HostFunctions")  # then loaded from disk

def test_big_contraction_runs_on_blas_until_its_specialised_version_is_built(tmp_path, monkeypatch):
    """A big float contraction of exact ops (a matmul, here with a bias) never waits for a
    compile and never runs the generic loop nest: BLAS (the host tier) computes it while the
    version specialised on its sizes builds in the background; then that version runs."""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    zr = importlib.import_module("zyx.realize")
    from zyx.realize import stats
    zyx.get_device("cpu").backend._mem.clear()
    zr.clear_cache()
    rng = np.random.default_rng(1)
    # 256*240*224 multiply-adds: between special_async_work and special_sync_work (above
    # that a version specialised on the sizes is compiled at once, as before)
    a = rng.standard_normal((256, 240)).astype(np.float32)
    b = rng.standard_normal((240, 224)).astype(np.float32)
    c = rng.standard_normal(224).astype(np.float32)
    ref = a.astype(np.float64) @ b + c
    x, y, z = zyx.Tensor(a), zyx.Tensor(b), zyx.Tensor(c)
    stats.reset()
    first = (x @ y + z).numpy()  # first sight: the generic kernel compiles in the background
    assert stats.host_launches == 1 and stats.special_launches == 0
    np.testing.assert_allclose(first, ref, rtol=1e-4, atol=1e-4)
    zr.wait_compiles()
    # the generic program is ready, but BLAS runs the contraction; seen again, its
    # specialised version builds in the background, BLAS still running it meanwhile
    for n in (2, 3):
        out = (x @ y + z).numpy()
        assert stats.host_launches == n and stats.special_launches == 0 and stats.specialized == n - 2
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    zr.wait_compiles()
    out = (x @ y + z).numpy()
    assert stats.special_launches == 1 and stats.host_launches == 3
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    # a small contraction keeps its compiled kernel: a BLAS call costs more than it saves
    small = zyx.Tensor(a[:8, :8]) @ zyx.Tensor(b[:8, :8])
    zyx.realize(small)
    zr.wait_compiles()
    hosted = stats.host_launches
    np.testing.assert_allclose((zyx.Tensor(a[:8, :8]) @ zyx.Tensor(b[:8, :8])).numpy(), a[:8, :8] @ b[:8, :8],
                               rtol=1e-5, atol=1e-5)
    assert stats.host_launches == hosted


def test_blas_route_is_only_for_float_contractions_of_exact_ops():
    x = zyx.Tensor(np.ones((64, 64), np.float32))
    xi = zyx.Tensor(np.ones((64, 64), np.int32))
    for t, want in ((x @ x, True), ((x @ x) * 2 + 1, True), ((x @ x).exp(), False), (xi @ xi, False),
                    (x.sum(0), False)):
        nodes = [t._node]
        order, _, pos = sched.walk(nodes)
        spec = sched.plan(order, pos, nodes)[-1]
        assert host_eval.blas_ok(order[spec.out], [order[j] for j in spec.inputs]) == want


def _racing_contraction(a: np.ndarray):
    """(x, its CompiledKernel, the race's args) once ``x @ x.T`` has built its generic
    program, run BLAS, then built its specialised version, whose race is open."""
    zr = importlib.import_module("zyx.realize")
    x = zyx.Tensor(a)
    for _ in range(3):  # generic built, BLAS, then the specialised version
        zyx.realize(x @ x.T)
        zr.wait_compiles()
    (c,) = [c for cs in zr._cache.values() for c in cs if c.blas and c.race]
    (args,) = c.race
    return x, c, args


def test_a_specialised_contraction_that_loses_to_blas_is_dropped(tmp_path, monkeypatch):
    """The specialised version of a big contraction runs _RACE_RUNS times timed, then BLAS as
    many times, timed (never while the compiler ran beside it); one more than _RACE_MARGIN
    times as slow is dropped and BLAS runs those sizes from then on, a closer one is kept;
    a later process takes the stored outcome.
    (One side's time is set tiny here so the outcome does not depend on this machine.)"""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    zr = importlib.import_module("zyx.realize")
    from zyx.realize import stats
    n = zr._RACE_RUNS
    rng = np.random.default_rng(2)
    for fast in ("blas", "specialised"):
        monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path / fast))  # (each its own: outcomes are stored)
        zr.clear_cache()
        a = rng.standard_normal((256, 300)).astype(np.float32)
        x, c, args = _racing_contraction(a)
        sp = c.special.get(args)  # built (a settled future), or loaded from an earlier build
        assert sp is not None and not isinstance(sp, str) and (not isinstance(sp, Future) or sp.done())
        race = c.race[args]
        assert race[0] == math.inf and race[3] == 0  # the BLAS runs while it built were not timed
        c.race[args] = race = [math.inf, math.inf, 0, 0]  # (the race from its start)
        race[0 if fast == "blas" else 1] = 1e-9
        stats.reset()
        for _ in range(2 * n + 2):
            out = (x @ x.T).numpy()
        np.testing.assert_allclose(out, a @ a.T, rtol=1e-4, atol=1e-3)
        assert not c.race
        if fast == "blas":
            assert stats.special_launches == n and stats.host_launches == n + 2
            assert c.special[args] is zr._HOST
        else:
            assert stats.special_launches == n + 2 and stats.host_launches == n
            assert not isinstance(c.special[args], str)
        # a later process (the in-process cache cleared; the disk keeps the plan, the version
        # and the race's outcome) takes the outcome: no race, and no version loaded where BLAS won
        zr.clear_cache()
        stats.reset()
        for _ in range(2):
            out = (x @ x.T).numpy()
        np.testing.assert_allclose(out, a @ a.T, rtol=1e-4, atol=1e-3)
        (c2,) = [c for cs in zr._cache.values() for c in cs if c.blas]
        assert not c2.race
        if fast == "blas":
            assert stats.special_launches == 0 and stats.host_launches == 2 and stats.specialized == 0
        else:
            assert stats.special_launches == 2 and stats.host_launches == 0


def test_a_race_counts_no_run_made_beside_a_background_compile(tmp_path, monkeypatch):
    """A race's timed runs (either side) made while a background compile job is queued or
    running are not counted: the compiler took a core from the specialised version's OpenMP
    threads and not from single-threaded BLAS, and races decided so stored BLAS for a training
    step's contractions that BLAS ran 1.5x slower - in every later process."""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    zr = importlib.import_module("zyx.realize")
    n = zr._RACE_RUNS
    zr.clear_cache()
    a = np.random.default_rng(3).standard_normal((256, 300)).astype(np.float32)
    x, c, args = _racing_contraction(a)
    c.race[args] = [math.inf, math.inf, 0, 0]  # (the race from its start)
    busy = Future()  # a compile job still running
    zr._pending.append(busy)
    try:
        for _ in range(2 * n + 2):
            np.testing.assert_allclose((x @ x.T).numpy(), a @ a.T, rtol=1e-4, atol=1e-3)
        assert c.race[args] == [math.inf, math.inf, 0, 0]
    finally:
        busy.set_result(None)
        zr._pending.remove(busy)
    for _ in range(2 * n + 2):  # quiet: the race runs and ends
        np.testing.assert_allclose((x @ x.T).numpy(), a @ a.T, rtol=1e-4, atol=1e-3)
    assert not c.race


_REDUCING = ("sum(", "mean(", "prod(", "matmul", "@", "std(", "var(", "cumulative", "vecdot", "tensordot", "linalg")


def test_random_programs_give_the_same_bits_on_the_host_tier_and_compiled(tmp_path, monkeypatch):
    """The differential fuzzer's programs (tests/fuzzgraph.py), every structure new: the
    first run computes them on the host tier (transcendentals through the device's own
    functions), the second with the compiled kernels - every value the same bits, but where
    the program sums (another order may round differently)."""
    import warnings

    import fuzzgraph as fg
    _host_functions()
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    be = zyx.get_device("cpu").backend
    monkeypatch.setattr(be, "_mem", type(be._mem)(be._mem.limit))
    zr = importlib.import_module("zyx.realize")
    zr.clear_cache()

    def run(prog) -> dict:
        env = fg._zyx_env(prog, "cpu")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in prog.stmts:
                exec(s.text, env)  # noqa: S102 - the fuzzer's generated statements
        return {n: env[n].numpy() for n in fg.live_values(prog) if isinstance(env.get(n), zyx.Tensor)}
    hosted = checked = 0
    with zr.specialization("auto"):
        for seed in range(20):
            prog = fg.generate(seed, "cpu", ["float32", "float64", "float16", "int32", "bool"])
            h0 = zr.stats.host_launches
            first = run(prog)
            hosted += zr.stats.host_launches - h0
            zr.wait_compiles()
            second = run(prog)
            sums = any(k in prog.text() for k in _REDUCING)
            for name, a in first.items():
                b = second[name]
                assert a.dtype == b.dtype and a.shape == b.shape
                a, b = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
                if a.size == 0:
                    continue
                same = a.view(np.uint8).reshape(a.size, -1) == b.view(np.uint8).reshape(b.size, -1)
                same = same.all(-1) | ((a != a) & (b != b) if a.dtype.kind in "fc" else False)
                assert sums or same.all(), f"seed {seed}, {name}:\n{prog.text()}"
                checked += 1
    assert hosted > 50 and checked > 50, (hosted, checked)


def test_background_builds_yield_to_a_busy_program_unless_waited_for(tmp_path, monkeypatch):
    """A background job (lowering, rendering and building a new plan's kernels) starts once
    the program has not realized for ``_IDLE_S`` or ``_YIELD_S`` after it was submitted - its
    Python would take the GIL from the program at every launch - and at once when the
    program waits for the compiles."""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    zr = importlib.import_module("zyx.realize")
    started = []
    real = zr._compile_items
    import threading

    def spy(backend, items):
        if threading.current_thread() is not threading.main_thread():  # (the job's build)
            started.append(time.perf_counter())
        return real(backend, items)
    monkeypatch.setattr(zr, "_compile_items", spy)
    monkeypatch.setattr(zr, "_IDLE_S", 60.0, raising=False)  # the program counts as busy throughout
    zr.wait_compiles()
    a = zyx.Tensor(np.arange(7, dtype=np.float32))
    monkeypatch.setattr(zr, "_YIELD_S", 0.5, raising=False)
    t0 = time.perf_counter()
    (a * 5 - 3).numpy()  # a new structure: the host tier runs it, its build is queued
    while not started and time.perf_counter() - t0 < 30:
        time.sleep(0.01)
    assert started and started[0] - t0 >= 0.45, "the job did not wait for the busy program"
    started.clear()
    monkeypatch.setattr(zr, "_YIELD_S", 20.0, raising=False)
    t0 = time.perf_counter()
    (a * 5 + 3).maximum(0.0).numpy()
    zr.wait_compiles()  # waiting: the job runs now, not 20 s later
    assert started and started[0] - t0 < 10


def test_background_builds_wait_for_a_long_realize_to_end(tmp_path, monkeypatch):
    """A realize is busy from its start to its end: a background job does not start inside a
    host-tier step that runs longer than ``_IDLE_S`` (it took the GIL from a cold
    LinearDiscriminantAnalysis fit's 9 ms step, to lower its kernels), and starts once the
    program has been idle for ``_IDLE_S`` after it."""
    import threading
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    zr = importlib.import_module("zyx.realize")
    started = []
    real = zr._compile_items

    def spy(backend, items):
        if threading.current_thread() is not threading.main_thread():
            started.append(time.perf_counter())
        return real(backend, items)
    monkeypatch.setattr(zr, "_compile_items", spy)
    monkeypatch.setattr(zr, "_IDLE_S", 0.02, raising=False)
    monkeypatch.setattr(zr, "_YIELD_S", 20.0, raising=False)
    zr.wait_compiles()
    real_eval = host_eval.evaluate

    def slow(*args, **kwargs):  # a host step of a big array
        time.sleep(0.15)
        return real_eval(*args, **kwargs)
    monkeypatch.setattr(host_eval, "evaluate", slow)
    a = zyx.Tensor(np.arange(9, dtype=np.float32))
    y = a
    for j in range(int(np.random.default_rng().integers(6, 40))):  # (a structure no other test made)
        y = y * a - 4 if j % 3 else y + a
    t0 = time.perf_counter()
    y.numpy()  # a new structure: one host step, its build queued inside the realize
    t1 = time.perf_counter()
    while not started and time.perf_counter() - t1 < 10:
        time.sleep(0.005)
    assert t1 - t0 >= 0.15 and started, "the job never started"
    assert started[0] >= t1 + 0.015, "the job started inside the realize"
    zr.wait_compiles()


def _background_items(n: int, bad: int | None = None, device: str = "cpu") -> list:
    """n (kernel, source) pairs of specialised kernels no earlier test built (their constants
    are new), item ``bad``'s source not C."""
    from zyx.kernels.lower import lower_kernel
    be = zyx.get_device(device).backend
    x = zyx.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    salt = float(np.random.default_rng().integers(1, 1 << 20)) + 0.25
    items = []
    for j in range(n):
        t = ((x * (salt + j) + 1).exp() - j).sum(1)
        root, inputs = _last_kernel(t)
        k = lower_kernel(root, inputs, f"queued_{j}", [])  # ("kernel" is OpenCL C's keyword)
        items.append((k, be.render(k) if j != bad else "this is not C;\n"))
    return items


def _hold_the_compile_worker(zr, be, device: str = "cpu"):
    """A background batch whose build waits for the returned event: the worker has taken
    it (nothing is queued) when this returns. (the event, the batch's future)"""
    import threading
    gate, first = threading.Event(), Future()
    held = _background_items(1, device=device)

    def items(pace):
        gate.wait(30)
        return held
    zr._background(be, items, [first])
    t0 = time.perf_counter()
    while zr._queue and time.perf_counter() - t0 < 30:
        time.sleep(0.005)
    assert not zr._queue
    return gate, first


@pytest.mark.parametrize("dev", ["cpu", "opencl:0"])
def test_batches_queued_while_the_compiler_is_busy_share_one_compiler_run(dev, tmp_path, monkeypatch):
    """Background batches submitted while the compile worker is busy are built together
    once it is free: one compiler run for three one-kernel batches (a cold LogisticRegression
    fit queued 12 batches; built one by one, its last kernels landed ~1 s after it began) -
    where a later process finds kernels however they were batched: not on OpenCL, whose
    batch programs are stored under their batch's key (``Backend.merges_batches``)."""
    if dev not in [d.name for d in zyx.available_devices()]:
        pytest.skip(f"{dev} is not available here")
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(importlib.import_module("zyx.realize"), "_YIELD_S", 0.0, raising=False)
    zr = importlib.import_module("zyx.realize")
    be = zyx.get_device(dev).backend
    zr.wait_compiles()
    gate, first = _hold_the_compile_worker(zr, be, dev)
    items = _background_items(3, device=dev)
    futures = [Future() for _ in items]
    done = []
    for item, f in zip(items, futures):
        zr._background(be, [item], [f], lambda f=f: done.append(f))
    before = be.compiles
    gate.set()
    zr.wait_compiles()
    assert first.done() and all(f.done() for f in futures) and len(done) == 3
    if dev == "cpu":
        assert be.compiles - before == 2, "the queued batches were not built in one compiler run"
        assert len({f.result().name for f in futures}) == 3
        for f in futures:  # each is its own kernel of the shared library
            assert f.result().fn is not None
    else:
        assert be.compiles - before == 4, "OpenCL's queued batches were built together"


def test_a_kernel_that_does_not_build_fails_only_its_own_queued_batch(tmp_path, monkeypatch):
    """Batches built together where one kernel does not compile: that batch's future gets
    the CompileError, the others their programs (built again batch by batch)."""
    from zyx.backends.base import CompileError
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    zr = importlib.import_module("zyx.realize")
    monkeypatch.setattr(zr, "_YIELD_S", 0.0, raising=False)
    be = zyx.get_device("cpu").backend
    zr.wait_compiles()
    gate, _ = _hold_the_compile_worker(zr, be)
    items = _background_items(3, bad=1)
    futures = [Future() for _ in items]
    for item, f in zip(items, futures):
        zr._background(be, [item], [f])
    import glob
    import tempfile
    kept = set(glob.glob(os.path.join(tempfile.gettempdir(), "zyx-failed-*.c")))
    try:
        gate.set()
        zr.wait_compiles()
        assert isinstance(futures[1].exception(), CompileError)
        assert futures[0].result().fn is not None and futures[2].result().fn is not None
    finally:  # (the sources a failed build keeps for its user)
        for path in set(glob.glob(os.path.join(tempfile.gettempdir(), "zyx-failed-*.c"))) - kept:
            os.remove(path)


def test_short_axis_reductions_are_numpys_bits():
    """A reduction over a short axis of many rows (a softmax over 3 classes) runs as a chain
    of binary ufuncs - NumPy's own reduction there costs ~40 ns a row - with NumPy's bits:
    every kind, integer and float dtypes, NaN, infinities and signed zeros, any axis."""
    from types import SimpleNamespace

    from zyx.kernels import host_eval
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64, np.int32, np.int64, np.uint8, np.int8):
        for shape, axis in [((4000, 3), 1), ((3, 4000), 0), ((100, 5, 7), 1), ((64, 7), 1), ((200, 2, 3), 2)]:
            x = (rng.standard_normal(shape) * 100).astype(dtype)
            if x.dtype.kind == "f":
                x.flat[::7], x.flat[::11], x.flat[::13], x.flat[::17] = -0.0, np.nan, 0.0, np.inf
            for kind, f in [("SUM", np.sum), ("PROD", np.prod), ("MAX", np.max), ("MIN", np.min)]:
                keep = tuple(1 if d == axis else s for d, s in enumerate(shape))
                with np.errstate(all="ignore"):
                    got = host_eval._reduce(SimpleNamespace(arg=(kind, (axis,)), shape=keep), x)
                    want = f(x, axis=axis, keepdims=True, **({"dtype": x.dtype} if kind in ("SUM", "PROD") else {}))
                assert got.shape == want.shape and got.dtype == want.dtype
                assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes(), (dtype, shape, kind)


def test_host_kernels_of_one_realize_share_inlined_values(monkeypatch):
    """A value two host-tier kernels of one realize both inline (a softmax's (x - max) ...) is
    computed once and read by the second, with the unshared values' bits; a shared node a
    later kernel reads as an input comes from its buffer (a half-float value is rounded
    there, unrounded where it was inlined)."""
    from zyx.device import Buffer
    from zyx.graph import buffer_node
    dev = zyx.get_device("cpu")
    funcs = None  # (exact ops only)
    x_np = np.random.default_rng(2).standard_normal((50, 3)).astype(np.float32)
    x = zyx.Tensor(x_np)
    zyx.realize(x)
    xn = x._node
    mx = np.max(x_np, axis=1, keepdims=True)
    mb = buffer_node(Buffer(dev, 50, dt.float32, handle=mx.reshape(-1).copy()), (50, 1), dt.float32, dev)
    d = zyx.Tensor._wrap(xn) - zyx.Tensor._wrap(mb)  # (the max: an input buffer here)
    e = d * d + 1.0  # (not a product under the sum: that is a contraction, never formed)
    s_node, o_node = e.sum(axis=1, keepdims=True)._node, (e * 2.0)._node
    want_s = host_eval.evaluate(s_node, [xn, mb], funcs)
    want_o = host_eval.evaluate(o_node, [xn, mb], funcs)
    calls: list = []
    real = host_eval._eval
    monkeypatch.setattr(host_eval, "_eval", lambda n, *a: calls.append(n) or real(n, *a))
    shared = host_eval.Shared()
    got_s = host_eval.evaluate(s_node, [xn, mb], funcs, None, shared)
    first = len(calls)
    got_o = host_eval.evaluate(o_node, [xn, mb], funcs, None, shared)
    inlined = e._node
    assert inlined in shared.vals and inlined not in calls[first:]
    assert got_s.tobytes() == want_s.tobytes() and got_o.tobytes() == want_o.tobytes()
    h = np.full(150, 7.0, np.float32)
    as_input = buffer_node(Buffer(dev, 150, dt.float32, handle=h), (50, 3), dt.float32, dev)
    shared.vals[as_input] = np.zeros((50, 3), np.float32)  # (a stale shared value: not read)
    got = host_eval.evaluate((zyx.Tensor._wrap(as_input) + 1.0)._node, [as_input], None, None, shared)
    assert (got == 8.0).all()
