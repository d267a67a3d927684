"""Quick builds (cpu device): a first-seen kernel that cannot run on the host tier (a
transcendental function while the device's host functions are not built, a complex one) is built at -O1 - about half gcc's time - and rebuilt at -O3 in the
background when it comes back with enough work or often. Both builds must give the same bits; and
background builds run at low priority."""
from __future__ import annotations

import importlib
import subprocess

import numpy as np
import pytest

import zyx
from zyx.backends import base, cpu

R = importlib.import_module("zyx.realize")
BE = zyx.get_device("cpu").backend
pytestmark = pytest.mark.skipif(not BE.quick_compile, reason="this C compiler setup has no quicker build")

RNG = np.random.default_rng(11)
A = (RNG.standard_normal((64, 33)) * 5).astype(np.float32)
A[0, :6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30]
B = (RNG.random((64, 33)) + 0.05).astype(np.float32)
GRAPHS = [
    lambda x, y, z: x.exp(), lambda x, y, z: (x * 0.3).tanh(), lambda x, y, z: y.log() * x,
    lambda x, y, z: x.sin() + y.cos(), lambda x, y, z: y ** 2.7, lambda x, y, z: (x * 0.1).erf(),
    lambda x, y, z: x.expm1() / (y.log1p() + 1), lambda x, y, z: (x - x.max(1, keepdims=True)).exp(),
    lambda x, y, z: z.exp() - z.log1p().abs(), lambda x, y, z: x.tan() * x.cosh(),
    lambda x, y, z: x.astype(zyx.float16).exp(), lambda x, y, z: (y.sqrt() + 1).log().sum(1),
]


def _no_programs_yet(tmp_path, monkeypatch):
    """An empty kernel cache on disk and in this process: earlier tests of this worker may
    have built (and upgraded to -O3) the very kernels these tests expect to see built."""
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(BE, "_mem", type(BE._mem)(BE._mem.limit))
    # (as before the host tier's math library is built: these kernels wait for gcc)
    monkeypatch.setattr(BE, "host_functions", lambda: None)


def _inputs():
    return zyx.Tensor(A), zyx.Tensor(B), zyx.Tensor(A.astype(np.float64))


@pytest.mark.parametrize("k", range(len(GRAPHS)))
def test_quick_build_gives_the_full_builds_bits(k, tmp_path, monkeypatch):
    _no_programs_yet(tmp_path, monkeypatch)
    R.clear_cache()
    before = R.stats.quick_builds
    with R.specialization("auto"):
        quick = GRAPHS[k](*_inputs()).numpy()
    assert R.stats.quick_builds > before, "expected a quick build of a transcendental kernel"
    R.clear_cache()
    with R.specialization("sync"):  # (no quick builds: the -O3 program)
        full = GRAPHS[k](*_inputs()).numpy()
    assert quick.dtype == full.dtype and quick.shape == full.shape
    if k == len(GRAPHS) - 1:  # a sum: another order may round differently
        np.testing.assert_allclose(quick, full, rtol=1e-6)
    else:
        assert (quick.view(np.uint8) == full.view(np.uint8)).all(), np.argwhere(quick != full)[:5]


def test_a_quick_build_met_again_with_big_work_or_often_is_rebuilt_in_full(tmp_path, monkeypatch):
    _no_programs_yet(tmp_path, monkeypatch)
    R.clear_cache()

    def run(x, f, times=4):
        R.stats.reset()
        c0, vals = BE.compiles, []
        for _ in range(times):
            vals.append(f(x).numpy())
            R.wait_compiles()
        quick = [c for cs in R._cache.values() for c in cs if c.quick]
        return R.stats.quick_builds, R.stats.upgrades, BE.compiles - c0, vals, quick
    with R.specialization("auto"):
        big = zyx.Tensor(RNG.random((300, 400)).astype(np.float32))  # 120,000 elements >= 2^16
        q, up, builds, vals, left = run(big, lambda x: x.log() * 2 + x.exp())
        # the quick build, its full build (and a version specialised on these sizes, for
        # work that comes back at the same sizes: see realize._wants_special)
        assert q == 1 and up == 1 and builds >= 2 and not left, (q, up, builds, left)
        assert all((v.view(np.uint8) == vals[0].view(np.uint8)).all() for v in vals)
        # a kernel met again and again is in a loop: -O1 calls the math functions one element
        # at a time, so its full build (and a version specialised on the loop's sizes) pays
        # from realize._LOOP_WORK elements on - not for a tiny kernel, where launching dominates
        tiny = zyx.Tensor(RNG.random((30, 40)).astype(np.float32))  # 1200 elements (another structure)
        q, up, builds, _, left = run(tiny, lambda x: x.log() - x.sin(), 2 * R._LOOP_HITS)
        assert q == 1 and up == 0 and builds == 1 and len(left) == 1, "a tiny kernel keeps its quick build"
        small = zyx.Tensor(RNG.random((60, 100)).astype(np.float32))  # 6000 elements (another structure)
        q, up, builds, _, left = run(small, lambda x: x.log() + x.cos(), R._LOOP_HITS - 1)
        assert q == 1 and up == 0 and builds == 1 and len(left) == 2, "a kernel met a few times keeps its quick build"
        q, up, builds, vals, left = run(small, lambda x: x.log() + x.cos(), 3)
        assert q == 0 and up == 1 and builds == 2 and len(left) == 1, (q, up, builds, left)  # (the tiny one's)
        assert all((v.view(np.uint8) == vals[0].view(np.uint8)).all() for v in vals)
        assert R.stats.special_launches >= 1


def test_background_builds_run_at_low_priority(monkeypatch):
    seen = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append(list(cmd)))
    cpu._run(["cc", "x.c"])
    with base.in_background():
        cpu._run(["cc", "y.c"])
        base._run_parts(lambda g: cpu._run(["cc", g]), ["a.c", "b.c"])  # threads inherit it
    cpu._run(["cc", "z.c"])
    assert seen[0] == ["cc", "x.c"] and seen[-1] == ["cc", "z.c"]
    if cpu._NICE:
        assert all(c[:3] == [cpu._NICE, "-n", "10"] for c in seen[1:4]), seen
