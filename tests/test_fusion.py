"""Kernel counts: what fuses into one kernel, counted with ``zyx.realize.stats``.
Every test also checks the values, so a fusion that miscomputes fails too."""
from __future__ import annotations

import numpy as np
import pytest

import zyx
from zyx.realize import stats

from _util import T, assert_close

rng = np.random.default_rng(0)


def _launches(*tensors) -> int:
    stats.reset()
    zyx.realize(*tensors)
    return stats.launches


def _f32(*shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def test_elementwise_into_reduce_is_one_kernel(device):
    x, y, z = _f32(1000), _f32(1000), _f32(1000)
    out = ((T(x, device) * 2 + T(y, device)).exp() * T(z, device)).sum()
    assert _launches(out) == 1
    assert_close(out, np.float32(np.sum(np.exp(x.astype(np.float64) * 2 + y) * z)), rtol=1e-4, atol=1e-3)


def test_elementwise_chain_of_ten_is_one_kernel(device):
    a = _f32(4, 257)
    x = T(a, device)
    w = a.astype(np.float64)
    for i in range(10):
        if i % 3 == 0:
            x, w = x.sin(), np.sin(w)
        elif i % 3 == 1:
            x, w = x * 1.5 + 0.25, w * 1.5 + 0.25
        else:
            x, w = x.abs().sqrt() - x, np.sqrt(np.abs(w)) - w
    assert _launches(x) == 1
    assert_close(x, w.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_broadcast_add_then_reduce_is_one_kernel(device):
    a, b = _f32(30), _f32(40)
    out = (T(a, device)[:, None] + T(b, device)[None, :]).sum(1)
    assert _launches(out) == 1
    assert_close(out, (a[:, None] + b[None, :]).sum(1), rtol=1e-5, atol=1e-5)


def test_softmax_at_most_three_kernels(device):
    a = _f32(8, 33)
    out = T(a, device).softmax(-1)
    assert _launches(out) <= 3
    e = np.exp(a - a.max(-1, keepdims=True))
    assert_close(out, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_matmul_bias_relu_is_one_kernel(device):
    a, w, b = _f32(16, 24), _f32(24, 32), _f32(32)
    out = (T(a, device) @ T(w, device) + T(b, device)).relu()
    assert _launches(out) == 1
    assert_close(out, np.maximum(a @ w + b, 0), rtol=1e-5, atol=1e-5)


def test_realized_tensor_is_not_recomputed(device):
    a = _f32(100)
    x = T(a, device)
    r = (x * 2).exp()
    assert _launches(r) == 1
    assert r._node.op == "BUFFER"
    assert _launches(r + 1, r * 3) == 2  # two consumers, r read from memory
    assert _launches(r) == 0  # realizing again does nothing
    assert_close(r, np.exp(a * 2), rtol=1e-6)
    stats.reset()
    r.numpy()
    r.tolist()
    assert stats.launches == 0


def test_shared_subexpression_realized_together(device):
    """Two outputs of one graph realized in one call: each is one kernel, and the cheap
    shared elementwise part is recomputed rather than stored."""
    a = _f32(64)
    x = T(a, device)
    s = x * 2 + 1
    u, v = s.exp(), s.sin()
    assert _launches(u, v) == 2
    assert_close(u, np.exp(a * 2 + 1), rtol=1e-6)
    assert_close(v, np.sin(a * 2 + 1), rtol=1e-5, atol=1e-6)


def test_reduce_then_elementwise_is_one_kernel(device):
    a = _f32(6, 50)
    out = T(a, device).sum(1).abs().sqrt() * 2 + 1
    assert _launches(out) == 1
    assert_close(out, np.sqrt(np.abs(a.sum(1))) * 2 + 1, rtol=1e-5)


def test_movement_ops_fuse(device):
    a = _f32(4, 5, 6)
    x = T(a, device)
    out = (x.permute(2, 0, 1)[::-1, 1:, ::2].reshape(6, -1).pad([(1, 0), (0, 2)], 0.0) * 3).flip(0)
    assert _launches(out) == 1
    want = np.flip(np.pad(a.transpose(2, 0, 1)[::-1, 1:, ::2].reshape(6, -1), [(1, 0), (0, 2)]) * 3, 0)
    assert_close(out, want, rtol=1e-6)


def test_cat_is_one_kernel(device):
    a, b, c = _f32(3, 4), _f32(3, 2), _f32(3, 1)
    out = zyx.cat([T(a, device), T(b, device).exp(), T(c, device) * 2], 1)
    assert _launches(out) == 1
    assert_close(out, np.concatenate([a, np.exp(b), c * 2], 1), rtol=1e-6)


@pytest.mark.parametrize("n", [10, 1000])
def test_random_fuses_into_consumer(device, n):
    zyx.manual_seed(0)
    out = (zyx.rand(n, device=device) * 2 - 1).abs().mean()
    assert _launches(out) == 1
    assert 0.2 < out.item() < 0.8


def test_layernorm_kernel_count(device):
    """mean and variance are reductions broadcast back: they are stored, the normalization
    is fused (at most three kernels)."""
    a = _f32(8, 64)
    x = T(a, device)
    m = x.mean(-1, keepdims=True)
    d = x - m
    v = (d * d).mean(-1, keepdims=True)
    out = d / (v + 1e-5).sqrt()
    assert _launches(out) <= 3
    w = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)
    assert_close(out, w, rtol=1e-4, atol=1e-5)
