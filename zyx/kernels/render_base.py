"""The language-neutral part of every renderer (C, OpenCL C, CUDA C, WGSL).

A renderer turns a kernel's IR (``ir.py``) into source text. What is the same in every
language lives here, once:

* the shapes read off the IR's statements (walked with ``ir.walk``, re-exported here):
  perfect loop nests, the accumulators a loop updates, recovering loop variables from a flat index;
* ``Renderer``: the statement walk that renders a kernel body (value declarations,
  accumulators and their updates, loops, stores), gated loads, the dispatch of each
  assignment kind (load, constant, argument, index, gate, random bits, clamp, ALU op),
  reduction identities, and the complex-number operations as one table of what each op
  computes.

A language is a subclass: a table of spellings (types, literals, math functions) plus
small hooks (``declare``, ``loop_open``, ``store_lines``, ``complex_call``, ...). The
launch shapes (OpenMP loops, work-groups, grid-stride loops, shared-memory trees) stay in
each language's module.
"""
from __future__ import annotations

import math

from .. import dtypes as dt
from .. import ops
from ..dtypes import DType
from .ir import Acc, AccUpdate, Assign, Kernel, Loop, Store, gate_checks, walk
from .lower import compute_dtype
from .symbolic import Sym

# Generated source is the preamble (helper functions, identical for every kernel of a
# language) followed by the kernels; backends cut the source at this comment to compile
# the preamble once for a batch of kernels. The marker is part of the program contract
# the backends declare, so it is defined once, in backends/base.py.
from ..backends.base import PREAMBLE_END  # noqa: E402


# --------------------------------------------------------------------------- IR shapes
def perfect_nest(loop: Loop) -> tuple[list[Loop], list]:
    """The loops of a perfect nest (each body a single loop) and the innermost body."""
    nest = [loop]
    while len(nest[-1].body) == 1 and isinstance(nest[-1].body[0], Loop):
        nest.append(nest[-1].body[0])
    return nest, nest[-1].body


def loop_dims(nest: list[Loop]) -> list[tuple[str, int]]:
    """(variable name, extent) of each loop of a nest."""
    return [(lp.var.name, lp.size) for lp in nest]


def outer_accs(loop: Loop) -> list[str]:
    """Accumulators updated inside ``loop`` but declared outside it, in first-use order."""
    inner = {s.name for s in walk(loop.body) if isinstance(s, Acc)}
    out: list[str] = []
    for s in walk(loop.body):
        if isinstance(s, AccUpdate) and s.name not in inner and s.name not in out:
            out.append(s.name)
    return out


def total_outputs(k: Kernel) -> int:
    return math.prod(n for _, n in k.global_dims) if k.global_dims else 1


def uses_block_reduce(k: Kernel) -> bool:
    """Few outputs and a big top-level reduction: one block (work-group) per output
    element, its threads sharing the reduction (CUDA and WGSL take this shape)."""
    if k.generic:  # the simple shapes only: sizes are arguments
        return False
    total = total_outputs(k)
    big = 0
    for s in k.body:
        if isinstance(s, Loop) and outer_accs(s):
            nest, _ = perfect_nest(s)
            big = max(big, math.prod(lp.size for lp in nest))
    if big < 128:
        return False
    return total <= 1024 or (total <= 65536 and big >= 1024)


def unflatten(dims: list[tuple[str, int]], flat: str, suffix: str) -> list[tuple[str, str]]:
    """(variable, expression) recovering each of ``dims`` - (name, extent) pairs, row-major,
    the last fastest - from one flat index (integer literals spelled with ``suffix``: "LL",
    "i"). The output loops of a thread, a block-reduce's loop nest, a matmul's tiles."""
    out, inner = [], 1
    for i in reversed(range(len(dims))):
        v, n = dims[i]  # n: an int, or a size expression of a generic kernel
        e = flat if isinstance(inner, int) and inner == 1 else f"({flat} / {_lit(inner, suffix)})"
        if i > 0:
            e = f"({e} % {_lit(n, suffix)})"
        out.append((v, e))
        inner = inner * n
    return out[::-1]


def _lit(n, suffix: str) -> str:
    return f"{n}{suffix}" if isinstance(n, int) else n.render()


