"""CUDA backend: CUDA C compiled at run time by NVRTC, run through the driver API.

Built on ``cuda-python`` (``cuda.bindings.nvrtc`` and ``cuda.bindings.driver``); install
with ``pip install 'zyx[cuda]'`` - NVRTC's version must not be newer than the driver's
CUDA version (a newer NVRTC emits PTX the driver rejects), hence the pin to 13.0.

* ``device_count()`` is 0 without an NVIDIA driver (never raises).
* Kernels compile to a CUBIN for the device's compute capability when this NVRTC knows
  it, otherwise to PTX of the newest architecture it knows (the driver JIT-compiles it).
  Binaries are cached on disk under the ``cuda`` namespace, keyed by source, NVRTC
  version, options and compute capability.
* Memory comes from a small pool: freed blocks are kept in a free list by rounded size
  and reused; when the device runs out, the pool is emptied and the allocation retried,
  then ``MemoryError`` is raised.
* Everything is issued on one stream per device; ``synchronize`` waits for it. Each
  launch records an event (``EventPool``, a small reused ring) that its output buffers
  remember, so ``copy_out`` of a buffer waits only for the kernel that wrote it while
  later launches keep the GPU busy.
  Transfers of 1 MiB or more go through a reusable page-locked (pinned) staging buffer
  (``PinnedStaging``), in double-buffered chunks; smaller ones copy directly.
* Every failing call raises ``CUDAError`` (a RuntimeError) naming the call and the
  driver's error string.

``compile_only(kernel)`` renders and compiles a kernel for ``sm_90`` and assembles the
PTX with ``ptxas``, with no GPU: a check of generated code in CI.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import cache, debug
from .. import dtypes as dt
from ..kernels.ir import Kernel
from ..kernels.render_cuda import CUDARenderer, launch_config
from .base import Backend, CompileError, ProgramCache, max_programs

__all__ = ["CUDABackend", "CUDAError", "CompileError", "compile_only", "device_count", "install_hint",
           "open_device", "set_allow_tf32", "allow_tf32"]


class CUDAError(RuntimeError):
    """A CUDA driver or NVRTC call failed."""


def install_hint() -> str:
    return ("CUDA needs an NVIDIA GPU with its driver, and `pip install 'zyx[cuda]'` "
            "(cuda-python, nvidia-cuda-nvrtc matching the driver's CUDA version).")


# ------------------------------------------------------------------ driver helpers
def _driver():
    from cuda.bindings import driver
    return driver


def _nvrtc():
    from cuda.bindings import nvrtc
    return nvrtc


def _check(call: str, result):
    """Unpack a cuda-python result tuple, raising on an error code."""
    if not isinstance(result, tuple):
        result = (result,)
    err, rest = result[0], result[1:]
    if int(err) != 0:
        raise _error(call, err)
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


def _error(call: str, err) -> Exception:
    drv = _driver()
    name = getattr(err, "name", str(err))
    desc = ""
    try:
        if isinstance(err, drv.CUresult):
            e2, s = drv.cuGetErrorString(err)
            if int(e2) == 0 and s:
                desc = s.decode() if isinstance(s, bytes) else str(s)
        else:
            e2, s = _nvrtc().nvrtcGetErrorString(err)
            desc = s.decode() if isinstance(s, bytes) else str(s)
    except Exception:
        pass
    msg = f"{call} failed: {name}" + (f" ({desc})" if desc else "")
    if isinstance(err, drv.CUresult) and err == drv.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
        return MemoryError(f"CUDA device out of memory: {msg}")
    return CUDAError(msg)


_count: int | None = None


def device_count() -> int:
    """Number of CUDA devices; 0 when cuda-python, the driver or a GPU is missing."""
    global _count
    if _count is None:
        try:
            drv = _driver()
            res = drv.cuInit(0)
            err = res[0] if isinstance(res, tuple) else res
            if int(err) != 0:
                _count = 0
            else:
                err, n = drv.cuDeviceGetCount()
                _count = int(n) if int(err) == 0 else 0
        except BaseException as e:  # DynamicLibNotFoundError, ImportError, OSError, ...
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            _count = 0
    return _count


# ------------------------------------------------------------------ NVRTC
COMPILE_THREADS = min(16, os.cpu_count() or 1)  # NVRTC runs at once in ``CUDABackend.compile_many``
def include_dirs() -> list[str]:
    """Directories holding cuda_fp16.h / cuda_bf16.h: the nvidia-cuda-runtime wheel
    (found through the ``nvidia`` namespace package), ``$CUDA_PATH``, /usr/local/cuda."""
    out: list[str] = []
    try:
        import nvidia
        for base in list(nvidia.__path__):
            for sub in sorted(Path(base).glob("*/include")) + [Path(base) / "cuda_runtime" / "include"]:
                if (sub / "cuda_fp16.h").exists():
                    out.append(str(sub))
    except ImportError:
        pass
    for env in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if env and (Path(env) / "include" / "cuda_fp16.h").exists():
            out.append(str(Path(env) / "include"))
    return list(dict.fromkeys(out))


def nvrtc_version() -> tuple[int, int]:
    return tuple(int(v) for v in _check("nvrtcVersion", _nvrtc().nvrtcVersion()))  # type: ignore[return-value]


def supported_archs() -> list[int]:
    return [int(a) for a in _check("nvrtcGetSupportedArchs", _nvrtc().nvrtcGetSupportedArchs())]


def nvrtc_compile(source: str, arch: str, name: str = "kernel") -> tuple[bytes, str]:
    """Compile CUDA C with NVRTC. ``arch`` is ``sm_XY`` (returns a CUBIN) or
    ``compute_XY`` (returns PTX). Returns (binary, log); raises CompileError."""
    nv = _nvrtc()
    prog = _check("nvrtcCreateProgram", nv.nvrtcCreateProgram(source.encode(), f"{name}.cu".encode(), 0, [], []))
    try:
        opts = [f"--gpu-architecture={arch}".encode(), b"-std=c++17"] + [f"-I{d}".encode() for d in include_dirs()]
        res = nv.nvrtcCompileProgram(prog, len(opts), opts)
        err = res[0] if isinstance(res, tuple) else res
        size = _check("nvrtcGetProgramLogSize", nv.nvrtcGetProgramLogSize(prog))
        buf = b" " * size
        _check("nvrtcGetProgramLog", nv.nvrtcGetProgramLog(prog, buf))
        log = buf.rstrip(b"\0 ").decode(errors="replace")
        if int(err) != 0:
            raise CompileError(f"NVRTC failed to compile generated kernel {name} for {arch}", source, log)
        if arch.startswith("sm_"):
            size = _check("nvrtcGetCUBINSize", nv.nvrtcGetCUBINSize(prog))
            out = b" " * size
            _check("nvrtcGetCUBIN", nv.nvrtcGetCUBIN(prog, out))
        else:
            size = _check("nvrtcGetPTXSize", nv.nvrtcGetPTXSize(prog))
            out = b" " * size
            _check("nvrtcGetPTX", nv.nvrtcGetPTX(prog, out))
        return out, log
    finally:
        nv.nvrtcDestroyProgram(prog)


def find_ptxas() -> str | None:
    """ptxas on PATH, under $CUDA_PATH / /usr/local/cuda, or in an nvidia wheel."""
    p = shutil.which("ptxas")
    if p:
        return p
    cands = [Path(e) / "bin" / "ptxas" for e in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"),
                                                  "/usr/local/cuda") if e]
    try:
        import nvidia
        for base in nvidia.__path__:
            cands += sorted(Path(base).glob("*/bin/ptxas"))
    except ImportError:
        pass
    return next((str(c) for c in cands if c.exists()), None)


def compile_only(kernel: Kernel, arch: int = 90) -> tuple[str, str]:
    """Render ``kernel`` as CUDA C, compile it to PTX for ``sm_<arch>`` with NVRTC and
    assemble the PTX with ptxas when it is installed. No GPU is needed. Returns
    (ptx, log); raises CompileError when NVRTC or ptxas rejects the code."""
    source = CUDARenderer(arch).render(kernel)
    ptx, log = nvrtc_compile(source, f"compute_{arch}", kernel.name)
    text = ptx.rstrip(b"\0 ").decode()
    ptxas = find_ptxas()
    if ptxas is not None:
        with tempfile.TemporaryDirectory(prefix="zyx-ptx-") as d:
            src = Path(d) / "k.ptx"
            src.write_text(text)
            r = subprocess.run([ptxas, f"-arch=sm_{arch}", str(src), "-o", str(Path(d) / "k.cubin")],
                               capture_output=True, text=True)
            log += r.stderr
            if r.returncode != 0:
                raise CompileError(f"ptxas rejected the PTX of kernel {kernel.name}", source, r.stderr)
    return text, log


def set_allow_tf32(allow: bool) -> None:
    """Let float32 matrix products run on the tensor cores in TF32 (inputs rounded to a
    10-bit mantissa, float32 accumulation; about 1e-3 relative error), as
    ``torch.backends.cuda.matmul.allow_tf32`` does. Off by default (``ZYX_CUDA_TF32=1``
    turns it on too). Cached schedules are dropped, so the next products are rebuilt."""
    from .. import realize
    from ..kernels import cuda_matmul
    cuda_matmul.set_allow_tf32(allow)
    realize.clear_cache()


def allow_tf32() -> bool:
    """Whether float32 matrix products may use TF32 tensor cores (``set_allow_tf32``)."""
    from ..kernels import cuda_matmul
    return cuda_matmul.allow_tf32()


# ------------------------------------------------------------------ device memory
class CUDABuffer:
    """A device allocation: ``ptr`` (CUdeviceptr as int) of ``nbytes`` (the pool size)."""

    __slots__ = ("ptr", "nbytes", "__weakref__")

    def __init__(self, ptr: int, nbytes: int):
        self.ptr, self.nbytes = ptr, nbytes


class SharedCUDABuffer(CUDABuffer):
    """Device memory zyx does not own (a DLPack producer's, see ``zyx/_dlpack.py``):
    never pooled; ``owner`` (the producer's capsule) is released when zyx frees it."""

    __slots__ = ("owner",)

    def __init__(self, ptr: int, nbytes: int, owner):
        super().__init__(ptr, nbytes)
        self.owner = owner


def _pool_size(nbytes: int) -> int:
    """Round up to 256 bytes, and to 1/8 of the power of two above 1 MiB, so freed
    blocks are reusable for similar sizes."""
    n = max(256, (nbytes + 255) & ~255)
    if n > (1 << 20):
        step = 1 << max(n.bit_length() - 4, 8)
        n = (n + step - 1) // step * step
    return n


# ------------------------------------------------------------------ pinned host staging
PINNED_MIN = 1 << 20  # transfers of at least this many bytes go through page-locked memory
PINNED_CHUNK = 8 << 20  # bytes per half of the staging buffer


class PinnedStaging:
    """A reusable page-locked host buffer for large transfers.

    The DMA engine reads and writes page-locked memory at full bus speed; from ordinary
    (pageable) memory the driver copies through a small bounce buffer of its own. A
    transfer goes through the two halves of this buffer in chunks: while the device
    copies one half, the host fills (or drains) the other. One transfer at a time.
    ``cuMemHostAlloc`` failing for lack of memory makes ``reserve`` return False (the
    caller then copies directly); every other failing call raises naming the call.
    """

    def __init__(self, drv, chunk: int = PINNED_CHUNK):
        self.drv, self.chunk = drv, chunk
        self.ptr, self.size = 0, 0
        self.lock = threading.Lock()

    def reserve(self, nbytes: int) -> bool:
        """Make the buffer two chunks for ``nbytes`` (call with the lock held)."""
        want = 2 * min(self.chunk, 1 << max(nbytes - 1, 1).bit_length())
        if self.size >= want:
            return True
        self.release()
        res = self.drv.cuMemHostAlloc(want, 0)
        if int(res[0]) == int(self.drv.CUresult.CUDA_ERROR_OUT_OF_MEMORY):
            return False
        self.ptr, self.size = int(_check(f"cuMemHostAlloc({want} bytes)", res)), want
        return True

    def release(self) -> None:
        if self.ptr:
            ptr, self.ptr, self.size = self.ptr, 0, 0
            _check("cuMemFreeHost", self.drv.cuMemFreeHost(ptr))

    def _half(self, i: int, n: int) -> np.ndarray:
        return np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(self.ptr + (i % 2) * (self.size // 2)))

    def copy_in(self, dst: int, src: np.ndarray, stream, wait) -> bool:
        """Host bytes ``src`` (a flat uint8 array) to device address ``dst``."""
        with self.lock:
            if not self.reserve(src.nbytes):
                return False
            step = self.size // 2
            offs = range(0, src.nbytes, step)
            self._half(0, min(step, src.nbytes))[:] = src[:step]
            for i, off in enumerate(offs):
                n = min(step, src.nbytes - off)
                _check("cuMemcpyHtoDAsync", self.drv.cuMemcpyHtoDAsync(
                    dst + off, self.ptr + (i % 2) * step, n, stream))
                nxt = off + step
                if nxt < src.nbytes:  # fill the other half while this one is copied
                    m = min(step, src.nbytes - nxt)
                    self._half(i + 1, m)[:] = src[nxt:nxt + m]
                wait()
            return True

    def copy_out(self, dst: np.ndarray, src: int, stream, wait) -> bool:
        """Device address ``src`` to host bytes ``dst`` (a flat uint8 array)."""
        with self.lock:
            if not self.reserve(dst.nbytes):
                return False
            step = self.size // 2
            offs = list(range(0, dst.nbytes, step))

            def issue(i):
                n = min(step, dst.nbytes - offs[i])
                _check("cuMemcpyDtoHAsync", self.drv.cuMemcpyDtoHAsync(
                    self.ptr + (i % 2) * step, src + offs[i], n, stream))

            issue(0)
            for i, off in enumerate(offs):
                wait()  # chunk i has landed
                if i + 1 < len(offs):
                    issue(i + 1)  # its half was drained in the previous round
                n = min(step, dst.nbytes - off)
                dst[off:off + n] = self._half(i, n)
            return True


# ------------------------------------------------------------------ completion events
EVENT_POOL = 16  # events in the ring


class EventPool:
    """Which kernel last wrote each device buffer, as a CUDA event.

    ``record`` records an event on the stream after a launch and remembers it for the
    launch's output buffers; ``wait_for`` blocks the host until that buffer's writer is
    done (``cuEventSynchronize``) instead of until the whole stream drains. Events
    (created with ``CU_EVENT_DISABLE_TIMING``) are a ring of ``size``, re-recorded in
    turn: on one in-order stream a re-recorded event completes *after* the launch it
    marked before, so a buffer still mapped to it waits at worst a little longer, never
    too short. ``release`` destroys them all.
    """

    def __init__(self, drv, size: int = EVENT_POOL):
        self.drv, self.size = drv, size
        self.events: list = []
        self.next = 0  # ring position of the event recorded next, once the ring is full
        self.writer: dict[int, object] = {}  # device address -> event after its latest writer
        self.lock = threading.Lock()

    def record(self, stream, outputs: list[int]) -> None:
        """Mark the work issued so far on ``stream`` as the writer of ``outputs``."""
        with self.lock:
            if len(self.events) < self.size:
                flags = self.drv.CUevent_flags.CU_EVENT_DISABLE_TIMING
                ev = _check("cuEventCreate", self.drv.cuEventCreate(flags))
                self.events.append(ev)
            else:
                ev = self.events[self.next]
                self.next = (self.next + 1) % self.size
            _check("cuEventRecord", self.drv.cuEventRecord(ev, stream))
            for ptr in outputs:
                self.writer[ptr] = ev

    def wait_for(self, ptr: int) -> bool:
        """Wait until the kernel that last wrote ``ptr`` has finished; False when no
        recorded launch wrote it (the caller then orders itself on the stream)."""
        with self.lock:
            ev = self.writer.get(ptr)
        if ev is None:
            return False
        _check("cuEventSynchronize", self.drv.cuEventSynchronize(ev))
        return True

    def forget(self, ptr: int | None = None) -> None:
        """Drop the record of one buffer (freed), or of all (the stream has drained)."""
        with self.lock:
            if ptr is None:
                self.writer.clear()
            else:
                self.writer.pop(ptr, None)

    def release(self) -> None:
        """Destroy every event (call when the stream has drained)."""
        with self.lock:
            events, self.events, self.next = self.events, [], 0
            self.writer.clear()
        for ev in events:
            _check("cuEventDestroy", self.drv.cuEventDestroy(ev))


class CUDAProgram:
    __slots__ = ("module", "func", "name", "grid", "block", "nbuf", "nscalar", "outputs", "kernel")

    def __init__(self, module, func, name: str, grid: int, block: int, nbuf: int, nscalar: int,
                 outputs: tuple[int, ...] = (0,), kernel: Kernel | None = None):
        self.module, self.func, self.name = module, func, name
        self.grid, self.block, self.nbuf, self.nscalar = grid, block, nbuf, nscalar
        self.outputs = outputs  # positions of the buffers the kernel writes
        self.kernel = kernel if kernel is not None and kernel.generic else None  # grid from the arguments


class CUDABackend(Backend):
    narrow_index = True  # generic kernels index with 32 bits when every size is below 2^30
    special_sync_work = 1 << 24  # NVRTC takes 25-300 ms; a contraction's generic kernel is far slower
    special_async_work = 1 << 16

    def __init__(self, index: int):
        drv = _driver()
        self.drv = drv
        self.index = index
        self.dev = _check("cuDeviceGet", drv.cuDeviceGet(index))
        self.ctx = _check("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(self.dev))
        self._set_ctx()
        attr = drv.CUdevice_attribute
        major = _check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(
            attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, self.dev))
        minor = _check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(
            attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, self.dev))
        self.cc = int(major) * 10 + int(minor)
        name = _check("cuDeviceGetName", drv.cuDeviceGetName(256, self.dev))
        self.name = (name.split(b"\0")[0].decode() if isinstance(name, bytes) else str(name)).strip()
        self.total_mem = int(_check("cuDeviceTotalMem", drv.cuDeviceTotalMem(self.dev)))
        self.driver_version = int(_check("cuDriverGetVersion", drv.cuDriverGetVersion()))
        self.stream = _check("cuStreamCreate", drv.cuStreamCreate(drv.CUstream_flags.CU_STREAM_NON_BLOCKING))
        self.description = (f"{self.name} (sm_{self.cc}, {self.total_mem / 2 ** 30:.0f} GiB), CUDA C via NVRTC "
                            f"{'.'.join(map(str, nvrtc_version()))}")
        self.dtypes = frozenset(dt.ALL)
        archs = supported_archs()
        if self.cc in archs:
            self.arch = f"sm_{self.cc}"
        else:
            older = [a for a in archs if a <= self.cc]
            self.arch = f"compute_{max(older) if older else min(archs)}"
        # the renderer targets what the code is compiled for (tensor cores from sm_70)
        self.target_cc = min(self.cc, int(self.arch.split("_")[1]))
        self.renderer = CUDARenderer(self.target_cc)
        self._free: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._programs = ProgramCache(max_programs())
        self._prebuilt: dict[str, bytes] = {}  # compile_many's NVRTC output, awaiting its load
        self.compiles = 0
        self.staging = PinnedStaging(drv)
        self.events = EventPool(drv)

    def _set_ctx(self) -> None:
        _check("cuCtxSetCurrent", self.drv.cuCtxSetCurrent(self.ctx))

    # ------------------------------------------------------------------ memory
    def alloc(self, size: int, dtype: dt.DType) -> CUDABuffer:
        nbytes = _pool_size(size * dtype.itemsize)
        with self._lock:
            bucket = self._free.get(nbytes)
            if bucket:
                return CUDABuffer(bucket.pop(), nbytes)
        self._set_ctx()
        res = self.drv.cuMemAlloc(nbytes)
        if int(res[0]) == int(self.drv.CUresult.CUDA_ERROR_OUT_OF_MEMORY):
            self.empty_cache()
            res = self.drv.cuMemAlloc(nbytes)
        ptr = _check(f"cuMemAlloc({nbytes} bytes)", res)
        return CUDABuffer(int(ptr), nbytes)

    def free(self, handle: CUDABuffer) -> None:
        if type(handle) is SharedCUDABuffer:
            self._release_shared(handle)
            return
        if handle.ptr:
            self.events.forget(handle.ptr)
            with self._lock:
                self._free.setdefault(handle.nbytes, []).append(handle.ptr)
            handle.ptr = 0

    def cached_bytes(self) -> int:
        """Bytes of freed blocks the pool keeps for reuse (Device.memory_stats)."""
        with self._lock:
            return sum(size * len(ptrs) for size, ptrs in self._free.items())

    def max_alloc_bytes(self) -> int:
        return self.total_mem

    def empty_cache(self) -> None:
        """Return every pooled block to the driver (after the stream's work is done)."""
        self.synchronize()
        with self._lock:
            blocks = [p for ps in self._free.values() for p in ps]
            self._free.clear()
        for p in blocks:
            _check("cuMemFree", self.drv.cuMemFree(p))
        with self.staging.lock:
            self.staging.release()
        self.events.release()

    def copy_in(self, handle: CUDABuffer, arr: np.ndarray) -> None:
        if arr.nbytes == 0:
            return
        arr = np.ascontiguousarray(arr)
        self._set_ctx()
        if arr.nbytes >= PINNED_MIN and self.staging.copy_in(handle.ptr, arr.reshape(-1).view(np.uint8),
                                                             self.stream, self.synchronize):
            return
        _check("cuMemcpyHtoDAsync", self.drv.cuMemcpyHtoDAsync(handle.ptr, arr.ctypes.data, arr.nbytes,
                                                               self.stream))
        # the host array may be freed as soon as we return
        self.synchronize()

    def copy_out(self, handle: CUDABuffer, size: int, dtype: dt.DType) -> np.ndarray:
        out = np.empty(size, dtype=dtype.np)
        if out.nbytes >= PINNED_MIN:
            self._set_ctx()
            if self.staging.copy_out(out.view(np.uint8), handle.ptr, self.stream, self.synchronize):
                return out
        if out.nbytes:
            self._set_ctx()
            if self.events.wait_for(handle.ptr):
                # its writer is done: copy now (the null stream does not wait for our
                # non-blocking stream), while later launches keep running
                _check("cuMemcpyDtoH", self.drv.cuMemcpyDtoH(out.ctypes.data, handle.ptr, out.nbytes))
                return out
            _check("cuMemcpyDtoHAsync", self.drv.cuMemcpyDtoHAsync(out.ctypes.data, handle.ptr, out.nbytes,
                                                                   self.stream))
            self.synchronize()
        return out

    def read(self, handle: CUDABuffer, start: int, count: int, dtype: dt.DType) -> np.ndarray:
        """Elements ``[start, start + count)`` of a buffer, copied to the host (after the
        kernel that wrote it)."""
        out = np.empty(count, dtype=dtype.np)
        if out.nbytes:
            self._set_ctx()
            if not self.events.wait_for(handle.ptr):
                self.synchronize()
            _check("cuMemcpyDtoH", self.drv.cuMemcpyDtoH(out.ctypes.data, handle.ptr + start * dtype.itemsize,
                                                          out.nbytes))
        return out

    def synchronize(self) -> None:
        self._set_ctx()
        _check("cuStreamSynchronize", self.drv.cuStreamSynchronize(self.stream))
        self.events.forget()  # everything issued has finished

    # ------------------------------------------------------------------ DLPack (zyx/_dlpack.py)
    def pointer(self, handle: CUDABuffer) -> int:
        return handle.ptr

    def stream_ptr(self) -> int:
        """zyx's stream as the integer a DLPack producer's ``stream=`` argument takes."""
        return int(self.stream)

    def share_memory(self, ptr: int, nbytes: int, owner, data: int | None = None) -> SharedCUDABuffer:
        """Wrap a producer's device memory from ``ptr`` (``owner`` keeps it alive).
        BufferError when ``data`` (the array's first element, default ``ptr``) is not device
        memory of this GPU."""
        self._set_ctx()
        attr = self.drv.CUpointer_attribute.CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL
        probe = ptr if data is None else data
        err, ordinal = self.drv.cuPointerGetAttribute(attr, probe)
        if int(err) != 0:
            raise BufferError(f"from_dlpack: address {probe:#x} is not CUDA memory zyx can read on cuda:{self.index} "
                              f"({getattr(err, 'name', err)})")
        if int(ordinal) != self.index:
            raise BufferError(f"from_dlpack: the capsule says cuda:{self.index}, but its memory belongs to "
                              f"cuda:{int(ordinal)}")
        return SharedCUDABuffer(ptr, nbytes, owner)

    def _release_shared(self, handle: SharedCUDABuffer) -> None:
        if handle.ptr:
            self.events.forget(handle.ptr)
            if self.events.writer:  # launches may still read it: finish them before the producer reuses it
                self.synchronize()
        handle.ptr, handle.owner = 0, None

    def copy_device(self, dst: CUDABuffer, src: CUDABuffer, nbytes: int) -> None:
        """Device-to-device copy on zyx's stream (recorded as the writer of ``dst``)."""
        if nbytes:
            self._set_ctx()
            _check("cuMemcpyDtoDAsync", self.drv.cuMemcpyDtoDAsync(dst.ptr, src.ptr, nbytes, self.stream))
            self.events.record(self.stream, [dst.ptr])

    def read_device(self, out: np.ndarray, ptr: int) -> None:
        """Copy ``out.nbytes`` bytes at device address ``ptr`` into ``out`` (ordered on zyx's stream)."""
        self._set_ctx()
        _check("cuMemcpyDtoHAsync", self.drv.cuMemcpyDtoHAsync(out.ctypes.data, ptr, out.nbytes, self.stream))
        self.synchronize()

    def _stream_of(self, stream):
        """The CUstream a DLPack ``stream`` value names (None and 1: the legacy default stream)."""
        return self.drv.CUstream(1 if stream is None else stream)

    def _wait(self, waiter, signaller) -> None:
        """Make stream ``waiter`` wait for the work issued so far on ``signaller``. A fresh
        event each time (destroying it is allowed while the wait is pending): these calls
        can nest through garbage collection, so they share no event and take no lock."""
        flags = self.drv.CUevent_flags.CU_EVENT_DISABLE_TIMING
        ev = _check("cuEventCreate", self.drv.cuEventCreate(flags))
        try:
            _check("cuEventRecord", self.drv.cuEventRecord(ev, signaller))
            _check("cuStreamWaitEvent", self.drv.cuStreamWaitEvent(waiter, ev, 0))
        finally:
            self.drv.cuEventDestroy(ev)

    def fence_for_consumer(self, stream) -> None:
        """Make the consumer's stream wait for everything issued on zyx's stream so far
        (DLPack export; ``stream=-1``: the consumer asked for no synchronization)."""
        if stream == -1:
            return
        self._set_ctx()
        self._wait(self._stream_of(stream), self.stream)

    def fence_after_consumer(self, stream) -> None:
        """The consumer released an exported buffer: order zyx's stream (which may reuse
        the memory) after the work the consumer issued on ``stream``. For the legacy
        default stream that is an event; another stream may no longer exist, so the
        context is synchronized instead."""
        self._set_ctx()
        if stream is None or stream == 1:
            self._wait(self.stream, self._stream_of(1))
        else:
            _check("cuCtxSynchronize", self.drv.cuCtxSynchronize())

    # ------------------------------------------------------------------ programs
    def render(self, kernel: Kernel) -> str:
        return self.renderer.render(kernel)

    def _program_key(self, source: str) -> str:
        return cache.key_of(source, nvrtc_version(), self.arch, self.cc, "cuda-v1")

    def compile(self, kernel: Kernel, source: str) -> CUDAProgram:
        key = self._program_key(source)
        prog = self._programs.get(key)
        if prog is not None:
            return prog
        suffix = ".cubin" if self.arch.startswith("sm_") else ".ptx"
        with self._lock:
            image = self._prebuilt.pop(key, None)
        if image is None:
            path = cache.read("cuda", key, suffix)
            image = path.read_bytes() if path is not None else None
        if image is None:
            self.compiles += 1
            image, log = nvrtc_compile(source, self.arch, kernel.name)
            if log.strip() and debug.level & 16:
                debug.log(f"nvrtc log for {kernel.name}:\n{log}")
            cache.write("cuda", key, suffix, image)
        self._set_ctx()
        if suffix == ".ptx" and not image.endswith(b"\0"):
            image += b"\0"
        module = _check("cuModuleLoadData", self.drv.cuModuleLoadData(image))
        func = _check("cuModuleGetFunction", self.drv.cuModuleGetFunction(module, kernel.name.encode()))
        grid, block = (1, 1) if kernel.generic else launch_config(kernel, self.target_cc)
        prog = CUDAProgram(module, func, kernel.name, grid, block, len(kernel.params), len(kernel.scalars),
                           tuple(i for i, p in enumerate(kernel.params) if p.output), kernel)
        return self._programs.put(key, prog)

    def compile_many(self, items: list[tuple[Kernel, str]]) -> list[CUDAProgram]:
        """Compile a schedule's kernels. The sources compiled neither in this process nor
        on disk go through NVRTC on a thread pool first - one NVRTC program each (NVRTC
        is thread-safe per program and the binding releases the GIL while it compiles),
        so a cold schedule costs about its slowest kernel, not the sum - then each loads
        as ``compile`` does."""
        suffix = ".cubin" if self.arch.startswith("sm_") else ".ptx"
        todo: dict[str, tuple[Kernel, str]] = {}
        for k, src in items:
            key = self._program_key(src)
            with self._lock:
                known = key in self._programs or key in self._prebuilt
            if not known and key not in todo and cache.read("cuda", key, suffix) is None:
                todo[key] = (k, src)
        if len(todo) > 1:
            workers = min(len(todo), COMPILE_THREADS)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zyx-nvrtc") as pool:
                jobs = {key: pool.submit(nvrtc_compile, src, self.arch, k.name) for key, (k, src) in todo.items()}
                for key, job in jobs.items():
                    image, log = job.result()  # a CompileError propagates, naming its kernel
                    self.compiles += 1
                    if log.strip() and debug.level & 16:
                        debug.log(f"nvrtc log for {todo[key][0].name}:\n{log}")
                    if cache.enabled():
                        cache.write("cuda", key, suffix, image)
                    with self._lock:
                        self._prebuilt[key] = image
        return [self.compile(k, src) for k, src in items]

    def launch(self, prog: CUDAProgram, buffers: list, scalars: list[int], args=()) -> None:
        grid, block = (prog.grid, prog.block) if prog.kernel is None else \
            launch_config(prog.kernel, self.target_cc, args)
        if grid == 0:
            return
        # one 8-byte slot per parameter (little endian: a uint32 sits in its first 4 bytes)
        slots = np.zeros(len(buffers) + len(scalars) + len(args), dtype=np.uint64)
        for i, b in enumerate(buffers):
            slots[i] = b.ptr
        for j, s in enumerate(scalars):
            slots[len(buffers) + j] = int(s) & 0xFFFFFFFF
        for j, a in enumerate(args):
            slots[len(buffers) + len(scalars) + j] = int(a) & 0xFFFFFFFFFFFFFFFF
        addrs = slots.ctypes.data + 8 * np.arange(len(slots), dtype=np.uint64)
        self._set_ctx()
        _check(f"cuLaunchKernel({prog.name})", self.drv.cuLaunchKernel(
            prog.func, grid, 1, 1, block, 1, 1, 0, self.stream, int(addrs.ctypes.data), 0))
        del slots, addrs
        self.events.record(self.stream, [buffers[i].ptr for i in prog.outputs])


_backends: dict[int, CUDABackend] = {}
_open_lock = threading.Lock()


def open_device(index: int) -> CUDABackend:
    with _open_lock:
        be = _backends.get(index)
        if be is None:
            be = _backends[index] = CUDABackend(index)
            if debug.level & 1:
                debug.log(f"cuda:{index}: {be.description}, driver {be.driver_version}, target {be.arch}")
        return be
