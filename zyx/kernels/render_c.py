"""Renderers for the C family (C for the CPU; OpenCL C and CUDA C derive from it).

A renderer is a table: how each dtype is spelled, how each primitive is spelled per
dtype kind, and a preamble of helper functions. The walk over the IR is shared; the
languages differ in their kernel signature, how the parallel loops are expressed and
a few spellings, which subclasses override.
"""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from .. import dtypes as dt
from .. import ops
from ..dtypes import DType
from . import tile_c
from .ir import Acc, AccUpdate, Assign, Kernel, Loop, Store
from .loops import split_by_divisor, unroll_size
from .lower import compute_dtype
from .render_base import PREAMBLE_END, Renderer, walk
from .symbolic import coef

# --------------------------------------------------------------------------- shared tables
FLOAT_FUNCS = {  # op -> C math function (float64 name; float32 adds "f")
    "EXP": "exp", "EXP2": "exp2", "EXPM1": "expm1", "LOG": "log", "LOG2": "log2", "LOG10": "log10",
    "LOG1P": "log1p", "SQRT": "sqrt", "SIN": "sin", "COS": "cos", "TAN": "tan", "ASIN": "asin",
    "ACOS": "acos", "ATAN": "atan", "SINH": "sinh", "COSH": "cosh", "TANH": "tanh", "ASINH": "asinh",
    "ACOSH": "acosh", "ATANH": "atanh", "FLOOR": "floor", "CEIL": "ceil", "ROUND": "rint",
    "TRUNC": "trunc", "ABS": "fabs", "ERF": "erf", "POW": "pow", "ATAN2": "atan2", "HYPOT": "hypot",
    "COPYSIGN": "copysign", "NEXTAFTER": "nextafter",
}
# complex helpers the preamble defines (NumPy's formulas); the other complex functions are
# C99's <complex.h> (cexp, casinh, creal, ...), zyx_cpow's fallback among them
C_COMPLEX_HELPERS = frozenset({"cmul", "cdiv", "crecip", "cexpm1", "clog1p"})
INFIX = {"ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "AND": "&", "OR": "|", "XOR": "^",
         "CMPLT": "<", "CMPLE": "<=", "CMPEQ": "==", "CMPNE": "!="}


def _round_to(v, d: DType) -> float:
    """Python number ``v`` rounded to float dtype ``d`` (float16 / bfloat16 / float32 /
    float64), as a Python float; out of range it becomes an infinity, as in NumPy."""
    f = float(v)
    if math.isnan(f) or math.isinf(f) or d in (dt.float64, dt.complex128):
        return f
    with np.errstate(over="ignore"):
        return float(np.asarray(f, dtype=np.float64).astype(d.np if d.kind == "f" else np.float32))


