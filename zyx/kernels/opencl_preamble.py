"""OpenCL C helper functions prepended to every generated OpenCL kernel.

The helpers mirror the C preamble in ``render_c.py`` exactly where semantics matter
(Python/NumPy floor division and modulo, NaN-propagating max/min, bfloat16 rounding,
Philox random bits), so that every backend computes the same numbers. Complex numbers
are ``float2`` / ``double2`` with one helper per operation, written once as a template
and instantiated for float (suffix ``_f``) and, where the device has ``cl_khr_fp64``,
for double (suffix ``_d``).
"""
from __future__ import annotations

from .render_base import PREAMBLE_END

_COMMON = r"""
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
/* float16 is stored as half and computed in float (vload_half / vstore_half need no
   cl_khr_fp16); bfloat16 is stored as ushort */
ushort zyx_f32_to_f16(float f) { ushort u; vstore_half_rte(f, 0, (__private half*)&u); return u; }
float zyx_f16_to_f32(ushort u) { return vload_half(0, (const __private half*)&u); }
float zyx_round_f16(float f) { return zyx_f16_to_f32(zyx_f32_to_f16(f)); }
float zyx_bf16_to_f32(ushort b) { return as_float(((uint)b) << 16); }
ushort zyx_f32_to_bf16(float f) {
  uint u = as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u); return (ushort)(u >> 16); }
float zyx_bf16_round(float f) { return zyx_bf16_to_f32(zyx_f32_to_bf16(f)); }
float zyx_maxf(float a, float b) { return (a > b || a != a) ? a : b; }
float zyx_minf(float a, float b) { return (a < b || a != a) ? a : b; }
/* a zero the compiler cannot fold: PoCL's builtins constant-fold floor/ceil/trunc/rint/
   exp/expm1/sinh/tanh of a NaN or infinity constant to garbage (its library assumes
   finite math; the result was uninitialized memory), so the renderer spells those
   constants as bit patterns or'ed with this. Every kernel's output is out0, whose address
   is never null; get_global_size(0) == 0 did not work (PoCL specializes on the launch) */
#define ZYX_OPQ ((uint)(out0 == 0))
/* integer floor division and modulo with Python semantics; x // 0 == x % 0 == 0 */
long zyx_floordiv_i64(long a, long b) {
  if (b == 0) return 0;
  if (b == -1) return (long)(0 - (ulong)a);
  long q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q; }
long zyx_pymod_i64(long a, long b) {
  if (b == 0 || b == -1) return 0;
  long r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }
long zyx_ipow(long a, long b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  ulong r = 1, x = (ulong)a; while (b) { if (b & 1) r *= x; x *= x; b >>= 1; } return (long)r; }
ulong zyx_upow(ulong a, ulong b) {
  ulong r = 1; while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r; }
/* Philox-2x32-10: counter-based random bits, identical on every backend */
uint zyx_philox(uint key, uint c0, uint c1) {
  for (int i = 0; i < 10; i++) {
    uint hi = mul_hi(0xD256D193u, c0), lo = 0xD256D193u * c0;
    c0 = hi ^ key ^ c1; c1 = lo; key += 0x9E3779B9u; }
  return c0 ^ c1; }
"""

# float floor division / modulo with NumPy semantics, per real type
_FLOAT_TEMPLATE = r"""
/* tanh that is exactly +-1 where the rounded value is (PoCL returns 1 - ulp, even at +-inf) */
T zyx_tanhS(T x) { return fabs(x) > (T)TANHSAT ? copysign((T)1, x) : tanh(x); }
T zyx_floordivS(T a, T b) {
  if (b == 0) return a / b;
  T m = fmod(a, b); T d = (a - m) / b;
  if (m != 0 && ((b < 0) != (m < 0))) d -= 1;
  if (d != 0) { T f = floor(d); if (d - f > (T)0.5) f += 1; return f; }
  return copysign((T)0, a / b); }
T zyx_pymodS(T a, T b) {
  if (b == 0) return fmod(a, b);
  T m = fmod(a, b);
  if (m != 0) { if ((b < 0) != (m < 0)) m += b; } else m = copysign((T)0, b);
  return m; }
"""

