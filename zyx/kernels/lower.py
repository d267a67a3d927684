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
from ..graph import Node, post_order
from . import symbolic as sym
from .ir import Acc, AccUpdate, Assign, Kernel, KArg, Loop, Param, Store, map_body_exprs, walk
from .ir import index_exprs as ir_index_exprs

Index = tuple  # tuple[Sym, ...]
Gate = tuple  # tuple[(Sym, lo, hi), ...] meaning lo <= Sym < hi for all (None: no check)


def strides_of(shape) -> tuple:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc = acc * s
    return tuple(reversed(out))


def linear(idx: Index, shape) -> sym.Sym:
    out: sym.Sym = sym.num(0)
    for i, st, n in zip(idx, strides_of(shape), shape):
        if not (isinstance(n, int) and n == 1):
            out = out + i * st
    return out


_groups_cache: dict = {}


def reshape_groups(shape, src_shape) -> tuple:
    """How a reshape from ``src_shape`` to ``shape`` matches dimensions: groups of
    (output dims, input dims) with equal products, size-1 dims left out. A property of
    the structure (kept in the cache key), computed from the concrete sizes."""
    key = (shape, src_shape)
    hit = _groups_cache.get(key)
    if hit is not None:
        return hit
    if 0 in shape or 0 in src_shape:  # empty: nothing to match, one group
        out = ((tuple(i for i, s in enumerate(shape) if s != 1), tuple(i for i, s in enumerate(src_shape) if s != 1)),)
        _groups_cache[key] = out
        return out
    out_dims = [(i, s) for i, s in enumerate(shape) if s != 1]
    in_dims = [(i, s) for i, s in enumerate(src_shape) if s != 1]
    groups = []
    a = b = 0
    while a < len(out_dims) and b < len(in_dims):
        ga, gb = [out_dims[a][0]], [in_dims[b][0]]
        pa, pb = out_dims[a][1], in_dims[b][1]
        a, b = a + 1, b + 1
        while pa != pb:
            if pa < pb:
                ga.append(out_dims[a][0])
                pa *= out_dims[a][1]
                a += 1
            else:
                gb.append(in_dims[b][0])
                pb *= in_dims[b][1]
                b += 1
        groups.append((tuple(ga), tuple(gb)))
    # zero-size: what is left (sizes 0 only) pairs up as one group
    if a < len(out_dims) or b < len(in_dims):
        groups.append((tuple(i for i, _ in out_dims[a:]), tuple(i for i, _ in in_dims[b:])))
    out = tuple(groups)
    if len(_groups_cache) > 65536:
        _groups_cache.clear()
    _groups_cache[key] = out
    return out


def reshape_index(idx: Index, shape, src_shape, dims=None, src_dims=None) -> Index:
    """Index into ``src_shape`` of the element at ``idx`` of its reshape to ``shape``.

    Dimensions are matched in groups of equal products (size-1 dims ignored); a group that
    is one dim on both sides maps straight through, and only groups that really split or
    merge dims are linearized and split again. This keeps indices affine where they can
    be (a padded index can be negative outside its gate, where division would not fold).
    ``dims`` / ``src_dims``: the sizes to compute with (expressions in a generic kernel);
    the grouping always comes from the concrete shapes."""
    dims = shape if dims is None else dims
    src_dims = src_shape if src_dims is None else src_dims
    new: list = [sym.num(0)] * len(src_shape)
    for ga, gb in reshape_groups(shape, src_shape):
        if len(ga) == 1 and len(gb) == 1:
            new[gb[0]] = idx[ga[0]]
            continue
        if not gb:
            continue
        lin = linear(tuple(idx[i] for i in ga), tuple(dims[i] for i in ga))
        for j, (i, st) in enumerate(zip(gb, strides_of(tuple(src_dims[i] for i in gb)))):
            # lin is below the group's product wherever the index is valid (a movement op maps
            # valid indices to valid ones; PAD gates the rest), so the outermost needs no modulo
            new[i] = lin // st if j == 0 else (lin // st) % src_dims[i]
    return tuple(new)


# ---------------------------------------------------------------------- sizes and values
class ConcreteSizes:
    """A specialised kernel: every size, offset and value is baked into the code."""

    generic = False

    def dims(self, n: Node) -> tuple:
        return n.shape

    def start(self, n: Node, d: int):
        return n.arg[d][0]

    def pad(self, n: Node, d: int) -> tuple:
        return n.arg[0][d]

    def value(self, n: Node, v, d: dt.DType):
        return None  # a literal


