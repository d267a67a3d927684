"""Small helpers shared by the CUDA renderer's kernel shapes (``render_cuda``,
``cuda_reduce``, ``cuda_matmul``): the launch constants, 16-byte vector accesses, and the
declarations recovering loop variables from a flat index (the IR walks themselves are
``render_base``'s, re-exported here)."""
from __future__ import annotations

import math
import os

from .ir import Kernel, Loop
from .render_base import loop_dims, outer_accs, perfect_nest, total_outputs, unflatten, walk
from .symbolic import Sum, Var, variables

__all__ = ["BLOCK", "MAX_GRID", "VEC", "VEC_TYPES", "LANES", "aligned_unit_stride", "split_decls", "concrete",
           "switch", "loop_dims", "outer_accs", "perfect_nest", "total_outputs", "unflatten", "walk"]

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


def split_decls(dims: list[tuple[str, int]], lin: str, pad: str) -> list[str]:
    """Declarations splitting the flat index ``lin`` into the variables of ``dims``."""
    return [f"{pad}const int64_t {v} = {e};" for v, e in unflatten(dims, lin, "LL")]


def concrete(k: Kernel) -> bool:
    """Every extent of ``k`` (output and loop) is a plain int: the specialised kernel shapes
    (column reductions, register-blocked and tensor-core matmuls) need concrete sizes;
    a kernel with symbolic sizes takes the simple paths."""
    return all(isinstance(n, int) for _, n in k.global_dims) and \
        all(isinstance(s.size, int) for s in walk(k.body) if isinstance(s, Loop))


def switch(name: str, default: bool = True) -> bool:
    """An on/off environment switch (``0``, ``false``, ``off``, ``no``: off), read each
    time a kernel is planned: the specialised kernel shapes can be turned off one by one
    (falling back to the simpler shapes) without touching anything else."""
    v = os.environ.get(name, "")
    return default if v == "" else v.lower() not in ("0", "false", "off", "no")
