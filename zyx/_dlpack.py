"""DLPack exchange: zyx's own capsules, made and read with ctypes.

zyx builds both capsule kinds of the standard - legacy (``"dltensor"``, a
``DLManagedTensor``) and DLPack 1.0 (``"dltensor_versioned"``, a
``DLManagedTensorVersioned`` with flags) - for every zyx dtype, bfloat16 and bool
included (NumPy's own capsules cannot carry bfloat16), and reads both kinds from any
producer.

**Export** (``Tensor.__dlpack__``): the tensor is realized and its buffer shared.
``cpu`` buffers export as ``kDLCPU``, ``cuda:N`` buffers as ``(kDLCUDA, N)`` zero-copy;
other devices (OpenCL, WGPU) export a host copy. The capsule owns a reference to the zyx
``Buffer`` (through ``manager_ctx``), so the memory stays valid however long the consumer
keeps it, even after every zyx array on it is gone. On CUDA the ``stream`` argument is
honoured as the standard says: zyx records an event on its own stream after the pending
work and makes the consumer's stream wait for it (``None``/1: the legacy default stream,
2: the per-thread default stream, > 2: that stream, -1: no synchronization); when the
consumer releases the capsule, zyx's stream is ordered after the consumer's work before
the memory can be reused.

**Import** (``zyx.array_api.from_dlpack`` / ``asarray``): the producer's memory is
wrapped without copying on the matching zyx device (``kDLCPU`` -> ``cpu``, ``(kDLCUDA,
N)`` -> ``cuda:N``); the zyx buffer keeps the producer's capsule alive and calls its
deleter when freed. A contiguous producer becomes a buffer leaf; a strided one (a
transpose, a slice, a broadcast) becomes a lazy view of the memory it spans (movement
ops, no copy); layouts that are not such a view (overlapping windows) are copied. A CUDA
pointer that is not 256-byte aligned is wrapped from the aligned address below it and
read through an offset, so kernels' vector loads never see a misaligned base.

**Safety of the callbacks.** A capsule destructor and a ``DLManagedTensor`` deleter are
called from C, possibly while an exception is propagating (a consumer that rejects a
capsule drops it with its error set). A Python callback run at that moment would replace
the pending exception with a SystemError, so zyx compiles a 40-line C helper with the C
compiler the CPU backend uses (cached on disk) that saves and restores the error state
around releasing the Python owner (``_dlpack_native.py``: built in the background when the
cpu device opens, where the cache lacks it). Without a C compiler, ctypes callbacks are used
instead (correct except in that corner).
"""
from __future__ import annotations

import ctypes
import math
import os
import threading

import numpy as np

from . import _dlpack_native
from . import dtypes as dt

# ------------------------------------------------------------------ the DLPack ABI
kDLCPU, kDLCUDA, kDLCUDAHost, kDLCUDAManaged = 1, 2, 3, 13
DEVICE_NAMES = {1: "kDLCPU", 2: "kDLCUDA", 3: "kDLCUDAHost", 4: "kDLOpenCL", 7: "kDLVulkan", 8: "kDLMetal",
                9: "kDLVPI", 10: "kDLROCM", 11: "kDLROCMHost", 12: "kDLExtDev", 13: "kDLCUDAManaged",
                14: "kDLOneAPI", 15: "kDLWebGPU", 16: "kDLHexagon", 17: "kDLMAIA"}
kDLInt, kDLUInt, kDLFloat, kDLBfloat, kDLComplex, kDLBool = 0, 1, 2, 4, 5, 6
FLAG_READ_ONLY, FLAG_IS_COPIED = 1, 2
VERSION = (1, 0)  # the DLPack version of the capsules zyx makes

CUDA_ALIGN = 256  # device buffers start on this boundary (the pool's rounding; vector loads rely on it)

_LEGACY, _VERSIONED = b"dltensor", b"dltensor_versioned"
_USED_LEGACY, _USED_VERSIONED = b"used_dltensor", b"used_dltensor_versioned"


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


_api = ctypes.pythonapi
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.Py_IncRef.argtypes = [ctypes.py_object]
_api.Py_IncRef.restype = None
_api.Py_DecRef.argtypes = [ctypes.c_void_p]
_api.Py_DecRef.restype = None