class GenericSizes:
    """A generic kernel: sizes, slice offsets, pad widths and constants are runtime
    arguments (``Kernel.args``), so one compiled kernel serves every graph of the same
    structure. Sizes that the structure forces to be equal share one argument, and sizes
    it forces to be products (a reshape merging dims) are products of arguments, so index
    arithmetic still cancels (``(g // n) * n + g % n -> g``)."""

    generic = True

    def __init__(self, root: Node, inputs: list[Node], pos: dict):
        self.pos = pos
        self.args: list[KArg] = []
        self._slot: dict = {}
        self._nslots = 0
        self._parent: dict = {}
        self._defn: dict = {}
        self._memo: dict = {}
        self._node: dict = {}
        self._solve(root, {id(n) for n in inputs})

    # -------------------------------------------------------------- runtime arguments
    def _arg(self, kind: str, n: Node, d: int, dtype=None):
        key = (kind, id(n), d)
        a = self._slot.get(key)
        if a is None:
            slot = self._nslots
            self._nslots += 2 if dtype is not None and dtype.kind == "c" else 1
            a = KArg(f"a{slot}", slot, dtype, kind, self.pos[n], d)
            self._slot[key] = a
            self.args.append(a)
        return a

    def start(self, n: Node, d: int):
        return sym.param(self._arg("start", n, d).name)

    def pad(self, n: Node, d: int) -> tuple:
        before, after = n.arg[0][d]  # which sides pad at all is structure (in the key)
        return (sym.param(self._arg("before", n, d).name) if before else 0,
                sym.param(self._arg("after", n, d).name) if after else 0)

    def value(self, n: Node, v, d: dt.DType):
        if d.kind == "b":  # two values only: kept in the key, so masks fold as literals
            return None
        return self._arg("padval" if n.op == "PAD" else "const", n, 0, d).slot

    # -------------------------------------------------------------- sizes
    def dims(self, n: Node) -> tuple:
        return tuple(s if s in (0, 1) else self._sym((id(n), d)) for d, s in enumerate(n.shape))

    def _find(self, k):
        path = []
        while True:
            p = self._parent.get(k, k)
            if p == k:
                break
            path.append(k)
            k = p
        for q in path:  # path compression
            self._parent[q] = k
        return k

    def _union(self, a, b) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        self._parent[rb] = ra
        db = self._defn.pop(rb, None)
        if ra not in self._defn and db is not None:
            self._defn[ra] = db

    def _solve(self, root: Node, leaves: set) -> None:
        """Size classes of every (node, dim) of the kernel's region, from the equalities
        and products its ops force."""
        for x in post_order(root, lambda x: () if id(x) in leaves else x.srcs):
            self._node[id(x)] = x
            if id(x) in leaves or not x.srcs:
                continue
            op, u, big = x.op, self._union, lambda n, d: n.shape[d] not in (0, 1)
            if op in ops.ELEMENTWISE:
                for s in x.srcs:
                    for d in range(len(x.shape)):
                        if big(x, d):
                            u((id(x), d), (id(s), d))
            elif op == "REDUCE" or op == "EXPAND":
                s = x.srcs[0]
                for d in range(len(x.shape) if len(s.shape) == len(x.shape) else 0):
                    if big(x, d) and big(s, d):
                        u((id(x), d), (id(s), d))
            elif op == "PERMUTE":
                for d, p in enumerate(x.arg):
                    if big(x, d):
                        u((id(x), d), (id(x.srcs[0]), p))
            elif op == "GATHER":
                src, idx = x.srcs
                for d in range(len(x.shape)):
                    if big(x, d):
                        u((id(x), d), (id(idx), d))
                        if d != x.arg and big(src, d):
                            u((id(x), d), (id(src), d))
            elif op == "PAD":
                s = x.srcs[0]
                for d in range(len(x.shape)):
                    if big(x, d):
                        if x.arg[0][d] == (0, 0):
                            u((id(x), d), (id(s), d))
                        else:
                            self._define((id(x), d), ("pad", (id(s), d), x, d))
            elif op == "RESHAPE":
                s = x.srcs[0]
                for ga, gb in reshape_groups(x.shape, s.shape):
                    if len(ga) == 1 and len(gb) == 1:
                        u((id(x), ga[0]), (id(s), gb[0]))
                    elif len(ga) == 1 and gb:
                        self._define((id(x), ga[0]), ("prod", [(id(s), d) for d in gb]))
                    elif len(gb) == 1 and ga:
                        self._define((id(s), gb[0]), ("prod", [(id(x), d) for d in ga]))
            elif op == "SHRINK":  # a whole axis (start 0, every element: structure) keeps its size
                s = x.srcs[0]
                for d, (start, size, step) in enumerate(x.arg):
                    if big(x, d) and start == 0 and step == 1 and size == s.shape[d]:
                        u((id(x), d), (id(s), d))

    def _define(self, k, defn) -> None:
        r = self._find(k)
        if r not in self._defn:
            self._defn[r] = defn

    def _sym(self, k):
        r = self._find(k)
        hit = self._memo.get(r)
        if hit is not None:
            return hit
        defn = self._defn.get(r)
        self._memo[r] = None  # a cycle (never from real graphs) falls back to an argument
        out = None
        if defn is not None:
            parts = [self._sym_or_none(p) for p in (defn[1] if defn[0] == "prod" else [defn[1]])]
            if all(p is not None for p in parts):
                if defn[0] == "prod":
                    out = sym.num(1)
                    for p in parts:
                        out = out * p
                else:
                    before, after = self.pad(defn[2], defn[3])
                    out = parts[0] + before + after
        if out is None:
            node = self._node[r[0]]
            out = sym.param(self._arg("dim", node, r[1]).name, 1)
        self._memo[r] = out
        return out

    def _sym_or_none(self, k):
        r = self._find(k)
        if r in self._memo and self._memo[r] is None:
            return None
        node = self._node.get(k[0])
        if node is not None and node.shape[k[1]] in (0, 1):
            return sym.num(node.shape[k[1]])
        return self._sym(k)


