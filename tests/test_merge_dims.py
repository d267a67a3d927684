"""Output loops a kernel only uses together are fused into one (lower.merge_dims).

A (400000, 3) elementwise kernel ran 400000 loops of 3 - too short to vectorize, so every
exp was a scalar call; fused, it is one loop of 1.2M. These tests check which kernels fuse
(lowered IR, generic and specialised) and that every layout still computes NumPy's values.
"""
from __future__ import annotations

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx.kernels import schedule as sched
from zyx.kernels.lower import lower_kernel

RNG = np.random.default_rng(7)


def _dims(t, generic: bool) -> list:
    """The global loop extents of the kernel computing ``t`` (its last kernel)."""
    order, _, pos = sched.walk([t._node])
    spec = sched.plan(order, pos, [t._node])[-1]
    k = lower_kernel(order[spec.out], [order[j] for j in spec.inputs], "k",
                     [order[j] for j in spec.rand], pos if generic else None)
    return [n if isinstance(n, int) else n.render() for _, n in k.global_dims]


def _f32(shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("generic", [False, True], ids=["specialised", "generic"])
def test_contiguous_elementwise_is_one_loop(generic):
    a = xp.asarray(_f32((400, 3)))
    dims = _dims(xp.exp(a) * 2, generic)
    assert len(dims) == 1, dims
    if not generic:
        assert dims == [1200]


@pytest.mark.parametrize("generic", [False, True], ids=["specialised", "generic"])
def test_loops_a_broadcast_or_a_transpose_tells_apart_stay_apart(generic):
    a = xp.asarray(_f32((40, 3)))
    assert len(_dims(xp.exp(a) + xp.asarray(_f32((3,))), generic)) == 2  # the row read per column
    assert len(_dims(xp.exp(a) + xp.asarray(_f32((40, 1))), generic)) == 2  # one value per row
    assert len(_dims(xp.exp(a.mT), generic)) == 2  # read down the columns
    assert len(_dims(xp.exp(a[:, :2]), generic)) == 2  # rows of 2 out of 3


def test_leading_axes_fuse_while_a_broadcast_last_axis_stays():
    a = xp.asarray(_f32((4, 5, 6)))
    assert _dims(a + xp.asarray(_f32((6,))), False) == [20, 6]
    assert _dims(a + xp.asarray(_f32((5, 1))), False) == [4, 5, 6]


def test_a_position_used_as_a_value_fuses_only_when_it_is_the_linear_one():
    a = xp.asarray(_f32((4, 6)))
    assert _dims(a * xp.astype(xp.reshape(xp.arange(24), (4, 6)), xp.float32), False) == [24]
    assert _dims(a * xp.astype(xp.arange(6), xp.float32), False) == [4, 6]


def test_fused_and_unfused_kernels_compute_numpys_values(device):
    a = _f32((50, 3))
    b = _f32((3,))
    c = _f32((4, 5, 6))
    za, zb, zc = (xp.asarray(x, device=device) for x in (a, b, c))
    cases = [
        (xp.exp(za) * 2, np.exp(a) * 2),
        (xp.exp(za) + zb, np.exp(a) + b),
        (xp.exp(za.mT), np.exp(a.T)),
        (xp.exp(za[:, 1:]), np.exp(a[:, 1:])),
        (xp.exp(za[::2]), np.exp(a[::2])),
        (zc + xp.asarray(c[0, :, :1], device=device), c + c[0, :, :1]),
        (xp.permute_dims(zc, (1, 0, 2)) * 3, np.transpose(c, (1, 0, 2)) * 3),
        (xp.sum(xp.exp(zc), axis=2), np.exp(c).sum(axis=2)),
        (xp.sum(zc * zc, axis=0), (c * c).sum(axis=0)),
        (xp.reshape(xp.arange(24, device=device), (4, 6)) * 2, np.arange(24).reshape(4, 6) * 2),
        (xp.concat([za, za], axis=1) + 1, np.concatenate([a, a], axis=1) + 1),
    ]
    for got, want in cases:
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6, atol=1e-6)
    # and at other sizes through the same (generic) kernels
    a2 = _f32((70, 3))
    np.testing.assert_allclose(np.asarray(xp.exp(xp.asarray(a2, device=device)) * 2), np.exp(a2) * 2, rtol=2e-6)


def _cpu_source(t) -> str:
    order, _, pos = sched.walk([t._node])
    spec = sched.plan(order, pos, [t._node])[-1]
    k = lower_kernel(order[spec.out], [order[j] for j in spec.inputs], "k", [order[j] for j in spec.rand])
    return zyx.get_device("cpu").backend.render(k)


@pytest.mark.parametrize("shape", [(4000, 3), (50, 7, 3), (3, 5)])
def test_a_specialised_kernel_with_a_short_last_axis_runs_one_flat_loop(shape):
    """Loops a broadcast keeps apart (a row operand) with a short last axis: the specialised C
    kernel runs them as one loop (indices by division: vectorised across rows), with the
    bits of the generic kernel, which keeps the nest."""
    import importlib
    R = importlib.import_module("zyx.realize")
    an, bn = _f32(shape), np.abs(_f32(shape[:-1] + (1,))) + 1
    a, b = xp.asarray(an), xp.asarray(bn)
    f = lambda: xp.exp(a - b) / b + xp.asarray(_f32(shape[-1:]) * 0 + 0.5)  # noqa: E731
    src = _cpu_source(f())
    assert "for (int zf = 0; zf < %d; zf++)" % int(np.prod(shape)) in src, src[-800:]
    with R.specialization("always"):
        special = f().numpy()
    with R.specialization("never"):
        generic = f().numpy()
    assert (special.view(np.uint32) == generic.view(np.uint32)).all()
    np.testing.assert_allclose(special, np.exp(an - bn) / bn + 0.5, rtol=1e-5)
