"""``zyx.nn.functional``: layers as functions of tensors, written with Tensor operations.

Convolution and pooling never copy their input into a patch matrix. ``_windows`` builds
the sliding windows of an input as a *view* made of movement ops only (pad, an expand
and reshape that tile the axis, and strided shrinks), and the convolution contracts that
view with the weights in one reduction: the kernel that computes an output element reads
the input directly, with the window arithmetic folded into its index expressions.

Losses live in ``zyx.nn.losses`` and are re-exported here.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np

from .. import dtypes as dt
from ..autograd import composite, is_recording, no_grad
from ..creation import arange, rand
from ..tensor import Tensor
from .._math import where

_IntOrSeq = int | Sequence[int]


def _tuple(v: _IntOrSeq, n: int, name: str) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"{name} needs {n} value(s), got {tuple(v)}")
    return t


def _check_tensor(x, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a zyx.Tensor, not {type(x).__name__}")
    return x


# ---------------------------------------------------------------------- activations
def relu(x: Tensor) -> Tensor:
    return x.relu()


def relu6(x: Tensor) -> Tensor:
    return x.clip(0.0, 6.0)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
    return x.gelu(approximate)


def silu(x: Tensor) -> Tensor:
    return x.silu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(dim)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return x.elu(alpha)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return x.softplus(beta, threshold)


def mish(x: Tensor) -> Tensor:
    return x.mish()


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return x.hardtanh(min_val, max_val)


def one_hot(index: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last axis of ``num_classes``."""
    _check_tensor(index, "index")
    if index.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs an integer tensor, got {index.dtype.name}")
    if num_classes < 0:
        num_classes = int(index.max()) + 1
    classes = arange(num_classes, dtype=index.dtype, device=index.device)
    return (index.unsqueeze(-1) == classes).cast(dt.int64)


