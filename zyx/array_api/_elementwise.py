"""Element-wise functions (standard section "Element-wise Functions").

Each function is a thin wrapper over the matching ``zyx.Tensor`` operation, so a
chain of them builds one lazy graph that fuses into as few kernels as the Tensor
methods would. Binary functions accept one Python scalar operand (2024.12): it takes
the dtype of the array operand when its kind fits (the standard's weak-scalar rule).
"""
from __future__ import annotations

from .. import _math
from ..tensor import Tensor
from ._helpers import as_operand, binary_operands, check_array, new_array

_UNARY = {
    "abs": _math.abs_, "acos": _math.acos, "acosh": _math.acosh, "asin": _math.asin, "asinh": _math.asinh,
    "atan": _math.atan, "atanh": _math.atanh, "bitwise_invert": _math.bitwise_not, "ceil": _math.ceil,
    "conj": _math.conj, "cos": _math.cos, "cosh": _math.cosh, "exp": _math.exp, "expm1": _math.expm1,
    "floor": _math.floor, "imag": _math.imag, "isfinite": _math.isfinite, "isinf": _math.isinf,
    "isnan": _math.isnan, "log": _math.log, "log1p": _math.log1p, "log2": _math.log2, "log10": _math.log10,
    "logical_not": _math.logical_not, "negative": _math.neg, "positive": _math.pos, "real": _math.real,
    "reciprocal": _math.reciprocal, "round": _math.round_, "sign": _math.sign, "signbit": _math.signbit,
    "sin": _math.sin, "sinh": _math.sinh, "square": _math.square, "sqrt": _math.sqrt, "tan": _math.tan,
    "tanh": _math.tanh, "trunc": _math.trunc,
}

_BINARY = {
    "add": _math.add, "atan2": _math.atan2, "bitwise_and": _math.bitwise_and,
    "bitwise_left_shift": _math.lshift, "bitwise_or": _math.bitwise_or, "bitwise_right_shift": _math.rshift,
    "bitwise_xor": _math.bitwise_xor, "copysign": _math.copysign, "divide": _math.truediv,
    "equal": _math.eq, "floor_divide": _math.floordiv, "greater": _math.gt, "greater_equal": _math.ge,
    "hypot": _math.hypot, "less": _math.lt, "less_equal": _math.le, "logaddexp": _math.logaddexp,
    "logical_and": _math.logical_and, "logical_or": _math.logical_or, "logical_xor": _math.logical_xor,
    "maximum": _math.maximum, "minimum": _math.minimum, "multiply": _math.mul, "nextafter": _math.nextafter,
    "not_equal": _math.ne, "pow": _math.pow_, "remainder": _math.mod, "subtract": _math.sub,
}

_NO_BOOL = {"negative", "abs", "sign", "square", "positive"}
_NO_BOOL_BINARY = {"add", "subtract", "multiply", "divide", "floor_divide", "remainder", "pow", "maximum",
                   "minimum", "less", "less_equal", "greater", "greater_equal", "atan2", "hypot",
                   "copysign", "nextafter", "logaddexp"}


def _make_unary(name: str, impl):
    no_bool = name in _NO_BOOL

    def f(x: Tensor, /) -> Tensor:
        if not isinstance(x, Tensor):
            check_array(x, name)
        if no_bool and x.dtype.kind == "b":
            raise TypeError(f"{name} is not defined for boolean arrays")
        return new_array(impl(x), x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"Element-wise ``{name}`` of ``x`` (array API standard, Element-wise Functions: "
                 f"{name}). Lazy: becomes part of the kernel that consumes it.")
    return f


def _make_binary(name: str, impl):
    no_bool = name in _NO_BOOL_BINARY

    def f(x1, x2, /) -> Tensor:
        if isinstance(x1, Tensor) and isinstance(x2, Tensor):
            n1, n2 = x1._node, x2._node
            if n1.device is not n2.device and n1.device != n2.device:
                raise ValueError(f"{name}: arrays are on different devices ({x1.device} and {x2.device}); "
                                 "move one with x.to_device(...)")
        else:
            x1, x2 = binary_operands(x1, x2, name)
            n1, n2 = x1._node, x2._node
        if no_bool and n1.dtype.kind == "b" and n2.dtype.kind == "b":
            raise TypeError(f"{name} is not defined for boolean arrays")
        return new_array(impl(x1, x2), x1, x2)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"Element-wise ``{name}`` of ``x1`` and ``x2`` with broadcasting and type promotion "
                 f"(array API standard, Element-wise Functions: {name}). One operand may be a Python "
                 "scalar.")
    return f


for _n, _impl in _UNARY.items():
    globals()[_n] = _make_unary(_n, _impl)
for _n, _impl in _BINARY.items():
    globals()[_n] = _make_binary(_n, _impl)
del _n, _impl


def clip(x: Tensor, /, min=None, max=None) -> Tensor:  # noqa: A002 - the standard's names
    """Clamp ``x`` to ``[min, max]``; bounds may be arrays or Python scalars and the
    result keeps ``x``'s dtype."""
    check_array(x, "clip")
    if x.dtype.is_complex:
        raise TypeError("clip is not defined for complex arrays")
    out = x
    for bound, outside in ((min, _math.lt), (max, _math.gt)):
        if bound is None:
            continue
        b = as_operand(bound, x, "clip")
        b = b.cast(x.dtype) if b.dtype is not x.dtype else b
        replace = outside(out, b)
        if b.dtype.is_float:  # a NaN bound gives NaN, as the standard asks
            replace = replace.logical_or(b.isnan())
        out = _math.where(replace, b, out)
    return new_array(out, x)


__all__ = sorted([*_UNARY, *_BINARY, "clip"])
