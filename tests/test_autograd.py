"""GradientTape and the backward rules.

Every backward rule is checked against central finite differences of zyx's own forward
computation in float64; composite functions against PyTorch; higher derivatives
against closed forms. Shapes come from a small fixed set so compiled kernels are
reused across examples (the schedule cache keys on structure, not data).
"""
from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zyx
from zyx import GradientTape, no_grad
from zyx.autograd import RULES

SHAPES = [(), (3,), (2, 3), (2, 1, 3)]
FAST = settings(max_examples=4, deadline=None)


def T(a) -> zyx.Tensor:
    return zyx.Tensor(np.asarray(a))


def tape_grads(f, arrays, w=None):
    """Value of f and its gradients (with output gradient w) with respect to every input."""
    xs = [T(a) for a in arrays]
    with GradientTape() as tape:
        y = f(*xs)
        gs = tape.gradient(y, xs, output_gradient=None if w is None else T(w))
    return y.numpy(), [None if g is None else g.numpy() for g in gs]


def fd_grads(f, arrays, w, h=1e-6):
    """Central finite differences of sum(f(*arrays) * w), one element at a time."""
    out = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a, dtype=np.float64)
        for k in np.ndindex(a.shape):
            vals = []
            for sgn in (1, -1):
                args = [b.copy() for b in arrays]
                args[i][k] += sgn * h
                vals.append(float((f(*[T(b) for b in args]).numpy() * w).sum()))
            g[k] = (vals[0] - vals[1]) / (2 * h)
        out.append(g)
    return out


def check_fd(f, arrays, rtol=1e-5, atol=1e-6, seed=0):
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    y = f(*[T(a) for a in arrays]).numpy()
    w = np.random.default_rng(seed).uniform(0.5, 1.5, y.shape)
    _, got = tape_grads(f, arrays, w)
    want = fd_grads(f, arrays, w)
    for g, e, a in zip(got, want, arrays):
        assert g is not None and g.shape == a.shape and g.dtype == np.float64
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ unary rules
def _signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


