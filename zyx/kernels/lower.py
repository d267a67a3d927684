"""Lowering: one scheduled kernel (a root node and the nodes it reads) to kernel IR.

The lowerer walks the graph from the root with a *vector of index expressions*, one
per dimension of the node being evaluated. Movement ops never produce code: they only
rewrite that vector (reshape = linearize and split, permute = reorder, expand = 0,
shrink = start + step*i, pad = shift plus a validity gate). Elementwise ops become SSA
assignments; a reduction inlined into the kernel opens a loop nest with an
accumulator. Values are emitted at the outermost loop level their indices allow
(loop-invariant code motion) and shared when the same node is asked for at the same
index (common subexpressions).
"""
from __future__ import annotations

import math

from .. import dtypes as dt
from .. import ops
from ..graph import Node
from . import symbolic as sym
from .ir import Acc, AccUpdate, Assign, Kernel, Loop, Param, Store

Index = tuple  # tuple[Sym, ...]
Gate = tuple  # tuple[(Sym, lo, hi), ...] meaning lo <= Sym < hi for all


def strides_of(shape) -> tuple[int, ...]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def linear(idx: Index, shape) -> sym.Sym:
    out: sym.Sym = sym.num(0)
    for i, st, n in zip(idx, strides_of(shape), shape):
        if n != 1:
            out = out + i * st
    return out


