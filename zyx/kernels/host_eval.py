"""The host tier: a kernel's region evaluated with NumPy, op by op, instead of compiled.

A structure seen for the first time would otherwise wait for the C compiler (~50-100 ms a
schedule) before it can run. On the cpu device its kernels can run at once here while the
compiled kernels build in the background (docs/ARCHITECTURE.md, "Compile once").

Only kernels whose every op gives the *same bits* here as in the compiled C are evaluated
here: arithmetic, comparisons, selects, casts, sqrt, floor/ceil/rint/trunc, min/max with
the C helpers' NaN and signed-zero rules, integer division, modulo, shifts and powers with
the C helpers' rules, movement, gathers, counter-based random bits, and reductions (whose
order of summation differs, as it already does between differently fused kernels: a
reduction is computed once per realize and stored, never recomputed elsewhere). A
transcendental function (exp, log, sin, ...), whose last bit depends on the math library, is
not NumPy's: a value the host tier computed could otherwise meet the same value recomputed by
a compiled kernel (``x == max(x)`` must hold). It calls the device's own functions instead
(``funcs``: ``CPUBackend.host_functions``, the kernels' spelling of each op built with their
flags), and without them such a kernel is compiled first.

Values are computed as the kernels compute them: float16/bfloat16 in float32, rounded only
when stored or cast; integers wrap; booleans are NumPy bools.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _blas
from .. import dtypes as dt
from ..graph import Node, post_order

# ops evaluated bit-exactly (see the module docstring); complex only where noted
_EXACT = frozenset({
    "NEG", "ADD", "SUB", "MUL", "DIV", "IDIV", "MOD", "MAX", "MIN", "SQRT", "RECIP", "FLOOR", "CEIL",
    "ROUND", "TRUNC", "ABS", "NOT", "BITNOT", "ISNAN", "ISINF", "SIGNBIT", "COPYSIGN", "NEXTAFTER", "AND", "OR",
    "XOR", "SHL", "SHR", "CMPLT", "CMPLE", "CMPEQ", "CMPNE", "WHERE", "CAST", "BITCAST", "POW",
    "REAL", "IMAG", "CONJ", "COMPLEX",
})
_COMPLEX_EXACT = frozenset({"NEG", "ADD", "SUB", "CMPEQ", "CMPNE", "REAL", "IMAG", "CONJ", "CAST", "WHERE",
                            "COMPLEX", "BITCAST"})
_SOURCES = frozenset({"BUFFER", "CONST", "IOTA", "RAND"})
_MOVES = frozenset({"RESHAPE", "PERMUTE", "EXPAND", "SHRINK", "PAD"})


def _region(root: Node, leaves: set) -> list[Node]:
    """The kernel's nodes below ``root`` (stopping at its inputs), in post-order."""
    return post_order(root, lambda x: () if x in leaves else x.srcs)


EXACT, WITH_FUNCTIONS = 1, 2  # what host_ok found (0: not on the host tier)


def host_ok(root: Node, inputs: list[Node], funcs=None) -> int:
    """Whether every op of the kernel computing ``root`` gives the compiled kernel's bits
    here: ``EXACT`` with NumPy alone, ``WITH_FUNCTIONS`` calling the device's own math
    functions ``funcs`` (the backend's ``host_functions``, or a function giving them, called
    at the first transcendental op met) for its transcendental ops, 0 where neither does."""
    leaves = set(inputs)
    found = EXACT
    for n in _region(root, leaves):
        op = n.op
        if n in leaves or op in _SOURCES or op in _MOVES or op == "GATHER":
            continue
        if op == "REDUCE":
            if n.dtype.kind == "c" and n.arg[0] == "PROD":
                return 0
            continue
        src = n.srcs[0].dtype
        if op not in _EXACT or (op == "POW" and src.kind not in "iu"):
            if callable(funcs):
                funcs = funcs()
            if funcs is None or (op, _cdt(n.dtype).name) not in funcs or _folds(n, leaves):
                return 0
            found = WITH_FUNCTIONS
            continue
        if (src.kind == "c" or n.dtype.kind == "c") and op not in _COMPLEX_EXACT:
            return 0
    return found


