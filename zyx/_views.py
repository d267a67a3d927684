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
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import dtypes as dt
from . import graph
from . import tensor as _tensor

if TYPE_CHECKING:
    from .tensor import Tensor
else:
    Tensor = None  # bound by zyx.tensor once the class exists (it imports this module first)


class ViewLink:
    """What a view knows: its root tensor and the (op, arg) movement steps from the root
    (and, once asked, the strided layout they make: ``layout``)."""

    __slots__ = ("root", "steps", "_layout")

    def __init__(self, root: Tensor, steps: tuple):
        self.root, self.steps = root, steps
        self._layout: tuple | None = None  # (not yet asked; () once known to have no strided form)

    def layout(self) -> tuple | None:
        """``strided(root.shape, steps)``, computed once (a loop of element writes into one
        view asks it for every write)."""
        lay = self._layout
        if lay is None:
            lay = self._layout = strided(self.root.shape, self.steps) or ()
        return lay or None


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


def c_strides(shape) -> list:
    """Element strides of a C-contiguous array of ``shape``."""
    out, acc = [], 1
    for sz in reversed(shape):
        out.append(acc)
        acc *= sz
    return out[::-1]


def strided(shape, steps) -> tuple[list, list, int] | None:
    """(shape, strides, offset), in elements, of the view the movement ``steps`` ((op, arg):
    SHRINK, PERMUTE, EXPAND, RESHAPE) make of a C-contiguous array of ``shape``, as NumPy
    strides its views; None where a reshape has no strided form (NumPy would copy). Host reads
    of a realized buffer's views (``tensor._read_view``) and point writes' element positions
    (``_flat_position``) both fold their chains with it."""
    shape, strides, offset = list(shape), c_strides(shape), 0
    for op, arg in steps:
        if op == "SHRINK":
            for d, (start, size, step) in enumerate(arg):
                offset += start * strides[d]
                strides[d] *= step
                shape[d] = size
        elif op == "PERMUTE":
            shape, strides = [shape[p] for p in arg], [strides[p] for p in arg]
        elif op == "EXPAND":
            if len(shape) != len(arg):  # a 0-d value broadcast to a rank
                shape, strides = [1] * len(arg), [0] * len(arg)
            strides = [0 if a == 1 and b != 1 else st for a, b, st in zip(shape, arg, strides)]
            shape = list(arg)
        else:  # RESHAPE: without a copy, as NumPy would, or not at all
            numel = math.prod(shape)
            contiguous, expect = True, 1  # (axes of length 1 have any stride)
            if numel > 1:
                for sz, st in zip(reversed(shape), reversed(strides)):
                    if sz != 1 and st != expect:
                        contiguous = False
                        break
                    expect *= sz
            if contiguous:
                shape, strides = list(arg), (c_strides(arg) if numel else [0] * len(arg))
                continue
            fake = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), tuple(shape), tuple(strides))
            try:
                fake = fake.view()
                fake.shape = arg
            except AttributeError:
                return None
            shape, strides = list(arg), list(fake.strides)
    return shape, strides, offset


def _flat_position(root: Tensor, chain: tuple) -> int:
    """The flat position in ``root`` of the one element ``root`` moved by ``chain`` holds:
    the offset of the strided view (every point write asks it twice, for the written element
    and the value's), or, for a reshape no strides express, the steps undone one by one."""
    got = strided(root.shape, chain)
    return got[2] if got is not None else _flat_position_by_steps(root, chain)


def _flat_position_by_steps(root: Tensor, chain: tuple) -> int:
    """``_flat_position`` undoing the steps one by one from the element back to the root."""
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


def write_point(t: Tensor, steps: tuple, value: Tensor, batch: bool = False) -> None:
    """``t`` moved by ``steps`` (one element) set to the one-element ``value``: the root
    becomes ``where(position == p, value, root)`` over a flat position grid, with ``p`` the
    element's flat position in the root. ``p`` is a constant - an argument of the generic
    kernel, not structure - so a loop of point writes builds one small node group per
    write, of one structure for every position, instead of a slice's pads and masks at
    every level of the view chain.

    ``batch`` (the caller's own tensor is written, as in scikit-learn's loops
    ``a[i, i] = v[i]`` and ``a[i, i] = v``): writes of elements of one source go into one
    *point batch* (``_batched_write``) - a gather through an index map - so k writes cost
    one fixed-structure kernel over the root, not a chain of k selects."""
    root, chain = _root_and_chain(t, steps)
    flat = _flat_position(root, chain)
    if batch and not _tensor._recorders and _batch_into(root, flat, value, None, None):
        return
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


