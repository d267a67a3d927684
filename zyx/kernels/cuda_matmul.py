"""CUDA kernel shapes for contractions: matmul and its relatives, as ``tile_c.plan`` finds
them (one SUM over a product of a row-side and a column-side value, with fused prologues
and any epilogue). Every shape computes a BM x BN tile of the output per block and runs
the epilogue - bias, activation, scaling, cast, store - per element behind a bounds check,
so ``relu(x @ W + b)`` is one kernel.

``matmul_plan(kernel, cc)`` picks the shape (``MatmulPlan.kind``):

* ``mma`` - float16 / bfloat16 products with float32 accumulation on the tensor cores
  (sm_80+): 128 x 128 tiles, BK = 32, 8 warps of 64 x 32 each, ``mma.sync.m16n8k16``
  fed by ``ldmatrix`` from XOR-swizzled shared memory (conflict-free), the tiles copied
  by ``cp.async`` through a 3-stage pipeline (48 KiB). Needs both operands to be plain
  loads, affine in (row, reduction) with one of the two contiguous and 16-byte aligned
  chunks (see ``Operand``); otherwise the WMMA shape below.
* ``tf32`` - float32 products on the tensor cores (``mma.sync.m16n8k8`` TF32, inputs
  rounded to TF32), only when the user allows it (``set_allow_tf32`` / ``ZYX_CUDA_TF32=1``,
  as ``torch.backends.cuda.matmul.allow_tf32``): the ``mma`` pipeline with BK = 16.
* ``ffma`` - float32 products of plain loads on 128 x 128 outputs or more: a register-
  blocked SIMT kernel, 256 threads of 8 x 8 outputs (two 4 x 4 quadrants 64 apart, read
  as float4 from shared memory), BK = 8, the next tile's loads held in registers while
  the current one is computed (double-buffered shared memory, one barrier per step).
* ``wmma`` - float16 / bfloat16 of plain loads otherwise (sm_70+, bfloat16 sm_80+):
  WMMA 16x16x16 fragments, 4 warps per 64 x 64 tile.
* ``simt`` - everything else (other dtypes, fused prologues, small sizes): 16 x 16
  threads, each a TM x TN register sub-tile at rows ``zty + 16 i`` and columns
  ``ztx + 16 j``; the A and B side values (prologues included, once per row or column)
  staged 16 reduction steps at a time in shared memory.

The tensor-core pipeline's code is in ``cuda_mma``. Each new shape can be switched off
with an environment variable, falling back to the next one: ``ZYX_CUDA_MMA=0``,
``ZYX_CUDA_FFMA=0``. The tensor-core pipelines run on the host test emulator too
(tests/test_cuda.py implements ``ldmatrix``, ``mma.sync`` and ``cp.async`` for it), so
their indexing is checked without a GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import dtypes as dt
from ..dtypes import DType
from . import tile_c
from .cuda_util import concrete, loop_dims, split_decls, switch
from .ir import Acc, Assign, Kernel
from .lower import compute_dtype
from .symbolic import Num, Sum, Var, coef

MM_THREADS = 256
MM_BK = 16
WMMA_THREADS = 128
WMMA_BK = 32
MM_SHARED_LIMIT = 40 * 1024  # bytes of staged values per block (48 KiB static limit)
BIG = 128  # tile side of the mma / tf32 / ffma shapes
STAGES = 3  # cp.async pipeline depth of the tensor-core shapes
GROUP_M = 8  # tile rows walked together, so a wave of blocks shares its B panels in L2

_allow_tf32 = False


def set_allow_tf32(allow: bool) -> None:
    """Let float32 matrix products run on the tensor cores in TF32 (10-bit mantissa
    inputs, float32 accumulation), like ``torch.backends.cuda.matmul.allow_tf32``.
    Off by default. Takes effect for kernels built afterwards (``zyx.backends.cuda.
    set_allow_tf32`` also drops cached schedules)."""
    global _allow_tf32
    _allow_tf32 = bool(allow)


def allow_tf32() -> bool:
    return _allow_tf32 or switch("ZYX_CUDA_TF32", False)


@dataclass
class Operand:
    """A plain load feeding one side of a product: ``param[base + row * r + red * k +
    sum(batch[v] * v)]`` for the side's output axis ``r`` and the reduction axis ``k``."""

    param: int
    dtype: DType
    row: int
    red: int
    base: int
    batch: dict = field(default_factory=dict)

    @property
    def kmajor(self) -> bool:
        """Contiguous along the reduction (a row-major A, a transposed B)."""
        return self.red == 1

    def aligned(self, vec: int, rows: int, red: int) -> bool:
        """The operand reads in ``vec``-element chunks along its contiguous axis that
        start ``vec``-aligned and never straddle the end of the axis."""
        if self.red == 1:
            stride, extent = self.row, red
        elif self.row == 1:
            stride, extent = self.red, rows
        else:
            return False
        return stride % vec == 0 and extent % vec == 0 and self.base % vec == 0 and \
            all(c % vec == 0 for c in self.batch.values())


