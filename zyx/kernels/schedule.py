"""The scheduler: cut a lazy graph into the fewest kernels.

Rules (see docs/ARCHITECTURE.md, "Fusion"):

* every requested target that is not yet a buffer is a kernel output;
* elementwise and movement nodes never get a kernel of their own: they are inlined
  (recomputed) into every kernel that reads them;
* a reduction is inlined into its consumer when the path to that consumer is a single
  chain (no other consumers) of elementwise and movement ops without an EXPAND, ending
  at a kernel output, so the reduction runs once per output element - e.g.
  ``x.sum(1) * 2`` or ``((x*2+y).exp()*z).sum()`` is one kernel. A reduction feeding
  another reduction is stored (a matmul nested in a sum would lose its tiled loops). A
  reduction that is broadcast back (softmax, layernorm) or shared is stored;
* a GATHER's source is read through data-dependent indices; a reduction feeding it is
  stored;
* computed values broadcast many times over (an EXPAND by >= 8x of >= 4096 computed
  elements with an expensive op) are stored rather than recomputed per use.

The walk also produces the graph's *structure key*: identical structure (ops, args,
shapes, dtypes, the aliasing of leaves) means an identical schedule, so the realizer
caches compiled schedules by it and a training loop's second step compiles nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

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
    for t in targets:
        stack = [t]
        while stack:
            n = stack[-1]
            if id(n) in pos:
                stack.pop()
                continue
            srcs = n.srcs
            if srcs:
                pending = [s for s in srcs if id(s) not in pos]
                if pending:
                    stack.extend(pending)
                    continue
            stack.pop()
            pos[id(n)] = len(order)
            order.append(n)
            op = n.op
            if op == "BUFFER":
                key.append((n.shape, n.dtype))
            elif op == "RAND":  # seed and offset are runtime arguments, not structure
                key.append((op, n.shape))
            elif op == "CONST" or op == "PAD":  # 0.0 == -0.0 and nan != nan: key floats by repr
                key.append((op, _value_key(n.arg), n.shape, n.dtype, tuple([pos[id(s)] for s in srcs])))
            else:
                key.append((op, n.arg, n.shape, n.dtype, tuple([pos[id(s)] for s in srcs])))
    key.append(tuple([pos[id(t)] for t in targets]))
    return order, tuple(key), pos


def _value_key(arg):
    """A cache key for a constant (or a PAD's (pads, value)) that tells -0.0 from 0.0 and
    matches NaN with NaN, which plain float equality does not."""
    if type(arg) is tuple:
        return tuple(_value_key(a) for a in arg)
    if type(arg) is float or type(arg) is complex:
        return (type(arg).__name__, repr(arg))
    return arg


def plan(nodes: list[Node], pos: dict[int, int], targets: list[Node]) -> list[KernelSpec]:
    """Choose kernel boundaries and list the kernels in execution order."""
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
    c = r
    while True:
        cs = consumers.get(id(c), [])
        if len(cs) != 1:
            return False
        nxt = cs[0]
        if nxt.op in ("EXPAND", "GATHER"):
            return False
        if nxt.op == "REDUCE":
            # a reduction nested in another one's loop would lose the tiled fast path
            # of its own kernel (matmul inside a sum ran at scalar speed): store it
            return False
        if id(nxt) in target_ids:
            return True
        if nxt.op not in ops.ELEMENTWISE and nxt.op not in ops.MOVEMENT:
            return False
        c = nxt
