"""Register tiling of contraction-shaped kernels for the C renderer.

A kernel qualifies when it has parallel output loops, one reduction (a perfect nest of
loops, one accumulator, a straight-line body) and reuse: some load depends on one
output axis but not another. Two output axes are picked, ``vn`` (the tile's columns)
and ``vm`` (its rows); the other output axes stay ordinary parallel loops.

Every statement of the reduction body is classified by which of ``vm`` / ``vn`` it
depends on (through its index expressions and its operands):

- neither: computed once per reduction step, shared by the whole tile;
- ``vn`` only: computed for the tile's columns into a small array (the "B panel");
- ``vm`` only: computed once per tile row (the "A panel");
- both: computed per tile element (usually just the multiply-add).

So a fused prologue (a ReLU mask, a bias add, a padded window's gate) costs its work
once per row or column of the tile, not once per element.

Two shapes of tile:

- *outer product*, when a load is contiguous along ``vn``: for each reduction step, a
  TI x TJ block of accumulators takes ``a[i] * b[j]``; the ``b`` panel is a vector load.
  This is ``A @ B`` with B row-major, the weight gradient ``X^T @ G``, and a convolution's
  window along its output width.
- *dot*, when no load is contiguous along an output axis but the innermost reduction
  axis is contiguous (``A @ B^T``, a Linear layer's forward with PyTorch's weight
  layout): TI x TJ accumulators each hold a vector of partial sums over a chunk of the
  reduction axis; the panels are vector loads along it, and the lanes are summed at
  the end.

Sizes the tiles do not divide get a plain element-by-element loop after the tiles.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .ir import Acc, AccUpdate, Assign, Kernel, Loop, index_exprs
from .lower import compute_dtype
from .symbolic import Var, coef, variables


@dataclass
class TilePlan:
    li: int  # index of the reduction loop in k.body
    nest: list  # the reduction loops, outermost first
    stmts: list  # the body's assignments (with the pre-loop ones they use), in order
    up: AccUpdate
    acc: Acc
    vn: Var
    n: int
    tj: int
    vm: Var | None
    m: int
    ti: int
    dot: bool
    lanes: int  # dot form: partial sums per accumulator
    cls: dict  # statement name -> "" | "a" | "b" | "ab"
    pack: bool = False  # outer product over a transposed copy of each column block of B


def _own_vars(s: Assign) -> set:
    out: set = set()
    for e in index_exprs(s):
        out |= variables(e)
    return out


def reads(s) -> tuple:
    """The names a statement reads: its operands, and the variables of its index
    expressions. A gathered load's index holds the name of the CLAMP that computed the
    gathered position (``in[ix9*192 + r2]``), a data dependency that ``srcs`` does not show;
    every analysis here (which statements a body needs, which class they fall in, which
    values a later class reads) must follow it, or the CLAMP is left undeclared or is
    computed after its use."""
    if isinstance(s, AccUpdate):
        return (s.src,)
    return tuple(s.srcs) + tuple(sorted(_own_vars(s)))


def dependencies(stmts: list) -> dict:
    """Statement name -> the loop variables it depends on, directly or through operands
    (a gathered load through its CLAMP)."""
    deps: dict = {}
    for s in stmts:
        d = _own_vars(s)
        for x in reads(s):
            d |= deps.get(x, set())
        deps[s.name] = d
    return deps


def _perfect_nest(loop: Loop):
    nest, flat = [], []
    cur = loop
    while True:
        nest.append(cur)
        inner = [s for s in cur.body if isinstance(s, Loop)]
        others = [s for s in cur.body if not isinstance(s, Loop)]
        if not inner:
            flat.extend(others)
            return nest, flat
        if len(inner) != 1 or any(not isinstance(s, Assign) for s in others):
            return None
        flat.extend(others)
        cur = inner[0]


def _needed(pre: list, body: list) -> list:
    defined = {s.name: s for s in pre if isinstance(s, Assign)}
    want: set = set()
    stack = [x for s in body if isinstance(s, (Assign, AccUpdate)) for x in reads(s)]
    while stack:
        nm = stack.pop()
        if nm in defined and nm not in want:
            want.add(nm)
            stack.extend(reads(defined[nm]))
    return [s for s in pre if isinstance(s, Assign) and s.name in want]


def _cols(n: int, contiguous: bool) -> int | None:
    """Tile width for an output axis of extent ``n``."""
    if n < 4:
        return None
    if n % 32 == 0:
        return 32
    if n <= 32:
        return n  # one tile spans the axis (a 10-class layer, a 28-wide image row)
    for t in range(32, 7, -1):
        if n % t == 0:
            return t
    return 16


def _rows(m: int, cols: int = 32) -> int:
    # 8 x 32 float accumulators fill 16 of AVX-512's 32 vector registers (measured best of
    # 2x64 .. 8x32 on 1024^2 and 2048^2); a tile one vector wide takes 16 rows instead
    sizes = (16, 8, 4, 2) if cols <= 16 else (8, 4, 2)
    return next((t for t in sizes if m % t == 0), None) or next((t for t in (4, 2) if m >= 2 * t), 1)


def plan(k: Kernel) -> TilePlan | None:
    if not k.global_dims or k.generic:  # register tiles need concrete sizes: specialised kernels only
        return None
    loops = [i for i, s in enumerate(k.body) if isinstance(s, Loop)]
    if len(loops) != 1:
        return None
    li = loops[0]
    got = _perfect_nest(k.body[li])
    if got is None:
        return None
    nest, flat = got
    if math.prod(lp.size for lp in nest) < 8:
        return None
    accs = [s for s in k.body if isinstance(s, Acc)]
    ups = [s for s in flat if isinstance(s, AccUpdate)]
    if len(accs) != 1 or len(ups) != 1 or ups[0].name != accs[0].name:
        return None
    acc, up = accs[0], ups[0]
    if compute_dtype(acc.dtype).kind not in "fiu":
        return None
    body = [s for s in flat if isinstance(s, Assign)]
    if any(s.op == "BITCAST" for s in body) or any(isinstance(s, Assign) and s.op == "BITCAST" for s in k.body):
        return None
    pre = [s for s in k.body[:li] if not isinstance(s, Acc)]
    stmts = _needed(pre, body) + body
    deps = dependencies(stmts)
    # the loads read at every reduction step (a per-row value hoisted before the loop, like a
    # softmax's row max, says nothing about how the tile should be laid out)
    rnames = {lp.var.name for lp in nest}
    loads = [s for s in stmts if s.op == "LOAD" and deps[s.name] & rnames]
    dims = [(v, n) for v, n in k.global_dims if n > 1]
    if not dims:
        return None

    def contiguous(v):
        return any(coef(s.arg[1], v.name) == 1 for s in loads)

    def reuse(v, other):  # loads that depend on v but not on other
        return sum(1 for s in loads if v.name in deps[s.name] and (other is None or other.name not in deps[s.name]))

    cand = [(v, n) for v, n in dims if n >= 4]
    if not cand:
        return None
    rvar = nest[-1].var
    dot = False
    contig = [(v, n) for v, n in cand if contiguous(v)]
    if contig:
        vn, n = contig[-1]
    else:
        # no output axis is contiguous: the dot form, if the innermost reduction axis is
        # the column axis: one that has a partner with loads exclusive to each side
        def pair_score(c):
            v = c[0]
            best = max((min(reuse(v, o), reuse(o, v)) for o, s in dims if o is not v and s >= 2), default=0)
            return (best > 0, min(c[1], 32), reuse(v, None) == 0, c[1])
        vn, n = max(cand, key=pair_score)
        dot = any(coef(s.arg[1], rvar.name) == 1 and vn.name in deps[s.name] for s in loads)
    others = [(v, m) for v, m in dims if v is not vn]
    vm, m = None, 1
    if others:
        best = max(range(len(others)), key=lambda i: (min(reuse(others[i][0], vn), reuse(vn, others[i][0])) > 0,
                                                      reuse(others[i][0], vn), _rows(others[i][1]), i))
        if reuse(others[best][0], vn) > 0:
            vm, m = others[best]
        elif not dot and contig and len(k.global_dims) >= 2 and k.global_dims[-1][0] is vn:
            # a reduction over a leading axis: no reuse, but row blocks still cut loop overhead
            vm, m = others[-1]
    has_a = vm is not None and reuse(vm, vn) > 0
    has_b = reuse(vn, vm) > 0
    lanes = max(4, 64 // compute_dtype(acc.dtype).itemsize)
    # (a reduction axis shorter than the lanes: the outer product was faster, measured on a
    # convolution's weight gradient over 14-wide rows - 0.67 vs 2.4 ms)
    if dot and not (has_a and has_b and acc.kind == "SUM" and nest[-1].size >= lanes):
        dot = False  # too short to fill the lanes: the outer product, with gathered panels
    pack = False
    if dot and len(nest) == 1 and vm is not None:
        # A @ B^T with enough column blocks to share out: copy each block of B's columns
        # once, transposed, into a small buffer (as BLAS packs), and run the outer product
        tj = _cols(n, False)
        itemsize = max(4, compute_dtype(acc.dtype).itemsize)
        if tj is not None and tj >= 8 and (n // tj) * math.prod(
                s for v, s in dims if v is not vn and v is not vm) >= 4 \
                and nest[-1].size * 32 * itemsize <= 128 * 1024:
            dot, pack = False, True
    if dot:
        ti = next((t for t in (4, 2) if m % t == 0), None) or (2 if m >= 4 else 1)
        tj = next((t for t in (4, 2) if n % t == 0), None) or 2
        tj = min(tj, n)
    else:
        if not contig and not (has_a and has_b):
            return None
        lanes = 1
        tj = _cols(n, bool(contig))
        if tj is None:
            return None
        ti = _rows(m, tj) if vm is not None else 1
    cls = {}
    for s in stmts:
        d = deps[s.name]
        cls[s.name] = ("a" if vm is not None and vm.name in d else "") + ("b" if vn.name in d else "")
    if not dot and not pack and len(nest) == 1 and vm is not None and (m // ti) >= 4 \
            and (n // tj) * math.prod(s for v, s in dims if v is not vn and v is not vm) >= 4 \
            and nest[-1].size * 32 * max(4, compute_dtype(acc.dtype).itemsize) <= 256 * 1024 \
            and (any(cls[s.name] == "b" and s.op not in ("LOAD", "CONST") for s in stmts)
                 or (nest[-1].size >= 512 and m >= 256)):
        # a computed B side (a ReLU mask in a weight gradient): compute it once per column
        # block rather than once per row tile; a long reduction over many rows: one
        # contiguous panel instead of R rows a page apart (TLB misses)
        pack = True
    return TilePlan(li, nest, stmts, up, acc, vn, n, tj, vm, m, ti, dot, lanes, cls, pack)


def _gate_load(s, var, size: int, reach: int):
    """A LOAD that also requires ``var < size``: in a gated chunk the loop variable runs on
    to ``reach - 1``, past the loop's declared range (a Var with the wider range, so that
    the check is not simplified away)."""
    if not (isinstance(s, Assign) and s.op == "LOAD"):
        return s
    pidx, idx, gate = s.arg
    wide = Var(var.name, var.vmin, reach - 1)
    return Assign(s.name, s.dtype, s.op, s.srcs, (pidx, idx, tuple(gate or ()) + ((wide, 0, size),)))


GLOBAL_PACK_MAX = 64 << 20  # bytes of B^T a kernel may copy to the heap (malloc; if it fails,
# the kernel runs its tiles without the copy)


def _gpack_values(p: TilePlan) -> list:
    users = {x for s in p.stmts if p.cls[s.name] != "b" for x in reads(s)} | {p.up.src}
    return [s for s in p.stmts if p.cls[s.name] == "b" and s.op != "CONST" and s.name in users]


def _global_pack(p: TilePlan, k: Kernel) -> str | None:
    """The flattened reduction index (C text) when the kernel should copy its whole B side,
    transposed, to a heap buffer first; else None.

    For an outer-product tile whose B values are gathered (no contiguous load along the
    column axis) and depend on nothing but the columns and the reduction - a convolution's
    weight gradient reads the output gradient across channels, 196 floats apart, in every
    one of its 3x3 x channel-block tiles - the gathers are done once instead of once per
    tile, and each tile then reads two contiguous vectors per step (0.66 -> 0.48 ms)."""
    if p.dot or p.pack or p.vm is None or p.n % p.tj or p.tj % 16:
        return None
    bs = [s for s in p.stmts if p.cls[s.name] == "b"]
    loads = [s for s in bs if s.op == "LOAD"]
    if not loads or any(s.op in ("RAND", "INDEX", "CLAMP") for s in bs):
        return None
    if any(coef(s.arg[1], p.vn.name) == 1 for s in loads):
        return None  # the panel is a contiguous read already
    allowed = {p.vn.name} | {lp.var.name for lp in p.nest}
    deps = dependencies(p.stmts)
    if any(deps[s.name] - allowed for s in bs):
        return None
    R = math.prod(lp.size for lp in p.nest)
    vals = _gpack_values(p)
    if not vals or R * p.n * sum(max(4, compute_dtype(s.dtype).itemsize) for s in vals) > GLOBAL_PACK_MAX:
        return None
    # tiles that share it: the row blocks and the other output axes
    if (p.m // p.ti) * math.prod(n for v, n in k.global_dims if v is not p.vn and v is not p.vm) < 4:
        return None
    flat, stride = [], 1
    for lp in reversed(p.nest):
        flat.append(f"{lp.var.name}*{stride}" if stride > 1 else lp.var.name)
        stride *= lp.size
    return " + ".join(reversed(flat))


def _emit_global_pack(r, k: Kernel, p: TilePlan, flat: str, out: list[str]) -> list:
    """Allocate and fill the B^T copies; returns the values copied (``zgp_<name>``)."""
    it = r.index_type
    stmts = [s for s in p.stmts if p.cls[s.name] in ("", "b")]
    R = math.prod(lp.size for lp in p.nest)
    vals = _gpack_values(p)
    for s in vals:
        t = r.ctype(s.dtype)
        out.append(f"  {t}* zgp_{s.name} = ({t}*)ZYX_SCRATCH_ALLOC(sizeof({t}) * {R * p.n});")
    ok = " && ".join(f"zgp_{s.name}" for s in vals)
    out.append(f"  if ({ok}) {{")
    out.append(f"  #pragma omp parallel for collapse({len(p.nest)}) schedule(static)")
    for lp in p.nest:
        out.append(f"  for ({it} {lp.var.name} = 0; {lp.var.name} < {lp.size}; {lp.var.name}++)")
    out.append("  {")
    out.append(f"    for ({it} {p.vn.name} = 0; {p.vn.name} < {p.n}; {p.vn.name}++) {{")
    dtypes = {s.name: s.dtype for s in p.stmts}
    r.render_body(k, stmts, 3, dtypes, out)
    out.extend(f"      zgp_{s.name}[({flat}) * {p.n} + {p.vn.name}] = {s.name};" for s in vals)
    out.append("    }")
    out.append("  }")
    out.append("  }")
    return vals


def render(r, k: Kernel, p: TilePlan, out: list[str]) -> None:
    """Append the tiled kernel body to ``out`` (``r`` is the CRenderer)."""
    total = math.prod(n for _, n in k.global_dims) * math.prod(lp.size for lp in p.nest)
    parallel = total >= r.min_parallel_work
    flat = _global_pack(p, k) if parallel else None
    if flat is None:
        _render(r, k, p, out, parallel, None)
        return
    # B^T copied to the heap first; should the allocation fail, the same tiles without it
    vals = _emit_global_pack(r, k, p, flat, out)
    out.append(f"  if ({' && '.join(f'zgp_{s.name}' for s in vals)}) {{")
    _render(r, k, p, out, parallel, flat)
    out.append("  } else {")
    _render(r, k, p, out, parallel, None)
    out.append("  }")
    out.extend(f"  free(zgp_{s.name});" for s in vals)


def _render(r, k: Kernel, p: TilePlan, out: list[str], parallel: bool, gpack: str | None) -> None:
    acc, up = p.acc, p.up
    t = r.ctype(acc.dtype)
    it = r.index_type
    pre = [s for s in k.body[:p.li] if not isinstance(s, Acc)]
    post = k.body[p.li + 1:]
    dtypes = {s.name: s.dtype for s in p.stmts}
    dtypes[acc.name] = acc.dtype
    flagged = acc.kind in ("MAX", "MIN") and compute_dtype(acc.dtype).kind == "f"
    outer = [(v, n) for v, n in k.global_dims if v is not p.vn and v is not p.vm]
    n_main, m_main = p.n - p.n % p.tj, p.m - p.m % p.ti
    heads = [f"for ({it} {v.name} = 0; {v.name} < {size}; {v.name}++)" for v, size in outer]
    heads.append(f"for ({it} zj = 0; zj < {n_main // p.tj}; zj++)")
    if p.vm is not None and not p.pack:
        heads.append(f"for ({it} zi = 0; zi < {m_main // p.ti}; zi++)")
    if parallel:
        out.append(f"  #pragma omp parallel for collapse({len(heads)}) schedule(static)")
    out.extend("  " + h for h in heads)
    out.append("  {")
    L = p.lanes
    vm_decl = f"{it} {p.vm.name} = zi * {p.ti} + a;" if p.vm is not None else ""
    vn_decl = f"{it} {p.vn.name} = zj * {p.tj} + b;"
    groups = {c: [s for s in p.stmts if p.cls[s.name] == c] for c in ("", "a", "b", "ab")}
    consts = [s for s in p.stmts if s.op == "CONST"]
    users: dict = {}
    for s in p.stmts:
        for x in reads(s):
            users.setdefault(x, set()).add(p.cls[s.name])
    users.setdefault(up.src, set()).add("ab")

    def exported(c):  # values of class c that a later class reads
        return [s for s in groups[c] if s.op != "CONST" and (users.get(s.name, set()) - {c})]

    # a float sum of products accumulates with fused multiply-adds (one rounding instead of
    # two, as BLAS does; the renderer otherwise keeps a*b+c unfused to match NumPy)
    cd = compute_dtype(acc.dtype)
    src_stmt = next((s for s in groups["ab"] if s.name == up.src), None)
    fused = None
    if acc.kind == "SUM" and cd.kind == "f" and cd.itemsize in (4, 8) and src_stmt is not None \
            and src_stmt.op == "MUL" and dtypes[src_stmt.srcs[0]] == acc.dtype == dtypes[src_stmt.srcs[1]] \
            and all(up.src not in s.srcs for s in p.stmts):
        fused = src_stmt
        groups["ab"] = [s for s in groups["ab"] if s is not src_stmt]

    def update(src):
        if fused is not None and src == fused.name:
            tgt = "zacc[a][b][l]" if p.dot else "zacc[a][b]"
            fn = "fmaf" if cd.itemsize == 4 else "fma"
            return f"{tgt} = {fn}({fused.srcs[0]}, {fused.srcs[1]}, {tgt});"
        if flagged:
            cmp = ">" if acc.kind == "MAX" else "<"
            return (f"zacc[a][b] = ({src} {cmp} zacc[a][b]) ? {src} : zacc[a][b]; "
                    f"zaccn[a][b] |= ({src} != {src});")
        tgt = "zacc[a][b][l]" if p.dot else "zacc[a][b]"
        return r.unflagged_acc_update(tgt, acc.kind, src, acc.dtype)

    def emit(stmts, ind):
        r.render_body(k, stmts, ind, dict(dtypes), out)

    # a tile width that is not a whole number of vectors (14 for a 14-wide image row, 10
    # classes) is computed padded to one: the padding columns multiply zeros and are never
    # stored. Only when the per-element statements read no memory (they run for padding too).
    tjp = p.tj
    if not p.dot and not any(s.op in ("LOAD", "GATE", "RAND", "INDEX", "CLAMP") for s in groups["ab"]):
        vec = max(1, 64 // max(1, compute_dtype(acc.dtype).itemsize))
        tjp = -(-p.tj // vec) * vec if p.tj % vec else p.tj
    # the multiply-add in named vector registers: a value of the row times a vector of
    # column values (see zyx_vfma32 in the C preamble)
    vreg = None
    if fused is not None and not p.dot and not groups["ab"] and not flagged:
        V = 64 // cd.itemsize
        x, y = fused.srcs
        cx, cy = p.cls.get(x, ""), p.cls.get(y, "")
        if cx == "b" and cy in ("", "a"):
            x, y = y, x
            cx, cy = cy, cx
        if cy == "b" and cx in ("", "a") and tjp % V == 0 and p.ti * (tjp // V) <= 24:
            vreg = (x, y, V, tjp // V)  # (row value, column value, lanes, vectors per row)
    if p.pack:
        # B's column block, transposed: zpk[r][b], once per block, shared by every row tile
        rv0, R0 = p.nest[-1].var.name, p.nest[-1].size
        pexp = exported("b")
        for s in pexp:
            out.append(f"    {r.ctype(s.dtype)} zpk_{s.name}[{R0}][{tjp}];")
        along_cols = all(coef(s.arg[1], p.vn.name) == 1 for s in groups["b"] if s.op == "LOAD")
        if along_cols:  # B's loads run along the columns: vectors over b, one row at a time
            out.append(f"    for ({it} {rv0} = 0; {rv0} < {R0}; {rv0}++) {{")
            emit(groups[""], 3)
            out.append("      #pragma omp simd")
            out.append(f"      for (int b = 0; b < {p.tj}; b++) {{")
            out.append(f"        {vn_decl}")
            emit(groups["b"], 4)
            out.extend(f"        zpk_{s.name}[{rv0}][b] = {s.name};" for s in pexp)
            out.append("      }")
            if tjp > p.tj:
                out.append(f"      for (int b = {p.tj}; b < {tjp}; b++) {{ "
                           + " ".join(f"zpk_{s.name}[{rv0}][b] = 0;" for s in pexp) + " }")
            out.append("    }")
        else:  # along the reduction axis (A @ B^T): vectors over r, one column at a time
            out.append(f"    for (int b = 0; b < {tjp}; b++) {{")
            out.append(f"      {vn_decl}")
            out.append(f"      if (b >= {p.tj}) {{ for ({it} {rv0} = 0; {rv0} < {R0}; {rv0}++) {{ "
                       + " ".join(f"zpk_{s.name}[{rv0}][b] = 0;" for s in pexp) + " } continue; }")
            out.append("      #pragma omp simd")
            out.append(f"      for ({it} {rv0} = 0; {rv0} < {R0}; {rv0}++) {{")
            emit(groups[""], 4)
            emit(groups["b"], 4)
            out.extend(f"        zpk_{s.name}[{rv0}][b] = {s.name};" for s in pexp)
            out.append("      }")
            out.append("    }")
        out.append(f"    for ({it} zi = 0; zi < {m_main // p.ti}; zi++) {{")
    shape = f"[{p.ti}][{tjp}]" + (f"[{L}]" if p.dot else "")
    init = r.acc_init(acc.kind, acc.dtype)
    out.append(f"    {t} zacc{shape};" + (f" int zaccn{shape};" if flagged else ""))
    bits = cd.itemsize * 8
    if vreg is not None:
        out.append("    " + " ".join(f"zyx_vf{bits} zacc_{a}_{c} = {{0}};"
                                     for a in range(p.ti) for c in range(vreg[3])))
    # the dot form's accumulators as named vectors too (one per (a, b), the lanes of the
    # reduction chunk), multiply-added from the two panels' vectors
    dreg = p.dot and fused is not None and not groups["ab"] and L * cd.itemsize == 64 \
        and p.ti * p.tj <= 16 and all(p.cls.get(x) in ("a", "b") for x in fused.srcs) \
        and {p.cls[x] for x in fused.srcs} == {"a", "b"}
    if dreg:
        out.append("    " + " ".join(f"zyx_vf{bits} zacc_{a}_{b} = {{0}};"
                                     for a in range(p.ti) for b in range(p.tj)))
    lane_loop = f" for (int l = 0; l < {L}; l++)" if p.dot else ""
    out.append(f"    for (int a = 0; a < {p.ti}; a++) for (int b = 0; b < {tjp}; b++){lane_loop} {{ "
               f"zacc[a][b]{'[l]' if p.dot else ''} = {init};" + (" zaccn[a][b] = 0;" if flagged else "") + " }")

    b_loads = [s for s in groups["b"] if s.op == "LOAD"]
    b_gated = bool(b_loads) and all(s.arg[2] for s in b_loads)
    b_wide = []
    if b_gated:
        wide = Var(p.vn.name, 0, p.n + tjp)  # the range the padded panel reaches
        for s in groups["b"]:
            if s.op == "LOAD":
                pi, idx, gate = s.arg
                s = Assign(s.name, s.dtype, s.op, s.srcs, (pi, idx, tuple(gate) + ((wide, 0, p.n),)))
            b_wide.append(s)
    rv, R = p.nest[-1].var.name, p.nest[-1].size
    # outer product with a computed A side (a fused ReLU mask, a bias) that reads along the
    # innermost reduction axis: compute the A panel for K reduction steps at a time, as
    # vectors along that axis, instead of as scalars once per step
    a_work = [s for s in groups["a"] if s.op not in ("LOAD", "CONST")]
    a_loads = [s for s in groups["a"] if s.op == "LOAD"]
    K = 16 if (not p.dot and a_work and a_loads and R >= 16
               and all(coef(s.arg[1], rv) == 1 for s in a_loads)) else 1
    # ... or, when it reads along the tile's rows (A^T @ B), as one vector over the rows
    a_vec = K == 1 and not p.dot and p.vm is not None and a_work and a_loads and p.ti >= 4 \
        and all(coef(s.arg[1], p.vm.name) == 1 for s in a_loads)
    for lp in p.nest[:-1] if (p.dot or K > 1) else p.nest:
        out.append(f"    for ({it} {lp.var.name} = 0; {lp.var.name} < {lp.size}; {lp.var.name}++) {{")
    if not p.dot:
        bexp = exported("b")
        nexp = exported("")
        aexp = exported("a")

        def row_values(q, ind, chunked):
            """Inside the loop over tile rows: the row index and the A-side values, from
            the panels or computed here."""
            if vm_decl:
                out.append(f"{q}  {vm_decl}")
            if chunked:
                out.extend(f"{q}  {r.ctype(s.dtype)} {s.name} = za_{s.name}[a][l];" for s in aexp)
            elif a_vec:
                out.extend(f"{q}  {r.ctype(s.dtype)} {s.name} = za_{s.name}[a];" for s in aexp)
            else:
                emit(groups["a"], ind + 1)

        def step(ind, chunked):
            """One reduction step of the outer product at indent ``ind``; with ``chunked``
            the neither/A values come from the panels at lane ``l``."""
            q = "  " * ind
            if chunked:
                out.extend(f"{q}{r.ctype(s.dtype)} {s.name} = {r.literal(s.arg, s.dtype)};" for s in consts)
                out.extend(f"{q}{r.ctype(s.dtype)} {s.name} = zn_{s.name}[l];" for s in nexp)
            else:
                emit(groups[""], ind)
            for s in bexp if not (p.pack or gpack) else ():
                out.append(f"{q}{r.ctype(s.dtype)} zb_{s.name}[{tjp}];")
            if gpack:
                pass  # the B values are read from the kernel's transposed copy
            elif groups["b"] and not p.pack and tjp > p.tj and b_gated:
                # every column load is gated (a padded window): run the panel over the padded
                # width too, the gates extended by "column < n" - a full-width vector loop
                out.append(f"{q}#pragma omp simd")
                out.append(f"{q}for (int b = 0; b < {tjp}; b++) {{")
                out.append(f"{q}  {vn_decl}")
                emit(b_wide, ind + 1)
                out.extend(f"{q}  zb_{s.name}[b] = {s.name};" for s in bexp)
                out.append(f"{q}}}")
            elif groups["b"] and not p.pack:
                out.append(f"{q}#pragma omp simd")
                out.append(f"{q}for (int b = 0; b < {p.tj}; b++) {{")
                out.append(f"{q}  {vn_decl}")
                emit(groups["b"], ind + 1)
                out.extend(f"{q}  zb_{s.name}[b] = {s.name};" for s in bexp)
                out.append(f"{q}}}")
                if tjp > p.tj:
                    out.append(f"{q}for (int b = {p.tj}; b < {tjp}; b++) {{ "
                               + " ".join(f"zb_{s.name}[b] = 0;" for s in bexp) + " }")
            if a_vec:
                for s in aexp:
                    out.append(f"{q}{r.ctype(s.dtype)} za_{s.name}[{p.ti}];")
                out.append(f"{q}#pragma omp simd")
                out.append(f"{q}for (int a = 0; a < {p.ti}; a++) {{")
                out.append(f"{q}  {vm_decl}")
                emit(groups["a"], ind + 1)
                out.extend(f"{q}  za_{s.name}[a] = {s.name};" for s in aexp)
                out.append(f"{q}}}")
            if vreg is not None:
                aval, bval, V, nv = vreg
                src = f"zpk_{bval}[{rv}]" if p.pack else f"zb_{bval}"
                if gpack:
                    src = f"(zgp_{bval} + ({gpack}) * {p.n} + zj * {p.tj})"
                out.append(f"{q}" + " ".join(f"zyx_vf{bits} zbv{c} = zyx_vld{bits}(&{src}[{c * V}]);"
                                             for c in range(nv)))
                for a in range(p.ti):
                    out.append(f"{q}{{")
                    out.append(f"{q}  const int a = {a};")
                    row_values(q, ind, chunked)
                    out.append(f"{q}  " + " ".join(f"zacc_{a}_{c} = zyx_vfma{bits}({aval}, zbv{c}, zacc_{a}_{c});"
                                                   for c in range(nv)))
                    out.append(f"{q}}}")
                return
            out.append(f"{q}for (int a = 0; a < {p.ti}; a++) {{")
            row_values(q, ind, chunked)
            out.append(f"{q}  #pragma omp simd")
            out.append(f"{q}  for (int b = 0; b < {tjp}; b++) {{")
            out.append(f"{q}    {vn_decl}")
            if p.pack:
                out.extend(f"{q}    {r.ctype(s.dtype)} {s.name} = zpk_{s.name}[{rv}][b];" for s in bexp)
            elif gpack:
                out.extend(f"{q}    {r.ctype(s.dtype)} {s.name} = zgp_{s.name}[({gpack}) * {p.n} + zj * {p.tj} + b];"
                           for s in bexp)
            else:
                out.extend(f"{q}    {r.ctype(s.dtype)} {s.name} = zb_{s.name}[b];" for s in bexp)
            emit(groups["ab"], ind + 2)
            out.append(f"{q}    {update(up.src)}")
            out.append(f"{q}  }}")
            out.append(f"{q}}}")

        if K == 1:
            step(3, False)
            out.extend("    }" for _ in p.nest)
        else:
            r_main = R - R % K
            pad = "  " * (len(p.nest) + 1)
            pad2 = pad + "  "
            out.append(f"{pad}for ({it} zr = 0; zr < {r_main}; zr += {K}) {{")
            for s in nexp:
                out.append(f"{pad2}{r.ctype(s.dtype)} zn_{s.name}[{K}];")
            if nexp:
                out.append(f"{pad2}#pragma omp simd")
                out.append(f"{pad2}for (int l = 0; l < {K}; l++) {{")
                out.append(f"{pad2}  {it} {rv} = zr + l;")
                emit(groups[""], len(pad2) // 2 + 1)
                out.extend(f"{pad2}  zn_{s.name}[l] = {s.name};" for s in nexp)
                out.append(f"{pad2}}}")
            for s in aexp:
                out.append(f"{pad2}{r.ctype(s.dtype)} za_{s.name}[{p.ti}][{K}];")
            out.append(f"{pad2}for (int a = 0; a < {p.ti}; a++) {{")
            if vm_decl:
                out.append(f"{pad2}  {vm_decl}")
            out.append(f"{pad2}  #pragma omp simd")
            out.append(f"{pad2}  for (int l = 0; l < {K}; l++) {{")
            out.append(f"{pad2}    {it} {rv} = zr + l;")
            emit(groups[""], len(pad2) // 2 + 2)
            emit(groups["a"], len(pad2) // 2 + 2)
            out.extend(f"{pad2}    za_{s.name}[a][l] = {s.name};" for s in aexp)
            out.append(f"{pad2}  }}")
            out.append(f"{pad2}}}")
            out.append(f"{pad2}for (int l = 0; l < {K}; l++) {{")
            out.append(f"{pad2}  {it} {rv} = zr + l;")
            step(len(pad2) // 2 + 1, True)
            out.append(f"{pad2}}}")
            out.append(f"{pad}}}")
            if r_main < R:
                out.append(f"{pad}for ({it} {rv} = {r_main}; {rv} < {R}; {rv}++) {{")
                step(len(pad) // 2 + 1, False)
                out.append(f"{pad}}}")
            out.extend("    }" for _ in p.nest[:-1])
    else:
        # ---- dot: lanes over a chunk of the innermost reduction axis
        r_main = R - R % L
        # the steps past the last whole chunk: one more chunk with the lanes past the end
        # reading the last step (in bounds) and giving zeros to the product, when the
        # update is a bare multiply-add of panel values (a 28-wide image row: 16 + 12)
        tail = R % L != 0 and (R % L >= L // 4 or dreg) and fused is not None and not groups["ab"]
        pad = "  " * (len(p.nest) + 1)
        pad2 = pad + "  "

        def panel(c, rows, decl, gated):
            exp = exported(c)
            if not groups[c]:
                return exp
            dims = f"[{rows}]" if rows else ""
            for s in exp:
                out.append(f"{pad2}{r.ctype(s.dtype)} z{c or 'n'}_{s.name}{dims}[{L}];")
            if rows:
                out.append(f"{pad2}for (int {'a' if c == 'a' else 'b'} = 0; {'a' if c == 'a' else 'b'} < {rows}; "
                           f"{'a' if c == 'a' else 'b'}++) {{")
                if decl:
                    out.append(f"{pad2}  {decl}")
            out.append(f"{pad2}#pragma omp simd")
            out.append(f"{pad2}for (int l = 0; l < {L}; l++) {{")
            out.append(f"{pad2}  {it} {rv} = zr + l;")
            for s in exported(""):
                if c != "":
                    out.append(f"{pad2}  {r.ctype(s.dtype)} {s.name} = zn_{s.name}[l];")
            out.extend(f"{pad2}  {r.ctype(s.dtype)} {s.name} = {r.literal(s.arg, s.dtype)};" for s in consts
                       if c != "")
            body = [s for s in groups[c] if not (c != "" and s.op == "CONST")]
            if gated:  # lanes past the end load nothing (masked loads), and export zeros
                body = [_gate_load(s, p.nest[-1].var, R, r_main + L) for s in body]
            r.render_body(k, body, len(pad2) // 2 + 1, dict(dtypes), out)
            sub = "[a]" if c == "a" else "[b]" if c == "b" else ""
            for s in exp:
                val = f"(zr + l < {R} ? {s.name} : {r.literal(0, s.dtype)})" if gated else s.name
                out.append(f"{pad2}  z{c or 'n'}_{s.name}{sub if rows else ''}[l] = {val};")
            out.append(f"{pad2}}}")
            if rows:
                out.append(f"{pad2}}}")
            return exp

        def chunk(gated):
            nexp = panel("", 0, "", gated)
            aexp = panel("a", p.ti, vm_decl, gated)
            bexp = panel("b", p.tj, vn_decl, gated)
            if dreg:
                x, y = fused.srcs if p.cls[fused.srcs[0]] == "a" else fused.srcs[::-1]
                out.append(f"{pad2}" + " ".join(f"zyx_vf{bits} zav{a} = zyx_vld{bits}(&za_{x}[{a}][0]);"
                                                for a in range(p.ti)))
                out.append(f"{pad2}" + " ".join(f"zyx_vf{bits} zbv{b} = zyx_vld{bits}(&zb_{y}[{b}][0]);"
                                                for b in range(p.tj)))
                for a in range(p.ti):
                    out.append(f"{pad2}" + " ".join(f"zacc_{a}_{b} = zyx_vfmav{bits}(zav{a}, zbv{b}, zacc_{a}_{b});"
                                                    for b in range(p.tj)))
                return
            out.append(f"{pad2}for (int a = 0; a < {p.ti}; a++) for (int b = 0; b < {p.tj}; b++) {{")
            out.append(f"{pad2}  #pragma omp simd")
            out.append(f"{pad2}  for (int l = 0; l < {L}; l++) {{")
            q = pad2 + "    "
            out.append(f"{q}{it} {rv} = zr + l;")
            if groups["ab"] and vm_decl:
                out.append(q + vm_decl)
            if groups["ab"]:
                out.append(q + vn_decl)
            out.extend(f"{q}{r.ctype(s.dtype)} {s.name} = zn_{s.name}[l];" for s in nexp)
            out.extend(f"{q}{r.ctype(s.dtype)} {s.name} = za_{s.name}[a][l];" for s in aexp)
            out.extend(f"{q}{r.ctype(s.dtype)} {s.name} = zb_{s.name}[b][l];" for s in bexp)
            out.extend(f"{q}{r.ctype(s.dtype)} {s.name} = {r.literal(s.arg, s.dtype)};" for s in consts
                       if p.cls[s.name] == "")
            r.render_body(k, [s for s in groups["ab"]], len(q) // 2, dict(dtypes), out)
            out.append(q + update(up.src))
            out.append(f"{pad2}  }}")
            out.append(f"{pad2}}}")

        out.append(f"{pad}for ({it} zr = 0; zr < {r_main}; zr += {L}) {{")
        chunk(False)
        out.append(f"{pad}}}")
        if tail:
            out.append(f"{pad}{{ const {it} zr = {r_main};")
            chunk(True)
            out.append(f"{pad}}}")
        elif r_main < R:
            # the reduction steps the lanes did not cover, one at a time into lane 0
            out.append(f"{pad}for ({it} {rv} = {r_main}; {rv} < {R}; {rv}++) {{")
            out.append(f"{pad2}for (int a = 0; a < {p.ti}; a++) for (int b = 0; b < {p.tj}; b++) {{")
            if vm_decl:
                out.append(f"{pad2}  {vm_decl}")
            out.append(f"{pad2}  {vn_decl}")
            out.append(f"{pad2}  const int l = 0;")
            r.render_body(k, p.stmts, len(pad2) // 2 + 1, dict(dtypes), out)
            out.append(f"{pad2}  {update(up.src)}")
            out.append(f"{pad2}}}")
            out.append(f"{pad}}}")
        out.extend("    }" for _ in p.nest[:-1])
    # ---- epilogue: finish each accumulator and run the statements after the loop
    if vreg is not None:
        out.append("    " + " ".join(f"zyx_vst{bits}(&zacc[{a}][{c * vreg[2]}], zacc_{a}_{c});"
                                     for a in range(p.ti) for c in range(vreg[3])))
    if dreg:
        out.append("    " + " ".join(f"zyx_vst{bits}(&zacc[{a}][{b}][0], zacc_{a}_{b});"
                                     for a in range(p.ti) for b in range(p.tj)))
    out.append(f"    for (int a = 0; a < {p.ti}; a++) {{")
    if vm_decl:
        out.append("      " + vm_decl)
    out.append(f"      for (int b = 0; b < {p.tj}; b++) {{")
    out.append("        " + vn_decl)
    if p.dot:
        out.append(f"        {t} {acc.name} = zacc[a][b][0];")
        out.append(f"        for (int l = 1; l < {L}; l++) {acc.name} += zacc[a][b][l];")
    else:
        out.append(f"        {t} {acc.name} = " + ("zaccn[a][b] ? NAN : zacc[a][b];" if flagged else "zacc[a][b];"))
    r.render_body(k, pre + post, 4, {acc.name: acc.dtype}, out)
    out.append("      }")
    out.append("    }")
    if p.pack:
        out.append("    }")
    out.append("  }")
    # ---- the edges the tiles did not cover, element by element
    edges = []
    if n_main < p.n:
        edges.append(((0, m_main), (n_main, p.n)))
    if m_main < p.m:
        edges.append(((m_main, p.m), (0, p.n)))
    for (mlo, mhi), (nlo, nhi) in edges:
        if mlo >= mhi or nlo >= nhi:
            continue
        loops_ = []
        for v, size in k.global_dims:
            lo, hi = (mlo, mhi) if v is p.vm else (nlo, nhi) if v is p.vn else (0, size)
            loops_.append(f"for ({it} {v.name} = {lo}; {v.name} < {hi}; {v.name}++)")
        if parallel:
            out.append(f"  #pragma omp parallel for collapse({len(loops_)}) schedule(static)")
        out.extend("  " + h for h in loops_)
        out.append("  {")
        r.render_body(k, k.body, 2, {}, out)
        out.append("  }")
