"""WGPU backend: WGSL compute shaders through wgpu-py (``pip install 'zyx[wgpu]'``).

* **Adapter**: ``ZYX_WGPU_ADAPTER`` picks one (an index into ``wgpu.gpu.
  enumerate_adapters_sync()``, or a case-insensitive substring of its device name,
  description, backend or adapter type, e.g. ``vulkan``, ``opengl``, ``nvidia``).
  Otherwise a discrete GPU is preferred, then an integrated one, then a Vulkan CPU
  adapter (Mesa's lavapipe), then anything else. One zyx device (``wgpu:0``) is exposed.
* **Dtypes**: float32, int32, uint32, bool and the packed 1/2-byte types (int8, uint8,
  int16, uint16, float16, bfloat16: see ``zyx/kernels/render_wgsl.py``) and complex64
  everywhere; int64/uint64 with the adapter's ``shader-int64``; float64 and complex128
  with ``shader-f64`` and ``shader-int64``. Anything else raises a TypeError naming
  the device.
* **Buffers**: STORAGE | COPY_SRC | COPY_DST, sizes rounded up to 4 bytes (at least 16).
  An allocation above the device's ``max_storage_buffer_binding_size`` raises
  MemoryError.
* **Programs**: one compute pipeline per distinct shader (cached in the process; WGSL is
  compiled by the driver, there is no binary to keep on disk).
* **Limits**: ``max_buffers`` reports ``max_storage_buffers_per_shader_stage`` (WebGPU's
  default is 8, lavapipe allows 32); the scheduler splits any kernel that would bind more
  storage buffers than that (output included) into several that fit, so every kernel
  zyx renders here fits the adapter.
* **Sync**: ``queue.on_submitted_work_done_sync()`` is broken in wgpu 0.32 (wgpu-py
  #834), so ``synchronize`` reads 4 bytes back, which waits for all submitted work.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading

import numpy as np

from .. import debug
from .. import dtypes as dt
from ..kernels.ir import Kernel
from ..kernels.render_wgsl import WGSLRenderer, launch_config
from .base import Backend, CompileError, ProgramCache, max_programs

_WANTED_FEATURES = ("shader-f64", "shader-int64")
_WANTED_LIMITS = ("max-storage-buffers-per-shader-stage", "max-storage-buffer-binding-size", "max-buffer-size",
                  "max-compute-workgroup-storage-size", "max-compute-invocations-per-workgroup",
                  "max-compute-workgroup-size-x")


def install_hint() -> str:
    return ("WGPU needs `pip install 'zyx[wgpu]'` and a GPU driver (Vulkan, Metal, D3D12 or OpenGL); "
            "on a Linux machine without a GPU, `apt-get install mesa-vulkan-drivers libvulkan1` provides "
            "a CPU Vulkan adapter (lavapipe).")


_adapters: list | None = None


def _enumerate() -> list:
    global _adapters
    if _adapters is None:
        import wgpu
        with _driver_stderr_captured():
            _adapters = list(wgpu.gpu.enumerate_adapters_sync())
    return _adapters


@contextlib.contextmanager
def _driver_stderr_captured():
    """Keep the drivers quiet while they are probed: enumerating adapters makes Mesa's
    Wayland/EGL probe write ``error: XDG_RUNTIME_DIR is invalid or not set`` to the C-level
    stderr (four times here) on any machine without a desktop session. fd 2 points at a
    temporary file meanwhile (anything else written to it in that window goes there too);
    what the drivers wrote is shown with ``ZYX_DEBUG=1`` and dropped otherwise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2: nothing to protect
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if debug.level & 1:
                tmp.seek(0)
                text = tmp.read().decode(errors="replace").strip()
                if text:
                    debug.log("wgpu adapter enumeration wrote to stderr:\n" + text)


def _rank(adapter) -> tuple:
    info = adapter.info
    kind = str(info.get("adapter_type", "")).lower()
    backend = str(info.get("backend_type", "")).lower()
    order = {"discretegpu": 0, "integratedgpu": 1, "cpu": 3}.get(kind.replace(" ", "").replace("_", ""), 2)
    return (order, 0 if backend in ("vulkan", "metal", "d3d12") else 1)


def choose_adapter():
    """The adapter zyx uses (see the module docstring); None when there is none."""
    adapters = _enumerate()
    if not adapters:
        return None
    want = os.environ.get("ZYX_WGPU_ADAPTER", "").strip()
    if want:
        if want.isdigit():
            i = int(want)
            if i >= len(adapters):
                raise ValueError(f"ZYX_WGPU_ADAPTER={want}: only {len(adapters)} adapter(s) found")
            return adapters[i]
        for a in adapters:
            info = a.info
            text = " ".join(str(info.get(f, "")) for f in ("device", "description", "backend_type",
                                                           "adapter_type", "vendor")).lower()
            if want.lower() in text:
                return a
        raise ValueError(f"ZYX_WGPU_ADAPTER={want!r} matches none of: "
                         + "; ".join(f"{a.info.get('device')} ({a.info.get('backend_type')})" for a in adapters))
    return min(adapters, key=_rank)


