"""``zyx.Tensor``: a lazy, differentiable n-dimensional array.

A Tensor is a handle on a graph ``Node``. Every operation builds new nodes; nothing
runs until a result is needed. All graph building goes through the handful of
*primitive* methods at the bottom of this file (``_unary``, ``_binary``, ``_reduce``,
``_movement``...): they are where an open ``GradientTape`` records what happened, so
backward rules exist only for primitives. The math, reduction, movement and creation
methods are compositions of them, defined in ``_math.py``, ``_reduce.py``, ``_movement.py``
and ``creation.py`` and collected there in mixin classes that ``Tensor`` inherits
(``_MathMixin``, ``_ReduceMixin``, ``_MovementMixin``, ``_CreationMixin``): every method
and operator is declared in a class body, where readers, ``help()`` and type checkers
find it.
"""
from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import dtypes as dt
from . import graph
from .device import Buffer, Device, get_device
from .dtypes import DType
from .graph import Node


class AxisError(ValueError, IndexError):
    """An axis outside ``[-ndim, ndim)``; both a ValueError and an IndexError, as NumPy's."""


# The tape hook: autograd installs a recorder here while any tape is open.
_recorders: list = []


def _record(out: "Tensor", op: str, inputs: tuple, arg) -> None:
    for rec in _recorders:
        rec(out, op, inputs, arg)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    if len(shapes) == 2:  # the common case, kept short
        a, b = shapes
        if len(a) != len(b):
            a, b = (1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)
        out = []
        for x, y in zip(a, b):
            if x == y or y == 1:
                out.append(x)
            elif x == 1:
                out.append(y)
            else:
                break
        else:
            return tuple(out)
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        size = 1
        for s in shapes:
            d = s[i - nd + len(s)] if i - nd + len(s) >= 0 else 1
            if d != 1:
                if size != 1 and size != d:
                    raise ValueError(f"shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot be broadcast "
                                     f"together (dimension {i}: {size} vs {d})")
                size = d
        out.append(size)
    return tuple(out)


def normalize_axis(axis: int, ndim: int) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int, not {type(axis).__name__}")
    if not -max(ndim, 1) <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")  # (NumPy's words: code matches them)
    return int(axis) % max(ndim, 1)


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"repeated axis in {tuple(axis)}")
        return tuple(sorted(axes))
    if ndim == 0:
        if axis in (0, -1):
            return ()
    return (normalize_axis(axis, ndim),)


def _host_array(data, dtype: DType | None) -> np.ndarray:
    """``data`` as a NumPy array of ``dtype`` (None: NumPy's reading, with zyx's default float
    and complex dtypes for Python data). A value beyond a narrower float type's range becomes
    an infinity quietly, as a cast on the device does: NumPy's overflow warning is not passed
    on (zyx's default float is float32, so ``asarray(1e300)`` is common; suites that turn
    warnings into errors failed on it)."""
    if isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, (list, tuple)):
        with np.errstate(over="ignore"):
            arr = np.array(data, dtype=dtype.np if dtype is not None else None)
            if dtype is None:  # Python data takes zyx's default dtypes
                if arr.dtype == np.float64:
                    arr = arr.astype(dt.default_float.np)
                elif arr.dtype == np.complex128:
                    arr = arr.astype(dt.default_complex.np)
                elif arr.dtype.kind in "iu" and arr.dtype != np.int64:
                    arr = arr.astype(np.int64)
    elif isinstance(data, (bool, int, float, complex)) and not isinstance(data, np.generic):
        npd = dtype.np  # type: ignore[union-attr]  # callers give scalars a dtype
        if (type(data) is float or type(data) is complex) and not abs(data) <= 65504.0:
            with np.errstate(over="ignore"):  # (beyond float16's largest a narrower type may overflow)
                arr = np.asarray(data, dtype=npd)
        else:
            arr = np.asarray(data, dtype=npd)
    else:
        arr = np.asarray(data)
    if arr.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(data).__name__} data")
    if dtype is not None and arr.dtype != dtype.np:
        with np.errstate(over="ignore", invalid="ignore"):  # (as a cast on the device: no warning)
            arr = arr.astype(dtype.np)
    return arr


