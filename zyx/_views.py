"""Views: the one rule (NumPy's and array_api_strict's) for every function that returns
one, and the one way a write happens (``assign``).

A function that only rearranges elements - basic indexing, reshape, permute/transpose,
squeeze/unsqueeze, flip, split, diagonal; the list is in docs/array_api.md - returns a
*view*: a new Tensor whose elements are its base's. Writes through
a view (``__setitem__``, in-place operators) reach the base, and every other view of that
base sees them; writes to the base are seen by its views.

A view remembers its *root* (the tensor that is not itself a view; a view of a view has
its base's root) and the movement steps that map the root onto it. A write rebinds the
root to a lazy scatter of the new values (``write_through``: the steps undone one by
one, a slice by a masked select), then recomputes every live view of the root from the
root's new graph (``_refresh``). All of it is ordinary lazy graph built by the taped
primitives: it fuses like any other graph and the gradient tape records it. A view keeps
its root alive (as a NumPy view keeps its base); a root holds only weak references to its
views, pruned as they die.

Broadcasting (``broadcast_to``, ``expand``, ``broadcast_arrays``) returns a new array, not a
view: its elements repeat the same base element, so there is no write that could go back.
Movement inside zyx's own compositions uses the plain primitive ``Tensor._movement`` (or
``apply_steps``), which makes no view. The movement functions themselves, and the steps
they apply, are in ``_movement.py``.
"""
from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING

from . import dtypes as dt
from . import graph
from . import tensor as _tensor

if TYPE_CHECKING:
    from .tensor import Tensor
else:
    Tensor = None  # bound by zyx.tensor once the class exists (it imports this module first)


class ViewLink:
    """What a view knows: its root tensor and the (op, arg) movement steps from the root."""

    __slots__ = ("root", "steps")

    def __init__(self, root: Tensor, steps: tuple):
        self.root, self.steps = root, steps


def apply_steps(t: Tensor, steps) -> Tensor:
    """``t`` moved by the (op, arg) ``steps``, with the plain primitive (no view)."""
    for op, arg in steps:
        t = t._movement(op, arg)
    return t


def new_handle(t: Tensor) -> Tensor:
    """A new array with t's current value: a new handle on the same (immutable) node."""
    return Tensor._wrap(t._node)


def make_view(base: Tensor, steps: list) -> Tensor:
    """``base`` moved by ``steps``, as a view of base's root (see the view rule above)."""
    out = apply_steps(base, steps)
    if out is base:
        out = new_handle(base)
    link = base._view
    if link is None:
        root, chain = base, tuple(steps)
    else:
        root, chain = link.root, link.steps + tuple(steps)
    out._view = ViewLink(root, chain)
    deps = root._dependents
    if deps is None:
        root._dependents = [weakref.ref(out)]
    else:
        deps.append(weakref.ref(out))
        if len(deps) >= 32 and len(deps).bit_count() == 1:  # at powers of two: drop dead views
            deps[:] = [r for r in deps if r() is not None]
    return out


def assign(t: Tensor, new: Tensor) -> None:
    """Rebind ``t`` to the value ``new`` (t's shape and dtype) as a write: a view writes
    through to its root, and every view of the root - ``t`` too - is recomputed from the
    root's new graph (so a view's graph never holds values its root has moved past, and
    realizing the root leaves its views a movement of one buffer)."""
    link = t._view
    if link is None:
        t._node = new._node
        root = t
    elif t._node.shape.count(1) == len(t._node.shape) and link.root.size > 1:
        # a one-element view (``v = a[i, j]; v += 1``): a point write, not a slice's pads
        # and masks at every level of the chain
        write_point(t, (), new)
        return
    else:
        root = link.root
        root._node = write_through(root, link.steps, new)._node
    if root._dependents:
        _refresh(root)


def _root_and_chain(t: Tensor, steps: tuple) -> tuple:
    link = t._view
    return (t, tuple(steps)) if link is None else (link.root, link.steps + tuple(steps))


def _flat_position(root: Tensor, chain: tuple) -> int:
    """The flat position in ``root`` of the one element ``root`` moved by ``chain`` holds."""
    shapes = [root.shape]
    for op, arg in chain:  # the shape after each step
        if op == "SHRINK":
            shapes.append(tuple(b[1] for b in arg))
        elif op == "PERMUTE":
            shapes.append(tuple(shapes[-1][a] for a in arg))
        else:
            shapes.append(tuple(arg))
    idx = [0] * len(shapes[-1])
    for (op, arg), shape in zip(reversed(chain), reversed(shapes[:-1])):  # back to the root
        if op == "SHRINK":
            idx = [start + i * step for i, (start, _, step) in zip(idx, arg)]
        elif op == "PERMUTE":
            back = [0] * len(arg)
            for i, a in enumerate(arg):
                back[a] = idx[i]
            idx = back
        else:  # RESHAPE: the flat position is kept
            flat = 0
            for i, n in zip(idx, arg):
                flat = flat * n + i
            idx = []
            for n in reversed(shape):
                idx.append(flat % n if n else 0)
                flat //= n if n else 1
            idx.reverse()
    flat = 0
    for i, n in zip(idx, root.shape):
        flat = flat * n + i
    return flat


