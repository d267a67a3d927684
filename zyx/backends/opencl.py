"""OpenCL backend: OpenCL C built by the platform's compiler through pyopencl.

Devices are numbered across all platforms in the order pyopencl lists them
(``opencl:0`` is the first device of the first platform). Each device gets its own
context and one in-order command queue: copies and launches are enqueued in order,
launches do not block, ``synchronize()`` waits for the queue.

Programs are cached in the process and on disk (``zyx.cache``, namespace ``opencl``):
the device's program binary, keyed by the source, build options, device, driver and
platform. A binary the driver refuses is rebuilt from source, never trusted.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import cache, debug
from .. import dtypes as dt
from ..kernels.ir import Kernel, size_fn
from ..kernels.opencl_preamble import opencl_preamble
from ..kernels.render_opencl import LaunchPlan, OpenCLRenderer, uses_complex, uses_fp64
from .base import Backend, BatchCompiler, CompileError, ProgramCache, max_programs, split_preamble

try:  # pyopencl is an optional dependency: pip install zyx[opencl]
    import pyopencl as cl
except Exception:  # noqa: BLE001 - a broken install must not break `import zyx`
    cl = None

__all__ = ["CompileError", "OpenCLBackend", "device_count", "install_hint", "open_device"]

_device_list: list | None = None
_backends: dict[int, "OpenCLBackend"] = {}
_lock = threading.Lock()


def _devices() -> list:
    """[(platform, device)] over every platform, in pyopencl's order."""
    global _device_list
    if _device_list is None:
        found = []
        if cl is not None:
            try:
                platforms = cl.get_platforms()
            except Exception:  # noqa: BLE001 - no ICD loader / no platform
                platforms = []
            for p in platforms:
                try:
                    found.extend((p, d) for d in p.get_devices())
                except Exception:  # noqa: BLE001 - a platform without devices raises
                    continue
        _device_list = found
    return _device_list


def device_count() -> int:
    """Number of OpenCL devices; 0 (never an exception) without pyopencl or a platform."""
    try:
        return len(_devices())
    except Exception:  # noqa: BLE001
        return 0


def install_hint() -> str:
    return ("OpenCL needs pyopencl and an OpenCL driver: `pip install zyx[opencl]`, and e.g. "
            "`apt-get install pocl-opencl-icd ocl-icd-libopencl1` for the CPU (or your GPU vendor's "
            "OpenCL driver).")


class OpenCLProgram:
    """The kernels of one compiled source and how to launch them."""

    __slots__ = ("kernels", "plan", "locals_", "scratch", "nbuf", "nscalar", "program", "works")

    def __init__(self, program, plan: LaunchPlan, kernels: list, locals_: list[int], nbuf: int, nscalar: int,
                 works: list):
        self.program, self.plan, self.kernels, self.locals_ = program, plan, kernels, locals_
        self.nbuf, self.nscalar = nbuf, nscalar
        self.works = works  # per stage: args -> work items (a generic kernel's sizes are arguments)
        self.scratch = None  # the partials buffer of a split reduction, made on first launch