# op name -> (function, sampler of inputs in its smooth domain)
UNARY = {
    "NEG": (lambda x: -x, lambda r, s: r.uniform(-2, 2, s)),
    "EXP": (lambda x: x.exp(), lambda r, s: r.uniform(-2, 2, s)),
    "EXP2": (lambda x: x.exp2(), lambda r, s: r.uniform(-2, 2, s)),
    "EXPM1": (lambda x: x.expm1(), lambda r, s: r.uniform(-2, 2, s)),
    "LOG": (lambda x: x.log(), lambda r, s: r.uniform(0.2, 3, s)),
    "LOG2": (lambda x: x.log2(), lambda r, s: r.uniform(0.2, 3, s)),
    "LOG10": (lambda x: x.log10(), lambda r, s: r.uniform(0.2, 3, s)),
    "LOG1P": (lambda x: x.log1p(), lambda r, s: r.uniform(-0.5, 2, s)),
    "SQRT": (lambda x: x.sqrt(), lambda r, s: r.uniform(0.2, 3, s)),
    "RECIP": (lambda x: x.reciprocal(), lambda r, s: r.uniform(0.3, 2, s) * _signs(r, s)),
    "SIN": (lambda x: x.sin(), lambda r, s: r.uniform(-3, 3, s)),
    "COS": (lambda x: x.cos(), lambda r, s: r.uniform(-3, 3, s)),
    "TAN": (lambda x: x.tan(), lambda r, s: r.uniform(-1.2, 1.2, s)),
    "ASIN": (lambda x: x.asin(), lambda r, s: r.uniform(-0.9, 0.9, s)),
    "ACOS": (lambda x: x.acos(), lambda r, s: r.uniform(-0.9, 0.9, s)),
    "ATAN": (lambda x: x.atan(), lambda r, s: r.uniform(-2, 2, s)),
    "SINH": (lambda x: x.sinh(), lambda r, s: r.uniform(-2, 2, s)),
    "COSH": (lambda x: x.cosh(), lambda r, s: r.uniform(-2, 2, s)),
    "TANH": (lambda x: x.tanh(), lambda r, s: r.uniform(-2, 2, s)),
    "ASINH": (lambda x: x.asinh(), lambda r, s: r.uniform(-2, 2, s)),
    "ACOSH": (lambda x: x.acosh(), lambda r, s: r.uniform(1.2, 3, s)),
    "ATANH": (lambda x: x.atanh(), lambda r, s: r.uniform(-0.9, 0.9, s)),
    "ABS": (lambda x: abs(x), lambda r, s: r.uniform(0.2, 2, s) * _signs(r, s)),
    "ERF": (lambda x: x.erf(), lambda r, s: r.uniform(-2, 2, s)),
    # piecewise constant: zero gradient away from the jumps
    "FLOOR": (lambda x: x.floor(), lambda r, s: r.integers(-3, 3, s) + r.uniform(0.1, 0.4, s)),
    "CEIL": (lambda x: x.ceil(), lambda r, s: r.integers(-3, 3, s) + r.uniform(0.1, 0.4, s)),
    "ROUND": (lambda x: x.round(), lambda r, s: r.integers(-3, 3, s) + r.uniform(0.1, 0.4, s)),
    "TRUNC": (lambda x: x.trunc(), lambda r, s: r.integers(-3, 3, s) + r.uniform(0.1, 0.4, s)),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@FAST
@given(shape=st.sampled_from(SHAPES), seed=st.integers(0, 2 ** 16))
def test_unary_rule_matches_finite_differences(op, shape, seed):
    assert op in RULES
    f, sample = UNARY[op]
    rng = np.random.default_rng(seed)
    x = np.asarray(sample(rng, shape), dtype=np.float64)
    w = rng.uniform(0.5, 1.5, shape)
    _, (g,) = tape_grads(f, [x], w)
    h = 1e-6
    fd = (f(T(x + h)).numpy() - f(T(x - h)).numpy()) / (2 * h) * w  # elementwise: one output per input
    assert g.shape == shape and g.dtype == np.float64
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ binary rules
BINARY = {
    "ADD": (lambda a, b: a + b, (-2, 2), (-2, 2)),
    "SUB": (lambda a, b: a - b, (-2, 2), (-2, 2)),
    "MUL": (lambda a, b: a * b, (-2, 2), (-2, 2)),
    "DIV": (lambda a, b: a / b, (-2, 2), (0.5, 2)),
    "POW": (lambda a, b: a ** b, (0.3, 2), (-2, 2)),
    "MAX": (lambda a, b: a.maximum(b), (-2, 2), (-2, 2)),
    "MIN": (lambda a, b: a.minimum(b), (-2, 2), (-2, 2)),
    "ATAN2": (lambda a, b: a.atan2(b), (-2, 2), (0.3, 2)),
    "HYPOT": (lambda a, b: a.hypot(b), (0.3, 2), (-2, 2)),
    "COPYSIGN": (lambda a, b: a.copysign(b), (0.3, 2), (-2, 2)),
    "MOD": (lambda a, b: a % b, (0.1, 0.9), (1.1, 2)),
    "IDIV": (lambda a, b: a // b, (0.1, 0.9), (1.1, 2)),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@FAST
@given(shape=st.sampled_from(SHAPES), seed=st.integers(0, 2 ** 16))
def test_binary_rule_matches_finite_differences(op, shape, seed):
    assert op in RULES
    f, (alo, ahi), (blo, bhi) = BINARY[op]
    rng = np.random.default_rng(seed)
    a = rng.uniform(alo, ahi, shape)
    b = rng.uniform(blo, bhi, shape) * (_signs(rng, shape) if op in ("COPYSIGN", "MUL") else 1)
    if op == "MOD":  # include negative operands, away from the jumps of a - floor(a/b)*b
        a = a + rng.integers(-2, 2, shape) * b
    if op in ("MAX", "MIN"):  # keep operands apart: the kink is tested separately
        b = np.where(np.abs(a - b) < 0.1, b + 0.3, b)
    w = rng.uniform(0.5, 1.5, shape)
    _, (ga, gb) = tape_grads(f, [a, b], w)
    h = 1e-6
    fda = (f(T(a + h), T(b)).numpy() - f(T(a - h), T(b)).numpy()) / (2 * h) * w
    fdb = (f(T(a), T(b + h)).numpy() - f(T(a), T(b - h)).numpy()) / (2 * h) * w
    np.testing.assert_allclose(ga, fda, rtol=1e-5, atol=1e-7)
    if op == "COPYSIGN":
        assert gb is None  # no gradient flows to the sign operand
    else:
        np.testing.assert_allclose(gb, fdb, rtol=1e-5, atol=1e-7)


def test_max_min_ties_split_evenly():
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 1.0, 5.0, -1.0])
    _, (ga, gb) = tape_grads(lambda x, y: x.maximum(y), [a, b])
    np.testing.assert_array_equal(ga, [0.5, 1, 0, 0.5])
    np.testing.assert_array_equal(gb, [0.5, 0, 1, 0.5])
    _, (ga, gb) = tape_grads(lambda x, y: x.minimum(y), [a, b])
    np.testing.assert_array_equal(ga, [0.5, 0, 1, 0.5])
    np.testing.assert_array_equal(gb, [0.5, 1, 0, 0.5])


def test_pow_at_zero_base_and_zero_exponent_is_finite():
    a = np.array([0.0, 0.0, 2.0, 0.0])
    b = np.array([2.0, 0.0, 0.0, 1.0])
    _, (ga, gb) = tape_grads(lambda x, y: x ** y, [a, b])
    np.testing.assert_allclose(ga, [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(gb, [0.0, 0.0, math.log(2.0), 0.0])
    _, (g,) = tape_grads(lambda x: x ** 2, [np.array([0.0, 3.0])])  # a constant exponent
    np.testing.assert_allclose(g, [0.0, 6.0])


def test_where_rule():
    rng = np.random.default_rng(1)
    c = rng.random((2, 3)) < 0.5
    check_fd(lambda a, b: zyx.where(T(c), a.sin(), b * b), [rng.normal(size=(2, 3)), rng.normal(size=(1, 3))])


def test_cast_rule_returns_gradient_in_source_dtype():
    x = zyx.Tensor(np.array([0.5, 1.5, -2.0], dtype=np.float32))
    with GradientTape() as tape:
        y = x.cast(zyx.float64).sin().cast(zyx.float32) * 3
        (g,) = tape.gradient(y, [x])
    assert g.dtype is zyx.float32 and g.shape == (3,)
    np.testing.assert_allclose(g.numpy(), 3 * np.cos([0.5, 1.5, -2.0]), rtol=1e-6)


def test_integer_values_carry_no_gradient():
    x = T(np.array([1.5, -2.5, 3.0]))
    i = zyx.Tensor(np.array([1, 2, 3]))
    with GradientTape() as tape:
        y = (x.cast(zyx.int64) * i).cast(zyx.float64) + x * i
        gx, gi = tape.gradient(y, [x, i])
    assert gi is None
    np.testing.assert_array_equal(gx.numpy(), [1.0, 2.0, 3.0])  # the int path contributes nothing
    with GradientTape() as tape:
        k = x.cast(zyx.int64) * 2
        with pytest.raises(TypeError, match="int64"):
            tape.gradient(k, [x])


# ------------------------------------------------------------------ reductions
@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min", "mean"])
@FAST
@given(axis=st.sampled_from([None, 0, 1, -1, (0, 2)]), seed=st.integers(0, 2 ** 16))
def test_reduce_rule_matches_finite_differences(kind, axis, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, (2, 3, 2)) * _signs(rng, (2, 3, 2))  # distinct values: no ties
    check_fd(lambda t: getattr(t, kind)(axis=axis), [x], seed=seed)


def _prod_of_others(row):
    return np.array([np.prod(np.delete(row, i)) for i in range(len(row))])


@pytest.mark.parametrize("row", [[2.0, 3.0, 0.5, -1.0], [2.0, 0.0, 4.0, -1.0], [0.0, 3.0, 0.0, 5.0],
                                 [0.0, 0.0, 0.0, 0.0]])
def test_prod_gradient_with_zeros(row):
    x = np.array([row, row[::-1]])
    _, (g,) = tape_grads(lambda t: t.prod(axis=1), [x])
    want = np.stack([_prod_of_others(np.array(row)), _prod_of_others(np.array(row[::-1]))])
    np.testing.assert_array_equal(g, want)
    assert np.isfinite(g).all()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 16), axis=st.sampled_from([0, 1, None]))
def test_max_min_reduce_ties_split_evenly(seed, axis):
    x = np.random.default_rng(seed).integers(0, 3, (3, 4)).astype(np.float64)  # many ties
    for kind in ("max", "min"):
        _, (g,) = tape_grads(lambda t: getattr(t, kind)(axis=axis), [x])
        m = getattr(x, kind)(axis=axis, keepdims=True)
        hit = x == m
        np.testing.assert_allclose(g, hit / hit.sum(axis=axis, keepdims=True))


# ------------------------------------------------------------------ movement and gather
MOVES = {
    "reshape": lambda t: t.reshape(4, 6) * 1.5,
    "permute": lambda t: t.permute(2, 0, 1).sin(),
    "expand": lambda t: t[:, :1, :].broadcast_to((3, 2, 5, 4)) * T(np.arange(120.0).reshape(3, 2, 5, 4)),
    "slice": lambda t: t[1:, ::2, 1:3],
    "step_slice": lambda t: t[::-1, 2::-2, ::3].cos(),
    "index": lambda t: t[1, -1, :3] * t[0, :, 2],
    "flip": lambda t: t.flip(axis=1) * T(np.arange(24.0).reshape(2, 3, 4)),
    "pad": lambda t: t.pad([(1, 0), (0, 2), (1, 1)], value=3.0).exp(),
    "crop_pad": lambda t: t.pad([(0, 0), (-1, 1), (2, -1)]) * 2,
    "cat": lambda t: zyx.cat([t, t[:, :1] * 2], axis=1).tanh(),
    "stack": lambda t: zyx.stack([t, t.flip(axis=0)], axis=1).sin(),
    "roll": lambda t: t.roll(1, axis=2) * T(np.arange(24.0).reshape(2, 3, 4)),
    "repeat_tile": lambda t: t.repeat(2, axis=1).sum() + t.tile((1, 2, 1)).sin().sum(),
}


@pytest.mark.parametrize("name", sorted(MOVES))
def test_movement_rule_matches_finite_differences(name):
    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    check_fd(MOVES[name], [x])


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_gather_scatters_back_with_repeated_indices(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 3))
    idx = rng.integers(-4, 4, (6, 3))  # repeats and negative indices
    w = rng.uniform(0.5, 1.5, (6, 3))
    _, (g, gi) = tape_grads(lambda t, i: t.gather(0, i), [x, idx], w)
    want = np.zeros_like(x)
    for r in range(6):
        for c in range(3):
            want[idx[r, c] % 4, c] += w[r, c]
    assert gi is None
    np.testing.assert_allclose(g, want)
    take_idx = rng.integers(0, 4, 7)
    _, (g, _) = tape_grads(lambda t, i: t.take(i, axis=0), [x, take_idx])
    np.testing.assert_allclose(g, np.bincount(take_idx, minlength=4)[:, None] * np.ones((1, 3)))


