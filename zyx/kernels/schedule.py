"""The scheduler: cut a lazy graph into the fewest kernels.

Rules (see docs/ARCHITECTURE.md, "Fusion"):

* every requested target that is not yet a buffer is a kernel output;
* elementwise and movement nodes never get a kernel of their own: they are inlined
  (recomputed) into every kernel that reads them;
* a reduction is inlined into its consumer when every path from it is a chain of
  elementwise and movement ops without an EXPAND ending at the same kernel output (paths
  that branch and meet again only through elementwise ops), so the reduction runs once
  per output element - e.g. ``x.sum(1) * 2``, ``((x*2+y).exp()*z).sum()`` or a
  convolution with its bias and ReLU is one kernel. A reduction feeding
  another reduction is stored (a matmul nested in a sum would lose its tiled loops). A
  reduction that is broadcast back (softmax, layernorm) or shared is stored;
* a GATHER's source is read through data-dependent indices; a reduction feeding it is
  stored;
* computed values broadcast many times over (an EXPAND by >= 8x of >= 4096 computed
  elements with an expensive op) are stored rather than recomputed per use;
* a device may bind at most ``max_buffers`` buffers per kernel (the backend attribute,
  output included; WGPU's default is 8): a kernel that would read more is split by
  storing fused sub-expressions of it as kernels of their own (``_fit_buffer_limit``).

The walk also produces the graph's *structure key*: identical structure (ops, args,
shapes, dtypes, the aliasing of leaves) means an identical schedule, so the realizer
caches compiled schedules by it and a training loop's second step compiles nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import dtypes as dt
from .. import ops
from ..graph import Node, post_order
from .lower import is_plain_zero, reshape_groups


@dataclass
class KernelSpec:
    out: int  # position of the output node in the walk
    inputs: list[int]  # positions of the nodes it loads
    rand: list[int]  # positions of RAND nodes whose (seed, offset) are runtime scalars


def walk(targets: list[Node]) -> tuple[list[Node], tuple, dict[Node, int]]:
    """``python_walk``'s (order, key, positions): from the C walk once it is loaded (it then
    replaces this function), from ``python_walk`` until then."""
    if not _native_asked:  # the first walk of the process: load (or start building) the C walk
        _ask_native()
    return python_walk(targets)


def walk_key(targets: list[Node]) -> tuple[list[Node], tuple]:
    """``walk``'s (order, key), without the positions (a realize that hits the schedule cache
    needs none; the C walk then builds no dict)."""
    if not _native_asked:
        _ask_native()
    order, key, _ = python_walk(targets)
    return order, key


def python_walk(targets: list[Node]) -> tuple[list[Node], tuple, dict[Node, int]]:
    """Post-order walk over unrealized nodes. Returns (nodes, structure key, position of each node).

    The key holds what the generated code depends on - ops, dtypes, ranks, which axes have
    size 0 or 1, reshape groupings, slice steps and whole-axis slices, which sides pad, and
    the size tests the scheduler makes - but no size, offset or constant value: those are
    arguments of generic kernels (docs/ARCHITECTURE.md, "Compile once"). This runs on every
    realize, cache hit or not, so it is kept lean: one dict lookup and one tuple per node.
    All nodes of one walk share a device, so the key omits it."""
    order: list[Node] = []
    pos: dict[Node, int] = {}  # nodes hash by identity
    key: list = []
    kappend, oappend = key.append, order.append
    sigs = _SIGS
    for t in targets:
        if t in pos:
            continue
        if not t.srcs:  # a leaf target (a constant or a random tensor realized as it stands)
            pos[t] = len(order)
            oappend(t)
            kappend(_leaf_key(t))
            continue
        stack = [t]
        spop, spush = stack.pop, stack.append
        while stack:
            n = stack[-1]
            if n in pos:
                spop()
                continue
            srcs = n.srcs  # (never empty: only nodes with sources are pushed)
            pending = False
            for s in srcs:
                if s not in pos:
                    if s.srcs:
                        spush(s)
                        pending = True
                    else:  # a leaf: emitted at once (half the nodes of typical graphs; its
                        # key item is ``_leaf_key``'s, its two common cases inlined: this loop is per realize)
                        pos[s] = len(order)
                        oappend(s)
                        sop = s.op
                        sig = sigs.get(s.shape)
                        if sig is None:
                            sig = _sig(s.shape)
                        # dtypes enter the key by name: a str caches its hash, a DType hashes
                        # like NumPy's dtype (a Python-level __hash__), and the key is hashed
                        # at every realize
                        if sop == "BUFFER":
                            kappend((sig, s.dtype.name))
                        elif sop == "CONST":  # the value is an argument, but for booleans (see GenericSizes.value)
                            kappend((sop, sig, s.dtype.name, bool(s.arg) if s.dtype is _BOOL else None))
                        else:
                            kappend(_leaf_key(s))
            if pending:
                continue
            spop()
            pos[n] = len(order)
            oappend(n)
            shape = n.shape
            sig = sigs.get(shape)
            if sig is None:
                sig = _sig(shape)
            ns = len(srcs)
            if ns == 2:  # (the ops with a key item of their own have one source)
                kappend((n.op, n.arg, sig, n.dtype.name, pos[srcs[0]], pos[srcs[1]]))
            elif ns == 1:
                op = n.op
                s0 = srcs[0]
                kappend((op, _special_arg(n, s0) if op in _SPECIAL else n.arg, sig, n.dtype.name, pos[s0]))
            else:
                kappend((n.op, n.arg, sig, n.dtype.name, tuple([pos[s] for s in srcs])))
    kappend(tuple([pos[t] for t in targets]))
    return order, tuple(key), pos


_SPECIAL = {"RESHAPE", "SHRINK", "PAD", "EXPAND", "CAST", "BITCAST"}  # (one-source ops keyed by shape facts)


def _special_arg(n: Node, s0: Node):
    """The key's argument of a node of ``_SPECIAL`` with source ``s0``: the facts of its
    shapes the generated code depends on, not the sizes."""
    op = n.op
    if op == "RESHAPE":
        return reshape_groups(n.shape, s0.shape)
    if op == "SHRINK":
        return tuple((step, start == 0 and step == 1 and size == sz) for (start, size, step), sz in zip(n.arg, s0.shape))
    if op == "PAD":
        return (tuple((b > 0, a > 0) for b, a in n.arg[0]), is_plain_zero(n.arg[1]),
                bool(n.arg[1]) if n.dtype is _BOOL else None)
    if op == "EXPAND":
        return _expand_bits(n)
    return n.arg.name  # CAST, BITCAST


def _leaf_key(n: Node) -> tuple:
    sig = _SIGS.get(n.shape)
    if sig is None:
        sig = _sig(n.shape)
    op = n.op
    if op == "BUFFER":
        return (sig, n.dtype.name)
    if op == "CONST":
        return (op, sig, n.dtype.name, bool(n.arg) if n.dtype is _BOOL else None)
    if op == "RAND":
        return (op, sig)
    return (op, n.arg, sig, n.dtype.name, ())


_SIGS: dict = {}
_BOOL = dt.bool_


def _sig(shape: tuple) -> int:
    """Which axes are empty (0), single (1) or longer (2): the part of a shape in the key,
    as the base-3 digits of an int after a leading 1 (an int: the key is hashed at every
    realize, and a tuple's hash is computed anew each time)."""
    out = 1
    for s in shape:
        out = out * 3 + (0 if s == 0 else 1 if s == 1 else 2)
    if len(_SIGS) > 65536:
        _SIGS.clear()
    _SIGS[shape] = out
    return out


def _expand_bits(e: Node) -> tuple:
    """The outcomes of ``_store_before_expand``'s size tests for each node it may stop at."""
    out = []
    c = e.srcs[0]
    while True:
        out.append(c.numel >= STORE_MIN_ELEMENTS and e.numel >= STORE_EXPAND_FACTOR * c.numel)
        if c.op in ops.MOVEMENT and c.op != "PAD":
            c = c.srcs[0]
        else:
            return tuple(out)


def plan(nodes: list[Node], pos: dict[Node, int], targets: list[Node],
         max_buffers: int | None = None) -> list[KernelSpec]:
    """Choose kernel boundaries and list the kernels in execution order.

    ``max_buffers`` (None: unlimited) is the most buffers one kernel may bind, its output
    included; kernels that would read more are split (see ``_fit_buffer_limit``)."""
    consumers: dict[int, list[Node]] = {}
    for n in nodes:
        for s in n.srcs:
            consumers.setdefault(id(s), []).append(n)
    target_ids = {id(t) for t in targets}
    boundary: set[int] = {id(t) for t in targets if t.op != "BUFFER"}
    for n in nodes:
        if n.op == "REDUCE" and id(n) not in boundary and not _inlinable(n, consumers, target_ids):
            boundary.add(id(n))
        if n.op == "GATHER":
            src = n.srcs[0]
            if src.op == "REDUCE" or _contains_reduce(src):
                boundary.add(id(src))
        if n.op == "EXPAND":
            c = _store_before_expand(n, boundary)
            if c is not None:
                boundary.add(id(c))
    _store_large_shared(nodes, consumers, boundary)
    _limit_depth(nodes, boundary)
    if max_buffers is not None:
        _fit_buffer_limit(nodes, boundary, max_buffers)
    # the nodes a kernel reads: realized buffers and other kernels' outputs
    specs = []
    for n in nodes:  # post-order: dependencies first
        if id(n) not in boundary:
            continue
        inputs: list[int] = []
        rands: list[int] = []
        seen: set[int] = set()
        stack = list(n.srcs)
        while stack:
            s = stack.pop()
            if id(s) in seen:
                continue
            seen.add(id(s))
            if s.op == "BUFFER" or id(s) in boundary:
                inputs.append(pos[s])
            else:
                if s.op == "RAND":
                    rands.append(pos[s])
                stack.extend(s.srcs)
        if n.op == "RAND":
            rands.append(pos[n])
        specs.append(KernelSpec(pos[n], sorted(inputs), sorted(rands)))
    return specs


_EXPENSIVE = ops.TRANSCENDENTAL | {"DIV", "SQRT", "IDIV", "MOD", "RECIP", "RAND"}
STORE_EXPAND_FACTOR = 8
STORE_MIN_ELEMENTS = 4096


def _store_before_expand(e: Node, boundary: set):
    """The node under a broadcast worth storing instead of recomputing: computed values
    (an expensive op, or several cheap ones) of at least STORE_MIN_ELEMENTS elements that
    the broadcast would re-evaluate STORE_EXPAND_FACTOR times or more - e.g. a lazily
    standardized matrix fed to a matmul (measured 5x faster stored)."""
    c = e.srcs[0]
    while c.op in ops.MOVEMENT and c.op != "PAD" and id(c) not in boundary:
        c = c.srcs[0]
    if c.op == "BUFFER" or id(c) in boundary or c.op not in ops.ELEMENTWISE:
        return None
    if c.numel < STORE_MIN_ELEMENTS or e.numel < STORE_EXPAND_FACTOR * c.numel:
        return None
    cost, stack, seen = 0, [c], set()
    while stack and cost < 8:
        x = stack.pop()
        if id(x) in seen or x.op == "BUFFER" or id(x) in boundary:
            continue
        seen.add(id(x))
        if x.op in ops.ELEMENTWISE or x.op == "RAND":
            cost += 8 if x.op in _EXPENSIVE else (0 if x.op == "CAST" else 1)
        stack.extend(x.srcs)
    return c if cost >= 8 else None


STORE_SHARED_COST = 64


def _store_large_shared(nodes: list[Node], consumers: dict, boundary: set) -> None:
    """Store an elementwise value read by several consumers when inlining it would
    re-evaluate more than STORE_SHARED_COST ops per use. Recurrences (an RNN's state, its
    gradient through time) otherwise inline their whole history into every kernel that
    reads a step: the kernels grow quadratically and their compile time explodes."""
    cost: dict[int, int] = {}
    for n in nodes:  # post-order
        if n.op == "BUFFER" or id(n) in boundary:
            cost[id(n)] = 0
            continue
        c = 1 + sum(cost.get(id(s), 0) for s in n.srcs)
        if c > STORE_SHARED_COST and n.op in ops.ELEMENTWISE and len(consumers.get(id(n), ())) > 1:
            boundary.add(id(n))
            c = 0
        cost[id(n)] = min(c, 1 << 30)


MAX_FUSED_DEPTH = 192


def _limit_depth(nodes: list[Node], boundary: set) -> None:
    """Store a node whose fused region would be deeper than MAX_FUSED_DEPTH ops: a long
    chain of lazy steps (a loop of in-place updates, an iterative solver) then becomes a
    series of kernels rather than one kernel whose lowering recurses once per op (Python's
    recursion limit) and whose source grows without bound."""
    depth: dict[int, int] = {}
    for n in nodes:  # post-order
        if n.op == "BUFFER" or id(n) in boundary:
            depth[id(n)] = 0
            continue
        d = 1 + max((depth.get(id(s), 0) for s in n.srcs), default=0)
        if d > MAX_FUSED_DEPTH and n.srcs:
            boundary.add(id(n))
            d = 0
        depth[id(n)] = d


def _contains_reduce(n: Node) -> bool:
    stack, seen = [n], set()
    while stack:
        x = stack.pop()
        if id(x) in seen or x.op == "BUFFER":
            continue
        seen.add(id(x))
        if x.op == "REDUCE":
            return True
        stack.extend(x.srcs)
    return False


def _inlinable(r: Node, consumers: dict, target_ids: set) -> bool:
    """Whether reduction ``r`` can be computed inside the one kernel that uses it: every
    path from it runs through elementwise and movement ops (no EXPAND, GATHER or other
    reduction) to the same kernel output. The paths may branch and meet again - ``relu``
    of a convolution reads the sum twice, ``where(s <= 0, 0, s)`` - but only through
    elementwise ops, so the kernel evaluates ``r`` at one index and uses it twice."""
    frontier, seen, sinks, branched = [r], {id(r)}, set(), False
    while frontier:
        c = frontier.pop()
        cs = {id(x): x for x in consumers.get(id(c), [])}
        if not cs:
            return False
        branched |= len(cs) > 1
        for nxt in cs.values():
            if nxt.op in ("EXPAND", "GATHER"):
                return False
            if nxt.op == "REDUCE":
                # a reduction nested in another one's loop would lose the tiled fast path
                # of its own kernel (matmul inside a sum ran at scalar speed): store it
                return False
            if nxt.op not in ops.ELEMENTWISE and nxt.op not in ops.MOVEMENT:
                return False
            if id(nxt) in target_ids:
                sinks.add(id(nxt))
                continue
            if branched and nxt.op in ops.MOVEMENT:
                return False  # the branches would read r at different indices
            if id(nxt) not in seen:
                seen.add(id(nxt))
                frontier.append(nxt)
        if len(sinks) > 1:
            return False
    return len(sinks) == 1


# ---------------------------------------------------------------------- buffer limit
_HALF = (dt.float16, dt.bfloat16)


def _fit_buffer_limit(nodes: list[Node], boundary: set, max_buffers: int) -> None:
    """Add boundaries until no kernel binds more than ``max_buffers`` buffers (its output
    and every distinct buffer it loads).

    Each kernel over the limit is split bottom-up over its fused region (``_split``): the
    first node whose inputs alone overflow stores its largest operands - fused
    sub-expressions that each read several of the inputs and fit themselves - as kernels
    of their own, so the fewest, largest pieces are cut off. Splitting one kernel can
    change another that inlined the same nodes, so this repeats until every kernel fits.
    A stored node is computed by the same ops in the same order as when it was inlined,
    so the values do not change (except where a backend's code already differs between
    kernels: the C renderer's vectorized transcendentals and float-sum order); nodes of
    a half-precision dtype (computed in float32 inside a kernel, rounded only when
    stored) are stored only when nothing else helps."""
    most = max_buffers - 1  # inputs besides the output
    changed = True
    while changed:
        changed = False
        memo: dict = {}  # valid until the next split
        for n in nodes:  # post-order
            if id(n) in boundary and n.numel and len(_reads(n, boundary, memo)) > most:
                _split(n, boundary, most)
                changed = True
                memo = {}


def _reads(root: Node, boundary: set, memo: dict) -> frozenset:
    """Ids of the buffers (leaves and stored nodes) a kernel computing ``root`` inline
    loads; ``memo`` holds the answer for the nodes below (by node), valid while
    ``boundary`` is."""
    for x in post_order(root, lambda x: _fused_srcs(x, boundary), memo):
        acc: set[int] = set()
        for s in x.srcs:
            if s.op == "BUFFER" or id(s) in boundary:
                acc.add(id(s))
            else:
                acc |= memo[s]
        memo[x] = frozenset(acc)
    return memo[root]


def _fused_srcs(x: Node, boundary: set) -> list[Node]:
    """The sources of ``x`` computed inline in its kernel (neither buffers nor stored)."""
    return [s for s in x.srcs if s.op != "BUFFER" and id(s) not in boundary]


def _split(root: Node, boundary: set, most: int) -> None:
    """Store nodes of ``root``'s fused region until it reads at most ``most`` buffers."""
    memo: dict = {}
    for c in post_order(root, lambda x: _fused_srcs(x, boundary)):  # the region, root last
        while len(_reads(c, boundary, memo)) > most:
            cands = _operands(c, boundary, memo, exact=True) or _operands(c, boundary, memo, exact=False)
            if not cands:
                dev = root.device
                raise RuntimeError(
                    f"a {c.op} node (shape {c.shape}) reads {len(_reads(c, boundary, memo))} distinct buffers by "
                    f"itself, but device {getattr(dev, 'name', dev)} allows at most {most + 1} buffers per "
                    f"kernel (its max_buffers, output included), so no split can fit it")

            def after(x: Node) -> tuple:
                boundary.add(id(x))
                size = len(_reads(c, boundary, {}))
                boundary.discard(id(x))
                return (size, -len(memo[x]))  # then the one covering most inputs
            boundary.add(id(min(cands, key=after)))
            memo = {}


def _operands(c: Node, boundary: set, memo: dict, exact: bool) -> list[Node]:
    """The nodes under ``c`` worth storing: the first storable node down each path
    (movement ops are looked through) that reads two or more buffers. With ``exact``,
    half-precision values (other than casts, which round anyway) are looked through
    too, since storing them would round what the fused kernel keeps in float32."""
    out, seen, stack = [], set(), list(c.srcs)
    while stack:
        x = stack.pop()
        if x.op == "BUFFER" or id(x) in boundary or id(x) in seen:
            continue
        seen.add(id(x))
        storable = x.op in ops.ELEMENTWISE or x.op in ("REDUCE", "GATHER")
        if storable and not (exact and x.dtype in _HALF and x.op != "CAST"):
            if len(_reads(x, boundary, memo)) >= 2:
                out.append(x)
            continue
        stack.extend(x.srcs)
    return out


# ---------------------------------------------------------------------- the C walk
_native_asked = False


def _ask_native() -> None:
    """Use the C walk (``_walk_native``) from now on where it is built or loads; it replaces
    ``walk`` in this module, so a realize calls the C function directly."""
    global _native_asked
    _native_asked = True
    from . import _walk_native
    _walk_native.module(ready=_install)  # (installs it now, or when its build lands)


def _install(mod) -> None:
    global walk, walk_key
    mod.init(Node, _SIGS, _sig, _leaf_key, _special_arg, _SPECIAL, _BOOL)
    walk, walk_key = mod.walk, mod.walk_key
