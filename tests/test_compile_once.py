"""Compile once per structure (issue 10): sizes, slice offsets and Python scalars are kernel
arguments, so sweeping any of them compiles nothing new; reading elements of realized arrays
runs no kernel. Counted, not timed: each backend counts the programs it builds."""
from __future__ import annotations

import numpy as np
import pytest

import zyx
from zyx.realize import stats

xp = zyx.array_api
RNG = np.random.default_rng(10)


def _compiles(device):
    return zyx.get_device(device).backend.compiles


def _sweep(device, fn, values):
    """Run fn(v) for every value; return (compiles during the sweep after the first value,
    results). The first value may compile in the background (the cpu device runs a new
    structure on its host tier meanwhile): that compile belongs to the first value."""
    out = [fn(values[0])]
    zyx.realize.wait_compiles()
    before = _compiles(device)
    out += [fn(v) for v in values[1:]]
    zyx.realize.wait_compiles()
    return _compiles(device) - before, out


def test_sizes_compile_once(device):
    base = RNG.random(1200, dtype=np.float32)
    sizes = list(range(1000, 1100))
    n, got = _sweep(device, lambda k: float(xp.sum(xp.asarray(base[:k], device=device) * 2)), sizes)
    assert n == 0, f"{n} compiles for 100 sizes of one expression"
    np.testing.assert_allclose(got, [float(np.sum(base[:k] * 2)) for k in sizes], rtol=2e-5)


def test_offsets_compile_once(device):
    a_np = RNG.random(4096, dtype=np.float32)
    a = xp.asarray(a_np, device=device)
    offsets = list(range(1, 101))  # (a[0:] is `a` itself: no slice, another structure)
    n, got = _sweep(device, lambda k: float(xp.sum(a[k:] * 2)), offsets)
    assert n == 0, f"{n} compiles for 100 slice offsets"
    np.testing.assert_allclose(got, [float(np.sum(a_np[k:] * 2)) for k in offsets], rtol=2e-5)
    n, got = _sweep(device, lambda k: xp.asarray(a[k:k + 300:3] - a[k + 1]).numpy(), offsets)
    assert n == 0, f"{n} compiles for 100 strided windows"
    for k, g in zip(offsets, got):
        np.testing.assert_array_equal(g, a_np[k:k + 300:3] - a_np[k + 1])


def test_scalars_compile_once(device):
    a_np = RNG.random(4096, dtype=np.float32)
    a = xp.asarray(a_np, device=device)
    ks = list(range(100))
    n, got = _sweep(device, lambda k: float(xp.sum(a * (k + 0.5))), ks)
    assert n == 0, f"{n} compiles for 100 scalar values"
    np.testing.assert_allclose(got, [float(np.sum(a_np * np.float32(k + 0.5))) for k in ks], rtol=2e-5)
    # integers, bools, NaN/inf and -0.0 travel as arguments too
    i = xp.asarray(np.arange(10, dtype=np.int32), device=device)
    vals = [-(2 ** 31), -7, 0, 3, 2 ** 31 - 1]
    n, got = _sweep(device, lambda v: (i * 0 + v).numpy(), vals)
    assert n == 0
    for v, g in zip(vals, got):
        assert (g == v).all()
    fvals = [float("nan"), float("inf"), -float("inf"), -0.0, 1e-45, 3.4e38]
    n, got = _sweep(device, lambda v: xp.asarray(a[:4] * 0 + v).numpy(), fvals)
    assert n == 0
    for v, g in zip(fvals, got):
        np.testing.assert_array_equal(g, np.float32(0) * a_np[:4] + np.float32(v))
        assert np.signbit(g[0]) == np.signbit(np.float32(0) * a_np[0] + np.float32(v))


def test_shapes_and_broadcasts_compile_once(device):
    """2-d shapes, a broadcast row and a reduction over the rows: one structure."""
    shapes = [(r, c) for r in (3, 7, 12) for c in (5, 9, 16)]
    n, got = _sweep(device, lambda s: (xp.asarray(np.arange(s[0] * s[1], dtype=np.float32).reshape(s), device=device)
                                       + xp.asarray(np.arange(s[1], dtype=np.float32), device=device)).sum(0).numpy(),
                    shapes)
    assert n == 0
    for s, g in zip(shapes, got):
        ref = (np.arange(s[0] * s[1], dtype=np.float32).reshape(s) + np.arange(s[1], dtype=np.float32)).sum(0)
        np.testing.assert_allclose(g, ref, rtol=1e-6)