def test_advanced_indexing_gradient():
    x = np.random.default_rng(4).normal(size=(4, 5))
    check_fd(lambda t: t[T(np.array([0, 2, 2, -1])), 1:4] * 2, [x])


def test_complex_rules_match_finite_differences():
    """real/imag/conj/abs/complex and complex mul/div/exp, PyTorch's convention: the
    gradient of a real loss is dL/dRe + i dL/dIm."""
    rng = np.random.default_rng(5)
    re, im = rng.normal(size=3), rng.normal(size=3)
    c = T(np.array([1 + 2j, -0.5 + 1j, 2 - 1j]))

    def loss(a, b):
        z = zyx._math.complex_(a, b)
        u = (z * c + z.conj() / c).exp() * z
        return abs(u) + u.real * 2 - u.imag
    check_fd(loss, [re, im])

    def loss2(a, b):
        z = zyx._math.complex_(a, b)
        return z.angle()  # angle of a complex number
    check_fd(loss2, [re, im])
    zr = T(re + 1j * im)
    with GradientTape() as tape:
        y = abs(zr * zr).sum()
        (gz,) = tape.gradient(y, [zr])
    z = re + 1j * im  # |z^2| = |z|^2 -> gradient 2z
    np.testing.assert_allclose(gz.numpy(), 2 * z, rtol=1e-12)