# What each complex operation computes, for every language: op -> (form, what).
#   infix: ``a <what> b``; compare: the equality ``what`` of both parts; negate: ``-a``;
#   part: a real part, imaginary part, conjugate or argument of ``a``;
#   call: the helper function ``what`` (the languages' complex libraries spell the names);
#   log_base: ``log(a) / ln(what)``.
COMPLEX_OPS = {
    "ADD": ("infix", "+"), "SUB": ("infix", "-"), "NEG": ("negate", None),
    "CMPEQ": ("compare", "=="), "CMPNE": ("compare", "!="),
    "REAL": ("part", "real"), "IMAG": ("part", "imag"), "CONJ": ("part", "conj"), "ANGLE": ("part", "angle"),
    "LOG2": ("log_base", 2), "LOG10": ("log_base", 10),
    "MUL": ("call", "cmul"), "DIV": ("call", "cdiv"), "RECIP": ("call", "crecip"), "POW": ("call", "cpow"),
    "EXP": ("call", "cexp"), "EXPM1": ("call", "cexpm1"), "LOG": ("call", "clog"), "LOG1P": ("call", "clog1p"),
    "SQRT": ("call", "csqrt"), "ABS": ("call", "cabs"), "ISNAN": ("call", "cisnan"), "ISINF": ("call", "cisinf"),
    "SIN": ("call", "csin"), "COS": ("call", "ccos"), "TAN": ("call", "ctan"),
    "ASIN": ("call", "casin"), "ACOS": ("call", "cacos"), "ATAN": ("call", "catan"),
    "SINH": ("call", "csinh"), "COSH": ("call", "ccosh"), "TANH": ("call", "ctanh"),
    "ASINH": ("call", "casinh"), "ACOSH": ("call", "cacosh"), "ATANH": ("call", "catanh"),
}