@dataclass
class MatmulPlan:
    tp: tile_c.TilePlan  # vm / vn, the reduction nest, statement classes
    bm: int
    bn: int
    bk: int
    threads: int
    kind: str  # "mma", "tf32", "ffma", "wmma", "simt" (see the module docstring)
    dtype: DType | None  # input dtype of the tensor-core shapes
    a_exp: list  # A-side statements whose values the per-element statements read
    b_exp: list
    red: int  # reduction steps (all loops of the nest)
    outer: list  # the other parallel dims (batch), one tile grid each
    a: Operand | None = None  # the plain loads (mma / tf32 / ffma)
    b: Operand | None = None

    @property
    def tiles(self) -> int:
        return math.prod(n for _, n in self.outer) * -(-self.tp.rows // self.bm) * -(-self.tp.cols // self.bn)

    @property
    def wmma(self) -> DType | None:
        """float16 / bfloat16 when the product runs on WMMA fragments."""
        return self.dtype if self.kind == "wmma" else None


def _per_thread(n: int) -> int:
    return 4 if n >= 48 else 2 if n >= 24 else 1


def needed_for(stmts: list, names) -> list:
    """The statements of ``stmts`` that ``names`` depend on (themselves included), in order."""
    by = {s.name: s for s in stmts}
    want: set = set()
    stack = list(names)
    while stack:
        nm = stack.pop()
        if nm in by and nm not in want:
            want.add(nm)
            stack.extend(tile_c.reads(by[nm]))  # a gathered load reads its CLAMP
    return [s for s in stmts if s.name in want]


def _plain_product(k: Kernel, p: tile_c.TilePlan, a_exp: list, b_exp: list) -> tuple | None:
    """(A load, B load) when the contraction is exactly sum(a * b) of two ungated loads
    of one dtype with a float32 accumulator."""
    ab = [s for s in p.stmts if p.side[s.name] == tile_c.BOTH]
    if len(ab) != 1 or ab[0].op != "MUL" or ab[0].name != p.update.src:
        return None
    if len(a_exp) != 1 or len(b_exp) != 1 or set(ab[0].srcs) != {a_exp[0].name, b_exp[0].name}:
        return None
    if compute_dtype(p.acc.dtype) is not dt.float32 or any(s.op != "LOAD" or s.arg[2] for s in a_exp + b_exp):
        return None
    if k.params[a_exp[0].arg[0]].dtype is not k.params[b_exp[0].arg[0]].dtype:
        return None
    return a_exp[0], b_exp[0]


def _affine(e) -> tuple[dict, int] | None:
    """({variable: coefficient}, constant) of an affine index, or None."""
    if isinstance(e, Num):
        return {}, e.v
    if isinstance(e, Var):
        return {e.name: 1}, 0
    if isinstance(e, Sum) and all(isinstance(t, Var) for t, _ in e.terms):
        return {t.name: c for t, c in e.terms}, e.const
    return None


def _operand(k: Kernel, s: Assign, row: str, red: str, outer: list) -> Operand | None:
    got = _affine(s.arg[1])
    if got is None:
        return None
    coefs, const = got
    names = {v.name for v, _ in outer}
    if set(coefs) - names - {row, red} or not coefs.get(row) or not coefs.get(red):
        return None
    return Operand(s.arg[0], k.params[s.arg[0]].dtype, coefs[row], coefs[red], const,
                   {v: c for v, c in coefs.items() if v in names})


def _big_plan(k: Kernel, p, a_exp, b_exp, red: int, outer: list, cc: int) -> MatmulPlan | None:
    """The mma / tf32 / ffma shapes, for plain products with concrete sizes."""
    if not concrete(k) or len(p.nest) != 1:
        return None
    loads = _plain_product(k, p, a_exp, b_exp)
    if loads is None:
        return None
    r = p.nest[0].var.name
    a = _operand(k, loads[0], p.row_var.name, r, outer)
    b = _operand(k, loads[1], p.col_var.name, r, outer)
    if a is None or b is None:
        return None
    t = a.dtype
    if t in (dt.float16, dt.bfloat16) and cc >= 80 and switch("ZYX_CUDA_MMA") and \
            a.aligned(8, p.rows, red) and b.aligned(8, p.cols, red) and red >= 16:
        return MatmulPlan(p, BIG, BIG, 32, 256, "mma", t, a_exp, b_exp, red, outer, a, b)
    if t is dt.float32 and cc >= 80 and allow_tf32() and switch("ZYX_CUDA_MMA") and \
            a.aligned(4, p.rows, red) and b.aligned(4, p.cols, red) and red >= 8:
        return MatmulPlan(p, BIG, BIG, 16, 256, "tf32", t, a_exp, b_exp, red, outer, a, b)
    if t is dt.float32 and p.rows >= BIG and p.cols >= BIG and switch("ZYX_CUDA_FFMA"):
        return MatmulPlan(p, BIG, BIG, 8, 256, "ffma", None, a_exp, b_exp, red, outer, a, b)
    return None


def matmul_plan(k: Kernel, cc: int = 0) -> MatmulPlan | None:
    """The tiled-matmul plan for a contraction-shaped kernel, or None to render it plainly."""
    p = tile_c.plan(k)
    if p is None or p.row_var is None or p.acc.kind != "SUM" or p.rows < 16 or p.cols < 16:
        return None
    red = math.prod(lp.size for lp in p.nest)
    if red < 16 or p.side.get(p.update.src) != tile_c.BOTH:
        return None
    ab = [s for s in p.stmts if p.side[s.name] == tile_c.BOTH]
    if any(s.op in ("LOAD", "GATE", "RAND") for s in ab):
        return None  # memory read per element: the padded edges of a tile would read out of bounds
    used = {x for s in ab for x in tile_c.reads(s)} | {p.update.src}
    a_exp = [s for s in p.stmts if p.side[s.name] == tile_c.ROW and s.name in used]
    b_exp = [s for s in p.stmts if p.side[s.name] == tile_c.COL and s.name in used]
    if not a_exp or not b_exp or any(compute_dtype(s.dtype).kind not in "fiub" for s in a_exp + b_exp):
        return None
    outer = [(v, n) for v, n in k.global_dims if v is not p.col_var and v is not p.row_var]
    big = _big_plan(k, p, a_exp, b_exp, red, outer, cc)
    if big is not None:
        return big
    loads = _plain_product(k, p, a_exp, b_exp)
    if loads is not None and cc >= 70:
        t = k.params[loads[0].arg[0]].dtype
        if t is dt.float16 or (t is dt.bfloat16 and cc >= 80):
            return MatmulPlan(p, 64, 64, WMMA_BK, WMMA_THREADS, "wmma", t, a_exp, b_exp, red, outer)
    bm, bn = 16 * _per_thread(p.rows), 16 * _per_thread(p.cols)
    shared = MM_BK * sum(compute_dtype(s.dtype).itemsize * (bm + 1) for s in a_exp) \
        + MM_BK * sum(compute_dtype(s.dtype).itemsize * (bn + 1) for s in b_exp)
    if shared > MM_SHARED_LIMIT:
        return None
    return MatmulPlan(p, bm, bn, MM_BK, MM_THREADS, "simt", None, a_exp, b_exp, red, outer)


# ------------------------------------------------------------------ rendering
def render_matmul(r, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
    """The kernel body for plan ``mm`` (the tensor-core pipeline is ``cuda_mma``'s);
    ``r`` is the CUDARenderer."""
    if mm.kind == "ffma":
        _render_ffma(r, k, mm, out)
    else:
        _render_tiled(r, k, mm, out)


def epilogue(r, k: Kernel, mm: MatmulPlan, value: str, pad: str, out: list[str], guard: str = "") -> None:
    """The per-element statements after the reduction (with those before it that only
    depend on the output position), with the accumulator ``value``; ``vm`` / ``vn`` are
    declared by the caller."""
    p = mm.tp
    pre = [s for s in k.body[:p.loop_pos] if not isinstance(s, Acc)]
    post = k.body[p.loop_pos + 1:]
    bounds = [f"{p.row_var.name} < {p.rows}"] * (p.rows % mm.bm != 0) + \
        [f"{p.col_var.name} < {p.cols}"] * (p.cols % mm.bn != 0)
    cond = " && ".join(([guard] if guard else []) + bounds)
    out.append(f"{pad}if ({cond or '1'}) {{")
    out.append(f"{pad}  {r.ctype(p.acc.dtype)} {p.acc.name} = {value};")
    r.render_body(k, pre + post, len(pad) // 2 + 1, {p.acc.name: p.acc.dtype}, out)
    out.append(f"{pad}}}")


def tile_loop(mm: MatmulPlan, out: list[str], grouped: bool) -> None:
    """The grid-stride loop over output tiles, declaring the batch variables and the tile's
    first row ``zm0`` and column ``zn0``. ``grouped``: GROUP_M tile rows are walked
    together, so the blocks running at once share B panels (and A panels) in L2."""
    p = mm.tp
    tm, tn = -(-p.rows // mm.bm), -(-p.cols // mm.bn)
    out.append(f"  for (int64_t zt = blockIdx.x; zt < {mm.tiles}LL; zt += gridDim.x) {{")
    if grouped and tm > GROUP_M:
        out.extend(split_decls([(v.name, n) for v, n in mm.outer] + [("zrest", tm * tn)], "zt", "    "))
        out.append(f"    const int64_t zfirst = zrest / {GROUP_M * tn} * {GROUP_M};")
        out.append(f"    const int64_t zgm = {tm} - zfirst < {GROUP_M} ? {tm} - zfirst : {GROUP_M};")
        out.append(f"    const int64_t zin = zrest % {GROUP_M * tn};")
        out.append("    const int64_t ztm = zfirst + zin % zgm, ztn = zin / zgm;")
    else:
        out.extend(split_decls([(v.name, n) for v, n in mm.outer] + [("ztm", tm), ("ztn", tn)], "zt", "    "))
    out.append(f"    const int64_t zm0 = ztm * {mm.bm}, zn0 = ztn * {mm.bn};")


# ------------------------------------------------------------------ simt / wmma (any body)
def _render_tiled(r, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
    p = mm.tp
    tm, tn = mm.bm // 16, mm.bn // 16
    if mm.wmma is None:
        for s in mm.a_exp:
            out.append(f"  __shared__ {r.ctype(s.dtype)} zsa_{s.name}[{mm.bk}][{mm.bm + 1}];")
        for s in mm.b_exp:
            out.append(f"  __shared__ {r.ctype(s.dtype)} zsb_{s.name}[{mm.bk}][{mm.bn + 1}];")
        out.append("  const int zty = threadIdx.x / 16, ztx = threadIdx.x % 16;")
    else:
        h = r.storage_type(mm.wmma)
        out.append(f"  __shared__ __align__(32) {h} zsa[{mm.bm}][{mm.bk + 8}];")
        out.append(f"  __shared__ __align__(32) {h} zsb[{mm.bk}][{mm.bn + 8}];")
        out.append(f"  __shared__ __align__(32) float zsc[{mm.bm}][{mm.bn + 4}];")
        out.append("  const int zwm = threadIdx.x / 64, zwn = (threadIdx.x / 32) % 2;")
    tile_loop(mm, out, grouped=False)
    t = r.ctype(p.acc.dtype)
    if mm.wmma is None:
        out.append(f"    {t} zacc[{tm}][{tn}];")
        out.append(f"    for (int i = 0; i < {tm}; i++) for (int j = 0; j < {tn}; j++) "
                   f"zacc[i][j] = {r.acc_init('SUM', p.acc.dtype)};")
    else:
        frag = "nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float>"
        out.append(f"    {frag} zc[2][2];")
        out.append("    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) "
                   "nvcuda::wmma::fill_fragment(zc[i][j], 0.0f);")
    out.append(f"    for (int64_t zk0 = 0; zk0 < {mm.red}LL; zk0 += {mm.bk}) {{")
    _stage(r, k, mm, "a", out)
    _stage(r, k, mm, "b", out)
    out.append("      __syncthreads();")
    if mm.wmma is None:
        _simt_step(r, k, mm, out)
    else:
        _wmma_step(r, mm, out)
    out.append("      __syncthreads();")
    out.append("    }")
    if mm.wmma is None:
        out.append(f"    #pragma unroll\n    for (int i = 0; i < {tm}; i++)")
        out.append(f"    #pragma unroll\n    for (int j = 0; j < {tn}; j++) {{")
        out.append(f"      const int64_t {p.row_var.name} = zm0 + zty + 16 * i, {p.col_var.name} = zn0 + ztx + 16 * j;")
        value = "zacc[i][j]"
    else:
        out.append("    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++)")
        out.append("      nvcuda::wmma::store_matrix_sync(&zsc[zwm * 32 + 16 * i][zwn * 32 + 16 * j], zc[i][j], "
                   f"{mm.bn + 4}, nvcuda::wmma::mem_row_major);")
        out.append("    __syncthreads();")
        out.append(f"    for (int ze = threadIdx.x; ze < {mm.bm * mm.bn}; ze += {mm.threads}) {{")
        out.append(f"      const int zr = ze / {mm.bn}, zq = ze % {mm.bn};")
        out.append(f"      const int64_t {p.row_var.name} = zm0 + zr, {p.col_var.name} = zn0 + zq;")
        value = "zsc[zr][zq]"
    epilogue(r, k, mm, value, "      ", out)
    out.append("    }")
    if mm.wmma is not None:
        out.append("    __syncthreads();")
    out.append("  }")


def _stage(r, k: Kernel, mm: MatmulPlan, side: str, out: list[str]) -> None:
    """Compute one BK-wide slice of the A (or B) side values into shared memory,
    zero where the tile overhangs the output or the reduction."""
    p = mm.tp
    exp = mm.a_exp if side == "a" else mm.b_exp
    var, size, base, width = (p.row_var, p.rows, "zm0", mm.bm) if side == "a" else (p.col_var, p.cols, "zn0", mm.bn)
    stmts = needed_for(p.stmts, [s.name for s in exp])
    loads = [s for s in stmts if s.op == "LOAD"]
    rv = p.nest[-1].var.name
    # consecutive threads take consecutive reduction steps when that is how memory runs
    k_fast = any(coef(s.arg[1], rv) == 1 for s in loads) \
        and not any(coef(s.arg[1], var.name) == 1 for s in loads)
    row, kk = (f"ze / {mm.bk}", f"ze % {mm.bk}") if k_fast else (f"ze % {width}", f"ze / {width}")
    if mm.wmma is None:
        dst = [f"zs{side}_{s.name}[zkk][zrow]" for s in exp]
        zero = [r.literal(0, s.dtype) for s in exp]
        conv = [s.name for s in exp]
    else:
        dst = ["zsa[zrow][zkk]" if side == "a" else "zsb[zkk][zrow]"]
        zero = [r.store_conv(mm.wmma, "0.0f")]
        conv = [r.store_conv(mm.wmma, exp[0].name)]
    out.append(f"      for (int ze = threadIdx.x; ze < {width * mm.bk}; ze += {mm.threads}) {{")
    out.append(f"        const int zrow = {row}, zkk = {kk};")
    out.append(f"        const int64_t {var.name} = {base} + zrow, zk = zk0 + zkk;")
    conds = [f"{var.name} < {size}"] * (size % width != 0) + [f"zk < {mm.red}"] * (mm.red % mm.bk != 0)
    out.append(f"        if ({' && '.join(conds)}) {{" if conds else "        {")
    out.extend(split_decls(loop_dims(p.nest), "zk", "          "))
    r.render_body(k, stmts, 5, {}, out)
    out.extend(f"          {d} = {c};" for d, c in zip(dst, conv))
    if conds:
        out.append("        } else {")
        out.extend(f"          {d} = {z};" for d, z in zip(dst, zero))
    out.append("        }")
    out.append("      }")


def _simt_step(r, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
    """The BK reduction steps of one staged slice: each thread's TM x TN sub-tile."""
    p = mm.tp
    tm, tn = mm.bm // 16, mm.bn // 16
    ab = [s for s in p.stmts if p.side[s.name] == tile_c.BOTH]
    plain = [s for s in p.stmts if p.side[s.name] == ""]
    neither = needed_for(plain, [x for s in ab for x in tile_c.reads(s)])
    bound = str(mm.bk) if mm.red % mm.bk == 0 else f"(zk0 + {mm.bk} <= {mm.red} ? {mm.bk} : (int)({mm.red} - zk0))"
    out.append(f"      for (int zkk = 0; zkk < {bound}; zkk++) {{")
    if any(s.op != "CONST" for s in neither):
        out.append("        const int64_t zk = zk0 + zkk;")
        out.extend(split_decls(loop_dims(p.nest), "zk", "        "))
    dtypes = {s.name: s.dtype for s in p.stmts}
    r.render_body(k, neither, 4, dtypes, out)
    for side, exp, n, lane in (("a", mm.a_exp, tm, "zty"), ("b", mm.b_exp, tn, "ztx")):
        for s in exp:
            out.append(f"        {r.ctype(s.dtype)} zr{side}_{s.name}[{n}];")
            out.append(f"        for (int q = 0; q < {n}; q++) zr{side}_{s.name}[q] = "
                       f"zs{side}_{s.name}[zkk][{lane} + 16 * q];")
    out.append(f"        #pragma unroll\n        for (int i = 0; i < {tm}; i++)")
    out.append(f"        #pragma unroll\n        for (int j = 0; j < {tn}; j++) {{")
    out.extend(f"          const {r.ctype(s.dtype)} {s.name} = zra_{s.name}[i];" for s in mm.a_exp)
    out.extend(f"          const {r.ctype(s.dtype)} {s.name} = zrb_{s.name}[j];" for s in mm.b_exp)
    r.render_body(k, ab, 5, dtypes, out)
    out.append(f"          {r.acc_update('zacc[i][j]', 'SUM', p.update.src, p.acc.dtype)}")
    out.append("        }")
    out.append("      }")


def _wmma_step(r, mm: MatmulPlan, out: list[str]) -> None:
    """The staged slice on tensor cores: each warp a 32 x 32 piece, 2 x 2 fragments."""
    h = r.storage_type(mm.wmma)
    w = "nvcuda::wmma"
    out.append("      #pragma unroll")
    out.append(f"      for (int zkk = 0; zkk < {mm.bk}; zkk += 16) {{")
    out.append(f"        {w}::fragment<{w}::matrix_a, 16, 16, 16, {h}, {w}::row_major> zfa[2];")
    out.append(f"        {w}::fragment<{w}::matrix_b, 16, 16, 16, {h}, {w}::row_major> zfb[2];")
    out.append(f"        for (int i = 0; i < 2; i++) {w}::load_matrix_sync(zfa[i], &zsa[zwm * 32 + 16 * i][zkk], "
               f"{mm.bk + 8});")
    out.append(f"        for (int j = 0; j < 2; j++) {w}::load_matrix_sync(zfb[j], &zsb[zkk][zwn * 32 + 16 * j], "
               f"{mm.bn + 8});")
    out.append(f"        for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) "
               f"{w}::mma_sync(zc[i][j], zfa[i], zfb[j], zc[i][j]);")
    out.append("      }")


# ------------------------------------------------------------------ ffma (float32, register blocked)
def operand_ptr(r, k: Kernel, op: Operand, name: str, pad: str) -> str:
    """Declare ``name``, a pointer to element (0, 0) of the operand in this tile's batch."""
    off = " + ".join([str(op.base)] + [f"{c} * {v}" for v, c in op.batch.items()])
    param = k.params[op.param]
    return f"{pad}const {r.storage_type(param.dtype)}* {name} = {param.name} + ({off});"


def _ffma_load(op: Operand, side: str, rows: int, red: int, bound_rows: bool, bound_red: bool, out: list[str]) -> None:
    """This thread's 4 elements of the next 8-deep slice of one operand, into registers
    ``zl{side}[4]``: 4 consecutive reduction steps of one row (the operand is contiguous
    along the reduction) or 4 consecutive rows of one step (otherwise) - a float4 when
    they are contiguous and aligned."""
    ptr, lo = f"zp{side}", f"zl{side}"
    if op.kmajor:  # thread: one row (tid / 2), reduction steps 4 (tid % 2) .. + 3
        out.append("        { const int zr = threadIdx.x >> 1, zq = (threadIdx.x & 1) * 4;")
        out.append(f"          const int64_t zrow = z{side}0 + zr, zk = zk0 + zq;")
        conds = [f"zrow < {rows}"] * bound_rows
        idx = [f"zrow * {op.row}LL + zk + {i}" for i in range(4)]
        lane_cond = [f"zk + {i} < {red}" for i in range(4)]
    else:  # thread: one reduction step (tid / 32), rows 4 (tid % 32) .. + 3
        out.append("        { const int zk = threadIdx.x >> 5, zq = (threadIdx.x & 31) * 4;")
        out.append(f"          const int64_t zrow = z{side}0 + zq, zkk = zk0 + zk;")
        conds = [f"zkk < {red}"] * bound_red
        idx = [f"(zrow + {i}) * {op.row}LL + zkk * {op.red}LL" for i in range(4)]
        lane_cond = [f"zrow + {i} < {rows}" for i in range(4)]
    vec = op.aligned(4, rows, red) and (op.red == 1 or op.row == 1)
    edge = bound_red if op.kmajor else bound_rows
    if vec:  # the 4 elements are all in or all out (the extent is a multiple of 4)
        cond = " && ".join(conds + lane_cond[:1] * edge)
        out.append(f"          if ({cond or '1'}) {{")
        out.append(f"            const float4 zv = *reinterpret_cast<const float4*>({ptr} + {idx[0]});")
        out.append(f"            {lo}[0] = zv.x; {lo}[1] = zv.y; {lo}[2] = zv.z; {lo}[3] = zv.w;")
        out.append(f"          }} else {{ {lo}[0] = {lo}[1] = {lo}[2] = {lo}[3] = 0.0f; }}")
    else:
        for i in range(4):
            cond = " && ".join(conds + [lane_cond[i]] * edge)
            out.append(f"          {lo}[{i}] = ({cond or '1'}) ? {ptr}[{idx[i]}] : 0.0f;")
    out.append("        }")


def _ffma_store(op: Operand, side: str, buf: str, out: list[str]) -> None:
    sh, lo = f"zs{side}", f"zl{side}"
    if op.kmajor:
        out.append("        { const int zr = threadIdx.x >> 1, zq = (threadIdx.x & 1) * 4;")
        out.append(f"          for (int i = 0; i < 4; i++) {sh}[{buf}][zq + i][zr] = {lo}[i]; }}")
    else:
        out.append("        { const int zk = threadIdx.x >> 5, zq = (threadIdx.x & 31) * 4;")
        out.append(f"          *reinterpret_cast<float4*>(&{sh}[{buf}][zk][zq]) = "
                   f"make_float4({lo}[0], {lo}[1], {lo}[2], {lo}[3]); }}")


def _render_ffma(r, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
    p, a, b = mm.tp, mm.a, mm.b
    kt = -(-mm.red // 8)
    out.append("  __shared__ __align__(16) float zsa[2][8][128];")
    out.append("  __shared__ __align__(16) float zsb[2][8][128];")
    out.append("  const int zty = threadIdx.x / 16, ztx = threadIdx.x % 16;")
    tile_loop(mm, out, grouped=True)
    out.append(operand_ptr(r, k, a, "zpa", "    "))
    out.append(operand_ptr(r, k, b, "zpb", "    "))
    out.append("    const int64_t za0 = zm0, zb0 = zn0;")
    out.append("    float zacc[8][8];")
    out.append("    #pragma unroll\n    for (int i = 0; i < 8; i++)\n    #pragma unroll\n"
               "    for (int j = 0; j < 8; j++) zacc[i][j] = 0.0f;")
    out.append("    float zla[4], zlb[4];")
    loads = []
    _ffma_load(a, "a", p.rows, mm.red, p.rows % BIG != 0, mm.red % 8 != 0, loads)
    _ffma_load(b, "b", p.cols, mm.red, p.cols % BIG != 0, mm.red % 8 != 0, loads)
    out.append("    { const int64_t zk0 = 0;")
    out.extend(loads)
    out.append("    }")
    _ffma_store(a, "a", "0", out)
    _ffma_store(b, "b", "0", out)
    out.append("    __syncthreads();")
    out.append(f"    for (int64_t zkt = 0; zkt < {kt}LL; zkt++) {{")
    out.append("      const int zbuf = (int)(zkt & 1);")
    out.append(f"      if (zkt + 1 < {kt}LL) {{ const int64_t zk0 = (zkt + 1) * 8;")
    out.extend(loads)
    out.append("      }")
    out.append("      #pragma unroll")
    out.append("      for (int zkk = 0; zkk < 8; zkk++) {")
    out.append("        const float4 za0v = *reinterpret_cast<const float4*>(&zsa[zbuf][zkk][zty * 4]);")
    out.append("        const float4 za1v = *reinterpret_cast<const float4*>(&zsa[zbuf][zkk][64 + zty * 4]);")
    out.append("        const float4 zb0v = *reinterpret_cast<const float4*>(&zsb[zbuf][zkk][ztx * 4]);")
    out.append("        const float4 zb1v = *reinterpret_cast<const float4*>(&zsb[zbuf][zkk][64 + ztx * 4]);")
    out.append("        const float zra[8] = {za0v.x, za0v.y, za0v.z, za0v.w, za1v.x, za1v.y, za1v.z, za1v.w};")
    out.append("        const float zrb[8] = {zb0v.x, zb0v.y, zb0v.z, zb0v.w, zb1v.x, zb1v.y, zb1v.z, zb1v.w};")
    out.append("        #pragma unroll\n        for (int i = 0; i < 8; i++)\n        #pragma unroll\n"
               "        for (int j = 0; j < 8; j++) zacc[i][j] = fmaf(zra[i], zrb[j], zacc[i][j]);")
    out.append("      }")
    out.append(f"      if (zkt + 1 < {kt}LL) {{")
    _ffma_store(a, "a", "zbuf ^ 1", out)
    _ffma_store(b, "b", "zbuf ^ 1", out)
    out.append("      }")
    out.append("      __syncthreads();")
    out.append("    }")
    out.append("    #pragma unroll\n    for (int i = 0; i < 8; i++)\n"
               "    #pragma unroll\n    for (int j = 0; j < 8; j++) {")
    out.append(f"      const int64_t {p.row_var.name} = zm0 + (i < 4 ? zty * 4 + i : 60 + zty * 4 + i), "
               f"{p.col_var.name} = zn0 + (j < 4 ? ztx * 4 + j : 60 + ztx * 4 + j);")
    epilogue(r, k, mm, "zacc[i][j]", "      ", out)
    out.append("    }")
    out.append("  }")