# ------------------------------------------------------------------ composites against PyTorch
def _torch():
    return pytest.importorskip("torch")


def _compare_with_torch(zyx_fn, torch_fn, arrays, rtol=1e-7, atol=1e-9):
    torch = _torch()
    _, got = tape_grads(zyx_fn, arrays)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = torch_fn(*ts)
    want = torch.autograd.grad(out, ts, grad_outputs=torch.ones_like(out), allow_unused=True)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e.numpy(), rtol=rtol, atol=atol)


def test_mlp_against_torch():
    torch = _torch()
    rng = np.random.default_rng(6)
    x, w1, b1, w2, b2 = (rng.normal(size=s) for s in [(5, 4), (4, 8), (8,), (8, 3), (3,)])
    _compare_with_torch(
        lambda x, w1, b1, w2, b2: ((x @ w1 + b1).relu() @ w2 + b2).tanh().mean(),
        lambda x, w1, b1, w2, b2: torch.tanh(torch.relu(x @ w1 + b1) @ w2 + b2).mean(),
        [x, w1, b1, w2, b2])


def test_softmax_cross_entropy_against_torch():
    torch = _torch()
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(6, 5)) * 4
    labels = rng.integers(0, 5, 6)
    onehot = np.eye(5)[labels]
    _compare_with_torch(lambda z: -(z.log_softmax(axis=-1) * T(onehot)).sum(axis=-1).mean(),
                        lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(labels)), [logits])
    _compare_with_torch(lambda z: -(z.softmax(axis=-1) * T(onehot)).sum(),
                        lambda z: -(torch.softmax(z, -1) * torch.tensor(onehot)).sum(), [logits])
    _compare_with_torch(lambda z: z.logsumexp(axis=1), lambda z: torch.logsumexp(z, 1), [logits])


