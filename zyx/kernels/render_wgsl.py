"""WGSL renderer: kernel IR -> a WebGPU compute shader.

WGSL is not C: no implicit conversions, no pointers, no 8/16-bit types, no NaN/inf
literals, and helper functions cannot be overloaded. So this renderer shares only the
language-neutral walk (``render_base.Renderer``) with the C family and spells everything
itself, with explicit types.

Memory layout is NumPy's, byte for byte, so copies need no conversion:

* 32/64-bit types are native arrays: ``f32 i32 u32``; ``i64 u64`` with the adapter's
  ``shader-int64``; ``f64`` with ``shader-f64`` (and int64, for its bit tricks);
  complex numbers are ``vec2<f32>`` / ``vec2<f64>``.
* 1- and 2-byte types (bool, int8, uint8, int16, uint16, float16, bfloat16) are *packed*
  in ``array<u32>``: a read extracts the byte or half-word; a kernel with a packed output
  gives each invocation a whole 32-bit word (4 or 2 consecutive elements), so no two
  invocations write the same word. float16 and bfloat16 are converted in software
  (round to nearest even), so no ``shader-f16`` is needed.

Values are computed in 32-bit registers for the small types (re-wrapped after every
operation that can leave the type's range) and in float32 for float16/bfloat16, as on
the other backends. Launch shapes mirror the CUDA renderer's: one invocation per output
word with a bounds check and a 2-D grid past 65535 workgroups, or one workgroup per
output with a shared-memory tree for few outputs with big reductions.

Drivers may compile shaders with fast-math assumptions (Mesa does), so NaN and infinity
tests use bit patterns, never ``x != x``.
"""
from __future__ import annotations

import math
import struct

import numpy as np

from .. import dtypes as dt
from ..dtypes import DType
from .ir import Acc, Assign, Kernel, Loop, Store, size_fn
from .lower import compute_dtype
from .render_base import Renderer, loop_dims, outer_accs, perfect_nest, unflatten, uses_block_reduce, walk
from .wgsl_lib import HELPERS, ordered

WORKGROUP = 256
MAX_WORKGROUPS = 65535  # per dispatch dimension

