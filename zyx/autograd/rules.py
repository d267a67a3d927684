"""Backward rules: one function per differentiable primitive, in one table.

Every rule has the signature ``rule(g, inputs, out, arg) -> tuple``:

* ``g`` is the gradient arriving at the primitive's output (shape and dtype of ``out``);
* ``inputs`` are the primitive's input tensors and ``out`` its output, as they were
  when the op was recorded (the tape keeps their nodes alive for this);
* ``arg`` is the primitive's argument (axes, shape, bounds, ...).

It returns one entry per input: a Tensor (the gradient for that input), ``None`` (no
gradient flows to that input), or a zero-argument callable producing the gradient -
the engine calls it only when that input leads to a requested source, so ``x ** 2``
never builds the gradient of the constant exponent.

Rules are written with ordinary Tensor operations. While a persistent tape computes a
gradient those operations are recorded like any others, so the gradient is itself
differentiable, to any order.

Complex numbers follow PyTorch's convention: the gradient of a real loss ``L`` with
respect to ``z = x + iy`` is ``dL/dx + i dL/dy``; for a holomorphic ``f`` the rule is
``g * conj(f'(z))``. ``conj`` is a no-op on real tensors, so one formula serves both.
"""
from __future__ import annotations

import math
from typing import Callable

from .. import _math
from .. import dtypes as dt
from .._movement import _unshrink
from ..creation import arange, zeros_like
from ..tensor import Tensor

Rule = Callable[[Tensor, tuple, Tensor, object], tuple]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---------------------------------------------------------------- unary math
# d out / d x as a function of the input x and the output y; the rule is g * conj(d).
UNARY_DERIVATIVES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "EXP": lambda x, y: y,
    "EXP2": lambda x, y: y * _LN2,
    "EXPM1": lambda x, y: x.exp(),
    "LOG": lambda x, y: x.reciprocal(),
    "LOG2": lambda x, y: (x * _LN2).reciprocal(),
    "LOG10": lambda x, y: (x * _LN10).reciprocal(),
    "LOG1P": lambda x, y: (x + 1).reciprocal(),
    "SQRT": lambda x, y: (y * 2).reciprocal(),
    "RECIP": lambda x, y: -(y * y),
    "SIN": lambda x, y: x.cos(),
    "COS": lambda x, y: -x.sin(),
    "TAN": lambda x, y: y * y + 1,
    "ASIN": lambda x, y: (1 - x * x).sqrt().reciprocal(),
    "ACOS": lambda x, y: -(1 - x * x).sqrt().reciprocal(),
    "ATAN": lambda x, y: (x * x + 1).reciprocal(),
    "SINH": lambda x, y: x.cosh(),
    "COSH": lambda x, y: x.sinh(),
    "TANH": lambda x, y: 1 - y * y,
    "ASINH": lambda x, y: (x * x + 1).sqrt().reciprocal(),
    "ACOSH": lambda x, y: ((x - 1).sqrt() * (x + 1).sqrt()).reciprocal(),
    "ATANH": lambda x, y: (1 - x * x).reciprocal(),
    "ERF": lambda x, y: (-(x * x)).exp() * _TWO_OVER_SQRT_PI,
}


def _unary_rule(derivative: Callable[[Tensor, Tensor], Tensor]) -> Rule:
    def rule(g, inputs, out, arg):
        return (g * derivative(inputs[0], out).conj(),)
    return rule


def neg(g, inputs, out, arg):
    return (-g,)


def zero(g, inputs, out, arg):
    """Piecewise-constant functions (floor, ceil, round, trunc, idiv): zero almost everywhere."""
    return tuple((lambda t=t: zeros_like(t)) if t.dtype.is_inexact else None for t in inputs)


def nondifferentiable(g, inputs, out, arg):
    """Bit-level ops (bitcast, nextafter): no gradient flows through them."""
    return tuple(None for _ in inputs)


def abs_(g, inputs, out, arg):
    """|x|: sign(x) (0 at 0, as PyTorch); for complex z: g * z/|z|."""
    x = inputs[0]
    return (g.cast(x.dtype) * x.sign(),)


def real(g, inputs, out, arg):
    return (g.cast(inputs[0].dtype),)


def imag(g, inputs, out, arg):
    return (_math.complex_(zeros_like(g), g).cast(inputs[0].dtype),)