def test_softmax_gradient_is_stable_for_large_logits():
    torch = _torch()
    z = np.array([[1000.0, 0.0, -1000.0, 999.0], [-500.0, -500.0, -501.0, 20.0]])
    w = np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 2.0, 1.0]])
    _compare_with_torch(lambda t: (t.softmax(axis=1) * T(w)).sum(),
                        lambda t: (torch.softmax(t, 1) * torch.tensor(w)).sum(), [z], atol=1e-12)
    _compare_with_torch(lambda t: (t.log_softmax(axis=1) * T(w)).sum(),
                        lambda t: (torch.log_softmax(t, 1) * torch.tensor(w)).sum(), [z], atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "elu", "silu", "mish", "gelu", "logaddexp"])
def test_activation_gradients_are_finite_and_match_torch(name):
    torch = _torch()
    x = np.array([-1000.0, -50.0, -1.0, 0.0, 0.5, 3.0, 50.0, 1000.0])
    if name == "logaddexp":
        _compare_with_torch(lambda t: t.logaddexp(t * 0.5), lambda t: torch.logaddexp(t, t * 0.5), [x])
        return
    _compare_with_torch(lambda t: getattr(t, name)(), lambda t: getattr(torch.nn.functional, name)(t), [x],
                        rtol=1e-6)


def test_layernorm_against_torch():
    torch = _torch()
    rng = np.random.default_rng(8)
    x, g, b = rng.normal(size=(3, 4, 6)), rng.normal(size=(6,)), rng.normal(size=(6,))
    w = rng.normal(size=(3, 4, 6))

    def zyx_ln(x, g, b):
        m = x.mean(axis=-1, keepdims=True)
        v = x.var(axis=-1, keepdims=True)
        return (((x - m) / (v + 1e-5).sqrt()) * g + b) * T(w)

    _compare_with_torch(zyx_ln, lambda x, g, b: torch.nn.functional.layer_norm(x, (6,), g, b, 1e-5)
                        * torch.tensor(w), [x, g, b], rtol=1e-6)


def test_conv_via_unfold_and_matmul_against_torch():
    torch = _torch()
    rng = np.random.default_rng(9)
    x, k, bias = rng.normal(size=(2, 3, 8)), rng.normal(size=(4, 3, 3)), rng.normal(size=(4,))

    def zyx_conv(x, k, bias):
        patches = zyx.stack([x[:, :, i:i + 6] for i in range(3)], axis=-1)  # (2, 3, 6, 3)
        cols = patches.permute(0, 2, 1, 3).reshape(2, 6, 9)
        out = cols @ k.reshape(4, 9).T + bias  # (2, 6, 4)
        return (out.permute(0, 2, 1) ** 2).sum()

    _compare_with_torch(zyx_conv, lambda x, k, b: (torch.nn.functional.conv1d(x, k, b) ** 2).sum(),
                        [x, k, bias], rtol=1e-6)


def test_gather_slicing_setitem_cumsum_against_torch():
    torch = _torch()
    rng = np.random.default_rng(10)
    x, v = rng.normal(size=(5, 4)), rng.normal(size=(2, 4))
    idx = np.array([[0, 3], [3, 3], [1, 0], [2, 2], [0, 0]])

    def zyx_fn(x, v):
        y = x * 2
        y[1:3] = v.exp()
        g = y.gather(1, T(idx))
        return (g.cumsum(axis=0) * y[::2, 1:3].sin()[:1]).sum() + y[:, ::-1].cumsum(axis=1).sum()

    def torch_fn(x, v):
        y = x * 2
        y = torch.cat([y[:1], v.exp(), y[3:]])
        g = torch.gather(y, 1, torch.tensor(idx))
        return (g.cumsum(0) * y[::2, 1:3].sin()[:1]).sum() + torch.flip(y, [1]).cumsum(1).sum()

    _compare_with_torch(zyx_fn, torch_fn, [x, v])


def test_max_with_ties_against_torch():
    torch = _torch()
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 5.0, 0.0, 5.0]])
    _compare_with_torch(lambda t: (t.max(axis=1) * T([1.0, 2.0, 3.0])).sum() + t.min(),
                        lambda t: (torch.amax(t, 1) * torch.tensor([1.0, 2.0, 3.0])).sum() + torch.amin(t),
                        [x])


# ------------------------------------------------------------------ higher order
def _derivatives(f, x0: float, order: int):
    x = T(np.array([x0]))
    out = []
    with GradientTape() as tape:
        y = f(x)
        for k in range(order):
            last = k == order - 1
            (y,) = (tape.gradient if last else tape.gradient_persistent)(y, [x])
            out.append(float(y.numpy()[0]))
    return out


