"""Devices and buffers.

A *backend* (``zyx/backends/<name>.py``) knows only memory and programs: allocate,
free, copy in, copy out, compile kernel IR to a program, launch, synchronize, and an
info record. What every backend provides is declared by ``zyx.backends.base.Backend``
(re-exported here); a ``Device`` is one backend instance with an index (``cpu``,
``opencl:1``). This module is the registry: the only place that imports backends.

Fork: drivers do not survive ``os.fork()``. PoCL (OpenCL), wgpu-native and CUDA hang or
fail in a child whose parent had touched the driver (even only to list devices), and
libgomp's thread pool of the forking thread is gone in the child (its next parallel region
hangs). So in a forked child (``os.register_at_fork``): the ``cpu`` device keeps working,
its kernels on one OpenMP thread in the forking thread; a device of any other type whose
driver the parent had started raises RuntimeError on use, saying to start processes with
the "spawn" (or "forkserver") method. See docs/array_api.md.
"""
from __future__ import annotations

import ctypes
import importlib
import os
import threading

import numpy as np

from . import debug
from . import dtypes as dt
from .backends.base import MAX_ELEMENTS, Backend, CompileError
from .dtypes import DType

__all__ = ["BACKENDS", "Backend", "Buffer", "CompileError", "Device", "DeviceUnavailable", "MAX_ELEMENTS",
           "MemoryCounters", "available_devices", "default_device", "get_device", "memory_stats", "parse",
           "set_default_device"]

BACKENDS = ("cpu", "opencl", "cuda", "wgpu")


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist on this machine."""


_CHECKED_FROM = 1 << 24  # sizes up to this fit every device: check_size has nothing to check


class MemoryCounters:
    """One device's buffer accounting, kept by ``Buffer``: bytes of live buffers zyx
    allocated (and their peak), and of live buffers over memory zyx borrowed (a zero-copy
    wrap of a NumPy array). Sizes are the buffers' ``size * itemsize``."""

    __slots__ = ("in_use", "buffers", "peak", "borrowed", "_lock")

    def __init__(self):
        self.in_use = self.buffers = self.peak = self.borrowed = 0
        self._lock = threading.Lock()

    def add(self, nbytes: int, borrowed: bool) -> None:
        with self._lock:
            if borrowed:
                self.borrowed += nbytes
            else:
                self.in_use += nbytes
                self.buffers += 1
                if self.in_use > self.peak:
                    self.peak = self.in_use

    def remove(self, nbytes: int, borrowed: bool) -> None:
        with self._lock:
            if borrowed:
                self.borrowed -= nbytes
            else:
                self.in_use -= nbytes
                self.buffers -= 1


class Buffer:
    """Device memory for ``size`` elements of ``dtype``; freed when garbage collected.
    With ``handle`` given the buffer wraps memory zyx did not allocate (borrowed)."""

    __slots__ = ("device", "size", "dtype", "handle", "borrowed", "__weakref__")

    def __init__(self, device: "Device", size: int, dtype: DType, handle=None):
        self.device, self.size, self.dtype = device, size, dtype
        if handle is None:  # (every realize makes one: kept short)
            if size > _CHECKED_FROM:
                device.check_size(size, dtype)
            self.handle = device.backend.alloc(size, dtype)
            self.borrowed = False
            device.memory.add(size * dtype.itemsize, False)
        else:
            self.handle, self.borrowed = handle, True
            device.memory.add(size * dtype.itemsize, True)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def copy_in(self, arr: np.ndarray) -> None:
        self.device.backend.copy_in(self.handle, np.ascontiguousarray(arr, dtype=self.dtype.np).reshape(-1))

    def to_numpy(self) -> np.ndarray:
        return self.device.backend.copy_out(self.handle, self.size, self.dtype)

    def __del__(self):
        try:
            self.device.memory.remove(self.size * self.dtype.itemsize, self.borrowed)
            self.device.backend.free(self.handle)
        except Exception:
            pass