def _seq(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    out = tuple(int(s) for s in shape)
    for s in out:
        if s < 0:
            raise ValueError(f"negative dimension in shape {out}")
    return out


# What binary operators and functions take besides a Tensor: Python scalars (weakly
# typed, as the array API says), NumPy arrays and scalars, and nested lists of numbers.
TensorLike = Union["Tensor", bool, int, float, complex, np.ndarray, np.generic, list, tuple]

# Tensor's bases: the method groups defined beside the functions that implement them. They
# are imported here, after the helpers above (which they import), and before the class;
# each of those modules gets the ``Tensor`` class itself right after its definition (below).
from . import _views  # noqa: E402
from ._math import _MathMixin  # noqa: E402
from ._movement import _MovementMixin  # noqa: E402
from ._reduce import _ReduceMixin  # noqa: E402
from . import _math, _movement, _reduce, creation  # noqa: E402
from .creation import _CreationMixin  # noqa: E402


class Tensor(_MathMixin, _ReduceMixin, _MovementMixin, _CreationMixin):
    """A lazy n-dimensional array on a device. See the module docstring.

    Methods by group: this class body holds the properties, conversions, protocols and
    the taped primitives; the elementwise operators and math functions come from
    ``_MathMixin`` (``zyx/_math.py``), reductions and matmul from ``_ReduceMixin``
    (``zyx/_reduce.py``), reshaping and indexing from ``_MovementMixin``
    (``zyx/_movement.py``), and the static constructors (``Tensor.randn``...) from
    ``_CreationMixin`` (``zyx/creation.py``)."""

    # _view: how this tensor views another one's elements (a ``_views.ViewLink``), or
    # None; _dependents: weak references to the views of this tensor (None until one is
    # made). Both belong to the view rule in ``_views.py``.
    __slots__ = ("_node", "_view", "_dependents", "__weakref__")
    __array_priority__ = 100
    _node: Node
    _view: _views.ViewLink | None
    _dependents: list[weakref.ref[Tensor]] | None

    def __init__(self, data: Any, dtype=None, device=None):
        self._view = self._dependents = None
        if isinstance(data, Tensor):
            node = data._node
            t = data
            if dtype is not None and dt.to_dtype(dtype) is not t.dtype:
                t = t.astype(dtype)
            if device is not None and get_device(device) != t.device:
                t = t.to(device)
            self._node = t._node
            return
        d = dt.to_dtype(dtype) if dtype is not None else None
        dev = get_device(device)
        if isinstance(data, (bool, int, float, complex)) and not isinstance(data, np.generic):
            d = d or dt.python_scalar_dtype(data)
            if isinstance(data, int) and not isinstance(data, bool) and d.kind in "iu":
                lo, hi = dt.min_value(d), dt.max_value(d)
                if not lo <= data <= hi:
                    raise OverflowError(f"Python int {data} is out of range for {d.name}")
        arr = _host_array(data, d)
        zd = dt.from_numpy(arr.dtype)
        dev.check_dtype(zd)
        buf = Buffer(dev, arr.size, zd)
        buf.copy_in(arr)
        node = graph.buffer_node(buf, arr.shape, zd, dev)
        self._node = node

    # ------------------------------------------------------------------ construction
    @classmethod
    def _wrap(cls, node: Node) -> "Tensor":
        t = object.__new__(cls)
        t._node = node
        t._view = t._dependents = None
        return t

    @staticmethod
    def _const(value, shape, dtype: DType, device: Device) -> "Tensor":
        return Tensor._wrap(graph.const(value, tuple(shape), dtype, device))

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self._node.shape

    @property
    def dtype(self) -> DType:
        return self._node.dtype

    @property
    def device(self) -> Device:
        return self._node.device

    @property
    def ndim(self) -> int:
        return len(self._node.shape)

    @property
    def size(self) -> int:
        return math.prod(self._node.shape)

    def numel(self) -> int:
        return math.prod(self._node.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def T(self) -> "Tensor":
        if self.ndim != 2:
            raise ValueError(f".T needs a 2-d tensor (got rank {self.ndim}); use .mT or permute")
        return _views.make_view(self, [("PERMUTE", (1, 0))])  # (permute(1, 0) without its checks)

    @property
    def mT(self) -> "Tensor":
        if self.ndim < 2:
            raise ValueError(f".mT needs rank >= 2 (got rank {self.ndim})")
        return self.swapaxes(-1, -2)

    # ------------------------------------------------------------------ realization and host
    def realize(self) -> "Tensor":
        if self._node.op != "BUFFER":
            _realize_nodes([self._node])
        return self

    def numpy(self) -> np.ndarray:
        arr = _read_view(self._node)  # a view of a realized buffer: read it, run nothing
        if arr is not None:
            return arr
        link = self._view
        if link is not None and link.root._node.op != "BUFFER":
            # a view of a lazy array: its root is computed (as NumPy's base exists) and the
            # view read from it - reading its views one by one (GaussianMixture's cholesky of
            # covariances[k] for each k; element reads of a lazy result) computed the whole
            # root's graph again for each (bounded: a root far bigger than the view is left)
            root = link.root
            if root.size <= max(16 * self.size, _ROOT_READ_MAX):
                root.realize()
                arr = _read_view(self._node)
                if arr is not None:
                    return arr
        self.realize()
        return self._node.buffer.to_numpy().reshape(self.shape)

    # NumPy's protocols; the machinery is in zyx/_numpy_interop.py
    def __array__(self, dtype=None, copy=None):
        return _np_interop.array(self, dtype, copy)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _np_interop.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _np_interop.array_function(func, types, args, kwargs)

    def __format__(self, spec: str) -> str:
        return _np_interop.format_tensor(self, spec)

    def __bytes__(self) -> bytes:
        return _np_interop.to_bytes(self)

    def tolist(self):
        return self.numpy().tolist()

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor with shape {self.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.item())

    def _scalar(self, to: str):
        """The element of a 0-d tensor, for ``float()`` / ``int()`` / ``complex()``."""
        if self.ndim != 0:
            raise TypeError(f"only 0-d tensors convert to {to} (shape {self.shape}), as in NumPy 2")
        return self.item()

    def __float__(self) -> float:
        v = self._scalar("float")
        if isinstance(v, complex):
            raise TypeError("cannot convert a complex tensor to float; use .real")
        return float(v)

    def __int__(self) -> int:
        v = self._scalar("int")
        if isinstance(v, complex):
            raise TypeError("cannot convert a complex tensor to int")
        if isinstance(v, float) and math.isnan(v):
            raise ValueError("cannot convert nan to int")
        return int(v)  # OverflowError for +-inf, as int(float("inf"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex"))

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.ndim != 0:
            raise TypeError(f"only 0-d integer tensors can be used as an index (got {self.dtype.name}, "
                            f"shape {self.shape})")
        return int(self.item())

    def __repr__(self) -> str:
        try:
            body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        except Exception as e:  # printing must never hide the tensor itself
            body = f"<unrealizable: {e}>"
        return f"Tensor({body}, dtype={self.dtype.name}, device={self.device})"

    def __hash__(self) -> int:
        return id(self)

    # pickle / copy: a tensor travels as its host data, dtype and device name (realized
    # first); nothing of the graph, the buffer or the backend is pickled
    def __reduce__(self):
        return (_unpickle, (self.numpy(), self.dtype.name, self.device.name))

    def __copy__(self) -> "Tensor":
        return Tensor._wrap(self._node)  # tensors are values: a new handle is a copy

    def __iter__(self):
        if self.ndim == 0:  # raised by iter() itself, as NumPy does
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, device) -> "Tensor":
        dev = get_device(device)
        if dev == self.device:
            return self
        dev.check_dtype(self.dtype)
        src = self.numpy()
        buf = Buffer(dev, src.size, self.dtype)
        buf.copy_in(src)
        out = Tensor._wrap(graph.buffer_node(buf, self.shape, self.dtype, dev))
        _record(out, "TO_DEVICE", (self,), self.device)
        return out

    def to_device(self, device, /, *, stream=None) -> "Tensor":
        return self.to(device)

    def astype(self, dtype, /, *, copy: bool = True, device=None) -> "Tensor":
        """This tensor cast to ``dtype`` (and moved to ``device``). With ``copy=True`` and
        nothing to change the result is a new handle on the same lazy graph: tensors are
        values (in-place operators rebind their graph), so that is a copy."""
        out = self.to(device) if device is not None else self
        out = out.cast(dtype)
        return Tensor._wrap(out._node) if copy and out is self else out

    # ------------------------------------------------------------------ array API protocol
    def __array_namespace__(self, /, *, api_version: str | None = None):
        """The array API namespace of zyx tensors: ``zyx.array_api``."""
        if api_version not in (None, "2021.12", "2022.12", "2023.12", "2024.12", "2025.12"):
            raise ValueError(f"unsupported array API version {api_version!r}; zyx implements 2025.12 "
                             "(and gives that namespace for the earlier versions it extends)")
        from . import array_api
        return array_api

    def __dlpack_device__(self) -> tuple[int, int]:
        """``(kDLCUDA, N)`` on ``cuda:N``, ``(kDLCPU, 0)`` elsewhere (other devices export a
        host copy)."""
        from ._dlpack import device_of
        return device_of(self)

    def __dlpack__(self, /, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export as a DLPack capsule (zyx's own, legacy or DLPack 1.0 versioned as
        ``max_version`` allows; every zyx dtype, bfloat16 included). The tensor is realized;
        ``cpu`` and ``cuda`` buffers are shared zero-copy (the capsule keeps the buffer
        alive), with the standard's ``stream`` synchronization on CUDA. See ``zyx/_dlpack.py``."""
        from ._dlpack import export
        return export(self, stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)

    def cast(self, dtype) -> "Tensor":
        d = dt.to_dtype(dtype)
        if d is self.dtype:
            return self
        self.device.check_dtype(d)
        return self._cast(d)

    def bitcast(self, dtype) -> "Tensor":
        d = dt.to_dtype(dtype)
        if d.itemsize != self.dtype.itemsize:
            raise ValueError(f"bitcast needs equal item sizes ({self.dtype.name} is {self.dtype.itemsize} bytes, "
                             f"{d.name} is {d.itemsize})")
        self.device.check_dtype(d)
        if d is self.dtype:
            return self
        return self._prim_unary("BITCAST", d, graph.cast(self._node, d, bitcast=True))

    def detach(self) -> "Tensor":
        """The same values, cut from the tape: no gradient flows through the result.

        A ``GradientTape`` keys what it recorded by graph node, so the result gets a new
        node (``graph.alias``: the same buffer, or an identity view) that no tape has
        seen - a constant to every tape. Sharing the node would make the tape treat the
        detached tensor as the original one."""
        return Tensor._wrap(graph.alias(self._node))

    # ------------------------------------------------------------------ operand helpers
    def _operand(self, other, for_op: str = "") -> "Tensor":
        if isinstance(other, Tensor):
            if other.device != self.device:
                raise ValueError(f"operands are on different devices ({self.device} and {other.device}); "
                                 "move one with .to(device)")
            return other
        if isinstance(other, (bool, int, float, complex)):
            d = dt.scalar_dtype_for(other, self.dtype)
            if isinstance(other, int) and not isinstance(other, bool) and d.kind in "iu":
                if not dt.min_value(d) <= other <= dt.max_value(d):
                    raise OverflowError(f"Python int {other} is out of range for {d.name}")
            if isinstance(other, float) and d.kind in "iub":
                d = dt.default_float
            if d.kind in "fc" and self.dtype.kind not in "fc" and not self.device.supports(d):
                d = self.device.default_float if d.kind == "f" else self.device.default_complex
            return Tensor._const(other, (), d, self.device)
        if isinstance(other, np.ndarray) or isinstance(other, np.generic):
            return Tensor(np.asarray(other), device=self.device)
        if isinstance(other, (list, tuple)):
            return Tensor(other, device=self.device)
        raise TypeError(f"unsupported operand type {type(other).__name__} for zyx.Tensor {for_op}")

    def _broadcast_pair(self, other: "Tensor", dtype: DType | None = None):
        d = dtype or dt.promote_types(self.dtype, other.dtype)
        a, b = self.cast(d) if self.dtype is not d else self, other.cast(d) if other.dtype is not d else other
        sa, sb = a._node.shape, b._node.shape
        if sa == sb:
            return a, b
        shape = broadcast_shapes(sa, sb)
        # (operands only: the caller's op makes the new array, so no new handle is needed)
        return (a if sa == shape else _movement._broadcast(a, shape)), (b if sb == shape else _movement._broadcast(b, shape))

    # ------------------------------------------------------------------ primitives (taped)
    def _prim_unary(self, op: str, dtype: DType, node: Node, arg=None) -> "Tensor":
        out = Tensor._wrap(node)
        if _recorders:
            _record(out, op, (self,), arg if arg is not None else dtype)
        return out

    def _unary(self, op: str, dtype: DType | None = None) -> "Tensor":
        d = dtype or self.dtype
        return self._prim_unary(op, d, graph.elementwise(op, (self._node,), d))

    def _cast(self, d: DType) -> "Tensor":
        return self._prim_unary("CAST", d, graph.cast(self._node, d))

    def _binary(self, op: str, other: "Tensor", dtype: DType | None = None) -> "Tensor":
        """Elementwise op on two tensors of one shape and dtype (callers broadcast)."""
        d = dtype or self.dtype
        out = Tensor._wrap(graph.elementwise(op, (self._node, other._node), d))
        if _recorders:
            _record(out, op, (self, other), None)
        return out

    def _where(self, a: "Tensor", b: "Tensor") -> "Tensor":
        out = Tensor._wrap(graph.elementwise("WHERE", (self._node, a._node, b._node), a.dtype))
        if _recorders:
            _record(out, "WHERE", (self, a, b), None)
        return out

    def _reduce(self, kind: str, axes: tuple[int, ...]) -> "Tensor":
        out = Tensor._wrap(graph.reduce(self._node, kind, axes))
        if _recorders and axes:
            _record(out, "REDUCE", (self,), (kind, axes))
        return out if axes else self

    def _movement(self, op: str, arg) -> "Tensor":
        n = self._node
        if op == "RESHAPE":
            node = graph.reshape(n, arg)
        elif op == "PERMUTE":
            node = graph.permute(n, arg)
        elif op == "EXPAND":
            node = graph.expand(n, arg)
        elif op == "SHRINK":
            node = graph.shrink(n, arg)
        elif op == "PAD":
            node = graph.pad(n, arg[0], arg[1])
        else:
            raise ValueError(op)
        if node is n:
            return self
        out = Tensor._wrap(node)
        if _recorders:
            _record(out, op, (self,), arg)
        return out

    def _gather(self, index: "Tensor", axis: int) -> "Tensor":
        out = Tensor._wrap(graph.gather(self._node, index._node, axis))
        if _recorders:
            _record(out, "GATHER", (self, index), axis)
        return out


def _read_view(node: Node) -> np.ndarray | None:
    """The values of ``node`` when it is a view (reshape, permute, broadcast, slice) of a
    realized buffer: the bytes it covers are copied from the device and arranged on the
    host, with no kernel - ``float(a[i])``, ``a[i, j].item()``, ``bool(x)`` of realized
    arrays cost one small copy. None when ``node`` is not such a view."""
    chain = []
    n = node
    while n.op in _VIEW_OPS:
        chain.append(n)
        n = n.srcs[0]
    if n.op != "BUFFER" or not chain:
        return None
    got = _views.strided(n.shape, [(v.op, v.arg) for v in reversed(chain)])
    if got is None:
        return None  # (a reshape NumPy could not do without a copy: a kernel does it)
    shape, strides, offset = got
    numel = math.prod(shape)
    buf = n.buffer
    read = buf.device.backend.read
    if numel <= 1:  # one element (an item, a bool): read just it
        return read(buf.handle, offset, numel, buf.dtype).reshape(shape).copy()
    lo = offset + sum(min(0, (sz - 1) * st) for sz, st in zip(shape, strides))
    hi = offset + sum(max(0, (sz - 1) * st) for sz, st in zip(shape, strides))
    chunk = read(buf.handle, lo, hi - lo + 1, buf.dtype)
    if strides == _views.c_strides(shape):
        return chunk[offset - lo: offset - lo + numel].reshape(shape).copy()
    item = chunk.itemsize
    return np.ndarray(tuple(shape), chunk.dtype, chunk, (offset - lo) * item, tuple(st * item for st in strides)).copy()


_VIEW_OPS = ("RESHAPE", "PERMUTE", "EXPAND", "SHRINK")
_ROOT_READ_MAX = 1 << 22  # elements of a lazy root a host read of its view computes whole (Tensor.numpy)


def realize(*items) -> None:
    """Realize tensors (and the tensors inside modules, optimizers, lists and dicts) in
    one schedule, so shared work is done once."""
    from .realize import realize_nodes
    nodes = []
    for t in _flatten_tensors(items):
        nodes.append(t._node)
    realize_nodes(nodes)


def _flatten_tensors(items):
    for it in items:
        if isinstance(it, Tensor):
            yield it
        elif isinstance(it, (list, tuple, set)):
            yield from _flatten_tensors(it)
        elif isinstance(it, dict):
            yield from _flatten_tensors(it.values())
        elif hasattr(it, "_zyx_tensors"):
            yield from _flatten_tensors(it._zyx_tensors())
        elif it is None:
            continue
        else:
            raise TypeError(f"zyx.realize: cannot realize {type(it).__name__}")


def _unpickle(data: np.ndarray, dtype: str, device: str) -> Tensor:
    return Tensor(data, dtype=dtype, device=device)


def ensure_tensor(x, device=None, dtype=None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor(x, dtype=dtype, device=device)


# The modules of Tensor's bases were imported before the class existed; their functions
# make Tensors (``Tensor._wrap``, ``isinstance(x, Tensor)``), so they get the class now.
if not TYPE_CHECKING:
    _math._recorders = _recorders
    _math.Tensor = _reduce.Tensor = _movement.Tensor = _views.Tensor = creation.Tensor = Tensor

from . import _numpy_interop as _np_interop  # noqa: E402 - it builds on Tensor
from .realize import realize_nodes as _realize_nodes  # noqa: E402 - the engine, below Tensor

__all__ = ["Tensor", "TensorLike", "realize", "broadcast_shapes", "AxisError"]
