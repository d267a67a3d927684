"""The kernel IR: loop nests of SSA assignments, accumulators and stores.

A ``Kernel`` is what the scheduler hands to a renderer. Its ``global_dims`` are the
loops over the output (parallel); ``body`` holds statements, among them ``Loop`` nodes
for reductions (sequential). Index expressions are ``symbolic.Sym``; values are named
SSA temporaries. Renderers turn this into C, OpenCL C, CUDA C or WGSL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dtypes import DType
from .symbolic import Sym, Var, provably_less


@dataclass
class Param:
    name: str
    dtype: DType
    size: int | None  # elements (None in a generic kernel: known only at launch)
    output: bool


@dataclass
class KArg:
    """A runtime argument of a generic kernel: slot ``slot`` of the kernel's int64 argument
    array. ``dtype`` None: an index value (a size, an offset) named ``name`` in index
    expressions; otherwise a value of that (compute) dtype, read by a PARAM assignment
    (complex values take two slots). ``kind``, ``pos`` and ``d`` say where it comes from:
    field ``kind`` ('dim', 'start', 'before', 'after', 'const', 'padval') of node ``pos``
    of the realize walk, dimension ``d``."""

    name: str
    slot: int
    dtype: DType | None
    kind: str
    pos: int
    d: int = 0


@dataclass
class Assign:
    """``name = op(srcs...)``. Special ops: LOAD (arg=(param index, index Sym, gate)),
    CONST (arg=value), PARAM (arg=slot: a runtime value of a generic kernel),
    INDEX (arg=Sym, an index expression used as a value), RAND (arg=(seed, counter Sym)),
    CLAMP (srcs=(value,), arg=upper bound as an int or Sym, int index). A gate is a tuple
    of conditions ``(expr, lo, hi)``: ``lo <= expr < hi``, where ``lo`` / ``hi`` may be None
    (no check on that side) and ``hi`` may be an expression."""

    name: str
    dtype: DType
    op: str
    srcs: tuple = ()
    arg: Any = None


@dataclass
class Acc:
    name: str
    dtype: DType
    kind: str  # SUM, PROD, MAX, MIN


@dataclass
class AccUpdate:
    name: str
    kind: str
    src: str
    dtype: DType


@dataclass
class Loop:
    var: Var
    size: "int | Sym"  # an expression of the kernel's arguments in a generic kernel
    body: list = field(default_factory=list)


@dataclass
class Store:
    param: int
    index: Sym
    src: str
    dtype: DType


@dataclass
class Kernel:
    name: str
    params: list[Param]
    global_dims: list[tuple[Var, int]]
    body: list
    flops: int = 0
    mem_bytes: int = 0
    ops_summary: str = ""
    scalars: list[str] = field(default_factory=list)  # uint32 runtime arguments (random seeds)
    args: list[KArg] = field(default_factory=list)  # int64 argument slots of a generic kernel
    generic: bool = False  # sizes, offsets and values are arguments: one kernel per structure
    wide: bool = True  # a generic kernel may see sizes of 2^30 or more: 64-bit indices on GPUs

    @property
    def nargs(self) -> int:
        """Slots of the int64 argument array (a complex value takes two)."""
        return sum(2 if a.dtype is not None and a.dtype.kind == "c" else 1 for a in self.args)

    def signature(self) -> tuple[int, bool, int]:
        """(buffers, takes the int64 argument array, uint32 scalars): the C function's
        parameters (a stored plan's kernel answers without being unpickled)."""
        return len(self.params), self.generic, len(self.scalars)

    def index_args(self) -> list[KArg]:
        return [a for a in self.args if a.dtype is None]

    def pretty(self) -> str:
        lines = [f"kernel {self.name}(" + ", ".join(
            f"{'out ' if p.output else ''}{p.dtype.name}[{p.size}] {p.name}" for p in self.params) + ")"]
        for v, n in self.global_dims:
            lines.append(f"  parallel {v.name} in [0, {n})")

        def walk(stmts, ind):
            for s in stmts:
                pad = "  " * ind
                if isinstance(s, Loop):
                    lines.append(f"{pad}for {s.var.name} in [0, {s.size}):")
                    walk(s.body, ind + 1)
                elif isinstance(s, Assign):
                    a = "" if s.arg is None else f" [{_fmt(s.arg)}]"
                    lines.append(f"{pad}{s.name}: {s.dtype.name} = {s.op}({', '.join(s.srcs)}){a}")
                elif isinstance(s, Acc):
                    lines.append(f"{pad}{s.name}: {s.dtype.name} = acc {s.kind}")
                elif isinstance(s, AccUpdate):
                    lines.append(f"{pad}{s.name} {s.kind}= {s.src}")
                elif isinstance(s, Store):
                    lines.append(f"{pad}{self.params[s.param].name}[{s.index.render()}] = {s.src}")
        walk(self.body, 2)
        return "\n".join(lines)


def size_fn(kernel: "Kernel", e):
    """A function of a launch's argument list giving the value of size expression ``e`` of
    ``kernel`` (a launch size of a generic kernel); a constant for an int."""
    if isinstance(e, int):
        return lambda args, v=e: v
    from .symbolic import to_python
    names = {a.name: f"A[{a.slot}]" for a in kernel.args if a.dtype is None}
    return eval(f"lambda A: {to_python(e, names)}")  # noqa: S307 - our own generated expression


def gate_checks(conds) -> list[tuple]:
    """The comparisons a gate needs, as ``(expr, op, bound)`` with op ``>=`` or ``<``:
    sides whose bound is None or that the ranges already prove are left out."""
    out = []
    for e, lo, hi in conds:
        if lo is not None and e.vmin < lo:
            out.append((e, ">=", lo))
        if hi is not None and not provably_less(e, hi):
            out.append((e, "<", hi))
    return out


def index_exprs(s):
    """The index expressions (``Sym``) a statement holds: a load's index and gate, an INDEX
    value, a GATE's conditions, a RAND counter, a store's index."""
    if isinstance(s, Assign):
        if s.op == "LOAD":
            yield s.arg[1]
            for e, _, _ in s.arg[2] or ():
                yield e
        elif s.op == "INDEX":
            yield s.arg
        elif s.op == "GATE":
            for e, _, _ in s.arg:
                yield e
        elif s.op == "RAND":
            yield s.arg[2]
    elif isinstance(s, Store):
        yield s.index


def map_index_exprs(s, f):
    """``s`` with every index expression replaced by ``f(expr)`` (other statements as is)."""
    if isinstance(s, Assign):
        if s.op == "LOAD":
            p, idx, gate = s.arg
            gate = tuple((f(e), lo, hi) for e, lo, hi in gate) if gate else gate
            return Assign(s.name, s.dtype, s.op, s.srcs, (p, f(idx), gate))
        if s.op == "INDEX":
            return Assign(s.name, s.dtype, s.op, s.srcs, f(s.arg))
        if s.op == "GATE":
            return Assign(s.name, s.dtype, s.op, s.srcs, tuple((f(e), lo, hi) for e, lo, hi in s.arg))
        if s.op == "RAND":
            return Assign(s.name, s.dtype, s.op, s.srcs, (s.arg[0], s.arg[1], f(s.arg[2])))
        return s
    if isinstance(s, Store):
        return Store(s.param, f(s.index), s.src, s.dtype)
    return s


def walk(stmts):
    """Every statement, depth first, loop bodies after their loop."""
    for s in stmts:
        yield s
        if isinstance(s, Loop):
            yield from walk(s.body)


def map_body_exprs(body: list, f) -> list:
    """``body`` with every index expression, in loops too, replaced by ``f(expr)``."""
    return [Loop(s.var, s.size, map_body_exprs(s.body, f)) if isinstance(s, Loop) else map_index_exprs(s, f)
            for s in body]


def _fmt(arg) -> str:
    if isinstance(arg, tuple):
        return ", ".join(_fmt(a) for a in arg)
    if isinstance(arg, Sym):
        return arg.render()
    return repr(arg)