def _folds(n: Node, leaves: set) -> bool:
    """Whether every value below ``n`` is a constant: the C compiler may then compute ``n``
    while it builds (glibc's builtins, correctly rounded) where the library computes it at
    run time."""
    stack = list(n.srcs)
    while stack:
        x = stack.pop()
        if x in leaves or x.op in ("BUFFER", "IOTA", "RAND"):
            return False
        stack.extend(x.srcs)
    return True


def contracts(root: Node, inputs: list[Node]) -> bool:
    """Whether the kernel holds a float contraction (``sum(a * b)``: a matmul, a covariance,
    a batched dot), which ``evaluate`` hands to BLAS (one batched matmul)."""
    leaves = set(inputs)
    return any(n.dtype.kind == "f" and _contraction(n, leaves) is not None for n in _region(root, leaves))


def blas_ok(root: Node, inputs: list[Node]) -> bool:
    """A float contraction of exact ops: the host tier runs it on BLAS."""
    return contracts(root, inputs) and host_ok(root, inputs) == EXACT


# ---------------------------------------------------------------------- evaluation
def _cdt(d: dt.DType) -> np.dtype:
    """NumPy dtype values of ``d`` are computed in (half types in float32)."""
    return np.dtype(np.float32) if d in (dt.float16, dt.bfloat16) else np.dtype(d.np)


class Shared:
    """Values of a realize's interior nodes that one host-tier kernel computed, for the next
    ones (``evaluate``'s ``shared``): fused kernels inline a value each of them reads - a
    lazy array's chain of slice writes, a softmax's max - and on the host tier each
    recomputed it (a cold GaussianMixture fit: 9,094 of 16,623 node evaluations, ~155 of
    ~430 ms). Values up to ``ITEM`` elements are kept, ``BUDGET`` bytes in all; a kernel's
    root is not (it becomes a buffer, read as an input, rounded to its storage dtype)."""

    ITEM = 1 << 18
    BUDGET = 64 << 20

    __slots__ = ("vals", "nbytes")

    def __init__(self) -> None:
        self.vals: dict = {}
        self.nbytes = 0


def evaluate(root: Node, inputs: list[Node], funcs=None, dest: np.ndarray | None = None,
             shared: Shared | None = None) -> np.ndarray:
    """``root``'s value (in its storage dtype, C order) computed with NumPy from the
    realized ``inputs`` (buffers on the cpu device); transcendental ops call ``funcs`` (see
    ``host_ok``: the table, or a function giving it, called only where an op needs it).
    Given ``dest`` (a flat array of the storage dtype and ``root``'s size: the output
    buffer), the value is written there and ``dest`` returned - no C-order copy of it first
    (a transposed 160 MB result was copied twice, ~1 s of fresh pages)."""
    leaves = set(inputs)

    def deps(n: Node) -> tuple:
        if n in leaves:
            return ()
        c = _contraction(n, leaves)
        if c is not None:  # sum(a * b): the operands, never their product
            return c[0].srcs
        return n.srcs
    known = shared.vals if shared is not None else {}
    vals: dict = _Both(known) if known else {}
    with np.errstate(all="ignore"):
        # (a shared node this kernel reads as an input is read from its buffer: a half-float
        # value is rounded there, and computed unrounded where it was inlined)
        order = post_order(root, deps, _Known(known, leaves)) if known else post_order(root, deps)
        for x in order:
            vals[x] = _leaf(x) if x in leaves else _eval(x, vals, leaves, funcs)
        out = vals[root]
        if shared is not None:
            for x in order:
                if x is not root and x not in leaves and x.numel <= Shared.ITEM:
                    v = vals[x]
                    if shared.nbytes + v.nbytes > Shared.BUDGET:
                        break
                    shared.vals[x] = v
                    shared.nbytes += v.nbytes
        if root.dtype in (dt.float16, dt.bfloat16):
            out = out.astype(root.dtype.np)
        if dest is not None and dest.dtype == root.dtype.np and dest.size == out.size and out.shape == root.shape:
            np.copyto(dest.reshape(root.shape), out, casting="unsafe")
            return dest
        return np.ascontiguousarray(out, dtype=root.dtype.np)