def writes_itself(t: Tensor, steps: tuple, value: Tensor) -> bool:
    """Whether ``value`` is a one-element view of the very element ``t`` moved by ``steps``
    is (``a[i, j] += x`` ends with ``a[i, j] = <the view the += already wrote through>``):
    writing it is a no-op."""
    link = value._view
    if link is None:
        return False
    root, chain = _root_and_chain(t, steps)
    return link.root is root and _flat_position(root, link.steps) == _flat_position(root, chain)


_grids: dict = {}  # (shape, dtype, device) -> the flat-position grid node point writes compare with


def _positions(shape: tuple, pdt, device) -> graph.Node:
    """One grid node per shape, shared by every point write: a chain of writes then reads
    one grid (lowered once per kernel, not once per write: GaussianMixture's first fit
    lowered 64 of them per covariance). If a schedule stores it, it stays the same values."""
    key = (shape, pdt, device)
    n = _grids.get(key)
    if n is None:
        if len(_grids) >= 16:
            _grids.pop(next(iter(_grids)))
        n = _grids[key] = graph.reshape(graph.iota((math.prod(shape),), 0, pdt, device), shape)
    return n


def write_point(t: Tensor, steps: tuple, value: Tensor) -> None:
    """``t`` moved by ``steps`` (one element) set to the one-element ``value``: the root
    becomes ``where(position == p, value, root)`` over a flat position grid, with ``p`` the
    element's flat position in the root. ``p`` is a constant - an argument of the generic
    kernel, not structure - so a loop of point writes (scikit-learn's ``a[i, i] = v[i]``)
    builds one small node group per write, of one structure for every position, instead of a
    slice's pads and masks at every level of the view chain."""
    root, chain = _root_and_chain(t, steps)
    flat = _flat_position(root, chain)
    size = root.size
    pdt = dt.int32 if size < 2 ** 31 else dt.int64
    # the mask has no gradient: built on the graph directly (a Tensor comparison's
    # promotion and broadcasting checks were a third of a write's cost)
    positions = _positions(root.shape, pdt, root.device)
    mask = Tensor._wrap(graph.elementwise("CMPEQ", (positions, graph.const(flat, root.shape, pdt, root.device)),
                                          dt.bool_))
    v = value._movement("RESHAPE", (1,) * root.ndim)
    if root.ndim:
        v = v._movement("EXPAND", root.shape)
    new = mask.where(v, root)
    root._node = new._node
    if root._dependents:
        _refresh(root)


def _refresh(root: Tensor) -> None:
    live = [ref for ref in root._dependents or () if ref() is not None]
    root._dependents = live
    if not live:
        return
    base = root
    if root._node.op in ("PERMUTE", "RESHAPE"):
        # the graph folds a permute of a permute (a reshape of a reshape) into the inner
        # node's source; a view built so would skip the root's node and keep its old graph
        # alive after the root is realized. An identity reshape (free in kernels) between
        # them keeps the views on the root's node.
        base = Tensor._wrap(graph.alias(root._node))
        if _tensor._recorders:
            _tensor._record(base, "RESHAPE", (root,), root.shape)
    for ref in live:
        v = ref()
        if v is not None:
            v._node = apply_steps(base, v._view.steps)._node  # type: ignore[union-attr]  # a dependent is a view


def write_through(root: Tensor, steps: tuple, new: Tensor) -> Tensor:
    """The root's value after its view (``root`` moved by ``steps``) is set to ``new``."""
    levels = [root]
    for op, arg in steps[:-1]:
        levels.append(levels[-1]._movement(op, arg))
    for (op, arg), old in zip(reversed(steps), reversed(levels)):
        if op == "RESHAPE":
            new = new._movement("RESHAPE", old.shape)
        elif op == "PERMUTE":
            inverse = [0] * len(arg)
            for i, p in enumerate(arg):
                inverse[p] = i
            new = new._movement("PERMUTE", tuple(inverse))
        elif op == "SHRINK":
            new = _place(old, arg, new)
        else:  # views are made of reshapes, permutes and slices only
            raise RuntimeError(f"internal error: {op} in a view chain")
    return new


def _place(old: Tensor, bounds, new: Tensor) -> Tensor:
    """``old`` with ``new`` written at the strided region ``bounds`` ((start, size, step)
    per axis, as SHRINK takes them)."""
    from ._movement import _unshrink
    mask = Tensor._const(True, new.shape, dt.bool_, old.device)
    for axis, ((start, n, step), size) in enumerate(zip(bounds, old.shape)):
        if (start, n, step) != (0, size, 1):
            new = _unshrink(new, axis, start, n, step, size)
            mask = _unshrink(mask, axis, start, n, step, size, fill=False)
    return mask.where(new, old)


def is_view(t: Tensor) -> bool:
    """Whether ``t`` is a view of another tensor (writes to it reach that tensor)."""
    return t._view is not None