class OpenCLBackend(BatchCompiler, Backend):
    """One OpenCL device: memory, programs and launches on an in-order queue."""

    narrow_index = True  # generic kernels index with 32 bits when every size is below 2^30
    special_sync_work = 1 << 26  # PoCL builds take 0.5-0.9 s
    special_async_work = 1 << 18
    merges_batches = False  # (a batch program is found by its batch's key only: see Backend)

    def __init__(self, platform, device):
        self.platform, self.device = platform, device
        self.context = cl.Context([device])
        self.queue = cl.CommandQueue(self.context, device)
        exts = set(device.extensions.split())
        self.fp64 = "cl_khr_fp64" in exts or bool(getattr(device, "double_fp_config", 0))
        self.int64 = device.profile != "EMBEDDED_PROFILE" or "cles_khr_int64" in exts
        lacking = set()
        if not self.fp64:
            lacking |= {dt.float64, dt.complex128}
        if not self.int64:
            lacking |= {dt.int64, dt.uint64}
        self.dtypes = frozenset(d for d in dt.ALL if d not in lacking)
        self.description = (f"OpenCL {device.name.strip()} ({platform.name.strip()}, "
                            f"{device.version.strip()}, driver {device.driver_version.strip()})")
        self.max_local = int(device.max_work_group_size)
        self.renderer = OpenCLRenderer(local_size=min(256, self.max_local),
                                       compute_units=int(device.max_compute_units),
                                       cpu=bool(device.type & cl.device_type.CPU))
        opts = []
        if int(device.single_fp_config) & int(cl.device_fp_config.CORRECTLY_ROUNDED_DIVIDE_SQRT):
            opts.append("-cl-fp32-correctly-rounded-divide-sqrt")
        self.options = opts
        self.device_id = "|".join(s.strip() for s in (device.name, device.vendor, device.version,
                                                      device.driver_version, platform.name, platform.version))
        self._mem = ProgramCache(max_programs())
        self._lock = threading.RLock()  # one build at a time (a batch holds it while it compiles one by one)
        self.compiles = 0  # programs built from source in this process (tests read it)

    # ------------------------------------------------------------------ memory
    def alloc(self, size: int, dtype: dt.DType):
        return cl.Buffer(self.context, cl.mem_flags.READ_WRITE, max(size, 1) * dtype.itemsize)

    def free(self, handle) -> None:
        handle.release()

    def max_alloc_bytes(self) -> int:
        return int(self.device.max_mem_alloc_size)

    def copy_in(self, handle, arr: np.ndarray) -> None:
        if arr.size:
            cl.enqueue_copy(self.queue, handle, np.ascontiguousarray(arr).view(np.uint8), is_blocking=True)

    def copy_out(self, handle, size: int, dtype: dt.DType) -> np.ndarray:
        out = np.empty(size, dtype=dtype.np)
        if size:
            cl.enqueue_copy(self.queue, out.view(np.uint8), handle, is_blocking=True)
        return out

    def read(self, handle, start: int, count: int, dtype: dt.DType) -> np.ndarray:
        """Elements ``[start, start + count)`` of a buffer, copied to the host."""
        out = np.empty(count, dtype=dtype.np)
        if count:
            cl.enqueue_copy(self.queue, out.view(np.uint8), handle, src_offset=start * dtype.itemsize,
                            is_blocking=True)
        return out

    def synchronize(self) -> None:
        self.queue.finish()

    # ------------------------------------------------------------------ programs
    def render(self, kernel: Kernel) -> str:
        return self.renderer.render(kernel)

    def _program_key(self, source: str) -> str:
        return cache.key_of(source, self.options, self.device_id)

    def _on_disk(self, key: str) -> bool:
        return cache.read("opencl", key, ".bin") is not None

    def compile(self, kernel: Kernel, source: str) -> OpenCLProgram:
        key = self._program_key(source)
        with self._lock:
            prog = self._mem.get(key)
            if prog is None:
                built = self._load_binary(key) or self._build(source, key)
                prog = self._mem.put(key, self._program(built, kernel))
            return prog

    def compile_many(self, items: list[tuple[Kernel, str]]) -> list[OpenCLProgram]:
        """Compile several kernels as one OpenCL program (one compiler run: PoCL spends
        most of a build on fixed costs); kernels already compiled are reused."""
        with self._lock:
            return super().compile_many(items)

    def _build_batch(self, batch_key: str, items: list[tuple[Kernel, str]], names: list[str]) -> list:
        built = self._load_binary(batch_key)
        if built is None:
            kernels = [k for k, _ in items]
            parts = [opencl_preamble(any(uses_complex(k) for k in kernels), any(uses_fp64(k) for k in kernels))]
            for (k, src), name in zip(items, names):
                parts.append(split_preamble(src)[1].replace(f"void {k.name}(", f"void {name}(")
                             .replace(f"void {k.name}_fin(", f"void {name}_fin("))
            built = self._build("\n".join(parts), batch_key)
        return [self._program(built, k, name) for (k, _), name in zip(items, names)]

    def _load_binary(self, key: str):
        path = cache.read("opencl", key, ".bin")
        if path is None:
            return None
        data = path.read_bytes()
        if not self._binary_ok(data):
            return None
        try:
            return cl.Program(self.context, [self.device], [data]).build(options=self.options)
        except Exception:  # noqa: BLE001 - a binary the driver rejects is rebuilt from source
            if debug.level & 1:
                debug.log(f"opencl: cached binary {path.name} was rejected; rebuilding")
            return None

    def _build(self, source: str, key: str):
        self.compiles += 1
        prg = cl.Program(self.context, source)
        try:
            prg.build(options=self.options, devices=[self.device])
        except cl.Error as e:
            log = _build_log(prg, self.device) or str(e)
            raise CompileError(f"OpenCL failed to build a generated kernel on {self.device.name.strip()}",
                               source, log, "") from None
        binaries = prg.get_info(cl.program_info.BINARIES)
        if binaries and binaries[0] and self._binary_ok(bytes(binaries[0])):
            cache.write("opencl", key, ".bin", bytes(binaries[0]))
        return prg

    def _binary_ok(self, data: bytes) -> bool:
        """Whether the driver can be trusted to load ``data``. PoCL occasionally hands out
        a binary without its program bitcode (seen with several processes sharing its
        kernel cache); loading one aborts the process inside PoCL, so such a binary is
        neither stored nor loaded (the program is built from source instead)."""
        if "Portable Computing Language" in self.platform.name:
            return data.startswith(b"poclbin") and b"program.bc" in data
        return True

    def _program(self, built, kernel: Kernel, name: str | None = None) -> OpenCLProgram:
        """Launch data for ``kernel`` in the built program (where it may be renamed ``name``)."""
        plan = self.renderer.plan(kernel)
        kernels, locals_ = [], []
        for st in plan.stages:
            kn = getattr(built, st.name if name is None else name + st.name[len(kernel.name):])
            limit = int(kn.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE, self.device))
            local = min(self.renderer.local_size, limit)
            if st.grouped:
                local = 1 << (local.bit_length() - 1)  # the tree reduction needs a power of two
            elif isinstance(st.work, int):
                local = max(1, min(local, st.work))
            kernels.append(kn)
            locals_.append(local)
        works = [size_fn(kernel, st.work) for st in plan.stages]
        return OpenCLProgram(built, plan, kernels, locals_, len(kernel.params), len(kernel.scalars), works)

    def launch(self, prog: OpenCLProgram, buffers: list, scalars: list[int], args=()) -> None:
        cargs = list(buffers)
        if prog.plan.partial_bytes:
            if prog.scratch is None:
                prog.scratch = cl.Buffer(self.context, cl.mem_flags.READ_WRITE, prog.plan.partial_bytes)
            cargs.append(prog.scratch)
        cargs += [np.uint32(s & 0xFFFFFFFF) for s in scalars]
        cargs += [np.int64(a) for a in args]
        for kn, st, local, work in zip(prog.kernels, prog.plan.stages, prog.locals_, prog.works):
            n = work(args)
            if n == 0:
                continue
            local = min(local, n) if not st.grouped else local
            glob = n * local if st.grouped else -(-n // local) * local
            kn.set_args(*cargs)
            cl.enqueue_nd_range_kernel(self.queue, kn, (glob,), (local,))


def _build_log(prg, device) -> str:
    try:
        return prg.get_build_info(device, cl.program_build_info.LOG)
    except Exception:  # noqa: BLE001
        return ""


def open_device(index: int) -> OpenCLBackend:
    with _lock:
        be = _backends.get(index)
        if be is None:
            devs = _devices()
            if not 0 <= index < len(devs):
                raise IndexError(f"no OpenCL device {index} ({len(devs)} found)")
            be = _backends[index] = OpenCLBackend(*devs[index])
            if debug.level & 1:
                debug.log(f"opencl:{index}: {be.description}; dtypes "
                          f"{', '.join(sorted(d.name for d in be.dtypes))}")
        return be
