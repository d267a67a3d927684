"""The ``fft`` extension of the array API standard (``zyx.array_api.fft``).

The transforms (``fft``, ``ifft``, ``fftn``, ``ifftn``, ``rfft``, ``irfft``,
``rfftn``, ``irfftn``, ``hfft``, ``ihfft``) run through cuFFT on ``cuda`` devices (with
nvmath-python, the ``cuda`` extra; ``_cuda_fft.py``). Elsewhere they are a host fallback:
they realize their input, run NumPy's pocketfft on the host in the input's precision
(complex64 for float32/complex64, complex128 for float64/complex128) and put the result
back on the input's device. Runs as kernels: ``fftfreq``, ``rfftfreq`` (iota arithmetic),
``fftshift`` and ``ifftshift`` (rolls, i.e. index arithmetic).
"""
from __future__ import annotations

import numpy as np

from .. import creation
from .. import dtypes as dt
from ..device import get_device
from ..tensor import Tensor, normalize_axis
from . import _cuda_linalg
from ._helpers import check_array, device_arg, dtype_arg, from_host

__all__ = ["fft", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifftn", "ifftshift", "ihfft", "irfft",
           "irfftn", "rfft", "rfftfreq", "rfftn"]

_NORMS = ("backward", "ortho", "forward")


def _check(x: Tensor, fname: str, norm: str, want: str) -> None:
    check_array(x, fname)
    if norm not in _NORMS:
        raise ValueError(f"fft.{fname}: norm must be one of {_NORMS}, not {norm!r}")
    if want == "complex" and not x.dtype.is_inexact:
        raise TypeError(f"fft.{fname}: x must have a floating-point dtype (got {x.dtype.name})")
    if want == "real" and not x.dtype.is_float:
        raise TypeError(f"fft.{fname}: x must have a real floating-point dtype (got {x.dtype.name})")
    if x.ndim == 0:
        raise ValueError(f"fft.{fname}: x must have at least one dimension")


def _host(x: Tensor) -> np.ndarray:
    a = x.numpy()
    return a.astype(np.float32) if a.dtype in (np.float16,) else a


def _single(x: Tensor) -> bool:
    return dt.real_of(x.dtype) is not dt.float64


def _out(res: np.ndarray, x: Tensor, kind: str) -> Tensor:
    if kind == "complex":
        d = dt.complex64 if _single(x) else dt.complex128
    else:
        d = dt.float32 if _single(x) else dt.float64
    return from_host(res.astype(d.np, copy=False), x)


def _check_n(n, fname: str):
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"fft.{fname}: n must be a positive int or None")


def _named(f, name: str, where: str):
    """``f`` named ``name``, its docstring saying ``where`` it transforms."""
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``{name}`` {where}, normalization ``norm``). Host fallback (NumPy's pocketfft)."
    return f


def _one_dim(name: str, want: str, out_kind: str):
    np_fn = getattr(np.fft, name)

    def f(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
        _check(x, name, norm, want)
        _check_n(n, name)
        ax = normalize_axis(axis, x.ndim)
        if _cuda_linalg.usable(x):
            from . import _cuda_fft
            return _cuda_fft.one_dim(name, x, n, ax, norm)
        return _out(np_fn(_host(x), n=n, axis=ax, norm=norm), x, out_kind)
    return _named(f, name, "along ``axis`` (length ``n``")


def _n_dim(name: str, want: str, out_kind: str):
    np_fn = getattr(np.fft, name)

    def f(x: Tensor, /, *, s=None, axes=None, norm: str = "backward") -> Tensor:
        _check(x, name, norm, want)
        if axes is not None:
            axes = [normalize_axis(i, x.ndim) for i in axes]
            if len(set(axes)) != len(axes):
                raise ValueError(f"fft.{name}: repeated axis")
        if s is not None:
            s = [int(v) for v in s]
            if axes is None:
                axes = list(range(x.ndim - len(s), x.ndim))
            elif len(s) != len(axes):
                raise ValueError(f"fft.{name}: s and axes need the same length")
            s = [x.shape[ax] if v == -1 else v for v, ax in zip(s, axes)]
            if any(v < 1 for v in s):
                raise ValueError(f"fft.{name}: sizes in s must be positive")
        if _cuda_linalg.usable(x) and (axes is None or axes):
            from . import _cuda_fft
            return _cuda_fft.n_dim(name, x, s, axes, norm)
        return _out(np_fn(_host(x), s=s, axes=axes, norm=norm), x, out_kind)
    return _named(f, name, "over ``axes`` (sizes ``s``")


fft = _one_dim("fft", "complex", "complex")
ifft = _one_dim("ifft", "complex", "complex")
rfft = _one_dim("rfft", "real", "complex")
irfft = _one_dim("irfft", "complex", "real")
hfft = _one_dim("hfft", "complex", "real")
ihfft = _one_dim("ihfft", "real", "complex")
fftn = _n_dim("fftn", "complex", "complex")
ifftn = _n_dim("ifftn", "complex", "complex")
rfftn = _n_dim("rfftn", "real", "complex")
irfftn = _n_dim("irfftn", "complex", "real")


def _freq_dtype(dtype, fname: str, device):
    d = dtype_arg(dtype, fname) or get_device(device).default_float
    if not d.is_float:
        raise TypeError(f"fft.{fname}: dtype must be real floating, not {d.name}")
    return d


def fftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None) -> Tensor:
    """Sample frequencies of an ``n``-point DFT with spacing ``d`` (as kernels)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("fft.fftfreq: n must be a positive int")
    out_dtype = _freq_dtype(dtype, "fftfreq", device_arg(device))
    i = creation.arange(n, dtype=dt.int32 if n < 2**31 else dt.int64, device=device_arg(device))
    k = (i < (n + 1) // 2).where(i, i - n)
    return (k.cast(out_dtype) * (1.0 / (d * n))).cast(out_dtype)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None) -> Tensor:
    """Sample frequencies of ``rfft`` (non-negative half) with spacing ``d`` (as kernels)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("fft.rfftfreq: n must be a positive int")
    out_dtype = _freq_dtype(dtype, "rfftfreq", device_arg(device))
    i = creation.arange(n // 2 + 1, dtype=dt.int32 if n < 2**31 else dt.int64, device=device_arg(device))
    return (i.cast(out_dtype) * (1.0 / (d * n))).cast(out_dtype)


def _shift(x: Tensor, axes, inverse: bool, fname: str) -> Tensor:
    check_array(x, fname)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(normalize_axis(a, x.ndim) for a in axes)
    if not axes:
        return Tensor._wrap(x._node)  # a new array, never the input object
    shifts = tuple(-(x.shape[a] // 2) if inverse else x.shape[a] // 2 for a in axes)
    return x.roll(shifts, axes)


def fftshift(x: Tensor, /, *, axes=None) -> Tensor:
    """Move the zero frequency to the centre (a roll: index arithmetic)."""
    return _shift(x, axes, False, "fftshift")


def ifftshift(x: Tensor, /, *, axes=None) -> Tensor:
    """Inverse of ``fftshift``."""
    return _shift(x, axes, True, "ifftshift")
