"""The standard's function signatures (2025.12: 2024.12 and its 2025.12 additions), as a table.

Each entry is written exactly as the standard's API reference writes the
signature (type annotations dropped).  ``/`` ends the positional-only
parameters, ``*`` starts the keyword-only ones.  The strings are turned into
``inspect.Signature`` objects by compiling a dummy function.

Sources: the standard's API reference pages / stub files
(``src/array_api_stubs/_2024_12`` and ``_2025_12`` in data-apis/array-api).
"""

from __future__ import annotations

import inspect

# section -> {name: "(params)"}
FUNCTIONS: dict[str, dict[str, str]] = {
    "creation": {
        "arange": "(start, /, stop=None, step=1, *, dtype=None, device=None)",
        "asarray": "(obj, /, *, dtype=None, device=None, copy=None)",
        "empty": "(shape, *, dtype=None, device=None)",
        "empty_like": "(x, /, *, dtype=None, device=None)",
        "eye": "(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None)",
        "from_dlpack": "(x, /, *, device=None, copy=None)",
        "full": "(shape, fill_value, *, dtype=None, device=None)",
        "full_like": "(x, /, fill_value, *, dtype=None, device=None)",
        "linspace": "(start, stop, /, num, *, dtype=None, device=None, endpoint=True)",
        "meshgrid": "(*arrays, indexing='xy')",
        "ones": "(shape, *, dtype=None, device=None)",
        "ones_like": "(x, /, *, dtype=None, device=None)",
        "tril": "(x, /, *, k=0)",
        "triu": "(x, /, *, k=0)",
        "zeros": "(shape, *, dtype=None, device=None)",
        "zeros_like": "(x, /, *, dtype=None, device=None)",
    },
    "data_type": {
        "astype": "(x, dtype, /, *, copy=True, device=None)",
        "can_cast": "(from_, to, /)",
        "finfo": "(type, /)",
        "iinfo": "(type, /)",
        "isdtype": "(dtype, kind)",
        "result_type": "(*arrays_and_dtypes)",
    },
    "elementwise": {
        **{
            n: "(x, /)"
            for n in (
                "abs acos acosh asin asinh atan atanh bitwise_invert ceil conj cos cosh exp "
                "expm1 floor imag isfinite isinf isnan log log1p log2 log10 logical_not negative "
                "positive real reciprocal round sign signbit sin sinh square sqrt tan tanh trunc"
            ).split()
        },
        **{
            n: "(x1, x2, /)"
            for n in (
                "add atan2 bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift "
                "bitwise_xor copysign divide equal floor_divide greater greater_equal hypot less "
                "less_equal logaddexp logical_and logical_or logical_xor maximum minimum multiply "
                "nextafter not_equal pow remainder subtract"
            ).split()
        },
        "clip": "(x, /, min=None, max=None)",
    },
    "indexing": {
        "take": "(x, indices, /, *, axis=None)",
        "take_along_axis": "(x, indices, /, *, axis=-1)",
    },
    "linear_algebra": {
        "matmul": "(x1, x2, /)",
        "matrix_transpose": "(x, /)",
        "tensordot": "(x1, x2, /, *, axes=2)",
        "vecdot": "(x1, x2, /, *, axis=-1)",
    },
    "manipulation": {
        "broadcast_arrays": "(*arrays)",
        "broadcast_shapes": "(*shapes)",
        "broadcast_to": "(x, /, shape)",
        "concat": "(arrays, /, *, axis=0)",
        "expand_dims": "(x, /, axis)",
        "flip": "(x, /, *, axis=None)",
        "moveaxis": "(x, source, destination, /)",
        "permute_dims": "(x, /, axes)",
        "repeat": "(x, repeats, /, *, axis=None)",
        "reshape": "(x, /, shape, *, copy=None)",
        "roll": "(x, /, shift, *, axis=None)",
        "squeeze": "(x, /, axis)",
        "stack": "(arrays, /, *, axis=0)",
        "tile": "(x, repetitions, /)",
        "unstack": "(x, /, *, axis=0)",
    },
    "searching": {
        "argmax": "(x, /, *, axis=None, keepdims=False)",
        "argmin": "(x, /, *, axis=None, keepdims=False)",
        "count_nonzero": "(x, /, *, axis=None, keepdims=False)",
        "nonzero": "(x, /)",
        "searchsorted": "(x1, x2, /, *, side='left', sorter=None)",
        "where": "(condition, x1, x2, /)",
    },
    "set": {
        "isin": "(x1, x2, /, *, invert=False)",
        "unique_all": "(x, /)",
        "unique_counts": "(x, /)",
        "unique_inverse": "(x, /)",
        "unique_values": "(x, /)",
    },
    "sorting": {
        "argsort": "(x, /, *, axis=-1, descending=False, stable=True)",
        "sort": "(x, /, *, axis=-1, descending=False, stable=True)",
    },
    "statistical": {
        "cumulative_prod": "(x, /, *, axis=None, dtype=None, include_initial=False)",
        "cumulative_sum": "(x, /, *, axis=None, dtype=None, include_initial=False)",
        "max": "(x, /, *, axis=None, keepdims=False)",
        "mean": "(x, /, *, axis=None, keepdims=False)",
        "min": "(x, /, *, axis=None, keepdims=False)",
        "prod": "(x, /, *, axis=None, dtype=None, keepdims=False)",
        "std": "(x, /, *, axis=None, correction=0.0, keepdims=False)",
        "sum": "(x, /, *, axis=None, dtype=None, keepdims=False)",
        "var": "(x, /, *, axis=None, correction=0.0, keepdims=False)",
    },
    "utility": {
        "all": "(x, /, *, axis=None, keepdims=False)",
        "any": "(x, /, *, axis=None, keepdims=False)",
        "diff": "(x, /, *, axis=-1, n=1, prepend=None, append=None)",
    },
    "inspection": {
        "__array_namespace_info__": "()",
    },
}

