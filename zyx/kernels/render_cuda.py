"""CUDA C renderer: kernel IR -> an ``extern "C" __global__`` function for NVRTC.

Two launch shapes, both chosen from the kernel alone (``launch_config``), so the
backend and the compile-only check agree:

* **thread per output** - the parallel output loops are flattened into one linear
  index ``zi``; a grid-stride loop walks it, so any size runs with a capped grid;
* **block per output** - for kernels with few outputs and a big reduction (full sums,
  softmax denominators, row norms): the block's threads stride the top-level reduce
  loops, then combine their partial accumulators in a shared-memory tree. Everything
  else in the body runs redundantly in every thread; only thread 0 stores.

float16 / bfloat16 live in memory as ``__half`` / ``__nv_bfloat16`` and are computed
in float (as on the CPU). Complex numbers are a small struct (``zc64`` / ``zc128``)
with operators and device helpers written here. Philox and NumPy-style floor
division/modulo are the same algorithms as the C preamble's, so results match the CPU
bit for bit where the math is exact.
"""
from __future__ import annotations

import math

from .. import dtypes as dt
from ..dtypes import DType
from .ir import Acc, AccUpdate, Kernel, Loop, Store
from .lower import compute_dtype
from .render_c import INFIX, CStyleRenderer

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
  if (a.x == T(0) && a.y == T(0) && b.y == T(0) && b.x > T(0)) return zcplx<T>(T(0));
  return zyx_cexp(b * zyx_clog(a)); }
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


def launch_config(k: Kernel) -> tuple[int, int]:
    """(blocks, threads per block) for a kernel; blocks is 0 for an empty output."""
    total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
    if total == 0:
        return 0, BLOCK
    if uses_block_reduce(k):
        return min(total, MAX_GRID), BLOCK
    if not k.global_dims:
        return 1, 1
    return min(-(-total // BLOCK), MAX_GRID), BLOCK


class CUDARenderer(CStyleRenderer):
    """CUDA C for NVRTC (C++17)."""

    lang = "cuda"
    index_type = "int64_t"

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
        if op == "EXPM1":
            return f"(zyx_cexp({a[0]}) - {one})"
        if op == "LOG1P":
            return f"zyx_clog({one} + {a[0]})"
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
        blocks, threads = launch_config(k)
        out = [CUDA_PREAMBLE,
               f'extern "C" __global__ void __launch_bounds__({threads}) {k.name}({", ".join(params)}) {{']
        total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
        if uses_block_reduce(k):
            self._render_block_reduce(k, total, out)
        elif not k.global_dims:
            out.append("  if (blockIdx.x != 0 || threadIdx.x != 0) return;")
            self.render_body(k, k.body, 1, {}, out)
        else:
            out.append(f"  for (int64_t zi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; zi < {total}LL; "
                       "zi += (int64_t)gridDim.x * blockDim.x) {")
            out.extend(self._global_vars(k, "zi", "    "))
            self.render_body(k, k.body, 2, {}, out)
            out.append("  }")
        out.append("}")
        return "\n".join(out)

    def _global_vars(self, k: Kernel, lin: str, pad: str) -> list[str]:
        """Split the flat output index into the kernel's parallel loop variables."""
        lines, inner = [], 1
        for i in reversed(range(len(k.global_dims))):
            v, n = k.global_dims[i]
            e = lin if inner == 1 else f"({lin} / {inner}LL)"
            if i > 0:
                e = f"({e} % {n}LL)"
            lines.append(f"{pad}const int64_t {v.name} = {e};")
            inner *= n
        return lines[::-1]

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
                inner = 1
                for lp in reversed(nest):
                    e = "zr" if inner == 1 else f"(zr / {inner}LL)"
                    if lp is not nest[0]:
                        e = f"({e} % {lp.size}LL)"
                    out.append(f"{pad}  const int64_t {lp.var.name} = {e};")
                    inner *= lp.size
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


__all__ = ["CUDARenderer", "CUDA_PREAMBLE", "launch_config", "uses_block_reduce", "BLOCK"]
