"""The primitive op set. Everything else in zyx is composed from these.

A primitive knows its category (how the scheduler treats it) and, for elementwise ops,
how a renderer spells it. Backward rules live in ``zyx/autograd``; lowering in
``zyx/kernels/lower.py``; spelling per language in the renderers.
"""
from __future__ import annotations

# elementwise, one input
UNARY = frozenset({
    "NEG", "EXP", "EXP2", "EXPM1", "LOG", "LOG2", "LOG10", "LOG1P", "SQRT", "RECIP",
    "SIN", "COS", "TAN", "ASIN", "ACOS", "ATAN", "SINH", "COSH", "TANH", "ASINH", "ACOSH",
    "ATANH", "FLOOR", "CEIL", "ROUND", "TRUNC", "ABS", "ERF", "NOT", "BITNOT", "ISNAN",
    "ISINF", "SIGNBIT", "REAL", "IMAG", "CONJ", "ANGLE",
})
# elementwise, two inputs of one dtype
BINARY = frozenset({
    "ADD", "SUB", "MUL", "DIV", "IDIV", "MOD", "POW", "MAX", "MIN", "ATAN2", "HYPOT",
    "COPYSIGN", "NEXTAFTER", "AND", "OR", "XOR", "SHL", "SHR", "CMPLT", "CMPLE", "CMPEQ",
    "CMPNE", "COMPLEX",
})
COMPARE = frozenset({"CMPLT", "CMPLE", "CMPEQ", "CMPNE"})
TERNARY = frozenset({"WHERE"})
CASTS = frozenset({"CAST", "BITCAST"})
# leaves
SOURCES = frozenset({"BUFFER", "CONST", "IOTA", "RAND"})
MOVEMENT = frozenset({"RESHAPE", "PERMUTE", "EXPAND", "SHRINK", "PAD"})
REDUCE = "REDUCE"
REDUCE_KINDS = ("SUM", "PROD", "MAX", "MIN")


def reduce_identity(kind: str, dtype):
    """The value a reduction starts from (and pads with): 0, 1, the lowest or the highest
    value of ``dtype`` (-inf / +inf for floats; False / True for bool)."""
    from . import dtypes as dt
    if kind == "SUM":
        return False if dtype.kind == "b" else 0
    if kind == "PROD":
        return True if dtype.kind == "b" else 1
    return dt.min_value(dtype) if kind == "MAX" else dt.max_value(dtype)
GATHER = "GATHER"

ELEMENTWISE = UNARY | BINARY | TERNARY | CASTS

# rough cost of one evaluation, in flops, for ZYX_DEBUG=2 reports
TRANSCENDENTAL = frozenset({"EXP", "EXP2", "EXPM1", "LOG", "LOG2", "LOG10", "LOG1P", "SIN",
                            "COS", "TAN", "ASIN", "ACOS", "ATAN", "SINH", "COSH", "TANH",
                            "ASINH", "ACOSH", "ATANH", "ERF", "POW", "ATAN2", "HYPOT"})