# complex helpers; T is the real type, C the complex vector type, S the suffix
_COMPLEX_TEMPLATE = r"""
C zyx_cmplxS(T r, T i) { return (C)(r, i); }
bool zyx_cisnanS(C z) { return z.x != z.x || z.y != z.y; }
C zyx_cmulS(C a, C b) { return (C)(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
/* division and reciprocal: NumPy's algorithms (Smith's), so the special values agree */
C zyx_cdivS(C a, C b) {
  T ax = fabs(b.x), ay = fabs(b.y);
  if (ax >= ay) {
    if (ax == 0 && ay == 0) return (C)(a.x / ax, a.y / ax);
    T r = b.y / b.x, s = (T)1 / (b.x + b.y * r);
    return (C)((a.x + a.y * r) * s, (a.y - a.x * r) * s); }
  T r = b.x / b.y, s = (T)1 / (b.y + b.x * r);
  return (C)((a.x * r + a.y) * s, (a.y * r - a.x) * s); }
C zyx_crecipS(C z) {
  if (fabs(z.y) <= fabs(z.x)) { T r = z.y / z.x, d = z.x + z.y * r; return (C)((T)1 / d, -r / d); }
  T r = z.x / z.y, d = z.x * r + z.y; return (C)(r / d, (T)-1 / d); }
T zyx_cabsS(C z) { return hypot(z.x, z.y); }
C zyx_cexpS(C z) {
  /* C99 Annex G special values, as the Array API standard lists them */
  if (isinf(z.x)) {
    if (z.x < 0) return isfinite(z.y) ? (C)(copysign((T)0, cos(z.y)), copysign((T)0, sin(z.y))) : (C)((T)0, (T)0);
    if (z.y == 0) return z;
    if (!isfinite(z.y)) return (C)(z.x, (T)NAN); }
  if (isnan(z.x)) return (C)((T)NAN, z.y == 0 ? z.y : (T)NAN);
  if (z.y == 0) return (C)(exp(z.x), z.y);
  T e = exp(z.x); return (C)(e * cos(z.y), e * sin(z.y)); }
C zyx_cexpm1S(C z) {
  if (z.y == 0) return (C)(expm1(z.x), z.y);
  T s = sin(z.y * (T)0.5);
  return (C)(expm1(z.x) * cos(z.y) - (T)2 * s * s, exp(z.x) * sin(z.y)); }
C zyx_clogS(C z) { return (C)(log(hypot(z.x, z.y)), atan2(z.y, z.x)); }
C zyx_clog1pS(C z) {
  if (fabs(z.x) < (T)0.5 && fabs(z.y) < (T)0.5)
    return (C)((T)0.5 * log1p(z.x * ((T)2 + z.x) + z.y * z.y), atan2(z.y, (T)1 + z.x));
  return zyx_clogS((C)((T)1 + z.x, z.y)); }
C zyx_csqrtS(C z) {
  if (z.x == 0 && z.y == 0) return (C)((T)0, z.y);
  if (isinf(z.y)) return (C)((T)INFINITY, z.y);
  T t = sqrt((fabs(z.x) + hypot(z.x, z.y)) * (T)0.5);
  if (z.x >= 0) return (C)(t, z.y / ((T)2 * t));
  return (C)(fabs(z.y) / ((T)2 * t), copysign(t, z.y)); }
C zyx_cpowS(C a, C b) {
  /* NumPy's rules: z**0 == 1, 0**b == 0 when Re(b) > 0 (else nan), small integer powers
     by repeated multiplication, else exp(b * log(a)) */
  if (b.x == 0 && b.y == 0) return (C)((T)1, (T)0);
  if (a.x == 0 && a.y == 0) {
    if (b.x > 0) return (C)((T)0, (T)0);
    return (C)((T)NAN, (T)NAN); }
  if (b.y == 0 && b.x == rint(b.x) && fabs(b.x) < (T)100) {
    int n = (int)b.x, m = n < 0 ? -n : n;
    C r = (C)((T)1, (T)0), x = a;
    while (m) { if (m & 1) r = zyx_cmulS(r, x); x = zyx_cmulS(x, x); m >>= 1; }
    return n < 0 ? zyx_cdivS((C)((T)1, (T)0), r) : r; }
  return zyx_cexpS(zyx_cmulS(b, zyx_clogS(a))); }
C zyx_csinS(C z) { return (C)(sin(z.x) * cosh(z.y), cos(z.x) * sinh(z.y)); }
C zyx_ccosS(C z) { return (C)(cos(z.x) * cosh(z.y), -(sin(z.x) * sinh(z.y))); }
C zyx_csinhS(C z) {
  if (z.y == 0) return (C)(sinh(z.x), z.y);
  if (z.x == 0 && !isfinite(z.y)) return (C)(z.x, (T)NAN);
  return (C)(sinh(z.x) * cos(z.y), cosh(z.x) * sin(z.y)); }
C zyx_ccoshS(C z) {
  if (z.y == 0) return (C)(cosh(z.x), isnan(z.x) ? z.y : copysign((T)0, z.x) * z.y);
  if (z.x == 0 && !isfinite(z.y)) return (C)((T)NAN, z.x);
  return (C)(cosh(z.x) * cos(z.y), sinh(z.x) * sin(z.y)); }
C zyx_ctanS(C z) {
  /* tan(x+iy) = (sin 2x + i sinh 2y) / (cos 2x + cosh 2y); for large |y| cosh
     overflows while the value tends to +-i */
  if (fabs(z.y) > (T)TANLIM)
    return (C)((T)4 * sin(z.x) * cos(z.x) * exp((T)-2 * fabs(z.y)), copysign((T)1, z.y));
  T d = cos((T)2 * z.x) + cosh((T)2 * z.y);
  return (C)(sin((T)2 * z.x) / d, sinh((T)2 * z.y) / d); }
C zyx_ctanhS(C z) {
  if (z.y == 0) return (C)(tanh(z.x), z.y);
  C w = zyx_ctanS((C)(-z.y, z.x)); return (C)(w.y, -w.x); }
/* inverse functions after W. Kahan, "Branch cuts for complex elementary functions" */
C zyx_casinS(C z) {
  C s1m = zyx_csqrtS((C)((T)1 - z.x, -z.y)), s1p = zyx_csqrtS((C)((T)1 + z.x, z.y));
  return (C)(atan2(z.x, s1m.x * s1p.x - s1m.y * s1p.y),
             asinh(s1m.x * s1p.y - s1m.y * s1p.x)); }
C zyx_cacosS(C z) {
  C s1m = zyx_csqrtS((C)((T)1 - z.x, -z.y)), s1p = zyx_csqrtS((C)((T)1 + z.x, z.y));
  return (C)((T)2 * atan2(s1m.x, s1p.x), asinh(s1p.x * s1m.y - s1p.y * s1m.x)); }
C zyx_cacoshS(C z) {
  C sm1 = zyx_csqrtS((C)(z.x - (T)1, z.y)), sp1 = zyx_csqrtS((C)(z.x + (T)1, z.y));
  return (C)(asinh(sm1.x * sp1.x + sm1.y * sp1.y), (T)2 * atan2(sm1.y, sp1.x)); }
C zyx_casinhS(C z) {
  if (z.y == 0) return (C)(asinh(z.x), z.y);
  if (isinf(z.y) && isfinite(z.x)) return (C)(copysign((T)INFINITY, z.x), copysign((T)M_PI_2, z.y));
  C w = zyx_casinS((C)(-z.y, z.x)); return (C)(w.y, -w.x); }
C zyx_catanhS(C z) {
  if (z.x == 0 && isnan(z.y)) return z;
  if ((isinf(z.x) && !isnan(z.y)) || (isinf(z.y) && !isnan(z.x)))
    return (C)(copysign((T)0, z.x), copysign((T)M_PI_2, z.y));
  C a = zyx_clog1pS(z), b = zyx_clog1pS(-z);
  return (C)((T)0.5 * (a.x - b.x), (T)0.5 * (a.y - b.y)); }
C zyx_catanS(C z) { C w = zyx_catanhS((C)(-z.y, z.x)); return (C)(w.y, -w.x); }
"""


