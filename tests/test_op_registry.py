"""The op registry (zyx/ops.py: one OpDef per primitive) is complete: every primitive has a
backward rule or says it has none, every renderer spells every elementwise primitive for
the dtype kinds its record names, its Tensor and array-API names exist, and every
elementwise primitive is checked against NumPy here. Adding a primitive without one of
these fails a test below."""
from __future__ import annotations

import math

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx import _math, ops
from zyx import dtypes as dt
from zyx.autograd import RULES
from zyx.graph import Node, elementwise
from zyx.kernels.lower import lower_kernel
from zyx.kernels.render_c import CRenderer
from zyx.kernels.render_cuda import CUDARenderer
from zyx.kernels.render_opencl import OpenCLRenderer
from zyx.kernels.render_wgsl import WGSLRenderer

ELEMENTWISE = sorted(ops.ELEMENTWISE)


def _renderers():
    return [CRenderer(), OpenCLRenderer(), CUDARenderer(), WGSLRenderer(int64=True, float64=True)]


# one or two dtypes per kind a record may name
KIND_DTYPES = {"b": [dt.bool_], "i": [dt.int32, dt.int64], "u": [dt.uint8, dt.uint32],
               "f": [dt.float32, dt.float64], "c": [dt.complex64, dt.complex128]}


# ------------------------------------------------------------------ the table itself
def test_derived_sets_match_the_table():
    for name, rec in ops.OPS.items():
        assert rec.name == name
        assert set(rec.kinds) <= set("biufc") and rec.kinds, name
        assert rec.dtype in ("same", "bool", "real", "complex", "given", "index"), name
    assert ops.UNARY == {n for n, r in ops.OPS.items() if r.category == "unary"}
    assert ops.COMPARE <= ops.BINARY
    assert ops.ELEMENTWISE == ops.UNARY | ops.BINARY | ops.TERNARY | ops.CASTS
    assert all(ops.OPS[n].arity == 2 for n in ops.BINARY)
    assert ops.TRANSCENDENTAL <= ops.ELEMENTWISE
    assert {ops.REDUCE, ops.GATHER} <= set(ops.OPS)


@pytest.mark.parametrize("op", sorted(ops.OPS))
def test_backward_rule_or_not_differentiable(op):
    rec = ops.OPS[op]
    assert rec.differentiable is (op in RULES and RULES[op].__name__ != "nondifferentiable"), \
        f"{op}: differentiable={rec.differentiable}, rule={RULES.get(op)}"


def test_every_rule_is_for_a_primitive():
    recorded_only = {"TO_DEVICE", "COMPOSITE"}  # tape records that are not graph primitives
    assert set(RULES) - recorded_only <= set(ops.OPS)


@pytest.mark.parametrize("op", sorted(n for n, r in ops.OPS.items() if r.tensor or r.array_api))
def test_tensor_and_array_api_names(op):
    rec = ops.OPS[op]
    if rec.tensor:
        assert hasattr(zyx.Tensor, rec.tensor), f"{op}: Tensor.{rec.tensor}"
    if rec.array_api:
        assert callable(getattr(xp, rec.array_api, None)), f"{op}: xp.{rec.array_api}"
        assert rec.array_api in xp.__all__


# ------------------------------------------------------------------ spellings
@pytest.mark.parametrize("r", _renderers(), ids=lambda r: r.lang)
def test_every_renderer_spells_every_elementwise_primitive(r):
    missing = [(op, d.name) for op in ELEMENTWISE for k in ops.OPS[op].kinds for d in KIND_DTYPES[k]
               if not r.spells(op, d)]
    assert not missing, f"{r.lang} has no spelling for {missing}"


def _kernel(op: str, d):
    rec = ops.OPS[op]
    dev = zyx.get_device("cpu")
    srcs = [Node("BUFFER", (), None, (3, 5), d, dev, buffer=object()) for _ in range(rec.arity)]
    if op == "WHERE":
        srcs[0] = Node("BUFFER", (), None, (3, 5), dt.bool_, dev, buffer=object())
    if rec.dtype == "given":
        out = dt.int32 if d.kind == "f" else dt.float32
        root = Node(op, (srcs[0],), out, (3, 5), out, dev)
    else:
        root = elementwise(op, tuple(srcs), ops.result_dtype(op, d))
    return lower_kernel(root, srcs, "kernel")


@pytest.mark.parametrize("op", ELEMENTWISE)
def test_every_renderer_renders_a_kernel_of_each_primitive(op):
    """A whole kernel (not just the expression) of the op, in each language."""
    kind = ops.OPS[op].kinds
    d = KIND_DTYPES["f" if "f" in kind else kind[0]][0]
    for r in _renderers():
        src = r.render(_kernel(op, d))
        assert "kernel" in src, (r.lang, op)


