"""CUDA kernel shapes for reductions whose outputs alone would not fill the GPU.

* **block per output** (``uses_block_reduce``): few outputs and a big reduction read
  contiguously along it (full sums, softmax denominators, row norms). The block's
  threads stride the top-level reduce loops - consecutive threads, consecutive
  elements - then combine their partial accumulators in a shared-memory tree.
  Everything else in the body runs redundantly in every thread; only thread 0 stores.
* **column strips** (``column_plan``): the reduction runs across rows and the loads are
  contiguous along the *outputs* (``x.mean(axis=0)``, a batch-norm's statistics). One
  output per block would read one element per thread per row - 32 separate memory
  sectors per warp (the H200 measured such a column mean at 0.18x PyTorch). Instead a
  block owns a strip of 32 consecutive outputs: its threads are 32 columns x L row lanes,
  each lane strides down the rows of its column (a warp reads 128 contiguous bytes per
  row), and the L partials of each column meet in a shared-memory tree. L (8 to 32) is
  chosen so the grid has enough threads to keep the memory system busy.
  ``ZYX_CUDA_COLUMN_REDUCE=0`` turns this shape off (a block per output again).

Both unroll their strided loops so several loads are in flight per thread before the
first accumulation needs one (the loads do not depend on the accumulator).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .cuda_util import (
    BLOCK,
    LANES,
    VEC,
    VEC_TYPES,
    aligned_unit_stride,
    concrete,
    loop_dims,
    outer_accs,
    perfect_nest,
    split_decls,
    switch,
    total_outputs,
    walk,
)
from .ir import Acc, Assign, Kernel, Loop, Store
from .render_base import uses_block_reduce
from .lower import compute_dtype
from .symbolic import coef, variables

UNROLL = 4  # strided reduce loop iterations unrolled: loads in flight per thread
STRIP = 32  # outputs per column strip (a warp's width)
COLUMN_MAX_OUTPUTS = 1 << 17  # beyond this, a thread per output already fills the GPU
COLUMN_SHARED_LIMIT = 40 * 1024


@dataclass
class ColumnPlan:
    groups: int  # strips of STRIP outputs
    lanes: int  # row lanes per column: the block is STRIP * lanes threads

    @property
    def threads(self) -> int:
        return STRIP * self.lanes


def column_plan(k: Kernel) -> ColumnPlan | None:
    """The column-strip shape for ``k``, or None. It applies to a kernel with concrete
    sizes, one top-level reduction of at least 64 steps and fewer than
    COLUMN_MAX_OUTPUTS outputs, whose loads are contiguous along the innermost output
    axis (at least one) and none along the innermost reduction axis."""
    if not k.global_dims or not concrete(k) or not switch("ZYX_CUDA_COLUMN_REDUCE"):
        return None
    loops = [s for s in k.body if isinstance(s, Loop)]
    if len(loops) != 1 or not outer_accs(loops[0]):
        return None
    nest, _ = perfect_nest(loops[0])
    red, total = math.prod(lp.size for lp in nest), total_outputs(k)
    if red < 64 or total >= COLUMN_MAX_OUTPUTS:
        return None
    v, r = k.global_dims[-1][0].name, nest[-1].var.name
    loads = [s for s in walk(loops[0].body) if isinstance(s, Assign) and s.op == "LOAD"]
    if not any(coef(s.arg[1], v) == 1 for s in loads) or any(abs(coef(s.arg[1], r)) == 1 for s in loads):
        return None
    groups = -(-total // STRIP)
    lanes = 8 if groups >= 1024 else 16 if groups >= 512 else 32  # ~64K+ threads in flight
    while lanes > 1 and red < 16 * lanes:  # at least 16 rows per lane
        lanes //= 2
    accs = {s.name: s for s in k.body if isinstance(s, Acc)}
    per_lane = sum(compute_dtype(accs[a].dtype).itemsize for a in outer_accs(loops[0])) * (STRIP + 1)
    while lanes > 1 and per_lane * lanes > COLUMN_SHARED_LIMIT:
        lanes //= 2
    return ColumnPlan(groups, lanes)


def _vector_loads(k: Kernel, s: Loop) -> list | None:
    """The loads of a block-reduce loop nest that can be read 4 at a time along its
    innermost variable (16-byte float4 / int4 / uint4 loads), or None when the nest does
    not take that shape: a straight-line body, an innermost extent divisible by 4, and at
    least one such load; every load that moves with the innermost variable must be one
    (unit stride, aligned, ungated, 4-byte elements)."""
    if not concrete(k):
        return None
    nest, body = perfect_nest(s)
    v = nest[-1].var.name
    if nest[-1].size % VEC or any(isinstance(x, Loop) for x in body):
        return None
    loads = [x for x in body if isinstance(x, Assign) and x.op == "LOAD"]
    moving = [x for x in loads if v in variables(x.arg[1])]
    if not moving or any(x.arg[2] or k.params[x.arg[0]].dtype.name not in VEC_TYPES
                         or not aligned_unit_stride(x.arg[1], v) for x in moving):
        return None
    others = [x for x in body if x not in moving]
    if any(isinstance(x, Assign) and (x.op in ("INDEX", "RAND", "GATE") or x.op == "LOAD" and v in
                                      {n for e, _, _ in x.arg[2] or () for n in variables(e)}) for x in others):
        return None  # values of the position itself: keep the scalar loop
    return moving


def render_block_reduce(r, k: Kernel, out: list[str]) -> None:
    """One block per output (see the module docstring); ``r`` is the CUDARenderer. A
    nest whose loads run contiguously along its innermost variable reads them as 16-byte
    vectors: each thread takes 4 consecutive steps at a time and runs the body once per
    lane (the same reduction order per thread as 4 scalar steps)."""
    dtypes: dict = {}
    accs = {s.name: s for s in walk(k.body) if isinstance(s, Acc)}
    shared = {}  # acc name -> shared array
    for s in k.body:
        if isinstance(s, Loop):
            for a in outer_accs(s):
                if a not in shared:
                    shared[a] = f"zsh_{a}"
                    out.append(f"  __shared__ {r.ctype(accs[a].dtype)} {shared[a]}[{BLOCK}];")
    out.append(f"  for (int64_t zo = blockIdx.x; zo < {total_outputs(k)}LL; zo += gridDim.x) {{")
    out.extend(split_decls([(v.name, n) for v, n in k.global_dims], "zo", "    "))
    pad = "    "
    loops = [s for s in k.body if isinstance(s, Loop)]

    def reduce_loop(s: Loop) -> None:
        nest, body = perfect_nest(s)
        vec = _vector_loads(k, s) if len(loops) == 1 else None
        if vec is None:
            _strided_loop(r, k, nest, body, "threadIdx.x", BLOCK, dtypes, pad, out)
        else:
            _vector_steps(r, k, nest, body, vec, dtypes, pad, out)
            out.append(f"{pad}}}")
        for a in outer_accs(s):
            _tree(r, accs[a], shared[a], BLOCK, "threadIdx.x", "", pad, out)
    _output_body(r, k, lambda s: bool(outer_accs(s)), reduce_loop, "threadIdx.x == 0", dtypes, out)


def _output_body(r, k: Kernel, reduced, reduce_loop, store_guard: str, dtypes: dict, out: list[str]) -> None:
    """The statements of one output, inside the loop over outputs (which this closes):
    each loop ``reduced(loop)`` selects through ``reduce_loop`` (the threads' strided share
    and the tree combining it), stores only on the threads ``store_guard`` names, the rest
    as they are on every thread."""
    pad = "    "
    for s in k.body:
        if isinstance(s, Loop) and reduced(s):
            reduce_loop(s)
        elif isinstance(s, Store):
            out.append(f"{pad}if ({store_guard}) {{")
            r.render_body(k, [s], 3, dtypes, out)
            out.append(f"{pad}}}")
        else:
            r.render_body(k, [s], 2, dtypes, out)
    out.append("  }")


def _strided_loop(r, k: Kernel, nest: list, body: list, start: str, step: int, dtypes: dict, pad: str,
                  out: list[str]) -> None:
    """A thread's share of a reduction nest, flattened: positions ``start``, ``start +
    step``, ..."""
    size = math.prod(lp.size for lp in nest)
    out.append(f"{pad}#pragma unroll {UNROLL}")
    out.append(f"{pad}for (int64_t zr = {start}; zr < {size}LL; zr += {step}) {{")
    out.extend(split_decls(loop_dims(nest), "zr", pad + "  "))
    r.render_body(k, body, 3, dtypes, out)
    out.append(f"{pad}}}")


def _vector_steps(r, k: Kernel, nest: list, body: list, vec: list, dtypes: dict, pad: str, out: list[str]) -> None:
    """The strided loop of a block reduce, 4 innermost steps per thread and iteration:
    the vector loads at the first of the 4 steps, then the body once per lane with the
    loaded values taken lane by lane."""
    size = math.prod(lp.size for lp in nest)
    out.append(f"{pad}#pragma unroll 2")
    out.append(f"{pad}for (int64_t zr = threadIdx.x * {VEC}LL; zr < {size}LL; zr += {BLOCK * VEC}) {{")
    out.extend(split_decls(loop_dims(nest), "zr", pad + "  "))
    lane_of = {}
    for s in vec:
        param = k.params[s.arg[0]]
        vt = VEC_TYPES[param.dtype.name]
        lane_of[s.name] = f"zv_{s.name}"
        out.append(f"{pad}  const {vt} zv_{s.name} = *reinterpret_cast<const {vt}*>"
                   f"(&{param.name}[{r.index(s.arg[1])}]);")
    for j in range(VEC):  # nothing else in the body reads the innermost variable (see _vector_loads)
        out.append(f"{pad}  {{")
        lane_dtypes = dict(dtypes)
        for s in body:
            if isinstance(s, Assign) and s.name in lane_of:
                out.append(f"{pad}    {r.ctype(s.dtype)} {s.name} = {lane_of[s.name]}.{LANES[j]};")
                lane_dtypes[s.name] = s.dtype
            else:
                r.render_body(k, [s], len(pad) // 2 + 2, lane_dtypes, out)
        out.append(f"{pad}  }}")


def render_column_reduce(r, k: Kernel, cp: ColumnPlan, out: list[str]) -> None:
    """Column strips (see the module docstring): thread ``ztx`` of lane ``zty`` reduces
    rows ``zty, zty + L, ...`` of output ``strip * 32 + ztx``. Threads past the last
    output compute the last one again (so every load stays in bounds) and store nothing."""
    total, lanes = total_outputs(k), cp.lanes
    accs = {s.name: s for s in k.body if isinstance(s, Acc)}
    loop = next(s for s in k.body if isinstance(s, Loop))
    shared = {a: f"zsh_{a}" for a in outer_accs(loop)}
    for a, sh in shared.items():
        out.append(f"  __shared__ {r.ctype(accs[a].dtype)} {sh}[{lanes}][{STRIP + 1}];")
    out.append(f"  const int ztx = threadIdx.x % {STRIP}, zty = threadIdx.x / {STRIP};")
    out.append(f"  for (int64_t zo = blockIdx.x; zo < {cp.groups}LL; zo += gridDim.x) {{")
    out.append(f"    const int64_t zc0 = zo * {STRIP} + ztx;")
    out.append(f"    const bool zin = zc0 < {total}LL;")
    out.append(f"    const int64_t zc = zin ? zc0 : {total - 1}LL;")
    out.extend(split_decls([(v.name, n) for v, n in k.global_dims], "zc", "    "))
    dtypes: dict = {}
    pad = "    "

    def reduce_loop(s: Loop) -> None:
        nest, body = perfect_nest(s)
        _strided_loop(r, k, nest, body, "zty", lanes, dtypes, pad, out)
        for a, sh in shared.items():
            _tree(r, accs[a], sh, lanes, "zty", "[ztx]", pad, out)
    _output_body(r, k, lambda s: s is loop, reduce_loop, "zty == 0 && zin", dtypes, out)


def _tree(r, acc: Acc, sh: str, n: int, lane: str, col: str, pad: str, out: list[str]) -> None:
    """Combine ``n`` partial accumulators (``sh[lane]col``) in a shared-memory tree, in a
    fixed order; every thread gets the result."""
    t = r.ctype(acc.dtype)
    out.append(f"{pad}{sh}[{lane}]{col} = {acc.name};")
    out.append(f"{pad}__syncthreads();")
    out.append(f"{pad}for (int zs = {n // 2}; zs > 0; zs >>= 1) {{")
    out.append(f"{pad}  if ({lane} < zs) {{ {t} zmine = {sh}[{lane}]{col}; {t} zother = {sh}[{lane} + zs]{col};")
    out.append(f"{pad}    {r.acc_update('zmine', acc.kind, 'zother', acc.dtype)} {sh}[{lane}]{col} = zmine; }}")
    out.append(f"{pad}  __syncthreads();")
    out.append(f"{pad}}}")
    out.append(f"{pad}{acc.name} = {sh}[0]{col};")
    out.append(f"{pad}__syncthreads();")
