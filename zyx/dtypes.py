"""Data types: one small immutable record per dtype, and the promotion rules.

Promotion follows the Python Array API standard's lattice. Where the standard leaves
a case open (integer with floating, signed int64 with uint64) zyx does what NumPy does,
because real client code relies on it.

NumPy understands zyx dtypes: ``np.dtype(zyx.float32)`` is ``float32`` (NumPy reads a
``.dtype`` attribute holding a NumPy dtype), and a zyx dtype compares equal to the NumPy
dtype and scalar type of the same name (``zyx.float32 == np.float32``), and hashes like
that NumPy dtype, so it finds the same dict entries. bfloat16 is ml_dtypes' bfloat16;
ml_dtypes is imported only when bfloat16 first meets NumPy (it takes ~0.6 s to import),
so ``zyx.bfloat16`` hashes by name, not like ``np.dtype(ml_dtypes.bfloat16)``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """A zyx data type. Compare with ``==`` or ``is``: each dtype is a singleton; it is
    also equal to the NumPy dtype of the same name (see the module docstring)."""

    name: str
    itemsize: int
    kind: str  # 'b' bool, 'i' signed, 'u' unsigned, 'f' real floating, 'c' complex
    priority: int  # rank inside its kind, used by promotion
    _hash: int = field(default=0, repr=False)

    def __post_init__(self):
        h = hash(("zyx.dtype", self.name)) if self.name == "bfloat16" else hash(np.dtype(self.name))
        object.__setattr__(self, "_hash", h)

    @property
    def np(self) -> np.dtype:
        nd = _NP.get(self.name)
        return nd if nd is not None else _load_bfloat16()

    @property
    def dtype(self) -> np.dtype:
        """The matching NumPy dtype: ``np.dtype(zyx.float32)`` reads it."""
        return self.np

    # what code written for NumPy dtypes reads besides name, kind and itemsize (Dask:
    # ``issubclass(x.dtype.type, np.complexfloating)``)
    @property
    def type(self) -> type:
        """The NumPy scalar type (``np.float32``)."""
        return self.np.type

    @property
    def char(self) -> str:
        return self.np.char

    @property
    def str(self) -> str:
        return self.np.str

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

    # Equal to the NumPy dtype, so hashed like it (precomputed: schedule keys hash a dtype
    # per graph node on every realize; identity would cost ~28 ns less per node).
    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self is other
        nd = _numpy_dtype_or_none(other)
        if nd is None:
            return NotImplemented
        return _FROM_NP.get(nd) is self or (self.name == "bfloat16" and _is_ml_bfloat16(nd))

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

_NP = {d.name: np.dtype(d.name) for d in ALL if d.name != "bfloat16"}  # bfloat16: on first use
_FROM_NP = {v: BY_NAME[k] for k, v in _NP.items()}


def _load_bfloat16() -> np.dtype:
    """Import ml_dtypes (only now: it is slow to import) and register its bfloat16."""
    import ml_dtypes
    nd = np.dtype(ml_dtypes.bfloat16)
    _NP["bfloat16"] = nd
    _FROM_NP[nd] = bfloat16
    return nd


def _is_ml_bfloat16(nd: np.dtype) -> bool:
    # an ml_dtypes bfloat16 exists only once ml_dtypes was imported (by the user or us)
    return nd.name == "bfloat16" and "ml_dtypes" in sys.modules and nd == _load_bfloat16()


def _numpy_dtype_or_none(x) -> np.dtype | None:
    """``x`` as a NumPy dtype when it is one or a NumPy scalar type (np.float32), else None."""
    if isinstance(x, np.dtype):
        return x
    if isinstance(x, type) and issubclass(x, np.generic):
        try:
            return np.dtype(x)
        except TypeError:
            return None
    return None

# The default dtypes (of Python floats and complex numbers, of float-valued creation and of
# integer-to-float results): float32/complex64 as in PyTorch and JAX, or float64/complex128
# - as NumPy, for scientific code - with ``set_default_float(float64)`` or the environment
# variable ZYX_DEFAULT_FLOAT=float64. Read them as ``dtypes.default_float`` at use (never
# bind them at import): they change. A device without float64 keeps float32 for its own
# defaults (``Device.default_float``).
default_float = float32
default_int = int64
default_complex = complex64


def set_default_float(dtype) -> None:
    """Make ``dtype`` (float32 or float64) the default real floating dtype, and the complex
    dtype of its precision the default complex one - what Python floats, ``zeros`` and
    friends, ``asarray`` of Python data, and integer-to-float results use. The same as
    starting with ZYX_DEFAULT_FLOAT set. Shows in
    ``zyx.array_api.__array_namespace_info__().default_dtypes()``."""
    global default_float, default_complex
    d = to_dtype(dtype)
    if d not in (float32, float64):
        raise ValueError(f"the default floating dtype must be float32 or float64, not {d.name}")
    default_float, default_complex = d, (complex64 if d is float32 else complex128)


def get_default_float() -> DType:
    """The default real floating dtype (see ``set_default_float``)."""
    return default_float


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
        nd = x if isinstance(x, np.dtype) else np.dtype(x)
    except (TypeError, ValueError):
        raise TypeError(f"{x!r} is not a zyx dtype; use one of {', '.join(d.name for d in ALL)}") from None
    return from_numpy(nd)


def dtype_like(x) -> DType | None:
    """``x`` as a zyx dtype when it is a dtype-like (a zyx dtype, a NumPy dtype, a NumPy
    scalar type such as ``np.float32``, or a name NumPy knows such as ``"f4"``), None when
    it is something else (an array, a scalar). TypeError for a dtype zyx lacks."""
    if isinstance(x, DType):
        return x
    if isinstance(x, (np.dtype, str)) or (isinstance(x, type) and issubclass(x, np.generic)):
        return to_dtype(x)
    return None


def from_numpy(nd: np.dtype) -> DType:
    """The zyx dtype of a NumPy dtype (TypeError when zyx has none)."""
    d = _FROM_NP.get(nd)
    if d is not None:
        return d
    if _is_ml_bfloat16(nd):
        return bfloat16
    if not isinstance(nd, np.dtype):
        return to_dtype(nd)
    raise TypeError(f"NumPy dtype {nd} has no zyx equivalent")


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


def _default_from_env() -> None:
    name = os.environ.get("ZYX_DEFAULT_FLOAT", "").strip()
    if name:
        if name not in ("float32", "float64"):
            raise ValueError(f"ZYX_DEFAULT_FLOAT must be float32 or float64, not {name!r}")
        set_default_float(name)


_default_from_env()