@pytest.mark.parametrize("x0", [-0.7, 0.3, 1.9])
def test_third_derivatives_against_closed_forms(x0):
    np.testing.assert_allclose(_derivatives(lambda x: x.sin(), x0, 3),
                               [math.cos(x0), -math.sin(x0), -math.cos(x0)], rtol=1e-12)
    np.testing.assert_allclose(_derivatives(lambda x: x ** 4, x0, 3), [4 * x0 ** 3, 12 * x0 ** 2, 24 * x0],
                               rtol=1e-12)
    np.testing.assert_allclose(_derivatives(lambda x: (x * 2).exp(), x0, 3),
                               [2 * math.exp(2 * x0), 4 * math.exp(2 * x0), 8 * math.exp(2 * x0)], rtol=1e-12)
    np.testing.assert_allclose(_derivatives(lambda x: x.sigmoid(), x0, 2),
                               [_sig(x0) * (1 - _sig(x0)), _sig(x0) * (1 - _sig(x0)) * (1 - 2 * _sig(x0))],
                               rtol=1e-12)
    np.testing.assert_allclose(_derivatives(lambda x: x.softplus(), x0, 2),
                               [_sig(x0), _sig(x0) * (1 - _sig(x0))], rtol=1e-12)


def _sig(x):
    return 1 / (1 + math.exp(-x))


def test_seed_example_second_order_against_torch():
    torch = _torch()
    x = zyx.Tensor.randn((8, 16, 16), dtype=zyx.float64)
    b = zyx.zeros((16,), dtype=zyx.float64)
    with GradientTape() as tape:
        z = (x @ x + b).gelu()
        (gb,) = tape.gradient_persistent(z, [b])
        (gbb,) = tape.gradient(gb, [b])
    xt = torch.tensor(x.numpy())
    bt = torch.zeros(16, dtype=torch.float64, requires_grad=True)
    (g1,) = torch.autograd.grad(torch.nn.functional.gelu(xt @ xt + bt).sum(), bt, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), bt)
    np.testing.assert_allclose(gb.numpy(), g1.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(gbb.numpy(), g2.numpy(), rtol=1e-9, atol=1e-9)


def test_hessian_vector_product_of_quadratic_form():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(4, 4))
    x = T(rng.normal(size=4))
    with GradientTape() as tape:
        y = (x * (T(a) @ x)).sum()  # x^T A x: gradient (A + A^T) x, Hessian A + A^T
        (g,) = tape.gradient_persistent(y, [x])
        h_rows = [tape.gradient_persistent(g[i], [x])[0].numpy() for i in range(4)]
        tape.close()
    np.testing.assert_allclose(g.numpy(), (a + a.T) @ x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.stack(h_rows), a + a.T, rtol=1e-12)


# ------------------------------------------------------------------ tape semantics
def test_nested_tapes_record_independently():
    x = T(np.array([0.4, -1.3]))
    with GradientTape() as outer:
        with GradientTape() as inner:
            y = x.sin() * x
            (dy,) = inner.gradient(y, [x])  # recorded by the outer tape
        (d2y,) = outer.gradient(dy, [x])
    xs = x.numpy()
    np.testing.assert_allclose(dy.numpy(), np.cos(xs) * xs + np.sin(xs), rtol=1e-12)
    np.testing.assert_allclose(d2y.numpy(), -np.sin(xs) * xs + 2 * np.cos(xs), rtol=1e-12)
    # an inner tape opened later does not see what happened before it
    with GradientTape() as outer:
        y = x * 3
        with GradientTape() as inner:
            z = y * y
            gy, gx = inner.gradient(z, [y, x])
        (gx_outer,) = outer.gradient(z, [x])
    assert gx is None
    np.testing.assert_allclose(gy.numpy(), 2 * 3 * xs)
    np.testing.assert_allclose(gx_outer.numpy(), 18 * xs)


def test_persistent_tape_then_gradient_ends_it():
    x = T(np.array([1.0, 2.0]))
    tape = GradientTape()  # plain object use, no with-block
    y = (x * x).sum()
    (g1,) = tape.gradient_persistent(y, [x])
    (g2,) = tape.gradient_persistent(y * 3, [x])
    (g3,) = tape.gradient(y, [x])
    for g, k in ((g1, 2), (g2, 6), (g3, 2)):
        np.testing.assert_allclose(g.numpy(), k * x.numpy())
    assert not tape.recording
    with pytest.raises(RuntimeError, match="already ended"):
        tape.gradient(y, [x])
    with pytest.raises(RuntimeError, match="already ended"):
        tape.gradient_persistent(y, [x])


