"""``zyx.array_api``: zyx's namespace for the Python Array API standard, version 2025.12
(with its additions ``isin``, ``broadcast_shapes``, ``linalg.eig``/``eigvals``, and
tuples - not lists - from ``meshgrid``, ``broadcast_arrays`` and ``devices()``).

    import zyx.array_api as xp
    x = xp.asarray([[1.0, 2.0], [3.0, 4.0]])
    y = xp.sum(xp.exp(x - xp.max(x, axis=1, keepdims=True)), axis=1)   # lazy
    print(y)                                                            # runs

The array object is ``zyx.Tensor`` itself and the dtypes are zyx's dtype singletons
(``xp.float32 is zyx.float32``; ``xp.bool is zyx.bool_``). Every function is a thin
wrapper over Tensor operations, so array-API code stays lazy and fuses like Tensor
code. Functions that run on the host (NumPy) are listed in docs/array_api.md and in
their docstrings.
"""
from __future__ import annotations

from ..dtypes import (bool_ as bool, complex64, complex128, float32, float64, int8, int16,  # noqa: A004
                       int32, int64, uint8, uint16, uint32, uint64)
from ._constants import e, inf, nan, newaxis, pi
from ._creation import (arange, asarray, diag, empty, empty_like, eye, from_dlpack, full, full_like, linspace,
                        meshgrid, ones, ones_like, tril, triu, zeros, zeros_like)
from ._data_type_functions import astype, can_cast, finfo, iinfo, isdtype, result_type
from ._elementwise import (abs, acos, acosh, add, asin, asinh, atan, atan2, atanh, bitwise_and,  # noqa: A004
                           bitwise_invert, bitwise_left_shift, bitwise_or, bitwise_right_shift, bitwise_xor, ceil,
                           clip, conj, copysign, cos, cosh, divide, equal, exp, expm1, floor, floor_divide, greater,
                           greater_equal, hypot, imag, isfinite, isinf, isnan, less, less_equal, log, log1p, log2,
                           log10, logaddexp, logical_and, logical_not, logical_or, logical_xor, maximum, minimum,
                           multiply, negative, nextafter, not_equal, positive, pow, real, reciprocal, remainder,
                           round, sign, signbit, sin, sinh, sqrt, square, subtract, tan, tanh, trunc)
from ._indexing import take, take_along_axis
from ._info import __array_namespace_info__
from ._linear_algebra import matmul, matrix_transpose, tensordot, vecdot
from ._manipulation import (broadcast_arrays, broadcast_shapes, broadcast_to, concat, expand_dims, flip,
                            moveaxis, permute_dims, repeat, reshape, roll, squeeze, stack, tile, unstack)
from ._searching import argmax, argmin, count_nonzero, nonzero, searchsorted, where
from ._set import isin, unique_all, unique_counts, unique_inverse, unique_values
from ._sorting import argsort, sort
from ._statistical import cumulative_prod, cumulative_sum, max, mean, min, prod, std, sum, var  # noqa: A004
from ._utility import all, any, diff  # noqa: A004
from . import fft, linalg  # noqa: E402

__array_api_version__ = "2025.12"

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("annotations",)] + [
    "__array_api_version__", "__array_namespace_info__"]