class Renderer:
    """The statement walk and the dispatch every language shares; subclasses spell."""

    lang = "?"
    true_literal = "1"  # an empty gate
    # attributes a renderer sets for the kernel it is rendering (not settings: the stored
    # plans' keys leave them out - ``Backend.plan_identity``)
    per_kernel_attrs: tuple = ("index_type",)

    # ------------------------------------------------------------------ hooks (spellings)
    def vtype(self, d: DType) -> str:
        """The type of a computed value of dtype ``d``."""
        raise NotImplementedError

    def declare(self, t: str, name: str, expr: str) -> str:
        """The statement declaring value ``name`` of type ``t``."""
        raise NotImplementedError

    def acc_decl(self, a: Acc) -> str:
        """The statement declaring accumulator ``a`` at its reduction's identity."""
        raise NotImplementedError

    def loop_open(self, loop: Loop) -> str:
        """The line opening a sequential loop (its body follows, then ``}``)."""
        raise NotImplementedError

    def store_lines(self, k: Kernel, s: Store) -> list[str]:
        """The statements writing ``s.src`` to ``k.params[s.param]`` at ``s.index``."""
        raise NotImplementedError

    def loop_pragma(self, loop: Loop, pad: str) -> list[str]:
        """Lines emitted right before a loop opens (vectorization hints)."""
        return []

    def after_loop(self, loop: Loop, siblings: list, pad: str) -> list[str]:
        """Lines emitted right after a loop closes (e.g. finishing accumulators)."""
        return []

    def spells(self, op: str, d: DType) -> bool:
        """Whether this language spells elementwise primitive ``op`` on operands of dtype
        ``d`` (``alu`` gives an expression rather than NotImplementedError); the result
        dtype follows the op's rule in ``ops.OPS``. ``tests/test_op_registry.py`` asks it of
        every renderer for every primitive."""
        rec = ops.OPS[op]
        names = ["za", "zb", "zc"][:rec.arity]
        srcs = [d] * rec.arity
        if op == "WHERE":
            srcs[0] = dt.bool_
        if rec.dtype == "given":
            out, arg = d, (d, d)
        else:
            out, arg = ops.result_dtype(op, d), None
        try:
            text = self.alu(op, out, names, srcs, arg)
        except NotImplementedError:
            return False
        return isinstance(text, str)

    # ------------------------------------------------------------------ the walk
    def render_body(self, k: Kernel, stmts: list, ind: int, dtypes: dict, out: list[str]) -> None:
        """Append statements ``stmts`` at indent ``ind``; ``dtypes`` maps each value
        declared so far to its dtype (it gains the ones declared here)."""
        pad = "  " * ind
        for s in stmts:
            if isinstance(s, Assign):
                d = self.value_dtype(s)
                out.append(pad + self.declare(self.vtype(d), s.name, self.assign_expr(k, s, dtypes)))
                dtypes[s.name] = d
            elif isinstance(s, Acc):
                out.append(pad + self.acc_decl(s))
                dtypes[s.name] = s.dtype
            elif isinstance(s, AccUpdate):
                out.append(pad + self.acc_update(s.name, s.kind, s.src, s.dtype))
            elif isinstance(s, Loop):
                out.extend(self.loop_pragma(s, pad))
                out.append(pad + self.loop_open(s))
                self.render_body(k, s.body, ind + 1, dtypes, out)
                out.append(pad + "}")
                out.extend(self.after_loop(s, stmts, pad))
            elif isinstance(s, Store):
                out.extend(pad + ln for ln in self.store_lines(k, s))
            else:
                raise TypeError(s)

    def value_dtype(self, s: Assign) -> DType:
        """The dtype an assignment's value is declared with."""
        return s.dtype

    # ------------------------------------------------------------------ assignments
    def assign_expr(self, k: Kernel, s: Assign, dtypes: dict) -> str:
        """The expression an assignment declares its value with."""
        if s.op == "LOAD":
            p, idx, gate = s.arg
            return self.load_value(k, p, self.index(idx), gate, s.dtype)
        if s.op == "CONST":
            return self.const_value(s.arg, s.dtype)
        if s.op == "PARAM":
            return self.arg_value(k, s.arg, s.dtype)
        if s.op == "INDEX":
            return self.index_value(s.arg, s.dtype)
        if s.op == "GATE":
            return self.gate(s.arg)
        if s.op == "RAND":
            seed, off, lin = s.arg
            return self.rand_value(seed, off, self.index(lin))
        if s.op == "CLAMP":
            return self.clamp_value(s.srcs[0], s.arg, dtypes)
        return self.alu(s.op, s.dtype, list(s.srcs), [dtypes[x] for x in s.srcs], s.arg)

    def index(self, e) -> str:
        return e.render() if isinstance(e, Sym) else str(e)

    def gate(self, conds) -> str:
        """All the bounds checks of a gated load, as one condition."""
        parts = [f"{self.index(e)} {op} {self.index(b)}" for e, op, b in gate_checks(conds)]
        return "(" + " && ".join(parts or [self.true_literal]) + ")"

    def const_value(self, v, d: DType) -> str:
        return self.literal(v, d)

    # ------------------------------------------------------------------ accumulators
    def acc_init(self, kind: str, d: DType) -> str:
        cd = compute_dtype(d)
        return self.literal(ops.reduce_identity(kind, cd), cd)

    def acc_update(self, acc: str, kind: str, v: str, d: DType) -> str:
        """The statement folding value ``v`` into accumulator ``acc`` (SUM, PROD, MAX, MIN)."""
        cd = compute_dtype(d)
        if cd.kind == "b":  # any / all
            return f"{acc} = {acc} {'|' if kind in ('SUM', 'MAX') else '&'} {v};"
        if cd.kind == "c" and kind == "SUM":
            return f"{acc} = {acc} + {v};"
        if cd.kind == "c" and kind == "PROD":
            return f"{acc} = {self.complex_alu('MUL', cd, [acc, v], cd)};"
        if kind in ("SUM", "PROD"):
            return f"{acc} = {self.accumulate(kind, acc, v, cd)};"
        return self.extremum_update(acc, kind, v, cd)

    def accumulate(self, kind: str, acc: str, v: str, cd: DType) -> str:
        """``acc + v`` (SUM) or ``acc * v`` (PROD) of real numbers of compute dtype ``cd``."""
        raise NotImplementedError

    def extremum_update(self, acc: str, kind: str, v: str, cd: DType) -> str:
        """The statement of a MAX / MIN update of real numbers (NaN wins, as in NumPy)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ complex numbers
    def complex_alu(self, op: str, d: DType, a: list[str], sd: DType) -> str:
        """Complex op ``op`` on operands ``a`` of compute dtype ``sd``, from COMPLEX_OPS."""
        form, what = COMPLEX_OPS.get(op, (None, None))
        out = None
        if form == "infix":
            out = self.complex_infix(what, a, sd)
        elif form == "negate":
            out = f"(-{a[0]})"
        elif form == "compare":
            out = self.complex_compare(what, a, sd)
        elif form == "part":
            out = self.complex_part(what, a[0], sd)
        elif form == "log_base":
            out = self.complex_log_base(a[0], what, sd)
        elif form == "call":
            out = self.complex_call(what, a, sd)
        if out is None:
            raise NotImplementedError(f"{self.lang}: op {op} on {sd.name}")
        return out

    def complex_infix(self, sign: str, a: list[str], sd: DType) -> str:
        return f"({a[0]} {sign} {a[1]})"

    def complex_compare(self, sign: str, a: list[str], sd: DType) -> str:
        return f"({a[0]} {sign} {a[1]})"

    # the parts of a complex value as formats of ``x`` (the value) and ``t`` (its type); None:
    # the helpers creal, cimag, conj and carg (complex_call)
    COMPLEX_PARTS: dict | None = None

    def complex_part(self, which: str, x: str, sd: DType) -> str | None:
        """``which`` (real, imag, conj, angle) of ``x``; None where the language has none."""
        if self.COMPLEX_PARTS is not None:
            return self.COMPLEX_PARTS[which].format(x=x, t=self.vtype(sd))
        return self.complex_call({"real": "creal", "imag": "cimag", "conj": "conj", "angle": "carg"}[which], [x], sd)

    def complex_log_base(self, x: str, base: int, sd: DType) -> str | None:
        """log(x) / ln(base)."""
        raise NotImplementedError

    def complex_call(self, name: str, a: list[str], sd: DType) -> str | None:
        """A call of complex helper ``name`` (a key of COMPLEX_OPS' calls, or creal / cimag /
        conj / carg); None where the language has no such helper."""
        raise NotImplementedError
