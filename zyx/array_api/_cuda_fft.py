"""FFTs on CUDA devices: cuFFT through ``nvmath-python`` (see ``_cuda_linalg.FFT``).

``fft.py`` sends every transform of a ``cuda`` array here once its arguments are checked.
The transform axes are moved last, cut or zero-padded to the requested lengths and cast
(lazy ops, realized into one scratch buffer), one batched cuFFT plan of rank <= 3 runs on
zyx's stream into a new buffer, and the result is moved back and scaled by the
normalization - lazily, so the scaling fuses into the consumer. NumPy's semantics:
``norm`` backward/ortho/forward, ``irfft``'s default length ``2 * (m - 1)``, the imaginary
parts of the zero (and Nyquist) frequencies ignored by the complex-to-real transforms
(``irfftn`` as an inverse c2c over the other axes, then c2r over the last, as NumPy does),
``hfft``/``ihfft`` through ``irfft``/``rfft`` of the conjugate, and single precision for
float16/float32/complex64 input.
"""
from __future__ import annotations

import math

from .. import dtypes as dt
from ..tensor import Tensor
from ._cuda_linalg import address, leaf, library, new_buffer, scratch

_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _fit(x: Tensor, axis: int, n: int) -> Tensor:
    """``x`` cut or zero-padded to length ``n`` along ``axis``."""
    have = x.shape[axis]
    if have == n:
        return x
    if have > n:
        return x.shrink(tuple((0, n if i == axis else s, 1) for i, s in enumerate(x.shape)))
    return x.pad(tuple((0, n - have) if i == axis else (0, 0) for i in range(x.ndim)))


def _scale(norm: str, inverse: bool, count: int) -> float:
    if norm == "ortho":
        return 1 / math.sqrt(count)
    if (norm == "backward") == inverse:  # backward scales the inverse, forward the forward
        return 1 / count
    return 1.0


def transform(kind: str, x: Tensor, sizes: list[int], axes: list[int], norm: str, inverse: bool) -> Tensor:
    """The n-dimensional transform of ``kind`` ("c2c", "r2c", "c2r") over ``axes``, with
    ``sizes`` the logical lengths (the output's for c2r, the input's otherwise)."""
    if kind == "c2r" and len(axes) > 1:  # as NumPy: inverse c2c over the others, then c2r on the last
        x = transform("c2c", x, sizes[:-1], axes[:-1], norm, True)
        return transform("c2r", x, sizes[-1:], axes[-1:], norm, True)
    if len(axes) > 3:  # cuFFT plans up to rank 3: the leading axes in a pass of their own (separable)
        inner = transform(kind, x, sizes[-3:], axes[-3:], norm, inverse)
        return transform("c2c", inner, sizes[:-3], axes[:-3], norm, inverse)
    single = dt.real_of(x.dtype) is not dt.float64
    cd, rd = (dt.complex64, dt.float32) if single else (dt.complex128, dt.float64)
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = rest + list(axes)
    y = x.permute(tuple(perm)) if perm != list(range(x.ndim)) else x
    r = len(rest)
    for j, n in enumerate(sizes):
        want = n // 2 + 1 if kind == "c2r" and j == len(sizes) - 1 else n
        y = _fit(y, r + j, want)
    y = y.cast(rd if kind == "r2c" else cd)
    if kind == "c2r":  # pocketfft ignores the imaginary parts of the DC and Nyquist terms
        last, half = y.ndim - 1, sizes[-1] // 2 + 1
        from .. import creation
        i = creation.arange(half, dtype=dt.int32, device=x.device)
        edge = (i == 0) | ((i == half - 1) & (sizes[-1] % 2 == 0))
        y = edge.reshape((1,) * last + (half,)).where(y.real.cast(cd), y)
    batch_shape = tuple(y.shape[:r])
    nb = math.prod(batch_shape)
    src = scratch(y)
    if kind == "c2c":
        out_dims, out_dtype = tuple(sizes), cd
    elif kind == "r2c":
        out_dims, out_dtype = tuple(sizes[:-1]) + (sizes[-1] // 2 + 1,), cd
    else:
        out_dims, out_dtype = tuple(sizes), rd
    dst = new_buffer(x.device, nb * math.prod(out_dims), out_dtype)
    library("fft", x.device).execute(kind, src.dtype, tuple(sizes), nb, address(src), address(dst), inverse)
    out = leaf(dst, batch_shape + out_dims)
    inv_perm = [perm.index(i) for i in range(x.ndim)]
    if inv_perm != list(range(x.ndim)):
        out = out.permute(tuple(inv_perm))
    scale = _scale(norm, inverse, math.prod(sizes))
    return out * scale if scale != 1.0 else out


def one_dim(name: str, x: Tensor, n: int | None, axis: int, norm: str) -> Tensor:
    """``fft``, ``ifft``, ``rfft``, ``irfft``, ``hfft``, ``ihfft`` along ``axis`` (normalized)."""
    if name in ("fft", "ifft"):
        return transform("c2c", x, [n or x.shape[axis]], [axis], norm, name == "ifft")
    if name == "rfft":
        return transform("r2c", x, [n or x.shape[axis]], [axis], norm, False)
    if name == "irfft":
        return transform("c2r", x, [n or 2 * (x.shape[axis] - 1)], [axis], norm, True)
    if name == "hfft":  # numpy: irfft(conj(x), n, norm=swapped)
        return transform("c2r", x.conj(), [n or 2 * (x.shape[axis] - 1)], [axis], _SWAP[norm], True)
    if name == "ihfft":  # numpy: conj(rfft(x, n, norm=swapped))
        return transform("r2c", x, [n or x.shape[axis]], [axis], _SWAP[norm], False).conj()
    raise ValueError(name)


def n_dim(name: str, x: Tensor, s, axes, norm: str) -> Tensor:
    """``fftn``, ``ifftn``, ``rfftn``, ``irfftn`` (``axes``/``s`` already normalized by fft.py,
    or None for NumPy's defaults)."""
    if axes is None:
        axes = list(range(x.ndim - len(s), x.ndim)) if s is not None else list(range(x.ndim))
    axes = list(axes)
    if s is None:
        sizes = [x.shape[a] for a in axes]
        if name == "irfftn":
            sizes[-1] = 2 * (x.shape[axes[-1]] - 1)
    else:
        sizes = list(s)
    kind = {"fftn": "c2c", "ifftn": "c2c", "rfftn": "r2c", "irfftn": "c2r"}[name]
    return transform(kind, x, sizes, axes, norm, name in ("ifftn", "irfftn"))
