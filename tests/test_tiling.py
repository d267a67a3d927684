"""Contraction-shaped kernels: matmul in every layout (A@B, A@B^T, A^T@B), fused
prologues and epilogues, sizes the tiles do not divide, reductions over a leading
axis, and convolution windows. Correctness on every device; on the CPU also which
register-tiled form the C renderer chose (zyx/kernels/tile_c.py)."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import zyx
from zyx import dtypes as dt

from _util import T, assert_close, require


@contextlib.contextmanager
def _sources():
    """Collect the generated sources of what is realized inside the block."""
    zyx.realize.clear_cache()
    buf = io.StringIO()
    old = zyx.debug.level
    import sys
    err, sys.stderr = sys.stderr, buf
    zyx.debug.set_level(16)
    try:
        with zyx.realize.specialization("always"):  # the register-tiled forms are specialised code
            yield buf
    finally:
        zyx.debug.set_level(old)
        sys.stderr = err


def _check_form(device, fn, want_in_source):
    if device != "cpu" or want_in_source is None:
        return
    with _sources() as buf:
        zyx.realize(fn())
    src = buf.getvalue()
    for w in want_in_source:
        assert w in src, f"expected {w!r} in the generated C:\n{src}"


R = np.random.default_rng(11)

# (name, builder(zyx tensors) , numpy reference, shapes, marker expected in the C source)
CASES = [
    ("nn", lambda a, b: a @ b, lambda a, b: a @ b, [(37, 53), (53, 70)], ["zb_", "zacc[a][b]"]),
    ("nn_big", lambda a, b: a @ b, lambda a, b: a @ b, [(64, 128), (128, 96)], ["zacc[a][b]"]),
    ("nt_dot", lambda a, b: a @ b.T, lambda a, b: a @ b.T, [(33, 100), (50, 100)], ["zacc[a][b][l]"]),
    ("nt_dot_remainder", lambda a, b: a @ b.T, lambda a, b: a @ b.T, [(7, 50), (9, 50)], ["zacc[a][b][l]"]),
    # a few rows of B (3 classes): dot products, not B's rows packed transposed for 3 uses each;
    # all 3 in one tile (each row of A loaded once), lanes summed as a tree
    ("nt_dot_few_rows", lambda a, b: a @ b.T, lambda a, b: a @ b.T, [(400, 64), (3, 64)],
     ["zacc[a][b][l]", "zacc[3][", "zacc[a][b][l + 1]"]),
    ("tn", lambda a, b: a.T @ b, lambda a, b: a.T @ b, [(300, 40), (300, 70)], ["zacc[a][b]"]),
    ("nt_relu_prologue", lambda x, b, w: (x + b).relu() @ w.T, lambda x, b, w: np.maximum(x + b, 0) @ w.T,
     [(20, 64), (64,), (24, 64)], ["za_", "zn_"]),
    ("tn_mask_prologue", lambda g, h, x: (g * (h > 0)).T @ x, lambda g, h, x: (g * (h > 0)).T @ x,
     [(96, 40), (96, 40), (96, 33)], ["zb_"]),
    ("epilogue", lambda a, b, c: ((a @ b) * 2 + c).tanh(), lambda a, b, c: np.tanh((a @ b) * 2 + c),
     [(16, 24), (24, 40), (40,)], ["zacc[a][b]"]),
    ("narrow_out", lambda a, b: a @ b, lambda a, b: a @ b, [(50, 30), (30, 10)], ["zacc[a][b]"]),
    ("batched", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 17, 9), (3, 9, 40)], None),
    ("batched_nt", lambda a, b: a @ b.mT, lambda a, b: a @ np.swapaxes(b, -1, -2), [(2, 12, 64), (2, 20, 64)],
     None),
    ("col_sum", lambda a: a.sum(0), lambda a: a.sum(0), [(500, 48)], ["zacc[a][b]"]),
    # B gathered across the columns (6 apart) and shared by 8 row tiles: copied transposed to
    # the heap once (a convolution's weight gradient reads its output gradient this way)
    ("global_pack", lambda a, b: (a[:, :, None, :] * b[:, None, :, :]).sum((0, 3)),
     lambda a, b: (a[:, :, None, :] * b[:, None, :, :]).sum((0, 3)), [(50, 64, 6), (50, 32, 6)], ["zgp_"]),
    # the dot form over two reduction axes, the inner one 28 long: 16 lanes, then one gated
    # chunk for the last 12 (a convolution's weight gradient on 28-wide rows)
    ("dot_gated_tail", lambda a, b: (a[:, :, None, :] * b[:, None, :, :]).sum((0, 3)),
     lambda a, b: (a[:, :, None, :] * b[:, None, :, :]).sum((0, 3)), [(8, 5, 28), (8, 6, 28)],
     ["zr + l < 28"]),
    # packed B panels: A @ B^T with a batch axis outside the tile, and a long reduction over
    # many rows (sizes the tiles do not divide)
    ("batched_nt_packed", lambda a, b: a @ b.mT, lambda a, b: a @ np.swapaxes(b, -1, -2),
     [(3, 40, 64), (3, 72, 64)], ["zpk_"]),
    ("long_nn_packed", lambda a, b: a @ b, lambda a, b: a @ b, [(300, 600), (600, 70)], ["zpk_"]),
]


MAIN = [dt.float32, dt.float64, dt.int32]
OTHER = [dt.float16, dt.bfloat16, dt.int8, dt.uint8, dt.int64]


FLOAT_ONLY = ("nt_relu_prologue", "epilogue")
FEW = ("nn", "nt_dot_remainder", "dot_gated_tail", "global_pack", "tn", "narrow_out", "col_sum", "long_nn_packed")  # the layouts the other dtypes run
COMBOS = [pytest.param(c, d, id=f"{c[0]}-{d.name}") for c in CASES for d in MAIN + OTHER
          if (d in MAIN or c[0] in FEW) and not (d.kind in "iu" and c[0] in FLOAT_ONLY)]


@pytest.mark.parametrize("case,d", COMBOS)
def test_contractions(device, case, d):
    require(device, d)
    name, fn, ref, shapes, marker = case
    if d.kind in "iu":
        lo = 0 if d.kind == "u" else -9
        arrs = [R.integers(lo, 10, s).astype(d.np) for s in shapes]
    else:
        arrs = [R.standard_normal(s).astype(d.np) for s in shapes]
    ts = [T(a, device) for a in arrs]
    got = fn(*ts)
    if d.kind in "iu":
        with np.errstate(over="ignore"):
            want = ref(*arrs)  # wraps like NumPy in the input dtype
        assert_close(got, np.asarray(want).astype(got.dtype.np), msg=name)  # sums widen as NumPy's
    else:
        want = ref(*[a.astype(np.float64) for a in arrs])
        mag = ref(*[np.abs(a).astype(np.float64) for a in arrs]) if name not in ("epilogue",) else 1.0
        eps = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 1e-6}.get(d.name, 1e-14)
        assert_close(got, want.astype(d.np), rtol=eps, atol=np.abs(mag) * eps * 8 + eps, msg=name)
    if d in MAIN and (d.kind == "f" or name != "dot_gated_tail"):  # integer sums keep a scalar tail
        _check_form(device, lambda: fn(*ts), marker)


def test_max_over_leading_axis_keeps_nan(device):
    a = R.standard_normal((300, 40)).astype(np.float32)
    a[17, 3] = np.nan
    got = T(a, device).max(axis=0)
    assert_close(got, a.max(axis=0), msg="max over axis 0")
    _check_form(device, lambda: T(a, device).max(axis=0), ["zaccn"])


@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 0, 1), (1, 1, 2)])
def test_conv_forward_and_weight_grad(device, stride, padding, groups):
    import zyx.nn.functional as F
    x = R.standard_normal((4, 4, 11, 13)).astype(np.float32)
    w = R.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    xt, wt = T(x, device), T(w, device)
    with zyx.GradientTape() as tape:
        y = F.conv2d(xt, wt, stride=stride, padding=padding, groups=groups)
        loss = (y * y).sum()
        gx, gw = tape.gradient(loss, [xt, wt])
    # reference: direct loops in float64
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (xp.shape[2] - 3) // stride + 1
    ow = (xp.shape[3] - 3) // stride + 1
    cg, og = 4 // groups, 6 // groups
    want = np.zeros((4, 6, oh, ow))
    for o in range(6):
        gi = o // og
        for i in range(3):
            for j in range(3):
                patch = xp[:, gi * cg:(gi + 1) * cg, i:i + stride * oh:stride, j:j + stride * ow:stride]
                want[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, i, j])
    assert_close(y, want.astype(np.float32), rtol=1e-5, atol=1e-4, msg="conv forward")
    gy = 2 * want
    gw_want = np.zeros_like(w, dtype=np.float64)
    for o in range(6):
        gi = o // og
        for i in range(3):
            for j in range(3):
                patch = xp[:, gi * cg:(gi + 1) * cg, i:i + stride * oh:stride, j:j + stride * ow:stride]
                gw_want[o, :, i, j] = np.einsum("nchw,nhw->c", patch, gy[:, o])
    assert_close(gw, gw_want.astype(np.float32), rtol=1e-4, atol=1e-3, msg="conv weight grad")
    assert gx.shape == x.shape


def test_row_reductions_are_not_tiled_across_rows():
    """A row softmax's exp-sum reads the row max (one value per row, hoisted before the
    loop): that load must not make the rows look like a contiguous tile axis (tiling
    across rows turned every step into a strided gather: 13x slower)."""
    a = R.standard_normal((64, 256)).astype(np.float32)
    want = np.exp(a - a.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    assert_close(T(a, "cpu").softmax(axis=1), want, rtol=1e-6, atol=1e-7)
    with _sources() as buf:
        zyx.realize(T(a, "cpu").softmax(axis=1))
    assert "zacc" not in buf.getvalue()


def test_global_pack_falls_back_when_the_heap_allocation_fails(monkeypatch, tmp_path):
    """The B^T heap copy is an optimization: with the allocation failing (the scratch
    allocator compiled to return NULL) the kernel runs the same tiles without it."""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    be = zyx.get_device("cpu").backend
    a = R.standard_normal((50, 64, 6)).astype(np.float32)
    b = R.standard_normal((50, 32, 6)).astype(np.float32)
    want = (a[:, :, None, :].astype(np.float64) * b[:, None, :, :]).sum((0, 3))
    monkeypatch.setattr(be, "flags", be.flags + ["-DZYX_SCRATCH_ALLOC(n)=((void*)0)"])
    zyx.realize.clear_cache()
    with _sources() as buf:
        got = (T(a, "cpu")[:, :, None, :] * T(b, "cpu")[:, None, :, :]).sum((0, 3))
        got.realize()
    assert "zgp_" in buf.getvalue()
    assert_close(got, want.astype(np.float32), rtol=1e-5, atol=1e-4)
    zyx.realize.clear_cache()


def test_mid_sized_contractions_run_on_one_thread(monkeypatch, tmp_path):
    """A tiled contraction below TILED_PARALLEL_FACTOR x min_parallel_work multiply-adds has
    no OpenMP region (inside real programs waking a second thread cost more than it saved:
    see kernels/tile_c.py); a bigger one is parallel; both give the right values."""
    from zyx.kernels import tile_c
    from zyx.kernels.render_c import CRenderer
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    limit = CRenderer.min_parallel_work * tile_c.TILED_PARALLEL_FACTOR
    for (m, k, n), parallel in (((4000, 64, 3), False), ((256, 256, 64), True)):
        assert (m * k * n >= limit) == parallel
        a = R.standard_normal((m, k)).astype(np.float32)
        b = R.standard_normal((n, k)).astype(np.float32)
        zyx.realize.clear_cache()
        with _sources() as buf:
            got = (T(a, "cpu") @ T(b, "cpu").T).realize()
        src = buf.getvalue().split("specialised source")[-1]  # (the generic kernel decides at run time)
        assert "zacc" in src
        assert ("omp parallel" in src) == parallel, src
        assert_close(got, a @ b.T, rtol=1e-4, atol=1e-3)
    zyx.realize.clear_cache()
