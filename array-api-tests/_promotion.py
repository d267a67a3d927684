"""The standard's type promotion lattice (array-array operations).

promote(a, b) returns the result dtype name, or None where the standard
leaves the combination unspecified (cross-kind, uint64 with signed ints,
bool with numbers).
"""

from __future__ import annotations

import itertools

from ._common import ALL_DTYPES, BOOL, CFLOAT, INT, RFLOAT, SINT, UINT

_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
_FLOAT_BITS = {"float32": 32, "float64": 64}
_COMPLEX_BITS = {"complex64": 32, "complex128": 64}  # bits per component


def promote(a: str, b: str) -> str | None:
    if a == b:
        return a
    if a in BOOL or b in BOOL:
        return None
    if a in INT and b in INT:
        if (a in SINT) == (b in SINT):
            return a if _BITS[a] >= _BITS[b] else b
        s, u = (a, b) if a in SINT else (b, a)
        if _BITS[s] > _BITS[u]:
            return s
        if _BITS[u] == 64:
            return None  # uint64 with a signed integer: unspecified
        return f"int{2 * _BITS[u]}"
    if a in INT or b in INT:
        return None  # integer with floating point: unspecified
    # floating (real and complex)
    bits = max(_FLOAT_BITS.get(a, 0) or _COMPLEX_BITS[a], _FLOAT_BITS.get(b, 0) or _COMPLEX_BITS[b])
    if a in CFLOAT or b in CFLOAT:
        return "complex64" if bits == 32 else "complex128"
    return "float32" if bits == 32 else "float64"


DEFINED_PAIRS = [(a, b, promote(a, b)) for a, b in itertools.product(ALL_DTYPES, ALL_DTYPES) if promote(a, b)]
UNDEFINED_PAIRS = [(a, b) for a, b in itertools.product(ALL_DTYPES, ALL_DTYPES) if promote(a, b) is None]

# a few hand-written entries of the standard's tables, to guard the code above
_SPOT_CHECKS = {
    ("uint8", "int8"): "int16",
    ("uint16", "int8"): "int32",
    ("uint32", "int16"): "int64",
    ("uint8", "int64"): "int64",
    ("int16", "int8"): "int16",
    ("uint32", "uint8"): "uint32",
    ("float32", "complex128"): "complex128",
    ("float64", "complex64"): "complex128",
    ("float32", "complex64"): "complex64",
    ("uint64", "int8"): None,
    ("int8", "float32"): None,
    ("bool", "int8"): None,
    ("bool", "bool"): "bool",
}
for (_a, _b), _r in _SPOT_CHECKS.items():
    assert promote(_a, _b) == _r and promote(_b, _a) == _r, (_a, _b, promote(_a, _b))

# Python scalar kind -> array dtypes for which "array op scalar" is defined,
# and the resulting dtype (the array's dtype, except complex scalar with a
# real floating array: the complex dtype of the same precision, 2024.12)
SCALAR_KINDS = ("bool", "int", "float", "complex")


def scalar_result(array_dtype: str, scalar_kind: str) -> str | None:
    if array_dtype in BOOL:
        return "bool" if scalar_kind == "bool" else None
    if array_dtype in INT:
        return array_dtype if scalar_kind == "int" else None
    if array_dtype in RFLOAT:
        if scalar_kind in ("int", "float"):
            return array_dtype
        if scalar_kind == "complex":
            return "complex64" if array_dtype == "float32" else "complex128"
        return None
    if array_dtype in CFLOAT:
        return array_dtype if scalar_kind in ("int", "float", "complex") else None
    return None


__all__ = ["promote", "DEFINED_PAIRS", "UNDEFINED_PAIRS", "scalar_result", "SCALAR_KINDS", "UINT"]
