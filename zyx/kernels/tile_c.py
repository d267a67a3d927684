"""Register tiling of contraction-shaped kernels for the C renderer.

A kernel qualifies when it has parallel output loops, one reduction (a perfect nest of
loops, one accumulator, a straight-line body) and reuse: some load depends on one
output axis but not another. Two output axes are picked, ``col_var`` (the tile's columns)
and ``row_var`` (its rows); the other output axes stay ordinary parallel loops.

Every statement of the reduction body is classified by which of ``row_var`` / ``col_var`` it
depends on (through its index expressions and its operands):

- neither: computed once per reduction step, shared by the whole tile;
- ``col_var`` only: computed for the tile's columns into a small array (the "B panel");
- ``row_var`` only: computed once per tile row (the "A panel");
- both: computed per tile element (usually just the multiply-add).

So a fused prologue (a ReLU mask, a bias add, a padded window's gate) costs its work
once per row or column of the tile, not once per element.

Two shapes of tile:

- *outer product*, when a load is contiguous along ``col_var``: for each reduction step, a
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


# The side of the tile a statement of the reduction body depends on (``TilePlan.side``):
SHARED = ""  # neither the row nor the column axis: computed once per reduction step
ROW = "a"  # the row axis only: once per tile row (the "A panel"; ``za_`` arrays in the C)
COL = "b"  # the column axis only: once per tile column (the "B panel"; ``zb_`` arrays)
BOTH = "ab"  # both: once per tile element (usually just the multiply-add)


@dataclass
class TilePlan:
    """How a contraction is tiled (see the module docstring)."""

    loop_pos: int  # position of the reduction loop in k.body
    nest: list  # the reduction loops, outermost first
    stmts: list  # the body's assignments (with the pre-loop ones they use), in order
    update: AccUpdate  # the accumulator's one update
    acc: Acc
    col_var: Var  # the output axis along the tile's columns
    cols: int  # its extent
    tile_cols: int  # columns per tile
    row_var: Var | None  # the output axis along the tile's rows (None: one row)
    rows: int
    tile_rows: int
    dot: bool  # the dot form (else the outer product)
    lanes: int  # dot form: partial sums per accumulator
    side: dict  # statement name -> SHARED | ROW | COL | BOTH
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


def _reduction_nest(loop: Loop):
    """The loops of a reduction nest (assignments may stand between them: they move into
    the flat body) and its flat body; None when a level holds two loops or anything else."""
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
    t = next((t for t in sizes if m % t == 0), None)
    if t is None and m <= sizes[0]:
        # a few rows no size divides (3 classes, 5, 7): one tile spans them, so the other side
        # is read once, not once per row (LogisticRegression's (P - Y).T @ X: 226 -> 90 us)
        return m
    return t or next((t for t in (4, 2) if m >= 2 * t), 1)


def plan(k: Kernel) -> TilePlan | None:
    if not k.global_dims or k.generic:  # register tiles need concrete sizes: specialised kernels only
        return None
    loops = [i for i, s in enumerate(k.body) if isinstance(s, Loop)]
    if len(loops) != 1:
        return None
    loop_pos = loops[0]
    got = _reduction_nest(k.body[loop_pos])
    if got is None:
        return None
    nest, flat = got
    if math.prod(lp.size for lp in nest) < 8:
        return None
    accs = [s for s in k.body if isinstance(s, Acc)]
    ups = [s for s in flat if isinstance(s, AccUpdate)]
    if len(accs) != 1 or len(ups) != 1 or ups[0].name != accs[0].name:
        return None
    acc, update = accs[0], ups[0]
    if compute_dtype(acc.dtype).kind not in "fiu":
        return None
    body = [s for s in flat if isinstance(s, Assign)]
    if any(s.op == "BITCAST" for s in body) or any(isinstance(s, Assign) and s.op == "BITCAST" for s in k.body):
        return None
    pre = [s for s in k.body[:loop_pos] if not isinstance(s, Acc)]
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
        col_var, n = contig[-1]
    else:
        # no output axis is contiguous: the dot form, if the innermost reduction axis is
        # the column axis: one that has a partner with loads exclusive to each side
        def pair_score(c):
            v = c[0]
            best = max((min(reuse(v, o), reuse(o, v)) for o, s in dims if o is not v and s >= 2), default=0)
            return (best > 0, min(c[1], 32), reuse(v, None) == 0, c[1])
        col_var, n = max(cand, key=pair_score)
        dot = any(coef(s.arg[1], rvar.name) == 1 and col_var.name in deps[s.name] for s in loads)
    others = [(v, m) for v, m in dims if v is not col_var]
    row_var, m = None, 1
    if others:
        best = max(range(len(others)), key=lambda i: (min(reuse(others[i][0], col_var),
                                                          reuse(col_var, others[i][0])) > 0,
                                                      reuse(others[i][0], col_var), _rows(others[i][1]), i))
        if reuse(others[best][0], col_var) > 0:
            row_var, m = others[best]
        elif not dot and contig and len(k.global_dims) >= 2 and k.global_dims[-1][0] is col_var:
            # a reduction over a leading axis: no reuse, but row blocks still cut loop overhead
            row_var, m = others[-1]
    has_a = row_var is not None and reuse(row_var, col_var) > 0
    has_b = reuse(col_var, row_var) > 0
    lanes = max(4, 64 // compute_dtype(acc.dtype).itemsize)
    # (a reduction axis shorter than the lanes: the outer product was faster, measured on a
    # convolution's weight gradient over 14-wide rows - 0.67 vs 2.4 ms)
    if dot and not (has_a and has_b and acc.kind == "SUM" and nest[-1].size >= lanes):
        dot = False  # too short to fill the lanes: the outer product, with gathered panels
    pack = False
    if dot and len(nest) == 1 and row_var is not None and m >= 8:
        # A @ B^T with enough column blocks to share out: copy each block of B's columns
        # once, transposed, into a small buffer (as BLAS packs), and run the outer product
        # (not for a few rows of A - 3 classes: each packed value would serve 3 products,
        # and the transposing copy cost more than the dot products it fed; 4000 x 64 x 3:
        # 85 -> 45 us on two threads)
        tile_cols = _cols(n, False)
        itemsize = max(4, compute_dtype(acc.dtype).itemsize)
        if tile_cols is not None and tile_cols >= 8 and (n // tile_cols) * math.prod(
                s for v, s in dims if v is not col_var and v is not row_var) >= 4 \
                and nest[-1].size * 32 * itemsize <= 128 * 1024:
            dot, pack = False, True
    if dot:
        tile_rows = next((t for t in (4, 3, 2) if m % t == 0), None) or (2 if m >= 4 else 1)
        tile_cols = next((t for t in (4, 2) if n % t == 0), None) or 2
        tile_cols = min(tile_cols, n)
    else:
        if not contig and not (has_a and has_b):
            return None
        lanes = 1
        tile_cols = _cols(n, bool(contig))
        if tile_cols is None:
            return None
        tile_rows = _rows(m, tile_cols) if row_var is not None else 1
    side = {}
    for s in stmts:
        d = deps[s.name]
        side[s.name] = (ROW if row_var is not None and row_var.name in d else SHARED) \
            + (COL if col_var.name in d else SHARED)
    if not dot and not pack and len(nest) == 1 and row_var is not None and (m // tile_rows) >= 4 \
            and (n // tile_cols) * math.prod(s for v, s in dims if v is not col_var and v is not row_var) >= 4 \
            and nest[-1].size * 32 * max(4, compute_dtype(acc.dtype).itemsize) <= 256 * 1024 \
            and (any(side[s.name] == COL and s.op not in ("LOAD", "CONST") for s in stmts)
                 or (nest[-1].size >= 512 and m >= 256)):
        # a computed B side (a ReLU mask in a weight gradient): compute it once per column
        # block rather than once per row tile; a long reduction over many rows: one
        # contiguous panel instead of R rows a page apart (TLB misses)
        pack = True
    return TilePlan(loop_pos, nest, stmts, update, acc, col_var, n, tile_cols, row_var, m, tile_rows, dot, lanes,
                    side, pack)


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
    users = {x for s in p.stmts if p.side[s.name] != "b" for x in reads(s)} | {p.update.src}
    return [s for s in p.stmts if p.side[s.name] == COL and s.op != "CONST" and s.name in users]


def _global_pack(p: TilePlan, k: Kernel) -> str | None:
    """The flattened reduction index (C text) when the kernel should copy its whole B side,
    transposed, to a heap buffer first; else None.

    For an outer-product tile whose B values are gathered (no contiguous load along the
    column axis) and depend on nothing but the columns and the reduction - a convolution's
    weight gradient reads the output gradient across channels, 196 floats apart, in every
    one of its 3x3 x channel-block tiles - the gathers are done once instead of once per
    tile, and each tile then reads two contiguous vectors per step (0.66 -> 0.48 ms)."""
    if p.dot or p.pack or p.row_var is None or p.cols % p.tile_cols or p.tile_cols % 16:
        return None
    bs = [s for s in p.stmts if p.side[s.name] == COL]
    loads = [s for s in bs if s.op == "LOAD"]
    if not loads or any(s.op in ("RAND", "INDEX", "CLAMP") for s in bs):
        return None
    if any(coef(s.arg[1], p.col_var.name) == 1 for s in loads):
        return None  # the panel is a contiguous read already
    allowed = {p.col_var.name} | {lp.var.name for lp in p.nest}
    deps = dependencies(p.stmts)
    if any(deps[s.name] - allowed for s in bs):
        return None
    R = math.prod(lp.size for lp in p.nest)
    vals = _gpack_values(p)
    if not vals or R * p.cols * sum(max(4, compute_dtype(s.dtype).itemsize) for s in vals) > GLOBAL_PACK_MAX:
        return None
    # tiles that share it: the row blocks and the other output axes
    others = math.prod(n for v, n in k.global_dims if v is not p.col_var and v is not p.row_var)
    if (p.rows // p.tile_rows) * others < 4:
        return None
    flat, stride = [], 1
    for lp in reversed(p.nest):
        flat.append(f"{lp.var.name}*{stride}" if stride > 1 else lp.var.name)
        stride *= lp.size
    return " + ".join(reversed(flat))


def _emit_global_pack(r, k: Kernel, p: TilePlan, flat: str, out: list[str], parallel: bool) -> list:
    """Allocate and fill the B^T copies; returns the values copied (``zgp_<name>``)."""
    it = r.index_type
    stmts = [s for s in p.stmts if p.side[s.name] in (SHARED, COL)]
    R = math.prod(lp.size for lp in p.nest)
    vals = _gpack_values(p)
    for s in vals:
        t = r.ctype(s.dtype)
        out.append(f"  {t}* zgp_{s.name} = ({t}*)ZYX_SCRATCH_ALLOC(sizeof({t}) * {R * p.cols});")
    ok = " && ".join(f"zgp_{s.name}" for s in vals)
    out.append(f"  if ({ok}) {{")
    if parallel:
        out.append(f"  #pragma omp parallel for collapse({len(p.nest)}) schedule(static)")
    for lp in p.nest:
        out.append(f"  for ({it} {lp.var.name} = 0; {lp.var.name} < {lp.size}; {lp.var.name}++)")
    out.append("  {")
    out.append(f"    for ({it} {p.col_var.name} = 0; {p.col_var.name} < {p.cols}; {p.col_var.name}++) {{")
    dtypes = {s.name: s.dtype for s in p.stmts}
    r.render_body(k, stmts, 3, dtypes, out)
    out.extend(f"      zgp_{s.name}[({flat}) * {p.cols} + {p.col_var.name}] = {s.name};" for s in vals)
    out.append("    }")
    out.append("  }")
    out.append("  }")
    return vals


# A tiled contraction runs on OpenMP's workers from this many times the renderer's
# ``min_parallel_work`` multiply-adds (2M): its vector FMAs are an order of magnitude cheaper
# than the generic kernels' element ops the threshold is set for. Below it one thread was
# faster in real programs (measured on the 2-core dev machine: LogisticRegression's 4000 x 64
# x 3 contractions, ~770k multiply-adds, took 60 / 26 us on one thread back to back and 31-50
# / 18 us on two - but inside a fit, with Python between the launches and SciPy's OpenBLAS
# worker spinning after each L-BFGS step, two threads took a median 86-240 us and up to 4 ms:
# the second thread waits to be woken and scheduled)
TILED_PARALLEL_FACTOR = 8


def render(r, k: Kernel, p: TilePlan, out: list[str]) -> None:
    """Append the tiled kernel body to ``out`` (``r`` is the CRenderer)."""
    total = math.prod(n for _, n in k.global_dims) * math.prod(lp.size for lp in p.nest)
    parallel = total >= r.min_parallel_work * TILED_PARALLEL_FACTOR
    flat = _global_pack(p, k) if total >= r.min_parallel_work else None
    if flat is None:
        TileEmitter(r, k, p, out, parallel, None).render()
        return
    # B^T copied to the heap first; should the allocation fail, the same tiles without it
    vals = _emit_global_pack(r, k, p, flat, out, parallel)
    out.append(f"  if ({' && '.join(f'zgp_{s.name}' for s in vals)}) {{")
    TileEmitter(r, k, p, out, parallel, flat).render()
    out.append("  } else {")
    TileEmitter(r, k, p, out, parallel, None).render()
    out.append("  }")
    out.extend(f"  free(zgp_{s.name});" for s in vals)


class TileEmitter:
    """Writes one register-tiled kernel body, a method per phase:

    1. ``open_tiles``: the parallel loops over the other output axes, the column blocks and
       the row blocks of the tile;
    2. ``pack_column_block`` (``plan.pack``): the block's B side, transposed, once per block;
    3. ``declare_accumulators``: ``zacc[row][col]`` (the dot form: ``[lane]`` too), and named
       vector registers where the multiply-add runs on them;
    4. ``outer_product`` or ``dot_product``: the reduction loops and the tile's multiply-adds;
    5. ``epilogue``: each accumulator finished, the statements after the reduction run;
    6. ``edges``: the outputs the whole tiles did not cover, element by element.

    Names in the generated C: ``zi`` / ``zj`` count row / column blocks, ``a`` / ``b`` a row
    / column inside the tile, ``l`` a lane (a reduction step of a chunk), ``zr`` the first
    reduction step of a chunk; ``za_`` / ``zb_`` / ``zn_`` prefix the panels of ROW, COL and
    SHARED values."""

    def __init__(self, r, k: Kernel, p: TilePlan, out: list[str], parallel: bool, global_pack: str | None):
        self.r, self.k, self.p, self.out = r, k, p, out
        self.parallel = parallel
        self.global_pack = global_pack  # flat reduction index into the B^T heap copy, or None
        acc = p.acc
        self.acc_type = r.ctype(acc.dtype)
        self.index_type = r.index_type
        self.cd = compute_dtype(acc.dtype)
        self.bits = self.cd.itemsize * 8
        self.pre = [s for s in k.body[:p.loop_pos] if not isinstance(s, Acc)]
        self.post = k.body[p.loop_pos + 1:]
        self.dtypes = {s.name: s.dtype for s in p.stmts}
        self.dtypes[acc.name] = acc.dtype
        self.nan_flagged = acc.kind in ("MAX", "MIN") and self.cd.kind == "f"
        self.outer_dims = [(v, n) for v, n in k.global_dims if v is not p.col_var and v is not p.row_var]
        # the extents whole tiles cover
        self.cols_main, self.rows_main = p.cols - p.cols % p.tile_cols, p.rows - p.rows % p.tile_rows
        self.row_decl = f"{self.index_type} {p.row_var.name} = zi * {p.tile_rows} + a;" if p.row_var is not None else ""
        self.col_decl = f"{self.index_type} {p.col_var.name} = zj * {p.tile_cols} + b;"
        self.by_side = {side: [s for s in p.stmts if p.side[s.name] == side] for side in (SHARED, ROW, COL, BOTH)}
        self.consts = [s for s in p.stmts if s.op == "CONST"]
        self.readers: dict = {}  # value name -> the sides of the statements reading it
        for s in p.stmts:
            for x in reads(s):
                self.readers.setdefault(x, set()).add(p.side[s.name])
        self.readers.setdefault(p.update.src, set()).add(BOTH)
        self.red_var, self.red_size = p.nest[-1].var.name, p.nest[-1].size  # the innermost reduction loop
        self.fma = self._fused_product()
        self.padded_cols = self._padded_cols()
        self.vector_fma = self._vector_fma()
        self.dot_vectors = self._dot_vectors()

    # ------------------------------------------------------------------ decisions
    def _fused_product(self):
        """The MUL whose product a float sum accumulates, to be done as fused multiply-adds
        (one rounding instead of two, as BLAS does; the renderer otherwise keeps a*b+c
        unfused to match NumPy); it leaves the per-element statements. None otherwise."""
        p, acc = self.p, self.p.acc
        src = next((s for s in self.by_side[BOTH] if s.name == p.update.src), None)
        if acc.kind == "SUM" and self.cd.kind == "f" and self.cd.itemsize in (4, 8) and src is not None \
                and src.op == "MUL" and self.dtypes[src.srcs[0]] == acc.dtype == self.dtypes[src.srcs[1]] \
                and all(p.update.src not in s.srcs for s in p.stmts):
            self.by_side[BOTH] = [s for s in self.by_side[BOTH] if s is not src]
            return src
        return None

    def _padded_cols(self) -> int:
        """A tile width that is not a whole number of vectors (14 for a 14-wide image row, 10
        classes) is computed padded to one: the padding columns multiply zeros and are never
        stored. Only when the per-element statements read no memory (they run for padding too)."""
        p = self.p
        if not p.dot and not any(s.op in ("LOAD", "GATE", "RAND", "INDEX", "CLAMP") for s in self.by_side[BOTH]):
            vec = max(1, 64 // max(1, self.cd.itemsize))
            return -(-p.tile_cols // vec) * vec if p.tile_cols % vec else p.tile_cols
        return p.tile_cols

    def _vector_fma(self):
        """The outer product's multiply-add in named vector registers - a value of the row
        times a vector of column values (see zyx_vfma32 in the C preamble): (row value,
        column value, lanes per vector, vectors per row), or None."""
        p, fma = self.p, self.fma
        if fma is None or p.dot or self.by_side[BOTH] or self.nan_flagged:
            return None
        width = 64 // self.cd.itemsize
        x, y = fma.srcs
        cx, cy = p.side.get(x, ""), p.side.get(y, "")
        if cx == COL and cy in (SHARED, ROW):
            x, y = y, x
            cx, cy = cy, cx
        if cy == COL and cx in (SHARED, ROW) and self.padded_cols % width == 0 \
                and p.tile_rows * (self.padded_cols // width) <= 24:
            return x, y, width, self.padded_cols // width
        return None

    def _dot_vectors(self) -> bool:
        """The dot form's accumulators as named vectors too (one per (a, b), the lanes of the
        reduction chunk), multiply-added from the two panels' vectors."""
        p, fma = self.p, self.fma
        return p.dot and fma is not None and not self.by_side[BOTH] and p.lanes * self.cd.itemsize == 64 \
            and p.tile_rows * p.tile_cols <= 16 and all(p.side.get(x) in (ROW, COL) for x in fma.srcs) \
            and {p.side[x] for x in fma.srcs} == {ROW, COL}

    def vector_registers(self) -> list[tuple[str, str]]:
        """(name, place in zacc) of each named vector accumulator: per tile row, the vectors
        of its columns (outer product), or one per tile element (the dot form's lanes)."""
        p = self.p
        if self.vector_fma is not None:
            width, per_row = self.vector_fma[2], self.vector_fma[3]
            return [(f"zacc_{a}_{c}", f"zacc[{a}][{c * width}]") for a in range(p.tile_rows) for c in range(per_row)]
        if self.dot_vectors:
            return [(f"zacc_{a}_{b}", f"zacc[{a}][{b}][0]") for a in range(p.tile_rows) for b in range(p.tile_cols)]
        return []

    def exported(self, side: str) -> list:
        """Values of ``side`` that statements of another side read (kept in a panel)."""
        return [s for s in self.by_side[side] if s.op != "CONST" and (self.readers.get(s.name, set()) - {side})]

    # ------------------------------------------------------------------ small pieces
    def emit(self, stmts: list, ind: int) -> None:
        self.r.render_body(self.k, stmts, ind, dict(self.dtypes), self.out)

    def declare_from(self, pad: str, stmts: list, source: str) -> None:
        """Declare each value of ``stmts`` as ``source`` (a format of its name)."""
        self.out.extend(f"{pad}{self.r.ctype(s.dtype)} {s.name} = {source.format(s.name)};" for s in stmts)

    def simd_loop(self, q: str, ind: int, var: str, count: int, first: str, stmts: list, exports: list,
                  target: str) -> None:
        """A vectorized loop of ``var`` over ``count`` (indent ``q`` / ``ind``) that starts with
        the line ``first``, computes ``stmts`` and keeps each of ``exports`` in ``target`` (a
        format of the value's name): a panel of values, one per row, column or step."""
        out = self.out
        out.append(f"{q}#pragma omp simd")
        out.append(f"{q}for (int {var} = 0; {var} < {count}; {var}++) {{")
        out.append(f"{q}  {first}")
        self.emit(stmts, ind + 1)
        out.extend(f"{q}  {target.format(s.name)} = {s.name};" for s in exports)
        out.append(f"{q}}}")

    def declare_consts(self, pad: str, consts: list) -> None:
        self.out.extend(f"{pad}{self.r.ctype(s.dtype)} {s.name} = {self.r.literal(s.arg, s.dtype)};" for s in consts)

    def update_stmt(self, src: str) -> str:
        """The statement folding value ``src`` into the tile's accumulator ``[a][b]``."""
        p, acc = self.p, self.p.acc
        target = "zacc[a][b][l]" if p.dot else "zacc[a][b]"
        if self.fma is not None and src == self.fma.name:
            fn = "fmaf" if self.cd.itemsize == 4 else "fma"
            return f"{target} = {fn}({self.fma.srcs[0]}, {self.fma.srcs[1]}, {target});"
        if self.nan_flagged:
            cmp = ">" if acc.kind == "MAX" else "<"
            return (f"zacc[a][b] = ({src} {cmp} zacc[a][b]) ? {src} : zacc[a][b]; "
                    f"zaccn[a][b] |= ({src} != {src});")
        return self.r.unflagged_acc_update(target, acc.kind, src, acc.dtype)

    # ------------------------------------------------------------------ phases
    def render(self) -> None:
        p = self.p
        self.open_tiles()
        if p.pack:
            self.pack_column_block()
        self.declare_accumulators()
        if p.dot:
            self.dot_product()
        else:
            self.outer_product()
        self.epilogue()
        self.edges()

    def open_tiles(self) -> None:
        p, it, out = self.p, self.index_type, self.out
        heads = [f"for ({it} {v.name} = 0; {v.name} < {size}; {v.name}++)" for v, size in self.outer_dims]
        heads.append(f"for ({it} zj = 0; zj < {self.cols_main // p.tile_cols}; zj++)")
        if p.row_var is not None and not p.pack:
            heads.append(f"for ({it} zi = 0; zi < {self.rows_main // p.tile_rows}; zi++)")
        if self.parallel:
            out.append(f"  #pragma omp parallel for collapse({len(heads)}) schedule(static)")
        out.extend("  " + h for h in heads)
        out.append("  {")

    def pack_column_block(self) -> None:
        """B's column block, transposed: zpk_<value>[step][b], once per block, shared by
        every row tile (the row-block loop opens here)."""
        p, it, out = self.p, self.index_type, self.out
        rv, size, width = self.red_var, self.red_size, self.padded_cols
        exports = self.exported(COL)
        for s in exports:
            out.append(f"    {self.r.ctype(s.dtype)} zpk_{s.name}[{size}][{width}];")
        zero_fill = " ".join(f"zpk_{s.name}[{rv}][b] = 0;" for s in exports)
        if all(coef(s.arg[1], p.col_var.name) == 1 for s in self.by_side[COL] if s.op == "LOAD"):
            # B's loads run along the columns: vectors over b, one reduction step at a time
            out.append(f"    for ({it} {rv} = 0; {rv} < {size}; {rv}++) {{")
            self.emit(self.by_side[SHARED], 3)
            out.append("      #pragma omp simd")
            out.append(f"      for (int b = 0; b < {p.tile_cols}; b++) {{")
            out.append(f"        {self.col_decl}")
            self.emit(self.by_side[COL], 4)
            out.extend(f"        zpk_{s.name}[{rv}][b] = {s.name};" for s in exports)
            out.append("      }")
            if width > p.tile_cols:
                out.append(f"      for (int b = {p.tile_cols}; b < {width}; b++) {{ " + zero_fill + " }")
            out.append("    }")
        else:  # along the reduction axis (A @ B^T): vectors over the steps, one column at a time
            out.append(f"    for (int b = 0; b < {width}; b++) {{")
            out.append(f"      {self.col_decl}")
            out.append(f"      if (b >= {p.tile_cols}) {{ for ({it} {rv} = 0; {rv} < {size}; {rv}++) {{ "
                       + zero_fill + " } continue; }")
            out.append("      #pragma omp simd")
            out.append(f"      for ({it} {rv} = 0; {rv} < {size}; {rv}++) {{")
            self.emit(self.by_side[SHARED], 4)
            self.emit(self.by_side[COL], 4)
            out.extend(f"        zpk_{s.name}[{rv}][b] = {s.name};" for s in exports)
            out.append("      }")
            out.append("    }")
        out.append(f"    for ({it} zi = 0; zi < {self.rows_main // p.tile_rows}; zi++) {{")

    def declare_accumulators(self) -> None:
        p, out, bits = self.p, self.out, self.bits
        shape = f"[{p.tile_rows}][{self.padded_cols}]" + (f"[{p.lanes}]" if p.dot else "")
        out.append(f"    {self.acc_type} zacc{shape};" + (f" int zaccn{shape};" if self.nan_flagged else ""))
        if self.vector_registers():
            out.append("    " + " ".join(f"zyx_vf{bits} {reg} = {{0}};" for reg, _ in self.vector_registers()))
        init = self.r.acc_init(p.acc.kind, p.acc.dtype)
        lane_loop = f" for (int l = 0; l < {p.lanes}; l++)" if p.dot else ""
        out.append(f"    for (int a = 0; a < {p.tile_rows}; a++) "
                   f"for (int b = 0; b < {self.padded_cols}; b++){lane_loop} {{ "
                   f"zacc[a][b]{'[l]' if p.dot else ''} = {init};"
                   + (" zaccn[a][b] = 0;" if self.nan_flagged else "") + " }")

    # ------------------------------------------------------------------ outer product
    def outer_product(self) -> None:
        """For each reduction step, the TI x TJ accumulators take ``a[i] * b[j]``."""
        p, out = self.p, self.out
        col_loads = [s for s in self.by_side[COL] if s.op == "LOAD"]
        self.col_loads_gated = bool(col_loads) and all(s.arg[2] for s in col_loads)
        self.col_stmts_padded = []  # the COL statements, gated by "column < n" for the padding
        if self.col_loads_gated:
            wide = Var(p.col_var.name, 0, p.cols + self.padded_cols)  # the range the padded panel reaches
            for s in self.by_side[COL]:
                if s.op == "LOAD":
                    pi, idx, gate = s.arg
                    s = Assign(s.name, s.dtype, s.op, s.srcs, (pi, idx, tuple(gate) + ((wide, 0, p.cols),)))
                self.col_stmts_padded.append(s)
        # a computed A side (a fused ReLU mask, a bias) that reads along the innermost
        # reduction axis: compute the A panel for ``chunk`` reduction steps at a time, as
        # vectors along that axis, instead of as scalars once per step
        row_work = [s for s in self.by_side[ROW] if s.op not in ("LOAD", "CONST")]
        row_loads = [s for s in self.by_side[ROW] if s.op == "LOAD"]
        self.chunk = 16 if (row_work and row_loads and self.red_size >= 16
                            and all(coef(s.arg[1], self.red_var) == 1 for s in row_loads)) else 1
        # ... or, when it reads along the tile's rows (A^T @ B), as one vector over the rows
        self.row_vector_panel = self.chunk == 1 and p.row_var is not None and row_work and row_loads \
            and p.tile_rows >= 4 \
            and all(coef(s.arg[1], p.row_var.name) == 1 for s in row_loads)
        for lp in p.nest if self.chunk == 1 else p.nest[:-1]:
            out.append(f"    for ({self.index_type} {lp.var.name} = 0; {lp.var.name} < {lp.size}; {lp.var.name}++) {{")
        self.col_exports, self.shared_exports, self.row_exports = \
            self.exported(COL), self.exported(SHARED), self.exported(ROW)
        if self.chunk == 1:
            self.outer_step(3, False)
            out.extend("    }" for _ in p.nest)
        else:
            self.outer_chunked_steps()
            out.extend("    }" for _ in p.nest[:-1])

    def outer_chunked_steps(self) -> None:
        """The innermost reduction loop in chunks of ``chunk`` steps: the SHARED and ROW
        panels computed as vectors along the steps, then one outer-product step per lane."""
        it, out, chunk, rv = self.index_type, self.out, self.chunk, self.red_var
        steps_main = self.red_size - self.red_size % chunk
        pad = "  " * (len(self.p.nest) + 1)
        inner = pad + "  "
        ind = len(inner) // 2
        out.append(f"{pad}for ({it} zr = 0; zr < {steps_main}; zr += {chunk}) {{")
        for s in self.shared_exports:
            out.append(f"{inner}{self.r.ctype(s.dtype)} zn_{s.name}[{chunk}];")
        if self.shared_exports:
            self.simd_loop(inner, ind, "l", chunk, f"{it} {rv} = zr + l;", self.by_side[SHARED],
                           self.shared_exports, "zn_{}[l]")
        for s in self.row_exports:
            out.append(f"{inner}{self.r.ctype(s.dtype)} za_{s.name}[{self.p.tile_rows}][{chunk}];")
        out.append(f"{inner}for (int a = 0; a < {self.p.tile_rows}; a++) {{")
        if self.row_decl:
            out.append(f"{inner}  {self.row_decl}")
        out.append(f"{inner}  #pragma omp simd")
        out.append(f"{inner}  for (int l = 0; l < {chunk}; l++) {{")
        out.append(f"{inner}    {it} {rv} = zr + l;")
        self.emit(self.by_side[SHARED], ind + 2)
        self.emit(self.by_side[ROW], ind + 2)
        out.extend(f"{inner}    za_{s.name}[a][l] = {s.name};" for s in self.row_exports)
        out.append(f"{inner}  }}")
        out.append(f"{inner}}}")
        out.append(f"{inner}for (int l = 0; l < {chunk}; l++) {{")
        out.append(f"{inner}  {it} {rv} = zr + l;")
        self.outer_step(ind + 1, True)
        out.append(f"{inner}}}")
        out.append(f"{pad}}}")
        if steps_main < self.red_size:
            out.append(f"{pad}for ({it} {rv} = {steps_main}; {rv} < {self.red_size}; {rv}++) {{")
            self.outer_step(len(pad) // 2 + 1, False)
            out.append(f"{pad}}}")

    def outer_row_values(self, q: str, ind: int, chunked: bool) -> None:
        """Inside the loop over tile rows: the row index and the ROW values, from the
        panels or computed here."""
        if self.row_decl:
            self.out.append(f"{q}  {self.row_decl}")
        if chunked:
            self.declare_from(q + "  ", self.row_exports, "za_{}[a][l]")
        elif self.row_vector_panel:
            self.declare_from(q + "  ", self.row_exports, "za_{}[a]")
        else:
            self.emit(self.by_side[ROW], ind + 1)

    def outer_col_panel(self, q: str, ind: int) -> None:
        """The COL values of this step for the tile's columns, into zb_<value>[b]."""
        p, out, exports = self.p, self.out, self.col_exports
        for s in exports:
            out.append(f"{q}{self.r.ctype(s.dtype)} zb_{s.name}[{self.padded_cols}];")
        if not self.by_side[COL]:
            return
        padded = self.padded_cols > p.tile_cols and self.col_loads_gated
        # every column load gated (a padded window): the panel runs over the padded width
        # too, the gates extended by "column < n" - a full-width vector loop
        self.simd_loop(q, ind, "b", self.padded_cols if padded else p.tile_cols, self.col_decl,
                       self.col_stmts_padded if padded else self.by_side[COL], exports, "zb_{}[b]")
        if not padded and self.padded_cols > p.tile_cols:
            out.append(f"{q}for (int b = {p.tile_cols}; b < {self.padded_cols}; b++) {{ "
                       + " ".join(f"zb_{s.name}[b] = 0;" for s in exports) + " }")

    def outer_step(self, ind: int, chunked: bool) -> None:
        """One reduction step of the outer product at indent ``ind``; with ``chunked`` the
        SHARED / ROW values come from the panels at lane ``l``."""
        p, out, q, gpack = self.p, self.out, "  " * ind, self.global_pack
        if chunked:
            self.declare_consts(q, self.consts)
            self.declare_from(q, self.shared_exports, "zn_{}[l]")
        else:
            self.emit(self.by_side[SHARED], ind)
        if not (p.pack or gpack):  # (else the B values are read from a transposed copy)
            self.outer_col_panel(q, ind)
        if self.row_vector_panel:
            for s in self.row_exports:
                out.append(f"{q}{self.r.ctype(s.dtype)} za_{s.name}[{p.tile_rows}];")
            self.simd_loop(q, ind, "a", p.tile_rows, self.row_decl, self.by_side[ROW], self.row_exports, "za_{}[a]")
        if self.vector_fma is not None:
            self.outer_vector_fma(q, ind, chunked)
            return
        out.append(f"{q}for (int a = 0; a < {p.tile_rows}; a++) {{")
        self.outer_row_values(q, ind, chunked)
        out.append(f"{q}  #pragma omp simd")
        out.append(f"{q}  for (int b = 0; b < {self.padded_cols}; b++) {{")
        out.append(f"{q}    {self.col_decl}")
        if p.pack:
            self.declare_from(q + "    ", self.col_exports, "zpk_{}[" + self.red_var + "][b]")
        elif gpack:
            self.declare_from(q + "    ", self.col_exports,
                              "zgp_{}[(" + gpack + f") * {p.cols} + zj * {p.tile_cols} + b]")
        else:
            self.declare_from(q + "    ", self.col_exports, "zb_{}[b]")
        self.emit(self.by_side[BOTH], ind + 2)
        out.append(f"{q}    {self.update_stmt(p.update.src)}")
        out.append(f"{q}  }}")
        out.append(f"{q}}}")

    def outer_vector_fma(self, q: str, ind: int, chunked: bool) -> None:
        """The step's multiply-adds on named vector registers, one tile row at a time."""
        p, out, bits = self.p, self.out, self.bits
        row_value, col_value, width, per_row = self.vector_fma
        src = f"zpk_{col_value}[{self.red_var}]" if p.pack else f"zb_{col_value}"
        if self.global_pack:
            src = f"(zgp_{col_value} + ({self.global_pack}) * {p.cols} + zj * {p.tile_cols})"
        out.append(f"{q}" + " ".join(f"zyx_vf{bits} zbv{c} = zyx_vld{bits}(&{src}[{c * width}]);"
                                     for c in range(per_row)))
        for a in range(p.tile_rows):
            out.append(f"{q}{{")
            out.append(f"{q}  const int a = {a};")
            self.outer_row_values(q, ind, chunked)
            out.append(f"{q}  " + " ".join(f"zacc_{a}_{c} = zyx_vfma{bits}({row_value}, zbv{c}, zacc_{a}_{c});"
                                           for c in range(per_row)))
            out.append(f"{q}}}")

    # ------------------------------------------------------------------ dot form
    def dot_product(self) -> None:
        """Lanes over a chunk of the innermost reduction axis: each accumulator holds a
        vector of partial sums."""
        p, it, out, lanes, rv = self.p, self.index_type, self.out, self.p.lanes, self.red_var
        for lp in p.nest[:-1]:
            out.append(f"    for ({it} {lp.var.name} = 0; {lp.var.name} < {lp.size}; {lp.var.name}++) {{")
        self.steps_main = self.red_size - self.red_size % lanes
        rest = self.red_size % lanes
        # the steps past the last whole chunk: one more chunk with the lanes past the end
        # reading the last step (in bounds) and giving zeros to the product, when the
        # update is a bare multiply-add of panel values (a 28-wide image row: 16 + 12)
        tail = rest != 0 and (rest >= lanes // 4 or self.dot_vectors) and self.fma is not None \
            and not self.by_side[BOTH]
        pad = "  " * (len(p.nest) + 1)
        self.pad2 = pad + "  "
        out.append(f"{pad}for ({it} zr = 0; zr < {self.steps_main}; zr += {lanes}) {{")
        self.dot_chunk(False)
        out.append(f"{pad}}}")
        if tail:
            out.append(f"{pad}{{ const {it} zr = {self.steps_main};")
            self.dot_chunk(True)
            out.append(f"{pad}}}")
        elif self.steps_main < self.red_size:
            self.dot_remainder(pad)
        out.extend("    }" for _ in p.nest[:-1])

    def dot_remainder(self, pad: str) -> None:
        """The reduction steps the lanes did not cover, one at a time into lane 0."""
        p, out, pad2 = self.p, self.out, self.pad2
        out.append(f"{pad}for ({self.index_type} {self.red_var} = {self.steps_main}; {self.red_var} < {self.red_size}; "
                   f"{self.red_var}++) {{")
        out.append(f"{pad2}for (int a = 0; a < {p.tile_rows}; a++) for (int b = 0; b < {p.tile_cols}; b++) {{")
        if self.row_decl:
            out.append(f"{pad2}  {self.row_decl}")
        out.append(f"{pad2}  {self.col_decl}")
        out.append(f"{pad2}  const int l = 0;")
        self.emit(p.stmts, len(pad2) // 2 + 1)
        out.append(f"{pad2}  {self.update_stmt(p.update.src)}")
        out.append(f"{pad2}}}")
        out.append(f"{pad}}}")

    def dot_panel(self, side: str, rows: int, decl: str, gated: bool) -> list:
        """The ``side`` values of this chunk, per lane (and per tile row or column when
        ``rows``) into z<a|b|n>_<value>; returns the values kept."""
        p, it, out, pad2, lanes = self.p, self.index_type, self.out, self.pad2, self.p.lanes
        exports = self.exported(side)
        if not self.by_side[side]:
            return exports
        prefix = f"z{side or 'n'}_"
        loop_var = "a" if side == ROW else "b"
        dims = f"[{rows}]" if rows else ""
        for s in exports:
            out.append(f"{pad2}{self.r.ctype(s.dtype)} {prefix}{s.name}{dims}[{lanes}];")
        if rows:
            out.append(f"{pad2}for (int {loop_var} = 0; {loop_var} < {rows}; {loop_var}++) {{")
            if decl:
                out.append(f"{pad2}  {decl}")
        out.append(f"{pad2}#pragma omp simd")
        out.append(f"{pad2}for (int l = 0; l < {lanes}; l++) {{")
        out.append(f"{pad2}  {it} {self.red_var} = zr + l;")
        if side != SHARED:
            self.declare_from(pad2 + "  ", self.exported(SHARED), "zn_{}[l]")
            self.declare_consts(pad2 + "  ", self.consts)
        body = [s for s in self.by_side[side] if not (side != SHARED and s.op == "CONST")]
        if gated:  # lanes past the end load nothing (masked loads), and export zeros
            body = [_gate_load(s, p.nest[-1].var, self.red_size, self.steps_main + lanes) for s in body]
        self.r.render_body(self.k, body, len(pad2) // 2 + 1, dict(self.dtypes), out)
        sub = f"[{loop_var}]" if rows else ""
        for s in exports:
            val = f"(zr + l < {self.red_size} ? {s.name} : {self.r.literal(0, s.dtype)})" if gated else s.name
            out.append(f"{pad2}  {prefix}{s.name}{sub}[l] = {val};")
        out.append(f"{pad2}}}")
        if rows:
            out.append(f"{pad2}}}")
        return exports

    def dot_chunk(self, gated: bool) -> None:
        """One chunk of ``lanes`` reduction steps: the three panels, then the tile's
        multiply-adds lane by lane (or on named vectors)."""
        p, it, out, pad2, bits = self.p, self.index_type, self.out, self.pad2, self.bits
        shared = self.dot_panel(SHARED, 0, "", gated)
        row = self.dot_panel(ROW, p.tile_rows, self.row_decl, gated)
        col = self.dot_panel(COL, p.tile_cols, self.col_decl, gated)
        if self.dot_vectors:
            x, y = self.fma.srcs if p.side[self.fma.srcs[0]] == ROW else self.fma.srcs[::-1]
            out.append(f"{pad2}" + " ".join(f"zyx_vf{bits} zav{a} = zyx_vld{bits}(&za_{x}[{a}][0]);"
                                            for a in range(p.tile_rows)))
            out.append(f"{pad2}" + " ".join(f"zyx_vf{bits} zbv{b} = zyx_vld{bits}(&zb_{y}[{b}][0]);"
                                            for b in range(p.tile_cols)))
            for a in range(p.tile_rows):
                out.append(f"{pad2}" + " ".join(f"zacc_{a}_{b} = zyx_vfmav{bits}(zav{a}, zbv{b}, zacc_{a}_{b});"
                                                for b in range(p.tile_cols)))
            return
        out.append(f"{pad2}for (int a = 0; a < {p.tile_rows}; a++) for (int b = 0; b < {p.tile_cols}; b++) {{")
        out.append(f"{pad2}  #pragma omp simd")
        out.append(f"{pad2}  for (int l = 0; l < {p.lanes}; l++) {{")
        q = pad2 + "    "
        out.append(f"{q}{it} {self.red_var} = zr + l;")
        if self.by_side[BOTH] and self.row_decl:
            out.append(q + self.row_decl)
        if self.by_side[BOTH]:
            out.append(q + self.col_decl)
        self.declare_from(q, shared, "zn_{}[l]")
        self.declare_from(q, row, "za_{}[a][l]")
        self.declare_from(q, col, "zb_{}[b][l]")
        self.declare_consts(q, [s for s in self.consts if p.side[s.name] == SHARED])
        self.r.render_body(self.k, list(self.by_side[BOTH]), len(q) // 2, dict(self.dtypes), out)
        out.append(q + self.update_stmt(p.update.src))
        out.append(f"{pad2}  }}")
        out.append(f"{pad2}}}")

    # ------------------------------------------------------------------ finishing
    def epilogue(self) -> None:
        """Finish each accumulator and run the statements after the loop."""
        p, out, bits, acc = self.p, self.out, self.bits, self.p.acc
        if self.vector_registers():
            out.append("    " + " ".join(f"zyx_vst{bits}(&{place}, {reg});" for reg, place in self.vector_registers()))
        if p.dot:
            # each accumulator's lanes summed as a tree (lanes/2 at a time, vectorized), not
            # one after another (15 dependent adds per output): LogisticRegression's 4000 x
            # 64 by 64 x 3 product 210 -> 182 us, and with its 3 rows in one tile ~90 us
            w = p.lanes // 2
            while w >= 1:
                out.append(f"    for (int a = 0; a < {p.tile_rows}; a++) for (int b = 0; b < {p.tile_cols}; b++)")
                out.append(f"      for (int l = 0; l < {w}; l++) zacc[a][b][l] += zacc[a][b][l + {w}];")
                w //= 2
        out.append(f"    for (int a = 0; a < {p.tile_rows}; a++) {{")
        if self.row_decl:
            out.append("      " + self.row_decl)
        out.append(f"      for (int b = 0; b < {p.tile_cols}; b++) {{")
        out.append("        " + self.col_decl)
        if p.dot:
            out.append(f"        {self.acc_type} {acc.name} = zacc[a][b][0];")
        else:
            out.append(f"        {self.acc_type} {acc.name} = "
                       + ("zaccn[a][b] ? NAN : zacc[a][b];" if self.nan_flagged else "zacc[a][b];"))
        self.r.render_body(self.k, self.pre + self.post, 4, {acc.name: acc.dtype}, out)
        out.append("      }")
        out.append("    }")
        if p.pack:
            out.append("    }")
        out.append("  }")

    def edges(self) -> None:
        """The outputs the tiles did not cover, element by element."""
        p, k, out = self.p, self.k, self.out
        edges = []
        if self.cols_main < p.cols:
            edges.append(((0, self.rows_main), (self.cols_main, p.cols)))
        if self.rows_main < p.rows:
            edges.append(((self.rows_main, p.rows), (0, p.cols)))
        for (row_lo, row_hi), (col_lo, col_hi) in edges:
            if row_lo >= row_hi or col_lo >= col_hi:
                continue
            loops = []
            for v, size in k.global_dims:
                lo, hi = (row_lo, row_hi) if v is p.row_var else (col_lo, col_hi) if v is p.col_var else (0, size)
                loops.append(f"for ({self.index_type} {v.name} = {lo}; {v.name} < {hi}; {v.name}++)")
            if self.parallel:
                out.append(f"  #pragma omp parallel for collapse({len(loops)}) schedule(static)")
            out.extend("  " + h for h in loops)
            out.append("  {")
            self.r.render_body(k, k.body, 2, {}, out)
            out.append("  }")
