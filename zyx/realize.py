"""Realization: schedule a graph, compile (or fetch from caches) and run its kernels.

Compile once per structure (docs/ARCHITECTURE.md, "Compile once"): the schedule cache maps a
graph's *structure key* - ops, dtypes, ranks, layout facts, never sizes, offsets or constant
values - to its kernels, each compiled once as a *generic* kernel whose sizes, offsets and
values are arguments filled in at every launch. So realizing a graph of the same structure
again (a loop's next iteration, new data, a new size, a new scalar) does no scheduling,
lowering, rendering or compiling: it walks the graph once, gathers the arguments, binds
buffers and launches.

A kernel doing much work at one set of values may also get a *specialised* version (every
value baked in: register tiles, vector widths, unrolled loops): compiled at once when the
generic kernel would clearly lose (a big contraction), or in the background when the same
values come back, and used once it is ready (``specialization()`` sets the policy).
"""
from __future__ import annotations

import contextlib
import marshal
import math
import os
import pickle
import struct
import sys
import threading
import time
import types
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _progress, cache, debug
from . import dtypes as dt
from .backends.base import PREAMBLE_END, in_background, split_preamble
from .device import Buffer, Device
from .graph import Node, post_order
from .kernels import host_eval
from .kernels import schedule as sched
from .kernels.ir import Kernel
from .kernels.lower import lower_kernel

_ALIAS = "alias"  # CompiledKernel.program of a reshape realized by sharing its source's buffer
_HOST = "host"  # a launch's program: the host tier computes it (a BLAS contraction)
# a big contraction's specialised version runs this many times, timed, then BLAS (the host
# tier's launch) as many times, timed, and the specialised version is kept - or dropped for
# BLAS, when it was more than _RACE_MARGIN times slower (skinny shapes: X.T @ X at 4000 x 64
# took 3.6 ms specialised, 0.3 ms in BLAS; LogisticRegression's X @ W.T at 4000 x 64 x 3, ~150
# us against ~55 us). Both sides are timed at the program's own launches, after the build:
# BLAS timed while the compiler ran beside it (on the host runs that wait for the build), or
# right after an OpenMP kernel, looked 3-10x slower than it is. Each side's time is its best
# of several, so the margin needs only cover the noise of a best-of-3. A run taken while a
# background compile runs is not counted (``_compiling``): the compiler, even at low priority,
# took a core from the specialised version's OpenMP threads (a barrier waits for a thread the
# scheduler put aside) and not from single-threaded BLAS - a training step's race, decided
# while its other kernels built, stored "blas" for a contraction BLAS ran 1.5x slower, and
# every later process took it (the MLP of bench_train.py 8.3 -> 12 ms a step)
_RACE_RUNS = 3
_RACE_MARGIN = 1.5


def _compiling() -> bool:
    """Whether a background compile job is queued or running (the pool's one worker runs
    them in order: the last submitted is done only when all are)."""
    return bool(_pending) and not _pending[-1].done()


@dataclass
class CompiledKernel:
    spec: sched.KernelSpec
    kernel: Kernel | None  # the generic kernel (None: nothing to compute)
    program: object  # its program, _ALIAS or None
    source: str
    extract: object = None  # order -> argument list of the generic kernel
    work_pos: tuple = ()  # walk positions whose sizes estimate the work (output, reduction inputs)
    has_reduce: bool = False
    special: dict = field(default_factory=dict)  # argument tuple -> specialised program or Future
    seen: dict = field(default_factory=dict)  # argument tuple -> times launched generic
    pending: Future | None = None  # the generic program, compiling in the background (host tier meanwhile)
    blas: bool = False  # a contraction the host tier computes with BLAS (cpu): see _wants_special
    host: int = 0  # host_eval.host_ok: its ops give the compiled code's bits on the host tier (cpu)
    race: dict = field(default_factory=dict)  # blas contraction: args -> [BLAS s, specialised s, runs of each]
    quick: bool = False  # the program is a quick build (backend.quick_source), not fully optimised
    upgrade: Future | None = None  # its full build, compiling in the background
    hits: int = 0  # schedule cache hits met while a quick build (see _upgrade)
    skey: str | None = None  # its stored plan's key and its place there: names its specialised versions on disk
    frozen: tuple | None = None  # a host-tier kernel not lowered yet: its region, copied (see _freeze)


class Stats:
    """Counters tests and benchmarks read: schedules built, kernels launched."""

    def __init__(self):
        self.schedules = 0
        self.launches = 0
        self.cache_hits = 0
        self.specialized = 0  # specialised kernels built (compiled or found in a cache)
        self.special_launches = 0
        self.host_launches = 0  # kernels evaluated on the host tier (NumPy) while they compile
        self.quick_builds = 0  # kernels built quickly (-O1 on the cpu device) to run at once
        self.upgrades = 0  # quick builds replaced by their full build

    def reset(self):
        self.__init__()


stats = Stats()
_cache: dict[tuple, list[CompiledKernel]] = {}
_CACHE_LIMIT = 1024  # schedules kept (each holds its programs: bounded, so libraries get unloaded)
# a structure's live nodes realized beside its targets (positions in its walk; see _live_inside)
_flush_plans: dict[tuple, tuple[int, ...]] = {}
_SPECIAL_PER_KERNEL = 4  # specialised versions kept per generic kernel
# A kernel met this many times is in a loop, where a background build pays even below
# special_async_work: a quick build gets its full build (-O1 calls the math functions one element
# at a time: exp over LogisticRegression's (4000, 3) logits took 45 us at -O1, 2 us at -O3),
# and a kernel launched this often with the same arguments gets its specialised version (a
# generic reduction over a short axis keeps a runtime trip count: LogisticRegression's
# logsumexp over 3 classes took 120 us a call for 4000 rows, 21 us specialised) - when it
# has _LOOP_WORK elements of work or more (below, launching costs more than the code saves)
# and has met few distinct argument tuples (a sweep over sizes or scalars is no loop)
_LOOP_HITS = 4
_LOOP_WORK = 1 << 12
_SMALL = (0, 0)  # c.seen's mark of argument tuples too small for any specialised version
_lock = threading.RLock()  # one realize at a time: realizing mutates the graph
_pool: ThreadPoolExecutor | None = None
_pending: list[Future] = []


def _after_fork_in_child() -> None:
    """A forked child starts with fresh locks and no compile thread (another thread of the
    parent may have held them at the fork; its threads do not exist in the child)."""
    global _lock, _pool, _asked_for_functions, _waiting, _waiting_lock, _queue_lock
    _lock = threading.RLock()
    _pool = None
    _pending.clear()
    _queue.clear()  # (batches the parent had queued are built by the parent)
    _queue_lock = threading.Lock()
    _waiting, _waiting_lock = 0, threading.Lock()
    _asked_for_functions = False  # (a math library the parent was building is not being built here)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _flush_plans.clear()