def conj(g, inputs, out, arg):
    return (g.conj(),)


def angle(g, inputs, out, arg):
    """angle(z) = atan2(y, x): gradient (-y + ix) / |z|^2."""
    z = inputs[0]
    x, y = z.real, z.imag
    r2 = x * x + y * y
    return (_math.complex_(-y * g / r2, x * g / r2).cast(z.dtype),)


# ---------------------------------------------------------------- binary math
def add(g, inputs, out, arg):
    return (g, g)


def sub(g, inputs, out, arg):
    return (g, lambda: -g)


def mul(g, inputs, out, arg):
    a, b = inputs
    return (lambda: g * b.conj(), lambda: g * a.conj())


def div(g, inputs, out, arg):
    a, b = inputs
    return (lambda: g / b.conj(), lambda: -g * (out / b).conj())


def pow_(g, inputs, out, arg):
    """a ** b: b * a**(b-1) (0 where b == 0) and a**b * log(a) (0 where a == 0, b >= 0)."""
    a, b = inputs

    def base():
        d = b * a ** (b - 1)
        return g * _math.where(b == 0, 0.0, d).conj()

    def exponent():
        at_zero = a == 0 if a.dtype.is_complex else (a == 0).logical_and(b >= 0)
        safe = _math.where(at_zero, 1.0, a)
        return g * _math.where(at_zero, 0.0, out * safe.log()).conj()
    return (base, exponent)


def maximum(g, inputs, out, arg):
    """max(a, b): the larger input gets g; ties split it evenly."""
    a, b = inputs
    return (lambda: _math.where(a > b, g, _math.where(a == b, g * 0.5, 0.0)),
            lambda: _math.where(b > a, g, _math.where(a == b, g * 0.5, 0.0)))


def minimum(g, inputs, out, arg):
    a, b = inputs
    return (lambda: _math.where(a < b, g, _math.where(a == b, g * 0.5, 0.0)),
            lambda: _math.where(b < a, g, _math.where(a == b, g * 0.5, 0.0)))


def atan2(g, inputs, out, arg):
    """atan2(y, x): x / (x^2 + y^2) and -y / (x^2 + y^2)."""
    y, x = inputs
    return (lambda: g * x / (x * x + y * y), lambda: -g * y / (x * x + y * y))


def hypot(g, inputs, out, arg):
    a, b = inputs
    return (lambda: g * a / out, lambda: g * b / out)


def logaddexp(g, inputs, out, arg):
    """log(e^a + e^b): e^(a - out) and e^(b - out)."""
    a, b = inputs
    return (lambda: g * (a - out).exp(), lambda: g * (b - out).exp())


def copysign(g, inputs, out, arg):
    """|a| with b's sign: +-1 for a, nothing for b."""
    a, b = inputs
    return (lambda: _math.where(a.signbit().logical_xor(b.signbit()), -g, g), None)


def mod(g, inputs, out, arg):
    """a mod b = a - floor(a / b) * b."""
    a, b = inputs
    return (g, lambda: -g * (a / b).floor())


def complex_(g, inputs, out, arg):
    """complex(re, im): the real and imaginary parts of g."""
    return (lambda: g.real, lambda: g.imag)


def where(g, inputs, out, arg):
    c, a, b = inputs
    return (None, lambda: _math.where(c, g, 0.0), lambda: _math.where(c, 0.0, g))


def cast(g, inputs, out, arg):
    """A cast back to the input's dtype; a complex -> real cast kept the real part."""
    x = inputs[0]
    if g.dtype.is_complex and not x.dtype.is_complex:
        g = g.real
    return (g.cast(x.dtype),)


# ---------------------------------------------------------------- reductions
def reduce(g, inputs, out, arg):
    kind, axes = arg
    x = inputs[0]
    if kind == "SUM":
        return (g.broadcast_to(x.shape),)
    if kind == "PROD":
        return (_prod_grad(g, x, out, axes),)
    # MAX / MIN: g goes to the elements equal to the result, split evenly among ties
    hit = x == out.broadcast_to(x.shape)
    count = hit.cast(g.dtype).sum(axis=axes, keepdims=True)
    return (_math.where(hit, (g / count).broadcast_to(x.shape), 0.0),)