# a capsule's destructor gets the capsule while its reference count is 0: these prototypes
# take it as a plain pointer (a py_object argument would incref and re-free it)
_IsValidRaw = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(("PyCapsule_IsValid", _api))
_GetPointerRaw = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(("PyCapsule_GetPointer", _api))
_CallDeleter = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)


def dl_dtype(d: dt.DType) -> tuple[int, int]:
    """(type code, bits) of a zyx dtype."""
    if d is dt.bool_:
        return kDLBool, 8
    if d is dt.bfloat16:
        return kDLBfloat, 16
    code = {"i": kDLInt, "u": kDLUInt, "f": kDLFloat, "c": kDLComplex}[d.kind]
    return code, d.itemsize * 8


_FROM_DL = {dl_dtype(d): d for d in dt.ALL}


def zyx_dtype(code: int, bits: int, lanes: int) -> dt.DType:
    """The zyx dtype of a DLPack data type; BufferError for what zyx has no dtype for."""
    d = _FROM_DL.get((code, bits))
    if d is None or lanes != 1:
        raise BufferError(f"DLPack data type (code {code}, {bits} bits, {lanes} lanes) has no zyx dtype; "
                          f"zyx reads {', '.join(x.name for x in dt.ALL)}")
    return d


# ------------------------------------------------------------------ the release callbacks
def _py_release(owner: int) -> None:
    if owner:
        _api.Py_DecRef(owner)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _py_deleter(addr):
    _py_release(DLManagedTensor.from_address(addr).manager_ctx)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _py_deleter_versioned(addr):
    _py_release(DLManagedTensorVersioned.from_address(addr).manager_ctx)


def _py_destructor(name: bytes, struct):
    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def destroy(capsule):
        if _IsValidRaw(capsule, name):
            m = struct.from_address(_GetPointerRaw(capsule, name))
            if m.deleter:
                _CallDeleter(m.deleter)(ctypes.addressof(m))
    return destroy


_py_destroy_legacy = _py_destructor(_LEGACY, DLManagedTensor)
_py_destroy_versioned = _py_destructor(_VERSIONED, DLManagedTensorVersioned)

_callbacks: dict | None = None
_callbacks_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child has no build thread: the lock a build in the parent held (see
    ``_dlpack_native.warm_up``) is new in the child, whose first export builds again."""
    global _callbacks_lock
    _callbacks_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def callbacks() -> dict:
    """Addresses of the deleters and capsule destructors zyx's capsules use, and which
    implementation they come from (``"native"`` or ``"ctypes"``). ``ZYX_DLPACK_NATIVE=0``
    forces the ctypes ones."""
    global _callbacks
    with _callbacks_lock:
        if _callbacks is None:
            lib = None
            if _dlpack_native.wanted():
                try:
                    lib = _dlpack_native.build()
                except Exception:  # no C compiler, or symbols not visible: the ctypes fallback
                    lib = None
            if lib is not None:
                addr = lambda name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value  # noqa: E731
                _callbacks = {"kind": "native", "lib": lib,
                              "deleter": addr("zyx_dlpack_deleter"),
                              "deleter_versioned": addr("zyx_dlpack_deleter_versioned"),
                              "destructor": addr("zyx_dlpack_capsule_destructor"),
                              "destructor_versioned": addr("zyx_dlpack_capsule_destructor_versioned")}
            else:
                addr = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
                _callbacks = {"kind": "ctypes", "deleter": addr(_py_deleter),
                              "deleter_versioned": addr(_py_deleter_versioned),
                              "destructor": addr(_py_destroy_legacy),
                              "destructor_versioned": addr(_py_destroy_versioned)}
        return _callbacks


# ------------------------------------------------------------------ export
class _Export:
    """What a zyx capsule owns: the managed-tensor struct, its shape and strides, the zyx
    Buffer (or host array) holding the data, and what to do when the consumer is done.
    One reference to it is held by the struct's ``manager_ctx`` and dropped by the deleter."""

    __slots__ = ("struct", "shape", "strides", "keep", "on_release")

    def __del__(self):
        if self.on_release is not None:
            try:
                self.on_release()
            except Exception:
                pass