class _Known:
    """The shared nodes but this kernel's inputs (``post_order``'s ``known``)."""

    __slots__ = ("shared", "leaves")

    def __init__(self, shared: dict, leaves: set) -> None:
        self.shared, self.leaves = shared, leaves

    def __contains__(self, n) -> bool:
        return n in self.shared and n not in self.leaves


class _Both(dict):
    """This kernel's values, falling back to the values earlier kernels shared."""

    __slots__ = ("shared",)

    def __init__(self, shared: dict) -> None:
        super().__init__()
        self.shared = shared

    def __missing__(self, key):
        return self.shared[key]


def _contraction(n: Node, leaves: set) -> tuple[Node, list[Node]] | None:
    """(the product, the axis moves between it and ``n``, first to last) where ``n`` sums a
    product: ``sum(a * b)``, or a split one (a long summed axis is cut into chunks summed
    apart - the product permuted and reshaped, then summed)."""
    if n.op != "REDUCE" or n.arg[0] != "SUM":
        return None
    chain = []
    m = n.srcs[0]
    while (m.op == "PERMUTE" or m.op == "RESHAPE" or (m.op == "PAD" and m.arg[1] == 0)) and m not in leaves:
        chain.append(m)  # (a pad with zeros: the product of the padded operands is the padded product)
        m = m.srcs[0]
    if m.op == "MUL" and m not in leaves and m.dtype.kind in "fiu":
        chain.reverse()
        return m, chain
    return None


def _moved_operand(mv: Node, x: np.ndarray) -> np.ndarray | None:
    """A contraction's operand ``x`` moved as ``mv`` moves the product, without forming
    what it is broadcast to (None where a reshape would copy)."""
    if mv.op == "PERMUTE":
        return x.transpose(mv.arg)
    if mv.op == "RESHAPE":
        return _reshape_view(x, mv.shape)
    pads = mv.arg[0]  # PAD (with zeros): padded along its own axes only, then broadcast again
    cut = tuple(slice(None) if (b or a or (x.shape[d] != 1 and x.strides[d] != 0)) else slice(0, 1)
                for d, (b, a) in enumerate(pads))
    return np.broadcast_to(np.pad(x[cut], pads), mv.shape)


