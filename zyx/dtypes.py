"""Data types: one small immutable record per dtype, and the promotion rules.

Promotion follows the Python Array API standard's lattice. Where the standard leaves
a case open (integer with floating, signed int64 with uint64) zyx does what NumPy does,
because real client code relies on it.
"""
from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """A zyx data type. Compare with ``==`` or ``is``: each dtype is a singleton."""

    name: str
    itemsize: int
    kind: str  # 'b' bool, 'i' signed, 'u' unsigned, 'f' real floating, 'c' complex
    priority: int  # rank inside its kind, used by promotion

    @property
    def np(self) -> np.dtype:
        return _NP[self.name]

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.kind == "c"

    @property
    def is_int(self) -> bool:
        return self.kind in "iu"

    @property
    def is_inexact(self) -> bool:
        return self.kind in "fc"

    @property
    def bits(self) -> int:
        return self.itemsize * 8

    def __repr__(self) -> str:
        return f"zyx.{self.name}"

    # dtypes are singletons compared by identity, so the identity hash agrees with == and
    # costs no Python call (schedule keys hash a dtype per graph node on every realize)
    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self is other
        return False

    def __reduce__(self):
        return (to_dtype, (self.name,))


bool_ = DType("bool", 1, "b", 0)
int8 = DType("int8", 1, "i", 1)
int16 = DType("int16", 2, "i", 2)
int32 = DType("int32", 4, "i", 3)
int64 = DType("int64", 8, "i", 4)
uint8 = DType("uint8", 1, "u", 1)
uint16 = DType("uint16", 2, "u", 2)
uint32 = DType("uint32", 4, "u", 3)
uint64 = DType("uint64", 8, "u", 4)
float16 = DType("float16", 2, "f", 1)
bfloat16 = DType("bfloat16", 2, "f", 1)
float32 = DType("float32", 4, "f", 2)
float64 = DType("float64", 8, "f", 3)
complex64 = DType("complex64", 8, "c", 2)
complex128 = DType("complex128", 16, "c", 3)

ALL: tuple[DType, ...] = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
                          float16, bfloat16, float32, float64, complex64, complex128)
BY_NAME = {d.name: d for d in ALL}
BY_NAME["bool_"] = bool_

_NP = {d.name: np.dtype(d.name) for d in ALL if d.name != "bfloat16"}
_NP["bfloat16"] = np.dtype(ml_dtypes.bfloat16)
_FROM_NP = {v: BY_NAME[k] for k, v in _NP.items()}

default_float = float32
default_int = int64
default_complex = complex64


def to_dtype(x) -> DType:
    """Convert a dtype-like (DType, name, NumPy dtype, Python type) to a DType."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str) and x in BY_NAME:
        return BY_NAME[x]
    if x is bool:
        return bool_
    if x is int:
        return default_int
    if x is float:
        return default_float
    if x is complex:
        return default_complex
    try:
        nd = np.dtype(x)
    except TypeError:
        raise TypeError(f"{x!r} is not a zyx dtype; use one of {', '.join(d.name for d in ALL)}") from None
    if nd in _FROM_NP:
        return _FROM_NP[nd]
    raise TypeError(f"NumPy dtype {nd} has no zyx equivalent")


def from_numpy(nd: np.dtype) -> DType:
    return to_dtype(nd)


_REAL_FLOATS = {1: float16, 2: float32, 3: float64}
_COMPLEX_OF = {float16: complex64, bfloat16: complex64, float32: complex64, float64: complex128}
_REAL_OF = {complex64: float32, complex128: float64}


def complex_of(d: DType) -> DType:
    return _COMPLEX_OF[d]


def real_of(d: DType) -> DType:
    return _REAL_OF.get(d, d)


def _int_promote(a: DType, b: DType) -> DType:
    if a.kind == b.kind:
        return a if a.itemsize >= b.itemsize else b
    s, u = (a, b) if a.kind == "i" else (b, a)
    if s.itemsize > u.itemsize:
        return s
    # unsigned at least as wide as signed: next wider signed (NumPy: uint64+int64 -> float64)
    wider = {1: int16, 2: int32, 4: int64}.get(u.itemsize)
    return wider if wider is not None else float64


def _float_promote(a: DType, b: DType) -> DType:
    if a is b:
        return a
    if {a, b} == {float16, bfloat16}:
        return float32
    return a if a.itemsize >= b.itemsize else b


def promote_types(a: DType, b: DType) -> DType:
    """Result dtype of a binary operation between arrays of dtypes a and b."""
    if a is b:
        return a
    ka, kb = a.kind, b.kind
    if ka == "b":
        return b
    if kb == "b":
        return a
    if ka in "iu" and kb in "iu":
        return _int_promote(a, b)
    if ka in "iu":  # int with inexact: NumPy's answer (the standard leaves it open)
        if b is bfloat16:
            return bfloat16 if a.itemsize == 1 else promote_types(a, float16)
        return _FROM_NP[np.promote_types(a.np, b.np)]
    if kb in "iu":
        return promote_types(b, a)
    if ka == "f" and kb == "f":
        return _float_promote(a, b)
    # at least one complex
    ra, rb = real_of(a), real_of(b)
    return complex_of(_float_promote(ra, rb))


_KIND_ORDER = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def result_type(*dtypes: DType) -> DType:
    """The common dtype of several, as NumPy finds it: pairwise promotion is not
    associative across kinds (int16 + uint16 is int32, and int32 + float32 float64), so the
    dtypes of the highest kind present are promoted together first and every other dtype is
    promoted with that result on its own: int16, uint16, float32 -> float32 (NumPy's
    answer; folding left to right gave float64)."""
    if not dtypes:
        raise ValueError("result_type needs at least one dtype")
    top = max(_KIND_ORDER[d.kind] for d in dtypes)
    main = [d for d in dtypes if _KIND_ORDER[d.kind] == top]
    out = main[0]
    for d in main[1:]:
        out = promote_types(out, d)
    head = out
    for d in dtypes:
        if _KIND_ORDER[d.kind] != top:
            out = promote_types(out, promote_types(head, d))
    return out


def scalar_dtype_for(value, other: DType) -> DType:
    """The dtype a Python scalar takes when combined with an array of dtype ``other``
    (the standard's "weak" scalar rule)."""
    if isinstance(value, bool):
        return other if other is not None else bool_
    if isinstance(value, int):
        if other.kind in "iufc":
            return other
        return default_int
    if isinstance(value, float):
        if other.kind in "fc":
            return other
        return default_float
    if isinstance(value, complex):
        if other.kind == "c":
            return other
        if other.kind == "f":
            return complex_of(other)
        return default_complex
    raise TypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")


def python_scalar_dtype(value) -> DType:
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return default_int
    if isinstance(value, float):
        return default_float
    if isinstance(value, complex):
        return default_complex
    raise TypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")


def min_value(d: DType):
    if d.kind == "b":
        return False
    if d.kind in "iu":
        return int(np.iinfo(d.np).min)
    return -float("inf")


def max_value(d: DType):
    if d.kind == "b":
        return True
    if d.kind in "iu":
        return int(np.iinfo(d.np).max)
    return float("inf")
