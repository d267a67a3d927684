"""Elementwise math on Tensor: operators, unary functions and activations.

Every function here is a composition of the primitive methods of ``tensor.py``. The
functions take the tensor first, so they are Tensor's methods as they stand:
``_MathMixin`` at the bottom names each one (``__mul__ = mul``), and ``Tensor`` inherits
it. The array API namespace calls the same functions.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from . import dtypes as dt
from . import ops
from ._movement import _broadcast
from ._views import assign, update_point
from .dtypes import DType
from .graph import Node

if TYPE_CHECKING:
    from .tensor import Tensor, TensorLike
else:
    Tensor = None  # bound by zyx.tensor once the class exists (it inherits _MathMixin)
_recorders: list = []  # bound by zyx.tensor to its tape hook (the same list object)
_new = object.__new__
_INT_FAST = 1 << 31  # Python ints below this magnitude take the operators' fast path
_INT_DTYPES = (dt.int32, dt.int64)

# The types of the methods the factories below make (the tensor they are called on comes
# first, typed ``Any`` so that each binds as a method of the class that inherits it)
_Unary = Callable[[Any], "Tensor"]
_Binary = Callable[[Any, "TensorLike"], "Tensor"]


def _float_dtype(d: DType) -> DType:
    """Dtype a transcendental function returns for input dtype d (NumPy's rule)."""
    return d if d.is_inexact else dt.promote_types(d, dt.float16)


def _to_float(x: Tensor) -> Tensor:
    d = _float_dtype(x.dtype)
    return x.cast(d) if d is not x.dtype else x


def _float_unary(op: str, complex_ok: bool = True) -> _Unary:
    def f(self: Tensor) -> Tensor:
        x = _to_float(self)
        if x.dtype.is_complex and not complex_ok:
            raise TypeError(f"{op.lower()} is not defined for complex tensors")
        return x._unary(op)
    f.__name__ = f.__qualname__ = op.lower()
    f.__doc__ = f"Elementwise {op.lower()}; integer and boolean inputs are promoted to floating."
    return f


# ---------------------------------------------------------------- binary operators
_COMPARE = ops.COMPARE


def _binop(op: str, dtype_rule: Callable[[DType], DType] | None = None, reverse: bool = False,
           general: Callable[[Any, Any], "Tensor"] | None = None) -> _Binary:
    """An operator: the fast paths below, else ``general`` (default: promote, broadcast).
    With ``general`` given the fast paths serve float tensors only (true division: integer
    operands divide to the default float dtype)."""
    compare = op in _COMPARE
    bool_ = dt.bool_
    floats_only = general is not None

    def f(self: Tensor, other: TensorLike, /) -> Tensor:
        # fast paths, the common cases of array code: an operand of the same shape and
        # dtype, or a Python float with a float tensor (nothing to promote or broadcast)
        # (with no tape open the nodes are built here directly, skipping _binary and its
        # shape check: these two cases are nearly every operator of array code)
        sn = self._node
        if dtype_rule is None and (not floats_only or sn.dtype.kind == "f"):
            ot: Tensor | None = None  # (the other operand, where it is a tensor)
            if type(other) is Tensor:
                ot, on = other, other._node
                fast = on.dtype is sn.dtype and on.shape == sn.shape and on.device is sn.device
            else:
                # (a Python float with a float tensor, a Python int with a float tensor, or a
                # small one with an int32/int64 tensor: the tensor's dtype, as the general
                # path's weak-scalar rule gives)
                on = None
                fast = (type(other) is float and sn.dtype.kind == "f") or (
                    type(other) is int and -_INT_FAST <= other < _INT_FAST
                    and (sn.dtype.kind == "f" or sn.dtype in _INT_DTYPES))
            if fast:
                out_dtype = bool_ if compare else sn.dtype
                if not _recorders:  # (Tensor._wrap, inlined)
                    if on is None:
                        on = Node("CONST", (), other, sn.shape, sn.dtype, sn.device)
                    t = _new(Tensor)
                    t._node = Node(op, (on, sn) if reverse else (sn, on), None, sn.shape, out_dtype, sn.device)
                    t._view = t._dependents = None
                    return t
                o = ot if ot is not None else Tensor._const(other, sn.shape, sn.dtype, sn.device)
                a, b = (o, self) if reverse else (self, o)
                return a._binary(op, b, out_dtype)
        if general is not None:
            return general(self, other)
        o = self._operand(other, op)
        a, b = (o, self) if reverse else (self, o)
        d = dt.promote_types(a.dtype, b.dtype)
        if dtype_rule is not None:
            d = dtype_rule(d)
        a, b = a._broadcast_pair(b, d)
        out_dtype = dt.bool_ if compare else d
        return a._binary(op, b, out_dtype)
    f.__name__ = f.__qualname__ = op.lower() if not reverse else "r" + op.lower()
    return f


def _truediv(reverse: bool = False) -> _Binary:
    """True division. Its result dtype: for integer (or boolean) operands the *default
    floating dtype*, read at call time (float32, or float64 under the float64 default), as
    PyTorch does - never a half type, and uint64 / int64 too (NumPy gives float64 for every
    integer pair; the standard leaves it to the implementation); else the promoted dtype."""
    def general(self: Tensor, other: TensorLike) -> Tensor:
        o = self._operand(other, "/")
        a, b = (o, self) if reverse else (self, o)
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":
            d = dt.default_float
        else:
            d = dt.promote_types(a.dtype, b.dtype)
        a, b = a._broadcast_pair(b, d)
        return a._binary("DIV", b, d)
    f = _binop("DIV", reverse=reverse, general=general)
    f.__name__ = f.__qualname__ = "rtruediv" if reverse else "truediv"
    return f


def _no_complex(name: str) -> Callable[[DType], DType]:
    def rule(d: DType) -> DType:
        if d.is_complex:
            raise TypeError(f"{name} is not defined for complex tensors")
        return d
    return rule


def _int_only(name: str) -> Callable[[DType], DType]:
    def rule(d: DType) -> DType:
        if d.kind not in "iub":
            raise TypeError(f"{name} needs integer or boolean tensors (got {d.name})")
        return d
    return rule


def _int_strict(name: str) -> Callable[[DType], DType]:
    def rule(d: DType) -> DType:
        if d.kind not in "iu":
            raise TypeError(f"{name} needs integer tensors (got {d.name})")
        return d
    return rule


add = _binop("ADD")
radd = _binop("ADD", reverse=True)
sub = _binop("SUB")
rsub = _binop("SUB", reverse=True)
mul = _binop("MUL")
rmul = _binop("MUL", reverse=True)
truediv = _truediv()
rtruediv = _truediv(reverse=True)
floordiv = _binop("IDIV", _no_complex("floor_divide"))
rfloordiv = _binop("IDIV", _no_complex("floor_divide"), reverse=True)
mod = _binop("MOD", _no_complex("remainder"))
rmod = _binop("MOD", _no_complex("remainder"), reverse=True)
_pow = _binop("POW")
rpow = _binop("POW", reverse=True)


def pow_(self: Tensor, other: TensorLike, /) -> Tensor:
    """``self ** other``. As in NumPy, an integer tensor to a negative integer power known
    when the graph is built (a Python int, a constant) raises ValueError; negative values
    inside an integer exponent tensor give ``trunc(x ** e)`` (documented in array_api.md)."""
    e = other._node.arg if isinstance(other, Tensor) and other._node.op == "CONST" else other
    if (self.dtype.kind in "iu" and isinstance(e, int) and not isinstance(e, bool) and e < 0
            and (not isinstance(other, Tensor) or other.dtype.kind in "iu")):
        raise ValueError("Integers to negative integer powers are not allowed.")
    return _pow(self, other)
maximum = _binop("MAX", _no_complex("maximum"))
minimum = _binop("MIN", _no_complex("minimum"))
def _float_binop(op: str, name: str) -> _Binary:
    """A binary function of real floating-point values. Integer operands take NumPy's float
    type each (int8 -> float16, int16 -> float32, int32 -> float64) before promotion, as
    NumPy's loop selection does: hypot(uint16, int16) is float32, not float64 (the float of
    their promoted int32)."""
    def f(self: Tensor, other: TensorLike, /) -> Tensor:
        o = self._operand(other, name)
        d = dt.promote_types(_float_dtype(self.dtype), _float_dtype(o.dtype))
        if d.is_complex:
            raise TypeError(f"{name} is not defined for complex tensors")
        a, b = self._broadcast_pair(o, d)
        return a._binary(op, b, d)
    f.__name__ = f.__qualname__ = name
    return f


atan2 = _float_binop("ATAN2", "atan2")
hypot = _float_binop("HYPOT", "hypot")
copysign = _float_binop("COPYSIGN", "copysign")
_nextafter_prim = _float_binop("NEXTAFTER", "nextafter")


def nextafter(self: Tensor, other: TensorLike) -> Tensor:
    """The next representable value after self towards other. Half dtypes are computed
    in float32 inside kernels, so for them the step is taken on the 16-bit pattern."""
    o = self._operand(other, "nextafter")
    d = dt.promote_types(_float_dtype(self.dtype), _float_dtype(o.dtype))
    if d not in (dt.float16, dt.bfloat16):
        return _nextafter_prim(self, o)
    x, y = self._broadcast_pair(o, d)
    bits = x.bitcast(dt.int16)
    away = (y > x) == (x > 0)  # moving away from zero: the magnitude bits grow by one
    step = (bits + where(away, 1, -1).cast(dt.int16)).bitcast(d)
    tiny = where(y > 0, 1, -32767).cast(dt.int16).bitcast(d)  # +-smallest subnormal
    out = where(x == 0, tiny, step)
    out = where(x == y, y, out)
    return where(isnan(x) | isnan(y), x + y, out)
bitwise_and = _binop("AND", _int_only("bitwise_and"))
rand_ = _binop("AND", _int_only("bitwise_and"), reverse=True)
bitwise_or = _binop("OR", _int_only("bitwise_or"))
ror = _binop("OR", _int_only("bitwise_or"), reverse=True)
bitwise_xor = _binop("XOR", _int_only("bitwise_xor"))
rxor = _binop("XOR", _int_only("bitwise_xor"), reverse=True)
lshift = _binop("SHL", _int_strict("bitwise_left_shift"))
rlshift = _binop("SHL", _int_strict("bitwise_left_shift"), reverse=True)
rshift = _binop("SHR", _int_strict("bitwise_right_shift"))
rrshift = _binop("SHR", _int_strict("bitwise_right_shift"), reverse=True)
lt = _binop("CMPLT", _no_complex("<"))
le = _binop("CMPLE", _no_complex("<="))
eq = _binop("CMPEQ")
ne = _binop("CMPNE")


def gt(self: Tensor, other: TensorLike, /) -> Tensor:
    return lt(self._operand(other, ">"), self) if not isinstance(other, Tensor) else lt(other, self)


def ge(self: Tensor, other: TensorLike, /) -> Tensor:
    return le(self._operand(other, ">="), self) if not isinstance(other, Tensor) else le(other, self)


def _eq_dunder(self: Tensor, other: Any, /) -> Tensor:
    try:
        return eq(self, other)
    except TypeError:
        return NotImplemented


def _ne_dunder(self: Tensor, other: Any, /) -> Tensor:
    try:
        return ne(self, other)
    except TypeError:
        return NotImplemented


def logical_and(self: Tensor, other: TensorLike) -> Tensor:
    a, b = self.cast(dt.bool_), self._operand(other).cast(dt.bool_)
    a, b = a._broadcast_pair(b)
    return a._binary("AND", b)


def logical_or(self: Tensor, other: TensorLike) -> Tensor:
    a, b = self.cast(dt.bool_), self._operand(other).cast(dt.bool_)
    a, b = a._broadcast_pair(b)
    return a._binary("OR", b)


def logical_xor(self: Tensor, other: TensorLike) -> Tensor:
    a, b = self.cast(dt.bool_), self._operand(other).cast(dt.bool_)
    a, b = a._broadcast_pair(b)
    return a._binary("XOR", b)


def logical_not(self: Tensor) -> Tensor:
    return self.cast(dt.bool_)._unary("NOT")


def bitwise_not(self: Tensor) -> Tensor:
    if self.dtype.kind not in "iub":
        raise TypeError(f"bitwise_invert needs integer or boolean tensors (got {self.dtype.name})")
    return self._unary("BITNOT")


def neg(self: Tensor) -> Tensor:
    if self.dtype is dt.bool_:
        raise TypeError("negation of a boolean tensor is not supported; use logical_not")
    return self._unary("NEG")


def pos(self: Tensor) -> Tensor:
    return Tensor._wrap(self._node)  # a new array (arrays are mutable), never self


def abs_(self: Tensor) -> Tensor:
    if self.dtype.is_complex:
        return self._unary("ABS", dt.real_of(self.dtype))
    if self.dtype is dt.bool_:
        return self
    return self._unary("ABS")


def reciprocal(self: Tensor) -> Tensor:
    return _to_float(self)._unary("RECIP")


def rsqrt(self: Tensor) -> Tensor:
    return reciprocal(sqrt(self))


def square(self: Tensor) -> Tensor:
    return self * self


def _rounding(op: str) -> _Unary:
    def f(self: Tensor) -> Tensor:
        if self.dtype.kind in "iub":
            return self
        if self.dtype.is_complex:
            if op == "ROUND":
                return complex_(self.real._unary(op), self.imag._unary(op))
            raise TypeError(f"{op.lower()} is not defined for complex tensors")
        return self._unary(op)
    f.__name__ = f.__qualname__ = op.lower()
    return f


floor, ceil, round_, trunc = (_rounding(o) for o in ("FLOOR", "CEIL", "ROUND", "TRUNC"))

exp, exp2, expm1 = _float_unary("EXP"), _float_unary("EXP2", False), _float_unary("EXPM1")
log, log2, log10, log1p = (_float_unary(o) for o in ("LOG", "LOG2", "LOG10", "LOG1P"))
sqrt = _float_unary("SQRT")
sin, cos, tan = _float_unary("SIN"), _float_unary("COS"), _float_unary("TAN")
asin, acos, atan = _float_unary("ASIN"), _float_unary("ACOS"), _float_unary("ATAN")
sinh, cosh, tanh = _float_unary("SINH"), _float_unary("COSH"), _float_unary("TANH")
asinh, acosh, atanh = _float_unary("ASINH"), _float_unary("ACOSH"), _float_unary("ATANH")
erf = _float_unary("ERF", False)


def sign(self: Tensor) -> Tensor:
    if self.dtype.is_complex:
        a = abs_(self)
        z = self / a.cast(self.dtype)
        out = (a == 0).where(Tensor._const(0, (), self.dtype, self.device), z)
        # one infinite component: the unit along it (NumPy's answer; z / |z| is nan there)
        re, im = self.real, self.imag
        rinf, iinf = isinf(re), isinf(im)
        unit = complex_(rinf.where(copysign(Tensor._const(1.0, (), re.dtype, self.device), re), 0.0),
                        iinf.where(copysign(Tensor._const(1.0, (), im.dtype, self.device), im), 0.0))
        out = logical_xor(rinf, iinf).where(unit, out)
        # NaN handled last and explicitly (the standard: a NaN component gives nan + nan j):
        # drivers that assume no NaNs (Mesa) fold the comparisons and divisions above in
        # ways that lose it
        return isnan(self).where(Tensor._const(complex("nan+nanj"), (), self.dtype, self.device), out)
    if self.dtype is dt.bool_:
        return self
    one = Tensor._const(1, (), self.dtype, self.device)
    zero = Tensor._const(0, (), self.dtype, self.device)
    out = (self > 0).where(one, (self < 0).where(-one if self.dtype.kind != "u" else zero, zero))
    if self.dtype.is_float:
        out = isnan(self).where(self, out)
    return out


def isnan(self: Tensor) -> Tensor:
    if self.dtype.is_complex:
        return logical_or(isnan(self.real), isnan(self.imag))
    if not self.dtype.is_float:
        return Tensor._const(False, self.shape, dt.bool_, self.device)
    return self._unary("ISNAN", dt.bool_)


def isinf(self: Tensor) -> Tensor:
    if self.dtype.is_complex:
        return logical_or(isinf(self.real), isinf(self.imag))
    if not self.dtype.is_float:
        return Tensor._const(False, self.shape, dt.bool_, self.device)
    return self._unary("ISINF", dt.bool_)


def isfinite(self: Tensor) -> Tensor:
    if self.dtype.is_complex:
        return logical_and(isfinite(self.real), isfinite(self.imag))
    if not self.dtype.is_float:
        return Tensor._const(True, self.shape, dt.bool_, self.device)
    return logical_not(logical_or(isnan(self), isinf(self)))


def signbit(self: Tensor) -> Tensor:
    if self.dtype.is_complex:
        raise TypeError("signbit is not defined for complex tensors")
    return self._unary("SIGNBIT", dt.bool_)


def real(self: Tensor) -> Tensor:
    if not self.dtype.is_complex:
        return self
    return self._unary("REAL", dt.real_of(self.dtype))


def imag(self: Tensor) -> Tensor:
    if not self.dtype.is_complex:
        return Tensor._const(0, self.shape, self.dtype, self.device)
    return self._unary("IMAG", dt.real_of(self.dtype))


def conj(self: Tensor) -> Tensor:
    if not self.dtype.is_complex:
        return self
    return self._unary("CONJ")


def angle(self: Tensor) -> Tensor:
    if not self.dtype.is_complex:
        x = _to_float(self)
        return atan2(Tensor._const(0.0, (), x.dtype, x.device).broadcast_to(x.shape), x)
    return self._unary("ANGLE", dt.real_of(self.dtype))


def complex_(re: Tensor, im: TensorLike) -> Tensor:
    """Build a complex tensor from real and imaginary parts."""
    im = re._operand(im)
    d = dt.promote_types(re.dtype, im.dtype)
    if d.is_complex:
        raise TypeError("complex() takes real tensors")
    d = d if d.is_float else dt.float64
    a, b = re._broadcast_pair(im, d if d in (dt.float32, dt.float64) else dt.float32)
    return a._binary("COMPLEX", b, dt.complex_of(a.dtype))


def where(cond: Tensor, a: TensorLike, b: TensorLike) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together)."""
    if isinstance(a, Tensor):
        b = a._operand(b)
    elif isinstance(b, Tensor):
        a = b._operand(a)
    else:
        a = Tensor._const(a, (), dt.python_scalar_dtype(a), cond.device)
        b = a._operand(b)
    d = dt.promote_types(a.dtype, b.dtype)
    a, b = a.cast(d), b.cast(d)
    c = cond.cast(dt.bool_) if cond.dtype is not dt.bool_ else cond
    shape = _bshape(c.shape, a.shape, b.shape)
    # (the plain movement: no new handles where a shape is already right)
    return _broadcast(c, shape)._where(_broadcast(a, shape), _broadcast(b, shape))


def _bshape(*shapes):
    from .tensor import broadcast_shapes
    return broadcast_shapes(*shapes)


def clip(self: Tensor, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:
    out = self
    if min is not None:
        m = self._operand(min)
        out = where(out < m, m.cast(self.dtype), out)
    if max is not None:
        m = self._operand(max)
        out = where(out > m, m.cast(self.dtype), out)
    return out


# ---------------------------------------------------------------- activations
def relu(self: Tensor) -> Tensor:
    """max(x, 0) written as a select, as PyTorch defines it: NaN stays NaN, and the
    gradient is ``where(x <= 0, 0, g)`` - 0 at x == 0 (not the tie split of
    ``maximum``) and one op, so it fuses into whatever produced ``g``."""
    return where(self <= 0, 0, self)


def sigmoid(self: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), written so that neither it nor its gradient overflows: with
    e = exp(-|x|) <= 1 it is 1 / (1 + e) for x >= 0 and e / (1 + e) below."""
    x = _to_float(self)
    e = exp(where(x >= 0, -x, x))
    return where(x >= 0, 1.0, e) / (e + 1)