def _make_capsule(ptr: int, device: tuple[int, int], dtype: dt.DType, shape: tuple[int, ...], keep,
                  versioned: bool, flags: int = 0, on_release=None):
    cb = callbacks()
    holder = _Export()
    holder.keep, holder.on_release = keep, on_release
    n = len(shape)
    holder.shape = (ctypes.c_int64 * max(n, 1))(*shape)
    holder.strides = (ctypes.c_int64 * max(n, 1))(*compact_strides(shape))
    m = DLManagedTensorVersioned() if versioned else DLManagedTensor()
    t = m.dl_tensor
    t.data = ptr or None
    t.device = DLDevice(*device)
    t.ndim = n
    code, bits = dl_dtype(dtype)
    t.dtype = DLDataType(code, bits, 1)
    t.shape = ctypes.cast(holder.shape, ctypes.POINTER(ctypes.c_int64))
    t.strides = ctypes.cast(holder.strides, ctypes.POINTER(ctypes.c_int64))
    t.byte_offset = 0
    if versioned:
        m.version = DLPackVersion(*VERSION)
        m.flags = flags
        m.deleter = cb["deleter_versioned"]
    else:
        m.deleter = cb["deleter"]
    holder.struct = m
    m.manager_ctx = id(holder)
    _api.Py_IncRef(holder)  # owned by the struct until the deleter runs
    name, destructor = (_VERSIONED, cb["destructor_versioned"]) if versioned else (_LEGACY, cb["destructor"])
    try:
        return _api.PyCapsule_New(ctypes.addressof(m), name, destructor)
    except BaseException:
        _py_release(id(holder))
        raise


def _check_stream(stream, device_type: int) -> None:
    if stream is None:
        return
    if isinstance(stream, bool) or not isinstance(stream, int):
        raise TypeError(f"__dlpack__: stream must be an int or None, not {type(stream).__name__}")
    if device_type == kDLCUDA:
        if stream == 0:
            raise ValueError("__dlpack__: stream=0 is ambiguous for CUDA and disallowed by the standard; "
                             "pass 1 (legacy default stream), 2 (per-thread default stream) or a stream pointer")
        if stream < -1:
            raise ValueError(f"__dlpack__: stream must be >= -1, not {stream}")
    elif stream != -1:
        raise ValueError(f"__dlpack__: a {DEVICE_NAMES.get(device_type, device_type)} array takes stream=None "
                         f"(devices without streams), not {stream}")


def device_of(t) -> tuple[int, int]:
    """``__dlpack_device__`` of a zyx tensor: CUDA buffers as themselves, the rest as host."""
    return (kDLCUDA, t.device.index) if t.device.type == "cuda" else (kDLCPU, 0)


class _Held:
    """A Buffer's host view as an array interface: the array NumPy makes of it keeps this
    object - and so the Buffer - as its base."""

    __slots__ = ("buf", "__array_interface__")

    def __init__(self, buf, shape: tuple) -> None:
        self.buf = buf
        self.__array_interface__ = {"data": (buf.device.backend.pointer(buf.handle), False), "shape": shape,
                                    "typestr": buf.handle.dtype.str, "version": 3}


# NumPy's ``ndarray.__dlpack__`` takes max_version and copy from 2.1 on
_NUMPY_EXPORTS = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 1)