def reshape_index(idx: Index, shape, src_shape) -> Index:
    """Index into ``src_shape`` of the element at ``idx`` of its reshape to ``shape``.

    Dimensions are matched in groups of equal products (size-1 dims ignored); a group that
    is one dim on both sides maps straight through, and only groups that really split or
    merge dims are linearized and split again. This keeps indices affine where they can
    be (a padded index can be negative outside its gate, where division would not fold)."""
    out_dims = [(i, s) for i, s in enumerate(shape) if s != 1]
    in_dims = [(i, s) for i, s in enumerate(src_shape) if s != 1]
    new: list = [sym.num(0)] * len(src_shape)
    a = b = 0
    while a < len(out_dims) and b < len(in_dims):
        ga, gb = [out_dims[a]], [in_dims[b]]
        pa, pb = out_dims[a][1], in_dims[b][1]
        a, b = a + 1, b + 1
        while pa != pb:
            if pa < pb:
                ga.append(out_dims[a])
                pa *= out_dims[a][1]
                a += 1
            else:
                gb.append(in_dims[b])
                pb *= in_dims[b][1]
                b += 1
        if len(ga) == 1 and len(gb) == 1:
            new[gb[0][0]] = idx[ga[0][0]]
            continue
        lin = linear(tuple(idx[i] for i, _ in ga), tuple(s for _, s in ga))
        for (i, s), st in zip(gb, strides_of(tuple(s for _, s in gb))):
            new[i] = (lin // st) % s
    return tuple(new)


def compute_dtype(d: dt.DType) -> dt.DType:
    """Half-precision values are computed in float32 inside a kernel and rounded when
    stored or cast (as GPU libraries do inside fused kernels)."""
    return dt.float32 if d in (dt.float16, dt.bfloat16) else d


class _Frame:
    def __init__(self, level: int, body: list, vars_: set):
        self.level, self.body, self.vars = level, body, vars_
        self.memo: dict = {}


class Lowerer:
    def __init__(self, root: Node, inputs: list[Node], name: str, rands: list[Node] = ()):
        self.root = root
        self.rand_slot = {id(n): k for k, n in enumerate(rands)}
        self.inputs = inputs
        self.param_of = {id(n): i + 1 for i, n in enumerate(inputs)}  # param 0 = output
        self.gated_loads: set[str] = set()  # LOADs that read 0 where their gate fails
        self.params = [Param("out0", root.dtype, root.numel, True)] + [
            Param(f"in{i + 1}", n.dtype, n.numel, False) for i, n in enumerate(inputs)]
        self.name = name
        self.counter = 0
        self.flops = 0
        self.trip = 1
        self.frames: list[_Frame] = []
        self.opnames: list[str] = []

    # ----------------------------------------------------------------- helpers
    def fresh(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _level_of_syms(self, *exprs) -> int:
        names: set = set()
        for e in exprs:
            names |= sym.variables(e)
        lvl = 0
        for f in self.frames:
            if names & f.vars:
                lvl = f.level
        return lvl

    def emit(self, level: int, stmt, key=None, flops: int = 0):
        frame = self.frames[level]
        frame.body.append(stmt)
        if key is not None:
            frame.memo[key] = (stmt.name, level)
        if flops:
            trip = 1
            for f in self.frames[: level + 1]:
                trip *= getattr(f, "trip", 1)
            self.flops += flops * trip
        return stmt.name

    def lookup(self, key):
        for f in reversed(self.frames):
            if key in f.memo:
                return f.memo[key]
        return None

    # ----------------------------------------------------------------- entry
    def lower(self) -> Kernel:
        shape = self.root.shape
        gdims, idx = [], []
        for d, n in enumerate(shape):
            if n == 1:
                idx.append(sym.num(0))
            else:
                v = sym.var(f"g{d}", 0, n - 1)
                gdims.append((v, n))
                idx.append(v)
        top = _Frame(0, [], {v.name for v, _ in gdims})
        top.trip = math.prod(n for _, n in gdims)
        self.frames.append(top)
        name, _ = self.value(self.root, tuple(idx), ())
        top.body.append(Store(0, linear(tuple(idx), shape), name, self.root.dtype))
        mem = sum(n.numel * n.dtype.itemsize for n in self.inputs) + self.root.numel * self.root.dtype.itemsize
        return Kernel(self.name, self.params, gdims, top.body, flops=self.flops, mem_bytes=mem,
                      ops_summary=" ".join(self.opnames), scalars=[f"s{i}" for i in range(2 * len(self.rand_slot))])

    # ----------------------------------------------------------------- values
    def value(self, n: Node, idx: Index, gate: Gate) -> tuple[str, int]:
        """SSA name (and loop level) of node n evaluated at index vector idx."""
        key = (id(n), idx, gate)
        hit = self.lookup(key)
        if hit is not None:
            return hit
        out = self._value(n, idx, gate, key)
        return out

    def _value(self, n: Node, idx: Index, gate: Gate, key) -> tuple[str, int]:
        cd = compute_dtype(n.dtype)
        if id(n) in self.param_of or n.op == "BUFFER":
            p = self.param_of[id(n)]
            lin = linear(idx, n.shape)
            lvl = self._level_of_syms(lin, *[g[0] for g in gate])
            nm = self.emit(lvl, Assign(self.fresh(), cd, "LOAD", (), (p, lin, gate)), key)
            if gate:
                self.gated_loads.add(nm)
            return nm, lvl
        op = n.op
        if op == "CONST":
            return self.emit(0, Assign(self.fresh("c"), cd, "CONST", (), n.arg), key), 0
        if op == "IOTA":
            e = idx[n.arg]
            lvl = self._level_of_syms(e)
            return self.emit(lvl, Assign(self.fresh(), cd, "INDEX", (), e), key), lvl
        if op == "RAND":
            # seed and counter offset are runtime scalars: new random numbers reuse the program
            k = self.rand_slot[id(n)]
            lin = linear(idx, n.shape)
            lvl = self._level_of_syms(lin)
            return self.emit(lvl, Assign(self.fresh(), cd, "RAND", (), (f"s{2 * k}", f"s{2 * k + 1}", lin)),
                             key, flops=40), lvl
        if op in ops.MOVEMENT:
            return self._movement(n, idx, gate)
        if op in ops.ELEMENTWISE:
            srcs = [self.value(s, idx, gate) for s in n.srcs]
            lvl = max((l for _, l in srcs), default=0)
            self.opnames.append(op)
            # casts need the true dtypes (cd is float32 for float16/bfloat16): a bitcast
            # for the storage bits, a cast to a half type to round
            arg = (n.srcs[0].dtype, n.dtype) if op in ("BITCAST", "CAST") else n.arg
            return self.emit(lvl, Assign(self.fresh(), cd, op, tuple(s for s, _ in srcs), arg), key,
                             flops=1), lvl
        if op == "REDUCE":
            return self._reduce(n, idx, gate, key)
        if op == "GATHER":
            axis = n.arg
            src, index = n.srcs
            iv, lvl = self.value(index, idx, gate)
            hi = src.shape[axis] - 1
            cl = self.emit(lvl, Assign(self.fresh("ix"), dt.int64, "CLAMP", (iv,), hi), None)
            vs = sym.Var(cl, 0, hi)
            # make the clamped value a "loop variable" of its level so hoisting sees it
            self.frames[lvl].vars = self.frames[lvl].vars | {cl}
            new_idx = tuple(vs if d == axis else e for d, e in enumerate(idx))
            return self.value(src, new_idx, gate)
        raise NotImplementedError(f"cannot lower op {op}")

    def _movement(self, n: Node, idx: Index, gate: Gate) -> tuple[str, int]:
        op, src = n.op, n.srcs[0]
        if op == "RESHAPE":
            return self.value(src, reshape_index(idx, n.shape, src.shape), gate)
        if op == "PERMUTE":
            new = [None] * len(idx)
            for i, p in enumerate(n.arg):
                new[p] = idx[i]
            return self.value(src, tuple(new), gate)
        if op == "EXPAND":
            new = tuple(sym.num(0) if s == 1 else e for s, e in zip(src.shape, idx))
            return self.value(src, new, gate)
        if op == "SHRINK":
            new = tuple(e * step + start for e, (start, _, step) in zip(idx, n.arg))
            return self.value(src, new, gate)
        if op == "PAD":
            pads, padval = n.arg
            new, conds = [], []
            for e, (before, _), s in zip(idx, pads, src.shape):
                ne = e - before
                new.append(ne)
                if ne.vmin < 0 or ne.vmax >= s:
                    if ne.vmax < 0 or ne.vmin >= s:  # never valid
                        cd = compute_dtype(n.dtype)
                        return self.emit(0, Assign(self.fresh("c"), cd, "CONST", (), padval)), 0
                    conds.append((ne, 0, s))
            if not conds:
                return self.value(src, tuple(new), gate)
            inner_gate = tuple(sorted(set(gate) | set(conds), key=lambda c: repr(c[0].key())))
            val, lvl = self.value(src, tuple(new), inner_gate)
            if val in self.gated_loads and _is_plain_zero(padval):
                # a load under these conditions already reads 0 outside them: no select (gcc
                # vectorized a convolution's padded panel 1.7x slower with it)
                return val, lvl
            cond_syms = [c[0] for c in conds]
            clvl = self._level_of_syms(*cond_syms)
            cd = compute_dtype(n.dtype)
            ok = self.emit(clvl, Assign(self.fresh("ok"), dt.bool_, "GATE", (), tuple(conds)))
            pv = self.emit(0, Assign(self.fresh("c"), cd, "CONST", (), padval))
            lvl = max(lvl, clvl)
            return self.emit(lvl, Assign(self.fresh(), cd, "WHERE", (ok, val, pv))), lvl
        raise NotImplementedError(op)

    def _reduce(self, n: Node, idx: Index, gate: Gate, key) -> tuple[str, int]:
        kind, axes = n.arg
        src = n.srcs[0]
        cd = compute_dtype(n.dtype)
        acc_dtype = cd
        if all(src.shape[a] == 1 for a in axes):  # nothing to combine: the reduction is the value
            return self.value(src, tuple(sym.num(0) if a in axes else e for a, e in enumerate(idx)), gate)
        # accumulator lives at the level of the output index
        outer = self._level_of_syms(*idx, *[g[0] for g in gate])
        acc = self.fresh("acc")
        self.frames[outer].body.append(Acc(acc, acc_dtype, kind))
        # the loop nest is emitted into the outer frame at the point of use
        new_idx = list(idx)
        loops = []
        for a in axes:
            size = src.shape[a]
            if size == 1:
                new_idx[a] = sym.num(0)
                continue
            v = sym.var(self.fresh("r"), 0, size - 1)
            new_idx[a] = v
            loops.append(Loop(v, size))
        # open frames: frames above `outer` are temporarily hidden (the reduce sits at `outer`)
        saved = self.frames[outer + 1:]
        del self.frames[outer + 1:]
        for lp in loops:
            f = _Frame(len(self.frames), lp.body, {lp.var.name})
            f.trip = lp.size
            self.frames.append(f)
        self.opnames.append(f"{kind}-REDUCE")
        val, _ = self.value(src, tuple(new_idx), gate)
        inner = self.frames[-1]
        inner.body.append(AccUpdate(acc, kind, val, acc_dtype))
        trip = 1
        for f in self.frames:
            trip *= getattr(f, "trip", 1)
        self.flops += trip
        # close loops innermost first, nesting them
        for k in range(len(loops) - 1, 0, -1):
            loops[k - 1].body.append(loops[k])
        del self.frames[outer + 1:]
        if loops:
            self.frames[outer].body.append(loops[0])
        self.frames.extend(saved)
        self.frames[outer].memo[key] = (acc, outer)
        return acc, outer


def lower_kernel(root: Node, inputs: list[Node], name: str, rands: list[Node] = ()) -> Kernel:
    return Lowerer(root, inputs, name, rands).lower()


def _is_plain_zero(v) -> bool:
    """0, 0.0 (not -0.0), False or 0j: the value a gated load reads where its gate fails."""
    if isinstance(v, complex):
        return v == 0 and math.copysign(1.0, v.real) > 0 and math.copysign(1.0, v.imag) > 0
    if isinstance(v, float):
        return v == 0 and math.copysign(1.0, v) > 0
    return isinstance(v, (bool, int)) and v == 0
