"""The tensor-core matmul pipeline of ``cuda_matmul``'s ``mma`` and ``tf32`` plans:
``mma.sync`` fed by ``ldmatrix`` (or, for TF32 operands contiguous along the output,
scalar fragment reads) from XOR-swizzled shared memory, filled by a ``cp.async``
pipeline. ``MMA_HELPERS`` wraps the PTX instructions; the host test emulator defines
``ZYX_HOST_EMULATION`` and its own versions of the same functions."""
from __future__ import annotations

from .. import dtypes as dt
from .cuda_matmul import BIG, STAGES, MatmulPlan, epilogue, operand_ptr, tile_loop
from .ir import Kernel


def uses_mma_helpers(mm: MatmulPlan | None) -> bool:
    return mm is not None and mm.kind in ("mma", "tf32")


# Helpers the tensor-core shapes call; the host test emulator defines ZYX_HOST_EMULATION
# and its own versions of them (a warp's lanes exchanging registers through memory).
MMA_HELPERS = r"""
#ifndef ZYX_HOST_EMULATION
ZD void zyx_cp_async16(void* smem, const void* gmem, int src_bytes) {  /* zero-fills past src_bytes */
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(s), "l"(gmem), "r"(src_bytes) : "memory"); }
ZD void zyx_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> ZD void zyx_cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory"); }
ZD void zyx_ldmatrix_x4(uint32_t* d, const void* smem) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(s) : "memory"); }
ZD void zyx_ldmatrix_x4_trans(uint32_t* d, const void* smem) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(s) : "memory"); }
ZD void zyx_mma_f16(float* c, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n" : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1])); }
ZD void zyx_mma_bf16(float* c, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n" : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1])); }
ZD void zyx_mma_tf32(float* c, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n" : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1])); }
ZD uint32_t zyx_tf32(uint32_t f) {  /* float32 bits rounded to TF32 (nearest, ties away) */
  uint32_t t; asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(t) : "f"(__uint_as_float(f))); return t; }
#endif
"""


