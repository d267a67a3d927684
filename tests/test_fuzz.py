"""The differential fuzzer in the suite: random op graphs on every device, against NumPy.

A fixed seed range per device (a few hundred graphs on cpu, fewer where each new kernel
compiles slowly); the generator and the comparison are in ``tests/fuzzgraph.py``, long
runs in ``benches/fuzz.py --minutes N --device D``. A failure prints a minimal runnable
repro of each failing graph.
"""
from __future__ import annotations

import pytest

import fuzzgraph as fg

# graphs per device; compiling is the cost (gcc ~50 ms per batch of kernels, PoCL 0.5-0.9 s
# per new kernel), so the slow compilers get fewer
COUNTS = {"cpu": 240, "opencl": 16, "wgpu": 40, "cuda": 40}
SEED0 = 1_000_000  # the suite's range; benches/fuzz.py starts elsewhere


def _count(device: str) -> int:
    return COUNTS.get(device.split(":")[0], 24)


def test_random_graphs_match_numpy(device):
    failures = fg.fuzz(device, range(SEED0, SEED0 + _count(device)), batch=60)
    if failures:
        report = "\n\n".join(f"--- seed {o.seed}: {o.status}: {o.message}\n{text}" for o, text in failures[:5])
        pytest.fail(f"{len(failures)} of {_count(device)} random graphs differ from NumPy on {device}:\n{report}")


def test_the_fuzzer_catches_a_wrong_kernel(monkeypatch, tmp_path):
    """The comparison is not vacuous: a renderer that gets one op wrong is found."""
    # a disk cache of its own: a plan another test of this worker stored (rendered by the
    # real renderer) would be loaded instead of rendering with the patched one
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    from zyx.kernels import render_c
    orig = render_c.CStyleRenderer.alu

    def wrong(self, op, d, a, src_dtypes, arg=None):  # subtraction computes a + b
        return orig(self, "ADD" if op == "SUB" else op, d, a, src_dtypes, arg)

    monkeypatch.setattr(render_c.CStyleRenderer, "alu", wrong)
    import numpy as np

    import zyx
    zyx.realize.clear_cache()  # schedules compiled before would hide the patched renderer
    try:
        prog = fg.Program(7, "cpu", {"v1": np.array([1.0, 2.5, -3.0], np.float32)})
        prog.stmts = [fg.Stmt("v1 = inp('v1')", "v1"), fg.Stmt("v2 = xp.subtract(v1, 0.5)", "v2", ("v1",))]
        with zyx.realize.specialization("sync"):  # the compiled kernel, not the host tier's NumPy
            out = fg.check(prog)
        assert out.status == "mismatch" and "v2" in out.message, out
    finally:
        zyx.realize.clear_cache()


def test_the_repro_is_runnable_python():
    prog = fg.generate(SEED0, "cpu", fg.device_dtypes("cpu"), n_ops=6)
    out = fg.Outcome(prog.seed, "mismatch", "example", prog.stmts[-1].defines)
    text = fg.repro(prog, fg.backward_slice(prog, prog.stmts[-1].defines) if out.value else prog.stmts, out)
    compile(text, "<repro>", "exec")
    assert "xp.asarray(" in text and "import zyx" in text