# ---------------------------------------------------------------------- policy
_MODES = ("auto", "always", "never", "sync")
# first-seen kernels of exact ops run on NumPy while they compile (cpu device; ZYX_HOST_TIER=0: off)
_host_tier = os.environ.get("ZYX_HOST_TIER", "1").strip() not in ("0", "false", "off", "no")
_mode = os.environ.get("ZYX_SPECIALIZE", "auto").strip().lower() or "auto"
if _mode not in _MODES:
    raise ValueError(f"ZYX_SPECIALIZE must be one of {', '.join(_MODES)}, not {_mode!r}")


def set_specialization(mode: str) -> None:
    """When kernels get a version specialised on their sizes and values:

    * ``auto`` (default): big contractions at once; other big kernels in the background when
      the same sizes and values come back, swapped in when ready;
    * ``sync``: like auto, but compiled at once (no background thread: reproducible timings);
    * ``always``: every kernel, at once (the generated code then shows every optimisation);
    * ``never``: generic kernels only.
    """
    global _mode
    if mode not in _MODES:
        raise ValueError(f"specialization mode must be one of {', '.join(_MODES)}, not {mode!r}")
    _mode = mode


@contextlib.contextmanager
def specialization(mode: str):
    """``with zyx.realize.specialization("always"): ...`` - the policy inside the block."""
    old = _mode
    set_specialization(mode)
    try:
        yield
    finally:
        set_specialization(old)


def wait_compiles() -> None:
    """Wait for background compiles to finish (benchmarks call it after warming up)."""
    global _waiting
    with _waiting_lock:
        _waiting += 1  # (the jobs stop yielding to the program: it waits for them)
    try:
        while _pending:
            f = _pending.pop()
            with contextlib.suppress(Exception):
                f.result()
    finally:
        with _waiting_lock:
            _waiting -= 1


# A background job's own Python (lowering and rendering a new plan's kernels, ~1-2 ms a
# kernel, and storing the plan) takes the GIL from the program each time the program lets
# it go - at every kernel launch - for up to the interpreter's switch interval (5 ms). So a
# job waits until the program has not realized anything for _IDLE_S, at most until
# _YIELD_S after it was submitted (a cold PCA fit: 12.2 -> 9.2 ms, medians of 12 runs, with
# its jobs held back), and not while someone waits for the compiles. A realize counts as
# busy from its start to its end (a host-tier step of a big array takes longer than _IDLE_S:
# a job started inside it; a realize that raises leaves it busy, for at most _YIELD_S of
# any job), and each deferred kernel's lowering waits again (``pace``: a job that started in
# a pause does not lower everything once the program goes on): a cold
# LinearDiscriminantAnalysis fit lowered 11 kernels (~11 ms of Python) during the fit,
# 44-69 -> 34-41 ms (nine alternating runs).
_IDLE_S = 0.01
_YIELD_S = 0.05
_busy_until = 0.0  # a realize runs (inf) or ran until _IDLE_S before this (time.perf_counter)
_waiting = 0  # threads inside wait_compiles
_waiting_lock = threading.Lock()


def _yield_to_program(deadline: float) -> None:
    while not _waiting:
        now = time.perf_counter()
        if now >= _busy_until or now >= deadline:
            return
        time.sleep(min(_busy_until, deadline, now + _IDLE_S) - now + 1e-4)  # (inf: looks again)


def _work(c: CompiledKernel, order: list) -> int:
    """The kernel's work at this launch: the largest size at its ``work_pos``."""
    return max(math.prod(order[p].shape) for p in c.work_pos)


def _wants_special(dev: Device, c: CompiledKernel, order: list, args: tuple) -> str | None:
    """'now', 'later' or None: whether this launch should use (and build) a version of the
    kernel specialised on ``args``."""
    if _mode == "never":
        return None
    if _mode == "always":
        return "now"
    seen = c.seen.get(args)  # [launches, work]: the work is a function of the sizes, all in args
    backend = dev.backend
    if seen is None or seen is _SMALL:
        if len(c.seen) > 64:
            c.seen.clear()
        work = _work(c, order)
        if work < _LOOP_WORK and work < backend.special_async_work and work < backend.special_sync_work:
            c.seen[args] = _SMALL  # below every threshold below: never specialised (the launch path skips it)
            return None
        seen = c.seen[args] = [0, work]
    seen[0] += 1
    work = seen[1]
    # a contraction the generic code would run far slower than a compile takes
    if c.has_reduce and work >= backend.special_sync_work:
        return "now"
    if c.blas and _mode == "auto" and _host_tier and work >= backend.special_async_work:
        # a mid-sized contraction of exact ops on the cpu device: BLAS (the host tier) runs
        # it until a version specialised on these sizes is built in the background - not
        # the generic loop nest (~20 ms for X.T @ X at 4000 x 64, BLAS ~0.3 ms)
        return "host" if seen[0] < 2 else "host+later"
    if (work >= backend.special_async_work and seen[0] >= 2) or (
            seen[0] >= _LOOP_HITS and work >= _LOOP_WORK and len(c.seen) <= _SPECIAL_PER_KERNEL):
        return "now" if _mode == "sync" else "later"
    return None


# ---------------------------------------------------------------------- realize
def realize_nodes(nodes: list[Node]) -> None:
    if len(nodes) == 1:  # the common case, kept short
        n = nodes[0]
        if n.op != "BUFFER":
            with _lock:
                if n.op != "BUFFER":
                    _realize_on(n.device, [n])
        return
    pending = [n for n in nodes if n.op != "BUFFER"]
    if not pending:
        return
    with _lock:
        pending = [n for n in pending if n.op != "BUFFER"]  # another thread may have realized them
        by_dev: dict[Device, list[Node]] = {}
        for n in pending:
            by_dev.setdefault(n.device, []).append(n)
        for dev, targets in by_dev.items():
            _realize_on(dev, list(dict.fromkeys(targets)))


WIDE = 1 << 30  # sizes from here on need 64-bit indices in GPU kernels


# A small graph this deep is an iterative algorithm's state grown lazily (see _live_inside).
FLUSH_DEPTH = 32
FLUSH_NUMEL = 1024