# ------------------------------------------------------------------ differential test against NumPy
_erf = np.vectorize(math.erf, otypes=[np.float32])


def _u(lo, hi):
    return ("f", lo, hi)


ANY = _u(-3, 3)
# primitive -> (operand domains: ("f", lo, hi) float32 / "b" bool / "i" int32 / "s" shift
# amount / "c" complex64 / "e" floats with equal pairs, zeros and specials, the zyx call (on
# Tensors), the NumPy reference, relative tolerance). The zyx call goes through the
# record's Tensor method where it has one.
NUMPY = {
    "NEG": ([ANY], lambda a: -a, np.negative, 0),
    "EXP": ([_u(-5, 5)], lambda a: a.exp(), np.exp, 2e-6),
    "EXP2": ([_u(-5, 5)], lambda a: a.exp2(), np.exp2, 2e-6),
    "EXPM1": ([_u(-2, 2)], lambda a: a.expm1(), np.expm1, 2e-6),
    "LOG": ([_u(0.1, 9)], lambda a: a.log(), np.log, 2e-6),
    "LOG2": ([_u(0.1, 9)], lambda a: a.log2(), np.log2, 2e-6),
    "LOG10": ([_u(0.1, 9)], lambda a: a.log10(), np.log10, 2e-6),
    "LOG1P": ([_u(-0.5, 9)], lambda a: a.log1p(), np.log1p, 2e-6),
    "SQRT": ([_u(0, 9)], lambda a: a.sqrt(), np.sqrt, 2e-7),
    "RECIP": ([_u(0.5, 3)], lambda a: a.reciprocal(), np.reciprocal, 2e-7),
    "SIN": ([ANY], lambda a: a.sin(), np.sin, 2e-6),
    "COS": ([ANY], lambda a: a.cos(), np.cos, 2e-6),
    "TAN": ([_u(-1.2, 1.2)], lambda a: a.tan(), np.tan, 2e-6),
    "ASIN": ([_u(-0.99, 0.99)], lambda a: a.asin(), np.arcsin, 2e-6),
    "ACOS": ([_u(-0.99, 0.99)], lambda a: a.acos(), np.arccos, 2e-6),
    "ATAN": ([ANY], lambda a: a.atan(), np.arctan, 2e-6),
    "SINH": ([ANY], lambda a: a.sinh(), np.sinh, 2e-6),
    "COSH": ([ANY], lambda a: a.cosh(), np.cosh, 2e-6),
    "TANH": ([ANY], lambda a: a.tanh(), np.tanh, 2e-6),
    "ASINH": ([ANY], lambda a: a.asinh(), np.arcsinh, 2e-6),
    "ACOSH": ([_u(1.01, 9)], lambda a: a.acosh(), np.arccosh, 2e-6),
    "ATANH": ([_u(-0.99, 0.99)], lambda a: a.atanh(), np.arctanh, 2e-6),
    "FLOOR": ([ANY], lambda a: a.floor(), np.floor, 0),
    "CEIL": ([ANY], lambda a: a.ceil(), np.ceil, 0),
    "ROUND": ([ANY], lambda a: a.round(), np.rint, 0),
    "TRUNC": ([ANY], lambda a: a.trunc(), np.trunc, 0),
    "ABS": ([ANY], lambda a: a.abs(), np.abs, 0),
    "ERF": ([ANY], lambda a: a.erf(), _erf, 2e-6),
    "NOT": (["b"], lambda a: a.logical_not(), np.logical_not, 0),
    "BITNOT": (["i"], lambda a: a.bitwise_not(), np.invert, 0),
    "ISNAN": (["e"], lambda a: a.isnan(), np.isnan, 0),
    "ISINF": (["e"], lambda a: a.isinf(), np.isinf, 0),
    "SIGNBIT": (["e"], lambda a: a.signbit(), np.signbit, 0),
    "REAL": (["c"], lambda a: a.real, np.real, 0),
    "IMAG": (["c"], lambda a: a.imag, np.imag, 0),
    "CONJ": (["c"], lambda a: a.conj(), np.conj, 0),
    "ANGLE": (["c"], lambda a: a.angle(), np.angle, 2e-6),
    "ADD": ([ANY, ANY], lambda a, b: a + b, np.add, 0),
    "SUB": ([ANY, ANY], lambda a, b: a - b, np.subtract, 0),
    "MUL": ([ANY, ANY], lambda a, b: a * b, np.multiply, 0),
    "DIV": ([ANY, _u(0.5, 3)], lambda a, b: a / b, np.divide, 0),
    "IDIV": ([ANY, _u(0.5, 3)], lambda a, b: a // b, np.floor_divide, 0),
    "MOD": ([ANY, _u(0.5, 3)], lambda a, b: a % b, np.mod, 1e-6),
    "POW": ([_u(0.1, 3), ANY], lambda a, b: a ** b, np.power, 2e-6),
    "MAX": (["e", "e"], lambda a, b: a.maximum(b), np.maximum, 0),
    "MIN": (["e", "e"], lambda a, b: a.minimum(b), np.minimum, 0),
    "ATAN2": ([ANY, ANY], lambda a, b: a.atan2(b), np.arctan2, 2e-6),
    "HYPOT": ([ANY, ANY], lambda a, b: a.hypot(b), np.hypot, 2e-7),
    "COPYSIGN": (["e", "e"], lambda a, b: a.copysign(b), np.copysign, 0),
    "NEXTAFTER": ([ANY, ANY], lambda a, b: a.nextafter(b), np.nextafter, 0),
    "LOGADDEXP": (["e", "e"], lambda a, b: a.logaddexp(b), np.logaddexp, 2e-6),
    "AND": (["i", "i"], lambda a, b: a & b, np.bitwise_and, 0),
    "OR": (["i", "i"], lambda a, b: a | b, np.bitwise_or, 0),
    "XOR": (["i", "i"], lambda a, b: a ^ b, np.bitwise_xor, 0),
    "SHL": (["i", "s"], lambda a, b: a << b, np.left_shift, 0),
    "SHR": (["i", "s"], lambda a, b: a >> b, np.right_shift, 0),
    "CMPLT": (["e", "e"], lambda a, b: a < b, np.less, 0),
    "CMPLE": (["e", "e"], lambda a, b: a <= b, np.less_equal, 0),
    "CMPEQ": (["e", "e"], lambda a, b: a == b, np.equal, 0),
    "CMPNE": (["e", "e"], lambda a, b: a != b, np.not_equal, 0),
    "COMPLEX": ([ANY, ANY], lambda a, b: _math.complex_(a, b), lambda a, b: a + 1j * b, 0),
    "WHERE": (["b", ANY, ANY], lambda c, a, b: c.where(a, b), np.where, 0),
    "CAST": ([_u(-100, 100)], lambda a: a.cast(dt.int32), lambda a: a.astype(np.int32), 0),
    "BITCAST": ([ANY], lambda a: a.bitcast(dt.int32), lambda a: a.view(np.int32), 0),
}

_SPECIAL = np.array([0.0, -0.0, 1.5, -1.5, 2.0, np.inf, -np.inf, np.nan], np.float32)


def _operand(domain, rng, n: int) -> np.ndarray:
    if domain == "b":
        return rng.random(n) < 0.5
    if domain == "i":
        return rng.integers(-2 ** 31, 2 ** 31, n, dtype=np.int64).astype(np.int32)
    if domain == "s":
        return rng.integers(0, 32, n).astype(np.int32)
    if domain == "c":
        return (rng.uniform(-3, 3, n) + 1j * rng.uniform(-3, 3, n)).astype(np.complex64)
    if domain == "e":
        return rng.choice(_SPECIAL, n)
    _, lo, hi = domain
    return rng.uniform(lo, hi, n).astype(np.float32)


def test_numpy_table_covers_every_elementwise_primitive():
    assert set(NUMPY) == set(ops.ELEMENTWISE), \
        f"missing {sorted(set(ops.ELEMENTWISE) - set(NUMPY))}, extra {sorted(set(NUMPY) - set(ops.ELEMENTWISE))}"


def test_every_elementwise_primitive_matches_numpy(device):
    """Every elementwise primitive, float32 (or the kind it takes), on ``device``, all in one
    realize (one compile batch), as generic compiled kernels."""
    rng = np.random.default_rng(13)
    n = 64
    cases = []
    for op, (domains, f, ref, rtol) in sorted(NUMPY.items()):
        if any(d == "c" for d in domains) and not zyx.get_device(device).supports(dt.complex64):
            continue
        xs = [_operand(d, rng, n) for d in domains]
        got = f(*[zyx.Tensor(x, device=device) for x in xs])
        cases.append((op, xs, got, ref, rtol))
    with zyx.realize.specialization("never"):  # compiled code for every kernel (no host tier)
        zyx.realize(*[g for _, _, g, _, _ in cases])
    bad = []
    for op, xs, got, ref, rtol in cases:
        with np.errstate(all="ignore"):
            want = ref(*xs)
        g = got.numpy()
        try:
            assert g.dtype == want.dtype or (op == "ERF" and g.dtype == np.float32), (g.dtype, want.dtype)
            if rtol:
                np.testing.assert_allclose(g, want, rtol=rtol, atol=1e-6)
            else:
                np.testing.assert_array_equal(g, want)
        except AssertionError as e:
            bad.append(f"{op}: {str(e)[:300]}")
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------ LOGADDEXP, the primitive added through the registry
def _float_dtypes(device):
    return [d for d in (np.float32, np.float64) if zyx.get_device(device).supports(dt.from_numpy(np.dtype(d)))]


def test_logaddexp_is_one_primitive():
    a, b = zyx.Tensor(np.zeros(3, np.float32)), zyx.Tensor(np.ones(3, np.float32))
    for out in (a.logaddexp(b), xp.logaddexp(a, b), np.logaddexp(a, b)):
        assert out._node.op == "LOGADDEXP" and out.dtype == dt.float32
    i = zyx.Tensor(np.arange(3, dtype=np.int16))
    assert i.logaddexp(i)._node.srcs[0].op == "CAST" and i.logaddexp(i).dtype == dt.float32  # NumPy's float rule
    with pytest.raises(TypeError):
        zyx.Tensor(np.ones(2, np.complex64)).logaddexp(1.0)


def test_logaddexp_edge_cases(device):
    """Every pair of specials (both infinities of one sign give that infinity, nan stays nan),
    tiny and huge differences, equal finite values; float32 and float64 where the device has it."""
    v = np.array([0.0, -0.0, 1.0, -1.0, -40.0, 40.0, 3.5, 88.0, -1e30, 1e30, -np.inf, np.inf, np.nan])
    a, b = np.meshgrid(v, v)
    for d in _float_dtypes(device):
        x, y = a.astype(d), b.astype(d)
        got = xp.logaddexp(zyx.Tensor(x, device=device), zyx.Tensor(y, device=device)).numpy()
        with np.errstate(all="ignore"):
            want = np.logaddexp(x, y)
        assert got.dtype == d
        np.testing.assert_allclose(got, want, rtol=4e-7 if d == np.float32 else 1e-15, atol=0)
        # rows and columns: -3 is -inf, -2 is +inf, -1 is nan
        assert np.isneginf(got[-3, -3]) and np.isposinf(got[-2, -2]) and np.isnan(got[-1, -1])
        assert np.isposinf(got[-2, -3]) and np.isposinf(got[-3, -2]) and np.isnan(got[-1, -2])
    # the small term keeps its digits
    got = xp.logaddexp(zyx.Tensor(np.float32(0), device=device), zyx.Tensor(np.float32(-40), device=device))
    assert float(got) > 0


def test_logaddexp_gradient(device):
    """d/da = exp(a - out), d/db = exp(b - out): against NumPy and central differences."""
    rng = np.random.default_rng(5)
    for d in _float_dtypes(device):
        a0, b0 = rng.uniform(-4, 4, 16).astype(d), rng.uniform(-4, 4, 16).astype(d)
        b0[:3] = a0[:3]  # equal operands: half each
        a, b = zyx.Tensor(a0, device=device), zyx.Tensor(b0, device=device)
        with zyx.GradientTape() as tape:
            loss = (a.logaddexp(b) * zyx.Tensor(np.linspace(0.5, 1.5, 16).astype(d), device=device)).sum()
            ga, gb = tape.gradient(loss, [a, b])
        w = np.linspace(0.5, 1.5, 16)
        o = np.logaddexp(a0.astype(np.float64), b0.astype(np.float64))
        rtol = 1e-5 if d == np.float32 else 1e-12
        np.testing.assert_allclose(ga.numpy(), w * np.exp(a0 - o), rtol=rtol, atol=1e-7)
        np.testing.assert_allclose(gb.numpy(), w * np.exp(b0 - o), rtol=rtol, atol=1e-7)
        np.testing.assert_allclose(ga.numpy()[:3], w[:3] * 0.5, rtol=rtol)
        if d == np.float64:
            h = 1e-6
            fd = (np.logaddexp(a0 + h, b0) - np.logaddexp(a0 - h, b0)) / (2 * h) * w
            np.testing.assert_allclose(ga.numpy(), fd, rtol=1e-6)


def test_logaddexp_compiles_with_nvrtc():
    """The CUDA spelling compiles (NVRTC; no GPU needed), float32 and float64."""
    cuda = pytest.importorskip("zyx.backends.cuda")
    try:
        cuda.nvrtc_version()
    except Exception:
        pytest.skip("NVRTC is not installed")
    for d in (dt.float32, dt.float64):
        k = _kernel("LOGADDEXP", d)
        src = CUDARenderer().render(k)
        assert "isinf" in src
        cuda.nvrtc_compile(src, "compute_90", k.name)