def exact_float_text(f: float) -> str:
    """C text for the finite double ``f`` that every compiler reads exactly: the short
    decimal when it is the exact value (2.5, -0.0, 1e+20), else a C99 hex float."""
    r = repr(f)
    if "inf" not in r and "nan" not in r and Decimal(r) == Decimal(f):
        return r if ("e" in r or "." in r) else r + ".0"
    h = f.hex()  # [-]0x1.<13 hex digits>p<exp>; trailing zero digits carry nothing
    mant, exp = h.split("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}"


class CStyleRenderer(Renderer):
    """The C family's spellings (C, OpenCL C and CUDA C override a few); the walk over the
    IR is ``render_base.Renderer``'s."""

    lang = "c"
    index_type = "int64_t"

    def vtype(self, d: DType) -> str:
        return self.ctype(d)

    # ------------------------------------------------------------------ types
    def ctype(self, d: DType) -> str:
        """Type of a computed value."""
        d = compute_dtype(d)
        return {"bool": "_Bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
                "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
                "uint64": "uint64_t", "float32": "float", "float64": "double",
                "complex64": "float _Complex", "complex128": "double _Complex"}[d.name]

    def storage_type(self, d: DType) -> str:
        """Type of an element in memory."""
        return {"bool": "uint8_t", "float16": "_Float16", "bfloat16": "uint16_t"}.get(d.name) or self.ctype(d)

    # conversions between an element in memory and its computed value, by dtype name (the
    # others are the same type in both places)
    LOAD_CONV = {"bfloat16": "zyx_bf16_to_f32({})", "float16": "((float){})", "bool": "(({})!=0)"}
    STORE_CONV = {"bfloat16": "zyx_f32_to_bf16({})", "float16": "((_Float16)({}))", "bool": "((uint8_t)(({})!=0))"}

    def load_conv(self, d: DType, expr: str) -> str:
        return self.LOAD_CONV.get(d.name, "{}").format(expr)

    def store_conv(self, d: DType, expr: str) -> str:
        return self.STORE_CONV.get(d.name, "{}").format(expr)

    # ------------------------------------------------------------------ literals
    int_suffix, uint_suffix = "LL", "ULL"  # 64-bit integer literal suffixes (OpenCL C: L, UL)

    def literal(self, v, d: DType) -> str:
        """``v`` as a constant of dtype ``d``, exactly: the value is first converted to
        ``d`` (an integer wraps to the type's width as NumPy's ``astype`` does, a float
        rounds to the type, overflowing to an infinity), so the compiler never sees a
        literal out of its type's range; floats that are not short exact decimals are
        hex literals, which every C-family compiler reads exactly."""
        cd = compute_dtype(d)
        if cd.kind == "b":
            return "1" if v else "0"
        if cd.kind in "iu":
            v = int(v) & ((1 << cd.bits) - 1)
            t = self.ctype(cd)
            if cd.kind == "u":
                return f"(({t}){v}{self.uint_suffix})"
            if v >= 1 << (cd.bits - 1):
                v -= 1 << cd.bits
            if v == -(1 << 63):  # -9223372036854775808 is a negated literal C reads as unsigned
                return f"(({t})(-9223372036854775807{self.int_suffix} - 1))"
            return f"(({t}){v}{self.int_suffix})"
        if cd.kind == "f":
            return self.float_literal(_round_to(v.real if isinstance(v, complex) else v, d), cd)
        c = complex(v)
        real = dt.real_of(cd)
        r = self.float_literal(_round_to(c.real, real), real)
        i = self.float_literal(_round_to(c.imag, real), real)
        return f"zyx_cmplx{'f' if cd is dt.complex64 else ''}({r}, {i})"

    def float_literal(self, f: float, cd: DType) -> str:
        """A float64 / float32 (``cd``) literal of ``f``, which must be exactly
        representable in ``cd`` (``literal`` rounds first)."""
        suffix = "f" if cd is dt.float32 else ""
        if math.isnan(f):
            return f"({self.ctype(cd)})NAN"
        if math.isinf(f):
            return f"({'-' if f < 0 else ''}({self.ctype(cd)})INFINITY)"
        return exact_float_text(f) + suffix

    # ------------------------------------------------------------------ generic kernels
    ARG_SLOT = "zargs[{}]"  # an int64 argument slot of a generic kernel (OpenCL, CUDA: zarg<i>)

    # a float argument from its bits in a slot, by compute dtype; a complex value from two
    ARG_BITS = {"float32": "zyx_argf({})", "float64": "zyx_argd({})"}
    COMPLEX_OF = "zyx_cmplx{f}({re}, {im})"  # a complex value of two reals (f: "f" for complex64)

    def arg_value(self, k: Kernel, slot: int, d: DType) -> str:
        """A value argument of a generic kernel: slot ``slot`` of the int64 argument array
        (floats as their bits; a complex value in two slots)."""
        cd = compute_dtype(d)
        a = self.ARG_SLOT.format(slot)
        if cd.kind == "f":
            return self.ARG_BITS[cd.name].format(a)
        if cd.kind == "c":
            bits = self.ARG_BITS[dt.real_of(cd).name]
            return self.COMPLEX_OF.format(f="f" if cd is dt.complex64 else "", t=self.ctype(cd), re=bits.format(a),
                                          im=bits.format(self.ARG_SLOT.format(slot + 1)))
        if cd.kind == "b":
            return f"({a} != 0)"
        return f"(({self.ctype(cd)}){a})"

    def arg_decls(self, k: Kernel, pad: str = "  ") -> list[str]:
        """Declarations of a generic kernel's index arguments (sizes, offsets)."""
        return [f"{pad}const {self.index_type} {a.name} = ({self.index_type}){self.ARG_SLOT.format(a.slot)};"
                for a in k.index_args()]

    # ------------------------------------------------------------------ ALU
    def fn(self, base: str, d: DType) -> str:
        return base + ("f" if compute_dtype(d) in (dt.float32, dt.complex64) else "")

    def alu(self, op: str, d: DType, a: list[str], src_dtypes: list[DType], arg=None) -> str:
        """Spell op applied to operand expressions ``a``; ``d`` is the result dtype and
        ``src_dtypes`` the operands' dtypes."""
        sd = compute_dtype(src_dtypes[0]) if src_dtypes else compute_dtype(d)
        k = sd.kind
        if op == "WHERE":
            return f"({a[0]} ? {a[1]} : {a[2]})"
        if op == "CAST":
            dst = arg[1] if isinstance(arg, tuple) else d
            return self.cast(a[0], sd, dst)
        if op == "BITCAST":
            src, dst = arg if isinstance(arg, tuple) else (src_dtypes[0], d)
            return self.bitcast(a[0], src, dst)
        if k == "c":
            return self.complex_alu(op, d, a, sd)
        if op == "COMPLEX":  # two reals -> one complex
            return f"zyx_cmplx{'f' if d is dt.complex64 else ''}({a[0]}, {a[1]})"
        if op in INFIX:
            if k == "b" and op in ("ADD", "MUL"):
                return f"({a[0]} {'|' if op == 'ADD' else '&'} {a[1]})"
            if k in "iu" and op in ("ADD", "SUB", "MUL"):
                return self.wrapping(op, sd, a[0], a[1])
            return f"({a[0]} {INFIX[op]} {a[1]})"
        if op == "NEG":
            if k == "b":
                return f"(!{a[0]})"
            return f"(-{a[0]})" if k not in "iu" else self.wrapping("SUB", sd, "0", a[0])
        if op == "NOT":
            return f"(!{a[0]})"
        if op == "BITNOT":
            return f"(!{a[0]})" if k == "b" else f"(({self.ctype(sd)})(~{a[0]}))"
        if op == "RECIP":
            return f"(1 / {a[0]})" if k == "f" else f"({self.literal(1, sd)} / {a[0]})"
        if op == "MAX":
            if k == "f":
                return f"zyx_max{self.sfx(sd)}({a[0]}, {a[1]})"
            return f"({a[0]} > {a[1]} ? {a[0]} : {a[1]})"
        if op == "MIN":
            if k == "f":
                return f"zyx_min{self.sfx(sd)}({a[0]}, {a[1]})"
            return f"({a[0]} < {a[1]} ? {a[0]} : {a[1]})"
        if op == "ISNAN":
            return f"({a[0]} != {a[0]})" if k == "f" else "0"
        if op == "ISINF":
            return f"(isinf({a[0]}) != 0)" if k == "f" else "0"
        if op == "SIGNBIT":
            # copysign, not signbit(): gcc 12 ICEs vectorizing signbit of a bf16-widened value
            one = self.literal(1, sd)
            return f"({self.fn('copysign', sd)}({one}, {a[0]}) < 0)" if k == "f" else (f"({a[0]} < 0)" if k == "i" else "0")
        if k in "iub":
            return self.int_alu(op, sd, a)
        if op == "IDIV":
            return f"zyx_floordiv{self.sfx(sd)}({a[0]}, {a[1]})"
        if op == "MOD":
            return f"zyx_pymod{self.sfx(sd)}({a[0]}, {a[1]})"
        if op == "LOGADDEXP":  # max(a, b) + log1p(exp(-|a - b|)); equal infinities give themselves
            x, y = a
            small = f"{self.fn('log1p', sd)}({self.fn('exp', sd)}(-{self.fn('fabs', sd)}({x} - {y})))"
            return f"((isinf({x}) && {x} == {y}) ? {x} : ({x} > {y} ? {x} : {y}) + {small})"
        if op in FLOAT_FUNCS:
            return f"{self.fn(FLOAT_FUNCS[op], sd)}({', '.join(a)})"
        raise NotImplementedError(f"{self.lang}: op {op} on {sd.name}")

    def sfx(self, d: DType) -> str:
        return "f" if compute_dtype(d) is dt.float32 else "d"

    def unsigned_type(self, d: DType) -> str:
        """The unsigned type of integer dtype ``d``'s width."""
        return self.ctype(getattr(dt, "uint" + str(d.bits)))

    def wrapping(self, op: str, d: DType, x: str, y: str) -> str:
        """``x op y`` (ADD, SUB, MUL) on integer dtype ``d`` wrapping around modulo
        2**bits as NumPy does. Signed overflow is undefined behaviour in C, CUDA C and
        OpenCL C (compilers assume it never happens: the CPU backend alone compiles with
        -fwrapv), so 32/64-bit signed arithmetic is done in the unsigned type and cast
        back; narrower types are promoted to int, where only a 16-bit product can
        overflow (65535 * 65535), so products are taken as uint32. The casts cost no
        instructions and leave loops vectorizable."""
        sign = INFIX[op]
        if d.bits >= 32:
            if d.kind == "u":
                return f"({x} {sign} {y})"
            u = self.unsigned_type(d)
            return f"(({self.ctype(d)})(({u})({x}) {sign} ({u})({y})))"
        if op == "MUL":
            u = self.ctype(dt.uint32)
            return f"(({self.ctype(d)})(({u})({x}) * ({u})({y})))"
        return f"(({self.ctype(d)})({x} {sign} {y}))"

    def int_alu(self, op: str, d: DType, a: list[str]) -> str:
        t = self.ctype(d)
        bits = d.bits
        if op == "IDIV":
            if d.kind == "u" or d.kind == "b":
                return f"({a[1]} == 0 ? ({t})0 : ({t})({a[0]} / {a[1]}))"
            return f"zyx_floordiv_i64({a[0]}, {a[1]})"
        if op == "MOD":
            if d.kind == "u" or d.kind == "b":
                return f"({a[1]} == 0 ? ({t})0 : ({t})({a[0]} % {a[1]}))"
            return f"zyx_pymod_i64({a[0]}, {a[1]})"
        if op == "SHL":
            return f"(({a[1]}) < 0 || ({a[1]}) >= {bits} ? ({t})0 : ({t})((uint64_t)({a[0]}) << ({a[1]})))"
        if op == "SHR":
            neg = f"({a[0]} < 0 ? ({t})-1 : ({t})0)" if d.kind == "i" else f"({t})0"
            return f"(({a[1]}) < 0 || ({a[1]}) >= {bits} ? {neg} : ({t})({a[0]} >> ({a[1]})))"
        if op == "POW":
            return f"({t})zyx_ipow({a[0]}, {a[1]})" if d.kind == "i" else f"({t})zyx_upow({a[0]}, {a[1]})"
        if op == "ABS":  # |INT_MIN| wraps to INT_MIN, as in NumPy
            return f"({a[0]} < 0 ? {self.wrapping('SUB', d, '0', a[0])} : {a[0]})" if d.kind == "i" else a[0]
        if op in ("FLOOR", "CEIL", "ROUND", "TRUNC"):
            return a[0]
        raise NotImplementedError(f"{self.lang}: op {op} on {d.name}")

    # complex numbers (the ops are render_base.COMPLEX_OPS): C99's _Complex, NumPy's products
    # and quotients (see ZYX_CMATH), not C's operators
    def complex_call(self, name: str, a: list[str], sd: DType) -> str | None:
        if name in C_COMPLEX_HELPERS:
            return f"zyx_{name}{self.sfx(dt.real_of(sd))}({', '.join(a)})"
        if name == "cisnan":
            return f"(zyx_cisnan{self.sfx(dt.real_of(sd))}({a[0]}))"
        if name == "cisinf":
            return None
        return f"{self.fn('zyx_cpow' if name == 'cpow' else name, sd)}({', '.join(a)})"

    def complex_log_base(self, x: str, base: int, sd: DType) -> str:
        return f"({self.complex_call('clog', [x], sd)} / {math.log(base)!r})"

    def cast(self, x: str, src: DType, dst: DType) -> str:
        dc = compute_dtype(dst)
        if dst is dt.bool_:
            return f"({x} != 0)"
        if src is dt.bool_ and dc.kind in "iuf":
            # a select, not a conversion: gcc does not if-convert (float)(_Bool) and then
            # leaves the whole loop scalar (a max-pool gradient ran 7x slower)
            return f"({x} ? {self.literal(1, dc)} : {self.literal(0, dc)})"
        if src.kind == "c" and dst.kind != "c":
            x = f"{self.fn('creal', src)}({x})"
            src = dt.real_of(src)
        if dst is dt.float16:
            return f"((float)(_Float16)({x}))"
        if dst is dt.bfloat16:
            return f"zyx_bf16_round((float)({x}))"
        if src.kind == "f" and dst.kind == "u" and dst.itemsize < 8:
            return f"(({self.ctype(dc)})(int64_t)({x}))"
        return f"(({self.ctype(dc)})({x}))"

    def bitcast(self, x: str, src: DType, dst: DType) -> str:
        st, dt_ = self.storage_type(src), self.storage_type(dst)
        return (f"({{ {st} zb_i = {self.store_conv(src, x)}; {dt_} zb_o; "
                f"memcpy(&zb_o, &zb_i, sizeof zb_o); {self.load_conv(dst, 'zb_o')}; }})")

    # ------------------------------------------------------------------ statements
    def declare(self, t: str, name: str, expr: str) -> str:
        return f"{t} {name} = {expr};"

    def loop_open(self, loop: Loop) -> str:
        v = loop.var.name
        return f"for ({self.index_type} {v} = 0; {v} < {self.index(loop.size)}; {v}++) {{"

    def store_lines(self, k: Kernel, s: Store) -> list[str]:
        return [self.store_stmt(k.params[s.param], self.index(s.index), s.src, s.dtype)]

    def load_expr(self, param, idx: str) -> str:
        """A value read from buffer ``param`` at index expression ``idx``."""
        return self.load_conv(param.dtype, f"{param.name}[{idx}]")

    def store_stmt(self, param, idx: str, value: str, d: DType) -> str:
        """The statement writing ``value`` (of dtype ``d``) to ``param[idx]``."""
        return f"{param.name}[{idx}] = {self.store_conv(d, value)};"

    def acc_decl(self, a: Acc) -> str:
        return f"{self.ctype(a.dtype)} {a.name} = {self.acc_init(a.kind, a.dtype)};"

    def load_value(self, k: Kernel, p: int, idx: str, gate, d: DType) -> str:
        ld = self.load_expr(k.params[p], idx)
        return f"({self.gate(gate)} ? {ld} : {self.literal(0, d)})" if gate else ld

    def index_value(self, e, d: DType) -> str:
        return f"(({self.ctype(d)})({self.index(e)}))"

    def rand_value(self, seed, off, lin: str) -> str:
        return f"zyx_philox({seed}, (uint32_t)({off} + (uint64_t)({lin})), (uint32_t)(((uint64_t)({lin})) >> 32))"

    def clamp_value(self, v: str, bound, dtypes: dict) -> str:
        hi = self.index(bound)
        return f"(({v}) < 0 ? 0 : (({v}) > {hi} ? {hi} : ({self.index_type})({v})))"

    def accumulate(self, kind: str, acc: str, v: str, cd: DType) -> str:
        if cd.kind in "iu":
            return self.wrapping("ADD" if kind == "SUM" else "MUL", cd, acc, v)
        return f"{acc} {'+' if kind == 'SUM' else '*'} {v}"

    def extremum_update(self, acc: str, kind: str, v: str, cd: DType) -> str:
        cmp = ">" if kind == "MAX" else "<"
        if cd.kind == "f":
            return f"if ({v} {cmp} {acc} || {v} != {v}) {acc} = {v};"
        return f"if ({v} {cmp} {acc}) {acc} = {v};"


# 64-byte vector helpers for the register-tiled contractions (tile_c.py), emitted before a
# kernel that uses them (include-guarded: a batch compiles many kernels in one file). Named
# vector accumulators stay in registers where arrays of accumulators would not; the
# multiply-add is fused (one rounding, as BLAS) - the rest of a kernel keeps a*b+c unfused.
# The x86 intrinsics header costs ~100 ms of compile time, so only these kernels include it;
# gcc's element-wise fmaf loop is the portable fallback (it spilled accumulators on x86).
C_VECTOR_HELPERS = r"""
#ifndef ZYX_VECTOR_HELPERS
#define ZYX_VECTOR_HELPERS
typedef float zyx_vf32 __attribute__((vector_size(64)));
typedef double zyx_vf64 __attribute__((vector_size(64)));
static inline zyx_vf32 zyx_vld32(const float* p) { zyx_vf32 v; memcpy(&v, p, 64); return v; }
static inline zyx_vf64 zyx_vld64(const double* p) { zyx_vf64 v; memcpy(&v, p, 64); return v; }
static inline void zyx_vst32(float* p, zyx_vf32 v) { memcpy(p, &v, 64); }
static inline void zyx_vst64(double* p, zyx_vf64 v) { memcpy(p, &v, 64); }
#if defined(__AVX512F__)
#include <immintrin.h>
static inline zyx_vf32 zyx_vfma32(float a, zyx_vf32 b, zyx_vf32 c) {
  return (zyx_vf32)_mm512_fmadd_ps(_mm512_set1_ps(a), (__m512)b, (__m512)c); }
static inline zyx_vf64 zyx_vfma64(double a, zyx_vf64 b, zyx_vf64 c) {
  return (zyx_vf64)_mm512_fmadd_pd(_mm512_set1_pd(a), (__m512d)b, (__m512d)c); }
static inline zyx_vf32 zyx_vfmav32(zyx_vf32 a, zyx_vf32 b, zyx_vf32 c) {
  return (zyx_vf32)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
static inline zyx_vf64 zyx_vfmav64(zyx_vf64 a, zyx_vf64 b, zyx_vf64 c) {
  return (zyx_vf64)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c); }
#else
static inline zyx_vf32 zyx_vfmav32(zyx_vf32 a, zyx_vf32 b, zyx_vf32 c) {
  zyx_vf32 r; for (int i = 0; i < 16; i++) r[i] = fmaf(a[i], b[i], c[i]); return r; }
static inline zyx_vf64 zyx_vfmav64(zyx_vf64 a, zyx_vf64 b, zyx_vf64 c) {
  zyx_vf64 r; for (int i = 0; i < 8; i++) r[i] = fma(a[i], b[i], c[i]); return r; }
static inline zyx_vf32 zyx_vfma32(float a, zyx_vf32 b, zyx_vf32 c) {
  zyx_vf32 r; for (int i = 0; i < 16; i++) r[i] = fmaf(a, b[i], c[i]); return r; }
static inline zyx_vf64 zyx_vfma64(double a, zyx_vf64 b, zyx_vf64 c) {
  zyx_vf64 r; for (int i = 0; i < 8; i++) r[i] = fma(a, b[i], c[i]); return r; }
#endif
#endif
"""


# ---------------------------------------------------------------- math functions on the CPU
# gcc vectorizes calls to the functions below through glibc's libmvec. Its variants are
# different algorithms from scalar libm and from each other (the 4-lane SSE variant of logf
# differs from the 16-lane AVX-512 one in 119k of 1M sampled inputs; the AVX2 tanhf, erff
# and expm1f from the AVX-512 ones too), and one loop mixes them: the 16-lane variant for
# its body, the 8-lane one for a vectorized epilogue, scalar libm for the rest and for every
# loop left scalar. One value recomputed in two places of a kernel (or in two kernels) then
# differed in the last bit, and x == max(x), argmax ties and max-pool masks broke.
#
# So a kernel calls ``zyx_expf`` etc., and every evaluation - scalar or any vector width -
# runs one libmvec variant, the widest the target has (AVX-512: 16 floats, else AVX2: 8).
# The function is declared ``omp declare simd`` under the assembler name ``zyx_s_expf``:
# gcc's vector loops call ``_ZGV<isa>N<lanes>v_zyx_s_expf``, its scalar code ``zyx_s_expf``,
# and each of those is a two-instruction trampoline (top-level assembly: nothing for the
# compiler to optimize; as C functions they added ~0.45 s to every compile) that fills the
# canonical width - a scalar broadcast, a narrower vector repeated - and jumps to libmvec.
# The calls are not to a builtin either, so gcc does not fold a constant argument with
# correctly rounded arithmetic (one more implementation). Without libmvec, OpenMP or AVX2
# the names are plain libm, scalar everywhere.
#
# Only float32 goes through libmvec. Its double variants are up to 3 ulp off (exp: 43% of
# results not correctly rounded, sin/cos 63%; cos(1e-9) gave 1 - 2^-53), where glibc's scalar
# exp, log, sin and cos - NumPy's accuracy - are within an ulp: float64 is chosen for its
# accuracy, so float64 kernels call scalar libm (sin/cos of 4M doubles: ~3 -> ~45 ms on two
# threads, NumPy ~90 ms; exp/log ~3 -> ~15 ms, NumPy's own SIMD ~5 ms).
_MVEC_FUNCS = [("expf", 1), ("logf", 1), ("sinf", 1), ("cosf", 1), ("powf", 2), ("tanhf", 1), ("erff", 1),
               ("expm1f", 1), ("log1pf", 1)]
MVEC_NAMES = frozenset(n for n, _ in _MVEC_FUNCS)


def _mvec_block(canon: str) -> str:
    """Declarations and trampolines for targets whose widest libmvec variant is ``canon``:
    "e" (AVX-512, zmm) or "d" (AVX2, ymm)."""
    wide = "zmm" if canon == "e" else "ymm"
    decls, asm = [], []
    for name, nargs in _MVEC_FUNCS:
        single = name.endswith("f")
        t = "float" if single else "double"
        lanes = (16 if single else 8) if canon == "e" else (8 if single else 4)
        vs = "v" * nargs
        target = f"_ZGV{canon}N{lanes}{vs}_{name}"
        params = ", ".join([t] * nargs)
        decls.append("#pragma omp declare simd notinbranch")
        decls.append(f"ZYX_HID {t} zyx_{name}({params}) __asm__(\"zyx_s_{name}\") __attribute__((const));")
        bcast = "vbroadcastss" if single else "vbroadcastsd"
        variants = [(f"zyx_s_{name}", [f"{bcast} %xmm{i}, %{wide}{i}" for i in range(nargs)])]
        n16, n32 = (4, 8) if single else (2, 4)
        if canon == "e":  # repeat the low 128 / 256 bits across the zmm register
            variants.append((f"_ZGVbN{n16}{vs}_zyx_s_{name}",
                             [f"vshuff64x2 $0x00, %zmm{i}, %zmm{i}, %zmm{i}" for i in range(nargs)]))
            for isa in "cd":
                variants.append((f"_ZGV{isa}N{n32}{vs}_zyx_s_{name}",
                                 [f"vshuff64x2 $0x44, %zmm{i}, %zmm{i}, %zmm{i}" for i in range(nargs)]))
            variants.append((f"_ZGVeN{lanes}{vs}_zyx_s_{name}", []))
        else:
            variants.append((f"_ZGVbN{n16}{vs}_zyx_s_{name}",
                             [f"vinsertf128 $1, %xmm{i}, %ymm{i}, %ymm{i}" for i in range(nargs)]))
            for isa in "cd":
                variants.append((f"_ZGV{isa}N{n32}{vs}_zyx_s_{name}", []))
        test = []
        if name in _GUARDED:  # the guard below: its test in each variant, its slow path shared
            test, slow = _guard(name, canon, target)
            asm += slow
        for sym, ins in variants:
            asm += [f".globl {sym}", f".hidden {sym}", f".type {sym}, @function", f"{sym}:",
                    *[f"  {x}" for x in ins + test], f"  jmp {target}@PLT", f".size {sym}, .-{sym}"]
    text = "\n".join(f'  "{ln}\\n"' for ln in [".text", ".p2align 4"] + asm)
    return "\n".join(decls) + "\n__asm__(\n" + text + ");"


# libmvec computes a vector in a few instructions - unless one of its lanes is outside the
# range its polynomial serves: then it calls glibc's scalar function for each such lane, and
# the whole vector costs 5-15x. For two functions such lanes are common and their results
# known exactly, so a guard - a compare against a constant and a branch per call - sends them
# through libmvec as harmless values and writes the exact result into their lanes: the bits
# libmvec's scalar path gives, at the vector's speed. Other special lanes take libmvec's own
# path. The test costs a loop of plain 8-lane calls ~5% (a fused exp-and-sum over 16M floats ~3%).
# - expf, lanes <= -104 (-inf in a masked softmax, logsumexp's ``x - max``; libmvec's range
#   ends near -87.3): +0, since e^x rounds to zero below ln(2^-150) ~ -103.97 (1M exps with a
#   third -inf: 1.8 -> 0.35 ms; a 4096 x 4096 softmax with half its scores -inf 156 -> 23 ms).
# - logf, lanes <= 0 (log of a zero probability, of a negative): -inf for +-0, the default NaN
#   (0xFFC00000, what 0/0 gives and glibc's invalid case returns) otherwise (1M logs with a
#   third zeros: 2.5 -> 0.43 ms). (Subnormal inputs, ~50x, stay libmvec's: no exact shortcut.)
_GUARDED = {  # name: (what guarded lanes compute as, [(compare predicate, against, result)]);
    # the first compare picks the guarded lanes, each result is written where its compare holds
    "expf": ("0x00000000", [("$2", "0xC2D00000", "0x00000000")]),  # x <= -104.0f: +0 (computed as 0)
    "logf": ("0x3F800000", [("$2", "0x00000000", "0xFFC00000"),  # x <= 0: NaN (computed as 1)
                            ("$0", "0x00000000", "0xFF800000")]),  # x == 0: -inf
}


def _guard(name: str, canon: str, target: str) -> tuple[list[str], list[str]]:
    """(the test each variant of ``name`` makes before it jumps to libmvec, the shared slow
    path ``zyx_g_<name>``) for the canonical width (zmm0 / ymm0): see _GUARDED. The test sits
    in the variants themselves, not in a routine they jump to: one more jump per call cost a
    plain 8-lane exp loop ~5%. The results' lane masks are taken from the argument before the
    call and kept on the stack across it; each result is written in order."""
    stand_in, results = _GUARDED[name]
    consts = list(dict.fromkeys([stand_in] + [c for _, c, _ in results] + [r for _, _, r in results]))
    lab = f".Lzyx_{name}_c"
    at = {v: f"{lab}{k}(%rip)" for k, v in enumerate(consts)}
    head = [".section .rodata", ".p2align 6"]
    for k, v in enumerate(consts):  # (a 64-byte row each: AVX2 reads 8 lanes, AVX-512 broadcasts one)
        head += [f"{lab}{k}:", ".rept 16", f".long {v}", ".endr"]
    pred, bound, _ = results[0]
    n = len(results)
    if canon == "e":  # AVX-512: lane masks in k registers, each result's kept on the stack (2 bytes)
        test = [f"vcmpps {pred}, {at[bound]}{{1to16}}, %zmm0, %k1", "kortestw %k1, %k1"]
        body = ["subq $16, %rsp"]
        for k, (p, c, _) in enumerate(results):
            body += [f"vcmpps {p}, {at[c]}{{1to16}}, %zmm0, %k2", f"kmovw %k2, {2 * k}(%rsp)"]
        body += [f"vbroadcastss {at[stand_in]}, %zmm1", "vmovaps %zmm1, %zmm0{%k1}", f"call {target}@PLT"]
        for k, (_, _, r) in enumerate(results):
            body += [f"kmovw {2 * k}(%rsp), %k1", f"vbroadcastss {at[r]}, %zmm1", "vmovaps %zmm1, %zmm0{%k1}"]
    else:  # AVX2: lane masks as ymm registers, each result's kept on the stack
        test = [f"vcmpps {pred}, {at[bound]}, %ymm0, %ymm1", "vtestps %ymm1, %ymm1"]
        body = ["andq $-32, %rsp", f"subq ${32 * n}, %rsp"]
        for k, (p, c, _) in enumerate(results):
            body += [f"vcmpps {p}, {at[c]}, %ymm0, %ymm2", f"vmovaps %ymm2, {32 * k}(%rsp)"]
        body += [f"vblendvps %ymm1, {at[stand_in]}, %ymm0, %ymm0", f"call {target}@PLT"]
        for k, (_, _, r) in enumerate(results):
            body += [f"vmovaps {32 * k}(%rsp), %ymm1", f"vblendvps %ymm1, {at[r]}, %ymm0, %ymm0"]
    body = ["pushq %rbp", "movq %rsp, %rbp", *body, "leave", "ret"]
    sym = f"zyx_g_{name}"
    slow = [*head, ".text", ".p2align 4", f".type {sym}, @function", f"{sym}:",
            *[f"  {x}" for x in body], f".size {sym}, .-{sym}"]
    return test + [f"jnz {sym}"], slow


# Kernels are vectorized for 256-bit registers (gcc's choice on every AVX-512 part). A loop
# calling a math function gains from 512: each libmvec call computes 16 floats whatever the
# loop's width (see _MVEC), and an 8-lane loop used half of every call (a fused exp-and-sum over
# 16M floats 9.8 -> 7.0 ms, a 4096 x 4096 softmax ~15.5 -> 9-13.5 ms on the dev machine). Small
# kernels lose: a launch of 512-bit code between stretches of Python cost ~1-3 us more (the
# vector units' wake-up; a fused 10-op kernel on 1000 floats 15.7 -> 16.5-18.8 us). So only
# versions specialised for big work (``Kernel.generic`` False) that call a math function are
# built for 512-bit vectors, where the backend found AVX-512 worth it (``-DZYX_WIDE``: see
# ``backends/cpu.py``, ``ZYX_CPU_VECTOR_WIDTH``); gcc only (clang keeps its own choice).
_WIDE = """#if defined(ZYX_WIDE) && defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define ZYX_WIDE_FN __attribute__((target("prefer-vector-width=512")))
#else
#define ZYX_WIDE_FN
#endif"""

_MVEC = "\n".join([
    "#if defined(__x86_64__) && defined(__ELF__) && defined(ZYX_MVEC) && defined(_OPENMP) && defined(__AVX2__)",
    '#define ZYX_HID __attribute__((visibility("hidden")))',
    "#if defined(__AVX512F__)",
    _mvec_block("e"),
    "#else",
    _mvec_block("d"),
    "#endif",
    "#else",
    *[f"#define zyx_{n} {n}" for n, _ in _MVEC_FUNCS],
    "#endif",
])


# Helpers whose text C and CUDA C share (``ZYX_FN``: how a helper is declared - ``static inline``
# in C, ``ZD`` in CUDA): NumPy's integer and float floor division and modulo, integer powers,
# and Philox, so the backends agree bit for bit.
DIVISION_HELPERS = r"""ZYX_FN int64_t zyx_floordiv_i64(int64_t a, int64_t b) {
  if (b == 0) return 0; if (b == -1) return (int64_t)(0 - (uint64_t)a);
  int64_t q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q; }
ZYX_FN int64_t zyx_pymod_i64(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0; int64_t r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }
ZYX_FN int64_t zyx_ipow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  uint64_t r = 1, x = (uint64_t)a; while (b) { if (b & 1) r *= x; x *= x; b >>= 1; } return (int64_t)r; }
ZYX_FN uint64_t zyx_upow(uint64_t a, uint64_t b) {
  uint64_t r = 1; while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r; }
#define ZYX_FLOORDIV(T, S, FMOD, FLOOR, COPYSIGN) \
ZYX_FN T zyx_floordiv##S(T a, T b) { \
  if (b == 0) return a / b; \
  T m = FMOD(a, b); T d = (a - m) / b; \
  if (m != 0 && ((b < 0) != (m < 0))) d -= 1; \
  if (d != 0) { T f = FLOOR(d); if (d - f > (T)0.5) f += 1; return f; } \
  return COPYSIGN((T)0, a / b); } \
ZYX_FN T zyx_pymod##S(T a, T b) { \
  if (b == 0) return FMOD(a, b); \
  T m = FMOD(a, b); \
  if (m != 0) { if ((b < 0) != (m < 0)) m += b; } else m = COPYSIGN((T)0, b); \
  return m; }
ZYX_FLOORDIV(float, f, fmodf, floorf, copysignf)
ZYX_FLOORDIV(double, d, fmod, floor, copysign)
"""
PHILOX_HELPER = r"""/* Philox-2x32-10: counter-based random bits, identical on every backend */
ZYX_FN uint32_t zyx_philox(uint32_t key, uint32_t c0, uint32_t c1) {
  for (int i = 0; i < 10; i++) {
    uint64_t p = (uint64_t)0xD256D193u * c0;
    uint32_t hi = (uint32_t)(p >> 32), lo = (uint32_t)p;
    c0 = hi ^ key ^ c1; c1 = lo; key += 0x9E3779B9u; }
  return c0 ^ c1; }
"""


C_PREAMBLE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef ZYX_SCRATCH_ALLOC  /* a kernel's heap scratch (tile_c's B^T copy); NULL: run without */
#define ZYX_SCRATCH_ALLOC(n) malloc(n)
#endif
#include <math.h>
#include <complex.h>
#ifdef _OPENMP
#include <omp.h>
#endif
/* math functions (zyx_expf, ...): one libmvec variant for every call, see _MVEC in render_c.py */
""" + _MVEC + "\n" + _WIDE + r"""
static inline float zyx_argf(int64_t b) { uint32_t u = (uint32_t)b; float f; memcpy(&f, &u, 4); return f; }
static inline double zyx_argd(int64_t b) { double f; memcpy(&f, &b, 8); return f; }
static inline float zyx_bf16_to_f32(uint16_t b) { uint32_t u = ((uint32_t)b) << 16; float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t zyx_f32_to_bf16(float f) {
  uint32_t u; memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u); return (uint16_t)(u >> 16); }
static inline float zyx_bf16_round(float f) { return zyx_bf16_to_f32(zyx_f32_to_bf16(f)); }
static inline float _Complex zyx_cmplxf(float r, float i) { float _Complex z; __real__ z = r; __imag__ z = i; return z; }
static inline double _Complex zyx_cmplx(double r, double i) { double _Complex z; __real__ z = r; __imag__ z = i; return z; }
static inline _Bool zyx_cisnanf(float _Complex z) { return crealf(z) != crealf(z) || cimagf(z) != cimagf(z); }
static inline _Bool zyx_cisnand(double _Complex z) { return creal(z) != creal(z) || cimag(z) != cimag(z); }
/* NaN-propagating max/min as two selects: gcc if-converts (and vectorizes) these in loops
   where the one-select forms with || or | left the loop scalar */
static inline float zyx_maxf(float a, float b) { float r = a > b ? a : b; return a != a ? a : r; }
static inline float zyx_minf(float a, float b) { float r = a < b ? a : b; return a != a ? a : r; }
static inline double zyx_maxd(double a, double b) { double r = a > b ? a : b; return a != a ? a : r; }
static inline double zyx_mind(double a, double b) { double r = a < b ? a : b; return a != a ? a : r; }
""" + DIVISION_HELPERS.replace("ZYX_FN", "static inline") + r"""/* complex arithmetic as NumPy computes it, so the special values agree with it and with the
   other backends: the schoolbook product (C's operator recovers infinities by Annex G,
   giving inf where NumPy gives nan), Smith's quotient and reciprocal (1/(0-1j) is +0+1j,
   where C's 1/z gave -0+1j); expm1 and log1p without the cancellation of exp(z) - 1 and
   log(1 + z) */
#define ZYX_CMATH(T, C, S, CS, F) \
static inline C zyx_cmul##S(C a, C b) { T ar = __real__ a, ai = __imag__ a, br = __real__ b, bi = __imag__ b; \
  return zyx_cmplx##CS(ar * br - ai * bi, ar * bi + ai * br); } \
static inline C zyx_cdiv##S(C a, C b) { T ar = __real__ a, ai = __imag__ a, br = __real__ b, bi = __imag__ b; \
  T xr = fabs##F(br), xi = fabs##F(bi); \
  if (xr >= xi) { \
    if (xr == 0 && xi == 0) return zyx_cmplx##CS(ar / xr, ai / xr); \
    T r = bi / br, s = (T)1 / (br + bi * r); return zyx_cmplx##CS((ar + ai * r) * s, (ai - ar * r) * s); } \
  T r = br / bi, s = (T)1 / (bi + br * r); return zyx_cmplx##CS((ar * r + ai) * s, (ai * r - ar) * s); } \
static inline C zyx_crecip##S(C z) { T x = __real__ z, y = __imag__ z; \
  if (fabs##F(y) <= fabs##F(x)) { T r = y / x, d = x + y * r; return zyx_cmplx##CS((T)1 / d, -r / d); } \
  T r = x / y, d = x * r + y; return zyx_cmplx##CS(r / d, (T)-1 / d); } \
static inline C zyx_cexpm1##S(C z) { T x = __real__ z, y = __imag__ z; \
  if (y == 0) return zyx_cmplx##CS(expm1##F(x), y); \
  T h = sin##F(y * (T)0.5); \
  return zyx_cmplx##CS(expm1##F(x) * cos##F(y) - (T)2 * h * h, exp##F(x) * sin##F(y)); } \
static inline C zyx_clog1p##S(C z) { T x = __real__ z, y = __imag__ z; \
  if (fabs##F(x) < (T)0.5 && fabs##F(y) < (T)0.5) \
    return zyx_cmplx##CS((T)0.5 * log1p##F(x * ((T)2 + x) + y * y), atan2##F(y, (T)1 + x)); \
  return clog##F(1 + z); }
ZYX_CMATH(float, float _Complex, f, f, f)
ZYX_CMATH(double, double _Complex, d, , )
/* complex power with NumPy's rules: z**0 == 1, 0**b == 0 when Re(b) > 0 (else nan), small
   integer powers by repeated multiplication (exact for Gaussian integers), else cpow */
#define ZYX_CPOW(T, C, S, MS, RINT, CPOW) \
static inline C zyx_cpow##S(C a, C b) { \
  if (b == 0) return 1; \
  if (a == 0) return __real__ b > 0 ? (C)0 : zyx_cmplx##S((T)NAN, (T)NAN); \
  if (__imag__ b == 0 && __real__ b == RINT(__real__ b) && __real__ b > -100 && __real__ b < 100) { \
    int n = (int)__real__ b, m = n < 0 ? -n : n; C r = 1, x = a; \
    while (m) { if (m & 1) r = zyx_cmul##MS(r, x); x = zyx_cmul##MS(x, x); m >>= 1; } \
    return n < 0 ? zyx_cdiv##MS(1, r) : r; } \
  return CPOW(a, b); }
ZYX_CPOW(float, float _Complex, f, f, rintf, cpowf)
ZYX_CPOW(double, double _Complex, , d, rint, cpow)
""" + PHILOX_HELPER.replace("ZYX_FN", "static inline") + PREAMBLE_END + "\n"


class CRenderer(CStyleRenderer):
    """C for the CPU backend: nested loops, OpenMP across the outer output loops,
    ``omp simd`` on inner loops, and a thread-split for large full reductions."""

    lang = "c"
    # below this much work (output elements x ops per element) a kernel runs on one thread:
    # waking the sleeping OpenMP workers (OMP_WAIT_POLICY=PASSIVE, see backends/cpu.py) costs
    # tens of microseconds, more than splitting ~50 us of work saves (a CNN training step of
    # ~45 kernels: 7.3 -> 6.4 ms with 1 << 18 instead of 1 << 14)
    min_parallel_work = 1 << 18
    _unroll = False  # per kernel: small reduction nests are unrolled (see _unroll_small_loops)

    def fn(self, base: str, d: DType) -> str:
        name = super().fn(base, d)
        return f"zyx_{name}" if name in MVEC_NAMES else name  # one implementation, see _MVEC

    def host_functions_source(self) -> tuple[str, dict]:
        """C source of one loop ``out[i] = op(a[i](, b[i]))`` per transcendental op on float32
        and float64, each spelled as the kernels spell it (``alu``) after the kernels'
        preamble, and ``{(op, dtype name): (function name, operands)}``. Built with the kernels' flags it
        computes their bits: the host tier calls it (see ``CPUBackend.host_functions``)."""
        parts, names = [C_PREAMBLE], {}
        for name, od in ops.OPS.items():
            if not od.transcendental or "f" not in od.kinds or od.category not in ("unary", "binary"):
                continue
            for d in (dt.float32, dt.float64):
                t = self.ctype(d)
                operands = ["a[i]", "b[i]"][:od.arity]
                params = [f"const {t}* restrict {x[0]}" for x in operands] + [f"{t}* restrict out", "int64_t n"]
                fname = f"zyx_host_{name.lower()}_{d.name}"
                names[(name, d.name)] = (fname, od.arity)
                loop = f"for (int64_t i = 0; i < n; i++) out[i] = {self.alu(name, d, operands, [d] * od.arity)};"
                # (two loops: `parallel for simd ... if(...)` left 12k floats' exp 10x slower)
                parts += [f"void {fname}({', '.join(params)}) {{",
                          f"  if (n < {self.min_parallel_work // 8}) {{ {loop} return; }}",
                          "  #pragma omp parallel for schedule(static)",
                          f"  {loop}", "}"]
        return "\n".join(parts) + "\n", names

    def render(self, k: Kernel) -> str:
        src = self._render_kernel(k)
        if not k.generic:  # a version specialised for big work that calls a math function: 512-bit vectors
            at = src.index(f"void {k.name}(")
            if any(f"zyx_{n}(" in src[at:] for n in MVEC_NAMES):
                src = src[:at] + "ZYX_WIDE_FN " + src[at:]
        return src

    def _render_kernel(self, k: Kernel) -> str:
        params = []
        for p in k.params:
            const = "" if p.output else "const "
            params.append(f"{const}{self.storage_type(p.dtype)}* restrict {p.name}")
        if k.generic:
            params.append("const int64_t* restrict zargs")
        params += [f"uint32_t {s}" for s in k.scalars]
        out = [C_PREAMBLE, f"void {k.name}({', '.join(params)}) {{"]
        out += self.arg_decls(k)
        self._unroll = False
        tiling = None if k.generic else tile_c.plan(k)
        if tiling is not None:
            tile_c.render(self, k, tiling, out)
            out.append("}")
            if any("zyx_v" in ln for ln in out[2:]):
                out.insert(1, C_VECTOR_HELPERS)
            return "\n".join(out)
        dtypes: dict = {}
        body_lines: list[str] = []
        split = None if k.generic else split_by_divisor(k)
        self._unroll = split is None and not k.generic and self._unroll_small_loops(k)
        # parallel when there is enough work: decided here, or at run time in a generic kernel
        if k.generic:
            total = " * ".join(f"(int64_t){self.index(n)}" for _, n in k.global_dims) or "1"
            per = max(1, k.flops // max(1, math.prod(_trip(n) for _, n in k.global_dims)))
            par_if = f" if(({total}) * {per} >= {self.min_parallel_work})"
        else:
            total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
            par_if = "" if total * max(1, k.flops // max(total, 1)) >= self.min_parallel_work else None
        if split is not None:  # the innermost output loop as (outer, c) with the c steps unrolled
            k, c = split
            inner = k.global_dims.pop()
            pad = "  " * (len(k.global_dims) + 1)
            for i in range(c):
                body_lines.append(f"{pad}{{ const {self.index_type} {inner[0].name} = {i};")
                self.render_body(k, k.body, len(k.global_dims) + 2, {}, body_lines)
                body_lines.append(f"{pad}}}")
        elif (sr := self._split_reduce_candidate(k)) is not None and (k.generic or k.flops >= self.min_parallel_work):
            self.render_split_reduce(k, sr, dtypes, body_lines)
        else:
            self.render_body(k, k.body, len(k.global_dims) + 1, dtypes, body_lines)
            if self._flat_ok(k):
                self._render_flat(k, par_if, body_lines, out)
                out.append("}")
                return "\n".join(out)
        if k.global_dims:
            par = par_if is not None
            ncollapse = 0
            acc = 1
            for _, n in k.global_dims[:-1]:
                ncollapse += 1
                acc *= _trip(n)
                if acc >= 64:
                    break
            ncollapse = max(1, ncollapse)
            for i, (v, n) in enumerate(k.global_dims):
                pad = "  " * (i + 1)
                if i == 0 and par:
                    c = f" collapse({ncollapse})" if ncollapse > 1 else ""
                    out.append(f"{pad}#pragma omp parallel for{c} schedule(static){par_if}")
                if i == len(k.global_dims) - 1 and (len(k.global_dims) > ncollapse or not par):
                    if self._simd_ok(k.body):
                        out.append(f"{pad}#pragma omp simd")
                out.append(f"{pad}for ({self.index_type} {v.name} = 0; {v.name} < {self.index(n)}; {v.name}++) {{")
            out.extend(body_lines)
            for i in reversed(range(len(k.global_dims))):
                out.append("  " * (i + 1) + "}")
        else:
            out.extend(body_lines)
        out.append("}")
        return "\n".join(out)

    # A specialised kernel calling a math function whose innermost output loop is short and
    # not a whole vector (a (4000, 3) array of logits) runs its output loops as one flat loop,
    # the indices recovered by division by constants: vectorised across rows instead of a
    # 3-step vector loop per row, which ran scalar - a libmvec call per element. The indices
    # are 32-bit (every buffer of the kernel is below 2^31 elements): gcc vectorises the
    # gathers this needs only with 32-bit indices. Measured (us, specialised, float32):
    # exp(c - col) at (4000, 3) 76 -> 22, (400000, 3) 3271 -> 753, (100000, 15) 1490 -> 957,
    # but (100000, 8) 466 -> 1098; plain arithmetic lost everywhere (gathers instead of
    # contiguous loads: c - col at (100000, 8) 169 -> 505), so it keeps the nest.
    FLAT_INNER = 16

    def _flat_ok(self, k: Kernel) -> bool:
        if k.generic or self._unroll or len(k.global_dims) < 2:
            return False
        sizes = [n for _, n in k.global_dims]
        # (the output is one of the params: its size is the loop's trip count)
        return (all(isinstance(n, int) for n in sizes) and sizes[-1] < self.FLAT_INNER and sizes[-1] % 8 != 0
                and all(p.size is not None and p.size < 2 ** 31 for p in k.params)
                and self._simd_ok(k.body)
                and any(isinstance(s, Assign) and s.op in ops.TRANSCENDENTAL for s in walk(k.body)))

    def _render_flat(self, k: Kernel, par_if: str | None, body_lines: list, out: list) -> None:
        sizes = [n for _, n in k.global_dims]
        pragma = f"parallel for simd schedule(static){par_if}" if par_if is not None else "simd"
        out.append(f"  #pragma omp {pragma}")
        out.append(f"  for (int zf = 0; zf < {math.prod(sizes)}; zf++) {{")
        for i, (v, n) in enumerate(k.global_dims):
            inner = math.prod(sizes[i + 1:])
            e = f"zf / {inner}" if inner > 1 else "zf"
            if i > 0:
                e = f"({e}) % {n}"
            out.append(f"    const int {v.name} = {e};")
        out.extend(body_lines)
        out.append("  }")

    def _simd_ok(self, body: list) -> bool:
        # inner-loop vectorization hint only for straight-line bodies (small reduction loops
        # count: they are unrolled, see _unroll_small_loops)
        allowed = (Assign, Store, Acc, AccUpdate, Loop) if self._unroll else (Assign, Store)
        return all(isinstance(s, allowed) and not (isinstance(s, Assign) and s.op in ("BITCAST", "CLAMP"))
                   for s in walk(body))

    UNROLL_LIMIT = 16

    def _unroll_small_loops(self, k: Kernel) -> bool:
        """Whether to unroll this kernel's reduction loops: every one is a straight-line nest
        of at most UNROLL_LIMIT steps (a 2x2 pooling window, a 3-tap sum) and the output is
        stored contiguously along the innermost output loop. Unrolled, the output loop is
        straight-line and vectorizes across outputs; kept, each output runs a tiny loop."""
        if not k.global_dims or k.global_dims[-1][1] < 32:  # short rows: scalar was faster (measured)
            return False
        loops = [s for s in k.body if isinstance(s, Loop)]
        if not loops or any(unroll_size(s) is None or unroll_size(s) > self.UNROLL_LIMIT for s in loops):
            return False
        if any(isinstance(s, Acc) and s.kind in ("MAX", "MIN") and compute_dtype(s.dtype).kind == "c"
               for s in k.body):
            return False
        v = k.global_dims[-1][0].name
        stores = [s for s in k.body if isinstance(s, Store)]
        return bool(stores) and all(coef(s.index, v) == 1 for s in stores)

    def render_body(self, k: Kernel, stmts: list, ind: int, dtypes: dict, out: list[str]) -> None:
        if not self._unroll:
            return super().render_body(k, stmts, ind, dtypes, out)
        pad = "  " * ind
        for s in stmts:
            if isinstance(s, Loop):
                for i in range(s.size):  # one block per step, the loop variable a constant
                    out.append(f"{pad}{{ const {self.index_type} {s.var.name} = {i};")
                    self.render_body(k, s.body, ind + 1, dict(dtypes), out)
                    out.append(f"{pad}}}")
                out.extend(self.after_loop(s, stmts, pad))
            else:
                super().render_body(k, [s], ind, dtypes, out)

    def loop_pragma(self, loop: Loop, pad: str) -> list[str]:
        # a reduction's innermost loop: let the compiler reorder it into vector lanes
        if all(isinstance(s, (Assign, AccUpdate)) for s in loop.body):
            ups = [s for s in loop.body if isinstance(s, AccUpdate)]
            if len(ups) == 1 and compute_dtype(ups[0].dtype).kind in "fiu" \
                    and not any(isinstance(s, Assign) and s.op in ("BITCAST", "CLAMP") for s in loop.body):
                u = ups[0]
                opch = {"SUM": "+", "PROD": "*", "MAX": "max", "MIN": "min"}[u.kind]
                extra = f" reduction(|:{u.name}_nan)" if _nan_flagged(u.kind, u.dtype) else ""
                return [f"{pad}#pragma omp simd reduction({opch}:{u.name}){extra}"]
        return []

    # float max/min: a select that vectorizes plus a separate "saw a NaN" flag, applied
    # when the reduction loop ends (NaN propagates as in NumPy)
    def acc_decl(self, a: Acc) -> str:
        base = super().acc_decl(a)
        return base + (f" int {a.name}_nan = 0;" if _nan_flagged(a.kind, a.dtype) else "")

    def acc_update(self, acc: str, kind: str, v: str, d: DType) -> str:
        if _nan_flagged(kind, d):
            cmp = ">" if kind == "MAX" else "<"
            return f"{acc} = ({v} {cmp} {acc}) ? {v} : {acc}; {acc}_nan |= ({v} != {v});"
        return self.unflagged_acc_update(acc, kind, v, d)

    def unflagged_acc_update(self, acc: str, kind: str, v: str, d: DType) -> str:
        """The update without the separate NaN flag (a NaN is kept by the comparison)."""
        return super().acc_update(acc, kind, v, d)

    def after_loop(self, loop: Loop, siblings: list, pad: str) -> list[str]:
        inner = {u.name for u in walk(loop.body) if isinstance(u, AccUpdate)}
        return [f"{pad}if ({a.name}_nan) {a.name} = NAN;" for a in siblings
                if isinstance(a, Acc) and a.name in inner and _nan_flagged(a.kind, a.dtype)]

    def _split_reduce_candidate(self, k: Kernel):
        """A kernel with no parallel output loop whose top level holds a big reduce loop."""
        if k.global_dims:
            return None
        for i, s in enumerate(k.body):
            if isinstance(s, Loop):
                ups = [u for u in walk(s.body) if isinstance(u, AccUpdate)]
                accs = {u.name for u in ups}
                top_accs = {a.name for a in k.body[:i] if isinstance(a, Acc)}
                if len(accs & top_accs) == 1 and (not isinstance(s.size, int) or s.size >= 4096):
                    return i
                return None
        return None

    def render_split_reduce(self, k: Kernel, i: int, dtypes: dict, out: list[str]) -> None:
        loop = k.body[i]
        acc = next(a for a in k.body[:i] if isinstance(a, Acc)
                   and any(isinstance(u, AccUpdate) and u.name == a.name for u in walk(loop.body)))
        self.render_body(k, k.body[:i], 1, dtypes, out)
        t = self.ctype(acc.dtype)
        priv = acc.name + "_p"
        v = loop.var.name
        out.append(f"  {t} {acc.name}_part[256]; int zyx_nt = 1;")
        size = self.index(loop.size)
        guard = "" if isinstance(loop.size, int) else f" if({size} >= {self.min_parallel_work})"
        out.append(f"  #pragma omp parallel num_threads(omp_get_max_threads() < 256 ? omp_get_max_threads() : 256){guard}")
        out.append("  {")
        out.append("    int zt = omp_get_thread_num(); int znt = omp_get_num_threads();")
        out.append("    #pragma omp single\n    zyx_nt = znt;")
        out.append(f"    int64_t zlo = (int64_t)((__int128){size} * zt / znt), zhi = (int64_t)((__int128){size} * (zt + 1) / znt);")
        out.append(f"    {self.acc_decl(Acc(priv, acc.dtype, acc.kind))}")
        inner: list[str] = []
        renamed = _rename_acc(loop.body, acc.name, priv)
        self.render_body(k, [Loop(loop.var, loop.size, renamed)], 2, dict(dtypes), inner)
        # replace the loop header bounds with this thread's chunk
        hdr = f"for ({self.index_type} {v} = 0; {v} < {size}; {v}++) {{"
        inner = [ln.replace(hdr, f"for ({self.index_type} {v} = zlo; {v} < zhi; {v}++) {{") for ln in inner]
        out.extend(inner)
        if _nan_flagged(acc.kind, acc.dtype):
            out.append(f"    if ({priv}_nan) {priv} = NAN;")
        out.append(f"    {acc.name}_part[zt] = {priv};")
        out.append("  }")
        out.append(f"  for (int zi = 0; zi < zyx_nt; zi++) {{ {t} zv = {acc.name}_part[zi]; "
                   f"{self.unflagged_acc_update(acc.name, acc.kind, 'zv', acc.dtype)} }}")
        self.render_body(k, k.body[i + 1:], 1, dtypes, out)


def _trip(n) -> int:
    """A loop's trip count for decisions made while rendering: a symbolic size counts as large."""
    return n if isinstance(n, int) else 1 << 20


def _nan_flagged(kind: str, d: DType) -> bool:
    return kind in ("MAX", "MIN") and compute_dtype(d).kind == "f"


def _rename_acc(stmts: list, old: str, new: str) -> list:
    out = []
    for s in stmts:
        if isinstance(s, AccUpdate) and s.name == old:
            out.append(AccUpdate(new, s.kind, s.src, s.dtype))
        elif isinstance(s, Loop):
            out.append(Loop(s.var, s.size, _rename_acc(s.body, old, new)))
        else:
            out.append(s)
    return out
