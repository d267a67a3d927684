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
from ..graph import Node


@dataclass
class KernelSpec:
    out: int  # position of the output node in the walk
    inputs: list[int]  # positions of the nodes it loads
    rand: list[int]  # positions of RAND nodes whose (seed, offset) are runtime scalars


def walk(targets: list[Node]) -> tuple[list[Node], tuple, dict[int, int]]:
    """Post-order walk over unrealized nodes. Returns (nodes, structure key, pos of id).

    This runs on every realize, cache hit or not, so it is kept lean: one dict lookup and
    one tuple per node. All nodes of one walk share a device, so the key omits it."""
    order: list[Node] = []
    pos: dict[int, int] = {}
    key: list = []
    kappend, oappend = key.append, order.append
    for t in targets:
        if id(t) in pos:
            continue
        stack = [t]
        spop, spush = stack.pop, stack.append
        while stack:
            n = stack[-1]
            nid = id(n)
            if nid in pos:
                spop()
                continue
            srcs = n.srcs
            ready = True
            for s in srcs:
                if id(s) not in pos:
                    spush(s)
                    ready = False
            if not ready:
                continue
            spop()
            pos[nid] = len(order)
            oappend(n)
            op = n.op
            if op == "BUFFER":
                kappend((n.shape, n.dtype))
            elif op == "RAND":  # seed and offset are runtime arguments, not structure
                kappend((op, n.shape))
            elif op == "CONST" or op == "PAD":  # 0.0 == -0.0 and nan != nan: key floats by repr
                kappend((op, _value_key(n.arg), n.shape, n.dtype, tuple([pos[id(s)] for s in srcs])))
            elif len(srcs) == 1:
                kappend((op, n.arg, n.shape, n.dtype, pos[id(srcs[0])]))
            else:
                kappend((op, n.arg, n.shape, n.dtype, tuple([pos[id(s)] for s in srcs])))
    kappend(tuple([pos[id(t)] for t in targets]))
    return order, tuple(key), pos


def _value_key(arg):
    """A cache key for a constant (or a PAD's (pads, value)) that tells -0.0 from 0.0 and
    matches NaN with NaN, which plain float equality does not."""
    if type(arg) is tuple:
        return tuple(_value_key(a) for a in arg)
    if type(arg) is float or type(arg) is complex:
        return (type(arg).__name__, repr(arg))
    return arg


def plan(nodes: list[Node], pos: dict[int, int], targets: list[Node],
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
                inputs.append(pos[id(s)])
            else:
                if s.op == "RAND":
                    rands.append(pos[id(s)])
                stack.extend(s.srcs)
        if n.op == "RAND":
            rands.append(pos[id(n)])
        specs.append(KernelSpec(pos[id(n)], sorted(inputs), sorted(rands)))
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
    loads; ``memo`` holds the answer for the nodes below, valid while ``boundary`` is."""
    stack = [root]
    while stack:
        x = stack[-1]
        if id(x) in memo:
            stack.pop()
            continue
        pending = [s for s in x.srcs if s.op != "BUFFER" and id(s) not in boundary and id(s) not in memo]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        acc: set[int] = set()
        for s in x.srcs:
            if s.op == "BUFFER" or id(s) in boundary:
                acc.add(id(s))
            else:
                acc |= memo[id(s)]
        memo[id(x)] = frozenset(acc)
    return memo[id(root)]


def _split(root: Node, boundary: set, most: int) -> None:
    """Store nodes of ``root``'s fused region until it reads at most ``most`` buffers."""
    order: list[Node] = []  # the region in post-order, root last
    done: set[int] = set()
    stack = [root]
    while stack:
        x = stack[-1]
        if id(x) in done:
            stack.pop()
            continue
        pending = [s for s in x.srcs if s.op != "BUFFER" and id(s) not in boundary and id(s) not in done]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        done.add(id(x))
        order.append(x)
    memo: dict = {}
    for c in order:
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
                return (size, -len(memo[id(x)]))  # then the one covering most inputs
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