# ---------------------------------------------------------------- point batches
# A loop of point writes ``a[i, i] = v[i]`` (GaussianMixture: 64 per covariance, 4
# covariances per step) as a where per write made a chain of k selects: every element of
# the root compared k positions, and the walk, the kernel's arguments and its lowering grew
# with k (~2.8 ms to realize 64 writes into a 64x64 matrix). A point batch is instead
#
#     root' = where(qidx != 0, pad(src, 1 before)[qidx], base)      (flat, then reshaped)
#
# with ``base`` the root's value before the batch, ``src`` the flat source the written values
# are elements of, and ``qidx`` a realized int32 map: 0 where the root keeps its element, q + 1
# where it takes source element q. A write into a root whose value is a batch's output of the
# same source extends that batch: a copy of its map with one more entry (maps are never
# changed once uploaded: an earlier state may still be read), and the same nodes over
# ``base`` - one structure, compiled once, for any number of writes.
_BATCH_MAX = 1 << 16  # roots up to this size are batched (each write copies the map)
_BATCH_NEST = 8  # batches over batches (writes from ever new sources) before falling back
_batches: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # output node -> _PointBatch


class _PointBatch:
    __slots__ = ("base", "src", "padded", "zero", "qidx", "nest", "op")

    def __init__(self, base, src, padded, zero, qidx, nest: int, op: str | None):
        # weak: once the output is realized (its graph dropped) nothing may keep it alive
        self.base = weakref.ref(base)
        # (a constant source holds no memory, and the graph reads a reshaped copy of it: kept)
        self.src = (lambda n=src: n) if src.op == "CONST" else weakref.ref(src)
        self.padded, self.zero = weakref.ref(padded), weakref.ref(zero)
        self.qidx, self.nest, self.op = qidx, nest, op


def _same_source(a, b) -> bool:
    """Whether a batch over source ``a`` can take values of ``b``: the same node, or two
    constants of one value (``a[i, i] += 1e-6`` makes a new constant node each time; repr
    tells -0.0 from 0.0 and matches NaN)."""
    if a is b:
        return True
    return (a is not None and a.op == "CONST" and b.op == "CONST" and a.dtype is b.dtype
            and a.shape == b.shape and type(a.arg) is type(b.arg) and repr(a.arg) == repr(b.arg))


def point_write(t: Tensor, index: list, v: Tensor) -> bool:
    """``t[index] = v`` for ``index`` the element's (normalized) position along each axis and
    ``v`` a 0-d array of t's dtype and device, through a point batch, with the element's
    position in the root taken from the view's remembered layout (scikit-learn's ``for i in
    range(n): a[i, i] = v[i]``: GaussianMixture makes 5,376 such writes a fit; the general
    path built the key's steps, their shapes and the chain's layout at every write, ~40 us
    each). False (nothing done) where this does not apply: the caller takes the general path."""
    if _tensor._recorders:
        return False
    link = t._view
    if link is None:
        strides, flat = c_strides(t.shape), 0
    else:
        lay = link.layout()
        if lay is None:
            return False
        _, strides, flat = lay
    for i, st in zip(index, strides):
        flat += i * st
    root = t if link is None else link.root
    q = None
    vl = v._view
    if vl is not None:
        vlay = vl.layout()
        if vlay is None:
            return False
        q = vlay[2]
        if vl.root is root and q == flat:
            return True  # the element itself (``a[i, j] += x`` assigns back the view it wrote through)
    return _batch_into(root, flat, v, None, q)


_UPDATE_OPS = frozenset(("ADD", "SUB", "MUL", "DIV"))


def update_point(t: Tensor, op: str, other: Tensor) -> bool:
    """``t op= other`` for a one-element view ``t`` (scikit-learn's ``a[i, i] += v`` loops)
    through a point batch whose entries apply ``op`` to the root's elements: k updates are
    one fixed-structure kernel, not a chain of k selects (GaussianMixture's first fit spent
    ~0.3 s in 5,376 such updates). False (nothing done) where no batch suits: the caller
    writes through as for any other value. Each position is updated at most once in a batch
    (a second update of it starts a new batch over the first's result)."""
    if _tensor._recorders or op not in _UPDATE_OPS or (op == "DIV" and t.dtype.kind not in "fc"):
        return False
    link = t._view
    if link is None or other.dtype is not t.dtype or other.size != 1:
        return False
    lay = link.layout()
    flat = lay[2] if lay is not None else _flat_position(link.root, link.steps)
    return _batch_into(link.root, flat, other, op, None)


