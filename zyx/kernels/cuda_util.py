"""Small helpers shared by the CUDA renderer's kernel shapes (``render_cuda``,
``cuda_reduce``, ``cuda_matmul``): walking the IR, recovering loop variables from a flat
index, and the launch constants."""
from __future__ import annotations

import math
import os

from .ir import Acc, AccUpdate, Kernel, Loop
from .symbolic import Sum, Var, variables

BLOCK = 256  # threads per block of the thread-per-output and block-per-output shapes
MAX_GRID = 1 << 20  # blocks; the grid-stride loops cover the rest
# 16-byte vector accesses of 4-byte elements (elementwise kernels, contiguous reductions)
VEC = 4
VEC_TYPES = {"float32": "float4", "int32": "int4", "uint32": "uint4"}
LANES = "xyzw"


def aligned_unit_stride(idx, v: str) -> bool:
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


def walk(stmts):
    for s in stmts:
        yield s
        if isinstance(s, Loop):
            yield from walk(s.body)


def perfect_nest(loop: Loop) -> tuple[list[Loop], list]:
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
        v, n = dims[i]  # n: an int, or a size expression of a generic kernel
        e = flat if isinstance(inner, int) and inner == 1 else f"({flat} / {_lit(inner, suffix)})"
        if i > 0:
            e = f"({e} % {_lit(n, suffix)})"
        out.append((v, e))
        inner = inner * n
    return out[::-1]


def _lit(n, suffix: str) -> str:
    return f"{n}{suffix}" if isinstance(n, int) else n.render()


def split_decls(dims: list[tuple[str, int]], lin: str, pad: str) -> list[str]:
    """Declarations splitting the flat index ``lin`` into the variables of ``dims``."""
    return [f"{pad}const int64_t {v} = {e};" for v, e in unflatten(dims, lin, "LL")]


def loop_dims(nest: list[Loop]) -> list[tuple[str, int]]:
    return [(lp.var.name, lp.size) for lp in nest]


def outer_accs(loop: Loop) -> list[str]:
    """Accumulators updated inside ``loop`` but declared outside it, in first-use order."""
    inner = {s.name for s in walk(loop.body) if isinstance(s, Acc)}
    out: list[str] = []
    for s in walk(loop.body):
        if isinstance(s, AccUpdate) and s.name not in inner and s.name not in out:
            out.append(s.name)
    return out


def concrete(k: Kernel) -> bool:
    """Every extent of ``k`` (output and loop) is a plain int: the specialised kernel shapes
    (column reductions, register-blocked and tensor-core matmuls) need concrete sizes;
    a kernel with symbolic sizes takes the simple paths."""
    return all(isinstance(n, int) for _, n in k.global_dims) and \
        all(isinstance(s.size, int) for s in walk(k.body) if isinstance(s, Loop))


def total_outputs(k: Kernel) -> int:
    return math.prod(n for _, n in k.global_dims) if k.global_dims else 1


def switch(name: str, default: bool = True) -> bool:
    """An on/off environment switch (``0``, ``false``, ``off``, ``no``: off), read each
    time a kernel is planned: the specialised kernel shapes can be turned off one by one
    (falling back to the simpler shapes) without touching anything else."""
    v = os.environ.get(name, "")
    return default if v == "" else v.lower() not in ("0", "false", "off", "no")