def export(t, *, stream=None, max_version=None, dl_device=None, copy=None):
    """``Tensor.__dlpack__``: see the module docstring."""
    if not (copy is None or copy is True or copy is False):
        raise ValueError(f"__dlpack__: copy must be True, False or None, not {copy!r}")
    own = device_of(t)
    target = own if dl_device is None else tuple(int(v) for v in dl_device)
    versioned = max_version is not None and int(tuple(max_version)[0]) >= 1
    if target == own:
        _check_stream(stream, own[0])
    elif target == (kDLCPU, 0) and own[0] == kDLCUDA:
        if copy is False:
            raise BufferError(f"__dlpack__: exporting {t.device} memory to the host (dl_device=(kDLCPU, 0)) "
                              "needs a copy, and copy=False forbids it")
    else:
        raise BufferError(f"__dlpack__: zyx exports an array on {t.device} as {DEVICE_NAMES[own[0]]} "
                          f"(device {own[1]}), not as dl_device={tuple(dl_device)}; move it first with "
                          "x.to(device)")
    t.realize()
    buf = t._node.buffer
    if target == (kDLCPU, 0):
        if t.device.type == "cpu":
            if _NUMPY_EXPORTS and t.dtype.kind in "iufc" and t.dtype is not dt.bfloat16:
                # NumPy's own capsule of an array whose base holds the Buffer (so the
                # export keeps it, as ours does): ~5 us an np.from_dlpack where ours, built
                # with ctypes, is ~12 us (scikit-learn moves each gradient to NumPy this way)
                held = np.asarray(_Held(buf, t.shape))
                return held.__dlpack__(stream=stream, max_version=max_version, copy=copy)
            arr = t.device.backend.view(buf.handle, buf.size)
            if copy:
                arr = arr.copy()
        else:
            if copy is False:
                raise BufferError(f"__dlpack__: zyx exports {t.device} arrays through a host copy "
                                  "(DLPack consumers cannot read its memory); copy=False forbids it")
            arr, copy = buf.to_numpy(), True
        return _make_capsule(arr.ctypes.data, target, t.dtype, t.shape, (buf, arr), versioned,
                             FLAG_IS_COPIED if copy else 0)
    # kDLCUDA, zero-copy (or a device-side copy with copy=True)
    be = t.device.backend
    if copy:
        fresh = type(buf)(t.device, buf.size, buf.dtype)
        be.copy_device(fresh.handle, buf.handle, buf.nbytes)
        buf = fresh
    if stream != -1:  # -1: the consumer asked for no synchronization
        be.fence_for_consumer(stream)
    on_release = (lambda: be.fence_after_consumer(stream)) if stream != -1 else None
    return _make_capsule(be.pointer(buf.handle), target, t.dtype, t.shape, buf, versioned,
                         FLAG_IS_COPIED if copy else 0, on_release)


# ------------------------------------------------------------------ import
class _Imported:
    """Owns a consumed producer capsule's managed tensor: calls its deleter when freed."""

    __slots__ = ("addr", "deleter", "__weakref__")

    def __init__(self, addr: int, deleter: int | None):
        self.addr, self.deleter = addr, deleter

    def release(self) -> None:
        addr, deleter, self.addr, self.deleter = self.addr, self.deleter, 0, None
        if addr and deleter:
            _CallDeleter(deleter)(addr)

    def __del__(self):
        self.release()


class _HostSpan:
    """Host memory of a capsule as a NumPy-readable object (its arrays keep it alive)."""

    __slots__ = ("__array_interface__", "owner")

    def __init__(self, ptr: int, nbytes: int, readonly: bool, owner):
        self.__array_interface__ = {"shape": (nbytes,), "typestr": "|u1", "data": (ptr, readonly),
                                    "version": 3}
        self.owner = owner


class Received:
    """A consumed capsule: where its data is and who frees it."""

    __slots__ = ("device_type", "device_id", "ptr", "shape", "strides", "dtype", "readonly", "copied", "owner")

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def contiguous(self) -> bool:
        acc = 1
        for s, st in zip(reversed(self.shape), reversed(self.strides)):
            if s != 1 and st != acc:
                return False
            acc *= s
        return True

    def span(self) -> tuple[int, int]:
        """(lowest, highest + 1) element offsets the array touches, relative to ``ptr``."""
        lo = sum((s - 1) * st for s, st in zip(self.shape, self.strides) if st < 0)
        hi = sum((s - 1) * st for s, st in zip(self.shape, self.strides) if st > 0)
        return lo, hi + 1