LINALG: dict[str, str] = {
    "cholesky": "(x, /, *, upper=False)",
    "cross": "(x1, x2, /, *, axis=-1)",
    "det": "(x, /)",
    "diagonal": "(x, /, *, offset=0)",
    "eig": "(x, /)",  # 2025.12
    "eigh": "(x, /)",
    "eigvals": "(x, /)",  # 2025.12
    "eigvalsh": "(x, /)",
    "inv": "(x, /)",
    "matmul": "(x1, x2, /)",
    "matrix_norm": "(x, /, *, keepdims=False, ord='fro')",
    "matrix_power": "(x, n, /)",
    "matrix_rank": "(x, /, *, rtol=None)",
    "matrix_transpose": "(x, /)",
    "outer": "(x1, x2, /)",
    "pinv": "(x, /, *, rtol=None)",
    "qr": "(x, /, *, mode='reduced')",
    "slogdet": "(x, /)",
    "solve": "(x1, x2, /)",
    "svd": "(x, /, *, full_matrices=True)",
    "svdvals": "(x, /)",
    "tensordot": "(x1, x2, /, *, axes=2)",
    "trace": "(x, /, *, offset=0, dtype=None)",
    "vecdot": "(x1, x2, /, *, axis=-1)",
    "vector_norm": "(x, /, *, axis=None, keepdims=False, ord=2)",
}

FFT: dict[str, str] = {
    **{n: "(x, /, *, n=None, axis=-1, norm='backward')" for n in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")},
    **{n: "(x, /, *, s=None, axes=None, norm='backward')" for n in ("fftn", "ifftn", "rfftn", "irfftn")},
    "fftfreq": "(n, /, *, d=1.0, dtype=None, device=None)",
    "rfftfreq": "(n, /, *, d=1.0, dtype=None, device=None)",
    "fftshift": "(x, /, *, axes=None)",
    "ifftshift": "(x, /, *, axes=None)",
}

# methods of the array object, as seen on an instance (bound: without ``self``)
_BINARY_OPS = (
    "add sub mul truediv floordiv mod pow matmul and or xor lshift rshift".split()
)
ARRAY_METHODS: dict[str, str] = {
    **{f"__{op}__": "(other, /)" for op in _BINARY_OPS},
    **{f"__{op}__": "(other, /)" for op in "eq ne lt le gt ge".split()},
    **{f"__{op}__": "()" for op in "abs neg pos invert bool complex float int index dlpack_device".split()},
    "__array_namespace__": "(*, api_version=None)",
    "__dlpack__": "(*, stream=None, max_version=None, dl_device=None, copy=None)",
    "__getitem__": "(key, /)",
    "__setitem__": "(key, value, /)",
    "to_device": "(device, /, *, stream=None)",
}
# reflected and in-place operators exist for every arithmetic/bitwise operator
# (the standard's "Operators" section); bound signature ``(other, /)``.
REFLECTED_METHODS = [f"__r{op}__" for op in _BINARY_OPS]
INPLACE_METHODS = [f"__i{op}__" for op in _BINARY_OPS]

ARRAY_ATTRIBUTES = ("dtype", "device", "mT", "ndim", "shape", "size", "T")

INFO_METHODS: dict[str, str] = {
    "capabilities": "()",
    "default_device": "()",
    "default_dtypes": "(*, device=None)",
    "devices": "()",
    "dtypes": "(*, device=None, kind=None)",
}

CONSTANTS = ("e", "inf", "nan", "newaxis", "pi")
DTYPE_NAMES = (
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128"
).split()

ADDED_2025_12 = {"isin", "broadcast_shapes", "linalg.eig", "linalg.eigvals"}


def all_main_functions() -> dict[str, str]:
    out: dict[str, str] = {}
    for sec in FUNCTIONS.values():
        out.update(sec)
    return out


def section_of(name: str) -> str:
    for sec, funcs in FUNCTIONS.items():
        if name in funcs:
            return sec
    raise KeyError(name)


_CACHE: dict[str, inspect.Signature] = {}


def parse(params: str) -> inspect.Signature:
    """``"(x, /, *, axis=None)"`` -> inspect.Signature."""
    sig = _CACHE.get(params)
    if sig is None:
        ns: dict = {}
        exec(f"def _f{params}: pass", ns)  # noqa: S102 - trusted literal table
        sig = inspect.signature(ns["_f"])
        _CACHE[params] = sig
    return sig