def _live_inside(order: list[Node], targets: list[Node]) -> list[int]:
    """The walk positions of the nodes of a small graph (every value at most FLUSH_NUMEL
    elements) deeper than FLUSH_DEPTH ops that something outside it still holds - a Tensor,
    another lazy graph: realized beside the targets.

    An iterative solver on a few points (SciPy's bracket, root and minimize loops) replaces
    its state each step with where(...) of the last state and realizes only its convergence
    test. The rest of the state stays lazy and grows: every test read a longer graph (up to
    2,455 nodes, one counter a node deeper each step), so nearly every step was a structure
    never seen and their values were recomputed from the start each time. Realized beside a
    target, the live values become buffers and the next steps' graphs start from them: the
    structures repeat and hit the cache. Depth, not size, tells a grown state from a big
    formula. The references are counted (``sys.getrefcount``): the walk's own (its list; the
    realize walks without a position dict) and the sources of the graph's nodes are the graph's; any other is a
    holder outside. Big values are left alone: their graphs fuse for speed, and storing every
    live intermediate would cost memory traffic. Called on a cache miss of a walk longer than
    FLUSH_DEPTH only (a structure seen before has no new depth)."""
    inside: dict[int, int] = {}  # (keyed by id: a node as a key would be one more reference)
    depth: dict[int, int] = {}
    deepest = 0
    for n in order:  # (post-order: sources first)
        if n.numel > FLUSH_NUMEL:
            return []
        d = 0
        for s in n.srcs:
            inside[id(s)] = inside.get(id(s), 0) + 1
            ds = depth.get(id(s), 0)
            if ds > d:
                d = ds
        depth[id(n)] = d = d + 1 if n.srcs else 0
        if d > deepest:
            deepest = d
    if deepest <= FLUSH_DEPTH:
        return []
    wanted = {id(t) for t in targets}
    live = []
    for i in range(len(order)):  # (not enumerate: its reused result tuple would hold a reference)
        n = order[i]
        # (references: order, this loop's name, getrefcount's argument, the sources inside)
        if n.srcs and id(n) not in wanted and sys.getrefcount(n) > 3 + inside.get(id(n), 0):
            live.append(i)
    return live


def _realize_on(dev: Device, targets: list[Node]) -> None:
    global _busy_until
    _busy_until = math.inf  # (busy until it returns, then for _IDLE_S: see _yield_to_program)
    order, key = sched.walk_key(targets)
    backend = dev.backend
    # GPU kernels index with 32 bits when the sizes allow: a fact of the structure's key there
    wide = backend.narrow_index and any(n.numel >= WIDE for n in order)
    full_key = (dev.type, dev.index, key, wide)
    compiled = _cache.get(full_key)
    if compiled is None and len(order) > FLUSH_DEPTH:
        # a state grown lazily: its live values are realized too (see _live_inside). The
        # structure's plan is kept: a loop of it (a small model's training step) then scans
        # once, and its schedule is cached under the extended walk's key
        plan = _flush_plans.get(full_key)
        if plan is None:
            plan = tuple(_live_inside(order, targets))
            if plan:
                if len(_flush_plans) >= _CACHE_LIMIT:
                    _flush_plans.pop(next(iter(_flush_plans)))
                _flush_plans[full_key] = plan
        if plan:
            targets = targets + [order[i] for i in plan]
            order, key = sched.walk_key(targets)
            full_key = (dev.type, dev.index, key, wide)
            compiled = _cache.get(full_key)
    if compiled is None:
        with _progress.compiling(dev.name):  # a line on stderr when this takes > 2 s
            compiled = _compile(dev, order, {n: i for i, n in enumerate(order)}, targets, wide, full_key)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.pop(next(iter(_cache)))
        _cache[full_key] = compiled
    else:
        stats.cache_hits += 1
        if len(compiled) == 1:  # one small kernel, compiled and plain: most realizes of array code
            c = compiled[0]
            if (c.pending is None and not c.quick and c.extract is not None and not c.spec.rand
                    and c.program is not None and c.program is not _ALIAS and c.program is not _HOST and _mode == "auto"
                    and not debug.level & 34):
                args = c.extract(order)
                if c.seen.get(args) is _SMALL:  # (too small for a specialised version: see _wants_special)
                    out = order[c.spec.out]
                    buf = Buffer(dev, out.numel, out.dtype)
                    backend.launch(c.program, [buf.handle] + [order[i].buffer.handle for i in c.spec.inputs], (), args)
                    stats.launches += 1
                    out.become_buffer(buf)
                    _busy_until = time.perf_counter() + _IDLE_S
                    return
        for c in compiled:
            if c.quick:
                _upgrade(dev, compiled, order)
                break
    # every kernel's arguments and program are chosen before anything runs: launching turns
    # nodes into buffers, which drops the values the arguments are read from
    steps, now, later = [], [], []
    for c in compiled:
        program = c.program
        if c.pending is not None and c.pending.done():
            c.program = program = c.pending.result()  # a compile error surfaces here
            c.pending = None
        # (after the pending check: a kernel lowered in the background has its extractor
        # before its program's future settles)
        args = c.extract(order) if c.extract is not None else ()
        if (c.kernel is not None and program is not None and _mode != "never"
                and (c.seen.get(args) is not _SMALL or _mode == "always")):
            special, want = _special_program(dev, c, order, args)
            if special is not None:
                program = special
                if c.race and special is not _HOST:
                    race = c.race.get(args)
                    if race is not None and race[2] >= _RACE_RUNS:  # its timed runs are done: BLAS's turn
                        program = _HOST
            elif want is not None and want.startswith("host"):
                program = _HOST
                if want == "host+later":
                    later.append((c, args))
            elif c.blas and _mode == "auto" and _host_tier and isinstance(c.special.get(args), Future):
                program = _HOST  # its specialised version is still compiling
            elif want == "now":
                now.append((len(steps), c, args))
            elif want == "later":
                later.append((c, args))
        spec = c.spec
        steps.append([order[spec.out], [order[i] for i in spec.inputs],
                      [order[i] for i in spec.rand] if spec.rand else (), c, program, args])
    if now or later:
        programs = _specialise(dev, order, [(c, a) for _, c, a in now], later)
        for (i, _, _), p in zip(now, programs):
            steps[i][4] = p
    del order
    timing = debug.level & 2
    shared = None  # (host-tier values one kernel computed for the next: host_eval.Shared)
    steps.reverse()
    while steps:  # popping drops this step's references: an intermediate dies after its last use
        out, inputs, rands, c, program, args = steps.pop()
        if program is _ALIAS:  # a reshape of a realized buffer is that buffer, reshaped
            out.become_buffer(inputs[0].buffer)
            continue
        buf = Buffer(dev, out.numel, out.dtype)
        if program is None or program is _HOST:
            if c.pending is not None or program is _HOST:  # still compiling: the host tier computes it now
                t0 = time.perf_counter()
                # (written into the output buffer: the host tier runs on the cpu device, whose
                # buffers are host memory)
                dest = backend.view(buf.handle, out.numel)
                if shared is None:
                    shared = host_eval.Shared()
                got = host_eval.evaluate(out, inputs, backend.host_functions, dest, shared)
                if got is not dest:
                    backend.copy_in(buf.handle, got.reshape(-1))
                stats.launches += 1
                stats.host_launches += 1
                if c.blas and args:  # (() while it was not lowered yet: nothing to key by)
                    race = c.race.get(args)
                    if race is None:
                        if c.special.get(args) is not _HOST:  # (waiting for the build: a race once it lands)
                            if len(c.race) > 64:
                                c.race.clear()
                            c.race[args] = [math.inf, math.inf, 0, 0]
                    elif race[2] >= _RACE_RUNS and not _compiling():  # BLAS's turn in the race
                        race[0] = min(race[0], time.perf_counter() - t0)
                        race[3] += 1
                        if race[3] >= _RACE_RUNS:
                            won = "blas" if race[1] > _RACE_MARGIN * race[0] else "specialised"  # (clear losses only)
                            if won == "blas":
                                c.special[args] = _HOST
                            del c.race[args]
                            _store_race(c, args, won)
                if debug.level & 32:
                    debug.log(f"host tier {c.kernel.name if c.kernel is not None else '(lowering)'} "
                              f"out={out.shape} {out.dtype.name} "
                              f"({'BLAS' if program is _HOST else 'compiling'})")
            out.become_buffer(buf)  # (else an empty tensor: nothing to compute)
            continue
        scalars = []
        for r in rands:  # (usually none)
            scalars.extend(r.arg)
        special = program is not c.program
        if debug.level & 32:
            debug.log(f"launch {c.kernel.name}{' (specialised)' if special else ''} out={out.shape} "
                      f"{out.dtype.name} inputs={[(i.shape, i.dtype.name) for i in inputs]} args={list(args)}")
        race = c.race.get(args) if special and c.blas else None
        if race is not None and race[2] >= _RACE_RUNS:
            race = None
        if timing or race is not None:
            backend.synchronize()
            t0 = time.perf_counter()
        backend.launch(program, [buf.handle] + [i.buffer.handle for i in inputs], scalars,
                       () if special else args)
        stats.launches += 1
        stats.special_launches += special
        if race is not None and not _compiling():  # the specialised contraction against BLAS (its timed runs follow)
            backend.synchronize()
            race[1] = min(race[1], time.perf_counter() - t0)
            race[2] += 1
        if timing:
            backend.synchronize()
            dt_ = time.perf_counter() - t0
            k = c.kernel
            mem = sum(i.numel * i.dtype.itemsize for i in inputs) + out.numel * out.dtype.itemsize
            debug.log(f"{k.name:<28} {dt_ * 1e6:9.1f} us  {mem / dt_ / 1e9:7.2f} GB/s  "
                      f"{k.flops / dt_ / 1e9:7.2f} GFLOP/s  [{dev.name}{', specialised' if special else ''}]")
        out.become_buffer(buf)
    _busy_until = time.perf_counter() + _IDLE_S


