"""What every backend provides, and what backends share.

A backend is a module ``zyx/backends/<name>.py`` (listed in ``zyx.device.BACKENDS``) with
three functions - ``device_count()`` (0, never an exception, when the driver or package is
missing), ``install_hint()`` (a sentence for the DeviceUnavailable message) and
``open_device(index)`` (the ``Backend`` for that device, one per index) - and a subclass of
``Backend`` below. A backend knows memory and programs only; nothing about graphs. Backends
never import each other: what two of them share lives here.

* ``Backend``: the required methods (abstract) and the optional capabilities as declared
  attributes with defaults, which ``zyx.realize`` and ``zyx.device`` read directly.
* ``BatchCompiler``: the one batch-compile algorithm (several kernels, one compiler run).
* ``ProgramCache``: the in-process program cache every backend keeps.
* ``CompileError``: raised by every backend whose compiler rejects a generated kernel.
"""
from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import cache
from .. import dtypes as dt

if TYPE_CHECKING:
    from ..kernels.ir import Kernel

# no device indexes more elements than a signed 64-bit integer counts
MAX_ELEMENTS = 2 ** 63 - 1

# every renderer ends its shared helpers with this line; the kernel function follows
PREAMBLE_END = "/* end of zyx preamble */"


class CompileError(RuntimeError):
    """A generated kernel failed to compile. ``source`` is what was compiled, ``log`` the
    compiler's output, ``path`` where the source was saved (empty when it was not)."""

    def __init__(self, msg: str, source: str = "", log: str = "", path: str = ""):
        text = f"{msg}\n--- compiler log ---\n{log}"
        if path:
            text += f"\n--- source saved at {path} ---"
        super().__init__(text)
        self.source, self.log, self.path = source, log, path


def split_preamble(src: str) -> tuple[str, str]:
    """(shared helpers up to and including ``PREAMBLE_END``, the kernel after it)."""
    cut = src.find(PREAMBLE_END)
    if cut < 0:
        raise ValueError("kernel source has no zyx preamble marker")
    cut += len(PREAMBLE_END)
    return src[:cut], src[cut:]


def max_programs() -> int:
    """``ZYX_MAX_PROGRAMS``: compiled programs a device keeps in its cache (default 1024), so
    a long-lived process compiling ever new kernels holds a bounded number of them (the
    schedule cache keeps the programs it uses alive on its own; the rest are released)."""
    import os
    raw = os.environ.get("ZYX_MAX_PROGRAMS", "1024").strip() or "1024"
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"ZYX_MAX_PROGRAMS must be a whole number of programs, not {raw!r}") from None
    if n < 1:
        raise ValueError(f"ZYX_MAX_PROGRAMS must be at least 1, not {n}")
    return n


