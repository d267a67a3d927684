"""Manipulation functions (standard section "Manipulation Functions").

All of these are movement operations: they never copy, they change how the kernel
that later reads the array indexes it. ``expand_dims``, ``flip``, ``moveaxis``,
``permute_dims``, ``reshape``, ``squeeze`` and ``unstack`` return views (writes through
them reach ``x``; see docs/array_api.md), the others new arrays.
"""
from __future__ import annotations

from .. import _movement
from .. import dtypes as dt
from ..tensor import AxisError, Tensor, broadcast_shapes as _broadcast_shapes, normalize_axis
from ._helpers import check_array, same_device, shape_tuple

__all__ = ["broadcast_arrays", "broadcast_shapes", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis",
           "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile", "unstack"]


def broadcast_arrays(*arrays: Tensor) -> tuple[Tensor, ...]:
    """Broadcast arrays against each other; returns a tuple (2025.12)."""
    for a in arrays:
        check_array(a, "broadcast_arrays", "arrays")
    if not arrays:
        return ()
    shape = _broadcast_shapes(*[a.shape for a in arrays])
    return tuple(a.broadcast_to(shape) for a in arrays)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that arrays of ``shapes`` broadcast to (2025.12); ValueError if none."""
    return _broadcast_shapes(*[shape_tuple(s, "broadcast_shapes") for s in shapes])


def broadcast_to(x: Tensor, /, shape: tuple[int, ...]) -> Tensor:
    check_array(x, "broadcast_to")
    return x.broadcast_to(shape_tuple(shape, "broadcast_to"))


def concat(arrays, /, *, axis: int | None = 0) -> Tensor:
    """Join arrays along ``axis`` (``axis=None``: flatten them first). Dtypes promote."""
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise ValueError("concat: needs a non-empty tuple or list of arrays")
    for a in arrays:
        check_array(a, "concat", "arrays")
    same_device("concat", *arrays)
    if axis is None:
        arrays, axis = [a.reshape(-1) for a in arrays], 0
    nd = arrays[0].ndim
    for a in arrays:
        if a.ndim != nd:
            raise ValueError(f"concat: arrays need one rank (got {nd} and {a.ndim})")
    if nd == 0:
        raise ValueError("concat: 0-d arrays cannot be concatenated; use stack")
    ax = normalize_axis(axis, nd)
    d = dt.result_type(*[a.dtype for a in arrays])
    parts = [a.cast(d) for a in arrays]
    nonempty = [a for a in parts if a.shape[ax] > 0]
    if nonempty and len(nonempty) < len(parts):
        _movement.cat(parts, ax)  # validates the shapes of the empty parts too
        parts = nonempty          # empty parts add nothing: leave them out of the kernel
    return _movement.cat(parts, ax)


def expand_dims(x: Tensor, /, axis) -> Tensor:
    """Insert size-1 axes at ``axis`` (an int, or a tuple of ints in 2025.12) of the
    result."""
    check_array(x, "expand_dims")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)  # (a list, as NumPy takes)
    nd = x.ndim + len(axes)
    norm = []
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
            raise TypeError(f"expand_dims: axis must be an int or a tuple of ints, not {a!r}")
        if not -nd <= a < nd:
            raise AxisError(f"expand_dims: axis {a} is out of bounds for a result of rank {nd}")
        norm.append(a % nd)
    if len(set(norm)) != len(norm):
        raise ValueError(f"expand_dims: repeated axis in {axis}")
    it = iter(x.shape)
    shape = tuple(1 if i in norm else next(it) for i in range(nd))
    return x.reshape(shape)


def flip(x: Tensor, /, *, axis=None) -> Tensor:
    check_array(x, "flip")
    return x.flip(axis)


def moveaxis(x: Tensor, source, destination, /) -> Tensor:
    """Move axes ``source`` to positions ``destination``; the others keep their order."""
    check_array(x, "moveaxis")
    # (lists as well as the standard's tuples: NumPy, PyTorch and array-api-strict take them,
    # and SciPy passes a user's list on)
    src = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    dst = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination need the same number of axes")
    src = [normalize_axis(a, x.ndim) for a in src]
    dst = [normalize_axis(a, x.ndim) for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("moveaxis: repeated axis")
    rest = [a for a in range(x.ndim) if a not in src]
    perm = [None] * x.ndim
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return x.permute(*perm)


def permute_dims(x: Tensor, /, axes: tuple[int, ...]) -> Tensor:
    check_array(x, "permute_dims")
    axes = tuple(axes)
    if x.ndim == 0 and axes:
        raise ValueError("permute_dims: a 0-d array takes axes=()")
    return x.permute(*axes)


def repeat(x: Tensor, repeats, /, *, axis: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int or a 1-d integer array, one count per
    element along ``axis``; ``axis=None`` flattens first). Per-element counts are
    data-dependent: they are read on the host to size the result."""
    check_array(x, "repeat")
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu":
            raise TypeError("repeat: repeats must have an integer dtype")
        if repeats.ndim > 1:
            raise ValueError("repeat: repeats must be 0-d or 1-d")
        same_device("repeat", x, repeats)
        reps = repeats.numpy()
        if (reps < 0).any():
            raise ValueError("repeat: repeats must be non-negative")
        n = x.size if axis is None else x.shape[normalize_axis(axis, x.ndim)]
        if reps.ndim == 1 and reps.shape[0] not in (1, n):
            raise ValueError(f"repeat: {reps.shape[0]} repeat counts for an axis of size {n}")
        repeats = reps.tolist() if reps.ndim == 1 else int(reps)
    elif isinstance(repeats, bool) or not isinstance(repeats, int):
        raise TypeError(f"repeat: repeats must be an int or an integer array, not {type(repeats).__name__}")
    elif repeats < 0:
        raise ValueError("repeat: repeats must be non-negative")
    if axis is not None and x.ndim == 0:
        raise AxisError("repeat: a 0-d array has no axis to repeat along")
    return x.repeat(repeats, axis)


