"""OpenCL C renderer.

Shares the walk over the kernel IR and most spellings with the C renderer
(``CStyleRenderer``); what differs here:

* **Parallel loops.** All output loops are flattened into ``get_global_id(0)``; each
  loop variable is recovered by division and modulo. The global size is rounded up to
  the work-group size, so every kernel starts with a bounds check.
* **Reductions with few outputs** (a full ``sum()``, a reduction to a handful of
  values) are split: each output gets ``G`` work-groups that stride over the reduction,
  combine their work-items' partial results in local memory, and write one partial per
  group; a second small kernel combines the ``G`` partials of each output and finishes
  the kernel's body. With ``G == 1`` the first kernel finishes on its own.
* **Types.** float16 is stored as ``half`` and accessed with ``vload_half`` /
  ``vstore_half_rte`` (no ``cl_khr_fp16`` needed), bfloat16 as ``ushort``, bool as
  ``uchar``; complex numbers are ``float2`` / ``double2`` with helper functions
  (``opencl_preamble.py``). Bit casts use ``as_<type>``; math functions are the
  overloaded OpenCL built-ins (no ``f`` suffix).

``plan(kernel)`` tells the backend which kernels of the source to launch and how.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from .. import dtypes as dt
from ..dtypes import DType
from .ir import Acc, AccUpdate, Assign, Kernel, Loop, Store
from .lower import compute_dtype
from .opencl_preamble import opencl_preamble
from .render_base import walk
from .render_c import CStyleRenderer
from .symbolic import Div, Mod, Sum, Sym, coef

_CTYPES = {"bool": "bool", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
           "uint8": "uchar", "uint16": "ushort", "uint32": "uint", "uint64": "ulong",
           "float32": "float", "float64": "double", "complex64": "float2", "complex128": "double2"}
_UINT_OF_SIZE = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}
# the complex helpers opencl_preamble.py defines (``zyx_<name>_f`` / ``_d``)
_COMPLEX_HELPERS = frozenset({"cexp", "cexpm1", "clog", "clog1p", "csqrt", "csin", "ccos", "ctan", "csinh",
                              "ccosh", "ctanh", "casin", "cacos", "catan", "casinh", "cacosh", "catanh", "cpow",
                              "cabs", "cmul", "cdiv", "crecip", "cisnan"})


@dataclass
class Stage:
    """One kernel launch. ``grouped``: launch ``work`` work-groups of the chosen local
    size (a power of two, at most the renderer's ``local_size``); otherwise launch
    ``work`` work-items (rounded up to whole work-groups)."""

    name: str
    work: object  # int, or a size expression of a generic kernel (evaluated at launch)
    grouped: bool = False


@dataclass
class LaunchPlan:
    stages: list[Stage] = field(default_factory=list)
    partial_bytes: int = 0  # scratch buffer passed as ``zyx_part`` (0: none)


@dataclass
class _Split:
    index: int  # position of the reduce loop in the kernel body
    acc: Acc
    loops: list  # [(Var, size)] of the perfectly nested loops flattened into one
    body: list  # the innermost body (with the Assigns hoisted between the loops moved in)
    size: int  # product of the flattened loop sizes
    outputs: int  # number of outputs (product of global dims)
    groups: int  # work-groups per output


class OpenCLRenderer(CStyleRenderer):
    """OpenCL C for the OpenCL backend."""

    lang = "opencl"

    def __init__(self, local_size: int = 256, compute_units: int = 1, cpu: bool = False):
        # local_size: a power of two the device accepts as a work-group size
        self.local_size = 1 << (max(1, local_size).bit_length() - 1)
        self.compute_units = max(1, compute_units)
        # on a CPU device each work-item of a split reduction reads one contiguous chunk
        # (10x faster under PoCL); on a GPU neighbouring work-items read neighbouring
        # elements (coalesced)
        self.cpu = cpu
        self.index_type = "int"

    # ------------------------------------------------------------------ types
    def ctype(self, d: DType) -> str:
        return _CTYPES[compute_dtype(d).name]

    def storage_type(self, d: DType) -> str:
        return {"bool": "uchar", "float16": "half", "bfloat16": "ushort"}.get(d.name) or self.ctype(d)

    def scratch_type(self, d: DType) -> str:
        """Type of an accumulator kept in local or global memory (no ``bool`` there)."""
        return "uchar" if compute_dtype(d) is dt.bool_ else self.ctype(d)

    # float16 here only in bit casts (loads and stores use vload_half / vstore_half_rte): a ushort
    LOAD_CONV = {**CStyleRenderer.LOAD_CONV, "float16": "zyx_f16_to_f32({})"}
    STORE_CONV = {**CStyleRenderer.STORE_CONV, "float16": "zyx_f32_to_f16({})", "bool": "((uchar)(({})!=0))"}

    def load_expr(self, param, idx: str) -> str:
        if param.dtype is dt.float16:
            return f"vload_half({idx}, {param.name})"
        return super().load_expr(param, idx)

    def store_stmt(self, param, idx: str, value: str, d: DType) -> str:
        if d is dt.float16:
            return f"vstore_half_rte({value}, {idx}, {param.name});"
        return super().store_stmt(param, idx, value, d)

    int_suffix, uint_suffix = "L", "UL"  # OpenCL C's long is 64-bit; it has no long long

    def float_literal(self, f: float, cd: DType) -> str:
        if math.isfinite(f):
            return super().float_literal(f, cd)
        # NaN and infinities as bit patterns the compiler cannot see (ZYX_OPQ): PoCL folded
        # floor(NAN) to garbage (xp.floor(xp.full((4,), nan)) gave [1e-45, 0, 0, 0])
        if cd is dt.float64:
            bits = struct.unpack("<Q", struct.pack("<d", f))[0]
            return f"as_double({bits:#x}UL | (ulong)ZYX_OPQ)"
        bits = struct.unpack("<I", struct.pack("<f", f))[0]
        return f"as_float({bits:#x}u | ZYX_OPQ)"

    # ------------------------------------------------------------------ ALU
    def fn(self, base: str, d: DType) -> str:
        return base  # OpenCL's math built-ins are overloaded per type

    def _csfx(self, d: DType) -> str:
        return "_f" if compute_dtype(d) is dt.complex64 else "_d"

    def alu(self, op: str, d: DType, a: list[str], src_dtypes: list[DType], arg=None) -> str:
        if op == "TANH" and compute_dtype(d).kind == "f":
            return f"zyx_tanh{self.sfx(d)}({a[0]})"
        return super().alu(op, d, a, src_dtypes, arg)

    def int_alu(self, op: str, d: DType, a: list[str]) -> str:
        if op == "SHL":
            t = self.ctype(d)
            return f"(({a[1]}) < 0 || ({a[1]}) >= {d.bits} ? ({t})0 : ({t})((ulong)({a[0]}) << ({a[1]})))"
        return super().int_alu(op, d, a)

    # complex numbers are float2 / double2 (the ops are render_base.COMPLEX_OPS)
    def complex_compare(self, sign: str, a: list[str], sd: DType) -> str:
        join = "&&" if sign == "==" else "||"
        return f"(({a[0]}).x {sign} ({a[1]}).x {join} ({a[0]}).y {sign} ({a[1]}).y)"

    COMPLEX_PARTS = {"real": "(({x}).x)", "imag": "(({x}).y)", "conj": "(({t})(({x}).x, -({x}).y))",
                     "angle": "atan2(({x}).y, ({x}).x)"}

    def complex_log_base(self, x: str, base: int, sd: DType) -> str:
        scale = self.float_literal(1 / math.log(base), dt.real_of(sd))
        return f"({self.complex_call('clog', [x], sd)} * {scale})"

    def complex_call(self, name: str, a: list[str], sd: DType) -> str | None:
        if name not in _COMPLEX_HELPERS:
            return None
        return f"zyx_{name}{self._csfx(sd)}({', '.join(a)})"

    def cast(self, x: str, src: DType, dst: DType) -> str:
        dc = compute_dtype(dst)
        if dst is dt.bool_:
            return f"(({x}).x != 0 || ({x}).y != 0)" if src.kind == "c" else f"({x} != 0)"
        if dst.kind == "c":
            if src.kind == "c":
                return x if compute_dtype(src) is dc else f"convert_{self.ctype(dc)}({x})"
            real = self.ctype(dt.real_of(dc))
            return f"zyx_cmplx{'f' if dc is dt.complex64 else ''}(({real})({x}), ({real})0)"
        if src.kind == "c":
            x, src = f"({x}).x", dt.real_of(src)
        if dst is dt.float16:
            return f"zyx_round_f16_d({x})" if src is dt.float64 else f"zyx_round_f16((float)({x}))"
        if dst is dt.bfloat16:
            return f"zyx_bf16_round((float)({x}))"
        if src.kind == "f" and dst.kind == "u" and dst.itemsize < 8:
            return f"(({self.ctype(dc)})(long)({x}))"
        return f"(({self.ctype(dc)})({x}))"

    def bitcast(self, x: str, src: DType, dst: DType) -> str:
        if src.itemsize != dst.itemsize:
            raise NotImplementedError(f"{self.lang}: bitcast {src.name} -> {dst.name} (sizes differ)")
        if src.itemsize == 16:  # complex128 is the only 16-byte type
            return x
        u = _UINT_OF_SIZE[src.itemsize]
        if src in (dt.float16, dt.bfloat16, dt.bool_):
            bits = self.store_conv(src, x)
        else:
            bits = f"as_{u}({x})"
        if dst in (dt.float16, dt.bfloat16, dt.bool_):
            return self.load_conv(dst, f"(({u}){bits})")
        return f"as_{self.ctype(dst)}({bits})"

    def rand_value(self, seed, off, lin: str) -> str:
        return f"zyx_philox({seed}, (uint)({off} + (ulong)({lin})), (uint)(((ulong)({lin})) >> 32))"

    def extremum_update(self, acc: str, kind: str, v: str, cd: DType) -> str:
        if cd.kind == "c":
            raise NotImplementedError(f"{self.lang}: {kind} reduction of {cd.name}")
        return super().extremum_update(acc, kind, v, cd)

    # ------------------------------------------------------------------ kernels
    def plan(self, k: Kernel) -> LaunchPlan:
        """The launches that run kernel ``k`` (its rendered source holds them all)."""
        sp = self._split(k)
        if k.generic:
            outputs = 1
            for _, n in k.global_dims:
                outputs = n * outputs
            return LaunchPlan([Stage(k.name, outputs)])
        outputs = math.prod(n for _, n in k.global_dims)
        if sp is None:
            return LaunchPlan([Stage(k.name, outputs)])
        stages = [Stage(k.name, sp.outputs * sp.groups, grouped=True)]
        if sp.groups == 1:
            return LaunchPlan(stages)
        nbytes = sp.outputs * sp.groups * max(1, compute_dtype(sp.acc.dtype).itemsize)
        return LaunchPlan(stages + [Stage(k.name + "_fin", sp.outputs)], nbytes)

    ARG_BITS = {"float32": "as_float((uint){})", "float64": "as_double({})"}
    COMPLEX_OF = "(({t})({re}, {im}))"

    ARG_SLOT = "zarg{}"

    def render(self, k: Kernel) -> str:
        if k.generic:  # 32-bit indices when every size of the structure is below 2^30 (in the key)
            self.index_type = "long" if k.wide else "int"
        else:
            self.index_type = "int" if _index_bound(k) < 2 ** 31 - 1 else "long"
        sp = self._split(k)
        pre = [opencl_preamble(complex_helpers=uses_complex(k), fp64=uses_fp64(k))]
        if sp is None:
            pre.append(self._render_flat(k))
        else:
            pre.append(self._render_split_partial(k, sp))
            if sp.groups > 1:
                pre.append(self._render_split_final(k, sp))
        return "\n".join(pre)

    def _signature(self, k: Kernel, name: str, scratch: str | None = None) -> str:
        params = []
        for p in k.params:
            const = "" if p.output else "const "
            params.append(f"__global {const}{self.storage_type(p.dtype)}* restrict {p.name}")
        if scratch:
            params.append(f"__global {scratch}* restrict zyx_part")
        params += [f"uint {s}" for s in k.scalars]
        params += [f"long zarg{i}" for i in range(k.nargs)]
        return "\n".join([f"__kernel void {name}({', '.join(params)}) {{"] + self.arg_decls(k))

    def _recover_globals(self, k: Kernel, flat: str, out: list[str]) -> None:
        """Declare each output loop variable from the flat output index ``flat``."""
        it = self.index_type
        dims = k.global_dims
        if not dims:
            return
        if len(dims) == 1:
            out.append(f"  {it} {dims[0][0].name} = ({it})({flat});")
            return
        out.append(f"  {it} zr = ({it})({flat});")
        for v, n in reversed(dims[1:]):
            out.append(f"  {it} {v.name} = zr % {self.index(n)}; zr /= {self.index(n)};")
        out.append(f"  {it} {dims[0][0].name} = zr;")

    def _render_flat(self, k: Kernel) -> str:
        total = " * ".join(f"(size_t){self.index(n)}" for _, n in k.global_dims) if k.generic else \
            math.prod(n for _, n in k.global_dims)
        out = [self._signature(k, k.name)]
        if k.global_dims:
            out.append("  size_t zgid = get_global_id(0);")
            out.append(f"  if (zgid >= {total}) return;")
            self._recover_globals(k, "zgid", out)
        self.render_body(k, k.body, 1, {}, out)
        out.append("}")
        return "\n".join(out)

    # ------------------------------------------------------------------ split reductions
    def _split(self, k: Kernel) -> _Split | None:
        """A kernel with few outputs whose body holds one big top-level reduce loop."""
        if k.generic:
            return None
        outputs = math.prod(n for _, n in k.global_dims)
        i = next((j for j, s in enumerate(k.body) if isinstance(s, Loop)), None)
        if i is None:
            return None
        loop = k.body[i]
        updated = {u.name for u in walk(loop.body) if isinstance(u, AccUpdate)}
        top = [a for a in k.body[:i] if isinstance(a, Acc) and a.name in updated]
        if len(top) != 1:
            return None
        acc = top[0]
        # flatten perfectly nested loops (Assigns between them move into the inner body)
        loops, body, moved = [(loop.var, loop.size)], loop.body, []
        while body and isinstance(body[-1], Loop) and all(isinstance(s, Assign) for s in body[:-1]):
            moved += body[:-1]
            loops.append((body[-1].var, body[-1].size))
            body = body[-1].body
        size = math.prod(n for _, n in loops)
        if size < 1024 or size * outputs < 8192:
            return None
        if self.cpu:
            few = outputs < 4 * self.compute_units
        else:
            inner = loops[-1][0].name
            contiguous = any(isinstance(a, Assign) and a.op == "LOAD" and coef(a.arg[1], inner) == 1
                             for a in moved + body)
            few = outputs <= 64 or (contiguous and outputs < 32768)
        if not few:
            return None
        ls = self.local_size
        per_output = max(1, (self.compute_units * 8) // outputs)
        groups = max(1, min(-(-size // (ls * 8)), per_output))
        return _Split(i, acc, loops, moved + body, size, outputs, groups)

    def _flat_loop(self, sp: _Split, out: list[str]) -> None:
        """Open the loop over this work-item's share of the flattened reduction."""
        it = self.index_type
        part = f"(zg % {sp.groups})" if sp.groups > 1 else "0"
        if self.cpu:
            out.append(f"  long zt = (long){part} * zls + zl, znt = (long){sp.groups} * zls;")
            out.append(f"  {it} zlo = ({it})({sp.size}L * zt / znt), zhi = ({it})({sp.size}L * (zt + 1) / znt);")
            out.append(f"  for ({it} zf = zlo; zf < zhi; zf++) {{")
        else:
            out.append(f"  for ({it} zf = {part} * zls + zl; zf < {sp.size}; zf += {sp.groups} * zls) {{")
        rest = "zf"
        for j, (v, n) in enumerate(reversed(sp.loops)):
            if j == len(sp.loops) - 1:
                out.append(f"    {it} {v.name} = {rest};")
            else:
                out.append(f"    {it} {v.name} = {rest} % {n};")
                rest = f"({rest} / {n})"

    def _render_split_partial(self, k: Kernel, sp: _Split) -> str:
        acc, it = sp.acc, self.index_type
        st = self.scratch_type(acc.dtype)
        final = sp.groups == 1
        out = [self._signature(k, k.name, None if final else st)]
        out.append(f"  __local {st} zyx_red[{self.local_size}];")
        out.append(f"  {it} zl = ({it})get_local_id(0), zls = ({it})get_local_size(0);")
        out.append(f"  {it} zg = ({it})get_group_id(0);")
        if k.global_dims:
            self._recover_globals(k, f"zg / {sp.groups}" if sp.groups > 1 else "zg", out)
        dtypes: dict = {}
        self.render_body(k, k.body[:sp.index], 1, dtypes, out)
        self._flat_loop(sp, out)
        self.render_body(k, sp.body, 2, dict(dtypes), out)
        out.append("  }")
        # tree reduction of the work-group's partial accumulators in local memory
        t = self.ctype(acc.dtype)
        out.append(f"  zyx_red[zl] = {acc.name};")
        out.append("  barrier(CLK_LOCAL_MEM_FENCE);")
        out.append(f"  for ({it} zs = zls / 2; zs > 0; zs >>= 1) {{")
        out.append(f"    if (zl < zs) {{ {t} zw = zyx_red[zl]; {t} zv = zyx_red[zl + zs]; "
                   f"{self.acc_update('zw', acc.kind, 'zv', acc.dtype)} zyx_red[zl] = zw; }}")
        out.append("    barrier(CLK_LOCAL_MEM_FENCE);")
        out.append("  }")
        out.append("  if (zl != 0) return;")
        if final:
            out.append(f"  {acc.name} = zyx_red[0];")
            self.render_body(k, k.body[sp.index + 1:], 1, dtypes, out)
        else:
            out.append("  zyx_part[zg] = zyx_red[0];")
        out.append("}")
        return "\n".join(out)

    def _render_split_final(self, k: Kernel, sp: _Split) -> str:
        acc, it = sp.acc, self.index_type
        out = [self._signature(k, k.name + "_fin", self.scratch_type(acc.dtype))]
        out.append(f"  {it} zo = ({it})get_global_id(0);")
        out.append(f"  if (zo >= {sp.outputs}) return;")
        self._recover_globals(k, "zo", out)
        dtypes: dict = {}
        self.render_body(k, k.body[:sp.index], 1, dtypes, out)
        t = self.ctype(acc.dtype)
        out.append(f"  for ({it} zi = 0; zi < {sp.groups}; zi++) {{ {t} zv = zyx_part[zo * {sp.groups} + zi]; "
                   f"{self.acc_update(acc.name, acc.kind, 'zv', acc.dtype)} }}")
        self.render_body(k, k.body[sp.index + 1:], 1, dtypes, out)
        out.append("}")
        return "\n".join(out)


# ---------------------------------------------------------------------- kernel analysis
def _sym_bound(e: Sym) -> int:
    """An upper bound of |value| of e and of every partial result while evaluating it."""
    if isinstance(e, Sum):
        return sum(max(abs(t.vmin * c), abs(t.vmax * c), _sym_bound(t) * abs(c)) for t, c in e.terms) + abs(e.const)
    if isinstance(e, (Div, Mod)):
        return max(abs(e.vmin), abs(e.vmax), _sym_bound(e.a), e.c)
    return max(abs(e.vmin), abs(e.vmax))


def _index_bound(k: Kernel) -> int:
    """Largest magnitude an index computation of kernel k can reach."""
    bound = math.prod(n for _, n in k.global_dims) + 1
    exprs: list[Sym] = []
    for s in walk(k.body):
        if isinstance(s, Loop):
            bound = max(bound, s.size * 2)
        elif isinstance(s, Store):
            exprs.append(s.index)
        elif isinstance(s, Assign):
            if s.op == "LOAD":
                exprs.append(s.arg[1])
                exprs.extend(g[0] for g in s.arg[2] or ())
            elif s.op == "INDEX":
                exprs.append(s.arg)
            elif s.op == "GATE":
                exprs.extend(g[0] for g in s.arg)
            elif s.op == "RAND":
                exprs.append(s.arg[2])
            elif s.op == "CLAMP":
                bound = max(bound, int(s.arg) + 1)
    for p in k.params:
        bound = max(bound, p.size + 1)
    for e in exprs:
        bound = max(bound, _sym_bound(e))
    # flattened reduce loops multiply their sizes
    for s in k.body:
        if isinstance(s, Loop):
            size, body = s.size, s.body
            while body and isinstance(body[-1], Loop):
                size *= body[-1].size
                body = body[-1].body
            bound = max(bound, 2 * size)
    return bound


def _kernel_dtypes(k: Kernel):
    for p in k.params:
        yield p.dtype
    for s in walk(k.body):
        if isinstance(s, (Assign, Acc, AccUpdate)):
            yield s.dtype


def uses_complex(k: Kernel) -> bool:
    return any(d.kind == "c" for d in _kernel_dtypes(k))


def uses_fp64(k: Kernel) -> bool:
    return any(d in (dt.float64, dt.complex128) for d in _kernel_dtypes(k))