class _Shape:
    """The numbers and spellings every phase of one tensor-core kernel shares."""

    def __init__(self, mm: MatmulPlan):
        self.tf32 = mm.kind == "tf32"
        self.bk = mm.bk
        self.ce = 4 if self.tf32 else 8  # elements per 16-byte chunk
        self.et = "uint32_t" if self.tf32 else "unsigned short"
        self.stage = BIG * mm.bk  # elements of one operand tile
        self.kt = -(-mm.red // mm.bk)  # k-tiles
        self.step = 8 if self.tf32 else 16  # the mma instruction's k
        self.mma = "zyx_mma_tf32" if self.tf32 else ("zyx_mma_bf16" if mm.dtype is dt.bfloat16 else "zyx_mma_f16")

    @staticmethod
    def kswz(row: str, c: str) -> str:  # K-major: 4 chunks per row
        return f"(({c}) ^ ((({row}) >> 1) & 3))"

    def mswz(self, row: str, c: str) -> str:  # MN-major: 128 / ce chunks per row
        return f"(({c}) ^ ((({row}) & 3) * 2))" if self.tf32 else f"(({c}) ^ (({row}) & 7))"


def render_mma(r, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
    """The tensor-core pipeline (see the module docstring). Shared memory holds STAGES
    copies of a 128 x BK A tile and a BK x 128 B tile, each either *K-major* (one row per
    output row, BK elements: the operand is contiguous along the reduction) or
    *MN-major* (one row per reduction step, 128 elements), in 16-byte chunks whose
    positions are XOR-swizzled by row so that ``ldmatrix`` (eight 16-byte rows at once)
    and the TF32 shape's scalar fragment reads hit distinct banks."""
    s = _Shape(mm)
    out.append(f"  __shared__ __align__(128) {s.et} zsa[{STAGES * s.stage}];")
    out.append(f"  __shared__ __align__(128) {s.et} zsb[{STAGES * s.stage}];")
    out.append("  const int zlane = threadIdx.x & 31, zwm = (threadIdx.x >> 5) >> 2, zwn = (threadIdx.x >> 5) & 3;")
    tile_loop(mm, out, grouped=True)
    out.append(operand_ptr(r, k, mm.a, "zpa", "    "))
    out.append(operand_ptr(r, k, mm.b, "zpb", "    "))
    out.append("    float zacc[4][4][4];")
    out.append("    #pragma unroll\n    for (int i = 0; i < 64; i++) (&zacc[0][0][0])[i] = 0.0f;")
    _stage_loader(mm, s, out)
    _pipeline_loop(mm, s, out)
    _store_tile(r, k, mm, out)
    out.append("  }")


def _stage_loader(mm: MatmulPlan, s: _Shape, out: list[str]) -> None:
    """``zload(stage, k-tile)``: the copy of one stage, 512 16-byte chunks per operand, 2
    per thread, zero-filled past the matrix edges."""
    p = mm.tp
    out.append("    auto zload = [&](int zs, int64_t zkt) {")
    out.append(f"      const int64_t zk0 = zkt * {s.bk};")
    for op, side, rows, base in ((mm.a, "a", p.rows, "zm0"), (mm.b, "b", p.cols, "zn0")):
        out.append("      #pragma unroll")
        out.append("      for (int zq = threadIdx.x; zq < 512; zq += 256) {")
        if op.kmajor:
            out.append("        const int zr = zq >> 2, zc = zq & 3;")
            out.append(f"        const int64_t zrow = {base} + zr, zk = zk0 + zc * {s.ce};")
            conds = [f"zrow < {rows}"] * (rows % BIG != 0) + [f"zk < {mm.red}"] * (mm.red % s.bk != 0)
            dst = f"zs{side} + zs * {s.stage} + zr * {s.bk} + {s.kswz('zr', 'zc')} * {s.ce}"
            src = f"zrow * {op.row}LL + zk"
        else:
            cpr = BIG // s.ce
            out.append(f"        const int zr = zq / {cpr}, zc = zq % {cpr};")
            out.append(f"        const int64_t zk = zk0 + zr, zrow = {base} + zc * {s.ce};")
            conds = [f"zk < {mm.red}"] * (mm.red % s.bk != 0) + [f"zrow < {rows}"] * (rows % BIG != 0)
            dst = f"zs{side} + zs * {s.stage} + zr * {BIG} + {s.mswz('zr', 'zc')} * {s.ce}"
            src = f"zk * {op.red}LL + zrow"
        if conds:
            out.append(f"        const bool zok = {' && '.join(conds)};")
            out.append(f"        zyx_cp_async16({dst}, zp{side} + (zok ? {src} : 0), zok ? 16 : 0);")
        else:
            out.append(f"        zyx_cp_async16({dst}, zp{side} + {src}, 16);")
        out.append("      }")
    out.append("    };")


def _pipeline_loop(mm: MatmulPlan, s: _Shape, out: list[str]) -> None:
    """The k-tile loop: STAGES - 1 stages in flight ahead of the one the warps multiply."""
    out.append("    #pragma unroll")
    out.append(f"    for (int zs = 0; zs < {STAGES - 1}; zs++) {{")
    out.append(f"      if (zs < {s.kt}) zload(zs, zs);")
    out.append("      zyx_cp_async_commit(); }")
    out.append(f"    for (int64_t zkt = 0; zkt < {s.kt}LL; zkt++) {{")
    out.append(f"      zyx_cp_async_wait<{STAGES - 2}>();")
    out.append("      __syncthreads();  /* stage zkt has landed; every warp is done with stage zkt - 1 */")
    out.append(f"      {{ const int64_t znext = zkt + {STAGES - 1};")
    out.append(f"        if (znext < {s.kt}LL) zload((int)(znext % {STAGES}), znext);")
    out.append("        zyx_cp_async_commit(); }")
    out.append(f"      const {s.et}* zA = zsa + (zkt % {STAGES}) * {s.stage};")
    out.append(f"      const {s.et}* zB = zsb + (zkt % {STAGES}) * {s.stage};")
    out.append("      #pragma unroll")
    out.append(f"      for (int zkk = 0; zkk < {s.bk}; zkk += {s.step}) {{")
    out.append("        uint32_t zfa[4][4], zfb[4][2];")
    _a_fragments(mm, s, out)
    _b_fragments(mm, s, out)
    if s.tf32:
        out.append("        #pragma unroll\n        for (int i = 0; i < 16; i++) "
                   "(&zfa[0][0])[i] = zyx_tf32((&zfa[0][0])[i]);")
        out.append("        #pragma unroll\n        for (int i = 0; i < 8; i++) "
                   "(&zfb[0][0])[i] = zyx_tf32((&zfb[0][0])[i]);")
    out.append("        #pragma unroll\n        for (int mi = 0; mi < 4; mi++)\n        #pragma unroll\n"
               f"        for (int ni = 0; ni < 4; ni++) {s.mma}(zacc[mi][ni], zfa[mi], zfb[ni]);")
    out.append("      }")
    out.append("    }")


def _a_fragments(mm: MatmulPlan, s: _Shape, out: list[str]) -> None:
    """A fragments: rows zwm * 64 + mi * 16 .. + 15."""
    out.append("        #pragma unroll")
    out.append("        for (int mi = 0; mi < 4; mi++) {")
    out.append("          const int zm = zwm * 64 + mi * 16;")
    if mm.a.kmajor:
        out.append("          const int zr = zm + (zlane & 7) + ((zlane >> 3) & 1) * 8, "
                   f"zc = zkk / {s.ce} + (zlane >> 4);")
        out.append(f"          zyx_ldmatrix_x4(zfa[mi], zA + zr * {s.bk} + {s.kswz('zr', 'zc')} * {s.ce});")
    elif not s.tf32:
        out.append("          const int zr = zkk + (zlane & 7) + (zlane >> 4) * 8, zc = zm / 8 + ((zlane >> 3) & 1);")
        out.append(f"          zyx_ldmatrix_x4_trans(zfa[mi], zA + zr * {BIG} + {s.mswz('zr', 'zc')} * 8);")
    else:
        out.append("          const int zg = zlane >> 2, zt = zlane & 3;")
        for i, (dk, dm) in enumerate(((0, 0), (0, 8), (4, 0), (4, 8))):
            row, col = f"(zkk + zt + {dk})", f"(zm + zg + {dm})"
            phys = f"(({col}) ^ ((({row}) & 3) * 8))"
            out.append(f"          zfa[mi][{i}] = zA[{row} * {BIG} + {phys}];")
    out.append("        }")


def _b_fragments(mm: MatmulPlan, s: _Shape, out: list[str]) -> None:
    """B fragments: columns zwn * 32 + nj * 16 .. + 15, two n8 tiles per ldmatrix.x4."""
    out.append("        #pragma unroll")
    out.append("        for (int nj = 0; nj < 2; nj++) {")
    out.append("          const int zn = zwn * 32 + nj * 16;")
    if mm.b.kmajor or not s.tf32:
        out.append("          uint32_t zr4[4];")
        if mm.b.kmajor:
            out.append("          const int zr = zn + (zlane & 7) + (zlane >> 4) * 8, "
                       f"zc = zkk / {s.ce} + ((zlane >> 3) & 1);")
            out.append(f"          zyx_ldmatrix_x4(zr4, zB + zr * {s.bk} + {s.kswz('zr', 'zc')} * {s.ce});")
        else:
            out.append("          const int zr = zkk + (zlane & 7) + ((zlane >> 3) & 1) * 8, "
                       "zc = zn / 8 + (zlane >> 4);")
            out.append(f"          zyx_ldmatrix_x4_trans(zr4, zB + zr * {BIG} + {s.mswz('zr', 'zc')} * 8);")
        out.append("          zfb[2 * nj][0] = zr4[0]; zfb[2 * nj][1] = zr4[1]; "
                   "zfb[2 * nj + 1][0] = zr4[2]; zfb[2 * nj + 1][1] = zr4[3];")
    else:
        out.append("          const int zg = zlane >> 2, zt = zlane & 3;")
        for h in range(2):
            for i, dk in enumerate((0, 4)):
                row, col = f"(zkk + zt + {dk})", f"(zn + {8 * h} + zg)"
                phys = f"(({col}) ^ ((({row}) & 3) * 8))"
                out.append(f"          zfb[2 * nj + {h}][{i}] = zB[{row} * {BIG} + {phys}];")
    out.append("        }")


def _store_tile(r, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
    """Drain the pipeline, then the epilogue for each accumulator element (the m16n8
    fragment layout: lane / 4 picks the row, lane % 4 the column pair)."""
    p = mm.tp
    out.append("    zyx_cp_async_wait<0>();")
    out.append("    __syncthreads();  /* every warp is done with the stages before the next tile refills them */")
    out.append("    #pragma unroll\n    for (int mi = 0; mi < 4; mi++)\n"
               "    #pragma unroll\n    for (int ni = 0; ni < 4; ni++)\n"
               "    #pragma unroll\n    for (int e = 0; e < 4; e++) {")
    out.append(f"      const int64_t {p.row_var.name} = zm0 + zwm * 64 + mi * 16 + (zlane >> 2) + (e >> 1) * 8, "
               f"{p.col_var.name} = zn0 + zwn * 32 + ni * 8 + (zlane & 3) * 2 + (e & 1);")
    epilogue(r, k, mm, "zacc[mi][ni][e]", "      ", out)
    out.append("    }")
