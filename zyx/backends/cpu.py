"""CPU backend: C source compiled by the system's C compiler, loaded with ctypes.

Memory is NumPy-owned host memory (so DLPack exports on the CPU can share it), recycled
by a caching allocator (``HostPool``). Kernels use OpenMP across the machine's cores. The
compiler is ``$CC`` if set, else the first of cc, gcc, clang on PATH. ``ZYX_CPU_SANITIZE=1`` builds kernels with
``-fsanitize=address,undefined`` (the process must preload the ASan runtime).
"""
from __future__ import annotations

import _ctypes
import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import cache, debug
from .. import dtypes as dt
from ..kernels.ir import Kernel
from ..kernels.render_c import C_PREAMBLE, CRenderer
from .base import (Backend, BatchCompiler, CompileError, ProgramCache, in_background, in_background_now, max_programs,
                   split_preamble)

__all__ = ["CPUBackend", "CompileError", "HostPool", "device_count", "install_hint", "open_device"]

# OpenMP worker threads sleep between kernels instead of spinning (set before libgomp
# loads with the first kernel; the environment can override it). Python runs between
# kernels: spinning workers took its core, and a training step of ~50 small kernels on a
# busy 2-core machine ran 5-14x slower (measured with examples/train_digits.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# ... after a short spin (libgomp: ~3000 pause loops, tens of microseconds), which catches the
# next kernel of a schedule - they launch back to back - without holding a core through the
# Python in between. Waking from sleep at every kernel cost a CNN training step ~0.8 ms
# (6.6 -> 5.8 ms); with two CPU hogs running the spin made no difference (measured).
os.environ.setdefault("GOMP_SPINCOUNT", "3000")
# register-tiled contractions keep a packed panel of up to 256 KiB on each worker's stack
# (zyx/kernels/tile_c.py); some platforms give secondary threads as little as 512 KiB
os.environ.setdefault("OMP_STACKSIZE", "8M")


def device_count() -> int:
    return 1


def install_hint() -> str:
    return ""


def _find_compiler() -> str:
    cc = os.environ.get("CC")
    if cc:
        if shutil.which(cc.split()[0]) is None:
            raise RuntimeError(f"CC={cc!r} is set but not found on PATH; set CC to an installed C compiler "
                               "(gcc or clang) or unset it")
        return cc
    for c in ("cc", "gcc", "clang"):
        if shutil.which(c):
            return c
    raise RuntimeError("zyx's CPU backend needs a C compiler and none was found (tried $CC, cc, gcc, clang). "
                       "Install one, e.g. `apt-get install gcc` or `xcode-select --install`.")


_NICE = shutil.which("nice")


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    if _NICE and in_background_now():  # a background build yields the cores to the program
        cmd = [_NICE, "-n", "10", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True)


def build_helper(cc: str, source: str, flags: list[str], namespace: str, key: str) -> tuple[Path, bool]:
    """A helper library of zyx's own (DLPack's callbacks, the C graph walk) built from
    ``source`` with ``flags`` into the disk cache: ``cache.write_loadable``'s (path,
    temporary). RuntimeError with the compiler's output where it does not build."""
    with tempfile.TemporaryDirectory(prefix=f"zyx-{namespace}-") as d:
        src, so = Path(d) / f"{namespace}.c", Path(d) / f"{namespace}.so"
        src.write_text(source)
        r = _run(cc.split() + [str(src), "-o", str(so)] + flags)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-2000:])
        return cache.write_loadable(namespace, key, ".so", so.read_bytes())


class CPUProgram:
    __slots__ = ("fn", "lib", "name", "generic", "arg_arrays", "__weakref__")

    def __init__(self, lib, name: str, kernel: Kernel):
        self.lib = lib
        self.fn = getattr(lib, name)
        self.fn.restype = None
        nbuf, generic, nscalar = kernel.signature()
        self.generic = generic  # takes the int64 argument array after the buffers
        self.fn.argtypes = [ctypes.c_void_p] * (nbuf + generic) + [ctypes.c_uint32] * nscalar
        self.name = name
        self.arg_arrays: dict = {}  # argument tuple -> (its int64 array, the array's address)