# ---------------------------------------------------------------------- dense layers
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` (weight: (out_features, in_features))."""
    out = x @ weight.mT
    return out + bias if bias is not None else out


def bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``out[..., o] = sum_ij x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]``."""
    o, i, j = weight.shape
    if x1.shape[-1] != i or x2.shape[-1] != j:
        raise ValueError(f"bilinear: input features {x1.shape[-1]}, {x2.shape[-1]} do not match the weight "
                         f"{weight.shape}")
    t = x1 @ weight.permute(1, 0, 2).reshape(i, o * j)  # [..., o*j]
    t = t.reshape(t.shape[:-1] + (o, j))
    out = (t * x2.unsqueeze(-2)).sum(-1)
    return out + bias if bias is not None else out


def embedding(index: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` selected by integer ``index``; the output has shape
    ``index.shape + (embedding_dim,)``. Rows read at ``padding_idx`` get no gradient."""
    _check_tensor(index, "index")
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers, got {index.dtype.name}")
    out = weight.take(index, axis=0)
    if padding_idx is not None:
        pad_row = (index == padding_idx).unsqueeze(-1)
        out = where(pad_row, out.detach(), out)
    return out


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``. The
    mask comes from zyx's counter-based generator inside the kernel (fused, no mask
    buffer); a new mask each call. Identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = rand(x.shape, device=x.device) >= p
    return where(keep, x * (1.0 / (1.0 - p)), 0.0)


# ---------------------------------------------------------------------- windows
def _window_axis(x: Tensor, axis: int, k: int, s: int, d: int) -> Tensor:
    """Replace ``axis`` (size i) by two axes (k, o) with ``out[.., b, a, ..] = x[.., a*s + b*d, ..]``,
    using movement ops only.

    The trick: tile the axis c times (expand + reshape), view the first k*(i+d) elements
    as k rows of length i+d - row b then starts at offset b*(i+d) = b*d (mod i) - and take
    every s-th column. The index arithmetic folds back to ``a*s + b*d`` in the kernel."""
    i = x.shape[axis]
    o = (i - d * (k - 1) - 1) // s + 1
    if o <= 0:
        raise ValueError(f"the window (kernel {k}, dilation {d}) is larger than the padded input ({i})")
    pre, post = x.shape[:axis], x.shape[axis + 1:]
    if k == 1:
        bounds = [(0, n, 1) for n in x.shape]
        bounds[axis] = (0, o, s)
        return x.shrink(bounds).reshape(pre + (1, o) + post)
    nd = x.ndim
    if s >= d * (k - 1) + 1:
        # windows that do not overlap (pooling with stride = kernel): split the axis into
        # (o, s) rows and keep the window's columns - a reshape, whose gradient is one too
        full = [(0, n, 1) for n in x.shape]
        if i >= o * s:
            full[axis] = (0, o * s, 1)
            t = x.shrink(full)
        else:  # the last row reaches past the input; the padding is never selected
            t = x.pad([(0, 0)] * axis + [(0, o * s - i)] + [(0, 0)] * (nd - axis - 1))
        t = t.reshape(pre + (o, s) + post)
        sel = [(0, n, 1) for n in t.shape]
        sel[axis + 1] = (0, k, d)
        t = t.shrink(sel)
        perm = list(range(nd + 1))
        perm[axis], perm[axis + 1] = axis + 1, axis
        return t.permute(*perm)
    # in place, the axes before and after it untouched (six movement ops, no permutes: a
    # training step builds these views again every time)
    row = i + d
    c = -(-k * row // i)
    keep_pre, keep_post = [(0, n, 1) for n in pre], [(0, n, 1) for n in post]
    t = x.reshape(pre + (1, i) + post).expand(pre + (c, i) + post).reshape(pre + (c * i,) + post)
    t = t.shrink(keep_pre + [(0, k * row, 1)] + keep_post).reshape(pre + (k, row) + post)
    return t.shrink(keep_pre + [(0, k, 1), (0, o, s)] + keep_post)


def _windows(x: Tensor, kernel: tuple, stride: tuple, dilation: tuple) -> Tensor:
    """Sliding windows over the last ``len(kernel)`` axes of ``x`` (already padded):
    shape ``x.shape[:-n] + kernel + out_sizes``."""
    n = len(kernel)
    base = x.ndim - n
    t = x
    for j in range(n):  # each spatial axis becomes (k_j, o_j) in place
        t = _window_axis(t, base + 2 * j, kernel[j], stride[j], dilation[j])
    ks = [base + 2 * j for j in range(n)]
    os_ = [base + 2 * j + 1 for j in range(n)]
    return t.permute(*(list(range(base)) + ks + os_))


def _pad_spatial(x: Tensor, padding: Sequence[tuple[int, int]], value=0.0) -> Tensor:
    if all(p == (0, 0) for p in padding):
        return x
    return x.pad([(0, 0)] * (x.ndim - len(padding)) + list(padding), value)


def _conv_padding(padding, n: int, kernel, dilation) -> list[tuple[int, int]]:
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "same":
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return out
        raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', not {padding!r}")
    return [(p, p) for p in _tuple(padding, n, "padding")]


def conv(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _IntOrSeq = 1,
         padding: _IntOrSeq | str = 0, dilation: _IntOrSeq = 1, groups: int = 1) -> Tensor:
    """N-d convolution (cross-correlation, as PyTorch): x (N, C_in, *spatial), weight
    (C_out, C_in/groups, *kernel)."""
    _check_tensor(x)
    n = weight.ndim - 2
    if x.ndim != n + 2:
        raise ValueError(f"conv{n}d expects a {n + 2}-d input (N, C, ...), got shape {x.shape}")
    cout, cin_g = weight.shape[:2]
    kernel = weight.shape[2:]
    if groups < 1 or x.shape[1] % groups or cout % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({x.shape[1]}) and output channels "
                         f"({cout})")
    if x.shape[1] // groups != cin_g:
        raise ValueError(f"conv{n}d: input has {x.shape[1]} channels, the weight expects {cin_g * groups} "
                         f"({cin_g} per group x {groups} groups)")
    stride = _tuple(stride, n, "stride")
    dilation = _tuple(dilation, n, "dilation")
    if isinstance(padding, str) and padding == "same" and any(s != 1 for s in stride):
        raise ValueError("padding='same' needs stride 1")
    geom = (tuple(_conv_padding(padding, n, kernel, dilation)), stride, dilation, groups)
    rec = _ConvRecord(geom)
    out = composite(lambda a, b: _conv_forward(a, b, geom, rec), _conv_backward, x, weight, arg=rec)
    if bias is not None:
        out = out + bias.reshape((1, cout) + (1,) * n)
    return out


def _conv_windows(x: Tensor, weight: Tensor, geom):
    """The padded input's windows as (N, groups, 1, C_in/groups, *kernel, *out)."""
    pads, stride, dilation, groups = geom
    n = weight.ndim - 2
    kernel = weight.shape[2:]
    win = _windows(_pad_spatial(x, pads), kernel, stride, dilation)  # (N, C, *k, *o)
    return win.reshape((x.shape[0], groups, 1, weight.shape[1]) + kernel + win.shape[2 + n:])