def reshape(x: Tensor, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Tensor:
    """A view of ``x`` with a new shape (zyx reshapes never copy: ``copy=False`` always
    succeeds; ``copy=True`` returns a new array, not a view)."""
    check_array(x, "reshape")
    shape = tuple(int(s) for s in shape) if not isinstance(shape, int) else (shape,)
    out = x.reshape(shape)
    if copy:
        out = Tensor._wrap(out._node)
    return out


def roll(x: Tensor, /, shift, *, axis=None) -> Tensor:
    check_array(x, "roll")
    if isinstance(shift, tuple) and axis is not None and not isinstance(axis, tuple):
        raise ValueError("roll: a tuple shift needs a tuple axis")
    if isinstance(axis, tuple) and isinstance(shift, int):
        shift = (shift,) * len(axis)
    return x.roll(shift, axis)


def squeeze(x: Tensor, /, axis) -> Tensor:
    """Remove size-1 axes ``axis`` (an int or tuple of ints; ValueError if not size 1)."""
    check_array(x, "squeeze")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    norm = [normalize_axis(a, x.ndim) for a in axes]
    if len(set(norm)) != len(norm):
        raise ValueError(f"squeeze: repeated axis in {axis}")
    return x.squeeze(tuple(norm))


def stack(arrays, /, *, axis: int = 0) -> Tensor:
    """Join equally shaped arrays along a new ``axis``. Dtypes promote."""
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise ValueError("stack: needs a non-empty tuple or list of arrays")
    for a in arrays:
        check_array(a, "stack", "arrays")
    same_device("stack", *arrays)
    nd = arrays[0].ndim + 1
    if not -nd <= axis < nd:
        raise AxisError(f"stack: axis {axis} is out of bounds for a result of rank {nd}")
    d = dt.result_type(*[a.dtype for a in arrays])
    return _movement.stack([a.cast(d) for a in arrays], axis % nd)


def tile(x: Tensor, repetitions: tuple[int, ...], /) -> Tensor:
    check_array(x, "tile")
    reps = tuple(int(r) for r in repetitions)
    if any(r < 0 for r in reps):
        raise ValueError("tile: repetitions must be non-negative")
    return x.tile(reps)


def unstack(x: Tensor, /, *, axis: int = 0) -> tuple[Tensor, ...]:
    """Split ``x`` along ``axis`` into a tuple of arrays of rank ``x.ndim - 1``."""
    check_array(x, "unstack")
    if x.ndim == 0:
        raise ValueError("unstack: x must have at least one dimension")
    ax = normalize_axis(axis, x.ndim)
    moved = moveaxis(x, ax, 0) if ax else x
    return tuple(moved[i] for i in range(moved.shape[0]))