def silu(self: Tensor) -> Tensor:
    return self * sigmoid(self)


def gelu(self: Tensor, approximate: str = "none") -> Tensor:
    x = _to_float(self)
    if approximate == "tanh":
        return x * 0.5 * (tanh((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)) + 1)
    return x * 0.5 * (erf(x * (1 / math.sqrt(2))) + 1)


def softplus(self: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    x = _to_float(self) * beta
    # max(x, 0) + log1p(exp(-|x|)): no overflow in the value or in its gradient
    stable = where(x >= 0, x, 0.0) + log1p(exp(where(x >= 0, -x, x)))
    return where(x > threshold, x, stable) * (1 / beta)


def leaky_relu(self: Tensor, negative_slope: float = 0.01) -> Tensor:
    return where(self > 0, self, self * negative_slope)


def elu(self: Tensor, alpha: float = 1.0) -> Tensor:
    # expm1 only sees x <= 0, so the unused branch cannot overflow (inf * 0 = nan in the gradient)
    return where(self > 0, self, expm1(where(self > 0, 0.0, self)) * alpha)


def tanh_(self: Tensor) -> Tensor:
    return tanh(self)


def mish(self: Tensor) -> Tensor:
    return self * tanh(softplus(self))


def hardtanh(self: Tensor, lo: float = -1.0, hi: float = 1.0) -> Tensor:
    return clip(self, lo, hi)


# log(exp(a) + exp(b)), the primitive LOGADDEXP: max(a, b) + log1p(exp(-|a - b|)), so the
# small term keeps its digits (logaddexp(0, -40) is 4.2e-18 in float32)
logaddexp = _float_binop("LOGADDEXP", "logaddexp")


def lerp(self: Tensor, end: TensorLike, weight: TensorLike) -> Tensor:
    return self + (self._operand(end) - self) * weight


_KIND_RANK = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def _inplace(op_name: str) -> _Binary:
    """``x op= y``: computes ``x op y`` and rebinds ``x``'s graph to the result (the
    tensor object is mutated, as with ``__setitem__``). The result keeps ``x``'s shape
    and dtype: a result that broadcasts to a bigger shape raises ValueError, one of a
    higher kind (float into an int tensor) raises TypeError, a wider one of the same
    kind is cast back (NumPy's same_kind rule)."""
    def f(self: Tensor, other: TensorLike, /) -> Tensor:
        out = getattr(Tensor, op_name)(self, other)
        if out is NotImplemented:
            return NotImplemented
        if out.shape != self.shape:
            raise ValueError(f"in-place {op_name.strip('_')}: the result shape {out.shape} differs from the "
                             f"tensor's shape {self.shape}")
        if self._view is not None and out.dtype is self.dtype and self.size == 1:
            # one element of a view (``a[i, i] += v``): a point update batch where one suits
            n = out._node
            if n.srcs and n.srcs[0] is self._node:
                o = other if isinstance(other, Tensor) else self._operand(other)
                if update_point(self, n.op, o):
                    return self
        if out.dtype is not self.dtype:
            if _KIND_RANK[out.dtype.kind] > _KIND_RANK[self.dtype.kind]:
                # (the words NumPy's and PyTorch's errors use - cast, dtype - which callers match)
                raise TypeError(f"in-place {op_name.strip('_')}: cannot cast the {out.dtype.name} result to the "
                                f"tensor's dtype {self.dtype.name}")
            out = out.cast(self.dtype)
        assign(self, out)  # through a view to its root, and on to the root's other views
        return self
    f.__name__ = f.__qualname__ = "__i" + op_name[2:]
    return f



class _MathMixin:
    """The elementwise operators and methods of ``Tensor``, which inherits this class.
    Each entry is one of the functions above: they take the tensor first, so a function
    is its method unchanged (no wrapper on the hot path of ``x * y``)."""

    __slots__ = ()

    # ------------------------------------------------------------ arithmetic operators
    __add__, __radd__ = add, radd
    __sub__, __rsub__ = sub, rsub
    __mul__, __rmul__ = mul, rmul
    __truediv__, __rtruediv__ = truediv, rtruediv
    __floordiv__, __rfloordiv__ = floordiv, rfloordiv
    __mod__, __rmod__ = mod, rmod
    __pow__, __rpow__ = pow_, rpow
    __neg__ = neg
    __pos__ = pos
    __abs__ = abs_

    # ------------------------------------------------------------ bitwise operators
    __and__, __rand__ = bitwise_and, rand_
    __or__, __ror__ = bitwise_or, ror
    __xor__, __rxor__ = bitwise_xor, rxor
    __lshift__, __rlshift__ = lshift, rlshift
    __rshift__, __rrshift__ = rshift, rrshift
    __invert__ = bitwise_not

    # ------------------------------------------------------------ comparisons (elementwise, boolean results)
    __lt__ = lt
    __le__ = le
    __gt__ = gt
    __ge__ = ge
    __eq__ = _eq_dunder  # type: ignore[assignment]  # elementwise, as in NumPy: a Tensor, not a bool
    __ne__ = _ne_dunder  # type: ignore[assignment]

    # ------------------------------------------------------------ in-place operators (rebind the tensor)
    __iadd__ = _inplace("__add__")
    __isub__ = _inplace("__sub__")
    __imul__ = _inplace("__mul__")
    __itruediv__ = _inplace("__truediv__")
    __ifloordiv__ = _inplace("__floordiv__")
    __imod__ = _inplace("__mod__")
    __ipow__ = _inplace("__pow__")
    __imatmul__ = _inplace("__matmul__")
    __iand__ = _inplace("__and__")
    __ior__ = _inplace("__or__")
    __ixor__ = _inplace("__xor__")
    __ilshift__ = _inplace("__lshift__")
    __irshift__ = _inplace("__rshift__")

    # ------------------------------------------------------------ named arithmetic
    add = add
    sub = sub
    mul = mul
    div = truediv
    truediv = truediv
    floordiv = floordiv
    mod = mod
    pow = pow_
    maximum = maximum
    minimum = minimum
    atan2 = atan2
    hypot = hypot
    copysign = copysign
    nextafter = nextafter
    logaddexp = logaddexp
    lerp = lerp
    neg = neg
    abs = abs_
    reciprocal = reciprocal
    rsqrt = rsqrt
    square = square
    sign = sign
    clip = clip
    where = where  # cond.where(a, b): a where cond is true, else b

    # ------------------------------------------------------------ named bitwise, logical and comparisons
    bitwise_and = bitwise_and
    bitwise_or = bitwise_or
    bitwise_xor = bitwise_xor
    bitwise_not = bitwise_not
    lshift = lshift
    rshift = rshift
    logical_and = logical_and
    logical_or = logical_or
    logical_xor = logical_xor
    logical_not = logical_not
    lt = lt
    le = le
    gt = gt
    ge = ge
    eq = eq
    ne = ne

    # ------------------------------------------------------------ rounding
    floor = floor
    ceil = ceil
    round = round_
    trunc = trunc

    # ------------------------------------------------------------ transcendental functions
    exp = exp
    exp2 = exp2
    expm1 = expm1
    log = log
    log2 = log2
    log10 = log10
    log1p = log1p
    sqrt = sqrt
    sin = sin
    cos = cos
    tan = tan
    asin = asin
    acos = acos
    atan = atan
    sinh = sinh
    cosh = cosh
    tanh = tanh
    asinh = asinh
    acosh = acosh
    atanh = atanh
    erf = erf

    # ------------------------------------------------------------ classification
    isnan = isnan
    isinf = isinf
    isfinite = isfinite
    signbit = signbit

    # ------------------------------------------------------------ complex numbers
    conj = conj
    angle = angle

    @property
    def real(self) -> Tensor:
        """The real part (the tensor itself when it is real)."""
        return real(self)  # type: ignore[arg-type]  # self is a Tensor: this class is its base

    @property
    def imag(self) -> Tensor:
        """The imaginary part (zeros when the tensor is real)."""
        return imag(self)  # type: ignore[arg-type]

    # ------------------------------------------------------------ activations
    relu = relu
    sigmoid = sigmoid
    silu = silu
    gelu = gelu
    softplus = softplus
    leaky_relu = leaky_relu
    elu = elu
    mish = mish
    hardtanh = hardtanh