def compute_dtype(d: dt.DType) -> dt.DType:
    """Half-precision values are computed in float32 inside a kernel and rounded when
    stored or cast (as GPU libraries do inside fused kernels)."""
    return dt.float32 if d in (dt.float16, dt.bfloat16) else d


class _Frame:
    def __init__(self, level: int, body: list, vars_: set):
        self.level, self.body, self.vars = level, body, vars_
        self.memo: dict = {}


class Lowerer:
    def __init__(self, root: Node, inputs: list[Node], name: str, rands: list[Node] = (), sizes=None):
        self.root = root
        self.sizes = sizes or ConcreteSizes()
        generic = self.sizes.generic
        self.rand_slot = {id(n): k for k, n in enumerate(rands)}
        self.inputs = inputs
        self.param_of = {id(n): i + 1 for i, n in enumerate(inputs)}  # param 0 = output
        self.gated_loads: set[str] = set()  # LOADs that read 0 where their gate fails
        self.params = [Param("out0", root.dtype, None if generic else root.numel, True)] + [
            Param(f"in{i + 1}", n.dtype, None if generic else n.numel, False) for i, n in enumerate(inputs)]
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
        dims = self.sizes.dims(self.root)
        gdims, idx = [], []
        for d, n in enumerate(shape):
            if n == 1:
                idx.append(sym.num(0))
            else:
                v = sym.loop_var(f"g{d}", dims[d])
                gdims.append((v, dims[d]))
                idx.append(v)
        top = _Frame(0, [], {v.name for v, _ in gdims})
        top.trip = math.prod(n for n in shape if n != 1)
        self.frames.append(top)
        name, _ = self.value(self.root, tuple(idx), ())
        top.body.append(Store(0, linear(tuple(idx), dims), name, self.root.dtype))
        mem = sum(n.numel * n.dtype.itemsize for n in self.inputs) + self.root.numel * self.root.dtype.itemsize
        generic = self.sizes.generic
        return Kernel(self.name, self.params, gdims, top.body, flops=self.flops, mem_bytes=mem,
                      ops_summary=" ".join(self.opnames), scalars=[f"s{i}" for i in range(2 * len(self.rand_slot))],
                      args=list(self.sizes.args) if generic else [], generic=generic)

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
            lin = linear(idx, self.sizes.dims(n))
            lvl = self._level_of_syms(lin, *[g[0] for g in gate])
            nm = self.emit(lvl, Assign(self.fresh(), cd, "LOAD", (), (p, lin, gate)), key)
            if gate:
                self.gated_loads.add(nm)
            return nm, lvl
        op = n.op
        if op == "CONST":
            slot = self.sizes.value(n, n.arg, cd)
            if slot is not None:  # a runtime argument of a generic kernel
                return self.emit(0, Assign(self.fresh("c"), cd, "PARAM", (), slot), key), 0
            return self.emit(0, Assign(self.fresh("c"), cd, "CONST", (), n.arg), key), 0
        if op == "IOTA":
            e = idx[n.arg]
            lvl = self._level_of_syms(e)
            return self.emit(lvl, Assign(self.fresh(), cd, "INDEX", (), e), key), lvl
        if op == "RAND":
            # seed and counter offset are runtime scalars: new random numbers reuse the program
            k = self.rand_slot[id(n)]
            lin = linear(idx, self.sizes.dims(n))
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
            extent = self.sizes.dims(src)[axis]
            hi = extent - 1
            cl = self.emit(lvl, Assign(self.fresh("ix"), dt.int64, "CLAMP", (iv,), hi), None)
            vs = sym.Var(cl, 0, hi) if isinstance(hi, int) else sym.Var(cl, 0, sym.BIG, extent)
            # make the clamped value a "loop variable" of its level so hoisting sees it
            self.frames[lvl].vars = self.frames[lvl].vars | {cl}
            new_idx = tuple(vs if d == axis else e for d, e in enumerate(idx))
            return self.value(src, new_idx, gate)
        raise NotImplementedError(f"cannot lower op {op}")

    def _movement(self, n: Node, idx: Index, gate: Gate) -> tuple[str, int]:
        op, src = n.op, n.srcs[0]
        if op == "RESHAPE":
            return self.value(src, reshape_index(idx, n.shape, src.shape, self.sizes.dims(n),
                                                 self.sizes.dims(src)), gate)
        if op == "PERMUTE":
            new = [None] * len(idx)
            for i, p in enumerate(n.arg):
                new[p] = idx[i]
            return self.value(src, tuple(new), gate)
        if op == "EXPAND":
            new = tuple(sym.num(0) if s == 1 else e for s, e in zip(src.shape, idx))
            return self.value(src, new, gate)
        if op == "SHRINK":
            # a whole axis (start 0, step 1, every element) is structure: no offset argument
            new = tuple(e * step + (0 if (start == 0 and step == 1 and size == src.shape[d]) else self.sizes.start(n, d))
                        for d, (e, (start, size, step)) in enumerate(zip(idx, n.arg)))
            return self.value(src, new, gate)
        if op == "PAD":
            pads, padval = n.arg
            new, conds = [], []
            if self.sizes.generic:
                # which sides pad is structure; the widths are arguments
                sdims = self.sizes.dims(src)
                for d, (e, (before, after), s) in enumerate(zip(idx, pads, src.shape)):
                    b, _ = self.sizes.pad(n, d)
                    ne = e - b
                    new.append(ne)
                    if before or after:
                        conds.append((ne, 0 if before else None, sdims[d] if after else None))
            for e, (before, _), s in ([] if self.sizes.generic else zip(idx, pads, src.shape)):
                ne = e - before
                new.append(ne)
                if ne.vmin < 0 or ne.vmax >= s:
                    if ne.vmax < 0 or ne.vmin >= s:  # never valid
                        cd = compute_dtype(n.dtype)
                        return self.emit(0, Assign(self.fresh("c"), cd, "CONST", (), padval)), 0
                    conds.append((ne, 0, s))
            if not conds:
                return self.value(src, tuple(new), gate)
            inner_gate = tuple(sorted(set(gate) | set(conds), key=lambda c: sym._order(c[0])))
            val, lvl = self.value(src, tuple(new), inner_gate)
            if val in self.gated_loads and is_plain_zero(padval):
                # a load under these conditions already reads 0 outside them: no select (gcc
                # vectorized a convolution's padded panel 1.7x slower with it)
                return val, lvl
            cond_syms = [c[0] for c in conds]
            clvl = self._level_of_syms(*cond_syms)
            cd = compute_dtype(n.dtype)
            ok = self.emit(clvl, Assign(self.fresh("ok"), dt.bool_, "GATE", (), tuple(conds)))
            slot = self.sizes.value(n, padval, cd)
            pv = self.emit(0, Assign(self.fresh("c"), cd, "PARAM", (), slot) if slot is not None
                           else Assign(self.fresh("c"), cd, "CONST", (), padval))
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
        sdims = self.sizes.dims(src)
        for a in axes:
            size = src.shape[a]
            if size == 1:
                new_idx[a] = sym.num(0)
                continue
            v = sym.loop_var(self.fresh("r"), sdims[a])
            new_idx[a] = v
            loops.append(Loop(v, sdims[a]))
        # open frames: frames above `outer` are temporarily hidden (the reduce sits at `outer`)
        saved = self.frames[outer + 1:]
        del self.frames[outer + 1:]
        for lp in loops:
            f = _Frame(len(self.frames), lp.body, {lp.var.name})
            f.trip = lp.size if isinstance(lp.size, int) else 16
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