class _ConvRecord:
    """A recorded convolution's geometry, and the window view its forward built: the weight
    gradient reads the same view, and a training step need not build its ~20 movement nodes
    twice. The view was built outside any tape (a composite's forward is not recorded), so
    it is reused only when no tape records the backward (higher orders rebuild it)."""

    __slots__ = ("geom", "win")

    def __init__(self, geom):
        self.geom, self.win = geom, None


def _conv_forward(x: Tensor, weight: Tensor, geom, rec: _ConvRecord | None = None) -> Tensor:
    pads, stride, dilation, groups = geom
    n = weight.ndim - 2
    cout, cin_g = weight.shape[:2]
    win = _conv_windows(x, weight, geom)
    if rec is not None:
        rec.win = win
    w = weight.reshape((1, groups, cout // groups, cin_g) + weight.shape[2:] + (1,) * n)
    out = (win * w).sum(axis=tuple(range(3, 4 + n)))
    return out.reshape((x.shape[0], cout) + win.shape[4 + n:])


def _conv_backward(g: Tensor, inputs, out, rec: "_ConvRecord"):
    """A convolution's gradients. The weight's: the windows contracted with ``g`` over
    the batch and output positions. The input's: a transposed convolution of ``g``
    (zeros between its elements for a stride, the kernel flipped and its channel axes
    swapped) - not the scatter over overlapping windows that differentiating the window
    view would give."""
    x, weight = inputs
    geom = rec.geom
    pads, stride, dilation, groups = geom
    n = weight.ndim - 2
    kernel = weight.shape[2:]
    og = weight.shape[0] // groups

    def grad_weight():
        win = rec.win
        if win is None or is_recording():
            win = _conv_windows(x, weight, geom)  # (N, G, 1, Cg, *k, *o)
        gg = g.reshape((x.shape[0], groups, og, 1) + (1,) * n + g.shape[2:])
        gw = (win * gg).sum(axis=(0,) + tuple(range(4 + n, 4 + 2 * n)))  # (G, og, Cg, *k)
        return gw.reshape(weight.shape)

    def grad_input():
        t = _insert_zeros(g, stride)
        # pad (or crop) so that a stride-1 convolution gives the input's size
        lo = [d * (k - 1) - p for k, (p, _), d in zip(kernel, pads, dilation)]
        hi = [xi + d * (k - 1) - a - ti for xi, k, d, a, ti in zip(x.shape[2:], kernel, dilation, lo, t.shape[2:])]
        if any(v > 0 for v in lo + hi):
            t = t.pad([(0, 0), (0, 0)] + [(max(a, 0), max(b, 0)) for a, b in zip(lo, hi)])
        if any(v < 0 for v in lo + hi):
            t = t.shrink([(0, t.shape[0], 1), (0, t.shape[1], 1)] +
                         [(max(-a, 0), ti - max(-a, 0) - max(-b, 0), 1) for a, b, ti in zip(lo, hi, t.shape[2:])])
        return conv(t, _transposed_kernel(weight, groups), None, 1, 0, dilation, groups)

    return grad_input, grad_weight


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return conv(x, weight, bias, stride, padding, dilation, groups)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return conv(x, weight, bias, stride, padding, dilation, groups)


def conv_transpose(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _IntOrSeq = 1,
                   padding: _IntOrSeq = 0, output_padding: _IntOrSeq = 0, groups: int = 1,
                   dilation: _IntOrSeq = 1) -> Tensor:
    """N-d transposed convolution: weight (C_in, C_out/groups, *kernel), as PyTorch.

    Computed as a convolution of the input with zeros inserted between its elements
    (a reshape + pad view, no copy), padded by ``dilation*(k-1) - padding``, with the
    kernel flipped and its channel axes swapped."""
    _check_tensor(x)
    n = weight.ndim - 2
    if x.ndim != n + 2:
        raise ValueError(f"conv_transpose{n}d expects a {n + 2}-d input, got shape {x.shape}")
    cin = weight.shape[0]
    kernel = weight.shape[2:]
    if x.shape[1] != cin or cin % groups:
        raise ValueError(f"conv_transpose{n}d: input has {x.shape[1]} channels, the weight expects {cin} "
                         f"(divisible by groups={groups})")
    stride = _tuple(stride, n, "stride")
    padding = _tuple(padding, n, "padding")
    output_padding = _tuple(output_padding, n, "output_padding")
    dilation = _tuple(dilation, n, "dilation")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"output_padding ({op}) must be smaller than stride or dilation")
    t = _insert_zeros(x, stride)
    pads = [(d * (k - 1) - p, d * (k - 1) - p + op)
            for k, p, op, d in zip(kernel, padding, output_padding, dilation)]
    t = _pad_spatial(t, pads) if any(a or b for a, b in pads) else t
    return conv(t, _transposed_kernel(weight, groups), bias, 1, 0, dilation, groups)


def _insert_zeros(t: Tensor, stride: tuple) -> Tensor:
    """``s - 1`` zeros between neighbouring elements along each spatial axis (the axes after
    N and C): a pad + reshape view, no copy."""
    for j, s in enumerate(stride):
        if s == 1:
            continue
        ax = 2 + j
        size = t.shape[ax]
        t = t.unsqueeze(ax + 1)
        widen = [(0, 0)] * t.ndim
        widen[ax + 1] = (0, s - 1)
        t = t.pad(widen).reshape(t.shape[:ax] + (size * s,) + t.shape[ax + 2:])
        keep = [(0, m, 1) for m in t.shape]
        keep[ax] = (0, (size - 1) * s + 1, 1)
        t = t.shrink(keep)
    return t


def _transposed_kernel(weight: Tensor, groups: int) -> Tensor:
    """The kernel of the transposed convolution: spatially flipped, the two channel axes
    swapped within each group: (A, B, *k) -> (groups * B, A // groups, *k)."""
    a, b = weight.shape[:2]
    kernel = weight.shape[2:]
    w = weight.flip(tuple(range(2, weight.ndim)))
    return w.reshape((groups, a // groups, b) + kernel).swapaxes(1, 2).reshape((groups * b, a // groups) + kernel)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation)


# ---------------------------------------------------------------------- pooling
def _pool_geometry(x: Tensor, n: int, kernel_size, stride, padding, dilation, ceil_mode: bool):
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{n}-d pooling expects a {n + 1}-d or {n + 2}-d input, got shape {x.shape}")
    kernel = _tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, n, "stride")
    padding = _tuple(padding, n, "padding")
    dilation = _tuple(dilation, n, "dilation")
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise ValueError(f"pooling padding ({p}) must be at most half the kernel size ({k})")
    sizes = x.shape[-n:]
    pads = []
    for i, k, s, p, d in zip(sizes, kernel, stride, padding, dilation):
        span = i + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(f"pooling window (kernel {k}, dilation {d}) is larger than the padded input "
                             f"({i + 2 * p})")
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= i + p:  # the last window must start inside the input
            o -= 1
        extra = max(0, (o - 1) * s + d * (k - 1) + 1 - (i + 2 * p))
        pads.append((p, p + extra))
    return kernel, stride, pads, dilation


def _max_pool(x: Tensor, n: int, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if return_indices:
        raise NotImplementedError("max pooling with return_indices is not supported by zyx")
    kernel, stride, pads, dilation = _pool_geometry(x, n, kernel_size, stride, padding, dilation, ceil_mode)
    geom = (kernel, stride, tuple(pads), dilation)
    if all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation)) and math.prod(kernel) <= 16:
        # windows that do not overlap: one op with an elementwise backward (below)
        return composite(lambda a: _max_pool_forward(a, geom), _max_pool_backward, x, arg=geom)
    return _max_pool_forward(x, geom)


def _tiled(x: Tensor, geom):
    """For the common pooling geometry - stride = kernel, no padding, no dilation - ``x``
    viewed as ``(..., o1, k1, o2, k2, ...)`` (rows past the last window cut off) with two
    or three movement ops, else None. The general window view takes about ten per axis,
    and a training step builds these graphs again every time."""
    kernel, stride, pads, dilation = geom
    if tuple(stride) != tuple(kernel) or any(d != 1 for d in dilation) or any(p != (0, 0) for p in pads):
        return None
    n = len(kernel)
    base = x.ndim - n
    outs = tuple(i // k for i, k in zip(x.shape[base:], kernel))
    if any(o * k != i for o, k, i in zip(outs, kernel, x.shape[base:])):
        x = x.shrink([(0, m, 1) for m in x.shape[:base]] + [(0, o * k, 1) for o, k in zip(outs, kernel)])
    return x.reshape(x.shape[:base] + tuple(v for o, k in zip(outs, kernel) for v in (o, k)))


def _max_pool_forward(x: Tensor, geom) -> Tensor:
    kernel, stride, pads, dilation = geom
    n = len(kernel)
    t = _tiled(x, geom)
    if t is not None:
        return t.max(axis=tuple(range(x.ndim - n + 1, t.ndim, 2)))
    win = _windows(_pad_spatial(x, pads, -math.inf), kernel, stride, dilation)
    return win.max(axis=tuple(range(x.ndim - n, x.ndim)))


def _ties(views, top: Tensor, dtype) -> Tensor:
    """How many of a window's elements (one strided view per window offset) equal its
    maximum ``top``: a sum of compares, elementwise, so it fuses into the gradient kernel."""
    count = None
    for view in views:
        hit = (view == top).cast(dtype)
        count = hit if count is None else count + hit
    return count


def _max_pool_backward_tiled(g: Tensor, x: Tensor, t: Tensor, out: Tensor, kernel) -> Tensor:
    """``_max_pool_backward`` on the ``(..., o1, k1, o2, k2, ...)`` view: the same
    elementwise kernel from about half as many graph nodes."""
    n = len(kernel)
    base = x.ndim - n
    one = out.shape[:base] + tuple(v for o in out.shape[base:] for v in (o, 1))
    top = out.reshape(one)
    views = (t.shrink([(0, m, 1) for m in t.shape[:base]] + [b for o, a in zip(out.shape[base:], offs)
                                                           for b in ((0, o, 1), (a, 1, 1))])
             for offs in np.ndindex(*kernel))
    share = g.reshape(one) / _ties(views, top, g.dtype)
    gx = where(t == top.broadcast_to(t.shape), share.broadcast_to(t.shape), 0.0)
    gx = gx.reshape(x.shape[:base] + tuple(o * k for o, k in zip(out.shape[base:], kernel)))
    if gx.shape != x.shape:
        gx = gx.pad([(0, 0)] * base + [(0, i - s) for i, s in zip(x.shape[base:], gx.shape[base:])])
    return gx


def _spread(t: Tensor, axis: int, k: int, s: int, d: int, size: int) -> Tensor:
    """The inverse of a non-overlapping ``_window_axis`` for one value per window: put
    ``t``'s element ``a`` (along ``axis``) at every position ``a*s + b*d`` (b < k) of an
    axis of length ``size`` and zeros elsewhere - movement ops only."""
    pre, post = t.shape[:axis], t.shape[axis + 1:]
    o = t.shape[axis]
    nd = t.ndim
    t = t.reshape(pre + (o, 1) + post).expand(pre + (o, k) + post)
    if d > 1:  # (o, k) -> (o, k, d) with zeros after each copy -> (o, k*d), cut to the span
        t = t.reshape(pre + (o, k, 1) + post).pad([(0, 0)] * (axis + 2) + [(0, d - 1)] + [(0, 0)] * (nd - axis - 1))
        t = t.reshape(pre + (o, k * d) + post)
        t = t.shrink([(0, n, 1) for n in pre] + [(0, o, 1), (0, (k - 1) * d + 1, 1)] + [(0, n, 1) for n in post])
    span = t.shape[axis + 1]
    if s > span:
        t = t.pad([(0, 0)] * (axis + 1) + [(0, s - span)] + [(0, 0)] * (nd - axis - 1))
    t = t.reshape(pre + (o * s,) + post)
    if o * s > size:
        return t.shrink([(0, n, 1) for n in pre] + [(0, size, 1)] + [(0, n, 1) for n in post])
    if o * s < size:
        return t.pad([(0, 0)] * axis + [(0, size - o * s)] + [(0, 0)] * (nd - axis - 1))
    return t


def _max_pool_backward(g: Tensor, inputs, out, geom):
    """Max pooling's gradient for windows that do not overlap, as one elementwise kernel:
    each element equal to its window's maximum gets ``g / ties``. The tie count is
    summed from the ``prod(kernel)`` strided views of the window (elementwise, so it fuses
    into the same kernel) instead of a reduction over the windows with a kernel of its
    own that reads the whole input once more."""
    (x,) = inputs
    kernel, stride, pads, dilation = geom
    t = _tiled(x, geom)
    if t is not None:
        return (_max_pool_backward_tiled(g, x, t, out, kernel),)
    n = len(kernel)
    base = x.ndim - n
    xp = _pad_spatial(x, pads, -math.inf)
    win = _windows(xp, kernel, stride, dilation)  # (..., *k, *o)
    views = (win.shrink([(0, m, 1) for m in win.shape[:base]] + [(o, 1, 1) for o in offs] +
                        [(0, m, 1) for m in win.shape[base + n:]]).reshape(out.shape)
             for offs in np.ndindex(*kernel))
    share, top = g / _ties(views, out, g.dtype), out
    for j in range(n):  # one value per window -> the padded input's grid, zeros off the windows
        share = _spread(share, base + j, kernel[j], stride[j], dilation[j], xp.shape[base + j])
        top = _spread(top, base + j, kernel[j], stride[j], dilation[j], xp.shape[base + j])
    gx = where(xp == top, share, 0.0)
    if any(p != (0, 0) for p in pads):
        gx = gx.shrink([(0, m, 1) for m in x.shape[:base]] + [(a, m, 1) for (a, _), m in zip(pads, x.shape[base:])])
    return (gx,)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(x: Tensor, n: int, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    kernel, stride, pads, dilation = _pool_geometry(x, n, kernel_size, stride, padding, 1, ceil_mode)
    win = _windows(_pad_spatial(x, pads), kernel, stride, dilation)
    k_axes = tuple(range(x.ndim - n, x.ndim))
    total = win.sum(axis=k_axes)
    if divisor_override is not None:
        return total / divisor_override
    ceil_extra = any(b != a for a, b in pads)
    if not ceil_extra and (count_include_pad or all(a == 0 for a, _ in pads)):
        return total / math.prod(kernel)
    # per-window divisor: how many window elements lie inside the input (or inside the
    # padded input with count_include_pad), computed once on the host for this geometry
    count = _pool_counts(x.shape[-n:], kernel, stride, tuple(pads), bool(count_include_pad))
    return total / Tensor(count, dtype=total.dtype, device=x.device)


@lru_cache(maxsize=256)
def _pool_counts(sizes, kernel, stride, pads, include_pad: bool) -> np.ndarray:
    counts = []
    for i, k, s, (p, p_end) in zip(sizes, kernel, stride, pads):
        o = (i + p + p_end - k) // s + 1
        starts = np.arange(o) * s - p
        lo_lim, hi_lim = (-p, i + p) if include_pad else (0, i)
        lo = np.maximum(starts, lo_lim)
        hi = np.minimum(starts + k, hi_lim)
        counts.append(np.maximum(hi - lo, 0).astype(np.float64))
    out = counts[0]
    for c in counts[1:]:
        out = np.multiply.outer(out, c)
    return out.astype(np.float32)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool(x, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


@lru_cache(maxsize=256)
def _adaptive_matrix(size: int, out: int) -> np.ndarray:
    """(out, size) averaging matrix of PyTorch's adaptive pooling bins
    [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=np.float32)
    for i in range(out):
        lo = (i * size) // out
        hi = -(-((i + 1) * size) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive bins. Evenly dividing sizes are an ordinary
    average pool; otherwise each spatial axis is contracted with a constant bin-averaging
    matrix (made once per geometry)."""
    _check_tensor(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d expects a 3-d or 4-d input, got shape {x.shape}")
    h, w = x.shape[-2:]
    if isinstance(output_size, (int, np.integer)):
        output_size = (int(output_size), int(output_size))
    oh, ow = (h if output_size[0] is None else int(output_size[0]),
              w if output_size[1] is None else int(output_size[1]))
    if oh <= 0 or ow <= 0:
        raise ValueError(f"adaptive_avg_pool2d: output size must be positive, got {(oh, ow)}")
    if h % oh == 0 and w % ow == 0:
        kh, kw = h // oh, w // ow
        return avg_pool2d(x, (kh, kw), (kh, kw)) if (kh, kw) != (1, 1) else x
    mh = Tensor(_adaptive_matrix(h, oh), dtype=x.dtype, device=x.device)
    mw = Tensor(_adaptive_matrix(w, ow), dtype=x.dtype, device=x.device)
    return (mh @ x) @ mw.T


# ---------------------------------------------------------------------- normalization
def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5, num_batches_tracked: Tensor | None = None) -> Tensor:
    """Batch normalization over every axis but 1 (channels), as PyTorch.

    In training (or without running statistics) it normalizes with the batch statistics
    and, given running statistics, updates them *in place*: ``running = (1 - momentum) *
    running + momentum * batch`` with the unbiased batch variance (``momentum=None``: a
    cumulative average over ``num_batches_tracked``, which is incremented)."""
    _check_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects an input of rank >= 2, got shape {x.shape}")
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    if training or running_mean is None:
        n = x.size // c
        if training and n <= 1:
            raise ValueError(f"batch_norm needs more than one value per channel in training (input {x.shape})")
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        if training and running_mean is not None:
            with no_grad():
                bm = mean.detach().reshape(c)
                bv = var.detach().reshape(c) * (n / (n - 1))
                if momentum is None:
                    if num_batches_tracked is None:
                        raise ValueError("batch_norm with momentum=None needs num_batches_tracked")
                    count = num_batches_tracked + 1
                    num_batches_tracked._node = count._node
                    f = count.cast(running_mean.dtype).reciprocal()
                else:
                    if num_batches_tracked is not None:
                        num_batches_tracked._node = (num_batches_tracked + 1)._node
                    f = momentum
                running_mean._node = (running_mean + (bm - running_mean) * f).cast(running_mean.dtype)._node
                running_var._node = (running_var + (bv - running_var) * f).cast(running_var.dtype)._node
    else:
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    return _affine((x - mean) * (var + eps).rsqrt(), weight, bias, shape)


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple | None = None) -> Tensor:
    """``y * weight + bias`` of a normalization, either optional; ``shape`` lines the
    per-channel ones up with ``y`` (None: they already are)."""
    if weight is not None:
        y = y * (weight if shape is None else weight.reshape(shape))
    if bias is not None:
        y = y + (bias if shape is None else bias.reshape(shape))
    return y


def _standardize(x: Tensor, axes) -> tuple[Tensor, Tensor]:
    """``x``'s deviation from its mean over ``axes`` and its (biased) variance there, both
    keeping the reduced axes."""
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    return d, (d * d).mean(axis=axes, keepdims=True)


def _trailing_axes(x: Tensor, normalized_shape: _IntOrSeq, fname: str) -> tuple[int, ...]:
    """The trailing axes of ``x`` that ``normalized_shape`` names (checked against x)."""
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if x.shape[x.ndim - len(ns):] != ns:
        raise ValueError(f"{fname}: input shape {x.shape} does not end with normalized_shape {ns}")
    return tuple(range(x.ndim - len(ns), x.ndim))


def layer_norm(x: Tensor, normalized_shape: _IntOrSeq, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` axes (biased variance)."""
    _check_tensor(x)
    d, var = _standardize(x, _trailing_axes(x, normalized_shape, "layer_norm"))
    return _affine(d * (var + eps).rsqrt(), weight, bias)


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize over groups of channels (and all spatial axes); per-channel affine."""
    _check_tensor(x)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: {num_groups} groups must divide the channels of input {x.shape}")
    n, c = x.shape[:2]
    d, var = _standardize(x.reshape((n, num_groups, -1)), 2)
    return _affine((d * (var + eps).rsqrt()).reshape(x.shape), weight, bias, (1, c) + (1,) * (x.ndim - 2))


def rms_norm(x: Tensor, normalized_shape: _IntOrSeq, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing axes; ``eps=None`` is the
    dtype's machine epsilon, as PyTorch."""
    _check_tensor(x)
    axes = _trailing_axes(x, normalized_shape, "rms_norm")
    if eps is None:
        eps = float(np.finfo(x.dtype.np if x.dtype.is_float and x.dtype.name != "bfloat16" else np.float32).eps)
    y = x * ((x * x).mean(axis=axes, keepdims=True) + eps).rsqrt()
    return y * weight if weight is not None else y


# ---------------------------------------------------------------------- attention
def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 training: bool = True) -> Tensor:
    """``softmax(q @ k^T * scale + mask) @ v`` as ``torch.nn.functional.scaled_dot_product_attention``:
    a boolean ``attn_mask`` marks the positions that *may* be attended (True = keep), a
    float mask is added to the scores."""
    return _attention(q, k, v, attn_mask, dropout_p, is_causal, scale, training)[0]


def _attention(q, k, v, attn_mask, dropout_p, is_causal, scale, training):
    """(attention output, attention weights after dropout)."""
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q * scale) @ k.mT
    if is_causal:
        from ..creation import tri_mask
        scores = where(tri_mask(L, S, 0, True, q.device), scores, -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype is dt.bool_:
            scores = where(attn_mask, scores, -math.inf)
        else:
            scores = scores + attn_mask
    attn = scores.softmax(-1)
    if dropout_p > 0:
        attn = dropout(attn, dropout_p, training)
    return attn @ v, attn


from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_embedding_loss,  # noqa: E402
                     cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)

__all__ = [
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax", "leaky_relu", "elu", "softplus",
    "mish", "hardtanh", "one_hot", "linear", "bilinear", "embedding", "dropout", "conv", "conv1d", "conv2d",
    "conv_transpose", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "layer_norm", "group_norm", "rms_norm",
    "scaled_dot_product_attention", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy",
    "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
]
