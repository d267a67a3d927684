"""Movement and indexing on Tensor: reshape, permute, slicing, padding, concatenation,
gather. None of these copy: they become index arithmetic in the kernels that read them.

The functions take the tensor first; ``_MovementMixin`` at the bottom makes them Tensor's
methods (``Tensor`` inherits it).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes as dt
from ._views import apply_steps, assign, make_view, new_handle, point_write, write_point, write_through, writes_itself
from .tensor import AxisError, broadcast_shapes, normalize_axis

if TYPE_CHECKING:
    from .tensor import Tensor
else:
    Tensor = None  # bound by zyx.tensor once the class exists (it inherits _MovementMixin)


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(shape)


# ---------------------------------------------------------------- movement steps
def _reshape_steps(self: Tensor, shape) -> list:
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or self.size % known:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} into {shape}")
        shape = tuple(self.size // known if s == -1 else s for s in shape)
    if any(s < 0 for s in shape) or math.prod(shape) != self.size:
        raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({self.size} elements) into {shape}")
    return [("RESHAPE", shape)] if shape != self.shape else []


def _permute_steps(self: Tensor, dims) -> list:
    if len(dims) != self.ndim:
        raise ValueError(f"permute needs {self.ndim} axes, got {dims}")
    perm = tuple(normalize_axis(d, self.ndim) for d in dims)
    if sorted(perm) != list(range(self.ndim)):
        raise ValueError(f"{dims} is not a permutation of the axes of a rank-{self.ndim} tensor")
    return [("PERMUTE", perm)] if perm != tuple(range(self.ndim)) else []


def _swap_steps(self: Tensor, a: int, b: int) -> list:
    a, b = normalize_axis(a, self.ndim), normalize_axis(b, self.ndim)
    perm = list(range(self.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return [("PERMUTE", tuple(perm))] if a != b else []


def _squeeze_steps(self: Tensor, axis) -> list:
    if axis is None:
        shape = tuple(s for s in self.shape if s != 1)
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        norm = [normalize_axis(a, self.ndim) for a in axes]
        if len(set(norm)) != len(norm):
            raise ValueError(f"squeeze: repeated axis in {tuple(axes)}")
        for a in norm:
            if self.shape[a] != 1:
                raise ValueError(f"cannot squeeze axis {a} of size {self.shape[a]} (shape {self.shape})")
        shape = tuple(s for i, s in enumerate(self.shape) if i not in norm)
    return [("RESHAPE", shape)] if shape != self.shape else []


def _unsqueeze_steps(self: Tensor, axis: int) -> list:
    if not -self.ndim - 1 <= axis <= self.ndim:
        raise AxisError(f"axis {axis} is out of bounds for unsqueeze of a rank-{self.ndim} tensor")
    axis = axis % (self.ndim + 1)
    return [("RESHAPE", self.shape[:axis] + (1,) + self.shape[axis:])]


def _flip_steps(self: Tensor, axis) -> list:
    if axis is None:
        axes = set(range(self.ndim))
    else:
        given = axis if isinstance(axis, (tuple, list)) else (axis,)
        norm = [normalize_axis(a, self.ndim) for a in given]
        if len(set(norm)) != len(norm):
            raise ValueError(f"flip: repeated axis in {tuple(given)}")
        axes = set(norm)
    bounds = tuple((s - 1, s, -1) if i in axes and s > 1 else (0, s, 1) for i, s in enumerate(self.shape))
    return [("SHRINK", bounds)] if any(b[2] == -1 for b in bounds) else []


def _broadcast(self: Tensor, shape: tuple) -> Tensor:
    """``self`` broadcast to ``shape`` (plain movement: no view)."""
    own = self._node.shape
    if len(shape) < len(own):
        raise ValueError(f"cannot broadcast shape {own} to {shape}: target has fewer dimensions")
    x = self
    if len(shape) > len(own) and own:
        x = x._movement("RESHAPE", (1,) * (len(shape) - len(own)) + own)
    for a, b in zip(x._node.shape, shape):
        if a != b and a != 1:
            raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
    return x._movement("EXPAND", shape)


# ---------------------------------------------------------------- view functions
def reshape(self: Tensor, *shape) -> Tensor:
    """A view with a new shape (one size may be -1)."""
    return make_view(self, _reshape_steps(self, _shape_args(shape)))


_NUMPY_TYPES = {float: dt.float64, complex: dt.complex128, int: dt.int64, bool: dt.bool_}


def view(self: Tensor, *shape) -> Tensor:
    """``reshape`` (PyTorch's ``view``); or, given one dtype, the same bits read as that dtype
    (PyTorch's and NumPy's ``view(dtype)``; a Python type means what it means to NumPy:
    ``float`` is float64). Equal item sizes: a bitcast. A complex array read as floats of
    half its item size gives its components, the last axis doubled; floats read as complex
    pair them up, the last axis halved. Other size changes raise ValueError."""
    if len(shape) != 1 or isinstance(shape[0], (int, np.integer, tuple, list)):
        return reshape(self, *shape)
    arg = shape[0]
    d = _NUMPY_TYPES[arg] if isinstance(arg, type) and arg in _NUMPY_TYPES else dt.to_dtype(arg)
    src = self.dtype
    if d.itemsize == src.itemsize:
        return self.bitcast(d)
    if self.ndim == 0:
        raise ValueError(f"view: a 0-d {src.name} array cannot be read as {d.name} (item sizes differ)")
    if src.is_complex and 2 * d.itemsize == src.itemsize:
        part = dt.real_of(src)
        pairs = stack([self.real.bitcast(d) if d is not part else self.real,
                       self.imag.bitcast(d) if d is not part else self.imag], -1)
        return reshape(pairs, self.shape[:-1] + (2 * self.shape[-1],))
    if d.is_complex and src.itemsize * 2 == d.itemsize:
        if self.shape[-1] % 2:
            raise ValueError(f"view: the last axis ({self.shape[-1]}) must be even to read {src.name} pairs "
                             f"as {d.name}")
        part = dt.real_of(d)
        x = self.bitcast(part) if src is not part else self
        x = reshape(x, self.shape[:-1] + (self.shape[-1] // 2, 2))
        from ._math import complex_
        return complex_(x[..., 0], x[..., 1])
    raise ValueError(f"view: {src.name} ({src.itemsize} bytes) cannot be read as {d.name} ({d.itemsize} bytes); "
                     "views change the item size only between complex numbers and their float parts")


def permute(self: Tensor, *dims) -> Tensor:
    """A view with the axes in the order ``dims``."""
    return make_view(self, _permute_steps(self, _shape_args(dims)))


def swapaxes(self: Tensor, a: int, b: int) -> Tensor:
    """A view with axes ``a`` and ``b`` exchanged."""
    return make_view(self, _swap_steps(self, a, b))


def transpose(self: Tensor, a: int = -2, b: int = -1) -> Tensor:
    return swapaxes(self, a, b)


def squeeze(self: Tensor, axis=None) -> Tensor:
    """A view without the size-1 axes ``axis`` (all of them when None)."""
    return make_view(self, _squeeze_steps(self, axis))


def unsqueeze(self: Tensor, axis: int) -> Tensor:
    """A view with a new size-1 axis at ``axis``."""
    return make_view(self, _unsqueeze_steps(self, axis))


def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """A view with axes ``start_dim..end_dim`` merged into one."""
    if self.ndim == 0:
        return make_view(self, [("RESHAPE", (1,))])
    s, e = normalize_axis(start_dim, self.ndim), normalize_axis(end_dim, self.ndim)
    return make_view(self, _reshape_steps(self, self.shape[:s] + (math.prod(self.shape[s:e + 1]),) + self.shape[e + 1:]))


def ravel(self: Tensor) -> Tensor:
    """A 1-d view of the elements in C order (NumPy's and PyTorch's ``ravel``)."""
    return reshape(self, (-1,))


def flip(self: Tensor, axis=None) -> Tensor:
    """A view with the order of the elements along ``axis`` (all axes when None) reversed."""
    return make_view(self, _flip_steps(self, axis))


def shrink_to(self: Tensor, bounds) -> Tensor:
    """A view of a strided region; bounds: per axis (start, size, step)."""
    return make_view(self, [("SHRINK", tuple(bounds))])


def broadcast_to(self: Tensor, *shape) -> Tensor:
    """A new array: ``self`` broadcast to ``shape`` (not a view; see the view rule)."""
    if len(shape) == 1 and shape[0] == self._node.shape:
        return new_handle(self)
    shape = tuple(int(s) for s in _shape_args(shape))
    out = _broadcast(self, shape)
    return out if out is not self else new_handle(self)


def expand(self: Tensor, *shape) -> Tensor:
    shape = _shape_args(shape)
    if len(shape) < self.ndim:
        raise ValueError(f"cannot expand shape {self.shape} to {shape}: target has fewer dimensions")
    full = tuple(self.shape[i - len(shape) + self.ndim] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(self, full)


def pad(self: Tensor, pads, value=0.0) -> Tensor:
    """A new array padded with a constant. ``pads`` holds (before, after) per axis, first
    axis first; negative amounts crop."""
    pads = [(int(a), int(b)) for a, b in pads]
    if len(pads) != self.ndim:
        raise ValueError(f"pad needs {self.ndim} (before, after) pairs, got {len(pads)}")
    x = self
    if any(a < 0 or b < 0 for a, b in pads):
        x = x._movement("SHRINK", tuple((max(-a, 0), s - max(-a, 0) - max(-b, 0), 1)
                                         for (a, b), s in zip(pads, self.shape)))
        pads = [(max(a, 0), max(b, 0)) for a, b in pads]
    v = dt.to_dtype(x.dtype)
    value = bool(value) if v is dt.bool_ else (int(value) if v.kind in "iu" else value)
    out = x._movement("PAD", (tuple(pads), value))
    return out if out is not self else new_handle(self)


def _cat_dim(tensors, axis):
    base = tensors[0]
    axis = normalize_axis(axis, base.ndim)
    for t in tensors[1:]:
        if t.ndim != base.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, base.shape)) if i != axis):
            raise ValueError(f"cat: shapes {base.shape} and {t.shape} differ outside axis {axis}")
    return axis


def cat(tensors, axis: int = 0) -> Tensor:
    """Concatenate along ``axis`` into a new array: each part is padded into place and the
    parts are selected with a mask - one kernel reads them all, nothing is copied twice."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    if tensors[0].ndim == 0:
        raise ValueError("cannot concatenate 0-d tensors; use stack")
    d = dt.result_type(*[t.dtype for t in tensors])
    tensors = [t.cast(d) for t in tensors]
    for t in tensors[1:]:
        if t.device != tensors[0].device:
            raise ValueError("cat: tensors are on different devices")
    axis = _cat_dim(tensors, axis)
    if len(tensors) == 1:
        return new_handle(tensors[0])
    total = sum(t.shape[axis] for t in tensors)
    out: Any = None  # the first part, then the parts selected so far
    offset = 0
    from .creation import arange
    pos = None
    for t in tensors:
        n = t.shape[axis]
        pads = [(0, 0)] * t.ndim
        pads[axis] = (offset, total - offset - n)
        part = t._movement("PAD", (tuple(pads), False if d is dt.bool_ else 0))
        if out is None:
            out = part
        else:
            if pos is None:
                shape = [1] * t.ndim
                shape[axis] = total
                pos = arange(total, dtype=dt.int32 if total < 2 ** 31 else dt.int64,
                             device=t.device)._movement("RESHAPE", tuple(shape))
            out = (pos < offset).where(out, part)
        offset += n
    return out


def stack(tensors, axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new ``axis`` (a new array)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shape = tensors[0].shape
    for t in tensors[1:]:
        if t.shape != shape:
            raise ValueError(f"stack: all tensors need one shape, got {shape} and {t.shape}")
    nd = len(shape) + 1
    if not -nd <= axis < nd:
        raise AxisError(f"axis {axis} is out of bounds for stacking rank-{len(shape)} tensors")
    return cat([apply_steps(t, _unsqueeze_steps(t, axis)) for t in tensors], axis)


def _split_bounds(self: Tensor, sizes, axis: int) -> list:
    axis = normalize_axis(axis, self.ndim)
    n = self.shape[axis]
    if isinstance(sizes, int):
        if sizes <= 0:
            raise ValueError("split size must be positive")
        sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
    if sum(sizes) != n:
        raise ValueError(f"split sizes {list(sizes)} do not add up to {n}")
    out, off = [], 0
    for s in sizes:
        out.append(tuple((off, s, 1) if i == axis else (0, d, 1) for i, d in enumerate(self.shape)))
        off += s
    return out


def split(self: Tensor, sizes, axis: int = 0) -> list[Tensor]:
    """Views of consecutive pieces of ``sizes`` along ``axis`` (an int: equal pieces of that
    size, the last one smaller)."""
    return [make_view(self, [("SHRINK", b)]) for b in _split_bounds(self, sizes, axis)]


def chunk(self: Tensor, chunks: int, axis: int = 0) -> list[Tensor]:
    """Views of ``chunks`` (nearly) equal pieces along ``axis``."""
    n = self.shape[normalize_axis(axis, self.ndim)]
    return split(self, max(1, -(-n // chunks)), axis)


def roll(self: Tensor, shift, axis=None) -> Tensor:
    """A new array with the elements shifted by ``shift`` along ``axis`` (cyclically)."""
    if axis is None:
        flat = self._movement("RESHAPE", (self.size,))
        return roll(flat, shift, 0)._movement("RESHAPE", self.shape)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if len(shifts) != len(axes):
        raise ValueError("roll: shift and axis need the same length")
    x = self
    for s, a in zip(shifts, axes):
        a = normalize_axis(a, x.ndim)
        n = x.shape[a]
        if n == 0:
            continue
        s = int(s) % n
        if s == 0:
            continue
        left, right = (x._movement("SHRINK", b) for b in _split_bounds(x, [n - s, s], a))
        x = cat([right, left], a)
    return x if x is not self else new_handle(self)


def repeat(self: Tensor, repeats, axis=None) -> Tensor:
    """np.repeat: a new array with each element repeated ``repeats`` times along ``axis``."""
    if axis is None:
        return repeat(self._movement("RESHAPE", (self.size,)), repeats, 0)
    axis = normalize_axis(axis, self.ndim)
    if isinstance(repeats, Tensor):
        repeats = repeats.tolist()
    if isinstance(repeats, (list, tuple)):
        if len(repeats) == 1:
            repeats = repeats[0]
        else:
            idx = np.repeat(np.arange(self.shape[axis]), repeats)
            from .tensor import Tensor as T
            return take(self, T(idx.astype(np.int64), device=self.device), axis)
    r = int(repeats)
    if r < 0:
        raise ValueError("repeats must be non-negative")
    x = apply_steps(self, _unsqueeze_steps(self, axis + 1))
    shape = list(x.shape)
    shape[axis + 1] = r
    x = _broadcast(x, tuple(shape))
    new = list(self.shape)
    new[axis] *= r
    out = x._movement("RESHAPE", tuple(new))
    return out if out is not self else new_handle(self)


def tile(self: Tensor, reps) -> Tensor:
    """np.tile: a new array of ``reps`` copies of ``self`` along each axis."""
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(len(reps), self.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    x = self._movement("RESHAPE", (1,) * (nd - self.ndim) + self.shape)
    inter = []
    for r, s in zip(reps, x.shape):
        inter += [1, s]
    x = x._movement("RESHAPE", tuple(inter))
    full = []
    for r, s in zip(reps, x.shape[1::2]):
        full += [r, s]
    x = _broadcast(x, tuple(full))
    out = x._movement("RESHAPE", tuple(r * s for r, s in zip(reps, x.shape[1::2])))
    return out if out is not self else new_handle(self)


# ---------------------------------------------------------------- gather and take
def _index_tensor(self: Tensor, index) -> Tensor:
    if not isinstance(index, Tensor):
        index = Tensor(np.asarray(index), device=self.device)
    elif index.device != self.device:
        raise ValueError(f"the index array is on device {index.device}, the indexed array on {self.device}; "
                         "move one with .to(device)")
    if index.dtype.kind not in "iu":
        raise IndexError(f"indices must be integers, got {index.dtype.name}")
    return index


def _check_bounds(idx: Tensor, n: int, axis: int) -> None:
    """Indices already in memory (host lists and arrays, realized tensors) are checked as
    NumPy does: one outside [-n, n) raises IndexError. A lazy index tensor is not realized
    for the check; its out-of-range values are clamped (see gather)."""
    if idx._node.op != "BUFFER" or idx.size == 0:
        return
    v = idx.numpy()
    lo, hi = int(v.min()), int(v.max())
    if lo < -n or hi >= n:
        raise IndexError(f"index {lo if lo < -n else hi} is out of bounds for axis {axis} with size {n}")


def _wrap_negative(idx: Tensor, n: int) -> Tensor:
    if idx.dtype.kind == "u":
        return idx.cast(dt.int64)
    # wrap in the index's own dtype when it holds n (no int64 arithmetic for int32 indices:
    # cheaper everywhere, and Mesa's lavapipe miscompiled the int64 select)
    d = idx.dtype if dt.max_value(idx.dtype) >= n else (dt.int32 if n < 2 ** 31 else dt.int64)
    idx = idx.cast(d) if idx.dtype is not d else idx
    return (idx < 0).where(idx + n, idx)


def gather(self: Tensor, axis: int, index) -> Tensor:
    """take_along_axis: out[..i..] = self[..index[..i..]..] along ``axis``; the index is
    broadcast against self on the other axes. Negative indices count from the end;
    indices outside the axis are clamped (never read out of bounds)."""
    index = _index_tensor(self, index)
    axis = normalize_axis(axis, self.ndim)
    _check_bounds(index, self.shape[axis], axis)
    if index.ndim != self.ndim:
        raise ValueError(f"gather: index has rank {index.ndim}, tensor has rank {self.ndim}")
    shape = broadcast_shapes(tuple(1 if i == axis else s for i, s in enumerate(self.shape)),
                             tuple(1 if i == axis else s for i, s in enumerate(index.shape)))
    out_shape = tuple(index.shape[axis] if i == axis else s for i, s in enumerate(shape))
    src_shape = tuple(self.shape[axis] if i == axis else s for i, s in enumerate(shape))
    idx = _broadcast(_wrap_negative(index, self.shape[axis]), out_shape)
    src = _broadcast(self, src_shape)
    if self.shape[axis] == 0:
        if idx.size:
            raise IndexError("gather from an empty axis")
        return Tensor._const(0, out_shape, self.dtype, self.device)
    return src._gather(idx, axis)


def take(self: Tensor, indices, axis=None) -> Tensor:
    if axis is None:
        if self.ndim != 1:
            return take(self._movement("RESHAPE", (self.size,)), indices, 0)
        axis = 0
    axis = normalize_axis(axis, self.ndim)
    idx = _index_tensor(self, indices)
    _check_bounds(idx, self.shape[axis], axis)
    n_idx = idx.ndim
    # out shape: self.shape[:axis] + idx.shape + self.shape[axis+1:]
    flat = idx._movement("RESHAPE", (idx.size,))
    pre, post = self.shape[:axis], self.shape[axis + 1:]
    shaped = flat._movement("RESHAPE", (1,) * len(pre) + (flat.shape[0],) + (1,) * len(post))
    g = gather(self, axis, _broadcast(shaped, pre + (flat.shape[0],) + post))
    return g._movement("RESHAPE", pre + idx.shape + post) if n_idx != 1 else g


def take_along_axis(self: Tensor, indices, axis: int = -1) -> Tensor:
    return gather(self, axis, indices)


# ---------------------------------------------------------------- __getitem__
def _normalize_key(self: Tensor, key):
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, (list, np.ndarray)) or (isinstance(k, Tensor)):
            if isinstance(k, list) and len(k) == 0:
                k = np.zeros(0, np.int64)  # NumPy: an empty list is an empty integer index
            if isinstance(k, Tensor) and k.device != self.device:
                raise ValueError(f"the index array is on device {k.device}, the indexed array on {self.device}; "
                                 "move one with .to(device)")
            k = k if isinstance(k, Tensor) else Tensor(np.asarray(k), device=self.device)
            if k.dtype.kind not in "iub":
                raise IndexError(f"arrays used as indices must be integer or boolean, got {k.dtype.name}")
        elif isinstance(k, (np.integer,)):
            k = int(k)
        elif isinstance(k, np.bool_):
            k = bool(k)
        elif not (k is None or k is Ellipsis or isinstance(k, (int, slice, bool))):
            raise IndexError(f"unsupported index {k!r} of type {type(k).__name__}")
        out.append(k)
    if sum(1 for k in out if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(k.ndim if isinstance(k, Tensor) and k.dtype is dt.bool_ else 1
                   for k in out if k is not None and k is not Ellipsis and not isinstance(k, bool))
    if consumed > self.ndim:
        raise IndexError(f"too many indices for a tensor of rank {self.ndim} ({consumed} given)")
    if Ellipsis in [k for k in out if not isinstance(k, Tensor)]:
        i = next(j for j, k in enumerate(out) if k is Ellipsis and not isinstance(k, Tensor))
        out[i:i + 1] = [slice(None)] * (self.ndim - consumed)
    else:
        out += [slice(None)] * (self.ndim - consumed)
    return out


def _in_bounds(k: int, size: int, dim: int) -> int:
    """Integer index ``k`` of axis ``dim`` (length ``size``) as a position, negatives from the end."""
    if not -size <= k < size:
        raise IndexError(f"index {k} is out of bounds for axis {dim} with size {size}")
    return k % size


def _basic_steps(self: Tensor, key: list) -> list:
    """The movement steps of a normalized key of ints, slices and None: one SHRINK, then
    one RESHAPE that drops the int-indexed axes and inserts the new ones."""
    bounds, shape = [], []
    dim = 0
    for k in key:
        if k is None:
            shape.append(1)
            continue
        size = self.shape[dim]
        if isinstance(k, int):
            bounds.append((_in_bounds(k, size, dim), 1, 1))
        else:
            start, stop, step = k.indices(size)
            n = len(range(start, stop, step))
            bounds.append((start if n else 0, n, step if n else 1))
            shape.append(n)
        dim += 1
    steps: list[tuple[str, Any]] = []
    if any(b != (0, s, 1) for b, s in zip(bounds, self.shape)):
        steps.append(("SHRINK", tuple(bounds)))
    if tuple(shape) != tuple(b[1] for b in bounds):
        steps.append(("RESHAPE", tuple(shape)))
    return steps


def _steps_shape(self: Tensor, steps: list) -> tuple:
    if not steps:
        return self.shape
    op, arg = steps[-1]
    return arg if op == "RESHAPE" else tuple(b[1] for b in arg)


def _int_steps(self: Tensor, key) -> list | None:
    """``_basic_steps`` of a key of Python ints only (``a[i]``, ``a[i, j]``: element reads in
    loops), without normalizing a general key; None for any other key."""
    shape = self.shape
    if type(key) is int:
        ks: tuple = (key,)
    elif type(key) is tuple and 0 < len(key) <= len(shape) and all(type(k) is int for k in key):
        ks = key
    else:
        return None
    if not shape:
        return None  # (a 0-d tensor: the general path says what is wrong)
    bounds = []
    whole = True  # every indexed axis has length 1: nothing to shrink
    for d, k in enumerate(ks):
        size = shape[d]
        bounds.append((_in_bounds(k, size, d), 1, 1))
        whole = whole and size == 1
    rest = shape[len(ks):]
    if whole:  # (the int-indexed axes are dropped: there is always a reshape)
        return [("RESHAPE", rest)]
    return [("SHRINK", tuple(bounds) + tuple([(0, sz, 1) for sz in rest])), ("RESHAPE", rest)]


def getitem(self: Tensor, key, /) -> Tensor:
    """``self[key]``: a view for a basic key (ints, slices, None, ...), a new array when
    the key holds arrays or booleans (NumPy's advanced indexing)."""
    steps = _int_steps(self, key)
    if steps is not None:
        return make_view(self, steps)
    if type(key) is tuple and len(key) <= len(self._node.shape) and all(type(k) is slice or type(k) is int for k in key):
        # ints and slices only (``x[:, 0]``, ``x[1:, ::2]``): nothing to normalize
        return make_view(self, _basic_steps(self, list(key) + [slice(None)] * (len(self._node.shape) - len(key))))
    if _is_basic(key):
        return make_view(self, _basic_steps(self, _normalize_key(self, key)))
    key = _normalize_key(self, key)
    # bool masks -> integer index arrays (data-dependent: realizes the mask)
    expanded: list[Any] = []  # the key's entries with boolean masks made integer arrays
    cur = 0  # first axis of self that k indexes
    for k in key:
        if isinstance(k, Tensor) and k.dtype is dt.bool_:
            if k.ndim == 0:
                expanded.append(None)
                expanded.append(("zero_if_false", bool(k.item())))
                continue
            if k.shape != self.shape[cur:cur + k.ndim]:
                raise IndexError(f"boolean index of shape {k.shape} does not match the shape "
                                 f"{self.shape[cur:cur + k.ndim]} of the axes it indexes")
            cur += k.ndim
            nz = np.nonzero(k.numpy())
            expanded.extend(Tensor(a.astype(np.int64), device=self.device) for a in nz)
        elif isinstance(k, bool):
            expanded.append(None)
            expanded.append(("zero_if_false", k))
        else:
            expanded.append(k)
            cur += k is not None
    # NumPy: with array indices present, integers are advanced indices too; a group of
    # advanced indices split by a slice/None/ellipsis puts the result dimensions first
    adv_slots = [i for i, k in enumerate(expanded) if isinstance(k, Tensor)
                 or (isinstance(k, int) and not isinstance(k, bool))]
    split_group = any(isinstance(k, Tensor) for k in expanded) and \
        adv_slots != list(range(adv_slots[0], adv_slots[-1] + 1))
    x = self
    dim = 0  # current axis of x being consumed
    bounds: list[tuple[int, int, int]] = []  # (start, size, step) per indexed axis
    new_shape: list[tuple[str, int]] = []  # (what, axis of x) per axis of the result
    advanced: list[tuple[int, int, Tensor]] = []  # (slot in new_shape, axis of x, index array)
    drop_false: list[int] = []
    for k in expanded:
        if k is None:
            new_shape.append(("new", 1))
            continue
        if isinstance(k, tuple) and k[0] == "zero_if_false":
            if not k[1]:
                drop_false.append(len(new_shape) - 1)
            continue
        size = x.shape[dim]
        if isinstance(k, int):
            bounds.append((_in_bounds(k, size, dim), 1, 1))
            new_shape.append(("drop", dim))
        elif isinstance(k, slice):
            start, stop, step = k.indices(size)
            n = len(range(start, stop, step))
            bounds.append((start if n else 0, n, step if n else 1))
            new_shape.append(("keep", dim))
        else:  # integer tensor
            _check_bounds(k, size, dim)
            bounds.append((0, size, 1))
            advanced.append((len(new_shape), dim, k))
            new_shape.append(("adv", dim))
        dim += 1
    x = x._movement("SHRINK", tuple(bounds)) if bounds else x
    # reshape: drop int-indexed axes, insert new axes
    shape = []
    for kind, d in new_shape:
        if kind == "new":
            shape.append(1)
        elif kind in ("keep", "adv"):
            shape.append(x.shape[d])
    y = x._movement("RESHAPE", tuple(shape))
    for p in drop_false:
        pos = sum(1 for kind, _ in new_shape[:p + 1] if kind != "drop") - 1
        y = y._movement("SHRINK", tuple((0, 0, 1) if i == pos else (0, s, 1) for i, s in enumerate(y.shape)))
    if not advanced:
        return y if y is not self else new_handle(self)
    # positions of advanced axes in y
    ypos = []
    for slot, _, t in advanced:
        ypos.append(sum(1 for kind, _ in new_shape[:slot] if kind != "drop"))
    return _advanced_index(y, ypos, [t for _, _, t in advanced], split_group)


def _advanced_index(y: Tensor, axes: list[int], idxs: list[Tensor], front: bool = False) -> Tensor:
    bshape = broadcast_shapes(*[t.shape for t in idxs])
    lin: Any = None  # the linear index over the advanced axes
    sizes = [y.shape[a] for a in axes]
    for t, n in zip(idxs, sizes):
        t = _wrap_negative(t, n)
        lin = t if lin is None else lin * n + t
    lin = _broadcast(lin, bshape)
    adjacent = axes == list(range(axes[0], axes[0] + len(axes))) and not front
    rest = [a for a in range(y.ndim) if a not in axes]
    moved = apply_steps(y, _permute_steps(y, (*axes, *rest)))
    flat = moved._movement("RESHAPE", (math.prod(sizes),) + tuple(y.shape[a] for a in rest))
    out = take(flat, lin, 0)  # shape bshape + rest
    if adjacent and axes[0] != 0:
        nb = len(bshape)
        k = axes[0]
        perm = list(range(nb, nb + k)) + list(range(nb)) + list(range(nb + k, out.ndim))
        out = out._movement("PERMUTE", tuple(perm))
    return out


# ---------------------------------------------------------------- __setitem__
def setitem(self: Tensor, key, value, /) -> None:
    """In-place assignment: the tensor's graph is replaced by one that selects the new
    values where the key points and the old ones elsewhere (and, for a view, its root's
    graph by one that writes them through; see the view rule)."""
    if isinstance(value, Tensor) and value._node.shape == () and value.dtype is self.dtype:
        # one element set to a 0-d array (loops of ``a[i, j] = v[k]``): the short road
        ks = (key,) if type(key) is int else key
        shape = self._node.shape
        if (type(ks) is tuple and len(ks) == len(shape) and all(type(k) is int for k in ks)
                and value.device == self.device
                and point_write(self, [_in_bounds(k, n, d) for d, (k, n) in enumerate(zip(ks, shape))], value)):
            return
    v = value if isinstance(value, Tensor) else self._operand(value)
    if v.device != self.device:
        raise ValueError(f"the assigned value is on device {v.device}, the array on {self.device}; "
                         "move one with .to(device)")
    if v.dtype is not self.dtype:
        v = v.cast(self.dtype)
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if isinstance(mask, Tensor) and mask.device != self.device:
        raise ValueError(f"the index array is on device {mask.device}, the indexed array on {self.device}; "
                         "move one with .to(device)")
    if isinstance(mask, Tensor) and mask.dtype is dt.bool_ and _mask_fast_path(self, mask, v):
        # x[mask] = value with one value for every selected element (or row): a where,
        # no data-dependent shape and no host round trip
        rest = self.ndim - mask.ndim
        new = _broadcast(mask._movement("RESHAPE", mask.shape + (1,) * rest), self.shape).where(
            _broadcast(v, self.shape), self)
        assign(self, new)
        return
    if _is_basic(key):
        steps = _int_steps(self, key)  # (ints only: the short road, as getitem's)
        if steps is None:
            steps = _basic_steps(self, _normalize_key(self, key))
        shape = _steps_shape(self, steps)
        if math.prod(shape) == 1 and v.size == 1 and self.size > 1:  # one element: a point write
            _broadcast(v, shape)  # (the standard's broadcasting rule: v may not have more axes)
            if v is value and writes_itself(self, tuple(steps), v):
                return  # a[i, j] += x: the in-place add already wrote through its view
            write_point(self, tuple(steps), v, batch=v is value)
            return
        vb = _broadcast(v, shape) if v.shape != shape else v
        assign(self, write_through(self, tuple(steps), vb))
        return
    from .creation import arange
    positions = arange(self.size, dtype=dt.int64, device=self.device)._movement("RESHAPE", self.shape)
    sel = getitem(positions, key)
    vb = _broadcast(v, sel.shape) if v.shape != sel.shape else v
    assign(self, _scatter_host(self, sel, vb))


def _mask_fast_path(self: Tensor, mask: Tensor, v: Tensor) -> bool:
    """A boolean mask over the leading axes whose value is the same for every selected
    element or row (it broadcasts against the axes the mask leaves)."""
    if mask.ndim == 0 or mask.shape != self.shape[:mask.ndim]:
        return False
    rest = self.shape[mask.ndim:]
    if v.ndim > len(rest):
        return False
    return all(a in (1, b) for a, b in zip(v.shape[::-1], rest[::-1]))


def _is_basic(key) -> bool:
    ks = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer)) and not isinstance(k, bool)
               for k in ks)


def _unshrink(x: Tensor, axis: int, start: int, n: int, step: int, size: int, fill=0) -> Tensor:
    """Inverse of a strided slice along one axis: put x's n elements at
    start, start+step, ... of an axis of ``size``; elsewhere ``fill``."""
    if n == 0:
        shape = list(x.shape)
        shape[axis] = size
        return Tensor._const(fill, tuple(shape), x.dtype, x.device)
    if step < 0:
        x = apply_steps(x, _flip_steps(x, axis))
        start = start + step * (n - 1)
        step = -step
    if step > 1:
        # interleave: (.., n, 1) -> pad to (.., n, step) -> (.., n*step) -> crop
        x = apply_steps(x, _unsqueeze_steps(x, axis + 1))
        p = [(0, 0)] * x.ndim
        p[axis + 1] = (0, step - 1)
        x = pad(x, p, fill)
        shape = list(x.shape)
        shape[axis:axis + 2] = [n * step]
        x = x._movement("RESHAPE", tuple(shape))
        bounds = [(0, s, 1) for s in x.shape]
        bounds[axis] = (0, (n - 1) * step + 1, 1)
        x = x._movement("SHRINK", tuple(bounds))
    extent = x.shape[axis]
    p = [(0, 0)] * x.ndim
    p[axis] = (start, size - start - extent)
    return pad(x, p, fill)


def _scatter_host(self: Tensor, sel: Tensor, v: Tensor) -> Tensor:
    """Advanced-index assignment computed on the host (documented fallback)."""
    base = self.numpy().copy().reshape(-1)
    base[sel.numpy().reshape(-1)] = v.numpy().reshape(-1)
    return Tensor(base.reshape(self.shape), device=self.device)


class _MovementMixin:
    """Reshaping, views, padding, concatenation and indexing: methods of ``Tensor``, which
    inherits this class. Each entry is one of the functions above (they take the tensor
    first; ``cat`` and ``stack`` take a sequence and are static)."""

    __slots__ = ()

    # ------------------------------------------------------------ views
    reshape = reshape
    view = view
    permute = permute
    swapaxes = swapaxes
    transpose = transpose
    squeeze = squeeze
    unsqueeze = unsqueeze
    flatten = flatten
    ravel = ravel
    flip = flip
    shrink = shrink_to

    # ------------------------------------------------------------ new arrays
    broadcast_to = broadcast_to
    expand = expand
    pad = pad
    split = split
    chunk = chunk
    roll = roll
    repeat = repeat
    tile = tile
    cat = staticmethod(cat)
    stack = staticmethod(stack)

    # ------------------------------------------------------------ indexing
    __getitem__ = getitem
    __setitem__ = setitem
    gather = gather
    take = take
    take_along_axis = take_along_axis