def _upgrade(dev: Device, compiled: list, order: list) -> None:
    """Quick builds met again: the full builds of those whose work is big enough for the
    optimisation to matter (``special_async_work``), or that keep coming back with some
    work (``_LOOP_HITS``, ``_LOOP_WORK``), start in the background, in one batch, and take
    over once built (the same bits: see ``Backend.quick_compile``)."""
    backend = dev.backend
    start = []
    for c in compiled:
        if not c.quick:
            continue
        if c.upgrade is None:
            if _mode != "auto":
                continue
            c.hits += 1
            work = _work(c, order)
            if work >= backend.special_async_work or (c.hits >= _LOOP_HITS and work >= _LOOP_WORK):
                start.append(c)
        elif c.upgrade.done():
            try:
                c.program = c.upgrade.result()
                stats.upgrades += 1
            except Exception:  # noqa: BLE001 - the quick build keeps working
                if debug.level & 2:
                    debug.log(f"the full build of {c.kernel.name} failed; its quick build stays")
            c.quick, c.upgrade = False, None
    if start:
        futures = []
        for c in start:
            c.upgrade = Future()
            futures.append(c.upgrade)
        _background(backend, [(c.kernel, c.source) for c in start], futures)


def _special_program(dev: Device, c: CompiledKernel, order: list, args: tuple):
    """(program, None) when a version of ``c`` specialised on ``args`` is ready, else
    (None, 'now' | 'later' | None): whether to build one."""
    sp = c.special.get(args)
    if sp is not None:
        if sp is _HOST or not isinstance(sp, Future):  # (_HOST: BLAS beat it, see _RACE_RUNS)
            return sp, None
        if not sp.done():
            return None, None
        c.special[args] = sp = sp.result()  # a compile error surfaces here
        return sp, None
    want = _wants_special(dev, c, order, args)
    if _mode == "auto" and (want is not None and want != "now" or want is None and _first_sight(c, args)):
        # a version an earlier process built for these sizes, stored with its program: load
        # it now (a fraction of a millisecond) rather than run BLAS or the generic kernel while
        # it loads in the background - or, for a kernel a loop specialises once it is seen
        # _LOOP_HITS times, at its first launch here (a warm LogisticRegression fit ran its
        # first iterations' kernels generic: ~25 ms of the warm fit's ~65)
        sp = _stored_special(dev, c, args)
        if sp is not None:
            return sp, None
    return None, want


def _first_sight(c: CompiledKernel, args: tuple) -> bool:
    """Whether this process launches ``c`` at ``args`` for the first time, at a work
    ``_wants_special`` may specialise later (it counted this launch)."""
    seen = c.seen.get(args)
    return seen is not None and seen is not _SMALL and seen[0] == 1


def _stored_special(dev: Device, c: CompiledKernel, args: tuple):
    """The program of ``c`` specialised on ``args`` where the disk cache holds both its
    lowered kernel and its built program, kept as this process's version; else None.
    A BLAS contraction whose race an earlier process decided takes that outcome: ``_HOST``
    where BLAS won, the stored version (not raced again) where it won."""
    won = _load_race(c, args) if c.blas else None
    if won == "blas":
        _keep_special(c, args, _HOST)
        return _HOST
    item = _load_special(_special_key(c, args))
    if item is None or not dev.backend.ready(*item):
        return None
    try:
        (program,) = _compile_items(dev.backend, [item])
    except Exception:  # noqa: BLE001 - (unloadable after all: built the usual way)
        return None
    _keep_special(c, args, program)
    if c.blas and won is None:  # (a race that did not finish in the process that built it)
        c.race[args] = [math.inf, math.inf, 0, 0]
    stats.specialized += 1
    return program


def _keep_special(c: CompiledKernel, args: tuple, value) -> None:
    if len(c.special) >= _SPECIAL_PER_KERNEL:
        c.special.pop(next(iter(c.special)))
    c.special[args] = value


def _specialise(dev: Device, order: list, now: list, later: list) -> list:
    """Build the specialised versions a schedule asked for: ``now`` ones compiled at once
    (their programs returned), ``later`` ones in one background batch (one compiler run)."""
    def lowered(pairs: list) -> tuple[list, list]:
        """(kernel, source) for each (c, args) - read from the disk cache where an earlier
        process stored it, else lowered and rendered - and the fresh ones to store once built."""
        items, fresh = [], []
        for c, args in pairs:
            stats.specialized += 1
            key = _special_key(c, args)
            item = _load_special(key)
            if item is None:
                spec = c.spec
                kernel = lower_kernel(order[spec.out], [order[i] for i in spec.inputs], "kernel",
                                      [order[i] for i in spec.rand])
                kernel.name = c.kernel.name + "_s"
                source = _render(dev.backend, kernel)
                _show(dev, kernel, source, "specialised ")
                item = (kernel, source)
                fresh.append((key, item))
            items.append(item)
        return items, fresh

    def store(fresh: list) -> None:  # once built (a version that fails to build is not kept)
        for key, (kernel, source) in fresh:
            _store_special(key, kernel, source)

    backend = dev.backend
    out = []
    if now:
        items, fresh = lowered(now)
        out = _compile_items(backend, items)
        for (c, args), p in zip(now, out):
            _keep_special(c, args, p)
        store(fresh)
    if later:
        items, fresh = lowered(later)
        futures = []
        for c, args in later:
            f: Future = Future()
            _keep_special(c, args, f)
            futures.append(f)
        _background(backend, items, futures, lambda fresh=fresh: store(fresh))
    return out


