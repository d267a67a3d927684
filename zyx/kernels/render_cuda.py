"""CUDA C renderer: kernel IR -> an ``extern "C" __global__`` function for NVRTC.

Three launch shapes, chosen from the kernel and the target's compute capability
(``launch_config(kernel, cc)``), so the backend and the compile-only check agree:

* **thread per output** - the parallel output loops are flattened into one linear
  index ``zi``; a grid-stride loop walks it, so any size runs with a capped grid. Plain
  elementwise kernels with 4-byte outputs and an innermost extent divisible by 4 give
  each thread 4 consecutive outputs, with 16-byte vector loads / stores where the
  access is aligned and unit-stride (``vector_width``);
* **block per output** - for kernels with few outputs and a big reduction (full sums,
  softmax denominators, row norms): the block's threads stride the top-level reduce
  loops, then combine their partial accumulators in a shared-memory tree. Everything
  else in the body runs redundantly in every thread; only thread 0 stores;
* **tiled matmul** - contractions (``matmul_plan``: the shape ``tile_c.plan`` finds, one
  SUM over a product of a row-side and a column-side value, with fused prologues and
  epilogues): a block per output tile, the operands staged through shared memory; on
  tensor cores (WMMA) for float16 / bfloat16 loads from sm_70 / sm_80.

float16 / bfloat16 live in memory as ``__half`` / ``__nv_bfloat16`` and are computed
in float (as on the CPU). Complex numbers are a small struct (``zc64`` / ``zc128``)
with operators and device helpers written here. Philox and NumPy-style floor
division/modulo are the same algorithms as the C preamble's, so results match the CPU
bit for bit where the math is exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .. import dtypes as dt
from ..dtypes import DType
from . import tile_c
from .ir import Acc, AccUpdate, Assign, Kernel, Loop, Store
from .lower import compute_dtype
from .render_c import INFIX, CStyleRenderer
from .symbolic import Sum, Var, coef, variables

BLOCK = 256  # threads per block in both launch shapes
MAX_GRID = 1 << 20  # blocks; the grid-stride loops cover the rest

CUDA_PREAMBLE = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>
typedef signed char int8_t; typedef short int16_t; typedef int int32_t; typedef long long int64_t;
typedef unsigned char uint8_t; typedef unsigned short uint16_t; typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
#define ZD static __device__ __forceinline__
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
#define INT64_MIN (-9223372036854775807LL - 1)
template <class D, class S> ZD D zyx_bitcast(S s) { D d; memcpy(&d, &s, sizeof d); return d; }
/* complex numbers: a struct with the arithmetic of C99's _Complex */
template <class T> struct __align__(2 * sizeof(T)) zcplx {
  T x, y;
  zcplx() = default;
  __device__ zcplx(T r, T i = T(0)) : x(r), y(i) {}
  template <class U> __device__ explicit zcplx(zcplx<U> o) : x(T(o.x)), y(T(o.y)) {}
};
typedef zcplx<float> zc64;
typedef zcplx<double> zc128;
ZD zc64 zyx_cmplxf(float r, float i) { return zc64(r, i); }
ZD zc128 zyx_cmplx(double r, double i) { return zc128(r, i); }
template <class T> ZD zcplx<T> operator+(zcplx<T> a, zcplx<T> b) { return zcplx<T>(a.x + b.x, a.y + b.y); }
template <class T> ZD zcplx<T> operator-(zcplx<T> a, zcplx<T> b) { return zcplx<T>(a.x - b.x, a.y - b.y); }
template <class T> ZD zcplx<T> operator-(zcplx<T> a) { return zcplx<T>(-a.x, -a.y); }
template <class T> ZD zcplx<T> operator*(zcplx<T> a, zcplx<T> b) {
  return zcplx<T>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
template <class T> ZD zcplx<T> operator/(zcplx<T> a, zcplx<T> b) {  /* Smith's algorithm */
  if (fabs(b.x) >= fabs(b.y)) {
    if (b.x == T(0) && b.y == T(0)) return zcplx<T>(a.x / fabs(b.x), a.y / fabs(b.x));
    T r = b.y / b.x, d = b.x + b.y * r;
    return zcplx<T>((a.x + a.y * r) / d, (a.y - a.x * r) / d); }
  T r = b.x / b.y, d = b.x * r + b.y;
  return zcplx<T>((a.x * r + a.y) / d, (a.y * r - a.x) / d); }
template <class T> ZD bool operator==(zcplx<T> a, zcplx<T> b) { return a.x == b.x && a.y == b.y; }
template <class T> ZD bool operator!=(zcplx<T> a, zcplx<T> b) { return !(a == b); }
template <class T> ZD T zyx_creal(zcplx<T> z) { return z.x; }
template <class T> ZD T zyx_cimag(zcplx<T> z) { return z.y; }
template <class T> ZD zcplx<T> zyx_conj(zcplx<T> z) { return zcplx<T>(z.x, -z.y); }
template <class T> ZD T zyx_cabs(zcplx<T> z) { return hypot(z.x, z.y); }
template <class T> ZD T zyx_carg(zcplx<T> z) { return atan2(z.y, z.x); }
template <class T> ZD bool zyx_cisnan(zcplx<T> z) { return z.x != z.x || z.y != z.y; }
template <class T> ZD bool zyx_cisinf(zcplx<T> z) { return isinf(z.x) || isinf(z.y); }
template <class T> ZD zcplx<T> zyx_cexp(zcplx<T> z) {
  T e = exp(z.x);
  if (z.y == T(0)) return zcplx<T>(e, z.y);
  return zcplx<T>(e * cos(z.y), e * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_clog(zcplx<T> z) { return zcplx<T>(log(hypot(z.x, z.y)), atan2(z.y, z.x)); }
template <class T> ZD zcplx<T> zyx_csqrt(zcplx<T> z) {
  if (z.x == T(0) && z.y == T(0)) return zcplx<T>(T(0), z.y);
  if (isinf(z.y)) return zcplx<T>(fabs(z.y), z.y);
  T t = sqrt((fabs(z.x) + hypot(z.x, z.y)) * T(0.5));
  if (z.x >= T(0)) return zcplx<T>(t, z.y / (T(2) * t));
  return zcplx<T>(fabs(z.y) / (T(2) * t), copysign(t, z.y)); }
template <class T> ZD zcplx<T> zyx_csinh(zcplx<T> z) { return zcplx<T>(sinh(z.x) * cos(z.y), cosh(z.x) * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_ccosh(zcplx<T> z) { return zcplx<T>(cosh(z.x) * cos(z.y), sinh(z.x) * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_ctanh(zcplx<T> z) {
  if (fabs(z.x) > T(20)) return zcplx<T>(copysign(T(1), z.x), T(4) * sin(z.y) * cos(z.y) * exp(T(-2) * fabs(z.x)));
  T d = cosh(T(2) * z.x) + cos(T(2) * z.y);
  return zcplx<T>(sinh(T(2) * z.x) / d, sin(T(2) * z.y) / d); }
/* the circular functions through the hyperbolic ones: f(z) = -i g(i z) */
template <class T> ZD zcplx<T> zyx_mul_i(zcplx<T> z) { return zcplx<T>(-z.y, z.x); }
template <class T> ZD zcplx<T> zyx_mul_negi(zcplx<T> z) { return zcplx<T>(z.y, -z.x); }
template <class T> ZD zcplx<T> zyx_csin(zcplx<T> z) { return zyx_mul_negi(zyx_csinh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_ccos(zcplx<T> z) { return zyx_ccosh(zyx_mul_i(z)); }
template <class T> ZD zcplx<T> zyx_ctan(zcplx<T> z) { return zyx_mul_negi(zyx_ctanh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_casinh(zcplx<T> z) {
  return zyx_clog(z + zyx_csqrt(z * z + zcplx<T>(T(1)))); }
template <class T> ZD zcplx<T> zyx_cacosh(zcplx<T> z) {
  return zyx_clog(z + zyx_csqrt(z + zcplx<T>(T(1))) * zyx_csqrt(z - zcplx<T>(T(1)))); }
template <class T> ZD zcplx<T> zyx_catanh(zcplx<T> z) {
  zcplx<T> h(T(0.5));
  return h * (zyx_clog(zcplx<T>(T(1)) + z) - zyx_clog(zcplx<T>(T(1)) - z)); }
template <class T> ZD zcplx<T> zyx_casin(zcplx<T> z) { return zyx_mul_negi(zyx_casinh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_cacos(zcplx<T> z) {
  zcplx<T> a = zyx_casin(z); return zcplx<T>(T(1.5707963267948966) - a.x, -a.y); }
template <class T> ZD zcplx<T> zyx_catan(zcplx<T> z) { return zyx_mul_negi(zyx_catanh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_cpow(zcplx<T> a, zcplx<T> b) {
  if (b.x == T(0) && b.y == T(0)) return zcplx<T>(T(1));
  if (a.x == T(0) && a.y == T(0)) return b.x > T(0) ? zcplx<T>(T(0)) : zcplx<T>(T(NAN), T(NAN));  /* NumPy */
  return zyx_cexp(b * zyx_clog(a)); }
/* expm1 and log1p without the cancellation of exp(z) - 1 and log(1 + z) */
template <class T> ZD zcplx<T> zyx_cexpm1(zcplx<T> z) {
  if (z.y == T(0)) return zcplx<T>(expm1(z.x), z.y);
  T h = sin(z.y * T(0.5));
  return zcplx<T>(expm1(z.x) * cos(z.y) - T(2) * h * h, exp(z.x) * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_clog1p(zcplx<T> z) {
  if (fabs(z.x) < T(0.5) && fabs(z.y) < T(0.5))
    return zcplx<T>(T(0.5) * log1p(z.x * (T(2) + z.x) + z.y * z.y), atan2(z.y, T(1) + z.x));
  return zyx_clog(zcplx<T>(T(1) + z.x, z.y)); }
ZD float zyx_maxf(float a, float b) { return (a > b || a != a) ? a : b; }
ZD float zyx_minf(float a, float b) { return (a < b || a != a) ? a : b; }
ZD double zyx_maxd(double a, double b) { return (a > b || a != a) ? a : b; }
ZD double zyx_mind(double a, double b) { return (a < b || a != a) ? a : b; }
ZD int64_t zyx_floordiv_i64(int64_t a, int64_t b) {
  if (b == 0) return 0; if (b == -1) return (int64_t)(0 - (uint64_t)a);
  int64_t q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q; }
ZD int64_t zyx_pymod_i64(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0; int64_t r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }
ZD int64_t zyx_ipow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  uint64_t r = 1, x = (uint64_t)a; while (b) { if (b & 1) r *= x; x *= x; b >>= 1; } return (int64_t)r; }
ZD uint64_t zyx_upow(uint64_t a, uint64_t b) {
  uint64_t r = 1; while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r; }
#define ZYX_FLOORDIV(T, S, FMOD, FLOOR, COPYSIGN) \
ZD T zyx_floordiv##S(T a, T b) { \
  if (b == 0) return a / b; \
  T m = FMOD(a, b); T d = (a - m) / b; \
  if (m != 0 && ((b < 0) != (m < 0))) d -= 1; \
  if (d != 0) { T f = FLOOR(d); if (d - f > (T)0.5) f += 1; return f; } \
  return COPYSIGN((T)0, a / b); } \
ZD T zyx_pymod##S(T a, T b) { \
  if (b == 0) return FMOD(a, b); \
  T m = FMOD(a, b); \
  if (m != 0) { if ((b < 0) != (m < 0)) m += b; } else m = COPYSIGN((T)0, b); \
  return m; }
ZYX_FLOORDIV(float, f, fmodf, floorf, copysignf)
ZYX_FLOORDIV(double, d, fmod, floor, copysign)
/* Philox-2x32-10: counter-based random bits, identical on every backend */
ZD uint32_t zyx_philox(uint32_t key, uint32_t c0, uint32_t c1) {
  for (int i = 0; i < 10; i++) {
    uint64_t p = (uint64_t)0xD256D193u * c0;
    uint32_t hi = (uint32_t)(p >> 32), lo = (uint32_t)p;
    c0 = hi ^ key ^ c1; c1 = lo; key += 0x9E3779B9u; }
  return c0 ^ c1; }
/* end of zyx preamble */
"""