class HostPool:
    """A caching allocator for the CPU backend's buffers of ``MIN_BYTES`` or more.

    A training step frees and allocates the same buffer sizes every time. Left to malloc,
    each big buffer is a fresh mapping whose pages fault in on first write: a kernel
    writing a new 3 MiB output ran 2-3x slower than the same kernel writing into touched
    memory (a CNN step spent ~2.5 ms of its ~8.5 ms of kernels there). Freed buffers are
    kept here by size and handed to the next allocation of that size, still mapped and
    often still in cache.

    A buffer is only recycled when nothing else can see its memory: it must be one this
    pool allocated (a zero-copy wrap of a user's NumPy array never is), and no view of it
    may be alive (NumPy views and DLPack exports hold a reference to the owning array,
    which the reference count shows). At most
    ``limit`` bytes are kept (``ZYX_CPU_CACHE_MB``, default 1024; 0 turns it off);
    ``empty()`` drops them all."""

    MIN_BYTES = 1 << 17  # smaller blocks come from malloc's heap without page faults
    PAGE = 4096

    def __init__(self, limit: int):
        self.limit = limit
        self.cached = 0
        self._free: dict[int, list[np.ndarray]] = defaultdict(list)
        self._owned: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self.hits = 0  # allocations served from the cache (tests read it)

    def alloc(self, count: int, npdtype: np.dtype) -> np.ndarray:
        nbytes = count * npdtype.itemsize
        if nbytes < self.MIN_BYTES or self.limit <= 0:
            return np.empty(count, dtype=npdtype)
        nbytes = -(-nbytes // self.PAGE) * self.PAGE
        with self._lock:
            blocks = self._free.get(nbytes)
            raw = blocks.pop() if blocks else None
            if raw is not None:
                self.cached -= nbytes
                self.hits += 1
        if raw is None:
            raw = np.empty(nbytes, dtype=np.uint8)
            self._owned[id(raw)] = raw
        return raw[: count * npdtype.itemsize].view(npdtype)

    def release(self, handle: np.ndarray) -> None:
        raw = handle.base
        if raw is None or self._owned.get(id(raw)) is not raw:
            return
        # references to raw: handle.base, the local name, getrefcount's argument; to
        # handle: the Buffer's slot, release's and free's arguments, getrefcount's argument.
        # More means a view or an export still uses the memory: let it go with that.
        if sys.getrefcount(raw) > 3 or sys.getrefcount(handle) > 4:
            return
        with self._lock:
            if self.cached + raw.nbytes > self.limit:
                return
            self._free[raw.nbytes].append(raw)
            self.cached += raw.nbytes

    def empty(self) -> None:
        with self._lock:
            self._free.clear()
            self.cached = 0


# The first line of a source to be built at -O1 (``CPUBackend.quick_source``). The results
# are the same bits as at -O3: no fast-math, no FMA contraction (-ffp-contract=off), and every
# libm call goes through one libmvec variant whatever the vectorisation (_MVEC in render_c.py);
# reductions may sum in another order, as differently fused kernels already do (a reduction is
# stored once, never recomputed elsewhere). gcc builds it in about half the time.
QUICK_MARK = "/* zyx: quick build (-O1) */\n"


class CPUBackend(BatchCompiler, Backend):
    description = "C compiled by the system C compiler, OpenMP"
    host_tier = True  # first-seen kernels of exact ops may run on NumPy while they compile

    def __init__(self):
        self.cc = _find_compiler()
        self.sanitize = os.environ.get("ZYX_CPU_SANITIZE", "0") not in ("", "0")
        self.cpu_id = _cpu_id()
        self._set_toolchain(self._toolchain())
        self.renderer = CRenderer()
        self.dtypes = frozenset(dt.ALL)
        self.max_buffers = None  # a C function takes any number of pointers
        # at most ZYX_MAX_PROGRAMS programs; a library is unloaded once nothing uses its
        # programs any more (the schedule cache and running code hold their own
        # references), so a long-lived process does not run out of memory mappings
        self._mem = ProgramCache(max_programs())
        # digests of the sources' common beginnings (see _program_key), the longer first
        self._prefixes = [(p, hashlib.sha256(p.encode())) for p in (QUICK_MARK + C_PREAMBLE, C_PREAMBLE)]
        self._found: dict = {}  # (cache dir, program key) -> where it is on disk (see _locate)
        self._keys: dict = {}  # source -> its program key, the last few (see _program_key)
        self.compiles = 0  # programs built by the compiler in this process (tests read it)
        self._compiles_lock = threading.Lock()
        # a batch of new kernels is built by up to this many gcc runs at once (ZYX_COMPILE_JOBS)
        self.build_jobs = _compile_jobs()
        self.pool = HostPool(_cache_limit())
        self._host_fns: dict | bool | str | None = None  # see host_functions ("building": in a thread)
        self._host_fns_lock = threading.Lock()
        _backends.add(self)

    # The compiler's version line and the flags it accepts cost four compiler runs (~90 ms,
    # every process's first kernel or array waited for them); they are kept in the disk cache
    # under the compiler's identity - the binary's path, size and time, the libmvec found -
    # and probed again if a build with remembered flags fails.
    def _toolchain(self, fresh: bool = False) -> tuple[str, list[str], bool]:
        """(version line, flags, whether they came from the disk cache)."""
        key = _toolchain_key(self.cc, self.sanitize, self.cpu_id)
        if not fresh and key is not None:
            data = cache.read_bytes("cpu", key, ".toolchain")
            if data is not None:
                try:
                    got = json.loads(data)
                    return str(got["version"]), [str(f) for f in got["flags"]], True
                except (OSError, ValueError, KeyError, TypeError):
                    pass
        ver = _run(self.cc.split() + ["--version"]).stdout.splitlines()
        version, flags = (ver[0] if ver else self.cc), self._flags()
        if key is not None:
            try:
                cache.write("cpu", key, ".toolchain", json.dumps({"version": version, "flags": flags}).encode())
            except OSError:
                pass
        return version, flags, False

    def _set_toolchain(self, toolchain: tuple[str, list[str], bool]) -> None:
        version, flags, self._remembered = toolchain
        width = _vector_width()  # (ZYX_CPU_VECTOR_WIDTH overrides the probe's choice)
        wide = WIDE in flags if width is None else width == 512 and "-march=native" in flags
        flags = [f for f in flags if f != WIDE]
        if wide:
            flags.insert(flags.index("-march=native") + 1, WIDE)
        self.cc_version, self.flags = version, flags
        self.quick_flags = ["-O1" if f == "-O3" else f for f in self.flags]
        self.quick_compile = self.quick_flags != self.flags  # (sanitizer builds are -O1 already)

    def _flags(self) -> list[str]:
        # -ffp-contract=off: a value recomputed in two kernels must round identically
        # (gnu11 lets gcc fuse a*b+c into an fma in one kernel and not in another, which
        # broke the x == max(x) test of max-reduction gradients, e.g. max-pool after BN)
        flags = ["-O3", "-fPIC", "-shared", "-fwrapv", "-fno-math-errno", "-std=gnu11", "-ffp-contract=off"]
        probe = self._probe(["-march=native"])
        if probe:
            flags.append("-march=native")
            if _wide_vectors(self.cc):
                flags.append(WIDE)
        if self._probe(["-fopenmp"]):
            flags.append("-fopenmp")
        if self._probe(["-lmvec"], define="ZYX_MVEC") and not self.sanitize:
            flags += ["-DZYX_MVEC", "-lmvec"]
        if self.sanitize:
            flags = [f for f in flags if f != "-O3"] + ["-O1", "-g", "-fsanitize=address,undefined",
                                                         "-fno-sanitize-recover=undefined",
                                                         "-fno-omit-frame-pointer"]
        flags.append("-lm")
        return flags

    def _probe(self, extra: list[str], define: str = "") -> bool:
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "p.c"
            src.write_text("int zyx_probe(void) { return 1; }\n")
            r = _run(self.cc.split() + ["-shared", "-fPIC", *extra, str(src), "-o", str(Path(d) / "p.so")])
            return r.returncode == 0

    # ------------------------------------------------------------------ memory
    def alloc(self, size: int, dtype: dt.DType):
        npd = dtype.np  # (a NumPy dtype instance)
        if size * npd.itemsize < HostPool.MIN_BYTES:  # small: straight from malloc (the pool's rule, inlined)
            return np.empty(size if size > 0 else 1, npd)
        return self.pool.alloc(size, npd)

    def free(self, handle) -> None:
        self.pool.release(handle)  # NumPy owns the memory; the pool may keep it for reuse

    def empty_cache(self) -> None:
        """Return the cached free buffers to the system."""
        self.pool.empty()

    def cached_bytes(self) -> int:
        """Bytes of freed buffers the pool keeps for reuse (Device.memory_stats)."""
        return self.pool.cached

    def copy_in(self, handle: np.ndarray, arr: np.ndarray) -> None:
        if arr.size:
            handle[: arr.size] = arr.view(handle.dtype) if arr.dtype != handle.dtype else arr

    def copy_out(self, handle: np.ndarray, size: int, dtype: dt.DType) -> np.ndarray:
        return handle[:size].copy()

    def read(self, handle: np.ndarray, start: int, count: int, dtype: dt.DType) -> np.ndarray:
        """Elements ``[start, start + count)`` of a buffer (here: a view of it)."""
        if handle.dtype == dtype.np:
            return handle[start:start + count]
        isz = dtype.itemsize  # a handle wrapping borrowed memory may be untyped bytes
        return handle.view(np.uint8)[start * isz:(start + count) * isz].view(dtype.np)

    def view(self, handle: np.ndarray, size: int) -> np.ndarray:
        """Zero-copy host view of a buffer (CPU only)."""
        return handle[:size]

    def pointer(self, handle: np.ndarray) -> int:
        """A buffer's address (through ctypes' buffer protocol: ~0.25 us, NumPy's
        ``.ctypes.data`` ~1 us; ``launch`` inlines the same for its buffers)."""
        try:
            return _addressof(_char_at(handle))
        except (TypeError, ValueError):  # read-only or empty
            return handle.ctypes.data

    def synchronize(self) -> None:
        pass

    # ------------------------------------------------------------------ programs
    def render(self, kernel: Kernel) -> str:
        return self.renderer.render(kernel)

    def max_alloc_bytes(self) -> int:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    def _program_key(self, source: str) -> str:
        """``cache.key_of(source, compiler, flags, cpu)``, the ~24 KB preamble's share of the
        digest computed once: a warm process meets each kernel's source as a new string (a
        plan's kernel is its preamble and body joined), and hashing it whole - for a dict
        lookup, then the digest - was ~60 us a kernel (~7 ms of a warm GaussianMixture fit).
        The last few keys are remembered: a plan's kernels are asked for in turn by ``ready``
        (twice) and ``compile`` (a warm PCA fit digested 13 sources 52 times)."""
        key = self._keys.get(source)
        if key is not None:
            return key
        key = self._digest(source)
        if len(self._keys) >= 64:  # (sources are ~25 KB: only the last few)
            self._keys.clear()
        self._keys[source] = key
        return key

    def _digest(self, source: str) -> str:
        flags = self.quick_flags if source.startswith(QUICK_MARK) else self.flags
        for pre, base in self._prefixes:
            if source.startswith(pre):
                h = base.copy()
                h.update(source[len(pre):].encode())
                break
        else:
            h = hashlib.sha256(source.encode())
        for part in ("", self.cc_version, flags, self.cpu_id):  # ("": the source's separator)
            h.update(str(part).encode())
            h.update(b"\0")
        return h.hexdigest()[:40]

    def _on_disk(self, key: str) -> bool:
        return self._locate(key) is not None

    def _locate(self, key: str) -> tuple[Path, str | None] | None:
        """(shared object, function name - None: the kernel's own name) of the program whose
        key is ``key`` on disk, remembered for this process: ``ready`` and ``compile`` ask
        for the same kernels in turn (a warm fit read each kernel's entries ~5 times)."""
        memo = (cache.cache_dir_str(), key)
        hit = self._found.get(memo)
        if hit is None:
            path = cache.read("cpu", key, ".so")
            hit = (path, None) if path is not None else self._in_batch(key)
            if hit is not None:
                if len(self._found) > 4096:
                    self._found.clear()
                self._found[memo] = hit
        return hit

    def _in_batch(self, key: str) -> tuple[Path, str] | None:
        """(shared object, function name) of the kernel whose program key is ``key`` where
        it was built in a batch (a ``.batch`` note beside the single-kernel entries): another
        process loads it from the batch's file instead of compiling it alone. A note is read
        in one open, not verified by its digest (two more file reads, ~60 us of each kernel a
        warm process loads): it is written atomically, and one whose text is not a batch key
        and a function name - or names a batch not on disk, or a function not in it - is
        not used (the kernel is built alone)."""
        if not cache.enabled():
            return None
        try:
            with open(cache.entry_str("cpu", key, ".batch"), "rb") as f:
                text = f.read(256)
        except OSError:
            return None
        m = _NOTE.fullmatch(text)
        if m is None:
            return None
        path = cache.read("cpu", m[1].decode(), ".so")
        return (path, m[2].decode()) if path is not None else None

    def quick_source(self, source: str) -> str:
        return source if source.startswith(QUICK_MARK) else QUICK_MARK + source

    def ready(self, kernel: Kernel, source: str) -> bool:
        """Whether ``source`` is compiled already, in this process or on disk (loading it
        then costs a millisecond, not a compiler run)."""
        key = self._program_key(source)
        return self._mem.get(key) is not None or self._on_disk(key)

    def compile(self, kernel: Kernel, source: str) -> CPUProgram:
        key = self._program_key(source)
        prog = self._mem.get(key)
        if prog is not None:
            return prog
        if self.kernel_check is not None:
            self.kernel_check(kernel)
        found = self._locate(key)
        if found is not None and str(found[0]) not in _loaded and cache.read("cpu", found[0].stem, ".so") is None:
            found = None  # (damaged or gone since it was found: its entry is checked again before it loads)
        lib = _load(found[0]) if found is not None else None
        if lib is not None:
            try:
                return self._mem.put(key, CPUProgram(lib, found[1] or kernel.name, kernel))
            except AttributeError:  # not the function named: build it alone
                pass
        self._found.pop((cache.cache_dir_str(), key), None)  # (if it was found: not loadable)
        # built outside any lock: a background compile must not hold up the next realize
        lib = self._library(key, lambda: source)
        return self._mem.put(key, CPUProgram(lib, kernel.name, kernel))

    def _build_batch(self, batch_key: str, items: list[tuple[Kernel, str]], names: list[str]) -> list[CPUProgram]:
        """One shared object for all ``items`` (the preamble once, then each kernel renamed)."""
        if self.kernel_check is not None:
            for k, _ in items:
                self.kernel_check(k)

        def batch_source() -> str:
            parts = [split_preamble(items[0][1])[0]]
            for (k, src), name in zip(items, names):
                parts.append(split_preamble(src)[1].replace(f"void {k.name}(", f"void {name}(", 1))
            return "\n".join(parts)
        lib = self._library(batch_key, batch_source)
        progs = [CPUProgram(lib, name, k) for (k, _), name in zip(items, names)]
        if cache.enabled():  # where each kernel lives, for other processes (``_in_batch``)
            for (_, src), name in zip(items, names):
                cache.write("cpu", self._program_key(src), ".batch", f"{batch_key} {name}".encode())
        return progs

    def _library(self, key: str, make_source, counted: bool = True) -> Library:
        """The shared object for ``key``: a verified disk-cache entry if it loads, else
        built from ``make_source()``. It is unloaded when the last reference goes."""
        lib = _cached_library(key)
        if lib is None:
            lib = cache.open_loadable(self._build(make_source(), key, counted), Library)
            weakref.finalize(lib, _dlclose, lib._handle)
            _pin_openmp()
        return lib

    def _build(self, source: str, key: str, counted: bool = True) -> tuple[Path, bool]:
        """The shared object built from ``source``: (its path, whether that is a temporary
        file for the caller to remove once loaded - see ``cache.write_loadable``)."""
        if counted:  # (not the host tier's library: tests count the kernels' builds)
            with self._compiles_lock:
                self.compiles += 1
        with tempfile.TemporaryDirectory(prefix="zyx-cc-") as d:
            src = Path(d) / "kernel.c"
            src.write_text(source)
            so = Path(d) / "kernel.so"
            flags = self.quick_flags if source.startswith(QUICK_MARK) else self.flags
            r = _run(self.cc.split() + [str(src), "-o", str(so)] + flags)
            if r.returncode != 0 and self._remembered:  # the toolchain may have changed: probe it again
                self._set_toolchain(self._toolchain(fresh=True))
                flags = self.quick_flags if source.startswith(QUICK_MARK) else self.flags
                r = _run(self.cc.split() + [str(src), "-o", str(so)] + flags)
            if r.returncode != 0:
                keep = Path(tempfile.gettempdir()) / f"zyx-failed-{key}.c"
                keep.write_text(source)
                shown = source[len(QUICK_MARK):] if source.startswith(QUICK_MARK) else source  # (the kernel's own text)
                raise CompileError(f"{self.cc} failed to compile a generated kernel", shown, r.stderr, str(keep))
            data = so.read_bytes()
        return cache.write_loadable("cpu", key, ".so", data)

    # ------------------------------------------------------------------ host functions
    # The host tier (kernels/host_eval.py) runs a first-seen kernel with NumPy while it
    # compiles, where NumPy gives the kernel's bits. NumPy's exp, log, tanh, ... are not the
    # kernels' (libmvec through zyx_expf, glibc's scalar tanf, ...): a kernel calling one was
    # always compiled first, so a first call waited for gcc. This library holds the kernels'
    # own spelling of every transcendental op, one loop per op and float type, built once per
    # compiler and flags (the disk cache holds it) with the kernels' preamble and flags: its
    # results are the kernels' bits, and the host tier calls it.
    def host_functions(self) -> "_HostFunctions | None":
        """``{(op, "float32" | "float64"): f(a, [b,] out, n)}`` computing the transcendental
        ops with this device's kernels' bits (contiguous arrays, by address); None while the
        library builds (in the background, the first time on this machine), without the
        disk cache (each process would build it) or where it failed to build. Once
        available it stays so for the life of the process."""
        fns = self._host_fns
        if fns is None:
            with self._host_fns_lock:
                if self._host_fns is None:
                    self._host_fns = self._load_host_functions()
            fns = self._host_fns
        return fns if isinstance(fns, _HostFunctions) else None

    def _load_host_functions(self):
        """The library's functions when on disk (a millisecond); else False, having started
        its build in the background (or for good, where it cannot be built here)."""
        if not cache.enabled() or self.sanitize:
            return False
        source, names = self.renderer.host_functions_source()
        key = self._program_key(source)
        lib = _cached_library(key)
        if lib is not None:
            return _HostFunctions(lib, names)

        def build() -> None:
            try:
                with in_background():
                    lib = self._library(key, lambda: source, counted=False)
                fns = _HostFunctions(lib, names)
            except Exception as e:  # noqa: BLE001 - the host tier keeps to the exact ops
                if debug.level & 2:
                    debug.log(f"cpu: the host tier's math library did not build ({type(e).__name__}: {e})")
                fns = False
            self._host_fns = fns
        # (not a daemon: a short first script still leaves the library for the next process)
        threading.Thread(target=build, name="zyx-host-functions").start()
        return "building"

    def launch(self, prog: CPUProgram, buffers: list, scalars: list[int], args=()) -> None:
        # a buffer's data address through ctypes' buffer protocol: ~0.25 us, where NumPy's
        # ``.ctypes.data`` costs ~1 us (a small kernel's whole launch is a few); read-only or
        # strided arrays (a wrapped user array may be one) take NumPy's way
        try:
            ptrs = [_addressof(_char_at(b)) for b in buffers]
        except (TypeError, ValueError):
            ptrs = [b.ctypes.data for b in buffers]
        if prog.generic:
            # the int64 argument array, kept per argument tuple: a loop launches the same
            # sizes and scalars again and again
            hit = prog.arg_arrays.get(args)
            if hit is None:
                arr = (ctypes.c_int64 * max(1, len(args)))(*args)
                if len(prog.arg_arrays) >= 16:
                    prog.arg_arrays.clear()
                hit = prog.arg_arrays[args] = (arr, ctypes.addressof(arr))
            prog.fn(*ptrs, hit[1], *scalars)
        else:
            prog.fn(*ptrs, *scalars)


class _HostFunctions:
    """The host functions library's loops by (op, float dtype name), each bound on its first
    use (binding all 48 was ~1 ms of the first host-tier launch of a warm process)."""

    def __init__(self, lib: Library, names: dict) -> None:
        self._lib, self._names, self._bound = lib, names, {}

    def __contains__(self, key) -> bool:
        return key in self._names

    def get(self, key, default=None):
        f = self._bound.get(key)
        if f is None:
            spec = self._names.get(key)
            if spec is None:
                return default
            name, operands = spec
            f = getattr(self._lib, name)
            f.restype = None
            f.argtypes = [ctypes.c_void_p] * (operands + 1) + [ctypes.c_int64]
            self._bound[key] = f
        return f


_NOTE = re.compile(rb"([0-9a-f]{40}) ([A-Za-z_][A-Za-z0-9_]*)")  # a .batch note: batch key, function name

_backends: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child has no build thread: a host-functions build the parent had running is
    started anew by the child when it needs the functions."""
    for b in list(_backends):
        b._host_fns_lock = threading.Lock()
        if b._host_fns == "building":
            b._host_fns = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_addressof, _char_at = ctypes.addressof, ctypes.c_char.from_buffer


class Library:
    """A loaded kernel library: its ``dlopen`` handle, and its functions by name as ctypes
    function pointers (``lib.name``; restype None until the caller sets argtypes). What
    ``ctypes.CDLL`` gives, less the class ``CDLL`` defines for each library it opens (~55 us:
    a warm process opens 10-30 of them). A function keeps its library alive."""
    __slots__ = ("_handle", "_name", "__weakref__")

    def __init__(self, path: str) -> None:
        self._name = path
        self._handle = _dlopen(path, ctypes.DEFAULT_MODE)  # (OSError where it does not load)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Function((name, self))  # (AttributeError where it has no such function)


_Function = ctypes.CFUNCTYPE(None)
_dlopen = _ctypes.dlopen


_loaded: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # path -> its library, while used


def _load(path: Path) -> Library | None:
    """The library at ``path`` (unloaded when its last reference goes), or None when it
    does not load. A library already loaded is shared (a batch holds many kernels: a warm
    process would otherwise open it once per kernel)."""
    key = str(path)
    lib = _loaded.get(key)
    if lib is not None:
        return lib
    try:
        lib = Library(key)
    except OSError:
        return None
    weakref.finalize(lib, _dlclose, lib._handle)
    _loaded[key] = lib
    _pin_openmp()
    return lib


def _cached_library(key: str) -> Library | None:
    """The verified disk-cache entry ``<key>.so``, loaded; None when missing or not loadable."""
    path = cache.read("cpu", key, ".so")
    return _load(path) if path is not None else None


_omp_runtime: list = []  # the OpenMP runtime the kernels linked, held open for good
_omp_looked = False  # looked for once: after the first kernel library loads


def _pin_openmp() -> None:
    """Keep the OpenMP runtime (libgomp, or clang's libomp) loaded for the life of the
    process once a kernel library has brought it in. Kernel libraries are unloaded when their
    programs go (and all of them at exit); the last one unloading took libgomp with it while
    its worker threads still ran or slept in its code - a segfault at interpreter exit in
    about half of the runs of a script whose last kernels were parallel."""
    global _omp_looked
    if _omp_looked:
        return
    _omp_looked = True
    # by soname, only if already loaded (RTLD_NOLOAD): ~30 us, where reading and scanning
    # /proc/self/maps took ~5 ms with scikit-learn's libraries mapped (a warm fit's first kernel)
    noload = getattr(os, "RTLD_NOLOAD", 4)
    for name in _OMP_SONAMES:
        try:
            _omp_runtime.append(ctypes.CDLL(name, mode=noload))
        except OSError:
            continue
        return
    try:  # another runtime's name: look for it among the mapped files
        with open("/proc/self/maps") as f:
            lines = [line for line in f if "omp" in line]
    except OSError:
        return
    for path in sorted(set(re.findall(r"(/\S*/lib(?:gomp|omp|iomp5)[^/\s]*\.so[^/\s]*)$", "".join(lines), re.M))):
        try:
            _omp_runtime.append(ctypes.CDLL(path))
        except OSError:
            pass


_OMP_SONAMES = ("libgomp.so.1", "libomp.so.5", "libomp.so", "libiomp5.so")


def _dlclose(handle: int) -> None:
    """Unload a kernel library (every program of it is gone)."""
    try:
        import _ctypes
        _ctypes.dlclose(handle)
    except Exception:  # noqa: BLE001 - at interpreter exit, or a platform without dlclose
        pass


def _compile_jobs() -> int:
    """``ZYX_COMPILE_JOBS``: compiler runs one batch may use at once (default: the cores this
    process may run on, at most 8)."""
    raw = os.environ.get("ZYX_COMPILE_JOBS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ValueError(f"ZYX_COMPILE_JOBS must be a whole number of compiler runs, not {raw!r}") from None
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _cache_limit() -> int:
    """``ZYX_CPU_CACHE_MB`` in bytes (default 1024 MiB; 0 or less turns the cache off)."""
    raw = os.environ.get("ZYX_CPU_CACHE_MB", "1024").strip() or "0"
    try:
        return int(float(raw) * (1 << 20))
    except ValueError:
        raise ValueError(f"ZYX_CPU_CACHE_MB must be a number of MiB (0 turns the buffer cache off), "
                         f"not {raw!r}") from None


# Where -march=native has AVX-512F and is not one of the parts whose heavy 512-bit code costs
# the clock most, kernel versions specialised for big work that call a math function are built
# for 512-bit vectors (``-DZYX_WIDE``: see render_c._WIDE; gcc keeps 256 on every AVX-512 part
# unless told). ZYX_CPU_VECTOR_WIDTH=256 keeps them at 256 too (512 asks for it wherever
# -march=native holds).
WIDE = "-DZYX_WIDE"
_THROTTLING = ("skylake-avx512", "cascadelake", "cooperlake", "knl", "knm")


def _wide_vectors(cc: str) -> bool:
    """Whether -march=native on this machine has AVX-512F and is not in _THROTTLING (asked
    of the compiler: gcc's -Q --help=target; a compiler that does not answer gets no change)."""
    r = _run(cc.split() + ["-march=native", "-Q", "--help=target"])
    if r.returncode != 0:
        return False
    arch = re.search(r"^\s*-march=\s+(\S+)", r.stdout, re.M)
    avx512 = re.search(r"^\s*-mavx512f\s+\[enabled\]", r.stdout, re.M)
    return bool(arch and avx512 and arch[1] not in _THROTTLING)


def _vector_width() -> int | None:
    """``ZYX_CPU_VECTOR_WIDTH``: 256 or 512, None (unset: the probe decides)."""
    raw = os.environ.get("ZYX_CPU_VECTOR_WIDTH", "").strip()
    if not raw:
        return None
    if raw not in ("256", "512"):
        raise ValueError(f"ZYX_CPU_VECTOR_WIDTH must be 256 or 512 (bits of the vectors kernels are built for), "
                         f"not {raw!r}; unset it to let zyx choose")
    return int(raw)


def _toolchain_key(cc: str, sanitize: bool, cpu_id: str) -> str | None:
    """The disk-cache key of a compiler's probed flags: what the probes' answers depend on
    (and the probes' own version: a probe added makes earlier answers stale)."""
    if not cache.enabled():
        return None
    parts = ["probes 3", cc, sanitize, cpu_id, os.environ.get("PATH", "")]
    for path in [shutil.which(cc.split()[0]) or cc] + _mvec_libs():
        try:
            real = os.path.realpath(path)
            st = os.stat(real)
            parts.append((path, real, st.st_size, st.st_mtime_ns))
        except OSError:
            parts.append((path, None))
    return cache.key_of("toolchain", *map(repr, parts))


def _mvec_libs() -> list[str]:
    """Where the linker's libmvec (-lmvec) usually is (stat, not searched: a glob of the
    library directories was ~12 ms)."""
    arch = getattr(sys.implementation, "_multiarch", "") or ""
    return [f"/usr/lib/{arch}/libmvec.so", f"/lib/{arch}/libmvec.so", "/usr/lib64/libmvec.so", "/usr/lib/libmvec.so"]


def _cpu_id() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            txt = f.read()
        model = next((ln for ln in txt.splitlines() if ln.startswith("model name")), "")
        flags = next((ln for ln in txt.splitlines() if ln.startswith("flags")), "")
        return model + flags
    except OSError:
        import platform
        return platform.processor() + platform.machine()


_backend: CPUBackend | None = None


def open_device(index: int) -> CPUBackend:
    global _backend
    if _backend is None:
        _backend = CPUBackend()
        if debug.level & 1:
            debug.log(f"cpu: {_backend.cc_version}, flags {' '.join(_backend.flags)}, {os.cpu_count()} cores")
        from .. import _dlpack_native  # (DLPack's callbacks are built with this compiler: start where missing)
        _dlpack_native.warm_up(_backend.cc)
    return _backend