class Device:
    """One device of one backend. Compare devices with ``==``; print gives its name."""

    def __init__(self, backend_name: str, index: int, backend: Backend):
        self.type, self.index, self.backend = backend_name, index, backend
        self.memory = MemoryCounters()

    def memory_stats(self) -> dict[str, int]:
        """Memory of this device, in bytes (like ``torch.cuda.memory_stats`` / CuPy's pool):

        * ``in_use_bytes``: live buffers zyx allocated (tensors' data, realized or
          intermediate), ``buffers`` how many, ``peak_in_use_bytes`` the most at once since
          the device opened or ``reset_peak_memory_stats()``;
        * ``cached_bytes``: freed blocks the backend's pool keeps for reuse (the CPU's
          ``ZYX_CPU_CACHE_MB`` pool, CUDA's free lists; 0 for OpenCL and WGPU, which have
          none); ``backend.empty_cache()`` returns them where there is a pool;
        * ``borrowed_bytes``: live buffers over memory zyx did not allocate (a zero-copy
          wrap of a NumPy array by ``asarray`` on the ``cpu`` device)."""
        m = self.memory
        return {"in_use_bytes": m.in_use, "peak_in_use_bytes": m.peak, "buffers": m.buffers,
                "cached_bytes": int(self.backend.cached_bytes()), "borrowed_bytes": m.borrowed}

    def reset_peak_memory_stats(self) -> None:
        """Start ``peak_in_use_bytes`` again from the bytes in use now."""
        with self.memory._lock:
            self.memory.peak = self.memory.in_use

    @property
    def name(self) -> str:
        return self.type if self.index == 0 and self.type == "cpu" else f"{self.type}:{self.index}"

    @property
    def dtypes(self) -> frozenset:
        return self.backend.dtypes

    def supports(self, dtype: DType) -> bool:
        return dtype in self.backend.dtypes

    @property
    def default_float(self) -> DType:
        """The default real floating dtype here: ``zyx.get_default_float()``, or float32 on a
        device without float64."""
        d = dt.default_float
        return d if d in self.backend.dtypes else dt.float32

    @property
    def default_complex(self) -> DType:
        d = dt.default_complex
        return d if d in self.backend.dtypes else dt.complex64

    def _limits(self) -> tuple[int, int]:
        """(bytes one buffer may hold, elements one kernel may index) on this device."""
        lim = self.__dict__.get("_limit_cache")
        if lim is None:
            b = self.backend
            lim = self.__dict__["_limit_cache"] = (int(b.max_alloc_bytes()), int(b.max_elements))
        return lim

    def check_size(self, numel: int, dtype: DType, what: str = "an array") -> None:
        """ValueError for more elements than a kernel on this device can index, MemoryError
        for more bytes than one buffer on it can hold: raised before any code is generated
        or memory allocated, so the device stays usable."""
        if numel <= _CHECKED_FROM:
            return
        max_bytes, max_elements = self._limits()
        if numel > max_elements:
            raise ValueError(f"{what} has {numel} elements, more than device {self.name} can index "
                             f"(at most {max_elements})")
        nbytes = numel * dtype.itemsize
        if nbytes > max_bytes:
            raise MemoryError(f"{what} ({numel} {dtype.name} elements) needs {_fmt_bytes(nbytes)}; device "
                              f"{self.name} holds at most {_fmt_bytes(max_bytes)} in one buffer")

    def check_dtype(self, dtype: DType) -> None:
        if dtype not in self.backend.dtypes:
            raise TypeError(f"device {self.name} ({self.backend.description}) does not support dtype "
                            f"{dtype.name}; supported: {', '.join(sorted(d.name for d in self.backend.dtypes))}")

    def __repr__(self) -> str:
        return f"Device({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = get_device(other)
            except (ValueError, DeviceUnavailable):
                return False
        return isinstance(other, Device) and other.type == self.type and other.index == self.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        # by name: the receiving process opens (or finds) its own device of that name
        return (get_device, (self.name,))