# A specialised version's lowered kernel and source are stored too (under its plan's key,
# its place in the plan and its argument tuple - what the in-process ``special`` dict keys
# by), so a new process meeting a known structure at known sizes neither lowers nor renders
# it again: ~1-3 ms of Python a kernel, 34 of them in a warm GaussianMixture fit.
def _special_key(c: CompiledKernel, args: tuple) -> str | None:
    return cache.key_of("special", c.skey, repr(args)) if c.skey is not None else None


# A race's outcome ("blas" or "specialised") is stored beside the specialised version, so a
# later process neither races again (three BLAS launches of each size: ~30 ms of a warm
# GaussianMixture fit) nor, where BLAS won, loads the version that lost.
def _race_key(c: CompiledKernel, args: tuple) -> str | None:
    return cache.key_of("race", c.skey, repr(args)) if c.skey is not None else None


def _store_race(c: CompiledKernel, args: tuple, won: str) -> None:
    key = _race_key(c, args)
    if key is not None:
        cache.write("plans", key, ".race", won.encode())


def _load_race(c: CompiledKernel, args: tuple) -> str | None:
    key = _race_key(c, args)
    data = cache.read_bytes("plans", key, ".race") if key is not None else None
    try:
        won = data.decode() if data is not None else None
    except UnicodeDecodeError:
        return None
    return won if won in ("blas", "specialised") else None


def _load_special(key: str | None):
    data = cache.read_bytes("plans", key, ".spk") if key is not None else None
    if data is None:
        return None
    try:
        kernel, stored = pickle.loads(data)
        source = _source_of(stored)
        return (_StoredKernel(*kernel), source) if source is not None else None
    except Exception:  # an entry of another shape: lower anew
        return None


