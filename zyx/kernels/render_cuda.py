"""CUDA C renderer: kernel IR -> an ``extern "C" __global__`` function for NVRTC.

Four launch shapes, chosen from the kernel and the target's compute capability
(``reduction_shape`` / ``launch_config(kernel, cc)``), so the backend, the compile-only
check and the tests' host emulation agree:

* **thread per output** - the parallel output loops are flattened into one linear
  index ``zi``; a grid-stride loop walks it, so any size runs with a capped grid. Plain
  elementwise kernels with 4-byte outputs and an innermost extent divisible by 4 give
  each thread 4 consecutive outputs, with 16-byte vector loads / stores where the
  access is aligned and unit-stride (``vector_width``);
* **block per output** and **column strips** - reductions whose outputs alone would
  not fill the GPU (``cuda_reduce``);
* **tiled matmul** - contractions (``cuda_matmul``: tensor cores through mma.sync for
  float16 / bfloat16, TF32 when allowed, a register-blocked FFMA kernel for float32,
  WMMA and a generic SIMT tile otherwise), any epilogue fused.

float16 / bfloat16 live in memory as ``__half`` / ``__nv_bfloat16`` and are computed
in float (as on the CPU); their headers are included only where used. Complex numbers
are a small struct (``zc64`` / ``zc128``) with operators and device helpers written
here after C99 Annex G. Philox and NumPy-style floor division/modulo are the same
algorithms as the C preamble's, so results match the CPU bit for bit where the math is
exact.
"""
from __future__ import annotations

import math

from .. import dtypes as dt
from ..dtypes import DType
from .cuda_matmul import MatmulPlan, matmul_plan, render_matmul
from .cuda_mma import MMA_HELPERS, render_mma, uses_mma_helpers
from .cuda_reduce import column_plan, render_block_reduce, render_column_reduce, uses_block_reduce
from .cuda_util import BLOCK, MAX_GRID, VEC, VEC_TYPES
from .cuda_util import LANES as _LANES
from .cuda_util import aligned_unit_stride as _aligned_unit_stride
from .cuda_util import split_decls as _split
from .ir import Acc, Assign, Kernel, Store, size_fn
from .lower import compute_dtype
from .render_base import PREAMBLE_END, loop_dims, unflatten, walk
from .render_c import DIVISION_HELPERS, PHILOX_HELPER, CStyleRenderer
from .symbolic import variables

