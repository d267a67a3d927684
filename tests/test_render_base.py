"""The renderers share one language-neutral walk (zyx/kernels/render_base.py): these tests
pin what is shared, so a language keeps only its spellings."""
import pytest

from zyx import dtypes as dt
from zyx.kernels import render_base
from zyx.kernels.opencl_preamble import opencl_preamble
from zyx.kernels.render_c import C_PREAMBLE, CRenderer
from zyx.kernels.render_cuda import CUDA_PREAMBLE, CUDARenderer
from zyx.kernels.render_opencl import OpenCLRenderer
from zyx.kernels.render_wgsl import WGSLRenderer

RENDERERS = [CRenderer(), OpenCLRenderer(), CUDARenderer(), WGSLRenderer(int64=True, float64=True)]


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.lang)
def test_one_walk(r):
    assert isinstance(r, render_base.Renderer)
    # the statement walk, the assignment dispatch and the complex-op dispatch are the base's
    for name in ("assign_expr", "gate", "acc_init", "complex_alu"):
        assert getattr(type(r), name) is getattr(render_base.Renderer, name), name
    if not isinstance(r, CRenderer):  # the CPU renderer unrolls small loops on top of it
        assert type(r).render_body is render_base.Renderer.render_body


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.lang)
@pytest.mark.parametrize("d", [dt.complex64, dt.complex128], ids=lambda d: d.name)
def test_complex_ops_spelled_or_refused(r, d):
    """Every complex op of the table is spelled, or refused with NotImplementedError."""
    for op in render_base.COMPLEX_OPS:
        a = ["x", "y"]
        try:
            text = r.complex_alu(op, d, a, d)
        except NotImplementedError:
            continue
        assert isinstance(text, str) and "x" in text, (op, text)


def test_preamble_marker():
    assert C_PREAMBLE.endswith(render_base.PREAMBLE_END + "\n")
    assert CUDA_PREAMBLE.endswith(render_base.PREAMBLE_END + "\n")
    for complex_helpers in (False, True):
        for fp64 in (False, True):
            src = opencl_preamble(complex_helpers=complex_helpers, fp64=fp64)
            assert src.endswith(render_base.PREAMBLE_END + "\n")


def test_unflatten():
    assert render_base.unflatten([("i", 3), ("j", 4)], "z", "LL") == [("i", "(z / 4LL)"), ("j", "(z % 4LL)")]