_PACK_BITS = {"bool": 8, "int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "float16": 16, "bfloat16": 16}
_WTYPE = {"bool": "bool", "int8": "i32", "int16": "i32", "int32": "i32", "int64": "i64", "uint8": "u32",
          "uint16": "u32", "uint32": "u32", "uint64": "u64", "float32": "f32", "float64": "f64",
          "complex64": "vec2<f32>", "complex128": "vec2<f64>"}
_NARROW = {"int8": 8, "int16": 16, "uint8": 8, "uint16": 16}


def packed_bits(d: DType) -> int:
    """Bits per element of a type packed into u32 words (0 when stored natively)."""
    return _PACK_BITS.get(d.name, 0)


def elements_per_unit(k: Kernel) -> int:
    """Output elements one invocation (or workgroup) writes: a whole u32 for packed outputs."""
    b = packed_bits(k.params[0].dtype)
    return 32 // b if b else 1


def launch_config(k: Kernel, args=()) -> tuple[tuple[int, int], bool]:
    """((workgroups x, workgroups y), block mode) for a kernel; (0, 0) for an empty output.
    A generic kernel's sizes come from its launch arguments ``args``."""
    if k.generic:
        total = 1
        for _, n in k.global_dims:
            total *= size_fn(k, n)(args)
    else:
        total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
    units = -(-total // elements_per_unit(k))
    if units == 0:
        return (0, 0), False
    if uses_block_reduce(k):
        return (min(units, MAX_WORKGROUPS), 1), True
    groups = -(-units // WORKGROUP)
    if groups <= MAX_WORKGROUPS:
        return (groups, 1), False
    return (MAX_WORKGROUPS, -(-groups // MAX_WORKGROUPS)), False


_FLOAT_BUILTIN = {"EXP": "exp", "EXP2": "exp2", "LOG": "log", "LOG2": "log2", "SQRT": "sqrt", "SIN": "sin",
                  "COS": "cos", "TAN": "tan", "ASIN": "asin", "ACOS": "acos", "ATAN": "atan", "SINH": "sinh",
                  "COSH": "cosh", "TANH": "tanh", "ASINH": "asinh", "ACOSH": "acosh", "ATANH": "atanh",
                  "FLOOR": "floor", "CEIL": "ceil", "ROUND": "round", "TRUNC": "trunc", "ABS": "abs",
                  "ATAN2": "atan2"}
_FLOAT_HELPER = {"EXPM1": "expm1", "LOG1P": "log1p", "ERF": "erf", "POW": "pow", "HYPOT": "hypot",
                 "COPYSIGN": "copysign", "NEXTAFTER": "nextafter", "MAX": "max", "MIN": "min",
                 "IDIV": "floordiv", "MOD": "pymod", "ISNAN": "isnan", "ISINF": "isinf", "SIGNBIT": "signbit"}
# bool operands (0 / 1): every op as a format of the operands
_BOOL_ALU = {**dict.fromkeys(("ADD", "OR", "MAX"), "({0} | {1})"),
             **dict.fromkeys(("MUL", "AND", "MIN"), "({0} & {1})"),
             **dict.fromkeys(("XOR", "CMPNE", "SUB"), "({0} != {1})"), "CMPEQ": "({0} == {1})",
             "CMPLT": "(!{0} & {1})", "CMPLE": "(!{0} | {1})", **dict.fromkeys(("NOT", "BITNOT", "NEG"), "(!{0})"),
             **dict.fromkeys(("ABS", "FLOOR", "CEIL", "ROUND", "TRUNC"), "{0}"),
             **dict.fromkeys(("ISNAN", "ISINF", "SIGNBIT"), "false")}
_SOFT = frozenset(op for op, fn in _FLOAT_BUILTIN.items() if f"{fn}_f32" in HELPERS)
_INFIX = {"ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "AND": "&", "OR": "|", "XOR": "^",
          "CMPLT": "<", "CMPLE": "<=", "CMPEQ": "==", "CMPNE": "!="}
_WRAPS = frozenset({"ADD", "SUB", "MUL", "NEG", "SHL", "BITNOT", "POW", "IDIV", "ABS", "MOD"})



def _lets(dims: list[tuple[str, int]], lin: str, pad: str) -> list[str]:
    """WGSL declarations splitting the flat index ``lin`` into the variables of ``dims``."""
    return [f"{pad}let {v}: i32 = {e};" for v, e in unflatten(dims, lin, "i")]

class WGSLRenderer(Renderer):
    """WGSL for wgpu. ``int64`` enables i64/u64, ``float64`` enables f64 (with int64)."""

    lang = "wgsl"
    true_literal = "true"

    def __init__(self, int64: bool = False, float64: bool = False):
        self.int64, self.float64 = int64, float64 and int64
        self._need: dict[str, None] = {}
        self._salt = 0
        self._store = None  # render() sets how a Store is written (packed words or plain)

    # ------------------------------------------------------------------ types
    def wtype(self, d: DType) -> str:
        """WGSL type of a computed value."""
        return _WTYPE[compute_dtype(d).name]

    vtype = wtype

    def elem_type(self, d: DType) -> str:
        """Element type of a buffer's array."""
        return "u32" if packed_bits(d) else _WTYPE[d.name]

    def need(self, name: str) -> str:
        """Ask for helper ``name`` in this shader; returns the function's name."""
        assert name in HELPERS, name
        self._need[name] = None
        return f"zyx_{name}"

    def opaque(self, x: str, d: DType) -> str:
        """``x`` (a float or complex value) behind an or with a runtime zero, so the driver's
        fast-math rules cannot fold an identity through it (see ``opq`` in wgsl_lib)."""
        t = self.wtype(d)
        name = {"f32": "opq_f32", "f64": "opq_f64", "vec2<f32>": "opq_c64", "vec2<f64>": "opq_c128"}[t]
        self._salt = (self._salt + 1) % 32  # a distinct opaque value per use site
        return f"{self.need(name)}({x}, {self._salt}u)"

    # ------------------------------------------------------------------ literals
    def literal(self, v, d: DType) -> str:
        cd = compute_dtype(d)
        t = self.wtype(cd)
        if cd.kind == "b":
            return "true" if v else "false"
        if cd.kind in "iu":
            v = int(v)
            if t == "i32" and v == -(2 ** 31):
                return "(-2147483647i - 1i)"
            if t == "i64" and v == -(2 ** 63):
                return "(-9223372036854775807li - 1li)"
            return f"{v}{ {'i32': 'i', 'u32': 'u', 'i64': 'li', 'u64': 'lu'}[t]}"
        if cd.kind == "f":
            return self.float_literal(float(v), t)
        c = complex(v)
        rt = t[5:-1]
        return f"{t}({self.float_literal(c.real, rt)}, {self.float_literal(c.imag, rt)})"

    def float_literal(self, f: float, t: str) -> str:
        if t == "f32":
            f = float(np.float32(f)) if abs(f) < 3.5e38 or math.isinf(f) or math.isnan(f) else math.copysign(math.inf, f)
        if math.isnan(f):
            return f"{self.need('nan_' + t)}()"
        if math.isinf(f):
            return f"({'-' if f < 0 else ''}{self.need('inf_' + t)}())"
        if t == "f32":
            if f == 0 or abs(f) < 1.1754943508222875e-38:  # -0.0 and subnormals: spell the bits
                return f"bitcast<f32>({struct.unpack('<I', struct.pack('<f', f))[0]}u)"
            r = str(np.float32(f))
            return f"{r if ('.' in r or 'e' in r) else r + '.0'}f"
        if f == 0 or abs(f) < 2.2250738585072014e-308:
            return f"bitcast<f64>({struct.unpack('<Q', struct.pack('<d', f))[0]}lu)"
        r = repr(f)
        return f"{r if ('.' in r or 'e' in r) else r + '.0'}lf"

    def zero(self, d: DType) -> str:
        return self.literal(0, d)

    # ------------------------------------------------------------------ ALU
    def wrap(self, expr: str, d: DType) -> str:
        """Bring a value computed in 32 bits back into a narrow integer type's range."""
        bits = _NARROW.get(d.name)
        if not bits:
            return expr
        if d.kind == "i":
            return f"((({expr}) << {32 - bits}u) >> {32 - bits}u)"
        return f"(({expr}) & {(1 << bits) - 1}u)"

    def alu(self, op: str, d: DType, a: list[str], sds: list[DType], arg=None) -> str:
        """Spell ``op`` on operands ``a`` of (storage) dtypes ``sds``; ``d`` is the result dtype."""
        sd = sds[0] if sds else d
        cd = compute_dtype(sd)
        k = cd.kind
        t = self.wtype(cd)
        if op == "WHERE":
            return f"select({a[2]}, {a[1]}, {a[0]})"
        if op == "BITCAST":
            src, dst = arg if isinstance(arg, tuple) else (sd, d)
            return self.bitcast(a[0], src, dst)
        if op == "CAST":
            src, dst = arg if isinstance(arg, tuple) else (sd, d)
            return self.cast(a[0], src, dst)
        if op == "COMPLEX":
            return f"{self.wtype(d)}({a[0]}, {a[1]})"
        if k == "c":
            return self.complex_alu(op, d, a, cd)
        if k == "b":
            return self.bool_alu(op, a)
        out = self._num_alu(op, a, cd, t)
        if op in _WRAPS and k in "iu":
            return self.wrap(out, sd)
        return out

    def _num_alu(self, op: str, a: list[str], cd: DType, t: str) -> str:
        k = cd.kind
        if k == "f" and op in ("CMPEQ", "CMPNE", "CMPLT", "CMPLE"):
            # NaN-proof comparisons: drivers may assume no NaNs and fold x != x to false
            isnan = self.need("isnan_" + t)
            nan = f"{isnan}({a[0]}) || {isnan}({a[1]})"
            if op == "CMPNE":
                return f"(({a[0]} != {a[1]}) || {nan})"
            return f"(({a[0]} {_INFIX[op]} {a[1]}) && !({nan}))"
        if k == "f" and op == "DIV":  # division by zero spelled out: Mesa folds x / 0.0 to 0
            return f"{self.need('fdiv_' + t)}({a[0]}, {a[1]})"
        if k == "f" and op in ("ADD", "SUB"):  # no y - y -> 0, (y + y) - y -> y, y + 0 -> y
            return f"({a[0]} {_INFIX[op]} {self.opaque(a[1], cd)})"
        if op in _INFIX:
            return f"({a[0]} {_INFIX[op]} {a[1]})"
        if op == "NEG":
            return f"(-{a[0]})" if t != "u32" and t != "u64" else f"(0{'u' if t == 'u32' else 'lu'} - {a[0]})"
        if op == "RECIP":
            return f"({self.literal(1, cd)} / {a[0]})"
        if op == "BITNOT":
            return f"(~{a[0]})"
        if op == "NOT":
            return f"({a[0]} == {self.literal(0, cd)})"
        if k == "f":
            if op == "LOGADDEXP":  # max(a, b) + log1p(exp(-|a - b|)); equal infinities give themselves
                x, y = a
                e = self._num_alu("EXP", [f"(-abs({self._num_alu('SUB', a, cd, t)}))"], cd, t)
                s = self._num_alu("ADD", [self._num_alu("MAX", a, cd, t), self._num_alu("LOG1P", [e], cd, t)], cd, t)
                return f"select({s}, {x}, {self.need('isinf_' + t)}({x}) && {x} == {y})"
            if op in _SOFT:
                return f"{self.need(_FLOAT_BUILTIN[op] + '_' + t)}({', '.join(a)})"
            if op in _FLOAT_BUILTIN:
                return f"{_FLOAT_BUILTIN[op]}({', '.join(a)})"
            if op in _FLOAT_HELPER:
                return f"{self.need(_FLOAT_HELPER[op] + '_' + t)}({', '.join(a)})"
            if op == "LOG10":
                log = self.need("log_" + t)
                return f"({log}({a[0]}) * {self.float_literal(0.4342944819032518, t)})"
            raise NotImplementedError(f"wgsl: op {op} on {cd.name}")
        # integers
        if op == "IDIV":
            if k == "u":
                return f"select({a[0]} / {a[1]}, {self.literal(0, cd)}, {a[1]} == {self.literal(0, cd)})"
            return f"{self.need('floordiv_' + t)}({a[0]}, {a[1]})"
        if op == "MOD":
            if k == "u":
                return f"select({a[0]} % {a[1]}, {self.literal(0, cd)}, {a[1]} == {self.literal(0, cd)})"
            return f"{self.need('pymod_' + t)}({a[0]}, {a[1]})"
        if op in ("SHL", "SHR"):
            bits = cd.bits
            zero = self.literal(0, cd)
            oob = f"({a[1]} < {zero} || {a[1]} >= {self.literal(bits, cd)})" if k == "i" else \
                f"({a[1]} >= {self.literal(bits, cd)})"
            if op == "SHL" or k == "u":
                fill = zero
            else:
                fill = f"select({zero}, {self.literal(-1, cd)}, {a[0]} < {zero})"
            safe = f"({a[0]} {'<<' if op == 'SHL' else '>>'} u32(select({a[1]}, {zero}, {oob})))"
            return f"select({safe}, {fill}, {oob})"
        if op == "POW":
            return f"{self.need('ipow_' + t)}({a[0]}, {a[1]})"
        if op == "ABS":
            return f"abs({a[0]})" if k == "i" else a[0]
        if op in ("MAX", "MIN"):
            return f"{op.lower()}({a[0]}, {a[1]})"
        if op in ("FLOOR", "CEIL", "ROUND", "TRUNC"):
            return a[0]
        if op in ("ISNAN", "ISINF"):
            return "false"
        if op == "SIGNBIT":
            return f"({a[0]} < {self.literal(0, cd)})" if k == "i" else "false"
        raise NotImplementedError(f"wgsl: op {op} on {cd.name}")

    def bool_alu(self, op: str, a: list[str]) -> str:
        if op not in _BOOL_ALU:
            raise NotImplementedError(f"wgsl: op {op} on bool")
        return _BOOL_ALU[op].format(*a)

    # complex numbers are vec2<f32> / vec2<f64> (the ops are render_base.COMPLEX_OPS)
    def complex_infix(self, sign: str, a: list[str], sd: DType) -> str:
        return f"({a[0]} {sign} {self.opaque(a[1], sd)})"

    def complex_compare(self, sign: str, a: list[str], sd: DType) -> str:
        isnan = self.need("cisnan_" + self.wtype(sd)[5:-1])  # NaN-proof, as for real numbers
        nan = f"{isnan}({a[0]}) || {isnan}({a[1]})"
        if sign == "==":
            return f"(all({a[0]} == {a[1]}) && !({nan}))"
        return f"(any({a[0]} != {a[1]}) || {nan})"

    COMPLEX_PARTS = {"real": "{x}.x", "imag": "{x}.y", "conj": "{t}({x}.x, -{x}.y)"}

    def complex_part(self, which: str, x: str, sd: DType) -> str:
        if which == "angle":
            return f"{self.need('atan2_' + self.wtype(sd)[5:-1])}({x}.y, {x}.x)"
        return super().complex_part(which, x, sd)

    def complex_log_base(self, x: str, base: int, sd: DType) -> str:
        scale = self.float_literal(1 / math.log(base), self.wtype(sd)[5:-1])
        return f"({self.complex_call('clog', [x], sd)} * {scale})"

    def complex_call(self, name: str, a: list[str], sd: DType) -> str | None:
        t = self.wtype(sd)
        rt = t[5:-1]
        if name == "crecip":
            one = f"{t}({self.float_literal(1.0, rt)}, {self.float_literal(0.0, rt)})"
            return f"{self.need('cdiv_' + rt)}({one}, {a[0]})"
        return f"{self.need(name + '_' + rt)}({', '.join(a)})" if name + "_" + rt in HELPERS else None

    def cast(self, x: str, src: DType, dst: DType) -> str:
        sc, dc = compute_dtype(src), compute_dtype(dst)
        st, dtt = self.wtype(sc), self.wtype(dc)
        if dst is dt.bool_:
            if sc.kind == "c":
                return f"(any({x} != {self.literal(0, sc)}) || {self.need('cisnan_' + st[5:-1])}({x}))"
            if sc.kind == "f":
                return f"(({x} != {self.literal(0, sc)}) || {self.need('isnan_' + st)}({x}))"
            return f"({x} != {self.literal(0, sc)})" if sc.kind != "b" else x
        if sc.kind == "b":
            return f"select({self.literal(0, dc)}, {self.literal(1, dc)}, {x})"
        if dc.kind == "c":
            rt = dtt[5:-1]
            if sc.kind == "c":
                return f"{dtt}({x})"
            return f"{dtt}({rt}({x}), {self.float_literal(0.0, rt)})"
        if sc.kind == "c":
            x, sc, st = f"{x}.x", dt.real_of(sc), st[5:-1]
        if dst is dt.float16:  # round to half precision, keep computing in f32
            self.need("f16")
            return f"zyx_f16_to_f32(zyx_f32_to_f16(f32({x})))"
        if dst is dt.bfloat16:
            self.need("bf16")
            return f"bitcast<f32>(zyx_f32_to_bf16(f32({x})) << 16u)"
        if dc.kind == "f":
            return f"{dtt}({x})"
        # to an integer type
        if sc.kind == "f":
            if dtt in ("u32", "u64"):
                signed = "i32" if dtt == "u32" else "i64"
                v = f"select({dtt}({x}), {dtt}({signed}({x})), {x} < {self.literal(0, sc)})"
            else:
                v = f"{dtt}({x})"
        elif st == "i32" and dtt in ("i64", "u64"):
            # u64(x) zero-extends (int16 -26 became 4294967270, not 2**64 - 26)
            v = self.widen_i32(x)
            v = v if dtt == "i64" else f"bitcast<u64>({v})"
        elif st == "u32" and dtt == "i64":
            # zero extension through u64: i64(x) of a u32 sign-extended (4294967288 became -8)
            v = f"bitcast<i64>(u64({x}))"
        else:
            v = f"{dtt}({x})" if st != dtt else x
        return self.wrap(v, dst) if dst.name in _NARROW else v

    @staticmethod
    def widen_i32(x: str) -> str:
        """An i32 as i64, the sign extension spelled out: lavapipe (Mesa 22-24) miscompiles
        ``i64(x)`` in comparisons - ``i64(x) < 0`` was false for a negative x (negative-index
        wrapping broke) and ``i64(g) - i64(0) <= 1li`` false for g in 0..3 (``tril`` of a
        one-row matrix came out all zeros)."""
        return f"(i64(({x}) >> 16u) * 65536li + i64(({x}) & 65535i))"

    # ------------------------------------------------------------------ bit patterns
    def to_bits(self, d: DType, v: str) -> str:
        """A computed value as the u32 holding its 8- or 16-bit storage pattern."""
        if d is dt.bool_:
            return f"select(0u, 1u, {v})"
        if d is dt.float16:
            self.need("f16")
            return f"zyx_f32_to_f16({v})"
        if d is dt.bfloat16:
            self.need("bf16")
            return f"zyx_f32_to_bf16({v})"
        return f"(u32({v}) & {(1 << packed_bits(d)) - 1}u)"

    def from_bits(self, d: DType, w: str) -> str:
        """The computed value of an 8- or 16-bit storage pattern held in a u32."""
        b = packed_bits(d)
        if d is dt.bool_:
            return f"({w} != 0u)"
        if d is dt.float16:
            self.need("f16")
            return f"zyx_f16_to_f32({w})"
        if d is dt.bfloat16:
            return f"bitcast<f32>({w} << 16u)"
        if d.kind == "i":
            return f"(bitcast<i32>({w} << {32 - b}u) >> {32 - b}u)"
        return w

    def bitcast(self, x: str, src: DType, dst: DType) -> str:
        if packed_bits(src):
            return self.from_bits(dst, self.to_bits(src, x))
        if src is dt.complex64 and dst.itemsize == 8:  # two f32 words <-> one 64-bit value
            w = f"(u64(bitcast<u32>({x}.x)) | (u64(bitcast<u32>({x}.y)) << 32u))"
            return w if dst is dt.uint64 else f"bitcast<{self.wtype(dst)}>({w})"
        if dst is dt.complex64 and src.itemsize == 8:
            w = x if src is dt.uint64 else f"bitcast<u64>({x})"
            return f"vec2<f32>(bitcast<f32>(u32({w} & 0xfffffffflu)), bitcast<f32>(u32({w} >> 32u)))"
        if src.kind == "c" or dst.kind == "c":
            raise NotImplementedError(f"wgsl: bitcast {src.name} -> {dst.name}")
        return f"bitcast<{self.wtype(dst)}>({x})"

    # ------------------------------------------------------------------ statements
    def arg_word(self, k: Kernel, j: int) -> str:
        """u32 word ``j`` of the argument words (random seeds, then generic arguments as
        (low, high) pairs) in the uniform buffer."""
        return f"zyx_s.v[{j // 4}][{j % 4}]"

    def arg_value(self, k: Kernel, slot: int, d: DType) -> str:
        cd = compute_dtype(d)
        base = len(k.scalars) + 2 * slot
        lo, hi = self.arg_word(k, base), self.arg_word(k, base + 1)
        t = self.wtype(cd)
        if cd.kind == "b":
            return f"({lo} != 0u)"
        if t in ("i32", "f32"):
            return f"bitcast<{t}>({lo})"
        if t == "u32":
            return lo
        def u64(lo_, hi_):
            return f"((u64({hi_}) << 32u) | u64({lo_}))"
        if t == "u64":
            return u64(lo, hi)
        if t in ("i64", "f64"):
            return f"bitcast<{t}>({u64(lo, hi)})"
        rt = t[5:-1]  # complex: two slots
        lo2, hi2 = self.arg_word(k, base + 2), self.arg_word(k, base + 3)
        if rt == "f32":
            return f"{t}(bitcast<f32>({lo}), bitcast<f32>({lo2}))"
        return f"{t}(bitcast<f64>({u64(lo, hi)}), bitcast<f64>({u64(lo2, hi2)}))"

    def load(self, k: Kernel, p: int, idx: str) -> str:
        param = k.params[p]
        b = packed_bits(param.dtype)
        if not b:
            return f"{param.name}[{idx}]"
        per = 32 // b
        sh = per.bit_length() - 1
        w = f"(({param.name}[({idx}) >> {sh}u] >> ((u32({idx}) & {per - 1}u) * {b}u)) & {(1 << b) - 1}u)"
        return self.from_bits(param.dtype, w)

    def declare(self, t: str, name: str, expr: str) -> str:
        return f"let {name}: {t} = {expr};"

    def value_dtype(self, s: Assign) -> DType:
        return dt.int32 if s.op == "CLAMP" else s.dtype  # a clamped position is an i32 index

    def acc_decl(self, a: Acc) -> str:
        return f"var {a.name}: {self.wtype(a.dtype)} = {self.acc_init(a.kind, a.dtype)};"

    def loop_open(self, loop: Loop) -> str:
        v = loop.var.name
        size = f"{loop.size}i" if isinstance(loop.size, int) else self.index(loop.size)
        return f"for (var {v}: i32 = 0i; {v} < {size}; {v}++) {{"

    def store_lines(self, k: Kernel, s: Store) -> list[str]:
        return self._store(s)  # set by render: packed outputs collect whole words

    def load_value(self, k: Kernel, p: int, idx: str, gate, d: DType) -> str:
        if gate:
            g = self.gate(gate)
            return f"select({self.zero(d)}, {self.load(k, p, f'select(0, {idx}, {g})')}, {g})"
        return self.load(k, p, idx)

    def const_value(self, v, d: DType) -> str:
        lit = self.literal(v, d)
        # no y * 0 -> 0 (inf, nan, -0) or 0 - y -> -y (+0) with a known constant
        return self.opaque(lit, d) if compute_dtype(d).kind in "fc" else lit

    def index_value(self, e, d: DType) -> str:  # index expressions are i32
        t = self.wtype(d)
        if t in ("i64", "u64"):
            v = self.widen_i32(self.index(e))
            return v if t == "i64" else f"bitcast<u64>({v})"
        return f"{t}({self.index(e)})"

    def rand_value(self, seed, off, lin: str) -> str:
        self.need("philox")
        return f"zyx_philox({seed}, {off} + u32({lin}), 0u)"

    def clamp_value(self, v: str, bound, dtypes: dict) -> str:
        src = dtypes[v]
        t = self.wtype(src)
        if src.kind == "b":
            return f"select(0i, 1i, {v})"
        lo = f"max({v}, {self.literal(0, src)})" if src.kind == "i" else v
        if not isinstance(bound, int):  # a generic kernel's bound (an i32 expression)
            hi = self.index(bound)
            return f"i32(min({lo}, {t}({hi})))" if t != "i32" else f"min({lo}, {hi})"
        return f"i32(min({lo}, {self.literal(bound, src)}))" if t != "i32" else f"min({lo}, {bound}i)"

    def accumulate(self, kind: str, acc: str, v: str, cd: DType) -> str:
        if kind == "SUM" and cd.kind == "f":
            # the term opaque: unrolled, acc + a*b + a*c was factored into a*(b + c) (-inf*0
            # + -inf*1 gave -inf, not nan)
            return f"{acc} + {self.opaque(v, cd)}"
        return self.wrap(f"{acc} {'+' if kind == 'SUM' else '*'} {v}", cd)

    def extremum_update(self, acc: str, kind: str, v: str, cd: DType) -> str:
        if cd.kind == "c":
            raise NotImplementedError(f"wgsl: {kind} reduction of complex numbers")
        if cd.kind == "f":
            cmp = ">" if kind == "MAX" else "<"
            return f"if ({v} {cmp} {acc} || {self.need('isnan_' + self.wtype(cd))}({v})) {{ {acc} = {v}; }}"
        return f"{acc} = {kind.lower()}({acc}, {v});"

    # ------------------------------------------------------------------ kernel
    def render(self, k: Kernel) -> str:
        self._need = {}
        self._salt = 0  # opaque() sites: the same kernel must render the same source
        block = False if k.generic else launch_config(k)[1]
        per = elements_per_unit(k)
        if k.generic:  # sizes are arguments: the counts are expressions
            total = " * ".join(f"({self.index(n)})" for _, n in k.global_dims) or "1"
            units = f"(({total} + {per - 1}) / {per})" if per > 1 else f"({total})"
            total, units = f"({total})", units
        else:
            total = math.prod(n for _, n in k.global_dims) if k.global_dims else 1
            units = -(-total // per)
        tsfx = "" if k.generic else "i"
        head = []
        for i, p in enumerate(k.params):
            access = "read_write" if p.output else "read"
            head.append(f"@group(0) @binding({i}) var<storage, {access}> {p.name}: array<{self.elem_type(p.dtype)}>;")
        words = len(k.scalars) + 2 * k.nargs
        if words:
            head.append(f"struct ZyxScalars {{ v: array<vec4<u32>, {-(-words // 4)}> }}")
            head.append(f"@group(0) @binding({len(k.params)}) var<uniform> zyx_s: ZyxScalars;")
        body: list[str] = []
        dtypes: dict = {}
        for j, s in enumerate(k.scalars):
            body.append(f"  let {s}: u32 = {self.arg_word(k, j)};")
        for a in k.index_args():
            body.append(f"  let {a.name}: i32 = bitcast<i32>({self.arg_word(k, len(k.scalars) + 2 * a.slot)});")
        out = k.params[0]
        b = packed_bits(out.dtype)
        lead = "lid.x == 0u" if block else ""

        def store(s: Store) -> list[str]:
            v = s.src
            if b:
                return [f"zword = zword | ({self.to_bits(out.dtype, v)} << (u32(zj) * {b}u));"]
            line = f"{out.name}[{self.index(s.index)}] = {v};"
            return [f"if ({lead}) {{ {line} }}"] if lead else [line]

        self._store = store

        def unit(var: str, pad: str) -> None:
            if per == 1:
                body.extend(self._global_vars(k, var, pad))
                self._emit(k, block, pad, dtypes, body)
                return
            body.append(f"{pad}var zword: u32 = 0u;")
            body.append(f"{pad}for (var zj: i32 = 0i; zj < {per}i; zj++) {{")
            body.append(f"{pad}  let zi: i32 = {var} * {per}i + zj;")
            body.append(f"{pad}  if (zi < {total}{tsfx}) {{")
            body.extend(self._global_vars(k, "zi", pad + "    "))
            self._emit(k, block, pad + "    ", dtypes, body)
            body.append(f"{pad}  }}")
            body.append(f"{pad}}}")
            line = f"{out.name}[{var}] = zword;"
            body.append(f"{pad}if ({lead}) {{ {line} }}" if lead else f"{pad}{line}")

        if block:
            body.append(f"  for (var zu: i32 = i32(wid.x); zu < {units}{tsfx}; zu += i32(nwg.x)) {{")
            unit("zu", "    ")
            body.append("  }")
        else:
            body.append(f"  let zu: i32 = i32((wid.y * nwg.x + wid.x) * {WORKGROUP}u + lid.x);")
            body.append(f"  if (zu >= {units}{tsfx}) {{ return; }}")
            unit("zu", "  ")
        shared = []
        if block:
            accs = {s.name: s for s in walk(k.body) if isinstance(s, Acc)}
            for s in k.body:
                if isinstance(s, Loop):
                    for a in outer_accs(s):
                        shared.append(f"var<workgroup> zsh_{a}: array<{self.wtype(accs[a].dtype)}, {WORKGROUP}>;")
        src = "\n".join(head + shared + ordered(self._need) + [
            f"@compute @workgroup_size({WORKGROUP})",
            f"fn {k.name}(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, "
            "@builtin(num_workgroups) nwg: vec3<u32>) {"] + body + ["}"])
        return src

    def _global_vars(self, k: Kernel, lin: str, pad: str) -> list[str]:
        return _lets([(v.name, n) for v, n in k.global_dims], lin, pad)

    def _emit(self, k: Kernel, block: bool, pad: str, dtypes: dict, out: list[str]) -> None:
        ind = len(pad) // 2
        if not block:
            self.render_body(k, k.body, ind, dtypes, out)
            return
        accs = {s.name: s for s in walk(k.body) if isinstance(s, Acc)}
        for s in k.body:
            if isinstance(s, Loop) and outer_accs(s):
                nest, inner_body = perfect_nest(s)
                size = math.prod(lp.size for lp in nest)
                out.append(f"{pad}for (var zr: i32 = i32(lid.x); zr < {size}i; zr += {WORKGROUP}i) {{")
                out.extend(_lets(loop_dims(nest), "zr", pad + "  "))
                self.render_body(k, inner_body, ind + 1, dtypes, out)
                out.append(f"{pad}}}")
                for a in outer_accs(s):
                    self._tree(accs[a], f"zsh_{a}", pad, out)
            else:
                self.render_body(k, [s], ind, dtypes, out)

    def _tree(self, acc: Acc, sh: str, pad: str, out: list[str]) -> None:
        out.append(f"{pad}{sh}[lid.x] = {acc.name};")
        out.append(f"{pad}workgroupBarrier();")
        out.append(f"{pad}for (var zs: u32 = {WORKGROUP // 2}u; zs > 0u; zs = zs >> 1u) {{")
        out.append(f"{pad}  if (lid.x < zs) {{ var zmine = {sh}[lid.x]; let zother = {sh}[lid.x + zs];")
        out.append(f"{pad}    {self.acc_update('zmine', acc.kind, 'zother', acc.dtype)} {sh}[lid.x] = zmine; }}")
        out.append(f"{pad}  workgroupBarrier();")
        out.append(f"{pad}}}")
        out.append(f"{pad}{acc.name} = {sh}[0];")
        out.append(f"{pad}workgroupBarrier();")