def _batch_into(root: Tensor, flat: int, value: Tensor, op: str | None, q: int | None) -> bool:
    """``_batched_write`` for roots a batch suits (more than one element, up to
    ``_BATCH_MAX``), then the root's views rebound."""
    if root.size <= 1 or root.size > _BATCH_MAX or not _batched_write(root, flat, value, op, q):
        return False
    if root._dependents:
        _refresh(root)
    return True


def _batched_write(root: Tensor, flat: int, value: Tensor, op: str | None = None, q: int | None = None) -> bool:
    """Write ``value`` at flat position ``flat`` of ``root`` through a point batch - or,
    with ``op``, set that element to ``element op value`` (see ``update_point``); False
    (nothing done) where the value's source does not suit one. ``q``: the value's flat
    position in its source where the caller knows it."""
    link = value._view
    if link is not None:  # an element of another array: its root and position there
        src_t = link.root
        if q is None:
            q = _flat_position(src_t, link.steps)
    else:  # a one-element array written as it stands (the same one each time: a fill)
        src_t, q = value, 0
        if src_t._node.op not in ("BUFFER", "CONST"):
            return False  # a fresh expression per write: no batch to share
    src = src_t._node
    dev = root.device
    if src.dtype is not root.dtype or src.device is not dev or src.numel + 1 >= 2 ** 31:
        return False
    cur = root._node
    n = root.size
    b = _batches.get(cur) if cur.op != "BUFFER" else None
    base = padded = zero = None
    if b is not None and b.op == op and _same_source(b.src(), src) and (op is None or not b.qidx[flat]):
        src = b.src()  # (an equal constant: the node the batch's graph reads)
        base, padded, zero = b.base(), b.padded(), b.zero()
    if b is not None and base is not None and padded is not None and zero is not None:  # extend the batch
        nest = b.nest
        qidx = b.qidx.copy()
    else:  # a new batch, over the root's current value
        nest = b.nest + 1 if b is not None else 0
        if nest >= _BATCH_NEST:
            return False
        base = graph.reshape(cur, (n,))
        padded = graph.pad(graph.reshape(src, (src.numel,)), ((1, 0),), False if src.dtype is dt.bool_ else 0)
        zero = graph.const(0, (n,), dt.int32, dev)
        qidx = np.zeros(n, np.int32)
    qidx[flat] = q + 1
    if dev.type == "cpu":  # the map itself is the buffer (never changed once made: see above)
        buf = _tensor.Buffer(dev, n, dt.int32, handle=qidx)
    else:
        buf = _tensor.Buffer(dev, n, dt.int32)
        buf.copy_in(qidx)
    idx = graph.buffer_node(buf, (n,), dt.int32, dev)
    picked = graph.gather(padded, idx, 0)
    keep = graph.elementwise("CMPNE", (idx, zero), dt.bool_)
    if op is not None:  # (elements the batch does not update compute base op 0: discarded)
        picked = graph.elementwise(op, (base, picked), root.dtype)
    out = graph.elementwise("WHERE", (keep, picked, base), root.dtype)
    out_root = graph.reshape(out, root.shape)
    _batches[out_root] = _PointBatch(base, src, padded, zero, qidx, nest, op)
    root._node = out_root
    return True


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
    if _tensor._recorders:  # (the tape records each step: through Tensors)
        for ref in live:
            v = ref()
            if v is not None:
                v._node = apply_steps(base, v._view.steps)._node  # type: ignore[union-attr]  # a dependent is a view
        return
    node = base._node
    for ref in live:  # (the same steps on the nodes directly: every point write refreshes)
        v = ref()
        if v is not None:
            n = node
            for op, arg in v._view.steps:  # type: ignore[union-attr]
                n = _NODE_STEP[op](n, arg)
            v._node = n


_NODE_STEP: dict[str, Callable[[graph.Node, Any], graph.Node]] = {"RESHAPE": graph.reshape, "PERMUTE": graph.permute, "SHRINK": graph.shrink, "EXPAND": graph.expand}


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