def _fmt_bytes(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "bytes" else f"{n} bytes"
        n /= 1024
    return f"{n} bytes"


_devices: dict[tuple[str, int], Device] = {}
_lock = threading.Lock()
_default: Device | None = None


def _backend_module(name: str):
    if name not in BACKENDS:
        raise ValueError(f"unknown device type {name!r}; known: {', '.join(BACKENDS)}")
    if name in _forked_away:
        raise RuntimeError(_fork_message(name))
    _started.add(name)
    return importlib.import_module(f".backends.{name}", __package__)


# ---------------------------------------------------------------- fork
_started: set[str] = set()      # backend types whose driver this process has touched
_forked_away: set[str] = set()  # ... that a fork made unusable here (in the child)


def _fork_message(name: str) -> str:
    return (f"zyx: this process was forked from one that had started the {name} driver, which does not "
            "work in a forked child (it hangs). Start worker processes with the 'spawn' or 'forkserver' "
            "method instead of 'fork': multiprocessing.get_context('spawn'), or "
            "ProcessPoolExecutor(mp_context=multiprocessing.get_context('spawn')). The cpu device works "
            "in a forked child.")


class _ForkedBackend:
    """Stands in for a backend, in a forked child, whose driver the parent had started:
    every use raises RuntimeError saying why; freeing is a no-op (the memory is the
    parent's). Dtypes and the description stay, so messages can still name the device."""

    def __init__(self, name: str, real):
        self._name = name
        self.dtypes, self.description = real.dtypes, real.description
        self.max_buffers = real.max_buffers

    def free(self, handle) -> None:
        pass

    def __getattr__(self, attr: str):
        raise RuntimeError(_fork_message(self._name))


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a lock another thread held at the fork stays held in the child
    for name in _started - {"cpu"}:
        _forked_away.add(name)
    for dev in _devices.values():
        if dev.type in _forked_away and not isinstance(dev.backend, _ForkedBackend):
            dev.backend = _ForkedBackend(dev.type, dev.backend)  # type: ignore[assignment]  # raises on use
    try:  # only if libgomp is loaded: the forking thread's OpenMP pool is gone, use one thread
        gomp = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
    except OSError:
        return
    gomp.omp_set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _cuda_compile_check(kernel) -> None:
    """With ZYX_CUDA_COMPILE_CHECK=1 (CI), every kernel the cpu device compiles must also
    compile for CUDA (NVRTC + ptxas for sm_90): a real check of the CUDA renderer without
    a GPU. Runs ``zyx.backends.cuda.compile_only``, which touches no driver."""
    if os.environ.get("ZYX_CUDA_COMPILE_CHECK", "0") not in ("", "0"):
        importlib.import_module(".backends.cuda", __package__).compile_only(kernel)


def parse(spec) -> tuple[str, int]:
    if isinstance(spec, Device):
        return spec.type, spec.index
    if not isinstance(spec, str):
        raise TypeError(f"a device is a zyx Device or a string like 'cpu' or 'opencl:1', not {spec!r}")
    name, _, idx = spec.strip().lower().partition(":")
    if name == "gpu":
        name = "cuda"
    try:
        return name, int(idx) if idx else 0
    except ValueError:
        raise ValueError(f"bad device index in {spec!r}") from None


def get_device(spec=None) -> Device:
    """The Device for ``spec`` ('cpu', 'opencl', 'opencl:1', a Device, or None for the
    default device)."""
    if spec is None:
        return default_device()
    if isinstance(spec, Device):
        return spec
    key = parse(spec)
    with _lock:
        dev = _devices.get(key)
        if dev is None:
            mod = _backend_module(key[0])
            count = mod.device_count()
            if key[1] >= count:
                raise DeviceUnavailable(
                    f"device {key[0]}:{key[1]} is not available ({count} {key[0]} device(s) found). "
                    + mod.install_hint())
            backend = mod.open_device(key[1])
            if key[0] == "cpu":
                backend.kernel_check = _cuda_compile_check
            dev = Device(key[0], key[1], backend)
            _devices[key] = dev
            if debug.level & 1:
                debug.log(f"opened device {dev.name}: {dev.backend.description}")
    return dev


def default_device() -> Device:
    global _default
    if _default is None:
        env = os.environ.get("ZYX_DEVICE")
        _default = get_device(env) if env else get_device("cpu")
    return _default


def set_default_device(spec) -> None:
    global _default
    _default = get_device(spec)


def memory_stats(device=None) -> dict[str, int]:
    """``get_device(device).memory_stats()``: bytes in use and cached on a device (the
    default device when None). See ``Device.memory_stats``."""
    return get_device(device).memory_stats()


def available_devices() -> list[Device]:
    """Every device zyx can open on this machine."""
    out = []
    for name in BACKENDS:
        if name in _forked_away:  # unusable in this forked child (see the module docstring)
            continue
        try:
            mod = _backend_module(name)
            n = mod.device_count()
        except Exception:
            continue
        for i in range(n):
            try:
                out.append(get_device(f"{name}:{i}"))
            except Exception:
                pass
    return out