def _prod_grad(g: Tensor, x: Tensor, out: Tensor, axes) -> Tensor:
    """d prod / d x_i = product of the others, computed without dividing by zero: with no
    zero it is prod / x_i; with one zero only that element gets the product of the
    others; with two or more zeros every derivative is zero."""
    is_zero = x == 0
    zeros = is_zero.cast(dt.int32).sum(axis=axes, keepdims=True).broadcast_to(x.shape)
    nonzero_prod = _math.where(is_zero, 1, x).prod(axis=axes, keepdims=True).broadcast_to(x.shape)
    safe_x = _math.where(is_zero, 1, x)
    others = _math.where(zeros == 0, nonzero_prod / safe_x,
                         _math.where((zeros == 1).logical_and(is_zero), nonzero_prod, 0))
    return g.broadcast_to(x.shape) * others.conj()


# ---------------------------------------------------------------- movement
def reshape(g, inputs, out, arg):
    return (g.reshape(inputs[0].shape),)


def permute(g, inputs, out, arg):
    inverse = [0] * len(arg)
    for i, p in enumerate(arg):
        inverse[p] = i
    return (g.permute(*inverse),)


def expand(g, inputs, out, arg):
    """Broadcasting copies an element; its gradient sums the copies."""
    x = inputs[0]
    if not x.shape:  # a 0-d value broadcast to any shape
        return (g.sum(),)
    axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, arg)) if a != b)
    return (g.sum(axis=axes, keepdims=True),)


def shrink(g, inputs, out, arg):
    """A strided slice: scatter g back into the sliced positions, zeros elsewhere."""
    x = inputs[0]
    for axis, ((start, size, step), full) in enumerate(zip(arg, x.shape)):
        if (start, size, step) != (0, full, 1):
            g = _unshrink(g, axis, start, size, step, full)
    return (g,)


def pad(g, inputs, out, arg):
    pads, _value = arg
    return (g.pad([(-a, -b) for a, b in pads]),)


def gather(g, inputs, out, axis):
    """out[..i..] = src[..index[..i..]..]: scatter-add g back along ``axis``. Written as a
    one-hot comparison summed over the index axis, so repeated indices add up and the
    whole scatter is one fused reduction (no atomics, same result on every device)."""
    src, index = inputs

    def scatter():
        n = src.shape[axis]
        idx = index.clip(0, n - 1)  # the forward kernel clamps indices the same way
        pos_shape = [1] * (g.ndim + 1)
        pos_shape[axis] = n
        pos = arange(n, dtype=idx.dtype, device=idx.device).reshape(tuple(pos_shape))
        hit = idx.unsqueeze(axis) == pos  # [..., n, m, ...]
        grad = _math.where(hit, g.unsqueeze(axis), 0.0).sum(axis=axis + 1)
        extra = tuple(i for i, (a, b) in enumerate(zip(src.shape, grad.shape)) if a != b)
        return grad.sum(axis=extra, keepdims=True) if extra else grad
    return (scatter, None)


def to_device(g, inputs, out, arg):
    return (g.to(arg),)


# ---------------------------------------------------------------- the table
def composite(g, inputs, out, arg):
    """An operation recorded by ``tape.composite``: its own backward function."""
    backward, extra = arg
    return backward(g, inputs, out, extra)


RULES: dict[str, Rule] = {op: _unary_rule(d) for op, d in UNARY_DERIVATIVES.items()}
RULES.update({
    "NEG": neg, "ABS": abs_, "REAL": real, "IMAG": imag, "CONJ": conj, "ANGLE": angle,
    "FLOOR": zero, "CEIL": zero, "ROUND": zero, "TRUNC": zero,
    "ADD": add, "SUB": sub, "MUL": mul, "DIV": div, "POW": pow_, "MAX": maximum, "MIN": minimum,
    "ATAN2": atan2, "HYPOT": hypot, "LOGADDEXP": logaddexp, "COPYSIGN": copysign, "MOD": mod, "IDIV": zero,
    "NEXTAFTER": nondifferentiable, "COMPLEX": complex_,
    "WHERE": where, "CAST": cast, "BITCAST": nondifferentiable,
    "REDUCE": reduce,
    "RESHAPE": reshape, "PERMUTE": permute, "EXPAND": expand, "SHRINK": shrink, "PAD": pad,
    "GATHER": gather, "TO_DEVICE": to_device, "COMPOSITE": composite,
})