def _instantiate(template: str, real: str, cplx: str, suffix: str, tanlim: str = "", tanhsat: str = "") -> str:
    # complex constructors keep the C preamble's names (the shared renderer spells them)
    cmplx = "zyx_cmplxf" if real == "float" else "zyx_cmplx"
    return (template.replace("zyx_cmplxS", cmplx)
            .replace("S(", f"{suffix}(").replace("(T)TANLIM", tanlim).replace("(T)TANHSAT", tanhsat)
            .replace("(C)", f"({cplx})").replace("C ", f"{cplx} ").replace("(T)", f"({real})")
            .replace("T ", f"{real} "))


def opencl_preamble(complex_helpers: bool = True, fp64: bool = True) -> str:
    """The helper functions a generated OpenCL kernel starts with; the complex and the
    double-precision blocks only where the kernel uses them (they cost compile time)."""
    parts = [_COMMON, _instantiate(_FLOAT_TEMPLATE, "float", "float2", "f", tanhsat="9.011f")]
    if complex_helpers:
        parts.append(_instantiate(_COMPLEX_TEMPLATE, "float", "float2", "_f", "40.0f"))
    if fp64:
        parts += ["#ifdef cl_khr_fp64",
                  "double zyx_maxd(double a, double b) { return (a > b || a != a) ? a : b; }",
                  "double zyx_mind(double a, double b) { return (a < b || a != a) ? a : b; }",
                  "float zyx_round_f16_d(double d) { ushort u; vstore_half_rte(d, 0, (__private half*)&u); "
                  "return zyx_f16_to_f32(u); }",
                  _instantiate(_FLOAT_TEMPLATE, "double", "double2", "d", tanhsat="19.0615")]
        if complex_helpers:
            parts.append(_instantiate(_COMPLEX_TEMPLATE, "double", "double2", "_d", "350.0"))
        parts.append("#endif")
    parts.append(PREAMBLE_END + "\n")
    return "\n".join(parts)
