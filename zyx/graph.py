"""The lazy graph: one ``Node`` per primitive operation.

A Node is what a Tensor points at. Until it is realized it holds its op, its sources and
an argument; realizing turns it into a BUFFER leaf in place (its sources are dropped, so
the memory of the graph above it can go). Shapes and dtypes are concrete and checked
here, when the node is built, so errors surface at the call that is wrong.
"""
from __future__ import annotations

import math
from typing import Callable, Container, Iterable

from . import ops
from .dtypes import DType

Shape = tuple[int, ...]

class Node:
    __slots__ = ("op", "srcs", "arg", "shape", "dtype", "device", "buffer", "__weakref__")

    def __init__(self, op: str, srcs: tuple, arg, shape: Shape, dtype: DType, device, buffer=None):
        self.op, self.srcs, self.arg = op, srcs, arg
        self.shape, self.dtype, self.device, self.buffer = shape, dtype, device, buffer

    @property
    def realized(self) -> bool:
        return self.op == "BUFFER"

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def become_buffer(self, buffer) -> None:
        """Turn this node into a realized leaf holding ``buffer``; its graph is dropped."""
        self.op, self.srcs, self.arg, self.buffer = "BUFFER", (), None, buffer

    def __repr__(self) -> str:
        return f"Node({self.op}, {self.shape}, {self.dtype.name}, arg={self.arg!r})"


def post_order(root: Node, children: Callable[[Node], Iterable[Node]], known: Container = ()) -> list[Node]:
    """``root`` and the nodes below it, sources before their users, each once: below a
    node ``x`` the walk goes to ``children(x)`` (its sources inside the region of
    interest), but never into a node in ``known`` (answers the caller already has); an
    empty list where ``root`` is known. Iterative: graphs are deeper than Python's
    recursion limit."""
    order: list[Node] = []
    seen: set = set()
    stack = [root]
    while stack:
        x = stack[-1]
        if x in seen or x in known:
            stack.pop()
            continue
        pending = [s for s in children(x) if s not in seen and s not in known]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        seen.add(x)
        order.append(x)
    return order


def buffer_node(buffer, shape: Shape, dtype: DType, device) -> Node:
    return Node("BUFFER", (), None, tuple(shape), dtype, device, buffer)


def const(value, shape: Shape, dtype: DType, device) -> Node:
    return Node("CONST", (), value, tuple(shape), dtype, device)


def iota(shape: Shape, axis: int, dtype: DType, device) -> Node:
    """Each element holds its own index along ``axis``."""
    return Node("IOTA", (), axis, tuple(shape), dtype, device)


def rand_bits(shape: Shape, seed: int, offset: int, device, dtype) -> Node:
    """Counter-based random uint32 bits: element i holds philox(seed, offset + i)."""
    return Node("RAND", (), (seed, offset), tuple(shape), dtype, device)


# ---------------------------------------------------------------- elementwise
def elementwise(op: str, srcs: tuple[Node, ...], dtype: DType, arg=None) -> Node:
    shape = srcs[0].shape
    for s in srcs[1:]:
        if s.shape != shape:
            raise ValueError(f"{op}: operand shapes {[x.shape for x in srcs]} differ (broadcast them first)")
    return Node(op, tuple(srcs), arg, shape, dtype, srcs[0].device)


def cast(x: Node, dtype: DType, bitcast: bool = False) -> Node:
    if x.dtype is dtype:
        return x
    if x.op == "CONST" and not bitcast:
        return const(_cast_scalar(x.arg, dtype), x.shape, dtype, x.device)
    return Node("BITCAST" if bitcast else "CAST", (x,), dtype, x.shape, dtype, x.device)


def _cast_scalar(v, dtype: DType):
    import numpy as np
    return np.asarray(v).astype(dtype.np).item() if dtype.name != "bfloat16" else float(np.asarray(v).astype(dtype.np))


# ---------------------------------------------------------------- reduce
# A reduction with few outputs and a long reduced extent is built in two stages: the
# extent is cut into T chunks reduced in parallel into T partial results, which a second,
# small reduction combines. Every backend then has T x outputs of parallel work (a GPU
# work-item or CPU thread per chunk) instead of one sequential loop per output, and float
# sums gain accuracy. Thresholds: aim for >= SPLIT_PARALLEL partial results, chunks of
# >= SPLIT_MIN_CHUNK elements.
SPLIT_PARALLEL = 2048
SPLIT_MIN_CHUNK = 256
SPLIT_MIN_EXTENT = 1 << 13


def reduce(x: Node, kind: str, axes: tuple[int, ...]) -> Node:
    """Reduce over ``axes`` (normalized, sorted); reduced axes keep size 1."""
    if not axes:
        return x
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    extent = math.prod(x.shape[a] for a in axes)
    outputs = math.prod(shape)
    if extent >= SPLIT_MIN_EXTENT and outputs * 2 * SPLIT_MIN_CHUNK <= SPLIT_PARALLEL * SPLIT_MIN_CHUNK and \
            outputs < SPLIT_PARALLEL // 2:
        return _two_stage_reduce(x, kind, tuple(axes), shape, extent)
    return Node("REDUCE", (x,), (kind, tuple(axes)), shape, x.dtype, x.device)