def lower_kernel(root: Node, inputs: list[Node], name: str, rands: list[Node] = (), pos: dict | None = None,
                 wide: bool = True) -> Kernel:
    """The kernel computing ``root`` from ``inputs``: specialised on every size and value,
    or, given ``pos`` (the realize walk's positions of nodes), generic - sizes, offsets and
    values become arguments (``Kernel.args``) filled in at each launch. ``wide``: a generic
    kernel's sizes may reach 2^30 elements (GPU renderers then index with 64 bits)."""
    sizes = GenericSizes(root, inputs, pos) if pos is not None else None
    k = merge_dims(Lowerer(root, inputs, name, rands, sizes).lower())
    k.wide = wide
    return k


def merge_dims(k: Kernel) -> Kernel:
    """``k`` with adjacent output loops fused into one wherever the kernel only ever uses
    them together, as the row-major position ``u * n_v + v`` (every buffer it reads is laid
    out like its output along those axes; none is broadcast along one of them and no index
    is used as a value). The loop nest follows the output's shape, so an exp of a
    (400000, 3) array ran 400000 loops of 3: too short to vectorize, every exp a scalar
    libmvec call (3.9 ms; one loop of 1.2M: see benches/RESULTS.md). A pair merges only when
    substituting ``w = u * n_v + v`` into every index expression and back gives each
    expression unchanged, so the fused kernel computes the same values at the same places."""
    dims = list(k.global_dims)
    if len(dims) < 2:
        return k
    stmts = list(walk(k.body))
    exprs = [e for s in stmts for e in ir_index_exprs(s)]
    # other places a loop variable could hide: reduction loop sizes, clamp bounds
    other = set()
    for s in stmts:
        if isinstance(s, Loop) and isinstance(s.size, sym.Sym):
            other |= sym.variables(s.size)
        elif isinstance(s, Assign) and s.op == "CLAMP" and isinstance(s.arg, sym.Sym):
            other |= sym.variables(s.arg)
    merged = False
    i = len(dims) - 1
    while i >= 1:
        (u, nu), (v, nv) = dims[i - 1], dims[i]
        if u.name in other or v.name in other:
            i -= 1
            continue
        ext = nu * nv if isinstance(nu, int) and isinstance(nv, int) else sym.mul_sym(sym._sym(nu), sym._sym(nv))
        w = sym.loop_var(u.name, ext)
        there = sym.add(sym.mul_sym(u, sym._sym(nv)), v)
        names = {u.name, v.name}
        new = []
        for e in exprs:
            if names.isdisjoint(sym.variables(e)):
                new.append(e)
                continue
            f = sym.substitute(e, {u.name: sym.num(0), v.name: w})
            if sym.substitute(f, {u.name: there}).key() != e.key():
                break
            new.append(f)
        else:
            mapping = {id(e): f for e, f in zip(exprs, new)}
            k.body = map_body_exprs(k.body, lambda e: mapping.get(id(e), e))
            exprs = new
            dims[i - 1:i + 1] = [(w, ext)]
            merged = True
        i -= 1
    if merged:
        k.global_dims = dims
    return k


def is_plain_zero(v) -> bool:
    """0, 0.0 (not -0.0), False or 0j: the value a gated load reads where its gate fails."""
    if isinstance(v, complex):
        return v == 0 and math.copysign(1.0, v.real) > 0 and math.copysign(1.0, v.imag) > 0
    if isinstance(v, float):
        return v == 0 and math.copysign(1.0, v) > 0
    return isinstance(v, (bool, int)) and v == 0