class ProgramCache:
    """Compiled programs of one device by key (a hash of the source and the compiler's
    settings), safe across threads. The first program stored under a key wins. With a
    ``limit`` at most that many are kept, the least recently used dropped first (programs
    in use stay alive through their other references)."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self._d: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            prog = self._d.get(key)
            if prog is not None and self.limit is not None:
                self._d.move_to_end(key)
            return prog

    def put(self, key: str, prog):
        """Keep ``prog`` unless a program is stored under ``key`` already; returns the one kept."""
        with self._lock:
            old = self._d.get(key)
            if old is not None:
                return old
            self._d[key] = prog
            if self.limit is not None:
                while len(self._d) > self.limit:
                    self._d.popitem(last=False)
            return prog

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


class Backend(ABC):
    """One device's memory and programs. Subclass it, implement the abstract methods, and
    override the optional capabilities that differ from the defaults below.

    Required: ``description`` (one line, shown in messages), ``dtypes`` (a frozenset of
    the DTypes the device computes in; anything else raises TypeError naming it) and the
    abstract methods. A buffer *handle* is whatever ``alloc`` returns; a *program* whatever
    ``compile`` returns; zyx only passes them back."""

    description: str
    dtypes: frozenset
    compiles: int = 0  # programs built by a compiler in this process (tests read it)

    # ---------------------------------------------------------------- optional capabilities
    max_buffers: int | None = None
    """The most buffers one kernel may bind, output included (None: no limit). The
    scheduler splits kernels to fit (WGPU: storage buffers per shader stage)."""
    max_elements: int = MAX_ELEMENTS
    """The most elements one kernel may index (WGSL: 2^31 - 1)."""
    narrow_index: bool = False
    """Generic kernels index with 32 bits while every size is below 2^30 (GPUs)."""
    host_tier: bool = False
    """First-seen kernels of exact ops may run on NumPy while they compile (CPU: the
    device's memory is host memory); needs ``ready``."""
    special_sync_work: int = 1 << 25
    """A reduction kernel with this much work is specialised on its sizes at once."""
    special_async_work: int = 1 << 16
    """A kernel with this much work whose sizes come back is specialised in the background."""
    merges_batches: bool = True
    """Background batches queued while the compile worker is busy may be built together
    (``realize._build_queued``): a later process finds each kernel however it was batched
    (the CPU's ``.batch`` notes; single programs on CUDA). Not on OpenCL, whose batch
    program is stored under the batch's key alone: a warm process asks for other batches
    and built them all again (a warm LinearDiscriminantAnalysis fit 190 ms -> 1.1 s)."""
    quick_compile: bool = False
    """``quick_source`` gives a source that builds faster and computes the same bits (CPU:
    -O1 instead of -O3): a first-seen kernel that cannot run on the host tier is built that
    way, and rebuilt fully in the background when it comes back with enough work."""
    kernel_check: Callable[[Kernel], Any] | None = None
    """Called with every kernel before it is compiled here (``zyx.device`` sets the CUDA
    compile check on the cpu device: ``ZYX_CUDA_COMPILE_CHECK=1``)."""

    # ---------------------------------------------------------------- memory (required)
    @abstractmethod
    def alloc(self, size: int, dtype: dt.DType):
        """A handle on fresh memory for ``size`` elements of ``dtype`` (contents undefined).
        MemoryError when the device cannot hold it."""

    @abstractmethod
    def free(self, handle) -> None:
        """Give ``handle``'s memory back (called once, when its Buffer is collected)."""

    @abstractmethod
    def copy_in(self, handle, arr: np.ndarray) -> None:
        """Copy the flat, contiguous host array ``arr`` to the start of ``handle``; the
        host array may be reused as soon as this returns."""

    @abstractmethod
    def copy_out(self, handle, size: int, dtype: dt.DType) -> np.ndarray:
        """A fresh host array of the first ``size`` elements, after the kernels that write
        them have finished."""

    @abstractmethod
    def read(self, handle, start: int, count: int, dtype: dt.DType) -> np.ndarray:
        """Elements ``[start, start + count)`` on the host (host access to a view)."""

    @abstractmethod
    def synchronize(self) -> None:
        """Wait for all work issued so far."""

    # ---------------------------------------------------------------- programs (required)
    @abstractmethod
    def render(self, kernel: Kernel) -> str:
        """The kernel's source in this device's language (usually ``self.renderer.render``)."""

    @abstractmethod
    def compile(self, kernel: Kernel, source: str):
        """The program for ``source`` (from the program cache, the disk cache, or built);
        CompileError when the compiler rejects it."""

    @abstractmethod
    def launch(self, program, buffers: list, scalars: list[int], args=()) -> None:
        """Run ``program`` on ``buffers`` (the output first, then the inputs' handles), its
        32-bit ``scalars`` and - for a generic kernel - its int64 ``args`` (sizes, offsets,
        constants). May return before the work is done."""

    # ---------------------------------------------------------------- programs (optional)
    def compile_many(self, items: list[tuple[Kernel, str]]) -> list:
        """Programs for several (kernel, source) pairs of one schedule. Default: one by
        one; ``BatchCompiler`` builds them in one compiler run."""
        return [self.compile(k, s) for k, s in items]

    def ready(self, kernel: Kernel, source: str) -> bool:
        """Whether ``compile`` would return without running a compiler (host tier)."""
        return False

    def quick_source(self, source: str) -> str:
        """``source`` marked to be built quickly (``quick_compile``)."""
        return source

    def host_functions(self) -> dict | None:
        """The device's own math functions for the host tier (``host_eval.host_ok``), where
        it has one (the cpu device); None here."""
        return None

    def plan_identity(self) -> str:
        """What decides the kernels zyx lowers and renders for this device besides a graph's
        structure (the realizer keys its stored kernel plans by it): the backend, its device,
        its limits and its renderer's settings. Override it where rendering depends on more."""
        r = getattr(self, "renderer", None)
        transient = getattr(r, "per_kernel_attrs", ())  # (the last kernel rendered set them)
        attrs = sorted((k, v) for k, v in (vars(r).items() if r is not None else ())
                       if not k.startswith("_") and k not in transient
                       and isinstance(v, (bool, int, float, str, type(None))))
        # process-wide switches a renderer reads while rendering (CUDA's TF32 permission): a
        # plan or specialised version rendered under one setting must not serve the other
        settings = r.plan_settings() if r is not None and hasattr(r, "plan_settings") else ()
        return repr((type(self).__module__, type(self).__qualname__, self.description, self.max_buffers,
                     self.max_elements, self.narrow_index, self.host_tier, type(r).__qualname__, attrs,
                     settings))

    # ---------------------------------------------------------------- memory (optional)
    def max_alloc_bytes(self) -> int:
        """The most bytes one buffer may hold (``Device.check_size``)."""
        return MAX_ELEMENTS

    def cached_bytes(self) -> int:
        """Bytes of freed blocks a pool keeps for reuse (0: no pool)."""
        return 0

    def empty_cache(self) -> None:
        """Return the pool's freed blocks to the system (no pool: nothing to do)."""

    def view(self, handle, size: int) -> np.ndarray:
        """A zero-copy host view of a buffer's first ``size`` elements; only a backend whose
        memory is host memory (``host_tier``) has one."""
        raise TypeError(f"{self.description}: device memory has no zero-copy host view")


class BatchCompiler:
    """Mixin for a ``Backend`` whose compiler is best run once for many kernels (gcc,
    PoCL: most of a build is fixed cost). ``compile_many`` takes the kernels that are
    neither in the program cache ``self._mem`` (a ``ProgramCache``) nor on disk as a
    single program, renames each kernel ``<name>_b<j>``, and builds them together with
    ``_build_batch``; the rest go through ``compile``. The subclass provides:

    * ``_program_key(source)``: the cache key of one source (as ``compile`` uses it);
    * ``_on_disk(key)``: whether a single program for ``key`` is in the disk cache;
    * ``_build_batch(batch_key, items, names)``: one program per item, from one build of
      the items' sources with each kernel renamed to ``names[j]`` (``batch_key`` names
      the batch in the disk cache)."""

    _mem: ProgramCache
    compile: Callable[[Kernel, str], Any]  # the Backend's
    build_jobs: int = 1  # compiler runs one batch may be cut into (run at once on threads)

    def _program_key(self, source: str) -> str:
        raise NotImplementedError

    def _on_disk(self, key: str) -> bool:
        raise NotImplementedError

    def _build_batch(self, batch_key: str, items: list[tuple[Kernel, str]], names: list[str]) -> list:
        raise NotImplementedError

    def compile_many(self, items: list[tuple[Kernel, str]]) -> list:
        keys = [self._program_key(src) for _, src in items]
        first: dict[str, int] = {}  # one item per distinct source not compiled yet
        for i, key in enumerate(keys):
            if key not in first and key not in self._mem:
                first[key] = i
        # a kernel compiled on its own before (by another process) loads from its own file
        missing = [i for i in first.values() if not self._on_disk(keys[i])]
        progs: dict[str, Any] = {}
        if len(missing) > 1:
            names = {i: f"{items[i][0].name}_b{j}" for j, i in enumerate(missing)}
            # several compiler runs at once where the machine has the cores (gcc is a
            # subprocess): a batch of n kernels is cut into up to build_jobs even parts
            parts = min(self.build_jobs, len(missing) // 2) or 1
            groups = [missing[g::parts] for g in range(parts)]

            def build(group: list[int]) -> list:
                batch_key = cache.key_of("batch", *[keys[i] for i in group])
                return self._build_batch(batch_key, [items[i] for i in group], [names[i] for i in group])
            built = _run_parts(build, groups)
            for group, progs_of in zip(groups, built):
                for i, prog in zip(group, progs_of):
                    progs[keys[i]] = self._mem.put(keys[i], prog)
        return [progs.get(key) or self.compile(k, src) for key, (k, src) in zip(keys, items)]


_where = threading.local()


@contextlib.contextmanager
def in_background():
    """Builds started inside the block (on this thread, and on the threads ``_run_parts``
    starts for them) are background work: a backend runs their compiler at low priority,
    so they do not slow the program's own work - the host tier, or a compile it waits for
    (on 2 cores, a first-seen kernel's build took 117 ms beside two background gcc runs
    at the same priority, 70 ms alone)."""
    old = getattr(_where, "bg", False)
    _where.bg = True
    try:
        yield
    finally:
        _where.bg = old


def in_background_now() -> bool:
    """Whether this thread is building background work (see ``in_background``)."""
    return getattr(_where, "bg", False)


def _run_parts(fn, groups: list) -> list:
    """``[fn(g) for g in groups]``, the groups at once on plain threads (the first on this
    one). Not a ThreadPoolExecutor: a background compile still running when the program
    ends finishes during interpreter shutdown, where executors refuse new work - so the
    kernels of a short script's last schedule never reached the disk cache."""
    out: list = [None] * len(groups)
    errors: list = []
    bg = in_background_now()

    def run(j: int) -> None:
        _where.bg = bg
        try:
            out[j] = fn(groups[j])
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)
    threads = [threading.Thread(target=run, args=(j,), name="zyx-build") for j in range(1, len(groups))]
    for t in threads:
        t.start()
    run(0)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out