def _two_stage_reduce(x: Node, kind: str, axes: tuple, shape: Shape, extent: int) -> Node:
    outputs = math.prod(shape)
    chunks = 1
    while chunks * 2 * outputs <= SPLIT_PARALLEL and extent // (chunks * 2) >= SPLIT_MIN_CHUNK:
        chunks *= 2
    if chunks < 2:
        return Node("REDUCE", (x,), (kind, axes), shape, x.dtype, x.device)
    rest = [i for i in range(len(x.shape)) if i not in axes]
    y = permute(x, axes + tuple(rest))
    rest_shape = tuple(x.shape[i] for i in rest)
    lead = x.shape[axes[0]]
    c = chunks
    while c >= 2 and lead % c:
        c //= 2
    if len(axes) > 1 and c >= max(2, chunks // 2) and extent // c >= SPLIT_MIN_CHUNK:
        # cut only the leading reduced axis: the others keep their own loops, so the
        # kernel's indices stay affine (flattening them would need div/mod per element)
        inner = tuple(x.shape[a] for a in axes[1:])
        y = reshape(y, (c, lead // c) + inner + rest_shape)
        red = tuple(range(1, 2 + len(inner)))
        part = Node("REDUCE", (y,), (kind, red), (c,) + (1,) * (1 + len(inner)) + rest_shape, x.dtype, x.device)
        part = reshape(part, (c, 1) + rest_shape)
        total = Node("REDUCE", (part,), (kind, (0,)), (1, 1) + rest_shape, x.dtype, x.device)
        return reshape(total, shape)
    y = reshape(y, (extent,) + rest_shape)
    per = -(-extent // chunks)
    if per * chunks != extent:
        y = pad(y, ((0, per * chunks - extent),) + ((0, 0),) * len(rest), ops.reduce_identity(kind, x.dtype))
    y = reshape(y, (chunks, per) + rest_shape)
    part = Node("REDUCE", (y,), (kind, (1,)), (chunks, 1) + rest_shape, x.dtype, x.device)
    total = Node("REDUCE", (part,), (kind, (0,)), (1, 1) + rest_shape, x.dtype, x.device)
    return reshape(total, shape)


def gather(src: Node, idx: Node, axis: int) -> Node:
    """out[..i..] = src[.. idx[..i..] ..] along ``axis``; src and idx agree on every other
    axis (generic kernels rely on it: those sizes are one argument)."""
    if len(src.shape) != len(idx.shape) or any(a != b for d, (a, b) in enumerate(zip(src.shape, idx.shape))
                                               if d != axis):
        raise ValueError(f"gather: source shape {src.shape} and index shape {idx.shape} must agree "
                         f"on every axis but {axis}")
    return Node("GATHER", (src, idx), axis, idx.shape, src.dtype, src.device)


# ---------------------------------------------------------------- movement
def _const_like(x: Node, shape: Shape) -> Node:
    return const(x.arg, shape, x.dtype, x.device)


def reshape(x: Node, shape: Shape) -> Node:
    shape = tuple(shape)
    if shape == x.shape:
        return x
    if math.prod(shape) != x.numel:
        raise ValueError(f"cannot reshape an array of shape {x.shape} ({x.numel} elements) to {shape}")
    if x.op == "CONST":
        return _const_like(x, shape)
    if x.op == "RESHAPE":
        x = x.srcs[0]
        if x.shape == shape:
            return x
    return Node("RESHAPE", (x,), shape, shape, x.dtype, x.device)


def permute(x: Node, perm: tuple[int, ...]) -> Node:
    perm = tuple(perm)
    if perm == tuple(range(len(perm))):
        return x
    shape = tuple(x.shape[p] for p in perm)
    if x.op == "CONST":
        return _const_like(x, shape)
    if x.op == "PERMUTE":
        inner = x.arg
        return permute(x.srcs[0], tuple(inner[p] for p in perm))
    return Node("PERMUTE", (x,), perm, shape, x.dtype, x.device)


def expand(x: Node, shape: Shape) -> Node:
    shape = tuple(shape)
    if shape == x.shape:
        return x
    # a 0-d value broadcasts to any shape directly (no reshape to rank first: optimizer steps
    # broadcast several 0-d hyperparameters per parameter, every step)
    if x.shape and (len(shape) != len(x.shape) or any(a != b and a != 1 for a, b in zip(x.shape, shape))):
        raise ValueError(f"cannot broadcast shape {x.shape} to {shape}")
    if x.op == "CONST":
        return _const_like(x, shape)
    if x.op == "EXPAND":
        x = x.srcs[0]
    return Node("EXPAND", (x,), shape, shape, x.dtype, x.device)


def shrink(x: Node, bounds: tuple[tuple[int, int, int], ...]) -> Node:
    """bounds[d] = (start, size, step): output index i reads input start + step*i."""
    bounds = tuple(bounds)
    if all(b == (0, s, 1) for b, s in zip(bounds, x.shape)):
        return x
    shape = tuple(b[1] for b in bounds)
    if x.op == "CONST":
        return _const_like(x, shape)
    return Node("SHRINK", (x,), bounds, shape, x.dtype, x.device)


def pad(x: Node, pads: tuple[tuple[int, int], ...], value) -> Node:
    pads = tuple((int(a), int(b)) for a, b in pads)
    if all(p == (0, 0) for p in pads):
        return x
    shape = tuple(s + a + b for s, (a, b) in zip(x.shape, pads))
    if x.op == "CONST" and x.arg == value:
        return _const_like(x, shape)
    return Node("PAD", (x,), (pads, value), shape, x.dtype, x.device)


def alias(x: Node) -> Node:
    """A new node with the same value as ``x`` but its own identity (the tape keys its
    records by node identity): a realized leaf shares the buffer; anything else is an
    identity reshape, which costs nothing in a kernel."""
    if x.op == "BUFFER":
        return buffer_node(x.buffer, x.shape, x.dtype, x.device)
    if x.op == "CONST":
        return const(x.arg, x.shape, x.dtype, x.device)
    return Node("RESHAPE", (x,), x.shape, x.shape, x.dtype, x.device)


def is_elementwise(n: Node) -> bool:
    return n.op in ops.ELEMENTWISE