_COMPLEX_UNARY = {"EXP": "zyx_cexp", "LOG": "zyx_clog", "SQRT": "zyx_csqrt", "SIN": "zyx_csin",
                  "COS": "zyx_ccos", "TAN": "zyx_ctan", "ASIN": "zyx_casin", "ACOS": "zyx_cacos",
                  "ATAN": "zyx_catan", "SINH": "zyx_csinh", "COSH": "zyx_ccosh", "TANH": "zyx_ctanh",
                  "ASINH": "zyx_casinh", "ACOSH": "zyx_cacosh", "ATANH": "zyx_catanh", "ABS": "zyx_cabs",
                  "REAL": "zyx_creal", "IMAG": "zyx_cimag", "CONJ": "zyx_conj", "ANGLE": "zyx_carg",
                  "ISNAN": "zyx_cisnan", "ISINF": "zyx_cisinf", "POW": "zyx_cpow"}


def _walk(stmts):
    for s in stmts:
        yield s
        if isinstance(s, Loop):
            yield from _walk(s.body)


def _perfect_nest(loop: Loop) -> tuple[list[Loop], list]:
    """The loops of a perfect nest (each body a single loop) and the innermost body."""
    nest = [loop]
    while len(nest[-1].body) == 1 and isinstance(nest[-1].body[0], Loop):
        nest.append(nest[-1].body[0])
    return nest, nest[-1].body