CUDA_PREAMBLE = r"""
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
/* The elementary functions follow C99 Annex G (as the Array API standard lists their
   special values; the CPU backend's libm and the OpenCL helpers agree): the special
   values first, then formulas that are accurate for finite arguments. */
#define ZYX_PI T(3.141592653589793)
#define ZYX_PI_2 T(1.5707963267948966)
#define ZYX_PI_4 T(0.7853981633974483)
template <class T> ZD zcplx<T> zyx_cexp(zcplx<T> z) {
  if (isinf(z.x)) {
    if (z.x < T(0)) return isfinite(z.y) ? zcplx<T>(copysign(T(0), cos(z.y)), copysign(T(0), sin(z.y)))
                                         : zcplx<T>(T(0), copysign(T(0), z.y));
    if (z.y == T(0)) return z;
    if (!isfinite(z.y)) return zcplx<T>(z.x, T(NAN)); }
  if (isnan(z.x)) return zcplx<T>(T(NAN), z.y == T(0) ? z.y : T(NAN));
  if (z.y == T(0)) return zcplx<T>(exp(z.x), z.y);
  T e = exp(z.x);
  return zcplx<T>(e * cos(z.y), e * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_cexpm1(zcplx<T> z) {  /* as the CPU helper and NumPy */
  if (z.y == T(0)) return zcplx<T>(expm1(z.x), z.y);
  T s = sin(z.y * T(0.5));  /* exp(x) cos(y) - 1 = expm1(x) cos(y) - 2 sin^2(y / 2) */
  return zcplx<T>(expm1(z.x) * cos(z.y) - T(2) * s * s, exp(z.x) * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_clog(zcplx<T> z) { return zcplx<T>(log(hypot(z.x, z.y)), atan2(z.y, z.x)); }
template <class T> ZD zcplx<T> zyx_clog1p(zcplx<T> z) {
  if (fabs(z.x) < T(0.5) && fabs(z.y) < T(0.5))  /* |1 + z|^2 - 1 without cancellation */
    return zcplx<T>(T(0.5) * log1p(z.x * (T(2) + z.x) + z.y * z.y), atan2(z.y, T(1) + z.x));
  return zyx_clog(zcplx<T>(T(1) + z.x, z.y)); }
template <class T> ZD zcplx<T> zyx_csqrt(zcplx<T> z) {
  if (z.x == T(0) && z.y == T(0)) return zcplx<T>(T(0), z.y);
  if (isinf(z.y)) return zcplx<T>(T(INFINITY), z.y);
  if (isinf(z.x) && z.x > T(0)) return zcplx<T>(z.x, isnan(z.y) ? z.y : copysign(T(0), z.y));
  if (isinf(z.x)) return zcplx<T>(isnan(z.y) ? z.y : T(0), copysign(T(INFINITY), z.y));
  /* scaled so that |x| + |z| cannot overflow */
  T m = fmax(fabs(z.x), fabs(z.y)), sc = m > T(1e30) ? T(0.25) : T(1), x = z.x * sc, y = z.y * sc;
  T t = sqrt((fabs(x) + hypot(x, y)) * T(0.5)), u = sc == T(1) ? t : t * T(2);
  if (z.x >= T(0)) return zcplx<T>(u, z.y / (T(2) * u));
  return zcplx<T>(fabs(z.y) / (T(2) * u), copysign(u, z.y)); }
template <class T> ZD zcplx<T> zyx_csinh(zcplx<T> z) {
  if (z.y == T(0)) return zcplx<T>(sinh(z.x), z.y);
  if (!isfinite(z.y)) {
    if (z.x == T(0)) return zcplx<T>(z.x, T(NAN));
    if (isinf(z.x)) return zcplx<T>(T(INFINITY), T(NAN)); }  /* the sign is unspecified; libm's */
  return zcplx<T>(sinh(z.x) * cos(z.y), cosh(z.x) * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_ccosh(zcplx<T> z) {
  if (z.y == T(0)) return zcplx<T>(cosh(z.x), isnan(z.x) ? z.y : copysign(T(0), z.x) * z.y);
  if (!isfinite(z.y)) {
    if (z.x == T(0)) return zcplx<T>(T(NAN), T(0));
    if (isinf(z.x)) return zcplx<T>(T(INFINITY), T(NAN)); }
  return zcplx<T>(cosh(z.x) * cos(z.y), sinh(z.x) * sin(z.y)); }
template <class T> ZD zcplx<T> zyx_ctanh(zcplx<T> z) {
  if (isinf(z.x)) return zcplx<T>(copysign(T(1), z.x), copysign(T(0), isfinite(z.y) ? sin(T(2) * z.y) : z.y));
  if (isnan(z.x)) return zcplx<T>(z.x, z.y == T(0) ? z.y : T(NAN));
  if (!isfinite(z.y)) return zcplx<T>(z.x == T(0) ? z.x : T(NAN), T(NAN));
  if (z.y == T(0)) return zcplx<T>(tanh(z.x), z.y);
  /* tanh(x + iy) = (sinh 2x + i sin 2y) / (cosh 2x + cos 2y); beyond |x| = 20 the real
     part is 1 and cosh would overflow */
  if (fabs(z.x) > T(20)) return zcplx<T>(copysign(T(1), z.x), T(4) * sin(z.y) * cos(z.y) * exp(T(-2) * fabs(z.x)));
  T d = cosh(T(2) * z.x) + cos(T(2) * z.y);
  return zcplx<T>(sinh(T(2) * z.x) / d, sin(T(2) * z.y) / d); }
/* the circular functions through the hyperbolic ones: f(z) = -i g(i z) */
template <class T> ZD zcplx<T> zyx_mul_i(zcplx<T> z) { return zcplx<T>(-z.y, z.x); }
template <class T> ZD zcplx<T> zyx_mul_negi(zcplx<T> z) { return zcplx<T>(z.y, -z.x); }
template <class T> ZD zcplx<T> zyx_csin(zcplx<T> z) {
  if (isinf(z.y) && !isfinite(z.x)) return zcplx<T>(T(NAN), T(INFINITY));  /* unspecified signs: libm's */
  return zyx_mul_negi(zyx_csinh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_ccos(zcplx<T> z) { return zyx_ccosh(zyx_mul_i(z)); }
template <class T> ZD zcplx<T> zyx_ctan(zcplx<T> z) { return zyx_mul_negi(zyx_ctanh(zyx_mul_i(z))); }
/* inverse functions for finite arguments after W. Kahan, "Branch cuts for complex
   elementary functions"; the special values of each are spelled out first */
template <class T> ZD zcplx<T> zyx_casin_finite(zcplx<T> z) {
  zcplx<T> s1m = zyx_csqrt(zcplx<T>(T(1) - z.x, -z.y)), s1p = zyx_csqrt(zcplx<T>(T(1) + z.x, z.y));
  return zcplx<T>(atan2(z.x, s1m.x * s1p.x - s1m.y * s1p.y), asinh(s1m.x * s1p.y - s1m.y * s1p.x)); }
template <class T> ZD zcplx<T> zyx_casinh(zcplx<T> z) {
  if (isnan(z.x)) return zcplx<T>(isinf(z.y) ? copysign(T(INFINITY), z.x) : z.x, z.y == T(0) ? z.y : T(NAN));
  if (isnan(z.y)) return zcplx<T>(isinf(z.x) ? z.x : z.y, z.y);
  if (isinf(z.x)) return zcplx<T>(z.x, copysign(isinf(z.y) ? ZYX_PI_4 : T(0), z.y));
  if (isinf(z.y)) return zcplx<T>(copysign(T(INFINITY), z.x), copysign(ZYX_PI_2, z.y));
  if (z.y == T(0)) return zcplx<T>(asinh(z.x), z.y);
  return zyx_mul_negi(zyx_casin_finite(zyx_mul_i(z))); }  /* asinh(z) = -i asin(i z) */
template <class T> ZD zcplx<T> zyx_casin(zcplx<T> z) { return zyx_mul_negi(zyx_casinh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_cacos(zcplx<T> z) {
  if (isnan(z.x)) return zcplx<T>(z.x, isinf(z.y) ? -z.y : z.x);
  if (isnan(z.y)) return zcplx<T>(z.x == T(0) ? ZYX_PI_2 : z.y, isinf(z.x) ? -fabs(z.x) : z.y);
  if (isinf(z.x)) return zcplx<T>(isinf(z.y) ? (z.x > T(0) ? ZYX_PI_4 : T(3) * ZYX_PI_4) : (z.x > T(0) ? T(0) : ZYX_PI),
                                  copysign(T(INFINITY), -z.y));
  if (isinf(z.y)) return zcplx<T>(ZYX_PI_2, -z.y);
  zcplx<T> s1m = zyx_csqrt(zcplx<T>(T(1) - z.x, -z.y)), s1p = zyx_csqrt(zcplx<T>(T(1) + z.x, z.y));
  return zcplx<T>(T(2) * atan2(s1m.x, s1p.x), asinh(s1p.x * s1m.y - s1p.y * s1m.x)); }
template <class T> ZD zcplx<T> zyx_cacosh(zcplx<T> z) {
  if (isnan(z.x)) return zcplx<T>(isinf(z.y) ? T(INFINITY) : z.x, z.x);
  if (isnan(z.y)) return zcplx<T>(isinf(z.x) ? T(INFINITY) : z.y, z.x == T(0) ? ZYX_PI_2 : z.y);
  if (isinf(z.x)) return zcplx<T>(T(INFINITY), copysign(isinf(z.y) ? (z.x > T(0) ? ZYX_PI_4 : T(3) * ZYX_PI_4)
                                                                  : (z.x > T(0) ? T(0) : ZYX_PI), z.y));
  if (isinf(z.y)) return zcplx<T>(T(INFINITY), copysign(ZYX_PI_2, z.y));
  zcplx<T> sm1 = zyx_csqrt(zcplx<T>(z.x - T(1), z.y)), sp1 = zyx_csqrt(zcplx<T>(z.x + T(1), z.y));
  return zcplx<T>(asinh(sm1.x * sp1.x + sm1.y * sp1.y), T(2) * atan2(sm1.y, sp1.x)); }
template <class T> ZD zcplx<T> zyx_catanh(zcplx<T> z) {
  if (isnan(z.x)) return isinf(z.y) ? zcplx<T>(copysign(T(0), z.x), copysign(ZYX_PI_2, z.y)) : zcplx<T>(z.x, z.x);
  if (isnan(z.y)) return zcplx<T>(isinf(z.x) ? copysign(T(0), z.x) : (z.x == T(0) ? z.x : z.y), z.y);
  if (isinf(z.x) || isinf(z.y)) return zcplx<T>(copysign(T(0), z.x), copysign(ZYX_PI_2, z.y));
  if (z.x == T(0)) return zcplx<T>(z.x, atan(z.y));  /* atanh(iy) = i atan(y), keeping the zero's sign */
  T ax = fabs(z.x), ay = fabs(z.y);
  if (fmax(ax, ay) > (sizeof(T) == 4 ? T(1e8) : T(1e16))) {  /* 1 / z to the type's precision */
    T h = hypot(z.x, z.y); return zcplx<T>(z.x / h / h, copysign(ZYX_PI_2, z.y)); }
  /* real: log(|1 + z|^2 / |1 - z|^2) / 4 = log1p(4|x| / |1 - |x| - iy|^2) / 4 (no cancellation);
     imaginary: arg((1 + z)(1 - conj z)) / 2 */
  T y2 = z.y * z.y, den = (T(1) - ax) * (T(1) - ax) + y2;
  return zcplx<T>(copysign(T(0.25) * log1p(T(4) * ax / den), z.x),
                  T(0.5) * atan2(T(2) * z.y, (T(1) - ax) * (T(1) + ax) - y2)); }
template <class T> ZD zcplx<T> zyx_catan(zcplx<T> z) { return zyx_mul_negi(zyx_catanh(zyx_mul_i(z))); }
template <class T> ZD zcplx<T> zyx_cpow(zcplx<T> a, zcplx<T> b) {
  /* NumPy's rules: z**0 == 1, 0**x == 0 for real x > 0, small integer powers by
     repeated multiplication (exact for Gaussian integers), else exp(b log a) */
  if (b.x == T(0) && b.y == T(0)) return zcplx<T>(T(1));
  if (a.x == T(0) && a.y == T(0)) return b.x > T(0) ? zcplx<T>(T(0)) : zcplx<T>(T(NAN), T(NAN));  /* NumPy */
  if (b.y == T(0) && b.x == rint(b.x) && fabs(b.x) < T(100)) {
    int n = (int)b.x, m = n < 0 ? -n : n;
    zcplx<T> r(T(1)), x = a;
    while (m) { if (m & 1) r = r * x; x = x * x; m >>= 1; }
    return n < 0 ? zcplx<T>(T(1)) / r : r; }
  return zyx_cexp(b * zyx_clog(a)); }
#undef ZYX_PI
#undef ZYX_PI_2
#undef ZYX_PI_4
ZD float zyx_maxf(float a, float b) { return (a > b || a != a) ? a : b; }
ZD float zyx_minf(float a, float b) { return (a < b || a != a) ? a : b; }
ZD double zyx_maxd(double a, double b) { return (a > b || a != a) ? a : b; }
ZD double zyx_mind(double a, double b) { return (a < b || a != a) ? a : b; }
""" + DIVISION_HELPERS.replace("ZYX_FN", "ZD") + PHILOX_HELPER.replace("ZYX_FN", "ZD") + PREAMBLE_END + "\n"