def _reshape_view(x: np.ndarray, shape: tuple) -> np.ndarray | None:
    """``x`` reshaped without a copy, or None where that needs one."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return None
    except TypeError:  # NumPy < 2.1 has no ``copy`` argument
        v = x.view()
        try:
            v.shape = shape
        except AttributeError:
            return None
        return v


def _leaf(n: Node) -> np.ndarray:
    h = n.buffer.handle
    a = h[: n.numel] if h.dtype == n.dtype.np else h.view(np.uint8)[: n.numel * n.dtype.itemsize].view(n.dtype.np)
    a = a.reshape(n.shape)
    return a.astype(np.float32) if n.dtype in (dt.float16, dt.bfloat16) else a


def _eval(n: Node, vals: dict, leaves: set, funcs: dict | None) -> np.ndarray:
    if n.op == "BUFFER":
        return _leaf(n)
    op = n.op
    if op == "CONST":
        return np.broadcast_to(np.array(n.arg, dtype=_cdt(n.dtype)), n.shape)
    if op == "IOTA":
        shape = [1] * len(n.shape)
        shape[n.arg] = n.shape[n.arg]
        return np.broadcast_to(np.arange(n.shape[n.arg], dtype=_cdt(n.dtype)).reshape(shape), n.shape)
    if op == "RAND":
        return _philox(n.arg[0], n.arg[1], n.numel).reshape(n.shape)
    c = _contraction(n, leaves)
    if c is not None:
        m, chain = c
        ab: list = [v if (v := vals[s]).shape == m.shape else np.broadcast_to(v, m.shape) for s in m.srcs]
        for mv in chain:  # the moves applied to each operand (views: no product is formed)
            ab = [_moved_operand(mv, x) if x is not None else None for x in ab]
            if ab[0] is None or ab[1] is None:
                break
        else:
            out = _contract(ab[0], ab[1], n.arg[1])
            if out is not None:
                return out.reshape(n.shape)
        x = _elementwise(m, [vals[s] for s in m.srcs])
        for mv in chain:
            x = _move(mv, x)
        return _reduce(n, x)
    srcs = [vals[s] for s in n.srcs]
    if op in _MOVES:
        return _move(n, srcs[0])
    if op == "REDUCE":
        return _reduce(n, srcs[0])
    if op == "GATHER":
        src, idx = srcs
        hi = n.srcs[0].shape[n.arg] - 1
        return np.take_along_axis(src, np.clip(idx.astype(np.int64), 0, hi), axis=n.arg)
    return _elementwise(n, srcs, funcs)


def _move(n: Node, x: np.ndarray) -> np.ndarray:
    op = n.op
    if op == "RESHAPE":
        return x.reshape(n.shape)
    if op == "PERMUTE":
        return x.transpose(n.arg)
    if op == "EXPAND":
        if x.ndim != len(n.shape):
            x = x.reshape((1,) * len(n.shape))
        return np.broadcast_to(x, n.shape)
    if op == "SHRINK":
        idx = []
        for start, size, step in n.arg:
            stop = start + step * size
            idx.append(slice(start, stop if stop >= 0 else None, step))
        return x[tuple(idx)]
    pads, value = n.arg  # PAD
    out = np.full(n.shape, value, dtype=x.dtype)
    out[tuple(slice(b, b + s) for (b, _), s in zip(pads, x.shape))] = x
    return out


def _reduce(n: Node, x: np.ndarray) -> np.ndarray:
    kind, axes = n.arg
    if x.dtype == np.bool_:
        f = np.any if kind in ("SUM", "MAX") else np.all
        return f(x, axis=axes, keepdims=True)
    if (len(axes) == 1 and 1 < x.shape[axes[0]] <= _SHORT_AXIS and x.size >= 64 * x.shape[axes[0]]
            and x.dtype.kind != "c"):
        return _reduce_short(kind, x, axes[0]).reshape(n.shape)
    if kind == "SUM":
        return np.sum(x, axis=axes, keepdims=True, dtype=x.dtype)
    if kind == "PROD":
        return np.prod(x, axis=axes, keepdims=True, dtype=x.dtype)
    if x.size == 0:  # the identity: what an empty C loop leaves in the accumulator
        from ..ops import reduce_identity
        return np.full(n.shape, reduce_identity(kind, n.dtype), dtype=x.dtype)
    return (np.max if kind == "MAX" else np.min)(x, axis=axes, keepdims=True)


_SHORT_AXIS = 7  # (NumPy sums 8 or more elements pairwise, in another order)
_SHORT_UFUNCS = {"SUM": np.add, "PROD": np.multiply, "MAX": np.maximum, "MIN": np.minimum}


def _reduce_short(kind: str, x: np.ndarray, axis: int) -> np.ndarray:
    """``kind`` over a short ``axis`` of many rows (a softmax over 3 classes: (4000, 3) ->
    (4000, 1)) as a chain of binary ufuncs over its slices, in the order NumPy's reduction
    takes them - the same values: a sum starts from 0 (``0 + x0 + x1 ...``, as NumPy's
    short sums do; -0.0 sums to 0.0 either way), a product from x0, max/min go element by
    element. NumPy's reduction over a short inner axis costs ~40 ns a row (np.max of
    (4000, 3) along axis 1: ~160 us; the chain ~12 us)."""
    f = _SHORT_UFUNCS[kind]
    lead = (slice(None),) * axis
    acc = x[lead + (0,)]
    if kind == "SUM":
        acc = np.add(acc, x.dtype.type(0))
    for i in range(1, x.shape[axis]):
        acc = f(acc, x[lead + (i,)])
    return acc


def _contract(a: np.ndarray, b: np.ndarray, axes: tuple) -> np.ndarray | None:
    """sum(a * b) over ``axes`` of two (broadcast) arrays without materializing the
    broadcast product: one batched matmul (BLAS) over the operands' own axes. None where
    a summed axis is not both operands' own (the caller multiplies, then sums). The plan -
    which axes are whose, the views and copies - depends on the operands' shapes and strides
    alone and is kept per layout (``_contract_plan``): a loop's contraction meets the same
    layouts at every launch, and planning was ~45 of a ~95 us launch."""
    if a.dtype != b.dtype or a.ndim != b.ndim:
        return None
    key = (a.shape, a.strides, b.shape, b.strides, axes)
    plan = _plans.get(key, _NO_PLAN)
    if plan is _NO_PLAN:
        plan = _contract_plan(a, b, axes)
        if len(_plans) >= 512:
            _plans.clear()
        _plans[key] = plan
    if plan is None:
        return None
    ao, bo = _operand_views(a, b, plan)
    dot, copy, work, shape1, perm, shape2, full = plan[6:]
    if dot:  # batched dot products: einsum's loop, not nb 1x1 matmuls
        r = np.einsum("bk,bk->b", ao, bo)
    else:
        if copy == 1:
            bo = np.ascontiguousarray(bo)
        elif copy == 2:
            ao = np.ascontiguousarray(ao)
        with _blas.one_thread(work):  # (mid-sized: see zyx/_blas.py)
            r = np.matmul(ao, bo)
    r = r.reshape(shape1).transpose(perm).reshape(shape2)
    return r if full is None else np.broadcast_to(r, full)


_plans: dict = {}
_NO_PLAN = object()


def _operand_views(a: np.ndarray, b: np.ndarray, plan: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The operands as the plan's matmul (or batched dot) takes them: broadcast axes dropped,
    transposed, reshaped."""
    ia, pa, ib, pb, sa, sb = plan[:6]
    return a[ia].transpose(pa).reshape(sa), b[ib].transpose(pb).reshape(sb)