def unflatten(dims: list[tuple[str, int]], flat: str, suffix: str) -> list[tuple[str, str]]:
    """(variable, expression) recovering each of ``dims`` - (name, extent) pairs, row-major,
    the last fastest - from one flat index (integer literals spelled with ``suffix``: "LL",
    "i"). The output loops of a thread, a block-reduce's loop nest, a matmul's tiles."""
    out, inner = [], 1
    for i in reversed(range(len(dims))):
        v, n = dims[i]
        e = flat if inner == 1 else f"({flat} / {inner}{suffix})"
        if i > 0:
            e = f"({e} % {n}{suffix})"
        out.append((v, e))
        inner *= n
    return out[::-1]


def loop_dims(nest: list[Loop]) -> list[tuple[str, int]]:
    return [(lp.var.name, lp.size) for lp in nest]


def _outer_accs(loop: Loop) -> list[str]:
    """Accumulators updated inside ``loop`` but declared outside it, in first-use order."""
    inner = {s.name for s in _walk(loop.body) if isinstance(s, Acc)}
    out: list[str] = []
    for s in _walk(loop.body):
        if isinstance(s, AccUpdate) and s.name not in inner and s.name not in out:
            out.append(s.name)
    return out


def uses_block_reduce(k: Kernel) -> bool:
    """Few outputs and a big top-level reduction: one block per output element."""
    total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
    big = 0
    for s in k.body:
        if isinstance(s, Loop) and _outer_accs(s):
            nest, _ = _perfect_nest(s)
            big = max(big, math.prod(lp.size for lp in nest))
    if big < 128:
        return False
    return total <= 1024 or (total <= 65536 and big >= 1024)


# ------------------------------------------------------------------ tiled contractions
# A contraction (matmul and its relatives, as tile_c.plan finds them) runs as a tiled
# matmul: each block computes a BM x BN tile of the output, staging BK-wide slices of the
# A-side values (those depending on the row axis ``vm``) and the B-side values (column
# axis ``vn``) in shared memory. SIMT: 16 x 16 threads, each a TM x TN register sub-tile
# at rows ``zty + 16 i`` and columns ``ztx + 16 j`` (conflict-free shared reads, coalesced
# stores). Tensor cores: 4 warps, each 2 x 2 WMMA 16x16x16 fragments of a 64 x 64 tile.
MM_THREADS = 256
MM_BK = 16
WMMA_THREADS = 128
WMMA_BK = 32
MM_SHARED_LIMIT = 40 * 1024  # bytes of staged values per block (48 KiB static limit)