def compact_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides of ``shape``."""
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(out))


def receive(capsule) -> Received:
    """Take ownership of a producer's capsule (renaming it "used_...", as the standard
    says) and read its tensor description."""
    if _api.PyCapsule_IsValid(capsule, _VERSIONED):
        addr = _api.PyCapsule_GetPointer(capsule, _VERSIONED)
        m = DLManagedTensorVersioned.from_address(addr)
        if m.version.major > VERSION[0]:
            raise BufferError(f"from_dlpack: the producer made a DLPack {m.version.major}.{m.version.minor} "
                              f"capsule; zyx reads version {VERSION[0]}.x")
        flags = int(m.flags)
        _api.PyCapsule_SetName(capsule, _USED_VERSIONED)
    elif _api.PyCapsule_IsValid(capsule, _LEGACY):
        addr = _api.PyCapsule_GetPointer(capsule, _LEGACY)
        m = DLManagedTensor.from_address(addr)
        flags = 0
        _api.PyCapsule_SetName(capsule, _USED_LEGACY)
    else:
        raise BufferError("from_dlpack: __dlpack__ did not return an unused DLPack capsule")
    r = Received()
    r.owner = _Imported(addr, m.deleter)  # from here on the deleter runs whatever happens
    t = m.dl_tensor
    r.device_type, r.device_id = int(t.device.device_type), int(t.device.device_id)
    r.shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    r.strides = tuple(int(t.strides[i]) for i in range(t.ndim)) if t.strides else compact_strides(r.shape)
    r.dtype = zyx_dtype(t.dtype.code, t.dtype.bits, t.dtype.lanes)
    r.ptr = (t.data or 0) + int(t.byte_offset)
    r.readonly, r.copied = bool(flags & FLAG_READ_ONLY), bool(flags & FLAG_IS_COPIED)
    if any(s < 0 for s in r.shape):
        raise BufferError(f"from_dlpack: negative extent in shape {r.shape}")
    return r


def zyx_device_name(device_type: int, device_id: int) -> str:
    """The zyx device a DLPack device maps to (BufferError for memory zyx cannot read)."""
    if device_type in (kDLCPU, kDLCUDAHost):
        return "cpu"
    if device_type in (kDLCUDA, kDLCUDAManaged):
        return f"cuda:{device_id}"
    raise BufferError(f"from_dlpack: arrays on {DEVICE_NAMES.get(device_type, f'DLPack device type {device_type}')} "
                      "are not supported; zyx reads host (kDLCPU) and CUDA (kDLCUDA) memory")


def strided_view(flat, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]):
    """``flat`` (a 1-d Tensor) read as the array whose first element is ``flat[offset]``,
    with ``shape`` and element ``strides``, through movement ops only (no copy). None when
    the layout is not a view of a dense block (its axes overlap): the caller copies then.

    Axes are taken from the largest stride down. Each level's row - ``t`` elements, the
    stride of the axis above - is padded to a multiple of the next stride ``u`` and split
    as ``(rows of u, u)``, keeping the first ``size`` rows; this needs everything below to
    fit in the row (span of the inner axes <= ``t``). Negative strides are flips, zero
    strides broadcasts."""
    n = len(shape)
    keep = [i for i in range(n) if shape[i] != 1 and strides[i] != 0]
    flips = [i for i in keep if strides[i] < 0]
    for i in flips:
        offset += (shape[i] - 1) * strides[i]
    st = {i: abs(strides[i]) for i in keep}
    order = sorted(keep, key=lambda i: -st[i])  # outermost (largest stride) first
    inner_span = 1
    for k in range(len(order) - 1, 0, -1):  # everything below each axis fits in its stride
        inner_span += (shape[order[k]] - 1) * st[order[k]]
        if inner_span > st[order[k - 1]]:
            return None
    x = flat
    if order:
        top = order[0]
        need = shape[top] * st[top]
        have = flat.shape[0] - offset
        x = x.shrink(((offset, min(need, have), 1),))
        if need > have:
            x = x.pad(((0, need - have),))
        x = x.reshape((shape[top], st[top]))
        for k in range(1, len(order)):
            row, step, size = st[order[k - 1]], st[order[k]], shape[order[k]]
            padded = -(-row // step) * step
            if padded > row:
                x = x.pad(tuple((0, 0) for _ in range(x.ndim - 1)) + ((0, padded - row),))
            x = x.reshape(x.shape[:-1] + (padded // step, step))
            x = x.shrink(tuple((0, e, 1) for e in x.shape[:-2]) + ((0, size, 1), (0, step, 1)))
        x = x.shrink(tuple((0, e, 1) for e in x.shape[:-1]) + ((0, 1, 1),))
        x = x.reshape(tuple(shape[i] for i in order))
        x = x.permute(tuple(sorted(range(len(order)), key=lambda k: order[k])))
        if flips:
            x = x.shrink(tuple((shape[i] - 1, shape[i], -1) if i in flips else (0, shape[i], 1) for i in keep))
    else:
        x = x.shrink(((offset, 1, 1),))
    x = x.reshape(tuple(shape[i] if i in keep else 1 for i in range(n)))
    if any(shape[i] != 1 and strides[i] == 0 for i in range(n)):
        x = x.broadcast_to(tuple(shape))
    return x


def to_tensor(r: Received, device, copy: bool | None):
    """A zyx Tensor over a received capsule on ``device`` (its natural zyx device, which
    the caller checked), sharing the memory unless ``copy`` asks for a copy."""
    from . import graph
    from .device import Buffer
    from .tensor import Tensor
    d = r.dtype
    device.check_dtype(d)
    if r.size == 0:
        r.owner.release()
        return Tensor._const(0, r.shape, d, device)
    lo, hi = r.span()
    item = d.itemsize
    first = r.ptr + lo * item  # lowest address touched
    base = first - first % CUDA_ALIGN if device.type == "cuda" else first
    if (first - base) % item or first % item:
        base = None  # not element-aligned: read through a copy
    must_copy = copy is True and not r.copied
    if base is not None:
        nelem = (r.ptr - base) // item + hi  # from base to one past the last element
        nbytes = nelem * item
        if device.type == "cuda":
            be = device.backend
            handle = be.share_memory(base, nbytes, r.owner, first)
        else:
            handle = np.asarray(_HostSpan(base, nbytes, r.readonly, r.owner)).view(d.np)
        buf = Buffer(device, nelem, d, handle=handle)
        offset = (r.ptr - base) // item
        exact = offset == 0 and nelem == r.size and r.contiguous()
        flat = Tensor._wrap(graph.buffer_node(buf, r.shape if exact else (nelem,), d, device))
        if exact:
            view = flat
        elif r.contiguous():
            view = flat.shrink(((offset, r.size, 1),)).reshape(r.shape)
        else:
            view = strided_view(flat, offset, r.shape, r.strides)
        if view is not None:
            if not must_copy:
                return view
            return _materialize(view, flat)
    if copy is False:
        raise BufferError("from_dlpack(copy=False): the producer's layout (strides "
                          f"{r.strides} for shape {r.shape}) is not a view zyx can read in place")
    return _copy_strided(r, device)


def _materialize(view, flat):
    """A realized copy of ``view`` that does not share ``flat``'s memory."""
    from . import graph
    from .device import Buffer
    from .tensor import Tensor
    if view._node is flat._node:
        src = flat._node.buffer
        fresh = Buffer(src.device, src.size, src.dtype)
        be = src.device.backend
        if src.device.type == "cuda":
            be.copy_device(fresh.handle, src.handle, src.nbytes)
        else:
            fresh.handle[: src.size] = be.view(src.handle, src.size)
        return Tensor._wrap(graph.buffer_node(fresh, view.shape, view.dtype, view.device))
    return view.realize()  # the view's kernel writes a new buffer


def _copy_strided(r: Received, device):
    """Any layout, through a host copy of the span (the rare fallback)."""
    from . import graph
    from .device import Buffer
    from .tensor import Tensor
    d, item = r.dtype, r.dtype.itemsize
    lo, hi = r.span()
    nbytes = (hi - lo) * item
    if device.type == "cuda":
        raw = np.empty(nbytes, np.uint8)
        device.backend.read_device(raw, r.ptr + lo * item)
    else:
        raw = np.asarray(_HostSpan(r.ptr + lo * item, nbytes, True, r.owner)).copy()
    elems = raw.view(d.np)
    host = np.lib.stride_tricks.as_strided(elems[-lo:], shape=r.shape, strides=tuple(s * item for s in r.strides))
    arr = np.ascontiguousarray(host)
    r.owner.release()
    buf = Buffer(device, arr.size, d)
    buf.copy_in(arr)
    return Tensor._wrap(graph.buffer_node(buf, arr.shape, d, device))
