"""Realization: schedule a graph, compile (or fetch from caches) and run its kernels.

The in-process schedule cache maps a graph's structure key to its compiled kernels, so
realizing a graph with the same structure again (a loop's next iteration, new data)
does no scheduling, lowering, rendering or compiling: it walks the graph once, binds
buffers and launches.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from . import _progress, debug
from .device import Buffer, Device
from .graph import Node
from .kernels import schedule as sched
from .kernels.ir import Kernel
from .kernels.lower import lower_kernel


_ALIAS = "alias"  # CompiledKernel.program of a reshape realized by sharing its source's buffer


@dataclass
class CompiledKernel:
    spec: sched.KernelSpec
    kernel: Kernel
    program: object
    source: str


class Stats:
    """Counters tests and benchmarks read: schedules built, kernels launched."""

    def __init__(self):
        self.schedules = 0
        self.launches = 0
        self.cache_hits = 0

    def reset(self):
        self.__init__()


stats = Stats()
_cache: dict[tuple, list[CompiledKernel]] = {}
_CACHE_LIMIT = 4096


def clear_cache() -> None:
    _cache.clear()


def realize_nodes(nodes: list[Node]) -> None:
    pending = [n for n in nodes if n.op != "BUFFER"]
    if not pending:
        return
    by_dev: dict[Device, list[Node]] = {}
    for n in pending:
        by_dev.setdefault(n.device, []).append(n)
    for dev, targets in by_dev.items():
        _realize_on(dev, list(dict.fromkeys(targets)))


def _realize_on(dev: Device, targets: list[Node]) -> None:
    order, key, pos = sched.walk(targets)
    full_key = (dev.type, dev.index, key)
    compiled = _cache.get(full_key)
    if compiled is None:
        with _progress.compiling(dev.name):  # a line on stderr when this takes > 2 s
            compiled = _compile(dev, order, pos, targets)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.pop(next(iter(_cache)))
        _cache[full_key] = compiled
    else:
        stats.cache_hits += 1
    backend = dev.backend
    steps = [(order[c.spec.out], [order[i] for i in c.spec.inputs], [order[i] for i in c.spec.rand], c)
             for c in compiled]
    del order, pos
    timing = debug.level & 2
    steps.reverse()
    while steps:  # popping drops this step's references: an intermediate dies after its last use
        out, inputs, rands, c = steps.pop()
        if c.program is _ALIAS:  # a reshape of a realized buffer is that buffer, reshaped
            out.become_buffer(inputs[0].buffer)
            continue
        buf = Buffer(dev, out.numel, out.dtype)
        if c.program is None:  # an empty tensor: nothing to compute
            out.become_buffer(buf)
            continue
        scalars = []
        for r in rands:
            scalars.extend(r.arg)
        if debug.level & 32:
            debug.log(f"launch {c.kernel.name} out={out.shape} {out.dtype.name} inputs="
                      f"{[(i.shape, i.dtype.name) for i in inputs]}")
        if timing:
            backend.synchronize()
            t0 = time.perf_counter()
        backend.launch(c.program, [buf.handle] + [i.buffer.handle for i in inputs], scalars)
        stats.launches += 1
        if timing:
            backend.synchronize()
            dt_ = time.perf_counter() - t0
            k = c.kernel
            debug.log(f"{k.name:<28} {dt_ * 1e6:9.1f} us  {k.mem_bytes / dt_ / 1e9:7.2f} GB/s  "
                      f"{k.flops / dt_ / 1e9:7.2f} GFLOP/s  [{dev.name}]")
        out.become_buffer(buf)


def _compile(dev: Device, order: list[Node], pos: dict, targets: list[Node]) -> list[CompiledKernel]:
    stats.schedules += 1
    # the backend's per-kernel buffer limit (e.g. WGPU's storage buffers per shader stage); the
    # cache key holds the device, so schedules cut for one device's limit are not reused on another
    specs = sched.plan(order, pos, targets, getattr(dev.backend, "max_buffers", None))
    out = []
    for i, spec in enumerate(specs):
        root = order[spec.out]
        if root.numel == 0:
            out.append(CompiledKernel(spec, None, None, ""))
            continue
        if root.op == "RESHAPE" and spec.inputs == [pos[id(root.srcs[0])]] and not spec.rand:
            # no copy: the output shares its source's buffer (tensors are values: no kernel
            # writes into an existing buffer)
            out.append(CompiledKernel(spec, None, _ALIAS, ""))
            continue
        inputs = [order[j] for j in spec.inputs]
        rands = [order[j] for j in spec.rand]
        kernel = lower_kernel(root, inputs, "kernel", rands)
        name = kernel.name = _kernel_name(root, kernel)
        if debug.level & 4:
            debug.log(f"schedule: kernel {i} {name}: {kernel.ops_summary or 'copy'} -> {root.shape} "
                      f"{root.dtype.name}, reads {len(inputs)} buffer(s)")
        if debug.level & 8:
            debug.log("IR:\n" + kernel.pretty())
        source = dev.backend.render(kernel)
        if debug.level & 16:
            debug.log(f"source ({dev.name}):\n{source if debug.level & 64 else _strip_preamble(source)}")
        out.append(CompiledKernel(spec, kernel, None, source))
    todo = [c for c in out if c.kernel is not None]
    t0 = time.perf_counter()
    many = getattr(dev.backend, "compile_many", None)
    if many is not None and len(todo) > 1:  # one compiler run for the whole schedule
        programs = many([(c.kernel, c.source) for c in todo])
    else:
        programs = [dev.backend.compile(c.kernel, c.source) for c in todo]
    for c, p in zip(todo, programs):
        c.program = p
    if debug.level & 2 and todo:
        debug.log(f"compiled {len(todo)} kernel(s) ({', '.join(c.kernel.name for c in todo)}) in "
                  f"{(time.perf_counter() - t0) * 1e3:.1f} ms")
    return out


def _strip_preamble(src: str) -> str:
    marker = "/* end of zyx preamble */"
    cut = src.find(marker)
    return src[cut + len(marker) + 1:] if cut >= 0 else src


def _kernel_name(root: Node, kernel: Kernel) -> str:
    """e_<shape> for elementwise kernels, r_<shape> for kernels with a reduction."""
    kind = "r" if "REDUCE" in kernel.ops_summary else "e"
    return f"{kind}_{'_'.join(str(s) for s in root.shape) or 'scalar'}"


def realize_all() -> None:
    """Realize every tensor user code still holds. Tensors are found through the garbage
    collector's list of live objects rather than registered at creation: registration
    cost every op a few microseconds, realize_all is rare. Only Tensors count (not graph
    nodes), so the graph between them still fuses."""
    import gc

    from .tensor import Tensor
    realize_nodes([o._node for o in gc.get_objects() if type(o) is Tensor and o._node.op != "BUFFER"])