# NVRTC spends ~10 ms more per kernel parsing these headers: included only where used
_HALF_HEADERS = {"float16": "#include <cuda_fp16.h>\n", "bfloat16": "#include <cuda_bf16.h>\n"}


def kernel_dtypes(k: Kernel) -> set[DType]:
    """Every dtype a kernel's buffers and values have."""
    out = {p.dtype for p in k.params}
    out.update(s.dtype for s in walk(k.body) if isinstance(s, (Assign, Acc)))
    return out


def preamble(k: Kernel, mm: MatmulPlan | None = None) -> str:
    """The helper code kernel ``k`` starts with: the half-precision headers only when a
    buffer or value of ``k`` has that type, the tensor-core helpers only for the matmul
    shapes that use them."""
    names = {d.name for d in kernel_dtypes(k)}
    head = "".join(h for n, h in _HALF_HEADERS.items() if n in names)
    if mm is not None and mm.kind == "wmma":
        head += "#include <mma.h>\n"
    return head + CUDA_PREAMBLE + (MMA_HELPERS if uses_mma_helpers(mm) else "")


# complex arithmetic: the zcplx operators of the preamble; the other ops call its helpers
_COMPLEX_OPERATORS = {"cmul": "*", "cdiv": "/"}


# ------------------------------------------------------------------ vectorized elementwise
# A plain elementwise kernel (no loops) whose innermost output extent is a multiple of 4
# and whose outputs are 4-byte float32 / int32 / uint32: each thread computes 4
# consecutive outputs of the innermost dimension. A load whose index is ``v + c`` in the
# innermost variable ``v`` with every other part a multiple of 4 starts at a 16-byte
# aligned element (device allocations are 256-byte aligned) and reads its 4 values with
# one float4 / int4 / uint4 load; so does the store. Everything else (gated padding
# loads, broadcasts, strided or shifted views) stays a scalar access per lane.
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