def test_gradient_after_with_block_raises():
    x = T(np.array([1.0]))
    with GradientTape() as tape:
        y = x * 2
    with pytest.raises(RuntimeError, match="already ended"):
        tape.gradient(y, [x])


def test_unrelated_and_constant_sources_get_none():
    x, u = T(np.array([1.0, 2.0])), T(np.array([3.0]))
    before = x * 5  # made before the tape: a constant to it
    with GradientTape() as tape:
        y = (before * x).sum()
        gx, gu, gb, gy = tape.gradient(y, [x, u, before, y])
    np.testing.assert_allclose(gx.numpy(), [5.0, 10.0])
    assert gu is None
    np.testing.assert_allclose(gb.numpy(), x.numpy())  # usable as a source, not differentiated through
    np.testing.assert_allclose(gy.numpy(), 1.0)


def test_non_scalar_target_uses_ones_or_output_gradient():
    x = T(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with GradientTape() as tape:
        y = x * x
        (g,) = tape.gradient_persistent(y, [x])
        (gw,) = tape.gradient(y, [x], output_gradient=T(np.array([[1.0, 0.0], [2.0, -1.0]])))
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    np.testing.assert_allclose(gw.numpy(), 2 * x.numpy() * [[1, 0], [2, -1]])
    with GradientTape() as tape:
        y = x * x
        with pytest.raises(ValueError, match="output_gradient"):
            tape.gradient(y, [x], output_gradient=T(np.ones(3)))


def test_bad_arguments_raise_clear_errors():
    x = T(np.array([1.0]))
    with GradientTape() as tape:
        y = x * 2
        with pytest.raises(TypeError, match="sequence"):
            tape.gradient_persistent(y, x)
        with pytest.raises(TypeError, match="zyx.Tensor"):
            tape.gradient_persistent(y, [np.ones(1)])
        with pytest.raises(TypeError, match="target"):
            tape.gradient_persistent(3.0, [x])


def test_sources_may_be_intermediates_and_slices():
    x = T(np.array([1.0, 2.0, 3.0]))
    with GradientTape() as tape:
        s = x[1:]
        h = s * s
        y = (h * x[:2]).sum()
        gx, gs, gh = tape.gradient(y, [x, s, h])
    np.testing.assert_allclose(gh.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(gs.numpy(), 2 * np.array([2.0, 3.0]) * [1.0, 2.0])
    np.testing.assert_allclose(gx.numpy(), [4.0, 9.0 + 4.0, 12.0])


def test_reshape_back_to_original_shape_is_tracked():
    """graph.reshape folds reshape(reshape(x)) back to x; the tape must still see the
    intermediate as a separate value (no cycle, correct gradient)."""
    x = T(np.arange(6.0).reshape(2, 3))
    with GradientTape() as tape:
        a = x.reshape(6)
        b = a.reshape(2, 3)
        p = b.permute(1, 0).permute(1, 0)
        y = (p * b).sum()
        ga, gx = tape.gradient(y, [a, x])
    np.testing.assert_allclose(ga.numpy(), 2 * np.arange(6.0))
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy())


def test_setitem_gradient_flows_to_both_sides():
    base, v = T(np.arange(5.0)), T(np.array([10.0, 20.0]))
    with GradientTape() as tape:
        x = base * 1.0
        x[1:4:2] = v * 3
        y = (x * x).sum()
        gb, gv = tape.gradient(y, [base, v])
    np.testing.assert_allclose(gb.numpy(), [0.0, 0.0, 4.0, 0.0, 8.0])
    np.testing.assert_allclose(gv.numpy(), 2 * 3 * 3 * v.numpy())


def test_detach_and_no_grad_make_constants():
    x = T(np.array([1.0, 2.0]))
    with GradientTape() as tape:
        y = (x * x.detach()).sum()
        with no_grad():
            c = x * 10
        z = (c * x).sum()
        gy, gz = tape.gradient_persistent(y, [x])[0], tape.gradient_persistent(z, [x])[0]
        (gc,) = tape.gradient(c.sum(), [x])
    np.testing.assert_allclose(gy.numpy(), x.numpy())  # not 2x: the detached factor is a constant
    np.testing.assert_allclose(gz.numpy(), 10 * x.numpy())
    assert gc is None
    np.testing.assert_allclose(x.detach().numpy(), x.numpy())


def test_no_grad_keeps_tape_state_consistent():
    from zyx import tensor as core
    n = len(core._recorders)
    outer = GradientTape()
    with no_grad():
        assert len(core._recorders) == n
        inner = GradientTape()  # opened inside: records there, stays open afterwards
        outer.close()           # ended inside: must not come back
    assert inner.recording and not outer.recording
    assert len(core._recorders) == n + 1
    inner.close()
    assert len(core._recorders) == n

    @no_grad()
    def f(t):
        return t * 2
    x = T(np.array([1.0]))
    with GradientTape() as tape:
        (g,) = tape.gradient(f(x), [x])
    assert g is None


def test_tape_frees_what_backward_kept_when_it_ends():
    x = T(np.random.default_rng(12).normal(size=(16,)))

    def run(persistent: bool):
        tape = GradientTape()
        h = (x * 2).exp()
        ref = weakref.ref(h._node)
        y = (h * h).sum()
        y.realize()  # y no longer needs h's graph; only the tape does (EXP and MUL rules)
        del h
        gc.collect()
        alive_during = ref() is not None
        if persistent:
            (g,) = tape.gradient_persistent(y, [x])
        else:
            (g,) = tape.gradient(y, [x])
        g.realize()
        np.testing.assert_allclose(g.numpy(), 4 * np.exp(4 * x.numpy()), rtol=1e-12)
        del g
        gc.collect()
        return alive_during, ref() is not None, tape

    during, after, tape = run(persistent=True)
    assert during and after  # an open tape keeps what backward needs
    tape.close()
    del tape
    during, after, _ = run(persistent=False)
    assert during and not after  # gradient() ended the tape and released it


def test_unreferenced_tape_is_uninstalled():
    from zyx import tensor as core
    n = len(core._recorders)
    GradientTape()  # never ended explicitly
    gc.collect()
    assert len(core._recorders) == n


def test_backward_graph_is_lazy_and_fuses():
    import importlib
    rz = importlib.import_module("zyx.realize")  # the module (zyx.realize is also a function)
    x = T(np.linspace(-1, 1, 64).reshape(8, 8))
    with GradientTape() as tape:
        y = ((x * 2).sin() * x).sum()
        rz.stats.reset()
        (g,) = tape.gradient(y, [x])
        assert rz.stats.launches == 0  # nothing ran yet
    g.realize()
    assert rz.stats.launches == 1  # the whole elementwise gradient is one kernel
    xs = x.numpy()
    np.testing.assert_allclose(g.numpy(), 2 * np.cos(2 * xs) * xs + np.sin(2 * xs), rtol=1e-12)


def test_every_recorded_primitive_has_a_rule():
    from zyx import ops
    differentiable = (ops.UNARY | ops.BINARY | ops.TERNARY | ops.CASTS | ops.MOVEMENT) - ops.COMPARE - {
        "NOT", "BITNOT", "ISNAN", "ISINF", "SIGNBIT", "AND", "OR", "XOR", "SHL", "SHR"}
    missing = sorted((differentiable | {"REDUCE", "GATHER", "TO_DEVICE"}) - set(RULES))
    assert not missing


def test_gradient_through_array_api_namespace():
    xp = pytest.importorskip("zyx.array_api")
    if not all(hasattr(xp, n) for n in ("asarray", "sin", "sum", "multiply")):
        pytest.skip("zyx.array_api is not complete yet")
    x = T(np.array([0.5, 1.0, 2.0]))
    with GradientTape() as tape:
        y = xp.sum(xp.multiply(xp.sin(x), x))
        (g,) = tape.gradient(y, [x])
    xs = x.numpy()
    np.testing.assert_allclose(g.numpy(), np.cos(xs) * xs + np.sin(xs), rtol=1e-12)


def test_composite_records_one_op_with_its_own_backward_and_checks_its_arguments():
    """autograd.composite: the internals are not recorded; the given backward is used (to
    any order, since it is written in Tensor ops); bad arguments raise TypeError."""
    from zyx.autograd import composite
    calls = []

    def fwd(a):
        return (a * a).sum()

    def bwd(g, inputs, out, arg):
        calls.append(arg)
        (a,) = inputs
        return (lambda: g * 2 * a * arg,)  # deliberately scaled: proves this rule is the one used

    x = T(np.array([1.0, -2.0, 3.0]))
    with zyx.GradientTape() as tape:
        y = composite(fwd, bwd, x, arg=3.0)
        assert len(tape) == 1  # one record, not the multiply and the sum
        (gx,) = tape.gradient(y, [x])
    np.testing.assert_allclose(gx.numpy(), 6.0 * np.array([1.0, -2.0, 3.0]))
    assert calls == [3.0]
    assert float(composite(fwd, bwd, x)) == 14.0  # no tape: just the forward
    with pytest.raises(TypeError, match="zyx.Tensor"):
        composite(fwd, bwd, np.ones(3))
    with pytest.raises(TypeError, match="callables"):
        composite(None, bwd, x)
    with pytest.raises(TypeError, match="must return a zyx.Tensor"):
        composite(lambda a: 1.0, bwd, x)