def _contract_plan(a: np.ndarray, b: np.ndarray, axes: tuple) -> tuple | None:
    """``_contract``'s plan for operands laid out as ``a`` and ``b`` (None: not one matmul):
    each operand's index (dropping its broadcast axes), transpose and 3-d shape, whether it is
    a batched dot, which operand is copied to C order first, the multiply-adds, and how the
    result is shaped back."""
    nd, red = a.ndim, set(axes)
    bat, m, n, k = [], [], [], []  # batch axes, a's own, b's own, contracted
    for d in range(nd):
        ra = a.shape[d] != 1 and a.strides[d] != 0  # a has its own values along d
        rb = b.shape[d] != 1 and b.strides[d] != 0
        if d in red:
            if ra and rb:
                k.append(d)
            elif ra or rb or max(a.shape[d], b.shape[d]) != 1:
                return None
        elif ra and rb:
            bat.append(d)
        elif ra:
            m.append(d)
        elif rb:
            n.append(d)
    size = [max(a.shape[d], b.shape[d]) for d in range(nd)]

    def operand(own: set, order: list) -> tuple:
        index = tuple(slice(None) if d in own else 0 for d in range(nd))  # drop broadcast axes
        kept = [d for d in range(nd) if d in own]
        return index, [kept.index(d) for d in order]
    ia, pa = operand(set(bat + m + k), bat + m + k)
    ib, pb = operand(set(bat + n + k), bat + k + n)
    nb, nm, nn, nk = (math.prod(size[d] for d in g) for g in (bat, m, n, k))
    dot = nm == 1 and nn == 1
    sa, sb = ((nb, nk), (nb, nk)) if dot else ((nb, nm, nk), (nb, nk, nn))
    copy = 0
    if not dot:
        a3, b3 = _operand_views(a, b, (ia, pa, ib, pb, sa, sb))
        # a transposed small operand is copied to C order first: OpenBLAS ran LogisticRegression's
        # X @ W.T (4000 x 64 by a transposed 64 x 3) at ~120 us, ~45 us with W.T contiguous
        if not b3.flags.c_contiguous and b3.size <= max(a3.size // 4, 1 << 12):
            copy = 1
        elif not a3.flags.c_contiguous and a3.size <= max(b3.size // 4, 1 << 12):
            copy = 2
    got = bat + m + n
    shape1 = tuple(size[d] for d in got)
    perm = tuple(got.index(d) for d in sorted(got))
    shape2 = tuple(size[d] if d in got else 1 for d in range(nd))
    full = tuple(1 if d in red else size[d] for d in range(nd))
    return ia, pa, ib, pb, sa, sb, dot, copy, nb * nm * nn * nk, shape1, perm, shape2, (None if full == shape2 else full)


def _philox(seed: int, offset: int, count: int) -> np.ndarray:
    """Philox-2x32-10 of counters offset + i, i < count (the kernels' zyx_philox)."""
    lin = np.arange(count, dtype=np.uint64)
    c0 = (lin + np.uint64(offset)) & np.uint64(0xFFFFFFFF)
    c1 = lin >> np.uint64(32)
    key = np.uint64(seed & 0xFFFFFFFF)
    m = np.uint64(0xD256D193)
    mask = np.uint64(0xFFFFFFFF)
    for _ in range(10):
        p = m * c0
        hi, lo = p >> np.uint64(32), p & mask
        c0, c1 = hi ^ key ^ c1, lo
        key = (key + np.uint64(0x9E3779B9)) & mask
    return (c0 ^ c1).astype(np.uint32)


def _cast(n: Node, x: np.ndarray) -> np.ndarray:
    src, dst = n.srcs[0].dtype, n.dtype
    if dst is dt.bool_:
        return x != 0
    if src is dt.bool_:
        return x.astype(_cdt(dst))
    if src.kind == "c" and dst.kind != "c":
        x = x.real
    if dst in (dt.float16, dt.bfloat16):  # rounded, then computed in float32
        return x.astype(dst.np).astype(np.float32)
    if x.dtype.kind == "f" and dst.kind == "u" and dst.itemsize < 8:
        return x.astype(np.int64).astype(dst.np)
    return x.astype(dst.np)


def _elementwise(n: Node, a: list, funcs: dict | None = None) -> np.ndarray:
    """``n`` over its operands' values ``a``. Along an axis where every operand is broadcast
    (length 1 or stride 0: a matmul's operands are expanded before they are multiplied) the
    op is computed once and the result broadcast: NumPy would compute it at every position,
    and a (20, 1e6) operand of a covariance, expanded to (20, 20, 1e6), became 3.2 GB."""
    shape = n.shape
    if len(a) > 1 or (a and len(shape) > 1):
        shared = [d for d, size in enumerate(shape)
                  if size > 1 and all(x.ndim == len(shape) and (x.shape[d] == 1 or x.strides[d] == 0) for x in a)]
        if shared:
            cut = tuple(slice(0, 1) if d in shared else slice(None) for d in range(len(shape)))
            return np.broadcast_to(_pointwise(n, [x[cut] for x in a], funcs), shape)
    return _pointwise(n, a, funcs)


def _pointwise(n: Node, a: list, funcs: dict | None = None) -> np.ndarray:
    op = n.op
    if op == "WHERE":
        return np.where(a[0], a[1], a[2])
    if op == "CAST":
        return _cast(n, a[0])
    if op == "BITCAST":
        src, dst = n.srcs[0].dtype, n.dtype
        x = a[0].astype(src.np) if src in (dt.float16, dt.bfloat16) else a[0]
        y = np.ascontiguousarray(x).view(dst.np)
        return y.astype(np.float32) if dst in (dt.float16, dt.bfloat16) else y
    x = a[0]
    k = x.dtype.kind
    if k == "b":
        return _bool_op(op, a)
    f = _BINARY_UFUNCS.get(op)
    if f is not None:
        if op == "DIV" and k in "iu":  # C integer division truncates; by zero: not generated
            return np.where(a[1] == 0, 0, np.fix(x / np.where(a[1] == 0, 1, a[1]))).astype(x.dtype)
        return f(x, a[1])
    if op == "NEG":
        return np.negative(x)
    if op == "BITNOT":
        return np.invert(x)
    if op == "NOT":
        return np.logical_not(x)
    if op == "RECIP":
        return np.true_divide(x.dtype.type(1), x) if k in "fc" else np.where(x == 0, 0, 1 // np.where(x == 0, 1, x))
    if op == "MAX" or op == "MIN":
        y = a[1]
        if k != "f":
            return np.where(x > y, x, y) if op == "MAX" else np.where(x < y, x, y)
        r = np.where(x > y, x, y) if op == "MAX" else np.where(x < y, x, y)
        return np.where(x != x, x, r)  # the C helpers: a NaN first operand wins, then the select
    if op == "ISNAN":
        return np.isnan(x) if k in "fc" else np.zeros(x.shape, bool)
    if op == "ISINF":
        return np.isinf(x) if k == "f" else np.zeros(x.shape, bool)
    if op == "SIGNBIT":
        return np.signbit(x) if k == "f" else (x < 0 if k == "i" else np.zeros(x.shape, bool))
    if op in ("REAL", "IMAG", "CONJ"):
        return {"REAL": np.real, "IMAG": np.imag, "CONJ": np.conjugate}[op](x)
    if op == "COMPLEX":
        return _complex(x, a[1])
    if k in "iu":
        return _int_op(op, n, a)
    fn = None
    if funcs is not None and (op not in _EXACT or op == "POW"):
        if callable(funcs):  # (the backend's host_functions: loaded only where an op needs it)
            funcs = funcs()
        fn = funcs.get((op, x.dtype.name)) if funcs is not None else None
    if fn is not None:
        return _call(fn, a)
    f = _FLOAT_UFUNCS.get(op)
    if f is None:
        raise NotImplementedError(f"host tier: {op} on {x.dtype}")
    return f(*a)


_BINARY_UFUNCS = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.true_divide, "CMPLT": np.less,
                  "CMPLE": np.less_equal, "CMPEQ": np.equal, "CMPNE": np.not_equal, "AND": np.bitwise_and,
                  "OR": np.bitwise_or, "XOR": np.bitwise_xor}
_FLOAT_UFUNCS = {"SQRT": np.sqrt, "FLOOR": np.floor, "CEIL": np.ceil, "ROUND": np.rint, "TRUNC": np.trunc,
                 "ABS": np.abs, "IDIV": np.floor_divide, "MOD": np.remainder, "COPYSIGN": np.copysign,
                 "NEXTAFTER": np.nextafter}


def _call(fn, a: list) -> np.ndarray:
    """One of the device's math functions (see ``host_ok``) over NumPy operands."""
    shape = np.broadcast_shapes(*(x.shape for x in a))
    t = a[0].dtype
    args = [np.ascontiguousarray(np.broadcast_to(x, shape), dtype=t) for x in a]
    out = np.empty(shape, t)
    fn(*(x.ctypes.data for x in args), out.ctypes.data, out.size)
    return out


def _complex(re: np.ndarray, im: np.ndarray) -> np.ndarray:
    out = np.empty(np.broadcast_shapes(re.shape, im.shape), dtype=np.complex64 if re.dtype == np.float32 else np.complex128)
    out.real, out.imag = re, im
    return out


def _bool_op(op: str, a: list) -> np.ndarray:
    x = a[0]
    if op in ("ADD", "OR", "MAX"):
        return x | a[1]
    if op in ("MUL", "AND", "MIN"):
        return x & a[1]
    if op == "XOR" or op == "CMPNE":
        return x ^ a[1]
    if op == "CMPEQ":
        return x == a[1]
    if op == "CMPLT":
        return ~x & a[1]
    if op == "CMPLE":
        return ~x | a[1]
    if op in ("NEG", "NOT", "BITNOT"):
        return ~x
    if op in ("ISNAN", "ISINF", "SIGNBIT"):
        return np.zeros(x.shape, bool)
    if op in ("ABS", "FLOOR", "CEIL", "ROUND", "TRUNC"):
        return x
    if op in ("IDIV", "MOD"):  # the C spelling on _Bool: b == 0 ? 0 : a / b (or a % b)
        y = a[1]
        return (x & y) if op == "IDIV" else np.zeros(x.shape, bool)
    if op == "SHL" or op == "SHR":
        return np.where(a[1], False, x) if op == "SHL" else np.where(a[1], False, x)
    raise NotImplementedError(f"host tier: {op} on bool")


def _int_op(op: str, n: Node, a: list) -> np.ndarray:
    x = a[0]
    t = x.dtype
    bits = t.itemsize * 8
    if op == "ABS":
        return np.where(x < 0, np.negative(x), x) if t.kind == "i" else x
    if op in ("FLOOR", "CEIL", "ROUND", "TRUNC"):
        return x
    y = a[1]
    zero = y == 0
    safe = np.where(zero, 1, y)
    if op == "IDIV":
        if t.kind == "u":
            return np.where(zero, 0, x // safe).astype(t)
        neg1 = y == -1  # the C helper: b == -1 negates with wrap-around
        q = np.floor_divide(x, np.where(neg1, 1, safe))
        return np.where(zero, 0, np.where(neg1, np.negative(x), q)).astype(t)
    if op == "MOD":
        if t.kind == "u":
            return np.where(zero, 0, x % safe).astype(t)
        return np.where(zero | (y == -1), 0, np.remainder(x, np.where(y == -1, 1, safe))).astype(t)
    if op == "SHL" or op == "SHR":
        bad = (y < 0) | (y >= bits)
        s = np.where(bad, 0, y).astype(t)
        if op == "SHL":
            return np.where(bad, 0, np.left_shift(x, s)).astype(t)
        fill = np.where(x < 0, -1, 0).astype(t) if t.kind == "i" else np.zeros_like(x)
        return np.where(bad, fill, np.right_shift(x, s)).astype(t)
    if op == "POW":
        return _ipow(x, y)
    raise NotImplementedError(f"host tier: {op} on {t}")


def _ipow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """zyx_ipow / zyx_upow: repeated squaring with wrap-around; a negative exponent gives
    1 for 1, +-1 for -1 and 0 otherwise."""
    t = np.result_type(x, y)
    x, y = np.broadcast_arrays(x.astype(t), y.astype(t))
    base = x.astype(np.uint64)
    e = np.where(y < 0, 0, y).astype(np.uint64)
    r = np.ones(x.shape, np.uint64)
    while np.any(e):
        odd = (e & np.uint64(1)).astype(bool)
        r = np.where(odd, r * base, r)
        base = base * base
        e = e >> np.uint64(1)
    out = r.astype(t)
    if t.kind == "i":
        neg = y < 0
        special = np.where(x == 1, 1, np.where(x == -1, np.where(y & 1, -1, 1), 0)).astype(t)
        out = np.where(neg, special, out)
    return out