def test_element_reads_launch_nothing(device):
    a_np = RNG.random((20, 30), dtype=np.float32)
    a = xp.asarray(a_np, device=device)
    zyx.realize(a)
    before = stats.launches
    vals = [float(a[i % 20, i % 30]) for i in range(200)]
    rows = [a[i].numpy() for i in range(20)]
    cols = [np.asarray(a[:, j]) for j in range(0, 30, 7)]
    t = a.T[3:9:2, ::-1].numpy()
    assert bool(a[1, 1] > -1)  # a comparison is a kernel: count it below
    assert stats.launches == before + 1, "reading elements of a realized array launched kernels"
    assert vals == [float(a_np[i % 20, i % 30]) for i in range(200)]
    for i, r in enumerate(rows):
        np.testing.assert_array_equal(r, a_np[i])
    for j, c in zip(range(0, 30, 7), cols):
        np.testing.assert_array_equal(c, a_np[:, j])
    np.testing.assert_array_equal(t, a_np.T[3:9:2, ::-1])
    assert int(xp.asarray(np.array([5, 6, 7]), device=device)[2]) == 7


def test_reading_views_of_a_lazy_array_computes_it_once(device):
    """Host reads of views of a lazy array (``covariances[k]`` for each k, element loops
    over a lazy result) compute the array once and read the views from it: one schedule,
    then no kernel; a root far bigger than the view it is read through stays lazy."""
    a_np = RNG.random((6, 40), dtype=np.float32)
    a = xp.asarray(a_np, device=device)
    zyx.realize(a)
    lazy = xp.exp(a) * 2.0 - a
    ref = np.exp(a_np) * np.float32(2.0) - a_np
    before_s, before_l = stats.schedules, stats.launches
    rows = [lazy[k, :].numpy() for k in range(6)]
    vals = [float(lazy[k, (7 * k) % 40]) for k in range(6)]
    assert stats.schedules == before_s + 1 and stats.launches == before_l + 1
    assert lazy._node.op == "BUFFER"
    for k in range(6):
        np.testing.assert_allclose(rows[k], ref[k], rtol=1e-5)
        assert abs(vals[k] - ref[k, (7 * k) % 40]) <= 1e-5 * abs(ref[k, (7 * k) % 40])
    big = xp.zeros((1 << 23,), dtype=xp.uint8, device=device) + 1  # (8 MiB: over the bound)
    assert int(big[5]) == 1 and big._node.op != "BUFFER"


def test_a_lazily_grown_state_hits_the_cache(device):
    """An iterative solver's loop (SciPy's bracket and root finders): the state is replaced
    each step by where(...) of the last one and only the convergence test is realized. Once
    the small graph is deep, the state that Python still holds is realized beside the test,
    so the next steps' structures repeat: the schedules stay bounded, not one per step."""
    x_np = (RNG.integers(0, 1024, 16) / 1024).astype(np.float32)  # (k/1024 + 0.125: exact)
    x = xp.asarray(x_np, device=device)
    n = xp.zeros(16, dtype=xp.int32, device=device)
    n_np = np.zeros(16, np.int32)
    it = xp.asarray(0, device=device)  # (a step counter: a chain one op deeper each step)
    before = stats.schedules
    steps = 0
    while True:
        go = x < 24
        x = xp.where(go, x + 0.125, x)
        n = xp.where(go, n + 1, n)
        it = it + 1
        go_np = x_np < 24
        x_np = np.where(go_np, x_np + np.float32(0.125), x_np)
        n_np = np.where(go_np, n_np + 1, n_np)
        steps += 1
        if not bool(xp.any(go) & (it < 1000)):
            break
        assert steps < 400
    assert steps > 180
    np.testing.assert_array_equal(x.numpy(), x_np)
    np.testing.assert_array_equal(n.numpy(), n_np)
    assert int(it) == steps
    made = stats.schedules - before
    assert made < 60, f"{made} schedules for {steps} steps of one loop"