def device_count() -> int:
    """1 when wgpu-py is installed and finds an adapter, else 0 (never raises)."""
    try:
        return 1 if choose_adapter() is not None else 0
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return 0


class WGPUBuffer:
    __slots__ = ("buf", "nbytes", "__weakref__")

    def __init__(self, buf, nbytes: int):
        self.buf, self.nbytes = buf, nbytes


class WGPUProgram:
    __slots__ = ("pipeline", "layout", "name", "groups", "nparams", "nscalars", "kernel")

    def __init__(self, pipeline, layout, name: str, groups: tuple[int, int], nparams: int, nscalars: int,
                 kernel: Kernel):
        self.pipeline, self.layout, self.name = pipeline, layout, name
        self.groups, self.nparams, self.nscalars = groups, nparams, nscalars
        self.kernel = kernel if kernel.generic else None  # a generic kernel's grid comes from its arguments


class WGPUBackend(Backend):
    max_elements = 2 ** 31 - 1  # WGSL indexes with 32-bit integers

    def __init__(self):
        import wgpu
        self.wgpu = wgpu
        adapter = choose_adapter()
        if adapter is None:
            raise RuntimeError("no WGPU adapter found. " + install_hint())
        self.adapter = adapter
        feats = [f for f in _WANTED_FEATURES if f in adapter.features]
        limits = {k: adapter.limits[k] for k in _WANTED_LIMITS if k in adapter.limits}
        self.device = adapter.request_device_sync(required_features=feats, required_limits=limits)
        self.queue = self.device.queue
        lim = self.device.limits
        self.max_buffers = int(lim["max-storage-buffers-per-shader-stage"])
        self.max_binding = int(lim["max-storage-buffer-binding-size"])
        self.max_buffer = min(int(lim.get("max-buffer-size", self.max_binding)), self.max_binding)
        int64 = "shader-int64" in feats
        float64 = "shader-f64" in feats and int64
        self.renderer = WGSLRenderer(int64=int64, float64=float64)
        dts = {dt.bool_, dt.int8, dt.int16, dt.int32, dt.uint8, dt.uint16, dt.uint32, dt.float16, dt.bfloat16,
               dt.float32, dt.complex64}
        if int64:
            dts |= {dt.int64, dt.uint64}
        if float64:
            dts |= {dt.float64, dt.complex128}
        self.dtypes = frozenset(dts)
        info = adapter.info
        self.description = (f"{info.get('device', '?')} via {info.get('backend_type', '?')} "
                            f"({info.get('adapter_type', '?')}), WGSL")
        self.features = frozenset(feats)
        self._usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
        self._sync_buf = self.device.create_buffer(size=16, usage=self._usage)
        self._programs = ProgramCache(max_programs())  # by source: WGSL has no binary to keep on disk
        self._lock = threading.Lock()
        self.compiles = 0

    # ------------------------------------------------------------------ memory
    def alloc(self, size: int, dtype: dt.DType) -> WGPUBuffer:
        nbytes = max(16, (size * dtype.itemsize + 3) & ~3)
        if nbytes > self.max_buffer:
            raise MemoryError(f"wgpu: a buffer of {nbytes} bytes exceeds this device's limit of "
                              f"{self.max_buffer} bytes per storage buffer")
        try:
            buf = self.device.create_buffer(size=nbytes, usage=self._usage)
        except Exception as e:
            raise MemoryError(f"wgpu: could not allocate {nbytes} bytes: {e}") from e
        return WGPUBuffer(buf, nbytes)

    def free(self, handle: WGPUBuffer) -> None:
        if handle.buf is not None:
            handle.buf.destroy()
            handle.buf = None

    def max_alloc_bytes(self) -> int:
        return self.max_buffer

    def copy_in(self, handle: WGPUBuffer, arr: np.ndarray) -> None:
        data = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
        if data.size == 0:
            return
        if data.size % 4:
            data = np.concatenate([data, np.zeros(4 - data.size % 4, np.uint8)])
        self.queue.write_buffer(handle.buf, 0, data)

    def copy_out(self, handle: WGPUBuffer, size: int, dtype: dt.DType) -> np.ndarray:
        nbytes = size * dtype.itemsize
        if nbytes == 0:
            return np.empty(0, dtype=dtype.np)
        raw = self.queue.read_buffer(handle.buf, 0, (nbytes + 3) & ~3)
        return np.frombuffer(raw, dtype=np.uint8)[:nbytes].copy().view(dtype.np)

    def read(self, handle: WGPUBuffer, start: int, count: int, dtype: dt.DType) -> np.ndarray:
        """Elements ``[start, start + count)`` of a buffer, copied to the host (in whole
        4-byte words, as WebGPU requires)."""
        b0, b1 = start * dtype.itemsize, (start + count) * dtype.itemsize
        w0, w1 = b0 & ~3, min((b1 + 3) & ~3, handle.nbytes)
        if count == 0:
            return np.empty(0, dtype=dtype.np)
        raw = self.queue.read_buffer(handle.buf, w0, w1 - w0)
        return np.frombuffer(raw, dtype=np.uint8)[b0 - w0:b1 - w0].copy().view(dtype.np)

    def synchronize(self) -> None:
        self.queue.read_buffer(self._sync_buf, 0, 4)

    # ------------------------------------------------------------------ programs
    def render(self, kernel: Kernel) -> str:
        for p in kernel.params:
            if p.dtype not in self.dtypes:
                raise TypeError(f"device wgpu:0 ({self.description}) does not support dtype {p.dtype.name}")
        if len(kernel.params) > self.max_buffers:  # the scheduler splits kernels to fit: a bug if not
            # an explicit raise (not an assert statement: it holds under python -O too)
            raise AssertionError(
                f"internal error: kernel {kernel.name} binds {len(kernel.params)} storage buffers but this WGPU "
                f"device allows {self.max_buffers} per shader stage; the scheduler (zyx/kernels/schedule.py, "
                "_fit_buffer_limit) should have split it")
        return self.renderer.render(kernel)

    def compile(self, kernel: Kernel, source: str) -> WGPUProgram:
        with self._lock:
            prog = self._programs.get(source)
            if prog is not None:
                return prog
            self.compiles += 1
            wgpu = self.wgpu
            try:
                module = self.device.create_shader_module(code=source)
            except Exception as e:
                raise CompileError(f"wgpu rejected the WGSL of kernel {kernel.name}", source, str(e)) from e
            entries = []
            for i, p in enumerate(kernel.params):
                kind = wgpu.BufferBindingType.storage if p.output else wgpu.BufferBindingType.read_only_storage
                entries.append({"binding": i, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": {"type": kind}})
            if kernel.scalars or kernel.args:
                entries.append({"binding": len(kernel.params), "visibility": wgpu.ShaderStage.COMPUTE,
                                "buffer": {"type": wgpu.BufferBindingType.uniform}})
            layout = self.device.create_bind_group_layout(entries=entries)
            pipeline = self.device.create_compute_pipeline(
                layout=self.device.create_pipeline_layout(bind_group_layouts=[layout]),
                compute={"module": module, "entry_point": kernel.name})
            groups = None if kernel.generic else launch_config(kernel)[0]
            prog = WGPUProgram(pipeline, layout, kernel.name, groups, len(kernel.params),
                               len(kernel.scalars) + 2 * kernel.nargs, kernel)
            return self._programs.put(source, prog)

    def launch(self, prog: WGPUProgram, buffers: list, scalars: list[int], args=()) -> None:
        gx, gy = prog.groups if prog.kernel is None else launch_config(prog.kernel, args)[0]
        if gx == 0:
            return
        entries = [{"binding": i, "resource": {"buffer": b.buf, "offset": 0, "size": b.nbytes}}
                   for i, b in enumerate(buffers)]
        if prog.nscalars:
            words = [int(s) & 0xFFFFFFFF for s in scalars]
            for a in args:  # generic kernel arguments: int64 as (low, high) words
                a &= 0xFFFFFFFFFFFFFFFF
                words += [a & 0xFFFFFFFF, a >> 32]
            n = -(-len(words) // 4) * 4
            data = np.zeros(n, np.uint32)
            data[: len(words)] = words
            ubuf = self.device.create_buffer_with_data(data=data.tobytes(), usage=self.wgpu.BufferUsage.UNIFORM)
            entries.append({"binding": len(buffers), "resource": {"buffer": ubuf, "offset": 0, "size": data.nbytes}})
        bind = self.device.create_bind_group(layout=prog.layout, entries=entries)
        enc = self.device.create_command_encoder()
        cpass = enc.begin_compute_pass()
        cpass.set_pipeline(prog.pipeline)
        cpass.set_bind_group(0, bind)
        cpass.dispatch_workgroups(gx, gy, 1)
        cpass.end()
        self.queue.submit([enc.finish()])


_backend: WGPUBackend | None = None
_open_lock = threading.Lock()


def open_device(index: int) -> WGPUBackend:
    global _backend
    with _open_lock:
        if _backend is None:
            _backend = WGPUBackend()
            if debug.level & 1:
                debug.log(f"wgpu: {_backend.description}; features {sorted(_backend.features)}; "
                          f"max {_backend.max_buffers} storage buffers, {_backend.max_binding >> 20} MiB per binding")
        return _backend