@dataclass
class MatmulPlan:
    tp: tile_c.TilePlan  # vm / vn, the reduction nest, statement classes
    bm: int
    bn: int
    bk: int
    threads: int
    wmma: DType | None  # float16 / bfloat16: the product runs on tensor cores
    a_exp: list  # A-side statements whose values the per-element statements read
    b_exp: list
    red: int  # reduction steps (all loops of the nest)
    outer: list  # the other parallel dims (batch), one tile grid each

    @property
    def tiles(self) -> int:
        return math.prod(n for _, n in self.outer) * -(-self.tp.m // self.bm) * -(-self.tp.n // self.bn)


def _per_thread(n: int) -> int:
    return 4 if n >= 48 else 2 if n >= 24 else 1


def _needed_for(stmts: list, names) -> list:
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


def _wmma_type(k: Kernel, p: tile_c.TilePlan, a_exp: list, b_exp: list, cc: int) -> DType | None:
    """float16 / bfloat16 when the contraction is exactly sum(a * b) of two such loads
    with a float32 accumulator, and the device has tensor cores for the type."""
    ab = [s for s in p.stmts if p.cls[s.name] == "ab"]
    if cc < 70 or len(ab) != 1 or ab[0].op != "MUL" or ab[0].name != p.up.src:
        return None
    if len(a_exp) != 1 or len(b_exp) != 1 or set(ab[0].srcs) != {a_exp[0].name, b_exp[0].name}:
        return None
    if compute_dtype(p.acc.dtype) is not dt.float32 or any(s.op != "LOAD" for s in a_exp + b_exp):
        return None
    types = {k.params[s.arg[0]].dtype for s in a_exp + b_exp}
    t = types.pop() if len(types) == 1 else None
    return t if t is dt.float16 or (t is dt.bfloat16 and cc >= 80) else None


def matmul_plan(k: Kernel, cc: int = 0) -> MatmulPlan | None:
    """The tiled-matmul plan for a contraction-shaped kernel, or None to render it plainly."""
    p = tile_c.plan(k)
    if p is None or p.vm is None or p.acc.kind != "SUM" or p.m < 16 or p.n < 16:
        return None
    red = math.prod(lp.size for lp in p.nest)
    if red < 16 or p.cls.get(p.up.src) != "ab":
        return None
    ab = [s for s in p.stmts if p.cls[s.name] == "ab"]
    if any(s.op in ("LOAD", "GATE", "RAND") for s in ab):
        return None  # memory read per element: the padded edges of a tile would read out of bounds
    used = {x for s in ab for x in tile_c.reads(s)} | {p.up.src}
    a_exp = [s for s in p.stmts if p.cls[s.name] == "a" and s.name in used]
    b_exp = [s for s in p.stmts if p.cls[s.name] == "b" and s.name in used]
    if not a_exp or not b_exp or any(compute_dtype(s.dtype).kind not in "fiub" for s in a_exp + b_exp):
        return None
    outer = [(v, n) for v, n in k.global_dims if v is not p.vn and v is not p.vm]
    wm = _wmma_type(k, p, a_exp, b_exp, cc)
    if wm is not None:
        return MatmulPlan(p, 64, 64, WMMA_BK, WMMA_THREADS, wm, a_exp, b_exp, red, outer)
    bm, bn = 16 * _per_thread(p.m), 16 * _per_thread(p.n)
    shared = MM_BK * sum(compute_dtype(s.dtype).itemsize * (bm + 1) for s in a_exp) \
        + MM_BK * sum(compute_dtype(s.dtype).itemsize * (bn + 1) for s in b_exp)
    if shared > MM_SHARED_LIMIT:
        return None
    return MatmulPlan(p, bm, bn, MM_BK, MM_THREADS, None, a_exp, b_exp, red, outer)


def _split(dims: list[tuple[str, int]], lin: str, pad: str) -> list[str]:
    """Declarations splitting the flat index ``lin`` into the variables of ``dims``."""
    return [f"{pad}const int64_t {v} = {e};" for v, e in unflatten(dims, lin, "LL")]


# ------------------------------------------------------------------ vectorized elementwise
# A plain elementwise kernel (no loops) whose innermost output extent is a multiple of 4
# and whose outputs are 4-byte float32 / int32 / uint32: each thread computes 4
# consecutive outputs of the innermost dimension. A load whose index is ``v + c`` in the
# innermost variable ``v`` with every other part a multiple of 4 starts at a 16-byte
# aligned element (device allocations are 256-byte aligned) and reads its 4 values with
# one float4 / int4 / uint4 load; so does the store. Everything else (gated padding
# loads, broadcasts, strided or shifted views) stays a scalar access per lane.
VEC = 4
VEC_TYPES = {"float32": "float4", "int32": "int4", "uint32": "uint4"}
_LANES = "xyzw"


def _aligned_unit_stride(idx, v: str) -> bool:
    """``idx`` is ``v + rest`` where ``rest`` is free of ``v`` and a multiple of VEC."""
    if isinstance(idx, Var):
        return idx.name == v
    if not isinstance(idx, Sum) or idx.const % VEC:
        return False
    unit = 0
    for t, c in idx.terms:
        if isinstance(t, Var) and t.name == v:
            unit += c
        elif v in variables(t) or c % VEC:
            return False
    return unit == 1


def vector_width(k: Kernel) -> int:
    """VEC when ``k`` takes the vectorized elementwise path, else 1."""
    if not k.global_dims or k.global_dims[-1][1] % VEC or k.global_dims[-1][1] == 0:
        return 1
    if any(not isinstance(s, (Assign, Store)) for s in k.body):
        return 1  # reductions (loops, accumulators) keep their own shapes
    stores = [s for s in k.body if isinstance(s, Store)]
    if not stores or any(k.params[s.param].dtype.name not in VEC_TYPES for s in stores):
        return 1
    return VEC


def _hoistable(k: Kernel, idx) -> bool:
    """Only output loop variables in ``idx`` (a gather's index reads a computed value)."""
    return variables(idx) <= {u.name for u, _ in k.global_dims}


def _vector_load(k: Kernel, s, v: str) -> bool:
    if not isinstance(s, Assign) or s.op != "LOAD":
        return False
    p, idx, gate = s.arg
    return (not gate and k.params[p].dtype.name in VEC_TYPES and _hoistable(k, idx)
            and _aligned_unit_stride(idx, v))


def _vector_store(k: Kernel, s, v: str) -> bool:
    return isinstance(s, Store) and _hoistable(k, s.index) and _aligned_unit_stride(s.index, v)


def launch_config(k: Kernel, cc: int = 0) -> tuple[int, int]:
    """(blocks, threads per block) for a kernel on a device of compute capability ``cc``
    (``major * 10 + minor``; 0: unknown, no tensor cores); blocks is 0 for an empty output."""
    total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
    if total == 0:
        return 0, BLOCK
    if uses_block_reduce(k):
        return min(total, MAX_GRID), BLOCK
    mm = matmul_plan(k, cc)
    if mm is not None:
        return min(mm.tiles, MAX_GRID), mm.threads
    if not k.global_dims:
        return 1, 1
    return min(-(-(total // vector_width(k)) // BLOCK), MAX_GRID), BLOCK


class CUDARenderer(CStyleRenderer):
    """CUDA C for NVRTC (C++17)."""

    lang = "cuda"
    index_type = "int64_t"

    def __init__(self, cc: int = 0):
        self.cc = cc  # target compute capability (major * 10 + minor); 0: no tensor cores

    # ------------------------------------------------------------------ types
    def ctype(self, d: DType) -> str:
        d = compute_dtype(d)
        if d is dt.bool_:
            return "bool"
        if d is dt.complex64:
            return "zc64"
        if d is dt.complex128:
            return "zc128"
        return super().ctype(d)

    def storage_type(self, d: DType) -> str:
        return {"bool": "uint8_t", "float16": "__half", "bfloat16": "__nv_bfloat16"}.get(d.name) or self.ctype(d)

    def load_conv(self, d: DType, expr: str) -> str:
        if d is dt.float16:
            return f"__half2float({expr})"
        if d is dt.bfloat16:
            return f"__bfloat162float({expr})"
        return super().load_conv(d, expr)

    def store_conv(self, d: DType, expr: str) -> str:
        if d is dt.float16:
            return f"__float2half_rn({expr})"
        if d is dt.bfloat16:
            return f"__float2bfloat16_rn({expr})"
        return super().store_conv(d, expr)

    # ------------------------------------------------------------------ ALU
    def alu(self, op: str, d: DType, a: list[str], src_dtypes: list[DType], arg=None) -> str:
        if op == "COMPLEX":
            real = compute_dtype(src_dtypes[0])
            return f"{self.ctype(d)}(({self.ctype(real)})({a[0]}), ({self.ctype(real)})({a[1]}))"
        return super().alu(op, d, a, src_dtypes, arg)

    def complex_alu(self, op: str, d: DType, a: list[str], sd: DType) -> str:
        t = self.ctype(sd)
        if op in ("ADD", "SUB", "MUL", "DIV", "CMPEQ", "CMPNE"):
            return f"({a[0]} {INFIX[op]} {a[1]})"
        if op == "NEG":
            return f"(-{a[0]})"
        if op in _COMPLEX_UNARY:
            return f"{_COMPLEX_UNARY[op]}({', '.join(a)})"
        one = f"{t}(1)"
        if op == "RECIP":
            return f"({one} / {a[0]})"
        if op in ("EXPM1", "LOG1P"):
            return f"zyx_c{op.lower()}({a[0]})"
        if op in ("LOG2", "LOG10"):
            c = "0.6931471805599453" if op == "LOG2" else "2.302585092994046"
            return f"(zyx_clog({a[0]}) / {t}({c}))"
        raise NotImplementedError(f"{self.lang}: op {op} on {sd.name}")

    def cast(self, x: str, src: DType, dst: DType) -> str:
        src = compute_dtype(src) if src in (dt.float16, dt.bfloat16) else src
        if dst is dt.bool_:
            return f"({x} != {self.literal(0, src)})" if src.kind == "c" else f"({x} != 0)"
        if src.kind == "c" and dst.kind != "c":
            x, src = f"zyx_creal({x})", dt.real_of(src)
        if dst.kind == "c":
            return f"{self.ctype(dst)}({x})"
        if dst is dt.float16:
            conv = "__double2half" if src is dt.float64 else "__float2half_rn"
            arg = x if src is dt.float64 else f"(float)({x})"
            return f"__half2float({conv}({arg}))"
        if dst is dt.bfloat16:
            conv = "__double2bfloat16" if src is dt.float64 else "__float2bfloat16_rn"
            arg = x if src is dt.float64 else f"(float)({x})"
            return f"__bfloat162float({conv}({arg}))"
        return super().cast(x, src, dst)

    def bitcast(self, x: str, src: DType, dst: DType) -> str:
        return self.load_conv(dst, f"zyx_bitcast<{self.storage_type(dst)}>({self.store_conv(src, x)})")

    # ------------------------------------------------------------------ kernel
    def render(self, k: Kernel) -> str:
        params = []
        for p in k.params:
            const = "" if p.output else "const "
            params.append(f"{const}{self.storage_type(p.dtype)}* __restrict__ {p.name}")
        params += [f"uint32_t {s}" for s in k.scalars]
        blocks, threads = launch_config(k, self.cc)
        mm = None if blocks == 0 or uses_block_reduce(k) else matmul_plan(k, self.cc)
        out = [CUDA_PREAMBLE + ("#include <mma.h>\n" if mm is not None and mm.wmma is not None else ""),
               f'extern "C" __global__ void __launch_bounds__({threads}) {k.name}({", ".join(params)}) {{']
        total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
        if uses_block_reduce(k):
            self._render_block_reduce(k, total, out)
        elif mm is not None:
            self._render_matmul(k, mm, out)
        elif not k.global_dims:
            out.append("  if (blockIdx.x != 0 || threadIdx.x != 0) return;")
            self.render_body(k, k.body, 1, {}, out)
        elif vector_width(k) > 1:
            self._render_vectorized(k, total, out)
        else:
            out.append(f"  for (int64_t zi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; zi < {total}LL; "
                       "zi += (int64_t)gridDim.x * blockDim.x) {")
            out.extend(self._global_vars(k, "zi", "    "))
            self.render_body(k, k.body, 2, {}, out)
            out.append("  }")
        out.append("}")
        return "\n".join(out)

    def _render_vectorized(self, k: Kernel, total: int, out: list[str]) -> None:
        """Each thread VEC consecutive outputs of the innermost dimension (see VEC)."""
        v, n = k.global_dims[-1]
        dims = [(u.name, m) for u, m in k.global_dims[:-1]] + [("zvq", n // VEC)]
        out.append(f"  for (int64_t zi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; zi < {total // VEC}LL; "
                   "zi += (int64_t)gridDim.x * blockDim.x) {")
        out.extend(_split(dims, "zi", "    "))
        out.append(f"    const int64_t {v.name} = zvq * {VEC};  /* lane 0 */")
        lane_of: dict[str, str] = {}  # vector-loaded value -> its float4 / int4 / uint4
        for s in k.body:
            if _vector_load(k, s, v.name):
                p, idx, _ = s.arg
                param = k.params[p]
                vt = VEC_TYPES[param.dtype.name]
                lane_of[s.name] = f"zv_{s.name}"
                out.append(f"    const {vt} zv_{s.name} = *reinterpret_cast<const {vt}*>"
                           f"(&{param.name}[{self.index(idx)}]);")
        packed: dict[int, str] = {}  # store statement position -> its vector of results
        for i, s in enumerate(k.body):
            if isinstance(s, Store) and _vector_store(k, s, v.name):
                packed[i] = f"zst{i}"
                out.append(f"    {VEC_TYPES[k.params[s.param].dtype.name]} zst{i};")
        for j in range(VEC):
            out.append(f"    {{ const int64_t {v.name} = zvq * {VEC} + {j};")
            dtypes: dict = {}
            for i, s in enumerate(k.body):
                if isinstance(s, Assign) and s.name in lane_of:
                    out.append(f"      {self.ctype(s.dtype)} {s.name} = {lane_of[s.name]}.{_LANES[j]};")
                    dtypes[s.name] = s.dtype
                elif i in packed:
                    out.append(f"      {packed[i]}.{_LANES[j]} = {self.store_conv(s.dtype, s.src)};")
                else:
                    self.render_body(k, [s], 3, dtypes, out)
            out.append("    }")
        for i, name in packed.items():
            s = k.body[i]
            param = k.params[s.param]
            out.append(f"    *reinterpret_cast<{VEC_TYPES[param.dtype.name]}*>(&{param.name}[{self.index(s.index)}]) "
                       f"= {name};")
        out.append("  }")

    def _global_vars(self, k: Kernel, lin: str, pad: str) -> list[str]:
        """Split the flat output index into the kernel's parallel loop variables."""
        return _split([(v.name, n) for v, n in k.global_dims], lin, pad)

    def _render_block_reduce(self, k: Kernel, total: int, out: list[str]) -> None:
        dtypes: dict = {}
        accs = {s.name: s for s in _walk(k.body) if isinstance(s, Acc)}
        shared = {}  # acc name -> shared array
        for s in k.body:
            if isinstance(s, Loop):
                for a in _outer_accs(s):
                    if a not in shared:
                        shared[a] = f"zsh_{a}"
                        out.append(f"  __shared__ {self.ctype(accs[a].dtype)} {shared[a]}[{BLOCK}];")
        out.append(f"  for (int64_t zo = blockIdx.x; zo < {total}LL; zo += gridDim.x) {{")
        out.extend(self._global_vars(k, "zo", "    "))
        pad = "    "
        for s in k.body:
            if isinstance(s, Loop) and _outer_accs(s):
                nest, body = _perfect_nest(s)
                size = math.prod(lp.size for lp in nest)
                out.append(f"{pad}for (int64_t zr = threadIdx.x; zr < {size}LL; zr += {BLOCK}) {{")
                out.extend(_split(loop_dims(nest), "zr", pad + "  "))
                self.render_body(k, body, 3, dtypes, out)
                out.append(f"{pad}}}")
                for a in _outer_accs(s):
                    self._tree(accs[a], shared[a], pad, out)
            elif isinstance(s, Store):
                out.append(f"{pad}if (threadIdx.x == 0) {{")
                self.render_body(k, [s], 3, dtypes, out)
                out.append(f"{pad}}}")
            else:
                self.render_body(k, [s], 2, dtypes, out)
        out.append("  }")

    def _tree(self, acc: Acc, sh: str, pad: str, out: list[str]) -> None:
        """Combine the block's partial accumulators; every thread gets the result."""
        t = self.ctype(acc.dtype)
        out.append(f"{pad}{sh}[threadIdx.x] = {acc.name};")
        out.append(f"{pad}__syncthreads();")
        out.append(f"{pad}for (int zs = {BLOCK // 2}; zs > 0; zs >>= 1) {{")
        out.append(f"{pad}  if (threadIdx.x < zs) {{ {t} zmine = {sh}[threadIdx.x]; {t} zother = {sh}[threadIdx.x + zs];")
        out.append(f"{pad}    {self.acc_update('zmine', acc.kind, 'zother', acc.dtype)} {sh}[threadIdx.x] = zmine; }}")
        out.append(f"{pad}  __syncthreads();")
        out.append(f"{pad}}}")
        out.append(f"{pad}{acc.name} = {sh}[0];")
        out.append(f"{pad}__syncthreads();")

    # ------------------------------------------------------------------ tiled matmul
    def _render_matmul(self, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
        p, it = mm.tp, "int64_t"
        tm, tn = mm.bm // 16, mm.bn // 16
        if mm.wmma is None:
            for s in mm.a_exp:
                out.append(f"  __shared__ {self.ctype(s.dtype)} zsa_{s.name}[{mm.bk}][{mm.bm + 1}];")
            for s in mm.b_exp:
                out.append(f"  __shared__ {self.ctype(s.dtype)} zsb_{s.name}[{mm.bk}][{mm.bn + 1}];")
            out.append("  const int zty = threadIdx.x / 16, ztx = threadIdx.x % 16;")
        else:
            h = self.storage_type(mm.wmma)
            out.append(f"  __shared__ __align__(32) {h} zsa[{mm.bm}][{mm.bk + 8}];")
            out.append(f"  __shared__ __align__(32) {h} zsb[{mm.bk}][{mm.bn + 8}];")
            out.append(f"  __shared__ __align__(32) float zsc[{mm.bm}][{mm.bn + 4}];")
            out.append("  const int zwm = threadIdx.x / 64, zwn = (threadIdx.x / 32) % 2;")
        tiles_m, tiles_n = -(-p.m // mm.bm), -(-p.n // mm.bn)
        out.append(f"  for ({it} zt = blockIdx.x; zt < {mm.tiles}LL; zt += gridDim.x) {{")
        out.extend(_split([(v.name, n) for v, n in mm.outer] + [("ztm", tiles_m), ("ztn", tiles_n)], "zt", "    "))
        out.append(f"    const {it} zm0 = ztm * {mm.bm}, zn0 = ztn * {mm.bn};")
        t = self.ctype(p.acc.dtype)
        if mm.wmma is None:
            out.append(f"    {t} zacc[{tm}][{tn}];")
            out.append(f"    for (int i = 0; i < {tm}; i++) for (int j = 0; j < {tn}; j++) "
                       f"zacc[i][j] = {self.acc_init('SUM', p.acc.dtype)};")
        else:
            frag = "nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float>"
            out.append(f"    {frag} zc[2][2];")
            out.append("    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) "
                       "nvcuda::wmma::fill_fragment(zc[i][j], 0.0f);")
        out.append(f"    for ({it} zk0 = 0; zk0 < {mm.red}LL; zk0 += {mm.bk}) {{")
        self._stage(k, mm, "a", out)
        self._stage(k, mm, "b", out)
        out.append("      __syncthreads();")
        if mm.wmma is None:
            self._simt_step(k, mm, out)
        else:
            self._wmma_step(mm, out)
        out.append("      __syncthreads();")
        out.append("    }")
        pre = [s for s in k.body[:p.li] if not isinstance(s, Acc)]
        post = k.body[p.li + 1:]
        guard = " && ".join([f"{p.vm.name} < {p.m}"] * (p.m % mm.bm != 0)
                            + [f"{p.vn.name} < {p.n}"] * (p.n % mm.bn != 0))
        if mm.wmma is None:
            out.append(f"    #pragma unroll\n    for (int i = 0; i < {tm}; i++)")
            out.append(f"    #pragma unroll\n    for (int j = 0; j < {tn}; j++) {{")
            out.append(f"      const {it} {p.vm.name} = zm0 + zty + 16 * i, {p.vn.name} = zn0 + ztx + 16 * j;")
            value = "zacc[i][j]"
        else:
            out.append("    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++)")
            out.append("      nvcuda::wmma::store_matrix_sync(&zsc[zwm * 32 + 16 * i][zwn * 32 + 16 * j], zc[i][j], "
                       f"{mm.bn + 4}, nvcuda::wmma::mem_row_major);")
            out.append("    __syncthreads();")
            out.append(f"    for (int ze = threadIdx.x; ze < {mm.bm * mm.bn}; ze += {mm.threads}) {{")
            out.append(f"      const int zr = ze / {mm.bn}, zq = ze % {mm.bn};")
            out.append(f"      const {it} {p.vm.name} = zm0 + zr, {p.vn.name} = zn0 + zq;")
            value = "zsc[zr][zq]"
        out.append(f"      if ({guard or '1'}) {{")
        out.append(f"        {t} {p.acc.name} = {value};")
        self.render_body(k, pre + post, 4, {p.acc.name: p.acc.dtype}, out)
        out.append("      }")
        out.append("    }")
        if mm.wmma is not None:
            out.append("    __syncthreads();")
        out.append("  }")

    def _stage(self, k: Kernel, mm: MatmulPlan, side: str, out: list[str]) -> None:
        """Compute one BK-wide slice of the A (or B) side values into shared memory,
        zero where the tile overhangs the output or the reduction."""
        p = mm.tp
        exp = mm.a_exp if side == "a" else mm.b_exp
        var, size, base, width = (p.vm, p.m, "zm0", mm.bm) if side == "a" else (p.vn, p.n, "zn0", mm.bn)
        stmts = _needed_for(p.stmts, [s.name for s in exp])
        loads = [s for s in stmts if s.op == "LOAD"]
        rv = p.nest[-1].var.name
        # consecutive threads take consecutive reduction steps when that is how memory runs
        k_fast = any(coef(s.arg[1], rv) == 1 for s in loads) \
            and not any(coef(s.arg[1], var.name) == 1 for s in loads)
        row, kk = (f"ze / {mm.bk}", f"ze % {mm.bk}") if k_fast else (f"ze % {width}", f"ze / {width}")
        if mm.wmma is None:
            dst = [f"zs{side}_{s.name}[zkk][zrow]" for s in exp]
            zero = [self.literal(0, s.dtype) for s in exp]
            conv = [s.name for s in exp]
        else:
            dst = ["zsa[zrow][zkk]" if side == "a" else "zsb[zkk][zrow]"]
            zero = [self.store_conv(mm.wmma, "0.0f")]
            conv = [self.store_conv(mm.wmma, exp[0].name)]
        out.append(f"      for (int ze = threadIdx.x; ze < {width * mm.bk}; ze += {mm.threads}) {{")
        out.append(f"        const int zrow = {row}, zkk = {kk};")
        out.append(f"        const int64_t {var.name} = {base} + zrow, zk = zk0 + zkk;")
        conds = [f"{var.name} < {size}"] * (size % width != 0) + [f"zk < {mm.red}"] * (mm.red % mm.bk != 0)
        out.append(f"        if ({' && '.join(conds)}) {{" if conds else "        {")
        out.extend(_split(loop_dims(p.nest), "zk", "          "))
        self.render_body(k, stmts, 5, {}, out)
        out.extend(f"          {d} = {c};" for d, c in zip(dst, conv))
        if conds:
            out.append("        } else {")
            out.extend(f"          {d} = {z};" for d, z in zip(dst, zero))
        out.append("        }")
        out.append("      }")

    def _simt_step(self, k: Kernel, mm: MatmulPlan, out: list[str]) -> None:
        """The BK reduction steps of one staged slice: each thread's TM x TN sub-tile."""
        p = mm.tp
        tm, tn = mm.bm // 16, mm.bn // 16
        ab = [s for s in p.stmts if p.cls[s.name] == "ab"]
        plain = [s for s in p.stmts if p.cls[s.name] == ""]
        neither = _needed_for(plain, [x for s in ab for x in tile_c.reads(s)])
        bound = str(mm.bk) if mm.red % mm.bk == 0 else f"(zk0 + {mm.bk} <= {mm.red} ? {mm.bk} : (int)({mm.red} - zk0))"
        out.append(f"      for (int zkk = 0; zkk < {bound}; zkk++) {{")
        if any(s.op != "CONST" for s in neither):
            out.append("        const int64_t zk = zk0 + zkk;")
            out.extend(_split(loop_dims(p.nest), "zk", "        "))
        dtypes = {s.name: s.dtype for s in p.stmts}
        self.render_body(k, neither, 4, dtypes, out)
        for side, exp, n, lane in (("a", mm.a_exp, tm, "zty"), ("b", mm.b_exp, tn, "ztx")):
            for s in exp:
                out.append(f"        {self.ctype(s.dtype)} zr{side}_{s.name}[{n}];")
                out.append(f"        for (int q = 0; q < {n}; q++) zr{side}_{s.name}[q] = "
                           f"zs{side}_{s.name}[zkk][{lane} + 16 * q];")
        out.append(f"        #pragma unroll\n        for (int i = 0; i < {tm}; i++)")
        out.append(f"        #pragma unroll\n        for (int j = 0; j < {tn}; j++) {{")
        out.extend(f"          const {self.ctype(s.dtype)} {s.name} = zra_{s.name}[i];" for s in mm.a_exp)
        out.extend(f"          const {self.ctype(s.dtype)} {s.name} = zrb_{s.name}[j];" for s in mm.b_exp)
        self.render_body(k, ab, 5, dtypes, out)
        out.append(f"          {self.acc_update('zacc[i][j]', 'SUM', p.up.src, p.acc.dtype)}")
        out.append("        }")
        out.append("      }")

    def _wmma_step(self, mm: MatmulPlan, out: list[str]) -> None:
        """The staged slice on tensor cores: each warp a 32 x 32 piece, 2 x 2 fragments."""
        h = self.storage_type(mm.wmma)
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


__all__ = ["CUDARenderer", "CUDA_PREAMBLE", "launch_config", "uses_block_reduce", "matmul_plan",
           "MatmulPlan", "BLOCK", "vector_width", "VEC"]