def reduction_shape(k: Kernel, cc: int = 0):
    """How a kernel with a reduction runs: ("column", ColumnPlan), ("block", None),
    ("matmul", MatmulPlan), or (None, None) for the thread-per-output shapes. A kernel
    with few outputs and a big reduction takes a block per output unless its loads run
    along the outputs (column strips); a contraction takes a tiled matmul."""
    block = uses_block_reduce(k)
    mm = None if block else matmul_plan(k, cc)
    if mm is None:
        cp = column_plan(k)
        if cp is not None:
            return "column", cp
    if block:
        return "block", None
    return ("matmul", mm) if mm is not None else (None, None)


def launch_config(k: Kernel, cc: int = 0, args=()) -> tuple[int, int]:
    """(blocks, threads per block) for a kernel on a device of compute capability ``cc``
    (``major * 10 + minor``; 0: unknown, no tensor cores); blocks is 0 for an empty output.
    A generic kernel's sizes come from its launch arguments ``args``."""
    if k.generic:
        total = 1
        for _, n in k.global_dims:
            total *= size_fn(k, n)(args)
        if total == 0:
            return 0, BLOCK
        return (min(-(-total // BLOCK), MAX_GRID), BLOCK) if k.global_dims else (1, 1)
    total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
    if total == 0:
        return 0, BLOCK
    shape, plan = reduction_shape(k, cc)
    if shape == "column":
        return min(plan.groups, MAX_GRID), plan.threads
    if shape == "block":
        return min(total, MAX_GRID), BLOCK
    if shape == "matmul":
        return min(plan.tiles, MAX_GRID), plan.threads
    if not k.global_dims:
        return 1, 1
    return min(-(-(total // vector_width(k)) // BLOCK), MAX_GRID), BLOCK


class CUDARenderer(CStyleRenderer):
    """CUDA C for NVRTC (C++17)."""

    lang = "cuda"
    index_type = "int64_t"

    def __init__(self, cc: int = 0):
        self.cc = cc  # target compute capability (major * 10 + minor); 0: no tensor cores

    def plan_settings(self) -> tuple:
        """The switches outside this renderer that change what it renders (the stored plans'
        and specialised versions' keys hold them: ``Backend.plan_identity``)."""
        from . import cuda_matmul
        return (("tf32", cuda_matmul.allow_tf32()),)

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

    LOAD_CONV = {**CStyleRenderer.LOAD_CONV, "float16": "__half2float({})", "bfloat16": "__bfloat162float({})"}
    STORE_CONV = {**CStyleRenderer.STORE_CONV, "float16": "__float2half_rn({})", "bfloat16": "__float2bfloat16_rn({})"}

    # ------------------------------------------------------------------ ALU
    def alu(self, op: str, d: DType, a: list[str], src_dtypes: list[DType], arg=None) -> str:
        if op == "COMPLEX":
            real = compute_dtype(src_dtypes[0])
            return f"{self.ctype(d)}(({self.ctype(real)})({a[0]}), ({self.ctype(real)})({a[1]}))"
        return super().alu(op, d, a, src_dtypes, arg)

    def complex_call(self, name: str, a: list[str], sd: DType) -> str:
        if name in _COMPLEX_OPERATORS:
            return f"({a[0]} {_COMPLEX_OPERATORS[name]} {a[1]})"
        if name == "crecip":
            return f"({self.ctype(sd)}(1) / {a[0]})"
        return f"zyx_{name}({', '.join(a)})"

    def complex_log_base(self, x: str, base: int, sd: DType) -> str:
        return f"(zyx_clog({x}) / {self.ctype(sd)}({math.log(base)!r}))"

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
    ARG_BITS = {"float32": "__int_as_float((int)(uint32_t){})", "float64": "__longlong_as_double({})"}
    COMPLEX_OF = "{t}({re}, {im})"

    ARG_SLOT = "zarg{}"

    def render(self, k: Kernel) -> str:
        # a generic kernel indexes with 32 bits when its structure keeps sizes below 2^30
        self.index_type = "int" if k.generic and not k.wide else "int64_t"
        params = []
        for p in k.params:
            const = "" if p.output else "const "
            params.append(f"{const}{self.storage_type(p.dtype)}* __restrict__ {p.name}")
        params += [f"uint32_t {s}" for s in k.scalars]
        params += [f"long long zarg{i}" for i in range(k.nargs)]
        if k.generic:
            return self._render_generic(k, params)
        blocks, threads = launch_config(k, self.cc)
        shape, plan = reduction_shape(k, self.cc) if blocks else (None, None)
        out = [preamble(k, plan if shape == "matmul" else None),
               f'extern "C" __global__ void __launch_bounds__({threads}) {k.name}({", ".join(params)}) {{']
        total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
        if shape == "column":
            render_column_reduce(self, k, plan, out)
        elif shape == "block":
            render_block_reduce(self, k, out)
        elif shape == "matmul":
            (render_mma if uses_mma_helpers(plan) else render_matmul)(self, k, plan, out)
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

    def _render_generic(self, k: Kernel, params: list[str]) -> str:
        """A generic kernel (sizes are arguments): a grid-stride loop over the outputs."""
        it = self.index_type
        out = [preamble(k, None), f'extern "C" __global__ void __launch_bounds__({BLOCK}) {k.name}({", ".join(params)}) {{']
        out += self.arg_decls(k)
        if not k.global_dims:
            out.append("  if (blockIdx.x != 0 || threadIdx.x != 0) return;")
            self.render_body(k, k.body, 1, {}, out)
        else:
            total = " * ".join(f"({it}){self.index(n)}" for _, n in k.global_dims)
            out.append(f"  const {it} ztotal = {total};")
            out.append(f"  for ({it} zi = ({it})blockIdx.x * blockDim.x + threadIdx.x; zi < ztotal; "
                       f"zi += ({it})gridDim.x * blockDim.x) {{")
            out.extend(f"    const {it} {v} = {e};" for v, e in unflatten([(v.name, n) for v, n in k.global_dims], "zi", ""))
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


__all__ = ["CUDARenderer", "CUDA_PREAMBLE", "launch_config", "uses_block_reduce", "column_plan", "matmul_plan",
           "unflatten", "loop_dims",
           "MatmulPlan", "BLOCK", "vector_width", "VEC"]