def _store_special(key: str | None, kernel: Kernel, source: str) -> None:
    """Stored as a plan's kernels are (see ``_StoredKernel``): a warm GaussianMixture fit
    loads ~70 specialised versions, and unpickling each one's IR was ~160 us (~12 ms)."""
    if key is None:
        return
    try:
        data = pickle.dumps((_stub_of(kernel), _stored_source(source)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    cache.write("plans", key, ".spk", data)


def _compile(dev: Device, order: list[Node], pos: dict, targets: list[Node], wide: bool,
             full_key: tuple) -> list[CompiledKernel]:
    stats.schedules += 1
    backend = dev.backend
    pkey = _plan_key(dev, full_key)
    out = _load_plan(pkey)
    # a new plan is stored once its programs have built: one that fails (or a renderer a
    # test replaced) must not outlive this process
    store = None if out is not None or pkey is None else (lambda: _store_plan(pkey, out))
    if out is None:
        out = _plan(dev, order, pos, targets, wide)
    if pkey is not None:
        for i, c in enumerate(out):
            c.skey = f"{pkey}:{i}"
    deferred = [c for c in out if c.frozen is not None]  # (host-tier kernels of a new plan: lowered later)
    todo = [c for c in out if c.kernel is not None]
    if deferred or (_host_tier and _mode == "auto" and backend.host_tier):
        # kernels of exact ops run on NumPy (host_eval) while the compiler builds them in the
        # background; kernels already compiled (in process or on disk) just load
        later = deferred + [c for c in todo if c.host and not backend.ready(c.kernel, c.source)
                            and (c.host == host_eval.EXACT or backend.host_functions() is not None)]
        if later:
            todo = [c for c in todo if not any(c is x for x in later)]  # (by identity: dataclass == compares fields)
            if store is not None and todo:  # stored once both the background and these have built
                store = _after_both(store)
            _compile_later(backend, later, store)
            store = store if todo else None
    t0 = time.perf_counter()
    quick = [c for c in todo if _mode == "auto" and backend.quick_compile and not backend.ready(c.kernel, c.source)]
    if quick:
        # a kernel no host tier can run waits for the compiler: build it quickly (the same
        # bits), and fully later if it comes back with enough work (_upgrade)
        todo = [c for c in todo if not any(c is x for x in quick)]
        for c, p in zip(quick, _compile_items(backend, [(c.kernel, backend.quick_source(c.source)) for c in quick])):
            c.program, c.quick = p, True
        stats.quick_builds += len(quick)
    programs = _compile_items(backend, [(c.kernel, c.source) for c in todo])
    for c, p in zip(todo, programs):
        c.program = p
    todo += quick
    if store is not None:
        store()
    if debug.level & 2 and todo:
        debug.log(f"compiled {len(todo)} kernel(s) ({', '.join(c.kernel.name for c in todo)}) in "
                  f"{(time.perf_counter() - t0) * 1e3:.1f} ms")
    return out


def _plan(dev: Device, order: list[Node], pos: dict, targets: list[Node], wide: bool) -> list[CompiledKernel]:
    """The schedule's kernels, lowered and rendered (programs not yet built)."""
    # the backend's per-kernel buffer limit (e.g. WGPU's storage buffers per shader stage); the
    # cache key holds the device, so schedules cut for one device's limit are not reused on another
    specs = sched.plan(order, pos, targets, dev.backend.max_buffers)
    backend = dev.backend
    tier = backend.host_tier  # (used only while _host_tier is on)
    # (the device's math functions: asked for only where a kernel calls one; with the host
    # tier off (ZYX_HOST_TIER=0, which the stored plans' key holds) never built)
    funcs = backend.host_functions if _host_tier else None
    if tier and funcs is not None and not _asked_for_functions:
        # the first new plan of a process: the math library is loaded now, or its build starts
        # in the background (once per machine and compiler) - by the first transcendental kernel
        # it is usually there, which then runs on the host tier rather than waiting for a
        # quick build (a cold LogisticRegression fit quick-built six exp/log kernels, ~190 ms)
        _ask_for_functions(funcs)
    # a kernel the host tier computes now is lowered and rendered by the background job that
    # compiles it: off the first call's critical path (~1-2 ms of Python a kernel)
    defer = tier and _host_tier and _mode == "auto" and not debug.level & (4 | 8 | 16)
    out = []
    for i, spec in enumerate(specs):
        root = order[spec.out]
        if root.numel == 0:
            out.append(CompiledKernel(spec, None, None, ""))
            continue
        if root.op == "RESHAPE" and spec.inputs == [pos[root.srcs[0]]] and not spec.rand:
            # no copy: the output shares its source's buffer (tensors are values: no kernel
            # writes into an existing buffer)
            out.append(CompiledKernel(spec, None, _ALIAS, ""))
            continue
        inputs = [order[j] for j in spec.inputs]
        rands = [order[j] for j in spec.rand]
        work_pos, has_reduce = _work_positions(root, spec, order, pos)
        host = host_eval.host_ok(root, inputs, funcs) if tier else 0
        blas = host == host_eval.EXACT and host_eval.contracts(root, inputs)
        if host and defer:
            out.append(CompiledKernel(spec, None, None, "", None, work_pos, has_reduce, blas=blas, host=host,
                                      frozen=_freeze(root, inputs, rands, pos, wide)))
            continue
        kernel, source = _lower(backend, root, inputs, rands, pos, wide)
        if debug.level & 4:
            debug.log(f"schedule: kernel {i} {kernel.name}: {kernel.ops_summary or 'copy'} -> {root.shape} "
                      f"{root.dtype.name}, reads {len(inputs)} buffer(s)")
        _show(dev, kernel, source, "")
        out.append(CompiledKernel(spec, kernel, None, source, _extractor(kernel), work_pos, has_reduce,
                                  blas=blas, host=host))
    return out


_asked_for_functions = False


def _ask_for_functions(funcs) -> None:
    global _asked_for_functions
    _asked_for_functions = True
    funcs()


_render_lock = threading.Lock()  # a renderer keeps per-kernel state while it renders


def _render(backend, kernel: Kernel) -> str:
    """``backend.render``, one kernel at a time (the background job renders too)."""
    with _render_lock:
        return backend.render(kernel)


def _lower(backend, root: Node, inputs: list, rands: list, pos: dict, wide: bool) -> tuple[Kernel, str]:
    kernel = lower_kernel(root, inputs, "kernel", rands, pos, wide)
    kernel.name = _kernel_name(root, kernel)
    return kernel, _render(backend, kernel)


def _freeze(root: Node, inputs: list, rands: list, pos: dict, wide: bool) -> tuple:
    """A copy of the kernel's region (``root`` down to its inputs) with the walk positions
    of the originals, for lowering in the background: launching turns the originals into
    buffers and drops their graph. The inputs are copied as leaves (lowering reads their
    shapes and dtypes)."""
    leaves = set(inputs)
    copies: dict = {}
    for n in post_order(root, lambda x: () if x in leaves else x.srcs):
        srcs = () if n in leaves else tuple(copies[s] for s in n.srcs)
        copies[n] = Node(n.op, srcs, n.arg, n.shape, n.dtype, n.device)
    for r in rands:
        if r not in copies:
            copies[r] = Node(r.op, (), r.arg, r.shape, r.dtype, r.device)
    fpos = {c: pos[n] for n, c in copies.items() if n in pos}
    return copies[root], [copies[n] for n in inputs], [copies[r] for r in rands], fpos, wide


def _lower_frozen(backend, c: CompiledKernel) -> None:
    """Lower and render a deferred kernel (see ``_plan``) - in the background job that then
    compiles it. Its kernel is set last: the launch path reads ``extract`` once the
    program's future has settled, which is after this."""
    root, inputs, rands, fpos, wide = c.frozen
    kernel, source = _lower(backend, root, inputs, rands, fpos, wide)
    c.source, c.extract = source, _extractor(kernel)
    c.kernel, c.frozen = kernel, None


def _after_both(fn):
    """A function to call twice (from any threads); the second call runs ``fn``."""
    left = [2]
    lock = threading.Lock()

    def part() -> None:
        with lock:
            left[0] -= 1
            go = left[0] == 0
        if go:
            fn()
    return part


# ------------------------------------------------------------- stored plans
# A schedule's plan - its kernel specs, lowered kernels and rendered sources - is stored in
# the disk cache under a digest of the structure key, zyx's code version, the device's plan
# identity and the ZYX_ settings, so a new process running known structures neither lowers
# nor renders (lowering is ~1-3 ms of Python a kernel: most of a warm first call).
_PLAN_ENV_SKIP = ("ZYX_DEBUG", "ZYX_PROGRESS", "ZYX_PROGRESS_AFTER", "ZYX_CACHE_DIR", "ZYX_DISABLE_DISK_CACHE")


def _plan_key(dev: Device, full_key: tuple) -> str | None:
    if debug.level & (4 | 8 | 16) or not cache.enabled():  # printing the schedule, IR or source: lower
        return None
    return cache.key_of("plan", cache.code_version(), dev.backend.plan_identity(), _zyx_settings(), repr(full_key))


def _zyx_settings() -> list:
    """The ZYX_ environment settings a plan depends on, sorted. (os.environ decodes every
    variable as it is iterated, ~35 us a plan; its bytes mapping, where there is one, is
    scanned in ~5.)"""
    raw = getattr(os.environ, "_data", None) if os.supports_bytes_environ else None
    if isinstance(raw, dict):
        found = [(k.decode(errors="surrogateescape"), v.decode(errors="surrogateescape"))
                 for k, v in raw.items() if k.startswith(b"ZYX_")]
    else:
        found = [(k, v) for k, v in os.environ.items() if k.startswith("ZYX_")]
    return sorted((k, v) for k, v in found if k not in _PLAN_ENV_SKIP)


def _load_plan(key: str | None) -> list[CompiledKernel] | None:
    data = cache.read_bytes("plans", key, ".pkl") if key is not None else None
    if data is None:
        return None
    try:
        rows = pickle.loads(data)
        out = []
        for spec, kernel, (extract, code), stored, alias, work_pos, has_reduce, blas, host in rows:
            source = _source_of(stored)
            if source is None:
                return None
            spec = sched.KernelSpec(*spec)
            if kernel is not None:
                kernel = _StoredKernel(*kernel)
            out.append(CompiledKernel(spec, kernel, _ALIAS if alias else None, source, _extractor_of(extract, code),
                                      work_pos, has_reduce, blas=blas, host=host))
        return out
    except Exception:  # an entry of another shape (it is verified, so not corrupt): plan anew
        return None


class _StoredKernel:
    """A stored plan's kernel: its pickle, unpickled (becoming the Kernel itself) at the first
    use of anything but its name and ``signature``, which are all a warm process needs to
    load and launch its program. (Unpickling every kernel of a plan was ~65 us a kernel:
    ~2 ms of a warm PCA fit's ~11.) Not a Kernel subclass: the dataclass's field defaults
    (``generic = False``, ...) are class attributes, which would answer before it unpickles."""

    def __init__(self, blob: bytes, name: str, signature: tuple) -> None:  # (not the dataclass's)
        self.__dict__.update(_blob=blob, name=name, _signature=signature)

    def signature(self) -> tuple:
        return self._signature

    def __getattr__(self, attr: str):
        d = self.__dict__
        blob = d.get("_blob")
        if attr.startswith("__") or blob is None:  # (another thread unpickled it meanwhile: look again)
            return object.__getattribute__(self, attr)
        d.update(pickle.loads(blob).__dict__)  # (never missing a field for another thread)
        self.__class__ = Kernel
        d.pop("_blob", None)
        d.pop("_signature", None)
        return getattr(self, attr)


def _stub_of(kernel: Kernel) -> tuple:
    """What a stored kernel keeps: ``_StoredKernel``'s arguments (its pickle, name, signature)."""
    return pickle.dumps(kernel, protocol=pickle.HIGHEST_PROTOCOL), kernel.name, kernel.signature()


def _store_plan(key: str, out: list[CompiledKernel]) -> None:
    try:
        rows = [((c.spec.out, list(c.spec.inputs), list(c.spec.rand)),
                 None if c.kernel is None else _stub_of(c.kernel),
                 _stored_extract(c.kernel), _stored_source(c.source),
                 c.program is _ALIAS, c.work_pos, c.has_reduce, c.blas, c.host) for c in out]
        data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a kernel holding something unpicklable: just not stored
        return
    cache.write("plans", key, ".pkl", data)


# A kernel's source starts with its backend's preamble (~24 KB of C helpers on the cpu
# device, against ~1 KB of kernel): plans store each distinct preamble once, as its own
# entry, and their kernels as (that entry's key, the text after the preamble). Whole
# sources made a plan ~78 KB (the test suite left ~500 MB of plans) and a warm process
# read, verified and unpickled all of it.
_preambles: dict[str, str] = {}  # preamble entry key -> text (read or written in this process)


def _stored_source(source: str):
    if PREAMBLE_END not in source:
        return source
    pre, body = split_preamble(source)
    pkey = cache.key_of("preamble", pre)
    if pkey not in _preambles:
        if _load_preamble(pkey) is None:
            cache.write("plans", pkey, ".pre", pre.encode())
        _preambles[pkey] = pre
    return (pkey, body)


def _source_of(stored) -> str | None:
    """A source as ``_stored_source`` stored it, whole again; None when its preamble entry is
    gone or not the text its key names."""
    if not isinstance(stored, tuple):
        return stored
    pre = _load_preamble(stored[0])  # (the preamble's entry, the kernel after it)
    return pre + stored[1] if pre is not None else None


def _load_preamble(pkey: str) -> str | None:
    """The preamble stored under ``pkey``; None when it is missing or is not the text its key
    names (the entry's own digest only proves it is whole: the key proves it is this one)."""
    pre = _preambles.get(pkey)
    if pre is None:
        data = cache.read_bytes("plans", pkey, ".pre")
        if data is None:
            return None  # (removed since: the plan is made anew)
        try:
            pre = data.decode()
        except UnicodeDecodeError:
            return None
        if cache.key_of("preamble", pre) != pkey:
            return None
        _preambles[pkey] = pre
    return pre


def _compile_items(backend, items: list) -> list:
    """Programs for (kernel, source) pairs: several in one go (``compile_many``: one
    compiler run for the whole schedule where the backend batches), one alone."""
    if len(items) > 1:
        return backend.compile_many(items)
    return [backend.compile(k, s) for k, s in items]


def _background(backend, items, futures: list, on_success=None) -> None:
    """Build ``items`` (a list, or a function giving it, called in the job with a function
    to call before each kernel it lowers - see ``_yield_to_program``) in the background;
    ``futures[j]`` gets item j's program (or the build's error), then ``on_success`` runs.
    The futures are settled inside a job, so ``wait_compiles`` - which waits for the jobs -
    returns only once every one of them is.

    Batches wait in ``_queue``; a job takes every batch queued when it starts and builds them
    in one go (see ``_build_queued``), so the batches a program submits while the compiler
    is busy share one compiler run: a cold LogisticRegression fit submitted 12 batches of 1-5
    kernels, built one gcc run after another (each ~40 ms of fixed cost, on a core the
    program wants) and its last kernels landed ~1 s after the fit began."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zyx-compile")

    global _busy_until
    now = time.perf_counter()
    deadline, _busy_until = now + _YIELD_S, max(_busy_until, now + _IDLE_S)  # (submitted by a realize)
    with _queue_lock:
        _queue.append((backend, items, futures, on_success, deadline))

    def job():
        _yield_to_program(deadline)
        with _queue_lock:
            taken = _queue[:]
            _queue.clear()
        if taken:  # (else an earlier job took this one's batch)
            _build_queued(taken)
    _pending.append(_pool.submit(job))
    if len(_pending) > 256:
        del _pending[: len(_pending) - 256]


_queue: list = []  # (backend, items, futures, on_success, deadline) submitted, not yet taken by a job
_queue_lock = threading.Lock()


def _build_queued(taken: list) -> None:
    """Build the queued batches ``taken``: those of one backend together where it
    ``merges_batches`` (one ``_compile_items``, which the cpu device builds in one compiler
    run or one per core);
    where that fails, each batch alone, so a kernel that does not build fails only the
    futures of its own batch."""
    groups: dict[int, list] = {}
    for j, entry in enumerate(taken):  # (a backend that does not merge: each batch alone)
        groups.setdefault(id(entry[0]) if entry[0].merges_batches else -1 - j, []).append(entry)
    for group in groups.values():
        backend, ready = group[0][0], []
        for _, items, futures, on_success, deadline in group:
            try:
                ready.append((items(lambda d=deadline: _yield_to_program(d)) if callable(items) else items,
                              futures, on_success))
            except BaseException as e:  # noqa: BLE001 - (lowering failed: this batch's kernels get the error)
                _settle(futures, e)
        if len(ready) > 1:
            try:
                with in_background():  # (the compiler at low priority: see backends.base)
                    progs = _compile_items(backend, [it for items, _, _ in ready for it in items])
            except BaseException:  # noqa: BLE001 - built again batch by batch below
                pass
            else:
                for items, futures, on_success in ready:
                    _settle(futures, progs[:len(items)], on_success)
                    progs = progs[len(items):]
                continue
        for items, futures, on_success in ready:
            try:
                with in_background():
                    progs = _compile_items(backend, items)
            except BaseException as e:  # noqa: BLE001 - surfaces where a future is asked for its program
                _settle(futures, e)
            else:
                _settle(futures, progs, on_success)


def _settle(futures: list, result, on_success=None) -> None:
    """Each future gets its program (``result`` a list) or the error (``result`` an exception)."""
    if isinstance(result, BaseException):
        for f in futures:
            f.set_exception(result)
        return
    for f, p in zip(futures, result):
        f.set_result(p)
    if on_success is not None:
        try:
            on_success()
        except Exception as e:  # noqa: BLE001 - (storing a plan: the programs are built and kept)
            if debug.level & 2:
                debug.log(f"a background build's follow-up failed ({type(e).__name__}: {e})")


def _compile_later(backend, kernels: list, on_success=None) -> None:
    """Compile ``kernels``' generic programs in one background batch; each kernel runs on
    the host tier until its program is ready."""
    futures = []
    for c in kernels:
        c.pending = Future()
        futures.append(c.pending)

    def items(pace) -> list:
        for c in kernels:
            if c.frozen is not None:
                pace()  # (each kernel's lowering waits for a pause in the program: see _yield_to_program)
                _lower_frozen(backend, c)
        return [(c.kernel, c.source) for c in kernels]
    _background(backend, items, futures, on_success)


def _show(dev: Device, kernel: Kernel, source: str, what: str) -> None:
    if debug.level & 8:
        debug.log(f"{what}IR:\n" + kernel.pretty())
    if debug.level & 16:
        debug.log(f"{what}source ({dev.name}):\n{source if debug.level & 64 else _strip_preamble(source)}")


def _work_positions(root: Node, spec, order: list, pos: dict) -> tuple[tuple, bool]:
    """Walk positions of the kernel's output and of the inputs of its reductions: the
    largest of their sizes estimates the kernel's work."""
    stop = {order[i] for i in spec.inputs}
    out, has_reduce, seen, stack = [pos[root]], False, set(), [root]
    stop = {id(n) for n in stop}
    while stack:
        x = stack.pop()
        if id(x) in seen or id(x) in stop or x.op == "BUFFER":
            continue
        seen.add(id(x))
        if x.op == "REDUCE":
            has_reduce = True
            out.append(pos[x.srcs[0]])
        stack.extend(x.srcs)
    return tuple(out), has_reduce


# ---------------------------------------------------------------------- arguments
_F32, _U32 = struct.Struct("<f"), struct.Struct("<I")
_F64, _I64 = struct.Struct("<d"), struct.Struct("<q")


def _i64(v) -> int:
    v = int(v)
    return v if -(1 << 63) <= v < (1 << 63) else ((v + (1 << 63)) % (1 << 64)) - (1 << 63)


def _f32_bits(v) -> int:
    try:
        return _U32.unpack(_F32.pack(float(v)))[0]
    except OverflowError:  # out of float32 range: rounds to +-inf, as the C literal would
        with np.errstate(over="ignore"):
            return int(np.array(float(v)).astype(np.float32).view(np.uint32))


def _f64_bits(v) -> int:
    return _I64.unpack(_F64.pack(float(v)))[0]


def _by_value(encode):
    """``encode`` remembering Python float constants by value (a loop's constants come back:
    ~200 -> ~100 ns a constant) - but not zeros, whose sign a cached -0.0 or 0.0 would not
    keep: they are equal keys."""
    seen: dict = {}

    def f(v) -> int:
        if type(v) is float and v:
            r = seen.get(v)
            if r is None:
                if len(seen) > 4096:
                    seen.clear()
                r = seen[v] = encode(v)
            return r
        return encode(v)
    return f


_f32 = _by_value(_f32_bits)
_f64 = _by_value(_f64_bits)


def _c64(v) -> tuple:
    v = complex(v)
    return _f32(v.real), _f32(v.imag)


def _c128(v) -> tuple:
    v = complex(v)
    return _f64(v.real), _f64(v.imag)


def _bool(v) -> int:
    return 1 if v else 0


_ENCODERS = {"b": "_bool", "i": "_i64", "u": "_i64"}


def _encoder(d: dt.DType) -> str:
    if d.kind == "f":
        return "_f64" if d is dt.float64 else "_f32"
    if d.kind == "c":
        return "*_c128" if d is dt.complex128 else "*_c64"
    return _ENCODERS[d.kind]


# how a kernel argument of each kind is read from node ``o`` of the walk order (``d``: the
# axis; ``enc``: the encoder of a value's dtype): a size, a slice start, a pad width, a value
_ARG_READS = {"dim": "{o}.shape[{d}]", "start": "{o}.arg[{d}][0]", "before": "{o}.arg[0][{d}][0]",
              "after": "{o}.arg[0][{d}][1]", "const": "{enc}({o}.arg)", "padval": "{enc}({o}.arg[1])"}


def _extractor(kernel: Kernel):
    """A function of the walk order returning the kernel's argument list (generated once per
    kernel, so a launch reads its arguments with one Python call)."""
    return _extractor_of(_extractor_text(kernel))


def _extractor_text(kernel: Kernel) -> str | None:
    """The source of ``_extractor``'s function (None: the kernel takes no arguments)."""
    if not kernel.args:
        return None
    parts = []
    for a in kernel.args:
        form = _ARG_READS.get(a.kind)
        if form is None:
            raise ValueError(a.kind)
        enc = _encoder(a.dtype) if "{enc}" in form else ""
        parts.append(form.format(o=f"o[{a.pos}]", d=a.d, enc=enc))
    return f"lambda o: ({', '.join(parts)},)"


_EXTRACT_ENV = {"_bool": _bool, "_i64": _i64, "_f32": _f32, "_f64": _f64, "_c64": _c64, "_c128": _c128}
_extractors: dict[str, object] = {}  # source -> its function (kernels of one shape share them)


def _extractor_of(text: str | None, code: bytes | None = None):
    """The function ``text`` defines; ``code``: its code as ``_stored_extract`` stored it
    (compiling the text was ~75-95 us a kernel: ~9 ms of a warm GaussianMixture fit)."""
    if text is None:
        return None
    fn = _extractors.get(text)
    if fn is None:
        if len(_extractors) > 4096:
            _extractors.clear()
        compiled = None
        if code is not None and code[:len(_CODE_TAG)] == _CODE_TAG:
            try:
                compiled = marshal.loads(code[len(_CODE_TAG):])
            except (EOFError, ValueError, TypeError):
                compiled = None
        if isinstance(compiled, types.CodeType):
            fn = types.FunctionType(compiled, dict(_EXTRACT_ENV))
        else:
            fn = eval(text, dict(_EXTRACT_ENV))  # noqa: S307 - our own generated expression
        _extractors[text] = fn
    return fn


# marshal's format is the interpreter's own: a stored code object is used only by the same one
_CODE_TAG = f"{sys.implementation.cache_tag}:{sys.version}:".encode()


def _stored_extract(kernel: Kernel | None) -> tuple:
    """(source, tagged code) of a kernel's argument extractor, for a stored plan: the code of
    the function ``_extractor_of`` made (and keeps) for it, not compiled again."""
    text = None if kernel is None else _extractor_text(kernel)
    if text is None:
        return None, None
    return text, _CODE_TAG + marshal.dumps(_extractor_of(text).__code__)


def _strip_preamble(src: str) -> str:
    cut = src.find(PREAMBLE_END)
    return src[cut + len(PREAMBLE_END) + 1:] if cut >= 0 else src


def _kernel_name(root: Node, kernel: Kernel) -> str:
    """e_<rank>d / r_<rank>d (generic: any size) for elementwise / reducing kernels."""
    kind = "r" if "REDUCE" in kernel.ops_summary else "e"
    return f"{kind}_{len(root.shape)}d"


def realize_all() -> None:
    """Realize every tensor user code still holds. Tensors are found through the garbage
    collector's list of live objects rather than registered at creation: registration
    cost every op a few microseconds, realize_all is rare. Only Tensors count (not graph
    nodes), so the graph between them still fuses."""
    import gc

    from .tensor import Tensor
    realize_nodes([o._node for o in gc.get_objects() if type(o) is Tensor and o._node.op != "BUFFER"])
